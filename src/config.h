/*
 * config.h - where the API server is and who we are to it: decided at start-up, and the credential
 * kept fresh afterwards (token file re-read, exec plugin re-run).
 *
 * Sources, in the order controller-runtime uses: --kubeconfig, $KUBECONFIG, in-cluster
 * (KUBERNETES_SERVICE_HOST/PORT and the service-account files), ~/.kube/config.
 *
 * A kubeconfig is read as kubectl reads it (yaml.h: block or flow YAML, or JSON). $KUBECONFIG may
 * list several files (':'-separated): like kubectl, files that do not exist are skipped, every
 * other one must be readable, the first file to define a cluster, context or user by a name wins
 * (whole entries, never merged field by field), and current-context comes from the first file that
 * sets one. Relative paths in an entry are relative to the file that defined it.
 * From the entries: the cluster's server, certificate-authority[-data], tls-server-name and
 * proxy-url; the user's token, tokenFile (which wins over token, as in client-go),
 * client-certificate[-data] + client-key[-data], or exec (execcred.h). Refused with a message
 * naming the field: auth-provider, basic auth, impersonation, insecure-skip-tls-verify (any value
 * but false), a token with a space, control or non-ASCII byte (from any source: it would go raw
 * into a header), exec together with token or tokenFile.
 *
 * Proxies, as client-go: the cluster's proxy-url (always used when set), else HTTPS_PROXY /
 * https_proxy (HTTP_PROXY / http_proxy for an http:// server) unless NO_PROXY / no_proxy excludes
 * the server (Go's httpproxy rules: "*", domains with or without a leading dot or "*.", IPs, CIDRs,
 * each optionally with a port) or the server is localhost or a loopback IP. Only http:// proxies; a
 * value without a scheme is taken as http:// (as Go does); https:// and socks5:// are refused.
 * user:password in the proxy URL becomes a Basic Proxy-Authorization value.
 *
 * Errors come back as a one-line reason in the caller's buffer (this module never logs); a
 * credential never appears in one.
 *
 * Memory: config_load allocates (file buffers, parse trees) and frees all of it before returning,
 * wiping every buffer that held a secret (kubeconfig text, token files, keys, plugin output) with
 * explicit_bzero over the length actually read. What outlives start-up is static: the exec
 * plugin's description and last result here (~56 KiB of BSS) and execcred's 64 KiB output buffer,
 * all touched only when a plugin is configured.
 */
#ifndef PZ_CONFIG_H
#define PZ_CONFIG_H

#include "kube.h"

#include <stddef.h>
#include <stdint.h>

/* Largest kubeconfig, CA bundle or key file read; read once into a start-up buffer and freed. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Files in $KUBECONFIG: people who keep one file per cluster have a dozen or two. */
#define CONFIG_FILES_MAX 32

#define CONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct config_source {
	const char *kubeconfig;      /* --kubeconfig, or NULL */
	const char *context;         /* --context, or NULL for current-context */
	const char *sa_dir;          /* service-account folder (tests point it elsewhere) */
};

/* Fills api (target, proxy, credentials, token). On failure returns PZ_ECONFIG or another code and
 * writes a one-line reason (never a credential) into err. `origin` receives a description of the
 * source used, for the start-up log. An exec plugin runs once here (synchronously, see execcred.h),
 * so that a plugin that fails is a start-up error. */
int config_load(struct kube_api *api, const struct config_source *src, char *origin, size_t origin_cap,
	char *err, size_t err_cap);

/* Keeps the credential fresh; call before each request (cheap when nothing is due) and with
 * force = 1 after a 401. Re-reads the token file when one is configured and the last read is
 * older than KUBE_TOKEN_REFRESH_MS (or force); runs the exec plugin when its credential is
 * missing, past its expirationTimestamp, or force. Running the plugin is synchronous: it blocks up
 * to EXECCRED_TIMEOUT_MS (execcred.h), which is acceptable because it happens at start-up, after a
 * 401, and at expiry (typically every 15 minutes for EKS, an hour for GKE/AKS).
 * Returns 0 (credential unchanged, or updated in api->token / api->creds) or a negative code: the
 * old credential stays in use, and config_refresh_error() says why. */
int config_refresh_credentials(struct kube_api *api, int64_t now_ms, int force);
/* One line on the last failed refresh (no credential in it), "" when none. */
const char *config_refresh_error(void);
/* What the exec plugin printed on stderr in its last run, with token-like words replaced by
 * "[redacted]" and control bytes by spaces; "" when none. The caller logs it (escaped). */
const char *config_exec_stderr(void);
/* 1 when the credential comes from an exec plugin. */
int config_uses_exec(void);

/* scheme://host:port/prefix of the server, with brackets around an IPv6 host, for the log.
 * Returns the length or PZ_ETOOBIG. */
int config_format_server(const struct kube_api *api, char *out, size_t cap);

/* Splits a server URL into the target and the path prefix. Exposed for tests. */
int config_parse_server(struct kube_api *api, const char *url);

/* Standard base64 (padding optional, whitespace ignored). Returns the decoded length or PZ_ECONFIG. */
long config_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

/* Exposed for tests: a proxy URL into p (from_env: a value without a scheme is taken as http://).
 * Returns 0 or PZ_ECONFIG (https://, socks5://, unparsable, too long). */
int config_parse_proxy(struct conn_proxy *p, const char *url, int from_env);
/* Exposed for tests: 1 when the NO_PROXY list (or localhost/loopback) means host:port is reached
 * directly, 0 when through the proxy. host has no brackets. */
int config_no_proxy(const char *no_proxy, const char *host, const char *port);

#endif
