/*
 * watch.h - list-then-watch for one resource: the informer's job without its cache.
 *
 * States (one per point where it waits):
 *   WATCH_IDLE     nothing open; at `wake_ms` it lists (when it must) and opens a watch
 *   WATCH_STREAM   a watch body is streaming; events are read when poll() says so
 * A list is paginated (limit/continue) and streamed through the frame splitter, so memory does not
 * depend on the page size. The watch starts at the list's resourceVersion with bookmarks on and a
 * server-side timeout of 5-10 minutes (jittered, as client-go does); a clean end re-watches at once
 * from the last resourceVersion, "410 Gone" re-lists, anything else (connection lost, bad bytes,
 * TLS error, timeout) backs off with jitter, then re-watches or re-lists.
 */
#ifndef PZ_WATCH_H
#define PZ_WATCH_H

#include "frame.h"
#include "json.h"
#include "kube.h"

#include <stdint.h>

#define WATCH_RV_MAX 64            /* resourceVersions are decimal etcd revisions: 20 digits */
#define WATCH_PAGE_LIMIT 500       /* client-go's page size; memory does not depend on it */
#define WATCH_CONTINUE_MAX 1024    /* continue tokens are ~100-300 bytes of base64 */
#define WATCH_EVENTS_PER_STEP 256  /* events handled per turn, so reconciles and the other watch run */
#define WATCH_BACKOFF_MIN_MS 500
#define WATCH_BACKOFF_MAX_MS 30000
#define WATCH_READ_TIMEOUT_MS 30000 /* a list page or response head stalled this long is dead */
/* A whole list, every page: 10,000 orders list in about a second here, so five minutes only ever
 * cuts a server that trickles bytes forever (each read within its 30 s, the list never done). */
#define WATCH_LIST_TIMEOUT_MS 300000
/* A watch that sends nothing (not even the bookmark the server sends before its timeout) for its
 * timeout plus this grace is a dead connection. */
#define WATCH_IDLE_GRACE_MS 60000

enum watch_state { WATCH_IDLE, WATCH_STREAM };
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
	unsigned failures;
	int64_t wake_ms;              /* IDLE: when to try again */
	int64_t last_data_ms;
	int timeout_s;
	uint32_t epoch;               /* bumped for every list: the mark for mark-and-sweep */
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
	char detail[160];
	/* counters */
	uint64_t events, lists, restarts, oversized, bad_events;
};

void watch_init(struct watch *w, const char *resource, const char *path, const char *selector,
	char *obj, size_t obj_cap, jsmntok_t *tok, unsigned ntok, const struct watch_handler *h, void *arg);

/* Does whatever is due: in IDLE at wake time, lists if needed and opens the watch (blocking, with
 * deadlines); in STREAM, reads what is there and hands out events. Returns 0 when all is well, or
 * the code of a failure that was handled by backing off (last_error/detail say what).
 * A list that failed half-way delivered some objects: that is harmless, as the retried list
 * delivers them again and only a complete list sweeps. */
int watch_step(struct watch *w, struct kube_api *api, int64_t now);

/* fd to poll for input (-1 when idle), and the time by which watch_step must run. */
int watch_fd(const struct watch *w);
int64_t watch_deadline(const struct watch *w);
/* Data already buffered: step without waiting for poll. */
int watch_ready(const struct watch *w);
/* Ask for a full re-list at the next step (for example after the table freed slots). */
void watch_request_relist(struct watch *w, int64_t now);

#endif
