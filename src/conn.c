/*
 * conn.c - sockets and the BearSSL engine pump (see conn.h).
 * BearSSL's engine is a state machine driven by _buf()/_ack() pairs; this file moves bytes between
 * it and the socket. br_sslio is not used: it blocks without deadlines.
 */
#include "conn.h"
#include "pz.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

void conn_init(struct conn *c)
{
	c->fd = -1;
	c->use_tls = 0;
	c->tls_error = 0;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The one place that waits. Returns 0 when ready, -ETIMEDOUT, -EAGAIN (deadline 0), or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int64_t left;
		int rc;
		if (deadline == 0)
			return -EAGAIN;
		left = deadline - pz_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (rc > 0)
			return 0; /* POLLERR/POLLHUP: the following read/write reports it */
	}
}

static int sock_write(struct conn *c, const unsigned char *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int rc = wait_fd(c->fd, POLLOUT, deadline ? deadline : pz_now_ms() + 10000);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Reads what the socket has. > 0 bytes, 0 at EOF, -EAGAIN when deadline is 0 and nothing is there. */
static int sock_read(struct conn *c, unsigned char *p, size_t cap, int64_t deadline)
{
	for (;;) {
		ssize_t n = recv(c->fd, p, cap, 0);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
}

static int tls_fail(struct conn *c)
{
	c->tls_error = (unsigned)br_ssl_engine_last_error(&c->tls.cc.eng);
	return PZ_ETLS;
}

/* Runs the engine until `want` (a BR_SSL_* state bit) is available. Returns 0, 1 at a clean close,
 * or a negative code. deadline 0: -EAGAIN instead of waiting for the socket. */
static int pump(struct conn *c, unsigned want, int64_t deadline)
{
	br_ssl_engine_context *eng = &c->tls.cc.eng;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		size_t len;
		unsigned char *buf;
		int rc;

		if (st == BR_SSL_CLOSED)
			return br_ssl_engine_last_error(eng) == BR_ERR_OK ? 1 : tls_fail(c);
		if (st & want)
			return 0;
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			rc = sock_write(c, buf, len, deadline);
			if (rc < 0)
				return rc;
			br_ssl_engine_sendrec_ack(eng, len);
			continue;
		}
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			rc = sock_read(c, buf, len, deadline);
			if (rc < 0)
				return rc;
			if (rc == 0)
				return -ECONNRESET; /* TCP closed without close_notify: a cut, not an end */
			br_ssl_engine_recvrec_ack(eng, (size_t)rc);
			continue;
		}
		/* Neither readable nor writable, not closed: cannot happen with bidi buffers. */
		return tls_fail(c);
	}
}

int conn_open(struct conn *c, const struct conn_target *t, int64_t deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc, fd = -1;

	conn_close(c);
	c->use_tls = t->use_tls;
	c->tls_error = 0;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(t->host, t->port, &hints, &res);
	if (rc != 0)
		return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	rc = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1, err = 0;
		socklen_t elen = sizeof err;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			if (errno != EINPROGRESS) {
				rc = -errno;
				close(fd);
				fd = -1;
				continue;
			}
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err != 0)
				rc = -err;
			if (rc < 0) {
				close(fd);
				fd = -1;
				continue;
			}
		}
		rc = 0;
		break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return rc;
	c->fd = fd;
	if (!c->use_tls)
		return 0;
	if (tls_client_start(&c->tls, t->creds, &t->name) < 0) {
		rc = tls_fail(c);
		conn_close(c);
		return rc;
	}
	rc = pump(c, BR_SSL_SENDAPP, deadline);
	if (rc != 0) {
		conn_close(c);
		return rc > 0 ? -ECONNRESET : rc;
	}
	tls_client_save_session(&c->tls);
	return 0;
}

int conn_write(struct conn *c, const void *data, size_t len, int64_t deadline)
{
	const unsigned char *p = data;
	br_ssl_engine_context *eng = &c->tls.cc.eng;
	int rc;

	if (c->fd < 0)
		return -ENOTCONN;
	if (!c->use_tls)
		return sock_write(c, p, len, deadline);
	while (len > 0) {
		size_t room;
		unsigned char *buf;
		rc = pump(c, BR_SSL_SENDAPP, deadline);
		if (rc != 0)
			return rc > 0 ? -EPIPE : rc;
		buf = br_ssl_engine_sendapp_buf(eng, &room);
		if (room > len)
			room = len;
		memcpy(buf, p, room);
		br_ssl_engine_sendapp_ack(eng, room);
		p += room;
		len -= room;
	}
	br_ssl_engine_flush(eng, 0);
	/* Push the flushed records out now; the next read would do it too, but a request must not
	 * wait for a response that cannot come before it is sent. */
	while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
		size_t n;
		unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &n);
		rc = sock_write(c, buf, n, deadline);
		if (rc < 0)
			return rc;
		br_ssl_engine_sendrec_ack(eng, n);
	}
	return 0;
}

int conn_read(struct conn *c, void *out, size_t cap, int64_t deadline)
{
	br_ssl_engine_context *eng = &c->tls.cc.eng;
	unsigned char *buf;
	size_t len;
	int rc;

	if (c->fd < 0)
		return -ENOTCONN;
	if (!c->use_tls)
		return sock_read(c, out, cap, deadline);
	rc = pump(c, BR_SSL_RECVAPP, deadline);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	buf = br_ssl_engine_recvapp_buf(eng, &len);
	if (len > cap)
		len = cap;
	memcpy(out, buf, len);
	br_ssl_engine_recvapp_ack(eng, len);
	return (int)len;
}

int conn_pending(const struct conn *c)
{
	return c->fd >= 0 && c->use_tls &&
	       (br_ssl_engine_current_state(&c->tls.cc.eng) & BR_SSL_RECVAPP) != 0;
}
