/*
 * events.c - the Event recorder (see events.h).
 */
#include "fmt.h"
#include "events.h"
#include "json.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void events_init(struct events *e, struct kube_api *api, const char *host)
{
	/* e is static storage (zero): the cache, buckets and queue stay untouched until used */
	e->head = e->len = 0;
	e->api = api;
	e->host = host;
	kube_link_init(&e->link);
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL; /* FNV-1a, 64 bit */
	return h;
}

static uint64_t object_key(const struct table_slot *s)
{
	uint64_t h = mix(14695981039346656037ULL, s->ns, strlen(s->ns) + 1);
	h = mix(h, s->name, strlen(s->name) + 1);
	h = mix(h, s->o.uid, sizeof s->o.uid);
	return h ? h : 1;
}

/* The spam filter: 1 when the object may have one more event now. */
static int take_token(struct events *e, uint64_t object, int64_t now)
{
	struct event_bucket *b = NULL, *oldest = &e->bucket[0];
	for (unsigned i = 0; i < EVENTS_OBJECTS_MAX; i++) {
		if (e->bucket[i].object == object) {
			b = &e->bucket[i];
			break;
		}
		if (e->bucket[i].used_ms < oldest->used_ms)
			oldest = &e->bucket[i];
	}
	if (!b) {
		b = oldest;
		b->object = object;
		b->tokens = EVENTS_BURST;
		b->refill_ms = now;
	}
	b->used_ms = now;
	while (b->tokens < EVENTS_BURST && now - b->refill_ms >= EVENTS_REFILL_MS) {
		b->tokens++;
		b->refill_ms += EVENTS_REFILL_MS;
	}
	if (b->tokens == EVENTS_BURST)
		b->refill_ms = now;
	if (b->tokens == 0)
		return 0;
	b->tokens--;
	return 1;
}

void events_record(struct events *e, const struct table_slot *s, enum event_type type, const char *reason,
	const char *message, int64_t now)
{
	uint64_t object = object_key(s), key;
	struct event_key_entry *c = NULL, *oldest = &e->cache[0];
	struct event_pending *p;
	unsigned i;

	if (!take_token(e, object, now)) {
		e->dropped_rate++;
		return;
	}
	key = mix(object, &type, 1);
	key = mix(key, reason, strlen(reason) + 1);
	key = mix(key, message, strlen(message));
	key = key ? key : 1;
	for (i = 0; i < EVENTS_CACHE_MAX; i++) {
		if (e->cache[i].key == key) {
			c = &e->cache[i];
			break;
		}
		if (e->cache[i].used_ms < oldest->used_ms)
			oldest = &e->cache[i];
	}
	if (!c) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		c = oldest;
		c->key = key;
		c->count = 0;
		c->inflight = 0; /* an evicted Event's write in flight no longer speaks for this one */
		c->first_wall = ts.tv_sec;
		/* client-go names an Event <object>.<UnixNano in hex>: unique per object and time */
		c->suffix = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	c->count++;
	c->used_ms = now;
	/* A repeat still waiting in the queue is sent once, with the final count. */
	for (i = 0; i < e->len; i++)
		if (e->queue[(e->head + i) % EVENTS_QUEUE_MAX].key == key)
			return;
	if (e->len == EVENTS_QUEUE_MAX) {
		e->dropped_full++;
		return;
	}
	p = &e->queue[(e->head + e->len++) % EVENTS_QUEUE_MAX];
	p->key = key;
	p->cache = (int)(c - e->cache);
	p->type = (uint8_t)type;
	p->reason = reason;
	memcpy(p->ns, s->ns, sizeof p->ns);
	memcpy(p->name, s->name, sizeof p->name);
	memcpy(p->uid, s->o.uid, sizeof p->uid);
	pz_snprintf(p->message, sizeof p->message, "%s", message);
}

static void timestamp(char *out, size_t cap, int64_t wall)
{
	time_t t = (time_t)wall;
	struct tm tm;
	gmtime_r(&t, &tm);
	pz_snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* 1 when the queue's head may be sent now. */
static int head_ready(const struct events *e)
{
	const struct event_pending *p = &e->queue[e->head];
	const struct event_key_entry *c = &e->cache[p->cache];
	return e->len > 0 && !(c->key == p->key && c->inflight);
}

int events_take(struct events *e, struct event_pending *out)
{
	struct event_pending *p = &e->queue[e->head];
	struct event_key_entry *c = &e->cache[p->cache];
	if (!head_ready(e))
		return 0;
	if (c->key == p->key)
		c->inflight = 1;
	*out = *p;
	e->head = (e->head + 1) % EVENTS_QUEUE_MAX;
	e->len--;
	return 1;
}

int events_request(struct events *e, const struct event_pending *p, int force_create, char *path, size_t path_cap,
	char *body, size_t body_cap, int *patch)
{
	const struct event_key_entry *c = &e->cache[p->cache];
	char evname[TABLE_NAME_MAX + 20], first[80], last[80], uid[37];
	struct timespec ts;
	struct json_w w;

	clock_gettime(CLOCK_REALTIME, &ts);
	pz_snprintf(evname, sizeof evname, "%s.%llx", p->name, (unsigned long long)c->suffix);
	timestamp(first, sizeof first, c->first_wall);
	timestamp(last, sizeof last, ts.tv_sec);
	json_w_init(&w, body, body_cap);
	json_w_obj(&w);
	*patch = c->key == p->key && c->count > 1 && !force_create;
	if (*patch) {
		json_w_kint(&w, "count", c->count);
		json_w_kstr(&w, "lastTimestamp", last);
		json_w_close(&w);
		pz_snprintf(path, path_cap, "/api/v1/namespaces/%s/events/%s", p->ns, evname);
	} else {
		order_uid_format(p->uid, uid);
		json_w_kstr(&w, "apiVersion", "v1");
		json_w_kstr(&w, "kind", "Event");
		json_w_key(&w, "metadata");
		json_w_obj(&w);
		json_w_kstr(&w, "name", evname);
		json_w_kstr(&w, "namespace", p->ns);
		json_w_close(&w);
		json_w_key(&w, "involvedObject");
		json_w_obj(&w);
		json_w_kstr(&w, "apiVersion", ORDER_API_VERSION);
		json_w_kstr(&w, "kind", ORDER_KIND);
		json_w_kstr(&w, "name", p->name);
		json_w_kstr(&w, "namespace", p->ns);
		json_w_kstr(&w, "uid", uid);
		json_w_close(&w);
		json_w_kstr(&w, "reason", p->reason);
		json_w_kstr(&w, "message", p->message);
		json_w_kstr(&w, "type", p->type == EVENT_WARNING ? "Warning" : "Normal");
		json_w_kint(&w, "count", c->key == p->key ? c->count : 1);
		json_w_kstr(&w, "firstTimestamp", first);
		json_w_kstr(&w, "lastTimestamp", last);
		json_w_key(&w, "source");
		json_w_obj(&w);
		json_w_kstr(&w, "component", ORDER_MANAGER);
		json_w_kstr(&w, "host", e->host);
		json_w_close(&w);
		json_w_kstr(&w, "reportingComponent", ORDER_MANAGER);
		json_w_kstr(&w, "reportingInstance", e->host);
		json_w_close(&w);
		pz_snprintf(path, path_cap, "/api/v1/namespaces/%s/events", p->ns);
	}
	return json_w_end(&w);
}

int events_done(struct events *e, const struct event_pending *p, int patch, int status)
{
	struct event_key_entry *c = &e->cache[p->cache];
	if (patch && status == 404)
		return 1; /* the server expired it: create it again (still in flight) */
	if (c->key == p->key)
		c->inflight = 0;
	if (status == 200 || status == 201) {
		if (patch)
			e->patched++;
		else
			e->created++;
	} else {
		e->failed++;
	}
	return 0;
}

int events_start(struct events *e, const struct event_pending *p, int force_create, struct kube_link *l,
	char *body, size_t body_cap, char *out, size_t out_cap, int *patch, int64_t now)
{
	char path[256];
	int n = events_request(e, p, force_create, path, sizeof path, body, body_cap, patch);
	if (n >= 0 && kube_link_start(l, e->api, *patch ? "PATCH" : "POST", path,
			*patch ? "application/merge-patch+json" : "application/json", body, (size_t)n, LINK_CALL,
			out, out_cap, now) == 0)
		return 0; /* stepped by its sender when the loop sees the fd ready */
	events_done(e, p, *patch, -1);
	return -1;
}

/* Starts the events link's write of e->cur. */
static void send_cur(struct events *e, int64_t now, int force_create)
{
	if (events_start(e, &e->cur, force_create, &e->link, e->body, sizeof e->body, e->out, sizeof e->out,
			&e->sending_patch, now) < 0)
		e->cur_busy = 0;
}

void events_step(struct events *e, int64_t now)
{
	int rc;
	if (!e->cur_busy) {
		if (kube_link_busy(&e->link) || !events_take(e, &e->cur))
			return;
		e->cur_busy = 1;
		send_cur(e, now, 0);
		return;
	}
	rc = kube_link_step(&e->link, e->api, now);
	if (rc == 0)
		return;
	e->link.state = LINK_IDLE;
	if (events_done(e, &e->cur, e->sending_patch, rc > 0 ? e->link.status : -1)) {
		send_cur(e, now, 1);
		return;
	}
	e->cur_busy = 0;
}

int events_fd(const struct events *e) { return kube_link_fd(&e->link); }
short events_events(struct events *e) { return kube_link_events(&e->link); }
int64_t events_deadline(const struct events *e) { return kube_link_deadline(&e->link); }
int events_pending(const struct events *e)
{
	return e->cur_busy ? kube_link_pending(&e->link) : head_ready(e);
}
