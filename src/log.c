/*
 * log.c - the line writer of log.h: fields escaped into one static line, cut well-formed, one write.
 *
 * No printf and no libc float formatting in the writer: the timestamp (JSON's epoch seconds too)
 * and integers are formatted by hand. Measured cost over the old printf-style writer: +2.2 KB of
 * text in the static binary (escaping, cutting and JSON included). Nothing here calls PZ_ASSERT:
 * pz_bug logs through this module, and a check that failed in here would recurse.
 */
#include "log.h"
#include "order.h"
#include "pz.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;
enum log_format log_format = LOG_FORMAT_LOGFMT;
int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

#define TAIL_LOGFMT " truncated=true"
#define TAIL_JSON ",\"truncated\":true}"
/* Content stops at LINE_LIMIT; above it is room for what closes a line after a cut: a value's
 * closing quote, the nested object's brace, the longer tail and the newline. A field starts only
 * when FIELD_MIN more bytes fit after its key: an opening quote and the longest escape (6 bytes,
 * \u00NN) or UTF-8 sequence, so a started value is never empty unless it was empty. */
#define LINE_LIMIT (LOG_LINE_MAX - 1 - 1 - (sizeof TAIL_JSON - 1) - 1)
#define FIELD_MIN 8

static struct {
	char buf[LOG_LINE_MAX];
	size_t len;
	unsigned char on;     /* a line is open and will be written */
	unsigned char cut;    /* something did not fit: later fields are dropped */
	unsigned char first;  /* the next member is the first of its object: no separator */
	unsigned char nested; /* JSON: inside "PizzaOrder":{ */
} ln;

static void put(const char *s, size_t n)
{
	memcpy(ln.buf + ln.len, s, n);
	ln.len += n;
}

static void put1(char c) { ln.buf[ln.len++] = c; }

static int fits(size_t n) { return ln.len + n <= LINE_LIMIT; }

/* Printable ASCII other than the bytes logfmt gives a meaning: a bare value or key byte. */
static int bare_byte(unsigned char c) { return c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\'; }

/* Length of the well-formed UTF-8 sequence (Unicode table 3-7) that starts s[0], of n bytes left;
 * 0 when s[0] does not start one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0) lo = 0xa0;       /* overlong */
	if (c == 0xed) hi = 0x9f;       /* surrogates */
	if (c == 0xf0) lo = 0x90;       /* overlong */
	if (c == 0xf4) hi = 0x8f;       /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Appends s escaped (log.h's rules), one whole escape or character at a time, while they fit
 * below LINE_LIMIT. Returns the bytes of s consumed: n unless the line is full. */
static size_t put_escaped(const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned char c = u[i];
		size_t in = utf8_len(u + i, n - i), out;
		char e[6] = { '\\', 'u', '0', '0', 0, 0 };
		const char *w = e;

		if (c == '"' || c == '\\') {
			e[1] = (char)c;
			out = 2;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			out = 2;
		} else if (c < 0x20 || c == 0x7f || (c == 0xc2 && in == 2 && u[i + 1] < 0xa0)) {
			c = c == 0xc2 ? u[i + 1] : c;   /* C1: U+0080..U+009F */
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			out = 6;
		} else if (c == 0xe2 && in == 3 && u[i + 1] == 0x80 && (u[i + 2] | 1) == 0xa9) {
			memcpy(e + 2, u[i + 2] == 0xa8 ? "2028" : "2029", 4);
			out = 6;
		} else if (in == 0) {
			memcpy(e + 2, "fffd", 4);
			in = 1;
			out = 6;
		} else {
			w = s + i;
			out = in;
		}
		if (!fits(out))
			break;
		put(w, out);
		i += in;
	}
	return i;
}

/* Starts a field: separator and key, with room for `need` value bytes after it. When that does not
 * fit, the field is rolled back, the line is marked cut and 0 is returned. */
static int key(const char *k, size_t need)
{
	size_t start = ln.len, n = strlen(k), i;

	if (!ln.on || ln.cut)
		return 0;
	if (log_format == LOG_FORMAT_JSON) {
		if (!fits(2))
			goto cut;
		if (!ln.first)
			put1(',');
		put1('"');
		if (put_escaped(k, n) < n || !fits(2 + need))
			goto cut;
		put("\":", 2);
	} else {
		if (!fits((n ? n : 1) + 2 + need))
			goto cut;
		if (!ln.first)
			put1(' ');
		for (i = 0; i < n; i++)
			put1(bare_byte((unsigned char)k[i]) ? k[i] : '_');
		if (n == 0)
			put1('_');
		put1('=');
	}
	ln.first = 0;
	return 1;
cut:
	ln.len = start;
	ln.cut = 1;
	return 0;
}

/* A string value made of count pieces, quoted when the format or its bytes need it. */
static void value(const char *const *piece, const size_t *len, int count)
{
	int quote = log_format == LOG_FORMAT_JSON, empty = 1, i;
	size_t j;

	for (i = 0; i < count; i++)
		for (j = 0; j < len[i]; j++, empty = 0)
			quote |= !bare_byte((unsigned char)piece[i][j]);
	quote |= empty;
	if (quote)
		put1('"');
	for (i = 0; i < count && !ln.cut; i++)
		if (put_escaped(piece[i], len[i]) < len[i])
			ln.cut = 1;
	if (quote)
		put1('"'); /* in the reserve above LINE_LIMIT when the value was cut */
}

void log_mem(const char *k, const char *v, size_t len)
{
	if (!key(k, FIELD_MIN))
		return;
	if (!v)
		len = 0;
	value(&v, &len, 1);
}

void log_str(const char *k, const char *v) { log_mem(k, v, v ? strlen(v) : 0); }

/* Decimal digits of v right-aligned in tmp; returns where they start. */
static char *fmt_uint(char tmp[24], uint64_t v)
{
	char *p = tmp + 24;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

void log_int(const char *k, long long v)
{
	char tmp[24], *p;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	p = fmt_uint(tmp, u);
	if (v < 0)
		*--p = '-';
	if (key(k, (size_t)(tmp + sizeof tmp - p)))
		put(p, (size_t)(tmp + sizeof tmp - p));
}

void log_err(int code) { log_str("error", pz_strerror(code)); }

void log_object(const char *ns, const char *name, const char *reconcile_id)
{
	static const char slash = '/';
	const char *piece[3];
	size_t len[3];

	ns = ns ? ns : "";
	name = name ? name : "";
	log_str("controller", "pizzaorder");
	log_str("controllerGroup", ORDER_GROUP);
	log_str("controllerKind", ORDER_KIND);
	if (log_format == LOG_FORMAT_JSON) {
		if (key("PizzaOrder", FIELD_MIN)) {
			put1('{');
			ln.nested = 1;
			ln.first = 1;
			log_str("name", name);
			log_str("namespace", ns);
			if (!ln.cut) {
				put1('}'); /* in the reserve when the last value just filled the line */
				ln.nested = 0;
			}
		}
	} else if (key("PizzaOrder", FIELD_MIN)) {
		piece[0] = ns;
		len[0] = strlen(ns);
		piece[1] = &slash;
		len[1] = 1;
		piece[2] = name;
		len[2] = strlen(name);
		value(piece, len, 3);
	}
	log_str("namespace", ns);
	log_str("name", name);
	if (reconcile_id)
		log_str("reconcileID", reconcile_id);
}

/* n decimal digits of v, zero-padded, then the separator c (none when 0). */
static char *digits(char *p, unsigned v, int n, char c)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	p += n;
	if (c)
		*p++ = c;
	return p;
}

size_t log_ts(char out[LOG_TS_MAX], int64_t ms, enum log_format format)
{
	/* 9999-12-31T23:59:59.999Z: the last instant with a four-digit year. */
	const int64_t max = INT64_C(253402300799999);
	char tmp[24], *p = out, *q;
	time_t s;
	struct tm tm;

	ms = ms < 0 ? 0 : ms > max ? max : ms;
	s = (time_t)(ms / 1000);
	if (format == LOG_FORMAT_JSON) {
		q = fmt_uint(tmp, (uint64_t)s);
		memcpy(p, q, (size_t)(tmp + sizeof tmp - q));
		p += tmp + sizeof tmp - q;
		*p++ = '.';
	} else {
		/* gmtime_r is linked anyway (lease, order); its date arithmetic costs nothing more here */
		gmtime_r(&s, &tm);
		p = digits(p, (unsigned)tm.tm_year + 1900, 4, '-');
		p = digits(p, (unsigned)tm.tm_mon + 1, 2, '-');
		p = digits(p, (unsigned)tm.tm_mday, 2, 'T');
		p = digits(p, (unsigned)tm.tm_hour, 2, ':');
		p = digits(p, (unsigned)tm.tm_min, 2, ':');
		p = digits(p, (unsigned)tm.tm_sec, 2, '.');
	}
	p = digits(p, (unsigned)(ms % 1000), 3, format == LOG_FORMAT_JSON ? 0 : 'Z');
	*p = '\0';
	return (size_t)(p - out);
}

static int64_t wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int log_begin(enum log_level level, const char *msg)
{
	const char *name = level_names[(unsigned)level <= LOG_ERROR ? level : LOG_ERROR];
	char ts[LOG_TS_MAX];
	size_t n;

	ln.on = level >= log_min_level;
	if (!ln.on)
		return 0;
	n = log_ts(ts, wall_ms(), log_format);
	ln.len = 0;
	ln.cut = 0;
	ln.nested = 0;
	ln.first = 1;
	if (log_format == LOG_FORMAT_JSON)
		put1('{');
	key("ts", n); /* these three fit: LINE_LIMIT is far above them */
	put(ts, n);
	log_str("level", name);
	log_str("msg", msg);
	return 1;
}

/* The one place a log line meets the kernel: retries EINTR and short writes. */
static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(log_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* stderr gone: nowhere left to say so */
		p += w;
		n -= (size_t)w;
	}
}

void log_end(void)
{
	if (!ln.on)
		return;
	ln.on = 0;
	if (ln.nested)
		put1('}');
	if (ln.cut && log_format == LOG_FORMAT_JSON)
		put(TAIL_JSON, sizeof TAIL_JSON - 1);
	else if (ln.cut)
		put(TAIL_LOGFMT, sizeof TAIL_LOGFMT - 1);
	else if (log_format == LOG_FORMAT_JSON)
		put1('}');
	put1('\n');
	write_all(ln.buf, ln.len);
}
