/*
 * fuzz_http.c - libFuzzer target for the resumable HTTP response parser (src/http.h).
 *
 * Input layout: byte 0 is flags (bit 0: the request was HEAD), bytes 1..SPLIT_BYTES give the piece
 * lengths the split run cycles through, the rest is the response as it came off the wire.
 * The response is parsed twice, once in one piece and once cut into pieces, each piece in its own
 * exact-size heap block so that any read past a piece is an ASan report. Invariants:
 *   - a call consumes at most what it was given; a body span lies inside the bytes that call consumed;
 *   - once done, the parser stays done and consumes nothing more;
 *   - the concatenated body, the first error, the point where the response ended and the final state
 *     are the same however the input was cut.
 */
#include "http.h"
#include "fuzz.h"
#include "pz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_BYTES 1
/* Four lengths of 1..256 bytes, cycled: enough to land a cut on every boundary of a short head. */
#define SPLIT_BYTES 4
#define HEADER_BYTES (FLAG_BYTES + SPLIT_BYTES)


struct run {
	struct http_resp r;
	char *body;          /* concatenated payload; never longer than the input */
	size_t body_len;
	size_t consumed;     /* bytes consumed by calls that succeeded */
	int err;             /* first error, 0 if none */
	int stalled;         /* a call consumed nothing while not done */
	int done;
	size_t done_at;      /* consumed when done was first seen */
};

static void run_init(struct run *u, int head, char *body)
{
	memset(u, 0, sizeof *u);
	http_resp_init(&u->r, head);
	u->body = body;
}

/* Feeds one piece until it is used up, the response is done, or an error. Returns 0 to go on. */
static int feed_piece(struct run *u, const char *piece, size_t n)
{
	size_t pos = 0;

	while (pos < n) {
		const char *b;
		size_t bl;
		int was_done = http_resp_done(&u->r);
		int rc = http_resp_feed(&u->r, piece + pos, n - pos, &b, &bl);

		if (rc < 0) {
			CHECK(!was_done); /* a finished response has nothing left to object to */
			u->err = rc;
			return -1;
		}
		CHECK((size_t)rc <= n - pos);
		if (bl) {
			CHECK(b >= piece + pos && (size_t)(b - (piece + pos)) + bl <= (size_t)rc);
			memcpy(u->body + u->body_len, b, bl);
			u->body_len += bl;
		}
		if (was_done)
			CHECK(http_resp_done(&u->r) && rc == 0 && bl == 0);
		u->consumed += (size_t)rc;
		pos += (size_t)rc;
		if (http_resp_done(&u->r)) {
			if (!u->done) {
				u->done = 1;
				u->done_at = u->consumed;
			}
			if (was_done)
				return 1; /* asked once more after done: it declined, as it must */
			continue; /* ask again with the rest: it must decline */
		}
		if (rc == 0) {
			u->stalled = 1;
			return -1;
		}
	}
	return 0;
}

static void feed_copy(struct run *u, const uint8_t *p, size_t n)
{
	char *piece = malloc(n ? n : 1);
	int rc;

	CHECK(piece);
	memcpy(piece, p, n);
	rc = feed_piece(u, piece, n);
	free(piece);
	(void)rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run *whole, *split;
	const uint8_t *in, *split_len;
	size_t len, pos, k;
	char *body_a, *body_b;
	int head;

	if (size < HEADER_BYTES)
		return 0;
	head = data[0] & 1;
	split_len = data + FLAG_BYTES;
	in = data + HEADER_BYTES;
	len = size - HEADER_BYTES;

	whole = malloc(sizeof *whole);
	split = malloc(sizeof *split);
	body_a = malloc(len + 1);
	body_b = malloc(len + 1);
	CHECK(whole && split && body_a && body_b);

	run_init(whole, head, body_a);
	feed_copy(whole, in, len);
	if (!whole->err && !whole->stalled && whole->done)
		feed_copy(whole, in, len); /* more bytes after done: still done, nothing consumed */

	run_init(split, head, body_b);
	for (pos = 0, k = 0; pos < len && !split->err && !split->stalled; k++) {
		size_t n = (size_t)split_len[k % SPLIT_BYTES] + 1;
		if (n > len - pos)
			n = len - pos;
		feed_copy(split, in + pos, n);
		pos += n;
	}

	CHECK(whole->body_len <= len && split->body_len <= len);
	CHECK(whole->err == split->err);
	CHECK(whole->stalled == split->stalled);
	CHECK(whole->body_len == split->body_len);
	CHECK(memcmp(whole->body, split->body, whole->body_len) == 0);
	CHECK(whole->done == split->done);
	if (whole->done)
		CHECK(whole->done_at == split->done_at);
	if (!whole->err && !whole->stalled) {
		CHECK(whole->r.state == split->r.state);
		CHECK(whole->r.status == split->r.status);
		CHECK(whole->r.chunked == split->r.chunked);
		CHECK(whole->r.keep_alive == split->r.keep_alive);
		CHECK(whole->r.has_length == split->r.has_length);
		CHECK(whole->r.no_body == split->r.no_body);
		if (!whole->done)
			CHECK(whole->consumed == len && split->consumed == len);
		if (http_resp_headers_done(&whole->r))
			CHECK(whole->r.status >= 100 && whole->r.status <= 599);
		int ea = http_resp_eof(&whole->r), eb = http_resp_eof(&split->r);
		CHECK(ea == eb);
		CHECK(ea == 0 || ea == PZ_EHTTP);
		if (ea == 0)
			CHECK(http_resp_done(&whole->r)); /* a clean end leaves a finished response */
	}

	free(body_a);
	free(body_b);
	free(whole);
	free(split);
	return 0;
}
