/*
 * reconcile.h - carries out order_decide()'s decisions against the API server with a fixed pool of
 * workers, each a state machine on its own keep-alive link, driven by the event loop; and schedules
 * each order's next run: the resync period after success, per-order exponential backoff (capped)
 * after a failure.
 *
 * Concurrency: a slot taken with table_pop_due is RUNNING until its worker hands it back with
 * table_schedule, so an order is never reconciled twice at once (events meanwhile set `requeued`,
 * and it runs again right after). Workers' links are opened lazily: idle memory stays low.
 *
 * Calls per reconcile, normal path: POST the oven Pod, built from the toppings of the newest event
 * seen (interned in the slot, see toppings.h), then PATCH the status: 2 requests per new order.
 * Only when the toppings could not be interned does it GET the order first. A 409 on create GETs the
 * Pod to learn what is there, then decides again (at most RECONCILE_ROUNDS times). A reconcile with
 * nothing to change makes no call at all: the table already knows the order and its Pod.
 *
 * Writes (POST, DELETE, PATCH) start only while may_write() allows them (leader election); a worker
 * that may not write hands its order back without acting.
 *
 * Events: once its order is handed back, a worker sends up to RECONCILE_EVENTS_PER_RUN queued Events
 * (events.h) on its link before it takes another order (STEP_EVENT, slot -1): Events keep pace with
 * reconciles in a burst instead of overflowing the queue behind the single events link.
 */
#ifndef PZ_RECONCILE_H
#define PZ_RECONCILE_H

#include "events.h"
#include "kube.h"
#include "order.h"
#include "table.h"

#include <stdint.h>

/* Pod and status bodies: a Pod with the longest names and 10 toppings is ~1.6 KiB. */
#define RECONCILE_BODY_MAX 4096
/* The part of a response kept: an error Status's message is all we read from a write's answer. */
#define RECONCILE_OUT_MAX 1024
/* Decisions per reconcile: a 409 or a replaced order sends it back to deciding; a flapping object
 * cannot keep a worker busy past this. */
#define RECONCILE_ROUNDS 3
/* controller-runtime's MaxConcurrentReconciles is 1 by default; we measured (bench/) and chose
 * RECONCILE_WORKERS_DEFAULT. The bound keeps the pool's reservation small: each worker is a link
 * (~47 KiB reserved, ~25 KiB resident once used). */
#define RECONCILE_WORKERS_MAX 64
#define RECONCILE_WORKERS_DEFAULT 4
/* A reconcile records at most two Events (OvenCreated and a phase, or ReconcileError and one more):
 * sending as many as it can record keeps the queue from growing whatever the burst. */
#define RECONCILE_EVENTS_PER_RUN 2
/* Moves of one worker in one reconcile_step: a call that ends and the next one it sends on the same
 * connection. A request's answer never arrives within the step that sent it, so 2 would do; 4 is
 * room for an Event write after an error status, still O(1) per turn. */
#define RECONCILE_MOVES_PER_STEP 4

struct reconcile_config {
	int64_t resync_ms;          /* after success (default 5 minutes) */
	int64_t backoff_base_ms;    /* first retry after a failure */
	int64_t backoff_max_ms;     /* cap (default 1 minute) */
	struct oven_config oven;
};

enum reconcile_step { STEP_FREE, STEP_GET_ORDER, STEP_CREATE, STEP_GET_POD, STEP_DELETE, STEP_STATUS,
	STEP_ERROR_STATUS, STEP_EVENT };
enum reconcile_result { RESULT_UNCHANGED, RESULT_CHANGED, RESULT_ERROR };

struct reconcile_worker {
	int slot;                   /* table slot being reconciled, -1 when free or in STEP_EVENT */
	enum reconcile_step step;
	int round;
	int changed;
	int64_t started_ms;
	char id[37];                /* reconcileID for the log, a random UUID as controller-runtime's */
	struct order_decision dc;
	uint8_t phase_before;       /* the order's status phase when its status write started */
	const char *what;           /* outcome for the log */
	int code, status;           /* failure: code < 0, HTTP status of the failing call */
	int64_t retry_after_ms;     /* failure: the failing call's Retry-After (-1: none) */
	char detail[ORDER_MESSAGE_MAX];
	struct kube_link link;
	char out[RECONCILE_OUT_MAX];
	char body[RECONCILE_BODY_MAX];
	struct event_pending ev;    /* STEP_EVENT: the Event being written */
	int ev_patch;
	unsigned ev_sent;           /* Events sent since the order was handed back */
};

struct reconciler {
	struct kube_api *api;
	struct table *table;
	const struct reconcile_config *cfg;
	char *resp;                 /* one object buffer (--max-object-bytes) for the rare full GETs */
	size_t resp_cap;
	int resp_owner;             /* worker holding resp, -1 when free */
	jsmntok_t *tok;
	unsigned ntok;
	struct reconcile_worker *w;
	unsigned nworkers, active;
	struct events *events;      /* NULL: no Events recorded (--record-events=false) */
	/* leader election's write gate: 1 when a write may start now (NULL: always) */
	int (*may_write)(void *arg, int64_t now);
	void *may_write_arg;
	/* counters */
	uint64_t runs, errors, pods_created, pods_deleted, status_writes, writes_refused;
};

void reconciler_init(struct reconciler *r, struct kube_api *api, struct table *t,
	const struct reconcile_config *cfg, char *resp, size_t resp_cap, jsmntok_t *tok, unsigned ntok,
	struct reconcile_worker *workers, unsigned nworkers);

/* Starts reconciling slot i (taken with table_pop_due) on a free worker. Returns the worker's
 * index, or -EBUSY when every worker is busy (the caller then leaves the slot due). */
int reconcile_start(struct reconciler *r, int i, int64_t now);

/* Drives worker k: does what its socket allows now. When the reconcile ends it reschedules the slot,
 * logs one line with the outcome and frees the worker. */
void reconcile_step(struct reconciler *r, unsigned k, int64_t now);

/* Abandons every reconcile in flight (leadership lost, shutdown): links closed, slots handed back
 * due at once. */
void reconcile_abandon_all(struct reconciler *r, int64_t now);

static inline int reconcile_has_free(const struct reconciler *r) { return r->active < r->nworkers; }

#endif
