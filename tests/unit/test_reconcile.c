/*
 * test_reconcile.c - the reconcile workers (src/reconcile.h) against a fake API server that answers
 * POST pods 201 and PATCH status 200, through the table API as main.c's loop uses it (table_insert,
 * table_pop_due, reconcile_start, reconcile_step): a new order costs exactly 2 requests; a 409 on
 * create reads the Pod and decides again; 409 then 404 is logged and decided again (and bounded by
 * RECONCILE_ROUNDS when it never ends); with several workers an order is never reconciled twice at
 * once (checked after every call, while events re-enqueue running orders); a slot removed while its
 * worker is mid-call is handed back and freed; may_write returning 0 stops every write. With Events
 * on, workers carry them after their orders (no events link is driven here): a burst of orders gets
 * every Event, none dropped, a repeat PATCHes the count only after the POST that created it, and a
 * PATCH answered 404 creates the Event again.
 */
#include "check.h"
#include "events.h"
#include "harness.h"
#include "loopback.h"

#include "log.h"
#include "order.h"
#include "pz.h"
#include "reconcile.h"
#include "table.h"
#include "toppings.h"

#include <fcntl.h>

#define NWORK 4
#define NTOK 2048

static struct kube_api api;
static struct table tb;
static struct reconciler rec;
static struct reconcile_worker workers[NWORK];
static struct events evs;
static char resp[64 * 1024];
static jsmntok_t tok[NTOK];
static const struct reconcile_config rcfg = {
	.resync_ms = 300000, .backoff_base_ms = 1000, .backoff_max_ms = 60000,
	.oven = { .image = "busybox:1.36", .command = "sleep $BAKE_SECONDS", .bake_seconds = { 0, 5, 10, 15 } },
};

/* ---- the order, as a watch event would have it ---- */

static const char *order_json(const char *name, const char *uid)
{
	static char b[1024];
	snprintf(b, sizeof b,
		"{\"apiVersion\":\"pizzeria.example.com/v1\",\"kind\":\"PizzaOrder\",\"metadata\":{\"name\":\"%s\","
		"\"namespace\":\"default\",\"uid\":\"%s\",\"generation\":1,\"resourceVersion\":\"5\"},"
		"\"spec\":{\"size\":\"large\",\"toppings\":[\"cheese\",\"pepperoni\"]}}",
		name, uid);
	return b;
}

/* Inserts the order and fills its slot as sync.c does from an event (toppings interned). */
static int add_order(const char *name, const char *uid)
{
	struct json_doc d;
	struct order_key key;
	struct order_state st;
	const char *j = order_json(name, uid);
	int i, spec, t;

	memset(&st, 0, sizeof st);
	if (json_parse(&d, j, strlen(j), tok, NTOK) < 0 || order_read(&d, 0, &key, &st) < 0) {
		check_failed++;
		fprintf(stderr, "order %s does not parse\n", name);
		return -1;
	}
	spec = json_get(&d, 0, "spec");
	t = json_get(&d, spec, "toppings");
	for (int k = 0, x = t + 1; k < d.tok[t].size; k++, x = json_skip(&d, x))
		st.topping_ids[k] = toppings_intern(d.buf + d.tok[x].start, (size_t)(d.tok[x].end - d.tok[x].start));
	st.toppings_known = 1;
	i = table_insert(&tb, key.ns, key.name, pz_now_ms());
	if (i >= 0)
		tb.slot[i].o = st;
	return i;
}

/* ---- the server ---- */

struct srv {
	int create_409;  /* POSTs answered 409 before the first 201 */
	int create_503;  /* POSTs answered 503 with Retry-After: 3 */
	int pod_404;     /* GET pod answers 404 (else the recorded Pod) */
	int stall_post;  /* POST waits for `release` */
	int stalled, release;
	int posts, gets, patches, others;
	int inflight[16], max_inflight; /* per order (by the name's last digit): requests at once */
	int ev_posts, ev_patches, ev_patch_404; /* Events: POSTs, PATCHes; PATCHes to answer 404 */
	int ev_patch_unknown;                   /* PATCHes of an Event no POST had created */
	int ev_names;                           /* Event names created, in ev_name */
	char ev_name[32][48];
};
_Static_assert(sizeof(struct srv) <= sizeof ((struct lb_shared *)0)->state, "srv fits the shared state");

static char *get_pod;
static size_t get_pod_len;

static struct srv *srv(struct lb_server *s) { return (struct srv *)(void *)s->sh->state; }


#define IS(req, line) (!strncmp(req, line, sizeof line - 1))

static void h_api(struct lb_peer *p, void *arg)
{
	struct srv *S = (struct srv *)(void *)p->sh->state;
	static char req[16384];
	(void)arg;
	while (lb_read_request(p, req, sizeof req) > 0) {
		if (IS(req, "POST /api/v1/namespaces/default/pods ")) {
			LB_ADD(&S->posts, 1);
			if (LB_GET(&S->stall_post)) {
				LB_SET(&S->stalled, 1);
				lb_wait(&S->release, 1, 20000);
			}
			if (LB_GET(&S->create_503) > 0) {
				static const char busy[] = "{\"kind\":\"Status\",\"code\":503,\"message\":\"busy\"}";
				char head[160];
				int hn = snprintf(head, sizeof head, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3\r\n"
					"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", sizeof busy - 1);
				LB_ADD(&S->create_503, -1);
				lb_write(p, head, (size_t)hn);
				lb_write(p, busy, sizeof busy - 1);
			} else if (LB_GET(&S->create_409) > 0) {
				LB_ADD(&S->create_409, -1);
				lb_answer(p, 409, "{\"kind\":\"Status\",\"code\":409,\"reason\":\"AlreadyExists\"}");
			} else {
				lb_answer(p, 201, "{\"kind\":\"Pod\"}");
			}
		} else if (IS(req, "GET /api/v1/namespaces/default/pods/")) {
			LB_ADD(&S->gets, 1);
			if (LB_GET(&S->pod_404))
				lb_answer(p, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
			else
				lb_write(p, get_pod, get_pod_len);
		} else if (IS(req, "POST /api/v1/namespaces/default/events ")) {
			/* remember the Event's name: a later PATCH must be for one created before it */
			const char *b = strstr(req, "\"metadata\":{\"name\":\"");
			int k = LB_ADD(&S->ev_names, 1) - 1;
			LB_ADD(&S->ev_posts, 1);
			if (b && k >= 0 && k < 32) {
				b += sizeof "\"metadata\":{\"name\":\"" - 1;
				snprintf(S->ev_name[k], sizeof S->ev_name[k], "%.*s", (int)strcspn(b, "\""), b);
			}
			lb_answer(p, 201, "{\"kind\":\"Event\"}");
		} else if (IS(req, "PATCH /api/v1/namespaces/default/events/")) {
			const char *name = req + sizeof "PATCH /api/v1/namespaces/default/events/" - 1;
			size_t len = strcspn(name, " ");
			int known = 0, n = LB_GET(&S->ev_names);
			for (int k = 0; k < n && k < 32; k++)
				known |= strlen(S->ev_name[k]) == len && !strncmp(S->ev_name[k], name, len);
			LB_ADD(&S->ev_patches, 1);
			if (!known)
				LB_ADD(&S->ev_patch_unknown, 1);
			if (LB_GET(&S->ev_patch_404) > 0) {
				LB_ADD(&S->ev_patch_404, -1);
				lb_answer(p, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
			} else {
				lb_answer(p, 200, "{\"kind\":\"Event\"}");
			}
		} else if (IS(req, "PATCH /apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/")) {
			LB_ADD(&S->patches, 1);
			lb_answer(p, 200, "{}");
		} else {
			LB_ADD(&S->others, 1);
			lb_answer(p, 400, "{}");
		}
	}
}

/* ---- the loop ---- */

static int violations;

/* The promise: a slot is RUNNING exactly while one worker holds it. */
static void check_invariant(void)
{
	for (unsigned k = 0; k < rec.nworkers; k++) {
		int i = workers[k].slot;
		if (workers[k].step == STEP_FREE || workers[k].step == STEP_EVENT) { /* no order held */
			if (i != -1)
				violations++;
			continue;
		}
		if (i < 0 || tb.slot[i].state != SLOT_RUNNING)
			violations++;
		for (unsigned j = k + 1; j < rec.nworkers; j++)
			if (workers[j].step != STEP_FREE && workers[j].step != STEP_EVENT && workers[j].slot == i)
				violations++;
	}
	for (uint32_t i = 0; i < tb.high_water; i++) {
		int held = 0;
		if (tb.slot[i].state != SLOT_RUNNING)
			continue;
		for (unsigned k = 0; k < rec.nworkers; k++)
			held += workers[k].step != STEP_FREE && workers[k].step != STEP_EVENT && workers[k].slot == (int)i;
		if (held != 1)
			violations++;
	}
}

/* One turn of main.c's loop for the reconciler: start what is due on free workers, poll, step. */
static void turn(int64_t now, int wait_ms)
{
	struct pollfd p[NWORK];
	int busy = 0;
	while (reconcile_has_free(&rec)) {
		int i = table_pop_due(&tb, now);
		if (i < 0)
			break;
		CHECK(reconcile_start(&rec, i, now) >= 0);
		check_invariant();
	}
	for (unsigned k = 0; k < rec.nworkers; k++) {
		p[k].fd = workers[k].step == STEP_FREE ? -1 : kube_link_fd(&workers[k].link);
		p[k].events = p[k].fd >= 0 ? kube_link_events(&workers[k].link) : 0;
		p[k].revents = 0;
		if (workers[k].step != STEP_FREE && (workers[k].link.state == LINK_IDLE || kube_link_pending(&workers[k].link)))
			busy = 1;
	}
	poll(p, rec.nworkers, busy ? 0 : wait_ms);
	now = pz_now_ms();
	for (unsigned k = 0; k < rec.nworkers; k++) {
		struct reconcile_worker *w = &workers[k];
		if (w->step == STEP_FREE)
			continue;
		if (p[k].revents || w->link.state == LINK_IDLE || kube_link_pending(&w->link) ||
		    now >= kube_link_deadline(&w->link)) {
			reconcile_step(&rec, k, now);
			check_invariant();
		}
	}
}

static int all_free(void) { return rec.active == 0; }

/* Turns until every worker is free and nothing is due, or ms pass. */
static void settle(int ms)
{
	int64_t end = pz_now_ms() + ms;
	while (pz_now_ms() < end) {
		int64_t now = pz_now_ms();
		turn(now, 20);
		if (all_free() && table_next_due(&tb) > pz_now_ms())
			return;
	}
}

static char logpath[64];

static void setup(struct lb_server *s, unsigned nworkers)
{
	lb_start(s, 0, 1, h_api, NULL);
	lb_api(&api, s, 0);
	if (table_init(&tb, 16, 42) != 0)
		abort();
	reconciler_init(&rec, &api, &tb, &rcfg, resp, sizeof resp, tok, NTOK, workers, nworkers);
	snprintf(logpath, sizeof logpath, "/tmp/pz-reconcile-log.%d", (int)getpid());
	log_fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	log_min_level = LOG_DEBUG;
	violations = 0;
}

static void teardown(struct lb_server *s)
{
	for (unsigned k = 0; k < rec.nworkers; k++)
		kube_link_close(&workers[k].link);
	table_free(&tb);
	lb_free(s);
	close(log_fd);
	log_fd = 2;
	unlink(logpath);
}

static int log_has(const char *what)
{
	size_t n;
	char *b;
	int found;
	FILE *f = fopen(logpath, "rb");
	if (!f)
		return 0;
	b = calloc(1, 1 << 20);
	n = fread(b, 1, (1 << 20) - 1, f);
	fclose(f);
	b[n] = 0;
	found = strstr(b, what) != NULL;
	free(b);
	return found;
}

#define UID1 "e75be8aa-76a6-48dd-b6d2-ddb7e0e738aa" /* the recorded Pod's owner */

/* ---- one order, two requests ---- */

static void test_two_requests(void)
{
	struct lb_server s = { 0 };
	int i;

	setup(&s, NWORK);
	i = add_order("order-123", UID1);
	CHECK(i >= 0);
	settle(5000);
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 2);
	CHECK_EQ_STR(lb_line(&s, 0), "POST /api/v1/namespaces/default/pods HTTP/1.1");
	CHECK(!strncmp(lb_line(&s, 1), "PATCH /apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/order-123/status",
		       sizeof "PATCH /apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/order-123/status" - 1));
	for (unsigned k = 0; k < NWORK; k++)
		if (workers[k].step != STEP_FREE)
			fprintf(stderr, "  worker %u: step %d link state %d status %d error %d out %s\n", k, workers[k].step,
				workers[k].link.state, workers[k].link.status, workers[k].link.error, workers[k].out);
	CHECK_EQ_INT(rec.pods_created, 1);
	CHECK_EQ_INT(rec.status_writes, 1);
	CHECK_EQ_INT(rec.errors, 0);
	CHECK_EQ_INT(rec.active, 0);
	CHECK_EQ_INT(tb.slot[i].state, SLOT_SCHEDULED);
	CHECK(tb.slot[i].due_ms > pz_now_ms() + rcfg.resync_ms / 2);
	CHECK_EQ_INT(tb.slot[i].o.pod_phase, POD_PENDING);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1); /* both on one kept-alive link */
	/* reconciled again with nothing new: no call at all */
	table_enqueue(&tb, i, pz_now_ms());
	settle(2000);
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 2);
	CHECK_EQ_INT(rec.runs, 2);
	CHECK_EQ_INT(violations, 0);
	teardown(&s);
}

/* ---- 409 on create ---- */

static void test_409_get_pod(void)
{
	struct lb_server s = { 0 };
	int i;

	setup(&s, NWORK);
	srv(&s)->create_409 = 1;
	i = add_order("order-123", UID1);
	settle(5000);
	CHECK_EQ_STR(lb_line(&s, 0), "POST /api/v1/namespaces/default/pods HTTP/1.1");
	CHECK_EQ_STR(lb_line(&s, 1), "GET /api/v1/namespaces/default/pods/order-123-oven HTTP/1.1");
	CHECK_EQ_INT(srv(&s)->posts, 1); /* the Pod is there and ours: no second create */
	CHECK_EQ_INT(srv(&s)->gets, 1);
	CHECK_EQ_INT(srv(&s)->patches, 1);
	CHECK_EQ_INT(rec.pods_created, 0);
	CHECK_EQ_INT(tb.slot[i].o.pod_phase, POD_RUNNING);
	CHECK_EQ_INT(tb.slot[i].o.pod_owned, 1);
	CHECK_EQ_INT(rec.errors, 0);
	CHECK_EQ_INT(rec.resp_owner, -1); /* the shared buffer was handed back */
	CHECK_EQ_INT(violations, 0);
	teardown(&s);
}

static void test_409_then_404(void)
{
	struct lb_server s = { 0 };

	setup(&s, NWORK);
	srv(&s)->create_409 = 1;
	srv(&s)->pod_404 = 1;
	add_order("order-123", UID1);
	settle(5000);
	CHECK_EQ_STR(lb_line(&s, 0), "POST /api/v1/namespaces/default/pods HTTP/1.1");
	CHECK_EQ_STR(lb_line(&s, 1), "GET /api/v1/namespaces/default/pods/order-123-oven HTTP/1.1");
	CHECK_EQ_STR(lb_line(&s, 2), "POST /api/v1/namespaces/default/pods HTTP/1.1");
	CHECK(!strncmp(lb_line(&s, 3), "PATCH ", 6));
	CHECK_EQ_INT(rec.pods_created, 1);
	CHECK(log_has("oven Pod existed on create but is gone on read; deciding again"));
	CHECK(log_has("name=order-123"));
	CHECK_EQ_INT(violations, 0);
	teardown(&s);
}

/* A server that always says "exists" and then "not found": bounded by RECONCILE_ROUNDS, an error. */
static void test_409_404_forever(void)
{
	struct lb_server s = { 0 };
	int i;

	setup(&s, NWORK);
	srv(&s)->create_409 = 1000;
	srv(&s)->pod_404 = 1;
	i = add_order("order-123", UID1);
	settle(5000);
	CHECK_EQ_INT(srv(&s)->posts, RECONCILE_ROUNDS);
	CHECK_EQ_INT(srv(&s)->gets, RECONCILE_ROUNDS);
	CHECK(srv(&s)->patches <= 1); /* at most the ReconcileError status, never a second round of writes */
	CHECK_EQ_INT(rec.errors, 1);
	CHECK_EQ_INT(tb.slot[i].o.failures, 1);
	CHECK(tb.slot[i].due_ms >= pz_now_ms() + rcfg.backoff_base_ms / 2); /* backed off */
	CHECK(log_has("reconcile failed"));
	CHECK_EQ_INT(violations, 0);
	teardown(&s);
}

/* ---- never twice at once ---- */

static void test_concurrency(void)
{
	struct lb_server s = { 0 };
	char name[32], uid[40];
	int64_t end;
	int n = 12;

	setup(&s, NWORK);
	for (int k = 0; k < n; k++) {
		snprintf(name, sizeof name, "order-%02d", k);
		snprintf(uid, sizeof uid, "00000000-0000-4000-8000-%012d", k);
		CHECK(add_order(name, uid) >= 0);
	}
	/* events keep arriving for every order, running or not, while the workers run */
	end = pz_now_ms() + 1500;
	unsigned seed = 1;
	int running_enqueued = 0;
	while (pz_now_ms() < end) {
		turn(pz_now_ms(), 5);
		for (int e = 0; e < 3; e++) {
			int i = (int)((seed = seed * 1103515245 + 12345) >> 16) % n;
			running_enqueued += tb.slot[i].state == SLOT_RUNNING;
			table_enqueue(&tb, i, pz_now_ms());
			check_invariant();
		}
	}
	settle(5000);
	CHECK(running_enqueued > 0); /* the interesting case happened */
	CHECK_EQ_INT(violations, 0);
	CHECK_EQ_INT(srv(&s)->posts, n); /* each order's Pod created once */
	CHECK_EQ_INT(srv(&s)->patches, n);
	CHECK_EQ_INT(rec.errors, 0);
	CHECK(LB_GET(&s.sh->accepts) > 1 && LB_GET(&s.sh->accepts) <= NWORK); /* one link per worker, lazily */
	teardown(&s);
}

/* The guard behind the promise: starting a slot a worker already holds is a bug, and aborts. */
static void test_double_start_aborts(void)
{
	struct lb_server s = { 0 };
	int i, st = 0;
	pid_t pid;

	setup(&s, NWORK);
	srv(&s)->stall_post = 1;
	i = add_order("order-123", UID1);
	CHECK_EQ_INT(table_pop_due(&tb, pz_now_ms()), i);
	CHECK(reconcile_start(&rec, i, pz_now_ms()) >= 0);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		reconcile_start(&rec, i, pz_now_ms());
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	LB_SET(&srv(&s)->release, 1);
	teardown(&s);
}

/* ---- a slot removed mid-call ---- */

static void test_removed_mid_call(void)
{
	struct lb_server s = { 0 };
	int i, k;
	int64_t end;

	setup(&s, NWORK);
	srv(&s)->stall_post = 1;
	i = add_order("order-123", UID1);
	turn(pz_now_ms(), 0);
	end = pz_now_ms() + 5000;
	while (!LB_GET(&srv(&s)->stalled) && pz_now_ms() < end)
		turn(pz_now_ms(), 20);
	CHECK_EQ_INT(LB_GET(&srv(&s)->stalled), 1);
	CHECK_EQ_INT(rec.active, 1);
	k = workers[0].step != STEP_FREE ? 0 : workers[1].step != STEP_FREE ? 1 : -1;
	CHECK(k >= 0);
	CHECK_EQ_INT(workers[k].slot, i);
	/* the order is deleted while its Pod is being created */
	table_remove(&tb, i);
	CHECK_EQ_INT(tb.slot[i].gone, 1);
	CHECK_EQ_INT(table_find(&tb, "default", "order-123"), -1);
	CHECK_EQ_INT(workers[k].slot, i); /* the worker's index did not change owner */
	LB_SET(&srv(&s)->release, 1);
	settle(5000);
	CHECK_EQ_INT(rec.active, 0);
	CHECK_EQ_INT(workers[k].slot, -1);
	CHECK_EQ_INT(workers[k].step, STEP_FREE);
	CHECK_EQ_INT(tb.slot[i].state, SLOT_EMPTY); /* handed back and freed */
	CHECK_EQ_INT(tb.count, 0);
	CHECK_EQ_INT(srv(&s)->patches, 0); /* no status for an order that is gone */
	/* the freed slot is usable again */
	CHECK(add_order("order-9", "00000000-0000-4000-8000-000000000009") >= 0);
	CHECK_EQ_INT(tb.count, 1);
	CHECK_EQ_INT(violations, 0);
	teardown(&s);
}

/* ---- the write gate ---- */

static int gate_calls, gate_open_for;
static int gate(void *arg, int64_t now)
{
	(void)arg;
	(void)now;
	return gate_calls++ < gate_open_for;
}

static void test_may_write(void)
{
	struct lb_server s = { 0 };
	int i;

	/* closed: nothing at all reaches the server, and the order is handed back due now */
	setup(&s, NWORK);
	rec.may_write = gate;
	gate_calls = 0;
	gate_open_for = 0;
	i = add_order("order-123", UID1);
	CHECK_EQ_INT(table_pop_due(&tb, pz_now_ms()), i);
	CHECK(reconcile_start(&rec, i, pz_now_ms()) >= 0);
	CHECK_EQ_INT(rec.active, 0);
	CHECK_EQ_INT(rec.writes_refused, 1);
	CHECK_EQ_INT(tb.slot[i].state, SLOT_SCHEDULED);
	CHECK(table_next_due(&tb) <= pz_now_ms());
	usleep(100000);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 0);
	teardown(&s);

	/* closing between the create and the status write: the PATCH never starts */
	setup(&s, NWORK);
	rec.may_write = gate;
	gate_calls = 0;
	gate_open_for = 1;
	add_order("order-123", UID1);
	settle(3000);
	CHECK_EQ_INT(srv(&s)->posts, 1);
	CHECK_EQ_INT(srv(&s)->patches, 0);
	CHECK(rec.writes_refused >= 1);
	CHECK_EQ_INT(violations, 0);
	teardown(&s);
}

/* Leadership lost mid-call: every call abandoned, slots due at once, links closed. */
static void test_abandon_all(void)
{
	struct lb_server s = { 0 };
	int64_t end;

	setup(&s, NWORK);
	srv(&s)->stall_post = 1;
	add_order("order-1", "00000000-0000-4000-8000-000000000001");
	add_order("order-2", "00000000-0000-4000-8000-000000000002");
	end = pz_now_ms() + 5000;
	while (srv(&s)->posts < 2 && pz_now_ms() < end)
		turn(pz_now_ms(), 20);
	CHECK_EQ_INT(rec.active, 2);
	reconcile_abandon_all(&rec, pz_now_ms());
	CHECK_EQ_INT(rec.active, 0);
	for (unsigned k = 0; k < NWORK; k++) {
		CHECK_EQ_INT(workers[k].step, STEP_FREE);
		CHECK_EQ_INT(workers[k].link.conn.fd, -1);
	}
	CHECK(table_next_due(&tb) <= pz_now_ms());
	CHECK_EQ_INT(tb.count, 2);
	check_invariant();
	CHECK_EQ_INT(violations, 0);
	LB_SET(&srv(&s)->release, 1);
	teardown(&s);
}

/* ---- Retry-After ---- */

/* The first failure's Retry-After is the one honoured, and no status write follows a 503 at once
 * (the ReconcileError status would be a write 5 ms after "try later"). */
static void test_retry_after_first(void)
{
	struct lb_server s = { 0 };
	int i;

	setup(&s, 1);
	LB_SET(&srv(&s)->create_503, 1);
	i = add_order("order-123", UID1);
	CHECK(i >= 0);
	settle(2000);
	CHECK_EQ_INT(srv(&s)->posts, 1);
	CHECK_EQ_INT(srv(&s)->patches, 0);
	CHECK_EQ_INT(rec.errors, 1);
	CHECK(tb.slot[i].due_ms >= pz_now_ms() + 500); /* ~3 s after the 503, not the 1 s base backoff */
	CHECK(log_has("retry_in_ms=3000"));
	teardown(&s);
}

/* ---- Events carried by the workers ---- */

static void events_on(void)
{
	memset(&evs, 0, sizeof evs); /* static storage, as main.c's */
	events_init(&evs, &api, "test-host");
	rec.events = &evs;
}

/* A burst of orders on every worker: each order's OvenCreated reaches the server, none dropped,
 * on the workers' own links (no connection added), and the workers end free. */
static void test_events_burst(void)
{
	struct lb_server s = { 0 };
	char name[32], uid[40];
	int n = 40; /* more than EVENTS_QUEUE_MAX: the queue alone would overflow */

	CHECK(n > EVENTS_QUEUE_MAX);
	setup(&s, NWORK);
	/* the table has 16 slots: the orders come in waves, each removed once baked */
	events_on();
	for (int wave = 0; wave < n / 10; wave++) {
		for (int k = 0; k < 10; k++) {
			snprintf(name, sizeof name, "order-%02d", wave * 10 + k);
			snprintf(uid, sizeof uid, "00000000-0000-4000-8000-%012d", wave * 10 + k);
			CHECK(add_order(name, uid) >= 0);
		}
		/* the events link is never driven here: only workers can send */
		settle(5000);
		for (uint32_t i = 0; i < tb.high_water; i++)
			if (tb.slot[i].state != SLOT_EMPTY)
				table_remove(&tb, (int)i);
	}
	CHECK_EQ_INT(srv(&s)->posts, n);
	CHECK_EQ_INT(srv(&s)->patches, n);
	CHECK_EQ_INT(srv(&s)->ev_posts, n);
	CHECK_EQ_INT(evs.created, (uint64_t)n);
	CHECK_EQ_INT(evs.dropped_full, 0);
	CHECK_EQ_INT(evs.failed, 0);
	CHECK_EQ_INT(evs.len, 0);
	CHECK_EQ_INT(rec.active, 0);
	CHECK_EQ_INT(violations, 0);
	CHECK(LB_GET(&s.sh->accepts) >= 1 && LB_GET(&s.sh->accepts) <= NWORK);
	rec.events = NULL;
	teardown(&s);
}

/* A repeat PATCHes the count of the Event its POST created; a PATCH answered 404 (the server
 * expired it) creates it again. */
static void test_events_repeat(void)
{
	struct lb_server s = { 0 };
	int i;

	setup(&s, 1);
	events_on();
	i = add_order("order-123", UID1);
	CHECK(i >= 0);
	settle(5000);
	CHECK_EQ_INT(LB_GET(&s.sh->requests), 3); /* Pod, status, OvenCreated */
	CHECK_EQ_INT(srv(&s)->ev_posts, 1);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1); /* the Event rode the worker's link */
	for (int round = 0; round < 3; round++) {
		if (round == 2)
			LB_SET(&srv(&s)->ev_patch_404, 1);
		events_record(&evs, &tb.slot[i], EVENT_WARNING, "Test", "the same thing again", pz_now_ms());
		table_enqueue(&tb, i, pz_now_ms()); /* nothing to change: the worker only carries the Event */
		settle(3000);
	}
	CHECK_EQ_INT(srv(&s)->ev_posts, 3);   /* OvenCreated, Test, Test again after the 404 */
	CHECK_EQ_INT(srv(&s)->ev_patches, 2); /* count 2, then count 3 answered 404 */
	CHECK_EQ_INT(srv(&s)->ev_patch_unknown, 0);
	CHECK_EQ_INT(evs.created, 3);
	CHECK_EQ_INT(evs.patched, 1);
	CHECK_EQ_INT(evs.failed, 0);
	rec.events = NULL;
	teardown(&s);
}

/* The ordering rule, without I/O: a repeat recorded while its Event's POST is in flight waits at
 * the head of the queue until that write ends, then goes as a PATCH. */
static void test_events_inflight_order(void)
{
	struct event_pending a, b;
	struct table_slot sl;
	char path[256], body[EVENTS_BODY_MAX];
	int patch = -1;

	memset(&sl, 0, sizeof sl);
	strcpy(sl.ns, "default");
	strcpy(sl.name, "order-1");
	memset(&evs, 0, sizeof evs);
	events_init(&evs, &api, "test-host");
	events_record(&evs, &sl, EVENT_NORMAL, "OvenCreated", "created", 1000);
	CHECK_EQ_INT(events_take(&evs, &a), 1);
	CHECK(events_request(&evs, &a, 0, path, sizeof path, body, sizeof body, &patch) > 0);
	CHECK_EQ_INT(patch, 0);
	CHECK_EQ_STR(path, "/api/v1/namespaces/default/events");
	events_record(&evs, &sl, EVENT_NORMAL, "OvenCreated", "created", 1001);
	CHECK_EQ_INT(evs.len, 1);
	CHECK_EQ_INT(events_take(&evs, &b), 0);  /* waits: its POST is in flight */
	CHECK_EQ_INT(events_done(&evs, &a, 0, 201), 0);
	CHECK_EQ_INT(events_take(&evs, &b), 1);
	CHECK(events_request(&evs, &b, 0, path, sizeof path, body, sizeof body, &patch) > 0);
	CHECK_EQ_INT(patch, 1);
	CHECK(!strncmp(path, "/api/v1/namespaces/default/events/order-1.", 42));
	CHECK(strstr(body, "\"count\":2") != NULL);
	CHECK_EQ_INT(events_done(&evs, &b, 1, 404), 1); /* expired: send again as a create */
	CHECK(events_request(&evs, &b, 1, path, sizeof path, body, sizeof body, &patch) > 0);
	CHECK_EQ_INT(patch, 0);
	CHECK_EQ_INT(events_done(&evs, &b, 0, 201), 0);
	CHECK_EQ_INT(evs.created, 2);
	CHECK_EQ_INT(evs.cache[a.cache].inflight, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	pz_rand_seed(1);
	get_pod = data_load("get-pod.http", &get_pod_len);
	if (!get_pod)
		return check_done("reconcile") | 1;
	LB_RUN("two_requests", test_two_requests);
	LB_RUN("409_get_pod", test_409_get_pod);
	LB_RUN("409_then_404", test_409_then_404);
	LB_RUN("409_404_forever", test_409_404_forever);
	LB_RUN("concurrency", test_concurrency);
	LB_RUN("double_start_aborts", test_double_start_aborts);
	LB_RUN("removed_mid_call", test_removed_mid_call);
	LB_RUN("may_write", test_may_write);
	LB_RUN("abandon_all", test_abandon_all);
	LB_RUN("retry_after_first", test_retry_after_first);
	LB_RUN("events_burst", test_events_burst);
	LB_RUN("events_repeat", test_events_repeat);
	LB_RUN("events_inflight_order", test_events_inflight_order);
	free(get_pod);
	return check_done("reconcile");
}
