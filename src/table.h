/*
 * table.h - the fixed-memory reconcile table: one slot per order, keyed by namespace/name.
 *
 * A slot holds only what reconciling needs (struct order_state, filled by order.c from watch events),
 * never the object. The table also drives every timer: each live slot has a due time in a binary
 * min-heap; "enqueue now" lowers the due time, so a key is queued at most once however many events
 * arrive (deduplication), and "reconciled" schedules the next resync.
 *
 * Memory: reserved once by table_init for `capacity` orders and never grown:
 *   TABLE_SLOT_BYTES per slot + 4 bytes of heap + 2 index entries of 4 bytes (load <= 1/2).
 * The block is zero-filled by the kernel on first touch, so resident memory follows the orders
 * actually tracked. When every slot is taken, table_insert returns -ENOSPC: the caller reports it
 * (log and metric) and re-lists once a slot frees, so no order is lost for good.
 */
#ifndef PZ_TABLE_H
#define PZ_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Namespace and order names are DNS labels (63 bytes): namespaces by Kubernetes' rule, order names
 * by the CRD's schema (the oven Pod's label carries the name, and label values are <= 63). */
#define TABLE_NAME_MAX 64

enum slot_state { SLOT_EMPTY, SLOT_SCHEDULED, SLOT_RUNNING };

struct order_state {
	uint8_t uid[16];
	int64_t generation;
	int64_t status_gen;      /* status.observedGeneration as last seen on the order */
	int64_t ready_since;     /* Ready condition lastTransitionTime as seen (epoch s), 0 if none */
	int64_t pod_gen;         /* generation label of the oven Pod */
	uint32_t status_hash;    /* digest of the status last seen, to write only on change */
	uint32_t seen_epoch;     /* list generation that last saw this order (mark and sweep) */
	uint32_t pod_epoch;      /* list generation that last saw its Pod */
	uint8_t size;            /* enum pizza_size */
	uint8_t ntoppings;
	uint8_t spec_err;        /* enum spec_error, 0 when the spec is valid */
	uint8_t err_a, err_b;    /* indices or counts that the error message names */
	uint8_t status_phase;    /* enum order_phase as last seen */
	uint8_t ready_status;    /* Ready condition status as last seen: 0 none, 1 False, 2 True */
	uint8_t pod_phase;       /* enum pod_phase; POD_NONE when no oven Pod is known */
	uint8_t pod_deleting;
	uint8_t pod_owned;       /* the Pod's controller reference names this order's uid */
	uint8_t failures;        /* consecutive failed reconciles, for backoff */
	uint8_t toppings_known;  /* topping_ids hold the spec's toppings (see toppings.h) */
	uint8_t topping_ids[10]; /* ORDER_TOPPINGS_MAX interned toppings, in order; 0 = none */
};

struct table_slot {
	char ns[TABLE_NAME_MAX];
	char name[TABLE_NAME_MAX];
	int64_t due_ms;
	uint32_t heap_pos;       /* position in the heap; next free slot while EMPTY */
	uint8_t state;           /* enum slot_state */
	uint8_t requeued;        /* enqueued while RUNNING: the next schedule makes it due at once */
	uint8_t gone;            /* removed while RUNNING: freed when its worker hands it back */
	struct order_state o;
};

#define TABLE_SLOT_BYTES sizeof(struct table_slot)

struct table {
	struct table_slot *slot;
	uint32_t *heap;
	uint32_t *index;         /* open addressing, 0 = empty, else slot + 1 */
	uint32_t capacity, count, heap_len, index_mask, free_head;
	uint32_t high_water;     /* slots [0, high_water) have been used; scans stop there */
	uint64_t seed;
	void *block;             /* the one allocation */
	size_t block_bytes;
};

/* Bytes table_init reserves for `capacity` orders (for the start-up log and budgets). */
size_t table_bytes(uint32_t capacity);
/* Reserves everything up front. Returns 0 or -ENOMEM / -EINVAL (capacity 0 or over 2^26). */
int table_init(struct table *t, uint32_t capacity, uint64_t seed);
void table_free(struct table *t);

/* Slot of ns/name, or -1. */
int table_find(const struct table *t, const char *ns, const char *name);
/* New slot for ns/name, zeroed, due now. -ENOSPC when full, PZ_ETOOBIG when a name does not fit,
 * -EEXIST when present (a caller bug elsewhere, reported rather than aborted). */
int table_insert(struct table *t, const char *ns, const char *name, int64_t now);
/* Forgets slot i. A RUNNING slot leaves the index at once but stays reserved, marked `gone`, until
 * its worker calls table_schedule, which then frees it: a worker's slot index never changes owner
 * under it. Removing a gone slot again does nothing. */
void table_remove(struct table *t, int i);

/* Due now (or keep an earlier due time): the deduplicating enqueue. */
void table_enqueue(struct table *t, int i, int64_t now);
/* Due exactly at `due` (after a reconcile: the resync or the backoff). */
void table_schedule(struct table *t, int i, int64_t due);
/* Takes the earliest slot due at or before now out of the heap (state RUNNING), or -1. */
int table_pop_due(struct table *t, int64_t now);
/* Slots due at or before now and not running: the work queue's depth. */
uint32_t table_count_due(const struct table *t, int64_t now);
/* Earliest due time, or INT64_MAX when nothing is scheduled. */
int64_t table_next_due(const struct table *t);

#endif
