/*
 * kube.h - requests to the Kubernetes API over one keep-alive connection.
 *
 * A kube_api is the server and credentials (shared, read-only after start-up except the token,
 * which is re-read from its file every KUBE_TOKEN_REFRESH_MS as client-go does, because projected
 * service-account tokens rotate). A kube_link is one connection with its parser and read buffer;
 * the controller keeps three: the orders watch, the pods watch and the one that carries reconcile
 * calls. Every call has a deadline; a link that failed is closed and reopened by the next call.
 */
#ifndef PZ_KUBE_H
#define PZ_KUBE_H

#include "conn.h"
#include "http.h"

#include <stddef.h>
#include <stdint.h>

/* A bearer token: service-account JWTs are ~1 KiB; OIDC tokens with many groups reach ~3 KiB. */
#define KUBE_TOKEN_MAX 4096
#define KUBE_PATH_MAX 4096   /* file paths and request paths (continue tokens are ~100-300 bytes) */
#define KUBE_READ_CHUNK 8192 /* bytes taken from the connection per read */
#define KUBE_HEAD_MAX (KUBE_TOKEN_MAX + 1024)
#define KUBE_TOKEN_REFRESH_MS 60000
/* Deadline of one request, start to last byte. The API server answers in milliseconds; a
 * minute-long stall is a dead connection, and the watches must not starve behind it. */
#define KUBE_CALL_TIMEOUT_MS 10000

struct kube_api {
	struct conn_target target;
	char host_header[300];
	char prefix[256];            /* path of the server URL, e.g. a proxy's /k8s/clusters/c-1 */
	char token[KUBE_TOKEN_MAX];  /* never logged */
	char token_file[KUBE_PATH_MAX];
	int64_t token_read_ms;
	struct tls_creds creds;
	/* counters for metrics and benchmarks */
	uint64_t requests;
	uint64_t connects;
};

struct kube_link {
	struct conn conn;
	struct http_resp resp;
	size_t rpos, rlen;          /* unread bytes in rbuf */
	int streaming;              /* a response body is being read (its head is parsed) */
	char head[KUBE_HEAD_MAX];
	char rbuf[KUBE_READ_CHUNK];
};

void kube_link_init(struct kube_link *l);
void kube_link_close(struct kube_link *l);

/* Re-reads the token file when one is configured and the last read is older than the refresh
 * interval. Returns 0 or a negative code (the old token stays in use). */
int kube_api_refresh_token(struct kube_api *api, int force);

/* One request with a body held in memory. The response body goes to out (NUL-terminated; up to
 * cap-1 bytes); a longer body is drained and PZ_ETOOBIG returned. out may be NULL to discard it.
 * Returns the HTTP status (>= 100) or a negative code. A reused connection that turns out closed
 * is reopened and the request sent once more (every call we make is idempotent). */
int kube_call(struct kube_api *api, struct kube_link *l, const char *method, const char *path,
	const char *ctype, const char *body, size_t body_len, char *out, size_t cap, size_t *out_len);

/* Opens a streamed GET (list or watch): sends it and reads the status line and headers.
 * Returns the HTTP status or a negative code. The body is then read with kube_stream_read. */
int kube_stream_open(struct kube_api *api, struct kube_link *l, const char *path, int64_t deadline);

/* Next span of the body: > 0 with *data set, 0 at the end of the body, -EAGAIN (deadline 0, nothing
 * buffered), or a negative code. The span stays valid until the next call on this link. */
int kube_stream_read(struct kube_link *l, const char **data, int64_t deadline);

/* 1 when the link holds bytes that poll() cannot announce (our buffer or the TLS engine's). */
int kube_link_pending(const struct kube_link *l);

/* Percent-encodes s for a query value into out. Returns the length or PZ_ETOOBIG. */
int kube_query_escape(char *out, size_t cap, const char *s);

#endif
