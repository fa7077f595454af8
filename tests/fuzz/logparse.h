/* logparse.h - a strict reader of the lines src/log.c writes, shared by tests/unit/test_log.c and
 * tests/fuzz/fuzz_log.c: exactly one logfmt or JSON record, ended by the line's only newline,
 * decoded into keys and values.
 *
 * Written from log.h's grammar and RFC 8259, not from log.c, so a writer bug is not mirrored here.
 * It is stricter than a general reader in what our writer must never emit: no whitespace in JSON,
 * one space between logfmt fields, no raw byte below 0x20, DEL, C1 control, U+2028/U+2029 or
 * ill-formed UTF-8 anywhere (all must be escaped), no duplicate key.
 *
 * Keys of the nested JSON object are flattened with a dot: "PizzaOrder.name". Decoded values are
 * kept in the record's arena (never longer than the line: every escape decodes shorter). Numbers
 * are kept as their text. Test code: static inline, no allocation, returns 0 or a negative number
 * naming the rule that failed (lp_why()). */
#ifndef PZ_LOGPARSE_H
#define PZ_LOGPARSE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LP_LINE_MAX 8192      /* larger than LOG_LINE_MAX, so a writer overrun still parses and shows */
#define LP_FIELDS_MAX 128
#define LP_KEY_MAX 64

struct lp_field {
	char key[LP_KEY_MAX];
	size_t val, vlen;   /* offset and length in the arena */
	int number;         /* a JSON number or true/false (logfmt: never) */
	int quoted;         /* logfmt: written in quotes */
};

struct lp_record {
	int n;
	struct lp_field f[LP_FIELDS_MAX];
	char arena[LP_LINE_MAX];
	size_t used;
};

enum {
	LP_ENEWLINE = -1,  /* not exactly one newline, at the end */
	LP_ETOOBIG = -2,   /* too long or too many fields for this reader */
	LP_EKEY = -3,      /* a bad key */
	LP_EVALUE = -4,    /* a bad value */
	LP_ESTRING = -5,   /* a bad string: raw control, bad escape, ill-formed UTF-8 */
	LP_ESYNTAX = -6,   /* separators, braces */
	LP_EDUP = -7,      /* a key twice */
};

static inline const char *lp_why(int rc)
{
	switch (rc) {
	case LP_ENEWLINE: return "not exactly one newline, at the end";
	case LP_ETOOBIG: return "too big for the reader";
	case LP_EKEY: return "bad key";
	case LP_EVALUE: return "bad value";
	case LP_ESTRING: return "bad string";
	case LP_ESYNTAX: return "bad syntax";
	case LP_EDUP: return "duplicate key";
	default: return "ok";
	}
}

/* The code point of the UTF-8 sequence at s (n bytes), its length in *len; -1 when ill-formed.
 * Decodes first and checks the result (shortest form, no surrogate, <= U+10FFFF): a different
 * method from the writer's table of lead and second bytes. */
static inline long lp_utf8(const unsigned char *s, size_t n, size_t *len)
{
	long cp;
	size_t k, i;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) { k = 2; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { k = 3; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { k = 4; cp = s[0] & 0x07; }
	else return -1;
	if (n < k)
		return -1;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	*len = k;
	return cp;
}

/* What a reader must get back for value bytes s: s with each byte that is not part of well-formed
 * UTF-8 replaced by U+FFFD (EF BF BD). Writes to out (room for 3n) and returns the length. */
static inline size_t lp_expect(const char *s, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, k;

	while (i < n) {
		if (lp_utf8(u + i, n - i, &k) < 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	return o;
}

static inline void lp_put_utf8(struct lp_record *r, long cp)
{
	unsigned char *p = (unsigned char *)r->arena + r->used;
	if (cp < 0x80) { p[0] = (unsigned char)cp; r->used += 1; }
	else if (cp < 0x800) { p[0] = (unsigned char)(0xc0 | cp >> 6); p[1] = (unsigned char)(0x80 | (cp & 0x3f)); r->used += 2; }
	else if (cp < 0x10000) { p[0] = (unsigned char)(0xe0 | cp >> 12); p[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (unsigned char)(0x80 | (cp & 0x3f)); r->used += 3; }
	else { p[0] = (unsigned char)(0xf0 | cp >> 18); p[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		p[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)); p[3] = (unsigned char)(0x80 | (cp & 0x3f)); r->used += 4; }
}

static inline int lp_hex4(const char *p, long *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* A JSON string at s[*i] (the opening quote) decoded into the arena; *i ends past the closing one. */
static inline int lp_string(const char *s, size_t n, size_t *i, struct lp_record *r)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t p = *i + 1, k;
	long cp, lo;

	if (*i >= n || s[*i] != '"')
		return LP_ESTRING;
	for (;;) {
		if (p >= n)
			return LP_ESTRING;
		if (s[p] == '"')
			break;
		if (s[p] == '\\') {
			if (p + 1 >= n)
				return LP_ESTRING;
			switch (s[p + 1]) {
			case '"': case '\\': case '/': r->arena[r->used++] = s[p + 1]; p += 2; continue;
			case 'b': r->arena[r->used++] = '\b'; p += 2; continue;
			case 'f': r->arena[r->used++] = '\f'; p += 2; continue;
			case 'n': r->arena[r->used++] = '\n'; p += 2; continue;
			case 'r': r->arena[r->used++] = '\r'; p += 2; continue;
			case 't': r->arena[r->used++] = '\t'; p += 2; continue;
			case 'u': break;
			default: return LP_ESTRING;
			}
			if (p + 6 > n || lp_hex4(s + p + 2, &cp) < 0)
				return LP_ESTRING;
			p += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return LP_ESTRING;  /* a lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p + 6 > n || s[p] != '\\' || s[p + 1] != 'u' || lp_hex4(s + p + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return LP_ESTRING;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			lp_put_utf8(r, cp);
			continue;
		}
		cp = lp_utf8(u + p, n - p, &k);
		/* raw bytes our writer must have escaped */
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
			return LP_ESTRING;
		memcpy(r->arena + r->used, s + p, k);
		r->used += k;
		p += k;
	}
	*i = p + 1;
	return 0;
}

static inline int lp_add(struct lp_record *r, const char *prefix, const char *key, size_t klen)
{
	size_t pl = prefix ? strlen(prefix) : 0;
	struct lp_field *f;

	if (r->n >= LP_FIELDS_MAX || pl + klen + 1 >= LP_KEY_MAX)
		return LP_ETOOBIG;
	f = &r->f[r->n];
	memset(f, 0, sizeof *f);
	if (pl) {
		memcpy(f->key, prefix, pl);
		f->key[pl++] = '.';
	}
	memcpy(f->key + pl, key, klen);
	f->key[pl + klen] = '\0';
	if (memchr(f->key, 0, pl + klen))
		return LP_EKEY;
	for (int j = 0; j < r->n; j++)
		if (strcmp(r->f[j].key, f->key) == 0)
			return LP_EDUP;
	f->val = r->used;
	return 0;
}

static inline int lp_bare_byte(unsigned char c) { return c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\'; }

/* logfmt: key=value, one space apart; a value is bare (one or more bare bytes) or a JSON string. */
static inline int lp_logfmt(const char *s, size_t n, struct lp_record *r)
{
	size_t i = 0, k;
	int rc;

	while (i < n) {
		if (r->n > 0 && s[i++] != ' ')
			return LP_ESYNTAX;
		for (k = i; k < n && lp_bare_byte((unsigned char)s[k]); k++)
			;
		if (k == i || k >= n || s[k] != '=')
			return LP_EKEY;
		if ((rc = lp_add(r, NULL, s + i, k - i)) < 0)
			return rc;
		i = k + 1;
		if (i < n && s[i] == '"') {
			r->f[r->n].quoted = 1;
			if ((rc = lp_string(s, n, &i, r)) < 0)
				return rc;
		} else {
			for (k = i; k < n && lp_bare_byte((unsigned char)s[k]); k++)
				r->arena[r->used++] = s[k];
			if (k == i)
				return LP_EVALUE;
			i = k;
		}
		r->f[r->n].vlen = r->used - r->f[r->n].val;
		r->n++;
		if (i < n && s[i] != ' ')
			return LP_ESYNTAX;
	}
	return r->n > 0 ? 0 : LP_ESYNTAX;
}

/* A JSON number (RFC 8259 grammar) at s[*i]. */
static inline int lp_number(const char *s, size_t n, size_t *i)
{
	size_t p = *i, d;

	if (p < n && s[p] == '-')
		p++;
	if (p < n && s[p] == '0')
		p++;
	else if (p < n && s[p] >= '1' && s[p] <= '9')
		while (p < n && s[p] >= '0' && s[p] <= '9')
			p++;
	else
		return LP_EVALUE;
	if (p < n && s[p] == '.') {
		for (d = ++p; p < n && s[p] >= '0' && s[p] <= '9'; p++)
			;
		if (p == d)
			return LP_EVALUE;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		for (d = p; p < n && s[p] >= '0' && s[p] <= '9'; p++)
			;
		if (p == d)
			return LP_EVALUE;
	}
	*i = p;
	return 0;
}

/* One JSON object of members with string, number, true/false or (at depth 1) object values. */
static inline int lp_object(const char *s, size_t n, size_t *i, struct lp_record *r, const char *prefix, int depth)
{
	size_t p = *i, keystart, v;
	int rc, first = 1;
	char key[LP_KEY_MAX];

	if (p >= n || s[p++] != '{')
		return LP_ESYNTAX;
	while (p < n && s[p] != '}') {
		if (!first && s[p++] != ',')
			return LP_ESYNTAX;
		first = 0;
		keystart = r->used;
		if ((rc = lp_string(s, n, &p, r)) < 0)
			return rc == LP_ESTRING ? LP_EKEY : rc;
		if (r->used - keystart >= LP_KEY_MAX)
			return LP_ETOOBIG;
		memcpy(key, r->arena + keystart, r->used - keystart);
		key[r->used - keystart] = '\0';
		r->used = keystart;
		if (p >= n || s[p++] != ':')
			return LP_ESYNTAX;
		if (p < n && s[p] == '{') {
			if (depth > 0)
				return LP_EVALUE;   /* our lines nest one level */
			if ((rc = lp_object(s, n, &p, r, key, depth + 1)) < 0)
				return rc;
			continue;
		}
		if ((rc = lp_add(r, prefix, key, strlen(key))) < 0)
			return rc;
		if (p < n && s[p] == '"') {
			if ((rc = lp_string(s, n, &p, r)) < 0)
				return rc;
		} else {
			v = p;
			if (n - p >= 4 && memcmp(s + p, "true", 4) == 0)
				p += 4;
			else if (n - p >= 5 && memcmp(s + p, "false", 5) == 0)
				p += 5;
			else if ((rc = lp_number(s, n, &p)) < 0)
				return rc;
			memcpy(r->arena + r->used, s + v, p - v);
			r->used += p - v;
			r->f[r->n].number = 1;
		}
		r->f[r->n].vlen = r->used - r->f[r->n].val;
		r->n++;
	}
	if (p >= n)
		return LP_ESYNTAX;
	*i = p + 1;
	return 0;
}

/* Parses buf[0..len) as one line: exactly one newline, as its last byte. json picks the format. */
static inline int lp_parse(const char *buf, size_t len, int json, struct lp_record *r)
{
	size_t i = 0;
	int rc;

	r->n = 0;
	r->used = 0;
	if (len == 0 || buf[len - 1] != '\n' || memchr(buf, '\n', len - 1))
		return LP_ENEWLINE;
	if (len > LP_LINE_MAX)
		return LP_ETOOBIG;
	len--;
	if (!json)
		return lp_logfmt(buf, len, r);
	if ((rc = lp_object(buf, len, &i, r, NULL, 0)) < 0)
		return rc;
	return i == len ? 0 : LP_ESYNTAX;
}

/* The field named key, or NULL. */
static inline const struct lp_field *lp_get(const struct lp_record *r, const char *key)
{
	for (int j = 0; j < r->n; j++)
		if (strcmp(r->f[j].key, key) == 0)
			return &r->f[j];
	return NULL;
}

/* 1 when field f's decoded value is exactly the n bytes at v. */
static inline int lp_is(const struct lp_record *r, const struct lp_field *f, const char *v, size_t n)
{
	return f && f->vlen == n && memcmp(r->arena + f->val, v, n) == 0;
}

static inline int lp_is_str(const struct lp_record *r, const char *key, const char *v)
{
	return lp_is(r, lp_get(r, key), v, strlen(v));
}

/* The ts value's shape: RFC 3339 UTC with milliseconds (logfmt) or digits.3digits (JSON). */
static inline int lp_ts_ok(const struct lp_record *r, int json)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	const struct lp_field *f = r->n > 0 ? &r->f[0] : NULL;
	const char *v;
	size_t j;

	if (!f || strcmp(f->key, "ts") != 0)
		return 0;
	v = r->arena + f->val;
	if (json) {
		if (!f->number || f->vlen < 5 || v[f->vlen - 4] != '.')
			return 0;
		for (j = 0; j < f->vlen; j++)
			if (j != f->vlen - 4 && (v[j] < '0' || v[j] > '9'))
				return 0;
		return 1;
	}
	if (f->vlen != sizeof shape - 1)
		return 0;
	for (j = 0; j < f->vlen; j++)
		if (shape[j] == 'd' ? v[j] < '0' || v[j] > '9' : v[j] != shape[j])
			return 0;
	return 1;
}
/* What a line should hold, in order: keys and the decoded values a reader must get back (NULL:
 * do not compare, as for ts). */
struct lp_want {
	const char *key;
	const char *val;
	size_t vlen;
};

/* 0 when the parsed record is what the writer was asked for, with log.h's cut rule: the fields are
 * a prefix of want; all of them unless the record ends with truncated=true, in which case either
 * fields are missing or the last one's value is a strict prefix of what was asked (cut inside it,
 * at a character boundary, which a decoded prefix of a well-formed expectation always is). Returns
 * a negative field number + 1 (-(i + 1)) naming the first field that is wrong, or -1000 for the
 * truncation rule. */
static inline int lp_match(const struct lp_record *r, const struct lp_want *want, int nwant)
{
	const struct lp_field *last = r->n > 0 ? &r->f[r->n - 1] : NULL;
	int trunc = last && strcmp(last->key, "truncated") == 0 && lp_is(r, last, "true", 4);
	int m = r->n - trunc, i;

	if (m > nwant)
		return -1000;
	for (i = 0; i < m; i++) {
		const struct lp_field *f = &r->f[i];
		if (strcmp(f->key, want[i].key) != 0)
			return -(i + 1);
		if (!want[i].val)
			continue;
		if (trunc && i == m - 1) {
			if (f->vlen > want[i].vlen || memcmp(r->arena + f->val, want[i].val, f->vlen) != 0)
				return -(i + 1);
		} else if (!lp_is(r, f, want[i].val, want[i].vlen)) {
			return -(i + 1);
		}
	}
	if (!trunc)
		return m == nwant ? 0 : -1000;
	if (m < nwant || (m > 0 && want[m - 1].val && r->f[m - 1].vlen < want[m - 1].vlen))
		return 0;
	return -1000;
}
#endif
