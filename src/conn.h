/*
 * conn.h - one TCP connection to the API server, plain or TLS, with a deadline on every operation.
 *
 * The socket is non-blocking; waiting happens in exactly one place (poll with the time left until
 * the caller's deadline), which is also the one place that retries EINTR and short reads/writes.
 * A deadline of 0 means "do not wait": conn_read then returns -EAGAIN when nothing is ready, which is
 * how the event loop drains a watch stream after poll() said the socket is readable.
 */
#ifndef PZ_CONN_H
#define PZ_CONN_H

#include "tls.h"

#include <stddef.h>
#include <stdint.h>

struct conn_target {
	char host[256];           /* as written in the server URL (brackets stripped for IPv6) */
	char port[8];
	int use_tls;
	struct tls_name name;     /* identity the server certificate must carry */
	const struct tls_creds *creds;
};

struct conn {
	int fd;                   /* -1 when closed */
	int use_tls;
	unsigned tls_error;       /* BearSSL's code for the last PZ_ETLS, for the log */
	struct tls_client tls;    /* untouched (so never resident) on plain connections */
};

void conn_init(struct conn *c);
/* Resolves, connects and (for TLS) completes the handshake before deadline (pz_now_ms() scale).
 * Returns 0, -ETIMEDOUT, -ECONNREFUSED and other -errno, or PZ_ETLS (see c->tls_error). */
int conn_open(struct conn *c, const struct conn_target *t, int64_t deadline);
/* Writes all len bytes or fails. */
int conn_write(struct conn *c, const void *buf, size_t len, int64_t deadline);
/* Reads up to cap bytes: > 0 bytes read, 0 at end of stream, -EAGAIN (deadline 0 only),
 * -ETIMEDOUT, other -errno or PZ_ETLS. */
int conn_read(struct conn *c, void *buf, size_t cap, int64_t deadline);
/* 1 when decrypted bytes wait inside the TLS engine: poll() cannot see them, so the loop must
 * not sleep. */
int conn_pending(const struct conn *c);
void conn_close(struct conn *c);
static inline int conn_is_open(const struct conn *c) { return c->fd >= 0; }

#endif
