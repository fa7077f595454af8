/*
 * reconcile.c - the reconcile workers: decide, call, record, reschedule, log (see reconcile.h).
 */
#include "fmt.h"
#include "reconcile.h"
#include "tls.h"
#include "log.h"
#include "metrics.h"
#include "pz.h"
#include "toppings.h"

#include <stdio.h>
#include <string.h>

void reconciler_init(struct reconciler *r, struct kube_api *api, struct table *t,
	const struct reconcile_config *cfg, char *resp, size_t resp_cap, jsmntok_t *tok, unsigned ntok,
	struct reconcile_worker *workers, unsigned nworkers)
{
	memset(r, 0, sizeof *r);
	r->api = api;
	r->table = t;
	r->cfg = cfg;
	r->resp = resp;
	r->resp_cap = resp_cap;
	r->resp_owner = -1;
	r->tok = tok;
	r->ntok = ntok;
	r->w = workers;
	r->nworkers = nworkers;
	for (unsigned k = 0; k < nworkers; k++) {
		/* only the head of each worker is written here: the rest is touched on first use */
		workers[k].slot = -1;
		workers[k].step = STEP_FREE;
		kube_link_init(&workers[k].link);
	}
}

static void uuid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t a = pz_rand(), b = pz_rand();
	int k = 0;
	for (int i = 0; i < 32; i++) {
		uint64_t *src = i < 16 ? &a : &b;
		unsigned nib = (unsigned)(*src & 15);
		*src >>= 4;
		if (i == 12)
			nib = 4; /* version 4 */
		if (i == 16)
			nib = 8 | (nib & 3); /* variant 10xx */
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[k++] = '-';
		out[k++] = hex[nib];
	}
	out[k] = 0;
}

static void failed(struct reconcile_worker *w, const char *what, int code, int status)
{
	w->what = what;
	w->code = code;
	w->status = status;
	/* kept: a later call on this link (the ReconcileError status) must not erase "try later" */
	w->retry_after_ms = w->link.retry_after_ms;
}

/* The API server's Status message from a failed call's answer, for the log. */
static void status_message(struct reconciler *r, struct reconcile_worker *w, const char *body, size_t len)
{
	struct json_doc d;
	if (json_parse(&d, body, len, r->tok, r->ntok) > 0 &&
	    json_str(&d, json_get(&d, 0, "message"), w->detail, sizeof w->detail) < 0)
		w->detail[0] = 0;
}

/* Names are DNS names (order_read and order_read_pod accept nothing else), so paths need no
 * escaping; a slot that breaks that is a bug, and aborts rather than reach the wire. */
static void order_path(char *out, size_t cap, const struct table_slot *s, const char *sub)
{
	PZ_ASSERT(order_dns_name_ok(s->ns, 0) && order_dns_name_ok(s->name, 1));
	pz_snprintf(out, cap, "/apis/" ORDER_API_VERSION "/namespaces/%s/pizzaorders/%s%s", s->ns, s->name, sub);
}

static void pod_path(char *out, size_t cap, const struct table_slot *s)
{
	PZ_ASSERT(order_dns_name_ok(s->ns, 0) && order_dns_name_ok(s->name, 1));
	pz_snprintf(out, cap, "/api/v1/namespaces/%s/pods/%s" ORDER_POD_SUFFIX, s->ns, s->name);
}

static int start_call(struct reconciler *r, struct reconcile_worker *w, enum reconcile_step step,
	const char *method, const char *path, const char *ctype, size_t body_len, int big, int64_t now)
{
	int rc = kube_link_start(&w->link, r->api, method, path, ctype, ctype ? w->body : NULL, body_len,
		LINK_CALL, big ? r->resp : w->out, big ? r->resp_cap : sizeof w->out, now);
	if (rc < 0) {
		w->link.error = rc;
		return rc;
	}
	w->step = step;
	/* Not stepped here: reconcile_step sends it (sends_now) or the loop does once the fd is
	 * ready, so a call that completes is always seen by reconcile_step. */
	return 0;
}


/* A write may start: the leader-election gate. */
static int may_write(struct reconciler *r, int64_t now)
{
	if (!r->may_write || r->may_write(r->may_write_arg, now))
		return 1;
	r->writes_refused++;
	return 0;
}

static void finish(struct reconciler *r, unsigned k, int64_t now);

static void event(struct reconciler *r, const struct table_slot *s, enum event_type type, const char *reason,
	const char *message, int64_t now)
{
	if (r->events)
		events_record(r->events, s, type, reason, message, now);
}

/* The status in w->dc, applied to the status subresource (server-side apply). STEP_STATUS is the
 * decision's own write; STEP_ERROR_STATUS shows a failure on the object and then finishes it. */
static void start_status(struct reconciler *r, unsigned k, enum reconcile_step step, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	struct table_slot *s = &r->table->slot[w->slot];
	struct json_w jw;
	char path[256];
	int n;

	w->step = step; /* a failure below finishes in this step, so an error status is tried once */
	/* Our own write's watch event may be read before its answer: compare with this. */
	w->phase_before = s->o.status_phase;
	if (!may_write(r, now)) {
		if (step == STEP_STATUS)
			w->what = w->what ? w->what : "not-leader";
		finish(r, k, now);
		return;
	}
	json_w_init(&jw, w->body, sizeof w->body);
	n = order_status_patch(&jw, s, &w->dc, pz_wall_s());
	if (n < 0) {
		if (step == STEP_STATUS)
			failed(w, "status-body", n, 0);
		finish(r, k, now);
		return;
	}
	order_path(path, sizeof path, s, "/status" ORDER_STATUS_APPLY_QUERY);
	n = start_call(r, w, step, "PATCH", path, ORDER_STATUS_APPLY_TYPE, (size_t)n, 0, now);
	if (n < 0) {
		if (step == STEP_STATUS)
			failed(w, "update-status", n, 0);
		finish(r, k, now);
	}
}

/* Pod body from the slot's interned toppings, then POST. */
static int start_create(struct reconciler *r, unsigned k, const char *tops, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	struct table_slot *s = &r->table->slot[w->slot];
	struct json_w jw;
	char path[160];
	int n;

	json_w_init(&jw, w->body, sizeof w->body);
	n = order_pod_body(&jw, s, tops, &r->cfg->oven);
	if (n < 0) {
		failed(w, "pod-body", n, 0);
		return -1;
	}
	PZ_ASSERT(order_dns_name_ok(s->ns, 0));
	pz_snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", s->ns);
	n = start_call(r, w, STEP_CREATE, "POST", path, "application/json", (size_t)n, 0, now);
	if (n < 0) {
		failed(w, "create-pod", n, 0);
		return -1;
	}
	return 0;
}

/* Takes the shared object buffer for a full GET; 0 when another worker holds it (try later). */
static int take_resp(struct reconciler *r, unsigned k)
{
	if (r->resp_owner >= 0 && r->resp_owner != (int)k)
		return 0;
	r->resp_owner = (int)k;
	return 1;
}

static void drop_resp(struct reconciler *r, unsigned k)
{
	if (r->resp_owner == (int)k)
		r->resp_owner = -1;
}

/* Decides what the slot needs and starts the first call, or finishes. */
static void decide(struct reconciler *r, unsigned k, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	struct table_slot *s = &r->table->slot[w->slot];
	char path[256];

	if (s->gone) {
		w->what = "order-gone";
		finish(r, k, now);
		return;
	}
	if (w->round++ >= RECONCILE_ROUNDS) {
		failed(w, "decide", PZ_ECONFLICT, 0);
		pz_snprintf(w->detail, sizeof w->detail, "the order or its Pod changed %d times during one reconcile",
			RECONCILE_ROUNDS);
		finish(r, k, now);
		return;
	}
	order_decide(s, &w->dc);
	if (w->dc.action == ACT_CREATE_POD) {
		char tops[ORDER_TOPPINGS_TEXT_MAX + 1];
		size_t tl = 0;
		if (!may_write(r, now)) {
			w->what = "not-leader";
			finish(r, k, now);
			return;
		}
		if (!s->o.toppings_known) {
			/* toppings not interned: read the spec itself */
			if (!take_resp(r, k)) {
				w->step = STEP_GET_ORDER; /* waits for the buffer; stepped again next turn */
				if (w->link.state == LINK_DONE)
					w->link.state = LINK_IDLE; /* the connection stays kept alive */
				w->round--;
				return;
			}
			order_path(path, sizeof path, s, "");
			if (start_call(r, w, STEP_GET_ORDER, "GET", path, NULL, 0, 1, now) < 0) {
				drop_resp(r, k);
				failed(w, "get-order", w->link.error, 0);
				finish(r, k, now);
			}
			return;
		}
		tops[0] = 0;
		for (int t = 0; t < s->o.ntoppings && t < (int)sizeof s->o.topping_ids; t++) {
			size_t len;
			const char *name = toppings_get(s->o.topping_ids[t], &len);
			if (tl)
				tops[tl++] = ',';
			memcpy(tops + tl, name, len);
			tl += len;
			tops[tl] = 0;
		}
		if (start_create(r, k, tops, now) < 0)
			finish(r, k, now);
		return;
	}
	if (w->dc.action == ACT_DELETE_POD) {
		if (!may_write(r, now)) {
			w->what = "not-leader";
			finish(r, k, now);
			return;
		}
		pod_path(path, sizeof path, s);
		if (start_call(r, w, STEP_DELETE, "DELETE", path, NULL, 0, 0, now) < 0) {
			failed(w, "delete-pod", w->link.error, 0);
			finish(r, k, now);
		}
		return;
	}
	if (w->dc.write_status) {
		start_status(r, k, STEP_STATUS, now);
		return;
	}
	finish(r, k, now);
}

/* After a Pod was created or deleted: the status, when the decision wants one written (decide()
 * would pick the same status write: the decision stands, only the Pod changed). */
static void after_pod_change(struct reconciler *r, unsigned k, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	w->changed = 1;
	if (w->dc.write_status && !r->table->slot[w->slot].gone) {
		w->dc.action = ACT_NONE;
		start_status(r, k, STEP_STATUS, now);
		return;
	}
	finish(r, k, now);
}

/* Record what a status write put on the order: a reconcile before our own MODIFIED event arrives
 * must not write the same status again. */
static void record_status(struct reconciler *r, struct table_slot *s, const struct reconcile_worker *w)
{
	r->status_writes++;
	if (s->o.ready_status != w->dc.ready || s->o.ready_since == 0)
		s->o.ready_since = pz_wall_s();
	s->o.status_hash = w->dc.hash;
	s->o.status_phase = w->dc.phase;
	s->o.ready_status = w->dc.ready;
}

/* A write the API server answered with an unexpected status: its message for the log, then the
 * failure path. */
static void api_error(struct reconciler *r, unsigned k, const char *what, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	status_message(r, w, w->out, w->link.out_len);
	failed(w, what, PZ_ESTATUS, w->link.status);
	finish(r, k, now);
}

/* A call finished (status in w->link.status, body in w->out or r->resp). */
static void call_done(struct reconciler *r, unsigned k, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	struct table_slot *s = &r->table->slot[w->slot];
	int st = w->link.status;
	char path[256];

	switch (w->step) {
	case STEP_GET_ORDER: {
		struct json_doc d;
		struct order_key key;
		struct order_state fresh = s->o;
		char tops[ORDER_TOPPINGS_TEXT_MAX + 1];
		size_t len = w->link.out_len;
		int rc;
		if (st == 404) {
			drop_resp(r, k);
			w->what = "order-gone"; /* deleted meanwhile: its DELETED event frees the slot */
			finish(r, k, now);
			return;
		}
		if (st != 200 || w->link.out_truncated) {
			drop_resp(r, k);
			failed(w, "get-order", st != 200 ? PZ_ESTATUS : PZ_ETOOBIG, st);
			finish(r, k, now);
			return;
		}
		rc = json_parse(&d, r->resp, json_drop_member(r->resp, len, "managedFields"), r->tok, r->ntok);
		if (rc < 0 || order_read(&d, 0, &key, &fresh) < 0) {
			drop_resp(r, k);
			failed(w, "get-order", rc < 0 ? rc : PZ_EJSON, st);
			finish(r, k, now);
			return;
		}
		if (memcmp(fresh.uid, s->o.uid, 16) != 0 || fresh.generation != s->o.generation || fresh.spec_err) {
			/* Replaced or edited since the event we hold: take the fresh view (keeping what we
			 * know of the Pod) and decide again. */
			fresh.pod_phase = s->o.pod_phase;
			fresh.pod_gen = s->o.pod_gen;
			fresh.pod_deleting = s->o.pod_deleting;
			fresh.pod_owned = memcmp(fresh.uid, s->o.uid, 16) == 0 && s->o.pod_owned;
			fresh.failures = s->o.failures;
			fresh.toppings_known = 0;
			memcpy(fresh.topping_ids, s->o.topping_ids, sizeof fresh.topping_ids); /* still held */
			s->o = fresh;
			drop_resp(r, k);
			decide(r, k, now);
			return;
		}
		rc = order_toppings_text(&d, json_get(&d, 0, "spec"), tops, sizeof tops);
		drop_resp(r, k);
		if (rc < 0) {
			failed(w, "pod-body", rc, st);
			finish(r, k, now);
			return;
		}
		if (!may_write(r, now)) {
			w->what = "not-leader";
			finish(r, k, now);
			return;
		}
		if (start_create(r, k, tops, now) < 0)
			finish(r, k, now);
		return;
	}
	case STEP_CREATE:
		if (st == 201 || st == 200) {
			r->pods_created++;
			s->o.pod_phase = POD_PENDING;
			s->o.pod_gen = s->o.generation;
			s->o.pod_owned = 1;
			s->o.pod_deleting = 0;
			w->what = "pod-created";
			{
				char msg[TABLE_NAME_MAX + 32];
				pz_snprintf(msg, sizeof msg, "created oven Pod %s" ORDER_POD_SUFFIX, s->name);
				event(r, s, EVENT_NORMAL, "OvenCreated", msg, now);
			}
			after_pod_change(r, k, now);
			return;
		}
		if (st == 409) {
			/* It exists though no event told us (the watch lags, or a foreign Pod has the name):
			 * look at it, then decide again. */
			if (!take_resp(r, k)) {
				w->step = STEP_GET_POD;
				w->link.state = LINK_IDLE; /* waits for the buffer (link kept alive) */
				return;
			}
			pod_path(path, sizeof path, s);
			if (start_call(r, w, STEP_GET_POD, "GET", path, NULL, 0, 1, now) < 0) {
				drop_resp(r, k);
				failed(w, "get-pod", w->link.error, 0);
				finish(r, k, now);
			}
			return;
		}
		api_error(r, k, "create-pod", now);
		return;
	case STEP_GET_POD: {
		struct json_doc d;
		struct order_key key;
		int64_t gen;
		uint8_t phase, deleting, owner[16];
		if (st == 404) {
			/* 409 on create, then 404: it was being deleted. Not silent: decide again, logged. */
			drop_resp(r, k);
			log_begin(LOG_INFO, "oven Pod existed on create but is gone on read; deciding again");
			log_object(s->ns, s->name, w->id);
			log_end();
			s->o.pod_phase = POD_NONE;
			decide(r, k, now);
			return;
		}
		if (st != 200 || w->link.out_truncated ||
		    json_parse(&d, r->resp, w->link.out_len, r->tok, r->ntok) < 0 ||
		    order_read_pod(&d, 0, &key, &phase, &gen, &deleting, owner) < 0) {
			drop_resp(r, k);
			failed(w, "get-pod", st != 200 ? PZ_ESTATUS : PZ_EJSON, st);
			finish(r, k, now);
			return;
		}
		drop_resp(r, k);
		s->o.pod_phase = phase;
		s->o.pod_gen = gen;
		s->o.pod_deleting = deleting;
		s->o.pod_owned = memcmp(owner, s->o.uid, 16) == 0;
		decide(r, k, now);
		return;
	}
	case STEP_DELETE:
		if (st == 200 || st == 202 || st == 404) {
			if (st == 404) {
				s->o.pod_phase = POD_NONE;
			} else {
				r->pods_deleted++;
				s->o.pod_deleting = 1;
			}
			w->what = "pod-deleted";
			after_pod_change(r, k, now);
			return;
		}
		api_error(r, k, "delete-pod", now);
		return;
	case STEP_STATUS:
		if (st == 200) {
			/* An Event for each phase the order reaches, as the status shows it. */
			if (w->dc.phase != w->phase_before) {
				if (w->dc.phase == PHASE_BAKING)
					event(r, s, EVENT_NORMAL, "Baking", w->dc.message, now);
				else if (w->dc.phase == PHASE_READY)
					event(r, s, EVENT_NORMAL, "Baked", w->dc.message, now);
				else if (w->dc.phase == PHASE_FAILED)
					event(r, s, EVENT_WARNING, strcmp(w->dc.reason, "InvalidSpec") == 0 ? "InvalidSpec"
						: "OvenFailed", w->dc.message, now);
			}
			record_status(r, s, w);
			s->o.status_gen = s->o.generation;
			w->changed = 1;
			if (!w->what)
				w->what = "status-updated";
			finish(r, k, now);
			return;
		}
		if (st == 404) {
			w->what = "order-gone";
			finish(r, k, now);
			return;
		}
		api_error(r, k, "update-status", now);
		return;
	case STEP_ERROR_STATUS:
		if (st == 200)
			record_status(r, s, w);
		finish(r, k, now); /* the reconcile's own failure is what is logged and retried */
		return;
	case STEP_FREE:
	case STEP_EVENT: /* reconcile_step ends Event writes itself */
		break;
	}
	PZ_BUG("reconcile step");
}

/* What failed, in words, bounded: for the status message and the ReconcileError Event. */
static void failure_message(const struct reconcile_worker *w, char *msg, size_t cap)
{
	if (w->status > 0)
		pz_snprintf(msg, cap, "%s failed: HTTP %d%s%s", w->what, w->status, w->detail[0] ? ": " : "", w->detail);
	else
		pz_snprintf(msg, cap, "%s failed: %s", w->what, pz_strerror(w->code));
}

/* Starts worker k's write of w->ev: 0, or -1 when it could not start (the Event is dropped,
 * counted as failed). */
static int send_event(struct reconciler *r, unsigned k, int force_create, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	if (events_start(r->events, &w->ev, force_create, &w->link, w->body, sizeof w->body, w->out, sizeof w->out,
			&w->ev_patch, now) < 0)
		return -1;
	w->step = STEP_EVENT;
	return 0;
}

/* Worker k, its order handed back: sends the next queued Event (see reconcile.h), or is free. */
static void next_event_or_free(struct reconciler *r, unsigned k, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	while (r->events && w->ev_sent < RECONCILE_EVENTS_PER_RUN &&
	       (!r->may_write || r->may_write(r->may_write_arg, now)) && events_take(r->events, &w->ev)) {
		w->ev_sent++;
		if (send_event(r, k, 0, now) == 0)
			return;
	}
	w->step = STEP_FREE;
	r->active--;
}

static void finish(struct reconciler *r, unsigned k, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	struct table_slot *s = &r->table->slot[w->slot];
	int gone = s->gone;

	drop_resp(r, k);
	if (w->code < 0 && !gone && w->step != STEP_ERROR_STATUS && w->status != 429 && w->status != 503) {
		/* Show the failure on the object (Ready=False, ReconcileError), once per distinct
		 * failure: a retry that fails the same way finds the status already saying so. Not
		 * when the server said to slow down (429, 503): a write 5 ms later ignores it. */
		char msg[ORDER_MESSAGE_MAX];
		struct order_decision edc;
		failure_message(w, msg, sizeof msg);
		order_decide_error(s, msg, &edc);
		if (edc.write_status) {
			w->dc = edc;
			start_status(r, k, STEP_ERROR_STATUS, now);
			return;
		}
	}
	if (w->code < 0 && !gone) {
		int64_t delay = r->cfg->backoff_base_ms << (s->o.failures < 20 ? s->o.failures : 20);
		if (delay > r->cfg->backoff_max_ms || delay <= 0)
			delay = r->cfg->backoff_max_ms;
		if (w->retry_after_ms > delay)
			delay = w->retry_after_ms; /* the server said when (429/503 Retry-After) */
		if (s->o.failures < 255)
			s->o.failures++;
		r->errors++;
		{
			char msg[ORDER_MESSAGE_MAX];
			failure_message(w, msg, sizeof msg);
			event(r, s, EVENT_WARNING, "ReconcileError", msg, now);
		}
		log_begin(LOG_ERROR, "reconcile failed");
		log_object(s->ns, s->name, w->id);
		log_str("step", w->what);
		log_int("http", w->status);
		log_err(w->code);
		if (w->link.conn.tls_error) { /* why the connection failed: expired, wrong name, ... */
			log_int("tls", w->link.conn.tls_error);
			log_str("tls_error", tls_strerror(w->link.conn.tls_error));
			w->link.conn.tls_error = 0;
		}
		log_str("detail", w->detail);
		log_int("retry_in_ms", delay);
		log_end();
		table_schedule(r->table, w->slot, now + delay);
		metrics_queue_retry();
		metrics_work_done(k, pz_now_us(), METRICS_ERROR);
	} else if (gone) {
		metrics_work_done(k, pz_now_us(), METRICS_SUCCESS);
		table_schedule(r->table, w->slot, now); /* frees the slot */
	} else {
		int not_leader = w->what && strcmp(w->what, "not-leader") == 0;
		s->o.failures = 0;
		log_begin(w->changed ? LOG_INFO : LOG_DEBUG, "reconciled");
		log_object(s->ns, s->name, w->id);
		log_str("result", w->what ? w->what : "unchanged");
		log_str("phase", order_phase_name(w->dc.phase));
		log_int("generation", s->o.generation);
		log_end();
		/* Not the leader: hand it back due now; a new leader (maybe us) takes it up. */
		table_schedule(r->table, w->slot, not_leader ? now : now + r->cfg->resync_ms);
		metrics_work_done(k, pz_now_us(), not_leader ? METRICS_REQUEUE : METRICS_SUCCESS);
	}
	w->slot = -1;
	if (w->link.state == LINK_DONE)
		w->link.state = LINK_IDLE;
	w->ev_sent = 0;
	next_event_or_free(r, k, now);
}

/* The worker's request waits on a kept-alive connection: it can go out now, without a poll. */
static int sends_now(const struct reconcile_worker *w)
{
	return w->step != STEP_FREE && w->link.state == LINK_SEND;
}

int reconcile_start(struct reconciler *r, int i, int64_t now)
{
	/* The promise of this module: an order is never reconciled twice at once. table_pop_due only
	 * hands out slots that are not RUNNING; this check makes a breach abort, not corrupt. */
	for (unsigned k = 0; k < r->nworkers; k++)
		PZ_ASSERT(r->w[k].slot != i);
	PZ_ASSERT(r->table->slot[i].state == SLOT_RUNNING);
	for (unsigned k = 0; k < r->nworkers; k++) {
		struct reconcile_worker *w = &r->w[k];
		if (w->step != STEP_FREE)
			continue;
		w->slot = i;
		w->round = 0;
		w->changed = 0;
		w->started_ms = now;
		w->what = NULL;
		w->code = 0;
		w->status = 0;
		w->retry_after_ms = -1;
		w->detail[0] = 0;
		uuid(w->id);
		metrics_work_start(k, pz_now_us());
		r->active++;
		r->runs++;
		decide(r, k, now);
		if (sends_now(w))
			reconcile_step(r, k, now);
		return (int)k;
	}
	return -EBUSY;
}

/* One move of worker k: what its link allows now, and what follows from a call that ended. */
static void step_once(struct reconciler *r, unsigned k, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	int rc;

	if (w->step == STEP_FREE)
		return;
	if (w->link.state == LINK_IDLE) {
		/* waiting for the shared object buffer (see take_resp) */
		if (w->step == STEP_GET_ORDER) {
			decide(r, k, now);
		} else if (w->step == STEP_GET_POD && take_resp(r, k)) {
			char path[256];
			pod_path(path, sizeof path, &r->table->slot[w->slot]);
			if (start_call(r, w, STEP_GET_POD, "GET", path, NULL, 0, 1, now) < 0) {
				drop_resp(r, k);
				failed(w, "get-pod", w->link.error, 0);
				finish(r, k, now);
			}
		}
		return;
	}
	rc = kube_link_step(&w->link, r->api, now);
	if (rc == 0)
		return;
	if (w->step == STEP_EVENT) {
		if (rc > 0)
			w->link.state = LINK_IDLE;
		if (events_done(r->events, &w->ev, w->ev_patch, rc > 0 ? w->link.status : -1) &&
		    send_event(r, k, 1, now) == 0)
			return;
		next_event_or_free(r, k, now);
		return;
	}
	if (rc < 0) {
		static const char *const names[] = { "", "get-order", "create-pod", "get-pod", "delete-pod", "update-status" };
		drop_resp(r, k);
		if (w->step != STEP_ERROR_STATUS)
			failed(w, names[w->step], rc, 0);
		finish(r, k, now);
		return;
	}
	call_done(r, k, now);
}

void reconcile_step(struct reconciler *r, unsigned k, int64_t now)
{
	struct reconcile_worker *w = &r->w[k];
	/* A call that ends usually starts the next one on the same kept-alive connection: it goes out
	 * in this turn, since a writable socket needs no poll to say so (one loop turn saved per
	 * request). Its answer cannot be there yet, so the next move waits; the bound is a backstop. */
	for (int n = 0; n < RECONCILE_MOVES_PER_STEP; n++) {
		step_once(r, k, now);
		if (!sends_now(w))
			return;
	}
}

void reconcile_abandon_all(struct reconciler *r, int64_t now)
{
	for (unsigned k = 0; k < r->nworkers; k++) {
		struct reconcile_worker *w = &r->w[k];
		kube_link_close(&w->link);
		if (w->step == STEP_FREE)
			continue;
		if (w->step == STEP_EVENT) {
			events_done(r->events, &w->ev, w->ev_patch, -1); /* abandoned: counted as failed */
		} else {
			drop_resp(r, k);
			table_schedule(r->table, w->slot, now);
			metrics_work_done(k, pz_now_us(), METRICS_REQUEUE);
		}
		w->slot = -1;
		w->step = STEP_FREE;
		r->active--;
	}
}
