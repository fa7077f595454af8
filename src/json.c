/*
 * json.c - jsmn wrapper and a bounded JSON writer. See json.h for the contract.
 * jsmn is compiled here only, in strict mode (no unquoted keys, no bare words).
 */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "json.h"
#include "pz.h"

#include <stdint.h>
#include <string.h>

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Word-at-a-time byte tests (the classic "has a zero byte" trick): 8 bytes per step for the scans
 * that touch every byte of an object. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
static inline uint64_t load8(const char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}
static inline int has_below(uint64_t x, unsigned n) { return ((x - ONES * n) & ~x & HIGHS) != 0; }
static inline int has_byte(uint64_t x, unsigned char c) { return has_below(x ^ (ONES * c), 1); }

/* 1 when bytes p[0..n) hold a control character (below 0x20). */
static int has_control(const char *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		if (has_below(load8(p + i), 0x20))
			return 1;
	for (; i < n; i++)
		if ((unsigned char)p[i] < 0x20)
			return 1;
	return 0;
}

/* Index of the first '"' or '\\' in p[i..n), or n. */
static size_t find_quote_or_escape(const char *p, size_t i, size_t n)
{
	for (; i + 8 <= n; i += 8) {
		uint64_t x = load8(p + i);
		if (has_byte(x, '"') || has_byte(x, '\\'))
			break;
	}
	for (; i < n && p[i] != '"' && p[i] != '\\'; i++)
		;
	return i;
}

/* ---- syntax check ----
 * jsmn, even strict, tokenizes some broken text: a key without a value ({"a"}), missing or extra
 * commas ([1 2], [1,]), doubled colons, bad literals (tru, 01, 1.2.3). With the tokens in hand the
 * rest of the grammar is a check of the gaps between them: only blanks, plus exactly the one
 * separator the position requires, and no raw control character inside a string. Nesting is
 * bounded so the recursion is too. */


/* Raw extent of a token: jsmn's string tokens exclude their quotes. */
static int raw_start(const jsmntok_t *t) { return t->type == JSMN_STRING ? t->start - 1 : t->start; }
static int raw_end(const jsmntok_t *t) { return t->type == JSMN_STRING ? t->end + 1 : t->end; }

static int gap_ok(const char *b, int from, int to, char sep)
{
	while (from < to && is_ws(b[from]))
		from++;
	if (sep) {
		if (from >= to || b[from] != sep)
			return 0;
		from++;
	}
	while (from < to && is_ws(b[from]))
		from++;
	return from == to;
}

static int digit_run(const char *p, const char *end, const char **out)
{
	const char *q = p;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	*out = q;
	return q > p;
}

static int literal_ok(const char *p, const char *end)
{
	size_t n = (size_t)(end - p);
	const char *q;
	if ((n == 4 && memcmp(p, "true", 4) == 0) || (n == 5 && memcmp(p, "false", 5) == 0) ||
	    (n == 4 && memcmp(p, "null", 4) == 0))
		return 1;
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		q = p + 1;
	else if (!digit_run(p, end, &q))
		return 0;
	if (q < end && *q == '.' && !digit_run(q + 1, end, &q))
		return 0;
	if (q < end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (!digit_run(q, end, &q))
			return 0;
	}
	return q == end;
}

/* Checks the value at token i; *next receives the token after it. 0 or -1. */
static int check_value(const struct json_doc *d, int i, int depth, int *next)
{
	const jsmntok_t *t = &d->tok[i];
	int pos, j, is_obj;

	if (depth > JSON_DEPTH_MAX)
		return -1;
	switch (t->type) {
	case JSMN_PRIMITIVE:
		*next = i + 1;
		return literal_ok(d->buf + t->start, d->buf + t->end) ? 0 : -1;
	case JSMN_STRING:
		*next = i + 1;
		if (has_control(d->buf + t->start, (size_t)(t->end - t->start)))
			return -1; /* raw control characters are not JSON */
		return t->size == 0 ? 0 : -1; /* a string with a value of its own is a key out of place */
	case JSMN_OBJECT:
	case JSMN_ARRAY:
		is_obj = t->type == JSMN_OBJECT;
		pos = t->start + 1;
		j = i + 1;
		for (int k = 0; k < t->size; k++) {
			if (j >= d->ntok || !gap_ok(d->buf, pos, raw_start(&d->tok[j]), k ? ',' : 0))
				return -1;
			if (is_obj) {
				const jsmntok_t *key = &d->tok[j];
				if (key->type != JSMN_STRING || key->size != 1 || j + 1 >= d->ntok ||
				    !gap_ok(d->buf, raw_end(key), raw_start(&d->tok[j + 1]), ':'))
					return -1;
				if (has_control(d->buf + key->start, (size_t)(key->end - key->start)))
					return -1;
				j++;
			}
			int v = j;
			if (check_value(d, v, depth + 1, &j) < 0)
				return -1;
			pos = raw_end(&d->tok[v]);
		}
		*next = j;
		return gap_ok(d->buf, pos, t->end - 1, 0) ? 0 : -1;
	default:
		return -1;
	}
}

int json_parse(struct json_doc *d, const char *buf, size_t len, jsmntok_t *tok, unsigned cap)
{
	int next;

	jsmn_parser p;
	int r;

	d->buf = buf;
	d->tok = tok;
	d->ntok = 0;
	if (len > 0x7fffffff)
		return PZ_ETOOBIG;
	jsmn_init(&p);
	r = jsmn_parse(&p, buf, len, tok, cap);
	if (r == JSMN_ERROR_NOMEM)
		return PZ_ETOOBIG;
	if (r < 1)
		return PZ_EJSON;
	/* jsmn accepts trailing values; we want exactly one, and it must be a container. */
	if (tok[0].type != JSMN_OBJECT && tok[0].type != JSMN_ARRAY)
		return PZ_EJSON;
	for (size_t i = (size_t)tok[0].end; i < len; i++)
		if (!is_ws(buf[i]))
			return PZ_EJSON;
	for (int i = 0; i < tok[0].start; i++)
		if (!is_ws(buf[i]))
			return PZ_EJSON; /* jsmn skips a stray ':' or ',' before the value */
	d->ntok = r;
	if (check_value(d, 0, 0, &next) < 0 || next != r) {
		d->ntok = 0;
		return PZ_EJSON;
	}
	return r;
}

size_t json_drop_member(char *buf, size_t len, const char *key)
{
	size_t kl = strlen(key), i, start = 0, end;
	int depth = 0, found = 0;

	/* Find "key": — a plain loop, not memmem: the member sits near the start of metadata, and
	 * libc's two-way search costs more to set up (and 800 bytes of binary) than it saves. */
	for (i = 1; i + kl + 3 < len; i++) {
		if (buf[i] == '"' && buf[i + kl + 1] == '"' && buf[i + kl + 2] == ':' &&
		    (buf[i - 1] == ',' || buf[i - 1] == '{' || is_ws(buf[i - 1])) &&
		    memcmp(buf + i + 1, key, kl) == 0) {
			found = 1;
			break;
		}
	}
	if (!found)
		return len;
	start = i;
	i += kl + 3;
	if (buf[i] != '[' && buf[i] != '{')
		return len;
	for (; i < len; i++) {
		char c = buf[i];
		if (c == '"') {
			/* skip the string: a backslash escapes the next byte */
			for (i = find_quote_or_escape(buf, i + 1, len); i < len && buf[i] == '\\';)
				i = find_quote_or_escape(buf, i + 2, len);
		} else if (c == '[' || c == '{') {
			depth++;
		} else if ((c == ']' || c == '}') && --depth == 0) {
			break;
		}
	}
	if (i >= len)
		return len;
	end = i + 1;
	i = end;
	while (i < len && is_ws(buf[i]))
		i++;
	if (i < len && buf[i] == ',') {
		end = i + 1;                 /* "k":[..] ,"next" -> "next" */
	} else {
		while (start > 0 && is_ws(buf[start - 1]))
			start--;
		if (start > 0 && buf[start - 1] == ',')
			start--;             /* ,"k":[..]} -> } */
	}
	memmove(buf + start, buf + end, len - end);
	return len - (end - start);
}

int json_skip(const struct json_doc *d, int i)
{
	int end = d->tok[i].end;
	for (i++; i < d->ntok && d->tok[i].start < end; i++)
		;
	return i;
}

int json_get(const struct json_doc *d, int obj, const char *key)
{
	size_t klen = strlen(key);
	int i, n;

	if (obj < 0 || obj >= d->ntok || d->tok[obj].type != JSMN_OBJECT)
		return -1;
	n = d->tok[obj].size;
	i = obj + 1;
	while (n-- > 0 && i + 1 < d->ntok) {
		const jsmntok_t *k = &d->tok[i];
		if (k->type == JSMN_STRING && (size_t)(k->end - k->start) == klen &&
		    memcmp(d->buf + k->start, key, klen) == 0)
			return i + 1;
		i = json_skip(d, i + 1);
	}
	return -1;
}

int json_path(const struct json_doc *d, int obj, const char *path)
{
	char key[64];

	while (obj >= 0 && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof key)
			PZ_BUG("json_path key too long");
		memcpy(key, path, n);
		key[n] = 0;
		obj = json_get(d, obj, key);
		path += n;
		if (*path == '.')
			path++;
	}
	return obj;
}

int json_eq(const struct json_doc *d, int i, const char *s)
{
	size_t n = strlen(s);
	if (i < 0 || i >= d->ntok || d->tok[i].type != JSMN_STRING)
		return 0;
	return (size_t)(d->tok[i].end - d->tok[i].start) == n && memcmp(d->buf + d->tok[i].start, s, n) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int hex4(const char *p, const char *end, uint32_t *v)
{
	*v = 0;
	if (end - p < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(p[k]);
		if (h < 0)
			return -1;
		*v = (*v << 4) | (uint32_t)h;
	}
	return 0;
}

int json_str(const struct json_doc *d, int i, char *out, size_t cap)
{
	const char *p, *end;
	size_t n = 0;

	if (i < 0 || i >= d->ntok || d->tok[i].type != JSMN_STRING)
		return PZ_EJSON;
	if (cap == 0)
		return PZ_ETOOBIG;
	p = d->buf + d->tok[i].start;
	end = d->buf + d->tok[i].end;
	while (p < end) {
		char enc[4];
		size_t elen = 1;
		if (*p != '\\') {
			if ((unsigned char)*p < 0x20)
				return PZ_EJSON; /* raw control characters are not JSON */
			enc[0] = *p++;
		} else {
			uint32_t cp;
			if (++p >= end)
				return PZ_EJSON;
			switch (*p++) {
			case '"': enc[0] = '"'; break;
			case '\\': enc[0] = '\\'; break;
			case '/': enc[0] = '/'; break;
			case 'b': enc[0] = '\b'; break;
			case 'f': enc[0] = '\f'; break;
			case 'n': enc[0] = '\n'; break;
			case 'r': enc[0] = '\r'; break;
			case 't': enc[0] = '\t'; break;
			case 'u':
				if (hex4(p, end, &cp) < 0)
					return PZ_EJSON;
				p += 4;
				if (cp >= 0xd800 && cp < 0xdc00) {
					uint32_t lo;
					if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) < 0 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return PZ_EJSON;
					p += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp < 0xe000) {
					return PZ_EJSON;
				}
				if (cp == 0)
					return PZ_EJSON; /* a NUL would silently cut every C string after it */
				if (cp < 0x80) {
					enc[0] = (char)cp;
				} else if (cp < 0x800) {
					enc[0] = (char)(0xc0 | (cp >> 6));
					enc[1] = (char)(0x80 | (cp & 0x3f));
					elen = 2;
				} else if (cp < 0x10000) {
					enc[0] = (char)(0xe0 | (cp >> 12));
					enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					enc[2] = (char)(0x80 | (cp & 0x3f));
					elen = 3;
				} else {
					enc[0] = (char)(0xf0 | (cp >> 18));
					enc[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
					enc[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
					enc[3] = (char)(0x80 | (cp & 0x3f));
					elen = 4;
				}
				break;
			default:
				return PZ_EJSON;
			}
		}
		if (n + elen >= cap)
			return PZ_ETOOBIG;
		memcpy(out + n, enc, elen);
		n += elen;
	}
	out[n] = 0;
	return (int)n;
}

int json_int(const struct json_doc *d, int i, int64_t *out)
{
	const char *p, *end;
	int neg = 0;
	uint64_t v = 0;

	if (i < 0 || i >= d->ntok || d->tok[i].type != JSMN_PRIMITIVE)
		return PZ_EJSON;
	p = d->buf + d->tok[i].start;
	end = d->buf + d->tok[i].end;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == end)
		return PZ_EJSON;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return PZ_EJSON;
		if (v > (UINT64_C(1) << 63) / 10)
			return PZ_EJSON;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
		return PZ_EJSON;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* ---- writer ---- */

static void put(struct json_w *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (w->cap - w->len <= n) { /* keep one byte for the final NUL */
		w->err = PZ_ETOOBIG;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* Before any value: a comma when the enclosing container already holds one. Keys place their own
 * comma; the value right after a key must not add one (state 2). */
static void sep(struct json_w *w)
{
	if (w->depth > 0) {
		if (w->first[w->depth - 1] == 2) { /* value right after its key */
			w->first[w->depth - 1] = 0;
			return;
		}
		if (!w->first[w->depth - 1])
			put(w, ",", 1);
		w->first[w->depth - 1] = 0;
	}
}

void json_w_init(struct json_w *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = cap == 0 ? PZ_ETOOBIG : 0;
	w->depth = 0;
}

static void w_open(struct json_w *w, char c)
{
	sep(w);
	if (w->depth >= JSON_W_DEPTH_MAX) {
		w->err = w->err ? w->err : PZ_EJSON;
		return;
	}
	put(w, &c, 1);
	w->arr[w->depth] = c == '[';
	w->first[w->depth++] = 1;
}

void json_w_obj(struct json_w *w) { w_open(w, '{'); }
void json_w_arr(struct json_w *w) { w_open(w, '['); }

void json_w_close(struct json_w *w)
{
	if (w->depth == 0) {
		w->err = w->err ? w->err : PZ_EJSON;
		return;
	}
	w->depth--;
	put(w, w->arr[w->depth] ? "]" : "}", 1);
}

static void quoted(struct json_w *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	put(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[6];
		size_t elen = 2;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
				u[4] = hex[c >> 4]; u[5] = hex[c & 15];
				esc = u;
				elen = 6;
			}
		}
		if (esc) {
			put(w, s + i - run, run);
			run = 0;
			put(w, esc, elen);
		} else {
			run++;
		}
	}
	put(w, s + n - run, run);
	put(w, "\"", 1);
}

void json_w_key(struct json_w *w, const char *key)
{
	sep(w);
	quoted(w, key, strlen(key));
	put(w, ":", 1);
	if (w->depth > 0)
		w->first[w->depth - 1] = 2;
}

void json_w_str(struct json_w *w, const char *s, size_t n)
{
	sep(w);
	quoted(w, s, n);
}

void json_w_cstr(struct json_w *w, const char *s) { json_w_str(w, s, strlen(s)); }

void json_w_int(struct json_w *w, int64_t v)
{
	char tmp[24];
	size_t n = sizeof tmp;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	sep(w);
	do {
		tmp[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--n] = '-';
	put(w, tmp + n, sizeof tmp - n);
}

void json_w_bool(struct json_w *w, int v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_w_kstr(struct json_w *w, const char *key, const char *s)
{
	json_w_key(w, key);
	json_w_cstr(w, s);
}

void json_w_kint(struct json_w *w, const char *key, int64_t v)
{
	json_w_key(w, key);
	json_w_int(w, v);
}

int json_w_end(struct json_w *w)
{
	if (!w->err && w->depth != 0)
		w->err = PZ_EJSON;
	if (w->err)
		return w->err;
	w->buf[w->len] = 0;
	return (int)w->len;
}
