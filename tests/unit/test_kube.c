/*
 * test_kube.c - kube_link (src/kube.h) against loopback API servers that replay the recorded
 * responses of tests/data, behave, or misbehave: Content-Length and chunked answers, keep-alive
 * reuse (counted as accepts on the server), a kept-alive connection closed while idle (retried once
 * on a new connection, never twice), unsolicited bytes on an idle connection (closed, never read as
 * the next answer), 1xx skipped and 101 refused, a stall (the link's own deadline: -ETIMEDOUT, the
 * link closed), a trickle of one byte per write, a reset at every byte offset of a response, a body
 * larger than the caller's buffer, request-line injection refused by the one request builder, and
 * a 401 that re-reads the token file at once.
 *
 * The link is driven exactly as main.c's loop drives it: kube_link_step, then poll() on its fd and
 * events until its deadline, stepping at once while kube_link_pending. Time is the real monotonic
 * clock, except that a stall test hands kube_link_step the link's own deadline (kube_link_deadline)
 * as `now` instead of waiting KUBE_CALL_TIMEOUT_MS: the clock is an argument of the API.
 */
#include "check.h"
#include "harness.h"
#include "loopback.h"

#include "http.h"
#include "config.h"
#include "kube.h"
#include "pz.h"

#include <fcntl.h>
#include <sys/stat.h>

static struct kube_link link_;  /* ~47 KiB: not on the stack */
static struct kube_api api;
static int slow_calls;

#define TIMED(expr) ({ struct lb_timer tm_; int64_t ms_; lb_timer_start(&tm_); int rc_ = (expr); \
	if (!lb_timer_prompt(&tm_, &ms_)) { slow_calls++; fprintf(stderr, "%s:%d: %s took %lld ms or slept\n", \
	__FILE__, __LINE__, #expr, (long long)ms_); } rc_; })

#define HUNG 1000 /* drive()'s answer when the link neither finished nor failed in time */

/* Steps the link until kube_link_step answers non-zero (1: the awaited point, < 0: failure), as the
 * loop would; HUNG after ms. Also checks the loop contract on every turn: a busy link always gives
 * the loop something to wait for (an fd with events, or a deadline). */
static int drive(struct kube_link *l, int ms)
{
	int64_t end = pz_now_ms() + ms;
	for (;;) {
		int64_t now = pz_now_ms(), dl;
		int rc = TIMED(kube_link_step(l, &api, now)), fd;
		short ev;
		if (rc != 0)
			return rc;
		if (!kube_link_busy(l))
			return -EPROTO; /* 0 while idle or done: nothing will ever happen */
		if (kube_link_pending(l))
			continue;
		fd = kube_link_fd(l);
		ev = kube_link_events(l);
		dl = kube_link_deadline(l);
		if (!((fd >= 0 && ev) || dl != INT64_MAX)) {
			check_failed++;
			fprintf(stderr, "link asleep forever: state %d fd %d events %d\n", l->state, fd, ev);
			return -EPROTO;
		}
		if (now >= end)
			return HUNG;
		int64_t t = dl - now;
		if (t > end - now)
			t = end - now;
		if (t > 50)
			t = 50;
		struct pollfd p = { .fd = fd, .events = ev };
		poll(&p, fd >= 0 ? 1 : 0, t < 0 ? 0 : (int)t);
	}
}

static int call(const char *method, const char *path, char *out, size_t cap)
{
	int rc = TIMED(kube_link_start(&link_, &api, method, path, NULL, NULL, 0, LINK_CALL, out, cap, pz_now_ms()));
	return rc < 0 ? rc : drive(&link_, 5000);
}

/* A stream's whole body through kube_link_read into out. Returns its length or a failure. */
static long stream_all(char *out, size_t cap)
{
	size_t n = 0;
	int64_t end = pz_now_ms() + 5000;
	for (;;) {
		const char *d;
		int rc = TIMED(kube_link_read(&link_, &d));
		if (rc == 0)
			return (long)n;
		if (rc == -EAGAIN) {
			if (pz_now_ms() > end)
				return HUNG;
			struct pollfd p = { .fd = kube_link_fd(&link_), .events = kube_link_events(&link_) };
			poll(&p, 1, 50);
			continue;
		}
		if (rc < 0)
			return rc;
		if (n + (size_t)rc <= cap)
			memcpy(out + n, d, (size_t)rc);
		n += (size_t)rc;
	}
}

/* ---- recorded responses ---- */

struct rec {
	char *raw, *body;
	size_t len, blen;
};

static struct rec get_order, get_pod;

static void load(struct rec *r, const char *name)
{
	r->raw = data_load(name, &r->len);
	r->body = load_body(name, &r->blen);
	if (!r->raw || !r->body) {
		fprintf(stderr, "cannot load %s\n", name);
		exit(1);
	}
}

/* A small answer with a Content-Length body. */

/* ---- handlers ---- */

/* Every request on the connection gets the recorded response `arg` (a struct rec). */
static void h_replay(struct lb_peer *p, void *arg)
{
	const struct rec *r = arg;
	char req[4096];
	while (lb_read_request(p, req, sizeof req) > 0)
		lb_write(p, r->raw, r->len);
}

/* Request 1: get-order, request 2: get-pod, on one connection. */
static void h_two(struct lb_peer *p, void *arg)
{
	char req[4096];
	(void)arg;
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	lb_write(p, get_order.raw, get_order.len);
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	lb_write(p, get_pod.raw, get_pod.len);
	lb_hold(p);
}

static void test_content_length(int tls)
{
	struct lb_server s = { 0 };
	static char out[8192];
	int fds = lb_fds();

	lb_start(&s, tls, 0, h_replay, &get_order);
	lb_api(&api, &s, tls);
	kube_link_init(&link_);
	slow_calls = 0;
	CHECK_EQ_INT(call("GET", "/apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/order-123", out, sizeof out), 1);
	CHECK_EQ_INT(link_.state, LINK_DONE);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(link_.out_len, get_order.blen);
	CHECK_EQ_INT(link_.out_truncated, 0);
	CHECK(memcmp(out, get_order.body, get_order.blen) == 0 && out[get_order.blen] == 0);
	CHECK(!kube_link_busy(&link_));
	CHECK_EQ_INT(kube_link_fd(&link_), -1);          /* nothing to poll for while done */
	CHECK_EQ_INT(kube_link_deadline(&link_), INT64_MAX);
	CHECK_EQ_INT(api.requests, 1);
	CHECK_EQ_INT(api.connects, 1);
	CHECK_EQ_STR(lb_line(&s, 0), "GET /apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/order-123 HTTP/1.1");
	CHECK(strstr(s.sh->head, "\r\nHost: 127.0.0.1:") != NULL);
	CHECK_EQ_INT(slow_calls, 0);
	kube_link_close(&link_);
	lb_free(&s);
	CHECK_EQ_INT(lb_fds(), fds);
}

static void test_content_length_plain(void) { test_content_length(0); }
static void test_content_length_tls(void) { test_content_length(1); }

static void test_chunked(int tls)
{
	struct lb_server s = { 0 };
	static char out[8192];

	lb_start(&s, tls, 0, h_replay, &get_pod);
	lb_api(&api, &s, tls);
	kube_link_init(&link_);
	/* as a call */
	CHECK_EQ_INT(call("GET", "/api/v1/namespaces/default/pods/order-123-oven", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(link_.out_len, get_pod.blen);
	CHECK(memcmp(out, get_pod.body, get_pod.blen) == 0);
	/* as a stream, on the same connection */
	CHECK_EQ_INT(kube_link_start(&link_, &api, "GET", "/api/v1/pods", NULL, NULL, 0, LINK_STREAM, NULL, 0,
			     pz_now_ms()), 0);
	CHECK_EQ_INT(drive(&link_, 5000), 1);
	CHECK_EQ_INT(link_.state, LINK_BODY);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(link_.reused, 1);
	memset(out, 0, sizeof out);
	CHECK_EQ_INT(stream_all(out, sizeof out), (long)get_pod.blen);
	CHECK(memcmp(out, get_pod.body, get_pod.blen) == 0);
	CHECK_EQ_INT(link_.state, LINK_DONE);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1);
	kube_link_close(&link_);
	lb_free(&s);
}

static void test_chunked_plain(void) { test_chunked(0); }
static void test_chunked_tls(void) { test_chunked(1); }

/* Two calls, one connection: the second is sent on the kept-alive one. */
static void test_keepalive(int tls)
{
	struct lb_server s = { 0 };
	static char out[8192];

	lb_start(&s, tls, 0, h_two, NULL);
	lb_api(&api, &s, tls);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	CHECK_EQ_INT(link_.reused, 0);
	CHECK_EQ_INT(call("GET", "/b", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(link_.reused, 1);
	CHECK_EQ_INT(link_.retried, 0);
	CHECK_EQ_INT(link_.out_len, get_pod.blen);
	CHECK(memcmp(out, get_pod.body, get_pod.blen) == 0);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1);
	CHECK_EQ_INT(api.connects, 1);
	CHECK_EQ_INT(api.requests, 2);
	kube_link_close(&link_);
	lb_free(&s);
}

static void test_keepalive_plain(void) { test_keepalive(0); }
static void test_keepalive_tls(void) { test_keepalive(1); }

/* flag[0] per connection: how the connection ends after its first answer.
 *   CLOSE_AFTER   closes at once after answering (the client sees the close while idle)
 *   CLOSE_ON_NEXT reads the next request and closes without a word (the race: it closed "while
 *                 idle" just as the request went out)
 * Connections after the first close on their first request when flag[1] is set. */
enum { CLOSE_AFTER = 1, CLOSE_ON_NEXT = 2 };

static void h_close(struct lb_peer *p, void *arg)
{
	char req[4096];
	int idx = LB_GET(&p->sh->accepts), mode = (int)(intptr_t)arg;
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	if (idx > 1 && LB_GET(&p->sh->flag[1])) {
		lb_end(p);
		return;
	}
	lb_answer(p, 200, idx == 1 ? "first" : "second");
	if (idx > 1) {
		while (lb_read_request(p, req, sizeof req) > 0)
			lb_answer(p, 200, "more");
		return;
	}
	if (mode == CLOSE_AFTER) {
		lb_end(p);
		return;
	}
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	lb_end(p);
}

static void test_idle_closed_seen(void)
{
	struct lb_server s = { 0 };
	char out[64];

	lb_start(&s, 0, 1, h_close, (void *)CLOSE_AFTER);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	CHECK_EQ_STR(out, "first");
	CHECK(lb_wait(&s.sh->closed, 1, 5000));
	{ /* the FIN reached us */
		struct pollfd p = { .fd = link_.conn.fd, .events = POLLIN };
		CHECK_EQ_INT(poll(&p, 1, 2000), 1);
	}
	CHECK_EQ_INT(call("GET", "/b", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_STR(out, "second");
	CHECK_EQ_INT(link_.reused, 0); /* a closed idle connection is never used */
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 2);
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 2);
	kube_link_close(&link_);
	lb_free(&s);
}

static void test_idle_closed_race(void)
{
	struct lb_server s = { 0 };
	char out[64];

	lb_start(&s, 0, 1, h_close, (void *)CLOSE_ON_NEXT);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	CHECK_EQ_INT(call("GET", "/b", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_STR(out, "second");
	CHECK_EQ_INT(link_.retried, 1);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 2);
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 3); /* /a, /b lost to the close, /b again */
	CHECK_EQ_STR(lb_line(&s, 2), "GET /b HTTP/1.1");
	kube_link_close(&link_);
	lb_free(&s);
}

/* The retry is once: when the new connection fails too, the call fails. */
static void test_idle_closed_retry_once(void)
{
	struct lb_server s = { 0 };
	char out[64];
	int rc;

	s.sh = lb_shared_new();
	s.sh->flag[1] = 1;
	lb_start(&s, 0, 1, h_close, (void *)CLOSE_ON_NEXT);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	rc = call("GET", "/b", out, sizeof out);
	CHECK(rc < 0 && rc != HUNG);
	CHECK_EQ_INT(link_.error, rc);
	CHECK_EQ_INT(link_.state, LINK_IDLE);
	CHECK_EQ_INT(link_.conn.fd, -1);
	lb_wait(&s.sh->closed, 2, 2000);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 2);
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 3);
	kube_link_close(&link_);
	lb_free(&s);
}

/* Bytes that arrive while no request is out: a stale answer must never be read as the next one.
 * arg 0: sent after the client got its answer; 1: glued to the answer in one write. */
static void h_unsolicited(struct lb_peer *p, void *arg)
{
	static const char stale[] = "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nstale";
	char req[4096];
	int idx = LB_GET(&p->sh->accepts);
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	if (idx == 1) {
		if (arg) {
			char both[256];
			int n = snprintf(both, sizeof both, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst%s", stale);
			lb_write(p, both, (size_t)n);
		} else {
			lb_answer(p, 200, "first");
			lb_wait(&p->sh->flag[2], 1, 5000); /* the client has its answer */
			lb_puts(p, stale);
		}
		LB_ADD(&p->sh->flag[0], 1);
	} else {
		lb_answer(p, 200, "second");
	}
	while (lb_read_request(p, req, sizeof req) > 0)
		lb_answer(p, 200, "wrong-connection");
}

static void unsolicited(int glued)
{
	struct lb_server s = { 0 };
	char out[64];

	lb_start(&s, 0, 1, h_unsolicited, glued ? (void *)1 : NULL);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	CHECK_EQ_STR(out, "first");
	LB_SET(&s.sh->flag[2], 1);
	CHECK(lb_wait(&s.sh->flag[0], 1, 5000));
	if (link_.conn.fd >= 0) {
		struct pollfd p = { .fd = link_.conn.fd, .events = POLLIN };
		CHECK_EQ_INT(poll(&p, 1, 2000), 1); /* the stale bytes are here */
	}
	CHECK_EQ_INT(call("GET", "/b", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_STR(out, "second");
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 2);
	CHECK_EQ_INT(lb_count(&s, "GET /b"), 1);
	kube_link_close(&link_);
	lb_free(&s);
}

static void test_unsolicited_idle(void) { unsolicited(0); }
static void test_unsolicited_glued(void) { unsolicited(1); }

/* 1xx interim answers are skipped, and the connection stays in step for the next call. */
static void h_interim(struct lb_peer *p, void *arg)
{
	char req[4096];
	(void)arg;
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	lb_puts(p, "HTTP/1.1 100 Continue\r\n\r\n");
	lb_puts(p, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
		   "HTTP/1.1 102 Processing\r\n\r\n");
	lb_answer(p, 200, "one");
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	lb_answer(p, 201, "two");
	lb_hold(p);
}

static void test_interim(void)
{
	struct lb_server s = { 0 };
	char out[64];

	lb_start(&s, 0, 1, h_interim, NULL);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("POST", "/a", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_STR(out, "one");
	CHECK_EQ_INT(call("GET", "/b", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 201);
	CHECK_EQ_STR(out, "two");
	CHECK_EQ_INT(link_.reused, 1);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1);
	kube_link_close(&link_);
	lb_free(&s);
}

static void h_101(struct lb_peer *p, void *arg)
{
	char req[4096];
	(void)arg;
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	lb_puts(p, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	lb_hold(p);
}

static void test_101(void)
{
	struct lb_server s = { 0 };
	char out[64];

	lb_start(&s, 0, 1, h_101, NULL);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), PZ_EHTTP);
	CHECK_EQ_INT(link_.error, PZ_EHTTP);
	CHECK_EQ_INT(link_.state, LINK_IDLE);
	CHECK_EQ_INT(link_.conn.fd, -1);
	kube_link_close(&link_);
	lb_free(&s);
}

/* ---- stalls ---- */

/* flag[0] set once the server has done its part and stopped: 0 after the request, 1 after the head
 * and half the body, 2 without ever reading (a silent TLS peer). */
static void h_stall(struct lb_peer *p, void *arg)
{
	char req[4096];
	int mode = (int)(intptr_t)arg;
	if (mode != 2 && lb_read_request(p, req, sizeof req) <= 0)
		return;
	if (mode == 1)
		lb_write(p, get_order.raw, get_order.len / 2);
	LB_ADD(&p->sh->flag[0], 1);
	lb_hold(p);
}

static void stall(int mode, int tls, enum link_state at)
{
	struct lb_server s = { 0 };
	char out[4096];
	int64_t dl;
	int fds = lb_fds();

	lb_start(&s, mode == 2 ? 0 : tls, 1, h_stall, (void *)(intptr_t)mode);
	lb_api(&api, &s, tls);
	kube_link_init(&link_);
	slow_calls = 0;
	CHECK_EQ_INT(TIMED(kube_link_start(&link_, &api, "GET", "/a", NULL, NULL, 0, LINK_CALL, out, sizeof out,
				  pz_now_ms())), 0);
	/* driven until the server has done its part and stopped, then a little real time for what it
	 * sent to arrive: the link has nothing left to do but wait */
	for (int i = 0; i < 100 && !LB_GET(&s.sh->flag[0]); i++)
		CHECK_EQ_INT(drive(&link_, 50), HUNG);
	CHECK_EQ_INT(LB_GET(&s.sh->flag[0]), 1);
	CHECK_EQ_INT(drive(&link_, 200), HUNG);
	CHECK_EQ_INT(link_.state, at);
	dl = kube_link_deadline(&link_);
	CHECK(dl != INT64_MAX);
	CHECK(dl <= pz_now_ms() + (at == LINK_CONNECT ? KUBE_CONNECT_TIMEOUT_MS : KUBE_CALL_TIMEOUT_MS));
	/* one millisecond before the deadline: still waiting; at it: -ETIMEDOUT and closed */
	CHECK_EQ_INT(TIMED(kube_link_step(&link_, &api, dl - 1)), 0);
	CHECK_EQ_INT(link_.state, at);
	CHECK_EQ_INT(TIMED(kube_link_step(&link_, &api, dl)), -ETIMEDOUT);
	CHECK_EQ_INT(link_.error, -ETIMEDOUT);
	CHECK_EQ_INT(link_.state, LINK_IDLE);
	CHECK_EQ_INT(link_.conn.fd, -1);
	CHECK_EQ_INT(kube_link_fd(&link_), -1);
	CHECK_EQ_INT(slow_calls, 0);
	lb_free(&s);
	CHECK_EQ_INT(lb_fds(), fds);
}

static void test_stall_head(void) { stall(0, 0, LINK_HEAD); }
static void test_stall_head_tls(void) { stall(0, 1, LINK_HEAD); }
static void test_stall_body(void) { stall(1, 0, LINK_BODY); }
static void test_stall_body_tls(void) { stall(1, 1, LINK_BODY); }
static void test_stall_handshake(void) { stall(2, 1, LINK_CONNECT); }

/* ---- a trickle: one byte per write ---- */

static void h_trickle(struct lb_peer *p, void *arg)
{
	const struct rec *r = arg;
	char req[4096];
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	for (size_t i = 0; i < r->len; i++) {
		if (lb_write(p, r->raw + i, 1) < 0)
			return;
		if (i % 8 == 0)
			usleep(20); /* let the client see the bytes in small reads */
	}
	lb_hold(p);
}

static void trickle(const struct rec *r, int tls)
{
	struct lb_server s = { 0 };
	static char out[8192];

	lb_start(&s, tls, 1, h_trickle, (void *)r);
	lb_api(&api, &s, tls);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(link_.out_len, r->blen);
	CHECK(memcmp(out, r->body, r->blen) == 0);
	kube_link_close(&link_);
	lb_free(&s);
}

static void test_trickle_chunked(void) { trickle(&get_pod, 0); }
static void test_trickle_tls(void) { trickle(&get_order, 1); }

/* ---- a reset at every byte offset ---- */

struct cut {
	const struct rec *r;
	size_t stride;
};

/* Connection k (sequential server: k = accepts - 1) gets the first k * stride bytes, then an RST;
 * past the end it gets the whole response. */
static void h_cut(struct lb_peer *p, void *arg)
{
	const struct cut *ct = arg;
	size_t k = (size_t)(LB_GET(&p->sh->accepts) - 1) * ct->stride;
	char req[4096];
	if (lb_read_request(p, req, sizeof req) <= 0)
		return;
	if (k >= ct->r->len) {
		lb_write(p, ct->r->raw, ct->r->len);
		lb_end(p);
		return;
	}
	if (k)
		lb_write(p, ct->r->raw, k);
	lb_reset(p);
}

static void reset_every_offset(const struct rec *r, int tls, size_t stride)
{
	struct lb_server s = { 0 };
	static struct cut ct;
	static char out[8192];
	int fds, bad = 0, hung = 0, ok_full = 0;
	size_t k;

	ct.r = r;
	ct.stride = stride;
	lb_start(&s, tls, 0, h_cut, &ct);
	lb_api(&api, &s, tls);
	kube_link_init(&link_);
	fds = lb_fds();
	for (k = 0; k * stride < r->len + stride; k++) {
		int rc = TIMED(kube_link_start(&link_, &api, "GET", "/a", NULL, NULL, 0, LINK_CALL, out, sizeof out,
					  pz_now_ms()));
		if (rc == 0)
			rc = drive(&link_, 5000);
		if (k * stride >= r->len) {
			ok_full = rc == 1 && link_.status == 200 && link_.out_len == r->blen &&
				  memcmp(out, r->body, r->blen) == 0;
			break;
		}
		if (rc == HUNG) {
			hung++;
			fprintf(stderr, "  cut at %zu: hung in state %d\n", k * stride, link_.state);
			kube_link_close(&link_);
		} else if (rc >= 0 || link_.state != LINK_IDLE || link_.conn.fd != -1 || link_.error != rc) {
			bad++;
			fprintf(stderr, "  cut at %zu: rc %d state %d fd %d\n", k * stride, rc, link_.state, link_.conn.fd);
			kube_link_close(&link_);
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(hung, 0);
	CHECK(ok_full);
	kube_link_close(&link_);
	CHECK_EQ_INT(lb_fds(), fds);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), (int)k + 1);
	lb_free(&s);
}

static void test_reset_content_length(void) { reset_every_offset(&get_order, 0, 1); }
static void test_reset_chunked(void) { reset_every_offset(&get_pod, 0, 1); }
static void test_reset_tls(void) { reset_every_offset(&get_pod, 1, 61); }

/* ---- a body larger than the caller's buffer ---- */

static void test_truncated(void)
{
	struct lb_server s = { 0 };
	struct guard g;
	char *out;

	guard_init(&g, 100);
	out = g.end - 100; /* the byte after out[99] is a PROT_NONE page */
	lb_start(&s, 0, 0, h_replay, &get_order);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, 100), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(link_.out_truncated, 1);
	CHECK_EQ_INT(link_.out_len, 99);
	CHECK_EQ_INT(out[99], 0);
	CHECK(memcmp(out, get_order.body, 99) == 0);
	/* the rest was read and dropped: the connection is in step for the next call */
	CHECK_EQ_INT(call("GET", "/b", out, 1), 1);
	CHECK_EQ_INT(link_.reused, 1);
	CHECK_EQ_INT(link_.out_truncated, 1);
	CHECK_EQ_INT(link_.out_len, 0);
	CHECK_EQ_INT(out[0], 0);
	/* no buffer at all: the body is counted and dropped */
	CHECK_EQ_INT(call("GET", "/c", NULL, 0), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1);
	kube_link_close(&link_);
	lb_free(&s);
	guard_free(&g);
}

/* A buffer of capacity 0 (out not NULL): nothing may be written into it, not even the NUL. */
static void test_truncated_cap0(void)
{
	struct lb_server s = { 0 };
	struct guard g;

	guard_init(&g, 1);
	lb_start(&s, 0, 0, h_replay, &get_order);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", g.end, 0), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK_EQ_INT(link_.out_len, 0);
	kube_link_close(&link_);
	lb_free(&s);
	guard_free(&g);
}

/* ---- request-line injection ---- */

static void test_injection(void)
{
	static const char *const bad[] = {
		"/api/v1/pods?resourceVersion=1\r\nX-Injected: yes",
		"/api/v1/pods?resourceVersion=1\nX-Injected: yes",
		"/api/v1/pods?resourceVersion=1\rX-Injected: yes",
		"/api/v1/pods HTTP/1.0\r\n\r\nGET /x",
		"/api/v1/pods?x=a b",
		"/api/v1/pods?x=a\tb",
		"/api/v1/pods?x=\x7f",
		"/api/v1/pods?x=\x01",
		"/api/v1/pods?x=\xc3\xa9",
	};
	struct lb_server s = { 0 };
	char buf[KUBE_REQ_MAX], out[8192];

	for (size_t i = 0; i < PZ_ARRAY_LEN(bad); i++) {
		CHECK_EQ_INT(http_req_head(buf, sizeof buf, "GET", "h", "", bad[i], NULL, NULL, 0), PZ_EHTTP);
		CHECK_EQ_INT(http_req_head(buf, sizeof buf, "GET", "h", bad[i], "/x", NULL, NULL, 0), PZ_EHTTP);
	}
	CHECK(http_req_head(buf, sizeof buf, "GET", "h", "/k8s/c-1", "/api/v1/pods?limit=500&continue=abc%0D%0A", NULL,
		      NULL, 0) > 0);
	CHECK(strncmp(buf, "GET /k8s/c-1/api/v1/pods?limit=500&continue=abc%0D%0A HTTP/1.1\r\n", 63) == 0);

	/* through a link: refused before anything is sent, on a fresh or a kept-alive connection */
	lb_start(&s, 0, 0, h_replay, &get_order);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", bad[0], out, sizeof out), PZ_EHTTP);
	CHECK_EQ_INT(link_.state, LINK_IDLE);
	CHECK_EQ_INT(call("GET", "/good", out, sizeof out), 1);
	for (size_t i = 0; i < PZ_ARRAY_LEN(bad); i++)
		CHECK_EQ_INT(call("GET", bad[i], out, sizeof out), PZ_EHTTP);
	CHECK_EQ_INT(call("GET", "/good2", out, sizeof out), 1);
	CHECK_EQ_INT(link_.reused, 1); /* a refused request left the connection as it was */
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 2);
	CHECK_EQ_STR(lb_line(&s, 0), "GET /good HTTP/1.1");
	CHECK_EQ_STR(lb_line(&s, 1), "GET /good2 HTTP/1.1");
	CHECK(!strstr(s.sh->head, "X-Injected"));
	kube_link_close(&link_);
	lb_free(&s);
}

/* A request in flight refuses a second one; an oversized body is refused whole. */
static void test_busy_and_big(void)
{
	static char body[KUBE_REQ_MAX];
	struct lb_server s = { 0 };
	char out[64];

	lb_start(&s, 0, 1, h_stall, (void *)0);
	lb_api(&api, &s, 0);
	kube_link_init(&link_);
	CHECK_EQ_INT(kube_link_start(&link_, &api, "GET", "/a", NULL, NULL, 0, LINK_CALL, out, sizeof out, pz_now_ms()), 0);
	CHECK_EQ_INT(kube_link_start(&link_, &api, "GET", "/b", NULL, NULL, 0, LINK_CALL, out, sizeof out, pz_now_ms()),
		-EBUSY);
	kube_link_close(&link_);
	memset(body, 'x', sizeof body);
	CHECK_EQ_INT(kube_link_start(&link_, &api, "POST", "/a", "application/json", body, sizeof body, LINK_CALL, out,
			     sizeof out, pz_now_ms()), PZ_ETOOBIG);
	CHECK_EQ_INT(link_.state, LINK_IDLE);
	lb_free(&s);
}

/* ---- tokens ---- */

static void h_401(struct lb_peer *p, void *arg)
{
	char req[4096];
	(void)arg;
	while (lb_read_request(p, req, sizeof req) > 0) {
		if (strstr(req, "Authorization: Bearer tok-2\r\n"))
			lb_answer(p, 200, "{}");
		else
			lb_answer(p, 401, "{\"kind\":\"Status\",\"code\":401}");
	}
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		perror(path);
	close(fd);
}

static void test_token(void)
{
	struct lb_server s = { 0 };
	char out[256], path[64];

	snprintf(path, sizeof path, "/tmp/pz-kube-token.%d", (int)getpid());
	lb_start(&s, 0, 0, h_401, NULL);
	lb_api(&api, &s, 0);
	snprintf(api.token_file, sizeof api.token_file, "%s", path);
	write_file(path, "tok-1\n");
	CHECK_EQ_INT(config_refresh_credentials(&api, pz_now_ms(), 1), 0);
	CHECK_EQ_STR(api.token, "tok-1");
	/* a token that would break its header is refused, the old one kept */
	write_file(path, "tok-1\r\nX-Injected: yes\n");
	CHECK_EQ_INT(config_refresh_credentials(&api, pz_now_ms(), 1), PZ_ECONFIG);
	CHECK_EQ_STR(api.token, "tok-1");
	/* rotated: not read before the next interval... */
	write_file(path, "tok-2\n");
	kube_link_init(&link_);
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 401);
	CHECK(strstr(s.sh->head, "Authorization: Bearer tok-1\r\n") != NULL);
	CHECK_EQ_INT(api.unauthorized, 1);
	/* ...but at once after a 401 */
	CHECK_EQ_INT(call("GET", "/a", out, sizeof out), 1);
	CHECK_EQ_INT(link_.status, 200);
	CHECK(strstr(s.sh->head, "Authorization: Bearer tok-2\r\n") != NULL);
	kube_link_close(&link_);
	lb_free(&s);
	unlink(path);
}

/* ---- kube_value_ok and kube_query_escape ---- */

static void test_values(void)
{
	char big[100], out[16];
	memset(big, '7', sizeof big);
	CHECK_EQ_INT(kube_value_ok("12345", 5, 63), 1);
	CHECK_EQ_INT(kube_value_ok("eyJ2IjoibWV0YS5rOHMuaW8vdjEi", 28, 1023), 1);
	CHECK_EQ_INT(kube_value_ok("", 0, 63), 0);
	CHECK_EQ_INT(kube_value_ok(big, 63, 63), 1);
	CHECK_EQ_INT(kube_value_ok(big, 64, 63), 0); /* rejected, never truncated */
	CHECK_EQ_INT(kube_value_ok("1\r\nX: y", 7, 63), 0);
	CHECK_EQ_INT(kube_value_ok("1 2", 3, 63), 0);
	CHECK_EQ_INT(kube_value_ok("1\0002", 3, 63), 0);
	CHECK_EQ_INT(kube_value_ok("1\x7f", 2, 63), 0);
	CHECK_EQ_INT(kube_value_ok("\xc3\xa9", 2, 63), 0);
	CHECK_EQ_INT(kube_query_escape(out, sizeof out, "a b&c=\r\n"), PZ_ETOOBIG); /* 18 bytes escaped */
	CHECK_EQ_INT(kube_query_escape(out, sizeof out, "a=b&c"), 9);
	CHECK_EQ_STR(out, "a%3Db%26c");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (lb_tls_init() < 0)
		check_failed++;
	load(&get_order, "get-order.http");
	load(&get_pod, "get-pod.http");
	LB_RUN("content_length_plain", test_content_length_plain);
	LB_RUN("content_length_tls", test_content_length_tls);
	LB_RUN("chunked_plain", test_chunked_plain);
	LB_RUN("chunked_tls", test_chunked_tls);
	LB_RUN("keepalive_plain", test_keepalive_plain);
	LB_RUN("keepalive_tls", test_keepalive_tls);
	LB_RUN("idle_closed_seen", test_idle_closed_seen);
	LB_RUN("idle_closed_race", test_idle_closed_race);
	LB_RUN("idle_closed_retry_once", test_idle_closed_retry_once);
	LB_RUN("unsolicited_idle", test_unsolicited_idle);
	LB_RUN("unsolicited_glued", test_unsolicited_glued);
	LB_RUN("interim", test_interim);
	LB_RUN("101", test_101);
	LB_RUN("stall_head", test_stall_head);
	LB_RUN("stall_head_tls", test_stall_head_tls);
	LB_RUN("stall_body", test_stall_body);
	LB_RUN("stall_body_tls", test_stall_body_tls);
	LB_RUN("stall_handshake", test_stall_handshake);
	LB_RUN("trickle_chunked", test_trickle_chunked);
	LB_RUN("trickle_tls", test_trickle_tls);
	LB_RUN("reset_content_length", test_reset_content_length);
	LB_RUN("reset_chunked", test_reset_chunked);
	LB_RUN("reset_tls", test_reset_tls);
	LB_RUN("truncated", test_truncated);
	LB_RUN("truncated_cap0", test_truncated_cap0);
	LB_RUN("injection", test_injection);
	LB_RUN("busy_and_big", test_busy_and_big);
	LB_RUN("token", test_token);
	LB_RUN("values", test_values);
	free(get_order.raw);
	free(get_order.body);
	free(get_pod.raw);
	free(get_pod.body);
	return check_done("kube");
}
