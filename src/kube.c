/*
 * kube.c - HTTP requests to the API server over a kube_link (see kube.h).
 */
#include "kube.h"
#include "pz.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void kube_link_init(struct kube_link *l)
{
	conn_init(&l->conn);
	l->rpos = l->rlen = 0;
	l->streaming = 0;
}

void kube_link_close(struct kube_link *l)
{
	conn_close(&l->conn);
	l->rpos = l->rlen = 0;
	l->streaming = 0;
}

int kube_api_refresh_token(struct kube_api *api, int force)
{
	int64_t now = pz_now_ms();
	char tmp[KUBE_TOKEN_MAX];
	ssize_t n;
	size_t len = 0;
	int fd;

	if (!api->token_file[0] || (!force && now - api->token_read_ms < KUBE_TOKEN_REFRESH_MS))
		return 0;
	fd = open(api->token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof tmp) {
		n = read(fd, tmp + len, sizeof tmp - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == sizeof tmp)
		return PZ_ETOOBIG;
	while (len && (tmp[len - 1] == '\n' || tmp[len - 1] == '\r' || tmp[len - 1] == ' '))
		len--;
	if (len == 0)
		return PZ_ECONFIG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)tmp[i] < 0x21 || (unsigned char)tmp[i] > 0x7e)
			return PZ_ECONFIG; /* a byte that could break the header it goes into */
	memcpy(api->token, tmp, len);
	api->token[len] = 0;
	api->token_read_ms = now;
	return 0;
}

static int ensure_open(struct kube_api *api, struct kube_link *l, int64_t deadline)
{
	int rc;
	if (conn_is_open(&l->conn))
		return 0;
	l->rpos = l->rlen = 0;
	rc = conn_open(&l->conn, &api->target, deadline);
	if (rc == 0)
		api->connects++;
	return rc;
}

static int send_request(struct kube_api *api, struct kube_link *l, const char *method, const char *path,
	const char *ctype, const char *body, size_t body_len, int64_t deadline)
{
	int n, rc;

	kube_api_refresh_token(api, 0); /* a failed refresh keeps the old token; the 401 will tell */
	n = http_req_head(l->head, sizeof l->head, method, api->host_header, api->prefix, path,
		api->token[0] ? api->token : NULL, ctype, body_len);
	if (n < 0)
		return n;
	api->requests++;
	/* Head and a small body in one write: one TLS record, one segment. */
	if (body_len && body_len <= sizeof l->head - (size_t)n) {
		memcpy(l->head + n, body, body_len);
		n += (int)body_len;
		body_len = 0;
	}
	rc = conn_write(&l->conn, l->head, (size_t)n, deadline);
	if (rc == 0 && body_len)
		rc = conn_write(&l->conn, body, body_len, deadline);
	/* The head held the token: do not leave it lying in memory longer than needed. */
	memset(l->head, 0, (size_t)n);
	return rc;
}

/* Makes sure rbuf holds unread bytes: 1 when it does, 0 at the end of the stream, or a code. */
static int fill(struct kube_link *l, int64_t deadline)
{
	int rc;
	if (l->rpos != l->rlen)
		return 1;
	rc = conn_read(&l->conn, l->rbuf, sizeof l->rbuf, deadline);
	if (rc <= 0)
		return rc;
	l->rpos = 0;
	l->rlen = (size_t)rc;
	return 1;
}

/* Next span of body payload: > 0 with *data set, 0 when the body is complete, or a code. */
static int next_span(struct kube_link *l, const char **data, int64_t deadline)
{
	for (;;) {
		size_t blen = 0;
		int used, rc;
		if (http_resp_done(&l->resp))
			return 0;
		rc = fill(l, deadline);
		if (rc == 0)
			return http_resp_eof(&l->resp) < 0 ? -ECONNRESET : 0;
		if (rc < 0)
			return rc;
		used = http_resp_feed(&l->resp, l->rbuf + l->rpos, l->rlen - l->rpos, data, &blen);
		if (used < 0)
			return used;
		l->rpos += (size_t)used;
		if (blen)
			return (int)blen;
	}
}

/* Status line and headers; the parser stops at the blank line, so no body byte is taken here. */
static int read_headers(struct kube_link *l, int64_t deadline)
{
	if (l->rpos != l->rlen)
		return PZ_EHTTP; /* bytes before our request was answered: the stream is out of sync */
	http_resp_init(&l->resp, 0);
	while (!http_resp_headers_done(&l->resp)) {
		const char *d;
		size_t blen;
		int used, rc = fill(l, deadline);
		if (rc <= 0)
			return rc < 0 ? rc : -ECONNRESET;
		used = http_resp_feed(&l->resp, l->rbuf + l->rpos, l->rlen - l->rpos, &d, &blen);
		if (used < 0)
			return used;
		l->rpos += (size_t)used;
	}
	l->streaming = 1;
	return l->resp.status;
}

int kube_call(struct kube_api *api, struct kube_link *l, const char *method, const char *path,
	const char *ctype, const char *body, size_t body_len, char *out, size_t cap, size_t *out_len)
{
	int64_t deadline = pz_now_ms() + KUBE_CALL_TIMEOUT_MS;
	size_t len = 0;
	int too_big = 0, rc, status;

	for (int attempt = 0;; attempt++) {
		int reused = conn_is_open(&l->conn);
		rc = ensure_open(api, l, deadline);
		if (rc < 0)
			return rc;
		rc = send_request(api, l, method, path, ctype, body, body_len, deadline);
		if (rc == 0)
			rc = read_headers(l, deadline);
		if (rc >= 0)
			break;
		kube_link_close(l);
		/* A keep-alive connection the server closed while idle fails on first use; that and
		 * only that is worth an immediate second try. */
		if (!reused || attempt > 0 || rc == -ETIMEDOUT || rc == PZ_ETLS)
			return rc;
	}
	status = rc;
	for (;;) {
		const char *d;
		rc = next_span(l, &d, deadline);
		if (rc < 0) {
			kube_link_close(l);
			return rc;
		}
		if (rc == 0)
			break;
		if (out && !too_big) {
			if ((size_t)rc >= cap - len) {
				too_big = 1;
			} else {
				memcpy(out + len, d, (size_t)rc);
				len += (size_t)rc;
			}
		}
	}
	l->streaming = 0;
	if (!l->resp.keep_alive || l->rpos != l->rlen)
		kube_link_close(l);
	if (out)
		out[len] = 0;
	if (out_len)
		*out_len = len;
	return too_big ? PZ_ETOOBIG : status;
}

int kube_stream_open(struct kube_api *api, struct kube_link *l, const char *path, int64_t deadline)
{
	int rc;
	kube_link_close(l); /* a stream always gets a fresh connection: no stale keep-alive risk */
	rc = ensure_open(api, l, deadline);
	if (rc < 0)
		return rc;
	rc = send_request(api, l, "GET", path, NULL, NULL, 0, deadline);
	if (rc == 0)
		rc = read_headers(l, deadline);
	if (rc < 0)
		kube_link_close(l);
	return rc;
}

int kube_stream_read(struct kube_link *l, const char **data, int64_t deadline)
{
	int rc;
	if (!l->streaming)
		return 0;
	rc = next_span(l, data, deadline);
	if (rc == 0)
		l->streaming = 0;
	return rc;
}

int kube_link_pending(const struct kube_link *l)
{
	return conn_is_open(&l->conn) && (l->rpos != l->rlen || conn_pending(&l->conn));
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
