/*
 * yaml.h - kubeconfig files as kubectl reads them: YAML (block and flow style) and JSON.
 *
 * Read: block mappings and sequences (sequences indented or at their key's column, as kubectl
 * writes them), flow mappings and sequences ({a: 1, b: [x, y]}) over any number of lines, JSON
 * (`kubectl config view --raw -o json`, which is flow YAML), plain, single- and double-quoted
 * scalars over several lines (folded as YAML folds them), every double-quoted escape JSON and YAML
 * use (\uXXXX with surrogate pairs, \xXX, \UXXXXXXXX, line continuations), literal and folded block
 * scalars (| and > with chomping and indentation indicators), comments, a byte order mark, "---"
 * and "..." around the one document, and null values (~, null, empty).
 * Refused with an error naming the line and the construct: tabs used for indentation, anchors and
 * aliases (& *), tags (!), merge keys (<<), complex keys (?), directives (%), a second document,
 * duplicate keys (kubectl would silently pick one; which one is a trap), a NUL byte (as raw byte or
 * escape: values are C strings), the escapes \L and \P (never in a kubeconfig, and longer decoded
 * than written, which in-place unescaping cannot hold), anything left open at the end of the
 * input (a truncated file) and any other syntax error.
 *
 * Nodes point into the caller's buffer, which the parser rewrites in place (quotes and escapes
 * removed, lines folded, every key and value NUL-terminated). Bounded: YAML_NODES_MAX nodes, nesting
 * YAML_DEPTH_MAX deep (the parser recurses once per level, so the stack is bounded too).
 */
#ifndef PZ_YAML_H
#define PZ_YAML_H

#include <stddef.h>

/* One node per key/value pair and per sequence item. A kubeconfig with 20 clusters, contexts and
 * users (exec plugins with args and env included) is ~300 nodes; a Rancher or OpenShift config of
 * 100 clusters ~1,500. Each node is 56 bytes: 112 KiB, allocated by the caller at start-up only. */
#define YAML_NODES_MAX 2048
/* A kubeconfig nests 5 deep (users, item, user, exec, env item); 32 leaves room for any hand-written one. */
#define YAML_DEPTH_MAX 32

enum yaml_kind { YAML_NULL, YAML_SCALAR, YAML_MAP, YAML_SEQ };

struct yaml_node {
	int parent;          /* index, -1 for the top-level mapping */
	int next;            /* next sibling, -1 for the last */
	int first;           /* first child of a map or sequence, -1 when empty or not a container */
	int line;            /* 1-based line where the node starts */
	enum yaml_kind kind; /* of the value */
	int quoted;          /* the scalar was quoted: "null" quoted is a string, not null */
	const char *key;     /* NULL for sequence items */
	size_t klen;
	const char *val;     /* scalar text for YAML_SCALAR, NULL otherwise */
	size_t vlen;
};

struct yaml {
	struct yaml_node node[YAML_NODES_MAX];
	int n;
	int top;             /* first top-level node, -1 when the document is empty */
	int err_line;        /* 1-based line of the first error, 0 when none */
	const char *err;     /* what was wrong there (a constant string), NULL when none */
};

/* Parses buf[0..len) in place; buf[len] must exist (it may receive a NUL). Returns the node count
 * (0 for an empty document), PZ_ECONFIG for a syntax error or refused construct, PZ_ETOOBIG past a
 * bound; on failure err_line and err are set. The top level must be a mapping (or empty). */
int yaml_parse(struct yaml *y, char *buf, size_t len);
/* Direct child of parent (-1: top level) with the given key, or -1 (also when parent is -1 for
 * "not found", or not a mapping). */
int yaml_get(const struct yaml *y, int parent, const char *key);
/* Next item of the sequence `parent` after item `prev` (-1: first), or -1. */
int yaml_next_item(const struct yaml *y, int parent, int prev);
/* Next member of the mapping `parent` (-1: top level) after `prev` (-1: first), or -1. */
int yaml_next_member(const struct yaml *y, int parent, int prev);
/* Scalar value of node i (NUL-terminated in place), or NULL when i < 0, null, or a container. */
const char *yaml_str(const struct yaml *y, int i);
/* Kind of node i, YAML_NULL when i < 0. */
enum yaml_kind yaml_kind(const struct yaml *y, int i);

#endif
