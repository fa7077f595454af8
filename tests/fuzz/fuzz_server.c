/*
 * fuzz_server.c - libFuzzer target for the probe server's request-head parser (src/server.h).
 *
 * Input layout: bytes 0..SPLIT_BYTES-1 give the piece lengths the split run cycles through, the rest
 * is what a client sent. The head is parsed twice, once in one piece and once cut into pieces, each
 * piece in its own exact-size heap block so that a read past it is an ASan report. Invariants:
 *   - a call consumes at most what it was given, and less only when the head ended there;
 *   - the outcome (done or the error and its status), the bytes consumed (when no error), the method
 *     and the path are the same however the input was cut;
 *   - a finished head ends with LF, is at most SERVER_HEAD_MAX bytes, and its path is an origin-form
 *     path of visible ASCII without a query, NUL-terminated inside the request-line copy;
 *   - an error sticks and is one of 400, 414, 431, 505; a finished parser consumes nothing more.
 */
#include "fuzz.h"
#include "pz.h"
#include "server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_BYTES 4

struct run {
	struct server_req r;
	size_t consumed;
	int err;
};

/* Feeds one piece from its own heap block. Returns 0 to go on, -1 once done or failed. */
static int feed(struct run *u, const uint8_t *p, size_t n)
{
	char *piece = malloc(n ? n : 1);
	int rc;

	CHECK(piece);
	memcpy(piece, p, n);
	rc = server_req_feed(&u->r, piece, n);
	free(piece);
	if (rc < 0) {
		CHECK(rc == PZ_EHTTP || rc == PZ_ETOOBIG);
		CHECK(!server_req_done(&u->r));
		u->err = rc;
		return -1;
	}
	CHECK((size_t)rc <= n);
	u->consumed += (size_t)rc;
	if (server_req_done(&u->r))
		return -1;
	CHECK((size_t)rc == n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, split;
	const uint8_t *in;
	size_t len, pos, k;

	if (size < SPLIT_BYTES)
		return 0;
	in = data + SPLIT_BYTES;
	len = size - SPLIT_BYTES;

	memset(&whole, 0, sizeof whole);
	server_req_init(&whole.r);
	feed(&whole, in, len);

	memset(&split, 0, sizeof split);
	server_req_init(&split.r);
	for (pos = 0, k = 0; pos < len; k++) {
		size_t n = (size_t)data[k % SPLIT_BYTES] % 64 + 1;
		if (n > len - pos)
			n = len - pos;
		if (feed(&split, in + pos, n) < 0)
			break;
		pos += n;
	}

	CHECK(whole.err == split.err);
	CHECK(server_req_done(&whole.r) == server_req_done(&split.r));
	if (!whole.err)
		CHECK(whole.consumed == split.consumed); /* an error's call reports no count */
	CHECK(whole.r.total <= SERVER_HEAD_MAX + 1);
	if (whole.err) {
		CHECK(whole.r.status == split.r.status);
		CHECK(whole.r.status == 400 || whole.r.status == 414 || whole.r.status == 431 || whole.r.status == 505);
		CHECK(server_req_feed(&whole.r, "GET / HTTP/1.1\r\n\r\n", 18) == whole.err); /* sticks */
	} else if (server_req_done(&whole.r)) {
		const char *p = whole.r.path;
		size_t pl;

		CHECK(whole.consumed >= 4 && in[whole.consumed - 1] == '\n');
		CHECK(whole.consumed <= SERVER_HEAD_MAX);
		CHECK(whole.r.method == split.r.method);
		CHECK(whole.r.method <= SERVER_M_OTHER);
		CHECK(p > whole.r.line && p < whole.r.line + SERVER_LINE_MAX);
		pl = strnlen(p, (size_t)(whole.r.line + SERVER_LINE_MAX - p));
		CHECK(p + pl < whole.r.line + SERVER_LINE_MAX); /* NUL-terminated inside line[] */
		CHECK(p[0] == '/');
		for (size_t i = 0; i < pl; i++)
			CHECK(p[i] > 0x20 && p[i] < 0x7f && p[i] != '?');
		CHECK(strcmp(p, split.r.path) == 0);
		CHECK(server_req_feed(&whole.r, "x", 1) == 0); /* nothing more once done */
	} else {
		CHECK(whole.consumed == len); /* still waiting: everything was taken */
	}
	return 0;
}
