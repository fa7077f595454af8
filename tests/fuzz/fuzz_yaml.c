/*
 * fuzz_yaml.c - libFuzzer target for the kubeconfig reader (src/yaml.h): block and flow YAML and
 * JSON; the corpus holds real kubeconfig shapes (kind, k3s, EKS/GKE/AKS exec users, kubectl's JSON,
 * flow style, block scalars).
 *
 * The input is copied into an exact block of len + 1 bytes (yaml_parse may write a NUL at buf[len],
 * nowhere past it). After a successful parse every node is checked and the tree is walked the way
 * config.c walks a kubeconfig:
 *   - a node's parent comes before it; key and value lie inside the buffer and are NUL-terminated in
 *     place; yaml_str returns the value;
 *   - yaml_get finds each key under its parent (the first node with that key);
 *   - yaml_next_item visits exactly the items of a parent, in order.
 */
#include "yaml.h"
#include "fuzz.h"
#include "pz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* yaml_get and yaml_next_item scan forward from their parent: checking every node as a parent is
 * quadratic in YAML_NODES_MAX, and the first nodes already exercise every path. */
#define PARENTS_CHECKED_MAX 256


static struct yaml y; /* 2048 nodes: too large for libFuzzer's stack */

static const char *get(int parent, const char *key) { return yaml_str(&y, yaml_get(&y, parent, key)); }

/* config.c's lookup: the item of `list` named `name`, then its `field`. */
static int named(const char *list, const char *name, const char *field)
{
	int seq = yaml_get(&y, -1, list);
	for (int it = yaml_next_item(&y, seq, -1); seq >= 0 && it >= 0; it = yaml_next_item(&y, seq, it)) {
		const char *n = get(it, "name");
		if (n && strcmp(n, name) == 0)
			return yaml_get(&y, it, field);
	}
	return -1;
}

static void check_nodes(const char *buf, size_t len)
{
	for (int i = 0; i < y.n; i++) {
		const struct yaml_node *nd = &y.node[i];
		CHECK(nd->parent >= -1 && nd->parent < i);
		CHECK(nd->next == -1 || (nd->next > i && nd->next < y.n && y.node[nd->next].parent == nd->parent));
		CHECK(nd->first == -1 || (nd->first > i && nd->first < y.n && y.node[nd->first].parent == i));
		CHECK(nd->first == -1 || nd->kind == YAML_MAP || nd->kind == YAML_SEQ);
		CHECK(nd->line >= 1);
		if (nd->parent >= 0) {
			const struct yaml_node *pa = &y.node[nd->parent];
			CHECK(pa->kind == YAML_MAP || pa->kind == YAML_SEQ);
			CHECK((pa->kind == YAML_MAP) == (nd->key != NULL));
		} else {
			CHECK(nd->key != NULL);
		}
		if (nd->key) {
			CHECK(nd->key >= buf && nd->key + nd->klen <= buf + len);
			CHECK(nd->key[nd->klen] == 0);
		}
		CHECK((nd->kind == YAML_SCALAR) == (nd->val != NULL));
		if (nd->val) {
			CHECK(nd->val >= buf && nd->val + nd->vlen <= buf + len);
			CHECK(nd->val[nd->vlen] == 0);
		}
		CHECK(yaml_str(&y, i) == nd->val);
		CHECK(yaml_kind(&y, i) == nd->kind);
		if (nd->key && !memchr(nd->key, 0, nd->klen)) {
			int r = yaml_get(&y, nd->parent, nd->key);
			CHECK(r == i); /* keys are unique in a mapping */
		}
	}
}

static void check_items(void)
{
	for (int p = -1; p < y.n && p < PARENTS_CHECKED_MAX; p++) {
		int expect_items = 0, expect_members = 0, seen = 0, prev = -1;
		for (int i = p + 1; i < y.n; i++) {
			expect_items += y.node[i].parent == p && !y.node[i].key;
			expect_members += y.node[i].parent == p && y.node[i].key;
		}
		for (int it = yaml_next_item(&y, p, -1); it >= 0; it = yaml_next_item(&y, p, it)) {
			CHECK(it > prev && it < y.n);
			CHECK(y.node[it].parent == p && !y.node[it].key);
			prev = it;
			seen++;
			CHECK(seen <= expect_items);
		}
		CHECK(seen == expect_items);
		seen = 0;
		prev = -1;
		for (int m = yaml_next_member(&y, p, -1); m >= 0; m = yaml_next_member(&y, p, m)) {
			CHECK(m > prev && m < y.n && y.node[m].parent == p && y.node[m].key);
			prev = m;
			seen++;
			CHECK(seen <= expect_members);
		}
		CHECK(seen == expect_members);
	}
}

static void walk_like_config(void)
{
	const char *ctx_name = get(-1, "current-context");
	int ctx, cl, us;

	if (!ctx_name)
		ctx_name = "default";
	ctx = named("contexts", ctx_name, "context");
	const char *cluster = get(ctx, "cluster"), *user = get(ctx, "user");
	cl = named("clusters", cluster ? cluster : "", "cluster");
	us = named("users", user ? user : "", "user");
	static const char *const fields[] = { "server", "certificate-authority", "certificate-authority-data",
		"tls-server-name", "insecure-skip-tls-verify", "proxy-url", "token", "tokenFile",
		"client-certificate", "client-certificate-data", "client-key", "client-key-data", "exec" };
	for (size_t i = 0; i < PZ_ARRAY_LEN(fields); i++) {
		const char *a = get(cl, fields[i]), *b = get(us, fields[i]);
		if (a)
			(void)strlen(a);
		if (b)
			(void)strlen(b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	int n, lines = 1;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = 'x'; /* whatever is there: the parser may overwrite it, never read it as text */
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	n = yaml_parse(&y, buf, size);
	if (n < 0) {
		CHECK(n == PZ_ECONFIG || n == PZ_ETOOBIG);
		CHECK(y.err != NULL && y.err_line >= 1 && y.err_line <= lines);
	} else {
		CHECK(n == y.n && n <= YAML_NODES_MAX && y.err == NULL && y.err_line == 0);
		check_nodes(buf, size);
		check_items();
		walk_like_config();
	}
	free(buf);
	return 0;
}
