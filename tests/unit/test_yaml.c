/*
 * test_yaml.c - kubeconfig YAML and JSON as kubectl reads them (src/yaml.h).
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
	CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, -1, "preferences")), YAML_MAP); /* flow style: {} */
	CHECK(at(-1, "preferences") == NULL);
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
	CHECK(yaml_next_item(&y, seq, -1) >= 0 && y.node[yaml_next_item(&y, seq, -1)].key == NULL);
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
		CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, -1, "flow")), YAML_MAP);
		CHECK_EQ_INT(yaml_next_member(&y, yaml_get(&y, -1, "flow"), -1), -1);
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
	/* Anchors and aliases, tags, merge keys, complex keys. */
	check_error("base:\n  a: &anchor\n    b: c\n", PZ_ECONFIG, 2);
	check_error("base:\n  a: &anchor 'v'\n", PZ_ECONFIG, 2);
	check_error("other:\n  a: *anchor\n", PZ_ECONFIG, 2);
	check_error("list:\n- &a 'x'\n", PZ_ECONFIG, 2);
	check_error("list:\n- *a\n", PZ_ECONFIG, 2);
	check_error("a: !!str x\n", PZ_ECONFIG, 1);
	check_error("a:\n  <<: {b: 1}\n", PZ_ECONFIG, 2);
	check_error("? a\n: b\n", PZ_ECONFIG, 1);
	/* A second document, content after the end marker. */
	check_error("a:\n  b: 'c'\n---\nd: 'e'\n", PZ_ECONFIG, 3);
	check_error("a: 'b'\n...\nc: d\n", PZ_ECONFIG, 2); /* at the marker */
	/* Not a mapping line, bad quoting. */
	check_error("a:\n  b: 1\n  just text\n", PZ_ECONFIG, 3);
	check_error("key:value\n", PZ_ECONFIG, 1);
	check_error("a: 'open\n", PZ_ECONFIG, 1);
	check_error("a: \"open\n", PZ_ECONFIG, 1);
	check_error("a: \"\\x4g\"\n", PZ_ECONFIG, 1);
	check_error("a: \"ends in \\\"\n", PZ_ECONFIG, 1);
	check_error("'open key: v\n", PZ_ECONFIG, 1);
	check_error("a: b: c\n", PZ_ECONFIG, 1);
	/* Children under a key that already has a scalar. */
	check_error("a: 'b'\n  c: 'd'\n", PZ_ECONFIG, 2);
	/* Duplicate keys, at the top, in a block and in a flow mapping. */
	check_error("a: 1\nb: 2\na: 3\n", PZ_ECONFIG, 3);
	check_error("m:\n  x: 1\n  x: 1\n", PZ_ECONFIG, 3);
	check_error("m: {x: 1,\n  \"x\": 2}\n", PZ_ECONFIG, 2);
	/* Truncated files: a flow collection or a quoted string left open names where it opened. */
	check_error("a: 1\nb: {c: [1, 2,\n", PZ_ECONFIG, 2);
	check_error("{\"kind\": \"Config\",\n \"users\": [\n", PZ_ECONFIG, 2); /* the innermost */
	check_error("a: 1\nb: \"abc\n\n", PZ_ECONFIG, 2);
	/* Flow syntax errors. */
	check_error("a: {b: 1 c: 2}\n", PZ_ECONFIG, 1);
	check_error("a: [x, , y]\n", PZ_ECONFIG, 1);
	check_error("a: [x: 1]\n", PZ_ECONFIG, 1);
	check_error("a: {b: 1} junk\n", PZ_ECONFIG, 1);
	check_error("{\"a\": 1} {\"b\": 2}\n", PZ_ECONFIG, 1);
	/* Escapes: a NUL, \\L and \\P, a lone surrogate, bad hex. */
	check_error("a: \"x\\0y\"\n", PZ_ECONFIG, 1);
	check_error("a: \"\\u0000\"\n", PZ_ECONFIG, 1);
	check_error("a: \"\\L\"\n", PZ_ECONFIG, 1);
	check_error("a: \"\\P\"\n", PZ_ECONFIG, 1);
	check_error("a: \"\\ud800\"\n", PZ_ECONFIG, 1);
	check_error("a: \"\\udc00\\ud800\"\n", PZ_ECONFIG, 1);
	check_error("a: \"\\u12\"\n", PZ_ECONFIG, 1);
	/* The top level must be a mapping. */
	check_error("- a\n- b\n", PZ_ECONFIG, 1);
	check_error("[1, 2]\n", PZ_ECONFIG, 1);
	check_error("just text\n", PZ_ECONFIG, 1);
	/* Mis-indented items and keys. */
	check_error("a:\n  - x\n  y: 1\n", PZ_ECONFIG, 3);
	check_error("a:\n    b: 1\n  c: 2\n", PZ_ECONFIG, 3);
}

/* A raw NUL byte is refused with its line; the error text names the construct. */
static void test_nul_and_messages(void)
{
	static const char doc[] = "a: 1\nb: x\0y\n";
	char *buf = malloc(sizeof doc);
	memcpy(buf, doc, sizeof doc);
	CHECK_EQ_INT(yaml_parse(&y, buf, sizeof doc - 1), PZ_ECONFIG);
	CHECK_EQ_INT(y.err_line, 2);
	CHECK(y.err && strstr(y.err, "NUL"));
	free(buf);
	int rc;
	buf = parse_doc("a:\n\tb: 1\n", 0, &rc);
	CHECK(y.err && strstr(y.err, "tab"));
	free(buf);
	buf = parse_doc("a: {b: 1\n", 0, &rc);
	CHECK(y.err && strstr(y.err, "never closed"));
	free(buf);
	buf = parse_doc("a: &x 1\n", 0, &rc);
	CHECK(y.err && strstr(y.err, "anchors"));
	free(buf);
	buf = parse_doc("a: 1\n", 0, &rc);
	CHECK(y.err == NULL && y.err_line == 0);
	free(buf);
}

/* ---- flow style and JSON ---- */

static void check_flow(int crlf)
{
	static const char doc[] =
		"apiVersion: v1\n"
		"clusters: [{name: local, cluster: {server: 'https://127.0.0.1:6443',\n"
		"    certificate-authority: ca.pem}}]\n"
		"contexts:\n"
		"- context: {cluster: local, user: u}   # flow inside block\n"
		"  name: local\n"
		"current-context: local\n"
		"users: [ { name: u, user: { token: abc } },\n"
		"  # a comment inside a flow sequence\n"
		"  {name: v, user: {}}, ]\n"
		"empty_seq: []\n"
		"nulls: {a: , b: null, c: ~, d: 'null', e}\n";
	int rc, ctx, us;
	char *buf = parse_doc(doc, crlf, &rc);

	if (!parsed_ok("flow", crlf, rc)) {
		free(buf);
		return;
	}
	ctx = named("contexts", "local");
	CHECK_EQ_STR(at(ctx, "context.cluster"), "local");
	CHECK_EQ_STR(at(ctx, "context.user"), "u");
	CHECK_EQ_STR(at(named("clusters", "local"), "cluster.server"), "https://127.0.0.1:6443");
	CHECK_EQ_STR(at(named("clusters", "local"), "cluster.certificate-authority"), "ca.pem");
	us = named("users", "u");
	CHECK_EQ_STR(at(us, "user.token"), "abc");
	CHECK_EQ_INT(count_items(yaml_get(&y, -1, "users")), 2);
	CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, named("users", "v"), "user")), YAML_MAP);
	CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, -1, "empty_seq")), YAML_SEQ);
	CHECK_EQ_INT(count_items(yaml_get(&y, -1, "empty_seq")), 0);
	int nulls = yaml_get(&y, -1, "nulls");
	CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, nulls, "a")), YAML_NULL);
	CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, nulls, "b")), YAML_NULL);
	CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, nulls, "c")), YAML_NULL);
	CHECK_EQ_STR(at(nulls, "d"), "null"); /* quoted: a string */
	CHECK(yaml_get(&y, nulls, "e") >= 0 && yaml_kind(&y, yaml_get(&y, nulls, "e")) == YAML_NULL);
	/* members in order */
	int m = yaml_next_member(&y, nulls, -1), k = 0;
	for (; m >= 0; m = yaml_next_member(&y, nulls, m))
		k++;
	CHECK_EQ_INT(k, 5);
	CHECK_EQ_INT(y.node[yaml_get(&y, -1, "users")].line, 8);
	free(buf);
}

static void test_flow_lf(void) { check_flow(0); }
static void test_flow_crlf(void) { check_flow(1); }

/* `kubectl config view --raw -o json`, escapes included. */
static void check_json(int crlf)
{
	static const char doc[] =
		"{\n"
		"    \"kind\": \"Config\",\n"
		"    \"apiVersion\": \"v1\",\n"
		"    \"preferences\": {},\n"
		"    \"clusters\": [\n"
		"        {\n"
		"            \"name\": \"kind-pizza\",\n"
		"            \"cluster\": {\n"
		"                \"server\": \"https://127.0.0.1:36443\",\n"
		"                \"certificate-authority-data\": \"TFMwdExTMUNSVWRKVGlCRFJWSlV=\"\n"
		"            }\n"
		"        }\n"
		"    ],\n"
		"    \"users\": [\n"
		"        {\n"
		"            \"name\": \"u\",\n"
		"            \"user\": {\n"
		"                \"exec\": {\n"
		"                    \"command\": \"aws\",\n"
		"                    \"args\": [\"--region\", \"eu-west-1\", \"a\\/b\\u00e9\\ud83d\\ude00\\t\"],\n"
		"                    \"env\": null,\n"
		"                    \"provideClusterInfo\": false\n"
		"                }\n"
		"            }\n"
		"        }\n"
		"    ],\n"
		"    \"contexts\": [],\n"
		"    \"current-context\": \"kind-pizza\",\n"
		"    \"extensions\": [{\"n\": 1.5e3, \"t\": true, \"x\": [[], {}, -2]}]\n"
		"}\n";
	int rc, us, args;
	char *buf = parse_doc(doc, crlf, &rc);

	if (!parsed_ok("JSON", crlf, rc)) {
		free(buf);
		return;
	}
	CHECK_EQ_STR(at(-1, "kind"), "Config");
	CHECK_EQ_STR(at(-1, "current-context"), "kind-pizza");
	CHECK_EQ_STR(at(named("clusters", "kind-pizza"), "cluster.server"), "https://127.0.0.1:36443");
	us = named("users", "u");
	CHECK_EQ_STR(at(us, "user.exec.command"), "aws");
	args = yaml_get(&y, yaml_get(&y, yaml_get(&y, us, "user"), "exec"), "args");
	CHECK_EQ_INT(count_items(args), 3);
	int third = yaml_next_item(&y, args, yaml_next_item(&y, args, yaml_next_item(&y, args, -1)));
	CHECK_EQ_STR(yaml_str(&y, third), "a/b\xc3\xa9\xf0\x9f\x98\x80\t");
	CHECK_EQ_INT(yaml_kind(&y, yaml_get(&y, yaml_get(&y, yaml_get(&y, us, "user"), "exec"), "env")), YAML_NULL);
	CHECK_EQ_STR(at(us, "user.exec.provideClusterInfo"), "false");
	CHECK_EQ_INT(count_items(yaml_get(&y, -1, "contexts")), 0);
	free(buf);
}

static void test_json_lf(void) { check_json(0); }
static void test_json_crlf(void) { check_json(1); }

/* Multi-line scalars: plain and quoted values folded, block scalars with their indicators. */
static void check_multiline(int crlf)
{
	static const char doc[] =
		"plain: first\n"
		"  second\n"
		"\n"
		"  third\n"
		"dq: \"one\n"
		"   two \\\n"
		"   three\"\n"
		"sq: 'a\n"
		"\n"
		"  b'\n"
		"lit: |\n"
		"  line1\n"
		"    indented\n"
		"\n"
		"  line3\n"
		"fold: >-\n"
		"  a\n"
		"  b\n"
		"\n"
		"  c\n"
		"keep: |+\n"
		"  x\n"
		"\n"
		"strip: |-\n"
		"  y\n"
		"ind: |2\n"
		"    z\n"
		"list:\n"
		"- |\n"
		"  item\n"
		"- >\n"
		"  folded\n"
		"  item\n"
		"empty: |\n"
		"last: end\n";
	int rc;
	char *buf = parse_doc(doc, crlf, &rc);

	if (!parsed_ok("multi-line scalars", crlf, rc)) {
		free(buf);
		return;
	}
	CHECK_EQ_STR(at(-1, "plain"), "first second\nthird");
	CHECK_EQ_STR(at(-1, "dq"), "one two three"); /* an escaped break keeps the blank before it */
	CHECK_EQ_STR(at(-1, "sq"), "a\nb");
	CHECK_EQ_STR(at(-1, "lit"), "line1\n  indented\n\nline3\n");
	CHECK_EQ_STR(at(-1, "fold"), "a b\nc");
	CHECK_EQ_STR(at(-1, "keep"), "x\n\n");
	CHECK_EQ_STR(at(-1, "strip"), "y");
	CHECK_EQ_STR(at(-1, "ind"), "  z\n");
	int seq = yaml_get(&y, -1, "list");
	CHECK_EQ_STR(yaml_str(&y, yaml_next_item(&y, seq, -1)), "item\n");
	CHECK_EQ_STR(yaml_str(&y, yaml_next_item(&y, seq, yaml_next_item(&y, seq, -1))), "folded item\n");
	CHECK_EQ_STR(at(-1, "empty"), "");
	CHECK_EQ_STR(at(-1, "last"), "end");
	free(buf);
}

static void test_multiline_lf(void) { check_multiline(0); }
static void test_multiline_crlf(void) { check_multiline(1); }

/* A byte order mark, "--- " with content, "..." at the end, escapes YAML has and JSON has not. */
static void test_document_forms(void)
{
	int rc;
	char *buf = parse_doc("\xef\xbb\xbf" "a: 1\n", 0, &rc);
	CHECK_EQ_INT(rc, 1);
	CHECK_EQ_STR(at(-1, "a"), "1");
	free(buf);
	buf = parse_doc("--- {a: 1, b: [2]}\n", 0, &rc);
	CHECK_EQ_INT(rc, 3);
	CHECK_EQ_STR(at(-1, "a"), "1");
	free(buf);
	buf = parse_doc("a: 1\n...\n# trailing comment\n", 0, &rc);
	CHECK_EQ_INT(rc, 1);
	free(buf);
	buf = parse_doc("a: \"\\x41\\N\\_\\U0001F600\\e\"\n", 0, &rc);
	CHECK_EQ_INT(rc, 1);
	CHECK_EQ_STR(at(-1, "a"), "A\xc2\x85\xc2\xa0\xf0\x9f\x98\x80\x1b");
	free(buf);
	/* "key:value" with no space is a plain scalar in flow, a key in JSON style */
	buf = parse_doc("a: {b:c, \"d\":e}\n", 0, &rc);
	CHECK_EQ_INT(rc, 3);
	CHECK(yaml_get(&y, yaml_get(&y, -1, "a"), "b:c") >= 0);
	CHECK_EQ_STR(at(-1, "a.d"), "e");
	free(buf);
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
	run("NUL byte and messages", test_nul_and_messages);
	run("flow style, LF", test_flow_lf);
	run("flow style, CRLF", test_flow_crlf);
	run("JSON, LF", test_json_lf);
	run("JSON, CRLF", test_json_crlf);
	run("multi-line scalars, LF", test_multiline_lf);
	run("multi-line scalars, CRLF", test_multiline_crlf);
	run("document forms", test_document_forms);
	run("too many nodes", test_too_many_nodes);
	run("too deep", test_too_deep);
	return check_done("yaml");
}
