/*
 * resolve.c - hosts file, resolv.conf and DNS over UDP for one name (see resolve.h). Every input
 * (the two files, the answers) is untrusted: each read is bounds-checked against its buffer, and a
 * compressed name may only point backwards, so a pointer loop cannot form.
 */
#include "resolve.h"
#include "pz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A NUL is a blank too: the files are text, and a word must not hide one from the strings built of it. */
#define IS_BLANK(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == 0)

/* The next word of the line [*p, e), its length in *n (0 at the line's end or at a '#' comment). */
static const char *word(const char **p, const char *e, size_t *n)
{
	const char *s = *p, *w;

	while (s < e && IS_BLANK(*s))
		s++;
	for (w = s; s < e && !IS_BLANK(*s) && *s != '#'; s++)
		;
	*n = (size_t)(s - w);
	*p = *n ? s : e; /* a '#' starts a comment: the line ends there */
	return w;
}

/* An IPv4 or IPv6 literal word into ip; its family, or 0. */
static int ip_parse(const char *s, size_t n, unsigned char ip[16])
{
	char z[48]; /* the longest IPv6 text is 45 bytes */

	if (n >= sizeof z)
		return 0;
	memcpy(z, s, n);
	z[n] = 0;
	if (inet_pton(AF_INET, z, ip) == 1)
		return AF_INET;
	return inet_pton(AF_INET6, z, ip) == 1 ? AF_INET6 : 0;
}

/* A socket address of family fam (AF_INET or AF_INET6), ip and port; returns its length. */
static socklen_t sa_set(union resolve_sa *sa, int fam, const unsigned char *ip, uint16_t port)
{
	int v4 = fam == AF_INET;

	memset(sa, 0, sizeof *sa);
	sa->sa.sa_family = (sa_family_t)fam;
	sa->in.sin_port = htons(port); /* at the same offset in sockaddr_in6 */
	memcpy(v4 ? (void *)&sa->in.sin_addr : (void *)&sa->in6.sin6_addr, ip, v4 ? 4 : 16);
	return v4 ? sizeof sa->in : sizeof sa->in6;
}

static unsigned add_addr(struct resolve_addrs *a, int family, const unsigned char *ip)
{
	if (family == AF_INET && a->n4 < RESOLVE_ADDRS_MAX)
		memcpy(a->v4[a->n4++], ip, 4);
	else if (family == AF_INET6 && a->n6 < RESOLVE_ADDRS_MAX)
		memcpy(a->v6[a->n6++], ip, 16);
	return a->n4 + a->n6;
}

/* Decimal digits after a "name:" option, capped: "ndots:99" is ndots:15, as in glibc. */
static unsigned opt_num(const char *s, size_t n, unsigned cap)
{
	unsigned v = 0;

	while (n-- && *s >= '0' && *s <= '9' && v <= cap)
		v = v * 10 + (unsigned)(*s++ - '0');
	return v < cap ? v : cap;
}

static const struct {
	char name[10];
	unsigned char len, cap;
} opts[3] = {
	{ "ndots:", 6, RESOLVE_NDOTS_MAX },
	{ "timeout:", 8, RESOLVE_TIMEOUT_MAX_S },
	{ "attempts:", 9, RESOLVE_ATTEMPTS_MAX },
};

void resolve_conf_parse(const char *text, size_t len, uint16_t ns_port, struct resolve_conf *c)
{
	const char *end = text + len, *e, *p, *w;
	unsigned char ip[16];
	size_t n, sl = 0;

	memset(c, 0, sizeof *c);
	c->ndots = 1;
	c->timeout_s = 5;
	c->attempts = 2;
	for (; text < end; text = e + 1) {
		e = memchr(text, '\n', (size_t)(end - text));
		if (!e)
			e = end;
		p = text;
		w = word(&p, e, &n);
		if (n == 10 && !memcmp(w, "nameserver", 10)) {
			int fam;
			w = word(&p, e, &n);
			if (c->nns < RESOLVE_NS_MAX && (fam = ip_parse(w, n, ip)))
				sa_set(&c->ns[c->nns++], fam, ip, ns_port);
		} else if (n == 6 && (!memcmp(w, "search", 6) || !memcmp(w, "domain", 6))) {
			/* The last such line wins, as in glibc and musl. */
			for (sl = 0; (w = word(&p, e, &n)), n && sl + n < sizeof c->search; sl += n + 1) {
				memcpy(c->search + sl, w, n);
				c->search[sl + n] = ' ';
			}
			c->search[sl ? sl - 1 : 0] = 0;
		} else if (n == 7 && !memcmp(w, "options", 7)) {
			unsigned *val[3] = { &c->ndots, &c->timeout_s, &c->attempts };
			while ((w = word(&p, e, &n)), n)
				for (unsigned i = 0; i < 3; i++)
					if (n > opts[i].len && !memcmp(w, opts[i].name, opts[i].len))
						*val[i] = opt_num(w + opts[i].len, n - opts[i].len, opts[i].cap);
		}
	}
	if (!c->timeout_s)
		c->timeout_s = 1; /* timeout:0 would never wait for an answer */
	if (!c->attempts)
		c->attempts = 1;
	if (!c->nns)
		sa_set(&c->ns[c->nns++], AF_INET, (const unsigned char *)"\177\0\0\1", ns_port);
}

unsigned resolve_hosts_find(const char *text, size_t len, const char *name, size_t nlen,
                            struct resolve_addrs *a)
{
	const char *end = text + len, *e, *p, *addr, *w;
	unsigned char ip[16];
	size_t alen, n;

	for (; text < end; text = e + 1) {
		e = memchr(text, '\n', (size_t)(end - text));
		if (!e)
			e = end;
		p = text;
		addr = word(&p, e, &alen);
		while ((w = word(&p, e, &n)), n) {
			if (n == nlen && !strncasecmp(w, name, n)) {
				add_addr(a, ip_parse(addr, alen, ip), ip);
				break;
			}
		}
	}
	return a->n4 + a->n6;
}

int resolve_name_wire(unsigned char w[RESOLVE_NAME_MAX], int at, const char *text, size_t len)
{
	while (len) {
		size_t l = 0;
		for (; l < len && text[l] != '.'; l++) {
			unsigned char ch = (unsigned char)(text[l] | 32);
			if (!((ch >= 'a' && ch <= 'z') || (text[l] >= '0' && text[l] <= '9') || text[l] == '-' ||
			      text[l] == '_'))
				return -EINVAL;
		}
		/* the label, its length byte and the root byte after it */
		if (!l || l > 63 || (size_t)at + l + 2 > RESOLVE_NAME_MAX)
			return -EINVAL;
		w[at] = (unsigned char)l;
		memcpy(w + at + 1, text, l);
		at += (int)l + 1;
		text += l;
		len -= l;
		if (len) { /* the dot; a trailing one ends the name */
			text++;
			len--;
		}
	}
	w[at] = 0;
	return at;
}

/* ---- the answer ---- */

/* The name at msg[*pos] in wire form into out; *pos moves past it (past the first pointer, if any).
 * A pointer must point before the name it jumps from: compressors only point back at names already
 * written, and strictly decreasing targets end every chain. Returns the wire length or -1. */
static int name_get(const unsigned char *m, size_t len, size_t *pos, unsigned char out[RESOLVE_NAME_MAX])
{
	size_t p = *pos, lim = p, n = 0, c;
	int jumped = 0;

	for (;;) {
		if (p >= len)
			return -1;
		c = m[p];
		if (c >= 0xc0) {
			if (p + 1 >= len || (c = (c & 0x3f) << 8 | m[p + 1]) >= lim)
				return -1;
			if (!jumped)
				*pos = p + 2;
			jumped = 1;
			p = lim = c;
			continue;
		}
		if (c > 63 || p + c >= len || n + c >= RESOLVE_NAME_MAX)
			return -1;
		memcpy(out + n, m + p, c + 1);
		n += c + 1;
		p += c + 1;
		if (!c) {
			if (!jumped)
				*pos = p;
			return (int)n;
		}
	}
}

/* Wire names of n bytes equal, ASCII letters folded (length bytes never are). */
static int name_eq(const unsigned char *a, const unsigned char *b, size_t n)
{
	while (n--) {
		unsigned x = a[n], y = b[n];
		if (x != y && ((x | 32) != (y | 32) || (x | 32) < 'a' || (x | 32) > 'z'))
			return 0;
	}
	return 1;
}

#define U16(p) ((unsigned)(p)[0] << 8 | (p)[1])

int resolve_parse_answer(const unsigned char *m, size_t len, unsigned id, const unsigned char *qname,
                         size_t qlen, unsigned qtype, unsigned char *out, unsigned max)
{
	unsigned char cur[RESOLVE_NAME_MAX], nm[RESOLVE_NAME_MAX];
	size_t p = 12 + qlen, clen = qlen, rd, rdlen, q, alen = qtype == RESOLVE_TYPE_A ? 4 : 16;
	unsigned an, count = 0, hops = 0, type;
	int tc, nl;

	/* A response (QR), a standard query (opcode 0), one question: ours, as we sent it (the
	 * question is the message's first name: it cannot be compressed). */
	if (p + 4 > len || U16(m) != id || (m[2] & 0xf8) != 0x80 || U16(m + 4) != 1 ||
	    !name_eq(m + 12, qname, qlen) || U16(m + p) != qtype || U16(m + p + 2) != 1)
		return -EBADMSG;
	p += 4;
	switch (m[3] & 15) {
	case 0: break;
	case 3: return -EHOSTUNREACH;
	default: return -EAGAIN;
	}
	tc = m[2] & 2;
	an = U16(m + 6);
	memcpy(cur, qname, qlen);
	while (an--) {
		nl = name_get(m, len, &p, nm);
		if (nl < 0 || p + 10 > len || (rd = p + 10) + (rdlen = U16(m + p + 8)) > len) {
			if (tc)
				break; /* a truncated answer: keep what is complete */
			return -EAGAIN;
		}
		type = U16(m + p);
		p = rd + rdlen;
		if (U16(m + rd - 8) != 1 || (size_t)nl != clen || !name_eq(nm, cur, clen))
			continue; /* another class, or a record about another name */
		if (type == qtype && rdlen == alen) {
			if (count < max)
				memcpy(out + alen * count++, m + rd, alen);
		} else if (type == 5) {
			q = rd;
			if (hops++ == RESOLVE_CNAME_MAX || (nl = name_get(m, len, &q, cur)) < 0 || q != p)
				return -EAGAIN;
			clen = (size_t)nl;
		}
	}
	return count || !tc ? (int)count : -EAGAIN;
}

/* ---- the queries ---- */

#define PENDING (-1) /* a query's state in dns_query, beside its count (>= 0) */
#define FAILED (-2)

/* Asks the nameservers about wire name w for A and AAAA, at most attempts rounds, until the deadline.
 * Returns the addresses found (a->n4 + a->n6, 0 for NXDOMAIN or no data), or the error of the last
 * try when every try failed. */
static int dns_query(const unsigned char *w, size_t wl, const struct resolve_conf *c, struct resolve_addrs *a,
                     int64_t deadline)
{
	unsigned char q[12 + RESOLVE_NAME_MAX + 4], m[RESOLVE_MSG_MAX];
	static const unsigned types[2] = { RESOLVE_TYPE_A, RESOLVE_TYPE_AAAA };
	int err = -ETIMEDOUT, fd, got[2], k, r;

	for (unsigned t = 0; t < c->attempts * c->nns; t++) {
		const union resolve_sa *ns = &c->ns[t % c->nns];
		uint64_t rnd = pz_rand();
		/* two different ids: a reply's id says which query it answers */
		unsigned id[2] = { (unsigned)rnd & 0xffff, ((unsigned)rnd + 1 + (unsigned)(rnd >> 16) % 0xffff) & 0xffff };
		int64_t now = pz_now_ms(), end = now + 1000 * c->timeout_s;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (end > deadline)
			end = deadline;
		fd = socket(ns->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		/* Connected: the kernel drops datagrams from any other address, and an ICMP port
		 * unreachable comes back as ECONNREFUSED at once instead of a timeout. */
		if (connect(fd, &ns->sa, ns->sa.sa_family == AF_INET ? sizeof ns->in : sizeof ns->in6) < 0) {
			err = -errno;
			close(fd);
			continue;
		}
		memset(q, 0, 12);
		q[2] = 1; /* RD */
		q[5] = 1; /* one question */
		memcpy(q + 12, w, wl);
		q[12 + wl + 1] = q[12 + wl + 3] = 1; /* class IN; the type below */
		q[12 + wl] = q[12 + wl + 2] = 0;
		for (k = 0; k < 2; k++) {
			q[0] = (unsigned char)(id[k] >> 8);
			q[1] = (unsigned char)id[k];
			q[12 + wl + 1] = (unsigned char)types[k];
			got[k] = PENDING;
			if (send(fd, q, 12 + wl + 4, 0) < 0) {
				err = -errno;
				got[0] = got[1] = FAILED;
				break;
			}
		}
		while ((got[0] == PENDING || got[1] == PENDING) && (now = pz_now_ms()) < end) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			ssize_t n;

			if (poll(&pfd, 1, (int)(end - now)) <= 0)
				continue; /* EINTR, or the time is up: the loop condition decides */
			n = recv(fd, m, sizeof m, 0);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				err = -errno;
				break;
			}
			k = n >= 2 && U16(m) == id[1];
			if (got[k] != PENDING)
				continue; /* a second answer to a query: the first one stands */
			r = resolve_parse_answer(m, (size_t)n, id[k], w, wl, types[k], k ? a->v6[0] : a->v4[0],
			                         RESOLVE_ADDRS_MAX);
			if (r == -EAGAIN) {
				err = r;
				got[0] = got[1] = FAILED; /* this server failed: the next one */
			} else if (r != -EBADMSG) {
				got[k] = r < 0 ? 0 : r; /* NXDOMAIN: no address */
			}
		}
		close(fd);
		if (got[0] >= 0 && got[1] >= 0) {
			a->n4 = (unsigned)got[0];
			a->n6 = (unsigned)got[1];
			return got[0] + got[1];
		}
	}
	return err;
}

/* name.dom (dom may be empty) by DNS: > 0 found, 0 not there, < 0 the servers failed. */
static int dns_try(const char *name, size_t nlen, const char *dom, size_t dlen, const struct resolve_conf *c,
                   struct resolve_addrs *a, int64_t deadline)
{
	unsigned char w[RESOLVE_NAME_MAX];
	int at = resolve_name_wire(w, 0, name, nlen);

	if (at >= 0 && dlen)
		at = resolve_name_wire(w, at, dom, dlen);
	if (at < 0)
		return 0; /* a search domain that makes no valid name is skipped */
	return dns_query(w, (size_t)at + 1, c, a, deadline);
}

static size_t file_load(const char *path, char *buf)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0; /* no file: no entries (hosts) or the defaults (resolv.conf), as in libc */
	while (len < RESOLVE_FILE_MAX) {
		n = read(fd, buf + len, RESOLVE_FILE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == RESOLVE_FILE_MAX) { /* cut at the bound: drop the last line, it may be partial */
		const char *nl = memrchr(buf, '\n', len);
		len = nl ? (size_t)(nl - buf) : 0;
	}
	return len;
}

int resolve_host(const char *name, uint16_t port, struct sockaddr_storage *out, socklen_t *out_len,
                 unsigned max, const struct resolve_config *cfg, int64_t deadline_ms)
{
	static const struct resolve_config sys = { 0 };
	char buf[RESOLVE_FILE_MAX];
	unsigned char w[RESOLVE_NAME_MAX];
	struct resolve_addrs a;
	struct resolve_conf c;
	size_t nlen = strlen(name), dots = 0;
	int absolute = 0, asis, r = 0;
	unsigned i, n = 0;

	if (!cfg)
		cfg = &sys;
	memset(&a, 0, sizeof a);
	if ((r = ip_parse(name, nlen, w))) {
		add_addr(&a, r, w);
		r = 0;
	} else {
		if (nlen && name[nlen - 1] == '.') {
			nlen--;
			absolute = 1;
		}
		if (!nlen || resolve_name_wire(w, 0, name, nlen) < 0)
			return -EINVAL;
		if (!resolve_hosts_find(buf, file_load(cfg->hosts_path ? cfg->hosts_path : "/etc/hosts", buf),
		                        name, nlen, &a)) {
			const char *d, *e;

			resolve_conf_parse(buf, file_load(cfg->resolv_path ? cfg->resolv_path : "/etc/resolv.conf", buf),
			                   cfg->ns_port ? cfg->ns_port : 53, &c);
			for (i = 0; i < nlen; i++)
				dots += name[i] == '.';
			/* The candidates: the name as written (asis 1: first, 0: last, 2: done), then or
			 * before it each search domain; the first that has addresses or fails ends it. */
			asis = absolute || dots >= c.ndots;
			for (d = absolute ? "" : c.search; !r;) {
				const char *dom = d;
				if (asis == 1 || (!*d && !asis)) {
					asis = 2;
					e = d;
				} else if (*d) {
					e = strchrnul(d, ' ');
					d = *e ? e + 1 : e;
				} else {
					break;
				}
				r = dns_try(name, nlen, dom, (size_t)(e - dom), &c, &a, deadline_ms);
			}
			if (r <= 0)
				return r < 0 ? r : -EHOSTUNREACH;
		}
	}
	for (; n < a.n4 + a.n6 && n < max; n++) {
		memset(&out[n], 0, sizeof out[n]);
		out_len[n] = sa_set((union resolve_sa *)(void *)&out[n], n < a.n4 ? AF_INET : AF_INET6,
		                    n < a.n4 ? a.v4[n] : a.v6[n - a.n4], port);
	}
	return n ? (int)n : -EHOSTUNREACH;
}
