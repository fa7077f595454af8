/*
 * tls.c - trust anchors, client keys and the name-checking X.509 wrapper (see tls.h).
 * Cipher suites: TLS 1.2 ECDHE with AES-GCM only. Every Kubernetes API server offers them (Go and
 * HTTP/2 require them); ChaCha20-Poly1305 would add 7 KiB, 4% of the binary, for no server that
 * lacks AES-GCM. BearSSL picks AES-NI where the CPU has it and a constant-time bitsliced AES
 * elsewhere (arm boards), plenty for a controller's few KiB/s. No CBC, static RSA or 3DES.
 */
#include "tls.h"
#include "pz.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* ---- PEM ---- */

struct der_sink {
	unsigned char *buf;
	size_t cap, len;
	int overflow;
};

static void der_append(void *ctx, const void *data, size_t len)
{
	struct der_sink *s = ctx;
	if (s->overflow || s->cap - s->len < len) {
		s->overflow = 1;
		return;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
}

/* Calls `each` for every PEM object whose name is in `names` (NULL-terminated), with its DER in a
 * temporary buffer. Returns the number of objects handed out, or a negative code. */
static int pem_each(const char *pem, size_t len, const char *const *names,
	int (*each)(void *, const char *, const unsigned char *, size_t), void *arg)
{
	static unsigned char der[16384]; /* start-up only; a PEM object larger than this is refused */
	br_pem_decoder_context pc;
	struct der_sink sink = { der, sizeof der, 0, 0 };
	int inside = 0, want = 0, count = 0;
	char name[128];

	br_pem_decoder_init(&pc);
	while (len > 0 || inside) {
		size_t n = br_pem_decoder_push(&pc, pem, len);
		pem += n;
		len -= n;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			want = 0;
			snprintf(name, sizeof name, "%s", br_pem_decoder_name(&pc));
			/* With CRLF line ends BearSSL keeps the closing dashes in the name. */
			for (size_t l = strlen(name); l > 0 && name[l - 1] == '-'; l--)
				name[l - 1] = 0;
			for (const char *const *p = names; *p; p++)
				if (strcmp(*p, name) == 0)
					want = 1;
			sink.len = 0;
			sink.overflow = 0;
			br_pem_decoder_setdest(&pc, want ? der_append : NULL, &sink);
			inside = 1;
			break;
		case BR_PEM_END_OBJ:
			inside = 0;
			if (want) {
				int rc;
				if (sink.overflow)
					return PZ_ETOOBIG;
				rc = each(arg, name, der, sink.len);
				if (rc < 0)
					return rc;
				count++;
			}
			break;
		case BR_PEM_ERROR:
			return PZ_ECONFIG;
		default:
			if (n == 0 && len == 0)
				return inside ? PZ_ECONFIG : count;
			break;
		}
	}
	return count;
}

/* ---- trust anchors ---- */

struct arena {
	unsigned char *base;
	size_t cap, *used;
};

static unsigned char *arena_copy(struct arena *a, const void *src, size_t n)
{
	unsigned char *p;
	if (a->cap - *a->used < n)
		return NULL;
	p = a->base + *a->used;
	memcpy(p, src, n);
	*a->used += n;
	return p;
}

struct dn_sink {
	unsigned char buf[1024]; /* a certificate DN; X.509 names of a few hundred bytes in practice */
	size_t len;
	int overflow;
};

static void dn_append(void *ctx, const void *data, size_t len)
{
	struct dn_sink *s = ctx;
	if (s->overflow || sizeof s->buf - s->len < len) {
		s->overflow = 1;
		return;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
}

static int add_anchor(void *arg, const char *name, const unsigned char *der, size_t len)
{
	struct tls_creds *c = arg;
	struct arena a = { c->anchor_arena, sizeof c->anchor_arena, &c->anchor_used };
	br_x509_decoder_context dc;
	static struct dn_sink dn; /* start-up only */
	const br_x509_pkey *pk;
	br_x509_trust_anchor *ta;

	(void)name;
	if (c->nanchors >= TLS_ANCHORS_MAX)
		return PZ_ETOOBIG;
	dn.len = 0;
	dn.overflow = 0;
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || dn.overflow)
		return PZ_ECONFIG;
	ta = &c->anchors[c->nanchors];
	memset(ta, 0, sizeof *ta);
	ta->dn.data = arena_copy(&a, dn.buf, dn.len);
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = arena_copy(&a, pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = arena_copy(&a, pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		if (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e)
			return PZ_ETOOBIG;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = arena_copy(&a, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		if (!ta->pkey.key.ec.q)
			return PZ_ETOOBIG;
	} else {
		return PZ_ECONFIG;
	}
	if (!ta->dn.data)
		return PZ_ETOOBIG;
	c->nanchors++;
	return 0;
}

int tls_creds_add_ca_pem(struct tls_creds *c, const char *pem, size_t len)
{
	static const char *const names[] = { "CERTIFICATE", "X509 CERTIFICATE", NULL };
	int n = pem_each(pem, len, names, add_anchor, c);
	if (n == 0)
		return PZ_ECONFIG;
	return n;
}

/* ---- client certificate ---- */

static int add_chain(void *arg, const char *name, const unsigned char *der, size_t len)
{
	struct tls_creds *c = arg;
	struct arena a = { c->chain_arena, sizeof c->chain_arena, &c->chain_used };
	(void)name;
	if (c->nchain >= TLS_CHAIN_MAX)
		return PZ_ETOOBIG;
	c->chain[c->nchain].data = arena_copy(&a, der, len);
	c->chain[c->nchain].data_len = len;
	if (!c->chain[c->nchain].data)
		return PZ_ETOOBIG;
	c->nchain++;
	return 0;
}

static int add_key(void *arg, const char *name, const unsigned char *der, size_t len)
{
	struct tls_creds *c = arg;
	(void)name;
	if (c->has_key)
		return PZ_ECONFIG; /* two keys: which one? refuse to guess */
	br_skey_decoder_init(&c->key);
	br_skey_decoder_push(&c->key, der, len);
	if (br_skey_decoder_last_error(&c->key) != 0 || br_skey_decoder_key_type(&c->key) == 0)
		return PZ_ECONFIG;
	c->has_key = 1;
	return 0;
}

int tls_creds_set_client_pem(struct tls_creds *c, const char *cert_pem, size_t cert_len,
	const char *key_pem, size_t key_len)
{
	static const char *const cert_names[] = { "CERTIFICATE", NULL };
	static const char *const key_names[] = { "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", NULL };
	int rc;

	c->nchain = 0;
	c->chain_used = 0;
	c->has_key = 0;
	rc = pem_each(cert_pem, cert_len, cert_names, add_chain, c);
	if (rc <= 0)
		return rc < 0 ? rc : PZ_ECONFIG;
	rc = pem_each(key_pem, key_len, key_names, add_key, c);
	if (rc <= 0)
		return rc < 0 ? rc : PZ_ECONFIG;
	return 0;
}

/* ---- names ---- */

int tls_name_set(struct tls_name *n, const char *host)
{
	char tmp[64];
	size_t len = strlen(host);

	memset(n, 0, sizeof *n);
	if (len == 0)
		return PZ_ECONFIG;
	if (host[0] == '[' && len < sizeof tmp && host[len - 1] == ']') {
		memcpy(tmp, host + 1, len - 2);
		tmp[len - 2] = 0;
		host = tmp;
	}
	if (inet_pton(AF_INET, host, n->ip) == 1) {
		n->is_ip = 1;
		n->ip_len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, n->ip) == 1) {
		n->is_ip = 1;
		n->ip_len = 16;
		return 0;
	}
	if (len >= sizeof n->dns)
		return PZ_ECONFIG;
	memcpy(n->dns, host, len + 1);
	return 0;
}

/* ---- DER walking for iPAddress SANs ---- */

/* Reads one TLV at *p. Returns the tag, or -1 when malformed; sets *val and *vlen, advances *p. */
static int der_tlv(const unsigned char **p, const unsigned char *end, const unsigned char **val, size_t *vlen)
{
	const unsigned char *q = *p;
	int tag;
	size_t len;

	if (end - q < 2)
		return -1;
	tag = *q++;
	if ((tag & 0x1f) == 0x1f)
		return -1; /* high tag numbers never appear where we look */
	len = *q++;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - q) < k)
			return -1;
		len = 0;
		while (k--)
			len = (len << 8) | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*val = q;
	*vlen = len;
	*p = q + len;
	return tag;
}

int tls_cert_has_ip(const unsigned char *der, size_t len, const unsigned char *ip, size_t ip_len)
{
	static const unsigned char san_oid[] = { 0x55, 0x1d, 0x11 };
	const unsigned char *p = der, *end = der + len, *v, *tbs_end, *e, *ext_end;
	size_t vl;

	if (der_tlv(&p, end, &v, &vl) != 0x30)
		return -1;
	p = v;
	end = v + vl;
	if (der_tlv(&p, end, &v, &vl) != 0x30) /* tbsCertificate */
		return -1;
	p = v;
	tbs_end = v + vl;
	while (p < tbs_end) {
		int tag = der_tlv(&p, tbs_end, &v, &vl);
		if (tag < 0)
			return -1;
		if (tag != 0xa3) /* [3] extensions */
			continue;
		e = v;
		if (der_tlv(&e, v + vl, &v, &vl) != 0x30)
			return -1;
		e = v;
		ext_end = v + vl;
		while (e < ext_end) {
			const unsigned char *x, *xe, *oid, *val;
			size_t oidl, vall;
			if (der_tlv(&e, ext_end, &x, &vl) != 0x30)
				return -1;
			xe = x + vl;
			if (der_tlv(&x, xe, &oid, &oidl) != 0x06)
				return -1;
			if (oidl != sizeof san_oid || memcmp(oid, san_oid, oidl) != 0)
				continue;
			int t = der_tlv(&x, xe, &val, &vall);
			if (t == 0x01) /* critical flag */
				t = der_tlv(&x, xe, &val, &vall);
			if (t != 0x04)
				return -1;
			x = val;
			if (der_tlv(&x, val + vall, &v, &vl) != 0x30)
				return -1;
			x = v;
			xe = v + vl;
			while (x < xe) {
				int gt = der_tlv(&x, xe, &v, &vl);
				if (gt < 0)
					return -1;
				if (gt == 0x87 && vl == ip_len && memcmp(v, ip, ip_len) == 0)
					return 1;
			}
			return 0;
		}
		return 0;
	}
	return 0;
}

/* ---- the X.509 wrapper ---- */

static void xw_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	x->cert_index = 0;
	x->ee_len = 0;
	x->ee_overflow = 0;
	/* IP mode: the minimal engine validates the chain with no name; we check the IP at the end. */
	x->minimal.vtable->start_chain(&x->minimal.vtable, x->name->is_ip ? NULL : server_name);
}

static void xw_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	x->minimal.vtable->start_cert(&x->minimal.vtable, length);
}

static void xw_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	if (x->cert_index == 0 && x->name->is_ip) {
		if (x->ee_overflow || sizeof x->ee - x->ee_len < len)
			x->ee_overflow = 1;
		else {
			memcpy(x->ee + x->ee_len, buf, len);
			x->ee_len += len;
		}
	}
	x->minimal.vtable->append(&x->minimal.vtable, buf, len);
}

static void xw_end_cert(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	x->cert_index++;
	x->minimal.vtable->end_cert(&x->minimal.vtable);
}

static unsigned xw_end_chain(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	unsigned r = x->minimal.vtable->end_chain(&x->minimal.vtable);
	if (r != 0 || !x->name->is_ip)
		return r;
	if (x->ee_overflow || tls_cert_has_ip(x->ee, x->ee_len, x->name->ip, x->name->ip_len) != 1)
		return BR_ERR_X509_BAD_SERVER_NAME;
	return 0;
}

static const br_x509_pkey *xw_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509 *x = (const struct tls_x509 *)(const void *)ctx;
	return x->minimal.vtable->get_pkey(&x->minimal.vtable, usages);
}

static const br_x509_class xw_vtable = {
	sizeof(struct tls_x509), xw_start_chain, xw_start_cert, xw_append, xw_end_cert, xw_end_chain,
	xw_get_pkey
};

/* ---- client engine ---- */

int tls_client_start(struct tls_client *c, const struct tls_creds *creds, const struct tls_name *name)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	/* SHA-256/384/512 only: every certificate and handshake signature a current API server
	 * makes uses them; SHA-1 and SHA-224 would be dead weight in a 192 KiB binary. */
	static const br_hash_class *const hashes[] = {
		&br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable
	};
	br_ssl_client_context *cc = &c->cc;
	br_x509_minimal_context *xc = &c->x509.minimal;
	int resume = c->have_session;

	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(&cc->eng, BR_TLS12, BR_TLS12);
	br_x509_minimal_init(xc, &br_sha256_vtable, creds->anchors, creds->nanchors);
	br_ssl_engine_set_suites(&cc->eng, suites, PZ_ARRAY_LEN(suites));
	br_ssl_engine_set_default_rsavrfy(&cc->eng);
	br_ssl_engine_set_default_ecdsa(&cc->eng);
	br_x509_minimal_set_rsa(xc, br_ssl_engine_get_rsavrfy(&cc->eng));
	br_x509_minimal_set_ecdsa(xc, br_ssl_engine_get_ec(&cc->eng), br_ssl_engine_get_ecdsa(&cc->eng));
	for (size_t k = 0; k < PZ_ARRAY_LEN(hashes); k++) {
		int id = (int)((hashes[k]->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK);
		br_ssl_engine_set_hash(&cc->eng, id, hashes[k]);
		br_x509_minimal_set_hash(xc, id, hashes[k]);
	}
	br_ssl_engine_set_prf_sha256(&cc->eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(&cc->eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(&cc->eng);
	c->x509.vtable = &xw_vtable;
	c->x509.name = name;
	br_ssl_engine_set_x509(&cc->eng, &c->x509.vtable);
	if (creds->has_key) {
		const br_skey_decoder_context *k = &creds->key;
		if (br_skey_decoder_key_type(k) == BR_KEYTYPE_RSA)
			br_ssl_client_set_single_rsa(cc, creds->chain, creds->nchain,
				br_skey_decoder_get_rsa(k), br_rsa_pkcs1_sign_get_default());
		else
			br_ssl_client_set_single_ec(cc, creds->chain, creds->nchain,
				br_skey_decoder_get_ec(k), BR_KEYTYPE_SIGN, 0, br_ec_get_default(),
				br_ecdsa_sign_asn1_get_default());
	}
	br_ssl_engine_set_buffers_bidi(&cc->eng, c->ibuf, sizeof c->ibuf, c->obuf, sizeof c->obuf);
	if (resume)
		br_ssl_engine_set_session_parameters(&cc->eng, &c->session);
	/* No SNI for an IP (RFC 6066 forbids IP literals there); the wrapper checks the IP itself. */
	if (!br_ssl_client_reset(cc, name->is_ip ? NULL : name->dns, resume))
		return PZ_ETLS;
	return 0;
}

void tls_client_save_session(struct tls_client *c)
{
	br_ssl_engine_get_session_parameters(&c->cc.eng, &c->session);
	c->have_session = 1;
}

const char *tls_strerror(unsigned code)
{
	if (code >= BR_ERR_SEND_FATAL_ALERT)
		return "we sent a fatal alert";
	if (code >= BR_ERR_RECV_FATAL_ALERT)
		return "the server sent a fatal alert (it may require a client certificate)";
	switch (code) {
	case 0: return "none";
	case BR_ERR_BAD_VERSION: return "server does not speak TLS 1.2";
	case BR_ERR_BAD_CIPHER_SUITE: return "no common cipher suite";
	case BR_ERR_X509_BAD_SIGNATURE: return "certificate signature invalid";
	case BR_ERR_X509_EXPIRED: return "certificate expired or not yet valid";
	case BR_ERR_X509_BAD_SERVER_NAME: return "server certificate does not carry the expected name or IP";
	case BR_ERR_X509_CRITICAL_EXTENSION: return "certificate has an unsupported critical extension";
	case BR_ERR_X509_WEAK_PUBLIC_KEY: return "certificate key too weak";
	case BR_ERR_X509_NOT_TRUSTED: return "server certificate not signed by the configured CA";
	default: return "TLS protocol error";
	}
}
