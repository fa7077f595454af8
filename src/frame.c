/*
 * frame.c - splits watch and list bodies into objects in a fixed buffer (see frame.h).
 * The list scanner tracks only what it must: string/escape state, bracket nesting (checked for
 * matching), and at depth 1 the member key, to find "metadata" and "items".
 */
#include "frame.h"
#include "pz.h"

#include <string.h>

void frame_init(struct frame *f, enum frame_mode mode, char *buf, size_t cap)
{
	memset(f, 0, sizeof *f);
	f->mode = mode;
	f->buf = buf;
	f->cap = cap;
}

int frame_at_boundary(const struct frame *f)
{
	if (f->mode == FRAME_EVENTS)
		return f->full_len == 0 && f->virt == 0;
	return f->ended;
}

static void keep(struct frame *f, const char *p, size_t n)
{
	f->full_len += n;
	if (f->overflow)
		return;
	if (f->len + n > f->cap) {
		f->overflow = 1;
		return;
	}
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

static void emit(struct frame *f, enum frame_kind kind, struct frame_out *out)
{
	out->kind = f->overflow ? FRAME_OVERSIZED : kind;
	out->data = f->buf;
	out->len = f->overflow ? f->full_len : f->len;
	f->len = 0;
	f->full_len = 0;
	f->overflow = 0;
}

static int ws(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Whitespace at the end of what arrived so far is either the line's tail (CR, trailing blanks),
 * which is not part of the event, or sits between tokens with more to come. It is stored like any
 * byte while it fits, and remembered as `trail` so the line's end can take it back; whitespace
 * that does not fit is only counted (`virt`) and turns into an overflow only if content follows.
 * So an event of exactly `cap` bytes followed by CRLF still fits, and nothing reported depends on
 * how the input was split. */
static void trailing_ws(struct frame *f, size_t m)
{
	size_t stored = 0;
	if (!f->overflow) {
		stored = f->cap - f->len < m ? f->cap - f->len : m;
		f->len += stored;              /* the bytes were copied by the caller */
		f->trail_stored += stored;
		f->virt += m - stored;
		f->full_len += stored;
		f->trail += stored;
	} else {
		f->full_len += m;
		f->trail += m;
	}
}

static int feed_events(struct frame *f, const char *in, size_t len, struct frame_out *out)
{
	const char *nl = memchr(in, '\n', len);
	size_t n = nl ? (size_t)(nl - in) : len, start = 0, last;

	if (f->full_len == 0 && f->virt == 0) /* leading blanks of a line are not part of the event */
		while (start < n && ws(in[start]))
			start++;
	last = n;
	while (last > start && ws(in[last - 1]))
		last--;
	if (last > start) {
		if (f->virt) {
			/* blanks that did not fit are followed by content: the event does not fit */
			f->overflow = 1;
			f->full_len += f->virt;
			f->virt = 0;
		}
		f->trail = f->trail_stored = 0;
		keep(f, in + start, last - start);
	}
	if (n > last) {
		if (!f->overflow)
			memcpy(f->buf + f->len, in + last, f->cap - f->len < n - last ? f->cap - f->len : n - last);
		trailing_ws(f, n - last);
	}
	if (!nl)
		return (int)len;
	/* the line's tail goes */
	f->full_len -= f->trail;
	f->len -= f->trail_stored;
	f->trail = f->trail_stored = f->virt = 0;
	if (f->full_len == 0) {
		out->kind = FRAME_NONE; /* a blank line is not an event */
		return (int)(n + 1);
	}
	if (!f->overflow && f->buf[0] != '{')
		return PZ_EJSON;
	emit(f, FRAME_OBJECT, out);
	return (int)(n + 1);
}

static int is_blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static int feed_list(struct frame *f, const char *in, size_t len, struct frame_out *out)
{
	size_t i = 0, run_start = 0;

	for (; i < len; i++) {
		char c = in[i];

		if (f->ended) {
			if (!is_blank(c))
				return PZ_EJSON;
			continue;
		}
		if (f->in_str) {
			if (f->esc) {
				f->esc = 0;
			} else if (c == '\\') {
				f->esc = 1;
				if (f->in_key)
					f->key_len = -1; /* an escaped key is none we look for */
			} else if (c == '"') {
				f->in_str = 0;
				if (f->in_key)
					f->in_key = 0;
			} else if (f->in_key && f->key_len >= 0) {
				if (f->key_len + 1 >= (int)sizeof f->key)
					f->key_len = -1;
				else
					f->key[f->key_len++] = c;
			}
			continue;
		}
		if (is_blank(c))
			continue;
		if (f->depth == 0) {
			if (c != '{')
				return PZ_EJSON;
			f->depth = 1;
			f->expect_key = 1;
			continue;
		}
		/* A value starts at depth 1 (a member's value) or at depth 2 inside items. */
		if (f->capture == 0 && f->depth == 1 && f->pending_value) {
			f->pending_value = 0;
			f->key[f->key_len > 0 ? f->key_len : 0] = 0;
			if (f->key_len == 8 && memcmp(f->key, "metadata", 8) == 0 && c == '{') {
				f->capture = FRAME_LIST_META;
				f->capture_depth = 1;
				run_start = i;
			} else if (f->key_len == 5 && memcmp(f->key, "items", 5) == 0) {
				if (c != '[' && c != 'n') /* "items": null is an empty list */
					return PZ_EJSON;
				f->items_open = c == '[';
			}
		} else if (f->capture == 0 && f->depth == 2 && f->items_open &&
			   (f->arrays & 2) && c != ']' && c != ',') {
			if (c != '{')
				return PZ_EJSON;
			f->capture = FRAME_OBJECT;
			f->capture_depth = 2;
			run_start = i;
		}
		switch (c) {
		case '"':
			f->in_str = 1;
			if (f->depth == 1 && f->expect_key && f->capture == 0) {
				f->in_key = 1;
				f->key_len = 0;
			}
			break;
		case ':':
			if (f->depth == 1 && f->capture == 0) {
				f->expect_key = 0;
				f->pending_value = 1;
			}
			break;
		case ',':
			if (f->depth == 1 && f->capture == 0)
				f->expect_key = 1;
			break;
		case '{':
		case '[':
			if (f->depth >= FRAME_DEPTH_MAX)
				return PZ_ETOOBIG;
			if (c == '[')
				f->arrays |= UINT64_C(1) << f->depth;
			else
				f->arrays &= ~(UINT64_C(1) << f->depth);
			f->depth++;
			break;
		case '}':
		case ']':
			if (((f->arrays >> (f->depth - 1)) & 1) != (c == ']'))
				return PZ_EJSON;
			f->depth--;
			if (f->depth == 1 && f->items_open && c == ']' && f->capture == 0)
				f->items_open = 0;
			if (f->capture && f->depth == f->capture_depth) {
				enum frame_kind k = (enum frame_kind)f->capture;
				keep(f, in + run_start, i + 1 - run_start);
				f->capture = 0;
				emit(f, k, out);
				return (int)(i + 1);
			}
			if (f->depth == 0) {
				f->ended = 1;
				out->kind = FRAME_END;
				return (int)(i + 1);
			}
			break;
		default:
			break;
		}
	}
	if (f->capture)
		keep(f, in + run_start, len - run_start);
	return (int)len;
}

int frame_feed(struct frame *f, const char *in, size_t len, struct frame_out *out)
{
	out->kind = FRAME_NONE;
	out->data = NULL;
	out->len = 0;
	if (len == 0)
		return 0;
	return f->mode == FRAME_EVENTS ? feed_events(f, in, len, out) : feed_list(f, in, len, out);
}
