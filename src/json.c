/*
 * json.c - jsmn wrapper and a bounded JSON writer. See json.h for the contract.
 * jsmn is compiled here only, in strict mode (no unquoted keys, no bare words).
 */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "json.h"
#include "pz.h"

#include <string.h>

int json_parse(struct json_doc *d, const char *buf, size_t len, jsmntok_t *tok, unsigned cap)
{
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
		if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\r' && buf[i] != '\t')
			return PZ_EJSON;
	d->ntok = r;
	return r;
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
	if (i < 0 || d->tok[i].type != JSMN_STRING)
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

	if (i < 0 || i >= d->ntok || d->tok[i].type != JSMN_STRING || cap == 0)
		return PZ_EJSON;
	p = d->buf + d->tok[i].start;
	end = d->buf + d->tok[i].end;
	while (p < end) {
		char enc[4];
		size_t elen = 1;
		if (*p != '\\') {
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
