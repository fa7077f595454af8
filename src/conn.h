/*
 * conn.h - one TCP connection to the API server, plain or TLS, that never blocks.
 *
 * A connection is a state machine driven by the event loop (one state per point where it waits):
 *   CONN_CLOSED      no socket
 *   CONN_CONNECTING  non-blocking connect() under way: wait for POLLOUT
 *   CONN_PROXY       HTTP CONNECT through a proxy: request out, then the proxy's answer head in
 *   CONN_HANDSHAKE   TLS handshake: the engine says whether it waits to read or to write
 *   CONN_OPEN        application bytes flow
 * Nothing here waits: every call does what the socket allows now and returns -EAGAIN otherwise;
 * conn_events() tells the loop what to poll for. Time limits belong to the caller (kube_link), which
 * closes a connection whose phase outlived its deadline. This is also the one place that retries
 * EINTR and handles short reads and writes.
 */
#ifndef PZ_CONN_H
#define PZ_CONN_H

#include "tls.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An HTTP proxy reached first, then asked to CONNECT to the target (client-go's proxy-url and
 * HTTPS_PROXY). config decides, at start-up, whether one applies (NO_PROXY). */
struct conn_proxy {
	int set;
	char host[256];           /* brackets stripped for IPv6 */
	char port[8];
	char authorization[512];  /* full Proxy-Authorization value ("Basic ...") or "" */
};

struct conn_target {
	char host[256];           /* as written in the server URL (brackets stripped for IPv6) */
	char port[8];
	int use_tls;
	struct conn_proxy proxy;
	struct tls_name name;     /* identity the server certificate must carry */
	const struct tls_creds *creds;
};

/* The CONNECT request (host up to 255 bytes twice, the authorization value) and the proxy's answer
 * head: proxies answer with a status line and a few headers, well under 1 KiB. */
#define CONN_PROXY_BUF 1536

enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_PROXY, CONN_HANDSHAKE, CONN_OPEN };

struct conn {
	int fd;                   /* -1 when closed */
	enum conn_state state;
	int use_tls;
	unsigned tls_error;       /* BearSSL's code for the last PZ_ETLS, for the log */
	int proxy_status;         /* the proxy's answer to CONNECT, for the log (0: none yet) */
	/* CONN_PROXY: the request being sent, then the answer head being read */
	uint16_t proxy_len, proxy_off;
	uint8_t proxy_reading;
	char proxy_buf[CONN_PROXY_BUF];
	struct tls_client tls;    /* untouched (so never resident) on plain connections */
};

void conn_init(struct conn *c);
/* Starts a non-blocking connect to addr (the target's address, or the proxy's when one is set).
 * Returns 0 (state CONNECTING, or further when the connect finished at once) or -errno. */
int conn_start(struct conn *c, const struct conn_target *t, const struct sockaddr *addr, socklen_t addr_len);
/* Drives CONNECTING, PROXY and HANDSHAKE. Returns 0 once OPEN, -EAGAIN while waiting (poll for
 * conn_events), or a failure: -errno, PZ_ETLS (see tls_error) or PZ_EHTTP/PZ_ESTATUS from a proxy
 * (see proxy_status). A failed connection is closed. */
int conn_advance(struct conn *c, const struct conn_target *t);
/* POLLIN and/or POLLOUT the connection waits for now. want_read/want_write: what the caller is
 * trying to do (used on plain sockets; a TLS engine knows for itself). */
short conn_events(const struct conn *c, int want_read, int want_write);
/* Takes up to len bytes for sending: > 0 taken, -EAGAIN when nothing could be, or a failure.
 * Bytes taken may sit in the TLS engine: conn_flush pushes them out. */
int conn_write(struct conn *c, const void *buf, size_t len);
/* Pushes out what conn_write took. 0 when all of it reached the socket, -EAGAIN, or a failure. */
int conn_flush(struct conn *c);
/* Reads up to cap bytes: > 0 bytes read, 0 at end of stream (TLS: close_notify), -EAGAIN, or a
 * failure (-ECONNRESET for a TCP close without close_notify). */
int conn_read(struct conn *c, void *buf, size_t cap);
/* 1 when decrypted bytes wait inside the TLS engine: poll() cannot see them. */
int conn_pending(const struct conn *c);
void conn_close(struct conn *c);
static inline int conn_is_open(const struct conn *c) { return c->fd >= 0; }

#endif
