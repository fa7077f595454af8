/*
 * http.h - HTTP/1.1 framing for the API client: request heads out, responses in.
 *
 * The response parser is resumable and zero-copy: feed it whatever bytes arrived, it consumes what it
 * can and hands back body payload as spans inside the caller's input, with chunked framing removed.
 * Its state lives in struct http_resp; it never reads past `len` and never stores body bytes.
 * Every line and every count has a named bound; exceeding one is an error, never a larger buffer.
 */
#ifndef PZ_HTTP_H
#define PZ_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Longest status, header, chunk-size or trailer line. The API server's longest header is
 * Audit-Id/Date/Content-Type, well under 200 bytes; 1 KiB is generous and costs 1 KiB a parser. */
#define HTTP_LINE_MAX 1024
/* Headers in one response (the API server sends 5-8). A server sending more is broken or hostile. */
#define HTTP_HEADERS_MAX 64
/* Hex digits of a chunk size: 8 gives 4 GiB chunks, more than any buffer of ours. */
#define HTTP_CHUNK_HEX_MAX 8

enum http_state {
	HTTP_STATUS,       /* waiting for the status line */
	HTTP_HEADER,       /* waiting for a header line or the blank line */
	HTTP_BODY_LENGTH,  /* Content-Length body, `remaining` bytes to go */
	HTTP_BODY_EOF,     /* body ends when the connection closes */
	HTTP_CHUNK_SIZE,   /* hex digits of a chunk size */
	HTTP_CHUNK_EXT,    /* chunk extension, skipped up to LF */
	HTTP_CHUNK_DATA,   /* `remaining` bytes of chunk payload */
	HTTP_CHUNK_CR,     /* CR LF after chunk payload */
	HTTP_CHUNK_LF,
	HTTP_TRAILER,      /* trailer lines up to the blank line */
	HTTP_DONE
};

struct http_resp {
	enum http_state state;
	int status;             /* 100..599 once the status line is parsed */
	int chunked;            /* Transfer-Encoding: chunked */
	int keep_alive;         /* connection reusable after this response */
	int has_length;
	int no_body;            /* HEAD request, 1xx, 204 or 304 */
	uint64_t remaining;
	int64_t retry_after_s;  /* Retry-After in seconds, -1 when absent or unreadable */
	int64_t retry_after_at; /* Retry-After as an HTTP-date (epoch seconds), 0 when not one */
	unsigned nheaders;
	unsigned hex_digits;
	size_t line_len;
	char line[HTTP_LINE_MAX + 1];   /* + the CR of a CRLF line */
};

/* head_request: 1 when the request was HEAD (its response has no body whatever it says). */
void http_resp_init(struct http_resp *r, int head_request);

/* Consumes bytes of in[0..len). Returns the number consumed (>= 0) or PZ_EHTTP / PZ_ETOOBIG.
 * It also stops right after the head (the blank line), so the status is known before the body.
 * When payload is found it stops right after it, with body and body_len naming the span inside `in`;
 * otherwise *body_len is 0. Call again with the rest until it consumes nothing or is done. */
int http_resp_feed(struct http_resp *r, const char *in, size_t len, const char **body, size_t *body_len);

/* The connection closed: ends an EOF-delimited body. Returns 0, or PZ_EHTTP when the response was
 * cut short. */
int http_resp_eof(struct http_resp *r);

static inline int http_resp_done(const struct http_resp *r) { return r->state == HTTP_DONE; }
static inline int http_resp_headers_done(const struct http_resp *r)
{
	return r->state != HTTP_STATUS && r->state != HTTP_HEADER;
}

/* Writes a request head into buf; the request target is prefix followed by path. token may be NULL (no Authorization); ctype may be NULL (no body).
 * Returns its length, or PZ_ETOOBIG. The head holds the bearer token: callers must never log it. */
int http_req_head(char *buf, size_t cap, const char *method, const char *host, const char *prefix,
	const char *path, const char *token, const char *ctype, size_t body_len);

#endif
