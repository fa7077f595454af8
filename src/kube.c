/*
 * kube.c - requests to the API server as state machines over keep-alive links (see kube.h).
 */
#include "kube.h"
#include "config.h"
#include "metrics.h"
#include "resolve.h"
#include "pz.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kube_api_resolve(struct kube_api *api)
{
	const char *host = api->target.proxy.set ? api->target.proxy.host : api->target.host;
	const char *port = api->target.proxy.set ? api->target.proxy.port : api->target.port;
	int n = resolve_host(host, (uint16_t)pz_parse_long(port, NULL), api->addr, api->addr_len, KUBE_ADDRS_MAX,
		NULL, pz_now_ms() + RESOLVE_WAIT_MS);

	if (n < 0)
		return n;
	/* addr_next is kept: after a failed connect the next one goes to the next address. */
	api->naddr = (unsigned)n;
	api->resolve_again = 0;
	return 0;
}

/* Tells a rotated token from the same one without keeping a copy of it. */
static uint64_t token_digest(const char *t)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *t; t++)
		h = (h ^ (unsigned char)*t) * 1099511628211ULL;
	return h;
}

void kube_link_init(struct kube_link *l)
{
	/* Field by field, not a memset: the connection's TLS engine and buffers (~33 KiB) must stay
	 * untouched, and so non-resident, until the link first connects (a pool of idle workers
	 * costs no memory). */
	l->state = LINK_IDLE;
	l->mode = LINK_CALL;
	l->status = l->error = l->reused = l->retried = l->cred_rotated = 0;
	l->retry_after_ms = -1;
	l->deadline = INT64_MAX;
	l->started_ms = 0;
	l->method = NULL;
	l->req_len = l->req_sent = 0;
	l->out = NULL;
	l->out_cap = l->out_len = 0;
	l->out_truncated = 0;
	conn_init(&l->conn);
}

static void wipe_request(struct kube_link *l)
{
	/* The head held the token: do not leave it lying in memory longer than needed. */
	if (l->req_len)
		memset(l->req, 0, l->req_len);
	l->req_len = l->req_sent = 0;
}

void kube_link_close(struct kube_link *l)
{
	conn_close(&l->conn);
	wipe_request(l);
	l->state = LINK_IDLE;
	l->deadline = INT64_MAX;
}

static int link_fail(struct kube_link *l, int code)
{
	if (l->state != LINK_IDLE && l->state != LINK_BODY && l->state != LINK_DONE && l->method)
		metrics_request(l->method, 0, (pz_now_ms() - l->started_ms) * 1000); /* no answer came */
	kube_link_close(l);
	l->error = code;
	return code;
}

/* Opens a connection to the next resolved address. */
static int link_connect(struct kube_link *l, struct kube_api *api, int64_t now)
{
	unsigned k;
	int rc;

	if (api->resolve_again || api->naddr == 0) {
		rc = kube_api_resolve(api);
		if (rc < 0)
			return rc;
	}
	k = api->addr_next++ % api->naddr;
	rc = conn_start(&l->conn, &api->target, (const struct sockaddr *)&api->addr[k], api->addr_len[k]);
	if (rc < 0) {
		api->resolve_again = 1;
		return rc;
	}
	api->connects++;
	l->state = LINK_CONNECT;
	l->deadline = now + KUBE_CONNECT_TIMEOUT_MS;
	return 0;
}

/* Where a call's body goes (see kube_link_start). */
static void set_out(struct kube_link *l, char *out, size_t cap)
{
	l->out = out;
	l->out_cap = cap;
	l->out_len = 0;
	l->out_truncated = 0;
	if (out && cap)
		out[0] = 0;
}

int kube_link_start(struct kube_link *l, struct kube_api *api, const char *method, const char *path,
	const char *ctype, const char *body, size_t body_len, enum link_mode mode, char *out, size_t cap,
	int64_t now)
{
	int n, rc;

	if (kube_link_busy(l))
		return -EBUSY;
	/* a failed refresh keeps the old credential (config_refresh_error() says why); the 401 tells */
	config_refresh_credentials(api, now, 0);
	wipe_request(l);
	n = http_req_head(l->req, sizeof l->req, method, api->host_header, api->prefix, path,
		api->token[0] ? api->token : NULL, ctype, body_len);
	if (n < 0)
		return n;
	if (body_len > sizeof l->req - (size_t)n) {
		memset(l->req, 0, (size_t)n);
		return PZ_ETOOBIG;
	}
	if (body_len)
		memcpy(l->req + n, body, body_len);
	l->req_len = (size_t)n + body_len;
	l->req_sent = 0;
	l->mode = mode;
	l->method = method;
	set_out(l, out, cap);
	l->status = 0;
	l->cred_rotated = 0;
	l->retry_after_ms = -1;
	l->error = 0;
	l->retried = 0;
	l->started_ms = now;
	api->requests++;
	/* A kept-alive connection that has something to say while no request is out is not in step
	 * (or the server closed it): either way it must not carry the next request. */
	if (conn_quiet(&l->conn)) {
		l->reused = 1;
		l->state = LINK_SEND;
		l->deadline = now + KUBE_CALL_TIMEOUT_MS;
		return 0;
	}
	l->reused = 0;
	conn_close(&l->conn);
	rc = link_connect(l, api, now);
	if (rc < 0) {
		wipe_request(l);
		l->state = LINK_IDLE;
		l->error = rc;
		return rc;
	}
	return 0;
}

/* Feeds the response parser the bytes the connection holds, where they lie (no copy): the number
 * it used (they are consumed), 0 at the end of the stream, -EAGAIN, or a code. A body span it
 * returns in *data stays valid until the next read on the connection. */
static int feed(struct kube_link *l, const char **data, size_t *blen)
{
	const unsigned char *p;
	int used, rc = conn_peek(&l->conn, &p);
	if (rc <= 0)
		return rc;
	used = http_resp_feed(&l->resp, (const char *)p, (size_t)rc, data, blen);
	if (used > 0)
		conn_consume(&l->conn, (size_t)used);
	return used < 0 ? used : used > 0 ? used : PZ_EHTTP;
}

/* Next span of body payload: > 0 with *data set, 0 when the body is complete, -EAGAIN, or a code. */
static int next_span(struct kube_link *l, const char **data)
{
	for (;;) {
		size_t blen = 0;
		int rc;
		if (http_resp_done(&l->resp))
			return 0;
		rc = feed(l, data, &blen);
		if (rc == 0)
			return http_resp_eof(&l->resp) < 0 ? -ECONNRESET : 0;
		if (rc < 0)
			return rc;
		if (blen)
			return (int)blen;
	}
}

/* The response is complete: keep the connection only when it is provably in step. */
static void body_done(struct kube_link *l)
{
	if (!l->resp.keep_alive || conn_pending(&l->conn))
		conn_close(&l->conn);
	l->state = LINK_DONE;
	l->deadline = INT64_MAX;
}

/* LINK_CALL body (or a stream switched to collecting): into out, bounded. */
static int collect(struct kube_link *l)
{
	for (;;) {
		const char *d;
		int rc = next_span(l, &d);
		if (rc < 0)
			return rc == -EAGAIN ? 0 : link_fail(l, rc);
		if (rc == 0) {
			body_done(l);
			return 1;
		}
		if (l->out && l->out_cap && !l->out_truncated) {
			size_t take = (size_t)rc;
			if (take >= l->out_cap - l->out_len) {
				take = l->out_cap - l->out_len - 1;
				l->out_truncated = 1;
			}
			memcpy(l->out + l->out_len, d, take);
			l->out_len += take;
			l->out[l->out_len] = 0;
		} else if (!l->out || !l->out_cap) {
			l->out_truncated = 1; /* nowhere to keep it: read and dropped */
		}
	}
}

int kube_link_step(struct kube_link *l, struct kube_api *api, int64_t now)
{
	int rc;

	for (;;) {
		switch (l->state) {
		case LINK_IDLE:
		case LINK_DONE:
			return 0;
		case LINK_CONNECT:
			if (now >= l->deadline)
				return link_fail(l, -ETIMEDOUT);
			rc = conn_advance(&l->conn, &api->target);
			if (rc == -EAGAIN)
				return 0;
			if (rc < 0) {
				if (rc != PZ_ETLS)
					api->resolve_again = 1; /* the name may have moved */
				return link_fail(l, rc);
			}
			l->state = LINK_SEND;
			l->deadline = now + KUBE_CALL_TIMEOUT_MS;
			break;
		case LINK_SEND:
			if (now >= l->deadline)
				return link_fail(l, -ETIMEDOUT);
			while (l->req_sent < l->req_len) {
				rc = conn_write(&l->conn, l->req + l->req_sent, l->req_len - l->req_sent);
				if (rc == -EAGAIN)
					return 0;
				if (rc < 0)
					goto send_failed;
				l->req_sent += (size_t)rc;
			}
			rc = conn_flush(&l->conn);
			if (rc == -EAGAIN)
				return 0;
			if (rc < 0)
				goto send_failed;
			http_resp_init(&l->resp, 0);
			l->state = LINK_HEAD;
			break;
		case LINK_HEAD:
			if (now >= l->deadline)
				return link_fail(l, -ETIMEDOUT);
			while (!http_resp_headers_done(&l->resp)) {
				const char *d;
				size_t blen;
				int fresh = l->resp.state == HTTP_STATUS && l->resp.line_len == 0;
				rc = feed(l, &d, &blen);
				if (rc == -EAGAIN)
					return 0;
				if (rc == PZ_EHTTP || rc == PZ_ETOOBIG)
					return link_fail(l, rc); /* not HTTP */
				if (rc <= 0) {
					rc = rc < 0 ? rc : -ECONNRESET;
					if (l->reused && fresh)
						goto send_failed; /* closed while idle: not an answer */
					return link_fail(l, rc);
				}
			}
			if (l->resp.status < 200) {
				/* 100 Continue and other interim answers: the real one follows. 101 switches
				 * protocols, which we never asked for: the stream is no longer HTTP. */
				if (l->resp.status == 101)
					return link_fail(l, PZ_EHTTP);
				http_resp_init(&l->resp, 0);
				break;
			}
			wipe_request(l);
			l->status = l->resp.status;
			api->last_answer_ms = now;
			metrics_request(l->method, l->status, (now - l->started_ms) * 1000);
			l->retry_after_ms = -1;
			if ((l->status == 429 || l->status == 503) &&
			    (l->resp.retry_after_s >= 0 || l->resp.retry_after_at > 0)) {
				int64_t ms = l->resp.retry_after_s >= 0 ? l->resp.retry_after_s * 1000
					: (l->resp.retry_after_at - pz_wall_s()) * 1000;
				l->retry_after_ms = ms < 0 ? 0 : ms > KUBE_RETRY_AFTER_MAX_MS ? KUBE_RETRY_AFTER_MAX_MS : ms;
			}
			if (l->status == 401) {
				uint64_t before = token_digest(api->token);
				api->unauthorized++;
				/* rotated, or the plugin's credential expired: the next request carries the new one */
				config_refresh_credentials(api, now, 1);
				l->cred_rotated = token_digest(api->token) != before;
			}
			l->state = LINK_BODY;
			if (l->mode == LINK_STREAM) {
				l->deadline = INT64_MAX;
				return 1;
			}
			break;
		case LINK_BODY:
			if (l->mode == LINK_STREAM)
				return 0; /* the caller reads with kube_link_read */
			if (now >= l->deadline)
				return link_fail(l, -ETIMEDOUT);
			return collect(l);
		}
	}
send_failed:
	/* A kept-alive connection the server closed while idle fails on first use; that and only
	 * that is worth an immediate second try, on a new connection. */
	if (l->reused && !l->retried && rc != -ETIMEDOUT && rc != PZ_ETLS) {
		l->retried = 1;
		l->reused = 0;
		l->req_sent = 0;
		conn_close(&l->conn);
		rc = link_connect(l, api, now);
		if (rc == 0)
			return kube_link_step(l, api, now);
	}
	return link_fail(l, rc);
}

int kube_link_read(struct kube_link *l, const char **data)
{
	int rc;
	if (l->state == LINK_DONE)
		return 0;
	if (l->state != LINK_BODY || l->mode != LINK_STREAM)
		return -ENOTCONN;
	rc = next_span(l, data);
	if (rc == 0) {
		body_done(l);
		return 0;
	}
	if (rc < 0 && rc != -EAGAIN)
		return link_fail(l, rc);
	return rc;
}

void kube_link_collect(struct kube_link *l, char *out, size_t cap, int64_t now)
{
	l->mode = LINK_CALL;
	set_out(l, out, cap);
	l->deadline = now + KUBE_CALL_TIMEOUT_MS;
}

int kube_link_fd(const struct kube_link *l)
{
	return kube_link_busy(l) ? l->conn.fd : -1;
}

short kube_link_events(struct kube_link *l)
{
	switch (l->state) {
	case LINK_CONNECT:
		return conn_events(&l->conn, 0, 1);
	case LINK_SEND:
		return conn_events(&l->conn, 0, 1);
	case LINK_HEAD:
	case LINK_BODY:
		return conn_events(&l->conn, 1, 0);
	default:
		return 0;
	}
}

int64_t kube_link_deadline(const struct kube_link *l)
{
	return kube_link_busy(l) ? l->deadline : INT64_MAX;
}

int kube_link_pending(const struct kube_link *l)
{
	/* only while reading: a link that is writing does not take what waits, so it cannot be news */
	return (l->state == LINK_HEAD || l->state == LINK_BODY) && conn_is_open(&l->conn) &&
	       conn_pending(&l->conn);
}

int kube_query_escape(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '_' || c == '.' || c == '~';
		if (n + (plain ? 1 : 3) >= cap)
			return PZ_ETOOBIG;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = 0;
	return (int)n;
}

int kube_value_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}
