/*
 * reconcile.h - carries out order_decide()'s decisions against the API server, one order at a
 * time, and schedules the order's next run: the resync period after success, per-order
 * exponential backoff (capped) after a failure.
 *
 * Calls made by one reconcile, at most: GET order (only before creating a Pod, to bake from the
 * freshest spec and never for a replaced order), POST or DELETE pod, PATCH status. A reconcile
 * with nothing to change makes no call at all: the table already knows the order and its Pod.
 */
#ifndef PZ_RECONCILE_H
#define PZ_RECONCILE_H

#include "kube.h"
#include "order.h"
#include "table.h"

#include <stdint.h>

/* Pod and status bodies: a Pod with the longest names and 10 toppings is ~1.6 KiB. */
#define RECONCILE_BODY_MAX 4096

struct reconcile_config {
	int64_t resync_ms;          /* after success (default 5 minutes) */
	int64_t backoff_base_ms;    /* first retry after a failure */
	int64_t backoff_max_ms;     /* cap (default 1 minute) */
	struct oven_config oven;
};

enum reconcile_result { RESULT_UNCHANGED, RESULT_CHANGED, RESULT_ERROR };

struct reconciler {
	struct kube_api *api;
	struct kube_link link;
	struct table *table;
	const struct reconcile_config *cfg;
	char *resp;                 /* response buffer: one object, --max-object-bytes */
	size_t resp_cap;
	jsmntok_t *tok;
	unsigned ntok;
	char body[RECONCILE_BODY_MAX];
	/* counters */
	uint64_t runs, errors, pods_created, pods_deleted, status_writes;
};

void reconciler_init(struct reconciler *r, struct kube_api *api, struct table *t,
	const struct reconcile_config *cfg, char *resp, size_t resp_cap, jsmntok_t *tok, unsigned ntok);

/* Reconciles slot i (taken with table_pop_due), reschedules it and logs one line with the outcome.
 * Returns the result. */
enum reconcile_result reconcile_run(struct reconciler *r, int i, int64_t now);

#endif
