/*
 * test_yaml.c - the kubeconfig YAML subset (src/yaml.h).
 *
 * Documents are parsed in a malloc'd copy of exactly len+1 bytes (the parser may write buf[len];
 * ASan reports anything further), whose byte at len is not a NUL, so nothing may rely on one. Each
 * content test runs with LF and with CRLF line endings; a failed parse is one failure, not a cascade.
 * Each test runs in a child process, so a crash is one failure and the others still run.
 */
#include "check.h"
#include "harness.h"
#include "pz.h"
#include "yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct yaml y; /* 2048 nodes: too big for the stack */

/* Parses text (LF, or CRLF when crlf) in a malloc'd buffer of exactly len+1 bytes. Returns the
 * buffer, which the nodes point into; *rc gets yaml_parse's result. */
static char *parse_doc(const char *text, int crlf, int *rc)
{
	size_t n = strlen(text), len = 0;
	char *buf;

	for (size_t i = 0; i < n; i++)
		len += crlf && text[i] == '\n' ? 2 : 1;
	buf = malloc(len + 1);
	for (size_t i = 0, o = 0; i < n; i++) {
		if (crlf && text[i] == '\n')
			buf[o++] = '\r';
		buf[o++] = text[i];
	}
	buf[len] = 'X'; /* writable, but not a terminator */
	*rc = yaml_parse(&y, buf, len);
	return buf;
}

/* Parses and reports a failure once (returns 0) instead of failing every lookup after it. */
static int parsed_ok(const char *what, int crlf, int rc)
{
	if (rc < 0)
		fprintf(stderr, "%s (%s): yaml_parse = %d at line %d\n", what, crlf ? "CRLF" : "LF", rc, y.err_line);
	CHECK(rc > 0);
	if (rc > 0) {
		CHECK_EQ_INT(rc, y.n);
		CHECK_EQ_INT(y.err_line, 0);
	}
	return rc > 0;
}

/* Scalar at a path of keys from parent ("a.b"), or NULL. */
static const char *at(int parent, const char *path)
{
	char key[128];
	while (parent >= -1 && *path) {
		size_t n = strcspn(path, ".");
		memcpy(key, path, n);
		key[n] = 0;
		parent = yaml_get(&y, parent, key);
		if (parent < 0)
			return NULL;
		path += n + (path[n] == '.');
	}
	return yaml_str(&y, parent);
}

/* The item of top-level sequence `list` whose "name" is `name`, or -1 (as config.c looks them up). */
static int named(const char *list, const char *name)
{
	int seq = yaml_get(&y, -1, list);
	for (int it = yaml_next_item(&y, seq, -1); seq >= 0 && it >= 0; it = yaml_next_item(&y, seq, it)) {
		const char *n = yaml_str(&y, yaml_get(&y, it, "name"));
		if (n && strcmp(n, name) == 0)
			return it;
	}
	return -1;
}

static int count_items(int seq)
{
	int n = 0;
	for (int it = yaml_next_item(&y, seq, -1); it >= 0 && n < 1000; it = yaml_next_item(&y, seq, it))
		n++;
	return n;
}

/* base64 of a PEM-looking blob of n pseudo-random bytes: as long and as varied as a real one. */
static void fake_pem_b64(unsigned seed, size_t n, char *out)
{
	unsigned char raw[2048];
	size_t k = (size_t)sprintf((char *)raw, "-----BEGIN CERTIFICATE-----\n");
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		raw[k++] = (unsigned char)(seed >> 16);
	}
	k += (size_t)sprintf((char *)raw + k, "\n-----END CERTIFICATE-----\n");
	b64(raw, k, out);
}

/* ---- a kubeconfig as kubectl writes it ---- */

/* kubectl (and kind) write sequences at their key's own indentation: "- cluster:" under "clusters:". */
static const char kubectl_fmt[] =
	"apiVersion: v1\n"
	"clusters:\n"
	"- cluster:\n"
	"    certificate-authority-data: %s\n"
	"    server: https://127.0.0.1:36443\n"
	"  name: kind-pizza\n"
	"- cluster:\n"
	"    insecure-skip-tls-verify: true\n"
	"    server: https://staging.example.com:6443\n"
	"  name: staging\n"
	"contexts:\n"
	"- context:\n"
	"    cluster: kind-pizza\n"
	"    namespace: pizzeria\n"
	"    user: kind-pizza\n"
	"  name: kind-pizza\n"
	"- context:\n"
	"    cluster: staging\n"
	"    user: ci-bot\n"
	"  name: staging\n"
	"current-context: kind-pizza\n"
	"kind: Config\n"
	"preferences: {}\n"
	"users:\n"
	"- name: kind-pizza\n"
	"  user:\n"
	"    client-certificate-data: %s\n"
	"    client-key-data: %s\n"
	"- name: ci-bot\n"
	"  user:\n"
	"    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl\n";

/* The same configuration with every sequence indented under its key, as other tools write it. */
static const char indented_fmt[] =
	"apiVersion: v1\n"
	"clusters:\n"
	"  - cluster:\n"
	"      certificate-authority-data: %s\n"
	"      server: https://127.0.0.1:36443\n"
	"    name: kind-pizza\n"
	"  - cluster:\n"
	"      insecure-skip-tls-verify: true\n"
	"      server: https://staging.example.com:6443\n"
	"    name: staging\n"
	"contexts:\n"
	"  - context:\n"
	"      cluster: kind-pizza\n"
	"      namespace: pizzeria\n"
	"      user: kind-pizza\n"
	"    name: kind-pizza\n"
	"  - context:\n"
	"      cluster: staging\n"
	"      user: ci-bot\n"
	"    name: staging\n"
	"current-context: kind-pizza\n"
	"kind: Config\n"
	"preferences: {}\n"
	"users:\n"
	"  - name: kind-pizza\n"
	"    user:\n"
	"      client-certificate-data: %s\n"
	"      client-key-data: %s\n"
	"  - name: ci-bot\n"
	"    user:\n"
	"      token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl\n";

static void check_kubeconfig(const char *what, const char *fmt, int crlf)
{
	static char ca[4096], crt[4096], key[4096], text[16384];
	int rc, seq, ctx, cl, us;
	char *buf;

	fake_pem_b64(1, 1100, ca);
	fake_pem_b64(2, 1000, crt);
	fake_pem_b64(3, 1200, key);
	CHECK(strlen(ca) > 1400 && strchr(ca, '+') && strchr(ca, '/'));
	snprintf(text, sizeof text, fmt, ca, crt, key);
	buf = parse_doc(text, crlf, &rc);
	if (!parsed_ok(what, crlf, rc)) {
		free(buf);
		return;
	}
	CHECK_EQ_STR(at(-1, "apiVersion"), "v1");
	CHECK_EQ_STR(at(-1, "kind"), "Config");
	CHECK_EQ_STR(at(-1, "current-context"), "kind-pizza");
	CHECK_EQ_STR(at(-1, "preferences"), "{}");
	CHECK(yaml_get(&y, -1, "clusters") >= 0 && at(-1, "clusters") == NULL); /* a block, no scalar */
	CHECK_EQ_INT(yaml_get(&y, -1, "name"), -1);   /* names belong to items */
	CHECK_EQ_INT(yaml_get(&y, -1, "server"), -1);
	CHECK_EQ_INT(yaml_get(&y, -1, "Kind"), -1);

	/* The lookups config.c makes: current context -> its cluster and user -> their fields. */
	ctx = named("contexts", "kind-pizza");
	CHECK(ctx >= 0);
	CHECK_EQ_STR(at(ctx, "context.cluster"), "kind-pizza");
	CHECK_EQ_STR(at(ctx, "context.user"), "kind-pizza");
	CHECK_EQ_STR(at(ctx, "context.namespace"), "pizzeria");
	CHECK_EQ_INT(yaml_get(&y, yaml_get(&y, ctx, "context"), "name"), -1); /* name is the item's */
	cl = named("clusters", "kind-pizza");
	CHECK(cl >= 0);
	CHECK_EQ_STR(at(cl, "cluster.server"), "https://127.0.0.1:36443");
	CHECK_EQ_STR(at(cl, "cluster.certificate-authority-data"), ca);
	CHECK(at(cl, "cluster.insecure-skip-tls-verify") == NULL);
	us = named("users", "kind-pizza");
	CHECK(us >= 0);
	CHECK_EQ_STR(at(us, "user.client-certificate-data"), crt);
	CHECK_EQ_STR(at(us, "user.client-key-data"), key);
	CHECK(at(us, "user.token") == NULL);

	cl = named("clusters", "staging");
	CHECK_EQ_STR(at(cl, "cluster.insecure-skip-tls-verify"), "true");
	CHECK_EQ_STR(at(cl, "cluster.server"), "https://staging.example.com:6443");
	CHECK_EQ_STR(at(named("contexts", "staging"), "context.user"), "ci-bot");
	CHECK_EQ_STR(at(named("users", "ci-bot"), "user.token"),
		"eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl");
	CHECK_EQ_INT(named("users", "nobody"), -1);

	/* Two items in each sequence, in order; items are not keys. */
	seq = yaml_get(&y, -1, "clusters");
	CHECK_EQ_INT(count_items(seq), 2);
	CHECK_EQ_INT(count_items(yaml_get(&y, -1, "contexts")), 2);
	CHECK_EQ_INT(count_items(yaml_get(&y, -1, "users")), 2);
	CHECK_EQ_INT(count_items(yaml_get(&y, -1, "kind")), 0);
	CHECK_EQ_INT(count_items(-1), 0);
	CHECK_EQ_STR(at(yaml_next_item(&y, seq, -1), "name"), "kind-pizza");
	CHECK_EQ_STR(at(yaml_next_item(&y, seq, yaml_next_item(&y, seq, -1)), "name"), "staging");
	CHECK(yaml_next_item(&y, seq, -1) >= 0 && y.node[yaml_next_item(&y, seq, -1)].is_item);
	CHECK(yaml_str(&y, -1) == NULL);
	free(buf);
}

static void test_kubectl_lf(void) { check_kubeconfig("kubectl kubeconfig", kubectl_fmt, 0); }
static void test_kubectl_crlf(void) { check_kubeconfig("kubectl kubeconfig", kubectl_fmt, 1); }
static void test_indented_lf(void) { check_kubeconfig("indented sequences", indented_fmt, 0); }
static void test_indented_crlf(void) { check_kubeconfig("indented sequences", indented_fmt, 1); }

/* The smallest case of a plain value on a line that ends in LF, followed by another line. */
static void test_plain_values_lf(void)
{
	static const char *const docs[] = {
		"a: b\nc: d\n",
		"a:\n  b: c\n  d: e\n",
		"list:\n- x\n- y\n",
	};
	for (int crlf = 0; crlf < 2; crlf++) {
		int rc;
		char *buf = parse_doc(docs[0], crlf, &rc);
		if (parsed_ok(docs[0], crlf, rc)) {
			CHECK_EQ_STR(at(-1, "a"), "b");
			CHECK_EQ_STR(at(-1, "c"), "d");
		}
		free(buf);
		buf = parse_doc(docs[1], crlf, &rc);
		if (parsed_ok(docs[1], crlf, rc)) {
			CHECK_EQ_STR(at(-1, "a.b"), "c");
			CHECK_EQ_STR(at(-1, "a.d"), "e");
		}
		free(buf);
		buf = parse_doc(docs[2], crlf, &rc);
		if (parsed_ok(docs[2], crlf, rc)) {
			int seq = yaml_get(&y, -1, "list");
			CHECK_EQ_INT(count_items(seq), 2);
			CHECK_EQ_STR(yaml_str(&y, yaml_next_item(&y, seq, -1)), "x");
		}
		free(buf);
	}
}

/* ---- scalars, quoting, comments ---- */

static void check_scalars(int crlf)
{
	static const char doc[] =
		"single: 'it''s here'\n"
		"double: \"a\\\"b\\\\c\\td\\ne\\/f\"\n"
		"'quoted key': 1\n"
		"\"dq: key\": \"x: y # not a comment\"\n"
		"empty_single: ''\n"
		"empty_double: \"\"\n"
		"only_quote: ''''\n"
		"colon: 'a: b'\n"
		"url: https://host:6443/path?x=1#frag\n"
		"hash: a#b\n"
		"spaced:    padded value   \n"
		"flow: {}\n"
		"nothing:\n"
		"plain: value with spaces\n";
	int rc;
	char *buf = parse_doc(doc, crlf, &rc);

	if (parsed_ok("scalars", crlf, rc)) {
		CHECK_EQ_STR(at(-1, "single"), "it's here");
		CHECK_EQ_STR(at(-1, "double"), "a\"b\\c\td\ne/f");
		CHECK_EQ_STR(at(-1, "quoted key"), "1");
		CHECK_EQ_INT(yaml_get(&y, -1, "'quoted key'"), -1);
		CHECK_EQ_STR(at(-1, "dq: key"), "x: y # not a comment");
		CHECK_EQ_STR(at(-1, "empty_single"), "");
		CHECK_EQ_STR(at(-1, "empty_double"), "");
		CHECK_EQ_STR(at(-1, "only_quote"), "'");
		CHECK_EQ_STR(at(-1, "colon"), "a: b");
		CHECK_EQ_STR(at(-1, "url"), "https://host:6443/path?x=1#frag");
		CHECK_EQ_STR(at(-1, "hash"), "a#b");
		CHECK_EQ_STR(at(-1, "spaced"), "padded value");
		CHECK_EQ_STR(at(-1, "flow"), "{}");
		CHECK(yaml_get(&y, -1, "nothing") >= 0 && at(-1, "nothing") == NULL);
		CHECK_EQ_STR(at(-1, "plain"), "value with spaces");
		CHECK_EQ_INT(rc, 14);
	}
	free(buf);
}

static void test_scalars_lf(void) { check_scalars(0); }
static void test_scalars_crlf(void) { check_scalars(1); }

static void check_comments(int crlf)
{
	static const char doc[] =
		"# kubeconfig written by hand\n"
		"apiVersion: v1 # trailing comment\n"
		"#no space after the hash\n"
		"clusters:\n"
		"# at column 0 inside the block\n"
		"- cluster:\n"
		"    # indented\n"
		"    server: https://x:6443   # padded comment\n"
		"\n"
		"  name: c1\n"
		"      # deeper than anything\n"
		"   \n"
		"kind: Config\n";
	int rc;
	char *buf = parse_doc(doc, crlf, &rc);

	if (parsed_ok("comments", crlf, rc)) {
		CHECK_EQ_STR(at(-1, "apiVersion"), "v1");
		CHECK_EQ_STR(at(named("clusters", "c1"), "cluster.server"), "https://x:6443");
		CHECK_EQ_STR(at(-1, "kind"), "Config");
		CHECK_EQ_INT(rc, 7);
	}
	free(buf);
}

static void test_comments_lf(void) { check_comments(0); }
static void test_comments_crlf(void) { check_comments(1); }

/* A comment after a key whose value is the block below it ("clusters: # ..."). */
static void test_comment_after_block_key(void)
{
	static const char doc[] = "clusters: # the clusters\n- name: c1\n";
	for (int crlf = 0; crlf < 2; crlf++) {
		int rc;
		char *buf = parse_doc(doc, crlf, &rc);
		if (parsed_ok("comment after a block key", crlf, rc)) {
			CHECK(at(-1, "clusters") == NULL);
			CHECK(named("clusters", "c1") >= 0);
		}
		free(buf);
	}
}

/* A comment after a quoted scalar. */
static void test_comment_after_quoted(void)
{
	static const char doc[] = "server: \"https://x:6443\" # prod\nuser: 'me' # not you\n";
	for (int crlf = 0; crlf < 2; crlf++) {
		int rc;
		char *buf = parse_doc(doc, crlf, &rc);
		if (parsed_ok("comment after a quoted scalar", crlf, rc)) {
			CHECK_EQ_STR(at(-1, "server"), "https://x:6443");
			CHECK_EQ_STR(at(-1, "user"), "me");
		}
		free(buf);
	}
}

/* The last line has no newline: its value ends at buf[len], which the parser may overwrite. */
static void test_no_final_newline(void)
{
	int rc;
	char *buf = parse_doc("a:\n  b: 'q'\n  c: last", 0, &rc);
	if (parsed_ok("no final newline", 0, rc)) {
		CHECK_EQ_STR(at(-1, "a.b"), "q");
		CHECK_EQ_STR(at(-1, "a.c"), "last");
	}
	free(buf);
	buf = parse_doc("list:\n- 'x'\n- y", 0, &rc);
	if (parsed_ok("no final newline, item", 0, rc)) {
		int seq = yaml_get(&y, -1, "list");
		CHECK_EQ_STR(yaml_str(&y, yaml_next_item(&y, seq, yaml_next_item(&y, seq, -1))), "y");
	}
	free(buf);
	/* An empty document and one of comments only have no nodes; a leading "---" is allowed. */
	buf = parse_doc("", 0, &rc);
	CHECK_EQ_INT(rc, 0);
	free(buf);
	buf = parse_doc("# nothing\n\n", 0, &rc);
	CHECK_EQ_INT(rc, 0);
	free(buf);
	buf = parse_doc("---\na: 'b'\n", 0, &rc);
	CHECK_EQ_INT(rc, 1);
	CHECK_EQ_STR(at(-1, "a"), "b");
	free(buf);
}

/* ---- refused input ---- */

static void check_error(const char *doc, int want_rc, int want_line)
{
	for (int crlf = 0; crlf < 2; crlf++) {
		int rc;
		char *buf = parse_doc(doc, crlf, &rc);
		if (rc != want_rc || y.err_line != want_line)
			fprintf(stderr, "yaml_parse(\"%s\") %s = %d at line %d, want %d at line %d\n", doc,
				crlf ? "CRLF" : "LF", rc, y.err_line, want_rc, want_line);
		CHECK_EQ_INT(rc, want_rc);
		CHECK_EQ_INT(y.err_line, want_line);
		free(buf);
	}
}

static void test_errors(void)
{
	/* Tabs for indentation. */
	check_error("clusters:\n\t- name: a\n", PZ_ECONFIG, 2);
	check_error("a:\n  \tb: c\n", PZ_ECONFIG, 2);
	/* Block scalars. */
	check_error("data:\n  cert: |\n    abc\n", PZ_ECONFIG, 2);
	check_error("data:\n  cert: >\n    abc\n", PZ_ECONFIG, 2);
	check_error("data:\n  cert: |-\n    abc\n", PZ_ECONFIG, 2);
	check_error("data:\n  cert: >+\n    abc\n", PZ_ECONFIG, 2);
	check_error("list:\n- |\n  abc\n", PZ_ECONFIG, 2);
	/* Anchors and aliases. */
	check_error("base:\n  a: &anchor\n    b: c\n", PZ_ECONFIG, 2);
	check_error("base:\n  a: &anchor 'v'\n", PZ_ECONFIG, 2);
	check_error("other:\n  a: *anchor\n", PZ_ECONFIG, 2);
	check_error("list:\n- &a 'x'\n", PZ_ECONFIG, 2);
	check_error("list:\n- *a\n", PZ_ECONFIG, 2);
	/* A second document. */
	check_error("a:\n  b: 'c'\n---\nd: 'e'\n", PZ_ECONFIG, 3);
	check_error("a: 'b'\n...\n", PZ_ECONFIG, 2);
	/* Not a mapping line, bad quoting. */
	check_error("a:\n  just text\n", PZ_ECONFIG, 2);
	check_error("key:value\n", PZ_ECONFIG, 1);
	check_error("a: 'open\n", PZ_ECONFIG, 1);
	check_error("a: \"open\n", PZ_ECONFIG, 1);
	check_error("a: \"\\x41\"\n", PZ_ECONFIG, 1);
	check_error("a: \"ends in \\\"\n", PZ_ECONFIG, 1);
	check_error("'open key: v\n", PZ_ECONFIG, 1);
	/* Children under a key that already has a scalar. */
	check_error("a: 'b'\n  c: 'd'\n", PZ_ECONFIG, 2);
}

/* YAML_NODES_MAX nodes fit; one more is PZ_ETOOBIG, with err_line on the node that did not fit. */
static void test_too_many_nodes(void)
{
	char *doc = malloc((size_t)(YAML_NODES_MAX + 1) * 16 + 1), *p = doc, last[16];
	int rc;
	char *buf;

	for (int i = 0; i < YAML_NODES_MAX; i++)
		p += sprintf(p, "k%d:\n", i);
	buf = parse_doc(doc, 0, &rc);
	CHECK_EQ_INT(rc, YAML_NODES_MAX);
	snprintf(last, sizeof last, "k%d", YAML_NODES_MAX - 1);
	CHECK_EQ_INT(yaml_get(&y, -1, last), YAML_NODES_MAX - 1);
	CHECK(at(-1, last) == NULL);
	free(buf);
	sprintf(p, "k%d:\n", YAML_NODES_MAX);
	buf = parse_doc(doc, 0, &rc);
	CHECK_EQ_INT(rc, PZ_ETOOBIG);
	CHECK_EQ_INT(y.err_line, YAML_NODES_MAX + 1);
	free(buf);
	free(doc);
}

/* YAML_DEPTH_MAX levels fit; one more is PZ_ETOOBIG, with err_line on that line. */
static void test_too_deep(void)
{
	char doc[(YAML_DEPTH_MAX + 1) * (YAML_DEPTH_MAX + 8)], *p = doc;
	int rc;
	char *buf;

	for (int i = 0; i < YAML_DEPTH_MAX; i++)
		p += sprintf(p, "%*sk%d:\n", i, "", i);
	buf = parse_doc(doc, 0, &rc);
	CHECK_EQ_INT(rc, YAML_DEPTH_MAX);
	CHECK_EQ_INT(y.node[YAML_DEPTH_MAX - 1].parent, YAML_DEPTH_MAX - 2);
	free(buf);
	sprintf(p, "%*sk%d:\n", YAML_DEPTH_MAX, "", YAML_DEPTH_MAX);
	buf = parse_doc(doc, 0, &rc);
	CHECK_EQ_INT(rc, PZ_ETOOBIG);
	CHECK_EQ_INT(y.err_line, YAML_DEPTH_MAX + 1);
	free(buf);
}

int main(void)
{
	run("kubectl kubeconfig, LF", test_kubectl_lf);
	run("kubectl kubeconfig, CRLF", test_kubectl_crlf);
	run("indented sequences, LF", test_indented_lf);
	run("indented sequences, CRLF", test_indented_crlf);
	run("plain values, LF and CRLF", test_plain_values_lf);
	run("scalars, LF", test_scalars_lf);
	run("scalars, CRLF", test_scalars_crlf);
	run("comments, LF", test_comments_lf);
	run("comments, CRLF", test_comments_crlf);
	run("comment after a block key", test_comment_after_block_key);
	run("comment after a quoted scalar", test_comment_after_quoted);
	run("no final newline", test_no_final_newline);
	run("errors", test_errors);
	run("too many nodes", test_too_many_nodes);
	run("too deep", test_too_deep);
	return check_done("yaml");
}
