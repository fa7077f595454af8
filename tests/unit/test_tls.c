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

/* tls_cert_info asked for one address: 1 when it is among the iPAddress SANs, 0 when not, -1 when
 * the DER cannot be read. */
static int tls_cert_has_ip(const unsigned char *der, size_t len, const unsigned char *ip, size_t ip_len)
{
	struct tls_cert_info ci;
	if (tls_cert_info(der, len, ip, ip_len, &ci) < 0)
		return -1;
	return ci.ip_match;
}

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

/* ---- tls_cert_info on hand-made DER ---- */

/* A tiny DER writer: tlv() appends tag, length and value to a buffer. */
struct der {
	unsigned char b[2048];
	size_t n;
};

static void tlv(struct der *d, unsigned tag, const void *v, size_t len)
{
	d->b[d->n++] = (unsigned char)tag;
	if (len < 128) {
		d->b[d->n++] = (unsigned char)len;
	} else {
		d->b[d->n++] = 0x82;
		d->b[d->n++] = (unsigned char)(len >> 8);
		d->b[d->n++] = (unsigned char)len;
	}
	memcpy(d->b + d->n, v, len);
	d->n += len;
}

/* An extension: SEQUENCE { OID 2.5.29.<id>, [critical,] OCTET STRING { value } } */
static void ext(struct der *d, unsigned id, int critical, const void *v, size_t len)
{
	struct der e = { .n = 0 };
	unsigned char oid[3] = { 0x55, 0x1d, (unsigned char)id };
	tlv(&e, 0x06, oid, 3);
	if (critical)
		tlv(&e, 0x01, "\xff", 1);
	tlv(&e, 0x04, v, len);
	tlv(d, 0x30, e.b, e.n);
}

/* A certificate with the given extensions (NULL: none, a v1 certificate) and names. Only the fields
 * tls_cert_info reads are meaningful; the signature is not. */
static size_t make_cert(unsigned char *out, const struct der *exts, const char *issuer_cn, const char *subject_cn)
{
	struct der tbs = { .n = 0 }, cert = { .n = 0 }, t = { .n = 0 }, n = { .n = 0 }, rdn = { .n = 0 };
	static const unsigned char ecdsa_sha256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };

	if (exts) {
		tlv(&t, 0x02, "\x02", 1);
		tlv(&tbs, 0xa0, t.b, t.n);
	}
	tlv(&tbs, 0x02, "\x01", 1);
	t.n = 0;
	tlv(&t, 0x06, ecdsa_sha256, sizeof ecdsa_sha256);
	tlv(&tbs, 0x30, t.b, t.n);
	for (int k = 0; k < 2; k++) {
		const char *cn = k == 0 ? issuer_cn : subject_cn;
		n.n = rdn.n = t.n = 0;
		tlv(&t, 0x06, "\x55\x04\x03", 3);
		tlv(&t, 0x0c, cn, strlen(cn));
		tlv(&rdn, 0x30, t.b, t.n);
		tlv(&n, 0x31, rdn.b, rdn.n);
		tlv(&tbs, 0x30, n.b, n.n);
		if (k == 0)
			tlv(&tbs, 0x30, "", 0); /* validity */
	}
	tlv(&tbs, 0x30, "", 0); /* subjectPublicKeyInfo */
	if (exts) {
		t.n = 0;
		tlv(&t, 0x30, exts->b, exts->n);
		tlv(&tbs, 0xa3, t.b, t.n);
	}
	tlv(&cert, 0x30, tbs.b, tbs.n);
	t.n = 0;
	tlv(&t, 0x06, ecdsa_sha256, sizeof ecdsa_sha256);
	tlv(&cert, 0x30, t.b, t.n);
	tlv(&cert, 0x03, "\x00", 1);
	t.n = 0;
	tlv(&t, 0x30, cert.b, cert.n);
	memcpy(out, t.b, t.n);
	return t.n;
}

/* tls_cert_info on an exact-size heap copy, so ASan sees any read past the end. The copy lives until
 * the next call (ci points into it); NULL der frees it. */
static int info(const unsigned char *der, size_t len, const char *ip, struct tls_cert_info *ci)
{
	static unsigned char *copy;
	unsigned char a[16];
	size_t alen = ip && strchr(ip, ':') ? 16 : 4;

	free(copy);
	copy = NULL;
	if (!der)
		return 0;
	if (ip && inet_pton(alen == 16 ? AF_INET6 : AF_INET, ip, a) != 1)
		abort();
	copy = malloc(len ? len : 1);
	memcpy(copy, der, len);
	return tls_cert_info(copy, len, ip ? a : NULL, ip ? alen : 0, ci);
}

static void test_cert_info(void)
{
	static const unsigned char server_auth[] = { 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
	static const unsigned char client_auth[] = { 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };
	static const unsigned char any_eku[] = { 0x06, 0x04, 0x55, 0x1d, 0x25, 0x00 };
	static const unsigned char san_ip[] = { 0x30, 0x06, 0x87, 0x04, 127, 0, 0, 1 };
	unsigned char c[4096];
	struct tls_cert_info ci;
	struct der e, v;
	size_t n;

	/* v1: names, and nothing else */
	n = make_cert(c, NULL, "issuer-ca", "subject");
	CHECK_EQ_INT(info(c, n, "127.0.0.1", &ci), 0);
	CHECK_EQ_INT(ci.has_san, 0);
	CHECK_EQ_INT(ci.ip_match, 0);
	CHECK_EQ_INT(ci.eku, TLS_EKU_ABSENT);
	CHECK_EQ_INT(ci.is_ca, 0);
	CHECK_EQ_INT(ci.pathlen, -1);
	CHECK(ci.issuer_len > 9 && memmem(ci.issuer, ci.issuer_len, "issuer-ca", 9) != NULL);
	CHECK(ci.subject_len > 7 && memmem(ci.subject, ci.subject_len, "subject", 7) != NULL);
	CHECK(ci.issuer != NULL && ci.issuer[0] == 0x30 && ci.subject[0] == 0x30);

	/* SAN, EKU serverAuth, basicConstraints CA pathlen 3, critical flags read past */
	e.n = 0;
	ext(&e, 0x11, 1, san_ip, sizeof san_ip);
	v.n = 0;
	{
		unsigned char both[sizeof client_auth + sizeof server_auth];
		memcpy(both, client_auth, sizeof client_auth);
		memcpy(both + sizeof client_auth, server_auth, sizeof server_auth);
		tlv(&v, 0x30, both, sizeof both);
	}
	ext(&e, 0x25, 0, v.b, v.n);
	ext(&e, 0x13, 1, "\x30\x06\x01\x01\xff\x02\x01\x03", 8);
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, "127.0.0.1", &ci), 0);
	CHECK_EQ_INT(ci.has_san, 1);
	CHECK_EQ_INT(ci.ip_match, 1);
	CHECK_EQ_INT(ci.eku, TLS_EKU_SERVER);
	CHECK_EQ_INT(ci.is_ca, 1);
	CHECK_EQ_INT(ci.pathlen, 3);
	CHECK_EQ_INT(info(c, n, "127.0.0.2", &ci), 0);
	CHECK_EQ_INT(ci.ip_match, 0);
	CHECK_EQ_INT(info(c, n, NULL, &ci), 0);
	CHECK_EQ_INT(ci.ip_match, 0);

	/* EKU: clientAuth only; anyExtendedKeyUsage; empty (SIZE 1..MAX: allows nothing); not OIDs */
	e.n = v.n = 0;
	tlv(&v, 0x30, client_auth, sizeof client_auth);
	ext(&e, 0x25, 0, v.b, v.n);
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), 0);
	CHECK_EQ_INT(ci.eku, TLS_EKU_OTHER);
	e.n = v.n = 0;
	tlv(&v, 0x30, any_eku, sizeof any_eku);
	ext(&e, 0x25, 0, v.b, v.n);
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), 0);
	CHECK_EQ_INT(ci.eku, TLS_EKU_SERVER);
	e.n = 0;
	ext(&e, 0x25, 0, "\x30\x00", 2);
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), 0);
	CHECK_EQ_INT(ci.eku, TLS_EKU_OTHER);
	e.n = 0;
	ext(&e, 0x25, 0, "\x30\x03\x04\x01\x00", 5);
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), -1);

	/* basicConstraints: empty (cA FALSE); CA:FALSE explicit; pathlen 0; large pathlen; negative;
	 * trailing bytes; a BOOLEAN of two bytes */
	static const struct {
		const char *v;
		size_t len;
		int rc, is_ca, pathlen;
	} bcs[] = {
		{ "\x30\x00", 2, 0, 0, -1 },
		{ "\x30\x03\x01\x01\x00", 5, 0, 0, -1 },
		{ "\x30\x06\x01\x01\xff\x02\x01\x00", 8, 0, 1, 0 },
		{ "\x30\x07\x01\x01\xff\x02\x02\x01\x00", 9, 0, 1, 255 },
		{ "\x30\x09\x01\x01\xff\x02\x04\x7f\xff\xff\xff", 11, 0, 1, 255 },
		{ "\x30\x06\x01\x01\xff\x02\x01\x80", 8, -1, 0, 0 },
		{ "\x30\x08\x01\x01\xff\x02\x01\x00\x05\x00", 10, -1, 0, 0 },
		{ "\x30\x04\x01\x02\xff\xff", 6, -1, 0, 0 },
		{ "\x30\x03\x02\x00\x00", 5, -1, 0, 0 },
	};
	for (size_t k = 0; k < PZ_ARRAY_LEN(bcs); k++) {
		e.n = 0;
		ext(&e, 0x13, 1, bcs[k].v, bcs[k].len);
		n = make_cert(c, &e, "ca", "int");
		int rc = info(c, n, NULL, &ci);
		CHECK_EQ_INT(rc, bcs[k].rc);
		if (rc == 0 && bcs[k].rc == 0) {
			CHECK_EQ_INT(ci.is_ca, bcs[k].is_ca);
			CHECK_EQ_INT(ci.pathlen, bcs[k].pathlen);
		}
		if (rc != bcs[k].rc)
			fprintf(stderr, "  basicConstraints #%zu\n", k);
	}

	/* each of SAN, EKU and basicConstraints twice: refused (Go refuses duplicate extensions; the
	 * minimal engine would take the last SAN) */
	for (unsigned id = 0; id < 3; id++) {
		static const unsigned ids[] = { 0x11, 0x25, 0x13 };
		e.n = v.n = 0;
		if (ids[id] == 0x11) {
			ext(&e, 0x11, 0, san_ip, sizeof san_ip);
			ext(&e, 0x11, 0, "\x30\x00", 2);
		} else if (ids[id] == 0x25) {
			tlv(&v, 0x30, server_auth, sizeof server_auth);
			ext(&e, 0x25, 0, v.b, v.n);
			ext(&e, 0x25, 0, v.b, v.n);
		} else {
			ext(&e, 0x13, 1, "\x30\x00", 2);
			ext(&e, 0x13, 1, "\x30\x00", 2);
		}
		n = make_cert(c, &e, "ca", "leaf");
		CHECK_EQ_INT(info(c, n, "127.0.0.1", &ci), -1);
	}
	/* an unknown extension twice is the minimal engine's business, not ours */
	e.n = 0;
	ext(&e, 0x0e, 0, "\x04\x00", 2);
	ext(&e, 0x0e, 0, "\x04\x00", 2);
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), 0);

	/* malformed: a SAN that is not a SEQUENCE; an extension value that is not an OCTET STRING; a
	 * critical flag followed by nothing */
	e.n = 0;
	ext(&e, 0x11, 0, "\x04\x00", 2);
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), -1);
	e.n = 0;
	{
		struct der x = { .n = 0 };
		tlv(&x, 0x06, "\x55\x1d\x0e", 3);
		tlv(&x, 0x02, "\x00", 1);
		tlv(&e, 0x30, x.b, x.n);
	}
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), -1);
	{
		struct der x = { .n = 0 };
		tlv(&x, 0x06, "\x55\x1d\x0e", 3);
		tlv(&x, 0x01, "\xff", 1);
		e.n = 0;
		tlv(&e, 0x30, x.b, x.n);
	}
	n = make_cert(c, &e, "ca", "leaf");
	CHECK_EQ_INT(info(c, n, NULL, &ci), -1);

	/* every truncation of a certificate with all three extensions: unreadable, no over-read */
	e.n = v.n = 0;
	ext(&e, 0x11, 1, san_ip, sizeof san_ip);
	tlv(&v, 0x30, server_auth, sizeof server_auth);
	ext(&e, 0x25, 0, v.b, v.n);
	ext(&e, 0x13, 1, "\x30\x06\x01\x01\xff\x02\x01\x03", 8);
	n = make_cert(c, &e, "ca", "leaf");
	{
		int readable = 0;
		for (size_t len = 0; len < n; len++)
			readable += info(c, len, "127.0.0.1", &ci) == 0;
		CHECK_EQ_INT(readable, 0);
	}

	/* the committed fixtures: the API server certificate and the CA */
	{
		size_t dl;
		char *der = data_tls("server.der", &dl);
		CHECK_EQ_INT(info((unsigned char *)der, dl, "::1", &ci), 0);
		CHECK_EQ_INT(ci.has_san, 1);
		CHECK_EQ_INT(ci.ip_match, 1);
		CHECK_EQ_INT(ci.eku, TLS_EKU_SERVER);
		CHECK_EQ_INT(ci.is_ca, 0);
		CHECK_EQ_INT(ci.pathlen, -1);
		CHECK(memmem(ci.issuer, ci.issuer_len, "pizza-test-ca", 13) != NULL);
		CHECK(memmem(ci.subject, ci.subject_len, "kube-apiserver", 14) != NULL);
		free(der);
		info(NULL, 0, NULL, &ci);
	}
	/* anchors remember their own constraints */
	{
		size_t an;
		char *ca = data_tls("ca.pem", &an);
		memset(&creds, 0, sizeof creds);
		CHECK_EQ_INT(tls_creds_add_ca_pem(&creds, ca, an), 1);
		CHECK_EQ_INT(creds.anchor_pathlen[0], -1);
		CHECK_EQ_INT(creds.anchor_eku_ok[0], 1);
		free(ca);
	}
}

/* ---- messages ---- */

static void test_strerror(void)
{
	/* issue 9: a TLS-1.3-only server answers our TLS 1.2 hello with a protocol_version alert */
	const char *m = tls_strerror(BR_ERR_RECV_FATAL_ALERT + BR_ALERT_PROTOCOL_VERSION);
	CHECK(strstr(m, "TLS 1.3") && strstr(m, "TLS 1.2 at most"));
	CHECK(strstr(m, "client certificate") == NULL);
	/* every code of the policy has its own message */
	const unsigned own[] = { TLS_ERR_NO_SAN, TLS_ERR_EKU, TLS_ERR_CA_EKU, TLS_ERR_PATHLEN, TLS_ERR_CERT_TOO_LARGE,
		TLS_ERR_CERT_MALFORMED, BR_ERR_X509_NOT_CA, BR_ERR_X509_FORBIDDEN_KEY_USAGE, BR_ERR_X509_UNSUPPORTED,
		BR_ERR_WRONG_KEY_USAGE };
	for (size_t i = 0; i < PZ_ARRAY_LEN(own); i++) {
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(tls_strerror(own[i]), tls_strerror(own[j])) != 0);
		CHECK(strcmp(tls_strerror(own[i]), "TLS protocol error") != 0);
	}
	CHECK(strstr(tls_strerror(TLS_ERR_NO_SAN), "CN is ignored") != NULL);
	CHECK(strstr(tls_strerror(TLS_ERR_EKU), "serverAuth") != NULL);
	/* codes nobody names still get a non-empty answer */
	CHECK(tls_strerror(63) && *tls_strerror(63));
	CHECK(tls_strerror(BR_ERR_RECV_FATAL_ALERT + 255) && *tls_strerror(BR_ERR_RECV_FATAL_ALERT + 255));
	CHECK(tls_strerror(BR_ERR_SEND_FATAL_ALERT + 40) && *tls_strerror(BR_ERR_SEND_FATAL_ALERT + 40));
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
	/* no SAN, CN=127.0.0.1: refused, and said so (the CN is never read) */
	CHECK_EQ_INT(verify("nosan.der", "ca.pem", "127.0.0.1", -1), TLS_ERR_NO_SAN);
	CHECK_EQ_INT(verify("nosan-ext.der", "ca.pem", "127.0.0.1", -1), TLS_ERR_NO_SAN);
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
	test_cert_info();
	test_strerror();
	return check_done("tls");
}
