/*
 * test_frame.c - splitting watch bodies into event lines and list bodies into items (src/frame.h).
 *
 * The recorded API server bodies (tests/data, de-chunked by harness.h's plain reference decoder) are fed
 * whole, one byte at a time and split in two at every position, each piece right before a PROT_NONE
 * page; every way must give the same frames, and those must be what a line split (watch) or jsmn's
 * token ranges (list) say they are. Each test runs in a child process, so a crash is one failure.
 */
#include "check.h"
#include "harness.h"
#include "frame.h"
#include "json.h"
#include "pz.h"

#include <stdlib.h>
#include <string.h>

/* ---- collecting frames ---- */

#define FRAMES_MAX 32

struct frames {
	int n;
	enum frame_kind kind[FRAMES_MAX];
	size_t off[FRAMES_MAX], len[FRAMES_MAX]; /* copy in text[off..off+len) (not for OVERSIZED) */
	size_t used;
	int err;          /* first error from frame_feed; 1 when it made no progress or overran */
	int boundary_bad; /* times frame_at_boundary disagreed with the expectation */
	char text[65536];
};

static void frames_reset(struct frames *fr) { memset(fr, 0, offsetof(struct frames, text)); }

/* Feeds in[0..len) in as many calls as frame_feed needs, recording every frame. */
static int feed(struct frame *f, const char *in, size_t len, struct frames *fr)
{
	size_t pos = 0;

	while (pos < len && !fr->err) {
		struct frame_out o;
		int rc = frame_feed(f, in + pos, len - pos, &o);
		if (rc < 0)
			return fr->err = rc;
		if (rc == 0 || (size_t)rc > len - pos) {
			fprintf(stderr, "frame_feed consumed %d of %zu\n", rc, len - pos);
			return fr->err = 1;
		}
		pos += (size_t)rc;
		if (o.kind == FRAME_NONE)
			continue;
		if (fr->n == FRAMES_MAX)
			return fr->err = 1;
		fr->kind[fr->n] = o.kind;
		fr->len[fr->n] = o.len;
		fr->off[fr->n] = fr->used;
		if (o.kind != FRAME_OVERSIZED && o.kind != FRAME_END) {
			if (fr->used + o.len > sizeof fr->text)
				return fr->err = 1;
			memcpy(fr->text + fr->used, o.data, o.len);
			fr->used += o.len;
		}
		fr->n++;
	}
	return fr->err;
}

/* An expected frame: kind and text (for OVERSIZED, only the length counts). */
struct want {
	enum frame_kind kind;
	const char *text;
	size_t len;
};

static int frames_equal(const struct frames *fr, const struct want *w, int nw)
{
	if (fr->err || fr->n != nw)
		return 0;
	for (int i = 0; i < nw; i++) {
		if (fr->kind[i] != w[i].kind || fr->len[i] != w[i].len)
			return 0;
		if (w[i].kind != FRAME_OVERSIZED && w[i].kind != FRAME_END &&
		    memcmp(fr->text + fr->off[i], w[i].text, w[i].len) != 0)
			return 0;
	}
	return 1;
}

static void dump(const char *what, const struct frames *fr, const struct want *w, int nw)
{
	fprintf(stderr, "%s: err %d, %d frames (want %d):", what, fr->err, fr->n, nw);
	for (int i = 0; i < fr->n; i++)
		fprintf(stderr, " [kind %d len %zu]", fr->kind[i], fr->len[i]);
	fprintf(stderr, "  want:");
	for (int i = 0; i < nw; i++)
		fprintf(stderr, " [kind %d len %zu]", w[i].kind, w[i].len);
	fprintf(stderr, "\n");
}

/* Feeds `in` whole, one byte at a time and split at every position (each piece right before a guard
 * page) into a frame of `cap` bytes; all must give exactly w[0..nw). `boundary` (may be NULL) says,
 * per input byte, whether frame_at_boundary must hold after it; it is checked in the byte run. */
static void check_all_ways(const char *what, enum frame_mode mode, size_t cap, const char *in, size_t len,
	const struct want *w, int nw, const char *boundary)
{
	static struct frames fr;
	struct guard ga, gb;
	struct frame f;
	char *buf = malloc(cap);
	int ok;

	guard_init(&ga, len + 1);
	guard_init(&gb, len + 1);

	frame_init(&f, mode, buf, cap);
	frames_reset(&fr);
	CHECK(frame_at_boundary(&f) == (mode == FRAME_EVENTS));
	feed(&f, guard_put(&ga, in, len), len, &fr);
	ok = frames_equal(&fr, w, nw);
	if (!ok)
		dump(what, &fr, w, nw);
	CHECK(ok);

	frame_init(&f, mode, buf, cap);
	frames_reset(&fr);
	for (size_t i = 0; i < len && !fr.err; i++) {
		feed(&f, guard_put(&ga, in + i, 1), 1, &fr);
		if (boundary && !fr.err && frame_at_boundary(&f) != boundary[i]) {
			if (!fr.boundary_bad)
				fprintf(stderr, "%s: frame_at_boundary after byte %zu is %d\n", what, i,
					frame_at_boundary(&f));
			fr.boundary_bad++;
		}
	}
	ok = frames_equal(&fr, w, nw);
	if (!ok)
		dump("(one byte at a time)", &fr, w, nw);
	CHECK(ok);
	CHECK_EQ_INT(fr.boundary_bad, 0);

	ok = 1;
	for (size_t k = 0; k <= len && ok; k++) {
		frame_init(&f, mode, buf, cap);
		frames_reset(&fr);
		feed(&f, guard_put(&ga, in, k), k, &fr);
		feed(&f, guard_put(&gb, in + k, len - k), len - k, &fr);
		if (!frames_equal(&fr, w, nw)) {
			fprintf(stderr, "split at %zu: ", k);
			dump(what, &fr, w, nw);
			ok = 0;
		}
	}
	CHECK(ok);

	guard_free(&ga);
	guard_free(&gb);
	free(buf);
}

/* Like check_all_ways for input that must fail with `err` (after the frames in w). */
static void check_error_all_ways(const char *what, enum frame_mode mode, size_t cap, const char *in,
	int err, const struct want *w, int nw)
{
	static struct frames fr;
	size_t len = strlen(in);
	struct guard g;
	struct frame f;
	char *buf = malloc(cap);
	int ok;

	guard_init(&g, len + 1);
	frame_init(&f, mode, buf, cap);
	frames_reset(&fr);
	feed(&f, guard_put(&g, in, len), len, &fr);
	ok = fr.err == err && fr.n == nw;
	for (int i = 0; ok && i < nw; i++)
		ok = fr.kind[i] == w[i].kind && fr.len[i] == w[i].len;
	if (!ok)
		fprintf(stderr, "%s: error %d after %d frames, want %d after %d\n", what, fr.err, fr.n, err, nw);
	CHECK(ok);

	frame_init(&f, mode, buf, cap);
	frames_reset(&fr);
	for (size_t i = 0; i < len && !fr.err; i++)
		feed(&f, guard_put(&g, in + i, 1), 1, &fr);
	if (fr.err != err || fr.n != nw)
		fprintf(stderr, "%s (one byte at a time): error %d after %d frames\n", what, fr.err, fr.n);
	CHECK_EQ_INT(fr.err, err);
	CHECK_EQ_INT(fr.n, nw);
	guard_free(&g);
	free(buf);
}

#define W(kind, s) { kind, s, sizeof(s) - 1 }

/* ---- watch bodies ---- */

static void check_watch_file(const char *file, const char *const *types, int ntypes)
{
	struct want w[FRAMES_MAX];
	size_t len = 0;
	char *body = load_body(file, &len), *boundary;
	int nw = 0;

	CHECK(body != NULL);
	if (!body)
		return;
	/* Expected: every line, as memchr sees it; boundaries right after each newline. */
	boundary = calloc(len + 1, 1);
	for (size_t pos = 0; pos < len;) {
		char *nl = memchr(body + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (body + pos)) : len - pos;
		if (n && nw < FRAMES_MAX) {
			w[nw].kind = FRAME_OBJECT;
			w[nw].text = body + pos;
			w[nw].len = n;
			nw++;
		}
		if (nl)
			boundary[pos + n] = 1;
		pos += n + 1;
	}
	CHECK_EQ_INT(nw, ntypes);
	/* Each event parses alone and has the expected type and an object. */
	for (int i = 0; i < nw && i < ntypes; i++) {
		static jsmntok_t tok[4096];
		struct json_doc d;
		char type[16] = "";
		CHECK(json_parse(&d, w[i].text, w[i].len, tok, PZ_ARRAY_LEN(tok)) > 0);
		CHECK(json_str(&d, json_get(&d, 0, "type"), type, sizeof type) > 0);
		CHECK_EQ_STR(type, types[i]);
		CHECK(json_get(&d, 0, "object") > 0 && d.tok[json_get(&d, 0, "object")].type == JSMN_OBJECT);
	}
	check_all_ways(file, FRAME_EVENTS, 8192, body, len, w, nw, boundary);
	free(boundary);
	free(body);
}

static void test_watch_recorded(void)
{
	static const char *const orders[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK" };
	static const char *const pods[] = { "ADDED", "MODIFIED" };
	static const char *const gone[] = { "ERROR" };

	check_watch_file("watch-orders.http", orders, 4);
	check_watch_file("watch-pods.http", pods, 2);
	check_watch_file("watch-gone.http", gone, 1);
}

static void test_events_blank_and_crlf(void)
{
	static const char in[] = "\n\r\n{\"a\":1}\r\n   \n \r\n{\"b\":[2]}\n\n{\"c\":\"x y\"}  \n\r\n";
	static const struct want w[] = {
		W(FRAME_OBJECT, "{\"a\":1}"), W(FRAME_OBJECT, "{\"b\":[2]}"), W(FRAME_OBJECT, "{\"c\":\"x y\"}"),
	};
	check_all_ways("blank lines and CRLF", FRAME_EVENTS, 64, in, sizeof in - 1, w, 3, NULL);
}

static void test_events_oversized(void)
{
	/* 52 bytes between two small events; the buffer holds 16. The next event comes out whole. */
	static const char in[] = "{\"a\":1}\n{\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"b\":2}\n";
	static const struct want w[] = {
		W(FRAME_OBJECT, "{\"a\":1}"), { FRAME_OVERSIZED, NULL, 52 }, W(FRAME_OBJECT, "{\"b\":2}"),
	};
	/* Exactly the buffer's size fits; one more byte does not. */
	static const char fit[] = "{\"k\":\"12345678\"}\n{\"k\":\"123456789\"}\n";
	static const struct want wfit[] = {
		W(FRAME_OBJECT, "{\"k\":\"12345678\"}"), { FRAME_OVERSIZED, NULL, 17 },
	};
	check_all_ways("oversized event", FRAME_EVENTS, 16, in, sizeof in - 1, w, 3, NULL);
	check_all_ways("event of exactly cap bytes", FRAME_EVENTS, 16, fit, sizeof fit - 1, wfit, 2, NULL);
}

/* The full length of an oversized event is the event's, however it was fed: here byte 16 of the
 * line (the last one the buffer keeps) is a space inside a string. */
static void test_events_oversized_length_space(void)
{
	static const char in[] = "{\"k\":\"012345678 0123456789\"}\n{\"b\":2}\n";
	static const struct want w[] = { { FRAME_OVERSIZED, NULL, 28 }, W(FRAME_OBJECT, "{\"b\":2}") };
	check_all_ways("oversized event, space at the buffer's end", FRAME_EVENTS, 16, in, sizeof in - 1, w, 2, NULL);
}

/* CRLF is the line's end, not part of the event: a 16-byte event fits a 16-byte buffer, and an
 * oversized one reports its own length, as with LF. */
static void test_events_crlf_at_cap(void)
{
	static const char in[] = "{\"k\":\"12345678\"}\r\n{\"k\":\"0123456789abcdefghij\"}\r\n";
	static const struct want w[] = { W(FRAME_OBJECT, "{\"k\":\"12345678\"}"), { FRAME_OVERSIZED, NULL, 28 } };
	check_all_ways("CRLF event of exactly cap bytes", FRAME_EVENTS, 16, in, sizeof in - 1, w, 2, NULL);
}

static void test_events_not_json(void)
{
	static const struct want one[] = { W(FRAME_OBJECT, "{\"a\":1}") };
	check_error_all_ways("plain text line", FRAME_EVENTS, 64, "hello\n", PZ_EJSON, NULL, 0);
	check_error_all_ways("array line", FRAME_EVENTS, 64, "[1,2]\n", PZ_EJSON, NULL, 0);
	check_error_all_ways("string line", FRAME_EVENTS, 64, "\"x\"\n", PZ_EJSON, NULL, 0);
	check_error_all_ways("good then bad", FRAME_EVENTS, 64, "{\"a\":1}\nnope\n", PZ_EJSON, one, 1);
}

static void test_events_boundary(void)
{
	static char buf[64];
	struct frame f;
	struct frame_out o;

	frame_init(&f, FRAME_EVENTS, buf, sizeof buf);
	CHECK(frame_at_boundary(&f));
	CHECK_EQ_INT(frame_feed(&f, "{\"a\"", 4, &o), 4);
	CHECK_EQ_INT(o.kind, FRAME_NONE);
	CHECK(!frame_at_boundary(&f));
	CHECK_EQ_INT(frame_feed(&f, ":1}\n{", 5, &o), 4); /* stops right after the event */
	CHECK_EQ_INT(o.kind, FRAME_OBJECT);
	CHECK(o.len == 7 && memcmp(o.data, "{\"a\":1}", 7) == 0);
	CHECK(frame_at_boundary(&f));
	CHECK_EQ_INT(frame_feed(&f, "", 0, &o), 0);
	CHECK_EQ_INT(o.kind, FRAME_NONE);
}

/* ---- list bodies ---- */

/* Expected frames of a list body from jsmn's token ranges: items and metadata in document order. */
static int list_expect(const char *body, size_t len, struct want *w)
{
	static jsmntok_t tok[8192];
	struct json_doc d;
	int nw = 0, items, meta, i, k;

	if (json_parse(&d, body, len, tok, PZ_ARRAY_LEN(tok)) < 0)
		return -1;
	items = json_get(&d, 0, "items");
	meta = json_get(&d, 0, "metadata");
	if (meta >= 0 && items >= 0 && d.tok[meta].start < d.tok[items].start)
		w[nw++] = (struct want){ FRAME_LIST_META, body + d.tok[meta].start,
			(size_t)(d.tok[meta].end - d.tok[meta].start) };
	if (items >= 0 && d.tok[items].type == JSMN_ARRAY)
		for (i = items + 1, k = 0; k < d.tok[items].size; k++, i = json_skip(&d, i))
			w[nw++] = (struct want){ FRAME_OBJECT, body + d.tok[i].start,
				(size_t)(d.tok[i].end - d.tok[i].start) };
	if (meta >= 0 && (items < 0 || d.tok[meta].start > d.tok[items].start))
		w[nw++] = (struct want){ FRAME_LIST_META, body + d.tok[meta].start,
			(size_t)(d.tok[meta].end - d.tok[meta].start) };
	w[nw++] = (struct want){ FRAME_END, NULL, 0 };
	return nw;
}

/* frame_at_boundary in a list: only after the closing brace and the blanks after it. */
static char *list_boundaries(const char *body, size_t len)
{
	char *b = calloc(len + 1, 1);
	size_t last = len;
	while (last > 0 && strchr(" \t\r\n", body[last - 1]))
		last--;
	for (size_t i = last ? last - 1 : 0; i < len; i++)
		b[i] = 1;
	return b;
}

static void check_list_file(const char *file, const char *const *kinds, int nkinds, const char *name,
	const char *cont)
{
	static jsmntok_t tok[4096];
	struct want w[FRAMES_MAX];
	struct json_doc d;
	size_t len = 0;
	char *body = load_body(file, &len), *boundary;
	char s[256];
	int nw;

	CHECK(body != NULL);
	if (!body)
		return;
	nw = list_expect(body, len, w);
	CHECK_EQ_INT(nw, nkinds);
	for (int i = 0; i < nw && i < nkinds; i++)
		CHECK_EQ_STR(w[i].kind == FRAME_OBJECT ? "item" : w[i].kind == FRAME_LIST_META ? "meta" : "end", kinds[i]);
	/* Each piece stands alone as JSON: an item is a whole object, the metadata holds the paging. */
	for (int i = 0; i < nw; i++) {
		if (w[i].kind == FRAME_OBJECT) {
			CHECK(json_parse(&d, w[i].text, w[i].len, tok, PZ_ARRAY_LEN(tok)) > 0);
			CHECK(json_str(&d, json_path(&d, 0, "metadata.name"), s, sizeof s) > 0);
			CHECK_EQ_STR(s, name);
		} else if (w[i].kind == FRAME_LIST_META) {
			CHECK(json_parse(&d, w[i].text, w[i].len, tok, PZ_ARRAY_LEN(tok)) > 0);
			CHECK(json_str(&d, json_get(&d, 0, "resourceVersion"), s, sizeof s) > 0);
			CHECK_EQ_STR(s, "202");
			if (cont) {
				CHECK(json_str(&d, json_get(&d, 0, "continue"), s, sizeof s) >= 0);
				CHECK_EQ_STR(s, cont);
			} else {
				CHECK_EQ_INT(json_get(&d, 0, "continue"), -1);
			}
		}
	}
	boundary = list_boundaries(body, len);
	check_all_ways(file, FRAME_LIST, 8192, body, len, w, nw, boundary);
	free(boundary);
	free(body);
}

static void test_list_recorded(void)
{
	/* Custom resources list their items before the metadata; core lists (pods) after it. */
	static const char *const items_first[] = { "item", "meta", "end" };
	static const char *const meta_first[] = { "meta", "item", "end" };

	check_list_file("list-orders-page1.http", items_first, 3, "order-123",
		"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjAyLCJzdGFydCI6ImRlZmF1bHQvb3JkZXItMTIzXHUwMDAwIn0");
	check_list_file("list-orders-page2.http", items_first, 3, "small-one", "");
	check_list_file("list-pods.http", meta_first, 3, "order-123-oven", NULL);
}

static void check_list(const char *what, size_t cap, const char *in, const struct want *w, int nw)
{
	char *b = list_boundaries(in, strlen(in));
	check_all_ways(what, FRAME_LIST, cap, in, strlen(in), w, nw, b);
	free(b);
}

static void test_list_empty(void)
{
	static const struct want w[] = { W(FRAME_LIST_META, "{\"resourceVersion\":\"1\"}"), { FRAME_END, NULL, 0 } };
	static const struct want wm[] = { W(FRAME_LIST_META, "{ }"), { FRAME_END, NULL, 0 } };
	static const struct want end[] = { { FRAME_END, NULL, 0 } };

	check_list("items null", 64, "{\"kind\":\"PodList\",\"items\":null,\"metadata\":{\"resourceVersion\":\"1\"}}", w, 2);
	check_list("items []", 64, "{\"items\":[],\"metadata\":{\"resourceVersion\":\"1\"}}", w, 2);
	check_list("items [ ] spaced", 64, " {\n \"items\" : [ \r\n ] ,\t\"metadata\" : { } }\n\n", wm, 2);
	check_list("no items, no metadata", 64, "{\"kind\":\"Status\",\"code\":410}", end, 1);
	check_list("empty object", 64, "{}", end, 1);
}

static void test_list_tricky(void)
{
	/* Brackets, braces, quotes and backslashes inside strings; nested arrays; depth-1 keys that only
	 * look like ours; "items" and "metadata" nested inside an item are just data. */
	static const char in[] =
		"{\"metadataX\":{\"a\":1},\"xitems\":[{\"no\":1}],\"averyveryverylongkeyname\":[{\"no\":2}],"
		"\"kind\":\"items\",\"items\":["
		"{\"a\":\"x\\\"]}[{\\\\\",\"b\":[[1,2],{\"c\":\"]\"}],\"items\":[{\"d\":1}],\"metadata\":{}},"
		"{\"e\":\"\\\\\"} , {\"f\":[[],{},\"{\",\"\\\"\"]}"
		"],\"metadata\":{\"resourceVersion\":\"5\",\"s\":\"}{][\"}}";
	static const struct want w[] = {
		W(FRAME_OBJECT, "{\"a\":\"x\\\"]}[{\\\\\",\"b\":[[1,2],{\"c\":\"]\"}],\"items\":[{\"d\":1}],\"metadata\":{}}"),
		W(FRAME_OBJECT, "{\"e\":\"\\\\\"}"),
		W(FRAME_OBJECT, "{\"f\":[[],{},\"{\",\"\\\"\"]}"),
		W(FRAME_LIST_META, "{\"resourceVersion\":\"5\",\"s\":\"}{][\"}"),
		{ FRAME_END, NULL, 0 },
	};
	static jsmntok_t tok[128];
	struct json_doc d;

	check_list("tricky strings and nesting", 256, in, w, 5);
	/* The expectation itself is valid JSON cut where jsmn would cut it. */
	CHECK(json_parse(&d, in, sizeof in - 1, tok, PZ_ARRAY_LEN(tok)) > 0);
	for (int i = 0; i < 4; i++)
		CHECK(json_parse(&d, w[i].text, w[i].len, tok, PZ_ARRAY_LEN(tok)) > 0);
}

/* A depth-1 key with an escape in it is some other key, not "items" or "metadata" with the escaped
 * bytes left out. */
static void test_list_escaped_keys(void)
{
	static const struct want w[] = { W(FRAME_OBJECT, "{\"b\":2}"), { FRAME_END, NULL, 0 } };
	static const struct want wm[] = { W(FRAME_LIST_META, "{\"y\":2}"), { FRAME_END, NULL, 0 } };

	check_list("key ite\\\"ms", 64, "{\"ite\\\"ms\":[{\"a\":1}],\"items\":[{\"b\":2}]}", w, 2);
	check_list("key meta\\\\data", 64, "{\"meta\\\\data\":{\"x\":1},\"metadata\":{\"y\":2}}", wm, 2);
}

static void test_list_bad(void)
{
	static const struct want one[] = { W(FRAME_OBJECT, "{\"a\":1}") };
	static const struct want end[] = { { FRAME_END, NULL, 0 } };

	check_error_all_ways("} closes [", FRAME_LIST, 64, "{\"items\":[{\"a\":[1}]}", PZ_EJSON, NULL, 0);
	check_error_all_ways("] closes {", FRAME_LIST, 64, "{\"items\":[{\"a\":{\"b\":1]}]}", PZ_EJSON, NULL, 0);
	check_error_all_ways("} closes items", FRAME_LIST, 64, "{\"items\":[}", PZ_EJSON, NULL, 0);
	check_error_all_ways("] closes metadata", FRAME_LIST, 64, "{\"metadata\":{]}", PZ_EJSON, NULL, 0);
	check_error_all_ways("] closes the list", FRAME_LIST, 64, "{\"items\":[{\"a\":1}]]", PZ_EJSON, one, 1);
	check_error_all_ways("top level array", FRAME_LIST, 64, "[{\"a\":1}]", PZ_EJSON, NULL, 0);
	check_error_all_ways("top level text", FRAME_LIST, 64, "nope", PZ_EJSON, NULL, 0);
	check_error_all_ways("bytes after the end", FRAME_LIST, 64, "{\"items\":[]} x", PZ_EJSON, end, 1);
	check_error_all_ways("second document", FRAME_LIST, 64, "{}{}", PZ_EJSON, end, 1);
	check_error_all_ways("items an object", FRAME_LIST, 64, "{\"items\":{\"a\":1}}", PZ_EJSON, NULL, 0);
	check_error_all_ways("items a string", FRAME_LIST, 64, "{\"items\":\"[]\"}", PZ_EJSON, NULL, 0);
	check_error_all_ways("item a number", FRAME_LIST, 64, "{\"items\":[1]}", PZ_EJSON, NULL, 0);
	check_error_all_ways("item an array", FRAME_LIST, 64, "{\"items\":[{\"a\":1},[]]}", PZ_EJSON, one, 1);
	check_error_all_ways("item a string", FRAME_LIST, 64, "{\"items\":[\"{}\"]}", PZ_EJSON, NULL, 0);
}

/* "{"items":[{"a":" + n '[' + n ']' + "}]}" nests 3 + n deep. */
static char *deep(int n)
{
	char *b = malloc((size_t)n * 2 + 32), *p = b;
	p += sprintf(p, "{\"items\":[{\"a\":");
	memset(p, '[', (size_t)n);
	memset(p + n, ']', (size_t)n);
	strcpy(p + 2 * n, "}]}");
	return b;
}

static void test_list_depth(void)
{
	char *ok = deep(FRAME_DEPTH_MAX - 3), *bad = deep(FRAME_DEPTH_MAX - 2);
	struct want w[2];

	w[0] = (struct want){ FRAME_OBJECT, ok + 10, strlen(ok) - 12 };
	w[1] = (struct want){ FRAME_END, NULL, 0 };
	check_list("FRAME_DEPTH_MAX deep", 256, ok, w, 2);
	check_error_all_ways("FRAME_DEPTH_MAX + 1 deep", FRAME_LIST, 256, bad, PZ_ETOOBIG, NULL, 0);
	free(ok);
	free(bad);
}

static void test_list_oversized(void)
{
	/* The second item is 108 bytes, the buffer 32: it is skipped with its length, the third is whole. */
	static const char in[] = "{\"items\":[{\"n\":\"a\"},{\"n\":\""
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"\"},{\"n\":\"c\"}],\"metadata\":{\"resourceVersion\":\"9\"}}";
	static const struct want w[] = {
		W(FRAME_OBJECT, "{\"n\":\"a\"}"), { FRAME_OVERSIZED, NULL, 108 }, W(FRAME_OBJECT, "{\"n\":\"c\"}"),
		W(FRAME_LIST_META, "{\"resourceVersion\":\"9\"}"), { FRAME_END, NULL, 0 },
	};
	/* Oversized metadata is reported as oversized too, and the list still ends. */
	static const char meta[] = "{\"items\":[{\"n\":\"a\"}],\"metadata\":{\"continue\":\"0123456789012345678901234567890123456789\"}}";
	static const struct want wm[] = {
		W(FRAME_OBJECT, "{\"n\":\"a\"}"), { FRAME_OVERSIZED, NULL, 55 }, { FRAME_END, NULL, 0 },
	};
	check_list("oversized item", 32, in, w, 5);
	check_list("oversized metadata", 32, meta, wm, 3);
}

int main(void)
{
	run("watch recorded", test_watch_recorded);
	run("events blank and CRLF", test_events_blank_and_crlf);
	run("events oversized", test_events_oversized);
	run("events oversized length, space at cap", test_events_oversized_length_space);
	run("events CRLF at cap", test_events_crlf_at_cap);
	run("events not JSON", test_events_not_json);
	run("events boundary", test_events_boundary);
	run("list recorded", test_list_recorded);
	run("list empty", test_list_empty);
	run("list tricky", test_list_tricky);
	run("list escaped keys", test_list_escaped_keys);
	run("list bad", test_list_bad);
	run("list depth", test_list_depth);
	run("list oversized", test_list_oversized);
	return check_done("frame");
}
