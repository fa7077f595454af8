/*
 * test_watch.c - the list-then-watch state machine (src/watch.h) against loopback API servers:
 * a list of two pages (continue) then a watch whose events reach the handler; 410 (as an ERROR
 * event and as an HTTP answer) re-lists; the request ceiling and the backoff against servers that
 * end every watch at once, answer 410 at once or never end a list; values from the server that are
 * not plain printable tokens (CR/LF, over-long) are never used in a request, as the server sees the
 * requests; and the reader yields after WATCH_STEP_BYTES of a flood of blank lines and events.
 *
 * Watches are driven as main.c's loop drives them, on the real clock: a watch is stepped when it is
 * idle and its wake time has come, or busy and its fd is ready, its data pending (watch_ready) or
 * its deadline passed.
 */
#include "check.h"
#include "harness.h"
#include "loopback.h"

#include "json.h"
#include "pz.h"
#include "watch.h"

#define NW 8
#define OBJ_CAP (64 * 1024)
#define NTOK 4096

static struct watch ws[NW];
static char objbuf[NW][OBJ_CAP];
static jsmntok_t tok[NTOK];
static struct kube_api api;
static int slow_calls;

/* what the handler saw, per watch */
struct seen {
	int listed_objs, listed_calls, added, modified, deleted;
	char names[8][64];
	int nnames;
};
static struct seen seen[NW];

static void on_object(void *arg, struct watch *w, enum watch_event type, const struct json_doc *d, int obj)
{
	struct seen *s = arg;
	char name[64];
	(void)w;
	switch (type) {
	case WATCH_LISTED:
		s->listed_objs++;
		break;
	case WATCH_ADDED:
		s->added++;
		break;
	case WATCH_MODIFIED:
		s->modified++;
		break;
	case WATCH_DELETED:
		s->deleted++;
		break;
	}
	if (json_str(d, json_path(d, obj, "metadata.name"), name, sizeof name) > 0 && s->nnames < 8)
		snprintf(s->names[s->nnames++], 64, "%s", name);
}

static void on_listed(void *arg, struct watch *w)
{
	struct seen *s = arg;
	(void)w;
	s->listed_calls++;
}

static const struct watch_handler handler = { on_object, on_listed };

static void setup(int n, const char *const *paths)
{
	memset(seen, 0, sizeof seen);
	for (int i = 0; i < n; i++)
		watch_init(&ws[i], "test", paths[i], NULL, objbuf[i], OBJ_CAP, tok, NTOK, &handler, &seen[i]);
}

#define TIMED(expr) ({ struct lb_timer tm_; int64_t ms_; lb_timer_start(&tm_); int rc_ = (expr); \
	if (!lb_timer_prompt(&tm_, &ms_)) { slow_calls++; fprintf(stderr, "%s:%d: %s took %lld ms or slept\n", \
	__FILE__, __LINE__, #expr, (long long)ms_); } rc_; })

/* The loop over watches 0..n-1 for ms, or until done() says so. */
static void loop(int n, int ms, int (*done)(void))
{
	int64_t end = pz_now_ms() + ms;
	for (;;) {
		struct pollfd p[NW];
		int64_t now = pz_now_ms(), wake = end;
		int busy = 0;
		if (now >= end || (done && done()))
			return;
		for (int i = 0; i < n; i++)
			if (ws[i].state == WATCH_IDLE && now >= ws[i].wake_ms)
				TIMED(watch_step(&ws[i], &api, now));
		for (int i = 0; i < n; i++) {
			int64_t d = watch_deadline(&ws[i]);
			p[i].fd = watch_fd(&ws[i]);
			p[i].events = watch_events(&ws[i]);
			p[i].revents = 0;
			if (p[i].fd < 0 || !p[i].events)
				p[i].fd = -1;
			if (d < wake)
				wake = d;
			busy |= watch_ready(&ws[i]);
			if (ws[i].state != WATCH_IDLE && p[i].fd < 0 && d == INT64_MAX) {
				check_failed++;
				fprintf(stderr, "watch %d asleep forever in state %d\n", i, ws[i].state);
			}
		}
		now = pz_now_ms();
		int64_t t = busy ? 0 : wake - now;
		poll(p, (nfds_t)n, t < 0 ? 0 : t > 50 ? 50 : (int)t);
		now = pz_now_ms();
		for (int i = 0; i < n; i++)
			if (ws[i].state != WATCH_IDLE &&
			    (p[i].revents || watch_ready(&ws[i]) || now >= watch_deadline(&ws[i])))
				TIMED(watch_step(&ws[i], &api, now));
	}
}

static void teardown(int n, struct lb_server *s)
{
	for (int i = 0; i < n; i++)
		kube_link_close(&ws[i].link);
	lb_free(s);
}

/* ---- the server ---- */

static char *page1, *page2, *watch_orders, *watch_gone;
static size_t page1_len, page2_len, watch_orders_len, watch_gone_len;


/* A chunked 200 whose body is s, then the end of the body. */
static void answer_chunked(struct lb_peer *p, const char *s)
{
	char h[32];
	lb_puts(p, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
	if (*s) {
		snprintf(h, sizeof h, "%zx\r\n", strlen(s));
		lb_puts(p, h);
		lb_puts(p, s);
		lb_puts(p, "\r\n");
	}
	lb_puts(p, "0\r\n\r\n");
}

static const char *list_of(const char *meta)
{
	static char b[4096];
	snprintf(b, sizeof b, "{\"kind\":\"PizzaOrderList\",\"apiVersion\":\"pizzeria.example.com/v1\",\"metadata\":%s,\"items\":[]}",
		meta);
	return b;
}

#define EVENT(type, rv) "{\"type\":\"" type "\",\"object\":{\"kind\":\"PizzaOrder\",\"metadata\":{\"name\":\"e\"," \
	"\"namespace\":\"default\",\"resourceVersion\":" rv "}}}\n"

static char long_rv[80], long_cont[1200];

/* Every request by its path: /orders (recorded pages and watch), /gone-event, /gone-status, /empty,
 * /endless, the injection cases /i1../i7, /flood. */
static void h_api(struct lb_peer *p, void *arg)
{
	static char req[8192], b[4096];
	(void)arg;
	while (lb_read_request(p, req, sizeof req) > 0) {
		int watch = strstr(req, "watch=1") != NULL, cont = strstr(req, "continue=") != NULL;
		if (!strncmp(req, "GET /orders?", 12)) {
			if (watch) {
				lb_write(p, watch_orders, watch_orders_len);
				lb_hold(p);
				return;
			}
			if (cont)
				lb_write(p, page2, page2_len);
			else
				lb_write(p, page1, page1_len);
		} else if (!strncmp(req, "GET /endless?", 13)) {
			lb_answer(p, 200, list_of("{\"continue\":\"next\",\"resourceVersion\":\"10\"}"));
		} else if (!watch) {
			/* the injection cases' lists */
			if (!strncmp(req, "GET /i1?", 8))
				lb_answer(p, 200, list_of("{\"resourceVersion\":\"12\\r\\nX-Injected: yes\"}"));
			else if (!strncmp(req, "GET /i2?", 8)) {
				snprintf(b, sizeof b, "{\"resourceVersion\":\"%s\"}", long_rv);
				lb_answer(p, 200, list_of(b));
			} else if (!strncmp(req, "GET /i3?", 8))
				lb_answer(p, 200, list_of("{\"continue\":\"abc\\r\\nX-Injected: yes\",\"resourceVersion\":\"5\"}"));
			else if (!strncmp(req, "GET /i4?", 8)) {
				snprintf(b, sizeof b, "{\"continue\":\"%s\",\"resourceVersion\":\"5\"}", long_cont);
				lb_answer(p, 200, list_of(b));
			} else if (!strncmp(req, "GET /i8?", 8))
				lb_answer(p, 200, list_of("{\"resourceVersion\":\"1\\u0000\"}"));
			else
				lb_answer(p, 200, list_of("{\"continue\":\"\",\"resourceVersion\":\"100\"}"));
		} else if (!strncmp(req, "GET /gone-event?", 16)) {
			lb_write(p, watch_gone, watch_gone_len);
		} else if (!strncmp(req, "GET /gone-status?", 17)) {
			lb_answer(p, 410, "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"too old resource version\",\"reason\":\"Expired\",\"code\":410}");
		} else if (!strncmp(req, "GET /empty?", 11)) {
			answer_chunked(p, "");
		} else if (!strncmp(req, "GET /i5?", 8)) {
			answer_chunked(p, EVENT("BOOKMARK", "\"101\\r\\nX-Injected: yes\""));
		} else if (!strncmp(req, "GET /i6?", 8)) {
			snprintf(b, sizeof b, EVENT("BOOKMARK", "\"%s\""), long_rv);
			answer_chunked(p, b);
		} else if (!strncmp(req, "GET /i7?", 8)) {
			answer_chunked(p, EVENT("ADDED", "\"\\u000d\\u000aX-Injected: yes\""));
		} else {
			lb_answer(p, 404, "{}");
		}
	}
}

/* ---- list then watch ---- */

static int orders_done(void) { return seen[0].deleted > 0 && !strcmp(ws[0].rv, "209"); }

static void test_list_then_watch(void)
{
	static const char *const paths[] = { "/orders" };
	struct lb_server s = { 0 };
	char want[300];

	lb_start(&s, 1, 1, h_api, NULL);
	lb_api(&api, &s, 1);
	setup(1, paths);
	slow_calls = 0;
	loop(1, 5000, orders_done);
	CHECK_EQ_INT(seen[0].listed_objs, 2);
	CHECK_EQ_INT(seen[0].listed_calls, 1);
	CHECK_EQ_STR(seen[0].names[0], "order-123");
	CHECK_EQ_STR(seen[0].names[1], "small-one");
	CHECK_EQ_INT(seen[0].added, 1);
	CHECK_EQ_INT(seen[0].modified, 1);
	CHECK_EQ_INT(seen[0].deleted, 1);
	CHECK_EQ_STR(seen[0].names[2], "small-one");
	CHECK_EQ_STR(ws[0].rv, "209"); /* the BOOKMARK's */
	CHECK_EQ_INT(ws[0].synced, 1);
	CHECK_EQ_INT(ws[0].lists, 1);
	CHECK_EQ_STR(lb_line(&s, 0), "GET /orders?limit=500 HTTP/1.1");
	snprintf(want, sizeof want, "GET /orders?limit=500&continue=%s HTTP/1.1",
		"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjAyLCJzdGFydCI6ImRlZmF1bHQvb3JkZXItMTIzXHUwMDAwIn0");
	CHECK_EQ_STR(lb_line(&s, 1), want);
	{
		static const char w[] = "GET /orders?watch=1&allowWatchBookmarks=true&resourceVersion=202&timeoutSeconds=";
		if (strncmp(lb_line(&s, 2), w, sizeof w - 1) != 0)
			fprintf(stderr, "  watch request: %s\n", lb_line(&s, 2));
		CHECK(!strncmp(lb_line(&s, 2), w, sizeof w - 1));
	}
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1); /* the pages and the watch after them share one connection */
	CHECK_EQ_INT(slow_calls, 0);
	teardown(1, &s);
}

/* ---- 410 ---- */

static int gone_done(void) { return ws[0].lists >= 2 && ws[1].lists >= 2; }

static void test_gone(void)
{
	static const char *const paths[] = { "/gone-event", "/gone-status" };
	struct lb_server s = { 0 };

	lb_start(&s, 0, 1, h_api, NULL);
	lb_api(&api, &s, 0);
	setup(2, paths);
	loop(2, 3000, gone_done);
	for (int i = 0; i < 2; i++) {
		char what[64];
		CHECK(ws[i].lists >= 2); /* listed again */
		CHECK_EQ_INT(seen[i].listed_calls, (int)ws[i].lists);
		snprintf(what, sizeof what, "GET %s?limit=500 ", paths[i]);
		CHECK(lb_count(&s, what) >= 2);
	}
	CHECK_EQ_INT(ws[0].last_error, PZ_EGONE);
	CHECK_EQ_INT(ws[1].last_error, PZ_EGONE);
	teardown(2, &s);
}

/* ---- no hot loop ---- */

static void test_no_hot_loop(void)
{
	static const char *const paths[] = { "/empty", "/gone-status", "/gone-event", "/endless" };
	const int window_s = 3, ceiling = WATCH_RATE_BURST + WATCH_RATE_PER_S * window_s;
	struct lb_server s = { 0 };
	int n[4];

	lb_start(&s, 0, 1, h_api, NULL);
	lb_api(&api, &s, 0);
	setup(4, paths);
	loop(4, window_s * 1000, NULL);
	for (int i = 0; i < 4; i++) {
		char what[64];
		snprintf(what, sizeof what, "GET %s?", paths[i]);
		n[i] = lb_count(&s, what);
		fprintf(stderr, "  %s: %d requests in %d s (ceiling %d)\n", paths[i], n[i], window_s, ceiling);
		CHECK(n[i] <= ceiling);
		CHECK(ws[i].requests == (uint64_t)n[i] || ws[i].requests == (uint64_t)n[i] + 1);
	}
	/* A watch that ends at once and a 410 loop back off (0.5 s doubling, jitter [d/2, d]): over
	 * 3 s that is a handful of requests, far below the bucket. */
	CHECK(n[0] <= 8);
	CHECK(n[1] <= 10);
	CHECK(n[2] <= 10);
	/* An endless continue chain is held by the bucket alone: the burst goes at once, then the
	 * refill rate. That it reaches the burst shows the server did drive a hot loop. */
	CHECK(n[3] >= WATCH_RATE_BURST);
	CHECK(ws[3].throttled > 0);
	teardown(4, &s);
}

/* ---- values that must never reach a request ---- */

static int inj_done(void)
{
	for (int i = 0; i < 8; i++)
		if (ws[i].requests < 3)
			return 0;
	return 1;
}

static void test_injection(void)
{
	static const char *const paths[] = { "/i1", "/i2", "/i3", "/i4", "/i5", "/i6", "/i7", "/i8" };
	struct lb_server s = { 0 };
	char trunc[WATCH_RV_MAX + 32];
	int total;

	memset(long_rv, '9', WATCH_RV_MAX + 6);
	memset(long_cont, 'a', WATCH_CONTINUE_MAX + 50);
	lb_start(&s, 0, 1, h_api, NULL);
	lb_api(&api, &s, 0);
	setup(8, paths);
	loop(8, 6000, inj_done);
	total = LB_GET(&s.sh->nlog);
	for (int k = 0; k < total && k < LB_LOG_MAX; k++) {
		const char *l = s.sh->log[k];
		CHECK(!strstr(l, "Injected") && !strstr(l, "%0D") && !strstr(l, "%0A") && !strstr(l, "%00"));
		CHECK(!strstr(l, "999999999")); /* the over-long value, whole or cut */
		CHECK(!strstr(l, "aaaaaaaa"));
	}
	CHECK(!strstr(s.sh->head, "Injected"));
	/* the lists with a bad resourceVersion or continue were never followed by a watch or a page */
	CHECK_EQ_INT(lb_count(&s, "GET /i1?watch"), 0);
	CHECK_EQ_INT(lb_count(&s, "GET /i2?watch"), 0);
	CHECK_EQ_INT(lb_count(&s, "GET /i8?watch"), 0);
	CHECK_EQ_INT(lb_count(&s, "continue="), 0);
	CHECK_EQ_INT(lb_count(&s, "GET /i3?watch"), 0);
	CHECK_EQ_INT(lb_count(&s, "GET /i4?watch"), 0);
	for (int i = 0; i < 4; i++) {
		CHECK(ws[i].requests >= 3); /* each re-listed (with backoff), never used the value */
		CHECK_EQ_INT(ws[i].synced, 0);
		CHECK_EQ_INT(seen[i].listed_calls, 0);
	}
	CHECK_EQ_INT(ws[7].synced, 0);
	/* a rejected BOOKMARK or event leaves the stored resourceVersion as it was: every watch
	 * resumes from the list's */
	for (int i = 4; i < 7; i++) {
		char what[96], all[64];
		CHECK_EQ_STR(ws[i].rv, "100");
		snprintf(what, sizeof what, "GET %s?watch=1&allowWatchBookmarks=true&resourceVersion=100&", paths[i]);
		snprintf(all, sizeof all, "GET %s?watch=1", paths[i]);
		CHECK(lb_count(&s, all) >= 2); /* watched, rejected, watched again */
		CHECK_EQ_INT(lb_count(&s, what), lb_count(&s, all));
		CHECK(ws[i].restarts >= 1);
		CHECK_EQ_INT(seen[i].added, 0);
	}
	snprintf(trunc, sizeof trunc, "resourceVersion=%.*s&", WATCH_RV_MAX - 1, long_rv);
	CHECK_EQ_INT(lb_count(&s, trunc), 0);
	teardown(8, &s);
}

/* ---- the reader yields ---- */

#define FLOOD_UNITS 1000
#define FLOOD_BLANKS 900

static void h_flood(struct lb_peer *p, void *arg)
{
	static char req[8192], unit[2048], chunk[64 * 1024];
	size_t ulen, clen = 0;
	(void)arg;
	while (lb_read_request(p, req, sizeof req) > 0) {
		if (!strstr(req, "watch=1")) {
			lb_answer(p, 200, list_of("{\"resourceVersion\":\"1\"}"));
			continue;
		}
		lb_puts(p, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
		LB_SET(&p->sh->flag[0], 1);
		if (!lb_wait(&p->sh->flag[1], 1, 10000))
			return;
		/* one event and a run of blank lines, FLOOD_UNITS times */
		ulen = (size_t)snprintf(unit, sizeof unit, EVENT("MODIFIED", "\"2\""));
		memset(unit + ulen, '\n', FLOOD_BLANKS);
		ulen += FLOOD_BLANKS;
		LB_SET(&p->sh->flag[3], (int)ulen);
		for (int u = 0; u < FLOOD_UNITS; u++) {
			memcpy(chunk + clen, unit, ulen);
			clen += ulen;
			if (clen + ulen > sizeof chunk || u == FLOOD_UNITS - 1) {
				char h[32];
				snprintf(h, sizeof h, "%zx\r\n", clen);
				lb_puts(p, h);
				lb_write(p, chunk, clen);
				lb_puts(p, "\r\n");
				clen = 0;
			}
		}
		LB_SET(&p->sh->flag[2], 1);
		lb_hold(p);
		return;
	}
}

static void test_yield(void)
{
	static const char *const paths[] = { "/flood" };
	struct lb_server s = { 0 };
	int steps = 0, max_per_step = 0, rcvbuf = 4 << 20;
	int64_t end;

	lb_start(&s, 0, 1, h_flood, NULL);
	lb_api(&api, &s, 0);
	setup(1, paths);
	end = pz_now_ms() + 5000;
	while (ws[0].state != WATCH_STREAM && pz_now_ms() < end)
		loop(1, 20, NULL);
	CHECK_EQ_INT(ws[0].state, WATCH_STREAM);
	CHECK(lb_wait(&s.sh->flag[0], 1, 5000));
	/* room for the whole flood in our socket, so a step could take all of it if it did not yield */
	setsockopt(ws[0].link.conn.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	LB_SET(&s.sh->flag[1], 1);
	CHECK(lb_wait(&s.sh->flag[2], 1, 10000));
	slow_calls = 0;
	end = pz_now_ms() + 10000;
	while (seen[0].modified < FLOOD_UNITS && pz_now_ms() < end) {
		int before = seen[0].modified;
		struct pollfd p = { .fd = watch_fd(&ws[0]), .events = watch_events(&ws[0]) };
		if (!watch_ready(&ws[0]))
			poll(&p, 1, 50);
		TIMED(watch_step(&ws[0], &api, pz_now_ms()));
		steps++;
		if (seen[0].modified - before > max_per_step)
			max_per_step = seen[0].modified - before;
		if (ws[0].state != WATCH_STREAM)
			break;
	}
	int unit = LB_GET(&s.sh->flag[3]);
	int bound = (WATCH_STEP_BYTES + CONN_SPAN_MAX) / unit + 1;
	fprintf(stderr, "  flood: %d events of %d bytes (with blank lines) in %d steps, at most %d per step (bound %d)\n",
		seen[0].modified, unit, steps, max_per_step, bound);
	CHECK_EQ_INT(seen[0].modified, FLOOD_UNITS);
	CHECK(max_per_step <= bound);
	CHECK(max_per_step >= WATCH_STEP_BYTES / unit - 1); /* the flood was there to be taken */
	CHECK(steps >= FLOOD_UNITS / bound);
	CHECK_EQ_INT(slow_calls, 0);
	teardown(1, &s);
}

int main(void)
{
	size_t n;
	signal(SIGPIPE, SIG_IGN);
	if (lb_tls_init() < 0)
		check_failed++;
	page1 = data_load("list-orders-page1.http", &page1_len);
	page2 = data_load("list-orders-page2.http", &page2_len);
	watch_orders = data_load("watch-orders.http", &watch_orders_len);
	watch_gone = data_load("watch-gone.http", &watch_gone_len);
	(void)n;
	if (!page1 || !page2 || !watch_orders || !watch_gone)
		return check_done("watch") | 1;
	LB_RUN("list_then_watch", test_list_then_watch);
	LB_RUN("gone", test_gone);
	LB_RUN("no_hot_loop", test_no_hot_loop);
	LB_RUN("injection", test_injection);
	LB_RUN("yield", test_yield);
	free(page1);
	free(page2);
	free(watch_orders);
	free(watch_gone);
	return check_done("watch");
}
