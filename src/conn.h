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
 *
 * Reads go through a small staging buffer, in[]: one recv() takes whatever the socket holds (a
 * whole watch event, a response and the next record's header) instead of the TLS engine's one
 * read per record header and one per record body. A read that comes back short proves the socket
 * empty, so the connection does not ask it again until the loop has polled (conn_events() marks
 * that moment): a recv() that can only say EAGAIN costs a system call and learns nothing.
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
/* The staging buffer: one page, and larger than the records a controller mostly gets (a watch event
 * or a write's answer: 1-4 KiB), so each arrives in one recv(). A larger record's body is read
 * straight into the TLS engine, not through here. It replaces the link's read buffer (the TLS
 * engine's plaintext is parsed where it lies), so it costs no memory. */
#define CONN_IN_BUF 4096

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
	uint8_t drained;          /* the socket read empty since the loop last polled: do not read */
	uint16_t in_pos, in_len;  /* in[in_pos..in_len): read from the socket, not yet taken */
	char proxy_buf[CONN_PROXY_BUF];
	unsigned char in[CONN_IN_BUF];
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
 * trying to do (used on plain sockets; a TLS engine knows for itself). Asking is the promise to poll
 * before the next step: the connection reads the socket again after it (see `drained`). */
short conn_events(struct conn *c, int want_read, int want_write);
/* Takes up to len bytes for sending: > 0 taken, -EAGAIN when nothing could be, or a failure.
 * Bytes taken may sit in the TLS engine: conn_flush pushes them out. */
int conn_write(struct conn *c, const void *buf, size_t len);
/* Pushes out what conn_write took. 0 when all of it reached the socket, -EAGAIN, or a failure.
 * Once all of it has, no answer can be there yet: the next read waits for poll. */
int conn_flush(struct conn *c);
/* The next received bytes, where they lie (in the TLS engine or in[]): > 0 with *data set, 0 at end
 * of stream (TLS: close_notify), -EAGAIN, or a failure (-ECONNRESET for a TCP close without
 * close_notify). The bytes stay valid until the next call on the connection; conn_consume says how
 * many of them were used. */
int conn_peek(struct conn *c, const unsigned char **data);
/* The most conn_peek hands out at once: one TLS record's plaintext (in[] on plain sockets is less). */
#define CONN_SPAN_MAX 16384
void conn_consume(struct conn *c, size_t n);
/* conn_peek and conn_consume into a caller's buffer. */
int conn_read(struct conn *c, void *buf, size_t cap);
/* 1 when received bytes wait inside the connection (decrypted in the TLS engine, or in[]): poll()
 * cannot see them. */
int conn_pending(const struct conn *c);
/* For a kept-alive connection about to carry a request: 1 when nothing is waiting and the socket,
 * asked now (whatever `drained` says), has nothing either; 0 when the server spoke or closed. */
int conn_quiet(struct conn *c);
void conn_close(struct conn *c);
static inline int conn_is_open(const struct conn *c) { return c->fd >= 0; }

#endif
