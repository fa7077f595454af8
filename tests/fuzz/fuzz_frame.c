/*
 * fuzz_frame.c - libFuzzer target for the watch/list framer (src/frame.h).
 *
 * Input layout: bytes 0..SPLIT_BYTES-1 give the piece lengths the split runs cycle through, the rest
 * is a response body. The body goes through frame_feed in both modes, with a small and a large
 * buffer, once in one piece and once cut into pieces (each piece in its own exact-size heap block,
 * each frame buffer exactly `cap` bytes, so a read or write past either is an ASan report).
 * Invariants:
 *   - a call consumes at most what it was given, and something whenever it was given something;
 *   - an FRAME_OBJECT or FRAME_LIST_META lies inside the frame's buffer, len <= cap; an
 *     FRAME_OVERSIZED is longer than the buffer;
 *   - the sequence of outputs (kind, length, bytes), the error that ended the stream and whether it
 *     may end there are the same however the input was cut;
 *   - in list mode the buffer size only decides whether an object fits: the small buffer reports the
 *     same sequence as the large one, an object longer than the small buffer becoming FRAME_OVERSIZED.
 */
#include "frame.h"
#include "fuzz.h"
#include "pz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_BYTES 4
#define SMALL_CAP 256
/* Larger than any input libFuzzer hands us (-max_len=65536), so nothing overflows it. */
#define LARGE_CAP (65536 + 64)


/* What a run produced, reduced to a digest so runs compare in constant memory. */
struct result {
	uint64_t digest;        /* over every output: kind, length, bytes */
	uint64_t digest_as_small; /* the same, with objects over SMALL_CAP written as oversized */
	unsigned count;
	int err;
	int boundary;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * UINT64_C(0x100000001b3);
	return h;
}

static uint64_t mix_out(uint64_t h, int kind, size_t len, const char *data)
{
	uint64_t l = len;
	unsigned char k = (unsigned char)kind;
	h = mix(h, &k, 1);
	h = mix(h, &l, sizeof l);
	if (data)
		h = mix(h, data, len);
	return h;
}

static void record(struct frame *f, struct result *r, const struct frame_out *o)
{
	switch (o->kind) {
	case FRAME_NONE:
		return;
	case FRAME_OBJECT:
	case FRAME_LIST_META:
		CHECK(o->len <= f->cap);
		CHECK(o->data >= f->buf && o->data + o->len <= f->buf + f->cap);
		r->digest = mix_out(r->digest, o->kind, o->len, o->data);
		if (o->len > SMALL_CAP)
			r->digest_as_small = mix_out(r->digest_as_small, FRAME_OVERSIZED, o->len, NULL);
		else
			r->digest_as_small = mix_out(r->digest_as_small, o->kind, o->len, o->data);
		break;
	case FRAME_OVERSIZED:
		CHECK(o->len > f->cap);
		r->digest = mix_out(r->digest, o->kind, o->len, NULL);
		r->digest_as_small = mix_out(r->digest_as_small, o->kind, o->len, NULL);
		break;
	case FRAME_END:
		CHECK(f->mode == FRAME_LIST);
		r->digest = mix_out(r->digest, o->kind, 0, NULL);
		r->digest_as_small = mix_out(r->digest_as_small, o->kind, 0, NULL);
		break;
	default:
		CHECK(!"frame kind out of range");
	}
	r->count++;
}

/* Feeds one piece (copied to an exact-size block). Returns -1 once the stream failed. */
static int feed_piece(struct frame *f, struct result *r, const uint8_t *p, size_t n)
{
	char *piece = malloc(n ? n : 1);
	size_t pos = 0;

	CHECK(piece);
	memcpy(piece, p, n);
	while (pos < n) {
		struct frame_out o;
		int rc = frame_feed(f, piece + pos, n - pos, &o);
		if (rc < 0) {
			CHECK(rc == PZ_EJSON || rc == PZ_ETOOBIG);
			r->err = rc;
			free(piece);
			return -1;
		}
		CHECK(rc > 0 && (size_t)rc <= n - pos);
		record(f, r, &o);
		pos += (size_t)rc;
	}
	free(piece);
	return 0;
}

static void run(enum frame_mode mode, size_t cap, const uint8_t *split, const uint8_t *in, size_t len,
	struct result *r)
{
	struct frame f;
	char *buf = malloc(cap);

	CHECK(buf);
	memset(r, 0, sizeof *r);
	r->digest = r->digest_as_small = UINT64_C(0xcbf29ce484222325);
	frame_init(&f, mode, buf, cap);
	if (!split) {
		feed_piece(&f, r, in, len);
	} else {
		size_t pos = 0, k = 0;
		while (pos < len) {
			size_t n = (size_t)split[k++ % SPLIT_BYTES] + 1;
			if (n > len - pos)
				n = len - pos;
			if (feed_piece(&f, r, in + pos, n) < 0)
				break;
			pos += n;
		}
	}
	r->boundary = r->err ? -1 : frame_at_boundary(&f);
	free(buf);
}

static void same(const struct result *a, const struct result *b)
{
	CHECK(a->count == b->count);
	CHECK(a->digest == b->digest);
	CHECK(a->err == b->err);
	CHECK(a->boundary == b->boundary);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result ls_whole, ls_split, ll_whole, ll_split, es_whole, es_split, el_whole, el_split;
	const uint8_t *in = data + SPLIT_BYTES;
	size_t len;

	if (size < SPLIT_BYTES)
		return 0;
	len = size - SPLIT_BYTES;

	run(FRAME_LIST, SMALL_CAP, NULL, in, len, &ls_whole);
	run(FRAME_LIST, SMALL_CAP, data, in, len, &ls_split);
	run(FRAME_LIST, LARGE_CAP, NULL, in, len, &ll_whole);
	run(FRAME_LIST, LARGE_CAP, data, in, len, &ll_split);
	same(&ls_whole, &ls_split);
	same(&ll_whole, &ll_split);
	/* The list scanner never looks at what it keeps: the buffer size changes only what fits. */
	CHECK(ls_whole.count == ll_whole.count);
	CHECK(ls_whole.digest == ll_whole.digest_as_small);
	CHECK(ls_whole.err == ll_whole.err);
	CHECK(ls_whole.boundary == ll_whole.boundary);

	run(FRAME_EVENTS, SMALL_CAP, NULL, in, len, &es_whole);
	run(FRAME_EVENTS, SMALL_CAP, data, in, len, &es_split);
	run(FRAME_EVENTS, LARGE_CAP, NULL, in, len, &el_whole);
	run(FRAME_EVENTS, LARGE_CAP, data, in, len, &el_split);
	same(&es_whole, &es_split);
	same(&el_whole, &el_split);
	return 0;
}
