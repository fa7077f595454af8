/*
 * tls.h - BearSSL set-up: the cluster CA as trust anchors, an optional client certificate, and a
 * server-name check that also covers IP addresses.
 *
 * Why a wrapper around br_x509_minimal: the API server is usually reached by IP (in-cluster through
 * KUBERNETES_SERVICE_HOST, locally through 127.0.0.1), and the minimal engine checks DNS-name SANs only.
 * tls_x509 validates the chain with the minimal engine (no name), then checks the end-entity
 * certificate's iPAddress SANs itself. A DNS name goes to the minimal engine as usual. There is no
 * mode without a name check: a mismatch fails the handshake.
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
/* Largest end-entity certificate whose IP SANs we inspect; an API server's is ~1.3 KiB. A larger
 * one fails closed. */
#define TLS_EE_CERT_MAX 8192
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

struct tls_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	const struct tls_name *name;
	unsigned cert_index;
	size_t ee_len;
	int ee_overflow;
	unsigned char ee[TLS_EE_CERT_MAX];
};

struct tls_client {
	br_ssl_client_context cc;
	br_ssl_session_parameters session; /* last negotiated session, for resumption */
	int have_session;
	struct tls_x509 x509;
	unsigned char ibuf[TLS_IBUF_SIZE];
	unsigned char obuf[TLS_OBUF_SIZE];
};

/* Adds every CERTIFICATE in a PEM bundle as a trust anchor. Returns the count added (>= 1),
 * PZ_ECONFIG (no certificate, bad PEM or DER) or PZ_ETOOBIG (a bound above). */
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

/* A short name for a BearSSL error code, for the log ("server certificate name mismatch"). */
const char *tls_strerror(unsigned code);

/* Exposed for tests: 1 when the DER certificate carries `ip` among its iPAddress SANs, 0 when not,
 * < 0 when the DER cannot be read. */
int tls_cert_has_ip(const unsigned char *der, size_t len, const unsigned char *ip, size_t ip_len);

#endif
