/*
 * config.c - kubeconfig and in-cluster configuration (see config.h). Start-up only: this is the one
 * module that allocates, and it frees what it read before returning.
 */
#include "config.h"
#include "pz.h"
#include "yaml.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return PZ_ECONFIG;
}

/* Reads a whole file into a fresh buffer with one spare byte (NUL). */
static long read_file(const char *path, char **out)
{
	char *buf;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == CONFIG_FILE_MAX) {
			close(fd);
			free(buf);
			return PZ_ETOOBIG;
		}
	}
	close(fd);
	buf[len] = 0;
	*out = buf;
	return (long)len;
}

long config_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i], v;
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return PZ_ECONFIG;
		if (c >= 'A' && c <= 'Z') v = c - 'A';
		else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
		else if (c >= '0' && c <= '9') v = c - '0' + 52;
		else if (c == '+') v = 62;
		else if (c == '/') v = 63;
		else return PZ_ECONFIG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return PZ_ETOOBIG;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (pad > 2)
		return PZ_ECONFIG;
	return (long)n;
}

int config_parse_server(struct kube_api *api, const char *url)
{
	const char *p = url, *host, *hend, *port = NULL, *path;
	size_t hl, pl;

	if (strncmp(p, "https://", 8) == 0) {
		api->target.use_tls = 1;
		p += 8;
	} else if (strncmp(p, "http://", 7) == 0) {
		api->target.use_tls = 0;
		p += 7;
	} else {
		return PZ_ECONFIG;
	}
	host = p;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend)
			return PZ_ECONFIG;
		host = p + 1;
		p = hend + 1;
		if (*p && *p != ':' && *p != '/')
			return PZ_ECONFIG;
	} else {
		p += strcspn(p, ":/?#");
		hend = p;
	}
	if (*p == ':') {
		port = ++p;
		p += strcspn(p, "/?#");
	}
	path = p;
	hl = (size_t)(hend - host);
	if (hl == 0 || hl >= sizeof api->target.host)
		return PZ_ECONFIG;
	memcpy(api->target.host, host, hl);
	api->target.host[hl] = 0;
	if (port) {
		pl = (size_t)(path - port);
		if (pl == 0 || pl >= sizeof api->target.port)
			return PZ_ECONFIG;
		for (size_t i = 0; i < pl; i++)
			if (port[i] < '0' || port[i] > '9')
				return PZ_ECONFIG;
		memcpy(api->target.port, port, pl);
		api->target.port[pl] = 0;
	} else {
		strcpy(api->target.port, api->target.use_tls ? "443" : "80");
	}
	if (strpbrk(path, "?#"))
		return PZ_ECONFIG; /* a query or fragment in a server URL is a mistake, not a prefix */
	pl = strlen(path);
	while (pl && path[pl - 1] == '/')
		pl--;
	if (pl >= sizeof api->prefix)
		return PZ_ECONFIG;
	memcpy(api->prefix, path, pl);
	api->prefix[pl] = 0;
	/* Host header: the authority as written, brackets kept for IPv6. */
	if (snprintf(api->host_header, sizeof api->host_header, "%s%s%s%s%s", strchr(api->target.host, ':') ? "[" : "",
		api->target.host, strchr(api->target.host, ':') ? "]" : "", port ? ":" : "", port ? api->target.port : "")
		>= (int)sizeof api->host_header)
		return PZ_ECONFIG;
	return tls_name_set(&api->target.name, api->target.host);
}

/* Resolves a kubeconfig-relative path into out. */
static int rel_path(char *out, size_t cap, const char *base_file, const char *p)
{
	const char *slash;
	if (p[0] == '/' || !(slash = strrchr(base_file, '/')))
		return snprintf(out, cap, "%s", p) < (int)cap ? 0 : PZ_ETOOBIG;
	return snprintf(out, cap, "%.*s/%s", (int)(slash - base_file), base_file, p) < (int)cap ? 0 : PZ_ETOOBIG;
}

/* Loads PEM bytes either from a -data (base64) value or from a file. *out is malloc'd. */
static long load_pem(const char *data, const char *file, const char *kubeconfig, char **out)
{
	char path[KUBE_PATH_MAX];
	if (data) {
		size_t l = strlen(data);
		unsigned char *buf = malloc(l + 1);
		long n;
		if (!buf)
			return -ENOMEM;
		n = config_base64_decode(data, l, buf, l);
		if (n < 0) {
			free(buf);
			return n;
		}
		buf[n] = 0; /* like read_file: every loaded buffer is a C string */
		*out = (char *)buf;
		return n;
	}
	if (rel_path(path, sizeof path, kubeconfig, file) < 0)
		return PZ_ETOOBIG;
	return read_file(path, out);
}

static int set_ca(struct kube_api *api, const char *pem, long len, const char *what, char *err, size_t cap)
{
	int rc = tls_creds_add_ca_pem(&api->creds, pem, (size_t)len);
	if (rc < 0)
		return fail(err, cap, "%s: no usable CA certificate (%s)", what, pz_strerror(rc));
	return 0;
}

static const char *get(const struct yaml *y, int parent, const char *key)
{
	return yaml_str(y, yaml_get(y, parent, key));
}

/* The item of sequence `list` whose name is `name`, then its `field` mapping. */
static int named(const struct yaml *y, const char *list, const char *name, const char *field)
{
	int seq = yaml_get(y, -1, list);
	for (int it = yaml_next_item(y, seq, -1); seq >= 0 && it >= 0; it = yaml_next_item(y, seq, it)) {
		const char *n = get(y, it, "name");
		if (n && strcmp(n, name) == 0)
			return yaml_get(y, it, field);
	}
	return -1;
}

static int load_kubeconfig(struct kube_api *api, const char *path, const char *context, char *err, size_t cap)
{
	static struct yaml y; /* start-up only; 2048 nodes are too many for the stack */
	char *buf = NULL, *pem = NULL, *key = NULL;
	const char *ctx_name, *cluster_name, *user_name, *s;
	int ctx, cl, us, rc = PZ_ECONFIG;
	long n, kn = 0;

	n = read_file(path, &buf);
	if (n < 0)
		return fail(err, cap, "kubeconfig %s: %s", path, pz_strerror((int)n));
	if (yaml_parse(&y, buf, (size_t)n) < 0) {
		fail(err, cap, "kubeconfig %s: unsupported or invalid YAML at line %d", path, y.err_line);
		goto out;
	}
	ctx_name = context ? context : get(&y, -1, "current-context");
	if (!ctx_name || !*ctx_name) {
		fail(err, cap, "kubeconfig %s: no current-context and no --context", path);
		goto out;
	}
	ctx = named(&y, "contexts", ctx_name, "context");
	if (ctx < 0) {
		fail(err, cap, "kubeconfig %s: context \"%s\" not found", path, ctx_name);
		goto out;
	}
	cluster_name = get(&y, ctx, "cluster");
	user_name = get(&y, ctx, "user");
	cl = cluster_name ? named(&y, "clusters", cluster_name, "cluster") : -1;
	if (cl < 0) {
		fail(err, cap, "kubeconfig %s: cluster of context \"%s\" not found", path, ctx_name);
		goto out;
	}
	s = get(&y, cl, "server");
	if (!s || config_parse_server(api, s) < 0) {
		fail(err, cap, "kubeconfig %s: cluster \"%s\": missing or unsupported server URL", path, cluster_name);
		goto out;
	}
	if ((s = get(&y, cl, "insecure-skip-tls-verify")) && strcmp(s, "true") == 0) {
		fail(err, cap, "kubeconfig %s: cluster \"%s\" sets insecure-skip-tls-verify; "
			"pizza-controller always verifies the server certificate", path, cluster_name);
		goto out;
	}
	if (get(&y, cl, "proxy-url")) {
		fail(err, cap, "kubeconfig %s: cluster \"%s\": proxy-url is not supported", path, cluster_name);
		goto out;
	}
	if ((s = get(&y, cl, "tls-server-name")) && *s) {
		/* The name to verify, whatever address we connect to (kubectl's meaning too). */
		if (tls_name_set(&api->target.name, s) < 0) {
			fail(err, cap, "kubeconfig %s: bad tls-server-name", path);
			goto out;
		}
	}
	if (api->target.use_tls) {
		const char *data = get(&y, cl, "certificate-authority-data");
		const char *file = get(&y, cl, "certificate-authority");
		if (!data && !file) {
			fail(err, cap, "kubeconfig %s: cluster \"%s\" has no certificate-authority; "
				"system trust stores are not used, the cluster CA is required", path, cluster_name);
			goto out;
		}
		n = load_pem(data, file, path, &pem);
		if (n < 0) {
			fail(err, cap, "kubeconfig %s: certificate-authority: %s", path, pz_strerror((int)n));
			goto out;
		}
		if (set_ca(api, pem, n, "certificate-authority", err, cap) < 0)
			goto out;
	}
	us = user_name ? named(&y, "users", user_name, "user") : -1;
	if (user_name && us < 0 && yaml_get(&y, -1, "users") >= 0) {
		/* An item with only a name and no user mapping means "no credentials". */
		int seq = yaml_get(&y, -1, "users"), found = 0;
		for (int it = yaml_next_item(&y, seq, -1); it >= 0; it = yaml_next_item(&y, seq, it))
			if (get(&y, it, "name") && strcmp(get(&y, it, "name"), user_name) == 0)
				found = 1;
		if (!found) {
			fail(err, cap, "kubeconfig %s: user \"%s\" not found", path, user_name);
			goto out;
		}
	}
	if (us >= 0) {
		static const char *const refused[] = { "exec", "auth-provider", "username", "password",
			"as", "as-groups", "impersonate", "impersonate-groups" };
		for (size_t i = 0; i < PZ_ARRAY_LEN(refused); i++)
			if (yaml_get(&y, us, refused[i]) >= 0) {
				fail(err, cap, "kubeconfig %s: user \"%s\" uses \"%s\", which pizza-controller does not "
					"support; use a token, tokenFile or a client certificate", path, user_name, refused[i]);
				goto out;
			}
		if ((s = get(&y, us, "token")) && *s) {
			if (strlen(s) >= sizeof api->token) {
				fail(err, cap, "kubeconfig %s: token longer than %d bytes", path, KUBE_TOKEN_MAX - 1);
				goto out;
			}
			strcpy(api->token, s);
		} else if ((s = get(&y, us, "tokenFile")) && *s) {
			if (rel_path(api->token_file, sizeof api->token_file, path, s) < 0 ||
			    kube_api_refresh_token(api, 1) < 0) {
				fail(err, cap, "kubeconfig %s: tokenFile %s unreadable or invalid", path, s);
				goto out;
			}
		}
		const char *cd = get(&y, us, "client-certificate-data"), *cf = get(&y, us, "client-certificate");
		const char *kd = get(&y, us, "client-key-data"), *kf = get(&y, us, "client-key");
		if (cd || cf || kd || kf) {
			if (!(cd || cf) || !(kd || kf)) {
				fail(err, cap, "kubeconfig %s: user \"%s\" needs both a client certificate and its key",
					path, user_name);
				goto out;
			}
			if (!api->target.use_tls) {
				fail(err, cap, "kubeconfig %s: client certificates need an https server", path);
				goto out;
			}
			free(pem);
			pem = NULL;
			n = load_pem(cd, cf, path, &pem);
			kn = n < 0 ? n : load_pem(kd, kf, path, &key);
			if (n < 0 || kn < 0 || tls_creds_set_client_pem(&api->creds, pem, (size_t)n, key, (size_t)kn) < 0) {
				fail(err, cap, "kubeconfig %s: user \"%s\": client certificate or key unreadable "
					"(PEM certificate; RSA or EC key in PKCS#1, SEC1 or PKCS#8)", path, user_name);
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (key) {
		memset(key, 0, (size_t)(kn > 0 ? kn : 0)); /* private key bytes: not left in freed memory */
		free(key);
	}
	free(pem);
	if (buf) {
		memset(buf, 0, (size_t)(n > 0 ? n : 0)); /* may hold tokens and keys */
		free(buf);
	}
	return rc;
}

static int load_in_cluster(struct kube_api *api, const char *sa_dir, char *err, size_t cap)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char url[300], path[KUBE_PATH_MAX];
	char *pem = NULL;
	long n;
	int rc;

	if (!port || !*port)
		port = "443";
	snprintf(url, sizeof url, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	if (config_parse_server(api, url) < 0)
		return fail(err, cap, "in-cluster: bad KUBERNETES_SERVICE_HOST/PORT");
	snprintf(path, sizeof path, "%s/ca.crt", sa_dir);
	n = read_file(path, &pem);
	if (n < 0)
		return fail(err, cap, "in-cluster: %s: %s", path, pz_strerror((int)n));
	rc = set_ca(api, pem, n, path, err, cap);
	free(pem);
	if (rc < 0)
		return rc;
	snprintf(api->token_file, sizeof api->token_file, "%s/token", sa_dir);
	rc = kube_api_refresh_token(api, 1);
	if (rc < 0)
		return fail(err, cap, "in-cluster: %s: %s", api->token_file, pz_strerror(rc));
	return 0;
}

int config_load(struct kube_api *api, const struct config_source *src, char *origin, size_t origin_cap,
	char *err, size_t err_cap)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char path[KUBE_PATH_MAX];

	api->target.creds = &api->creds;
	if (src->kubeconfig) {
		snprintf(origin, origin_cap, "kubeconfig %s", src->kubeconfig);
		return load_kubeconfig(api, src->kubeconfig, src->context, err, err_cap);
	}
	if (env && *env) {
		/* KUBECONFIG may list several files; like client-go we take the first that exists. */
		const char *p = env;
		while (*p) {
			size_t l = strcspn(p, ":");
			snprintf(path, sizeof path, "%.*s", (int)l, p);
			if (l && access(path, R_OK) == 0) {
				snprintf(origin, origin_cap, "kubeconfig %s (KUBECONFIG)", path);
				return load_kubeconfig(api, path, src->context, err, err_cap);
			}
			p += l;
			if (*p == ':')
				p++;
		}
	}
	if (getenv("KUBERNETES_SERVICE_HOST") && *getenv("KUBERNETES_SERVICE_HOST")) {
		snprintf(origin, origin_cap, "in-cluster service account %s", src->sa_dir);
		return load_in_cluster(api, src->sa_dir, err, err_cap);
	}
	if (home && snprintf(path, sizeof path, "%s/.kube/config", home) < (int)sizeof path && access(path, R_OK) == 0) {
		snprintf(origin, origin_cap, "kubeconfig %s", path);
		return load_kubeconfig(api, path, src->context, err, err_cap);
	}
	return fail(err, err_cap, "no configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
}
