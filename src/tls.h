/*
 * tls.h - BearSSL set-up: the cluster CA as trust anchors, an optional client certificate, and the
 * server-certificate policy of Go's crypto/x509 (so of kubectl and client-go) on top of BearSSL's.
 *
 * Why a wrapper around br_x509_minimal: the minimal engine validates the chain (signatures, dates,
 * basicConstraints of intermediates, keyUsage, critical extensions) but knows only DNS names, reads
 * the CN when there is no SAN, ignores extendedKeyUsage and does not know a CA anchor's path length.
 * tls_x509 runs the chain through the minimal engine and, beside it, reads each certificate itself
 * (tls_cert_info) to add what Go does:
 *   - the name: an IP literal is matched against iPAddress SANs only, a DNS name against dNSName SANs
 *     only (by the minimal engine); a certificate without a SAN extension is refused whatever its CN
 *     says (Go >= 1.15 ignores the CN);
 *   - extendedKeyUsage: when present on the end-entity, an intermediate or the CA anchor, it must
 *     allow serverAuth (or be anyExtendedKeyUsage);
 *   - the CA anchor's pathLenConstraint bounds the intermediates below it (BearSSL anchors carry no
 *     path length; the minimal engine checks the intermediates' own).
 * There is no mode without a name check: a mismatch fails the handshake. Where BearSSL is stricter
 * than Go (a critical EKU or name constraints extension, keyUsage, SHA-1, RSA under 2048 bits), it
 * stays stricter: those are refused, each with its own message.
 *
 * Memory: struct tls_creds is filled once at start-up from PEM; struct tls_client is one per
 * connection and holds the engine, its record buffers and the wrapper (about 33 KiB, see TLS_*).
 */
#ifndef PZ_TLS_H
#define PZ_TLS_H

#include <bearssl.h>
#include <stddef.h>

/* CA certificates accepted in one bundle. A kubeconfig CA is one certificate, a rotated one two;
 * the in-cluster ca.crt bundle is one or two. */
#define TLS_ANCHORS_MAX 8
/* Bytes for all anchors' DNs and public keys: an RSA-4096 anchor needs ~700 bytes. */
#define TLS_ANCHOR_ARENA 8192
/* Client certificate chain: leaf plus intermediates, DER. */
#define TLS_CHAIN_MAX 4
#define TLS_CHAIN_ARENA 8192
/* Largest certificate of the server's chain that the policy reads (each is read in turn into one
 * buffer); an API server's is ~1.3 KiB, a CA's under 2 KiB. A larger one fails closed
 * (TLS_ERR_CERT_TOO_LARGE) unless it comes after the one a CA anchor signed, which nobody reads. */
#define TLS_CERT_MAX 8192
/* RSA keys in the chain: at least 2048 bits (Go takes 1024; no API server has used less than 2048
 * for a decade, and 1024 is within reach of a well-funded attacker). */
#define TLS_RSA_MIN_BYTES 256

/* Refusals of the policy, reported by the engine as its last error like BearSSL's own codes
 * (BR_ERR_* are below 64 or from 256 up, so 96..103 cannot collide); tls_strerror names them. */
#define TLS_ERR_NO_SAN 96          /* end-entity has no subjectAltName; its CN is not read */
#define TLS_ERR_EKU 97             /* end-entity extendedKeyUsage lacks serverAuth */
#define TLS_ERR_CA_EKU 98          /* an issuer's extendedKeyUsage lacks serverAuth */
#define TLS_ERR_PATHLEN 99         /* a CA's pathLenConstraint is exceeded */
#define TLS_ERR_CERT_TOO_LARGE 100 /* a certificate over TLS_CERT_MAX */
#define TLS_ERR_CERT_MALFORMED 101 /* unreadable DER, or a SAN, EKU or basicConstraints twice */
/* Record buffers. Input must hold a full 16 KiB record: Go servers ignore max_fragment_length.
 * Output only carries our requests; smaller records are legal, 4 KiB keeps a Pod body in one. */
#define TLS_IBUF_SIZE BR_SSL_BUFSIZE_INPUT
#define TLS_OBUF_SIZE (4096 + 85)

struct tls_creds {
	br_x509_trust_anchor anchors[TLS_ANCHORS_MAX];
	size_t nanchors;
	unsigned char anchor_arena[TLS_ANCHOR_ARENA];
	size_t anchor_used;
	br_x509_certificate chain[TLS_CHAIN_MAX];
	size_t nchain;
	unsigned char chain_arena[TLS_CHAIN_ARENA];
	size_t chain_used;
	/* Per anchor, from its own certificate: pathLenConstraint (-1: none) and whether its
	 * extendedKeyUsage, if any, allows serverAuth. */
	int anchor_pathlen[TLS_ANCHORS_MAX];
	unsigned char anchor_eku_ok[TLS_ANCHORS_MAX];
	br_skey_decoder_context key; /* valid when has_key */
	int has_key;
};

/* Server identity to check. Exactly one of the forms is used. */
struct tls_name {
	int is_ip;
	unsigned char ip[16];
	size_t ip_len;      /* 4 or 16 */
	char dns[256];      /* DNS name when !is_ip */
};

/* The X.509 wrapper: the minimal engine plus the state of the policy over one chain. */
struct tls_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	const struct tls_creds *creds;
	const struct tls_name *name;
	unsigned cert_index;    /* certificates seen so far in this chain */
	unsigned policy_err;    /* first refusal of the policy (TLS_ERR_* or BR_ERR_X509_*), 0 if none */
	unsigned not_ca_cause;  /* why the first issuer fails as a CA: BR_ERR_X509_NOT_CA or TLS_ERR_PATHLEN */
	int chain_end;          /* the chain ends at the certificate just read: later ones are ignored */
	size_t cert_len;
	int cert_overflow;
	unsigned char cert[TLS_CERT_MAX];
};

struct tls_client {
	br_ssl_client_context cc;
	br_ssl_session_parameters session; /* last negotiated session, for resumption */
	int have_session;
	struct tls_x509 x509;
	unsigned char ibuf[TLS_IBUF_SIZE];
	unsigned char obuf[TLS_OBUF_SIZE];
};

/* Adds every CERTIFICATE in a PEM bundle as a trust anchor, with its pathLenConstraint and EKU for
 * the policy. Returns the count added (>= 1), PZ_ECONFIG (no certificate, bad PEM or DER, or an
 * extension the policy reads given twice) or PZ_ETOOBIG (a bound above). */
int tls_creds_add_ca_pem(struct tls_creds *c, const char *pem, size_t len);
/* Client certificate chain and private key (RSA or EC; PKCS#1, SEC1 or PKCS#8), PEM. */
int tls_creds_set_client_pem(struct tls_creds *c, const char *cert_pem, size_t cert_len,
	const char *key_pem, size_t key_len);

/* Parses an IP literal (v4 or v6, brackets allowed) or takes a DNS name. PZ_ECONFIG when empty or
 * too long. */
int tls_name_set(struct tls_name *n, const char *host);

/* Prepares c for a new handshake with `name`, resuming the previous session when there was one.
 * creds and name must outlive the connection. Returns 0 or PZ_ETLS. */
int tls_client_start(struct tls_client *c, const struct tls_creds *creds, const struct tls_name *name);

/* Records the session just negotiated so the next tls_client_start resumes it (saves the
 * key exchange on every reconnect). Call after the handshake completed. */
void tls_client_save_session(struct tls_client *c);

/* What the cause of a failed handshake was, for the log: a BearSSL code, a TLS_ERR_* code or a
 * received alert (BR_ERR_RECV_FATAL_ALERT + alert). Never NULL. */
const char *tls_strerror(unsigned code);

/* What the policy reads from one DER certificate. Names point into the DER given. */
struct tls_cert_info {
	const unsigned char *issuer, *subject; /* whole Name TLVs, as BearSSL compares them */
	size_t issuer_len, subject_len;
	int has_san;  /* a subjectAltName extension is present */
	int ip_match; /* one of its iPAddress entries is the address asked for */
	int eku;      /* TLS_EKU_* */
	int is_ca;    /* basicConstraints with cA TRUE */
	int pathlen;  /* its pathLenConstraint, -1 when absent; values over 255 read as 255 */
};
#define TLS_EKU_ABSENT 0 /* no extendedKeyUsage extension: every usage allowed */
#define TLS_EKU_SERVER 1 /* it lists serverAuth or anyExtendedKeyUsage */
#define TLS_EKU_OTHER 2  /* it lists neither (or nothing) */

/* Reads the certificate's issuer, subject and the SAN, EKU and basicConstraints extensions; ip (4 or
 * 16 bytes, or NULL) is looked for among the iPAddress SANs. Returns 0, or -1 when the DER cannot be
 * read or one of those extensions appears twice. Never reads outside der[0..len). */
int tls_cert_info(const unsigned char *der, size_t len, const unsigned char *ip, size_t ip_len,
	struct tls_cert_info *out);

#endif
