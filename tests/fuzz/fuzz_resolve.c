/*
 * fuzz_resolve.c - libFuzzer target for the resolver's parsers of untrusted input (src/resolve.h):
 * the DNS answer parser, the resolv.conf parser, the hosts-file reader and the name encoder. Every
 * input goes through all four; the corpus holds real shapes of each (answers with compression, CNAME
 * chains, NXDOMAIN, TC; a Pod's resolv.conf; a kubelet hosts file).
 *
 * The input is copied into an exact heap block, so a read past it is an ASan report.
 * Invariants:
 *   - answer: the question is taken from the input itself (so the parser gets past its header
 *     check); the result is one of the documented codes or a count <= max; parsed again with a
 *     smaller max, the count is min(count, max) and the addresses are the same prefix;
 *   - resolv.conf: 1..RESOLVE_NS_MAX nameservers of family AF_INET or AF_INET6 with the given port,
 *     options within their caps and floors, the search list NUL-terminated inside its bound, with
 *     single spaces between non-empty domains;
 *   - hosts: at most RESOLVE_ADDRS_MAX per family; an address is found only for a name that occurs
 *     in the text (ASCII case-insensitive);
 *   - name: an encoded name is at most RESOLVE_NAME_MAX bytes of valid labels and decodes back to
 *     the input (less one trailing dot).
 */
#include "resolve.h"
#include "fuzz.h"
#include "pz.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void fuzz_answer(const unsigned char *d, size_t n)
{
	unsigned char q[RESOLVE_NAME_MAX], a[RESOLVE_ADDRS_MAX * 16], b[RESOLVE_ADDRS_MAX * 16];
	size_t p = 12, ql = 0;
	unsigned type, id, alen;
	int r, r2;

	/* the question, uncompressed, as resolve_host would have sent it */
	while (p < n && d[p] && d[p] < 64 && p + d[p] < n && ql + d[p] + 1 < RESOLVE_NAME_MAX) {
		memcpy(q + ql, d + p, (size_t)d[p] + 1);
		ql += (size_t)d[p] + 1;
		p += (size_t)d[p] + 1;
	}
	q[ql++] = 0;
	p++;
	if (n < 2 || p + 2 > n)
		return;
	id = (unsigned)d[0] << 8 | d[1];
	type = ((unsigned)d[p] << 8 | d[p + 1]) == RESOLVE_TYPE_AAAA ? RESOLVE_TYPE_AAAA : RESOLVE_TYPE_A;
	alen = type == RESOLVE_TYPE_A ? 4 : 16;
	r = resolve_parse_answer(d, n, id, q, ql, type, a, RESOLVE_ADDRS_MAX);
	CHECK(r == -EBADMSG || r == -EHOSTUNREACH || r == -EAGAIN || (r >= 0 && r <= RESOLVE_ADDRS_MAX));
	r2 = resolve_parse_answer(d, n, id, q, ql, type, b, 2);
	if (r >= 0) {
		CHECK(r2 == (r < 2 ? r : 2));
		CHECK(memcmp(a, b, alen * (size_t)r2) == 0);
	} else {
		CHECK(r2 == r);
	}
	/* any other id is not our answer */
	CHECK(resolve_parse_answer(d, n, id ^ 1, q, ql, type, b, 2) == -EBADMSG);
}

static void fuzz_conf(const char *s, size_t n)
{
	struct resolve_conf c;
	size_t sl;

	resolve_conf_parse(s, n, 53, &c);
	CHECK(c.nns >= 1 && c.nns <= RESOLVE_NS_MAX);
	for (unsigned i = 0; i < c.nns; i++) {
		CHECK(c.ns[i].sa.sa_family == AF_INET || c.ns[i].sa.sa_family == AF_INET6);
		CHECK(c.ns[i].in.sin_port == htons(53));
	}
	CHECK(c.ndots <= RESOLVE_NDOTS_MAX);
	CHECK(c.timeout_s >= 1 && c.timeout_s <= RESOLVE_TIMEOUT_MAX_S);
	CHECK(c.attempts >= 1 && c.attempts <= RESOLVE_ATTEMPTS_MAX);
	sl = strnlen(c.search, sizeof c.search);
	CHECK(sl < sizeof c.search);
	CHECK(sl == 0 || (c.search[0] != ' ' && c.search[sl - 1] != ' ' && !strstr(c.search, "  ")));
	CHECK(!memchr(c.search, '\n', sl) && !memchr(c.search, '\t', sl) && !memchr(c.search, '#', sl));
}

/* name[0..nl) occurs in s[0..n), ASCII case-insensitive */
static int occurs(const char *s, size_t n, const char *name, size_t nl)
{
	for (size_t i = 0; i + nl <= n; i++)
		if (strncasecmp(s + i, name, nl) == 0)
			return 1;
	return 0;
}

static void fuzz_hosts(const char *s, size_t n)
{
	static const char *const names[] = { "localhost", "api.example.com", "a", "API" };
	struct resolve_addrs a;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t nl = strlen(names[i]);
		memset(&a, 0, sizeof a);
		unsigned got = resolve_hosts_find(s, n, names[i], nl, &a);
		CHECK(got == a.n4 + a.n6 && a.n4 <= RESOLVE_ADDRS_MAX && a.n6 <= RESOLVE_ADDRS_MAX);
		CHECK(got == 0 || occurs(s, n, names[i], nl));
	}
}

static void fuzz_name(const char *s, size_t n)
{
	unsigned char w[RESOLVE_NAME_MAX];
	char back[RESOLVE_NAME_MAX + 1];
	size_t o = 0, p = 0;
	int at;

	if (n > 300)
		return;
	at = resolve_name_wire(w, 0, s, n);
	if (at < 0) {
		CHECK(at == -EINVAL);
		return;
	}
	CHECK(at < RESOLVE_NAME_MAX && w[at] == 0);
	while (w[p]) {
		CHECK(w[p] <= 63 && p + w[p] < (size_t)at);
		if (o)
			back[o++] = '.';
		memcpy(back + o, w + p + 1, w[p]);
		o += w[p];
		p += (size_t)w[p] + 1;
	}
	CHECK(p == (size_t)at);
	if (n && s[n - 1] == '.')
		n--;
	CHECK(o == n && memcmp(back, s, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *d = malloc(size ? size : 1);

	if (!d)
		return 0;
	memcpy(d, data, size);
	fuzz_answer(d, size);
	fuzz_conf((const char *)d, size);
	fuzz_hosts((const char *)d, size);
	fuzz_name((const char *)d, size);
	free(d);
	return 0;
}
