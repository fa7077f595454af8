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
#include "execcred.h"
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
		{ "kc-proxy", CA_FILE "    proxy-url: socks5://proxy:1080\n", USER_TOKEN, "proxy-url" },
		{ "kc-proxy-https", CA_FILE "    proxy-url: https://proxy:3128\n", USER_TOKEN, "proxy-url" },
		{ "kc-insecure-yes", CA_FILE "    insecure-skip-tls-verify: yes\n", USER_TOKEN, "insecure-skip-tls-verify" },
		{ "kc-insecure-str", CA_FILE "    insecure-skip-tls-verify: \"true\"\n", USER_TOKEN, "insecure-skip-tls-verify" },
		{ "kc-token-crlf", CA_FILE, "    token: \"" TOKEN "\\r\\nX-Injected: yes\"\n", "token" },
		{ "kc-token-ctl", CA_FILE, "    token: \"" TOKEN "\\t\"\n", "token" },
		{ "kc-token-space", CA_FILE, "    token: '" TOKEN " more'\n", "token" },
		{ "kc-exec-v1alpha1", CA_FILE, "    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: aws\n", "v1alpha1" },
		{ "kc-exec-nomode", CA_FILE, "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n", "interactiveMode" },
		{ "kc-exec-always", CA_FILE, "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n      interactiveMode: Always\n", "Always" },
		{ "kc-exec-nocmd", CA_FILE, "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n", "command" },
		{ "kc-exec-missing", CA_FILE, "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /nonexistent/plugin\n      installHint: install it with apt\n", "install it with apt" },
		{ "kc-user-scalar", CA_FILE, "    tok\n", "user" },
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
		if (!err_has(cases[k].must_say))
			fprintf(stderr, "  (case %s)\n", cases[k].name);
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
	CHECK(err_has("user \"ghost\" of context \"c\" not found"));

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
	put_text("kc-broken", "apiVersion: v1\nclusters: [\n");
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


/* ---- YAML flavours, merging ---- */

static void test_kubeconfig_flavours(void)
{
	char text[4096];

	copy_fixture("ca.pem", "ca.pem");
	/* flow style, which used to be misread as "cluster of context not found" */
	put_text("kc-flow",
		"apiVersion: v1\n"
		"clusters: [{name: local, cluster: {server: 'https://127.0.0.1:6443', certificate-authority: ca.pem}}]\n"
		"contexts:\n- context: {cluster: local, user: u}\n  name: local\n"
		"current-context: local\n"
		"users: [{name: u, user: {token: " TOKEN "}}]\n");
	CHECK_EQ_INT(load(path_in("kc-flow"), NULL, NULL), 0);
	if (res->rc != 0)
		fprintf(stderr, "  flow: %s\n", res->err);
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK_EQ_STR(res->api.target.port, "6443");
	/* JSON, as kubectl config view --raw -o json writes it */
	snprintf(text, sizeof text,
		"{\n  \"kind\": \"Config\",\n  \"apiVersion\": \"v1\",\n  \"preferences\": {},\n"
		"  \"clusters\": [\n    {\n      \"name\": \"j\",\n      \"cluster\": {\n"
		"        \"server\": \"https://127.0.0.1:7443\",\n        \"certificate-authority-data\": \"%s\"\n"
		"      }\n    }\n  ],\n"
		"  \"users\": [\n    {\n      \"name\": \"ju\",\n      \"user\": {\n        \"token\": \"" TOKEN "\"\n      }\n    }\n  ],\n"
		"  \"contexts\": [\n    {\n      \"name\": \"jc\",\n      \"context\": {\n        \"cluster\": \"j\",\n"
		"        \"user\": \"ju\"\n      }\n    }\n  ],\n  \"current-context\": \"jc\"\n}\n", fixture_b64("ca.pem"));
	put_text("kc-json", text);
	CHECK_EQ_INT(load(path_in("kc-json"), NULL, NULL), 0);
	if (res->rc != 0)
		fprintf(stderr, "  json: %s\n", res->err);
	CHECK_EQ_STR(res->api.target.port, "7443");
	CHECK_EQ_STR(res->api.token, TOKEN);
	/* errors name the line and the construct, and the file */
	put_text("kc-trunc", "apiVersion: v1\nclusters:\n- cluster:\n    server: \"https://127.0.0.1:6443\n");
	CHECK_EQ_INT(load(path_in("kc-trunc"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("line 4") && err_has("never closed") && err_has("kc-trunc"));
	put_text("kc-trunc2", "apiVersion: v1\ncurrent-context: c\ncontexts:\n- name: c\n  cont");
	CHECK_EQ_INT(load(path_in("kc-trunc2"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("line 5"));
	put_text("kc-tab", "apiVersion: v1\nclusters:\n\t- name: x\n");
	CHECK_EQ_INT(load(path_in("kc-tab"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("line 3") && err_has("tab"));
	put_text("kc-jtrunc", "{\"apiVersion\": \"v1\", \"clusters\": [{\"name\": \"x\"");
	CHECK_EQ_INT(load(path_in("kc-jtrunc"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("never closed"));
	/* a misplaced section type is named, not "not found" */
	put_text("kc-type", "apiVersion: v1\ncurrent-context: c\ncontexts: {c: x}\n");
	CHECK_EQ_INT(load(path_in("kc-type"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("line 3") && err_has("sequence"));
	/* unknown context: the message lists the ones there are */
	kubeconfig("kc-plain", CA_FILE, USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-plain"), "nope", NULL), PZ_ECONFIG);
	CHECK(err_has("\"nope\" not found") && err_has("\"test\""));
}

static void test_kubeconfig_merge(void)
{
	char env[2048];

	unsetenv("KUBERNETES_SERVICE_HOST");
	mkdir(path_in("m1"), 0700);
	mkdir(path_in("m2"), 0700);
	copy_fixture("ca.pem", "m2/ca.pem");
	put_text("m2/tok", TOKEN "\n");
	/* file 1: the context and current-context; file 2: cluster and user, paths relative to file 2 */
	put_text("m1/config", "apiVersion: v1\ncurrent-context: merged\n"
		"contexts:\n- name: merged\n  context: {cluster: c2, user: u2}\n"
		"- name: dup\n  context: {cluster: first, user: u2}\n");
	put_text("m2/config", "apiVersion: v1\ncurrent-context: ignored\n"
		"clusters:\n- name: c2\n  cluster: {server: 'https://10.1.2.3:6443', certificate-authority: ca.pem}\n"
		"- name: first\n  cluster: {server: 'https://10.9.9.9', certificate-authority: ca.pem}\n"
		"contexts:\n- name: dup\n  context: {cluster: c2, user: u2}\n"
		"users:\n- name: u2\n  user: {tokenFile: tok}\n");
	snprintf(env, sizeof env, "%s:%s:%s", path_in("m1/config"), path_in("missing"), path_in("m2/config"));
	setenv("KUBECONFIG", env, 1);
	CHECK_EQ_INT(load(NULL, NULL, NULL), 0);
	if (res->rc != 0)
		fprintf(stderr, "  merge: %s\n", res->err);
	CHECK_EQ_STR(res->api.target.host, "10.1.2.3");
	CHECK_EQ_STR(res->api.token, TOKEN);
	CHECK_EQ_STR(res->api.token_file, path_in("m2/tok"));
	CHECK(strstr(res->origin, "merged") != NULL);
	/* the first file to define a name wins, whole */
	CHECK_EQ_INT(load(NULL, "dup", NULL), 0);
	CHECK_EQ_STR(res->api.target.host, "10.9.9.9");
	/* the other order: current-context from m2 ("ignored" does not exist) */
	snprintf(env, sizeof env, "%s:%s", path_in("m2/config"), path_in("m1/config"));
	setenv("KUBECONFIG", env, 1);
	CHECK_EQ_INT(load(NULL, NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("\"ignored\" not found"));
	/* an unreadable file in the list is an error, not skipped */
	put_text("m1/bad", "a: [\n");
	snprintf(env, sizeof env, "%s:%s", path_in("m1/config"), path_in("m1/bad"));
	setenv("KUBECONFIG", env, 1);
	CHECK_EQ_INT(load(NULL, NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("m1/bad") && err_has("line 1"));
	unsetenv("KUBECONFIG");
}

/* ---- proxies ---- */

static void test_proxy(void)
{
	struct conn_proxy px;
	static const struct {
		const char *list, *host, *port;
		int direct;
	} np[] = {
		{ NULL, "localhost", "6443", 1 },                 /* never proxied */
		{ NULL, "127.0.0.1", "6443", 1 },
		{ NULL, "127.8.9.1", "6443", 1 },
		{ NULL, "::1", "6443", 1 },
		{ NULL, "10.0.0.1", "443", 0 },
		{ "*", "api.example.com", "443", 1 },
		{ "example.com", "example.com", "443", 1 },
		{ "example.com", "api.example.com", "443", 1 },
		{ "example.com", "badexample.com", "443", 0 },
		{ ".example.com", "example.com", "443", 0 },
		{ ".example.com", "api.example.com", "443", 1 },
		{ "*.example.com", "api.example.com", "443", 1 },
		{ " foo.org , EXAMPLE.com ", "Api.Example.COM", "443", 1 },
		{ "example.com:6443", "api.example.com", "443", 0 },
		{ "example.com:443", "api.example.com", "443", 1 },
		{ "10.0.0.1", "10.0.0.1", "443", 1 },
		{ "10.0.0.1", "10.0.0.2", "443", 0 },
		{ "10.0.0.1:6443", "10.0.0.1", "443", 0 },
		{ "10.0.0.0/8", "10.20.30.40", "443", 1 },
		{ "10.0.0.0/8", "11.0.0.1", "443", 0 },
		{ "10.0.0.0/8", "ten.example.com", "443", 0 },
		{ "fd00::/8", "fd00:10:96::1", "443", 1 },
		{ "[fd00::1]:443", "fd00::1", "443", 1 },
		{ "fd00::1", "fd00::1", "443", 1 },
		{ "fd00::1", "fd00::2", "443", 0 },
		{ ",,", "10.0.0.1", "443", 0 },
	};
	for (size_t i = 0; i < PZ_ARRAY_LEN(np); i++) {
		int d = config_no_proxy(np[i].list, np[i].host, np[i].port);
		CHECK_EQ_INT(d, np[i].direct);
		if (d != np[i].direct)
			fprintf(stderr, "  NO_PROXY=\"%s\" host %s:%s\n", np[i].list ? np[i].list : "(unset)", np[i].host, np[i].port);
	}
	CHECK_EQ_INT(config_parse_proxy(&px, "http://proxy.corp:3128", 0), 0);
	CHECK_EQ_INT(px.set, 1);
	CHECK_EQ_STR(px.host, "proxy.corp");
	CHECK_EQ_STR(px.port, "3128");
	CHECK_EQ_STR(px.authorization, "");
	CHECK_EQ_INT(config_parse_proxy(&px, "HTTP://user:p%40ss@[fd00::5]/", 0), 0);
	CHECK_EQ_STR(px.host, "fd00::5");
	CHECK_EQ_STR(px.port, "80");
	CHECK_EQ_STR(px.authorization, "Basic dXNlcjpwQHNz"); /* user:p@ss */
	CHECK_EQ_INT(config_parse_proxy(&px, "proxy:8080", 1), 0);  /* env: http:// implied */
	CHECK_EQ_STR(px.host, "proxy");
	CHECK_EQ_INT(config_parse_proxy(&px, "proxy:8080", 0), PZ_ECONFIG); /* proxy-url needs a scheme */
	CHECK_EQ_INT(config_parse_proxy(&px, "socks5://proxy:1080", 1), PZ_ECONFIG);
	CHECK_EQ_INT(config_parse_proxy(&px, "https://proxy:443", 0), PZ_ECONFIG);
	CHECK_EQ_INT(config_parse_proxy(&px, "http://proxy:99999", 0), PZ_ECONFIG);
	CHECK_EQ_INT(config_parse_proxy(&px, "http://:3128", 0), PZ_ECONFIG);
	CHECK_EQ_INT(config_parse_proxy(&px, "http://u:%zz@p:1", 0), PZ_ECONFIG);

	/* through config_load: proxy-url always, the environment unless NO_PROXY or loopback */
	copy_fixture("ca.pem", "ca.pem");
	kubeconfig("kc-purl", CA_FILE "    proxy-url: http://u:" TOKEN "@127.0.0.1:3128\n", USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-purl"), NULL, NULL), 0);
	CHECK_EQ_INT(res->api.target.proxy.set, 1);
	CHECK_EQ_STR(res->api.target.proxy.port, "3128");
	CHECK(strncmp(res->api.target.proxy.authorization, "Basic ", 6) == 0);
	setenv("HTTPS_PROXY", "http://envproxy:3128", 1);
	kubeconfig("kc-env", "    certificate-authority: ca.pem\n    server: https://10.0.0.1:6443\n", USER_TOKEN);
	CHECK_EQ_INT(load(path_in("kc-env"), NULL, NULL), 0);
	CHECK_EQ_INT(res->api.target.proxy.set, 1);
	CHECK_EQ_STR(res->api.target.proxy.host, "envproxy");
	setenv("NO_PROXY", "10.0.0.0/16", 1);
	CHECK_EQ_INT(load(path_in("kc-env"), NULL, NULL), 0);
	CHECK_EQ_INT(res->api.target.proxy.set, 0);
	unsetenv("NO_PROXY");
	CHECK_EQ_INT(load(path_in("kc-token"), NULL, NULL), 0); /* 127.0.0.1: never proxied */
	CHECK_EQ_INT(res->api.target.proxy.set, 0);
	setenv("HTTPS_PROXY", "socks5://envproxy:1080", 1);
	CHECK_EQ_INT(load(path_in("kc-env"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("HTTPS_PROXY"));
	unsetenv("HTTPS_PROXY");
}

static void test_format_server(void)
{
	static struct kube_api api;
	char out[600];
	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "https://[::1]:6443/k8s/c-1/"), 0);
	CHECK(config_format_server(&api, out, sizeof out) > 0);
	CHECK_EQ_STR(out, "https://[::1]:6443/k8s/c-1");
	memset(&api, 0, sizeof api);
	CHECK_EQ_INT(config_parse_server(&api, "http://10.0.0.1"), 0);
	CHECK(config_format_server(&api, out, sizeof out) > 0);
	CHECK_EQ_STR(out, "http://10.0.0.1:80");
	CHECK_EQ_INT(config_format_server(&api, out, 5), PZ_ETOOBIG);
}

/* ---- exec plugins ---- */

#define EXEC_TOKEN "exec-tok-7f3a9c2b1e5d4f6a8b0c-SECRET"

static void plugin_script(const char *name, const char *body)
{
	char text[4096];
	snprintf(text, sizeof text, "#!/bin/sh\n%s", body);
	put_text(name, text);
	chmod(path_in(name), 0700);
}

/* A v1 plugin that counts its runs, records its args, env and KUBERNETES_EXEC_INFO, and writes a
 * token on stderr too (it must come back redacted). */
static const char plugin_ok[] =
	"d=$(dirname \"$0\")\n"
	"n=$(cat \"$d/count\" 2>/dev/null || echo 0); echo $((n + 1)) > \"$d/count\"\n"
	"printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$d/info\"\n"
	"echo \"$* $PLUGIN_REGION\" > \"$d/args\"\n"
	"echo \"debug: got " EXEC_TOKEN " and Bearer abcdefghijklmnop\" >&2\n"
	"exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\n"
	"printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
	"\"status\":{\"token\":\"" EXEC_TOKEN "\",\"expirationTimestamp\":\"%s\"}}' \"$exp\"\n";

static const char exec_user[] =
	"    exec:\n"
	"      apiVersion: client.authentication.k8s.io/v1\n"
	"      command: ./plug/run.sh\n"
	"      args: [--region, eu-west-1]\n"
	"      env:\n"
	"      - name: PLUGIN_REGION\n"
	"        value: from-env\n"
	"      interactiveMode: Never\n"
	"      provideClusterInfo: true\n";

static int file_has(const char *name, const char *s)
{
	size_t n;
	char path[600], *b;
	FILE *f;
	static char buf[65536];
	snprintf(path, sizeof path, "%s", path_in(name));
	f = fopen(path, "rb");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	b = strstr(buf, s);
	if (!b)
		fprintf(stderr, "  %s does not hold \"%s\": %s\n", name, s, buf);
	return b != NULL;
}

static void test_exec_in_process(void)
{
	static struct kube_api api;
	struct config_source src = { NULL, NULL, "/nonexistent-sa" };
	char origin[512], err[512];
	int64_t now;

	memset(&api, 0, sizeof api);
	src.kubeconfig = path_in("kc-exec-ok");
	CHECK_EQ_INT(config_load(&api, &src, origin, sizeof origin, err, sizeof err), 0);
	CHECK_EQ_STR(api.token, EXEC_TOKEN);
	CHECK_EQ_INT(config_uses_exec(), 1);
	CHECK(file_has("plug/count", "1"));
	CHECK(file_has("plug/args", "--region eu-west-1 from-env"));
	CHECK(file_has("plug/info", "\"kind\":\"ExecCredential\""));
	CHECK(file_has("plug/info", "\"interactive\":false"));
	CHECK(file_has("plug/info", "\"server\":\"https://127.0.0.1:6443\""));
	CHECK(file_has("plug/info", "\"certificate-authority-data\":\"LS0t"));
	/* stderr is kept for the log, with the token and token-like words redacted */
	CHECK(strstr(config_exec_stderr(), "debug: got") != NULL);
	CHECK(strstr(config_exec_stderr(), EXEC_TOKEN) == NULL);
	CHECK(strstr(config_exec_stderr(), "abcdefghijklmnop") == NULL);
	CHECK(strstr(config_exec_stderr(), "[redacted]") != NULL);
	/* not due: nothing runs */
	now = pz_now_ms();
	CHECK_EQ_INT(config_refresh_credentials(&api, now, 0), 0);
	CHECK(file_has("plug/count", "1"));
	/* past the expiry (an hour on): runs again */
	CHECK_EQ_INT(config_refresh_credentials(&api, now + 3601000, 0), 0);
	CHECK(file_has("plug/count", "2"));
	/* after a 401: runs again at once */
	CHECK_EQ_INT(config_refresh_credentials(&api, now, 1), 0);
	CHECK(file_has("plug/count", "3"));
	/* a plugin that starts failing: the old token stays, the reason is given */
	plugin_script("plug/run.sh", "echo 'cannot reach the identity provider' >&2\nexit 1\n");
	CHECK(config_refresh_credentials(&api, now, 1) < 0);
	CHECK_EQ_STR(api.token, EXEC_TOKEN);
	CHECK(strstr(config_refresh_error(), "exited with status 1") != NULL);
	CHECK(strstr(config_exec_stderr(), "identity provider") != NULL);
}

static void test_exec(void)
{
	copy_fixture("ca.pem", "ca.pem");
	mkdir(path_in("plug"), 0700);
	unlink(path_in("plug/count"));
	plugin_script("plug/run.sh", plugin_ok);
	kubeconfig("kc-exec-ok", CA_FILE, exec_user);
	run("exec plugin in process", test_exec_in_process);
	unlink(path_in("plug/count"));
	plugin_script("plug/run.sh", plugin_ok);
	CHECK_EQ_INT(load(path_in("kc-exec-ok"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.token, EXEC_TOKEN);
	CHECK(strstr(res->err, EXEC_TOKEN) == NULL);

	/* failures are start-up errors naming the plugin */
	static const struct {
		const char *body, *must_say;
	} bad[] = {
		{ "exit 1\n", "exited with status 1" },
		{ "echo 'not json'\n", "not an ExecCredential" },
		{ "head -c 200000 /dev/zero | tr '\\\\0' x\n", "more than" },
		{ "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\"}}'\n",
		  "apiVersion" },
		{ "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{}}'\n",
		  "neither" },
		{ "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"a\\\\r\\\\nb\"}}'\n",
		  "control" },
		{ "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}'\n",
		  "expirationTimestamp" },
		{ "kill -9 $$\n", "signal 9" },
	};
	for (size_t i = 0; i < PZ_ARRAY_LEN(bad); i++) {
		plugin_script("plug/run.sh", bad[i].body);
		CHECK_EQ_INT(load(path_in("kc-exec-ok"), NULL, NULL), PZ_ECONFIG);
		if (!err_has(bad[i].must_say) || !err_has("run.sh"))
			fprintf(stderr, "  (plugin case %zu)\n", i);
	}
	/* a client certificate from the plugin */
	{
		size_t cn, kn;
		char *c = data_tls("client-ec.pem", &cn), *k = data_tls("client-ec-sec1.key", &kn);
		static char body[40000];
		char ce[8192], ke[8192];
		size_t o = 0;
		for (size_t i = 0; i < cn; i++)
			o += (size_t)sprintf(ce + o, c[i] == '\n' ? "\\\\n" : "%c", c[i]);
		o = 0;
		for (size_t i = 0; i < kn; i++)
			o += (size_t)sprintf(ke + o, k[i] == '\n' ? "\\\\n" : "%c", k[i]);
		snprintf(body, sizeof body, "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
			"\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":\"%s\",\"clientKeyData\":\"%s\"}}'\n", ce, ke);
		free(c);
		free(k);
		plugin_script("plug/run.sh", body);
		kubeconfig("kc-exec-cert", CA_FILE, "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
			"      command: plug/run.sh\n");
		CHECK_EQ_INT(load(path_in("kc-exec-cert"), NULL, NULL), 0);
		if (res->rc)
			fprintf(stderr, "  exec cert: %s\n", res->err);
		CHECK_EQ_INT(res->api.creds.has_key, 1);
		CHECK_EQ_STR(res->api.token, "");
	}
}

static void test_exec_time(void)
{
	int64_t t;
	CHECK_EQ_INT(execcred_parse_time("1970-01-01T00:00:00Z", 20, &t), 0);
	CHECK_EQ_INT(t, 0);
	CHECK_EQ_INT(execcred_parse_time("2024-02-29T12:34:56Z", 20, &t), 0);
	CHECK_EQ_INT(t, 1709210096);
	CHECK_EQ_INT(execcred_parse_time("2024-02-29T14:34:56.123456789+02:00", 35, &t), 0);
	CHECK_EQ_INT(t, 1709210096);
	CHECK_EQ_INT(execcred_parse_time("2024-02-29T12:34:56-01:30", 25, &t), 0);
	CHECK_EQ_INT(t, 1709210096 + 5400);
	CHECK(execcred_parse_time("2024-02-30T12:34:56Z", 20, &t) < 0);
	CHECK(execcred_parse_time("2024-02-29 12:34:56Z", 20, &t) < 0);
	CHECK(execcred_parse_time("2024-02-29T12:34:56", 19, &t) < 0);
	CHECK(execcred_parse_time("2024-02-29T12:34:56Zjunk", 24, &t) < 0);
	char s[200] = "line\x01two Bearer abcdefghijklm1 short eyJhbGciOiJIUzI1NiJ9.eyJzdWIi secret123";
	execcred_redact(s, "secret123");
	CHECK_EQ_STR(s, "line two Bearer [redacted] short [redacted] *********");
}

/* ---- secrets never left in freed memory ---- */

#if defined(__SANITIZE_ADDRESS__)
/* ASan's allocator hooks (sanitizer/allocator_interface.h, which GCC does not install): the free
 * hook runs before the block is released, while its bytes are still there to be read. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
	void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);
static const char *hook_secret[6];
static volatile int hook_armed, hook_hits; /* volatile: GCC assumes free() reads no globals */
static void malloc_hook(const volatile void *ptr, size_t n) { (void)ptr; (void)n; } /* both are required */
static void free_hook(const volatile void *ptr)
{
	size_t n;
	if (!hook_armed || !ptr)
		return;
	hook_armed = 0; /* no recursion through memmem's interceptor */
	n = __sanitizer_get_allocated_size((const void *)ptr);
	for (size_t i = 0; i < PZ_ARRAY_LEN(hook_secret); i++)
		if (hook_secret[i] && memmem((const void *)ptr, n, hook_secret[i], strlen(hook_secret[i]))) {
			hook_hits++;
			fprintf(stderr, "  freed block of %zu bytes still holds secret %zu\n", n, i);
		}
	hook_armed = 1;
}

static void test_wipe_in_process(void)
{
	static struct kube_api api;
	struct config_source src = { NULL, NULL, "/nonexistent-sa" };
	char origin[512], err[512], *volatile leak; /* volatile: the compiler may not drop the malloc/free pair */
	static const char *const configs[] = { "kc-wipe-inline", "kc-wipe-files", "kc-wipe-fail", "kc-exec-ok" };

	CHECK_EQ_INT(__sanitizer_install_malloc_and_free_hooks(malloc_hook, free_hook), 1);
	hook_secret[0] = TOKEN;
	hook_secret[1] = "MHcCAQEEIGAexke5DihFSaBPxfCsJwmdywvo5i3vq"; /* the EC key's body */
	hook_secret[2] = fixture_b64("client-ec-sec1.key") + 40;     /* ... and its -data form */
	hook_secret[3] = EXEC_TOKEN;
	/* the detector itself: an unwiped secret in a freed block is seen */
	leak = malloc(100);
	snprintf(leak, 100, "x %s y", TOKEN);
	hook_armed = 1;
	free(leak);
	hook_armed = 0;
	CHECK_EQ_INT(hook_hits, 1);
	hook_hits = 0;
	for (size_t i = 0; i < PZ_ARRAY_LEN(configs); i++) {
		memset(&api, 0, sizeof api);
		src.kubeconfig = path_in(configs[i]);
		hook_armed = 1;
		int rc = config_load(&api, &src, origin, sizeof origin, err, sizeof err);
		if (rc == 0)
			config_refresh_credentials(&api, pz_now_ms(), 1); /* token file and plugin once more */
		hook_armed = 0;
		CHECK_EQ_INT(rc, i == 2 ? PZ_ECONFIG : 0);
		if (hook_hits)
			fprintf(stderr, "  (after %s)\n", configs[i]);
		CHECK_EQ_INT(hook_hits, 0);
		hook_hits = 0;
	}
	/* in-cluster: the token file */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	memset(&api, 0, sizeof api);
	src.kubeconfig = NULL;
	src.sa_dir = path_in("sa-wipe");
	hook_armed = 1;
	CHECK_EQ_INT(config_load(&api, &src, origin, sizeof origin, err, sizeof err), 0);
	config_refresh_credentials(&api, pz_now_ms(), 1);
	hook_armed = 0;
	CHECK_EQ_INT(hook_hits, 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	/* the hooks stay installed (they cannot be removed); this child process ends here */
}
#endif

static void test_wipe(void)
{
#if defined(__SANITIZE_ADDRESS__)
	char user[24000];
	copy_fixture("ca.pem", "ca.pem");
	copy_fixture("client-ec.pem", "client.pem");
	copy_fixture("client-ec-sec1.key", "client.key");
	put_text("wipe-token", TOKEN "\n");
	/* the token last in the file: the old code wiped a length meant for another buffer */
	snprintf(user, sizeof user, "    client-certificate-data: %s\n    client-key-data: %s\n" USER_TOKEN,
		fixture_b64("client-ec.pem"), fixture_b64("client-ec-sec1.key"));
	kubeconfig("kc-wipe-inline", CA_FILE, user);
	kubeconfig("kc-wipe-files", CA_FILE, "    client-certificate: client.pem\n    client-key: client.key\n"
		"    tokenFile: wipe-token\n");
	kubeconfig("kc-wipe-fail", CA_FILE, USER_TOKEN "    client-certificate: client.pem\n    client-key: missing.key\n");
	sa_dir_with("sa-wipe", "ca.pem", TOKEN "\n");
	unlink(path_in("plug/count"));
	plugin_script("plug/run.sh", plugin_ok);
	run("secrets wiped before free", test_wipe_in_process);
#else
	fprintf(stderr, "test_wipe needs an ASan build (the free hook is ASan's)\n");
	CHECK(0);
#endif
}

static void test_token_sources(void)
{
	char sa[300];
	/* in-cluster and tokenFile tokens with control bytes are refused at start-up */
	sa_dir_with("sa-ctl", "ca.pem", TOKEN "\r\nX-Injected: yes\n");
	snprintf(sa, sizeof sa, "%s", path_in("sa-ctl"));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	CHECK_EQ_INT(load(NULL, NULL, sa), PZ_ECONFIG);
	CHECK(err_has("control"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	put_text("creds-ctl", TOKEN "\x01\n");
	copy_fixture("ca.pem", "ca.pem");
	kubeconfig("kc-tf-ctl", CA_FILE, "    tokenFile: creds-ctl\n");
	CHECK_EQ_INT(load(path_in("kc-tf-ctl"), NULL, NULL), PZ_ECONFIG);
	CHECK(err_has("control"));
	/* tokenFile wins over token, as in client-go */
	put_text("creds-good", "  " TOKEN "  \n");
	kubeconfig("kc-tf-both", CA_FILE, "    token: other-token\n    tokenFile: creds-good\n");
	CHECK_EQ_INT(load(path_in("kc-tf-both"), NULL, NULL), 0);
	CHECK_EQ_STR(res->api.token, TOKEN);
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
	test_kubeconfig_flavours();
	test_kubeconfig_merge();
	test_proxy();
	test_format_server();
	test_exec();
	test_exec_time();
	test_token_sources();
	test_wipe();
	CHECK_EQ_INT(secret_leaks, 0);
	cleanup();
	return check_done("config");
}
