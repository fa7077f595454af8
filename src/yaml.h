/*
 * yaml.h - the block-style YAML subset that kubectl writes for kubeconfig files.
 *
 * Supported: nested block mappings, block sequences (indented or not) of mappings or scalars, plain,
 * single- and double-quoted scalars (unescaped in place), comments, flow values such as `{}` kept as
 * plain text. Not supported, and reported as an error when met: tabs for indentation, block scalars
 * (| and >), anchors and aliases, multi-document streams. That is all a kubeconfig needs.
 * Nodes point into the caller's buffer, which the parser modifies (quotes removed in place).
 */
#ifndef PZ_YAML_H
#define PZ_YAML_H

#include <stddef.h>

/* A kubeconfig with 20 clusters, contexts and users is ~200 nodes. */
#define YAML_NODES_MAX 2048
#define YAML_DEPTH_MAX 32

struct yaml_node {
	int parent;          /* index, -1 for top level */
	int col;             /* column of the key, or of the dash for an item */
	int is_item;
	const char *key;     /* NULL for items */
	size_t klen;
	const char *val;     /* NULL when the value is a block (children follow) */
	size_t vlen;
};

struct yaml {
	struct yaml_node node[YAML_NODES_MAX];
	int n;
	int err_line;        /* 1-based line of the first error */
};

/* Parses buf[0..len) in place; buf[len] must exist (it may receive a NUL). Returns the node count or PZ_ECONFIG / PZ_ETOOBIG (err_line set). */
int yaml_parse(struct yaml *y, char *buf, size_t len);
/* Direct child of parent (-1: top level) with the given key, or -1. */
int yaml_get(const struct yaml *y, int parent, const char *key);
/* Next item of the sequence under `parent` after item `prev` (-1: first), or -1. */
int yaml_next_item(const struct yaml *y, int parent, int prev);
/* Scalar value of node i (NUL-terminated in place), or NULL when absent or a block. */
const char *yaml_str(const struct yaml *y, int i);

#endif
