/*
 * config.h - where the API server is and who we are to it, decided once at start-up.
 *
 * Sources, in the order controller-runtime uses: --kubeconfig, $KUBECONFIG, in-cluster
 * (KUBERNETES_SERVICE_HOST/PORT and the service-account files), ~/.kube/config.
 * A kubeconfig is read as kubectl writes it: current-context (or --context), the cluster's server,
 * certificate-authority[-data], tls-server-name; the user's token, tokenFile,
 * client-certificate[-data] and client-key[-data]. Exec plugins, auth providers, basic auth, proxies
 * and insecure-skip-tls-verify are refused with a message naming the field.
 */
#ifndef PZ_CONFIG_H
#define PZ_CONFIG_H

#include "kube.h"

#include <stddef.h>

/* Largest kubeconfig, CA bundle or key file read; read once into a start-up buffer and freed. */
#define CONFIG_FILE_MAX (1024 * 1024)

#define CONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct config_source {
	const char *kubeconfig;      /* --kubeconfig, or NULL */
	const char *context;         /* --context, or NULL for current-context */
	const char *sa_dir;          /* service-account folder (tests point it elsewhere) */
};

/* Fills api (target, credentials, token). On failure returns PZ_ECONFIG or another code and
 * writes a one-line reason (never a credential) into err. `origin` receives a description of the
 * source used, for the start-up log. */
int config_load(struct kube_api *api, const struct config_source *src, char *origin, size_t origin_cap,
	char *err, size_t err_cap);

/* Splits a server URL into the target and the path prefix. Exposed for tests. */
int config_parse_server(struct kube_api *api, const char *url);

/* Standard base64 (padding optional, whitespace ignored). Returns the decoded length or PZ_ECONFIG. */
long config_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
