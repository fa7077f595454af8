/*
 * events.h - Kubernetes Events on PizzaOrders, recorded the way client-go's recorder does, in fixed
 * memory, on a link of their own, fire-and-forget.
 *
 *   - Aggregation (client-go's EventCorrelator): an event equal to a recent one (same object, type,
 *     reason and message) is not a new object: the existing Event is PATCHed with count + 1 and a new
 *     lastTimestamp. EVENTS_CACHE_MAX recent events are remembered (least recently used evicted);
 *     an Event the server has expired (404 on PATCH) is created again.
 *   - Rate limit per object (client-go's spam filter): a token bucket of EVENTS_BURST events,
 *     refilled one per EVENTS_REFILL_MS, per involved object (EVENTS_OBJECTS_MAX buckets, LRU).
 *   - Queue: at most EVENTS_QUEUE_MAX writes wait; a repeat of a queued event only bumps its count.
 *     A full queue drops the event (counted). A failed write is counted and dropped: an Event never
 *     fails or retries a reconcile.
 * Two kinds of sender drain the queue, each taking the oldest write out of it (events_take), sending
 * what events_request builds and reporting the answer to events_done:
 *   - the events link (events_step): one write at a time, driven by the loop (fd, events, deadline);
 *   - reconcile workers, after their order is handed back (reconcile.c): one connection alone is
 *     one request at a time, while reconciles run on several, so in a burst Events would fall
 *     behind and overflow the queue. Workers carry them at the pace reconciles make them, on
 *     connections that are already open.
 * A write whose Event has another write in flight waits at the head of the queue, so a PATCH of
 * count never overtakes the POST that creates the Event.
 */
#ifndef PZ_EVENTS_H
#define PZ_EVENTS_H

#include "kube.h"
#include "order.h"
#include "table.h"

#include <stdint.h>

/* client-go: LRU of 4096 aggregation keys; 256 covers the events of every order changing at once
 * in a busy minute here, and an evicted key only means a new Event object instead of a count bump. */
#define EVENTS_CACHE_MAX 256
#define EVENTS_OBJECTS_MAX 256
#define EVENTS_QUEUE_MAX 32
/* client-go's EventSourceObjectSpamFilter defaults: burst 25, one token per 5 minutes. */
#define EVENTS_BURST 25
#define EVENTS_REFILL_MS 300000
#define EVENTS_BODY_MAX 1536

enum event_type { EVENT_NORMAL, EVENT_WARNING };

struct event_key_entry {
	uint64_t key;               /* aggregation key, 0 = free */
	uint64_t suffix;            /* the Event's name is <order>.<suffix in hex> */
	int64_t first_wall;         /* firstTimestamp (epoch s) */
	int64_t used_ms;            /* LRU */
	uint32_t count;
	uint8_t inflight;           /* a write of this Event is being sent */
};

struct event_bucket {
	uint64_t object;            /* object key, 0 = free */
	int64_t refill_ms;
	int64_t used_ms;
	uint32_t tokens;
};

struct event_pending {
	uint64_t key;
	int cache;                  /* index in the cache */
	uint8_t type;
	const char *reason;         /* a string constant */
	char ns[TABLE_NAME_MAX];
	char name[TABLE_NAME_MAX];
	uint8_t uid[16];
	char message[ORDER_MESSAGE_MAX];
};

struct events {
	struct kube_api *api;
	const char *host;           /* source.host, reportingInstance */
	struct event_key_entry cache[EVENTS_CACHE_MAX];
	struct event_bucket bucket[EVENTS_OBJECTS_MAX];
	struct event_pending queue[EVENTS_QUEUE_MAX];
	unsigned head, len;         /* ring */
	struct event_pending cur;   /* the events link's write */
	int cur_busy;               /* cur is being sent */
	int sending_patch;          /* cur is a PATCH of an existing Event */
	struct kube_link link;
	char body[EVENTS_BODY_MAX];
	char out[256];
	/* counters */
	uint64_t created, patched, dropped_rate, dropped_full, failed;
};

void events_init(struct events *e, struct kube_api *api, const char *host);

/* Records an event about the order in slot s (its namespace, name and uid). Never fails. */
void events_record(struct events *e, const struct table_slot *s, enum event_type type, const char *reason,
	const char *message, int64_t now);

/* Sends the next queued write when the link is free, carries the one in flight forward. */
void events_step(struct events *e, int64_t now);

/* For any sender. Takes the oldest queued write into *out: 1, or 0 when there is none (or its Event
 * has a write in flight: it waits). The sender must end it with events_done. */
int events_take(struct events *e, struct event_pending *out);
/* The request for p: a PATCH of the Event's count when it exists (*patch = 1) unless force_create,
 * else a POST of the whole Event. Writes the path and the body; returns the body's length or a
 * negative code (PZ_ETOOBIG). */
int events_request(struct events *e, const struct event_pending *p, int force_create, char *path, size_t path_cap,
	char *body, size_t body_cap, int *patch);
/* The answer to p's write (status < 0: it was never answered). Counts it, and returns 1 when it
 * must be sent again as a create (the server expired the Event a PATCH was for), else 0. */
int events_done(struct events *e, const struct event_pending *p, int patch, int status);
/* Starts p's write on link l (body and out are the sender's buffers; *patch as events_request):
 * 0, or -1 when it could not start (then already ended with events_done, counted as failed). */
int events_start(struct events *e, const struct event_pending *p, int force_create, struct kube_link *l,
	char *body, size_t body_cap, char *out, size_t out_cap, int *patch, int64_t now);

int events_fd(const struct events *e);
short events_events(struct events *e);
int64_t events_deadline(const struct events *e);
int events_pending(const struct events *e);

#endif
