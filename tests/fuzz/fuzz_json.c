/*
 * fuzz_json.c - libFuzzer target for the JSON reader and writer (src/json.h).
 *
 * Input layout: byte 0 picks the token pool (1..128 tokens) and a small output capacity, the rest is
 * the text. Every buffer the code under test writes is an exact-size heap block, so a write past
 * `cap` is an ASan report.
 * Reader: json_parse with the small pool must agree with a pool that is always large enough; then
 * every token is walked with json_skip, json_get, json_path, json_eq, json_str and json_int:
 *   - tokens lie inside the text and nest inside their parent; walking a container's children with
 *     json_skip lands exactly on json_skip of the container;
 *   - json_get finds a member by each of its object's keys (the first member with that key);
 *   - json_str returns the same length and bytes for every capacity it fits in, PZ_ETOOBIG for one
 *     byte less, never more bytes than the raw token, and always NUL-terminates;
 *   - json_int agrees with a plain reference reading of the token.
 * Writer: the text (without its first byte) written with json_w_str as a member of an object parses
 * back, and json_str returns the identical bytes (inputs holding a NUL come back as PZ_EJSON, which
 * is how json_str refuses \u0000). An int64 from the input round-trips through json_w_int/json_int.
 */
#include "json.h"
#include "pz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json_get scans its object from the start: checking every key of a 30,000-member object would be
 * quadratic, and the first members already exercise every path. */
#define KEYS_CHECKED_MAX 64
/* json_path refuses (as a bug) a key of 64 bytes or more: paths are literals in our code. */
#define PATH_KEY_MAX 63

#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

/* json_str into an exact-size block of cap bytes; the result is copied to keep (if non-NULL). */
static int str_cap(const struct json_doc *d, int i, size_t cap, char *keep)
{
	char *out = malloc(cap ? cap : 1);
	int n;

	CHECK(out);
	n = json_str(d, i, out, cap);
	if (n >= 0) {
		CHECK((size_t)n < cap);
		CHECK(out[n] == 0);
		if (keep)
			memcpy(keep, out, (size_t)n + 1);
	}
	free(out);
	return n;
}

/* Reference: an optional '-' and 1..19 digits that fit int64. Returns 0 and sets *v, or -1. */
static int ref_int(const char *p, size_t n, int64_t *v)
{
	int neg = 0;
	unsigned __int128 acc = 0;

	if (n && *p == '-')
		neg = 1, p++, n--;
	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		acc = acc * 10 + (unsigned)(p[i] - '0');
	}
	if (acc > (unsigned __int128)INT64_MAX + (unsigned)neg)
		return -1;
	*v = neg ? (int64_t)(0 - (uint64_t)acc) : (int64_t)(uint64_t)acc;
	return 0;
}

static void check_string(const struct json_doc *d, int i, size_t small_cap, char *scratch)
{
	const jsmntok_t *t = &d->tok[i];
	size_t raw = (size_t)(t->end - t->start);
	int n = str_cap(d, i, raw + 1, scratch), m;

	CHECK(n >= 0 || n == PZ_EJSON);
	if (n < 0) {
		m = str_cap(d, i, small_cap, NULL);
		CHECK(m == PZ_EJSON || m == PZ_ETOOBIG);
		return;
	}
	CHECK((size_t)n <= raw);
	CHECK(strlen(scratch) == (size_t)n); /* jsmn stops at a raw NUL and json_str refuses \u0000 */
	/* The tightest capacity gives the same bytes; one less is too small. */
	char *again = malloc((size_t)n + 1);
	CHECK(again);
	CHECK(str_cap(d, i, (size_t)n + 1, again) == n);
	CHECK(memcmp(again, scratch, (size_t)n + 1) == 0);
	free(again);
	if (n > 0)
		CHECK(str_cap(d, i, (size_t)n, NULL) == PZ_ETOOBIG);
	m = str_cap(d, i, small_cap, NULL);
	CHECK((size_t)n < small_cap ? m == n : m == PZ_ETOOBIG);
	/* json_eq compares raw bytes: a string without escapes equals itself. */
	if (!memchr(d->buf + t->start, '\\', raw) && (size_t)n == raw && strlen(scratch) == raw)
		CHECK(json_eq(d, i, scratch) == 1);
}

static void check_object(const struct json_doc *d, int obj, char *scratch)
{
	const jsmntok_t *o = &d->tok[obj];
	int i = obj + 1;

	for (int k = 0; k < o->size; k++) {
		CHECK(i + 1 < d->ntok);
		const jsmntok_t *key = &d->tok[i];
		size_t kl = (size_t)(key->end - key->start);
		CHECK(key->type == JSMN_STRING); /* strict mode: keys are strings */
		if (k < KEYS_CHECKED_MAX && !memchr(d->buf + key->start, 0, kl)) {
			memcpy(scratch, d->buf + key->start, kl);
			scratch[kl] = 0;
			int v = json_get(d, obj, scratch);
			CHECK(v >= obj + 2 && v <= i + 1);
			CHECK(json_eq(d, v - 1, scratch) == 1);
			if (kl <= PATH_KEY_MAX && !memchr(scratch, '.', kl) && kl > 0)
				CHECK(json_path(d, obj, scratch) == v);
		}
		i = json_skip(d, i + 1);
	}
	CHECK(i == json_skip(d, obj));
}

static void walk(const struct json_doc *d, size_t len, size_t small_cap)
{
	char *scratch = malloc(len + 1);

	CHECK(scratch);
	for (int i = 0; i < d->ntok; i++) {
		const jsmntok_t *t = &d->tok[i];
		int end = json_skip(d, i);
		int64_t v, ref;

		CHECK(t->start >= 0 && t->start <= t->end && (size_t)t->end <= len);
		CHECK(end > i && end <= d->ntok);
		for (int k = i + 1; k < end; k++)
			CHECK(d->tok[k].start >= t->start && d->tok[k].end <= t->end);
		if (end < d->ntok)
			CHECK(d->tok[end].start >= t->end);
		switch (t->type) {
		case JSMN_OBJECT:
			check_object(d, i, scratch);
			CHECK(json_str(d, i, scratch, len + 1) == PZ_EJSON);
			break;
		case JSMN_ARRAY: {
			int c = i + 1;
			for (int k = 0; k < t->size; k++)
				c = json_skip(d, c);
			CHECK(c == end);
			CHECK(json_get(d, i, "a") == -1);
			break;
		}
		case JSMN_STRING:
			check_string(d, i, small_cap, scratch);
			CHECK(json_int(d, i, &v) == PZ_EJSON);
			break;
		case JSMN_PRIMITIVE: {
			int rc = json_int(d, i, &v);
			int rr = ref_int(d->buf + t->start, (size_t)(t->end - t->start), &ref);
			CHECK(rc == 0 || rc == PZ_EJSON);
			CHECK((rc == 0) == (rr == 0));
			if (rc == 0)
				CHECK(v == ref);
			CHECK(json_str(d, i, scratch, len + 1) == PZ_EJSON);
			break;
		}
		default:
			CHECK(!"token type out of range");
		}
	}
	free(scratch);
}

static void reader(const uint8_t *data, size_t len, unsigned pool, size_t small_cap)
{
	char *buf = malloc(len ? len : 1);
	jsmntok_t *small = malloc(pool * sizeof *small);
	/* A token takes at least one byte of text, so len + 1 tokens always suffice. */
	jsmntok_t *big = malloc((len + 1) * sizeof *big);
	struct json_doc ds, db;
	int ns, nb;

	CHECK(buf && small && big);
	memcpy(buf, data, len);
	ns = json_parse(&ds, buf, len, small, pool);
	nb = json_parse(&db, buf, len, big, (unsigned)len + 1);
	CHECK(ns >= 0 || ns == PZ_EJSON || ns == PZ_ETOOBIG);
	CHECK(nb >= 0 || nb == PZ_EJSON);
	if (ns >= 0) {
		CHECK(nb == ns && ds.ntok == ns);
		CHECK(memcmp(small, big, (size_t)ns * sizeof *small) == 0);
	} else if (ns == PZ_ETOOBIG) {
		CHECK(nb == PZ_EJSON || nb > (int)pool);
	} else {
		CHECK(nb == PZ_EJSON);
	}
	if (nb > 0) {
		CHECK(db.tok[0].type == JSMN_OBJECT || db.tok[0].type == JSMN_ARRAY);
		walk(&db, len, small_cap);
	} else {
		CHECK(db.ntok == 0);
	}
	free(big);
	free(small);
	free(buf);
}

/* Writes {"k":<s>} into an exact block of cap bytes. Returns json_w_end's result; text copied out. */
static int write_member(const uint8_t *s, size_t n, size_t cap, char *text)
{
	char *out = malloc(cap ? cap : 1);
	struct json_w w;
	int rc;

	CHECK(out);
	json_w_init(&w, out, cap);
	json_w_obj(&w);
	json_w_key(&w, "k");
	json_w_str(&w, (const char *)s, n);
	json_w_close(&w);
	rc = json_w_end(&w);
	if (rc >= 0) {
		CHECK((size_t)rc < cap && out[rc] == 0);
		if (text)
			memcpy(text, out, (size_t)rc + 1);
	} else {
		CHECK(rc == PZ_ETOOBIG);
	}
	free(out);
	return rc;
}

static void writer(const uint8_t *s, size_t n, size_t small_cap)
{
	/* Worst case: every byte escaped as \u00XX, plus {"k":""} and the NUL. */
	size_t cap = 6 * n + 16;
	char *text = malloc(cap), *back = malloc(n + 1);
	jsmntok_t tok[3];
	struct json_doc d;
	int len, v, r;

	CHECK(text && back);
	len = write_member(s, n, cap, text);
	CHECK(len > 0);
	CHECK(write_member(s, n, (size_t)len + 1, NULL) == len);
	CHECK(write_member(s, n, (size_t)len, NULL) == PZ_ETOOBIG);
	r = write_member(s, n, small_cap, NULL);
	CHECK((size_t)len < small_cap ? r == len : r == PZ_ETOOBIG);

	CHECK(json_parse(&d, text, (size_t)len, tok, 3) == 3);
	v = json_get(&d, 0, "k");
	CHECK(v == 2);
	r = json_str(&d, v, back, n + 1);
	if (memchr(s, 0, n)) {
		CHECK(r == PZ_EJSON);
	} else {
		CHECK(r == (int)n);
		CHECK(memcmp(back, s, n) == 0);
	}
	free(back);
	free(text);
}

static void int_round_trip(const uint8_t *data, size_t size)
{
	char text[64];
	jsmntok_t tok[3];
	struct json_doc d;
	struct json_w w;
	uint64_t u = 0;
	int64_t v, back;

	for (size_t i = 0; i < size && i < 8; i++)
		u = u << 8 | data[i];
	v = (int64_t)u;
	json_w_init(&w, text, sizeof text);
	json_w_obj(&w);
	json_w_kint(&w, "n", v);
	json_w_close(&w);
	int len = json_w_end(&w);
	CHECK(len > 0);
	CHECK(json_parse(&d, text, (size_t)len, tok, 3) == 3);
	CHECK(json_int(&d, json_get(&d, 0, "n"), &back) == 0 && back == v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned pool;
	size_t small_cap;

	if (size < 1)
		return 0;
	pool = 1 + data[0] % 128;
	small_cap = 1 + (data[0] >> 3);
	reader(data + 1, size - 1, pool, small_cap);
	writer(data + 1, size - 1, small_cap);
	int_round_trip(data + 1, size - 1);
	return 0;
}
