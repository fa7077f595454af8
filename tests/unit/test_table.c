/*
 * test_table.c - the reconcile table (src/table.h): index, free list and heap, checked against a
 * plain array model under thousands of random operations, plus the bounds the header promises
 * (names, capacity, memory per order).
 *
 * Invariants are checked through the header's public fields: every index entry is reachable from
 * its home bucket without crossing a hole (what backward-shift deletion must preserve), the heap
 * holds exactly the SCHEDULED slots in heap order, and heap_pos points back at each one.
 */
#include "check.h"
#include "pz.h"
#include "table.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 33) % n;
}

/* Home bucket of a key: where it lands in an empty table with the same seed and capacity. */
static uint32_t home_of(uint32_t capacity, uint64_t seed, const char *ns, const char *name)
{
	struct table t;
	uint32_t home = UINT32_MAX;
	if (table_init(&t, capacity, seed) != 0)
		return UINT32_MAX;
	if (table_insert(&t, ns, name, 0) == 0)
		for (uint32_t h = 0; h <= t.index_mask; h++)
			if (t.index[h] == 1)
				home = h;
	table_free(&t);
	return home;
}

/* 1 when the index, count and heap agree with each other and with the slots. */
static int table_consistent(const struct table *t)
{
	uint32_t entries = 0, scheduled = 0, gone = 0;

	for (uint32_t p = 0; p <= t->index_mask; p++) {
		uint32_t e = t->index[p];
		if (e == 0)
			continue;
		entries++;
		if (e - 1 >= t->high_water || t->slot[e - 1].state == SLOT_EMPTY)
			return 0;
		/* the key must be found from its home without meeting an empty bucket */
		if (table_find(t, t->slot[e - 1].ns, t->slot[e - 1].name) != (int)(e - 1))
			return 0;
	}
	for (uint32_t i = 0; i < t->high_water; i++) {
		if (t->slot[i].state == SLOT_SCHEDULED)
			scheduled++;
		if (t->slot[i].state != SLOT_EMPTY && t->slot[i].gone)
			gone++;
		if (t->slot[i].gone && t->slot[i].state != SLOT_RUNNING)
			return 0; /* only a running slot can be left gone */
	}
	/* a gone slot is out of the index but still counted until its worker hands it back */
	if (entries + gone != t->count)
		return 0;
	if (scheduled != t->heap_len)
		return 0;
	for (uint32_t k = 0; k < t->heap_len; k++) {
		uint32_t i = t->heap[k];
		if (i >= t->high_water || t->slot[i].state != SLOT_SCHEDULED || t->slot[i].heap_pos != k)
			return 0;
		if (k > 0 && t->slot[t->heap[(k - 1) / 2]].due_ms > t->slot[i].due_ms)
			return 0;
	}
	return 1;
}

static void test_init_bounds(void)
{
	struct table t;

	CHECK_EQ_INT(table_init(&t, 0, 1), -EINVAL);
	CHECK_EQ_INT(table_init(&t, (1u << 26) + 1, 1), -EINVAL);
	CHECK_EQ_INT(table_init(&t, 1, 1), 0);
	CHECK_EQ_INT(t.count, 0);
	CHECK_EQ_INT(t.high_water, 0);
	CHECK_EQ_INT(table_next_due(&t), INT64_MAX);
	CHECK_EQ_INT(table_pop_due(&t, INT64_MAX), -1);
	CHECK_EQ_INT(table_find(&t, "default", "a"), -1);
	table_free(&t);
	CHECK(t.block == NULL);
	table_free(&t); /* twice is harmless */

	/* Product budget: a slot per order, heap and index included, stays under 300 bytes. */
	size_t b = table_bytes(10000);
	CHECK(b / 10000 < 300);
	CHECK(b >= 10000 * TABLE_SLOT_BYTES);
	CHECK_EQ_INT(table_init(&t, 10000, 7), 0);
	CHECK_EQ_INT(t.block_bytes, b);
	CHECK(t.index_mask + 1 >= 2 * 10000); /* load <= 1/2 as the header promises */
	table_free(&t);
}

static void test_names(void)
{
	struct table t;
	char n63[64], n64[65];

	memset(n63, 'a', 63);
	n63[63] = 0;
	memset(n64, 'b', 64);
	n64[64] = 0;
	CHECK_EQ_INT(table_init(&t, 8, 3), 0);
	int a = table_insert(&t, n63, n63, 10);
	CHECK(a >= 0);
	CHECK_EQ_INT(table_find(&t, n63, n63), a);
	CHECK_EQ_STR(t.slot[a].ns, n63);
	CHECK_EQ_STR(t.slot[a].name, n63);
	CHECK_EQ_INT(table_insert(&t, "default", n64, 10), PZ_ETOOBIG);
	CHECK_EQ_INT(table_insert(&t, n64, "x", 10), PZ_ETOOBIG);
	CHECK_EQ_INT(table_insert(&t, "", "x", 10), PZ_ETOOBIG);
	CHECK_EQ_INT(table_insert(&t, "default", "", 10), PZ_ETOOBIG);
	CHECK_EQ_INT(t.count, 1);

	/* duplicate insert: reported, table unchanged */
	CHECK_EQ_INT(table_insert(&t, n63, n63, 20), -EEXIST);
	CHECK_EQ_INT(t.count, 1);
	CHECK_EQ_INT(t.slot[a].due_ms, 10);

	/* ns/name split is part of the key: "ab"/"c" is not "a"/"bc" */
	int b = table_insert(&t, "ab", "c", 0), c = table_insert(&t, "a", "bc", 0);
	CHECK(b >= 0 && c >= 0 && b != c);
	CHECK_EQ_INT(table_find(&t, "ab", "c"), b);
	CHECK_EQ_INT(table_find(&t, "a", "bc"), c);
	CHECK_EQ_INT(table_find(&t, "abc", "x"), -1);

	/* a new slot is zeroed (no order_state left from a removed key) and due now */
	t.slot[b].o.generation = 42;
	t.slot[b].o.failures = 9;
	table_remove(&t, b);
	int d = table_insert(&t, "fresh", "one", 77);
	CHECK_EQ_INT(d, b); /* free list reuses the slot */
	CHECK_EQ_INT(t.slot[d].o.generation, 0);
	CHECK_EQ_INT(t.slot[d].o.failures, 0);
	CHECK_EQ_INT(t.slot[d].due_ms, 77);
	CHECK_EQ_INT(t.slot[d].state, SLOT_SCHEDULED);
	CHECK(table_consistent(&t));
	table_free(&t);
}

static void test_capacity_full(void)
{
	struct table t;
	char name[32];
	int slots[100];

	CHECK_EQ_INT(table_init(&t, 100, 11), 0);
	for (int k = 0; k < 100; k++) {
		snprintf(name, sizeof name, "order-%d", k);
		slots[k] = table_insert(&t, "ns", name, k);
		CHECK_EQ_INT(slots[k], k); /* never-used slots are handed out in order */
	}
	CHECK_EQ_INT(t.count, 100);
	CHECK_EQ_INT(t.high_water, 100);
	CHECK_EQ_INT(table_insert(&t, "ns", "one-too-many", 0), -ENOSPC);
	/* a duplicate in a full table is still a duplicate */
	CHECK_EQ_INT(table_insert(&t, "ns", "order-5", 0), -EEXIST);
	CHECK_EQ_INT(t.count, 100);

	table_remove(&t, slots[17]);
	table_remove(&t, slots[63]);
	CHECK_EQ_INT(table_find(&t, "ns", "order-17"), -1);
	CHECK_EQ_INT(table_find(&t, "ns", "order-63"), -1);
	int x = table_insert(&t, "ns", "late-1", 0), y = table_insert(&t, "ns", "late-2", 0);
	CHECK((x == 17 && y == 63) || (x == 63 && y == 17));
	CHECK_EQ_INT(table_insert(&t, "ns", "late-3", 0), -ENOSPC);
	CHECK_EQ_INT(t.high_water, 100);
	for (int k = 0; k < 100; k++) {
		snprintf(name, sizeof name, "order-%d", k);
		if (k != 17 && k != 63)
			CHECK_EQ_INT(table_find(&t, "ns", name), k);
	}
	CHECK(table_consistent(&t));

	/* empty it completely, then fill again from the free list */
	for (int k = 0; k < 100; k++)
		table_remove(&t, k);
	CHECK_EQ_INT(t.count, 0);
	CHECK_EQ_INT(t.heap_len, 0);
	for (uint32_t h = 0; h <= t.index_mask; h++)
		CHECK_EQ_INT(t.index[h], 0);
	for (int k = 0; k < 100; k++) {
		snprintf(name, sizeof name, "again-%d", k);
		int s = table_insert(&t, "ns", name, 0);
		CHECK(s >= 0 && s < 100);
	}
	CHECK_EQ_INT(table_insert(&t, "ns", "again-100", 0), -ENOSPC);
	CHECK_EQ_INT(t.high_water, 100);
	CHECK(table_consistent(&t));
	table_free(&t);
}

static void test_high_water(void)
{
	struct table t;
	CHECK_EQ_INT(table_init(&t, 10, 5), 0);
	int a = table_insert(&t, "n", "a", 0), b = table_insert(&t, "n", "b", 0);
	table_insert(&t, "n", "c", 0);
	CHECK_EQ_INT(t.high_water, 3);
	table_remove(&t, b);
	CHECK_EQ_INT(t.high_water, 3);
	CHECK_EQ_INT(table_insert(&t, "n", "d", 0), b);
	CHECK_EQ_INT(t.high_water, 3);
	table_remove(&t, a);
	table_remove(&t, b);
	/* last removed is first reused */
	CHECK_EQ_INT(table_insert(&t, "n", "e", 0), b);
	CHECK_EQ_INT(table_insert(&t, "n", "f", 0), a);
	CHECK_EQ_INT(table_insert(&t, "n", "g", 0), 3);
	CHECK_EQ_INT(t.high_water, 4);
	table_free(&t);
}

/*
 * Backward-shift deletion across the end of the index: keys whose home is the last bucket spill
 * into buckets 0, 1, ...; removing one must pull the others back across the wrap, and must not pull
 * a key whose home is bucket 0 or 1 before its home.
 */
static void test_wraparound(void)
{
	enum { CAP = 8 };               /* index of 16 buckets */
	const uint64_t seed = 99;
	char last[4][16], first[2][16], second[16];
	int nl = 0, nf = 0, ns = 0;
	uint32_t mask = 0;
	char cand[16];

	{
		struct table t;
		CHECK_EQ_INT(table_init(&t, CAP, seed), 0);
		mask = t.index_mask;
		table_free(&t);
	}
	for (int k = 0; k < 100000 && (nl < 4 || nf < 2 || ns < 1); k++) {
		snprintf(cand, sizeof cand, "k%d", k);
		uint32_t h = home_of(CAP, seed, "w", cand);
		if (h == mask && nl < 4)
			memcpy(last[nl++], cand, sizeof cand);
		else if (h == 0 && nf < 2)
			memcpy(first[nf++], cand, sizeof cand);
		else if (h == 1 && ns < 1) {
			memcpy(second, cand, sizeof cand);
			ns++;
		}
	}
	CHECK(nl == 4 && nf == 2 && ns == 1);
	if (nl < 4 || nf < 2 || ns < 1)
		return;

	/* Layout: L0@15 L1@0 F0@1 L2@2 S@3  (L = home 15, F = home 0, S = home 1) */
	for (int round = 0; round < 5; round++) {
		struct table t;
		CHECK_EQ_INT(table_init(&t, CAP, seed), 0);
		int l0 = table_insert(&t, "w", last[0], 0);
		int l1 = table_insert(&t, "w", last[1], 0);
		int f0 = table_insert(&t, "w", first[0], 0);
		int l2 = table_insert(&t, "w", last[2], 0);
		int s0 = table_insert(&t, "w", second, 0);
		CHECK_EQ_INT(t.index[mask], (uint32_t)l0 + 1);
		CHECK_EQ_INT(t.index[0], (uint32_t)l1 + 1);
		CHECK_EQ_INT(t.index[1], (uint32_t)f0 + 1);
		CHECK_EQ_INT(t.index[2], (uint32_t)l2 + 1);
		CHECK_EQ_INT(t.index[3], (uint32_t)s0 + 1);

		int victim = round == 0 ? l0 : round == 1 ? l1 : round == 2 ? f0 : round == 3 ? l2 : s0;
		table_remove(&t, victim);
		CHECK(table_consistent(&t));
		CHECK_EQ_INT(t.count, 4);
		for (uint32_t h = 4; h < mask; h++)
			CHECK_EQ_INT(t.index[h], 0);
		switch (round) {
		case 0: /* L1 back to 15, F0 to 0, L2 to 1, S to... stays at 2 (home 1 <= 2): all shift by one */
			CHECK_EQ_INT(t.index[mask], (uint32_t)l1 + 1);
			CHECK_EQ_INT(t.index[0], (uint32_t)f0 + 1);
			CHECK_EQ_INT(t.index[1], (uint32_t)l2 + 1);
			CHECK_EQ_INT(t.index[2], (uint32_t)s0 + 1);
			CHECK_EQ_INT(t.index[3], 0);
			break;
		case 1: /* hole at 0: F0 (home 0) moves in, L2 to 1, S to 2 */
			CHECK_EQ_INT(t.index[mask], (uint32_t)l0 + 1);
			CHECK_EQ_INT(t.index[0], (uint32_t)f0 + 1);
			CHECK_EQ_INT(t.index[1], (uint32_t)l2 + 1);
			CHECK_EQ_INT(t.index[2], (uint32_t)s0 + 1);
			CHECK_EQ_INT(t.index[3], 0);
			break;
		case 2: /* hole at 1: L2 (home 15) moves to 1, S (home 1) to 2 */
			CHECK_EQ_INT(t.index[mask], (uint32_t)l0 + 1);
			CHECK_EQ_INT(t.index[0], (uint32_t)l1 + 1);
			CHECK_EQ_INT(t.index[1], (uint32_t)l2 + 1);
			CHECK_EQ_INT(t.index[2], (uint32_t)s0 + 1);
			CHECK_EQ_INT(t.index[3], 0);
			break;
		case 3: /* hole at 2: S (home 1) may move to 2 */
			CHECK_EQ_INT(t.index[mask], (uint32_t)l0 + 1);
			CHECK_EQ_INT(t.index[0], (uint32_t)l1 + 1);
			CHECK_EQ_INT(t.index[1], (uint32_t)f0 + 1);
			CHECK_EQ_INT(t.index[2], (uint32_t)s0 + 1);
			CHECK_EQ_INT(t.index[3], 0);
			break;
		default: /* last of the run: nothing moves */
			CHECK_EQ_INT(t.index[mask], (uint32_t)l0 + 1);
			CHECK_EQ_INT(t.index[0], (uint32_t)l1 + 1);
			CHECK_EQ_INT(t.index[1], (uint32_t)f0 + 1);
			CHECK_EQ_INT(t.index[2], (uint32_t)l2 + 1);
			CHECK_EQ_INT(t.index[3], 0);
			break;
		}
		table_free(&t);
	}

	/* A key at home must not move backward across the wrap into the previous bucket:
	 * F0@0 F1@1, L0@15; removing L0 leaves F0 at 0 (its home), not at 15. */
	{
		struct table t;
		CHECK_EQ_INT(table_init(&t, CAP, seed), 0);
		int l0 = table_insert(&t, "w", last[0], 0);
		int f0 = table_insert(&t, "w", first[0], 0);
		int f1 = table_insert(&t, "w", first[1], 0);
		CHECK_EQ_INT(t.index[mask], (uint32_t)l0 + 1);
		CHECK_EQ_INT(t.index[0], (uint32_t)f0 + 1);
		CHECK_EQ_INT(t.index[1], (uint32_t)f1 + 1);
		table_remove(&t, l0);
		CHECK_EQ_INT(t.index[mask], 0);
		CHECK_EQ_INT(t.index[0], (uint32_t)f0 + 1);
		CHECK_EQ_INT(t.index[1], (uint32_t)f1 + 1);
		CHECK(table_consistent(&t));
		table_free(&t);
	}
}

/* Random inserts, removes and finds against an array model. */
struct model_key {
	char name[24];
	int slot;          /* -1 when absent */
};

static void random_run(uint32_t capacity, uint32_t pool, int ops, uint64_t seed, int check_every)
{
	static struct model_key keys[20000];
	struct table t;
	uint32_t present = 0;
	int bad_find = 0, bad_insert = 0, bad_consistency = 0, full_seen = 0;

	if (pool > PZ_ARRAY_LEN(keys))
		pool = PZ_ARRAY_LEN(keys);
	CHECK_EQ_INT(table_init(&t, capacity, seed), 0);
	for (uint32_t k = 0; k < pool; k++) {
		snprintf(keys[k].name, sizeof keys[k].name, "pizza-%u", k);
		keys[k].slot = -1;
	}
	for (int op = 0; op < ops; op++) {
		struct model_key *m = &keys[rnd(pool)];
		uint32_t r = rnd(10);
		if (r < 5) {
			int rc = table_insert(&t, "kitchen", m->name, op);
			if (m->slot >= 0)
				bad_insert += rc != -EEXIST;
			else if (present == capacity) {
				bad_insert += rc != -ENOSPC;
				full_seen++;
			} else if (rc < 0 || (uint32_t)rc >= capacity) {
				bad_insert++;
			} else {
				for (uint32_t k = 0; k < pool; k++)
					if (keys[k].slot == rc)
						bad_insert++; /* a slot handed out twice */
				m->slot = rc;
				present++;
			}
		} else if (r < 8) {
			if (m->slot >= 0) {
				table_remove(&t, m->slot);
				m->slot = -1;
				present--;
			}
		} else {
			bad_find += table_find(&t, "kitchen", m->name) != m->slot;
		}
		if (t.count != present)
			bad_consistency++;
		if (check_every && op % check_every == 0 && !table_consistent(&t))
			bad_consistency++;
	}
	for (uint32_t k = 0; k < pool; k++)
		bad_find += table_find(&t, "kitchen", keys[k].name) != keys[k].slot;
	CHECK_EQ_INT(bad_find, 0);
	CHECK_EQ_INT(bad_insert, 0);
	CHECK_EQ_INT(bad_consistency, 0);
	CHECK(table_consistent(&t));
	if (pool > capacity)
		CHECK(full_seen > 0); /* the run did exercise the full table */
	table_free(&t);
}

static void test_random(void)
{
	/* tiny index: constant wrap-around and long clusters */
	random_run(8, 24, 20000, 1, 1);
	random_run(8, 24, 20000, 0xdeadbeef, 1);
	random_run(13, 40, 20000, 2, 1);
	/* thousands of keys, the table often full */
	random_run(2000, 4000, 60000, 3, 997);
	/* thousands of keys, never full */
	random_run(5000, 3000, 60000, 4, 1499);
}

static void test_heap_basic(void)
{
	struct table t;
	CHECK_EQ_INT(table_init(&t, 16, 1), 0);
	int a = table_insert(&t, "n", "a", 100);
	int b = table_insert(&t, "n", "b", 50);
	int c = table_insert(&t, "n", "c", 75);
	CHECK_EQ_INT(table_next_due(&t), 50);

	/* nothing due yet */
	CHECK_EQ_INT(table_pop_due(&t, 49), -1);
	/* popping marks RUNNING and takes it out of the heap */
	CHECK_EQ_INT(table_pop_due(&t, 1000), b);
	CHECK_EQ_INT(t.slot[b].state, SLOT_RUNNING);
	CHECK_EQ_INT(t.heap_len, 2);
	CHECK_EQ_INT(table_next_due(&t), 75);
	CHECK(table_consistent(&t));
	/* schedule on a RUNNING slot re-adds it */
	table_schedule(&t, b, 60);
	CHECK_EQ_INT(t.slot[b].state, SLOT_SCHEDULED);
	CHECK_EQ_INT(t.heap_len, 3);
	CHECK_EQ_INT(table_next_due(&t), 60);
	CHECK(table_consistent(&t));

	/* schedule moves later and earlier */
	table_schedule(&t, b, 500);
	CHECK_EQ_INT(table_next_due(&t), 75);
	table_schedule(&t, a, 10);
	CHECK_EQ_INT(table_next_due(&t), 10);
	table_schedule(&t, a, 1000);
	CHECK_EQ_INT(table_next_due(&t), 75);
	CHECK(table_consistent(&t));

	/* pop order by due time */
	CHECK_EQ_INT(table_pop_due(&t, 2000), c);
	CHECK_EQ_INT(table_pop_due(&t, 2000), b);
	CHECK_EQ_INT(table_pop_due(&t, 999), -1);
	CHECK_EQ_INT(table_pop_due(&t, 1000), a);
	CHECK_EQ_INT(table_pop_due(&t, INT64_MAX), -1);
	CHECK_EQ_INT(table_next_due(&t), INT64_MAX);
	CHECK_EQ_INT(t.heap_len, 0);

	/* a RUNNING slot can be removed (not in the heap): it leaves the index at once, stays
	 * reserved for its worker, and is freed when the worker hands it back */
	{
		uint32_t count = t.count;
		table_remove(&t, c);
		CHECK_EQ_INT(table_find(&t, "n", "c"), -1);
		CHECK_EQ_INT(t.slot[c].gone, 1);
		CHECK_EQ_INT(t.slot[c].state, SLOT_RUNNING);
		CHECK_EQ_INT(t.count, count);
		CHECK(table_consistent(&t));
		table_remove(&t, c); /* again: nothing */
		CHECK(table_insert(&t, "n", "c", 0) != c); /* the name comes back in another slot */
		table_schedule(&t, c, 5);
		CHECK_EQ_INT(t.slot[c].state, SLOT_EMPTY);
		CHECK_EQ_INT(t.count, count);
		CHECK(table_consistent(&t));
	}
	table_free(&t);
}

static void test_enqueue_dedup(void)
{
	struct table t;
	CHECK_EQ_INT(table_init(&t, 16, 1), 0);
	int a = table_insert(&t, "n", "a", 0);
	int b = table_insert(&t, "n", "b", 0);
	CHECK_EQ_INT(table_pop_due(&t, 0) >= 0, 1);
	CHECK_EQ_INT(table_pop_due(&t, 0) >= 0, 1);
	table_schedule(&t, a, 10000);
	table_schedule(&t, b, 20000);

	for (int k = 0; k < 100; k++)
		table_enqueue(&t, a, 500 + k);
	CHECK_EQ_INT(t.heap_len, 2);
	/* the earliest enqueue wins; later ones do not push it back */
	CHECK_EQ_INT(t.slot[a].due_ms, 500);
	CHECK_EQ_INT(table_pop_due(&t, 1000), a);
	CHECK_EQ_INT(table_pop_due(&t, 1000), -1); /* popped once */
	/* enqueue never delays a slot that is due sooner */
	table_enqueue(&t, b, 30000);
	CHECK_EQ_INT(t.slot[b].due_ms, 20000);
	table_enqueue(&t, b, 700);
	CHECK_EQ_INT(table_next_due(&t), 700);
	CHECK(table_consistent(&t));
	table_free(&t);
}

/* An event for an order whose reconcile is running must not be lost: table.c's enqueue on a
 * RUNNING slot says "seen when the running reconcile reschedules: it runs again at once". */
static void test_enqueue_while_running(void)
{
	struct table t;
	CHECK_EQ_INT(table_init(&t, 4, 1), 0);
	int a = table_insert(&t, "n", "a", 0);
	CHECK_EQ_INT(table_pop_due(&t, 0), a);
	table_enqueue(&t, a, 100);                /* watch event during the reconcile */
	CHECK_EQ_INT(t.slot[a].state, SLOT_RUNNING);
	CHECK_EQ_INT(t.heap_len, 0);
	table_schedule(&t, a, 100 + 600000);      /* the reconcile ends: resync in 10 minutes */
	CHECK_EQ_INT(t.slot[a].state, SLOT_SCHEDULED);
	CHECK(table_next_due(&t) <= 100);         /* expected: runs again at once */
	table_free(&t);
}

static void test_remove_scheduled(void)
{
	struct table t;
	char name[16];
	CHECK_EQ_INT(table_init(&t, 64, 9), 0);
	for (int k = 0; k < 50; k++) {
		snprintf(name, sizeof name, "o%d", k);
		table_insert(&t, "n", name, 1000 - k * 10); /* o49 earliest */
	}
	CHECK_EQ_INT(t.heap_len, 50);
	CHECK_EQ_INT(table_next_due(&t), 510);
	table_remove(&t, table_find(&t, "n", "o49"));
	CHECK_EQ_INT(t.heap_len, 49);
	CHECK_EQ_INT(table_next_due(&t), 520);
	table_remove(&t, table_find(&t, "n", "o0")); /* a leaf, likely */
	table_remove(&t, table_find(&t, "n", "o25"));
	CHECK_EQ_INT(t.heap_len, 47);
	CHECK(table_consistent(&t));
	int64_t last = INT64_MIN;
	int n = 0, order_ok = 1;
	for (int i; (i = table_pop_due(&t, INT64_MAX)) >= 0; n++) {
		if (t.slot[i].due_ms < last)
			order_ok = 0;
		last = t.slot[i].due_ms;
		if (strcmp(t.slot[i].name, "o49") == 0 || strcmp(t.slot[i].name, "o0") == 0 ||
		    strcmp(t.slot[i].name, "o25") == 0)
			order_ok = 0;
	}
	CHECK_EQ_INT(n, 47);
	CHECK(order_ok);
	table_free(&t);
}

/* Random schedule / enqueue / pop / remove against a model of due times. */
static void test_heap_random(void)
{
	enum { CAP = 300 };
	struct table t;
	int state[CAP]; /* 0 absent, 1 scheduled, 2 running */
	char name[16];
	int bad = 0, pops = 0;

	CHECK_EQ_INT(table_init(&t, CAP, 1234), 0);
	for (int k = 0; k < CAP; k++)
		state[k] = 0;
	for (int op = 0; op < 200000; op++) {
		int k = (int)rnd(CAP), r = (int)rnd(100);
		int64_t now = op;
		snprintf(name, sizeof name, "h%d", k);
		int i = table_find(&t, "n", name);
		if (r < 20) {
			if (state[k] == 0) {
				int s = table_insert(&t, "n", name, now + (int64_t)rnd(5000));
				if (s < 0) {
					bad++;
					continue;
				}
				state[k] = 1;
			}
		} else if (r < 35) {
			if (i >= 0 && state[k] == 1) {
				int64_t before = t.slot[i].due_ms;
				int64_t when = now + (int64_t)rnd(3000);
				table_enqueue(&t, i, when);
				bad += t.slot[i].due_ms != (when < before ? when : before);
			}
		} else if (r < 60) {
			if (i >= 0 && state[k] != 0) {
				int64_t when = now + (int64_t)rnd(8000);
				table_schedule(&t, i, when);
				bad += t.slot[i].due_ms != when || t.slot[i].state != SLOT_SCHEDULED;
				state[k] = 1;
			}
		} else if (r < 85) {
			int64_t min = INT64_MAX;
			for (uint32_t s = 0; s < t.high_water; s++)
				if (t.slot[s].state == SLOT_SCHEDULED && t.slot[s].due_ms < min)
					min = t.slot[s].due_ms;
			bad += table_next_due(&t) != min;
			int p = table_pop_due(&t, now);
			if (min <= now) {
				if (p < 0 || t.slot[p].due_ms != min || t.slot[p].state != SLOT_RUNNING)
					bad++;
				else {
					int pk = -1;
					sscanf(t.slot[p].name, "h%d", &pk);
					if (pk < 0 || pk >= CAP || state[pk] != 1)
						bad++;
					else
						state[pk] = 2;
					pops++;
				}
			} else {
				bad += p != -1;
			}
		} else {
			if (i >= 0) {
				int running = t.slot[i].state == SLOT_RUNNING;
				table_remove(&t, i);
				if (running) {
					/* its worker hands it back: only then is it freed */
					bad += !t.slot[i].gone || table_find(&t, "n", name) != -1;
					table_schedule(&t, i, now);
					bad += t.slot[i].state != SLOT_EMPTY;
				}
				state[k] = 0;
			}
		}
		if (op % 1009 == 0 && !table_consistent(&t))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(pops > 1000);
	CHECK(table_consistent(&t));
	table_free(&t);
}

int main(void)
{
	test_init_bounds();
	test_names();
	test_capacity_full();
	test_high_water();
	test_wraparound();
	test_random();
	test_heap_basic();
	test_enqueue_dedup();
	test_enqueue_while_running();
	test_remove_scheduled();
	test_heap_random();
	return check_done("table");
}
