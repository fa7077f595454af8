/*
 * toppings.c - the topping-name dictionary (see toppings.h): entries with reference counts and an
 * open-addressing index of 512 one-byte buckets (load <= 1/2), hashed with FNV-1a.
 */
#include "toppings.h"
#include "pz.h"

#include <string.h>

#define INDEX_SIZE 512 /* a power of two, at least 2 x TOPPINGS_MAX */

struct entry {
	uint32_t refs;   /* max_orders is at most 2^26, so one name's references fit */
	uint8_t len;
	char raw[TOPPING_RAW_MAX];
};

static struct entry entries[TOPPINGS_MAX + 1]; /* [0] unused: id 0 means none */
static uint8_t index_[INDEX_SIZE];             /* 0 empty, else an id */
static unsigned used;

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* Index position of name: where it is, or the empty bucket where it would go. */
static uint32_t find(const char *name, size_t len)
{
	uint32_t h = hash(name, len) & (INDEX_SIZE - 1);
	for (;;) {
		uint8_t id = index_[h];
		if (id == 0 || (entries[id].len == len && memcmp(entries[id].raw, name, len) == 0))
			return h;
		h = (h + 1) & (INDEX_SIZE - 1);
	}
}

uint8_t toppings_intern(const char *name, size_t len)
{
	uint32_t h;
	if (len == 0 || len > TOPPING_RAW_MAX)
		return 0;
	h = find(name, len);
	if (index_[h]) {
		entries[index_[h]].refs++;
		return index_[h];
	}
	if (used == TOPPINGS_MAX)
		return 0;
	for (uint8_t id = 1; id != 0; id++) {
		if (entries[id].refs)
			continue;
		entries[id].refs = 1;
		entries[id].len = (uint8_t)len;
		memcpy(entries[id].raw, name, len);
		index_[h] = id;
		used++;
		return id;
	}
	PZ_BUG("toppings: count and entries disagree");
}

void toppings_release(uint8_t id)
{
	uint32_t h, j;
	if (id == 0)
		return;
	PZ_ASSERT(entries[id].refs > 0);
	if (--entries[id].refs)
		return;
	/* Last reference: take it out of the index with backward-shift deletion (no tombstones, so
	 * lookups stay short however names come and go). */
	h = find(entries[id].raw, entries[id].len);
	PZ_ASSERT(index_[h] == id);
	j = h;
	for (;;) {
		uint32_t home;
		j = (j + 1) & (INDEX_SIZE - 1);
		if (index_[j] == 0)
			break;
		home = hash(entries[index_[j]].raw, entries[index_[j]].len) & (INDEX_SIZE - 1);
		if (((j - home) & (INDEX_SIZE - 1)) >= ((j - h) & (INDEX_SIZE - 1))) {
			index_[h] = index_[j];
			h = j;
		}
	}
	index_[h] = 0;
	entries[id].len = 0;
	used--;
}

const char *toppings_get(uint8_t id, size_t *len)
{
	PZ_ASSERT(id != 0 && entries[id].refs > 0);
	*len = entries[id].len;
	return entries[id].raw;
}

unsigned toppings_count(void)
{
	return used;
}
