/*
 * tls.c - trust anchors, client keys and the name-checking X.509 wrapper (see tls.h).
 * Cipher suites: TLS 1.2 ECDHE with AES-GCM only. Every Kubernetes API server offers them (Go and
 * HTTP/2 require them); ChaCha20-Poly1305 would add 7 KiB, 4% of the binary, for no server that
 * lacks AES-GCM. BearSSL picks AES-NI where the CPU has it and a constant-time bitsliced AES
 * elsewhere (arm boards), plenty for a controller's few KiB/s. No CBC, static RSA or 3DES.
 */
#include "fmt.h"
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
			pz_snprintf(name, sizeof name, "%s", br_pem_decoder_name(&pc));
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
	struct tls_cert_info ci;

	(void)name;
	if (c->nanchors >= TLS_ANCHORS_MAX)
		return PZ_ETOOBIG;
	/* The anchor's own constraints, which BearSSL's anchors cannot carry: the wrapper applies them. */
	if (tls_cert_info(der, len, NULL, 0, &ci) < 0)
		return PZ_ECONFIG;
	c->anchor_pathlen[c->nanchors] = ci.pathlen;
	c->anchor_eku_ok[c->nanchors] = ci.eku != TLS_EKU_OTHER;
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

/* ---- reading a certificate for the policy ---- */

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

/* The value of the only element of type `tag` at *p (advancing), or NULL. */
static const unsigned char *der_expect(const unsigned char **p, const unsigned char *end, int tag, size_t *vlen)
{
	const unsigned char *v;
	return der_tlv(p, end, &v, vlen) == tag ? v : NULL;
}

static int oid_is(const unsigned char *oid, size_t len, const unsigned char *want, size_t want_len)
{
	return len == want_len && memcmp(oid, want, len) == 0;
}

/* subjectAltName: GeneralNames. Only iPAddress ([7], 4 or 16 bytes) is read here; dNSName is the
 * minimal engine's. */
static int read_san(const unsigned char *v, size_t vl, const unsigned char *ip, size_t ip_len, struct tls_cert_info *ci)
{
	const unsigned char *p = v, *seq;
	size_t sl;

	if ((seq = der_expect(&p, v + vl, 0x30, &sl)) == NULL)
		return -1;
	for (p = seq; p < seq + sl;) {
		const unsigned char *n;
		size_t nl;
		int tag = der_tlv(&p, seq + sl, &n, &nl);
		if (tag < 0)
			return -1;
		if (tag == 0x87 && ip && nl == ip_len && memcmp(n, ip, ip_len) == 0)
			ci->ip_match = 1;
	}
	return 0;
}

/* extendedKeyUsage: SEQUENCE SIZE (1..MAX) OF KeyPurposeId. An empty one allows nothing. */
static int read_eku(const unsigned char *v, size_t vl, struct tls_cert_info *ci)
{
	static const unsigned char server_auth[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
	static const unsigned char any_eku[] = { 0x55, 0x1d, 0x25, 0x00 };
	const unsigned char *p = v, *seq;
	size_t sl;

	if ((seq = der_expect(&p, v + vl, 0x30, &sl)) == NULL)
		return -1;
	ci->eku = TLS_EKU_OTHER;
	for (p = seq; p < seq + sl;) {
		const unsigned char *oid;
		size_t ol;
		if ((oid = der_expect(&p, seq + sl, 0x06, &ol)) == NULL)
			return -1;
		if (oid_is(oid, ol, server_auth, sizeof server_auth) || oid_is(oid, ol, any_eku, sizeof any_eku))
			ci->eku = TLS_EKU_SERVER;
	}
	return 0;
}

/* basicConstraints: SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
static int read_bc(const unsigned char *v, size_t vl, struct tls_cert_info *ci)
{
	const unsigned char *p = v, *seq, *e;
	size_t sl, el;
	int tag;

	if ((seq = der_expect(&p, v + vl, 0x30, &sl)) == NULL)
		return -1;
	p = seq;
	if (p < seq + sl && *p == 0x01) {
		if ((e = der_expect(&p, seq + sl, 0x01, &el)) == NULL || el != 1)
			return -1;
		ci->is_ca = e[0] != 0;
	}
	if (p < seq + sl) {
		tag = der_tlv(&p, seq + sl, &e, &el);
		if (tag != 0x02 || el == 0 || (e[0] & 0x80))
			return -1; /* not an INTEGER, or negative */
		ci->pathlen = 0;
		for (size_t k = 0; k < el; k++)
			ci->pathlen = ci->pathlen > 255 ? 256 : ci->pathlen << 8 | e[k];
		if (ci->pathlen > 255)
			ci->pathlen = 255; /* "more than any chain we accept" */
	}
	return p == seq + sl ? 0 : -1;
}

int tls_cert_info(const unsigned char *der, size_t len, const unsigned char *ip, size_t ip_len,
	struct tls_cert_info *ci)
{
	static const unsigned char san_oid[] = { 0x55, 0x1d, 0x11 };
	static const unsigned char eku_oid[] = { 0x55, 0x1d, 0x25 };
	static const unsigned char bc_oid[] = { 0x55, 0x1d, 0x13 };
	const unsigned char *p = der, *v, *tbs, *tbs_end, *q;
	size_t vl;
	int tag, seen_eku = 0, seen_bc = 0;

	memset(ci, 0, sizeof *ci);
	ci->pathlen = -1;
	if ((v = der_expect(&p, der + len, 0x30, &vl)) == NULL) /* Certificate */
		return -1;
	p = v;
	if ((tbs = der_expect(&p, v + vl, 0x30, &vl)) == NULL) /* tbsCertificate */
		return -1;
	p = tbs;
	tbs_end = tbs + vl;
	tag = der_tlv(&p, tbs_end, &v, &vl);
	if (tag == 0xa0) /* [0] version; absent in a v1 certificate */
		tag = der_tlv(&p, tbs_end, &v, &vl);
	if (tag != 0x02 || der_tlv(&p, tbs_end, &v, &vl) != 0x30) /* serialNumber, signature */
		return -1;
	q = p;
	if (der_tlv(&p, tbs_end, &v, &vl) != 0x30)
		return -1;
	ci->issuer = q;
	ci->issuer_len = (size_t)(p - q);
	if (der_tlv(&p, tbs_end, &v, &vl) != 0x30) /* validity: the minimal engine's */
		return -1;
	q = p;
	if (der_tlv(&p, tbs_end, &v, &vl) != 0x30)
		return -1;
	ci->subject = q;
	ci->subject_len = (size_t)(p - q);
	if (der_tlv(&p, tbs_end, &v, &vl) != 0x30) /* subjectPublicKeyInfo */
		return -1;
	while (p < tbs_end) {
		const unsigned char *exts, *x;
		size_t xl;
		tag = der_tlv(&p, tbs_end, &v, &vl);
		if (tag == 0x81 || tag == 0x82) /* issuer/subject unique IDs */
			continue;
		if (tag != 0xa3 || (exts = der_expect(&v, v + vl, 0x30, &xl)) == NULL)
			return -1;
		for (x = exts; x < exts + xl;) {
			const unsigned char *e, *oid, *val;
			size_t el, ol, vall;
			int rc = 0;
			if ((e = der_expect(&x, exts + xl, 0x30, &el)) == NULL)
				return -1;
			q = e;
			if ((oid = der_expect(&q, e + el, 0x06, &ol)) == NULL)
				return -1;
			tag = der_tlv(&q, e + el, &val, &vall);
			if (tag == 0x01) /* critical: the minimal engine acts on it */
				tag = der_tlv(&q, e + el, &val, &vall);
			if (tag != 0x04 || q != e + el)
				return -1;
			/* Go refuses a certificate with an extension twice; for the three read here a
			 * second copy would also be ambiguous (the minimal engine takes the last SAN). */
			if (oid_is(oid, ol, san_oid, sizeof san_oid))
				rc = ci->has_san++ ? -1 : read_san(val, vall, ip, ip_len, ci);
			else if (oid_is(oid, ol, eku_oid, sizeof eku_oid))
				rc = seen_eku++ ? -1 : read_eku(val, vall, ci);
			else if (oid_is(oid, ol, bc_oid, sizeof bc_oid))
				rc = seen_bc++ ? -1 : read_bc(val, vall, ci);
			if (rc < 0)
				return -1;
		}
		if (p != tbs_end)
			return -1; /* nothing follows the extensions */
	}
	return 0;
}

/* ---- the X.509 wrapper ---- */

static void xw_refuse(struct tls_x509 *x, unsigned err)
{
	if (x->policy_err == 0)
		x->policy_err = err;
}

static int dn_equal(const br_x500_name *dn, const unsigned char *der, size_t len)
{
	return dn->len == len && memcmp(dn->data, der, len) == 0;
}

static void xw_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	x->cert_index = 0;
	x->policy_err = 0;
	x->not_ca_cause = 0;
	x->chain_end = 0;
	/* IP mode: the minimal engine validates the chain with no name; we check the IP ourselves. */
	x->minimal.vtable->start_chain(&x->minimal.vtable, x->name->is_ip ? NULL : server_name);
}

static void xw_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	x->cert_len = 0;
	x->cert_overflow = 0;
	x->minimal.vtable->start_cert(&x->minimal.vtable, length);
}

static void xw_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	if (!x->chain_end) {
		if (x->cert_overflow || sizeof x->cert - x->cert_len < len)
			x->cert_overflow = 1;
		else {
			memcpy(x->cert + x->cert_len, buf, len);
			x->cert_len += len;
		}
	}
	x->minimal.vtable->append(&x->minimal.vtable, buf, len);
}

/* The policy for certificate number i of the chain (0 is the server's own). The minimal engine reads
 * the same bytes; what it checks is not repeated here. */
static void xw_check_cert(struct tls_x509 *x, unsigned i)
{
	const struct tls_creds *cr = x->creds;
	const struct tls_name *nm = x->name;
	struct tls_cert_info ci;
	int signed_by_anchor = 0, pathlen_ok = 0, eku_ok = 0;

	if (x->cert_overflow) {
		xw_refuse(x, TLS_ERR_CERT_TOO_LARGE);
		x->chain_end = 1; /* nothing after it can be placed in the chain */
		return;
	}
	if (tls_cert_info(x->cert, x->cert_len, nm->is_ip ? nm->ip : NULL, nm->ip_len, &ci) < 0) {
		xw_refuse(x, TLS_ERR_CERT_MALFORMED);
		x->chain_end = 1;
		return;
	}
	if (i == 0) {
		/* Go >= 1.15: the name is looked for in the SAN only, never in the CN. Without a SAN
		 * the minimal engine would read the CN, so its verdict on the name cannot stand. */
		if (!ci.has_san)
			xw_refuse(x, TLS_ERR_NO_SAN);
		else if (nm->is_ip && !ci.ip_match)
			xw_refuse(x, BR_ERR_X509_BAD_SERVER_NAME);
		/* Go: an EKU on the server's certificate must allow serverAuth (or any usage). */
		if (ci.eku == TLS_EKU_OTHER)
			xw_refuse(x, TLS_ERR_EKU);
		/* Direct trust (the certificate itself is a non-CA anchor): the minimal engine ignores
		 * the rest of the chain, so do we. */
		for (size_t a = 0; a < cr->nanchors; a++)
			if (!(cr->anchors[a].flags & BR_X509_TA_CA) &&
			    dn_equal(&cr->anchors[a].dn, ci.subject, ci.subject_len))
				x->chain_end = 1;
	} else {
		/* Go checks the usage down the whole chain: an issuer with an EKU that excludes
		 * serverAuth cannot vouch for a server. */
		if (ci.eku == TLS_EKU_OTHER)
			xw_refuse(x, TLS_ERR_CA_EKU);
		/* The minimal engine refuses an issuer that is not a CA or whose path length is
		 * exceeded with one code, BR_ERR_X509_NOT_CA; note which it is, for the message. Its
		 * pathLenConstraint counts the intermediates below it: i - 1. */
		if (x->not_ca_cause == 0 && !ci.is_ca)
			x->not_ca_cause = BR_ERR_X509_NOT_CA;
		else if (x->not_ca_cause == 0 && ci.pathlen >= 0 && (unsigned)ci.pathlen < i - 1)
			x->not_ca_cause = TLS_ERR_PATHLEN;
	}
	/* Does a CA anchor sign this certificate? Then the chain ends here, as it does for the minimal
	 * engine (it compares the DNs byte for byte too), and the anchor's own constraints apply: its
	 * pathLenConstraint against the i intermediates below it, and its EKU. Two anchors with the same
	 * DN (a CA re-keyed under the same name): either one may be the signer, so either one's
	 * constraints are enough. */
	for (size_t a = 0; a < cr->nanchors; a++) {
		if (!(cr->anchors[a].flags & BR_X509_TA_CA) || !dn_equal(&cr->anchors[a].dn, ci.issuer, ci.issuer_len))
			continue;
		signed_by_anchor = 1;
		pathlen_ok |= cr->anchor_pathlen[a] < 0 || (unsigned)cr->anchor_pathlen[a] >= i;
		eku_ok |= cr->anchor_eku_ok[a];
	}
	if (signed_by_anchor) {
		x->chain_end = 1;
		if (!pathlen_ok)
			xw_refuse(x, TLS_ERR_PATHLEN);
		if (!eku_ok)
			xw_refuse(x, TLS_ERR_CA_EKU);
	}
}

static void xw_end_cert(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	if (!x->chain_end)
		xw_check_cert(x, x->cert_index);
	x->cert_index++;
	x->minimal.vtable->end_cert(&x->minimal.vtable);
}

/* The minimal engine's verdict first: an untrusted, expired or broken chain is reported as such.
 * Its name mismatch is not final: with no SAN it may have matched or missed on the CN, and the
 * policy's own reason is the one to give. */
static unsigned xw_end_chain(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	unsigned r = x->minimal.vtable->end_chain(&x->minimal.vtable);
	if (r == BR_ERR_X509_NOT_CA && x->not_ca_cause)
		return x->not_ca_cause;
	if (r != 0 && r != BR_ERR_X509_BAD_SERVER_NAME)
		return r;
	return x->policy_err ? x->policy_err : r;
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
	br_x509_minimal_set_minrsa(xc, TLS_RSA_MIN_BYTES);
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
	c->x509.creds = creds;
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

/* Each cause the log can show, worded for the person who must fix it: what was wrong, on which side. */
const char *tls_strerror(unsigned code)
{
	if (code >= BR_ERR_SEND_FATAL_ALERT)
		return "we sent a fatal alert";
	if (code >= BR_ERR_RECV_FATAL_ALERT) {
		switch (code - BR_ERR_RECV_FATAL_ALERT) {
		/* A TLS-1.3-only server answers a TLS 1.2 ClientHello with this alert. */
		case BR_ALERT_PROTOCOL_VERSION:
			return "the server refused TLS 1.2 and requires TLS 1.3; BearSSL speaks TLS 1.2 at most";
		case BR_ALERT_HANDSHAKE_FAILURE:
			return "server sent handshake_failure: no common cipher suite (ECDHE AES-GCM; a server "
			       "that speaks only TLS 1.0/1.1 has none), or it wants a client certificate";
		case BR_ALERT_BAD_CERTIFICATE:
		case BR_ALERT_UNSUPPORTED_CERTIFICATE:
		case BR_ALERT_CERTIFICATE_REVOKED:
		case BR_ALERT_CERTIFICATE_EXPIRED:
		case BR_ALERT_CERTIFICATE_UNKNOWN:
		case BR_ALERT_UNKNOWN_CA:
			return "server refused our client certificate, or wants one";
		default:
			return "the server sent a fatal alert";
		}
	}
	switch (code) {
	case 0: return "none";
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_BAD_VERSION: return "server does not speak TLS 1.2";
	case BR_ERR_BAD_CIPHER_SUITE: return "no common cipher suite";
	case BR_ERR_WRONG_KEY_USAGE: return "server certificate keyUsage lacks digitalSignature";
	case BR_ERR_IO: return "connection lost in the TLS handshake";
	case BR_ERR_X509_BAD_SIGNATURE: return "certificate signature invalid";
	case BR_ERR_X509_UNSUPPORTED: return "certificate signature algorithm or key unsupported (MD5, SHA-1 refused)";
	case BR_ERR_X509_EXPIRED: return "certificate expired or not yet valid";
	case BR_ERR_X509_DN_MISMATCH: return "certificate chain out of order";
	case BR_ERR_X509_BAD_SERVER_NAME: return "server certificate does not carry the expected name or IP";
	case BR_ERR_X509_CRITICAL_EXTENSION: return "certificate has an unsupported critical extension (e.g. name constraints)";
	case BR_ERR_X509_NOT_CA: return "an issuer is not a CA (basicConstraints CA:FALSE or absent)";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE: return "an issuer's keyUsage lacks keyCertSign";
	case BR_ERR_X509_WEAK_PUBLIC_KEY: return "certificate key too weak (RSA under 2048 bits)";
	case BR_ERR_X509_NOT_TRUSTED: return "server certificate not signed by the configured CA";
	case TLS_ERR_NO_SAN: return "server certificate has no subject alternative name (CN is ignored)";
	case TLS_ERR_EKU: return "server certificate lacks serverAuth extended key usage";
	case TLS_ERR_CA_EKU: return "a CA in the chain has an extended key usage without serverAuth";
	case TLS_ERR_PATHLEN: return "a CA's path length constraint is exceeded";
	case TLS_ERR_CERT_TOO_LARGE: return "a certificate of the chain is over 8 KiB";
	case TLS_ERR_CERT_MALFORMED: return "certificate unreadable, or an extension repeated";
	default:
		return code >= BR_ERR_X509_OK && code < TLS_ERR_NO_SAN ? "certificate malformed or unsupported"
								       : "TLS protocol error";
	}
}
