/*
 * resolve.h - a host name to socket addresses, for the one name the program dials: the API server's
 * (or its proxy's). It replaces getaddrinfo, whose musl implementation (resolv.conf and hosts
 * readers over stdio, parallel queries to every nameserver, RFC 3484 sorting) costs ~10 KiB of a
 * binary that must stay small, for a lookup made at start-up and after a failed connect only.
 *
 * What it does, the subset of musl's and glibc's behaviour this program needs:
 *   1. an IPv4 or IPv6 literal is its own answer (no file is read);
 *   2. the hosts file: every line whose name or an alias equals the name (ASCII case-insensitive, a
 *      trailing dot ignored), IPv4 and IPv6;
 *   3. DNS over UDP to resolv.conf's nameservers (in order, `attempts` rounds, `timeout` seconds
 *      per try), A and AAAA asked together. The search list (`search` or `domain`) applies unless
 *      the name ends with a dot: the name as written is tried first when it has at least `ndots`
 *      dots, last otherwise (glibc's order). NXDOMAIN or no data moves to the next candidate; a
 *      server that fails (SERVFAIL, REFUSED, a malformed answer, ICMP unreachable, no answer in
 *      time) moves to the next server, and when every try failed the search stops with that error
 *      rather than answering from a later candidate (musl's rule).
 * The answer must come from the server asked (the socket is connected), carry the query's random id
 * (pz_rand) and echo its question; a CNAME chain is followed in record order, as glibc does.
 * Addresses come back IPv4 first, then IPv6, each family in the order found.
 *
 * Not supported, on purpose: TCP fallback (a truncated answer is used if it holds addresses: an API
 * server name has a few), EDNS, `options rotate`/`single-request`, IPv6 nameservers or addresses
 * with a %scope, nsswitch.conf (files then dns, always), `sortlist`, reverse lookups.
 *
 * Memory: no allocation; resolve_host uses ~10 KiB of stack (one RESOLVE_FILE_MAX buffer shared by
 * the two files, the parsed resolv.conf, a RESOLVE_MSG_MAX message buffer and three names). Files longer than RESOLVE_FILE_MAX are read up to it; the rest,
 * and a line cut by the bound, are ignored.
 */
#ifndef PZ_RESOLVE_H
#define PZ_RESOLVE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Addresses kept per family: an API server name has 1 to 6 (EKS: 2, AKS: 1). */
#define RESOLVE_ADDRS_MAX 8
/* Nameservers used (MAXNS in glibc and musl; later lines are ignored, as there). */
#define RESOLVE_NS_MAX 3
/* The search list, domains separated by one space: musl's bound. Domains that do not fit whole are
 * dropped (a Pod's list is 3 cluster domains plus the node's, well under it). */
#define RESOLVE_SEARCH_MAX 256
/* Bytes read from the hosts file or resolv.conf: a Pod's hosts file is < 1 KiB. */
#define RESOLVE_FILE_MAX 8192
/* A DNS message over UDP without EDNS (RFC 1035 4.2.1): what a server may send us. */
#define RESOLVE_MSG_MAX 512
/* A name in wire form, root label included (RFC 1035 2.3.4); a label is at most 63 bytes. */
#define RESOLVE_NAME_MAX 255
/* CNAME records followed in one answer (EKS and AKS names chain 1 to 3). */
#define RESOLVE_CNAME_MAX 8
/* resolv.conf option caps: glibc's RES_MAXNDOTS, RES_MAXRETRANS (seconds) and RES_MAXRETRY. */
#define RESOLVE_NDOTS_MAX 15
#define RESOLVE_TIMEOUT_MAX_S 30
#define RESOLVE_ATTEMPTS_MAX 5
/* A deadline for callers: two tries at resolv.conf's default timeout (5 s). */
#define RESOLVE_WAIT_MS 10000

#define RESOLVE_TYPE_A 1
#define RESOLVE_TYPE_AAAA 28

/* Where resolve_host looks; NULL (or a zero field) is the system default. Tests point it at their
 * own files and at a fake DNS server on a loopback port. */
struct resolve_config {
	const char *hosts_path;  /* NULL: /etc/hosts */
	const char *resolv_path; /* NULL: /etc/resolv.conf */
	uint16_t ns_port;        /* 0: 53, for every nameserver */
};

/* Resolves name into at most max addresses with port set (network order is done here), written to
 * out[0..n) with their lengths in out_len. Blocks until the answer or deadline_ms (pz_now_ms()
 * clock). Returns n > 0, or:
 *   -EINVAL        name is empty, longer than 253, or holds a byte other than [A-Za-z0-9._-] or an
 *                  empty label;
 *   -EHOSTUNREACH  no such name, or no address for it (NXDOMAIN or no data for every candidate);
 *   -ETIMEDOUT     no answer in time (every try timed out, or the deadline passed);
 *   -EAGAIN        the servers failed (SERVFAIL, REFUSED, malformed answers);
 *   other -errno   from socket(), connect() or send() (e.g. -ECONNREFUSED, -ENETUNREACH). */
int resolve_host(const char *name, uint16_t port, struct sockaddr_storage *out, socklen_t *out_len,
                 unsigned max, const struct resolve_config *cfg, int64_t deadline_ms);

/* ---- the pieces, public for the unit tests and the fuzz target ---- */

union resolve_sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* resolv.conf, parsed. */
struct resolve_conf {
	union resolve_sa ns[RESOLVE_NS_MAX];
	unsigned nns;        /* >= 1: 127.0.0.1 when the file names none (glibc and musl) */
	unsigned ndots;      /* default 1 */
	unsigned timeout_s;  /* per try; default 5 */
	unsigned attempts;   /* rounds over the nameservers; default 2 */
	char search[RESOLVE_SEARCH_MAX]; /* domains separated by one space, NUL-terminated */
};

/* Addresses found, per family. */
struct resolve_addrs {
	unsigned n4, n6;
	unsigned char v4[RESOLVE_ADDRS_MAX][4];
	unsigned char v6[RESOLVE_ADDRS_MAX][16];
};

/* Parses resolv.conf text text[0..len) (any bytes; not NUL-terminated) into c; ns_port is every
 * nameserver's port (network order is done here). Never fails: what it does not understand is
 * ignored, as glibc and musl do. */
void resolve_conf_parse(const char *text, size_t len, uint16_t ns_port, struct resolve_conf *c);

/* Adds to a the addresses of hosts-file text text[0..len) whose lines name name[0..nlen) (no
 * trailing dot), while a has room. Returns a->n4 + a->n6. */
unsigned resolve_hosts_find(const char *text, size_t len, const char *name, size_t nlen,
                            struct resolve_addrs *a);

/* Appends the labels of text[0..len) ("a.b", one trailing dot allowed) to the wire-form name being
 * built in w, whose root byte is at w[at] (0 for a new name), and writes the new root byte.
 * Returns the new root's index (the name's wire length minus one), or -EINVAL for a bad byte, an
 * empty or over-long label or a name over RESOLVE_NAME_MAX. */
int resolve_name_wire(unsigned char w[RESOLVE_NAME_MAX], int at, const char *text, size_t len);

/* Reads the answer msg[0..len) to the query (id, qname in wire form of qlen bytes, qtype A or AAAA)
 * and writes up to max addresses of qtype (4 or 16 bytes each) to out. Reads nothing outside msg.
 * Returns the count (0: the name exists without such address), or:
 *   -EBADMSG       not the answer to this query (id, question or header): ignore it, keep waiting;
 *   -EHOSTUNREACH  NXDOMAIN;
 *   -EAGAIN        the server failed: another rcode, a malformed record, truncated without addresses. */
int resolve_parse_answer(const unsigned char *msg, size_t len, unsigned id, const unsigned char *qname,
                         size_t qlen, unsigned qtype, unsigned char *out, unsigned max);

#endif
