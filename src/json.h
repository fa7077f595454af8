/*
 * json.h - JSON in and out without allocation.
 *
 * Reading: jsmn (strict mode) tokenizes a caller's buffer into a caller's token array; tokens are
 * offsets into that unchanged buffer. The helpers here walk tokens and copy out only the few values
 * that must outlive the buffer, rejecting (never truncating) a value longer than its destination.
 *
 * Writing: a writer appends to a caller's fixed buffer, escapes every string, places commas itself
 * and keeps the first error (overflow, nesting) until json_w_end() reports it.
 */
#ifndef PZ_JSON_H
#define PZ_JSON_H

#include <stddef.h>
#include <stdint.h>
#ifndef JSMN_H
#define JSMN_HEADER
#include <jsmn.h>
#endif

struct json_doc {
	const char *buf;
	jsmntok_t *tok;
	int ntok;
};

/* Nesting accepted; Kubernetes objects nest about 12 deep. Deeper text is refused as malformed. */
#define JSON_DEPTH_MAX 64

/* Tokenizes buf[0..len). Returns the token count, PZ_ETOOBIG when cap tokens are not enough, or
 * PZ_EJSON when the text is not one complete, valid JSON object or array. */
int json_parse(struct json_doc *d, const char *buf, size_t len, jsmntok_t *tok, unsigned cap);

/* Removes the first member named `key` whose value is an object or array, with its comma, from
 * the JSON text buf[0..len) in place, and returns the new length (len when there is none or the
 * text around it is malformed: the parser then judges it). Why: the API server sends every object
 * with metadata.managedFields, about half of its bytes and tokens, which a controller never reads;
 * dropping it before tokenizing halves the CPU per event. A quoted `"key":` can only be a key (a
 * string value would escape the inner quotes), so the match cannot land inside a string. */
size_t json_drop_member(char *buf, size_t len, const char *key);

/* Index just past token i and everything nested in it. */
int json_skip(const struct json_doc *d, int i);

/* Value token of member `key` in object token obj, or -1 (also when obj is not an object).
 * Keys are compared byte for byte: Kubernetes field names never need escapes. */
int json_get(const struct json_doc *d, int obj, const char *key);

/* Follows dot-separated keys from obj ("metadata.name"). -1 when any step is missing. */
int json_path(const struct json_doc *d, int obj, const char *path);

/* 1 when token i is a string equal to s (raw bytes; s must need no escaping), else 0. */
int json_eq(const struct json_doc *d, int i, const char *s);

/* Unescapes string token i into out (NUL-terminated). Returns the length, PZ_ETOOBIG when it does
 * not fit in cap-1 bytes, PZ_EJSON when i is not a string or holds a bad escape or a raw control
 * character. \u escapes are
 * decoded to UTF-8, surrogate pairs included. */
int json_str(const struct json_doc *d, int i, char *out, size_t cap);

/* Integer primitive token i into *out. PZ_EJSON when it is not an integer that fits int64. */
int json_int(const struct json_doc *d, int i, int64_t *out);

/* Writer. Depth bound: our documents (a Pod, a status patch) nest 7 levels; 16 leaves room. */
#define JSON_W_DEPTH_MAX 16

struct json_w {
	char *buf;
	size_t cap, len;
	int err;                           /* first error, sticky */
	int depth;
	unsigned char first[JSON_W_DEPTH_MAX]; /* 1: empty so far, 2: a key awaits its value, 0: else */
	unsigned char arr[JSON_W_DEPTH_MAX];   /* 1 when the container at that depth is an array */
};

void json_w_init(struct json_w *w, char *buf, size_t cap);
void json_w_obj(struct json_w *w);            /* { as a value */
void json_w_arr(struct json_w *w);            /* [ as a value */
void json_w_close(struct json_w *w);          /* } or ], matched */
void json_w_key(struct json_w *w, const char *key); /* "key": (key escaped like any string) */
void json_w_str(struct json_w *w, const char *s, size_t n);
void json_w_cstr(struct json_w *w, const char *s);
void json_w_int(struct json_w *w, int64_t v);
void json_w_bool(struct json_w *w, int v);
/* Shorthands for a member with a value. */
void json_w_kstr(struct json_w *w, const char *key, const char *s);
void json_w_kint(struct json_w *w, const char *key, int64_t v);
/* Returns the length written (buffer NUL-terminated) or the first error (PZ_ETOOBIG, PZ_EJSON for
 * unbalanced nesting). */
int json_w_end(struct json_w *w);

#endif
