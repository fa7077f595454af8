/*
 * test_config.c - configuration sources (src/config.h): server URLs, base64, kubeconfig files
 * written to a temporary folder (credentials of every supported kind, every refused field),
 * in-cluster service-account folders and the KUBECONFIG search.
 *
 * Each config_load runs in a child process writing into shared memory, so that a crash (an ASan
 * report) fails that one check and the remaining checks still run. The token used everywhere is
 * checked never to appear in an error message or an origin.
 *
 * TLS fixtures come from tests/data/tls (run from the repo root, or set PZ_TEST_DATA).
 */
#include "check.h"
#include "harness.h"
#include "config.h"
#include "pz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN "tok-SECRET-6d1f0c-do-not-log"

static char dir[256];

/* ---- files ---- */

static const char *path_in(const char *name)
{
	static char bufs[8][512];
	static unsigned r;
	char *b = bufs[r++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
	return b;
}

static void put_file(const char *name, const char *text, size_t len)
{
	const char *p = path_in(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "test bug: cannot write %s\n", p);
		exit(2);
	}
	close(fd);
}

static void put_text(const char *name, const char *text) { put_file(name, text, strlen(text)); }

static void copy_fixture(const char *fixture, const char *name)
{
	size_t n;
	char *b = data_tls(fixture, &n);
	put_file(name, b, n);
	free(b);
}

/* base64 of a fixture file, for the -data fields */
static const char *fixture_b64(const char *fixture)
{
	static char bufs[4][24000];
	static unsigned r;
	char *b = bufs[r++ % 4];
	size_t n;
	char *f = data_tls(fixture, &n);
	if (4 * ((n + 2) / 3) + 1 > sizeof bufs[0]) {
		fprintf(stderr, "test bug: fixture %s too big for fixture_b64\n", fixture);
		exit(2);
	}
	b64((const unsigned char *)f, n, b);
	free(f);
	return b;
}

/* ---- isolated loads ---- */

struct result {
	int rc;
	int crashed;
	char err[1024];
	char origin[1024];
	struct kube_api api;
};

static struct result *res; /* shared with the child */
static int secret_leaks;

static int load(const char *kubeconfig, const char *context, const char *sa_dir)
{
	struct config_source src = { kubeconfig, context, sa_dir ? sa_dir : "/nonexistent-sa" };
	pid_t pid;
	int status = 0;

	memset(res, 0, sizeof *res);
	res->rc = -99999;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		res->rc = config_load(&res->api, &src, res->origin, sizeof res->origin, res->err, sizeof res->err);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		res->crashed = 1;
		fprintf(stderr, "  config_load crashed (kubeconfig %s)\n", kubeconfig ? kubeconfig : "(none)");
		return -99998;
	}
	if (strstr(res->err, TOKEN) || strstr(res->origin, TOKEN)) {
		secret_leaks++;
		fprintf(stderr, "  token in message: %s / %s\n", res->err, res->origin);
	}
	if (res->rc < 0 && res->err[0] == 0)
		fprintf(stderr, "  failure without a message (kubeconfig %s)\n", kubeconfig ? kubeconfig : "(none)");
	return res->rc;
}

static int err_has(const char *s)
{
	if (strstr(res->err, s))
		return 1;
	fprintf(stderr, "  error \"%s\" does not mention \"%s\"\n", res->err, s);
	return 0;
}

/* ---- kubeconfig text ---- */

/* A kubeconfig as kubectl writes it; cluster and user bodies are given indented by 4. */
static void kubeconfig(const char *name, const char *cluster, const char *user)
{
	char text[65536];
	snprintf(text, sizeof text,
		"apiVersion: v1\n"
		"kind: Config\n"
		"clusters:\n"
		"- cluster:\n"
		"%s"
		"  name: test\n"
		"contexts:\n"
		"- context:\n"
		"    cluster: test\n"
		"    user: admin\n"
		"  name: test\n"
		"current-context: test\n"
		"preferences: {}\n"
		"users:\n"
		"- name: admin\n"
		"  user:\n"
		"%s",
		cluster, user);
	put_text(name, text);
}

#define CA_FILE "    certificate-authority: ca.pem\n    server: https://127.0.0.1:6443\n"
#define USER_TOKEN "    token: " TOKEN "\n"

/* ---- tests ---- */

static void test_parse_server(void)
{
	static struct kube_api api;

	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "https://127.0.0.1:6443"), 0);
	CHECK_EQ_STR(api.target.host, "127.0.0.1");
	CHECK_EQ_STR(api.target.port, "6443");
	CHECK_EQ_INT(api.target.use_tls, 1);
	CHECK_EQ_STR(api.prefix, "");
	CHECK_EQ_STR(api.host_header, "127.0.0.1:6443");
	CHECK_EQ_INT(api.target.name.is_ip, 1);
	CHECK_EQ_INT(api.target.name.ip_len, 4);
	CHECK(memcmp(api.target.name.ip, "\x7f\0\0\x01", 4) == 0);

	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "https://[::1]:6443/"), 0);
	CHECK_EQ_STR(api.target.host, "::1");
	CHECK_EQ_STR(api.target.port, "6443");
	CHECK_EQ_STR(api.prefix, "");
	CHECK_EQ_STR(api.host_header, "[::1]:6443");
	CHECK_EQ_INT(api.target.name.is_ip, 1);
	CHECK_EQ_INT(api.target.name.ip_len, 16);

	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "https://[fd00:10:96::1]"), 0);
	CHECK_EQ_STR(api.target.host, "fd00:10:96::1");
	CHECK_EQ_STR(api.target.port, "443");
	CHECK_EQ_STR(api.host_header, "[fd00:10:96::1]");

	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "http://localhost"), 0);
	CHECK_EQ_INT(api.target.use_tls, 0);
	CHECK_EQ_STR(api.target.port, "80");
	CHECK_EQ_STR(api.host_header, "localhost");
	CHECK_EQ_INT(api.target.name.is_ip, 0);
	CHECK_EQ_STR(api.target.name.dns, "localhost");

	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "https://kubernetes.default.svc"), 0);
	CHECK_EQ_STR(api.target.port, "443");
	CHECK_EQ_STR(api.target.name.dns, "kubernetes.default.svc");

	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "https://rancher.example.com/k8s/clusters/c-1/"), 0);
	CHECK_EQ_STR(api.target.host, "rancher.example.com");
	CHECK_EQ_STR(api.prefix, "/k8s/clusters/c-1");
	CHECK_EQ_STR(api.host_header, "rancher.example.com");
	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "https://10.0.0.1:8443/proxy///"), 0);
	CHECK_EQ_STR(api.prefix, "/proxy");
	CHECK_EQ_STR(api.host_header, "10.0.0.1:8443");

	const char *bad[] = {
		"ftp://host", "127.0.0.1:6443", "https:/host", "HTTPS://host", "https://", "https://:443",
		"https://host:", "https://host:6443x", "https://host:-1", "https://host:123456789",
		"https://[::1", "https://[]:443", "https://host?x=1", "https://host#top", "https://host/path?x=1",
		"https://::1:6443", "",
	};
	for (size_t k = 0; k < PZ_ARRAY_LEN(bad); k++) {
		memset(&api, 0, sizeof api);
		int rc = config_parse_server(&api, bad[k]);
		CHECK(rc < 0);
		if (rc >= 0)
			fprintf(stderr, "  server \"%s\" accepted\n", bad[k]);
	}
	/* host longer than the target's field */
	{
		char url[400];
		memset(url, 'h', sizeof url);
		memcpy(url, "https://", 8);
		url[8 + 256] = 0;
		memset(&api, 0, sizeof api);
		CHECK_EQ_INT(config_parse_server(&api, url), PZ_ECONFIG);
		url[8 + 255] = 0;
		memset(&api, 0, sizeof api);
		CHECK_EQ_INT(config_parse_server(&api, url), 0);
		CHECK_EQ_INT(strlen(api.target.host), 255);
	}
	/* after the authority comes a path, a port or nothing: "https://[::1]x" has a path "x" */
	memset(&api, 0, sizeof api);
	CHECK(config_parse_server(&api, "https://[::1]x") < 0);
}

static void test_base64(void)
{
	unsigned char out[256];
	long n;

	CHECK_EQ_INT(config_base64_decode("aGVsbG8=", 8, out, sizeof out), 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK_EQ_INT(config_base64_decode("aGVsbG8", 7, out, sizeof out), 5);
	CHECK_EQ_INT(config_base64_decode(" aGVs\nbG8=\r\n\t", 13, out, sizeof out), 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK_EQ_INT(config_base64_decode("", 0, out, sizeof out), 0);
	CHECK_EQ_INT(config_base64_decode("Zg==", 4, out, sizeof out), 1);
	CHECK_EQ_INT(out[0], 'f');
	CHECK_EQ_INT(config_base64_decode("Zm8=", 4, out, sizeof out), 2);
	CHECK_EQ_INT(config_base64_decode("Zm9v", 4, out, sizeof out), 3);
	CHECK(memcmp(out, "foo", 3) == 0);
	CHECK_EQ_INT(config_base64_decode("+/+/", 4, out, sizeof out), 3);
	CHECK_EQ_INT(out[0], 0xfb);
	CHECK_EQ_INT(out[1], 0xff);
	CHECK_EQ_INT(out[2], 0xbf);

	CHECK_EQ_INT(config_base64_decode("aGV$bG8=", 8, out, sizeof out), PZ_ECONFIG);
	CHECK_EQ_INT(config_base64_decode("-_-_", 4, out, sizeof out), PZ_ECONFIG); /* URL alphabet */
	CHECK_EQ_INT(config_base64_decode("Zg==Zg==", 8, out, sizeof out), PZ_ECONFIG);
	CHECK_EQ_INT(config_base64_decode("Zg===", 5, out, sizeof out), PZ_ECONFIG);
	CHECK_EQ_INT(config_base64_decode("Zm9v\0Zm9v", 9, out, sizeof out), PZ_ECONFIG);
	/* the decoder stops at len, not at a NUL or the end of the string */
	CHECK_EQ_INT(config_base64_decode("Zm9vYmFy", 4, out, sizeof out), 3);
	/* output bound */
	CHECK_EQ_INT(config_base64_decode("Zm9vYmFy", 8, out, 5), PZ_ETOOBIG);
	CHECK_EQ_INT(config_base64_decode("Zm9vYmFy", 8, out, 6), 6);
	CHECK_EQ_INT(config_base64_decode("Zg==", 4, out, 0), PZ_ETOOBIG);

	/* every length and byte value round-trips, into an exactly sized buffer */
	int bad = 0;
	unsigned char in[200], *exact;
	char enc[300];
	for (size_t len = 0; len < sizeof in; len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(i * 37 + len * 11);
		size_t el = b64(in, len, enc);
		exact = malloc(len ? len : 1);
		n = config_base64_decode(enc, el, exact, len);
		bad += n != (long)len || memcmp(exact, in, len) != 0;
		free(exact);
	}
	CHECK_EQ_INT(bad, 0);
}

static void test_kubeconfig_token(void)
{
	copy_fixture("ca.pem", "ca.pem");
	kubeconfig("kc-token", CA_FILE, USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-token"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK_EQ_STR(res->api.target.host, "127.0.0.1");
	CHECK_EQ_STR(res->api.target.port, "6443");
	CHECK_EQ_INT(res->api.target.use_tls, 1);
	CHECK(res->api.target.creds == &res->api.creds);
	CHECK_EQ_INT(res->api.creds.nanchors, 1);
	CHECK_EQ_INT(res->api.creds.has_key, 0);
	CHECK_EQ_STR(res->api.token_file, "");
	CHECK(strstr(res->origin, path_in("kc-token")) != NULL);

	/* CA as data, and a CA bundle with two certificates */
	{
		char cluster[8192];
		snprintf(cluster, sizeof cluster, "    certificate-authority-data: %s\n    server: https://127.0.0.1:6443\n",
			fixture_b64("ca.pem"));
		kubeconfig("kc-ca-data", cluster, USER_TOKEN);
		CHECK_EQ_INT(load(path_in("kc-ca-data"), NULL, NULL), 0);
		CHECK_EQ_INT(res->api.creds.nanchors, 1);
		CHECK_EQ_STR(res->api.token, TOKEN);

		size_t n1, n2;
		char both[8192], *a = data_tls("ca.pem", &n1), *b = data_tls("ca2.pem", &n2);
		memcpy(both, a, n1);
		memcpy(both + n1, b, n2);
		free(a);
		free(b);
		put_file("bundle.pem", both, n1 + n2);
		kubeconfig("kc-bundle", "    certificate-authority: bundle.pem\n    server: https://127.0.0.1:6443\n",
			USER_TOKEN);
		CHECK_EQ_INT(load(path_in("kc-bundle"), NULL, NULL), 0);
		CHECK_EQ_INT(res->api.creds.nanchors, 2);
	}

	/* an absolute CA path */
	{
		char cluster[1024];
		snprintf(cluster, sizeof cluster, "    certificate-authority: %s\n    server: https://127.0.0.1:6443\n",
			path_in("ca.pem"));
		kubeconfig("kc-ca-abs", cluster, USER_TOKEN);
		CHECK_EQ_INT(load(path_in("kc-ca-abs"), NULL, NULL), 0);
		CHECK_EQ_INT(res->api.creds.nanchors, 1);
	}

	/* quoted values, comments, CRLF line ends */
	put_text("kc-quoted",
		"# written by hand\r\n"
		"apiVersion: v1\r\n"
		"clusters:\r\n"
		"- cluster:\r\n"
		"    certificate-authority: 'ca.pem'\r\n"
		"    server: \"https://127.0.0.1:6443\"\r\n"
		"    # a comment line\r\n"
		"  name: \"test\"\r\n"
		"contexts:\r\n"
		"- context:\r\n"
		"    cluster: test\r\n"
		"    user: admin\r\n"
		"  name: test\r\n"
		"current-context: \"test\"\r\n"
		"users:\r\n"
		"- name: admin\r\n"
		"  user:\r\n"
		"    token: \"" TOKEN "\"\r\n");
	CHECK_EQ_INT(load(path_in("kc-quoted"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK_EQ_STR(res->api.target.port, "6443");
	/* yaml.h promises comments: one after a quoted value is still a comment */
	kubeconfig("kc-quoted-comment", "    certificate-authority: \"ca.pem\"  # the cluster CA\n"
		"    server: https://127.0.0.1:6443 # local\n", USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-quoted-comment"), NULL, NULL), 0);
	if (res->rc != 0)
		fprintf(stderr, "  %s\n", res->err);

	/* a token longer than the field: refused, and not echoed */
	{
		static char user[8192];
		int o = snprintf(user, sizeof user, "    token: " TOKEN);
		memset(user + o, 'x', KUBE_TOKEN_MAX);
		strcpy(user + o + KUBE_TOKEN_MAX, "\n");
		kubeconfig("kc-longtoken", CA_FILE, user);
		CHECK_EQ_INT(load(path_in("kc-longtoken"), NULL, NULL), PZ_ECONFIG);
		CHECK(err_has("token"));
	}
}

static void test_kubeconfig_token_file(void)
{
	copy_fixture("ca.pem", "ca.pem");
	mkdir(path_in("creds"), 0700);
	put_text("creds/token", TOKEN "\n");
	/* relative to the kubeconfig's folder, not to the working directory */
	kubeconfig("kc-tokenfile", CA_FILE, "    tokenFile: creds/token\n");
	CHECK_EQ_INT(load(path_in("kc-tokenfile"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK_EQ_STR(res->api.token_file, path_in("creds/token"));

	/* a kubeconfig in a sub-folder: paths are relative to that folder */
	mkdir(path_in("sub"), 0700);
	copy_fixture("ca.pem", "sub/ca.pem");
	put_text("sub/tok", TOKEN);
	kubeconfig("sub/config", CA_FILE, "    tokenFile: tok\n");
	CHECK_EQ_INT(load(path_in("sub/config"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK_EQ_STR(res->api.token_file, path_in("sub/tok"));

	/* missing, empty, or holding bytes a header cannot carry */
	kubeconfig("kc-tokenfile-missing", CA_FILE, "    tokenFile: creds/nope\n");
	CHECK_EQ_INT(load(path_in("kc-tokenfile-missing"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("tokenFile"));
	put_text("creds/empty", "\n");
	kubeconfig("kc-tokenfile-empty", CA_FILE, "    tokenFile: creds/empty\n");
	CHECK_EQ_INT(load(path_in("kc-tokenfile-empty"), NULL, NULL), PZ_ECONFIG);
	put_text("creds/spaced", TOKEN " " TOKEN "\n");
	kubeconfig("kc-tokenfile-bad", CA_FILE, "    tokenFile: creds/spaced\n");
	CHECK_EQ_INT(load(path_in("kc-tokenfile-bad"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("tokenFile"));
}

static void client_case(const char *cert_fixture, const char *key_fixture, int as_data)
{
	char user[24000];
	copy_fixture(cert_fixture, "client.pem");
	copy_fixture(key_fixture, "client.key");
	if (as_data)
		snprintf(user, sizeof user, "    client-certificate-data: %s\n    client-key-data: %s\n",
			fixture_b64(cert_fixture), fixture_b64(key_fixture));
	else
		snprintf(user, sizeof user, "    client-certificate: client.pem\n    client-key: client.key\n");
	kubeconfig("kc-client", CA_FILE, user);
	int rc = load(path_in("kc-client"), NULL, NULL);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "  client %s + %s (%s): %s\n", cert_fixture, key_fixture, as_data ? "data" : "files",
			res->err);
	CHECK_EQ_INT(res->api.creds.has_key, 1);
	CHECK_EQ_INT(res->api.creds.nchain, 1);
	CHECK_EQ_STR(res->api.token, "");
}

static void test_kubeconfig_client_cert(void)
{
	copy_fixture("ca.pem", "ca.pem");
	for (int data = 0; data < 2; data++) {
		client_case("client-rsa.pem", "client-rsa-pkcs1.key", data);
		client_case("client-rsa.pem", "client-rsa-pkcs8.key", data);
		client_case("client-ec.pem", "client-ec-sec1.key", data);
		client_case("client-ec.pem", "client-ec-pkcs8.key", data);
	}

	/* token and client certificate together */
	copy_fixture("client-ec.pem", "client.pem");
	copy_fixture("client-ec-sec1.key", "client.key");
	kubeconfig("kc-both", CA_FILE, "    client-certificate: client.pem\n    client-key: client.key\n" USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-both"), NULL, NULL), 0);
	CHECK_EQ_INT(res->api.creds.has_key, 1);
	CHECK_EQ_STR(res->api.token, TOKEN);

	/* half a pair */
	kubeconfig("kc-cert-only", CA_FILE, "    client-certificate: client.pem\n" USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-cert-only"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("both"));
	kubeconfig("kc-key-only", CA_FILE, "    client-key: client.key\n" USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-key-only"), NULL, NULL), PZ_ECONFIG);
	/* a key that is not a key, a certificate that is not PEM, a missing file */
	put_text("garbage.key", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
	kubeconfig("kc-bad-key", CA_FILE, "    client-certificate: client.pem\n    client-key: garbage.key\n" USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-bad-key"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("client certificate or key"));
	put_text("notpem.pem", "hello\n");
	kubeconfig("kc-bad-cert", CA_FILE, "    client-certificate: notpem.pem\n    client-key: client.key\n");
	CHECK_EQ_INT(load(path_in("kc-bad-cert"), NULL, NULL), PZ_ECONFIG);
	kubeconfig("kc-no-key-file", CA_FILE, "    client-certificate: client.pem\n    client-key: missing.key\n");
	CHECK_EQ_INT(load(path_in("kc-no-key-file"), NULL, NULL), PZ_ECONFIG);
	kubeconfig("kc-bad-key-data", CA_FILE, "    client-certificate: client.pem\n    client-key-data: not*base64\n");
	CHECK_EQ_INT(load(path_in("kc-bad-key-data"), NULL, NULL), PZ_ECONFIG);
	/* client certificates over plain http make no sense */
	kubeconfig("kc-cert-http", "    server: http://127.0.0.1:8080\n",
		"    client-certificate: client.pem\n    client-key: client.key\n");
	CHECK_EQ_INT(load(path_in("kc-cert-http"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("https"));
}

static void test_kubeconfig_server_name(void)
{
	copy_fixture("ca.pem", "ca.pem");
	kubeconfig("kc-sni", "    certificate-authority: ca.pem\n    server: https://127.0.0.1:6443\n"
		"    tls-server-name: kubernetes.default.svc\n", USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-sni"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "127.0.0.1");           /* where we connect */
	CHECK_EQ_INT(res->api.target.name.is_ip, 0);               /* what we verify */
	CHECK_EQ_STR(res->api.target.name.dns, "kubernetes.default.svc");
	CHECK_EQ_STR(res->api.host_header, "127.0.0.1:6443");

	kubeconfig("kc-sni-ip", "    certificate-authority: ca.pem\n    server: https://localhost:6443\n"
		"    tls-server-name: 10.96.0.1\n", USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-sni-ip"), NULL, NULL), 0);
	CHECK_EQ_INT(res->api.target.name.is_ip, 1);
	CHECK_EQ_INT(res->api.target.name.ip_len, 4);
}

static void test_kubeconfig_refusals(void)
{
	copy_fixture("ca.pem", "ca.pem");

	struct {
		const char *name, *cluster, *user, *must_say;
	} cases[] = {
		{ "kc-exec", CA_FILE,
		  "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n" USER_TOKEN,
		  "exec" },
		{ "kc-authprov", CA_FILE, "    auth-provider:\n      name: gcp\n" USER_TOKEN, "auth-provider" },
		{ "kc-basic", CA_FILE, "    username: admin\n    password: " TOKEN "\n", "username" },
		{ "kc-password", CA_FILE, "    password: " TOKEN "\n", "password" },
		{ "kc-as", CA_FILE, USER_TOKEN "    as: someone\n", "\"as\"" },
		{ "kc-insecure", CA_FILE "    insecure-skip-tls-verify: true\n", USER_TOKEN, "insecure-skip-tls-verify" },
		{ "kc-proxy", CA_FILE "    proxy-url: http://proxy:3128\n", USER_TOKEN, "proxy-url" },
		{ "kc-no-ca", "    server: https://127.0.0.1:6443\n", USER_TOKEN, "certificate-authority" },
		{ "kc-ca-missing", "    certificate-authority: nope.pem\n    server: https://127.0.0.1:6443\n", USER_TOKEN,
		  "certificate-authority" },
		{ "kc-ca-notpem", "    certificate-authority: notpem.pem\n    server: https://127.0.0.1:6443\n", USER_TOKEN,
		  "certificate-authority" },
		{ "kc-ca-baddata", "    certificate-authority-data: '!!!'\n    server: https://127.0.0.1:6443\n", USER_TOKEN,
		  "certificate-authority" },
		{ "kc-no-server", "    certificate-authority: ca.pem\n", USER_TOKEN, "server" },
		{ "kc-bad-server", "    certificate-authority: ca.pem\n    server: ftp://127.0.0.1\n", USER_TOKEN, "server" },
	};
	put_text("notpem.pem", "not a certificate\n");
	for (size_t k = 0; k < PZ_ARRAY_LEN(cases); k++) {
		kubeconfig(cases[k].name, cases[k].cluster, cases[k].user);
		int rc = load(path_in(cases[k].name), NULL, NULL);
		CHECK_EQ_INT(rc, PZ_ECONFIG);
		CHECK(err_has(cases[k].must_say));
		CHECK(strchr(res->err, '\n') == NULL); /* one line */
		CHECK_EQ_STR(res->api.token, "");      /* nothing half-loaded is used: the load failed */
		if (rc != PZ_ECONFIG)
			fprintf(stderr, "  %s: rc %d\n", cases[k].name, rc);
	}

	/* insecure-skip-tls-verify: false is fine; plain http needs no CA */
	kubeconfig("kc-insecure-false", CA_FILE "    insecure-skip-tls-verify: false\n", USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-insecure-false"), NULL, NULL), 0);
	kubeconfig("kc-http", "    server: http://127.0.0.1:8080\n", USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-http"), NULL, NULL), 0);
	CHECK_EQ_INT(res->api.target.use_tls, 0);
	CHECK_EQ_INT(res->api.creds.nanchors, 0);
}

static void test_kubeconfig_structure(void)
{
	static const char *const clusters =
		"clusters:\n"
		"- cluster:\n"
		"    certificate-authority: ca.pem\n"
		"    server: https://127.0.0.1:6443\n"
		"  name: one\n"
		"- cluster:\n"
		"    certificate-authority: ca.pem\n"
		"    server: https://10.0.0.2:443\n"
		"  name: two\n";
	char text[4096];

	copy_fixture("ca.pem", "ca.pem");

	/* --context picks another context; users with no credentials are allowed */
	snprintf(text, sizeof text, "apiVersion: v1\n%s"
		"contexts:\n"
		"- context:\n    cluster: one\n    user: admin\n  name: first\n"
		"- context:\n    cluster: two\n    user: nobody\n  name: second\n"
		"current-context: first\n"
		"users:\n"
		"- name: admin\n  user:\n    token: " TOKEN "\n"
		"- name: nobody\n  user: {}\n", clusters);
	put_text("kc-multi", text);
	CHECK_EQ_INT(load(path_in("kc-multi"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "127.0.0.1");
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK_EQ_INT(load(path_in("kc-multi"), "second", NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.2");
	CHECK_EQ_STR(res->api.token, "");
	CHECK_EQ_INT(load(path_in("kc-multi"), "third", NULL), PZ_ECONFIG);
	CHECK(err_has("third"));

	/* a user named only, without a user mapping */
	snprintf(text, sizeof text, "%scontexts:\n- context:\n    cluster: one\n    user: bare\n  name: c\n"
		"current-context: c\nusers:\n- name: bare\n", clusters);
	put_text("kc-bare-user", text);
	CHECK_EQ_INT(load(path_in("kc-bare-user"), NULL, NULL), 0);

	/* missing user, context, cluster, current-context */
	snprintf(text, sizeof text, "%scontexts:\n- context:\n    cluster: one\n    user: ghost\n  name: c\n"
		"current-context: c\nusers:\n- name: admin\n  user:\n    token: " TOKEN "\n", clusters);
	put_text("kc-no-user", text);
	CHECK_EQ_INT(load(path_in("kc-no-user"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("user \"ghost\" not found"));

	snprintf(text, sizeof text, "%scontexts:\n- context:\n    cluster: one\n    user: admin\n  name: c\n"
		"current-context: elsewhere\nusers:\n- name: admin\n  user:\n    token: " TOKEN "\n", clusters);
	put_text("kc-no-context", text);
	CHECK_EQ_INT(load(path_in("kc-no-context"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("context \"elsewhere\" not found"));

	snprintf(text, sizeof text, "%scontexts:\n- context:\n    cluster: three\n    user: admin\n  name: c\n"
		"current-context: c\nusers:\n- name: admin\n  user:\n    token: " TOKEN "\n", clusters);
	put_text("kc-no-cluster", text);
	CHECK_EQ_INT(load(path_in("kc-no-cluster"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("cluster"));

	snprintf(text, sizeof text, "%scontexts:\n- context:\n    user: admin\n  name: c\n"
		"current-context: c\nusers:\n- name: admin\n  user:\n    token: " TOKEN "\n", clusters);
	put_text("kc-ctx-no-cluster", text);
	CHECK_EQ_INT(load(path_in("kc-ctx-no-cluster"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("cluster"));

	snprintf(text, sizeof text, "%scontexts:\n- context:\n    cluster: one\n    user: admin\n  name: c\n"
		"users:\n- name: admin\n  user:\n    token: " TOKEN "\n", clusters);
	put_text("kc-no-current", text);
	CHECK_EQ_INT(load(path_in("kc-no-current"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("current-context"));
	CHECK_EQ_INT(load(path_in("kc-no-current"), "c", NULL), 0); /* --context fills the gap */
	CHECK_EQ_STR(res->api.token, TOKEN);

	/* unreadable and invalid files */
	CHECK_EQ_INT(load(path_in("no-such-kubeconfig"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("no-such-kubeconfig"));
	put_text("kc-tabs", "apiVersion: v1\nclusters:\n-\tcluster:\n\t\tserver: x\n");
	CHECK_EQ_INT(load(path_in("kc-tabs"), NULL, NULL), PZ_ECONFIG);
	put_text("kc-tabs2", "apiVersion: v1\nclusters:\n\t- name: x\n");
	CHECK_EQ_INT(load(path_in("kc-tabs2"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("line 3"));
	put_text("kc-empty", "");
	CHECK_EQ_INT(load(path_in("kc-empty"), NULL, NULL), PZ_ECONFIG);
}

static void sa_dir_with(const char *name, const char *ca_fixture, const char *token)
{
	char p[300];
	mkdir(path_in(name), 0700);
	snprintf(p, sizeof p, "%s/ca.crt", name);
	if (ca_fixture)
		copy_fixture(ca_fixture, p);
	snprintf(p, sizeof p, "%s/token", name);
	if (token)
		put_text(p, token);
}

static void test_in_cluster(void)
{
	char sa[300];

	unsetenv("KUBECONFIG");
	setenv("HOME", dir, 1);
	sa_dir_with("sa", "ca.pem", TOKEN);
	snprintf(sa, sizeof sa, "%s", path_in("sa"));

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	CHECK_EQ_INT(load(NULL, NULL, sa), 0);
	CHECK_EQ_STR(res->api.target.host, "10.96.0.1");
	CHECK_EQ_STR(res->api.target.port, "443");
	CHECK_EQ_INT(res->api.target.use_tls, 1);
	CHECK_EQ_INT(res->api.target.name.is_ip, 1);
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK(strstr(res->api.token_file, "sa/token") != NULL);
	CHECK_EQ_INT(res->api.creds.nanchors, 1);
	CHECK(strstr(res->origin, "in-cluster") != NULL);
	CHECK(res->api.target.creds == &res->api.creds);

	/* a token file with a trailing newline, a port of its own, an IPv6 service address */
	sa_dir_with("sa6", "ca.pem", TOKEN "\n");
	snprintf(sa, sizeof sa, "%s", path_in("sa6"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	CHECK_EQ_INT(load(NULL, NULL, sa), 0);
	CHECK_EQ_STR(res->api.target.host, "fd00:10:96::1");
	CHECK_EQ_STR(res->api.target.port, "6443");
	CHECK_EQ_STR(res->api.host_header, "[fd00:10:96::1]:6443");
	CHECK_EQ_INT(res->api.target.name.ip_len, 16);
	CHECK_EQ_STR(res->api.token, TOKEN);
	/* no port: 443 */
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	CHECK_EQ_INT(load(NULL, NULL, sa), 0);
	CHECK_EQ_STR(res->api.target.port, "443");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	/* missing or bad files */
	sa_dir_with("sa-no-ca", NULL, TOKEN);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-no-ca")), PZ_ECONFIG);
	CHECK(err_has("ca.crt"));
	sa_dir_with("sa-no-token", "ca.pem", NULL);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-no-token")), PZ_ECONFIG);
	CHECK(err_has("token"));
	sa_dir_with("sa-bad-ca", NULL, TOKEN);
	put_text("sa-bad-ca/ca.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-bad-ca")), PZ_ECONFIG);
	CHECK(err_has("ca.crt"));
	sa_dir_with("sa-empty-token", "ca.pem", "\n");
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-empty-token")), PZ_ECONFIG);
	setenv("KUBERNETES_SERVICE_HOST", "bad?host", 1);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa")), PZ_ECONFIG);
	CHECK(err_has("KUBERNETES_SERVICE_HOST"));

	/* without the environment: not in a cluster, nothing else either */
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa")), PZ_ECONFIG);
	CHECK(err_has("no configuration"));
	setenv("KUBERNETES_SERVICE_HOST", "", 1);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa")), PZ_ECONFIG);
	unsetenv("KUBERNETES_SERVICE_HOST");
}

static void test_search_order(void)
{
	char env[2048];

	copy_fixture("ca.pem", "ca.pem");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", dir, 1);
	kubeconfig("kc-a", "    certificate-authority: ca.pem\n    server: https://10.0.0.1:6443\n", USER_TOKEN);
	kubeconfig("kc-b", "    certificate-authority: ca.pem\n    server: https://10.0.0.2:6443\n", USER_TOKEN);

	/* KUBECONFIG with several paths: the first that exists */
	snprintf(env, sizeof env, "%s:%s:%s", path_in("missing-1"), path_in("kc-b"), path_in("kc-a"));
	setenv("KUBECONFIG", env, 1);
	CHECK_EQ_INT(load(NULL, NULL, NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.2");
	CHECK(strstr(res->origin, "kc-b") != NULL && strstr(res->origin, "KUBECONFIG") != NULL);
	snprintf(env, sizeof env, "::%s::%s:", path_in("kc-a"), path_in("kc-b"));
	setenv("KUBECONFIG", env, 1);
	CHECK_EQ_INT(load(NULL, NULL, NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.1");
	/* a single path */
	setenv("KUBECONFIG", path_in("kc-b"), 1);
	CHECK_EQ_INT(load(NULL, NULL, NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.2");
	/* the first existing one is used even when it is broken: no silent fallback */
	put_text("kc-broken", "apiVersion: v1\n");
	snprintf(env, sizeof env, "%s:%s", path_in("kc-broken"), path_in("kc-a"));
	setenv("KUBECONFIG", env, 1);
	CHECK_EQ_INT(load(NULL, NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("kc-broken"));

	/* --kubeconfig wins over KUBECONFIG */
	setenv("KUBECONFIG", path_in("kc-b"), 1);
	CHECK_EQ_INT(load(path_in("kc-a"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.1");

	/* KUBECONFIG wins over in-cluster */
	sa_dir_with("sa-order", "ca.pem", TOKEN);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-order")), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.2");
	/* none of KUBECONFIG's paths exists: in-cluster */
	snprintf(env, sizeof env, "%s:%s", path_in("missing-1"), path_in("missing-2"));
	setenv("KUBECONFIG", env, 1);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-order")), 0);
	CHECK_EQ_STR(res->api.target.host, "10.96.0.1");
	/* in-cluster wins over ~/.kube/config */
	mkdir(path_in(".kube"), 0700);
	copy_fixture("ca.pem", ".kube/ca.pem");
	kubeconfig(".kube/config", "    certificate-authority: ca.pem\n    server: https://10.0.0.3:6443\n", USER_TOKEN);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-order")), 0);
	CHECK_EQ_STR(res->api.target.host, "10.96.0.1");
	/* last: ~/.kube/config */
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBECONFIG");
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-order")), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.3");
	CHECK(strstr(res->origin, ".kube/config") != NULL);
	setenv("KUBECONFIG", "", 1);
	CHECK_EQ_INT(load(NULL, NULL, path_in("sa-order")), 0);
	CHECK_EQ_STR(res->api.target.host, "10.0.0.3");
	unsetenv("KUBECONFIG");
}

static void cleanup(void)
{
	char cmd[400];
	if (dir[0] && strncmp(dir, "/tmp/pz-config-", 15) == 0) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

int main(void)
{
	strcpy(dir, "/tmp/pz-config-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", dir, 1);

	test_parse_server();
	test_base64();
	test_kubeconfig_token();
	test_kubeconfig_token_file();
	test_kubeconfig_client_cert();
	test_kubeconfig_server_name();
	test_kubeconfig_refusals();
	test_kubeconfig_structure();
	test_in_cluster();
	test_search_order();
	CHECK_EQ_INT(secret_leaks, 0);
	cleanup();
	return check_done("config");
}
