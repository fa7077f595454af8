/*
 * fuzz_x509_san.c - libFuzzer target for the DER walk of the certificate policy (tls_cert_info,
 * src/tls.h) and for the base64 decoder of kubeconfig *-data fields (src/config.h).
 *
 * tls_cert_info reads each certificate the server sent before anything verified it: it must never
 * read past the DER, whatever the lengths inside claim. The input (an exact-size block from
 * libFuzzer) is read asking for a 4-byte, a 16-byte and no address:
 *   - the answer is 0 or -1; on 0, issuer and subject lie inside the input and start with a
 *     SEQUENCE, eku is one of TLS_EKU_*, pathlen is -1..255, and the flags are 0 or 1;
 *   - ip_match only when the address's iPAddress TLV (87 len addr) is in the input, and only when
 *     there is a SAN; the answer for the other fields does not depend on the address asked for.
 * config_base64_decode gets the input as text with exact-size output blocks:
 *   - the output fits the capacity it was given, and a smaller capacity gives the same bytes or
 *     PZ_ETOOBIG, never a write past it;
 *   - the input's bytes encoded as base64 (padded, wrapped at 76 like kubectl) decode back to them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "config.h"
#include "fuzz.h"
#include "pz.h"
#include "tls.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The addresses a controller dials: the loopback API server and a v6 service address. */
static const unsigned char ip4[4] = { 127, 0, 0, 1 };
static const unsigned char ip16[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

static void info(const uint8_t *der, size_t len, const unsigned char *ip, size_t ip_len, struct tls_cert_info *ci)
{
	unsigned char tlv[18];
	int rc = tls_cert_info(der, len, ip, ip_len, ci);

	CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		ci->eku = -1; /* marks "unreadable" for the comparison below */
		return;
	}
	CHECK(ci->issuer >= der && ci->issuer_len >= 2 && ci->issuer_len <= (size_t)(der + len - ci->issuer));
	CHECK(ci->subject >= der && ci->subject_len >= 2 && ci->subject_len <= (size_t)(der + len - ci->subject));
	CHECK(ci->issuer[0] == 0x30 && ci->subject[0] == 0x30);
	CHECK(ci->eku == TLS_EKU_ABSENT || ci->eku == TLS_EKU_SERVER || ci->eku == TLS_EKU_OTHER);
	CHECK(ci->pathlen >= -1 && ci->pathlen <= 255);
	CHECK(ci->is_ca == 0 || ci->is_ca == 1);
	CHECK(ci->has_san == 0 || ci->has_san == 1);
	CHECK(ci->ip_match == 0 || (ci->ip_match == 1 && ci->has_san && ip));
	if (ci->ip_match) {
		tlv[0] = 0x87;
		tlv[1] = (unsigned char)ip_len;
		memcpy(tlv + 2, ip, ip_len);
		CHECK(memmem(der, len, tlv, ip_len + 2) != NULL);
	}
}

static void cert_info(const uint8_t *der, size_t len)
{
	struct tls_cert_info a, b, c;

	info(der, len, ip4, sizeof ip4, &a);
	info(der, len, ip16, sizeof ip16, &b);
	info(der, len, NULL, 0, &c);
	CHECK(a.eku == b.eku && b.eku == c.eku);
	if (c.eku >= 0) {
		CHECK(a.issuer == c.issuer && a.subject == c.subject && b.issuer == c.issuer);
		CHECK(a.has_san == c.has_san && a.is_ca == c.is_ca && a.pathlen == c.pathlen);
		CHECK(b.has_san == c.has_san && b.is_ca == c.is_ca && b.pathlen == c.pathlen);
		CHECK(c.ip_match == 0);
	}
}

static long decode(const uint8_t *in, size_t len, size_t cap, unsigned char *keep)
{
	unsigned char *out = malloc(cap ? cap : 1);
	long n;

	CHECK(out);
	n = config_base64_decode((const char *)in, len, out, cap);
	if (n >= 0) {
		CHECK((size_t)n <= cap);
		if (keep)
			memcpy(keep, out, (size_t)n);
	}
	free(out);
	return n;
}

static void base64(const uint8_t *data, size_t size)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t cap_small = size ? data[0] % 64 : 0, tl = 0;
	unsigned char *full = malloc(size + 1), *back = malloc(size + 1);
	char *text = malloc(size / 3 * 4 + size / 57 + 8);
	long n, m;

	CHECK(full && back && text);
	/* As config.c calls it: capacity = the text's length, always enough. */
	n = decode(data, size, size, full);
	CHECK(n >= 0 || n == PZ_ECONFIG);
	m = decode(data, size, cap_small, NULL);
	if (n >= 0)
		CHECK((size_t)n <= cap_small ? m == n : m == PZ_ETOOBIG);
	else
		CHECK(m == PZ_ECONFIG || m == PZ_ETOOBIG);
	if (n >= 0 && (size_t)n <= cap_small) {
		unsigned char *again = malloc(cap_small ? cap_small : 1);
		CHECK(again);
		CHECK(decode(data, size, cap_small, again) == n);
		CHECK(memcmp(again, full, (size_t)n) == 0);
		free(again);
	}

	for (size_t i = 0; i < size; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		size_t k = size - i < 3 ? size - i : 3;
		if (k > 1)
			v |= (uint32_t)data[i + 1] << 8;
		if (k > 2)
			v |= data[i + 2];
		text[tl++] = alphabet[v >> 18 & 63];
		text[tl++] = alphabet[v >> 12 & 63];
		text[tl++] = k > 1 ? alphabet[v >> 6 & 63] : '=';
		text[tl++] = k > 2 ? alphabet[v & 63] : '=';
		if ((i / 3 + 1) % 19 == 0)
			text[tl++] = '\n';
	}
	n = decode((const uint8_t *)text, tl, size, back);
	CHECK(n == (long)size);
	CHECK(memcmp(back, data, size) == 0);
	free(text);
	free(back);
	free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cert_info(data, size);
	base64(data, size);
	return 0;
}
