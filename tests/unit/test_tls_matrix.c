/*
 * test_tls_matrix.c - the server-certificate policy (src/tls.h) in real TLS handshakes on loopback.
 *
 * tests/data/tls/matrix.sh makes every certificate with openssl into a temporary folder, fresh on each
 * run (the recipes are there). For each case a forked BearSSL server on 127.0.0.1 presents the case's
 * chain, and the client is the controller's own: tls_client_start with the case's CA and server name,
 * so the X.509 wrapper is the one the controller uses. Every refused case must fail the handshake
 * with its own cause (the code, and a tls_strerror message that names it); every control must
 * complete the handshake and echo application data. So the matrix fails both ways: a certificate
 * wrongly accepted, a good one wrongly refused, or a refusal for the wrong reason.
 *
 * Then the TLS version: `openssl s_server -tls1_3` (a TLS-1.3-only server) must be refused with the
 * message saying that BearSSL speaks TLS 1.2 at most, and the same server allowing TLS 1.2 must work.
 *
 * Needs openssl (Debian: openssl), which vendor/build-deps.sh installs.
 */
#include "check.h"
#include "pz.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOST_IP "127.0.0.1"
#define HOST_DNS "api.pizza.test"

struct mcase {
	const char *name;  /* also the chain file, <name>.pem */
	const char *key;   /* key file without .key; NULL: same as name */
	const char *ca;    /* the CA bundle the client trusts, <ca>.pem */
	const char *host;  /* the server name the client checks */
	unsigned want;     /* 0: must be accepted */
	const char *why;   /* what Go (kubectl, client-go) does, or why BearSSL differs */
};

static const struct mcase cases[] = {
	/* ---- refused, as Go refuses them ---- */
	{ "expired", NULL, "root", HOST_IP, BR_ERR_X509_EXPIRED, "notAfter in 2021" },
	{ "not-yet-valid", NULL, "root", HOST_IP, BR_ERR_X509_EXPIRED, "notBefore in 2090" },
	{ "wrong-ca", NULL, "root", HOST_IP, BR_ERR_X509_NOT_TRUSTED, "signed by another CA" },
	{ "self-signed", NULL, "root", HOST_IP, BR_ERR_X509_NOT_TRUSTED, "self-signed server certificate" },
	{ "cn-only-dns", NULL, "root", HOST_DNS, TLS_ERR_NO_SAN, "CN=api.pizza.test, no SAN: Go >= 1.15 ignores the CN" },
	{ "cn-only-ip", NULL, "root", HOST_IP, TLS_ERR_NO_SAN, "CN=127.0.0.1, no SAN" },
	{ "cn-only-v1", NULL, "root", HOST_IP, TLS_ERR_NO_SAN, "X.509 v1 (no extensions), CN=127.0.0.1" },
	{ "cn-match-san-other", NULL, "root", HOST_DNS, BR_ERR_X509_BAD_SERVER_NAME, "CN matches, SAN does not" },
	{ "san-dns-mismatch", NULL, "root", HOST_DNS, BR_ERR_X509_BAD_SERVER_NAME, "SAN DNS:other.pizza.test" },
	{ "san-ip-mismatch", NULL, "root", HOST_IP, BR_ERR_X509_BAD_SERVER_NAME, "SAN IP:127.0.0.2" },
	{ "san-ip-mismatch", NULL, "root", "::1", BR_ERR_X509_BAD_SERVER_NAME, "SAN IP:::2 asked for ::1" },
	{ "ip-as-dns-san", NULL, "root", HOST_IP, BR_ERR_X509_BAD_SERVER_NAME, "SAN DNS:127.0.0.1: an IP matches IP SANs only" },
	{ "ok", NULL, "root", "10.96.0.1", BR_ERR_X509_BAD_SERVER_NAME, "a good certificate for another address" },
	{ "eku-client", NULL, "root", HOST_IP, TLS_ERR_EKU, "EKU clientAuth only" },
	{ "eku-other", NULL, "root", HOST_DNS, TLS_ERR_EKU, "EKU codeSigning, emailProtection, 1.2.3.4.5" },
	{ "by-int-cafalse", NULL, "root", HOST_IP, BR_ERR_X509_NOT_CA, "intermediate CA:FALSE (with keyCertSign)" },
	{ "by-int-nobc", NULL, "root", HOST_IP, BR_ERR_X509_NOT_CA, "intermediate without basicConstraints" },
	{ "by-leaf", NULL, "root", HOST_IP, BR_ERR_X509_NOT_CA, "signed by a server certificate" },
	{ "int-pathlen", NULL, "root", HOST_IP, TLS_ERR_PATHLEN, "intermediate pathlen:0 above another intermediate" },
	{ "root-pathlen", NULL, "root-pl0", HOST_IP, TLS_ERR_PATHLEN, "CA pathlen:0 above an intermediate" },
	{ "by-int-eku-client", NULL, "root", HOST_IP, TLS_ERR_CA_EKU, "intermediate EKU clientAuth only" },
	{ "by-root-eku-client", NULL, "root-eku-client", HOST_IP, TLS_ERR_CA_EKU, "CA EKU clientAuth only" },
	{ "by-int-noku", NULL, "root", HOST_IP, BR_ERR_X509_FORBIDDEN_KEY_USAGE, "intermediate keyUsage without keyCertSign" },
	{ "critical-unknown", NULL, "root", HOST_IP, BR_ERR_X509_CRITICAL_EXTENSION, "unknown critical extension" },
	{ "by-int-nc", NULL, "root", HOST_IP, BR_ERR_X509_CRITICAL_EXTENSION,
	  "name constraints excluding 127/8 (Go: excluded; BearSSL: unsupported, refused)" },
	{ "md5", NULL, "root-rsa", HOST_IP, BR_ERR_X509_UNSUPPORTED, "md5WithRSAEncryption" },
	{ "sha1", NULL, "root-rsa", HOST_IP, BR_ERR_X509_UNSUPPORTED, "sha1WithRSAEncryption (Go >= 1.18 refuses)" },
	{ "too-large", NULL, "root", HOST_IP, TLS_ERR_CERT_TOO_LARGE, "12 KiB of SANs: over TLS_CERT_MAX, fails closed" },
	/* ---- refused where Go would accept: BearSSL is stricter, kept so ---- */
	{ "rsa1024", NULL, "root", HOST_IP, BR_ERR_X509_WEAK_PUBLIC_KEY, "RSA-1024 (Go takes >= 1024 bits)" },
	{ "ku-keyenc-only", NULL, "root", HOST_IP, BR_ERR_WRONG_KEY_USAGE, "keyUsage keyEncipherment only (Go ignores keyUsage)" },
	{ "eku-critical", NULL, "root", HOST_IP, BR_ERR_X509_CRITICAL_EXTENSION, "critical EKU serverAuth (Go accepts)" },
	/* ---- accepted: the controls ---- */
	{ "ok", NULL, "root", HOST_IP, 0, "SAN IP, EKU serverAuth, as kubeadm makes it" },
	{ "ok", NULL, "root", "::1", 0, "its IPv6 SAN" },
	{ "ok", NULL, "root", "[::1]", 0, "its IPv6 SAN, bracketed" },
	{ "ok", NULL, "root", HOST_DNS, 0, "its DNS SAN" },
	{ "ok", NULL, "bundle", HOST_IP, 0, "CA second in a two-CA bundle" },
	{ "ok-rsa-via-int-pl0", NULL, "root", HOST_DNS, 0, "RSA-2048, no EKU, intermediate pathlen:0" },
	{ "ok-any-eku", NULL, "root", HOST_IP, 0, "EKU anyExtendedKeyUsage (Go accepts)" },
	{ "ok-eku-both", NULL, "root", HOST_IP, 0, "EKU clientAuth and serverAuth" },
	{ "ok-no-eku", NULL, "root", HOST_IP, 0, "no EKU, no keyUsage, no basicConstraints" },
	{ "ok-root-pl0", NULL, "root-pl0", HOST_IP, 0, "CA pathlen:0, no intermediate" },
	{ "ok-root-eku-server", NULL, "root-eku-server", HOST_IP, 0, "CA EKU serverAuth" },
	{ "ok-wildcard", NULL, "root", HOST_DNS, 0, "SAN DNS:*.pizza.test" },
	{ "ok-wildcard", NULL, "root", "API.Pizza.Test", 0, "names compare without case" },
	{ "ok-sha384", NULL, "root-rsa", HOST_IP, 0, "sha384WithRSAEncryption" },
	{ "self-signed", NULL, "self-signed", HOST_IP, 0, "its own certificate as the CA (direct trust, as Go)" },
	{ "ok-extra", "ok", "root", HOST_IP, 0, "the CA and an unrelated clientAuth CA sent after the chain" },
};

static char dir[256];

static char *slurp(const char *name, const char *ext, size_t *len)
{
	char path[512];
	FILE *f;
	long n;
	char *buf;

	snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		if (f)
			fclose(f);
		return NULL;
	}
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

/* The server's side, loaded by the test itself (tls_creds holds a client's chain, up to 8 KiB, and
 * one case is larger on purpose). */
struct server_creds {
	br_x509_certificate chain[8];
	size_t nchain;
	br_skey_decoder_context key;
	unsigned char der[9][32768];
	size_t len[9];
};

static void pem_sink(void *ctx, const void *data, size_t len)
{
	size_t *n = ctx;
	unsigned char *dst = (unsigned char *)(n + 1);
	if (*n + len <= 32768)
		memcpy(dst + *n, data, len);
	*n += len;
}

/* Every object of a PEM text into s->der, certificates into the chain and a key into s->key.
 * Returns 0, or -1 when something cannot be read. */
static int server_load(struct server_creds *s, const char *pem, size_t len)
{
	static struct { size_t n; unsigned char buf[32768]; } obj;
	br_pem_decoder_context pc;
	int has_key = 0;

	memset(s, 0, sizeof *s);
	br_pem_decoder_init(&pc);
	while (len > 0) {
		size_t k = br_pem_decoder_push(&pc, pem, len);
		pem += k;
		len -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			obj.n = 0;
			br_pem_decoder_setdest(&pc, pem_sink, &obj);
			break;
		case BR_PEM_END_OBJ:
			if (obj.n > sizeof obj.buf || s->nchain >= 8)
				return -1;
			if (strstr(br_pem_decoder_name(&pc), "PRIVATE KEY")) {
				br_skey_decoder_init(&s->key);
				br_skey_decoder_push(&s->key, obj.buf, obj.n);
				has_key = br_skey_decoder_key_type(&s->key) != 0;
			} else {
				memcpy(s->der[s->nchain], obj.buf, obj.n);
				s->chain[s->nchain].data = s->der[s->nchain];
				s->chain[s->nchain].data_len = obj.n;
				s->nchain++;
			}
			break;
		case BR_PEM_ERROR:
			return -1;
		default:
			break;
		}
	}
	return s->nchain > 0 && has_key ? 0 : -1;
}

static int sock_read(void *ctx, unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(*(int *)ctx, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

static int sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

/* A listening socket on 127.0.0.1 with a free port. */
static int listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("listen");
		exit(1);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int dial(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 }; /* a stuck peer fails the case instead of hanging the suite */
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The server child: one connection, a BearSSL server with the given chain and key, echoes 4 bytes. */
static void serve_one(int lfd, const struct server_creds *srv)
{
	static br_ssl_server_context sc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	br_sslio_context ioc;
	unsigned char buf[4];
	int fd;

	alarm(20);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	if (br_skey_decoder_key_type(&srv->key) == BR_KEYTYPE_EC)
		br_ssl_server_init_full_ec(&sc, srv->chain, srv->nchain, BR_KEYTYPE_EC, br_skey_decoder_get_ec(&srv->key));
	else
		br_ssl_server_init_full_rsa(&sc, srv->chain, srv->nchain, br_skey_decoder_get_rsa(&srv->key));
	br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
	br_ssl_server_reset(&sc);
	br_sslio_init(&ioc, &sc.eng, sock_read, &fd, sock_write, &fd);
	if (br_sslio_read_all(&ioc, buf, sizeof buf) == 0 && br_sslio_write_all(&ioc, buf, sizeof buf) == 0)
		br_sslio_close(&ioc);
	close(fd);
	_exit(0);
}

/* The controller's client against the server on `port`: 0 when the handshake completed and `msg`
 * came back as `reply`, else the engine's error (BR_ERR_IO when it has none). */
static unsigned client_run(int port, const struct tls_creds *ca, const char *host, const char *msg, const char *reply)
{
	static struct tls_client cl;
	static struct tls_name nm;
	br_sslio_context ioc;
	char buf[64];
	size_t n = strlen(msg);
	unsigned err;
	int fd;

	if (tls_name_set(&nm, host) != 0)
		return 9999;
	memset(&cl, 0, sizeof cl);
	if (tls_client_start(&cl, ca, &nm) != 0)
		return 9998;
	fd = dial(port);
	if (fd < 0)
		return 9997;
	br_sslio_init(&ioc, &cl.cc.eng, sock_read, &fd, sock_write, &fd);
	if (br_sslio_write_all(&ioc, msg, n) == 0 && br_sslio_flush(&ioc) == 0 &&
	    br_sslio_read_all(&ioc, buf, n) == 0 && memcmp(buf, reply, n) == 0) {
		close(fd);
		return 0;
	}
	err = (unsigned)br_ssl_engine_last_error(&cl.cc.eng);
	close(fd);
	return err ? err : BR_ERR_IO;
}

/* A refusal names its cause: a message of its own, not one of the catch-alls. */
static int specific(unsigned code)
{
	const char *m = tls_strerror(code);
	return strcmp(m, "TLS protocol error") != 0 && strcmp(m, "certificate malformed or unsupported") != 0 &&
	       strcmp(m, "we sent a fatal alert") != 0 && strcmp(m, "the server sent a fatal alert") != 0 &&
	       strcmp(m, "none") != 0;
}

static void test_matrix(void)
{
	int refused = 0, negatives = 0, accepted = 0, positives = 0;

	for (size_t i = 0; i < PZ_ARRAY_LEN(cases); i++) {
		const struct mcase *c = &cases[i];
		static struct tls_creds ca;
		static struct server_creds srv;
		static char both[65536];
		size_t cl, kl, al;
		char *chain = slurp(c->name, ".pem", &cl), *key = slurp(c->key ? c->key : c->name, ".key", &kl);
		char *anchors = slurp(c->ca, ".pem", &al);
		unsigned got;
		int port, lfd, st;
		pid_t pid;

		memset(&ca, 0, sizeof ca);
		CHECK(chain && key && anchors);
		if (chain && key && cl + kl <= sizeof both) {
			memcpy(both, chain, cl);
			memcpy(both + cl, key, kl);
		}
		if (!chain || !key || !anchors || cl + kl > sizeof both || tls_creds_add_ca_pem(&ca, anchors, al) < 1 ||
		    server_load(&srv, both, cl + kl) != 0) {
			fprintf(stderr, "  %s: cannot load its files\n", c->name);
			check_failed++;
			free(chain), free(key), free(anchors);
			continue;
		}
		lfd = listen_any(&port);
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0)
			serve_one(lfd, &srv);
		close(lfd);
		got = client_run(port, &ca, c->host, "ping", "ping");
		waitpid(pid, &st, 0);

		if (c->want) {
			negatives++;
			refused += got != 0;
		} else {
			positives++;
			accepted += got == 0;
		}
		printf("  %-8s %-20s %-16s %s: %s (%u)\n", got ? "refused" : "ACCEPTED", c->name, c->host, c->why,
			tls_strerror(got), got);
		CHECK_EQ_INT(got, c->want);
		if (got != c->want)
			fprintf(stderr, "  %s for %s: got \"%s\", expected \"%s\"\n", c->name, c->host, tls_strerror(got),
				tls_strerror(c->want));
		if (c->want)
			CHECK(specific(got));
		free(chain), free(key), free(anchors);
	}
	printf("  negative matrix: %d of %d refused (%d accepted); controls: %d of %d accepted\n", refused, negatives,
		negatives - refused, accepted, positives);
	CHECK(negatives >= 15);
	CHECK_EQ_INT(refused, negatives);
	CHECK_EQ_INT(accepted, positives);
}

/* openssl s_server limited to one TLS version, on a free port; returns its pid. */
static pid_t openssl_server(const char *version, int *port)
{
	char cert[300], key[300], accept_arg[32];
	int lfd = listen_any(port);
	pid_t pid;

	close(lfd); /* the port is free again; s_server takes it (loopback, nobody races us for it) */
	snprintf(cert, sizeof cert, "%s/ok.pem", dir);
	snprintf(key, sizeof key, "%s/ok.key", dir);
	snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%d", *port);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept_arg, "-cert", cert, "-key", key, version,
			"-rev", "-quiet", (char *)NULL);
		_exit(127);
	}
	/* Wait until it listens. It serves until killed: the probe is a connection too. */
	for (int k = 0; k < 100; k++) {
		int fd = dial(*port);
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		if (fd >= 0) {
			close(fd);
			break;
		}
		nanosleep(&ts, NULL);
	}
	return pid;
}

static void test_versions(void)
{
	static struct tls_creds ca;
	size_t al;
	char *anchors = slurp("root", ".pem", &al);
	unsigned got;
	int port, st;
	pid_t pid;

	memset(&ca, 0, sizeof ca);
	CHECK(anchors && tls_creds_add_ca_pem(&ca, anchors, al) == 1);
	free(anchors);

	pid = openssl_server("-tls1_3", &port);
	got = client_run(port, &ca, HOST_IP, "ping\n", "gnip\n");
	printf("  openssl s_server -tls1_3: %s (%u)\n", tls_strerror(got), got);
	CHECK_EQ_INT(got, BR_ERR_RECV_FATAL_ALERT + BR_ALERT_PROTOCOL_VERSION);
	CHECK(strstr(tls_strerror(got), "TLS 1.3") != NULL);
	CHECK(strstr(tls_strerror(got), "TLS 1.2 at most") != NULL);
	CHECK(strstr(tls_strerror(got), "client certificate") == NULL);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);

	pid = openssl_server("-tls1_2", &port);
	got = client_run(port, &ca, HOST_IP, "ping\n", "gnip\n");
	printf("  openssl s_server -tls1_2: %s (%u)\n", tls_strerror(got), got);
	CHECK_EQ_INT(got, 0);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

int main(void)
{
	const char *data = getenv("PZ_TEST_DATA");
	char cmd[800];

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof dir, "%s/pz-tls-matrix.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cmd, sizeof cmd, "sh '%s/tls/matrix.sh' '%s'", data ? data : "tests/data", dir);
	if (system(cmd) != 0) {
		printf("tls_matrix: certificates could not be made (is openssl installed?)\n");
		check_failed++;
	} else {
		test_matrix();
		test_versions();
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done("tls_matrix");
}
