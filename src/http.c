/*
 * http.c - resumable HTTP/1.1 response parser and request writer (see http.h).
 * Only what the Kubernetes API server sends is accepted: status line, headers, then a body framed by
 * Content-Length, chunked encoding or connection close. Anything else is PZ_EHTTP.
 */
#include "fmt.h"
#include "http.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void http_resp_init(struct http_resp *r, int head_request)
{
	memset(r, 0, offsetof(struct http_resp, line));
	r->state = HTTP_STATUS;
	r->no_body = head_request;
	r->retry_after_s = -1;
}

/* IMF-fixdate, the only HTTP-date form a current server sends: "Sun, 06 Nov 1994 08:49:37 GMT".
 * Returns epoch seconds or -1. */
static int64_t http_date(const char *s, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, y, h, mi, se, mo = -1;
	if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
	    s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return -1;
	for (int k = 0; k < 12; k++)
		if (memcmp(s + 8, months + 3 * k, 3) == 0)
			mo = k + 1;
	for (int k = 5; k < 25; k++)
		if (k != 7 && k != 8 && k != 9 && k != 10 && k != 11 && k != 16 && k != 19 && k != 22 &&
		    (s[k] < '0' || s[k] > '9'))
			return -1;
	if (mo < 0)
		return -1;
	d = (s[5] - '0') * 10 + (s[6] - '0');
	y = (s[12] - '0') * 1000 + (s[13] - '0') * 100 + (s[14] - '0') * 10 + (s[15] - '0');
	h = (s[17] - '0') * 10 + (s[18] - '0');
	mi = (s[20] - '0') * 10 + (s[21] - '0');
	se = (s[23] - '0') * 10 + (s[24] - '0');
	if (d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
		return -1;
	/* days from civil (Howard Hinnant's algorithm), integer only */
	{
		int yy = y - (mo <= 2), era = yy / 400, yoe = yy - era * 400;
		int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
		int64_t days = (int64_t)era * 146097 + doe - 719468;
		return days * 86400 + h * 3600 + mi * 60 + se;
	}
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 18)
		return PZ_EHTTP;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return PZ_EHTTP;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int status_line(struct http_resp *r, const char *s, size_t n)
{
	/* "HTTP/1.1 200 OK" ; reason phrase optional */
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return PZ_EHTTP;
	if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return PZ_EHTTP;
	if (n > 12 && s[12] != ' ')
		return PZ_EHTTP;
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	r->keep_alive = s[7] == '1'; /* HTTP/1.0 closes unless told otherwise; we never ask it to */
	if (r->status < 200 || r->status == 204 || r->status == 304)
		r->no_body = 1;
	return 0;
}

static int header_is(const char *s, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t k = strlen(name);
	if (n <= k || s[k] != ':' || strncasecmp(s, name, k) != 0)
		return 0;
	s += k + 1;
	n -= k + 1;
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*val = s;
	*vlen = n;
	return 1;
}

static int header_line(struct http_resp *r, const char *s, size_t n)
{
	const char *v;
	size_t vn;

	const char *colon = memchr(s, ':', n);

	if (++r->nheaders > HTTP_HEADERS_MAX)
		return PZ_ETOOBIG;
	if (n == 0 || s[0] == ' ' || s[0] == '\t')
		return PZ_EHTTP; /* obsolete line folding: refuse rather than misread */
	/* A name is at least one token character and ends right at the colon (RFC 7230 3.2.4:
	 * no blank before it), so "Transfer-Encoding : chunked" cannot slip past as unknown. */
	if (!colon || colon == s)
		return PZ_EHTTP;
	for (const char *p = s; p < colon; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p))
			return PZ_EHTTP;
	if (header_is(s, n, "Content-Length", &v, &vn)) {
		uint64_t len;
		if (parse_u64(v, vn, &len) < 0 || (r->has_length && len != r->remaining))
			return PZ_EHTTP;
		r->has_length = 1;
		r->remaining = len;
	} else if (header_is(s, n, "Transfer-Encoding", &v, &vn)) {
		if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
			return PZ_EHTTP; /* gzip and friends: we never send Accept-Encoding */
		r->chunked = 1;
	} else if (header_is(s, n, "Retry-After", &v, &vn)) {
		uint64_t secs;
		/* delay-seconds or an HTTP-date; anything else is ignored, as clients do */
		if (parse_u64(v, vn, &secs) == 0)
			r->retry_after_s = secs > 86400 ? 86400 : (int64_t)secs;
		else if ((r->retry_after_at = http_date(v, vn)) < 0)
			r->retry_after_at = 0;
	} else if (header_is(s, n, "Connection", &v, &vn)) {
		if (vn == 5 && strncasecmp(v, "close", 5) == 0)
			r->keep_alive = 0;
		else if (vn == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			r->keep_alive = 1;
	}
	return 0;
}

/* After the blank line: decide how the body is framed. */
static int headers_end(struct http_resp *r)
{
	if (r->chunked && r->has_length)
		return PZ_EHTTP; /* ambiguous framing is how request smuggling starts */
	if (r->no_body) {
		r->state = HTTP_DONE;
	} else if (r->chunked) {
		r->state = HTTP_CHUNK_SIZE;
		r->remaining = 0;
		r->hex_digits = 0;
	} else if (r->has_length) {
		r->state = r->remaining ? HTTP_BODY_LENGTH : HTTP_DONE;
	} else {
		r->state = HTTP_BODY_EOF;
		r->keep_alive = 0;
	}
	return 0;
}

/* Collects one CRLF- (or LF-) terminated line into r->line. Returns 1 when complete, 0 when more
 * bytes are needed, or PZ_ETOOBIG. *used counts the bytes taken from in. */
static int take_line(struct http_resp *r, const char *in, size_t len, size_t *used)
{
	const char *lf = memchr(in, '\n', len);
	size_t n = lf ? (size_t)(lf - in) : len;

	/* +1: the line's CR is stored and dropped below, so CRLF and LF lines get the same limit */
	if (r->line_len + n > HTTP_LINE_MAX + 1)
		return PZ_ETOOBIG;
	memcpy(r->line + r->line_len, in, n);
	r->line_len += n;
	*used = lf ? n + 1 : n;
	if (!lf)
		return 0;
	if (r->line_len && r->line[r->line_len - 1] == '\r')
		r->line_len--;
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int http_resp_feed(struct http_resp *r, const char *in, size_t len, const char **body, size_t *body_len)
{
	size_t pos = 0;

	*body = NULL;
	*body_len = 0;
	while (pos < len) {
		size_t used = 0, n;
		int rc;
		char c;

		switch (r->state) {
		case HTTP_STATUS:
		case HTTP_HEADER:
		case HTTP_TRAILER:
			rc = take_line(r, in + pos, len - pos, &used);
			pos += used;
			if (rc <= 0)
				return rc < 0 ? rc : (int)pos;
			if (r->state == HTTP_STATUS) {
				rc = status_line(r, r->line, r->line_len);
				r->state = HTTP_HEADER;
			} else if (r->line_len == 0) {
				if (r->state == HTTP_HEADER) {
					/* Stop at the end of the head: the caller looks at the status before
					 * any body byte is handed out. */
					r->line_len = 0;
					rc = headers_end(r);
					return rc < 0 ? rc : (int)pos;
				}
				r->state = HTTP_DONE;
				rc = 0;
			} else {
				rc = r->state == HTTP_HEADER ? header_line(r, r->line, r->line_len)
							     : (++r->nheaders > HTTP_HEADERS_MAX ? PZ_ETOOBIG : 0);
			}
			r->line_len = 0;
			if (rc < 0)
				return rc;
			break;
		case HTTP_BODY_LENGTH:
		case HTTP_CHUNK_DATA:
			n = len - pos;
			if (n > r->remaining)
				n = (size_t)r->remaining;
			*body = in + pos;
			*body_len = n;
			pos += n;
			r->remaining -= n;
			if (r->remaining == 0)
				r->state = r->state == HTTP_CHUNK_DATA ? HTTP_CHUNK_CR : HTTP_DONE;
			return (int)pos;
		case HTTP_BODY_EOF:
			*body = in + pos;
			*body_len = len - pos;
			return (int)len;
		case HTTP_CHUNK_SIZE:
			c = in[pos++];
			if (hexval(c) >= 0) {
				if (++r->hex_digits > HTTP_CHUNK_HEX_MAX)
					return PZ_ETOOBIG;
				r->remaining = (r->remaining << 4) | (uint64_t)hexval(c);
			} else if (r->hex_digits == 0) {
				return PZ_EHTTP;
			} else if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
				r->state = HTTP_CHUNK_EXT;
				r->line_len = 0;
			} else if (c == '\n') {
				goto size_done;
			} else {
				return PZ_EHTTP;
			}
			break;
		case HTTP_CHUNK_EXT:
			c = in[pos++];
			if (c != '\n') {
				/* Extensions are skipped but still bounded, so a peer cannot stall us forever. */
				if (++r->line_len > HTTP_LINE_MAX)
					return PZ_ETOOBIG;
				break;
			}
			r->line_len = 0;
		size_done:
			r->hex_digits = 0;
			r->state = r->remaining ? HTTP_CHUNK_DATA : HTTP_TRAILER;
			break;
		case HTTP_CHUNK_CR:
			c = in[pos++];
			if (c == '\r')
				r->state = HTTP_CHUNK_LF;
			else if (c == '\n')
				r->state = HTTP_CHUNK_SIZE;
			else
				return PZ_EHTTP;
			break;
		case HTTP_CHUNK_LF:
			if (in[pos++] != '\n')
				return PZ_EHTTP;
			r->state = HTTP_CHUNK_SIZE;
			break;
		case HTTP_DONE:
			return (int)pos; /* bytes after the response belong to nobody: caller decides */
		default:
			PZ_BUG("http state");
		}
		if (r->state == HTTP_CHUNK_SIZE && r->hex_digits == 0)
			r->remaining = 0;
	}
	return (int)pos;
}

int http_resp_eof(struct http_resp *r)
{
	if (r->state == HTTP_BODY_EOF) {
		r->state = HTTP_DONE;
		return 0;
	}
	return r->state == HTTP_DONE ? 0 : PZ_EHTTP;
}

int http_req_head(char *buf, size_t cap, const char *method, const char *host, const char *prefix,
	const char *path, const char *token, const char *ctype, size_t body_len)
{
	/* The one place a request line is made: a target byte that could end the line or the
	 * target (CR, LF, space, controls) never reaches the wire, whatever put it in the path. */
	for (const char *p = prefix; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return PZ_EHTTP;
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return PZ_EHTTP;
	int n = pz_snprintf(buf, cap,
		"%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: pizza-controller/" PZ_VERSION "\r\n"
		"Accept: application/json\r\n%s%s%s",
		method, prefix, path, host, token ? "Authorization: Bearer " : "", token ? token : "",
		token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return PZ_ETOOBIG;
	int m;
	if (ctype)
		m = pz_snprintf(buf + n, cap - (size_t)n, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			ctype, body_len);
	else
		m = pz_snprintf(buf + n, cap - (size_t)n, "\r\n");
	if (m < 0 || (size_t)m >= cap - (size_t)n)
		return PZ_ETOOBIG;
	return n + m;
}
