/*
 * lease.c - leader election on a Lease (see lease.h).
 */
#include "lease.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void lease_init(struct lease *l, const struct lease_config *cfg, const char *identity)
{
	memset(l, 0, sizeof *l);
	l->cfg = *cfg;
	l->state = LEASE_CANDIDATE;
	snprintf(l->identity, sizeof l->identity, "%s", identity);
	snprintf(l->path, sizeof l->path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", cfg->namespace,
		cfg->name);
}

/* MicroTime, as the API wants it: 2006-01-02T15:04:05.000000Z */
static void micro_time(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
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

/* The Lease we write: we hold it from now. rv is the version read ("" to create). */
static int body(struct lease *l, const char *rv, const char *acquire, int transitions)
{
	struct json_w w;
	char now[40];

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

static int fail(struct lease *l, int code, int status, int64_t now)
{
	l->last_error = code;
	l->last_status = status;
	if (l->state == LEASE_LEADER && now - l->renewed_ms >= l->cfg.renew_deadline_ms) {
		l->state = LEASE_LOST;
		return 1;
	}
	return code;
}

int lease_step(struct lease *l, struct kube_api *api, struct kube_link *link, char *resp, size_t resp_cap,
	jsmntok_t *tok, unsigned ntok, int64_t now)
{
	char rv[64] = "", holder[LEASE_IDENTITY_MAX] = "", renew[64] = "", acquire[64] = "", ns_path[256];
	struct json_doc d;
	size_t len = 0;
	int64_t transitions = 0;
	int st, n, mine, was_leader = l->state == LEASE_LEADER;

	if (l->state == LEASE_LOST || now < l->next_ms)
		return 0;
	l->next_ms = now + l->cfg.retry_ms;
	st = kube_call(api, link, "GET", l->path, NULL, NULL, 0, resp, resp_cap, &len);
	if (st == 404) {
		n = body(l, "", "", 0);
		if (n < 0)
			return fail(l, n, 0, now);
		snprintf(ns_path, sizeof ns_path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->cfg.namespace);
		st = kube_call(api, link, "POST", ns_path, "application/json", l->body, (size_t)n, resp, resp_cap, &len);
		if (st != 201 && st != 200)
			return fail(l, st < 0 ? st : (st == 409 ? PZ_ECONFLICT : PZ_ESTATUS), st, now);
		goto won;
	}
	if (st != 200)
		return fail(l, st < 0 ? st : PZ_ESTATUS, st, now);
	if (json_parse(&d, resp, json_drop_member(resp, len, "managedFields"), tok, ntok) < 0 ||
	    json_str(&d, json_path(&d, 0, "metadata.resourceVersion"), rv, sizeof rv) <= 0)
		return fail(l, PZ_EJSON, st, now);
	json_str(&d, json_path(&d, 0, "spec.holderIdentity"), holder, sizeof holder);
	json_str(&d, json_path(&d, 0, "spec.renewTime"), renew, sizeof renew);
	json_str(&d, json_path(&d, 0, "spec.acquireTime"), acquire, sizeof acquire);
	json_int(&d, json_path(&d, 0, "spec.leaseTransitions"), &transitions);
	snprintf(l->holder, sizeof l->holder, "%s", holder);
	mine = strcmp(holder, l->identity) == 0;
	if (digest(holder, renew) != l->seen_digest || l->seen_ms == 0) {
		l->seen_digest = digest(holder, renew);
		l->seen_ms = now;
	}
	if (!mine && holder[0] && now - l->seen_ms < l->cfg.duration_ms) {
		/* someone else holds it and renewed it within the duration, by our clock */
		if (was_leader) {
			l->state = LEASE_LOST;
			return 1;
		}
		return 0;
	}
	n = body(l, rv, mine ? acquire : "", (int)(mine ? transitions : transitions + 1));
	if (n < 0)
		return fail(l, n, 0, now);
	st = kube_call(api, link, "PUT", l->path, "application/json", l->body, (size_t)n, resp, resp_cap, &len);
	if (st == 409)
		return fail(l, PZ_ECONFLICT, st, now); /* another candidate wrote first */
	if (st != 200)
		return fail(l, st < 0 ? st : PZ_ESTATUS, st, now);
won:
	l->renewed_ms = now;
	snprintf(l->holder, sizeof l->holder, "%s", l->identity);
	l->seen_ms = 0; /* our own write: the next read re-arms the observation */
	if (!was_leader) {
		l->state = LEASE_LEADER;
		return 1;
	}
	return 0;
}

void lease_release(struct lease *l, struct kube_api *api, struct kube_link *link, char *resp, size_t cap)
{
	struct json_w w;
	size_t len;
	int n;

	if (l->state != LEASE_LEADER)
		return;
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
		kube_call(api, link, "PATCH", l->path, "application/merge-patch+json", l->body, (size_t)n, resp, cap, &len);
	l->state = LEASE_CANDIDATE;
}
