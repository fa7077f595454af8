/*
 * fuzz_json.c - libFuzzer target for the JSON reader and writer (src/json.h).
 *
 * Input layout: byte 0 picks the token pool (1..128 tokens) and a small output capacity, the rest is
 * the text. Every buffer the code under test writes is an exact-size heap block, so a write past
 * `cap` is an ASan report.
 * Reader: json_parse with the small pool must agree with the controller's pool (BIG_POOL), and with
 * that pool must accept every text a reference RFC 8259 checker calls valid (unless it needs more
 * tokens); then every token is walked with json_skip, json_get, json_path, json_eq, json_str and
 * json_int:
 *   - tokens lie inside the text and nest inside their parent;
 *   - in a well-formed container (an object of key/value pairs, an array of values), walking the
 *     children with json_skip lands exactly on json_skip of the container, and json_get finds a
 *     member by each of its object's keys (the first member with that key);
 *   - json_str returns the same length and bytes for every capacity it fits in, PZ_ETOOBIG for one
 *     byte less, never more bytes than the raw token, and always NUL-terminates;
 *   - json_int agrees with a plain reference reading of the token.
 * Writer: the text (without its first byte) written with json_w_str as a member of an object parses
 * back, and json_str returns the identical bytes (inputs holding a NUL come back as PZ_EJSON, which
 * is how json_str refuses \u0000). An int64 from the input round-trips through json_w_int/json_int.
 *
 * jsmn alone (even in strict mode) accepts text that is not JSON: {"a"}, {"a","b":1}, [1 2], [1,,2],
 * {"a":1x}; json_parse adds a syntax check over its tokens. The target requires json_parse to agree
 * with the reference checker on every input (nesting deeper than JSON_DEPTH_MAX aside, which
 * json_parse refuses on purpose), the contract json.h states.
 */
#include "json.h"
#include "fuzz.h"
#include "pz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json_get scans its object from the start: checking every key of a 30,000-member object would be
 * quadratic, and the first members already exercise every path. */
#define KEYS_CHECKED_MAX 64
/* The pool the controller gives a 64 KiB object (--max-object-bytes / 8). jsmn finds a closing
 * bracket by walking back over the open tokens, so parsing is quadratic in nesting depth; this bound
 * keeps a 64 KiB input of brackets well inside libFuzzer's timeout, as it keeps the controller fast. */
#define BIG_POOL 8192u
/* json_path refuses (as a bug) a key of 64 bytes or more: paths are literals in our code. */
#define PATH_KEY_MAX 63

#define STRICT 1


/* ---- reference checker: RFC 8259, iteratively (inputs nest up to 32K deep) ---- */

static int ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return (int)i;
}

static int hexdigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int digit(char c) { return c >= '0' && c <= '9'; }

/* Each returns the index just past the token at s[i], or -1. */
static long lex_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"')
			return (long)i + 1;
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (++i >= n)
				return -1;
			if (s[i] == 'u') {
				if (n - i < 5 || !hexdigit(s[i + 1]) || !hexdigit(s[i + 2]) || !hexdigit(s[i + 3]) ||
				    !hexdigit(s[i + 4]))
					return -1;
				i += 4;
			} else if (!strchr("\"\\/bfnrt", s[i]) || s[i] == 0) {
				return -1;
			}
		}
	}
	return -1;
}

static long lex_number(const char *s, size_t n, size_t i)
{
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && digit(s[i]))
		while (i < n && digit(s[i]))
			i++;
	else
		return -1;
	if (i < n && s[i] == '.') {
		if (++i >= n || !digit(s[i]))
			return -1;
		while (i < n && digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !digit(s[i]))
			return -1;
		while (i < n && digit(s[i]))
			i++;
	}
	return (long)i;
}

static long lex_word(const char *s, size_t n, size_t i)
{
	static const char *const words[] = { "true", "false", "null" };
	for (size_t k = 0; k < 3; k++) {
		size_t wl = strlen(words[k]);
		if (n - i >= wl && memcmp(s + i, words[k], wl) == 0)
			return (long)(i + wl);
	}
	return -1;
}

/* 1 when s[0..n) is one object or array with optional whitespace around it. */
/* Deepest bracket nesting outside strings (json_parse refuses beyond JSON_DEPTH_MAX on purpose). */
static int max_depth(const char *s, size_t n)
{
	int d = 0, m = 0, in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++d > m)
				m = d;
		} else if (c == ']' || c == '}') {
			d--;
		}
	}
	return m;
}

static int valid_json(const char *s, size_t n)
{
	char *stack = malloc(n + 1);
	size_t sp = 0;
	long i = ws(s, n, 0);
	enum { VALUE, KEY, AFTER } st = VALUE;
	int ok = 0;

	CHECK(stack);
	if ((size_t)i >= n || (s[i] != '{' && s[i] != '['))
		goto out;
	for (;;) {
		i = ws(s, n, (size_t)i);
		if ((size_t)i >= n)
			goto out;
		char c = s[i];
		if (st == KEY) {
			if (c != '"' || (i = lex_string(s, n, (size_t)i)) < 0)
				goto out;
			i = ws(s, n, (size_t)i);
			if ((size_t)i >= n || s[i] != ':')
				goto out;
			i++;
			st = VALUE;
		} else if (st == VALUE) {
			if (c == '{' || c == '[') {
				stack[sp++] = c;
				i = ws(s, n, (size_t)i + 1);
				if ((size_t)i < n && s[i] == (c == '{' ? '}' : ']')) {
					sp--;
					i++;
					st = AFTER;
				} else {
					st = c == '{' ? KEY : VALUE;
				}
			} else {
				if (c == '"')
					i = lex_string(s, n, (size_t)i);
				else if (c == '-' || digit(c))
					i = lex_number(s, n, (size_t)i);
				else
					i = lex_word(s, n, (size_t)i);
				if (i < 0)
					goto out;
				st = AFTER;
			}
		} else {
			if (c == ',') {
				i++;
				st = stack[sp - 1] == '{' ? KEY : VALUE;
			} else if (c == (stack[sp - 1] == '{' ? '}' : ']')) {
				i++;
				sp--;
			} else {
				goto out;
			}
		}
		if (st == AFTER && sp == 0) {
			ok = (size_t)ws(s, n, (size_t)i) == n;
			goto out;
		}
	}
out:
	free(stack);
	return ok;
}

/* Marks in wf[c] whether container c is one json_get and json_skip can walk: an object of
 * (string key with one value) pairs, an array of values none of which is a key. One pass, parents
 * found by position (a stack of the tokens whose span is still open), so deep nesting stays linear. */
static void layout(const struct json_doc *d, unsigned char *wf)
{
	int *stack = malloc(((size_t)d->ntok + 1) * sizeof *stack), *nchild = calloc((size_t)d->ntok + 1, sizeof *nchild);
	int sp = 0;

	CHECK(stack && nchild);
	for (int i = 0; i < d->ntok; i++) {
		const jsmntok_t *t = &d->tok[i];
		wf[i] = 1;
		while (sp && d->tok[stack[sp - 1]].end <= t->start)
			sp--;
		if (sp) {
			int p = stack[sp - 1];
			int is_key = t->type == JSMN_STRING && t->size != 0;
			if (d->tok[p].type == JSMN_OBJECT && nchild[p] % 2 == 0)
				wf[p] &= t->type == JSMN_STRING && t->size == 1;
			else
				wf[p] &= !is_key;
			nchild[p]++;
		}
		stack[sp++] = i;
	}
	for (int i = 0; i < d->ntok; i++) {
		const jsmntok_t *t = &d->tok[i];
		if (t->type == JSMN_OBJECT)
			wf[i] &= nchild[i] == 2 * t->size;
		else if (t->type == JSMN_ARRAY)
			wf[i] &= nchild[i] == t->size;
	}
	free(nchild);
	free(stack);
}

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

/* Reference: an optional '-' and digits (leading zeros too) whose value fits int64. Returns 0 and
 * sets *v, or -1. */
static int ref_int(const char *p, size_t n, int64_t *v)
{
	int neg = 0;
	unsigned __int128 acc = 0, limit = (unsigned __int128)INT64_MAX + 1;

	if (n && *p == '-')
		neg = 1, p++, n--;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		acc = acc * 10 + (unsigned)(p[i] - '0');
		if (acc > limit)
			acc = limit + 1; /* saturate: already too large */
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

	for (int k = 0; k < o->size && k < KEYS_CHECKED_MAX; k++) {
		const jsmntok_t *key = &d->tok[i];
		size_t kl = (size_t)(key->end - key->start);
		memcpy(scratch, d->buf + key->start, kl);
		scratch[kl] = 0;
		int v = json_get(d, obj, scratch);
		CHECK(v >= obj + 2 && v <= i + 1);
		CHECK(json_eq(d, v - 1, scratch) == 1);
		if (kl <= PATH_KEY_MAX && !memchr(scratch, '.', kl) && kl > 0)
			CHECK(json_path(d, obj, scratch) == v);
		i = json_skip(d, i + 1);
	}
}

static void walk(const struct json_doc *d, size_t len, size_t small_cap)
{
	char *scratch = malloc(len + 1);
	unsigned char *wf = malloc((size_t)d->ntok + 1);

	CHECK(scratch && wf);
	layout(d, wf);
	for (int i = 0; i < d->ntok; i++) {
		const jsmntok_t *t = &d->tok[i];
		int end = json_skip(d, i);
		int64_t v, ref;

		CHECK(t->start >= 0 && t->start <= t->end && (size_t)t->end <= len);
		CHECK(end > i && end <= d->ntok);
		/* Nesting: checking the first and last token inside is enough, each checks its own. */
		if (end > i + 1)
			CHECK(d->tok[i + 1].start >= t->start && d->tok[end - 1].end <= t->end);
		if (end < d->ntok)
			CHECK(d->tok[end].start >= t->end);
		if (t->type == JSMN_OBJECT || t->type == JSMN_ARRAY) {
			CHECK(wf[i] || !STRICT);
			if (!wf[i]) {
				/* Out of step: only ask, for memory safety; the answer means nothing. */
				(void)json_get(d, i, "metadata");
				(void)json_path(d, i, "metadata.name");
			} else if (t->type == JSMN_ARRAY) {
				int c = i + 1;
				for (int k = 0; k < t->size; k++)
					c = json_skip(d, c);
				CHECK(c == end);
			}
		}
		switch (t->type) {
		case JSMN_OBJECT:
			if (wf[i])
				check_object(d, i, scratch);
			CHECK(json_str(d, i, scratch, len + 1) == PZ_EJSON);
			break;
		case JSMN_ARRAY:
			CHECK(json_get(d, i, "a") == -1);
			break;
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
	free(wf);
	free(scratch);
}

static void reader(const uint8_t *data, size_t len, unsigned pool, size_t small_cap)
{
	char *buf = malloc(len ? len : 1);
	jsmntok_t *small = malloc(pool * sizeof *small);
	jsmntok_t *big = malloc(BIG_POOL * sizeof *big);
	struct json_doc ds, db;
	int ns, nb, valid;

	CHECK(buf && small && big);
	memcpy(buf, data, len);
	ns = json_parse(&ds, buf, len, small, pool);
	nb = json_parse(&db, buf, len, big, BIG_POOL);
	CHECK(ns >= 0 || ns == PZ_EJSON || ns == PZ_ETOOBIG);
	CHECK(nb >= 0 || nb == PZ_EJSON || nb == PZ_ETOOBIG);
	if (ns >= 0) {
		CHECK(nb == ns && ds.ntok == ns);
		CHECK(memcmp(small, big, (size_t)ns * sizeof *small) == 0);
	} else if (ns == PZ_ETOOBIG) {
		CHECK(nb == PZ_EJSON || nb == PZ_ETOOBIG || nb > (int)pool);
	} else {
		CHECK(nb == PZ_EJSON);
	}
	valid = valid_json(buf, len);
	if (valid && max_depth(buf, len) <= JSON_DEPTH_MAX)
		CHECK(nb > 0 || nb == PZ_ETOOBIG); /* JSON we would refuse: an API server response lost */
	if (STRICT && nb > 0)
		CHECK(valid);
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
