/*
 * test_conn.c - struct conn (src/conn.h) against loopback servers: plain and TLS connections, a
 * refused connect, a TLS peer that never answers (the connection keeps saying -EAGAIN and no call
 * ever waits), and HTTP CONNECT through a fake proxy that answers 200, 403, garbage, or a head with
 * bytes after it. Every call into conn is timed: none may sleep in the kernel or take 50 ms.
 */
#include "check.h"
#include "harness.h"
#include "loopback.h"

#include "conn.h"
#include "pz.h"

static struct conn c;           /* ~33 KiB with the TLS engine */
static struct conn_target tg;
static int slow_calls;          /* conn calls that waited or took too long */

static void target(int port, int tls)
{
	memset(&tg, 0, sizeof tg);
	snprintf(tg.host, sizeof tg.host, "127.0.0.1");
	snprintf(tg.port, sizeof tg.port, "%d", port);
	tg.use_tls = tls;
	tls_name_set(&tg.name, "127.0.0.1");
	tg.creds = &lb_ca;
}

static void proxy_target(int target_port, int proxy_port, int tls)
{
	target(target_port, tls);
	tg.proxy.set = 1;
	snprintf(tg.proxy.host, sizeof tg.proxy.host, "127.0.0.1");
	snprintf(tg.proxy.port, sizeof tg.proxy.port, "%d", proxy_port);
	snprintf(tg.proxy.authorization, sizeof tg.proxy.authorization, "Basic dXNlcjpwYXNz");
}

static struct sockaddr_in addr_of(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

#define TIMED(expr) ({ struct lb_timer tm_; int64_t ms_; lb_timer_start(&tm_); int rc_ = (expr); \
	if (!lb_timer_prompt(&tm_, &ms_)) { slow_calls++; fprintf(stderr, "%s:%d: %s took %lld ms or slept\n", \
	__FILE__, __LINE__, #expr, (long long)ms_); } rc_; })

static int start(int port)
{
	struct sockaddr_in sa = addr_of(port);
	conn_init(&c);
	return TIMED(conn_start(&c, &tg, (struct sockaddr *)&sa, sizeof sa));
}

/* conn_advance until it is not -EAGAIN, polling as the loop would; gives up after ms. */
static int advance(int ms)
{
	int64_t end = pz_now_ms() + ms;
	for (;;) {
		int rc = TIMED(conn_advance(&c, &tg));
		int64_t left = end - pz_now_ms();
		if (rc != -EAGAIN || left <= 0)
			return rc;
		struct pollfd p = { .fd = c.fd, .events = conn_events(&c, 0, 1) };
		CHECK(p.events != 0); /* waiting for nothing would sleep forever */
		poll(&p, 1, left > 50 ? 50 : (int)left);
	}
}

static int write_all(const char *s)
{
	size_t n = strlen(s), off = 0;
	int64_t end = pz_now_ms() + 5000;
	while (off < n) {
		int rc = TIMED(conn_write(&c, s + off, n - off));
		if (rc == -EAGAIN) {
			struct pollfd p = { .fd = c.fd, .events = conn_events(&c, 0, 1) };
			if (pz_now_ms() > end)
				return -ETIMEDOUT;
			poll(&p, 1, 50);
			continue;
		}
		if (rc < 0)
			return rc;
		off += (size_t)rc;
	}
	for (;;) {
		int rc = TIMED(conn_flush(&c));
		if (rc != -EAGAIN)
			return rc;
		struct pollfd p = { .fd = c.fd, .events = POLLOUT };
		if (pz_now_ms() > end)
			return -ETIMEDOUT;
		poll(&p, 1, 50);
	}
}

/* Reads until n bytes, end of stream or a failure. Returns the count, or the failure. */
static int read_n(char *out, size_t n, int *end_rc)
{
	size_t got = 0;
	int64_t end = pz_now_ms() + 5000;
	*end_rc = 1;
	while (got < n) {
		int rc = TIMED(conn_read(&c, out + got, n - got));
		if (rc == -EAGAIN) {
			if (pz_now_ms() > end)
				return (int)got;
			if (conn_pending(&c))
				continue;
			struct pollfd p = { .fd = c.fd, .events = conn_events(&c, 1, 0) };
			poll(&p, 1, 50);
			continue;
		}
		if (rc <= 0) {
			*end_rc = rc;
			return (int)got;
		}
		got += (size_t)rc;
	}
	return (int)got;
}

/* ---- server handlers ---- */

/* Reads "ping\n", answers "pong\n", then ends as arg says: 0 cleanly, 1 with a bare TCP close. */
static void h_echo(struct lb_peer *p, void *arg)
{
	char b[5];
	size_t n = 0;
	while (n < 5) {
		int k = lb_read_some(p, b + n, 5 - n);
		if (k <= 0)
			return;
		n += (size_t)k;
	}
	if (memcmp(b, "ping\n", 5) == 0)
		lb_puts(p, "pong\n");
	if (arg)
		close(p->fd); /* no close_notify */
	else
		lb_end(p);
	p->fd = -1;
}

static void h_silent(struct lb_peer *p, void *arg)
{
	(void)arg;
	LB_ADD(&p->sh->flag[0], 1);
	lb_hold(p);
}

static void echo_once(int tls, int bare_close)
{
	struct lb_server s = { 0 };
	char buf[16];
	int end_rc, fds = lb_fds();

	lb_start(&s, tls, 0, h_echo, bare_close ? (void *)1 : NULL);
	target(s.port, tls);
	CHECK_EQ_INT(start(s.port), 0);
	CHECK(c.fd >= 0);
	CHECK_EQ_INT(advance(5000), 0);
	CHECK_EQ_INT(c.state, CONN_OPEN);
	CHECK_EQ_INT(write_all("ping\n"), 0);
	CHECK_EQ_INT(read_n(buf, 5, &end_rc), 5);
	CHECK(memcmp(buf, "pong\n", 5) == 0);
	/* then the end of the stream: 0 for a clean end (TLS: close_notify), a failure for a TCP
	 * close that TLS did not announce */
	CHECK_EQ_INT(read_n(buf, 1, &end_rc), 0);
	if (tls && bare_close)
		CHECK_EQ_INT(end_rc, -ECONNRESET);
	else
		CHECK_EQ_INT(end_rc, 0);
	conn_close(&c);
	CHECK_EQ_INT(c.fd, -1);
	CHECK_EQ_INT(c.state, CONN_CLOSED);
	CHECK(!conn_is_open(&c));
	lb_free(&s);
	CHECK_EQ_INT(lb_fds(), fds);
}

static void test_plain(void) { echo_once(0, 0); }
static void test_tls(void) { echo_once(1, 0); }
static void test_tls_bare_close(void) { echo_once(1, 1); }

static void test_refused(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port, rc, fds;

	/* a port that was just free and is closed again: nobody listens there */
	sa = addr_of(0);
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	port = ntohs(sa.sin_port);
	close(fd);
	fds = lb_fds();
	for (int tls = 0; tls <= 1; tls++) {
		target(port, tls);
		rc = start(port);
		if (rc == 0)
			rc = advance(5000);
		CHECK_EQ_INT(rc, -ECONNREFUSED);
		CHECK_EQ_INT(c.fd, -1); /* a failed connection is closed */
		CHECK_EQ_INT(c.state, CONN_CLOSED);
		CHECK_EQ_INT(TIMED(conn_advance(&c, &tg)), -ENOTCONN);
		CHECK_EQ_INT(TIMED(conn_write(&c, "x", 1)), -ENOTCONN);
		char b[4];
		CHECK_EQ_INT(TIMED(conn_read(&c, b, sizeof b)), -ENOTCONN);
		CHECK_EQ_INT(conn_events(&c, 1, 1), 0);
	}
	CHECK_EQ_INT(lb_fds(), fds);
}

/* A TLS peer that accepts and never says a word: the handshake stays -EAGAIN, every call returns at
 * once, the connection asks for POLLIN (its ClientHello is out), and closing frees the socket. */
static void test_handshake_silent(void)
{
	struct lb_server s = { 0 };
	int fds = lb_fds(), rc, calls = 0;
	int64_t end;

	lb_start(&s, 0, 0, h_silent, NULL);
	target(s.port, 1);
	CHECK_EQ_INT(start(s.port), 0);
	CHECK(lb_wait(&s.sh->flag[0], 1, 5000));
	end = pz_now_ms() + 300;
	slow_calls = 0;
	do {
		rc = TIMED(conn_advance(&c, &tg));
		calls++;
		if (rc != -EAGAIN)
			break;
		struct pollfd p = { .fd = c.fd, .events = conn_events(&c, 0, 0) };
		poll(&p, 1, 20);
	} while (pz_now_ms() < end);
	CHECK_EQ_INT(rc, -EAGAIN);
	CHECK(calls >= 5);
	CHECK_EQ_INT(slow_calls, 0);
	CHECK_EQ_INT(c.state, CONN_HANDSHAKE);
	CHECK(conn_events(&c, 0, 0) & POLLIN);
	CHECK(!(conn_events(&c, 0, 0) & POLLOUT)); /* the ClientHello is out: nothing to write */
	CHECK_EQ_INT(TIMED(conn_write(&c, "x", 1)), -ENOTCONN); /* no application data before it is open */
	conn_close(&c);
	CHECK_EQ_INT(lb_fds(), fds);
	lb_free(&s);
}

/* ---- staging: one recv per burst, none that can only say EAGAIN ---- */

/* On "go\n": three messages, one write (TLS: one record) each, back to back; flag[0] once they are
 * out. On flag[1]: a fourth; flag[2] once it is out. Then one byte on flag[3], and holds. */
static void h_burst(struct lb_peer *p, void *arg)
{
	char b[3];
	size_t n = 0;
	(void)arg;
	while (n < 3) {
		int k = lb_read_some(p, b + n, 3 - n);
		if (k <= 0)
			return;
		n += (size_t)k;
	}
	lb_puts(p, "one\n");
	lb_puts(p, "two\n");
	lb_puts(p, "three\n");
	LB_SET(&p->sh->flag[0], 1);
	if (!lb_wait(&p->sh->flag[1], 1, 5000))
		return;
	lb_puts(p, "four\n");
	LB_SET(&p->sh->flag[2], 1);
	if (!lb_wait(&p->sh->flag[3], 1, 5000))
		return;
	lb_puts(p, "x");
	LB_SET(&p->sh->flag[4], 1);
	lb_hold(p);
}

/* Waits until the socket itself has bytes (the kernel's view, not the connection's). */
static int socket_readable(int ms)
{
	struct pollfd p = { .fd = c.fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

static void staging(int tls)
{
	struct lb_server s = { 0 };
	char buf[64];
	int end_rc, fds = lb_fds();

	lb_start(&s, tls, 0, h_burst, NULL);
	target(s.port, tls);
	CHECK_EQ_INT(start(s.port), 0);
	CHECK_EQ_INT(advance(5000), 0);
	CHECK_EQ_INT(write_all("go\n"), 0);
	/* The request is out: no answer can be there yet, so the connection does not ask the socket,
	 * even once the answer has arrived, until the loop announces a poll (conn_events). */
	CHECK(lb_wait(&s.sh->flag[0], 1, 5000));
	CHECK(socket_readable(2000));
	CHECK_EQ_INT(TIMED(conn_read(&c, buf, sizeof buf)), -EAGAIN);
	CHECK(!conn_pending(&c));
	CHECK(conn_events(&c, 1, 0) & POLLIN);
	/* One read takes the whole burst: the three messages come out without another poll. */
	CHECK_EQ_INT(TIMED(conn_read(&c, buf, 4)), 4);
	CHECK(memcmp(buf, "one\n", 4) == 0);
	CHECK(conn_pending(&c)); /* the rest waits inside, where poll cannot see it */
	CHECK_EQ_INT(TIMED(conn_read(&c, buf, 4)), 4);
	CHECK(memcmp(buf, "two\n", 4) == 0);
	CHECK_EQ_INT(TIMED(conn_read(&c, buf, 6)), 6);
	CHECK(memcmp(buf, "three\n", 6) == 0);
	CHECK(!conn_pending(&c));
	/* That read came back short, so the socket was empty: the next arrival waits for the poll. */
	LB_SET(&s.sh->flag[1], 1);
	CHECK(lb_wait(&s.sh->flag[2], 1, 5000));
	CHECK(socket_readable(2000));
	CHECK_EQ_INT(TIMED(conn_read(&c, buf, sizeof buf)), -EAGAIN);
	conn_events(&c, 1, 0);
	CHECK_EQ_INT(read_n(buf, 5, &end_rc), 5);
	CHECK(memcmp(buf, "four\n", 5) == 0);
	/* Before a kept-alive connection carries a request, conn_quiet asks the socket itself,
	 * whatever the last read concluded: quiet now, not once the server has spoken. */
	CHECK_EQ_INT(TIMED(conn_quiet(&c)), 1);
	LB_SET(&s.sh->flag[3], 1);
	CHECK(lb_wait(&s.sh->flag[4], 1, 5000));
	CHECK(socket_readable(2000));
	CHECK_EQ_INT(TIMED(conn_quiet(&c)), 0);
	conn_close(&c);
	CHECK(!conn_pending(&c));
	CHECK_EQ_INT(TIMED(conn_quiet(&c)), 0);
	lb_free(&s);
	CHECK_EQ_INT(lb_fds(), fds);
}

static void test_staging_plain(void) { staging(0); }
static void test_staging_tls(void) { staging(1); }

/* ---- HTTP CONNECT ---- */

enum { PX_OK, PX_OK_TLS, PX_403, PX_GARBAGE, PX_AFTER_HEAD, PX_BAD_DIGITS, PX_TRICKLE, PX_HUGE, PX_CLOSE };

static void h_proxy(struct lb_peer *p, void *arg)
{
	int mode = (int)(intptr_t)arg;
	char req[2048];
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	if (strstr(req, "\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n") && strstr(req, "\r\nHost: 127.0.0.1:"))
		LB_ADD(&p->sh->flag[1], 1);
	switch (mode) {
	case PX_OK:
	case PX_OK_TLS:
		lb_puts(p, "HTTP/1.1 200 Connection established\r\n\r\n");
		if (mode == PX_OK_TLS)
			lb_tls_accept(p);
		h_echo(p, NULL);
		return;
	case PX_403:
		lb_puts(p, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
		break;
	case PX_GARBAGE:
		lb_puts(p, "SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n");
		break;
	case PX_AFTER_HEAD:
		/* one write: the head and bytes the proxy had no business sending */
		lb_puts(p, "HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n");
		break;
	case PX_BAD_DIGITS:
		/* not a status code: '1', ':' and '0' are not three digits, whatever arithmetic says */
		lb_puts(p, "HTTP/1.1 1:0 Connection established\r\n\r\n");
		h_echo(p, NULL);
		return;
	case PX_TRICKLE: {
		const char *a = "HTTP/1.1 200 Connection established\r\nVia: 1.1 lb\r\n\r\n";
		for (const char *q = a; *q; q++)
			lb_write(p, q, 1);
		h_echo(p, NULL);
		return;
	}
	case PX_HUGE: {
		char junk[600];
		memset(junk, 'a', sizeof junk);
		for (int i = 0; i < 4; i++)
			lb_write(p, junk, sizeof junk);
		break;
	}
	case PX_CLOSE:
		lb_end(p);
		return;
	}
	lb_hold(p);
}

static int proxy_case(int mode, int tls, int *status)
{
	struct lb_server s = { 0 };
	char buf[8];
	int rc, end_rc, fds = lb_fds();

	lb_start(&s, 0, 0, h_proxy, (void *)(intptr_t)mode);
	proxy_target(443, s.port, tls);
	rc = start(s.port);
	if (rc == 0)
		rc = advance(5000);
	*status = c.proxy_status;
	if (rc == 0) {
		CHECK_EQ_INT(c.state, CONN_OPEN);
		if (write_all("ping\n") != 0 || read_n(buf, 5, &end_rc) != 5 || memcmp(buf, "pong\n", 5) != 0)
			rc = -EPROTO;
	} else {
		CHECK_EQ_INT(c.fd, -1); /* a failed connection is closed */
	}
	lb_wait(&s.sh->requests, 1, 2000);
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 1);
	CHECK_EQ_STR(lb_line(&s, 0), "CONNECT 127.0.0.1:443 HTTP/1.1");
	CHECK_EQ_INT(LB_GET(&s.sh->flag[1]), 1); /* Host and Proxy-Authorization went with it */
	conn_close(&c);
	lb_free(&s);
	CHECK_EQ_INT(lb_fds(), fds);
	return rc;
}

static void test_proxy(void)
{
	int st;
	slow_calls = 0;
	CHECK_EQ_INT(proxy_case(PX_OK, 0, &st), 0);
	CHECK_EQ_INT(st, 200);
	CHECK_EQ_INT(proxy_case(PX_OK_TLS, 1, &st), 0);
	CHECK_EQ_INT(st, 200);
	CHECK_EQ_INT(proxy_case(PX_TRICKLE, 0, &st), 0);
	CHECK_EQ_INT(proxy_case(PX_403, 1, &st), PZ_ESTATUS);
	CHECK_EQ_INT(st, 403);
	CHECK_EQ_INT(proxy_case(PX_GARBAGE, 1, &st), PZ_EHTTP);
	CHECK_EQ_INT(proxy_case(PX_AFTER_HEAD, 1, &st), PZ_EHTTP);
	CHECK_EQ_INT(proxy_case(PX_HUGE, 1, &st), PZ_ETOOBIG);
	CHECK_EQ_INT(proxy_case(PX_CLOSE, 1, &st), -ECONNRESET);
	CHECK_EQ_INT(slow_calls, 0);
}

/* A status that is not three digits must not open the tunnel. */
static void test_proxy_status_digits(void)
{
	int st;
	CHECK_EQ_INT(proxy_case(PX_BAD_DIGITS, 0, &st), PZ_EHTTP);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (lb_tls_init() < 0)
		check_failed++;
	LB_RUN("plain", test_plain);
	LB_RUN("tls", test_tls);
	LB_RUN("tls_bare_close", test_tls_bare_close);
	LB_RUN("refused", test_refused);
	LB_RUN("handshake_silent", test_handshake_silent);
	LB_RUN("staging_plain", test_staging_plain);
	LB_RUN("staging_tls", test_staging_tls);
	LB_RUN("proxy", test_proxy);
	LB_RUN("proxy_status_digits", test_proxy_status_digits);
	return check_done("conn");
}
