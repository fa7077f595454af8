/*
 * yaml.c - kubeconfig-grade YAML (see yaml.h). Line by line with a stack of open nodes: a line's
 * parent is the nearest open node left of it (or, for a dash, the key at the same column, as
 * kubectl writes sequences without indenting them).
 */
#include "yaml.h"
#include "pz.h"

#include <string.h>

static int is_sp(char c) { return c == ' '; }

/* After a quoted scalar's closing quote only blanks and a comment may follow. */
static int rest_is_comment(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && is_sp(s[i]))
		i++;
	return i == n || (s[i] == '#' && i > 0);
}

/* Unquotes a scalar in place; returns its new length or -1. */
static long scalar(char *s, size_t n)
{
	size_t o = 0, i;

	if (n == 0)
		return 0;
	if (s[0] == '\'') {
		for (i = 1; i < n; i++) {
			if (s[i] == '\'') {
				if (i + 1 < n && s[i + 1] == '\'') {
					i++; /* '' is a quote */
				} else {
					break;
				}
			}
			s[o++] = s[i];
		}
		return i < n && rest_is_comment(s + i + 1, n - i - 1) ? (long)o : -1;
	}
	if (s[0] == '"') {
		for (i = 1; i < n && s[i] != '"'; i++) {
			char c = s[i];
			if (c == '\\') {
				if (++i >= n)
					return -1;
				switch (s[i]) {
				case 'n': c = '\n'; break;
				case 't': c = '\t'; break;
				case '"': c = '"'; break;
				case '\\': c = '\\'; break;
				case '/': c = '/'; break;
				default: return -1; /* \x, \u: never in a kubeconfig we read */
				}
			}
			s[o++] = c;
		}
		return i < n && rest_is_comment(s + i + 1, n - i - 1) ? (long)o : -1;
	}
	if (s[0] == '|' || s[0] == '>' || s[0] == '&' || s[0] == '*' || s[0] == '!')
		return -1;
	/* plain scalar: a " #" starts a comment */
	for (i = 1; i < n; i++)
		if (s[i] == '#' && is_sp(s[i - 1])) {
			n = i;
			while (n && is_sp(s[n - 1]))
				n--;
			break;
		}
	return (long)n;
}

/* Splits "key: value" (value may be empty). Returns 0, or -1 when there is no ": " separator. */
static int split_key(char *s, size_t n, char **key, size_t *klen, char **val, size_t *vlen)
{
	size_t i = 0;
	char q = 0;

	if (n && (s[0] == '"' || s[0] == '\'')) {
		q = s[0];
		for (i = 1; i < n && s[i] != q; i++)
			;
		if (i == n)
			return -1;
		i++;
	}
	for (; i < n; i++)
		if (s[i] == ':' && (i + 1 == n || is_sp(s[i + 1])))
			break;
	if (i == n)
		return -1;
	*key = s;
	*klen = i;
	while (*klen && is_sp(s[*klen - 1]))
		(*klen)--;
	if (q) {
		long k = scalar(s, *klen);
		if (k < 0)
			return -1;
		*klen = (size_t)k;
	}
	i++;
	while (i < n && is_sp(s[i]))
		i++;
	*val = s + i;
	*vlen = i < n && s[i] == '#' ? 0 : n - i; /* "key: # comment" has a block value */
	return 0;
}

static int add(struct yaml *y, int parent, int col, int is_item)
{
	struct yaml_node *nd;
	if (y->n >= YAML_NODES_MAX)
		return PZ_ETOOBIG;
	nd = &y->node[y->n];
	memset(nd, 0, sizeof *nd);
	nd->parent = parent;
	nd->col = col;
	nd->is_item = is_item;
	return y->n++;
}

int yaml_parse(struct yaml *y, char *buf, size_t len)
{
	int stack[YAML_DEPTH_MAX], depth = 0, line = 0;
	char *p = buf, *end = buf + len;

	y->n = 0;
	y->err_line = 0;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end, *s = p, *line_start = p;
		int col;

		line++;
		p = nl ? nl + 1 : end;
		if (e > s && e[-1] == '\r')
			e--;
		while (s < e && is_sp(*s))
			s++;
		if (s < e && *s == '\t')
			goto bad;
		while (e > s && is_sp(e[-1]))
			e--;
		if (s == e || *s == '#')
			continue;
		if (e - s >= 3 && (memcmp(s, "---", 3) == 0 || memcmp(s, "...", 3) == 0)) {
			if (y->n)
				goto bad; /* a second document */
			continue;
		}
		col = (int)(s - line_start); /* not by scanning back: NULs were written in place */
		for (;;) {
			int parent, idx;
			int item = (*s == '-' && (s + 1 == e || is_sp(s[1])));
			while (depth > 0) {
				const struct yaml_node *top = &y->node[stack[depth - 1]];
				if (top->col > col || (top->col == col && (top->is_item || !item)))
					depth--;
				else
					break;
			}
			parent = depth ? stack[depth - 1] : -1;
			if (parent >= 0 && y->node[parent].val && !y->node[parent].is_item)
				goto bad; /* children under a key that already has a scalar */
			idx = add(y, parent, col, item);
			if (idx < 0 || depth >= YAML_DEPTH_MAX) {
				y->err_line = line;
				return PZ_ETOOBIG;
			}
			stack[depth++] = idx;
			if (item) {
				s++;
				while (s < e && is_sp(*s))
					s++;
				if (s == e)
					break;
				/* the item's inline content is a key or a scalar at its own column */
				col = (int)(s - line_start); /* not by scanning back: NULs were written in place */
				char *k, *v;
				size_t kl, vl;
				if (split_key(s, (size_t)(e - s), &k, &kl, &v, &vl) < 0) {
					long sl = scalar(s, (size_t)(e - s));
					if (sl < 0)
						goto bad;
					y->node[idx].val = s;
					y->node[idx].vlen = (size_t)sl;
					s[sl] = 0;
					break;
				}
				continue; /* parse "key: value" as a child of the item */
			}
			char *k, *v;
			size_t kl, vl;
			if (split_key(s, (size_t)(e - s), &k, &kl, &v, &vl) < 0)
				goto bad;
			y->node[idx].key = k;
			y->node[idx].klen = kl;
			if (vl) {
				long sl = scalar(v, vl);
				if (sl < 0)
					goto bad;
				y->node[idx].val = v;
				y->node[idx].vlen = (size_t)sl;
			}
			/* NUL-terminate key and value in place (both end before the line's end). */
			k[kl] = 0;
			if (vl)
				v[y->node[idx].vlen] = 0;
			break;
		}
	}
	return y->n;
bad:
	y->err_line = line;
	return PZ_ECONFIG;
}

int yaml_get(const struct yaml *y, int parent, const char *key)
{
	size_t kl = strlen(key);
	for (int i = parent + 1; i < y->n; i++) {
		const struct yaml_node *nd = &y->node[i];
		if (nd->parent == parent && nd->key && nd->klen == kl && memcmp(nd->key, key, kl) == 0)
			return i;
	}
	return -1;
}

int yaml_next_item(const struct yaml *y, int parent, int prev)
{
	for (int i = (prev < 0 ? parent : prev) + 1; i < y->n; i++)
		if (y->node[i].parent == parent && y->node[i].is_item)
			return i;
	return -1;
}

const char *yaml_str(const struct yaml *y, int i)
{
	if (i < 0 || !y->node[i].val)
		return NULL;
	return y->node[i].val;
}
