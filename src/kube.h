/*
 * kube.h - requests to the Kubernetes API, each one a state machine the event loop drives.
 *
 * A kube_api is the server and credentials (shared; read-only after start-up except the token,
 * re-read from its file every KUBE_TOKEN_REFRESH_MS as client-go does, and at once after a 401).
 * It also caches the server's resolved addresses: resolving happens once, and again only after a
 * connect failed (a DNS name may have moved); an IP literal never touches the resolver.
 *
 * A kube_link is one keep-alive connection carrying one request at a time. Its states, one per
 * point where it waits:
 *   LINK_IDLE      no request; the connection may be open (kept alive) or closed
 *   LINK_CONNECT   TCP connect, proxy CONNECT, TLS handshake (struct conn's own states)
 *   LINK_SEND      request bytes going out
 *   LINK_HEAD      status line and headers coming in (1xx interim answers skipped)
 *   LINK_BODY      body coming in: collected into the caller's buffer (a call), or handed out as
 *                  spans by kube_link_read (a stream: list pages, watches)
 *   LINK_DONE      a call's response is complete: status, body length; the next kube_link_start
 *                  reuses the connection
 * Like watch and server, a link answers three questions for the loop: which fd, which events, by
 * when (kube_link_fd/_events/_deadline). kube_link_step does what the socket allows now and never
 * waits. A phase past its deadline, a malformed response or a framing surprise closes the
 * connection: a link whose state is in doubt is never reused. Bytes that arrive on an idle kept-alive
 * connection (no request outstanding) close it too.
 */
#ifndef PZ_KUBE_H
#define PZ_KUBE_H

#include "conn.h"
#include "http.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* A bearer token: service-account JWTs are ~1 KiB; OIDC tokens with many groups reach ~3 KiB. */
#define KUBE_TOKEN_MAX 4096
#define KUBE_PATH_MAX 4096   /* file paths and request paths (continue tokens are ~100-300 bytes) */
/* One request: head (token included) plus a body (a Pod or a status, RECONCILE_BODY_MAX). */
#define KUBE_REQ_MAX (KUBE_TOKEN_MAX + 1024 + 4096)
#define KUBE_TOKEN_REFRESH_MS 60000
/* Deadline of one call, start to last byte, and of connecting (TCP, proxy, TLS). The API server
 * answers in milliseconds; a call stalled this long is a dead connection. */
#define KUBE_CALL_TIMEOUT_MS 10000
#define KUBE_CONNECT_TIMEOUT_MS 10000
/* The longest Retry-After honoured: a server asking for more is capped, as client-go's backoff is. */
#define KUBE_RETRY_AFTER_MAX_MS 300000
/* Addresses kept from one resolution (A and AAAA of an API server name). */
#define KUBE_ADDRS_MAX 4

struct kube_api {
	struct conn_target target;
	char host_header[300];
	char prefix[256];            /* path of the server URL, e.g. a proxy's /k8s/clusters/c-1 */
	char token[KUBE_TOKEN_MAX];  /* never logged */
	char token_file[KUBE_PATH_MAX];
	int64_t token_read_ms;
	struct tls_creds creds;
	/* resolved addresses of the server (or of the proxy when one is set) */
	struct sockaddr_storage addr[KUBE_ADDRS_MAX];
	socklen_t addr_len[KUBE_ADDRS_MAX];
	unsigned naddr, addr_next;
	int resolve_again;           /* a connect failed: resolve before the next one */
	/* counters for metrics and benchmarks */
	uint64_t requests;
	uint64_t connects;
	uint64_t unauthorized;       /* 401 answers (each one re-reads the token file) */
	int64_t last_answer_ms;      /* when any link last received a response head (liveness) */
};

enum link_state { LINK_IDLE, LINK_CONNECT, LINK_SEND, LINK_HEAD, LINK_BODY, LINK_DONE };
enum link_mode { LINK_CALL, LINK_STREAM };

struct kube_link {
	/* the scalars first, so that initialising a link touches one page and not its buffers */
	enum link_state state;
	enum link_mode mode;
	int status;                 /* HTTP status once the head is in */
	int error;                  /* the failure that closed the link (for the log), 0 otherwise */
	int reused;                 /* the request went out on a kept-alive connection */
	int retried;                /* ... and was sent again on a new one after that failed */
	int out_truncated;
	int cred_rotated;           /* a 401 re-read the token and found a new one: retry at once */
	int64_t retry_after_ms;     /* 429/503 with Retry-After: the wait asked for, clamped to
				       [0, KUBE_RETRY_AFTER_MAX_MS]; -1 otherwise */
	int64_t deadline;           /* of the current phase; INT64_MAX while a stream body flows */
	int64_t started_ms;         /* when the request was started (for latency) */
	const char *method;         /* of the request in flight, for metrics */
	size_t req_len, req_sent;   /* the request in req[], kept until its answer starts, so a stale
				       keep-alive can be retried once */
	char *out;                  /* LINK_CALL: where the body goes */
	size_t out_cap, out_len;
	struct conn conn;
	struct http_resp resp;
	char req[KUBE_REQ_MAX];
};

/* Resolves api->target (or its proxy) into api->addr. Blocking (resolve_host, at most
 * RESOLVE_WAIT_MS): called at start-up and after a failed connect only; an IP literal never waits. */
int kube_api_resolve(struct kube_api *api);

void kube_link_init(struct kube_link *l);
/* Abandons whatever is in flight and closes the connection. */
void kube_link_close(struct kube_link *l);

/* Starts a request. LINK_CALL: the body goes to out (up to cap-1 bytes, NUL-terminated; the rest is
 * read and dropped, out_truncated set); out may be NULL. LINK_STREAM: the caller reads the body with
 * kube_link_read once the head is in. A kept-alive connection is reused when conn_quiet.
 * Returns 0, or PZ_ETOOBIG (request over KUBE_REQ_MAX) / -EBUSY (a request is in flight). */
int kube_link_start(struct kube_link *l, struct kube_api *api, const char *method, const char *path,
	const char *ctype, const char *body, size_t body_len, enum link_mode mode, char *out, size_t cap,
	int64_t now);

/* Does what the socket allows now. Returns 0 while in progress, 1 when the link reached the point
 * its caller waits for (LINK_CALL: LINK_DONE with status and out_len set; LINK_STREAM: the head is
 * in, LINK_BODY), or a negative code (the link is closed, l->error says why). */
int kube_link_step(struct kube_link *l, struct kube_api *api, int64_t now);

/* LINK_STREAM, in LINK_BODY: the next span of body. > 0 with *data set (valid until the next call
 * on this link), 0 at the end of the body (the link is then LINK_DONE), -EAGAIN when nothing is
 * buffered, or a negative code (the link is closed). */
int kube_link_read(struct kube_link *l, const char **data);

/* LINK_STREAM, in LINK_BODY: switch to collecting the rest of the body into out like a call (used
 * to read an error Status). kube_link_step then returns 1 at LINK_DONE. */
void kube_link_collect(struct kube_link *l, char *out, size_t cap, int64_t now);

/* For the loop: the fd to poll (-1 for none), the events, and the time by which kube_link_step must
 * run even without an event (INT64_MAX for none). */
int kube_link_fd(const struct kube_link *l);
short kube_link_events(struct kube_link *l);
int64_t kube_link_deadline(const struct kube_link *l);
/* 1 when the link, reading, has received bytes poll() cannot announce (conn_pending). */
int kube_link_pending(const struct kube_link *l);
static inline int kube_link_busy(const struct kube_link *l)
{
	return l->state != LINK_IDLE && l->state != LINK_DONE;
}

/* Percent-encodes s for a query value into out. Returns the length or PZ_ETOOBIG. */
int kube_query_escape(char *out, size_t cap, const char *s);

/* 1 when s (length n) is a value the server may hand us for reuse in a request (resourceVersion,
 * continue token): 1..max printable ASCII bytes, no space, no control byte. Anything else is a
 * protocol error: it is never used, truncated or logged raw. */
int kube_value_ok(const char *s, size_t n, size_t max);

#endif
