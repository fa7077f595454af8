/*
 * test_http.c - the HTTP/1.1 response parser and request head writer (src/http.h).
 *
 * Every recorded API server response (tests/data/NAME.http) is fed whole, one byte at a time, and split
 * in two at every position; the body spans must always add up to the body a plain reference decoder
 * finds. Each input sits right before a PROT_NONE page, so a read past `len` crashes; every test runs
 * in its own child process, so a crash counts as one failure and the other tests still run.
 */
#include "check.h"
#include "harness.h"
#include "http.h"
#include "pz.h"

#include <stdlib.h>
#include <string.h>

/* Collects body spans; `bad` counts spans that were not inside the bytes consumed by that call. */
struct sink {
	char buf[16384];
	size_t len;
	int bad;
};

/* Feeds in[0..len) in as many calls as the parser needs. Returns the bytes consumed or the error. */
static long feed(struct http_resp *r, const char *in, size_t len, struct sink *s)
{
	size_t pos = 0;

	while (pos < len) {
		const char *body = NULL;
		size_t blen = 99; /* must come back 0 when there is no payload */
		int rc = http_resp_feed(r, in + pos, len - pos, &body, &blen);
		if (rc < 0)
			return rc;
		if (blen) {
			if (body < in + pos || body + blen > in + pos + rc || s->len + blen > sizeof s->buf)
				s->bad++;
			else
				memcpy(s->buf + s->len, body, blen), s->len += blen;
		}
		if (rc == 0)
			break;
		pos += (size_t)rc;
	}
	return (long)pos;
}

/* Feeds all of in and returns the first error, or the bytes consumed. */
static long feed_str(struct http_resp *r, const char *in, struct sink *s)
{
	return feed(r, in, strlen(in), s);
}

/* ---- recorded responses ---- */

static const struct recorded {
	const char *file;
	int status;
	int chunked;
	long body_len; /* measured independently (python) when the files were added */
} recorded[] = {
	{ "list-orders-page1.http", 200, 0, 1849 },
	{ "list-orders-page2.http", 200, 0, 1017 },
	{ "list-pods.http", 200, 1, 4958 },
	{ "watch-orders.http", 200, 1, 3234 },
	{ "watch-pods.http", 200, 1, 6918 },
	{ "watch-gone.http", 200, 1, 171 },
	{ "get-order.http", 200, 0, 1641 },
	{ "get-pod.http", 200, 1, 4628 },
	{ "get-notfound.http", 404, 0, 303 },
	{ "list-bad-continue.http", 400, 0, 254 },
};

static void check_recorded(const struct recorded *rec)
{
	static struct sink s;
	static char ref[16384];
	struct http_resp r;
	struct guard ga, gb;
	size_t len = 0, head_len = 0;
	char *raw = data_load(rec->file, &len);
	long ref_len, n;
	int byte_ok = 1, split_ok = 1, head_ok = 1;

	CHECK(raw != NULL);
	if (!raw)
		return;
	ref_len = ref_body(raw, len, ref, sizeof ref, &head_len);
	CHECK_EQ_INT(ref_len, rec->body_len);

	guard_init(&ga, len);
	guard_init(&gb, len);

	/* (a) whole: the first call stops exactly after the blank line, with no body yet. */
	{
		const char *in = guard_put(&ga, raw, len), *body;
		size_t blen;
		http_resp_init(&r, 0);
		CHECK_EQ_INT(http_resp_feed(&r, in, len, &body, &blen), (long)head_len);
		CHECK_EQ_INT(blen, 0);
		CHECK(http_resp_headers_done(&r));
		CHECK(!http_resp_done(&r));
		CHECK_EQ_INT(r.status, rec->status);
		CHECK_EQ_INT(r.chunked, rec->chunked);
		CHECK_EQ_INT(r.has_length, !rec->chunked);
		CHECK_EQ_INT(r.keep_alive, 1);
		s.len = 0;
		s.bad = 0;
		n = feed(&r, in + head_len, len - head_len, &s);
		CHECK_EQ_INT(n, (long)(len - head_len));
		CHECK(http_resp_done(&r));
		CHECK_EQ_INT(s.bad, 0);
		CHECK_EQ_INT(s.len, ref_len);
		CHECK(s.len == (size_t)ref_len && memcmp(s.buf, ref, s.len) == 0);
		CHECK_EQ_INT(http_resp_eof(&r), 0);
		/* Done: nothing more is taken. */
		CHECK_EQ_INT(http_resp_feed(&r, in, len, &body, &blen), 0);
		CHECK_EQ_INT(blen, 0);
	}

	/* (b) one byte at a time, each byte the last readable one. */
	http_resp_init(&r, 0);
	s.len = 0;
	s.bad = 0;
	for (size_t i = 0; i < len; i++) {
		n = feed(&r, guard_put(&ga, raw + i, 1), 1, &s);
		if (n != 1) {
			fprintf(stderr, "%s: byte %zu: feed returned %ld\n", rec->file, i, n);
			byte_ok = 0;
			break;
		}
		if (http_resp_headers_done(&r) != (i + 1 >= head_len))
			head_ok = 0;
	}
	CHECK(byte_ok);
	CHECK(head_ok);
	CHECK(http_resp_done(&r));
	CHECK_EQ_INT(r.status, rec->status);
	CHECK_EQ_INT(s.bad, 0);
	CHECK(s.len == (size_t)ref_len && memcmp(s.buf, ref, s.len) == 0);

	/* (c) split in two at every position, each piece before its own guard page. */
	for (size_t k = 0; k <= len && split_ok; k++) {
		long n1, n2;
		http_resp_init(&r, 0);
		s.len = 0;
		s.bad = 0;
		n1 = feed(&r, guard_put(&ga, raw, k), k, &s);
		n2 = feed(&r, guard_put(&gb, raw + k, len - k), len - k, &s);
		if (n1 != (long)k || n2 != (long)(len - k) || !http_resp_done(&r) || s.bad ||
		    s.len != (size_t)ref_len || memcmp(s.buf, ref, s.len) != 0) {
			fprintf(stderr, "%s: split at %zu: consumed %ld+%ld, body %zu bytes, done %d\n",
				rec->file, k, n1, n2, s.len, http_resp_done(&r));
			split_ok = 0;
		}
	}
	CHECK(split_ok);

	guard_free(&ga);
	guard_free(&gb);
	free(raw);
}

static void test_recorded(void)
{
	for (size_t i = 0; i < PZ_ARRAY_LEN(recorded); i++)
		check_recorded(&recorded[i]);
}

/* The de-chunked watch body is one JSON event per line. */
static void test_watch_body_lines(void)
{
	static const char *const types[] = { "{\"type\":\"ADDED\"", "{\"type\":\"MODIFIED\"",
		"{\"type\":\"DELETED\"", "{\"type\":\"BOOKMARK\"" };
	static struct sink s;
	struct http_resp r;
	size_t len = 0, nlines = 0;
	char *raw = data_load("watch-orders.http", &len);

	CHECK(raw != NULL);
	if (!raw)
		return;
	http_resp_init(&r, 0);
	CHECK_EQ_INT(feed(&r, raw, len, &s), (long)len);
	CHECK(s.len > 0 && s.buf[s.len - 1] == '\n');
	for (size_t pos = 0; pos < s.len;) {
		char *nl = memchr(s.buf + pos, '\n', s.len - pos);
		size_t n = nl ? (size_t)(nl - (s.buf + pos)) : s.len - pos;
		if (nlines < 4) {
			size_t tl = strlen(types[nlines]);
			CHECK(n > tl && memcmp(s.buf + pos, types[nlines], tl) == 0);
			CHECK(s.buf[pos + n - 1] == '}');
		}
		nlines++;
		pos += n + 1;
	}
	CHECK_EQ_INT(nlines, 4);

	/* watch-gone: a 200 stream whose one event is an ERROR carrying the 410. */
	free(raw);
	raw = data_load("watch-gone.http", &len);
	CHECK(raw != NULL);
	if (!raw)
		return;
	http_resp_init(&r, 0);
	s.len = 0;
	CHECK_EQ_INT(feed(&r, raw, len, &s), (long)len);
	CHECK_EQ_INT(r.status, 200);
	CHECK(s.len > 20 && memcmp(s.buf, "{\"type\":\"ERROR\"", 15) == 0);
	CHECK(memmem(s.buf, s.len, "\"code\":410}}\n", 13) == s.buf + s.len - 13);
	free(raw);
}

/* ---- synthetic responses ---- */

static void test_status_and_keepalive(void)
{
	static const struct {
		const char *in;
		int status, keep_alive;
	} ok[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 1 },
		{ "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404, 1 },
		{ "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n", 410, 1 },
		{ "HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n", 409, 1 },
		{ "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 500, 1 },
		{ "HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", 599, 1 },
		{ "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, 1 },   /* no reason phrase */
		{ "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 200, 1 },  /* empty reason phrase */
		{ "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 200, 1 },      /* bare LF lines */
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 200, 0 },
		{ "HTTP/1.1 200 OK\r\nconnection: CLOSE\r\nContent-Length: 0\r\n\r\n", 200, 0 },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0 },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 200, 1 },
	};
	for (size_t i = 0; i < PZ_ARRAY_LEN(ok); i++) {
		static struct sink s;
		struct http_resp r;
		http_resp_init(&r, 0);
		s.len = 0;
		CHECK_EQ_INT(feed_str(&r, ok[i].in, &s), (long)strlen(ok[i].in));
		CHECK_EQ_INT(r.status, ok[i].status);
		CHECK_EQ_INT(r.keep_alive, ok[i].keep_alive);
		CHECK(http_resp_done(&r));
		CHECK_EQ_INT(s.len, 0);
	}
}

static void test_content_length(void)
{
	static struct sink s;
	struct http_resp r;
	const char *in = "HTTP/1.1 200 OK\r\ncontent-LENGTH:   11  \r\nContent-Length: 11\r\n\r\nhello worldHTTP/1.1";
	size_t head = strlen(in) - strlen("hello worldHTTP/1.1");
	const char *body;
	size_t blen;

	/* Case-insensitive name, padded value, a repeated identical header; the bytes after the body
	 * (the next pipelined response) are left alone. */
	http_resp_init(&r, 0);
	CHECK_EQ_INT(http_resp_feed(&r, in, strlen(in), &body, &blen), (long)head);
	CHECK_EQ_INT(r.has_length, 1);
	CHECK_EQ_INT(r.remaining, 11);
	CHECK_EQ_INT(http_resp_feed(&r, in + head, 5, &body, &blen), 5);
	CHECK(blen == 5 && body == in + head);
	CHECK(!http_resp_done(&r));
	CHECK_EQ_INT(http_resp_feed(&r, in + head + 5, strlen(in) - head - 5, &body, &blen), 6);
	CHECK(blen == 6 && body == in + head + 5);
	CHECK(http_resp_done(&r));
	CHECK_EQ_INT(r.keep_alive, 1);
	CHECK_EQ_INT(http_resp_feed(&r, in + head + 11, 8, &body, &blen), 0);

	/* Content-Length: 0 is done with the head. */
	http_resp_init(&r, 0);
	s.len = 0;
	CHECK_EQ_INT(feed_str(&r, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", &s), 43);
	CHECK(http_resp_done(&r));

	/* EOF in the middle of a Content-Length body is a cut-short response. */
	http_resp_init(&r, 0);
	CHECK_EQ_INT(feed_str(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &s), 42);
	CHECK_EQ_INT(http_resp_eof(&r), PZ_EHTTP);
}

static void test_chunked_extensions_trailers(void)
{
	static struct sink s;
	struct http_resp r;
	const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
		"5;name=value\r\nhello\r\n"
		"6 ; ext\r\n world\r\n"
		"A\r\n, chunked!\r\n"
		"0000000b\r\n and more.\n\r\n"   /* 8 hex digits is the bound, not over it */
		"0;last=\"yes\"\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n";
	const char *next = "HTTP/1.1 200 OK\r\n";
	char both[512];

	snprintf(both, sizeof both, "%s%s", in, next);
	http_resp_init(&r, 0);
	s.len = 0;
	s.bad = 0;
	CHECK_EQ_INT(feed_str(&r, both, &s), (long)strlen(in));
	CHECK(http_resp_done(&r));
	CHECK_EQ_INT(s.bad, 0);
	CHECK_EQ_INT(s.len, 32);
	CHECK(s.len == 32 && memcmp(s.buf, "hello world, chunked! and more.\n", 32) == 0);
	CHECK_EQ_INT(r.keep_alive, 1);

	/* Bare LF after the size and after the data, and a lower-case hex size. */
	http_resp_init(&r, 0);
	s.len = 0;
	CHECK_EQ_INT(feed_str(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"a\n0123456789\n0\n\n", &s), 63);
	CHECK(http_resp_done(&r));
	CHECK(s.len == 10 && memcmp(s.buf, "0123456789", 10) == 0);

	/* EOF before the last chunk is a cut-short response; after it, a clean end. */
	http_resp_init(&r, 0);
	CHECK(feed_str(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", &s) > 0);
	CHECK_EQ_INT(http_resp_eof(&r), PZ_EHTTP);
	http_resp_init(&r, 0);
	CHECK(feed_str(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &s) > 0);
	CHECK(http_resp_done(&r));
	CHECK_EQ_INT(http_resp_eof(&r), 0);
}

static void test_no_body(void)
{
	static struct sink s;
	static const char *const in[] = {
		"HTTP/1.1 204 No Content\r\nAudit-Id: x\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	};
	struct http_resp r;

	/* A response without a body ends at its head; what follows is the next response. */
	for (size_t i = 0; i < PZ_ARRAY_LEN(in); i++) {
		char both[256];
		snprintf(both, sizeof both, "%sHTTP/1.1 200 OK\r\n\r\n", in[i]);
		http_resp_init(&r, 0);
		s.len = 0;
		CHECK_EQ_INT(feed_str(&r, both, &s), (long)strlen(in[i]));
		CHECK(http_resp_done(&r));
		CHECK_EQ_INT(s.len, 0);
		CHECK_EQ_INT(r.keep_alive, 1);
	}
	/* The answer to a HEAD has no body whatever its Content-Length says. */
	http_resp_init(&r, 1);
	s.len = 0;
	CHECK_EQ_INT(feed_str(&r, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nX", &s), 40);
	CHECK(http_resp_done(&r));
	CHECK_EQ_INT(s.len, 0);
	CHECK_EQ_INT(r.status, 200);
}

static void test_eof_body(void)
{
	static struct sink s;
	struct http_resp r;

	http_resp_init(&r, 0);
	s.len = 0;
	s.bad = 0;
	CHECK_EQ_INT(feed_str(&r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", &s), 45);
	CHECK(http_resp_headers_done(&r));
	CHECK_EQ_INT(r.keep_alive, 0); /* the body ends with the connection */
	CHECK_EQ_INT(feed_str(&r, "abc", &s), 3);
	CHECK_EQ_INT(feed_str(&r, "\ndef", &s), 4);
	CHECK(!http_resp_done(&r));
	CHECK_EQ_INT(http_resp_eof(&r), 0);
	CHECK(http_resp_done(&r));
	CHECK(s.len == 7 && memcmp(s.buf, "abc\ndef", 7) == 0);
	CHECK_EQ_INT(s.bad, 0);

	/* EOF in the status line or in the headers is a cut-short response. */
	http_resp_init(&r, 0);
	CHECK_EQ_INT(http_resp_eof(&r), PZ_EHTTP);
	http_resp_init(&r, 0);
	CHECK_EQ_INT(feed_str(&r, "HTTP/1.1 200 OK\r\nContent-Le", &s), 27);
	CHECK_EQ_INT(http_resp_eof(&r), PZ_EHTTP);
}

/* ---- bad input: each fed whole and byte by byte, both right before a guard page ---- */

struct bad_case {
	const char *what;
	char *in;
	size_t len;
	int want;
};

static void check_bad(const struct bad_case *c, struct guard *g)
{
	static struct sink s;
	struct http_resp r;
	long rc = 0;

	http_resp_init(&r, 0);
	s.len = 0;
	rc = feed(&r, guard_put(g, c->in, c->len), c->len, &s);
	if (rc != c->want)
		fprintf(stderr, "bad input \"%s\" (whole): got %ld, want %d\n", c->what, rc, c->want);
	CHECK_EQ_INT(rc, c->want);

	http_resp_init(&r, 0);
	s.len = 0;
	for (size_t i = 0; i < c->len; i++) {
		rc = feed(&r, guard_put(g, c->in + i, 1), 1, &s);
		if (rc != 1)
			break;
	}
	if (rc != c->want)
		fprintf(stderr, "bad input \"%s\" (bytes): got %ld, want %d\n", c->what, rc, c->want);
	CHECK_EQ_INT(rc, c->want);
}

static char *dup_str(const char *s) { return strdup(s); }

/* "HTTP/1.1 200 OK\r\n" + n headers "X-Hn: v\r\n" + "\r\n" */
static char *many_headers(int n)
{
	char *b = malloc(32 + (size_t)n * 24), *p = b;
	p += sprintf(p, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < n; i++)
		p += sprintf(p, "X-H%d: v\r\n", i);
	sprintf(p, "Content-Length: 0\r\n\r\n");
	return b;
}

/* head + a line of `fill` bytes of 'a' between `pre` and `post` */
static char *long_line(const char *pre, size_t fill, const char *post)
{
	char *b = malloc(strlen(pre) + fill + strlen(post) + 1);
	size_t n = strlen(pre);
	memcpy(b, pre, n);
	memset(b + n, 'a', fill);
	strcpy(b + n + fill, post);
	return b;
}

#define CHUNKED_HEAD "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_bad_input(void)
{
	struct bad_case c[] = {
		{ "status code 4 digits", dup_str("HTTP/1.1 2000 OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "status code 2 digits", dup_str("HTTP/1.1 20 OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "status code 600", dup_str("HTTP/1.1 600 X\r\n\r\n"), 0, PZ_EHTTP },
		{ "status code 099", dup_str("HTTP/1.1 099 X\r\n\r\n"), 0, PZ_EHTTP },
		{ "status code letters", dup_str("HTTP/1.1 abc OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "HTTP/2", dup_str("HTTP/2 200 OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "HTTP/1.2", dup_str("HTTP/1.2 200 OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "lower-case version", dup_str("http/1.1 200 OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "no space after version", dup_str("HTTP/1.1\t200 OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "blank line first", dup_str("\r\nHTTP/1.1 200 OK\r\n\r\n"), 0, PZ_EHTTP },
		{ "not HTTP", dup_str("SSH-2.0-OpenSSH_9.2\r\n"), 0, PZ_EHTTP },
		{ "folded header", dup_str("HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\n\r\n"), 0, PZ_EHTTP },
		{ "status line over HTTP_LINE_MAX", long_line("HTTP/1.1 200 ", HTTP_LINE_MAX, "\r\n\r\n"), 0, PZ_ETOOBIG },
		{ "status line over HTTP_LINE_MAX, no LF yet", long_line("HTTP/1.1 200 ", 2 * HTTP_LINE_MAX, ""), 0, PZ_ETOOBIG },
		{ "header over HTTP_LINE_MAX", long_line("HTTP/1.1 200 OK\r\nX-Big: ", HTTP_LINE_MAX, "\r\n\r\n"), 0, PZ_ETOOBIG },
		{ "header name over HTTP_LINE_MAX", long_line("HTTP/1.1 200 OK\r\nX", 3 * HTTP_LINE_MAX, ": 1\r\n\r\n"), 0, PZ_ETOOBIG },
		{ "more than HTTP_HEADERS_MAX headers", many_headers(HTTP_HEADERS_MAX), 0, PZ_ETOOBIG },
		{ "both Content-Length and chunked", dup_str("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 0, PZ_EHTTP },
		{ "both chunked and Content-Length", dup_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 0, PZ_EHTTP },
		{ "conflicting Content-Length", dup_str("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), 0, PZ_EHTTP },
		{ "Content-Length list", dup_str("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"), 0, PZ_EHTTP },
		{ "Content-Length negative", dup_str("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), 0, PZ_EHTTP },
		{ "Content-Length empty", dup_str("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"), 0, PZ_EHTTP },
		{ "Content-Length hex", dup_str("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n"), 0, PZ_EHTTP },
		{ "Content-Length 2^64", dup_str("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n"), 0, PZ_EHTTP },
		{ "Transfer-Encoding gzip", dup_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), 0, PZ_EHTTP },
		{ "Transfer-Encoding gzip, chunked", dup_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 0, PZ_EHTTP },
		{ "chunk size over HTTP_CHUNK_HEX_MAX digits", dup_str(CHUNKED_HEAD "100000000\r\n"), 0, PZ_ETOOBIG },
		{ "chunk size zero-padded over HTTP_CHUNK_HEX_MAX", dup_str(CHUNKED_HEAD "000000005\r\nhello\r\n0\r\n\r\n"), 0, PZ_ETOOBIG },
		{ "chunk size not hex", dup_str(CHUNKED_HEAD "zz\r\n"), 0, PZ_EHTTP },
		{ "chunk size empty", dup_str(CHUNKED_HEAD "\r\nhello\r\n"), 0, PZ_EHTTP },
		{ "chunk size negative", dup_str(CHUNKED_HEAD "-5\r\nhello\r\n"), 0, PZ_EHTTP },
		{ "chunk size then junk", dup_str(CHUNKED_HEAD "5x\r\nhello\r\n"), 0, PZ_EHTTP },
		{ "chunk size 0x prefix", dup_str(CHUNKED_HEAD "0x5\r\nhello\r\n"), 0, PZ_EHTTP },
		{ "chunk extension over HTTP_LINE_MAX", long_line(CHUNKED_HEAD "5;", 2 * HTTP_LINE_MAX, "\r\nhello\r\n"), 0, PZ_ETOOBIG },
		{ "no CRLF after chunk data", dup_str(CHUNKED_HEAD "5\r\nhelloX\r\n0\r\n\r\n"), 0, PZ_EHTTP },
		{ "CR without LF after chunk data", dup_str(CHUNKED_HEAD "5\r\nhello\rX0\r\n\r\n"), 0, PZ_EHTTP },
		{ "chunk longer than its size", dup_str(CHUNKED_HEAD "3\r\nhello\r\n0\r\n\r\n"), 0, PZ_EHTTP },
		{ "trailer over HTTP_LINE_MAX", long_line(CHUNKED_HEAD "0\r\nX-T: ", 2 * HTTP_LINE_MAX, "\r\n\r\n"), 0, PZ_ETOOBIG },
	};
	struct guard g;

	guard_init(&g, 8 * HTTP_LINE_MAX + 4096);
	for (size_t i = 0; i < PZ_ARRAY_LEN(c); i++) {
		c[i].len = strlen(c[i].in);
		check_bad(&c[i], &g);
		free(c[i].in);
	}
	guard_free(&g);
}

/* http.c: "Only what the Kubernetes API server sends is accepted ... Anything else is PZ_EHTTP."
 * A header line with no colon, or with blanks before it, is not a header the API server sends; read
 * as unknown headers, "Transfer-Encoding : chunked" would leave the body framed by EOF instead. */
static void test_malformed_header_lines(void)
{
	struct bad_case c[] = {
		{ "header without a colon", dup_str("HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n"), 0, PZ_EHTTP },
		{ "header with an empty name", dup_str("HTTP/1.1 200 OK\r\n: value\r\nContent-Length: 0\r\n\r\n"), 0, PZ_EHTTP },
		{ "blank before the colon (Transfer-Encoding)", dup_str("HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 0, PZ_EHTTP },
		{ "blank before the colon (Content-Length)", dup_str("HTTP/1.1 200 OK\r\nContent-Length\t: 5\r\n\r\nhello"), 0, PZ_EHTTP },
	};
	struct guard g;

	guard_init(&g, 4096);
	for (size_t i = 0; i < PZ_ARRAY_LEN(c); i++) {
		c[i].len = strlen(c[i].in);
		check_bad(&c[i], &g);
		free(c[i].in);
	}
	guard_free(&g);
}

/* Right at the bounds: accepted. */
static void test_bounds_accepted(void)
{
	static struct sink s;
	struct http_resp r;
	char *in;

	/* HTTP_HEADERS_MAX headers in all (the helper adds Content-Length). */
	in = many_headers(HTTP_HEADERS_MAX - 1);
	http_resp_init(&r, 0);
	s.len = 0;
	CHECK_EQ_INT(feed_str(&r, in, &s), (long)strlen(in));
	CHECK(http_resp_done(&r));
	free(in);

	/* A header line of HTTP_LINE_MAX - 1 bytes and its CRLF. */
	in = long_line("HTTP/1.1 200 OK\r\nX-Big: ", HTTP_LINE_MAX - 1 - 7, "\r\nContent-Length: 0\r\n\r\n");
	http_resp_init(&r, 0);
	CHECK_EQ_INT(feed_str(&r, in, &s), (long)strlen(in));
	CHECK(http_resp_done(&r));
	free(in);

	/* A chunk extension of HTTP_LINE_MAX - 1 bytes. */
	in = long_line(CHUNKED_HEAD "2;", HTTP_LINE_MAX - 2, "\r\nok\r\n0\r\n\r\n");
	http_resp_init(&r, 0);
	s.len = 0;
	CHECK_EQ_INT(feed_str(&r, in, &s), (long)strlen(in));
	CHECK(http_resp_done(&r));
	CHECK(s.len == 2 && memcmp(s.buf, "ok", 2) == 0);
	free(in);

	/* The largest chunk size (8 hex digits): its data is handed out as it comes. */
	http_resp_init(&r, 0);
	s.len = 0;
	CHECK_EQ_INT(feed_str(&r, CHUNKED_HEAD "FFFFFFFF\r\nabc", &s), (long)strlen(CHUNKED_HEAD) + 13);
	CHECK_EQ_INT(r.remaining, 0xFFFFFFFFu - 3);
	CHECK(s.len == 3 && memcmp(s.buf, "abc", 3) == 0);
}

/* An error leaves the struct reusable after http_resp_init. */
static void test_reinit(void)
{
	static struct sink s;
	struct http_resp r;
	const char *partial = "HTTP/1.1 200 OK\r\nX-A: partial line that never";

	http_resp_init(&r, 0);
	CHECK_EQ_INT(feed_str(&r, partial, &s), (long)strlen(partial));
	http_resp_init(&r, 0);
	s.len = 0;
	CHECK_EQ_INT(feed_str(&r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &s), 40);
	CHECK(http_resp_done(&r));
	CHECK(s.len == 2 && memcmp(s.buf, "ok", 2) == 0);
}

/* ---- request heads ---- */

static void check_head(const char *want, const char *method, const char *host, const char *prefix,
	const char *path, const char *token, const char *ctype, size_t body_len)
{
	char buf[1024];
	size_t wl = strlen(want);
	struct guard g;
	int rc;

	memset(buf, 'Z', sizeof buf);
	rc = http_req_head(buf, sizeof buf, method, host, prefix, path, token, ctype, body_len);
	CHECK_EQ_INT(rc, (long)wl);
	if (rc >= 0) {
		buf[rc < (int)sizeof buf ? rc : (int)sizeof buf - 1] = 0;
		CHECK_EQ_STR(buf, want);
	}

	/* Every cap too small is PZ_ETOOBIG, and nothing is written past cap (guard page). */
	guard_init(&g, wl + 1);
	for (size_t cap = 0; cap <= wl; cap++) {
		rc = http_req_head(g.end - cap, cap, method, host, prefix, path, token, ctype, body_len);
		if (rc != PZ_ETOOBIG) {
			fprintf(stderr, "http_req_head cap %zu of %zu: %d\n", cap, wl, rc);
			break;
		}
	}
	CHECK_EQ_INT(rc, PZ_ETOOBIG);
	rc = http_req_head(g.end - (wl + 1), wl + 1, method, host, prefix, path, token, ctype, body_len);
	CHECK_EQ_INT(rc, (long)wl);
	CHECK(rc >= 0 && memcmp(g.end - (wl + 1), want, wl) == 0);
	guard_free(&g);
}

static void test_req_head(void)
{
	check_head("GET /api/v1/namespaces/default/pods?watch=1&resourceVersion=202 HTTP/1.1\r\n"
		"Host: 10.96.0.1:443\r\n"
		"User-Agent: pizza-controller/" PZ_VERSION "\r\n"
		"Accept: application/json\r\n"
		"\r\n",
		"GET", "10.96.0.1:443", "", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=202",
		NULL, NULL, 0);
	check_head("GET /proxy/apis/pizzeria.example.com/v1/pizzaorders?limit=500 HTTP/1.1\r\n"
		"Host: kube.example.com\r\n"
		"User-Agent: pizza-controller/" PZ_VERSION "\r\n"
		"Accept: application/json\r\n"
		"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln\r\n"
		"\r\n",
		"GET", "kube.example.com", "/proxy", "/apis/pizzeria.example.com/v1/pizzaorders?limit=500",
		"eyJhbGciOiJSUzI1NiJ9.e30.c2ln", NULL, 0);
	check_head("PATCH /apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/order-123/status HTTP/1.1\r\n"
		"Host: [::1]:6443\r\n"
		"User-Agent: pizza-controller/" PZ_VERSION "\r\n"
		"Accept: application/json\r\n"
		"Authorization: Bearer t0k\r\n"
		"Content-Type: application/merge-patch+json\r\n"
		"Content-Length: 1234\r\n"
		"\r\n",
		"PATCH", "[::1]:6443", "", "/apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/order-123/status",
		"t0k", "application/merge-patch+json", 1234);
	check_head("POST /api/v1/namespaces/default/pods HTTP/1.1\r\n"
		"Host: h\r\n"
		"User-Agent: pizza-controller/" PZ_VERSION "\r\n"
		"Accept: application/json\r\n"
		"Content-Type: application/json\r\n"
		"Content-Length: 0\r\n"
		"\r\n",
		"POST", "h", "", "/api/v1/namespaces/default/pods", NULL, "application/json", 0);
}

int main(void)
{
	run("recorded responses", test_recorded);
	run("watch body lines", test_watch_body_lines);
	run("status and keep-alive", test_status_and_keepalive);
	run("content-length", test_content_length);
	run("chunked extensions and trailers", test_chunked_extensions_trailers);
	run("no body", test_no_body);
	run("eof body", test_eof_body);
	run("bad input", test_bad_input);
	run("malformed header lines", test_malformed_header_lines);
	run("bounds accepted", test_bounds_accepted);
	run("reinit", test_reinit);
	run("request head", test_req_head);
	return check_done("http");
}
