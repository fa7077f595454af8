/*
 * server.h - the plain-HTTP endpoints the kubelet and Prometheus call: probes and /metrics.
 *
 * One struct server is one listening socket; the program opens two, as kubebuilder's layout does:
 * --health-probe-bind-address (":8081": /healthz, /livez, /readyz) and --metrics-bind-address
 * (":8080": /metrics). The caller's handler decides the status and body of every path; this module
 * only carries bytes: one request per connection, GET and HEAD (same head, no body), 405 for any
 * other method, "Connection: close" always.
 *
 * Never blocked by a client, never starved by one (the loop is single-threaded):
 *   - every socket is non-blocking; a response is written across poll turns as the client reads it;
 *   - a client has SERVER_HEAD_TIMEOUT_MS to send its whole request head, and SERVER_SEND_TIMEOUT_MS
 *     from then on to take the answer; then it is dropped;
 *   - a new connection that has sent nothing yet is parked: only its descriptor and deadline are
 *     kept (SERVER_PARK_MAX of them, the oldest closed when full), and it takes a client slot once
 *     its first bytes arrive. So idle connections, however fast they churn, cannot crowd out a
 *     probe whose request comes a moment after its connect: it waits parked, not evictable by them;
 *   - a connection with bytes takes a free slot; when the SERVER_CLIENTS_MAX slots are full, one
 *     whose whole head is already there evicts the oldest client still sending its head (failing
 *     that, the oldest waiting for the page, then the oldest being answered) and is answered in the
 *     same turn; one with only part of a head evicts only a client older than SERVER_GRACE_MS, else
 *     it is closed. So a slowloris holding every slot costs a kubelet probe nothing.
 *
 * Memory: per client a request-line copy and a small response (probe answers fit there); one page
 * buffer of SERVER_PAGE_MAX bytes in this module, shared by every server, for answers that do not
 * fit (the metrics page). One client holds the page at a time; a second request that needs it waits
 * (its slot stays, nothing is read or written) until the page is free, then is rendered afresh.
 */
#ifndef PZ_SERVER_H
#define PZ_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

/* A kubelet's liveness, readiness and startup probes may overlap, plus one or two scrapers: 8 slots
 * leave room, and eviction covers the rest. Each slot costs 784 bytes, touched only when used. */
#define SERVER_CLIENTS_MAX 8
/* Request line "GET /readyz?verbose HTTP/1.1": method, target and version; a longer one is 414. */
#define SERVER_LINE_MAX 256
/* The whole head. kubelet sends ~150 bytes, Prometheus ~300, curl ~80; a longer head is 431. */
#define SERVER_HEAD_MAX 4096
/* A probe answer ("ok\n", "waiting for the initial list\n", a verbose check list) fits here. */
#define SERVER_SMALL_MAX 256
/* Status line and headers of an answer (the longest is ~150 bytes). */
#define SERVER_RESP_HEAD_MAX 192
/* The shared page: metrics.h's METRICS_PAGE_MAX (72 KiB) plus the caller's own pizza_* lines
 * (~3 KiB with every number at 20 digits), rounded up. BSS: resident only as far as a page reaches
 * (~15 KiB usually). The caller checks its bound against this one at compile time. */
#define SERVER_PAGE_MAX (80 * 1024)
/* kubelet's probe timeout is 1 s by default: a client that has not sent its head in 2 s is not a
 * working prober. */
#define SERVER_HEAD_TIMEOUT_MS 2000
/* Parked connections (nothing sent yet): 16 bytes each. More than an attacker's churn needs to
 * cycle through within a probe's connect-to-request delay, far fewer than the default 1024 fds. */
#define SERVER_PARK_MAX 128
/* A client this young is not evicted by one that has only part of a head: its own head may be
 * on the way. */
#define SERVER_GRACE_MS 250
/* Accepts per loop turn: a flood of connections cannot keep the loop here. */
#define SERVER_ACCEPTS_PER_TURN 32
/* Prometheus' default scrape_timeout: after 10 s a scraper has given up anyway. */
#define SERVER_SEND_TIMEOUT_MS 10000

/*
 * The request-head parser, resumable over any cut of the input (fuzzed: tests/fuzz/fuzz_server.c).
 * It keeps the request line, checks its grammar, and skips the headers, which no path needs.
 * Lines end in LF; a CR is allowed only just before one. Empty lines before the request line are
 * skipped (RFC 9112 2.2).
 */
enum server_method { SERVER_M_GET, SERVER_M_HEAD, SERVER_M_OTHER };

struct server_req {
	uint32_t total;        /* head bytes consumed */
	uint16_t line_len;     /* bytes of the request line kept in line[] */
	uint16_t col;          /* bytes on the current header line */
	uint8_t state;         /* private to server.c */
	uint8_t cr;            /* the previous byte was a CR */
	uint8_t method;        /* enum server_method, once done */
	uint16_t status;       /* the HTTP status to answer with after an error: 400, 414, 431, 505 */
	char *path;            /* once done: the target's path in line[], NUL-terminated, query cut off */
	char line[SERVER_LINE_MAX];
};

void server_req_init(struct server_req *r);
/* Consumes bytes up to and including the head's final LF. Returns the count consumed (less than n
 * only when the head ended), PZ_EHTTP for a malformed head or PZ_ETOOBIG for an over-long one; an
 * error sticks, and r->status says what to answer. */
int server_req_feed(struct server_req *r, const char *p, size_t n);
/* 1 once the head is complete and valid. */
int server_req_done(const struct server_req *r);

/*
 * Fills body (cap bytes) for path and sets *len (<= cap: more is a bug and aborts), and returns the
 * status to send (100..599), or PZ_ETOOBIG when the body does not fit cap: the server then calls
 * again with the page (SERVER_PAGE_MAX), at once or when the page is free. A page that does not
 * fit either is answered 500. An empty body of a status >= 400 becomes "404 Not Found\n" and the
 * like. The handler is called for GET and HEAD alike (HEAD needs the length); it must not keep body.
 */
typedef int (*server_handler)(void *arg, const char *path, char *body, size_t cap, size_t *len);

struct server_client {
	int fd;                /* -1: a free slot */
	uint8_t state;         /* private to server.c */
	uint8_t on_page;       /* the body is in the shared page */
	uint64_t seq;          /* accept order: the lowest is the oldest */
	int64_t accepted_ms;
	int64_t deadline;
	size_t resp_len, sent; /* head + body bytes to send, and sent so far */
	size_t head_len, body_len;
	struct server_req req;
	char head[SERVER_RESP_HEAD_MAX];
	char small[SERVER_SMALL_MAX];
};

struct server {
	int fd;                /* -1: disabled ("0") */
	server_handler handler;
	void *arg;
	uint64_t seq;
	int head_timeout_ms, send_timeout_ms; /* the constants above; tests shorten them */
	uint64_t evicted, timed_out;          /* clients dropped to make room / for being too slow */
	uint64_t refused;                     /* partial heads closed: every slot busy and young */
	struct server_client client[SERVER_CLIENTS_MAX];
	int park_fd[SERVER_PARK_MAX];         /* -1: free */
	int64_t park_since[SERVER_PARK_MAX];  /* accept time: the head deadline runs from it */
};

/* Binds "[host]:port" (":8080" means every address, IPv6 and IPv4; "0" disables). Returns 0,
 * PZ_ECONFIG or -errno. */
int server_open(struct server *s, const char *addr, server_handler h, void *arg);
/* Adds this server's descriptors to fds (at most SERVER_POLLFDS_MAX); returns how many. */
#define SERVER_POLLFDS_MAX (1 + SERVER_CLIENTS_MAX + SERVER_PARK_MAX)
int server_pollfds(const struct server *s, struct pollfd *fds);
/* Earliest client deadline; 0 when a client waits for a page that is free now; else INT64_MAX. */
int64_t server_deadline(const struct server *s);
/* Accepts, reads and writes whatever is ready without blocking; drops clients past their deadline.
 * fds, n: what server_pollfds filled this turn, with poll's revents; the listening socket is only
 * asked for a connection when poll saw one (an accept per loop turn was a third of the syscalls
 * of a busy controller). NULL, 0: try everything. */
void server_step(struct server *s, const struct pollfd *fds, int n, int64_t now);
/* The port actually bound (for ":0" in tests), or -1. */
int server_port(const struct server *s);
/* Closes the listening socket and every client (tests; the process otherwise exits with them). */
void server_close(struct server *s);

#endif
