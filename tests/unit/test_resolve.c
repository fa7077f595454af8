/*
 * test_resolve.c - the resolver (src/resolve.h): the answer parser on hand-made messages, each placed
 * right before a PROT_NONE page (so a read past the message crashes, besides ASan), the two file
 * parsers, and resolve_host end to end against fake DNS servers on loopback.
 *
 * A fake server is a forked child on a UDP socket bound to 127.0.0.1:P (and 127.0.0.2:P for the
 * second nameserver: resolve_config has one port for all). It answers from a small zone the way a
 * recursive server does (the CNAME chain, then the records of its end; NXDOMAIN for a name it does
 * not hold) or misbehaves as the test asks: SERVFAIL, silence, a reply with a wrong id or from a
 * wrong address before the true one, TC. Every query it saw (name, type, which server) lands in a
 * MAP_SHARED log, so a test asserts on what reached the wire: the order of the search candidates,
 * that a hosts-file hit asked no server.
 */
#include "check.h"
#include "harness.h"
#include "resolve.h"
#include "pz.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- building DNS messages ---- */

struct msg {
	unsigned char b[2048];
	size_t n;
};

static void put8(struct msg *m, unsigned v) { m->b[m->n++] = (unsigned char)v; }
static void put16(struct msg *m, unsigned v) { put8(m, v >> 8); put8(m, v & 0xff); }

/* "a.b" uncompressed, with its root byte. */
static void put_name(struct msg *m, const char *s)
{
	while (*s) {
		const char *d = strchr(s, '.');
		size_t l = d ? (size_t)(d - s) : strlen(s);
		put8(m, (unsigned)l);
		memcpy(m->b + m->n, s, l);
		m->n += l;
		s += l + (d != NULL);
	}
	put8(m, 0);
}

static void put_header(struct msg *m, unsigned id, unsigned flags, unsigned qd, unsigned an)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void put_question(struct msg *m, const char *name, unsigned type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

/* A record header; owner NULL is a pointer to the question's name (offset 12). */
static void put_rr(struct msg *m, const char *owner, unsigned type, unsigned rdlen)
{
	if (owner)
		put_name(m, owner);
	else
		put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	put16(m, rdlen);
}

static void put_a(struct msg *m, const char *owner, const char *ip)
{
	put_rr(m, owner, RESOLVE_TYPE_A, 4);
	inet_pton(AF_INET, ip, m->b + m->n);
	m->n += 4;
}

static void put_aaaa(struct msg *m, const char *owner, const char *ip)
{
	put_rr(m, owner, RESOLVE_TYPE_AAAA, 16);
	inet_pton(AF_INET6, ip, m->b + m->n);
	m->n += 16;
}

static void put_cname(struct msg *m, const char *owner, const char *target)
{
	size_t len_at;
	put_rr(m, owner, 5, 0);
	len_at = m->n - 2;
	put_name(m, target);
	m->b[len_at + 1] = (unsigned char)(m->n - len_at - 2);
}

/* The wire form of a dotted name, as resolve_host sends it. */
static size_t wire(const char *name, unsigned char w[RESOLVE_NAME_MAX])
{
	int at = resolve_name_wire(w, 0, name, strlen(name));
	PZ_ASSERT(at >= 0);
	return (size_t)at + 1;
}

/* ---- the answer parser ---- */

#define ID 0x1234
#define QN "kube.example.com"
#define RESP 0x8180 /* QR, RD, RA, NOERROR */

static struct guard gd;
static unsigned char addrs[RESOLVE_ADDRS_MAX][16];

/* Parses m (placed before the guard page) as the answer to ID / QN / type. */
static int parse(const struct msg *m, unsigned type, unsigned max)
{
	unsigned char w[RESOLVE_NAME_MAX];
	size_t wl = wire(QN, w);
	const unsigned char *p = (const unsigned char *)guard_put(&gd, m->b, m->n);
	memset(addrs, 0, sizeof addrs);
	return resolve_parse_answer(p, m->n, ID, w, wl, type, addrs[0], max);
}

static int parse_a(const struct msg *m) { return parse(m, RESOLVE_TYPE_A, RESOLVE_ADDRS_MAX); }

static int ip4_is(const unsigned char *got, const char *want)
{
	unsigned char w[4];
	inet_pton(AF_INET, want, w);
	return memcmp(got, w, 4) == 0;
}

/* addrs[] as written by the A parse: addrs[0] holds max addresses of 4 bytes. */
static const unsigned char *a4(unsigned i) { return addrs[0] + 4 * i; }

static void test_parse_basic(void)
{
	struct msg m;

	put_header(&m, ID, RESP, 1, 2);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_a(&m, NULL, "10.0.0.1");
	put_a(&m, NULL, "10.0.0.2");
	CHECK_EQ_INT(parse_a(&m), 2);
	CHECK(ip4_is(a4(0), "10.0.0.1"));
	CHECK(ip4_is(a4(1), "10.0.0.2"));
	/* max bounds what is written */
	CHECK_EQ_INT(parse(&m, RESOLVE_TYPE_A, 1), 1);
	CHECK(ip4_is(a4(0), "10.0.0.1"));
	CHECK(a4(1)[0] == 0);

	/* AAAA */
	put_header(&m, ID, RESP, 1, 1);
	put_question(&m, QN, RESOLVE_TYPE_AAAA);
	put_aaaa(&m, NULL, "2001:db8::7");
	CHECK_EQ_INT(parse(&m, RESOLVE_TYPE_AAAA, 4), 1);
	CHECK(addrs[0][0] == 0x20 && addrs[0][1] == 0x01 && addrs[0][15] == 7);
	/* an A answer is not the answer to an AAAA query */
	CHECK_EQ_INT(parse(&m, RESOLVE_TYPE_A, 4), -EBADMSG);

	/* the owner written out, in another case; the question in another case too */
	put_header(&m, ID, RESP, 1, 1);
	put_question(&m, "KUBE.Example.COM", RESOLVE_TYPE_A);
	put_a(&m, "kube.EXAMPLE.com", "10.0.0.3");
	CHECK_EQ_INT(parse_a(&m), 1);
	CHECK(ip4_is(a4(0), "10.0.0.3"));

	/* no data: NOERROR without records, or with records of another type or class, or of the
	 * wrong size, or about another name */
	put_header(&m, ID, RESP, 1, 4);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_aaaa(&m, NULL, "::1");
	put_a(&m, "other.example.com", "6.6.6.6");
	put_a(&m, "kube.example.co", "6.6.6.6");
	put_rr(&m, NULL, RESOLVE_TYPE_A, 5);
	memcpy(m.b + m.n, "\6\6\6\6\6", 5);
	m.n += 5;
	CHECK_EQ_INT(parse_a(&m), 0);
	put_header(&m, ID, RESP, 1, 1);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_a(&m, NULL, "6.6.6.6");
	m.b[m.n - 4 - 2 - 4 - 2 - 1] = 3; /* class CH */
	CHECK_EQ_INT(parse_a(&m), 0);
}

static void test_parse_header(void)
{
	struct msg m;

	put_header(&m, ID, RESP, 1, 1);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_a(&m, NULL, "10.0.0.1");
	CHECK_EQ_INT(parse_a(&m), 1);
	m.b[1] ^= 1; /* another id */
	CHECK_EQ_INT(parse_a(&m), -EBADMSG);
	m.b[1] ^= 1;
	m.b[2] &= 0x7f; /* a query, not a response */
	CHECK_EQ_INT(parse_a(&m), -EBADMSG);
	m.b[2] |= 0x80 | (2 << 3); /* opcode 2 */
	CHECK_EQ_INT(parse_a(&m), -EBADMSG);
	m.b[2] = 0x81;
	m.b[5] = 0; /* no question */
	CHECK_EQ_INT(parse_a(&m), -EBADMSG);
	m.b[5] = 2; /* two questions */
	CHECK_EQ_INT(parse_a(&m), -EBADMSG);
	m.b[5] = 1;
	m.b[13] = 'K'; /* the question in another case: still ours */
	CHECK_EQ_INT(parse_a(&m), 1);
	m.b[13] = 'x'; /* another name */
	CHECK_EQ_INT(parse_a(&m), -EBADMSG);
	m.b[13] = 'k';
	CHECK_EQ_INT(parse_a(&m), 1);

	/* a question naming a longer name, and one cut short */
	put_header(&m, ID, RESP, 1, 0);
	put_question(&m, QN ".x", RESOLVE_TYPE_A);
	CHECK_EQ_INT(parse_a(&m), -EBADMSG);
	for (size_t n = 0; n < 12 + 18 + 4; n++) {
		struct msg cut;
		put_header(&cut, ID, RESP, 1, 0);
		put_question(&cut, QN, RESOLVE_TYPE_A);
		cut.n = n;
		CHECK_EQ_INT(parse_a(&cut), -EBADMSG);
	}

	/* rcodes */
	put_header(&m, ID, 0x8183, 1, 0);
	put_question(&m, QN, RESOLVE_TYPE_A);
	CHECK_EQ_INT(parse_a(&m), -EHOSTUNREACH);
	m.b[3] = 0x82; /* SERVFAIL */
	CHECK_EQ_INT(parse_a(&m), -EAGAIN);
	m.b[3] = 0x85; /* REFUSED */
	CHECK_EQ_INT(parse_a(&m), -EAGAIN);
	m.b[3] = 0x80;
	CHECK_EQ_INT(parse_a(&m), 0);
}

static void test_parse_cname(void)
{
	struct msg m;

	/* a chain in record order, with a record about a name off the chain */
	put_header(&m, ID, RESP, 1, 5);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_cname(&m, NULL, "lb.cdn.example.net");
	put_cname(&m, "lb.cdn.example.net", "edge-7.cdn.example.net");
	put_a(&m, "unrelated.example.net", "6.6.6.6");
	put_a(&m, "EDGE-7.cdn.example.net", "192.0.2.7");
	put_a(&m, "edge-7.cdn.example.net", "192.0.2.8");
	CHECK_EQ_INT(parse_a(&m), 2);
	CHECK(ip4_is(a4(0), "192.0.2.7"));
	CHECK(ip4_is(a4(1), "192.0.2.8"));

	/* a CNAME whose target is compressed against the question */
	put_header(&m, ID, RESP, 1, 2);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_rr(&m, NULL, 5, 4);
	put8(&m, 1);
	put8(&m, 'w');
	put16(&m, 0xc00c + 5); /* "example.com" inside the question */
	put_a(&m, "w.example.com", "192.0.2.9");
	CHECK_EQ_INT(parse_a(&m), 1);
	CHECK(ip4_is(a4(0), "192.0.2.9"));

	/* the address of the queried name itself after the CNAME moved on is not taken */
	put_header(&m, ID, RESP, 1, 2);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_cname(&m, NULL, "b.example.net");
	put_a(&m, NULL, "6.6.6.6");
	CHECK_EQ_INT(parse_a(&m), 0);

	/* a CNAME loop: hops are bounded */
	put_header(&m, ID, RESP, 1, 2 * RESOLVE_CNAME_MAX + 2);
	put_question(&m, QN, RESOLVE_TYPE_A);
	for (int i = 0; i < RESOLVE_CNAME_MAX + 1; i++) {
		put_cname(&m, i ? QN : NULL, "b.example.net");
		put_cname(&m, "b.example.net", QN);
	}
	CHECK_EQ_INT(parse_a(&m), -EAGAIN);
	/* ... and exactly RESOLVE_CNAME_MAX are followed */
	put_header(&m, ID, RESP, 1, RESOLVE_CNAME_MAX + 1);
	put_question(&m, QN, RESOLVE_TYPE_A);
	for (int i = 0; i < RESOLVE_CNAME_MAX; i++) {
		char from[32], to[32];
		snprintf(from, sizeof from, "c%d.example.net", i);
		snprintf(to, sizeof to, "c%d.example.net", i + 1);
		put_cname(&m, i ? from : NULL, to);
	}
	{
		char last[32];
		snprintf(last, sizeof last, "c%d.example.net", RESOLVE_CNAME_MAX);
		put_a(&m, last, "192.0.2.10");
	}
	CHECK_EQ_INT(parse_a(&m), 1);

	/* a CNAME whose name runs past its rdata */
	put_header(&m, ID, RESP, 1, 1);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_rr(&m, NULL, 5, 3);
	put_name(&m, "abc.example");
	CHECK_EQ_INT(parse_a(&m), -EAGAIN);
}

/* Message with one answer record whose owner name is `owner_bytes` (raw), then an A record. */
static void owner_case(const unsigned char *owner, size_t olen, int want)
{
	struct msg m;
	put_header(&m, ID, RESP, 1, 1);
	put_question(&m, QN, RESOLVE_TYPE_A);
	memcpy(m.b + m.n, owner, olen);
	m.n += olen;
	put16(&m, RESOLVE_TYPE_A);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 60);
	put16(&m, 4);
	put16(&m, 0x0a00);
	put16(&m, 0x0001);
	CHECK_EQ_INT(parse_a(&m), want);
}

static void test_parse_malformed(void)
{
	struct msg m, full;
	/* the answer section starts at 12 + 18 + 4 = 34 */
	static const unsigned char self[] = { 0xc0, 34 };     /* points at itself */
	static const unsigned char fwd[] = { 0xc0, 40 };      /* forward */
	static const unsigned char past[] = { 0xff, 0xff };   /* far outside */
	static const unsigned char loop2[] = { 1, 'a', 0xc0, 34 }; /* a label, then back to itself */
	static const unsigned char big[] = { 64, 'a' };       /* label length 64: not a label */
	static const unsigned char ext[] = { 0x40 | 1, 0 };   /* extended label type */
	static const unsigned char inq[] = { 0xc0, 12 };      /* the question: valid */
	unsigned char longname[300];
	size_t n = 0;

	owner_case(inq, sizeof inq, 1);
	owner_case(self, sizeof self, -EAGAIN);
	owner_case(fwd, sizeof fwd, -EAGAIN);
	owner_case(past, sizeof past, -EAGAIN);
	owner_case(loop2, sizeof loop2, -EAGAIN);
	owner_case(big, sizeof big, -EAGAIN);
	owner_case(ext, sizeof ext, -EAGAIN);
	/* a name of 4 x 63-byte labels plus more: over 255 */
	for (int i = 0; i < 4; i++) {
		longname[n++] = 63;
		memset(longname + n, 'x', 63);
		n += 63;
	}
	longname[n++] = 3;
	memcpy(longname + n, "abc", 3);
	n += 3;
	longname[n++] = 0;
	owner_case(longname, n, -EAGAIN);
	/* 3 x 63 + one of 61: 255 in wire form, the maximum */
	longname[3 * 64] = 61;
	longname[3 * 64 + 62] = 0;
	owner_case(longname, 3 * 64 + 63, 0);

	/* rdlength past the end */
	put_header(&m, ID, RESP, 1, 1);
	put_question(&m, QN, RESOLVE_TYPE_A);
	put_rr(&m, NULL, RESOLVE_TYPE_A, 40);
	put16(&m, 0x0a00);
	CHECK_EQ_INT(parse_a(&m), -EAGAIN);

	/* every prefix of a good answer: the cut record is an error, never a read past the end */
	put_header(&full, ID, RESP, 1, 3);
	put_question(&full, QN, RESOLVE_TYPE_A);
	put_cname(&full, NULL, "x.example.net");
	put_a(&full, "x.example.net", "10.0.0.1");
	put_a(&full, "x.example.net", "10.0.0.2");
	CHECK_EQ_INT(parse_a(&full), 2);
	for (size_t len = 0; len < full.n; len++) {
		m = full;
		m.n = len;
		int rc = parse_a(&m);
		CHECK(rc == (len < 34 ? -EBADMSG : -EAGAIN));
		/* with TC: what is complete is used; nothing complete is a failure */
		m.b[2] |= 2;
		rc = parse_a(&m);
		if (len < 34)
			CHECK_EQ_INT(rc, -EBADMSG);
		else if (len < full.n - 29) /* the first A record (its owner written out) is 29 bytes */
			CHECK_EQ_INT(rc, -EAGAIN);
		else
			CHECK_EQ_INT(rc, 1);
	}
	/* TC with everything there: used; TC with no address at all: a failure */
	m = full;
	m.b[2] |= 2;
	CHECK_EQ_INT(parse_a(&m), 2);
	put_header(&m, ID, RESP | 0x200, 1, 0);
	put_question(&m, QN, RESOLVE_TYPE_A);
	CHECK_EQ_INT(parse_a(&m), -EAGAIN);
	/* ancount larger than the records there */
	m = full;
	m.b[7] = 4;
	CHECK_EQ_INT(parse_a(&m), -EAGAIN);
}

/* ---- names ---- */

static void test_name_wire(void)
{
	unsigned char w[RESOLVE_NAME_MAX];
	char name[300];

	CHECK_EQ_INT(resolve_name_wire(w, 0, "a.bc", 4), 5);
	CHECK(memcmp(w, "\1a\2bc\0", 6) == 0);
	CHECK_EQ_INT(resolve_name_wire(w, 0, "a.bc.", 5), 5);
	CHECK_EQ_INT(resolve_name_wire(w, 5, "svc.cluster.local", 17), 5 + 18);
	CHECK(memcmp(w, "\1a\2bc\3svc\7cluster\5local\0", 25) == 0);
	CHECK_EQ_INT(resolve_name_wire(w, 0, "my-cluster_x.Z9", 15), 16);
	CHECK_EQ_INT(resolve_name_wire(w, 0, ".", 1), -EINVAL);
	CHECK_EQ_INT(resolve_name_wire(w, 0, "a..b", 4), -EINVAL);
	CHECK_EQ_INT(resolve_name_wire(w, 0, ".a", 2), -EINVAL);
	CHECK_EQ_INT(resolve_name_wire(w, 0, "a b", 3), -EINVAL);
	CHECK_EQ_INT(resolve_name_wire(w, 0, "a/b", 3), -EINVAL);
	CHECK_EQ_INT(resolve_name_wire(w, 0, "caf\xc3\xa9", 5), -EINVAL);
	/* a label of 63 is the most */
	memset(name, 'x', 64);
	CHECK_EQ_INT(resolve_name_wire(w, 0, name, 63), 64);
	CHECK_EQ_INT(resolve_name_wire(w, 0, name, 64), -EINVAL);
	/* 253 characters make 255 bytes of wire form: the most */
	for (int i = 0; i < 253; i++)
		name[i] = i % 50 == 49 ? '.' : 'y';
	CHECK_EQ_INT(resolve_name_wire(w, 0, name, 253), 254);
	name[253] = 'y';
	CHECK_EQ_INT(resolve_name_wire(w, 0, name, 254), -EINVAL);
	/* appending up to the bound and past it */
	memset(name + 200, 'z', 60);
	CHECK_EQ_INT(resolve_name_wire(w, 0, name, 199), 200);
	CHECK_EQ_INT(resolve_name_wire(w, 200, name + 200, 53), 254);
	CHECK_EQ_INT(resolve_name_wire(w, 200, name + 200, 54), -EINVAL);
}

/* ---- the files ---- */

static int sa4_is(const union resolve_sa *sa, const char *ip, unsigned port)
{
	struct in_addr a;
	inet_pton(AF_INET, ip, &a);
	return sa->sa.sa_family == AF_INET && sa->in.sin_addr.s_addr == a.s_addr && ntohs(sa->in.sin_port) == port;
}

static void conf(const char *text, struct resolve_conf *c)
{
	/* an exact block before the guard page: the parser reads only text[0..len) */
	size_t n = strlen(text);
	resolve_conf_parse(guard_put(&gd, text, n), n, 5353, c);
}

static void test_conf(void)
{
	struct resolve_conf c;

	/* a Pod's, as the kubelet writes it */
	conf("search default.svc.cluster.local svc.cluster.local cluster.local us-west-2.compute.internal\n"
	     "nameserver 10.96.0.10\n"
	     "options ndots:5\n", &c);
	CHECK_EQ_INT(c.nns, 1);
	CHECK(sa4_is(&c.ns[0], "10.96.0.10", 5353));
	CHECK_EQ_INT(c.ndots, 5);
	CHECK_EQ_INT(c.timeout_s, 5);
	CHECK_EQ_INT(c.attempts, 2);
	CHECK_EQ_STR(c.search, "default.svc.cluster.local svc.cluster.local cluster.local us-west-2.compute.internal");

	/* the empty file: libc's defaults */
	conf("", &c);
	CHECK_EQ_INT(c.nns, 1);
	CHECK(sa4_is(&c.ns[0], "127.0.0.1", 5353));
	CHECK_EQ_INT(c.ndots, 1);
	CHECK_EQ_STR(c.search, "");

	/* comments, blanks, CRLF, tabs, IPv6, bad addresses skipped, 3 nameservers at most, options
	 * capped, the last search/domain line wins, no final newline */
	conf("# a comment nameserver 9.9.9.9\n"
	     "; another\n"
	     "\n"
	     "nameserver\t1.1.1.1   # trailing comment\r\n"
	     "nameserver not-an-address\n"
	     "nameserver fe80::1%eth0\n"
	     "nameserver 2001:db8::53\n"
	     "  nameserver 1.0.0.1\n"
	     "nameserver 8.8.8.8\n"
	     "nameservers 7.7.7.7\n"
	     "search a.example b.example\n"
	     "options timeout:99 attempts:0 ndots:99 rotate ndots:x\n"
	     "domain only.example", &c);
	CHECK_EQ_INT(c.nns, 3);
	CHECK(sa4_is(&c.ns[0], "1.1.1.1", 5353));
	CHECK(c.ns[1].sa.sa_family == AF_INET6 && c.ns[1].in6.sin6_addr.s6_addr[15] == 0x53 &&
	      ntohs(c.ns[1].in6.sin6_port) == 5353);
	CHECK(sa4_is(&c.ns[2], "1.0.0.1", 5353));
	CHECK_EQ_INT(c.timeout_s, RESOLVE_TIMEOUT_MAX_S);
	CHECK_EQ_INT(c.attempts, 1);
	CHECK_EQ_INT(c.ndots, 0);
	CHECK_EQ_STR(c.search, "only.example");

	conf("options ndots:2 timeout:1 attempts:3\nsearch x.example\nsearch\n", &c);
	CHECK_EQ_INT(c.ndots, 2);
	CHECK_EQ_INT(c.timeout_s, 1);
	CHECK_EQ_INT(c.attempts, 3);
	CHECK_EQ_STR(c.search, "");

	/* a search list over RESOLVE_SEARCH_MAX keeps the domains that fit whole */
	{
		char text[1024], want[RESOLVE_SEARCH_MAX];
		size_t n = 0, w = 0;
		n += (size_t)snprintf(text, sizeof text, "search");
		for (int i = 0; i < 40; i++) {
			char d[32];
			int l = snprintf(d, sizeof d, "d%02d.example.org", i); /* 15 bytes */
			n += (size_t)snprintf(text + n, sizeof text - n, " %s", d);
			if (w + (size_t)l + 1 < RESOLVE_SEARCH_MAX)
				w += (size_t)snprintf(want + w, sizeof want - w, "%s%s", w ? " " : "", d);
		}
		conf(text, &c);
		CHECK_EQ_STR(c.search, want);
		CHECK(strlen(c.search) > 200);
	}
}

static void hosts(const char *text, const char *name, struct resolve_addrs *a)
{
	size_t n = strlen(text);
	memset(a, 0, sizeof *a);
	resolve_hosts_find(guard_put(&gd, text, n), n, name, strlen(name), a);
}

static void test_hosts(void)
{
	struct resolve_addrs a;
	const char *text =
		"# kubelet-managed hosts file\n"
		"127.0.0.1\tlocalhost\n"
		"::1\tlocalhost ip6-localhost ip6-loopback\n"
		"fe00::0\tip6-localnet\n"
		"10.244.1.7\tpizza-controller-7d9f.default.svc.cluster.local\tpizza-controller-7d9f\n"
		"192.168.49.2  API.Example.com api # the API server\n"
		"192.168.49.3  api.example.com.evil\n"
		"not-an-ip     api.example.com\n"
		"#192.168.49.9 api.example.com\n"
		"192.168.49.4  api.example.com"; /* no final newline */

	hosts(text, "localhost", &a);
	CHECK_EQ_INT(a.n4, 1);
	CHECK_EQ_INT(a.n6, 1);
	CHECK(a.v4[0][0] == 127 && a.v4[0][3] == 1);
	CHECK(a.v6[0][15] == 1);
	hosts(text, "api.example.com", &a);
	CHECK_EQ_INT(a.n4, 2);
	CHECK(a.v4[0][3] == 2 && a.v4[1][3] == 4);
	hosts(text, "API", &a); /* an alias, another case */
	CHECK_EQ_INT(a.n4, 1);
	hosts(text, "pizza-controller-7d9f", &a);
	CHECK_EQ_INT(a.n4, 1);
	CHECK(a.v4[0][0] == 10 && a.v4[0][3] == 7);
	hosts(text, "example.com", &a);
	CHECK_EQ_INT(a.n4 + a.n6, 0);
	hosts(text, "the", &a); /* inside a comment */
	CHECK_EQ_INT(a.n4 + a.n6, 0);
	hosts(text, "192.168.49.2", &a); /* an address is no name */
	CHECK_EQ_INT(a.n4 + a.n6, 0);

	/* more lines than room: RESOLVE_ADDRS_MAX per family kept */
	{
		char big[2048];
		size_t n = 0;
		for (int i = 0; i < 20; i++)
			n += (size_t)snprintf(big + n, sizeof big - n, "10.0.0.%d many\n::%x many\n", i, i + 1);
		hosts(big, "many", &a);
		CHECK_EQ_INT(a.n4, RESOLVE_ADDRS_MAX);
		CHECK_EQ_INT(a.n6, RESOLVE_ADDRS_MAX);
		CHECK(a.v4[RESOLVE_ADDRS_MAX - 1][3] == RESOLVE_ADDRS_MAX - 1);
	}
}

/* ---- fake DNS servers ---- */

#define LOG_MAX 64

struct shared {
	int nlog;
	int server[LOG_MAX];
	unsigned type[LOG_MAX];
	char name[LOG_MAX][256];
};

struct zone_rr {
	const char *owner;
	unsigned type; /* A, AAAA or 5 (CNAME) */
	const char *data;
};

enum misbehave {
	OK = 0,
	SERVFAIL = 1,   /* rcode 2 to everything */
	SILENT = 2,     /* never answers */
	SPOOF_ID = 4,   /* first a reply with another id (holding 6.6.6.6), then the true one */
	SPOOF_FROM = 8, /* first a reply with the right id from another port (6.6.6.6), then the true one */
	TRUNCATE = 16,  /* TC set, the answer as it is */
	GARBAGE = 32,   /* first a reply with the right id and question but a cut record */
};

struct server {
	pid_t pid;
	int fd;
};

static struct shared *sh;
static uint16_t port;
static char dir[64], hosts_path[96], resolv_path[96];

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

/* Reads the uncompressed question name at q[12] into dotted text. */
static size_t question(const unsigned char *q, size_t n, char *out)
{
	size_t p = 12, o = 0;
	while (p < n && q[p]) {
		unsigned l = q[p];
		if (o)
			out[o++] = '.';
		memcpy(out + o, q + p + 1, l);
		o += l;
		p += l + 1;
	}
	out[o] = 0;
	return p + 1;
}

static void serve(int fd, int index, const struct zone_rr *zone, int nzone, int how)
{
	unsigned char q[512];
	struct sockaddr_storage from;
	socklen_t flen;
	int spoof_fd = socket(AF_INET, SOCK_DGRAM, 0);

	for (;;) {
		struct msg m;
		char qname[256], cur[256];
		ssize_t n;
		size_t qend;
		unsigned qtype, an = 0;
		int known = 0;

		flen = sizeof from;
		n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &flen);
		if (n < 12)
			continue;
		qend = question(q, (size_t)n, qname);
		qtype = (unsigned)q[qend] << 8 | q[qend + 1];
		if (sh->nlog < LOG_MAX) {
			sh->server[sh->nlog] = index;
			sh->type[sh->nlog] = qtype;
			snprintf(sh->name[sh->nlog], sizeof sh->name[0], "%s", qname);
			__atomic_add_fetch(&sh->nlog, 1, __ATOMIC_SEQ_CST);
		}
		if (how & SILENT)
			continue;
		/* the header and question echoed, then the answer */
		memcpy(m.b, q, qend + 4);
		m.n = qend + 4;
		m.b[2] = 0x81 | (how & TRUNCATE ? 2 : 0);
		m.b[3] = 0x80;
		if (how & SERVFAIL) {
			m.b[3] |= 2;
		} else {
			lower(qname);
			snprintf(cur, sizeof cur, "%s", qname);
			for (int hop = 0; hop < 10; hop++) { /* the CNAME chain */
				int moved = 0;
				for (int i = 0; i < nzone; i++) {
					if (strcasecmp(zone[i].owner, cur) != 0)
						continue;
					known = 1;
					if (zone[i].type == 5 && !moved) {
						put_cname(&m, hop ? cur : NULL, zone[i].data);
						snprintf(cur, sizeof cur, "%s", zone[i].data);
						an++;
						moved = 1;
					}
				}
				if (!moved)
					break;
			}
			for (int i = 0; i < nzone; i++) {
				if (strcasecmp(zone[i].owner, cur) != 0 || zone[i].type != qtype)
					continue;
				if (qtype == RESOLVE_TYPE_A)
					put_a(&m, strcmp(cur, qname) ? cur : NULL, zone[i].data);
				else
					put_aaaa(&m, strcmp(cur, qname) ? cur : NULL, zone[i].data);
				an++;
			}
			if (!known)
				m.b[3] |= 3; /* NXDOMAIN */
		}
		m.b[6] = (unsigned char)(an >> 8);
		m.b[7] = (unsigned char)an;
		if (how & (SPOOF_ID | SPOOF_FROM | GARBAGE)) {
			struct msg bad;
			memcpy(bad.b, m.b, qend + 4);
			bad.n = qend + 4;
			bad.b[3] = 0x80;
			bad.b[6] = 0;
			bad.b[7] = 1;
			if (qtype == RESOLVE_TYPE_A)
				put_a(&bad, NULL, "6.6.6.6");
			else
				put_aaaa(&bad, NULL, "::6");
			if (how & SPOOF_ID)
				bad.b[1] ^= 0x5a;
			if (how & GARBAGE)
				bad.n -= 3;
			sendto(how & SPOOF_FROM ? spoof_fd : fd, bad.b, bad.n, 0, (struct sockaddr *)&from, flen);
			if (how & GARBAGE)
				continue; /* the server failed: the true answer never comes */
			usleep(20 * 1000);
		}
		sendto(fd, m.b, m.n, 0, (struct sockaddr *)&from, flen);
	}
}

/* A fake server on 127.0.0.<index+1>:port (port chosen by the first one). */
static struct server server_start(int index, const struct zone_rr *zone, int nzone, int how)
{
	struct server s;
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (unsigned)index);
	sa.sin_port = htons(index ? port : 0);
	s.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (s.fd < 0 || bind(s.fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(s.fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("fake DNS server");
		abort();
	}
	if (!index) {
		port = ntohs(sa.sin_port);
		sh->nlog = 0;
	}
	s.pid = fork();
	if (s.pid < 0)
		abort();
	if (s.pid == 0) {
		serve(s.fd, index, zone, nzone, how);
		_exit(0);
	}
	close(s.fd);
	return s;
}

static void server_stop(struct server *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t n = strlen(text);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
		perror(path);
		abort();
	}
	close(fd);
}

static void setup_files(const char *hosts_text, const char *resolv_text)
{
	snprintf(dir, sizeof dir, "/tmp/pz-resolve.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(hosts_path, sizeof hosts_path, "%s/hosts", dir);
	snprintf(resolv_path, sizeof resolv_path, "%s/resolv.conf", dir);
	write_file(hosts_path, hosts_text);
	write_file(resolv_path, resolv_text);
}

static void cleanup_files(void)
{
	unlink(hosts_path);
	unlink(resolv_path);
	rmdir(dir);
}

static struct sockaddr_storage out[8];
static socklen_t out_len[8];

static int lookup(const char *name, int ms)
{
	struct resolve_config cfg = { hosts_path, resolv_path, port };
	memset(out, 0, sizeof out);
	return resolve_host(name, 6443, out, out_len, 8, &cfg, pz_now_ms() + ms);
}

static int out4_is(int i, const char *ip)
{
	const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)&out[i];
	struct in_addr a;
	inet_pton(AF_INET, ip, &a);
	return s->sin_family == AF_INET && out_len[i] == sizeof *s && s->sin_addr.s_addr == a.s_addr &&
	       ntohs(s->sin_port) == 6443;
}

static int out6_is(int i, const char *ip)
{
	const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)&out[i];
	struct in6_addr a;
	inet_pton(AF_INET6, ip, &a);
	return s->sin6_family == AF_INET6 && out_len[i] == sizeof *s && !memcmp(&s->sin6_addr, &a, 16) &&
	       ntohs(s->sin6_port) == 6443;
}

static int logged(int i, int server, const char *name, unsigned type)
{
	return i < sh->nlog && sh->server[i] == server && strcmp(sh->name[i], name) == 0 && sh->type[i] == type;
}

static const struct zone_rr zone[] = {
	{ "abc123.gr7.us-west-2.eks.amazonaws.com", RESOLVE_TYPE_A, "192.0.2.10" },
	{ "abc123.gr7.us-west-2.eks.amazonaws.com", RESOLVE_TYPE_A, "192.0.2.11" },
	{ "v6.example.com", RESOLVE_TYPE_AAAA, "2001:db8::1" },
	{ "both.example.com", RESOLVE_TYPE_AAAA, "2001:db8::2" },
	{ "both.example.com", RESOLVE_TYPE_A, "192.0.2.20" },
	{ "my-cluster-dns-xyz.hcp.westeurope.azmk8s.io", 5, "hcp-underlay-westeurope.cloudapp.azure.com" },
	{ "hcp-underlay-westeurope.cloudapp.azure.com", 5, "lb-42.westeurope.cloudapp.azure.com" },
	{ "lb-42.westeurope.cloudapp.azure.com", RESOLVE_TYPE_A, "20.50.2.30" },
	{ "kubernetes.default.svc.cluster.local", RESOLVE_TYPE_A, "10.96.0.1" },
	{ "svc", RESOLVE_TYPE_A, "192.0.2.50" },
	{ "x.y.z", RESOLVE_TYPE_A, "192.0.2.51" },
	{ "svc.b.example", RESOLVE_TYPE_A, "192.0.2.52" },
	{ "nodata.example.com", 16, "" }, /* exists, no address */
	{ "hosts-too.example.com", RESOLVE_TYPE_A, "6.6.6.6" },
};
#define NZONE ((int)PZ_ARRAY_LEN(zone))

static const char pod_resolv[] = "search default.svc.cluster.local svc.cluster.local cluster.local\n"
                                 "nameserver 127.0.0.1\noptions ndots:5 timeout:2\n";

static void test_dns_answers(void)
{
	struct server s = server_start(0, zone, NZONE, OK);
	int rc;

	setup_files("127.0.0.1 localhost\n", "nameserver 127.0.0.1\noptions timeout:2\n");
	/* A: two addresses, one query each for A and AAAA */
	rc = lookup("abc123.gr7.us-west-2.eks.amazonaws.com", 3000);
	CHECK_EQ_INT(rc, 2);
	CHECK(out4_is(0, "192.0.2.10"));
	CHECK(out4_is(1, "192.0.2.11"));
	CHECK_EQ_INT(sh->nlog, 2);
	CHECK(sh->type[0] + sh->type[1] == RESOLVE_TYPE_A + RESOLVE_TYPE_AAAA);
	/* AAAA only */
	rc = lookup("v6.example.com", 3000);
	CHECK_EQ_INT(rc, 1);
	CHECK(out6_is(0, "2001:db8::1"));
	/* both: IPv4 first */
	rc = lookup("both.example.com.", 3000);
	CHECK_EQ_INT(rc, 2);
	CHECK(out4_is(0, "192.0.2.20"));
	CHECK(out6_is(1, "2001:db8::2"));
	/* max bounds the output */
	{
		struct resolve_config cfg = { hosts_path, resolv_path, port };
		rc = resolve_host("both.example.com", 6443, out, out_len, 1, &cfg, pz_now_ms() + 3000);
		CHECK_EQ_INT(rc, 1);
		CHECK(out4_is(0, "192.0.2.20"));
	}
	/* a CNAME chain (AKS-like), the name in another case */
	rc = lookup("My-Cluster-DNS-xyz.hcp.westeurope.azmk8s.io", 3000);
	CHECK_EQ_INT(rc, 1);
	CHECK(out4_is(0, "20.50.2.30"));
	/* NXDOMAIN, and a name without addresses */
	CHECK_EQ_INT(lookup("nope.example.com", 3000), -EHOSTUNREACH);
	CHECK_EQ_INT(lookup("nodata.example.com", 3000), -EHOSTUNREACH);
	/* no server was slow: all of this took no timeout */
	server_stop(&s);
	cleanup_files();
}

static void test_hosts_first(void)
{
	struct server s = server_start(0, zone, NZONE, OK);

	setup_files("# test\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
	            "192.0.2.99 Hosts-Too.example.com api\n",
	            "nameserver 127.0.0.1\n");
	CHECK_EQ_INT(lookup("localhost", 3000), 2);
	CHECK(out4_is(0, "127.0.0.1"));
	CHECK(out6_is(1, "::1"));
	CHECK_EQ_INT(lookup("hosts-too.example.com.", 3000), 1);
	CHECK(out4_is(0, "192.0.2.99"));
	CHECK_EQ_INT(lookup("API", 3000), 1);
	CHECK_EQ_INT(sh->nlog, 0); /* no server was asked */
	/* IP literals: neither file nor server */
	CHECK_EQ_INT(lookup("10.1.2.3", 3000), 1);
	CHECK(out4_is(0, "10.1.2.3"));
	CHECK_EQ_INT(lookup("fd00::1", 3000), 1);
	CHECK(out6_is(0, "fd00::1"));
	CHECK_EQ_INT(sh->nlog, 0);
	/* bad names are refused before anything is asked */
	CHECK_EQ_INT(lookup("", 3000), -EINVAL);
	CHECK_EQ_INT(lookup(".", 3000), -EINVAL);
	CHECK_EQ_INT(lookup("a..example.com", 3000), -EINVAL);
	CHECK_EQ_INT(lookup("bad name", 3000), -EINVAL);
	CHECK_EQ_INT(lookup("api.example.com\n127.0.0.1", 3000), -EINVAL);
	CHECK_EQ_INT(sh->nlog, 0);
	server_stop(&s);
	cleanup_files();

	/* no hosts file, no resolv.conf: the DNS server at 127.0.0.1 (libc's default) */
	s = server_start(0, zone, NZONE, OK);
	snprintf(hosts_path, sizeof hosts_path, "/nonexistent/hosts");
	snprintf(resolv_path, sizeof resolv_path, "/nonexistent/resolv.conf");
	CHECK_EQ_INT(lookup("both.example.com", 3000), 2);
	server_stop(&s);
}

/* A hosts file longer than RESOLVE_FILE_MAX: read up to it, a line cut by it ignored. */
static void test_file_bound(void)
{
	static char text[RESOLVE_FILE_MAX + 256];
	const char *cut_line = "192.0.2.77 cut.example.com.x\n";
	size_t n = 0;
	struct server s = server_start(0, zone, NZONE, OK);

	while (n < RESOLVE_FILE_MAX - 100)
		n += (size_t)snprintf(text + n, sizeof text - n, "10.9.9.9 filler-%zu.example\n", n);
	n += (size_t)snprintf(text + n, sizeof text - n, "192.0.2.78 fits.example.com\n");
	/* pad so that the bound falls right after "cut.example.com" of the next line */
	while (n + strlen("192.0.2.77 cut.example.com") < RESOLVE_FILE_MAX)
		text[n++] = '#';
	text[n - 1] = '\n';
	PZ_ASSERT(n + strlen("192.0.2.77 cut.example.com") == RESOLVE_FILE_MAX);
	n += (size_t)snprintf(text + n, sizeof text - n, "%s192.0.2.79 late.example.com\n", cut_line);
	setup_files(text, "nameserver 127.0.0.1\n");
	CHECK_EQ_INT(lookup("fits.example.com", 3000), 1);
	CHECK(out4_is(0, "192.0.2.78"));
	CHECK_EQ_INT(sh->nlog, 0);
	/* the cut line would read "cut.example.com": it is dropped, so DNS is asked (NXDOMAIN) */
	CHECK_EQ_INT(lookup("cut.example.com", 3000), -EHOSTUNREACH);
	CHECK(sh->nlog > 0);
	CHECK_EQ_INT(lookup("late.example.com", 3000), -EHOSTUNREACH);
	server_stop(&s);
	cleanup_files();
}

static void test_search(void)
{
	struct server s = server_start(0, zone, NZONE, OK);

	/* in-cluster: 2 dots < ndots 5, so the search list first; the third candidate exists */
	setup_files("", pod_resolv);
	CHECK_EQ_INT(lookup("kubernetes.default.svc", 3000), 1);
	CHECK(out4_is(0, "10.96.0.1"));
	CHECK_EQ_INT(sh->nlog, 6);
	for (int i = 0; i < 6; i++) {
		static const char *const want[3] = {
			"kubernetes.default.svc.default.svc.cluster.local",
			"kubernetes.default.svc.svc.cluster.local",
			"kubernetes.default.svc.cluster.local",
		};
		CHECK(strcmp(sh->name[i], want[i / 2]) == 0);
	}
	/* EKS: 5 dots >= 5, as written first; found, so no search domain is tried */
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("abc123.gr7.us-west-2.eks.amazonaws.com", 3000), 2);
	CHECK_EQ_INT(sh->nlog, 2);
	/* AKS: 4 dots < 5, the three cluster domains (NXDOMAIN) then as written */
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("my-cluster-dns-xyz.hcp.westeurope.azmk8s.io", 3000), 1);
	CHECK(out4_is(0, "20.50.2.30"));
	CHECK_EQ_INT(sh->nlog, 8);
	CHECK(logged(6, 0, "my-cluster-dns-xyz.hcp.westeurope.azmk8s.io", sh->type[6]));
	/* absolute: the search list is never used */
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("nope.example.com.", 3000), -EHOSTUNREACH);
	CHECK_EQ_INT(sh->nlog, 2);
	server_stop(&s);
	cleanup_files();

	s = server_start(0, zone, NZONE, OK);
	setup_files("", "search a.example b.example\nnameserver 127.0.0.1\noptions ndots:2\n");
	/* 0 dots < 2: svc.a.example (NXDOMAIN), svc.b.example (found); "svc" itself not asked */
	CHECK_EQ_INT(lookup("svc", 3000), 1);
	CHECK(out4_is(0, "192.0.2.52"));
	CHECK_EQ_INT(sh->nlog, 4);
	CHECK(strcmp(sh->name[0], "svc.a.example") == 0 && strcmp(sh->name[2], "svc.b.example") == 0);
	/* 2 dots >= 2: as written first, found */
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("x.y.z", 3000), 1);
	CHECK(out4_is(0, "192.0.2.51"));
	CHECK_EQ_INT(sh->nlog, 2);
	/* nowhere: as written first, then each domain, then give up */
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("q.r.s", 3000), -EHOSTUNREACH);
	CHECK_EQ_INT(sh->nlog, 6);
	CHECK(strcmp(sh->name[0], "q.r.s") == 0 && strcmp(sh->name[2], "q.r.s.a.example") == 0 &&
	      strcmp(sh->name[4], "q.r.s.b.example") == 0);
	/* 1 dot < 2: the domains, then as written last */
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("q.r", 3000), -EHOSTUNREACH);
	CHECK_EQ_INT(sh->nlog, 6);
	CHECK(strcmp(sh->name[4], "q.r") == 0);
	server_stop(&s);
	cleanup_files();
}

static void test_servers(void)
{
	struct server s1, s2;
	int64_t t0;

	/* SERVFAIL from the first nameserver: the second answers */
	s1 = server_start(0, zone, NZONE, SERVFAIL);
	s2 = server_start(1, zone, NZONE, OK);
	setup_files("", "nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions timeout:3\n");
	t0 = pz_now_ms();
	CHECK_EQ_INT(lookup("both.example.com", 5000), 2);
	CHECK(pz_now_ms() - t0 < 1000);
	CHECK(sh->nlog >= 3 && sh->server[0] == 0 && sh->server[sh->nlog - 1] == 1);
	server_stop(&s1);
	server_stop(&s2);

	/* every server fails: -EAGAIN, after attempts (2) rounds over both; the search stops there */
	s1 = server_start(0, zone, NZONE, SERVFAIL);
	s2 = server_start(1, zone, NZONE, SERVFAIL);
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("both.example.com", 5000), -EAGAIN);
	CHECK(sh->nlog >= 4 && sh->nlog <= 8);
	server_stop(&s1);
	server_stop(&s2);
	cleanup_files();

	/* the first nameserver's port is closed: ICMP says so at once, the second answers */
	s1 = server_start(0, zone, NZONE, OK); /* picks the port */
	server_stop(&s1);
	s2 = server_start(1, zone, NZONE, OK);
	setup_files("", "nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions timeout:3\n");
	sh->nlog = 0;
	t0 = pz_now_ms();
	CHECK_EQ_INT(lookup("both.example.com", 5000), 2);
	CHECK(pz_now_ms() - t0 < 1000);
	server_stop(&s2);
	/* nothing listens anywhere: the error of the last try */
	CHECK_EQ_INT(lookup("both.example.com", 5000), -ECONNREFUSED);
	cleanup_files();

	/* a malformed answer from the first: the second is asked */
	s1 = server_start(0, zone, NZONE, GARBAGE);
	s2 = server_start(1, zone, NZONE, OK);
	setup_files("", "nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions timeout:3\n");
	t0 = pz_now_ms();
	CHECK_EQ_INT(lookup("abc123.gr7.us-west-2.eks.amazonaws.com", 5000), 2);
	CHECK(out4_is(0, "192.0.2.10"));
	CHECK(pz_now_ms() - t0 < 1000);
	server_stop(&s1);
	server_stop(&s2);
	cleanup_files();
}

static void test_spoof(void)
{
	struct server s;

	/* a reply with another id first: ignored, the true one is taken */
	s = server_start(0, zone, NZONE, SPOOF_ID);
	setup_files("", "nameserver 127.0.0.1\noptions timeout:2\n");
	CHECK_EQ_INT(lookup("both.example.com", 3000), 2);
	CHECK(out4_is(0, "192.0.2.20"));
	CHECK(out6_is(1, "2001:db8::2"));
	server_stop(&s);
	/* a reply with the right id from another port first: never reaches us */
	s = server_start(0, zone, NZONE, SPOOF_FROM);
	CHECK_EQ_INT(lookup("both.example.com", 3000), 2);
	CHECK(out4_is(0, "192.0.2.20"));
	CHECK(out6_is(1, "2001:db8::2"));
	server_stop(&s);
	/* TC with the addresses in it: used */
	s = server_start(0, zone, NZONE, TRUNCATE);
	CHECK_EQ_INT(lookup("both.example.com", 3000), 2);
	CHECK(out4_is(0, "192.0.2.20"));
	/* TC on an answer without addresses (here AAAA): that server failed, the A answer or not */
	CHECK_EQ_INT(lookup("abc123.gr7.us-west-2.eks.amazonaws.com", 3000), -EAGAIN);
	server_stop(&s);
	cleanup_files();
}

static void test_timeouts(void)
{
	struct server s = server_start(0, zone, NZONE, SILENT);
	int64_t t0, dt;

	/* one try of 1 s: -ETIMEDOUT after it */
	setup_files("", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
	t0 = pz_now_ms();
	CHECK_EQ_INT(lookup("both.example.com", 10000), -ETIMEDOUT);
	dt = pz_now_ms() - t0;
	CHECK(dt >= 950 && dt < 2500);
	CHECK_EQ_INT(sh->nlog, 2);
	cleanup_files();
	/* the caller's deadline comes first: 300 ms, not 5 s */
	setup_files("", "nameserver 127.0.0.1\n");
	t0 = pz_now_ms();
	CHECK_EQ_INT(lookup("both.example.com", 300), -ETIMEDOUT);
	dt = pz_now_ms() - t0;
	CHECK(dt >= 250 && dt < 1500);
	/* a deadline already past: nothing is sent */
	sh->nlog = 0;
	CHECK_EQ_INT(lookup("both.example.com", 0), -ETIMEDOUT);
	CHECK_EQ_INT(sh->nlog, 0);
	server_stop(&s);
	cleanup_files();

	/* a silent first server, then a good one: found after the first try's timeout */
	s = server_start(0, zone, NZONE, SILENT);
	struct server s2 = server_start(1, zone, NZONE, OK);
	setup_files("", "nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions timeout:1\n");
	t0 = pz_now_ms();
	CHECK_EQ_INT(lookup("both.example.com", 5000), 2);
	dt = pz_now_ms() - t0;
	CHECK(dt >= 950 && dt < 2500);
	server_stop(&s);
	server_stop(&s2);
	cleanup_files();
}

int main(void)
{
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		abort();
	guard_init(&gd, 4096);
	pz_rand_seed((uint64_t)pz_now_ms() ^ (uint64_t)getpid() << 32);
	run("parse_basic", test_parse_basic);
	run("parse_header", test_parse_header);
	run("parse_cname", test_parse_cname);
	run("parse_malformed", test_parse_malformed);
	run("name_wire", test_name_wire);
	run("conf", test_conf);
	run("hosts", test_hosts);
	run("dns_answers", test_dns_answers);
	run("hosts_first", test_hosts_first);
	run("file_bound", test_file_bound);
	run("search", test_search);
	run("servers", test_servers);
	run("spoof", test_spoof);
	run("timeouts", test_timeouts);
	guard_free(&gd);
	return check_done("test_resolve");
}
