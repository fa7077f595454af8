/*
 * watch.h - list-then-watch for one resource: the informer's job without its cache, as a state
 * machine the event loop drives (it never blocks).
 *
 * States (one per point where it waits):
 *   WATCH_IDLE     nothing in flight; at `wake_ms` it starts the next request: a list page when it
 *                  must list, else the watch
 *   WATCH_LIST     a list page in flight (request, head, then body streamed through the frame
 *                  splitter, so memory does not depend on the page size); pages follow `continue`
 *   WATCH_OPENING  the watch request sent, its head awaited
 *   WATCH_STREAM   the watch body streaming; events are read when poll() says so
 *   WATCH_ERROR    a non-200 answer: its Status body is read (bounded) to name the failure
 * The watch starts at the list's resourceVersion with bookmarks on and a server-side timeout of 5-10
 * minutes (jittered, as client-go does). A clean end after WATCH_MIN_LIFE_MS re-watches at once from
 * the last resourceVersion; "410 Gone" re-lists; anything else (connection lost, bad bytes, TLS error,
 * timeout, a watch that ended at once) backs off with jitter. Every request goes through a token
 * bucket (WATCH_RATE_*), the ceiling no server behaviour can push us past.
 *
 * Values the server hands us for reuse in a request (resourceVersion, continue) must pass
 * kube_value_ok: anything else is a protocol error, the value is never used or truncated.
 */
#ifndef PZ_WATCH_H
#define PZ_WATCH_H

#include "frame.h"
#include "json.h"
#include "kube.h"

#include <stdint.h>

/* client-go's reflector minWatchTimeout: each watch asks the server for [5, 10) minutes. */
#define WATCH_TIMEOUT_MIN_S 300
#define WATCH_RV_MAX 64            /* resourceVersions are decimal etcd revisions: 20 digits */
#define WATCH_PAGE_LIMIT 500       /* client-go's page size; memory does not depend on it */
#define WATCH_CONTINUE_MAX 1024    /* continue tokens are ~100-300 bytes of base64 */
/* Bytes handled per step before the loop gets the turn back, so probes, the Lease and the other
 * watch never wait behind a flood (of events, blank lines or skipped objects alike). */
#define WATCH_STEP_BYTES (64 * 1024)
#define WATCH_BACKOFF_MIN_MS 500
#define WATCH_BACKOFF_MAX_MS 30000
#define WATCH_READ_TIMEOUT_MS 30000 /* a list page stalled this long is dead */
/* A whole list, every page: 10,000 orders list in about a second here, so five minutes only ever
 * cuts a server that trickles bytes forever (each read within its 30 s, the list never done). */
#define WATCH_LIST_TIMEOUT_MS 300000
/* A watch that sends nothing (not even the bookmark the server sends before its timeout) for its
 * timeout plus this grace is a dead connection. */
#define WATCH_IDLE_GRACE_MS 60000
/* A watch that ends sooner than this is a failure (client-go: "very short watch"), not a timeout. */
#define WATCH_MIN_LIFE_MS 1000
/* Request ceiling per resource: a bucket of WATCH_RATE_BURST requests refilled at WATCH_RATE_PER_S.
 * A 10,000-order list is 20 pages plus a watch, so the burst covers a full re-list; a server that
 * answers every request at once (410 loops, endless continue chains) meets the refill rate. */
#define WATCH_RATE_BURST 40
#define WATCH_RATE_PER_S 5
/* The error Status body kept to name a failure. */
#define WATCH_ERRBODY_MAX 512

enum watch_state { WATCH_IDLE, WATCH_LIST, WATCH_OPENING, WATCH_STREAM, WATCH_ERROR };
enum watch_event { WATCH_LISTED, WATCH_ADDED, WATCH_MODIFIED, WATCH_DELETED };

struct watch;
struct watch_handler {
	/* One object from a list (WATCH_LISTED) or an event; `epoch` names the list in progress. */
	void (*object)(void *arg, struct watch *w, enum watch_event type, const struct json_doc *d, int obj);
	/* A complete list has been delivered: objects not seen in it are gone. */
	void (*listed)(void *arg, struct watch *w);
};

struct watch {
	const char *resource;         /* for logs and metrics */
	char path[256];               /* collection path, e.g. /api/v1/pods */
	char selector[160];           /* escaped labelSelector value, or "" */
	char rv[WATCH_RV_MAX];
	enum watch_state state;
	int need_list;
	int synced;                   /* a full list has been delivered at least once */
	unsigned failures;            /* consecutive; reset by a watch that lived or delivered */
	unsigned max_pages;           /* pages one list may take before it is a failure */
	int64_t wake_ms;              /* IDLE: when to start the next request */
	int64_t last_data_ms;
	int64_t opened_ms;            /* when the watch (or the list) started */
	int timeout_s;
	int timeout_min_s;            /* the watch's server-side timeout is drawn from [min, 2 x min) */
	uint32_t epoch;               /* bumped for every list: the mark for mark-and-sweep */
	/* the list in progress */
	unsigned pages;
	char cont[WATCH_CONTINUE_MAX];
	char list_rv[WATCH_RV_MAX];
	/* the request bucket */
	int64_t rate_ms;              /* time the bucket was last topped up */
	unsigned rate_tokens_milli;   /* tokens x 1000 */
	struct kube_link link;
	struct frame fr;
	char *obj;                    /* object buffer (caller's, fixed) */
	size_t obj_cap;
	jsmntok_t *tok;               /* token pool (caller's, may be shared: used synchronously) */
	unsigned ntok;
	const struct watch_handler *h;
	void *arg;
	/* last failure, for the loop's log line */
	int last_error;
	int last_status;
	int gone_next;                /* WATCH_ERROR: the failure is a 410 */
	char detail[160];
	char errbody[WATCH_ERRBODY_MAX];
	/* counters */
	uint64_t events, lists, restarts, oversized, bad_events, requests, throttled;
};

void watch_init(struct watch *w, const char *resource, const char *path, const char *selector,
	char *obj, size_t obj_cap, jsmntok_t *tok, unsigned ntok, const struct watch_handler *h, void *arg);

/* Does what is due and what the socket allows, never waiting. Returns 0 when all is well, or the
 * code of a failure that was handled by backing off (last_error/last_status/detail say what).
 * A list that failed half-way delivered some objects: that is harmless, as the retried list
 * delivers them again and only a complete list sweeps. */
int watch_step(struct watch *w, struct kube_api *api, int64_t now);

/* For the loop: fd to poll (-1 when none), its events, and the time by which watch_step must run. */
int watch_fd(const struct watch *w);
short watch_events(struct watch *w);
int64_t watch_deadline(const struct watch *w);
/* Data already buffered: step without waiting for poll. */
int watch_ready(const struct watch *w);
/* Ask for a full re-list at once (for example after the table freed slots). */
void watch_request_relist(struct watch *w, int64_t now);

#endif
