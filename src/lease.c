/*
 * lease.c - leader election on a Lease (see lease.h).
 */
#include "fmt.h"
#include "lease.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void lease_init(struct lease *l, const struct lease_config *cfg, const char *identity)
{
	memset(l, 0, offsetof(struct lease, link));
	l->cfg = *cfg;
	l->state = LEASE_CANDIDATE;
	pz_snprintf(l->identity, sizeof l->identity, "%s", identity);
	pz_snprintf(l->path, sizeof l->path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", cfg->namespace,
		cfg->name);
	kube_link_init(&l->link);
}

/* MicroTime, as the API wants it: 2006-01-02T15:04:05.000000Z */
static void micro_time(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pz_snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

static uint32_t digest(const char *a, const char *b)
{
	uint32_t h = 2166136261u;
	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

void lease_observe(struct lease *l, const char *holder, const char *renew_time, int64_t now)
{
	uint32_t dg = digest(holder, renew_time);
	if (dg != l->seen_digest || l->seen_ms == 0) {
		l->seen_digest = dg;
		l->seen_ms = now;
	}
}

enum lease_verdict lease_decide(const struct lease *l, int exists, const char *holder, int64_t now)
{
	if (!exists)
		return LEASE_TAKE;
	if (strcmp(holder, l->identity) == 0)
		return l->state == LEASE_LEADER ? LEASE_RENEW : LEASE_TAKE;
	if (holder[0] && now - l->seen_ms < l->cfg.duration_ms)
		/* someone else holds it and renewed it within the duration, by our clock */
		return l->state == LEASE_LEADER ? LEASE_YIELD : LEASE_WAIT;
	return LEASE_TAKE;
}

/* The Lease we write: we hold it from now. rv is the version read ("" to create). */
static int body(struct lease *l, const char *rv, const char *acquire, int transitions)
{
	struct json_w w;
	char now[96];

	micro_time(now, sizeof now);
	json_w_init(&w, l->body, sizeof l->body);
	json_w_obj(&w);
	json_w_kstr(&w, "apiVersion", "coordination.k8s.io/v1");
	json_w_kstr(&w, "kind", "Lease");
	json_w_key(&w, "metadata");
	json_w_obj(&w);
	json_w_kstr(&w, "name", l->cfg.name);
	json_w_kstr(&w, "namespace", l->cfg.namespace);
	if (rv[0])
		json_w_kstr(&w, "resourceVersion", rv);
	json_w_close(&w);
	json_w_key(&w, "spec");
	json_w_obj(&w);
	json_w_kstr(&w, "holderIdentity", l->identity);
	json_w_kint(&w, "leaseDurationSeconds", (l->cfg.duration_ms + 999) / 1000);
	json_w_kstr(&w, "acquireTime", acquire[0] ? acquire : now);
	json_w_kstr(&w, "renewTime", now);
	json_w_kint(&w, "leaseTransitions", transitions);
	json_w_close(&w);
	json_w_close(&w);
	return json_w_end(&w);
}

static int lose(struct lease *l, int64_t now)
{
	kube_link_close(&l->link);
	l->op = LEASE_OP_NONE;
	l->state = LEASE_LOST;
	l->lost_ms = now;
	return 1;
}

static int fail(struct lease *l, int code, int status)
{
	l->op = LEASE_OP_NONE;
	l->last_error = code;
	l->last_status = status;
	return code;
}

static int start(struct lease *l, struct kube_api *api, enum lease_op op, const char *method, const char *path,
	const char *ctype, size_t body_len, int64_t now)
{
	int rc = kube_link_start(&l->link, api, method, path, ctype, ctype ? l->body : NULL, body_len, LINK_CALL,
		l->resp, sizeof l->resp, now);
	if (rc < 0)
		return fail(l, rc, 0);
	l->op = op;
	if (op != LEASE_OP_GET)
		l->write_ms = now;
	return 0;
}

/* The Lease was read: decide, and write when we take or renew it. */
static int read_done(struct lease *l, struct kube_api *api, int64_t now)
{
	char rv[64] = "", holder[LEASE_IDENTITY_MAX] = "", renew[64] = "", acquire[64] = "", ns_path[256];
	struct json_doc d;
	int64_t transitions = 0;
	int st = l->link.status, n;
	enum lease_verdict v;

	if (st == 404) {
		n = body(l, "", "", 0);
		if (n < 0)
			return fail(l, n, 0);
		pz_snprintf(ns_path, sizeof ns_path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->cfg.namespace);
		return start(l, api, LEASE_OP_CREATE, "POST", ns_path, "application/json", (size_t)n, now);
	}
	if (st != 200)
		return fail(l, PZ_ESTATUS, st);
	if (l->link.out_truncated ||
	    json_parse(&d, l->resp, json_drop_member(l->resp, l->link.out_len, "managedFields"), l->tok,
		    LEASE_TOKENS) < 0 ||
	    json_str(&d, json_path(&d, 0, "metadata.resourceVersion"), rv, sizeof rv) <= 0 ||
	    !kube_value_ok(rv, strlen(rv), sizeof rv - 1))
		return fail(l, PZ_EJSON, st);
	if (json_str(&d, json_path(&d, 0, "spec.holderIdentity"), holder, sizeof holder) < 0)
		holder[0] = 0;
	if (json_str(&d, json_path(&d, 0, "spec.renewTime"), renew, sizeof renew) < 0)
		renew[0] = 0;
	if (json_str(&d, json_path(&d, 0, "spec.acquireTime"), acquire, sizeof acquire) < 0)
		acquire[0] = 0;
	json_int(&d, json_path(&d, 0, "spec.leaseTransitions"), &transitions);
	pz_snprintf(l->holder, sizeof l->holder, "%s", holder);
	lease_observe(l, holder, renew, now);
	v = lease_decide(l, 1, holder, now);
	if (v == LEASE_YIELD)
		return lose(l, now);
	if (v == LEASE_WAIT) {
		l->op = LEASE_OP_NONE;
		return 0;
	}
	n = body(l, rv, v == LEASE_RENEW || strcmp(holder, l->identity) == 0 ? acquire : "",
		(int)(strcmp(holder, l->identity) == 0 ? transitions : transitions + 1));
	if (n < 0)
		return fail(l, n, 0);
	return start(l, api, LEASE_OP_UPDATE, "PUT", l->path, "application/json", (size_t)n, now);
}

int lease_may_write(const struct lease *l, int64_t now)
{
	return l->state == LEASE_LEADER && now < l->renewed_ms + l->cfg.renew_deadline_ms;
}

int lease_step(struct lease *l, struct kube_api *api, int64_t now)
{
	int rc, st, was_leader = l->state == LEASE_LEADER;

	if (l->state == LEASE_LOST)
		return 0;
	if (was_leader && l->op != LEASE_OP_RELEASE && !lease_may_write(l, now))
		return lose(l, now);
	if (l->op == LEASE_OP_NONE) {
		if (now < l->next_ms)
			return 0;
		l->next_ms = now + l->cfg.retry_ms;
		rc = start(l, api, LEASE_OP_GET, "GET", l->path, NULL, 0, now);
		if (rc < 0)
			return rc;
	}
	rc = kube_link_step(&l->link, api, now);
	if (rc == 0)
		return 0;
	if (rc < 0)
		return fail(l, rc, 0);
	st = l->link.status;
	switch (l->op) {
	case LEASE_OP_GET:
		rc = read_done(l, api, now);
		if (rc != 0 || l->op == LEASE_OP_NONE)
			return rc;
		return lease_step(l, api, now); /* the write may move at once */
	case LEASE_OP_CREATE:
	case LEASE_OP_UPDATE:
		if (st == 409)
			return fail(l, PZ_ECONFLICT, st); /* another candidate wrote first */
		if (st != 200 && st != 201)
			return fail(l, PZ_ESTATUS, st);
		l->op = LEASE_OP_NONE;
		l->renewed_ms = l->write_ms;
		pz_snprintf(l->holder, sizeof l->holder, "%s", l->identity);
		l->seen_ms = 0; /* our own write: the next read re-arms the observation */
		if (!was_leader) {
			l->state = LEASE_LEADER;
			l->transitions++;
			return 1;
		}
		return 0;
	case LEASE_OP_RELEASE:
		l->op = LEASE_OP_NONE;
		l->state = LEASE_CANDIDATE;
		return st == 200 ? 0 : fail(l, PZ_ESTATUS, st);
	case LEASE_OP_NONE:
		break;
	}
	PZ_BUG("lease op");
}

void lease_release_start(struct lease *l, struct kube_api *api, int64_t now)
{
	struct json_w w;
	int n;

	if (l->state != LEASE_LEADER || !lease_may_write(l, now))
		return;
	kube_link_close(&l->link); /* abandon a renewal in flight */
	l->op = LEASE_OP_NONE;
	/* A merge patch emptying the holder: standbys see a free Lease on their next try. */
	json_w_init(&w, l->body, sizeof l->body);
	json_w_obj(&w);
	json_w_key(&w, "spec");
	json_w_obj(&w);
	json_w_kstr(&w, "holderIdentity", "");
	json_w_close(&w);
	json_w_close(&w);
	n = json_w_end(&w);
	if (n > 0)
		start(l, api, LEASE_OP_RELEASE, "PATCH", l->path, "application/merge-patch+json", (size_t)n, now);
}

int lease_fd(const struct lease *l) { return kube_link_fd(&l->link); }
short lease_events(struct lease *l) { return kube_link_events(&l->link); }

int64_t lease_deadline(const struct lease *l)
{
	int64_t d = l->op == LEASE_OP_NONE ? l->next_ms : kube_link_deadline(&l->link);
	if (l->state == LEASE_LEADER && l->op != LEASE_OP_RELEASE && l->renewed_ms + l->cfg.renew_deadline_ms < d)
		d = l->renewed_ms + l->cfg.renew_deadline_ms;
	return d;
}
