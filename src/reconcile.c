/*
 * reconcile.c - one reconcile: decide, call, record, reschedule, log (see reconcile.h).
 */
#include "reconcile.h"
#include "log.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>

void reconciler_init(struct reconciler *r, struct kube_api *api, struct table *t,
	const struct reconcile_config *cfg, char *resp, size_t resp_cap, jsmntok_t *tok, unsigned ntok)
{
	memset(r, 0, sizeof *r);
	r->api = api;
	r->table = t;
	r->cfg = cfg;
	r->resp = resp;
	r->resp_cap = resp_cap;
	r->tok = tok;
	r->ntok = ntok;
	kube_link_init(&r->link);
}

struct outcome {
	const char *what;     /* short verb for the log */
	int code;             /* < 0 on failure */
	int status;           /* HTTP status of the failing call */
	char detail[128];
};

static void failed(struct outcome *o, const char *what, int code, int status)
{
	o->what = what;
	o->code = code;
	o->status = status;
}

/* Path helpers; names are DNS labels so they need no escaping (validated by the table). */
static void pod_path(char *out, size_t cap, const struct table_slot *s)
{
	snprintf(out, cap, "/api/v1/namespaces/%s/pods/%s" ORDER_POD_SUFFIX, s->ns, s->name);
}

/* The API server's Status message, for the log. */
static void status_message(struct reconciler *r, size_t len, struct outcome *o)
{
	struct json_doc d;
	if (json_parse(&d, r->resp, len, r->tok, r->ntok) > 0)
		json_str(&d, json_get(&d, 0, "message"), o->detail, sizeof o->detail);
}

static int refresh_pod(struct reconciler *r, struct table_slot *s, struct outcome *o)
{
	char path[256];
	size_t len = 0;
	struct json_doc d;
	struct order_key key;
	int64_t gen;
	uint8_t phase, deleting, owner[16];
	int st;

	pod_path(path, sizeof path, s);
	st = kube_call(r->api, &r->link, "GET", path, NULL, NULL, 0, r->resp, r->resp_cap, &len);
	if (st == 404) {
		s->o.pod_phase = POD_NONE;
		return 0;
	}
	if (st != 200) {
		failed(o, "get-pod", st < 0 ? st : PZ_ESTATUS, st);
		return -1;
	}
	if (json_parse(&d, r->resp, len, r->tok, r->ntok) < 0 ||
	    order_read_pod(&d, 0, &key, &phase, &gen, &deleting, owner) < 0) {
		failed(o, "get-pod", PZ_EJSON, st);
		return -1;
	}
	s->o.pod_phase = phase;
	s->o.pod_gen = gen;
	s->o.pod_deleting = deleting;
	s->o.pod_owned = memcmp(owner, s->o.uid, 16) == 0;
	return 0;
}

enum create_result { CREATE_DONE, CREATE_DECIDE_AGAIN, CREATE_ORDER_GONE };

/* GET the order, then POST its oven Pod. Returns CREATE_DONE, CREATE_DECIDE_AGAIN (the slot was
 * refreshed instead), CREATE_ORDER_GONE, or -1 on failure (o filled). */
static int create_pod(struct reconciler *r, struct table_slot *s, struct outcome *o)
{
	char path[256];
	size_t len = 0;
	struct json_doc d;
	struct order_key key;
	struct order_state fresh = s->o;
	struct json_w w;
	int st, rc, body_len;

	snprintf(path, sizeof path, "/apis/" ORDER_API_VERSION "/namespaces/%s/pizzaorders/%s", s->ns, s->name);
	st = kube_call(r->api, &r->link, "GET", path, NULL, NULL, 0, r->resp, r->resp_cap, &len);
	if (st == 404) {
		o->what = "order-gone"; /* deleted meanwhile: its DELETED event frees the slot */
		return CREATE_ORDER_GONE;
	}
	if (st != 200) {
		failed(o, "get-order", st < 0 ? st : PZ_ESTATUS, st);
		return -1;
	}
	rc = json_parse(&d, r->resp, json_drop_member(r->resp, len, "managedFields"), r->tok, r->ntok);
	if (rc < 0 || order_read(&d, 0, &key, &fresh) < 0) {
		failed(o, "get-order", rc < 0 ? rc : PZ_EJSON, st);
		return -1;
	}
	if (memcmp(fresh.uid, s->o.uid, 16) != 0 || fresh.generation != s->o.generation || fresh.spec_err) {
		/* Replaced or edited since the event we hold: take the fresh view (keeping what we know
		 * of the Pod) and decide again. */
		fresh.pod_phase = s->o.pod_phase;
		fresh.pod_gen = s->o.pod_gen;
		fresh.pod_deleting = s->o.pod_deleting;
		fresh.pod_owned = memcmp(fresh.uid, s->o.uid, 16) == 0 && s->o.pod_owned;
		fresh.failures = s->o.failures;
		s->o = fresh;
		return CREATE_DECIDE_AGAIN;
	}
	json_w_init(&w, r->body, sizeof r->body);
	body_len = order_pod_body(&w, s, &d, json_get(&d, 0, "spec"), &r->cfg->oven);
	if (body_len < 0) {
		failed(o, "pod-body", body_len, 0);
		return -1;
	}
	snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", s->ns);
	st = kube_call(r->api, &r->link, "POST", path, "application/json", r->body, (size_t)body_len,
		r->resp, r->resp_cap, &len);
	if (st == 201 || st == 200) {
		r->pods_created++;
		s->o.pod_phase = POD_PENDING;
		s->o.pod_gen = s->o.generation;
		s->o.pod_owned = 1;
		s->o.pod_deleting = 0;
		return CREATE_DONE;
	}
	if (st == 409) {
		/* It exists though no event told us (we restarted, or the watch lags): look at it. */
		if (refresh_pod(r, s, o) < 0)
			return -1;
		return CREATE_DECIDE_AGAIN;
	}
	if (st > 0)
		status_message(r, len, o);
	failed(o, "create-pod", st < 0 ? st : PZ_ESTATUS, st);
	return -1;
}

static int delete_pod(struct reconciler *r, struct table_slot *s, struct outcome *o)
{
	char path[256];
	size_t len = 0;
	int st;

	pod_path(path, sizeof path, s);
	st = kube_call(r->api, &r->link, "DELETE", path, NULL, NULL, 0, r->resp, r->resp_cap, &len);
	if (st == 200 || st == 202) {
		r->pods_deleted++;
		s->o.pod_deleting = 1;
		return 0;
	}
	if (st == 404) {
		s->o.pod_phase = POD_NONE;
		return 0;
	}
	if (st > 0)
		status_message(r, len, o);
	failed(o, "delete-pod", st < 0 ? st : PZ_ESTATUS, st);
	return -1;
}

static int write_status(struct reconciler *r, struct table_slot *s, const struct order_decision *dc,
	struct outcome *o)
{
	char path[256];
	size_t len = 0;
	struct json_w w;
	int n, st;

	json_w_init(&w, r->body, sizeof r->body);
	n = order_status_patch(&w, s, dc, pz_wall_s());
	if (n < 0) {
		failed(o, "status-body", n, 0);
		return -1;
	}
	snprintf(path, sizeof path, "/apis/" ORDER_API_VERSION "/namespaces/%s/pizzaorders/%s/status", s->ns, s->name);
	st = kube_call(r->api, &r->link, "PATCH", path, "application/merge-patch+json", r->body, (size_t)n,
		r->resp, r->resp_cap, &len);
	if (st == 200) {
		r->status_writes++;
		/* Record what we wrote: a reconcile before our own MODIFIED event arrives must not
		 * write the same status again. */
		if (s->o.ready_status != dc->ready || s->o.ready_since == 0)
			s->o.ready_since = pz_wall_s();
		s->o.status_hash = dc->hash;
		s->o.status_phase = dc->phase;
		s->o.status_gen = s->o.generation;
		s->o.ready_status = dc->ready;
		return 0;
	}
	if (st == 404) {
		o->what = "order-gone";
		return 0;
	}
	if (st > 0)
		status_message(r, len, o);
	failed(o, "update-status", st < 0 ? st : PZ_ESTATUS, st);
	return -1;
}

enum reconcile_result reconcile_run(struct reconciler *r, int i, int64_t now)
{
	struct table_slot *s = &r->table->slot[i];
	struct order_decision dc;
	struct outcome o;
	int changed = 0, rc = 0;

	memset(&o, 0, sizeof o);
	r->runs++;
	/* A decision may need a fresh look (a 409 on create, a replaced order): decide again, at
	 * most three times, so a flapping object cannot spin us here. */
	for (int round = 0; round < 3; round++) {
		order_decide(s, &dc);
		if (dc.action == ACT_CREATE_POD) {
			rc = create_pod(r, s, &o);
			if (rc == CREATE_ORDER_GONE)
				break;
			if (rc == CREATE_DECIDE_AGAIN)
				continue;
			if (rc < 0)
				break;
			changed = 1;
			o.what = "pod-created";
		} else if (dc.action == ACT_DELETE_POD) {
			rc = delete_pod(r, s, &o);
			if (rc < 0)
				break;
			changed = 1;
			o.what = "pod-deleted";
		}
		if (dc.write_status) {
			rc = write_status(r, s, &dc, &o);
			if (rc < 0)
				break;
			changed = 1;
			if (!o.what)
				o.what = "status-updated";
		}
		break;
	}
	if (rc < 0) {
		int64_t delay = r->cfg->backoff_base_ms << (s->o.failures < 20 ? s->o.failures : 20);
		if (delay > r->cfg->backoff_max_ms || delay <= 0)
			delay = r->cfg->backoff_max_ms;
		if (s->o.failures < 255)
			s->o.failures++;
		r->errors++;
		table_schedule(r->table, i, now + delay);
		log_line(LOG_ERROR, "msg=reconcile ns=%s name=%s result=error step=%s http=%d error=\"%s\" "
			"detail=\"%s\" retry_in_ms=%lld", s->ns, s->name, o.what, o.status, pz_strerror(o.code),
			o.detail, (long long)delay);
		return RESULT_ERROR;
	}
	s->o.failures = 0;
	table_schedule(r->table, i, now + r->cfg->resync_ms);
	log_line(changed ? LOG_INFO : LOG_DEBUG, "msg=reconcile ns=%s name=%s result=%s phase=%s generation=%lld",
		s->ns, s->name, o.what ? o.what : "unchanged", order_phase_name(dc.phase),
		(long long)s->o.generation);
	return changed ? RESULT_CHANGED : RESULT_UNCHANGED;
}
