/*
 * server.c - probe and metrics endpoints (see server.h). Non-blocking everywhere: a client is read
 * and written only as far as its socket allows, and the rest waits for the next poll turn.
 *
 * A client slot goes HEAD (reading the request head) -> SEND (writing the answer), or -> WAIT when
 * its answer needs the shared page while another client holds it, then SEND. Eviction picks the
 * oldest client in the earliest of those states, so honest clients that have asked are the last
 * to go. Answers other than the page live in the slot itself.
 */
#include "fmt.h"
#include "server.h"
#include "pz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- the request-head parser ---- */

enum { P_LINE, P_HEADERS, P_DONE, P_ERROR };

void server_req_init(struct server_req *r)
{
	memset(r, 0, sizeof *r);
	r->state = P_LINE;
}

int server_req_done(const struct server_req *r) { return r->state == P_DONE; }

static int req_fail(struct server_req *r, int status, int code)
{
	r->state = P_ERROR;
	r->status = (uint16_t)status;
	return code;
}

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "method SP origin-form SP HTTP/1.x", exactly. Returns 0 or the status to answer. */
static int req_line(struct server_req *r)
{
	char *l = r->line, *end = l + r->line_len, *t, *v;

	*end = 0;
	for (t = l; t < end && is_tchar((unsigned char)*t); t++)
		;
	if (t == l || t == end || *t != ' ')
		return 400;
	v = memchr(t + 1, ' ', (size_t)(end - t - 1));
	if (!v || t[1] != '/')
		return 400; /* only origin-form: no proxy or OPTIONS * requests here */
	if (end - v != 9 || memcmp(v + 1, "HTTP/", 5) != 0 || v[7] != '.' || v[6] < '0' || v[6] > '9' ||
	    v[8] < '0' || v[8] > '9')
		return 400;
	if (v[6] != '1')
		return 505;
	*v = 0;
	r->path = t + 1;
	r->path[strcspn(r->path, "?")] = 0;
	r->method = t - l == 3 && memcmp(l, "GET", 3) == 0 ? SERVER_M_GET
		  : t - l == 4 && memcmp(l, "HEAD", 4) == 0 ? SERVER_M_HEAD : SERVER_M_OTHER;
	return 0;
}

int server_req_feed(struct server_req *r, const char *p, size_t n)
{
	if (r->state == P_ERROR)
		return r->status == 400 || r->status == 505 ? PZ_EHTTP : PZ_ETOOBIG;
	if (r->state == P_DONE)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		int st;

		if (++r->total > SERVER_HEAD_MAX)
			return req_fail(r, 431, PZ_ETOOBIG);
		if (r->cr && c != '\n')
			return req_fail(r, 400, PZ_EHTTP); /* a bare CR: never guess where a line ends */
		if (c == '\r') {
			r->cr = 1;
			continue;
		}
		if (c == '\n') {
			r->cr = 0;
			if (r->state == P_HEADERS) {
				if (r->col == 0)
					r->state = P_DONE;
				r->col = 0;
			} else if (r->line_len) {
				if ((st = req_line(r)) != 0)
					return req_fail(r, st, PZ_EHTTP);
				r->state = P_HEADERS;
			}
			if (r->state == P_DONE)
				return (int)(i + 1);
			continue;
		}
		if (c == 0x7f || (c < 0x20 && (c != '\t' || r->state == P_LINE)))
			return req_fail(r, 400, PZ_EHTTP);
		if (r->state == P_LINE) {
			if (c >= 0x80)
				return req_fail(r, 400, PZ_EHTTP); /* a request line is ASCII; header values may not be */
			if (r->line_len == SERVER_LINE_MAX - 1)
				return req_fail(r, 414, PZ_ETOOBIG);
			r->line[r->line_len++] = (char)c;
		} else {
			r->col++; /* at most SERVER_HEAD_MAX: the total bounds it */
		}
	}
	return (int)n;
}

/* ---- the server ---- */

enum { C_FREE, C_HEAD, C_WAIT, C_SEND };

/* The one page buffer (see server.h); BSS, so resident only as far as pages are written. Aligned
 * for madvise on 4 KiB memory pages (on a 64 KiB-page kernel madvise refuses and the page simply
 * stays resident; a 64 KiB alignment would cost up to 60 KiB of file padding in the binary). */
static char page[SERVER_PAGE_MAX] __attribute__((aligned(4096)));
static const struct server_client *page_owner;

/* Hands the page's memory back to the kernel once an answer written into it is done with, so a
 * scrape every 15 s does not keep the metrics page (~15 KiB) resident between scrapes; the next
 * render faults in zeroed pages again (a few page faults, next to rendering ~300 lines). */
static void page_release(void)
{
	madvise(page, sizeof page, MADV_DONTNEED);
}

static int parse_port(const char *s)
{
	int port = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || (port = port * 10 + (*s - '0')) > 65535)
			return -1;
	}
	return port;
}

int server_open(struct server *s, const char *addr, server_handler h, void *arg)
{
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	const char *colon = strrchr(addr, ':');
	char host[64];
	int port, one = 1, fd, v6 = 0;
	size_t hl;

	memset(s, 0, sizeof *s);
	s->fd = -1;
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++)
		s->client[i].fd = -1;
	for (int i = 0; i < SERVER_PARK_MAX; i++)
		s->park_fd[i] = -1;
	s->handler = h;
	s->arg = arg;
	s->head_timeout_ms = SERVER_HEAD_TIMEOUT_MS;
	s->send_timeout_ms = SERVER_SEND_TIMEOUT_MS;
	if (strcmp(addr, "0") == 0)
		return 0;
	if (!colon || (port = parse_port(colon + 1)) < 0)
		return PZ_ECONFIG;
	hl = (size_t)(colon - addr);
	if (hl >= sizeof host)
		return PZ_ECONFIG;
	memcpy(host, addr, hl);
	host[hl] = 0;
	memset(&sa4, 0, sizeof sa4);
	memset(&sa6, 0, sizeof sa6);
	if (hl == 0) {
		v6 = 1; /* dual-stack wildcard */
		sa6.sin6_addr = in6addr_any;
	} else if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		v6 = 1;
		if (inet_pton(AF_INET6, host + 1, &sa6.sin6_addr) != 1)
			return PZ_ECONFIG;
	} else if (inet_pton(AF_INET, host, &sa4.sin_addr) != 1) {
		return PZ_ECONFIG;
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && v6 && hl == 0) {
		/* no IPv6 in this kernel: fall back to IPv4 any */
		v6 = 0;
		sa4.sin_addr.s_addr = htonl(INADDR_ANY);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (v6) {
		int zero = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons((uint16_t)port);
	} else {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons((uint16_t)port);
	}
	/* The backlog holds connections between two turns of the loop; eviction empties it. */
	if (bind(fd, v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4, v6 ? sizeof sa6 : sizeof sa4) < 0 ||
	    listen(fd, 64) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	s->fd = fd;
	return 0;
}

int server_port(const struct server *s)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	if (s->fd < 0 || getsockname(s->fd, (struct sockaddr *)&ss, &l) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int server_pollfds(const struct server *s, struct pollfd *fds)
{
	int n = 0;
	if (s->fd < 0)
		return 0;
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		const struct server_client *c = &s->client[i];
		if (c->fd < 0 || c->state == C_WAIT)
			continue; /* a waiting client is woken by the page, not by its socket */
		fds[n].fd = c->fd;
		fds[n].events = c->state == C_SEND ? POLLOUT : POLLIN;
		fds[n].revents = 0;
		n++;
	}
	for (int i = 0; i < SERVER_PARK_MAX; i++) {
		if (s->park_fd[i] < 0)
			continue;
		fds[n].fd = s->park_fd[i];
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	/* Always: a full table evicts, so the listening socket never waits for a slot. */
	fds[n].fd = s->fd;
	fds[n].events = POLLIN;
	fds[n].revents = 0;
	return n + 1;
}

int64_t server_deadline(const struct server *s)
{
	int64_t d = INT64_MAX;
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		const struct server_client *c = &s->client[i];
		if (c->fd < 0)
			continue;
		if (c->state == C_WAIT && !page_owner)
			return 0;
		if (c->deadline < d)
			d = c->deadline;
	}
	for (int i = 0; i < SERVER_PARK_MAX; i++)
		if (s->park_fd[i] >= 0 && s->park_since[i] + s->head_timeout_ms < d)
			d = s->park_since[i] + s->head_timeout_ms;
	return d;
}

static void drop(struct server_client *c)
{
	if (page_owner == c) {
		page_owner = NULL;
		page_release();
	}
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
}

/* After the whole answer: whatever the client sent beyond its head (a body, a pipelined request)
 * is read away first, because closing with unread input makes the kernel send a reset, which can
 * destroy the answer before the client has read it. Bounded: a client that keeps sending loses. */
static void finish(struct server_client *c)
{
	char sink[512];
	for (int k = 0; k < 8 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; k++)
		;
	drop(c);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

/* Decides the answer of a client whose head has ended (or failed): runs the handler, places the
 * body, writes the head. Leaves the client in C_SEND, or in C_WAIT when the page is taken. */
static void prepare(struct server *s, struct server_client *c, int64_t now)
{
	struct server_req *r = &c->req;
	size_t len = 0;
	int status, n;

	c->on_page = 0;
	if (r->state != P_DONE) {
		status = r->status;
	} else if (r->method == SERVER_M_OTHER) {
		status = 405;
	} else if (!page_owner) {
		status = s->handler(s->arg, r->path, page, sizeof page, &len);
		PZ_ASSERT(status < 0 || len <= sizeof page);
		if (status >= 0 && len <= sizeof c->small) {
			memcpy(c->small, page, len); /* a probe's answer: its one touched memory page stays */
		} else if (status >= 0 && r->method == SERVER_M_GET) {
			c->on_page = 1;
			page_owner = c;
		} else {
			page_release(); /* a HEAD answer sends no body; or it did not fit */
		}
	} else {
		status = s->handler(s->arg, r->path, c->small, sizeof c->small, &len);
		PZ_ASSERT(status < 0 || len <= sizeof c->small);
		if (status == PZ_ETOOBIG) {
			c->state = C_WAIT;
			c->deadline = now + s->send_timeout_ms;
			return;
		}
	}
	if (status < 100 || status > 599) {
		status = 500; /* the page did not fit SERVER_PAGE_MAX, or a handler bug */
		len = 0;
		if (page_owner == c) {
			page_owner = NULL;
			page_release();
		}
		c->on_page = 0;
	}
	if (len == 0 && status >= 400) {
		len = (size_t)pz_snprintf(c->small, sizeof c->small, "%d %s\n", status, reason(status));
	}
	n = pz_snprintf(c->head, sizeof c->head,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
		     status, reason(status), len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	PZ_ASSERT(n > 0 && (size_t)n < sizeof c->head);
	c->head_len = (size_t)n;
	c->body_len = r->state == P_DONE && r->method == SERVER_M_HEAD ? 0 : len;
	c->resp_len = c->head_len + c->body_len;
	c->sent = 0;
	c->state = C_SEND;
	c->deadline = now + s->send_timeout_ms;
}

static const char *body_of(const struct server_client *c)
{
	return c->on_page ? page : c->small;
}

/* Writes what the socket takes now. */
static void send_some(struct server_client *c)
{
	while (c->sent < c->resp_len) {
		struct iovec iov[2];
		struct msghdr mh;
		ssize_t w;
		int k = 0;

		memset(&mh, 0, sizeof mh);
		if (c->sent < c->head_len) {
			iov[k].iov_base = c->head + c->sent;
			iov[k++].iov_len = c->head_len - c->sent;
		}
		if (c->body_len) {
			size_t off = c->sent > c->head_len ? c->sent - c->head_len : 0;
			iov[k].iov_base = (char *)body_of(c) + off;
			iov[k++].iov_len = c->body_len - off;
		}
		mh.msg_iov = iov;
		mh.msg_iovlen = k;
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0) {
			drop(c); /* the client went away: nothing left to do for it */
			return;
		}
		c->sent += (size_t)w;
	}
	finish(c);
}

/* Reads what has arrived of the head; answers when it is complete or broken. */
static void read_head(struct server *s, struct server_client *c, int64_t now)
{
	char buf[512];

	for (;;) {
		ssize_t got = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
		int rc;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (got <= 0) {
			drop(c); /* closed or reset before asking anything */
			return;
		}
		rc = server_req_feed(&c->req, buf, (size_t)got);
		if (rc < 0 || server_req_done(&c->req)) {
			prepare(s, c, now);
			if (c->state == C_SEND)
				send_some(c);
			return;
		}
	}
}

enum { HEAD_CLOSED = -1, HEAD_NONE, HEAD_PART, HEAD_WHOLE };

/* What fd has sent of its request head so far, peeked (not consumed): nothing, part, the whole
 * head, or HEAD_CLOSED when the peer closed or failed. */
static int head_ready(int fd)
{
	char b[512];
	ssize_t got = recv(fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
	if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		return HEAD_CLOSED;
	if (got < 0)
		return HEAD_NONE;
	if (got == (ssize_t)sizeof b)
		return HEAD_WHOLE; /* a long head: as good as complete for the choice below */
	for (ssize_t k = 1; k < got; k++)
		if (b[k] == '\n' && (b[k - 1] == '\n' || (k >= 2 && b[k - 1] == '\r' && b[k - 2] == '\n')))
			return HEAD_WHOLE;
	return HEAD_PART;
}

/* The slot for a connection with bytes: a free one; else, when its head is whole, the oldest client
 * in the earliest state; else the oldest such client past SERVER_GRACE_MS; else NULL (refuse). */
static struct server_client *slot_for_new(struct server *s, int whole, int64_t now)
{
	struct server_client *victim = NULL;

	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		struct server_client *c = &s->client[i];
		if (c->fd < 0)
			return c;
		if (!whole && now - c->accepted_ms < SERVER_GRACE_MS)
			continue;
		if (!victim || c->state < victim->state || (c->state == victim->state && c->seq < victim->seq))
			victim = c;
	}
	if (!victim)
		return NULL;
	drop(victim);
	s->evicted++;
	return victim;
}

/* A connection that has sent bytes (head: head_ready's answer, not HEAD_NONE): into a slot, read at
 * once (a prober's head is answered in this turn), or closed when no slot may be had. */
static void admit(struct server *s, int fd, int head, int64_t since, int64_t now)
{
	struct server_client *c;

	if (head == HEAD_CLOSED || !(c = slot_for_new(s, head == HEAD_WHOLE, now))) {
		if (head != HEAD_CLOSED)
			s->refused++;
		close(fd);
		return;
	}
	c->fd = fd;
	c->state = C_HEAD;
	c->seq = ++s->seq;
	c->accepted_ms = since;
	c->deadline = since + s->head_timeout_ms;
	c->on_page = 0;
	server_req_init(&c->req);
	read_head(s, c, now);
}

/* Parks a connection that has sent nothing yet; a full park closes its oldest. */
static void park(struct server *s, int fd, int64_t now)
{
	int at = -1;
	for (int i = 0; i < SERVER_PARK_MAX; i++) {
		if (s->park_fd[i] < 0) {
			at = i;
			break;
		}
		if (at < 0 || s->park_since[i] < s->park_since[at])
			at = i;
	}
	if (s->park_fd[at] >= 0) {
		close(s->park_fd[at]);
		s->evicted++;
	}
	s->park_fd[at] = fd;
	s->park_since[at] = now;
}

void server_step(struct server *s, const struct pollfd *fds, int n, int64_t now)
{
	/* server_pollfds puts the listener last */
	int listen_ready = !fds || (n > 0 && fds[n - 1].fd == s->fd && fds[n - 1].revents);
	if (s->fd < 0)
		return;
	/* Parked connections whose first bytes came (or that closed): admitted, or closed. */
	for (int i = 0; i < SERVER_PARK_MAX; i++) {
		int ready = !fds, fd = s->park_fd[i], head = HEAD_NONE;
		if (fd < 0)
			continue;
		for (int k = 0; fds && k < n; k++)
			if (fds[k].fd == fd) {
				ready = fds[k].revents != 0;
				break;
			}
		if (ready)
			head = head_ready(fd);
		if (head != HEAD_NONE) {
			s->park_fd[i] = -1;
			admit(s, fd, head, s->park_since[i], now);
		} else if (now >= s->park_since[i] + s->head_timeout_ms) {
			s->park_fd[i] = -1;
			close(fd);
			s->timed_out++;
		}
	}
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		struct server_client *c = &s->client[i];
		if (c->fd >= 0 && c->state == C_HEAD)
			read_head(s, c, now);
		else if (c->fd >= 0 && c->state == C_SEND)
			send_some(c);
	}
	/* Waiting clients, oldest first, while the page is free (an answer may take it again). */
	for (;;) {
		struct server_client *w = NULL;
		for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
			struct server_client *c = &s->client[i];
			if (c->fd >= 0 && c->state == C_WAIT && (!w || c->seq < w->seq))
				w = c;
		}
		if (!w || page_owner)
			break;
		prepare(s, w, now);
		if (w->state == C_SEND)
			send_some(w);
	}
	/* New connections: one with bytes is admitted at once (a prober's head is usually already
	 * there, so it is answered in this turn); one without is parked. */
	for (int k = 0; listen_ready && k < SERVER_ACCEPTS_PER_TURN; k++) {
		int head, fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break; /* EAGAIN; or EMFILE and the like, retried next turn */
		head = head_ready(fd);
		if (head == HEAD_NONE)
			park(s, fd, now);
		else
			admit(s, fd, head, now, now);
	}
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++) {
		struct server_client *c = &s->client[i];
		if (c->fd >= 0 && now >= c->deadline) {
			drop(c);
			s->timed_out++;
		}
	}
}

void server_close(struct server *s)
{
	for (int i = 0; i < SERVER_CLIENTS_MAX; i++)
		if (s->client[i].fd >= 0)
			drop(&s->client[i]);
	for (int i = 0; i < SERVER_PARK_MAX; i++)
		if (s->park_fd[i] >= 0)
			close(s->park_fd[i]);
	for (int i = 0; i < SERVER_PARK_MAX; i++)
		s->park_fd[i] = -1;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
