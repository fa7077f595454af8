/*
 * test_lease.c - leader election (src/lease.h): lease_decide's rule as a truth table (pure), then
 * lease_step against a fake API server keeping one Lease: acquire (404, create), renew (read, then a
 * write carrying the resourceVersion read), take over a Lease its holder stopped renewing (measured
 * on our clock), lose at the renew deadline while the server stalls (lease_may_write false from that
 * very millisecond, the call in flight abandoned), and release (holder emptied).
 *
 * Time: the real clock plus a skew the test moves forward, so "15 s later" costs nothing; the link
 * gets the same `now` as lease_step, as in main.c's loop.
 */
#include "check.h"
#include "harness.h"
#include "loopback.h"

#include "lease.h"
#include "pz.h"

static struct lease le;
static struct kube_api api;
static int64_t skew;

static int64_t vnow(void) { return pz_now_ms() + skew; }

static const struct lease_config cfg = {
	.namespace = "pizza", .name = "pizza-controller", .duration_ms = 15000, .renew_deadline_ms = 10000,
	.retry_ms = 2000,
};

/* ---- lease_decide, pure ---- */

static void test_decide(void)
{
	const int64_t t0 = 1000000, d = cfg.duration_ms;

	lease_init(&le, &cfg, "me");
	/* no Lease: take it, whatever we are */
	CHECK_EQ_INT(lease_decide(&le, 0, "", t0), LEASE_TAKE);
	le.state = LEASE_LEADER;
	CHECK_EQ_INT(lease_decide(&le, 0, "", t0), LEASE_TAKE);
	/* ours: renew while leading; a candidate finding its own name (a restart) takes it */
	lease_observe(&le, "me", "2026-01-01T00:00:00.000000Z", t0);
	CHECK_EQ_INT(lease_decide(&le, 1, "me", t0), LEASE_RENEW);
	le.state = LEASE_CANDIDATE;
	CHECK_EQ_INT(lease_decide(&le, 1, "me", t0), LEASE_TAKE);
	/* released (empty holder): take */
	lease_observe(&le, "", "2026-01-01T00:00:00.000000Z", t0);
	CHECK_EQ_INT(lease_decide(&le, 1, "", t0), LEASE_TAKE);
	CHECK_EQ_INT(lease_decide(&le, 1, "", t0 + d + 1), LEASE_TAKE);
	/* someone else's, seen at t0: wait (candidate) or yield (leader) for the duration on OUR clock */
	lease_init(&le, &cfg, "me");
	lease_observe(&le, "other", "2026-01-01T00:00:01.000000Z", t0);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0), LEASE_WAIT);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + d - 1), LEASE_WAIT);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + d), LEASE_TAKE);
	le.state = LEASE_LEADER;
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + d - 1), LEASE_YIELD);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + d), LEASE_TAKE);
	le.state = LEASE_CANDIDATE;
	/* the same record read again later does not restart the count... */
	lease_observe(&le, "other", "2026-01-01T00:00:01.000000Z", t0 + 10000);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + d), LEASE_TAKE);
	/* ...a renewal (new renewTime) does, whatever its timestamp says (clocks differ) */
	lease_observe(&le, "other", "1999-01-01T00:00:00.000000Z", t0 + 12000);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + d), LEASE_WAIT);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + 12000 + d - 1), LEASE_WAIT);
	CHECK_EQ_INT(lease_decide(&le, 1, "other", t0 + 12000 + d), LEASE_TAKE);
	/* so does a new holder with the same renewTime */
	lease_observe(&le, "third", "1999-01-01T00:00:00.000000Z", t0 + 20000);
	CHECK_EQ_INT(lease_decide(&le, 1, "third", t0 + 20000 + d - 1), LEASE_WAIT);

	/* lease_may_write: leader and strictly before renewed + renew deadline */
	lease_init(&le, &cfg, "me");
	le.renewed_ms = t0;
	CHECK_EQ_INT(lease_may_write(&le, t0), 0); /* a candidate never writes */
	le.state = LEASE_LEADER;
	CHECK_EQ_INT(lease_may_write(&le, t0), 1);
	CHECK_EQ_INT(lease_may_write(&le, t0 + cfg.renew_deadline_ms - 1), 1);
	CHECK_EQ_INT(lease_may_write(&le, t0 + cfg.renew_deadline_ms), 0);
	le.state = LEASE_LOST;
	CHECK_EQ_INT(lease_may_write(&le, t0), 0);
}

/* ---- the fake server's Lease (shared by its connection processes) ---- */

struct srv_lease {
	int exists, rv, transitions, stall, stalled, stall_put;
	int conflict; /* answer the next write 409 */
	char holder[128], renew[64];
	int gets, creates, updates, patches;
	char last_rv_written[64];
};

static void copy_field(const char *body, const char *key, char *out, size_t cap)
{
	char k[64];
	const char *p;
	size_t n = 0;
	snprintf(k, sizeof k, "\"%s\":\"", key);
	out[0] = 0;
	if (!(p = strstr(body, k)))
		return;
	for (p += strlen(k); *p && *p != '"' && n + 1 < cap; p++)
		out[n++] = *p;
	out[n] = 0;
}


#define LEASES "/apis/coordination.k8s.io/v1/namespaces/pizza/leases"
#define IS(req, line) (!strncmp(req, line, sizeof line - 1))

static void h_lease(struct lb_peer *p, void *arg)
{
	struct srv_lease *L = (struct srv_lease *)(void *)p->sh->state;
	static char req[8192], b[2048];
	(void)arg;
	while (lb_read_request(p, req, sizeof req) > 0) {
		const char *body = p->sh->body;
		if (IS(req, "GET " LEASES "/pizza-controller ")) {
			L->gets++;
			if (LB_GET(&L->stall)) {
				LB_SET(&L->stalled, 1);
				lb_hold(p);
				return;
			}
			if (!L->exists) {
				lb_answer(p, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
				continue;
			}
			snprintf(b, sizeof b,
				"{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"pizza-controller\","
				"\"namespace\":\"pizza\",\"resourceVersion\":\"%d\",\"managedFields\":[{\"manager\":\"x\"}]},"
				"\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":15,\"acquireTime\":\"2026-01-01T00:00:00.000000Z\","
				"\"renewTime\":\"%s\",\"leaseTransitions\":%d}}",
				L->rv, L->holder, L->renew, L->transitions);
			lb_answer(p, 200, b);
		} else if (IS(req, "POST " LEASES " ")) {
			L->creates++;
			if (L->exists) {
				lb_answer(p, 409, "{\"kind\":\"Status\",\"code\":409,\"reason\":\"AlreadyExists\"}");
				continue;
			}
			L->exists = 1;
			L->rv++;
			copy_field(body, "holderIdentity", L->holder, sizeof L->holder);
			copy_field(body, "renewTime", L->renew, sizeof L->renew);
			lb_answer(p, 201, body);
		} else if (IS(req, "PUT " LEASES "/pizza-controller ")) {
			char rv[64], want[16];
			L->updates++;
			if (LB_GET(&L->stall_put)) {
				LB_SET(&L->stalled, 1);
				lb_hold(p);
				return;
			}
			copy_field(body, "resourceVersion", rv, sizeof rv);
			snprintf(L->last_rv_written, sizeof L->last_rv_written, "%s", rv);
			snprintf(want, sizeof want, "%d", L->rv);
			if (L->conflict || strcmp(rv, want) != 0) {
				L->conflict = 0;
				lb_answer(p, 409, "{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\"}");
				continue;
			}
			L->rv++;
			copy_field(body, "holderIdentity", L->holder, sizeof L->holder);
			copy_field(body, "renewTime", L->renew, sizeof L->renew);
			{
				const char *t = strstr(body, "\"leaseTransitions\":");
				L->transitions = t ? atoi(t + 19) : -1;
			}
			lb_answer(p, 200, body);
		} else if (IS(req, "PATCH " LEASES "/pizza-controller ")) {
			L->patches++;
			if (strstr(p->sh->head, "\r\nContent-Type: application/merge-patch+json\r\n") &&
			    strstr(body, "\"holderIdentity\":\"\""))
				L->holder[0] = 0;
			L->rv++;
			lb_answer(p, 200, "{}");
		} else {
			lb_answer(p, 400, "{}");
		}
	}
}

static struct srv_lease *srv(struct lb_server *s) { return (struct srv_lease *)(void *)s->sh->state; }

#define HUNG_RC 1000

/* lease_step as the loop drives it, until it answers non-zero or `until` holds, or ms pass. */
static int step_until(int ms, int (*until)(void))
{
	int64_t end = pz_now_ms() + ms;
	for (;;) {
		int rc = lease_step(&le, &api, vnow());
		if (rc != 0 || (until && until()))
			return rc;
		if (pz_now_ms() > end)
			return HUNG_RC;
		struct pollfd p = { .fd = lease_fd(&le), .events = lease_events(&le) };
		int64_t t = lease_deadline(&le) - vnow();
		if (kube_link_pending(&le.link))
			continue;
		poll(&p, p.fd >= 0 ? 1 : 0, t < 0 ? 0 : t > 50 ? 50 : (int)t);
	}
}

static int op_none(void) { return le.op == LEASE_OP_NONE; }
static struct lb_server *cur;
static int stalled(void) { return LB_GET(&((struct srv_lease *)(void *)cur->sh->state)->stalled); }

static void become_leader(struct lb_server *s)
{
	int64_t t0 = vnow();
	CHECK_EQ_INT(step_until(5000, NULL), 1);
	CHECK_EQ_INT(le.state, LEASE_LEADER);
	CHECK_EQ_INT(le.transitions, 1);
	CHECK(le.renewed_ms >= t0 && le.renewed_ms <= vnow());
	CHECK(lease_may_write(&le, vnow()));
	CHECK_EQ_STR(srv(s)->holder, "me");
}

static void test_acquire_renew_lose(void)
{
	struct lb_server s = { 0 };
	int64_t renewed, dl;

	skew = 0;
	lb_start(&s, 1, 1, h_lease, NULL);
	lb_api(&api, &s, 1);
	lease_init(&le, &cfg, "me");
	CHECK_EQ_INT(lease_may_write(&le, vnow()), 0);
	become_leader(&s);
	CHECK_EQ_INT(srv(&s)->gets, 1);
	CHECK_EQ_INT(srv(&s)->creates, 1);
	CHECK_EQ_STR(lb_line(&s, 1), "POST /apis/coordination.k8s.io/v1/namespaces/pizza/leases HTTP/1.1");

	/* renew: nothing before the retry period; then a read and a write carrying its version */
	renewed = le.renewed_ms;
	CHECK_EQ_INT(lease_step(&le, &api, vnow()), 0);
	CHECK_EQ_INT(le.op, LEASE_OP_NONE);
	CHECK(lease_deadline(&le) <= renewed + cfg.retry_ms);
	skew += cfg.retry_ms;
	CHECK_EQ_INT(step_until(5000, op_none), 0);
	CHECK_EQ_INT(srv(&s)->gets, 2);
	CHECK_EQ_INT(srv(&s)->updates, 1);
	CHECK_EQ_STR(srv(&s)->last_rv_written, "1");
	CHECK_EQ_INT(srv(&s)->transitions, 0); /* renewing our own Lease is no transition */
	CHECK_EQ_INT(le.state, LEASE_LEADER);
	CHECK(le.renewed_ms >= renewed + cfg.retry_ms);
	CHECK_EQ_INT(LB_GET(&s.sh->accepts), 1); /* one kept-alive connection */

	/* the server stalls: no renewal. Writes are allowed up to the renew deadline, not at it. */
	LB_SET(&srv(&s)->stall, 1);
	renewed = le.renewed_ms;
	dl = renewed + cfg.renew_deadline_ms;
	skew += cfg.retry_ms;
	cur = &s;
	CHECK_EQ_INT(step_until(5000, stalled), 0);
	CHECK_EQ_INT(LB_GET(&srv(&s)->stalled), 1);
	CHECK_EQ_INT(le.op, LEASE_OP_GET);
	CHECK(lease_deadline(&le) <= dl); /* the loop wakes at the renew deadline at the latest */
	CHECK_EQ_INT(lease_step(&le, &api, dl - 1), 0);
	CHECK_EQ_INT(le.state, LEASE_LEADER);
	CHECK_EQ_INT(lease_may_write(&le, dl - 1), 1);
	CHECK_EQ_INT(lease_may_write(&le, dl), 0);
	CHECK_EQ_INT(lease_step(&le, &api, dl), 1);
	CHECK_EQ_INT(le.state, LEASE_LOST);
	CHECK_EQ_INT(le.lost_ms, dl);
	CHECK_EQ_INT(le.op, LEASE_OP_NONE);
	CHECK_EQ_INT(lease_fd(&le), -1); /* the read in flight was abandoned */
	CHECK_EQ_INT(le.link.conn.fd, -1);
	CHECK_EQ_INT(lease_may_write(&le, dl), 0);
	CHECK_EQ_INT(lease_step(&le, &api, dl + 100000), 0); /* lost is final */
	CHECK_EQ_INT(le.state, LEASE_LOST);
	kube_link_close(&le.link);
	lb_free(&s);
}

/* Lost while the renewal's write is in flight: the same instant, whatever the call is doing. */
static void test_lose_during_write(void)
{
	struct lb_server s = { 0 };
	int64_t dl;

	skew = 0;
	lb_start(&s, 0, 1, h_lease, NULL);
	lb_api(&api, &s, 0);
	lease_init(&le, &cfg, "me");
	become_leader(&s);
	dl = le.renewed_ms + cfg.renew_deadline_ms;
	/* the renewal's write is out, its answer never comes */
	LB_SET(&srv(&s)->stall_put, 1);
	cur = &s;
	skew += cfg.retry_ms;
	CHECK_EQ_INT(step_until(5000, stalled), 0);
	CHECK_EQ_INT(le.op, LEASE_OP_UPDATE);
	CHECK_EQ_INT(lease_step(&le, &api, dl), 1);
	CHECK_EQ_INT(le.state, LEASE_LOST);
	CHECK_EQ_INT(lease_fd(&le), -1);
	kube_link_close(&le.link);
	lb_free(&s);
}

static int released(void) { return !lease_releasing(&le); }

static void test_release(void)
{
	struct lb_server s = { 0 };

	skew = 0;
	lb_start(&s, 0, 1, h_lease, NULL);
	lb_api(&api, &s, 0);
	lease_init(&le, &cfg, "me");
	become_leader(&s);
	lease_release_start(&le, &api, vnow());
	CHECK_EQ_INT(lease_releasing(&le), 1);
	step_until(5000, released);
	CHECK_EQ_INT(lease_releasing(&le), 0);
	CHECK_EQ_INT(srv(&s)->patches, 1);
	CHECK_EQ_STR(srv(&s)->holder, "");
	CHECK_EQ_INT(le.state, LEASE_CANDIDATE);
	CHECK_EQ_INT(lease_may_write(&le, vnow()), 0);
	kube_link_close(&le.link);
	lb_free(&s);
}

/* Someone else's Lease: we wait the whole duration on our clock since the record last changed,
 * then take it over with a write that carries the version read and one more transition. */
static void test_take_over(void)
{
	struct lb_server s = { 0 };
	struct srv_lease *L;
	int64_t first;

	skew = 0;
	s.sh = lb_shared_new();
	L = srv(&s);
	L->exists = 1;
	L->rv = 7;
	L->transitions = 3;
	snprintf(L->holder, sizeof L->holder, "other");
	snprintf(L->renew, sizeof L->renew, "2099-01-01T00:00:00.000000Z"); /* its clock is not ours */
	lb_start(&s, 0, 1, h_lease, NULL);
	lb_api(&api, &s, 0);
	lease_init(&le, &cfg, "me");
	first = vnow();
	CHECK_EQ_INT(step_until(5000, op_none), 0);
	CHECK_EQ_INT(le.state, LEASE_CANDIDATE);
	CHECK_EQ_STR(le.holder, "other");
	/* reads every retry period; the holder renews once, so the count starts over from then */
	for (int i = 1; i <= 12; i++) {
		skew += cfg.retry_ms;
		if (i == 2) {
			snprintf(L->renew, sizeof L->renew, "2099-01-01T00:00:02.000000Z");
			first = vnow();
		}
		int rc = step_until(5000, op_none);
		if (vnow() < first + cfg.duration_ms) {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_INT(le.state, LEASE_CANDIDATE);
			CHECK_EQ_INT(L->updates, 0);
		} else if (le.state == LEASE_LEADER) {
			break;
		}
	}
	CHECK_EQ_INT(le.state, LEASE_LEADER);
	CHECK_EQ_INT(L->updates, 1);
	CHECK_EQ_STR(L->last_rv_written, "7");
	CHECK_EQ_INT(L->transitions, 4);
	CHECK_EQ_STR(L->holder, "me");
	CHECK(le.renewed_ms >= first + cfg.duration_ms);
	kube_link_close(&le.link);
	lb_free(&s);
}

/* Two candidates read the same version; the second write is refused (409): it stays candidate. */
static void test_conflict(void)
{
	struct lb_server s = { 0 };

	skew = 0;
	s.sh = lb_shared_new();
	srv(&s)->exists = 1;
	srv(&s)->rv = 3;
	srv(&s)->conflict = 1;
	lb_start(&s, 0, 1, h_lease, NULL);
	lb_api(&api, &s, 0);
	lease_init(&le, &cfg, "me");
	CHECK_EQ_INT(step_until(5000, NULL), PZ_ECONFLICT); /* released Lease: take, refused */
	CHECK_EQ_INT(le.state, LEASE_CANDIDATE);
	CHECK_EQ_INT(le.last_status, 409);
	CHECK_EQ_INT(lease_may_write(&le, vnow()), 0);
	skew += cfg.retry_ms;
	CHECK_EQ_INT(step_until(5000, NULL), 1); /* the next try wins */
	CHECK_EQ_INT(le.state, LEASE_LEADER);
	kube_link_close(&le.link);
	lb_free(&s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (lb_tls_init() < 0)
		check_failed++;
	LB_RUN("decide", test_decide);
	LB_RUN("acquire_renew_lose", test_acquire_renew_lose);
	LB_RUN("lose_during_write", test_lose_during_write);
	LB_RUN("release", test_release);
	LB_RUN("take_over", test_take_over);
	LB_RUN("conflict", test_conflict);
	return check_done("lease");
}
