/*
 * sync.h - watch events into the table: the informer's event handlers, without a cache.
 *
 * Orders: an event is read into struct order_state (order.c) and merged into the order's slot,
 * which is enqueued unless nothing we act on changed (the echo of our own status write). DELETED
 * frees the slot. A complete list sweeps slots it did not mention (deleted while unwatched).
 * Pods: the phase, generation and owner of an oven Pod go into its order's slot; DELETED clears it.
 * A full table refuses the order (log line, counter) and asks the orders watch for a re-list as
 * soon as a slot frees, so refused orders come back.
 */
#ifndef PZ_SYNC_H
#define PZ_SYNC_H

#include "table.h"
#include "watch.h"

#include <stdint.h>

/* Log "table full" at most this often; the counter counts every refusal. */
#define SYNC_FULL_LOG_INTERVAL_MS 10000

struct sync {
	struct table *table;
	struct watch *orders;        /* asked to re-list when refused orders may now fit */
	uint64_t table_full;         /* orders refused for lack of a slot */
	uint64_t bad_objects;        /* orders whose metadata could not be read */
	int overflow;                /* a refusal happened since the last re-list request */
	int64_t full_logged_ms;
};

/* Handlers for watch_init; their `arg` is the struct sync. */
extern const struct watch_handler sync_order_handler;
extern const struct watch_handler sync_pod_handler;

#endif
