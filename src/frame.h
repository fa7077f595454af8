/*
 * frame.h - cuts a JSON byte stream into the objects we act on, each collected in one fixed buffer.
 *
 * Two shapes arrive from the API server:
 *   FRAME_EVENTS  a watch body: one event object per line ({"type":..,"object":{..}}\n ...). JSON text
 *                 cannot hold a raw newline, so a line is an event; memchr finds it.
 *   FRAME_LIST    a list body: {"kind":..,"metadata":{..},"items":[{..},{..}]}. A structural scanner
 *                 (brackets and strings only; jsmn validates each piece later) hands out the list's
 *                 "metadata" object and then each element of "items", one at a time.
 * Memory is the caller's buffer: a page of any size is listed through one object-sized buffer, so
 * memory grows with the largest object, not with the page or the list.
 *
 * An object larger than the buffer is not an error of the stream: the scanner keeps its place, drops
 * the object's bytes and reports FRAME_OVERSIZED with the full length, so the caller can say which
 * bound was hit and carry on with the next object.
 */
#ifndef PZ_FRAME_H
#define PZ_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Nesting the list scanner follows; a Kubernetes object nests about 12 deep (managedFields). */
#define FRAME_DEPTH_MAX 64

enum frame_mode { FRAME_EVENTS, FRAME_LIST };
enum frame_kind {
	FRAME_NONE,       /* input used up, nothing complete yet */
	FRAME_OBJECT,     /* an event line, or one element of a list's items */
	FRAME_LIST_META,  /* the list's own metadata object (resourceVersion, continue) */
	FRAME_OVERSIZED,  /* an object longer than the buffer; `len` is its full length */
	FRAME_END         /* the list's closing brace: the document is complete */
};

struct frame_out {
	enum frame_kind kind;
	const char *data; /* inside the frame's buffer, valid until the next frame_feed */
	size_t len;
};

struct frame {
	enum frame_mode mode;
	char *buf;
	size_t cap;
	size_t len;           /* bytes of the current object kept in buf */
	size_t full_len;      /* bytes of the current object seen, kept or not */
	int overflow;
	size_t trail;         /* events: trailing blanks counted in full_len, */
	size_t trail_stored;  /* ... of which stored in buf */
	size_t virt;          /* ... and blanks past cap, counted only until content follows */
	/* list scanner */
	int depth;
	uint64_t arrays;      /* bit d set when the container at depth d+1 is an array */
	int in_str, esc;
	int capture;          /* 0 none, else the enum frame_kind being captured */
	int capture_depth;    /* depth outside the captured value */
	int expect_key;       /* at depth 1, the next string is a key */
	int in_key;
	int key_len;          /* -1 when the key is longer than any we care about */
	char key[16];
	int items_open;       /* inside the top-level "items" array */
	int pending_value;    /* after ':' at depth 1, the next non-blank byte starts a value */
	int ended;
};

void frame_init(struct frame *f, enum frame_mode mode, char *buf, size_t cap);

/* Consumes from in[0..len) up to the end of the next complete object (or all of it). Returns the
 * bytes consumed, or PZ_EJSON (bytes that cannot be the expected shape) / PZ_ETOOBIG (nesting).
 * out->kind says what, if anything, is complete. */
int frame_feed(struct frame *f, const char *in, size_t len, struct frame_out *out);

/* 1 when the stream may end here (between events; after a list's closing brace). */
int frame_at_boundary(const struct frame *f);

#endif
