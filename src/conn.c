/*
 * conn.c - sockets, HTTP CONNECT through a proxy, and the BearSSL engine pump (see conn.h).
 * BearSSL's engine is a state machine driven by _buf()/_ack() pairs; this file moves bytes between
 * it and the socket without ever waiting. br_sslio is not used: it blocks.
 */
#include "fmt.h"
#include "conn.h"
#include "pz.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void conn_init(struct conn *c)
{
	/* only the scalars: the TLS context is set up by tls_client_start on first connect */
	c->fd = -1;
	c->state = CONN_CLOSED;
	c->use_tls = 0;
	c->tls_error = 0;
	c->proxy_status = 0;
	c->drained = 0;
	c->in_pos = c->in_len = 0;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CONN_CLOSED;
	c->drained = 0;
	c->in_pos = c->in_len = 0;
}

/* The socket calls: EINTR retried here and nowhere else; EAGAIN reported as -EAGAIN. */
static int sock_send(int fd, const unsigned char *p, size_t len)
{
	for (;;) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static int sock_recv(int fd, unsigned char *p, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, p, cap, 0);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* Every read of received bytes: > 0 bytes, 0 at end of stream, -EAGAIN, or -errno. A short read
 * proves the socket empty: no more reads until the loop has polled (conn_events). */
static int sock_read(struct conn *c, unsigned char *p, size_t cap)
{
	int rc;
	if (c->drained)
		return -EAGAIN;
	rc = sock_recv(c->fd, p, cap);
	c->drained = rc > 0 && (size_t)rc < cap;
	return rc;
}

/* Refills in[] (empty) from the socket, as sock_read. */
static int stage(struct conn *c)
{
	int rc = sock_read(c, c->in, sizeof c->in);
	if (rc > 0) {
		c->in_pos = 0;
		c->in_len = (uint16_t)rc;
	}
	return rc;
}

static int tls_fail(struct conn *c)
{
	c->tls_error = (unsigned)br_ssl_engine_last_error(&c->tls.cc.eng);
	return PZ_ETLS;
}

/* Runs the engine until `want` (a BR_SSL_* state bit) is available, moving records to and from
 * the socket while it can. Returns 0, 1 at a clean close, -EAGAIN when the socket would block, or
 * a failure. */
static int pump(struct conn *c, unsigned want)
{
	br_ssl_engine_context *eng = &c->tls.cc.eng;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		size_t len;
		unsigned char *buf;
		int rc;

		if (st == BR_SSL_CLOSED)
			return br_ssl_engine_last_error(eng) == BR_ERR_OK ? 1 : tls_fail(c);
		if (st & want)
			return 0;
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			rc = sock_send(c->fd, buf, len);
			if (rc < 0)
				return rc;
			br_ssl_engine_sendrec_ack(eng, (size_t)rc);
			continue;
		}
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			if (c->in_pos == c->in_len && len >= sizeof c->in) {
				/* a large record's body: straight into the engine, no copy */
				rc = sock_read(c, buf, len);
			} else {
				rc = c->in_pos < c->in_len ? c->in_len - c->in_pos : stage(c);
				if (rc > 0) {
					if ((size_t)rc > len)
						rc = (int)len;
					memcpy(buf, c->in + c->in_pos, (size_t)rc);
					c->in_pos = (uint16_t)(c->in_pos + rc);
				}
			}
			if (rc < 0)
				return rc;
			if (rc == 0)
				return -ECONNRESET; /* TCP closed without close_notify: a cut, not an end */
			br_ssl_engine_recvrec_ack(eng, (size_t)rc);
			continue;
		}
		/* Neither readable nor writable, not closed: cannot happen with bidi buffers. */
		return tls_fail(c);
	}
}

static int fail(struct conn *c, int rc)
{
	conn_close(c);
	return rc;
}

/* The CONNECT request; the Host header names the target as the request line does. */
static int proxy_request(struct conn *c, const struct conn_target *t)
{
	int v6 = strchr(t->host, ':') != NULL;
	int n = pz_snprintf(c->proxy_buf, sizeof c->proxy_buf,
		"CONNECT %s%s%s:%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n%s%s%sUser-Agent: pizza-controller\r\n\r\n",
		v6 ? "[" : "", t->host, v6 ? "]" : "", t->port, v6 ? "[" : "", t->host, v6 ? "]" : "", t->port,
		t->proxy.authorization[0] ? "Proxy-Authorization: " : "", t->proxy.authorization,
		t->proxy.authorization[0] ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof c->proxy_buf)
		return PZ_ETOOBIG;
	c->proxy_len = (uint16_t)n;
	c->proxy_off = 0;
	c->proxy_reading = 0;
	return 0;
}

/* The byte stream to the target is there (directly or through the tunnel): start TLS, or open. */
static int after_tunnel(struct conn *c, const struct conn_target *t)
{
	if (!c->use_tls) {
		c->state = CONN_OPEN;
		return 0;
	}
	if (tls_client_start(&c->tls, t->creds, &t->name) < 0)
		return fail(c, tls_fail(c));
	c->state = CONN_HANDSHAKE;
	return -EAGAIN;
}

/* After the TCP connect: the proxy exchange first when there is a proxy. */
static int connected(struct conn *c, const struct conn_target *t)
{
	if (t->proxy.set) {
		int rc = proxy_request(c, t);
		if (rc < 0)
			return fail(c, rc);
		c->state = CONN_PROXY;
		return -EAGAIN;
	}
	return after_tunnel(c, t);
}

/* Sends the CONNECT request, then reads the answer head up to its blank line. The proxy sends
 * nothing more until we speak, so a byte past the head means the exchange is not what we think. */
static int proxy_step(struct conn *c, const struct conn_target *t)
{
	int rc;
	while (!c->proxy_reading) {
		rc = sock_send(c->fd, (const unsigned char *)c->proxy_buf + c->proxy_off,
			(size_t)(c->proxy_len - c->proxy_off));
		if (rc < 0)
			return rc == -EAGAIN ? rc : fail(c, rc);
		c->proxy_off = (uint16_t)(c->proxy_off + rc);
		if (c->proxy_off == c->proxy_len) {
			memset(c->proxy_buf, 0, c->proxy_len); /* it held the proxy credentials */
			c->proxy_reading = 1;
			c->proxy_len = 0;
		}
	}
	for (;;) {
		char *end;
		if (c->proxy_len >= sizeof c->proxy_buf - 1)
			return fail(c, PZ_ETOOBIG);
		rc = sock_recv(c->fd, (unsigned char *)c->proxy_buf + c->proxy_len,
			sizeof c->proxy_buf - 1 - c->proxy_len);
		if (rc < 0)
			return rc == -EAGAIN ? rc : fail(c, rc);
		if (rc == 0)
			return fail(c, -ECONNRESET);
		c->proxy_len = (uint16_t)(c->proxy_len + rc);
		c->proxy_buf[c->proxy_len] = 0;
		end = (char *)pz_find(c->proxy_buf, "\r\n\r\n");
		if (!end)
			continue;
		if (c->proxy_len < 12 || memcmp(c->proxy_buf, "HTTP/1.", 7) != 0 || c->proxy_buf[8] != ' ' ||
		    (unsigned)(c->proxy_buf[9] - '0') > 9 || (unsigned)(c->proxy_buf[10] - '0') > 9 ||
		    (unsigned)(c->proxy_buf[11] - '0') > 9)
			return fail(c, PZ_EHTTP);
		c->proxy_status = (c->proxy_buf[9] - '0') * 100 + (c->proxy_buf[10] - '0') * 10 +
				  (c->proxy_buf[11] - '0');
		if (c->proxy_status != 200)
			return fail(c, PZ_ESTATUS); /* as Go's transport: only 200 opens the tunnel (a refusal
						       may carry a body: it is never read) */
		if (end + 4 != c->proxy_buf + c->proxy_len)
			return fail(c, PZ_EHTTP); /* tunnel bytes before we spoke: not in step */
		return after_tunnel(c, t);
	}
}

int conn_start(struct conn *c, const struct conn_target *t, const struct sockaddr *addr, socklen_t addr_len)
{
	int one = 1, fd;

	conn_close(c);
	c->use_tls = t->use_tls;
	c->tls_error = 0;
	c->proxy_status = 0;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->state = CONN_CONNECTING;
	if (connect(fd, addr, addr_len) == 0) {
		int rc = connected(c, t);
		return rc == -EAGAIN ? 0 : rc;
	}
	if (errno != EINPROGRESS)
		return fail(c, -errno);
	return 0;
}

int conn_advance(struct conn *c, const struct conn_target *t)
{
	int rc, err = 0;
	socklen_t elen = sizeof err;

	switch (c->state) {
	case CONN_CLOSED:
		return -ENOTCONN;
	case CONN_CONNECTING: {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		if (poll(&p, 1, 0) == 0)
			return -EAGAIN;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0)
			return fail(c, -err);
		rc = connected(c, t);
		if (rc != -EAGAIN)
			return rc;
		return conn_advance(c, t);
	}
	case CONN_PROXY:
		rc = proxy_step(c, t);
		if (rc != -EAGAIN || c->state == CONN_PROXY)
			return rc;
		return conn_advance(c, t);
	case CONN_HANDSHAKE:
		rc = pump(c, BR_SSL_SENDAPP);
		if (rc == -EAGAIN)
			return rc;
		if (rc != 0)
			return fail(c, rc > 0 ? -ECONNRESET : rc);
		tls_client_save_session(&c->tls);
		c->state = CONN_OPEN;
		return 0;
	case CONN_OPEN:
		return 0;
	}
	PZ_BUG("connection state");
}

short conn_events(struct conn *c, int want_read, int want_write)
{
	unsigned st;
	short ev = 0;

	c->drained = 0; /* the caller polls now: what it reports is news */
	switch (c->state) {
	case CONN_CLOSED:
		return 0;
	case CONN_CONNECTING:
		return POLLOUT;
	case CONN_PROXY:
		return c->proxy_reading ? POLLIN : POLLOUT;
	case CONN_HANDSHAKE:
	case CONN_OPEN:
		if (!c->use_tls)
			return (short)((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));
		st = br_ssl_engine_current_state(&c->tls.cc.eng);
		/* A caller with bytes to write waits for the socket even when the engine's record
		 * buffer is empty: a writable socket wakes it at once, and it never sleeps on input
		 * that cannot come before its request is out. */
		if ((st & BR_SSL_SENDREC) || (want_write && c->state == CONN_OPEN))
			ev |= POLLOUT;
		if (st & BR_SSL_RECVREC)
			ev |= POLLIN;
		return ev;
	}
	PZ_BUG("connection state");
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	br_ssl_engine_context *eng = &c->tls.cc.eng;
	size_t room;
	unsigned char *buf;
	int rc;

	if (c->state != CONN_OPEN)
		return -ENOTCONN;
	if (!c->use_tls)
		return sock_send(c->fd, data, len);
	rc = pump(c, BR_SSL_SENDAPP);
	if (rc != 0)
		return rc > 0 ? -EPIPE : rc;
	buf = br_ssl_engine_sendapp_buf(eng, &room);
	if (room > len)
		room = len;
	memcpy(buf, data, room);
	br_ssl_engine_sendapp_ack(eng, room);
	return (int)room;
}

int conn_flush(struct conn *c)
{
	br_ssl_engine_context *eng = &c->tls.cc.eng;
	if (c->state != CONN_OPEN)
		return -ENOTCONN;
	if (!c->use_tls) {
		c->drained = 1; /* every byte went out in conn_write: the answer cannot be there yet */
		return 0;
	}
	br_ssl_engine_flush(eng, 0);
	while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
		size_t n;
		unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &n);
		int rc = sock_send(c->fd, buf, n);
		if (rc < 0)
			return rc;
		br_ssl_engine_sendrec_ack(eng, (size_t)rc);
	}
	c->drained = 1;
	return 0;
}

int conn_peek(struct conn *c, const unsigned char **data)
{
	size_t len;
	int rc;

	if (c->state != CONN_OPEN)
		return -ENOTCONN;
	if (!c->use_tls) {
		if (c->in_pos == c->in_len && (rc = stage(c)) <= 0)
			return rc;
		*data = c->in + c->in_pos;
		return c->in_len - c->in_pos;
	}
	rc = pump(c, BR_SSL_RECVAPP);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	*data = br_ssl_engine_recvapp_buf(&c->tls.cc.eng, &len);
	return (int)len; /* at most one record: 16 KiB */
}

void conn_consume(struct conn *c, size_t n)
{
	if (c->state != CONN_OPEN || n == 0)
		return;
	if (c->use_tls)
		br_ssl_engine_recvapp_ack(&c->tls.cc.eng, n);
	else
		c->in_pos = (uint16_t)(c->in_pos + n);
}

int conn_read(struct conn *c, void *out, size_t cap)
{
	const unsigned char *p;
	int rc = conn_peek(c, &p);
	if (rc <= 0)
		return rc;
	if ((size_t)rc > cap)
		rc = (int)cap;
	memcpy(out, p, (size_t)rc);
	conn_consume(c, (size_t)rc);
	return rc;
}

int conn_pending(const struct conn *c)
{
	if (c->state != CONN_OPEN)
		return 0;
	return c->in_pos != c->in_len ||
	       (c->use_tls && (br_ssl_engine_current_state(&c->tls.cc.eng) & BR_SSL_RECVAPP) != 0);
}

int conn_quiet(struct conn *c)
{
	unsigned char b;
	if (c->state != CONN_OPEN || conn_pending(c))
		return 0;
	/* one byte is enough to know: a connection that is not quiet is closed, not read */
	return sock_recv(c->fd, &b, 1) == -EAGAIN;
}
