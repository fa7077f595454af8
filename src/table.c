/*
 * table.c - slots, a seeded open-addressing index and a min-heap of due times (see table.h).
 * Every operation is O(1) or O(log n); removal uses backward-shift deletion, so the index needs
 * no tombstones and never degrades with churn. The hash is seeded at start-up so that order names
 * chosen to collide cannot turn lookups linear.
 */
#include "table.h"
#include "metrics.h"
#include "pz.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define TABLE_CAPACITY_MAX (1u << 26)

static uint32_t index_size(uint32_t capacity)
{
	uint32_t n = 16;
	while (n < capacity * 2)
		n <<= 1;
	return n;
}

size_t table_bytes(uint32_t capacity)
{
	return (size_t)capacity * (sizeof(struct table_slot) + sizeof(uint32_t)) +
	       (size_t)index_size(capacity) * sizeof(uint32_t);
}

int table_init(struct table *t, uint32_t capacity, uint64_t seed)
{
	unsigned char *p;

	memset(t, 0, sizeof *t);
	if (capacity == 0 || capacity > TABLE_CAPACITY_MAX)
		return -EINVAL;
	t->block_bytes = table_bytes(capacity);
	/* mmap, not malloc: the kernel hands out zero pages on first touch, so untouched slots cost
	 * no resident memory, and nothing else ever shares or fragments this block. */
	p = mmap(NULL, t->block_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	t->block = p;
	t->slot = (struct table_slot *)(void *)p;
	t->heap = (uint32_t *)(void *)(p + (size_t)capacity * sizeof(struct table_slot));
	t->index = t->heap + capacity;
	t->capacity = capacity;
	t->index_mask = index_size(capacity) - 1;
	t->seed = seed;
	/* Free list threads through heap_pos; built lazily: free_head counts never-used slots. */
	t->free_head = UINT32_MAX;
	return 0;
}

void table_free(struct table *t)
{
	if (t->block)
		munmap(t->block, t->block_bytes);
	memset(t, 0, sizeof *t);
}

static uint32_t hash_key(const struct table *t, const char *ns, const char *name)
{
	uint64_t h = t->seed ^ 0x9e3779b97f4a7c15ULL;
	for (const char *p = ns;; p++) {
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		if (!*p)
			break;
	}
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	/* final avalanche (splitmix64) so the low bits we index with depend on every byte and the seed */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (uint32_t)h;
}

int table_find(const struct table *t, const char *ns, const char *name)
{
	uint32_t h = hash_key(t, ns, name) & t->index_mask;
	for (;;) {
		uint32_t e = t->index[h];
		if (e == 0)
			return -1;
		const struct table_slot *s = &t->slot[e - 1];
		if (strcmp(s->name, name) == 0 && strcmp(s->ns, ns) == 0)
			return (int)(e - 1);
		h = (h + 1) & t->index_mask;
	}
}

/* ---- heap ---- */

static int earlier(const struct table *t, uint32_t a, uint32_t b)
{
	return t->slot[t->heap[a]].due_ms < t->slot[t->heap[b]].due_ms;
}

static void heap_swap(struct table *t, uint32_t a, uint32_t b)
{
	uint32_t x = t->heap[a];
	t->heap[a] = t->heap[b];
	t->heap[b] = x;
	t->slot[t->heap[a]].heap_pos = a;
	t->slot[t->heap[b]].heap_pos = b;
}

static void sift_up(struct table *t, uint32_t i)
{
	while (i > 0 && earlier(t, i, (i - 1) / 2)) {
		heap_swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void sift_down(struct table *t, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < t->heap_len && earlier(t, l, m))
			m = l;
		if (r < t->heap_len && earlier(t, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

static void heap_push(struct table *t, int i)
{
	t->slot[i].heap_pos = t->heap_len;
	t->heap[t->heap_len++] = (uint32_t)i;
	sift_up(t, t->heap_len - 1);
}

static void heap_delete(struct table *t, int i)
{
	uint32_t pos = t->slot[i].heap_pos;
	PZ_ASSERT(pos < t->heap_len && t->heap[pos] == (uint32_t)i);
	t->heap_len--;
	if (pos != t->heap_len) {
		t->heap[pos] = t->heap[t->heap_len];
		t->slot[t->heap[pos]].heap_pos = pos;
		sift_down(t, pos);
		sift_up(t, pos);
	}
}

/* ---- slots ---- */

int table_insert(struct table *t, const char *ns, const char *name, int64_t now)
{
	size_t nl = strlen(ns), ml = strlen(name);
	uint32_t h, i;
	struct table_slot *s;

	if (nl >= TABLE_NAME_MAX || ml >= TABLE_NAME_MAX || nl == 0 || ml == 0)
		return PZ_ETOOBIG;
	if (table_find(t, ns, name) >= 0)
		return -EEXIST;
	if (t->count == t->capacity)
		return -ENOSPC;
	if (t->free_head != UINT32_MAX) {
		i = t->free_head;
		t->free_head = t->slot[i].heap_pos;
	} else {
		i = t->count; /* never-used slots are exactly those at and past count when the list is empty */
		t->high_water = i + 1;
	}
	s = &t->slot[i];
	memset(s, 0, sizeof *s);
	memcpy(s->ns, ns, nl + 1);
	memcpy(s->name, name, ml + 1);
	s->due_ms = now;
	s->state = SLOT_SCHEDULED;
	heap_push(t, (int)i);
	metrics_queue_add();
	h = hash_key(t, ns, name) & t->index_mask;
	while (t->index[h])
		h = (h + 1) & t->index_mask;
	t->index[h] = i + 1;
	t->count++;
	return (int)i;
}

/* Takes slot i out of the index (table_find no longer sees it). */
static void index_delete(struct table *t, int i)
{
	struct table_slot *s = &t->slot[i];
	uint32_t h, j;

	h = hash_key(t, s->ns, s->name) & t->index_mask;
	while (t->index[h] != (uint32_t)i + 1) {
		PZ_ASSERT(t->index[h] != 0);
		h = (h + 1) & t->index_mask;
	}
	/* backward-shift deletion */
	j = h;
	for (;;) {
		uint32_t k, home;
		j = (j + 1) & t->index_mask;
		if (t->index[j] == 0)
			break;
		k = t->index[j] - 1;
		home = hash_key(t, t->slot[k].ns, t->slot[k].name) & t->index_mask;
		/* move entry j into hole h when its home is not cyclically within (h, j] */
		if (((j - home) & t->index_mask) >= ((j - h) & t->index_mask)) {
			t->index[h] = t->index[j];
			h = j;
		}
	}
	t->index[h] = 0;
}

static void slot_free(struct table *t, int i)
{
	struct table_slot *s = &t->slot[i];
	memset(s, 0, sizeof *s);
	s->state = SLOT_EMPTY;
	s->heap_pos = t->free_head;
	t->free_head = (uint32_t)i;
	t->count--;
}

void table_remove(struct table *t, int i)
{
	struct table_slot *s = &t->slot[i];

	PZ_ASSERT(s->state != SLOT_EMPTY);
	if (s->gone)
		return;
	index_delete(t, i);
	if (s->state == SLOT_RUNNING) {
		/* A worker holds the slot: it stays reserved (and out of the index, so the same name can
		 * come back in another slot) until the worker hands it back with table_schedule. */
		s->gone = 1;
		return;
	}
	heap_delete(t, i);
	slot_free(t, i);
}

void table_enqueue(struct table *t, int i, int64_t now)
{
	struct table_slot *s = &t->slot[i];
	if (s->state == SLOT_RUNNING) {
		s->requeued = 1; /* an event arrived during its reconcile: run again right after */
		return;
	}
	PZ_ASSERT(s->state == SLOT_SCHEDULED);
	if (s->due_ms > now) {
		s->due_ms = now;
		sift_up(t, s->heap_pos);
		metrics_queue_add(); /* it was waiting for a resync or a retry: now it is queued */
	}
}

void table_schedule(struct table *t, int i, int64_t due)
{
	struct table_slot *s = &t->slot[i];
	if (s->state == SLOT_RUNNING && s->gone) {
		slot_free(t, i);
		return;
	}
	if (s->state == SLOT_RUNNING) {
		s->state = SLOT_SCHEDULED;
		s->due_ms = s->requeued ? 0 : due; /* 0 is before any monotonic "now" */
		s->requeued = 0;
		heap_push(t, i);
		return;
	}
	PZ_ASSERT(s->state == SLOT_SCHEDULED);
	s->due_ms = due;
	sift_down(t, s->heap_pos);
	sift_up(t, s->heap_pos);
}

int table_pop_due(struct table *t, int64_t now)
{
	int i;
	if (t->heap_len == 0 || t->slot[t->heap[0]].due_ms > now)
		return -1;
	i = (int)t->heap[0];
	heap_delete(t, i);
	t->slot[i].state = SLOT_RUNNING;
	/* due 0 marks "requeued while running": it waited no time in the queue proper */
	{
		int64_t waited = t->slot[i].due_ms > 0 ? now - t->slot[i].due_ms : 0;
		metrics_queue_wait(waited < 0 ? 0 : waited > INT64_MAX / 1000 ? INT64_MAX : waited * 1000);
	}
	return i;
}

uint32_t table_count_due(const struct table *t, int64_t now)
{
	/* The heap's due entries form a subtree at its root: visit only those. O(due) with an
	 * explicit stack (depth <= 27 for 2^26 slots, two children pushed per visit). */
	uint32_t stack[64], n = 0, count = 0;
	if (t->heap_len)
		stack[n++] = 0;
	while (n) {
		uint32_t p = stack[--n];
		if (t->slot[t->heap[p]].due_ms > now)
			continue;
		count++;
		if (2 * p + 1 < t->heap_len)
			stack[n++] = 2 * p + 1;
		if (2 * p + 2 < t->heap_len)
			stack[n++] = 2 * p + 2;
	}
	return count;
}

int64_t table_next_due(const struct table *t)
{
	return t->heap_len ? t->slot[t->heap[0]].due_ms : INT64_MAX;
}
