/*
 * test_server.c - the probe/metrics server over real loopback sockets (127.0.0.1, port 0), and its
 * request-head parser on its own.
 *
 * The test is both sides: it drives server_step() from a small poll loop (as main.c does) while
 * its clients connect, send and read with non-blocking sockets. Slow networks are made real with
 * small socket buffers; the server's time limits are shortened through the fields server_open
 * fills, so the whole file runs in a few seconds.
 */
#include "check.h"
#include "harness.h"
#include "pz.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the handler under test ---- */

#define BIG_DEFAULT (40 * 1024)
static size_t big_len = BIG_DEFAULT; /* body length of /big, more than SERVER_SMALL_MAX */
static int calls;

static char pattern(size_t i) { return (char)('a' + (i * 7 + i / 251) % 26); }

static char *page_seen; /* the server's page, as the handler was handed it */

static int handler(void *arg, const char *path, char *body, size_t cap, size_t *len)
{
	(void)arg;
	calls++;
	if (cap == SERVER_PAGE_MAX)
		page_seen = body;
	if (strcmp(path, "/healthz") == 0) {
		memcpy(body, "ok\n", 3);
		*len = 3;
		return 200;
	}
	if (strcmp(path, "/readyz") == 0) {
		memcpy(body, "waiting\n", 8);
		*len = 8;
		return 503;
	}
	if (strcmp(path, "/big") == 0) {
		if (cap < big_len)
			return PZ_ETOOBIG;
		for (size_t i = 0; i < big_len; i++)
			body[i] = pattern(i);
		*len = big_len;
		return 200;
	}
	if (strcmp(path, "/huge") == 0)
		return PZ_ETOOBIG; /* never fits: the server must answer 500 */
	return 404;
}

/* ---- driving both sides ---- */

static struct server srv;

static void open_srv(void)
{
	calls = 0;
	big_len = BIG_DEFAULT;
	CHECK_EQ_INT(server_open(&srv, "127.0.0.1:0", handler, NULL), 0);
	CHECK(server_port(&srv) > 0);
}

/* One loop turn: poll the server's descriptors (at most ms) and step it, as main.c does. Returns
 * how long server_step took, in ms. */
static int64_t turn(int ms)
{
	struct pollfd fds[SERVER_POLLFDS_MAX];
	int n = server_pollfds(&srv, fds);
	int64_t now = pz_now_ms(), d = server_deadline(&srv), t0;

	if (d != INT64_MAX && d - now < ms)
		ms = d <= now ? 0 : (int)(d - now);
	poll(fds, (nfds_t)n, ms);
	t0 = pz_now_ms();
	server_step(&srv, fds, n, t0);
	return pz_now_ms() - t0;
}

static int connect_to(int port, int rcvbuf)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		abort();
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_str(int fd, const char *s, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			turn(1);
			continue;
		}
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* Reads fd until EOF while turning the loop, at most ms. Returns the bytes read (-1: timed out),
 * NUL-terminated in out when they fit. */
static long read_all(int fd, char *out, size_t cap, int ms)
{
	int64_t end = pz_now_ms() + ms;
	size_t len = 0;

	while (pz_now_ms() < end) {
		ssize_t r = recv(fd, out + len, cap - 1 - len, 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			break;
		if (r > 0) {
			len += (size_t)r;
			if (len == cap - 1)
				break;
			continue;
		}
		turn(5);
	}
	out[len] = 0;
	return pz_now_ms() < end ? (long)len : -1;
}

static long request(const char *req, char *out, size_t cap)
{
	int fd = connect_to(server_port(&srv), 0);
	long n;
	send_str(fd, req, strlen(req));
	n = read_all(fd, out, cap, 3000);
	close(fd);
	return n;
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");
	return p ? p + 4 : NULL;
}

static long content_length(const char *resp)
{
	const char *p = strstr(resp, "\r\nContent-Length: ");
	return p ? strtol(p + 18, NULL, 10) : -1;
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* ---- tests: answers ---- */

static char resp[256 * 1024];

static void test_get_head_codes(void)
{
	long n;
	char head_get[512];

	open_srv();
	n = request("GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: kube-probe/1.20\r\nAccept: */*\r\n\r\n", resp,
		    sizeof resp);
	CHECK(n > 0);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	CHECK_EQ_INT(content_length(resp), 3);
	CHECK_EQ_STR(body_of(resp), "ok\n");
	CHECK(strstr(resp, "\r\nConnection: close\r\n") != NULL);
	snprintf(head_get, sizeof head_get, "%.*s", (int)(body_of(resp) - resp), resp);

	/* HEAD: byte for byte the same head, no body */
	n = request("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof resp);
	CHECK_EQ_STR(resp, head_get);

	/* HEAD of a page-sized answer: its length, nothing sent, and the page stays free */
	n = request("HEAD /big HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	CHECK_EQ_INT(content_length(resp), (long)big_len);
	CHECK_EQ_INT(n, body_of(resp) - resp);

	n = request("GET /readyz HTTP/1.0\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 503 Service Unavailable\r\n"));
	CHECK_EQ_STR(body_of(resp), "waiting\n");

	request("GET /nope HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 404 Not Found\r\n"));
	CHECK_EQ_STR(body_of(resp), "404 Not Found\n");

	request("POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 405 Method Not Allowed\r\n"));
	CHECK(strstr(resp, "\r\nAllow: GET, HEAD\r\n") != NULL);

	calls = 0;
	request("DELETE /healthz HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 405 "));
	CHECK_EQ_INT(calls, 0); /* the handler never sees other methods */

	request("GET /healthz?verbose=1 HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n")); /* the query is not part of the path */

	request("HELLO\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 400 Bad Request\r\n"));
	request("GET /healthz HTTP/2.0\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 505 "));
	request("GET http://x/healthz HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 400 "));
	request("GET /healthz HTTP/1.1\rX: y\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 400 "));

	/* a handler that cannot fit even the page gets a 500, not a cut body */
	request("GET /huge HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 500 "));
	/* ... and the page is free again afterwards */
	n = request("GET /big HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	server_close(&srv);
}

static void test_oversized(void)
{
	static char req[SERVER_HEAD_MAX + 2048];
	size_t n;

	open_srv();
	/* request line over SERVER_LINE_MAX: 414 */
	n = (size_t)snprintf(req, sizeof req, "GET /");
	memset(req + n, 'a', SERVER_LINE_MAX);
	strcpy(req + n + SERVER_LINE_MAX, " HTTP/1.1\r\n\r\n");
	request(req, resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 414 URI Too Long\r\n"));

	/* a head over SERVER_HEAD_MAX: 431, answered as soon as the bound is crossed */
	n = (size_t)snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nX-Pad: ");
	memset(req + n, 'p', SERVER_HEAD_MAX);
	strcpy(req + n + SERVER_HEAD_MAX, "\r\n\r\n");
	request(req, resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 431 "));

	/* exactly at the bound is still fine */
	n = (size_t)snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nX-Pad: ");
	memset(req + n, 'p', SERVER_HEAD_MAX - n - 4);
	strcpy(req + SERVER_HEAD_MAX - 4, "\r\n\r\n");
	CHECK_EQ_INT(strlen(req), SERVER_HEAD_MAX);
	request(req, resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	server_close(&srv);
}

static void test_byte_at_a_time(void)
{
	const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n";
	int fd;

	open_srv();
	fd = connect_to(server_port(&srv), 0);
	for (size_t i = 0; req[i]; i++) {
		send_str(fd, req + i, 1);
		turn(0);
		turn(0);
	}
	CHECK(read_all(fd, resp, sizeof resp, 2000) > 0);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	CHECK_EQ_STR(body_of(resp), "ok\n");
	close(fd);
	server_close(&srv);
}

static void test_page(void)
{
	const char *b;
	int ok = 1;

	open_srv();
	big_len = SERVER_PAGE_MAX; /* the largest answer there can be */
	CHECK(request("GET /big HTTP/1.1\r\n\r\n", resp, sizeof resp) > 0);
	CHECK_EQ_INT(content_length(resp), SERVER_PAGE_MAX);
	b = body_of(resp);
	CHECK(b && strlen(b) == SERVER_PAGE_MAX);
	for (size_t i = 0; b && i < SERVER_PAGE_MAX && ok; i++)
		ok = b[i] == pattern(i);
	CHECK(ok);
	big_len = SERVER_PAGE_MAX + 1;
	request("GET /big HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 500 "));
	server_close(&srv);
}

/* Memory pages of the server's page buffer that are resident now (mincore). */
static long page_resident(void)
{
	long pg = sysconf(_SC_PAGESIZE), n = (SERVER_PAGE_MAX + pg - 1) / pg, resident = 0;
	unsigned char vec[SERVER_PAGE_MAX / 4096 + 1];

	if (!page_seen || ((uintptr_t)page_seen % (uintptr_t)pg) != 0 ||
	    mincore(page_seen, SERVER_PAGE_MAX, vec) != 0)
		return -1;
	for (long i = 0; i < n; i++)
		resident += vec[i] & 1;
	return resident;
}

/* The page's memory goes back to the kernel once an answer written into it is done with: between
 * scrapes the metrics page costs no resident memory. */
static void test_page_released(void)
{
	long full;
	int fd;

	open_srv();
	page_seen = NULL;
	big_len = SERVER_PAGE_MAX;
	CHECK(request("GET /big HTTP/1.1\r\n\r\n", resp, sizeof resp) > SERVER_PAGE_MAX);
	CHECK_EQ_INT(page_resident(), 0);
	CHECK(request("HEAD /big HTTP/1.1\r\n\r\n", resp, sizeof resp) > 0);
	CHECK_EQ_INT(page_resident(), 0);
	/* while a slow client is being sent the page, it is resident (the check can see it) */
	{
		int small_buf = 4096;
		setsockopt(srv.fd, SOL_SOCKET, SO_SNDBUF, &small_buf, sizeof small_buf);
		fd = connect_to(server_port(&srv), small_buf);
		send_str(fd, "GET /big HTTP/1.1\r\n\r\n", 21);
		turn(5);
		turn(5);
		full = page_resident();
		CHECK(full >= SERVER_PAGE_MAX / sysconf(_SC_PAGESIZE));
		CHECK(read_all(fd, resp, sizeof resp, 3000) > SERVER_PAGE_MAX);
		close(fd);
		CHECK_EQ_INT(page_resident(), 0);
	}
	/* a probe answer leaves at most the one memory page it was written into */
	request("GET /healthz HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(page_resident() <= 1);
	fprintf(stderr, "page released: %ld resident memory pages while sending, 0 after\n", full);
	server_close(&srv);
}

/* ---- tests: hostile and slow clients ---- */

/* Every slot held by a client that sends half a head and then nothing: a probe that arrives is
 * answered at once, long before any deadline would free a slot. */
static void test_slowloris(void)
{
	int slow[SERVER_CLIENTS_MAX + 4], probe, port;
	int64_t t0, took;

	open_srv();
	port = server_port(&srv);
	for (size_t i = 0; i < PZ_ARRAY_LEN(slow); i++) {
		slow[i] = connect_to(port, 0);
		send_str(slow[i], "GET /healthz HTTP/1.1\r\nX-Slow: ", 31);
		turn(0);
	}
	turn(0);
	CHECK(srv.evicted + srv.refused >= 4); /* 12 slow clients for 8 slots */
	t0 = pz_now_ms();
	probe = connect_to(port, 0);
	send_str(probe, "GET /healthz HTTP/1.1\r\n\r\n", 25);
	CHECK(read_all(probe, resp, sizeof resp, 1000) > 0);
	took = pz_now_ms() - t0;
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	CHECK(took < 500);
	fprintf(stderr, "slowloris: probe answered in %lld ms with %zu slow clients\n", (long long)took,
		PZ_ARRAY_LEN(slow));
	close(probe);

	/* Ten probes in a row, with the slow ones reconnecting between them. */
	for (int k = 0; k < 10; k++) {
		int again = connect_to(port, 0);
		send_str(again, "GET /h", 6);
		turn(0);
		probe = connect_to(port, 0);
		send_str(probe, "GET /healthz HTTP/1.1\r\n\r\n", 25);
		CHECK(read_all(probe, resp, sizeof resp, 1000) > 0 && starts(resp, "HTTP/1.1 200 OK\r\n"));
		close(probe);
		close(again);
	}
	for (size_t i = 0; i < PZ_ARRAY_LEN(slow); i++)
		close(slow[i]);
	server_close(&srv);
}

/* Idle connections that churn (each closed by the server comes back at once), more of them than
 * there are slots, while a probe connects and sends its request a moment later (a kubelet on a
 * busy node): the probe waits parked, where the idle ones cannot evict it, and is answered. */
static void test_idle_churn(void)
{
	enum { IDLE = 3 * SERVER_CLIENTS_MAX };
	int idle[IDLE], probe, port, answered = 0, rounds = 5;

	open_srv();
	port = server_port(&srv);
	for (int i = 0; i < IDLE; i++)
		idle[i] = connect_to(port, 0);
	for (int r = 0; r < rounds; r++) {
		int64_t t0 = pz_now_ms();
		probe = connect_to(port, 0);
		/* 50 ms of churn before the probe's request: every turn, the idle ones reconnect */
		while (pz_now_ms() - t0 < 50) {
			turn(2);
			for (int i = 0; i < IDLE; i++) {
				close(idle[i]);
				idle[i] = connect_to(port, 0);
			}
		}
		send_str(probe, "GET /healthz HTTP/1.1\r\n\r\n", 25);
		if (read_all(probe, resp, sizeof resp, 1000) > 0 && starts(resp, "HTTP/1.1 200 OK\r\n"))
			answered++;
		close(probe);
	}
	CHECK_EQ_INT(answered, rounds);
	CHECK(srv.timed_out == 0 && srv.refused == 0); /* the probe was never turned away */
	fprintf(stderr, "idle churn: %d of %d delayed probes answered with %d idle connections churning\n",
		answered, rounds, IDLE);
	for (int i = 0; i < IDLE; i++)
		close(idle[i]);
	server_close(&srv);
}

/* A client that stops half-way through its head is dropped at the head deadline. */
static void test_head_deadline(void)
{
	int fd;
	int64_t t0;
	long n;

	open_srv();
	srv.head_timeout_ms = 200;
	fd = connect_to(server_port(&srv), 0);
	t0 = pz_now_ms();
	send_str(fd, "GET /healthz HTT", 16);
	turn(0);
	/* the loop is told when to come back for it: the head deadline */
	CHECK(server_deadline(&srv) >= t0 + 200 && server_deadline(&srv) <= pz_now_ms() + 200);
	n = read_all(fd, resp, sizeof resp, 2000);
	CHECK_EQ_INT(n, 0); /* closed without an answer */
	CHECK(pz_now_ms() - t0 >= 150);
	CHECK(pz_now_ms() - t0 < 1500);
	CHECK_EQ_INT(srv.timed_out, 1);
	close(fd);
	/* and the server still answers */
	request("GET /healthz HTTP/1.1\r\n\r\n", resp, sizeof resp);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	server_close(&srv);
}

/* A scraper that asks for the page and never reads: the loop never blocks on it, probes are
 * answered meanwhile, a second page request waits for the page, and gets it complete once the
 * first is dropped at its send deadline. */
static void test_client_never_reads(void)
{
	int small_buf = 4096, stuck, second, port;
	int64_t worst = 0, t0;
	const char *b;
	int ok = 1;

	open_srv();
	srv.send_timeout_ms = 400;
	big_len = SERVER_PAGE_MAX;
	/* A slow path: small buffers on both ends (the listener's are inherited on accept). */
	setsockopt(srv.fd, SOL_SOCKET, SO_SNDBUF, &small_buf, sizeof small_buf);
	port = server_port(&srv);
	stuck = connect_to(port, small_buf);
	send_str(stuck, "GET /big HTTP/1.1\r\n\r\n", 21);
	for (int k = 0; k < 5; k++) {
		int64_t took = turn(2);
		worst = took > worst ? took : worst;
	}
	second = connect_to(port, 0);
	send_str(second, "GET /big HTTP/1.1\r\n\r\n", 21);
	for (int k = 0; k < 3; k++) {
		int64_t took = turn(2);
		worst = took > worst ? took : worst;
	}
	CHECK(server_deadline(&srv) != 0); /* the page is taken: the waiter waits */
	/* probes meanwhile */
	for (int k = 0; k < 5; k++) {
		CHECK(request("GET /healthz HTTP/1.1\r\n\r\n", resp, sizeof resp) > 0);
		CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	}
	t0 = pz_now_ms();
	CHECK(read_all(second, resp, sizeof resp, 3000) > 0);
	CHECK(pz_now_ms() - t0 < 1500);
	CHECK(starts(resp, "HTTP/1.1 200 OK\r\n"));
	b = body_of(resp);
	CHECK(b && strlen(b) == SERVER_PAGE_MAX);
	for (size_t i = 0; b && i < strlen(b) && ok; i++)
		ok = b[i] == pattern(i);
	CHECK(ok);
	CHECK(srv.timed_out >= 1); /* the stuck one */
	/* a blocking write would never return here (the client never reads); 250 ms leaves room for
	 * ASan and a loaded 2-core machine while staying under the 400 ms send deadline */
	CHECK(worst < 250);
	fprintf(stderr, "never-reads: longest server_step %lld ms\n", (long long)worst);
	close(stuck);
	close(second);
	server_close(&srv);
}

/* A slow reader gets the whole page across many turns. */
static void test_slow_reader(void)
{
	int small_buf = 4096, fd;
	size_t len = 0;
	long total;
	int turns = 0;
	char *p;

	open_srv();
	big_len = 64 * 1024;
	setsockopt(srv.fd, SOL_SOCKET, SO_SNDBUF, &small_buf, sizeof small_buf);
	fd = connect_to(server_port(&srv), small_buf);
	send_str(fd, "GET /big HTTP/1.1\r\n\r\n", 21);
	for (int64_t end = pz_now_ms() + 3000; pz_now_ms() < end;) {
		ssize_t r = recv(fd, resp + len, 1000 < sizeof resp - 1 - len ? 1000 : sizeof resp - 1 - len, 0);
		if (r == 0)
			break;
		if (r > 0)
			len += (size_t)r;
		turn(1);
		turns++;
	}
	resp[len] = 0;
	total = content_length(resp);
	p = strstr(resp, "\r\n\r\n");
	CHECK_EQ_INT(total, 64 * 1024);
	CHECK(p && (long)(len - (size_t)(p + 4 - resp)) == total);
	CHECK(turns > 10);
	close(fd);
	server_close(&srv);
}

static void test_many_clients(void)
{
	int fds[40], port, good = 0;

	open_srv();
	port = server_port(&srv);
	for (int k = 0; k < 200; k++) {
		request("GET /healthz HTTP/1.1\r\n\r\n", resp, sizeof resp);
		good += starts(resp, "HTTP/1.1 200 OK\r\n");
	}
	CHECK_EQ_INT(good, 200);
	/* 40 at once, five times the slots: each head is there on accept, so each is answered */
	for (size_t i = 0; i < PZ_ARRAY_LEN(fds); i++) {
		fds[i] = connect_to(port, 0);
		send_str(fds[i], "GET /healthz HTTP/1.1\r\n\r\n", 25);
	}
	good = 0;
	for (size_t i = 0; i < PZ_ARRAY_LEN(fds); i++) {
		read_all(fds[i], resp, sizeof resp, 2000);
		good += starts(resp, "HTTP/1.1 200 OK\r\n") && strcmp(body_of(resp), "ok\n") == 0;
		close(fds[i]);
	}
	CHECK_EQ_INT(good, (int)PZ_ARRAY_LEN(fds));
	/* clients that connect and go away, or reset, leave no slot behind */
	for (int k = 0; k < 50; k++) {
		int fd = connect_to(port, 0);
		if (k % 2) {
			struct linger lg = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* close sends a reset */
		}
		close(fd);
		turn(0);
	}
	turn(0);
	turn(0);
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++)
		CHECK_EQ_INT(srv.client[i].fd, -1);
	server_close(&srv);
}

static void test_open(void)
{
	struct server s;
	struct pollfd fds[SERVER_POLLFDS_MAX];

	CHECK_EQ_INT(server_open(&s, "0", handler, NULL), 0);
	CHECK_EQ_INT(server_pollfds(&s, fds), 0);
	CHECK_EQ_INT(server_port(&s), -1);
	CHECK(server_deadline(&s) == INT64_MAX);
	server_step(&s, NULL, 0, pz_now_ms());
	CHECK_EQ_INT(server_open(&s, "8080", handler, NULL), PZ_ECONFIG);
	CHECK_EQ_INT(server_open(&s, ":99999", handler, NULL), PZ_ECONFIG);
	CHECK_EQ_INT(server_open(&s, ":80x", handler, NULL), PZ_ECONFIG);
	CHECK_EQ_INT(server_open(&s, ":", handler, NULL), PZ_ECONFIG);
	CHECK_EQ_INT(server_open(&s, "1.2.3:80", handler, NULL), PZ_ECONFIG);
	CHECK_EQ_INT(server_open(&s, "[nope]:80", handler, NULL), PZ_ECONFIG);
	CHECK_EQ_INT(server_open(&s, "127.0.0.1:0", handler, NULL), 0);
	CHECK_EQ_INT(server_pollfds(&s, fds), 1); /* the listener only */
	server_close(&s);
}

/* ---- the parser alone ---- */

static int feed_all(struct server_req *r, const char *s, size_t n, size_t piece)
{
	size_t off = 0;
	server_req_init(r);
	while (off < n) {
		size_t k = n - off < piece ? n - off : piece;
		int rc = server_req_feed(r, s + off, k);
		if (rc < 0)
			return rc;
		off += (size_t)rc;
		if (server_req_done(r))
			return (int)off;
	}
	return (int)off;
}

static void test_parser(void)
{
	static const struct {
		const char *in;
		int status;   /* 0: done */
		int method;
		const char *path;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 0, SERVER_M_GET, "/" },
		{ "HEAD /readyz HTTP/1.0\r\nA: b\r\n\r\n", 0, SERVER_M_HEAD, "/readyz" },
		{ "\r\n\r\nGET /x?y#z HTTP/1.1\r\n\r\n", 0, SERVER_M_GET, "/x" },
		{ "GET /a HTTP/1.1\n\n", 0, SERVER_M_GET, "/a" },
		{ "PATCH /a HTTP/1.1\r\nX:\ty\r\n\r\n", 0, SERVER_M_OTHER, "/a" },
		{ "get /a HTTP/1.1\r\n\r\n", 0, SERVER_M_OTHER, "/a" },
		{ "GET  /a HTTP/1.1\r\n\r\n", 400, 0, NULL },
		{ "GET /a  HTTP/1.1\r\n\r\n", 400, 0, NULL },
		{ "GET /a HTTP/1.1 \r\n\r\n", 400, 0, NULL },
		{ "GET /a\r\n\r\n", 400, 0, NULL },
		{ "GET /a HTTP/1\r\n\r\n", 400, 0, NULL },
		{ "GET /a HTTP/3.0\r\n\r\n", 505, 0, NULL },
		{ "GET a HTTP/1.1\r\n\r\n", 400, 0, NULL },
		{ "G(T /a HTTP/1.1\r\n\r\n", 400, 0, NULL },
		{ "GET /a\tb HTTP/1.1\r\n\r\n", 400, 0, NULL },
		{ "GET /a HTTP/1.1\r\nX: \001\r\n\r\n", 400, 0, NULL },
		{ "GET /a HTTP/1.1\r\nX: y\r\r\n\r\n", 400, 0, NULL },
		{ "GET /a\x7f HTTP/1.1\r\n\r\n", 400, 0, NULL },
		{ "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400, 0, NULL },
		{ "GET /a HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", 0, SERVER_M_GET, "/a" },
	};
	struct server_req r;

	for (size_t i = 0; i < PZ_ARRAY_LEN(cases); i++) {
		size_t n = strlen(cases[i].in);
		for (size_t piece = 1; piece <= n; piece++) {
			int rc = feed_all(&r, cases[i].in, n, piece);
			int good = cases[i].status == 0
				? rc == (int)n && server_req_done(&r) && r.method == cases[i].method &&
				  strcmp(r.path, cases[i].path) == 0
				: rc < 0 && !server_req_done(&r) && r.status == cases[i].status;
			if (!good) {
				fprintf(stderr, "parser case %zu (%s) piece %zu: rc %d status %d\n", i, cases[i].in, piece,
					rc, r.status);
				CHECK(good);
				break;
			}
			if (piece == n)
				CHECK(good);
		}
	}
	/* Bytes after the head are not consumed, and a finished parser takes no more. */
	{
		const char *in = "GET /a HTTP/1.1\r\n\r\nBODY";
		server_req_init(&r);
		CHECK_EQ_INT(server_req_feed(&r, in, strlen(in)), (int)strlen(in) - 4);
		CHECK(server_req_done(&r));
		CHECK_EQ_INT(server_req_feed(&r, "x", 1), 0);
	}
	/* Errors stick. */
	server_req_init(&r);
	CHECK_EQ_INT(server_req_feed(&r, "\x01", 1), PZ_EHTTP);
	CHECK_EQ_INT(server_req_feed(&r, "GET / HTTP/1.1\r\n\r\n", 18), PZ_EHTTP);
	/* Endless empty lines count toward the head bound. */
	{
		static char crlf[SERVER_HEAD_MAX + 2];
		for (size_t i = 0; i < sizeof crlf; i += 2)
			memcpy(crlf + i, "\r\n", 2);
		server_req_init(&r);
		CHECK_EQ_INT(server_req_feed(&r, crlf, sizeof crlf), PZ_ETOOBIG);
		CHECK_EQ_INT(r.status, 431);
	}
}

int main(void)
{
	run("open", test_open);
	run("parser", test_parser);
	run("get_head_codes", test_get_head_codes);
	run("oversized", test_oversized);
	run("byte_at_a_time", test_byte_at_a_time);
	run("page", test_page);
	run("page_released", test_page_released);
	run("slowloris", test_slowloris);
	run("idle_churn", test_idle_churn);
	run("head_deadline", test_head_deadline);
	run("client_never_reads", test_client_never_reads);
	run("slow_reader", test_slow_reader);
	run("many_clients", test_many_clients);
	return check_done("test_server");
}
