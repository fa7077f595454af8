/*
 * watch.c - list and watch one resource (see watch.h).
 */
#include "watch.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>

void watch_init(struct watch *w, const char *resource, const char *path, const char *selector,
	char *obj, size_t obj_cap, jsmntok_t *tok, unsigned ntok, const struct watch_handler *h, void *arg)
{
	memset(w, 0, sizeof *w);
	w->resource = resource;
	snprintf(w->path, sizeof w->path, "%s", path);
	snprintf(w->selector, sizeof w->selector, "%s", selector ? selector : "");
	w->state = WATCH_IDLE;
	w->need_list = 1;
	w->obj = obj;
	w->obj_cap = obj_cap;
	w->tok = tok;
	w->ntok = ntok;
	w->h = h;
	w->arg = arg;
	kube_link_init(&w->link);
}

static void back_off(struct watch *w, int64_t now, int code, const char *why)
{
	int64_t delay = WATCH_BACKOFF_MIN_MS << (w->failures < 10 ? w->failures : 10);
	if (delay > WATCH_BACKOFF_MAX_MS)
		delay = WATCH_BACKOFF_MAX_MS;
	/* full jitter in [delay/2, delay]: reconnecting controllers must not stampede a restarted server */
	delay = delay / 2 + (int64_t)(pz_rand() % (uint64_t)(delay / 2 + 1));
	w->failures++;
	w->restarts++;
	w->last_error = code;
	snprintf(w->detail, sizeof w->detail, "%s", why);
	kube_link_close(&w->link);
	w->state = WATCH_IDLE;
	w->wake_ms = now + delay;
}

void watch_request_relist(struct watch *w, int64_t now)
{
	w->need_list = 1;
	if (w->state == WATCH_STREAM)
		kube_link_close(&w->link);
	w->state = WATCH_IDLE;
	if (w->wake_ms > now)
		w->wake_ms = now;
}

/* Reads a short error body (a Status object) to name the failure. */
static void read_status_body(struct watch *w)
{
	const char *d;
	size_t n = 0;
	int rc;
	while ((rc = kube_stream_read(&w->link, &d, pz_now_ms() + 2000)) > 0) {
		size_t take = (size_t)rc < sizeof w->detail - 1 - n ? (size_t)rc : sizeof w->detail - 1 - n;
		memcpy(w->detail + n, d, take);
		n += take;
	}
	w->detail[n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)w->detail[i] < 0x20)
			w->detail[i] = ' ';
	kube_link_close(&w->link);
}

static int status_code_of(const struct json_doc *d, int status)
{
	int64_t code = 0;
	json_int(d, json_get(d, status, "code"), &code);
	return (int)code;
}

/* Feeds the span (*data, *n) to the frame up to the next object. Returns FRAME_OBJECT or
 * FRAME_LIST_META with *len the object's length in w->obj (managedFields dropped in place),
 * FRAME_NONE when the span is used up, or a negative code. Oversized objects are counted and
 * skipped here: the stream itself is still in step. */
static int next_object(struct watch *w, const char **data, int *n, size_t *len)
{
	while (*n > 0) {
		struct frame_out out;
		int used = frame_feed(&w->fr, *data, (size_t)*n, &out);
		if (used < 0)
			return used;
		*data += used;
		*n -= used;
		if (out.kind == FRAME_OVERSIZED) {
			w->oversized++;
			snprintf(w->detail, sizeof w->detail, "an object of %zu bytes exceeds --max-object-bytes=%zu "
				"and was skipped", out.len, w->obj_cap);
		} else if (out.kind == FRAME_OBJECT || out.kind == FRAME_LIST_META) {
			*len = json_drop_member(w->obj, out.len, "managedFields");
			return out.kind;
		}
	}
	return FRAME_NONE;
}

static int list(struct watch *w, struct kube_api *api)
{
	char path[sizeof w->path + sizeof w->selector + WATCH_CONTINUE_MAX * 3 + 64];
	char cont[WATCH_CONTINUE_MAX], esc[WATCH_CONTINUE_MAX * 3];
	char rv[WATCH_RV_MAX] = "";
	int64_t give_up = pz_now_ms() + WATCH_LIST_TIMEOUT_MS;
	int rc;

	w->epoch++;
	cont[0] = 0;
	for (;;) {
		esc[0] = 0;
		if (cont[0] && kube_query_escape(esc, sizeof esc, cont) < 0)
			return PZ_ETOOBIG;
		snprintf(path, sizeof path, "%s?limit=%d%s%s%s%s", w->path, WATCH_PAGE_LIMIT,
			cont[0] ? "&continue=" : "", esc, w->selector[0] ? "&labelSelector=" : "", w->selector);
		rc = kube_stream_open(api, &w->link, path, pz_now_ms() + WATCH_READ_TIMEOUT_MS);
		if (rc < 0)
			return rc;
		if (rc != 200) {
			w->last_status = rc;
			read_status_body(w);
			if (rc == 410 && cont[0]) {
				/* The continue token expired mid-list: start the list over, as client-go does. */
				cont[0] = 0;
				w->epoch++;
				continue;
			}
			return PZ_ESTATUS;
		}
		frame_init(&w->fr, FRAME_LIST, w->obj, w->obj_cap);
		cont[0] = 0;
		for (;;) {
			const char *data;
			int64_t now = pz_now_ms();
			int n;
			if (now >= give_up) {
				snprintf(w->detail, sizeof w->detail, "the list took longer than %d s", WATCH_LIST_TIMEOUT_MS / 1000);
				return -ETIMEDOUT;
			}
			n = kube_stream_read(&w->link, &data, now + WATCH_READ_TIMEOUT_MS < give_up ?
				now + WATCH_READ_TIMEOUT_MS : give_up);
			if (n < 0)
				return n;
			if (n == 0)
				break;
			for (;;) {
				struct json_doc d;
				size_t len;
				int kind = next_object(w, &data, &n, &len);
				if (kind <= 0) {
					if (kind < 0)
						return kind;
					break;
				}
				rc = json_parse(&d, w->obj, len, w->tok, w->ntok);
				if (rc < 0) {
					/* a page that does not parse is a broken stream, unlike one oversized object */
					if (rc == PZ_ETOOBIG) {
						w->oversized++;
						snprintf(w->detail, sizeof w->detail, "a listed object with more than %u "
							"JSON tokens was skipped", w->ntok);
						continue;
					}
					return rc;
				}
				if (kind == FRAME_LIST_META) {
					if (json_get(&d, 0, "resourceVersion") >= 0 &&
					    json_str(&d, json_get(&d, 0, "resourceVersion"), rv, sizeof rv) <= 0)
						return PZ_EJSON;
					int c = json_get(&d, 0, "continue");
					if (c >= 0 && json_str(&d, c, cont, sizeof cont) < 0)
						return PZ_ETOOBIG;
				} else {
					w->h->object(w->arg, w, WATCH_LISTED, &d, 0);
				}
			}
		}
		if (!frame_at_boundary(&w->fr))
			return PZ_EJSON; /* the body ended inside the document */
		kube_link_close(&w->link);
		if (!cont[0])
			break;
	}
	if (!rv[0])
		return PZ_EJSON;
	memcpy(w->rv, rv, sizeof rv);
	w->lists++;
	w->need_list = 0;
	w->synced = 1;
	w->h->listed(w->arg, w);
	return 0;
}

static int open_watch(struct watch *w, struct kube_api *api, int64_t now)
{
	char path[sizeof w->path + sizeof w->selector + WATCH_RV_MAX + 128];
	int rc;

	/* 5 to 10 minutes, like client-go's reflector, so restarts spread out across controllers. */
	w->timeout_s = 300 + (int)(pz_rand() % 301);
	snprintf(path, sizeof path, "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d%s%s",
		w->path, w->rv, w->timeout_s, w->selector[0] ? "&labelSelector=" : "", w->selector);
	rc = kube_stream_open(api, &w->link, path, now + WATCH_READ_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	if (rc != 200) {
		w->last_status = rc;
		read_status_body(w);
		if (rc == 410) {
			w->need_list = 1;
			return PZ_EGONE;
		}
		return PZ_ESTATUS;
	}
	frame_init(&w->fr, FRAME_EVENTS, w->obj, w->obj_cap);
	w->state = WATCH_STREAM;
	w->last_data_ms = pz_now_ms();
	return 0;
}

/* One event line. Returns 0, PZ_EGONE (re-list) or another code (reconnect). */
static int event(struct watch *w, const char *data, size_t len)
{
	struct json_doc d;
	int rc, type, obj, rvt;
	enum watch_event ev;

	rc = json_parse(&d, data, len, w->tok, w->ntok);
	if (rc == PZ_ETOOBIG) {
		w->oversized++;
		snprintf(w->detail, sizeof w->detail, "an event with more than %u JSON tokens was skipped", w->ntok);
		return 0;
	}
	if (rc < 0)
		return rc;
	type = json_get(&d, 0, "type");
	obj = json_get(&d, 0, "object");
	if (type < 0 || obj < 0 || d.tok[obj].type != JSMN_OBJECT)
		return PZ_EJSON;
	if (json_eq(&d, type, "ERROR")) {
		int code = status_code_of(&d, obj);
		w->last_status = code;
		json_str(&d, json_get(&d, obj, "message"), w->detail, sizeof w->detail);
		if (code == 410) {
			w->need_list = 1;
			return PZ_EGONE;
		}
		return PZ_ESTATUS;
	}
	rvt = json_path(&d, obj, "metadata.resourceVersion");
	if (json_eq(&d, type, "ADDED"))
		ev = WATCH_ADDED;
	else if (json_eq(&d, type, "MODIFIED"))
		ev = WATCH_MODIFIED;
	else if (json_eq(&d, type, "DELETED"))
		ev = WATCH_DELETED;
	else if (json_eq(&d, type, "BOOKMARK"))
		ev = WATCH_LISTED; /* marker: no handler call */
	else
		return PZ_EJSON;
	/* The resourceVersion moves only once the event is accepted, so a re-watch resumes after it. */
	if (rvt < 0 || json_str(&d, rvt, w->rv, sizeof w->rv) <= 0)
		return PZ_EJSON;
	w->events++;
	if (ev != WATCH_LISTED)
		w->h->object(w->arg, w, ev, &d, obj);
	return 0;
}

static int stream(struct watch *w, int64_t now)
{
	int handled = 0;
	for (;;) {
		const char *data;
		int n = kube_stream_read(&w->link, &data, 0);
		if (n == -EAGAIN) {
			if (now - w->last_data_ms > (int64_t)w->timeout_s * 1000 + WATCH_IDLE_GRACE_MS)
				return -ETIMEDOUT;
			return 0;
		}
		if (n < 0)
			return n;
		if (n == 0) {
			/* The server ended the watch (its timeout): resume at once from our resourceVersion. */
			if (!frame_at_boundary(&w->fr))
				return PZ_EJSON;
			kube_link_close(&w->link);
			w->state = WATCH_IDLE;
			w->wake_ms = now;
			w->failures = 0;
			return 0;
		}
		w->last_data_ms = now;
		for (;;) {
			size_t len;
			int rc, kind = next_object(w, &data, &n, &len);
			if (kind <= 0) {
				if (kind < 0)
					return kind;
				break;
			}
			rc = event(w, w->obj, len);
			if (rc < 0)
				return rc;
			handled++;
			w->failures = 0;
		}
		/* Each span is consumed whole above, so stopping between spans loses nothing. */
		if (handled >= WATCH_EVENTS_PER_STEP)
			return 0;
	}
}

int watch_step(struct watch *w, struct kube_api *api, int64_t now)
{
	int rc = 0;

	if (w->state == WATCH_IDLE) {
		if (now < w->wake_ms)
			return 0;
		w->detail[0] = 0;
		w->last_status = 0;
		if (w->need_list) {
			rc = list(w, api);
			if (rc < 0) {
				kube_link_close(&w->link);
				back_off(w, pz_now_ms(), rc, w->detail[0] ? w->detail : "list failed");
				return rc;
			}
		}
		rc = open_watch(w, api, pz_now_ms());
		if (rc < 0) {
			back_off(w, pz_now_ms(), rc, w->detail[0] ? w->detail : "watch failed");
			if (rc == PZ_EGONE)
				w->wake_ms = pz_now_ms(); /* expired resourceVersion: re-list now, no penalty */
			return rc;
		}
		return 0;
	}
	rc = stream(w, now);
	if (rc < 0) {
		back_off(w, now, rc, w->detail[0] ? w->detail : "watch stream failed");
		if (rc == PZ_EGONE) {
			w->failures = 0;
			w->wake_ms = now;
		}
	}
	return rc;
}

int watch_fd(const struct watch *w)
{
	return w->state == WATCH_STREAM ? w->link.conn.fd : -1;
}

int64_t watch_deadline(const struct watch *w)
{
	if (w->state == WATCH_IDLE)
		return w->wake_ms;
	return w->last_data_ms + (int64_t)w->timeout_s * 1000 + WATCH_IDLE_GRACE_MS;
}

int watch_ready(const struct watch *w)
{
	return w->state == WATCH_STREAM && kube_link_pending(&w->link);
}
