/*
 * execcred.h - exec credential plugins (client.authentication.k8s.io/v1 and v1beta1), the way
 * EKS (aws eks get-token), GKE (gke-gcloud-auth-plugin) and AKS (kubelogin) authenticate.
 *
 * config.c fills a struct execcred_plugin from the kubeconfig's user.exec; execcred_run runs the
 * command with its args, the program's environment plus the plugin's env entries, and
 * KUBERNETES_EXEC_INFO (spec.interactive is always false: stdin is /dev/null, a controller never
 * prompts; interactiveMode Always is refused by config.c). It reads the ExecCredential printed on
 * stdout: status.token, or status.clientCertificateData + clientKeyData (PEM), and
 * status.expirationTimestamp (RFC 3339) when present.
 *
 * Synchronous, with a deadline: the call blocks up to EXECCRED_TIMEOUT_MS, then kills the plugin's
 * whole process group (a shell script's children too). It runs at start-up, after a 401 and when
 * the credential expires, so a blocked loop for that long is rare and bounded. Output is bounded
 * (EXECCRED_OUT_MAX on stdout: more kills the plugin and is an error); stderr is kept up to
 * EXECCRED_STDERR_MAX for the log, redacted (execcred_redact).
 *
 * Memory: the plugin description and result are the caller's (config.c keeps them static); the
 * stdout buffer is static, page-aligned, wiped after every run and handed back to the kernel
 * (MADV_DONTNEED), so a credential never lingers in it and it costs no resident memory between runs.
 */
#ifndef PZ_EXECCRED_H
#define PZ_EXECCRED_H

#include "kube.h"

#include <stddef.h>
#include <stdint.h>

/* aws eks get-token takes ~1 s, gke-gcloud-auth-plugin and kubelogin well under that when their
 * cache is warm, a few seconds when they refresh over the network. 10 s covers that; a plugin that
 * needs longer is waiting for something that will not come (a prompt, a dead endpoint). */
#define EXECCRED_TIMEOUT_MS 10000
/* An ExecCredential is a token (~1-4 KiB) or a certificate and key (~2-6 KiB of PEM). */
#define EXECCRED_OUT_MAX (64 * 1024)
/* stderr kept for the log: a few lines of warnings; the rest is read and dropped. */
#define EXECCRED_STDERR_MAX 1024
/* Command, args and env: EKS has 6 args and 1 env entry, kubelogin ~10 args. */
#define EXECCRED_ARGS_MAX 64
#define EXECCRED_ENV_MAX 32
#define EXECCRED_STRINGS_MAX 8192
/* KUBERNETES_EXEC_INFO with provideClusterInfo: the cluster's server and CA bundle in base64 (a
 * rotated bundle of two RSA-4096 CAs is ~5 KiB of PEM, ~7 KiB in base64). */
#define EXECCRED_INFO_MAX 16384
/* PEM blocks from the plugin: a chain of 3 certificates, and a key. */
#define EXECCRED_CERT_MAX 16384
#define EXECCRED_KEY_MAX 8192

struct execcred_plugin {
	int v1;                                   /* client.authentication.k8s.io/v1, else v1beta1 */
	const char *argv[EXECCRED_ARGS_MAX + 2];  /* command, args, NULL (into strings) */
	int argc;
	const char *env_name[EXECCRED_ENV_MAX], *env_value[EXECCRED_ENV_MAX];
	int nenv;
	const char *install_hint;                 /* or NULL */
	char info[EXECCRED_INFO_MAX];             /* KUBERNETES_EXEC_INFO */
	char strings[EXECCRED_STRINGS_MAX];
	size_t used;
};

struct execcred_result {
	char token[KUBE_TOKEN_MAX];               /* "" when the plugin gave a certificate */
	char cert[EXECCRED_CERT_MAX];
	size_t cert_len;
	char key[EXECCRED_KEY_MAX];
	size_t key_len;
	int64_t expiry_s;                         /* wall-clock seconds, 0 when none was given */
	char stderr_text[EXECCRED_STDERR_MAX];    /* redacted */
	char err[256];                            /* why a run failed; never holds a credential */
};

/* Copies s into the plugin's string arena. Returns a pointer to the copy, or NULL when full. */
const char *execcred_keep(struct execcred_plugin *p, const char *s);

/* Runs the plugin (see above). Returns 0 with r filled (token or cert+key), or a negative code with
 * r->err set: -ETIMEDOUT, PZ_ETOOBIG (output), PZ_ECONFIG (exit status, bad ExecCredential),
 * -errno (pipe, fork). The caller wipes r when done with it (execcred_wipe). */
int execcred_run(const struct execcred_plugin *p, struct execcred_result *r);

/* Parses an ExecCredential (exposed for tests and the fuzzer). Returns 0 or PZ_ECONFIG / PZ_EJSON /
 * PZ_ETOOBIG with r->err set. */
int execcred_parse(const struct execcred_plugin *p, const char *json, size_t len, struct execcred_result *r);

/* RFC 3339 ("2006-01-02T15:04:05Z", fraction and offset allowed) to seconds since the epoch. */
int execcred_parse_time(const char *s, size_t len, int64_t *epoch_s);

/* Replaces, in text (NUL-terminated), every occurrence of token (if not NULL or empty) and every
 * word that looks like a credential (16 or more characters of a token alphabet, with letters and
 * digits mixed, or anything after "Bearer ") by "[redacted]" (shortening as needed), and control
 * bytes by spaces. */
void execcred_redact(char *text, const char *token);

/* Wipes a result (explicit_bzero over the whole struct). */
void execcred_wipe(struct execcred_result *r);

#endif
