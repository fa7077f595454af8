/*
 * yaml.c - kubeconfig YAML and JSON (see yaml.h). A recursive-descent reader over the buffer:
 * block collections by indentation, flow collections by brackets, one function per construct,
 * one C frame per nesting level (bounded by YAML_DEPTH_MAX).
 *
 * In place: scalars are unescaped and folded towards their start, so the write position never
 * passes the read position (every escape and every folded line break is at least as long as
 * what it becomes; \L and \P, which are not, are refused). NUL terminators are written in one
 * pass at the end, because during the parse the byte after a value is often the next thing to
 * read (a ',' or '}' in flow style).
 */
#include "yaml.h"
#include "pz.h"

#include <string.h>

struct yp {
	struct yaml *y;
	char *p, *end;
	char *ls;        /* start of the line p is on (columns are p - ls) */
	int line;
	int depth;
	int col;         /* after settle(): column of the content at p, -1 at the end or at a marker */
	int mark;        /* after settle(): 1 at "---", 2 at "...", 0 otherwise */
	int blanks;      /* after settle(): empty lines skipped */
	int saw_comment; /* after settle(): a comment line was skipped */
};

static int fail_at(struct yp *s, int line, const char *what, int code)
{
	if (!s->y->err) {
		s->y->err = what;
		s->y->err_line = line;
	}
	return code;
}

static int fail(struct yp *s, const char *what) { return fail_at(s, s->line, what, PZ_ECONFIG); }

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* A line ends at LF, at CR LF, or at the end of the input. */
static int eol(const struct yp *s, const char *q)
{
	return q >= s->end || *q == '\n' || (*q == '\r' && (q + 1 >= s->end || q[1] == '\n'));
}

/* Consumes the line break at q (which eol() accepted) and returns where the next line starts. */
static char *next_line(struct yp *s, char *q)
{
	if (q < s->end && *q == '\r')
		q++;
	if (q < s->end && *q == '\n') {
		q++;
		s->line++;
		s->ls = q;
	}
	return q;
}

static int add(struct yp *s, int parent, int *last)
{
	struct yaml *y = s->y;
	struct yaml_node *nd;
	int i;

	if (y->n >= YAML_NODES_MAX)
		return fail_at(s, s->line, "more entries than the reader holds (2048)", PZ_ETOOBIG);
	i = y->n++;
	nd = &y->node[i];
	memset(nd, 0, sizeof *nd);
	nd->parent = parent;
	nd->next = nd->first = -1;
	nd->line = s->line;
	nd->kind = YAML_NULL;
	if (*last < 0) {
		if (parent < 0)
			y->top = i;
		else
			y->node[parent].first = i;
	} else {
		y->node[*last].next = i;
	}
	*last = i;
	return i;
}

static int enter(struct yp *s, int node, enum yaml_kind kind)
{
	if (++s->depth > YAML_DEPTH_MAX)
		return fail_at(s, s->line, "nesting deeper than 32 levels", PZ_ETOOBIG);
	if (node >= 0)
		s->y->node[node].kind = kind;
	return 0;
}

static void set_scalar(struct yp *s, int node, char *v, size_t n, int quoted)
{
	struct yaml_node *nd = &s->y->node[node];
	nd->kind = YAML_SCALAR;
	nd->val = v;
	nd->vlen = n;
	nd->quoted = quoted;
	if (!quoted && (n == 0 || (n == 1 && v[0] == '~') ||
			(n == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4))))) {
		nd->kind = YAML_NULL;
		nd->val = NULL;
		nd->vlen = 0;
	}
}

/* Moves p from the start of a line to the first content of the next line that has any, skipping
 * empty and comment lines; sets col (-1 at the end of input or at a document marker). */
static int settle(struct yp *s)
{
	s->blanks = s->saw_comment = s->mark = 0;
	for (;;) {
		char *q = s->p;
		int col, tab = 0;
		if (s->p >= s->end) {
			s->col = -1;
			return 0;
		}
		while (q < s->end && *q == ' ')
			q++;
		col = (int)(q - s->p);
		while (q < s->end && is_blank(*q)) {
			tab |= *q == '\t';
			q++;
		}
		if (eol(s, q) || *q == '#') {
			if (*q == '#')
				s->saw_comment = 1;
			else
				s->blanks++;
			while (!eol(s, q))
				q++;
			s->p = next_line(s, q);
			continue;
		}
		if (tab)
			return fail(s, "a tab used for indentation (YAML indents with spaces only)");
		if (col == 0 && s->end - q >= 3 && (!memcmp(q, "---", 3) || !memcmp(q, "...", 3)) &&
		    (eol(s, q + 3) || is_blank(q[3]))) {
			s->mark = q[0] == '-' ? 1 : 2;
			s->p = q;
			s->col = -1;
			return 0;
		}
		s->p = q;
		s->col = col;
		return 0;
	}
}

/* After a value: only blanks and a comment may remain on the line; consumes its line break. */
static int skip_rest(struct yp *s)
{
	/* s->p[-1] was read, never rewritten: writes stay behind the value's last byte */
	int blank = s->p == s->ls || is_blank(s->p[-1]);
	while (s->p < s->end && is_blank(*s->p)) {
		s->p++;
		blank = 1;
	}
	if (!eol(s, s->p)) {
		if (*s->p != '#' || !blank)
			return fail(s, "unexpected text after a value");
		while (!eol(s, s->p))
			s->p++;
	}
	s->p = next_line(s, s->p);
	return 0;
}

static int rest_then_settle(struct yp *s)
{
	int rc = skip_rest(s);
	return rc < 0 ? rc : settle(s);
}

static int at_comment_or_eol(struct yp *s)
{
	/* called after blanks were skipped (or at a line start) */
	return eol(s, s->p) || (*s->p == '#' && (s->p == s->ls || is_blank(s->p[-1])));
}

static void skip_blanks(struct yp *s)
{
	while (s->p < s->end && is_blank(*s->p))
		s->p++;
}

static int is_dash(const struct yp *s)
{
	return *s->p == '-' && (eol(s, s->p + 1) || is_blank(s->p[1]));
}

/* ---- scalars ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* n hex digits at r into *cp; -1 when they are not all there. */
static int hex_at(const struct yp *s, const char *r, int n, unsigned long *cp)
{
	*cp = 0;
	if (s->end - r < n)
		return -1;
	for (int i = 0; i < n; i++) {
		int v = hexval(r[i]);
		if (v < 0)
			return -1;
		*cp = *cp << 4 | (unsigned long)v;
	}
	return 0;
}

static char *put_utf8(char *w, unsigned long cp)
{
	if (cp < 0x80) {
		*w++ = (char)cp;
	} else if (cp < 0x800) {
		*w++ = (char)(0xc0 | cp >> 6);
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*w++ = (char)(0xe0 | cp >> 12);
		*w++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*w++ = (char)(0xf0 | cp >> 18);
		*w++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*w++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	}
	return w;
}

/* One escape after a backslash at r[-1]; writes at *w, returns the read position after it or NULL. */
static char *escape(struct yp *s, char *r, char **w)
{
	static const char simple_in[] = "abtnvfre \"/\\\t";
	static const char simple_out[] = "\a\b\t\n\v\f\r\x1b \"/\\\t";
	const char *k;
	unsigned long cp;
	char c = *r;

	if (c && (k = strchr(simple_in, c))) {
		*(*w)++ = simple_out[k - simple_in];
		return r + 1;
	}
	switch (c) {
	case 'N': cp = 0x85; r += 1; break;
	case '_': cp = 0xa0; r += 1; break;
	case 'x':
		if (hex_at(s, r + 1, 2, &cp) < 0)
			return NULL;
		r += 3;
		break;
	case 'u':
		if (hex_at(s, r + 1, 4, &cp) < 0)
			return NULL;
		r += 5;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			unsigned long lo;
			if (s->end - r < 2 || r[0] != '\\' || r[1] != 'u' || hex_at(s, r + 2, 4, &lo) < 0 ||
			    lo < 0xdc00 || lo > 0xdfff)
				return NULL; /* a lone high surrogate */
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			r += 6;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return NULL;
		}
		break;
	case 'U':
		if (hex_at(s, r + 1, 8, &cp) < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return NULL;
		r += 9;
		break;
	default:
		return NULL; /* \0 (a NUL in a C string), \L and \P, and anything unknown */
	}
	if (cp == 0)
		return NULL;
	*w = put_utf8(*w, cp);
	return r;
}

/* A single- or double-quoted scalar at p, over as many lines as it takes; unescaped and folded
 * in place from the opening quote. */
static int quoted(struct yp *s, char **out, size_t *olen)
{
	char q = *s->p, *w = s->p, *r = s->p + 1, *floor = w;
	int start = s->line;

	*out = w;
	for (;;) {
		char c;
		if (r >= s->end)
			return fail_at(s, start, q == '"' ? "a double-quoted string is never closed (truncated file?)"
				: "a single-quoted string is never closed (truncated file?)", PZ_ECONFIG);
		c = *r;
		if (c == q) {
			if (q == '\'' && r + 1 < s->end && r[1] == '\'') {
				*w++ = '\'';
				r += 2;
				floor = w;
				continue;
			}
			r++;
			break;
		}
		if (eol(s, r)) {
			/* a line break inside quotes folds: trailing blanks go, then one space, or one newline
			 * per empty line */
			int blanks = 0;
			while (w > floor && is_blank(w[-1]))
				w--;
			for (;;) {
				r = next_line(s, r);
				while (r < s->end && is_blank(*r))
					r++;
				if (r < s->end && eol(s, r)) {
					blanks++;
					continue;
				}
				break;
			}
			if (blanks) {
				memset(w, '\n', (size_t)blanks);
				w += blanks;
			} else {
				*w++ = ' ';
			}
			floor = w;
			continue;
		}
		if (c == '\\' && q == '"') {
			if (r + 1 < s->end && eol(s, r + 1)) {
				/* an escaped line break joins the lines without a space */
				r = next_line(s, r + 1);
				while (r < s->end && is_blank(*r))
					r++;
				floor = w;
				continue;
			}
			if (r + 1 >= s->end || !(r = escape(s, r + 1, &w)))
				return fail(s, "an escape that cannot be read (\\0, \\L, \\P, a bad \\x, \\u or \\U, or a lone surrogate)");
			floor = w;
			continue;
		}
		if ((unsigned char)c < 0x20 && c != '\t')
			return fail(s, "a control character inside a quoted string");
		*w++ = c;
		r++;
	}
	*olen = (size_t)(w - *out);
	s->p = r;
	return 0;
}

/* A plain scalar in block context: to the end of the line, then folded with the following lines
 * indented more than `indent`, until an empty line run ends at a shallower line or a comment. */
static int plain_block(struct yp *s, int node, int indent)
{
	char *start = s->p, *w = s->p;
	int lines = 0, rc;

	for (;;) {
		char *q = s->p, *text_end = s->p;
		int comment = 0;
		while (!eol(s, q)) {
			if (*q == ':' && (eol(s, q + 1) || is_blank(q[1])))
				return fail(s, "\": \" inside a plain value (quote the value, or fix the indentation)");
			if (*q == '#' && q > s->p && is_blank(q[-1])) {
				comment = 1;
				break;
			}
			if (!is_blank(*q))
				text_end = q + 1;
			q++;
		}
		memmove(w, s->p, (size_t)(text_end - s->p));
		w += text_end - s->p;
		lines++;
		s->p = text_end; /* skip_rest sees the blanks before a comment */
		if ((rc = rest_then_settle(s)) < 0)
			return rc;
		if (comment || s->saw_comment || s->col <= indent)
			break;
		if (s->blanks) {
			memset(w, '\n', (size_t)s->blanks);
			w += s->blanks;
		} else {
			*w++ = ' ';
		}
	}
	set_scalar(s, node, start, (size_t)(w - start), lines > 1);
	return 0;
}

/* A plain scalar in flow context: one line, ended by , [ ] { } ": " or " #". */
static int plain_flow(struct yp *s, char **out, size_t *olen)
{
	char *q = s->p, *text_end = s->p;
	while (!eol(s, q) && !strchr(",[]{}", *q)) {
		if (*q == ':' && (eol(s, q + 1) || is_blank(q[1]) || strchr(",[]{}", q[1])))
			break;
		if (*q == '#' && q > s->p && is_blank(q[-1]))
			break;
		if (!is_blank(*q))
			text_end = q + 1;
		q++;
	}
	if (text_end == s->p)
		return fail(s, "a value was expected in a flow collection");
	*out = s->p;
	*olen = (size_t)(text_end - s->p);
	s->p = q;
	return 0;
}

/* | and > with optional chomping (-, +) and indentation (1-9) indicators. */
static int block_scalar(struct yp *s, int node, int indent)
{
	char *start = s->p, *w = s->p;
	int folded = *s->p == '>', chomp = 0, m = 0, empties = 0, have = 0, prev_more = 0, rc;

	s->p++;
	for (int k = 0; k < 2; k++) {
		if (s->p >= s->end)
			break;
		if (!chomp && (*s->p == '-' || *s->p == '+'))
			chomp = *s->p++ == '-' ? -1 : 1;
		else if (!m && *s->p >= '1' && *s->p <= '9')
			m = indent + (*s->p++ - '0');
	}
	if (s->p < s->end && !eol(s, s->p) && !is_blank(*s->p))
		return fail(s, "a block scalar header (| or >) that cannot be read");
	if ((rc = skip_rest(s)) < 0)
		return rc;
	while (s->p < s->end) {
		char *q = s->p, *e;
		int ind, more;
		while (q < s->end && *q == ' ')
			q++;
		ind = (int)(q - s->p);
		e = q;
		while (!eol(s, e))
			e++;
		if (q == e || (e - q == 1 && *q == '\r')) {
			empties++;
			s->p = next_line(s, e);
			continue;
		}
		if (!m) {
			if (ind <= indent)
				break;
			m = ind;
		}
		if (ind < m)
			break;
		q = s->p + m; /* content keeps the spaces beyond the block's indentation */
		more = is_blank(*q);
		if (!have) {
			memset(w, '\n', (size_t)empties);
			w += empties;
		} else if (folded && !more && !prev_more) {
			if (empties) {
				memset(w, '\n', (size_t)empties);
				w += empties;
			} else {
				*w++ = ' ';
			}
		} else {
			memset(w, '\n', (size_t)empties + 1);
			w += empties + 1;
		}
		memmove(w, q, (size_t)(e - q));
		w += e - q;
		have = 1;
		empties = 0;
		prev_more = more;
		s->p = next_line(s, e);
	}
	if (have && chomp >= 0)
		*w++ = '\n';
	if (chomp > 0) {
		memset(w, '\n', (size_t)empties);
		w += empties;
	}
	set_scalar(s, node, start, (size_t)(w - start), 1);
	return settle(s);
}

/* ---- collections ---- */

static int block_map(struct yp *s, int parent, int col);
static int block_seq(struct yp *s, int parent, int col);
static int flow_coll(struct yp *s, int node);

/* "key:" (plain or quoted) followed by a blank or the end of the line, before any comment? */
static int looks_like_key(const struct yp *s)
{
	const char *q = s->p;
	if (*q == '"' || *q == '\'') {
		char c = *q++;
		while (!eol(s, q)) {
			if (*q == '\\' && c == '"' && !eol(s, q + 1)) {
				q += 2;
				continue;
			}
			if (*q == c) {
				if (c == '\'' && q + 1 < s->end && q[1] == '\'') {
					q += 2;
					continue;
				}
				q++;
				while (q < s->end && is_blank(*q))
					q++;
				return q < s->end && *q == ':' && (eol(s, q + 1) || is_blank(q[1]));
			}
			q++;
		}
		return 0;
	}
	if (*q == '{' || *q == '[')
		return 0;
	for (; !eol(s, q); q++) {
		if (*q == ':' && (eol(s, q + 1) || is_blank(q[1])))
			return 1;
		if (*q == '#' && q > s->p && is_blank(q[-1]))
			return 0;
	}
	return 0;
}

/* Constructs refused wherever a node starts. */
static int refused(struct yp *s)
{
	switch (*s->p) {
	case '&': case '*': return fail(s, "anchors and aliases (& and *) are not supported");
	case '!': return fail(s, "tags (!) are not supported");
	case '%': case '@': case '`': return fail(s, "a value starting with a reserved character (% @ `): quote it");
	case '?':
		if (eol(s, s->p + 1) || is_blank(s->p[1]))
			return fail(s, "complex keys (?) are not supported");
		return 0;
	default: return 0;
	}
}

static int check_key(struct yp *s, int parent, int m)
{
	const struct yaml_node *nd = &s->y->node[m];
	if (!nd->quoted && nd->klen == 2 && !memcmp(nd->key, "<<", 2))
		return fail(s, "merge keys (<<) are not supported");
	for (int j = parent < 0 ? s->y->top : s->y->node[parent].first; j >= 0 && j != m; j = s->y->node[j].next)
		if (s->y->node[j].klen == nd->klen && !memcmp(s->y->node[j].key, nd->key, nd->klen))
			return fail(s, "a duplicate key in one mapping");
	return 0;
}

/* A key of a block mapping at p (looks_like_key said yes); leaves p after its ':'. */
static int block_key(struct yp *s, int parent, int m)
{
	struct yaml_node *nd = &s->y->node[m];
	int rc;

	if ((rc = refused(s)) < 0)
		return rc;
	if (*s->p == '"' || *s->p == '\'') {
		char *k;
		size_t kl;
		int line = s->line;
		if ((rc = quoted(s, &k, &kl)) < 0)
			return rc;
		if (s->line != line)
			return fail(s, "a quoted key over several lines");
		nd->key = k;
		nd->klen = kl;
		nd->quoted = 1;
		skip_blanks(s);
	} else {
		char *k = s->p, *e;
		if (*k == '|' || *k == '>' || *k == '{' || *k == '[' || is_dash(s))
			return fail(s, "a key was expected");
		while (!(*s->p == ':' && (eol(s, s->p + 1) || is_blank(s->p[1]))))
			s->p++;
		e = s->p;
		while (e > k && is_blank(e[-1]))
			e--;
		if (e == k)
			return fail(s, "an empty key");
		nd->key = k;
		nd->klen = (size_t)(e - k);
	}
	if (*s->p != ':')
		return fail(s, "':' was expected after a key");
	s->p++;
	rc = check_key(s, parent, m);
	nd->quoted = 0; /* it described the key; from here on it describes the value */
	return rc;
}

/* A value that starts on the current line at p (not at its end). */
static int inline_node(struct yp *s, int node, int indent)
{
	int rc;
	char *v;
	size_t vl;

	if ((rc = refused(s)) < 0)
		return rc;
	switch (*s->p) {
	case '{':
	case '[':
		if ((rc = flow_coll(s, node)) < 0)
			return rc;
		return rest_then_settle(s);
	case '"':
	case '\'':
		if ((rc = quoted(s, &v, &vl)) < 0)
			return rc;
		set_scalar(s, node, v, vl, 1);
		return rest_then_settle(s);
	case '|':
	case '>':
		return block_scalar(s, node, indent);
	default:
		if (is_dash(s))
			return fail(s, "a sequence cannot start on the line of its key");
		return plain_block(s, node, indent);
	}
}

/* A value on a line of its own, at column s->col > indent. */
static int block_node(struct yp *s, int node, int indent)
{
	if (is_dash(s))
		return block_seq(s, node, s->col);
	if (looks_like_key(s))
		return block_map(s, node, s->col);
	return inline_node(s, node, indent);
}

/* What follows "key:" or "- ": on the same line, on the next lines, or nothing (null). */
static int value(struct yp *s, int node, int indent, int may_share_column)
{
	int rc;
	skip_blanks(s);
	if (!at_comment_or_eol(s))
		return inline_node(s, node, indent);
	if ((rc = rest_then_settle(s)) < 0)
		return rc;
	if (s->col > indent)
		return block_node(s, node, indent);
	if (s->col == indent && may_share_column && is_dash(s))
		return block_seq(s, node, indent); /* kubectl's "clusters:\n- cluster:" */
	return 0;
}

static int block_map(struct yp *s, int parent, int col)
{
	int last = -1, rc;

	if ((rc = enter(s, parent, YAML_MAP)) < 0)
		return rc;
	for (;;) {
		int m;
		if (!looks_like_key(s)) {
			if ((rc = refused(s)) < 0)
				return rc;
			return fail(s, is_dash(s) ? "a sequence item where a key was expected (check the indentation)"
				: "\"key: value\" was expected (truncated or mis-indented line?)");
		}
		if ((m = add(s, parent, &last)) < 0)
			return m;
		if ((rc = block_key(s, parent, m)) < 0 || (rc = value(s, m, col, 1)) < 0)
			return rc;
		if (s->col < col)
			break;
		if (s->col > col)
			return fail(s, "more indented than the keys of its mapping");
	}
	s->depth--;
	return 0;
}

static int block_seq(struct yp *s, int parent, int col)
{
	int last = -1, rc;

	if ((rc = enter(s, parent, YAML_SEQ)) < 0)
		return rc;
	for (;;) {
		int it = add(s, parent, &last);
		if (it < 0)
			return it;
		s->p++; /* the dash */
		skip_blanks(s);
		if (at_comment_or_eol(s)) {
			rc = value(s, it, col, 0);
		} else {
			int c = (int)(s->p - s->ls);
			if (is_dash(s))
				rc = block_seq(s, it, c);
			else if (looks_like_key(s))
				rc = block_map(s, it, c);
			else
				rc = inline_node(s, it, col);
		}
		if (rc < 0)
			return rc;
		if (s->col < col)
			break;
		if (s->col > col)
			return fail(s, "more indented than the items of its sequence");
		if (!is_dash(s))
			break; /* a key at the sequence's column: the mapping that holds it goes on */
	}
	s->depth--;
	return 0;
}

/* Blanks, line breaks and comments between flow tokens. */
static void flow_ws(struct yp *s)
{
	int blank = s->p == s->ls;
	while (s->p < s->end) {
		char c = *s->p;
		if (is_blank(c)) {
			s->p++;
			blank = 1;
		} else if (eol(s, s->p)) {
			s->p = next_line(s, s->p);
			blank = 1;
		} else if (c == '#' && blank) {
			while (!eol(s, s->p))
				s->p++;
		} else {
			return;
		}
	}
}

static int flow_value(struct yp *s, int node)
{
	int rc;
	char *v;
	size_t vl;

	if ((rc = refused(s)) < 0)
		return rc;
	switch (*s->p) {
	case '{':
	case '[':
		return flow_coll(s, node);
	case '"':
	case '\'':
		if ((rc = quoted(s, &v, &vl)) < 0)
			return rc;
		set_scalar(s, node, v, vl, 1);
		return 0;
	case '|':
	case '>':
		return fail(s, "a block scalar (| or >) inside a flow collection");
	default:
		if (is_dash(s))
			return fail(s, "a block sequence inside a flow collection");
		if ((rc = plain_flow(s, &v, &vl)) < 0)
			return rc;
		set_scalar(s, node, v, vl, 0);
		return 0;
	}
}

/* { ... } or [ ... ] at p, over any number of lines; node -1 is the top level. */
static int flow_coll(struct yp *s, int node)
{
	char open = *s->p, close = open == '{' ? '}' : ']';
	int start = s->line, last = -1, rc;
	const char *unclosed = open == '{' ? "a flow mapping '{' is never closed (truncated file?)"
		: "a flow sequence '[' is never closed (truncated file?)";

	if ((rc = enter(s, node, open == '{' ? YAML_MAP : YAML_SEQ)) < 0)
		return rc;
	s->p++;
	for (;;) {
		int m;
		flow_ws(s);
		if (s->p >= s->end)
			return fail_at(s, start, unclosed, PZ_ECONFIG);
		if (*s->p == close) {
			s->p++;
			break;
		}
		if ((m = add(s, node, &last)) < 0)
			return m;
		if (open == '{') {
			struct yaml_node *nd = &s->y->node[m];
			char *k;
			size_t kl;
			if ((rc = refused(s)) < 0)
				return rc;
			if (*s->p == '"' || *s->p == '\'') {
				rc = quoted(s, &k, &kl);
				nd->quoted = 1;
			} else if (strchr(",[]{}:", *s->p)) {
				return fail(s, "a key was expected in a flow mapping");
			} else {
				rc = plain_flow(s, &k, &kl);
			}
			if (rc < 0)
				return rc;
			nd->key = k;
			nd->klen = kl;
			if ((rc = check_key(s, node, m)) < 0)
				return rc;
			nd->quoted = 0;
			flow_ws(s);
			if (s->p < s->end && *s->p == ':') {
				s->p++;
				flow_ws(s);
				if (s->p < s->end && *s->p != ',' && *s->p != close && (rc = flow_value(s, m)) < 0)
					return rc;
			} else if (s->p < s->end && *s->p != ',' && *s->p != close) {
				return fail(s, "':' was expected after a key in a flow mapping");
			}
		} else {
			if (*s->p == ',')
				return fail(s, "an empty item in a flow sequence");
			if ((rc = flow_value(s, m)) < 0)
				return rc;
			flow_ws(s);
			if (s->p < s->end && *s->p == ':')
				return fail(s, "a \"key: value\" pair inside a flow sequence is not supported");
		}
		flow_ws(s);
		if (s->p >= s->end)
			return fail_at(s, start, unclosed, PZ_ECONFIG);
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p == close) {
			s->p++;
			break;
		}
		return fail(s, open == '{' ? "',' or '}' was expected in a flow mapping"
			: "',' or ']' was expected in a flow sequence");
	}
	s->depth--;
	return 0;
}

/* ---- document ---- */

/* What may follow the document: nothing, "...", a lone "---" with nothing after it. */
static int document_end(struct yp *s)
{
	int rc, line = s->line;
	while (s->mark) {
		line = s->line;
		s->p += 3;
		skip_blanks(s);
		if (!at_comment_or_eol(s))
			return fail(s, "a second YAML document; a kubeconfig is one document");
		if ((rc = rest_then_settle(s)) < 0)
			return rc;
		if (s->col >= 0 && !s->mark)
			return fail_at(s, line, "a second YAML document; a kubeconfig is one document", PZ_ECONFIG);
	}
	if (s->col >= 0)
		return fail(s, s->col == 0 ? "a second YAML document; a kubeconfig is one document"
			: "less indented than the top-level keys");
	return 0;
}

int yaml_parse(struct yaml *y, char *buf, size_t len)
{
	struct yp s;
	char *nul;
	int rc;

	memset(&s, 0, sizeof s);
	s.y = y;
	s.p = s.ls = buf;
	s.end = buf + len;
	s.line = 1;
	y->n = 0;
	y->top = -1;
	y->err = NULL;
	y->err_line = 0;

	if ((nul = memchr(buf, 0, len))) {
		for (char *q = buf; q < nul; q++)
			s.line += *q == '\n';
		return fail(&s, "a NUL byte (binary data, or a file in UTF-16?)");
	}
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		s.p = s.ls = buf + 3;
	if ((rc = settle(&s)) < 0)
		return rc;
	if (s.mark == 2)
		return document_end(&s) < 0 ? PZ_ECONFIG : 0;
	if (s.mark == 1) {
		s.p += 3;
		skip_blanks(&s);
		if (at_comment_or_eol(&s)) {
			if ((rc = rest_then_settle(&s)) < 0)
				return rc;
		} else {
			s.col = (int)(s.p - s.ls);
			s.mark = 0;
		}
		if (s.mark)
			return document_end(&s) < 0 ? PZ_ECONFIG : 0;
	}
	if (s.col < 0)
		return 0; /* an empty document: kubectl reads it as an empty config */
	if ((rc = refused(&s)) < 0)
		return rc;
	if (*s.p == '{') {
		if ((rc = flow_coll(&s, -1)) < 0 || (rc = rest_then_settle(&s)) < 0)
			return rc;
	} else if (*s.p == '[' || is_dash(&s)) {
		return fail(&s, "the top level is a sequence; a kubeconfig is a mapping");
	} else if (looks_like_key(&s)) {
		if ((rc = block_map(&s, -1, s.col)) < 0)
			return rc;
	} else {
		return fail(&s, "the top level is not a mapping of \"key: value\" lines");
	}
	if ((rc = document_end(&s)) < 0)
		return rc;
	for (int i = 0; i < y->n; i++) {
		struct yaml_node *nd = &y->node[i];
		if (nd->key)
			((char *)nd->key)[nd->klen] = 0;
		if (nd->val)
			((char *)nd->val)[nd->vlen] = 0;
	}
	return y->n;
}

/* ---- lookups ---- */

static int first_child(const struct yaml *y, int parent, enum yaml_kind kind)
{
	if (parent < 0)
		return kind == YAML_MAP ? y->top : -1;
	if (parent >= y->n || y->node[parent].kind != kind)
		return -1;
	return y->node[parent].first;
}

int yaml_get(const struct yaml *y, int parent, const char *key)
{
	size_t kl = strlen(key);
	for (int i = first_child(y, parent, YAML_MAP); i >= 0; i = y->node[i].next)
		if (y->node[i].klen == kl && memcmp(y->node[i].key, key, kl) == 0)
			return i;
	return -1;
}

int yaml_next_item(const struct yaml *y, int parent, int prev)
{
	if (prev >= 0)
		return prev < y->n && y->node[prev].parent == parent && parent >= 0 ? y->node[prev].next : -1;
	return first_child(y, parent, YAML_SEQ);
}

int yaml_next_member(const struct yaml *y, int parent, int prev)
{
	if (prev >= 0)
		return prev < y->n && y->node[prev].parent == parent ? y->node[prev].next : -1;
	return first_child(y, parent, YAML_MAP);
}

const char *yaml_str(const struct yaml *y, int i)
{
	if (i < 0 || i >= y->n || y->node[i].kind != YAML_SCALAR)
		return NULL;
	return y->node[i].val;
}

enum yaml_kind yaml_kind(const struct yaml *y, int i)
{
	return i < 0 || i >= y->n ? YAML_NULL : y->node[i].kind;
}
