/*
 * watch.c - list and watch one resource, never blocking (see watch.h).
 */
#include "fmt.h"
#include "watch.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>

void watch_init(struct watch *w, const char *resource, const char *path, const char *selector,
	char *obj, size_t obj_cap, jsmntok_t *tok, unsigned ntok, const struct watch_handler *h, void *arg)
{
	memset(w, 0, offsetof(struct watch, link));
	w->resource = resource;
	pz_snprintf(w->path, sizeof w->path, "%s", path);
	pz_snprintf(w->selector, sizeof w->selector, "%s", selector ? selector : "");
	w->state = WATCH_IDLE;
	w->need_list = 1;
	w->max_pages = 1000;
	w->timeout_min_s = WATCH_TIMEOUT_MIN_S;
	w->rate_tokens_milli = WATCH_RATE_BURST * 1000;
	w->obj = obj;
	w->obj_cap = obj_cap;
	w->tok = tok;
	w->ntok = ntok;
	w->h = h;
	w->arg = arg;
	kube_link_init(&w->link);
}

static void set_detail(struct watch *w, const char *why)
{
	if (why != w->detail) /* never copy a string onto itself: snprintf would empty it first */
		pz_snprintf(w->detail, sizeof w->detail, "%s", why);
}

/* Closes whatever is open and sleeps before the next request: 0.5 s doubling to 30 s, with jitter
 * in [delay/2, delay] so reconnecting controllers do not stampede a restarted server. */
static int back_off(struct watch *w, int64_t now, int code, const char *why)
{
	int64_t delay = (int64_t)WATCH_BACKOFF_MIN_MS << (w->failures < 10 ? w->failures : 10);
	if (delay > WATCH_BACKOFF_MAX_MS)
		delay = WATCH_BACKOFF_MAX_MS;
	delay = delay / 2 + (int64_t)(pz_rand() % (uint64_t)(delay / 2 + 1));
	if (code == PZ_EGONE && w->failures == 0)
		delay = 0; /* one expired resourceVersion re-lists at once; a second in a row backs off */
	if (w->link.retry_after_ms > delay)
		delay = w->link.retry_after_ms; /* the server said when (429/503 Retry-After) */
	if (w->link.cred_rotated)
		delay = 0; /* a 401 found a new token: new information, not a reason to wait */
	w->failures++;
	w->restarts++;
	w->last_error = code;
	if (code == PZ_EGONE)
		w->need_list = 1;
	set_detail(w, why);
	w->pages = 0; /* a list that failed starts over */
	kube_link_close(&w->link);
	w->state = WATCH_IDLE;
	w->wake_ms = now + delay;
	return code;
}

void watch_request_relist(struct watch *w, int64_t now)
{
	w->need_list = 1;
	if (w->state == WATCH_STREAM || w->state == WATCH_OPENING) {
		kube_link_close(&w->link);
		w->state = WATCH_IDLE;
		if (w->wake_ms > now)
			w->wake_ms = now;
	}
	/* WATCH_LIST: the list in progress is older than the request; listed() sees need_list set
	 * again and lists once more. WATCH_IDLE/ERROR: the next start lists. */
	if (w->state == WATCH_IDLE && w->wake_ms > now && w->failures == 0)
		w->wake_ms = now;
}

/* The token bucket: 1 and a token spent when a request may go now, else 0 and *when set. */
static int rate_take(struct watch *w, int64_t now, int64_t *when)
{
	int64_t add = (now - w->rate_ms) * WATCH_RATE_PER_S;
	if (add > 0) {
		int64_t t = (int64_t)w->rate_tokens_milli + add;
		w->rate_tokens_milli = (unsigned)(t > WATCH_RATE_BURST * 1000 ? WATCH_RATE_BURST * 1000 : t);
		w->rate_ms = now;
	}
	if (w->rate_tokens_milli >= 1000) {
		w->rate_tokens_milli -= 1000;
		return 1;
	}
	*when = now + (1000 - w->rate_tokens_milli + WATCH_RATE_PER_S - 1) / WATCH_RATE_PER_S;
	w->throttled++;
	return 0;
}

/* Starts the next request (a list page or the watch), or sleeps until the bucket allows one. */
static int head_in(struct watch *w, int64_t now);

static int start_next(struct watch *w, struct kube_api *api, int64_t now)
{
	char path[sizeof w->path + sizeof w->selector + WATCH_CONTINUE_MAX * 3 + 128];
	char esc[WATCH_CONTINUE_MAX * 3];
	int64_t when;
	int rc, listing = w->need_list;

	if (!rate_take(w, now, &when)) {
		w->state = WATCH_IDLE;
		w->wake_ms = when;
		return 0;
	}
	w->requests++;
	if (listing) {
		if (w->pages == 0) {
			w->epoch++;
			w->cont[0] = 0;
			w->opened_ms = now;
		}
		esc[0] = 0;
		if (w->cont[0] && kube_query_escape(esc, sizeof esc, w->cont) < 0)
			return back_off(w, now, PZ_ETOOBIG, "continue token too long");
		pz_snprintf(path, sizeof path, "%s?limit=%d%s%s%s%s", w->path, WATCH_PAGE_LIMIT,
			w->cont[0] ? "&continue=" : "", esc, w->selector[0] ? "&labelSelector=" : "", w->selector);
	} else {
		/* 5 to 10 minutes by default, like client-go's reflector (minWatchTimeout x [1, 2)), so
		 * restarts spread out across controllers. */
		w->timeout_s = w->timeout_min_s + (int)(pz_rand() % (uint64_t)(w->timeout_min_s + 1));
		pz_snprintf(path, sizeof path, "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d%s%s",
			w->path, w->rv, w->timeout_s, w->selector[0] ? "&labelSelector=" : "", w->selector);
	}
	/* List pages and the watch after them share one connection, as client-go's do: a new one would
	 * cost a TLS handshake (more CPU than a thousand watch events) for nothing. */
	rc = kube_link_start(&w->link, api, "GET", path, NULL, NULL, 0, LINK_STREAM, NULL, 0, now);
	if (rc < 0)
		return back_off(w, now, rc, listing ? "list request failed" : "watch request failed");
	w->state = listing ? WATCH_LIST : WATCH_OPENING;
	w->last_data_ms = now;
	if (listing)
		w->pages++;
	else
		w->opened_ms = now;
	/* a kept-alive connection can take the request now */
	rc = kube_link_step(&w->link, api, now);
	if (rc < 0)
		return back_off(w, now, rc, listing ? "list request failed" : "watch request failed");
	if (rc == 1)
		head_in(w, now);
	return 0;
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
			pz_snprintf(w->detail, sizeof w->detail, "an object of %zu bytes exceeds --max-object-bytes=%zu "
				"and was skipped", out.len, w->obj_cap);
		} else if (out.kind == FRAME_OBJECT || out.kind == FRAME_LIST_META) {
			*len = json_drop_member(w->obj, out.len, "managedFields");
			return out.kind;
		}
	}
	return FRAME_NONE;
}

/* Copies a string value the server gave us for reuse, only when it is acceptable whole: never a
 * truncated or partial copy (the old value stays). Returns 0, or PZ_EJSON. */
static int take_value(const struct json_doc *d, int t, char *dst, size_t cap)
{
	char tmp[WATCH_CONTINUE_MAX];
	int n;
	if (t < 0 || cap > sizeof tmp)
		return PZ_EJSON;
	n = json_str(d, t, tmp, cap);
	if (n <= 0 || !kube_value_ok(tmp, (size_t)n, cap - 1))
		return PZ_EJSON;
	memcpy(dst, tmp, (size_t)n + 1);
	return 0;
}

/* The head of a list page or of the watch is in. */
static int head_in(struct watch *w, int64_t now)
{
	if (w->link.status == 200) {
		frame_init(&w->fr, w->state == WATCH_LIST ? FRAME_LIST : FRAME_EVENTS, w->obj, w->obj_cap);
		if (w->state == WATCH_LIST)
			w->cont[0] = w->list_rv[0] = 0; /* this page's metadata names them */
		else
			w->state = WATCH_STREAM;
		w->last_data_ms = now;
		return 0;
	}
	w->last_status = w->link.status;
	/* 410 on a list page means the continue token expired: start the list over. On a watch it
	 * means our resourceVersion is too old: re-list. */
	w->gone_next = w->link.status == 410;
	if (w->gone_next && w->state == WATCH_LIST)
		w->pages = 0;
	kube_link_collect(&w->link, w->errbody, sizeof w->errbody, now);
	w->state = WATCH_ERROR;
	return 0;
}

/* The Status body of a failed request: its message names the failure. */
static int error_done(struct watch *w, int64_t now)
{
	struct json_doc d;
	char msg[sizeof w->detail];
	msg[0] = 0;
	if (json_parse(&d, w->errbody, w->link.out_len, w->tok, w->ntok) > 0 &&
	    json_str(&d, json_get(&d, 0, "message"), msg, sizeof msg) < 0)
		msg[0] = 0;
	if (!msg[0])
		pz_snprintf(msg, sizeof msg, "HTTP %d", w->last_status);
	return back_off(w, now, w->gone_next ? PZ_EGONE : PZ_ESTATUS, msg);
}

/* One list item or the list's metadata. Returns 0 or a code (the page is rejected). */
static int list_object(struct watch *w, int kind, size_t len)
{
	struct json_doc d;
	int rc = json_parse(&d, w->obj, len, w->tok, w->ntok);
	if (rc < 0) {
		if (rc == PZ_ETOOBIG && kind == FRAME_OBJECT) {
			w->oversized++;
			pz_snprintf(w->detail, sizeof w->detail, "a listed object with more than %u JSON tokens was skipped",
				w->ntok);
			return 0;
		}
		return rc; /* a page that does not parse is a broken stream, unlike one oversized object */
	}
	if (kind == FRAME_LIST_META) {
		int c = json_get(&d, 0, "continue");
		if (take_value(&d, json_get(&d, 0, "resourceVersion"), w->list_rv, sizeof w->list_rv) < 0) {
			set_detail(w, "the list's resourceVersion is missing or not a plain printable token");
			return PZ_EJSON;
		}
		if (c >= 0 && !(d.tok[c].type == JSMN_STRING && d.tok[c].end == d.tok[c].start) &&
		    take_value(&d, c, w->cont, sizeof w->cont) < 0) {
			set_detail(w, "the list's continue token is not a plain printable token");
			return PZ_EJSON;
		}
		return 0;
	}
	w->h->object(w->arg, w, WATCH_LISTED, &d, 0);
	return 0;
}

/* The page's body ended: the next page, or the list is complete. */
static int page_done(struct watch *w, struct kube_api *api, int64_t now)
{
	if (!frame_at_boundary(&w->fr))
		return back_off(w, now, PZ_EJSON, "a list page ended inside the document");
	if (!w->list_rv[0])
		return back_off(w, now, PZ_EJSON, "a list page without metadata");
	if (w->cont[0]) {
		if (w->pages >= w->max_pages) {
			w->pages = 0;
			return back_off(w, now, PZ_ETOOBIG, "the list did not end within its page limit");
		}
		return start_next(w, api, now);
	}
	memcpy(w->rv, w->list_rv, sizeof w->rv);
	w->pages = 0;
	w->lists++;
	w->need_list = 0;
	w->synced = 1;
	w->h->listed(w->arg, w); /* may ask for another list (need_list) */
	return start_next(w, api, now);
}

/* One event line. Returns 0, PZ_EGONE (re-list) or another code (reconnect). */
static int event(struct watch *w, size_t len)
{
	struct json_doc d;
	int rc, type, obj;
	enum watch_event ev;

	rc = json_parse(&d, w->obj, len, w->tok, w->ntok);
	if (rc == PZ_ETOOBIG) {
		w->oversized++;
		pz_snprintf(w->detail, sizeof w->detail, "an event with more than %u JSON tokens was skipped", w->ntok);
		return 0;
	}
	if (rc < 0)
		return rc;
	type = json_get(&d, 0, "type");
	obj = json_get(&d, 0, "object");
	if (type < 0 || obj < 0 || d.tok[obj].type != JSMN_OBJECT)
		return PZ_EJSON;
	if (json_eq(&d, type, "ERROR")) {
		int64_t code = 0;
		json_int(&d, json_get(&d, obj, "code"), &code);
		w->last_status = (int)code;
		if (json_str(&d, json_get(&d, obj, "message"), w->detail, sizeof w->detail) < 0)
			w->detail[0] = 0;
		return code == 410 ? PZ_EGONE : PZ_ESTATUS;
	}
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
	if (take_value(&d, json_path(&d, obj, "metadata.resourceVersion"), w->rv, sizeof w->rv) < 0) {
		set_detail(w, "an event's resourceVersion is missing or not a plain printable token");
		return PZ_EJSON;
	}
	w->events++;
	if (ev != WATCH_LISTED)
		w->h->object(w->arg, w, ev, &d, obj);
	return 0;
}

/* Reads body spans (list page or watch) up to the step's byte budget. */
static int read_body(struct watch *w, struct kube_api *api, int64_t now)
{
	size_t budget = WATCH_STEP_BYTES;
	int listing = w->state == WATCH_LIST;

	while (budget > 0) {
		const char *data;
		int n = kube_link_read(&w->link, &data);
		if (n == -EAGAIN) {
			if (listing && now - w->last_data_ms > WATCH_READ_TIMEOUT_MS)
				return back_off(w, now, -ETIMEDOUT, "a list page stalled");
			if (!listing && now - w->last_data_ms > (int64_t)w->timeout_s * 1000 + WATCH_IDLE_GRACE_MS)
				return back_off(w, now, -ETIMEDOUT, "the watch went silent past its timeout");
			return 0;
		}
		if (n < 0)
			return back_off(w, now, n, listing ? "list page failed" : "watch stream failed");
		if (n == 0) {
			if (listing)
				return page_done(w, api, now);
			if (!frame_at_boundary(&w->fr))
				return back_off(w, now, PZ_EJSON, "the watch ended inside an event");
			if (now - w->opened_ms < WATCH_MIN_LIFE_MS)
				return back_off(w, now, -ECONNRESET, "the watch ended as soon as it opened");
			/* The server ended the watch (its timeout): resume at once from our resourceVersion. */
			kube_link_close(&w->link);
			w->state = WATCH_IDLE;
			w->wake_ms = now;
			return 0;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		w->last_data_ms = now;
		for (;;) {
			size_t len;
			int rc, kind = next_object(w, &data, &n, &len);
			if (kind <= 0) {
				if (kind < 0)
					return back_off(w, now, kind, listing ? "a list page is malformed" : "a watch event is malformed");
				break;
			}
			if (listing) {
				rc = list_object(w, kind, len);
				if (rc < 0)
					return back_off(w, now, rc, w->detail[0] ? w->detail : "a list page is malformed");
			} else {
				rc = event(w, len);
				if (rc < 0)
					return back_off(w, now, rc, w->detail[0] ? w->detail : "a watch event is malformed");
			}
		}
	}
	return 0;
}

int watch_step(struct watch *w, struct kube_api *api, int64_t now)
{
	int rc;

	switch (w->state) {
	case WATCH_IDLE:
		if (now < w->wake_ms)
			return 0;
		w->detail[0] = 0;
		w->last_status = 0;
		rc = start_next(w, api, now);
		if (rc < 0 || w->state == WATCH_IDLE)
			return rc;
		/* fall through: the link may already be able to move */
		return watch_step(w, api, now);
	case WATCH_LIST:
	case WATCH_OPENING:
		if (w->link.state != LINK_BODY || w->link.mode != LINK_STREAM) {
			rc = kube_link_step(&w->link, api, now);
			if (rc < 0)
				return back_off(w, now, rc, w->state == WATCH_LIST ? "list request failed" : "watch request failed");
			if (rc == 0)
				return 0;
			head_in(w, now);
			if (w->state == WATCH_ERROR)
				return watch_step(w, api, now);
		}
		if (w->state == WATCH_LIST && now - w->opened_ms > WATCH_LIST_TIMEOUT_MS) {
			w->pages = 0;
			return back_off(w, now, -ETIMEDOUT, "the list took longer than its limit");
		}
		return read_body(w, api, now);
	case WATCH_STREAM:
		/* a watch that stayed up past its first second is healthy: the next failure starts the
		 * backoff over (one that fails sooner keeps climbing it, however it fails) */
		if (w->failures && now - w->opened_ms >= WATCH_MIN_LIFE_MS)
			w->failures = 0;
		return read_body(w, api, now);
	case WATCH_ERROR:
		rc = kube_link_step(&w->link, api, now);
		if (rc < 0)
			return back_off(w, now, w->gone_next ? PZ_EGONE : PZ_ESTATUS, "HTTP error");
		if (rc == 0)
			return 0;
		return error_done(w, now);
	}
	PZ_BUG("watch state");
}

int watch_fd(const struct watch *w)
{
	return w->state == WATCH_IDLE ? -1 : kube_link_fd(&w->link);
}

short watch_events(struct watch *w)
{
	return w->state == WATCH_IDLE ? 0 : kube_link_events(&w->link);
}

int64_t watch_deadline(const struct watch *w)
{
	switch (w->state) {
	case WATCH_IDLE:
		return w->wake_ms;
	case WATCH_STREAM:
		return w->last_data_ms + (int64_t)w->timeout_s * 1000 + WATCH_IDLE_GRACE_MS;
	case WATCH_LIST:
		if (w->link.state == LINK_BODY) {
			int64_t a = w->last_data_ms + WATCH_READ_TIMEOUT_MS, b = w->opened_ms + WATCH_LIST_TIMEOUT_MS;
			return a < b ? a : b;
		}
		return kube_link_deadline(&w->link);
	default:
		return kube_link_deadline(&w->link);
	}
}

int watch_ready(const struct watch *w)
{
	return w->state != WATCH_IDLE && kube_link_pending(&w->link);
}
