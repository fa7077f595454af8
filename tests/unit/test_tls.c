/*
 * test_tls.c - BearSSL set-up (src/tls.h): trust anchors from PEM bundles, client certificates with
 * RSA and EC keys in every encoding, server names, and the iPAddress SAN check, on fixtures made
 * once by tests/data/tls/gen.sh (run from the repo root).
 *
 * tls_cert_has_ip parses DER from the network: it is fed every truncation and many corruptions of
 * real certificates, each copied into a heap block of exactly its length so that ASan sees any
 * over-read. The X.509 wrapper is also driven directly (no socket) with the clock pinned to the
 * certificate's own notBefore, so nothing here depends on the current date.
 */
#include "check.h"
#include "harness.h"
#include "pz.h"
#include "tls.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- trust anchors ---- */

static struct tls_creds creds;

static void test_anchors(void)
{
	size_t n1, n2, n;
	char *ca = data_tls("ca.pem", &n1), *ca2 = data_tls("ca2.pem", &n2);
	static char bundle[65536];

	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, ca, n1), 1);
	CHECK_EQ_INT(creds.nanchors, 1);
	CHECK_EQ_INT(creds.anchors[0].pkey.key_type, BR_KEYTYPE_RSA);
	CHECK(creds.anchors[0].flags & BR_X509_TA_CA);
	CHECK(creds.anchors[0].dn.len > 0);
	CHECK(creds.anchor_used > 256); /* an RSA-2048 modulus at least */

	/* two certificates in one bundle (a rotated CA), RSA then EC */
	memcpy(bundle, ca, n1);
	memcpy(bundle + n1, ca2, n2);
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, bundle, n1 + n2), 2);
	CHECK_EQ_INT(creds.nanchors, 2);
	CHECK_EQ_INT(creds.anchors[0].pkey.key_type, BR_KEYTYPE_RSA);
	CHECK_EQ_INT(creds.anchors[1].pkey.key_type, BR_KEYTYPE_EC);
	CHECK_EQ_INT(creds.anchors[1].pkey.key.ec.curve, BR_EC_secp256r1);
	CHECK(creds.anchors[0].dn.len != creds.anchors[1].dn.len ||
	      memcmp(creds.anchors[0].dn.data, creds.anchors[1].dn.data, creds.anchors[0].dn.len) != 0);
	/* anchors point into the arena, not into the caller's PEM */
	CHECK((unsigned char *)creds.anchors[1].dn.data >= creds.anchor_arena &&
	      (unsigned char *)creds.anchors[1].dn.data < creds.anchor_arena + sizeof creds.anchor_arena);

	/* adding accumulates */
	CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, ca2, n2), 1);
	CHECK_EQ_INT(creds.nanchors, 3);

	/* text around the PEM objects is ignored */
	{
		size_t o = (size_t)sprintf(bundle, "# cluster CA\nsubject=CN = pizza-test-ca\n");
		memcpy(bundle + o, ca, n1);
		o += n1;
		o += (size_t)sprintf(bundle + o, "trailing words\n");
		memset(&creds, 0, sizeof creds);
		CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, bundle, o), 1);
	}
	/* CRLF line ends (RFC 7468 allows them; a PEM saved on Windows has them). BearSSL then names
	 * the object "CERTIFICATE-----", so the name must be compared without the trailing dashes. */
	{
		size_t o = 0;
		for (size_t i = 0; i < n1; i++) {
			if (ca[i] == '\n')
				bundle[o++] = '\r';
			bundle[o++] = ca[i];
		}
		memset(&creds, 0, sizeof creds);
		CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, bundle, o), 1);
	}

	/* exactly TLS_ANCHORS_MAX, then one more */
	n = 0;
	for (int k = 0; k < TLS_ANCHORS_MAX; k++) {
		memcpy(bundle + n, k % 2 ? ca2 : ca, k % 2 ? n2 : n1);
		n += k % 2 ? n2 : n1;
	}
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, bundle, n), TLS_ANCHORS_MAX);
	memcpy(bundle + n, ca2, n2);
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, bundle, n + n2), PZ_ETOOBIG);
	CHECK(creds.nanchors <= TLS_ANCHORS_MAX);

	/* bad PEM */
	const char *bad[] = {
		"",
		"hello, world\n",
		"-----BEGIN CERTIFICATE-----\nMIIB\n",                                /* no end */
		"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",     /* not base64 */
		"-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n", /* not a certificate */
		"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",           /* empty */
	};
	for (size_t k = 0; k < PZ_ARRAY_LEN(bad); k++) {
		memset(&creds, 0, sizeof creds);
		int rc = tls_creds_add_ca_pem(&creds, bad[k], strlen(bad[k]));
		CHECK_EQ_INT(rc, PZ_ECONFIG);
		if (rc != PZ_ECONFIG)
			fprintf(stderr, "  bad PEM #%zu: %d\n", k, rc);
	}
	/* a key is not a CA */
	{
		size_t kn;
		char *key = data_tls("client-ec-pkcs8.key", &kn);
		memset(&creds, 0, sizeof creds);
		CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, key, kn), PZ_ECONFIG);
		free(key);
	}
	/* a certificate cut in the middle of its base64 */
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, ca, n1 / 2), PZ_ECONFIG);
	/* every truncation fails cleanly (and is read within its length) */
	{
		int bad_rc = 0;
		for (size_t len = 0; len < n1; len += 7) {
			char *p = malloc(len ? len : 1);
			memcpy(p, ca, len);
			memset(&creds, 0, sizeof creds);
			int rc = tls_creds_add_ca_pem(&creds, p, len);
			/* the last line break is optional: the whole object may already be there */
			if (rc != PZ_ECONFIG && !(rc == 1 && len >= n1 - 1))
				bad_rc++;
			free(p);
		}
		CHECK_EQ_INT(bad_rc, 0);
	}
	free(ca);
	free(ca2);
}

/* ---- client certificates ---- */

static void client_ok(const char *cert, const char *key, int key_type)
{
	size_t cn, kn;
	char *c = data_tls(cert, &cn), *k = data_tls(key, &kn);
	memset(&creds, 0, sizeof creds);
	int rc = tls_creds_set_client_pem(&creds, c, cn, k, kn);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "  %s + %s: %d\n", cert, key, rc);
	CHECK_EQ_INT(creds.has_key, 1);
	CHECK_EQ_INT(creds.nchain, 1);
	CHECK(creds.chain[0].data_len > 300);
	CHECK_EQ_INT(br_skey_decoder_key_type(&creds.key), key_type);
	if (key_type == BR_KEYTYPE_RSA && br_skey_decoder_get_rsa(&creds.key))
		CHECK_EQ_INT(br_skey_decoder_get_rsa(&creds.key)->n_bitlen, 2048);
	if (key_type == BR_KEYTYPE_EC && br_skey_decoder_get_ec(&creds.key))
		CHECK_EQ_INT(br_skey_decoder_get_ec(&creds.key)->curve, BR_EC_secp256r1);
	free(c);
	free(k);
}

static void test_client(void)
{
	client_ok("client-rsa.pem", "client-rsa-pkcs1.key", BR_KEYTYPE_RSA);
	client_ok("client-rsa.pem", "client-rsa-pkcs8.key", BR_KEYTYPE_RSA);
	client_ok("client-ec.pem", "client-ec-sec1.key", BR_KEYTYPE_EC);
	client_ok("client-ec.pem", "client-ec-pkcs8.key", BR_KEYTYPE_EC);

	size_t cn, kn, an, k2n;
	char *cert = data_tls("client-ec.pem", &cn), *key = data_tls("client-ec-sec1.key", &kn);
	char *ca = data_tls("ca.pem", &an), *key2 = data_tls("client-rsa-pkcs1.key", &k2n);
	static char buf[65536];

	/* a chain: leaf then intermediate, in order */
	memcpy(buf, cert, cn);
	memcpy(buf + cn, ca, an);
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, buf, cn + an, key, kn), 0);
	CHECK_EQ_INT(creds.nchain, 2);
	/* setting again replaces, never appends */
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, cert, cn, key, kn), 0);
	CHECK_EQ_INT(creds.nchain, 1);
	CHECK_EQ_INT(creds.has_key, 1);
	/* a chain longer than TLS_CHAIN_MAX */
	size_t o = 0;
	for (int k = 0; k <= TLS_CHAIN_MAX; k++) {
		memcpy(buf + o, cert, cn);
		o += cn;
	}
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, buf, o, key, kn), PZ_ETOOBIG);

	/* key file with a certificate before the key (one file for both, as some tools write) */
	memcpy(buf, cert, cn);
	memcpy(buf + cn, key, kn);
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, buf, cn + kn, buf, cn + kn), 0);
	CHECK_EQ_INT(creds.nchain, 1);
	CHECK_EQ_INT(creds.has_key, 1);

	/* refusals */
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, cert, cn, cert, cn), PZ_ECONFIG); /* no key */
	CHECK_EQ_INT(creds.has_key, 0);
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, key, kn, key, kn), PZ_ECONFIG); /* no certificate */
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, "", 0, key, kn), PZ_ECONFIG);
	memcpy(buf, key, kn);
	memcpy(buf + kn, key2, k2n);
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, cert, cn, buf, kn + k2n), PZ_ECONFIG); /* two keys */
	const char *garbage = "-----BEGIN EC PRIVATE KEY-----\nAAAAAAAA\n-----END EC PRIVATE KEY-----\n";
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, cert, cn, garbage, strlen(garbage)), PZ_ECONFIG);
	CHECK_EQ_INT(creds.has_key, 0);
	const char *enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAAAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
	memset(&creds, 0, sizeof creds);
	CHECK_EQ_INT(tls_creds_set_client_pem(&creds, cert, cn, enc, strlen(enc)), PZ_ECONFIG);
	/* a key cut short */
	memset(&creds, 0, sizeof creds);
	CHECK(tls_creds_set_client_pem(&creds, cert, cn, key2, k2n / 2) < 0);
	CHECK_EQ_INT(creds.has_key, 0);
	free(cert);
	free(key);
	free(ca);
	free(key2);
}

/* ---- names ---- */

static void test_names(void)
{
	struct tls_name n;
	unsigned char v6[16];

	CHECK_EQ_INT(tls_name_set(&n, "127.0.0.1"), 0);
	CHECK_EQ_INT(n.is_ip, 1);
	CHECK_EQ_INT(n.ip_len, 4);
	CHECK(memcmp(n.ip, "\x7f\x00\x00\x01", 4) == 0);
	CHECK_EQ_STR(n.dns, "");

	CHECK_EQ_INT(tls_name_set(&n, "10.96.0.1"), 0);
	CHECK(memcmp(n.ip, "\x0a\x60\x00\x01", 4) == 0);

	CHECK_EQ_INT(tls_name_set(&n, "::1"), 0);
	CHECK_EQ_INT(n.is_ip, 1);
	CHECK_EQ_INT(n.ip_len, 16);
	inet_pton(AF_INET6, "::1", v6);
	CHECK(memcmp(n.ip, v6, 16) == 0);

	CHECK_EQ_INT(tls_name_set(&n, "[::1]"), 0);
	CHECK_EQ_INT(n.is_ip, 1);
	CHECK_EQ_INT(n.ip_len, 16);
	CHECK(memcmp(n.ip, v6, 16) == 0);

	CHECK_EQ_INT(tls_name_set(&n, "[fd00:10:96::1]"), 0);
	inet_pton(AF_INET6, "fd00:10:96::1", v6);
	CHECK_EQ_INT(n.ip_len, 16);
	CHECK(memcmp(n.ip, v6, 16) == 0);

	CHECK_EQ_INT(tls_name_set(&n, "::ffff:127.0.0.1"), 0);
	CHECK_EQ_INT(n.ip_len, 16); /* stays an IPv6 literal: it matches v6 SANs only */

	CHECK_EQ_INT(tls_name_set(&n, "kubernetes.default.svc"), 0);
	CHECK_EQ_INT(n.is_ip, 0);
	CHECK_EQ_STR(n.dns, "kubernetes.default.svc");
	CHECK_EQ_INT(tls_name_set(&n, "localhost"), 0);
	CHECK_EQ_INT(n.is_ip, 0);
	/* not quite addresses: names */
	CHECK_EQ_INT(tls_name_set(&n, "1.2.3"), 0);
	CHECK_EQ_INT(n.is_ip, 0);
	CHECK_EQ_INT(tls_name_set(&n, "256.0.0.1"), 0);
	CHECK_EQ_INT(n.is_ip, 0);

	/* a previous IP does not linger */
	CHECK_EQ_INT(tls_name_set(&n, "127.0.0.1"), 0);
	CHECK_EQ_INT(tls_name_set(&n, "example.com"), 0);
	CHECK_EQ_INT(n.is_ip, 0);
	CHECK_EQ_INT(n.ip_len, 0);

	CHECK_EQ_INT(tls_name_set(&n, ""), PZ_ECONFIG);
	char longname[300];
	memset(longname, 'a', sizeof longname);
	longname[255] = 0;
	CHECK_EQ_INT(tls_name_set(&n, longname), 0);
	CHECK_EQ_INT(strlen(n.dns), 255);
	longname[255] = 'a';
	longname[256] = 0;
	CHECK_EQ_INT(tls_name_set(&n, longname), PZ_ECONFIG);
	longname[299] = 0;
	longname[0] = '[';
	longname[298] = ']';
	CHECK_EQ_INT(tls_name_set(&n, longname), PZ_ECONFIG); /* long bracketed text, no overflow */
}

/* ---- iPAddress SANs ---- */

static int has_ip(const char *der_file, const char *ip)
{
	size_t n;
	unsigned char a[16];
	size_t alen = strchr(ip, ':') ? 16 : 4;
	if (inet_pton(alen == 16 ? AF_INET6 : AF_INET, ip, a) != 1)
		return -100;
	char *der = data_tls(der_file, &n);
	unsigned char *copy = malloc(n);
	memcpy(copy, der, n);
	free(der);
	int rc = tls_cert_has_ip(copy, n, a, alen);
	free(copy);
	return rc;
}

static void test_cert_has_ip(void)
{
	CHECK_EQ_INT(has_ip("server.der", "127.0.0.1"), 1);
	CHECK_EQ_INT(has_ip("server.der", "::1"), 1);
	CHECK_EQ_INT(has_ip("server.der", "127.0.0.2"), 0);
	CHECK_EQ_INT(has_ip("server.der", "1.0.0.127"), 0);
	CHECK_EQ_INT(has_ip("server.der", "::2"), 0);
	CHECK_EQ_INT(has_ip("server.der", "10.96.0.1"), 0);
	/* v4 and v6 never match each other */
	CHECK_EQ_INT(has_ip("server.der", "::ffff:127.0.0.1"), 0);
	CHECK_EQ_INT(has_ip("server.der", "::127.0.0.1"), 0);
	CHECK_EQ_INT(has_ip("server.der", "0.0.0.0"), 0); /* the first 4 bytes of ::1 */
	/* a critical SAN extension, IPv4 only */
	CHECK_EQ_INT(has_ip("server-v4.der", "10.96.0.1"), 1);
	CHECK_EQ_INT(has_ip("server-v4.der", "127.0.0.1"), 0);
	CHECK_EQ_INT(has_ip("server-v4.der", "::1"), 0);
	CHECK_EQ_INT(has_ip("server-v4.der", "::ffff:10.96.0.1"), 0);
	/* no SAN: a CN that reads like an address counts for nothing */
	CHECK_EQ_INT(has_ip("nosan.der", "127.0.0.1"), 0);
	CHECK_EQ_INT(has_ip("nosan-ext.der", "127.0.0.1"), 0);
	/* the DNS SAN is not an IP */
	CHECK_EQ_INT(has_ip("server.der", "::"), 0);

	/* not a certificate */
	unsigned char ip4[4] = { 127, 0, 0, 1 };
	CHECK(tls_cert_has_ip((const unsigned char *)"", 0, ip4, 4) < 0);
	CHECK(tls_cert_has_ip((const unsigned char *)"\x30", 1, ip4, 4) < 0);
	CHECK(tls_cert_has_ip((const unsigned char *)"\x30\x00", 2, ip4, 4) < 0);
	CHECK(tls_cert_has_ip((const unsigned char *)"\x04\x02\x30\x00", 4, ip4, 4) < 0);
	CHECK(tls_cert_has_ip((const unsigned char *)"\x30\x85\x00\x00\x00\x00\x01", 7, ip4, 4) < 0);
	CHECK(tls_cert_has_ip((const unsigned char *)"\x30\x84\xff\xff\xff\xff", 6, ip4, 4) < 0);
	CHECK(tls_cert_has_ip((const unsigned char *)"\x30\x80\x30\x00\x00\x00", 6, ip4, 4) < 0);

	/* every truncation of every fixture: never a crash, never a match */
	const char *files[] = { "server.der", "server-v4.der", "nosan.der", "nosan-ext.der" };
	const char *ips[] = { "127.0.0.1", "::1", "10.96.0.1" };
	for (size_t f = 0; f < PZ_ARRAY_LEN(files); f++) {
		size_t n;
		char *der = data_tls(files[f], &n);
		CHECK(n > 400);
		for (size_t i = 0; i < PZ_ARRAY_LEN(ips); i++) {
			unsigned char a[16];
			size_t alen = strchr(ips[i], ':') ? 16 : 4;
			int matched = 0, positive = 0;
			inet_pton(alen == 16 ? AF_INET6 : AF_INET, ips[i], a);
			for (size_t len = 0; len < n; len++) {
				unsigned char *copy = malloc(len ? len : 1);
				memcpy(copy, der, len);
				int rc = tls_cert_has_ip(copy, len, a, alen);
				matched += rc == 1;
				positive += rc >= 0;
				free(copy);
			}
			CHECK_EQ_INT(matched, 0);
			/* the outer SEQUENCE claims more than there is: every truncation is unreadable */
			CHECK_EQ_INT(positive, 0);
		}
		free(der);
	}

	/* corruptions: every byte of the SAN-bearing certificates set to telling values */
	static const unsigned char vals[] = { 0x00, 0x01, 0x04, 0x06, 0x1f, 0x30, 0x7f, 0x80, 0x81, 0x82,
		0x84, 0x85, 0x87, 0xa3, 0xff };
	int survived = 0;
	for (size_t f = 0; f < 2; f++) {
		size_t n;
		char *der = data_tls(files[f], &n);
		unsigned char *copy = malloc(n);
		unsigned char a4[4] = { 127, 0, 0, 1 };
		for (size_t pos = 0; pos < n; pos++) {
			for (size_t v = 0; v < sizeof vals; v++) {
				memcpy(copy, der, n);
				copy[pos] = vals[v];
				int rc = tls_cert_has_ip(copy, n, a4, 4);
				survived += rc >= -1 && rc <= 1;
			}
		}
		free(copy);
		free(der);
	}
	CHECK(survived > 0);
}

/* ---- the X.509 wrapper, without a socket ---- */

/* notBefore of a DER certificate as epoch seconds, or -1 (UTCTime only: our fixtures). */
static int64_t not_before(const unsigned char *d, size_t n)
{
	size_t i = 0;
	/* Certificate SEQUENCE, tbsCertificate SEQUENCE: step into both */
	for (int depth = 0; depth < 2; depth++) {
		if (i + 2 > n || d[i] != 0x30)
			return -1;
		i += 2 + ((d[i + 1] & 0x80) ? (d[i + 1] & 0x7f) : 0);
	}
	/* skip [0] version, serial, signature, issuer; validity is next */
	for (int field = 0; field < 5; field++) {
		if (i + 2 > n)
			return -1;
		unsigned tag = d[i];
		size_t len = d[i + 1], hdr = 2;
		if (len & 0x80) {
			size_t k = len & 0x7f;
			len = 0;
			for (size_t j = 0; j < k; j++)
				len = len << 8 | d[i + 2 + j];
			hdr += k;
		}
		if (field == 0 && tag != 0xa0) /* v1: no version field */
			field++;
		if (field == 4) {
			size_t t = i + hdr;
			if (d[t] != 0x17 || d[t + 1] != 13)
				return -1;
			const unsigned char *s = d + t + 2;
			struct tm tm;
			memset(&tm, 0, sizeof tm);
			tm.tm_year = (s[0] - '0') * 10 + (s[1] - '0') + 100;
			tm.tm_mon = (s[2] - '0') * 10 + (s[3] - '0') - 1;
			tm.tm_mday = (s[4] - '0') * 10 + (s[5] - '0');
			tm.tm_hour = (s[6] - '0') * 10 + (s[7] - '0');
			tm.tm_min = (s[8] - '0') * 10 + (s[9] - '0');
			tm.tm_sec = (s[10] - '0') * 10 + (s[11] - '0');
			return timegm(&tm);
		}
		i += hdr + len;
	}
	return -1;
}

static struct tls_client client;

static unsigned verify_der(const char *der, size_t n, const char *ca, size_t an, const char *host, int64_t when)
{
	static struct tls_creds c;
	static struct tls_name name;
	memset(&c, 0, sizeof c);
	if (tls_creds_add_ca_pem(&c, ca, an) != 1 || tls_name_set(&name, host) != 0)
		return 9999;
	memset(&client, 0, sizeof client);
	if (tls_client_start(&client, &c, &name) != 0)
		return 9998;
	if (when < 0)
		when = not_before((const unsigned char *)der, n) + 86400;
	br_x509_minimal_set_time(&client.x509.minimal, (uint32_t)(when / 86400 + 719528), (uint32_t)(when % 86400));
	const br_x509_class **x = &client.x509.vtable;
	(*x)->start_chain(x, name.is_ip ? NULL : name.dns);
	(*x)->start_cert(x, (uint32_t)n);
	(*x)->append(x, (const unsigned char *)der, n);
	(*x)->end_cert(x);
	return (*x)->end_chain(x);
}

/* verify_der on two fixtures */
static unsigned verify(const char *der_file, const char *anchor_pem, const char *host, int64_t when)
{
	size_t n, an;
	char *der = data_tls(der_file, &n), *ca = data_tls(anchor_pem, &an);
	unsigned rc = verify_der(der, n, ca, an, host, when);
	free(der);
	free(ca);
	return rc;
}

static void test_wrapper(void)
{
	size_t n;
	char *der = data_tls("server.der", &n);
	int64_t nb = not_before((const unsigned char *)der, n);
	free(der);
	CHECK(nb > 1500000000);

	CHECK_EQ_INT(verify("server.der", "ca.pem", "127.0.0.1", -1), 0);
	CHECK_EQ_INT(verify("server.der", "ca.pem", "::1", -1), 0);
	CHECK_EQ_INT(verify("server.der", "ca.pem", "[::1]", -1), 0);
	CHECK_EQ_INT(verify("server.der", "ca.pem", "kubernetes.default.svc", -1), 0);
	CHECK_EQ_INT(verify("server.der", "ca.pem", "127.0.0.2", -1), BR_ERR_X509_BAD_SERVER_NAME);
	CHECK_EQ_INT(verify("server.der", "ca.pem", "10.96.0.1", -1), BR_ERR_X509_BAD_SERVER_NAME);
	CHECK_EQ_INT(verify("server.der", "ca.pem", "::ffff:127.0.0.1", -1), BR_ERR_X509_BAD_SERVER_NAME);
	CHECK_EQ_INT(verify("server.der", "ca.pem", "example.com", -1), BR_ERR_X509_BAD_SERVER_NAME);
	/* an address written as a DNS name is not looked up among the IP SANs, and vice versa */
	CHECK_EQ_INT(verify("server-v4.der", "ca.pem", "10.96.0.1", -1), 0);
	CHECK_EQ_INT(verify("server-v4.der", "ca.pem", "kubernetes", -1), 0);
	CHECK_EQ_INT(verify("server-v4.der", "ca.pem", "kubernetes.default.svc", -1), BR_ERR_X509_BAD_SERVER_NAME);
	/* no SAN, CN=127.0.0.1: refused */
	CHECK_EQ_INT(verify("nosan.der", "ca.pem", "127.0.0.1", -1), BR_ERR_X509_BAD_SERVER_NAME);
	/* the chain is checked before the name: a wrong CA is not trusted, whatever the name */
	CHECK_EQ_INT(verify("server.der", "ca2.pem", "127.0.0.1", -1), BR_ERR_X509_NOT_TRUSTED);
	CHECK_EQ_INT(verify("server.der", "ca2.pem", "kubernetes.default.svc", -1), BR_ERR_X509_NOT_TRUSTED);
	/* the clock is the one we pinned: before notBefore is refused */
	CHECK_EQ_INT(verify("server.der", "ca.pem", "127.0.0.1", nb - 2 * 86400), BR_ERR_X509_EXPIRED);
}

int main(void)
{
	test_anchors();
	test_client();
	test_names();
	test_cert_has_ip();
	test_wrapper();
	return check_done("tls");
}
