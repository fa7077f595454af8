/*
 * config.c - kubeconfig, in-cluster configuration, proxies and credential refresh (see config.h).
 * config_load runs at start-up and is the one place that allocates: each kubeconfig file and its
 * parse tree (yaml.h) are allocated (cfg_malloc), and wiped and freed before it returns. What must outlive it
 * (the exec plugin's description, its last result) is static.
 */
#include "fmt.h"
#include "config.h"
#include "execcred.h"
#include "json.h"
#include "pz.h"
#include "yaml.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <strings.h>
#include <unistd.h>

/* Start-up memory. In the shipped binary each block is its own anonymous mapping, unmapped when
 * freed: this reader is the program's only allocator user (a handful of blocks, once), and musl's
 * malloc would cost 7 KiB of code. Sanitizer builds keep libc's malloc, so ASan checks every bound
 * and the unit test's free hook sees each block wiped before it is released (wipe_free wipes
 * first in both builds). */
#if defined(__SANITIZE_ADDRESS__)
#define PZ_CFG_LIBC_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PZ_CFG_LIBC_MALLOC 1
#endif
#endif
#ifdef PZ_CFG_LIBC_MALLOC
#define cfg_malloc malloc
#define cfg_free free
static void *cfg_calloc(size_t n) { return calloc(1, n); }
#else
#define CFG_HEAD 16 /* the mapping's length, kept in front of the block (16: any object's alignment) */
static void *cfg_malloc(size_t n)
{
	char *p = mmap(NULL, n + CFG_HEAD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*(size_t *)(void *)p = n + CFG_HEAD;
	return p + CFG_HEAD;
}
static void cfg_free(void *q)
{
	if (q)
		munmap((char *)q - CFG_HEAD, *(size_t *)(void *)((char *)q - CFG_HEAD));
}
static void *cfg_calloc(size_t n) { return cfg_malloc(n); } /* anonymous mappings are zero-filled */
#endif

static char *cfg_strdup(const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = cfg_malloc(n);
	if (p)
		memcpy(p, str, n);
	return p;
}

/* A plugin that failed (or gave a credential already expired) is not run again sooner than this,
 * except after a 401: each run may block for up to EXECCRED_TIMEOUT_MS. */
#define CONFIG_EXEC_RETRY_MS 10000

static struct execcred_plugin plugin;
static struct execcred_result exec_res;
static struct {
	int set;              /* the user's credential comes from a plugin */
	int have;             /* a credential from it is in use */
	int64_t expiry_ms;    /* monotonic; 0: the plugin gave no expiry (valid until a 401) */
	int64_t next_try_ms;
} exec_state;
static char refresh_err[512];
static char exec_stderr[EXECCRED_STDERR_MAX];

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pz_vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return PZ_ECONFIG;
}

/* Frees a buffer that may hold a secret, wiping the bytes that were written to it first. */
static void wipe_free(void *p, size_t used)
{
	if (!p)
		return;
	explicit_bzero(p, used);
	cfg_free(p);
}

/* Reads a whole file into a fresh buffer with one spare byte (NUL). On success the caller owns
 * *out and wipes len + 1 bytes of it before freeing (wipe_free). */
static long read_file(const char *path, char **out)
{
	char *buf;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	buf = cfg_malloc(CONFIG_FILE_MAX + 1);
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
			wipe_free(buf, len);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == CONFIG_FILE_MAX) {
			close(fd);
			wipe_free(buf, len);
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

/* Standard base64 with padding; out holds 4 * ((n + 2) / 3) + 1 bytes. Returns the length. */
static size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? (uint32_t)in[i + 2] : 0);
		out[o++] = al[v >> 18 & 63];
		out[o++] = al[v >> 12 & 63];
		out[o++] = i + 1 < n ? al[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? al[v & 63] : '=';
	}
	out[o] = 0;
	return o;
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
	if (pz_snprintf(api->host_header, sizeof api->host_header, "%s%s%s%s%s", strchr(api->target.host, ':') ? "[" : "",
		api->target.host, strchr(api->target.host, ':') ? "]" : "", port ? ":" : "", port ? api->target.port : "")
		>= (int)sizeof api->host_header)
		return PZ_ECONFIG;
	return tls_name_set(&api->target.name, api->target.host);
}

int config_format_server(const struct kube_api *api, char *out, size_t cap)
{
	int v6 = strchr(api->target.host, ':') != NULL;
	int n = pz_snprintf(out, cap, "%s://%s%s%s:%s%s", api->target.use_tls ? "https" : "http", v6 ? "[" : "",
		api->target.host, v6 ? "]" : "", api->target.port, api->prefix);
	return n < 0 || (size_t)n >= cap ? PZ_ETOOBIG : n;
}

/* ---- proxies ---- */

static int hexv(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into out (cap bytes with the NUL). Returns the length or PZ_ECONFIG. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0)
				return PZ_ECONFIG;
			c = hexv(s[i + 1]) << 4 | hexv(s[i + 2]);
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return PZ_ECONFIG;
		out[o++] = (char)c;
	}
	out[o] = 0;
	return (int)o;
}

int config_parse_proxy(struct conn_proxy *px, const char *url, int from_env)
{
	const char *s = url, *auth, *at = NULL, *host, *hend, *port = NULL, *e;
	char user[256], pass[256], cred[520];
	int ul = 0, pl = 0;

	memset(px, 0, sizeof *px);
	while (*s == ' ')
		s++;
	if (strncasecmp(s, "http://", 7) == 0)
		s += 7;
	else if (pz_find(s, "://") || !from_env)
		return PZ_ECONFIG; /* https://, socks5://, or a proxy-url without a scheme */
	auth = s;
	e = s + strcspn(s, "/?#");
	for (const char *q = auth; q < e; q++)
		if (*q == '@')
			at = q;
	host = at ? at + 1 : auth;
	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(e - host));
		if (!hend)
			return PZ_ECONFIG;
		if (hend + 1 < e && hend[1] != ':')
			return PZ_ECONFIG;
		port = hend + 1 < e ? hend + 2 : NULL;
		host++;
	} else {
		hend = memchr(host, ':', (size_t)(e - host));
		if (hend)
			port = hend + 1;
		else
			hend = e;
	}
	if (hend == host || (size_t)(hend - host) >= sizeof px->host)
		return PZ_ECONFIG;
	memcpy(px->host, host, (size_t)(hend - host));
	if (port) {
		size_t n = (size_t)(e - port);
		long v = 0;
		if (n == 0 || n >= sizeof px->port)
			return PZ_ECONFIG;
		for (size_t i = 0; i < n; i++) {
			if (port[i] < '0' || port[i] > '9')
				return PZ_ECONFIG;
			v = v * 10 + (port[i] - '0');
		}
		if (v < 1 || v > 65535)
			return PZ_ECONFIG;
		memcpy(px->port, port, n);
	} else {
		strcpy(px->port, "80");
	}
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		ul = pct_decode(auth, (size_t)((colon ? colon : at) - auth), user, sizeof user);
		pl = colon ? pct_decode(colon + 1, (size_t)(at - colon - 1), pass, sizeof pass) : 0;
		if (!colon)
			pass[0] = 0;
		if (ul < 0 || pl < 0 || (size_t)ul + (size_t)pl + 1 > 384) {
			explicit_bzero(user, sizeof user);
			explicit_bzero(pass, sizeof pass);
			return PZ_ECONFIG;
		}
		int n = pz_snprintf(cred, sizeof cred, "%s:%s", user, pass);
		memcpy(px->authorization, "Basic ", 6);
		base64_encode((const unsigned char *)cred, (size_t)n, px->authorization + 6);
		explicit_bzero(user, sizeof user);
		explicit_bzero(pass, sizeof pass);
		explicit_bzero(cred, sizeof cred);
	}
	px->set = 1;
	return 0;
}

/* An IP literal into 16 bytes (IPv4 as ::ffff:a.b.c.d, as Go compares them). */
static int parse_ip(const char *s, unsigned char ip[16])
{
	unsigned char v4[4];
	if (inet_pton(AF_INET, s, v4) == 1) {
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, v4, 4);
		return 1;
	}
	return inet_pton(AF_INET6, s, ip) == 1;
}

static int is_loopback(const unsigned char ip[16])
{
	static const unsigned char v6[16] = { [15] = 1 }, mapped[12] = { [10] = 0xff, [11] = 0xff };
	return memcmp(ip, v6, 16) == 0 || (memcmp(ip, mapped, 12) == 0 && ip[12] == 127);
}

static int cidr_match(const char *entry, const unsigned char ip[16])
{
	char a[64];
	const char *slash = strchr(entry, '/');
	unsigned char net[16];
	long bits;
	char *end;
	int v4;

	if ((size_t)(slash - entry) >= sizeof a)
		return 0;
	memcpy(a, entry, (size_t)(slash - entry));
	a[slash - entry] = 0;
	v4 = strchr(a, ':') == NULL;
	if (!parse_ip(a, net))
		return 0;
	bits = pz_parse_long(slash + 1, &end);
	if (end == slash + 1 || *end || bits < 0 || bits > (v4 ? 32 : 128))
		return 0;
	if (v4)
		bits += 96;
	for (long i = 0; i < bits; i++)
		if ((ip[i / 8] ^ net[i / 8]) & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

int config_no_proxy(const char *list, const char *host_in, const char *port)
{
	char host[256], ent[300];
	unsigned char ip[16], eip[16];
	int is_ip;
	size_t hl = strlen(host_in);

	if (hl >= sizeof host)
		return 0;
	for (size_t i = 0; i <= hl; i++)
		host[i] = (char)(host_in[i] >= 'A' && host_in[i] <= 'Z' ? host_in[i] + 32 : host_in[i]);
	is_ip = parse_ip(host, ip);
	if (strcmp(host, "localhost") == 0 || (is_ip && is_loopback(ip)))
		return 1; /* Go's httpproxy never proxies these */
	if (!list)
		return 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ","), a = 0, b = n;
		const char *next = p[n] ? p + n + 1 : p + n;
		char *ph, *pp = NULL;
		while (a < n && (p[a] == ' ' || p[a] == '\t'))
			a++;
		while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
			b--;
		if (b == a || b - a >= sizeof ent) {
			p = next;
			continue;
		}
		for (size_t i = a; i < b; i++)
			ent[i - a] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
		ent[b - a] = 0;
		p = next;
		if (strcmp(ent, "*") == 0)
			return 1;
		if (strchr(ent, '/')) {
			if (is_ip && cidr_match(ent, ip))
				return 1;
			continue;
		}
		ph = ent;
		if (ent[0] == '[') {
			char *rb = strchr(ent, ']');
			if (!rb)
				continue;
			*rb = 0;
			ph = ent + 1;
			if (rb[1] == ':')
				pp = rb + 2;
			else if (rb[1])
				continue;
		} else {
			char *c = strchr(ent, ':');
			if (c && !strchr(c + 1, ':')) {
				*c = 0;
				pp = c + 1;
			}
		}
		if (!*ph)
			continue;
		if (parse_ip(ph, eip)) {
			if (is_ip && memcmp(ip, eip, 16) == 0 && (!pp || strcmp(pp, port) == 0))
				return 1;
			continue;
		}
		if (ph[0] == '*' && ph[1] == '.')
			ph++;
		size_t el = strlen(ph), l = strlen(host);
		int match;
		if (ph[0] == '.')
			match = l > el && strcmp(host + l - el, ph) == 0;
		else
			match = strcmp(host, ph) == 0 || (l > el && host[l - el - 1] == '.' && strcmp(host + l - el, ph) == 0);
		if (match && (!pp || strcmp(pp, port) == 0))
			return 1;
	}
	return 0;
}

static const char *env_any(const char *a, const char *b)
{
	const char *v = getenv(a);
	return v && *v ? v : getenv(b);
}

/* The cluster's proxy-url, else the environment's, as client-go decides. */
static int choose_proxy(struct kube_api *api, const char *proxy_url, char *err, size_t cap)
{
	const char *env, *name = api->target.use_tls ? "HTTPS_PROXY" : "HTTP_PROXY";

	memset(&api->target.proxy, 0, sizeof api->target.proxy);
	if (proxy_url && *proxy_url) {
		if (config_parse_proxy(&api->target.proxy, proxy_url, 0) < 0)
			return fail(err, cap, "proxy-url: only http://[user:password@]host[:port] proxies are supported "
				"(https:// and socks5:// are not)");
		return 0;
	}
	env = api->target.use_tls ? env_any("HTTPS_PROXY", "https_proxy") : env_any("HTTP_PROXY", "http_proxy");
	if (!env || !*env || config_no_proxy(env_any("NO_PROXY", "no_proxy"), api->target.host, api->target.port))
		return 0;
	if (config_parse_proxy(&api->target.proxy, env, 1) < 0)
		return fail(err, cap, "%s: only http://[user:password@]host[:port] proxies are supported "
			"(https:// and socks5:// are not)", name);
	return 0;
}

/* ---- credentials ---- */

static int printable_token(const char *t, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return 0;
	return 1;
}

static void set_token(struct kube_api *api, const char *t, size_t n)
{
	explicit_bzero(api->token, sizeof api->token);
	memcpy(api->token, t, n);
}

/* Reads a token file into api->token: surrounding white space trimmed (as client-go does), then
 * refused if empty, too long, or holding a byte a header cannot carry. */
static int read_token_file(struct kube_api *api, const char *path)
{
	char tmp[KUBE_TOKEN_MAX + 2];
	size_t len = 0, a = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	while (len < sizeof tmp) {
		ssize_t n = read(fd, tmp + len, sizeof tmp - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (rc == 0 && len == sizeof tmp)
		rc = PZ_ETOOBIG;
	if (rc == 0) {
		size_t e = len;
		while (e && (tmp[e - 1] == '\n' || tmp[e - 1] == '\r' || tmp[e - 1] == ' ' || tmp[e - 1] == '\t'))
			e--;
		while (a < e && (tmp[a] == '\n' || tmp[a] == '\r' || tmp[a] == ' ' || tmp[a] == '\t'))
			a++;
		if (e - a >= KUBE_TOKEN_MAX)
			rc = PZ_ETOOBIG;
		else if (!printable_token(tmp + a, e - a))
			rc = PZ_ECONFIG;
		else
			set_token(api, tmp + a, e - a);
	}
	explicit_bzero(tmp, len);
	return rc;
}

/* Runs the plugin and puts what it gave into api. */
static int run_exec(struct kube_api *api, int64_t now, char *err, size_t cap)
{
	int rc = execcred_run(&plugin, &exec_res);

	exec_state.next_try_ms = now + CONFIG_EXEC_RETRY_MS; /* cleared below on a good credential */
	memcpy(exec_stderr, exec_res.stderr_text, sizeof exec_stderr);
	if (rc < 0) {
		if (rc == PZ_ECONFIG && pz_find(exec_res.err, "cannot be started") && plugin.install_hint)
			pz_snprintf(err, cap, "%s; %s", exec_res.err, plugin.install_hint);
		else
			pz_snprintf(err, cap, "%s", exec_res.err);
		execcred_wipe(&exec_res);
		return rc;
	}
	if (exec_res.cert_len) {
		rc = tls_creds_set_client_pem(&api->creds, exec_res.cert, exec_res.cert_len, exec_res.key, exec_res.key_len);
		if (rc < 0) {
			pz_snprintf(err, cap, "exec plugin %s: its client certificate or key cannot be used "
				"(PEM certificate; RSA or EC key)", plugin.argv[0]);
			execcred_wipe(&exec_res);
			return PZ_ECONFIG;
		}
	}
	if (exec_res.token[0])
		set_token(api, exec_res.token, strlen(exec_res.token));
	exec_state.expiry_ms = 0;
	if (exec_res.expiry_s) {
		int64_t left = exec_res.expiry_s - pz_wall_s();
		exec_state.expiry_ms = now + (left > 0 ? left * 1000 : 0);
		if (exec_state.expiry_ms == 0)
			exec_state.expiry_ms = 1;
	}
	exec_state.have = 1;
	if (!exec_state.expiry_ms || exec_state.expiry_ms > now)
		exec_state.next_try_ms = 0;
	execcred_wipe(&exec_res);
	return 0;
}

int config_refresh_credentials(struct kube_api *api, int64_t now_ms, int force)
{
	int rc = 0;

	refresh_err[0] = 0;
	if (api->token_file[0] && (force || now_ms - api->token_read_ms >= KUBE_TOKEN_REFRESH_MS)) {
		int r = read_token_file(api, api->token_file);
		api->token_read_ms = now_ms;
		if (r < 0) {
			rc = r;
			pz_snprintf(refresh_err, sizeof refresh_err, "token file %.300s: %s", api->token_file,
				r == PZ_ECONFIG ? "empty, or holds a space, control or non-ASCII byte" : pz_strerror(r));
		}
	}
	if (exec_state.set && (force || !exec_state.have ||
			(exec_state.expiry_ms && now_ms >= exec_state.expiry_ms && now_ms >= exec_state.next_try_ms))) {
		int r = run_exec(api, now_ms, refresh_err, sizeof refresh_err);
		if (r < 0)
			rc = r;
	}
	return rc;
}

const char *config_refresh_error(void) { return refresh_err; }
const char *config_exec_stderr(void) { return exec_stderr; }
int config_uses_exec(void) { return exec_state.set; }

/* ---- kubeconfig files ---- */

struct kfile {
	char *path;
	char *buf;
	long len;
	struct yaml *y;
};

struct kset {
	struct kfile f[CONFIG_FILES_MAX];
	int n;
	char *ca;            /* the cluster's CA bundle (PEM), for provideClusterInfo */
	long ca_len;
};

static void kset_free(struct kset *k)
{
	for (int i = 0; i < k->n; i++) {
		cfg_free(k->f[i].path);
		if (k->f[i].buf)
			wipe_free(k->f[i].buf, (size_t)k->f[i].len + 1); /* may hold tokens and keys */
		if (k->f[i].y)
			wipe_free(k->f[i].y, sizeof *k->f[i].y);
	}
	if (k->ca)
		wipe_free(k->ca, (size_t)k->ca_len + 1);
	memset(k, 0, sizeof *k);
}

static int kset_add(struct kset *k, const char *path, char *err, size_t cap)
{
	struct kfile *f;
	long n;

	if (k->n >= CONFIG_FILES_MAX)
		return fail(err, cap, "more than %d kubeconfig files", CONFIG_FILES_MAX);
	for (int i = 0; i < k->n; i++)
		if (strcmp(k->f[i].path, path) == 0)
			return 0; /* listed twice: kubectl reads it once */
	f = &k->f[k->n];
	memset(f, 0, sizeof *f);
	if (!(f->path = cfg_strdup(path)))
		return -ENOMEM;
	k->n++;
	n = read_file(path, &f->buf);
	if (n < 0)
		return fail(err, cap, "kubeconfig %s: %s", path, n == PZ_ETOOBIG ? "larger than 1 MiB" : pz_strerror((int)n));
	f->len = n;
	if (!(f->y = cfg_malloc(sizeof *f->y)))
		return -ENOMEM;
	int rc = yaml_parse(f->y, f->buf, (size_t)n);
	if (rc < 0)
		return fail(err, cap, "kubeconfig %s: line %d: %s", path, f->y->err_line,
			f->y->err ? f->y->err : "cannot be read");
	return 0;
}

static const char *get(const struct yaml *y, int parent, const char *key)
{
	return yaml_str(y, yaml_get(y, parent, key));
}

/* Checks that node i (if present and not null) is of kind `want`. */
static int want_kind(const struct kfile *f, int i, enum yaml_kind want, const char *what, char *err, size_t cap)
{
	static const char *const names[] = { "null", "single value", "mapping", "sequence" };
	enum yaml_kind k = yaml_kind(f->y, i);
	if (i < 0 || k == YAML_NULL || k == want)
		return 0;
	return fail(err, cap, "kubeconfig %s: line %d: %s must be a %s, not a %s", f->path, f->y->node[i].line, what,
		names[want], names[k]);
}

/* In the first file that has one, the item of `list` named `name`: its file and its `field`
 * (-1 when the item has no such field). Returns 1 when found, 0 when not, or an error. */
static int find_named(const struct kset *k, const char *list, const char *name, const char *field,
	int *file, int *node, char *err, size_t cap)
{
	char what[64];
	for (int fi = 0; fi < k->n; fi++) {
		const struct kfile *f = &k->f[fi];
		int seq = yaml_get(f->y, -1, list), rc;
		pz_snprintf(what, sizeof what, "\"%s\"", list);
		if ((rc = want_kind(f, seq, YAML_SEQ, what, err, cap)) < 0)
			return rc;
		for (int it = yaml_next_item(f->y, seq, -1); it >= 0; it = yaml_next_item(f->y, seq, it)) {
			const char *n;
			pz_snprintf(what, sizeof what, "each item of \"%s\"", list);
			if ((rc = want_kind(f, it, YAML_MAP, what, err, cap)) < 0)
				return rc;
			n = get(f->y, it, "name");
			if (!n || strcmp(n, name) != 0)
				continue;
			*file = fi;
			*node = yaml_get(f->y, it, field);
			pz_snprintf(what, sizeof what, "%s \"%s\"", field, name);
			if ((rc = want_kind(f, *node, YAML_MAP, what, err, cap)) < 0)
				return rc;
			return 1;
		}
	}
	return 0;
}

/* The names defined in `list` across the files, for a "not found" message. */
static void list_names(const struct kset *k, const char *list, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = 0;
	for (int fi = 0; fi < k->n; fi++) {
		const struct yaml *y = k->f[fi].y;
		int seq = yaml_get(y, -1, list);
		for (int it = yaml_next_item(y, seq, -1); it >= 0; it = yaml_next_item(y, seq, it)) {
			const char *n = get(y, it, "name");
			int w;
			if (!n || o >= cap)
				continue;
			w = pz_snprintf(out + o, cap - o, "%s\"%s\"", o ? ", " : "", n);
			o = w < 0 ? cap : o + (size_t)w;
		}
	}
	if (!out[0])
		pz_snprintf(out, cap, "none");
}

static int files_label(const struct kset *k, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < k->n && o < cap; i++) {
		int w = pz_snprintf(out + o, cap - o, "%s%s", i ? ":" : "", k->f[i].path);
		o = w < 0 ? cap : o + (size_t)w;
	}
	return 0;
}

/* Resolves a path relative to the kubeconfig that named it. */
static int rel_path(char *out, size_t cap, const char *base_file, const char *p)
{
	const char *slash;
	if (p[0] == '/' || !(slash = strrchr(base_file, '/')))
		return pz_snprintf(out, cap, "%s", p) < (int)cap ? 0 : PZ_ETOOBIG;
	return pz_snprintf(out, cap, "%.*s/%s", (int)(slash - base_file), base_file, p) < (int)cap ? 0 : PZ_ETOOBIG;
}

/* Loads PEM bytes either from a -data (base64) value or from a file. *out is malloc'd with
 * *alloc bytes, of which the result's length + 1 were written (the caller wipes and frees). */
static long load_pem(const char *data, const char *file, const char *kubeconfig, char **out)
{
	char path[KUBE_PATH_MAX];
	if (data) {
		size_t l = strlen(data);
		unsigned char *buf = cfg_malloc(l + 1);
		long n;
		if (!buf)
			return -ENOMEM;
		n = config_base64_decode(data, l, buf, l);
		if (n < 0) {
			wipe_free(buf, l + 1);
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

/* YAML 1.1 as kubectl's reader resolves booleans; anything else is not false. */
static int is_false(const char *s)
{
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N" };
	for (size_t i = 0; i < PZ_ARRAY_LEN(no); i++)
		if (strcmp(s, no[i]) == 0)
			return 1;
	return 0;
}

static int is_true(const char *s)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y" };
	for (size_t i = 0; i < PZ_ARRAY_LEN(yes); i++)
		if (strcmp(s, yes[i]) == 0)
			return 1;
	return 0;
}

static int load_cluster(struct kube_api *api, struct kset *k, const struct kfile *f, int cl, const char *name,
	char *err, size_t cap)
{
	const struct yaml *y = f->y;
	const char *s, *data, *file;
	int i, rc;

	s = get(y, cl, "server");
	if (!s || !*s)
		return fail(err, cap, "kubeconfig %s: cluster \"%s\" has no server", f->path, name);
	if (config_parse_server(api, s) < 0)
		return fail(err, cap, "kubeconfig %s: cluster \"%s\": unsupported server URL \"%s\" "
			"(https://host[:port][/path] or http://...)", f->path, name, s);
	i = yaml_get(y, cl, "insecure-skip-tls-verify");
	if (yaml_kind(y, i) != YAML_NULL && !(yaml_str(y, i) && is_false(yaml_str(y, i))))
		return fail(err, cap, "kubeconfig %s: cluster \"%s\" sets insecure-skip-tls-verify; "
			"pizza-controller always verifies the server certificate", f->path, name);
	if ((s = get(y, cl, "tls-server-name")) && *s) {
		/* The name to verify, whatever address we connect to (kubectl's meaning too). */
		if (tls_name_set(&api->target.name, s) < 0)
			return fail(err, cap, "kubeconfig %s: cluster \"%s\": bad tls-server-name", f->path, name);
	}
	if (api->target.use_tls) {
		data = get(y, cl, "certificate-authority-data");
		file = get(y, cl, "certificate-authority");
		if (data && !*data)
			data = NULL;
		if (file && !*file)
			file = NULL;
		if (!data && !file)
			return fail(err, cap, "kubeconfig %s: cluster \"%s\" has no certificate-authority; "
				"system trust stores are not used, the cluster CA is required", f->path, name);
		k->ca_len = load_pem(data, file, f->path, &k->ca);
		if (k->ca_len < 0) {
			long e = k->ca_len;
			k->ca = NULL;
			k->ca_len = 0;
			return fail(err, cap, "kubeconfig %s: cluster \"%s\": certificate-authority%s: %s", f->path, name,
				data ? "-data" : "", e == PZ_ECONFIG ? "not valid base64" : pz_strerror((int)e));
		}
		if ((rc = set_ca(api, k->ca, k->ca_len, data ? "certificate-authority-data" : "certificate-authority",
				err, cap)) < 0)
			return rc;
	}
	return choose_proxy(api, get(y, cl, "proxy-url"), err, cap);
}

/* KUBERNETES_EXEC_INFO, as client-go writes it. */
static int exec_info(const struct kfile *f, int cl, const struct kset *k, int provide)
{
	struct json_w w;
	const char *api_version = plugin.v1 ? "client.authentication.k8s.io/v1" : "client.authentication.k8s.io/v1beta1";

	json_w_init(&w, plugin.info, sizeof plugin.info);
	json_w_obj(&w);
	json_w_kstr(&w, "kind", "ExecCredential");
	json_w_kstr(&w, "apiVersion", api_version);
	json_w_key(&w, "spec");
	json_w_obj(&w);
	if (provide) {
		const char *s;
		json_w_key(&w, "cluster");
		json_w_obj(&w);
		json_w_kstr(&w, "server", get(f->y, cl, "server"));
		if ((s = get(f->y, cl, "tls-server-name")))
			json_w_kstr(&w, "tls-server-name", s);
		if ((s = get(f->y, cl, "proxy-url")))
			json_w_kstr(&w, "proxy-url", s);
		if (k->ca_len > 0) {
			size_t need = 4 * (((size_t)k->ca_len + 2) / 3) + 1;
			char *b64 = cfg_malloc(need);
			if (!b64)
				return -ENOMEM;
			size_t n = base64_encode((const unsigned char *)k->ca, (size_t)k->ca_len, b64);
			json_w_key(&w, "certificate-authority-data");
			json_w_str(&w, b64, n);
			cfg_free(b64); /* a CA is public */
		}
		json_w_close(&w);
	}
	json_w_key(&w, "interactive");
	json_w_bool(&w, 0);
	json_w_close(&w);
	json_w_close(&w);
	return json_w_end(&w) < 0 ? PZ_ETOOBIG : 0;
}

static int load_exec(struct kube_api *api, const struct kset *k, const struct kfile *f, int ex, int cl,
	const char *user, char *err, size_t cap)
{
	const struct yaml *y = f->y;
	const char *v = get(y, ex, "apiVersion"), *cmd = get(y, ex, "command"), *mode = get(y, ex, "interactiveMode");
	const char *hint = get(y, ex, "installHint"), *pci = get(y, ex, "provideClusterInfo");
	char path[KUBE_PATH_MAX];
	int args = yaml_get(y, ex, "args"), env = yaml_get(y, ex, "env"), rc;

	memset(&plugin, 0, sizeof plugin);
	memset(&exec_state, 0, sizeof exec_state);
	if (!v || (strcmp(v, "client.authentication.k8s.io/v1") != 0 && strcmp(v, "client.authentication.k8s.io/v1beta1") != 0))
		return fail(err, cap, "kubeconfig %s: user \"%s\": exec apiVersion must be client.authentication.k8s.io/v1 or "
			"v1beta1 (v1alpha1 was removed in Kubernetes 1.24)", f->path, user);
	plugin.v1 = strcmp(v, "client.authentication.k8s.io/v1") == 0;
	if (!cmd || !*cmd)
		return fail(err, cap, "kubeconfig %s: user \"%s\": exec has no command", f->path, user);
	if (plugin.v1 && (!mode || !*mode))
		return fail(err, cap, "kubeconfig %s: user \"%s\": exec with apiVersion v1 needs interactiveMode "
			"(kubectl requires it too; use Never)", f->path, user);
	if (mode && *mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0) {
		if (strcmp(mode, "Always") == 0)
			return fail(err, cap, "kubeconfig %s: user \"%s\": exec interactiveMode Always needs a terminal; "
				"a controller never runs a plugin interactively", f->path, user);
		return fail(err, cap, "kubeconfig %s: user \"%s\": exec interactiveMode must be Never, IfAvailable or Always",
			f->path, user);
	}
	/* like client-go: a command with a slash but not absolute is relative to the kubeconfig */
	if (strchr(cmd, '/') && cmd[0] != '/') {
		if (rel_path(path, sizeof path, f->path, cmd) < 0)
			return fail(err, cap, "kubeconfig %s: exec command path too long", f->path);
		cmd = path;
	}
	if ((rc = want_kind(f, args, YAML_SEQ, "exec args", err, cap)) < 0 ||
	    (rc = want_kind(f, env, YAML_SEQ, "exec env", err, cap)) < 0)
		return rc;
	if (!(plugin.argv[plugin.argc++] = execcred_keep(&plugin, cmd)))
		goto too_big;
	for (int it = yaml_next_item(y, args, -1); it >= 0; it = yaml_next_item(y, args, it)) {
		const char *a = yaml_str(y, it);
		if (yaml_kind(y, it) == YAML_MAP || yaml_kind(y, it) == YAML_SEQ)
			return fail(err, cap, "kubeconfig %s: line %d: exec args must be strings", f->path, y->node[it].line);
		if (plugin.argc > EXECCRED_ARGS_MAX || !(plugin.argv[plugin.argc++] = execcred_keep(&plugin, a ? a : "")))
			goto too_big;
	}
	plugin.argv[plugin.argc] = NULL;
	for (int it = yaml_next_item(y, env, -1); it >= 0; it = yaml_next_item(y, env, it)) {
		const char *n = get(y, it, "name"), *val = get(y, it, "value");
		if (yaml_kind(y, it) != YAML_MAP || !n || !*n || strchr(n, '='))
			return fail(err, cap, "kubeconfig %s: line %d: each exec env item needs a name (and a value)",
				f->path, y->node[it].line);
		if (plugin.nenv >= EXECCRED_ENV_MAX || !(plugin.env_name[plugin.nenv] = execcred_keep(&plugin, n)) ||
		    !(plugin.env_value[plugin.nenv] = execcred_keep(&plugin, val ? val : "")))
			goto too_big;
		plugin.nenv++;
	}
	if (hint && *hint && !(plugin.install_hint = execcred_keep(&plugin, hint)))
		goto too_big;
	if (exec_info(f, cl, k, pci && is_true(pci)) < 0)
		return fail(err, cap, "kubeconfig %s: user \"%s\": the cluster information for the exec plugin is larger "
			"than %d bytes", f->path, user, EXECCRED_INFO_MAX);
	exec_state.set = 1;
	if ((rc = run_exec(api, pz_now_ms(), err, cap)) < 0) {
		exec_state.set = 0;
		return rc == PZ_ECONFIG || rc == PZ_ETOOBIG || rc == PZ_EJSON || rc == -ETIMEDOUT ? PZ_ECONFIG : rc;
	}
	return 0;
too_big:
	return fail(err, cap, "kubeconfig %s: user \"%s\": exec command, args and env exceed %d entries or %d bytes",
		f->path, user, EXECCRED_ARGS_MAX, EXECCRED_STRINGS_MAX);
}

static int load_user(struct kube_api *api, const struct kset *k, const struct kfile *f, int us, int cl,
	const char *user, char *err, size_t cap)
{
	static const char *const refused[] = { "auth-provider", "username", "password", "as", "as-uid", "as-groups",
		"as-user-extra", "impersonate", "impersonate-uid", "impersonate-groups", "impersonate-user-extra" };
	const struct yaml *y = f->y;
	const char *token = get(y, us, "token"), *token_file = get(y, us, "tokenFile");
	int ex = yaml_get(y, us, "exec"), rc;
	char *pem = NULL, *key = NULL;
	long n = 0, kn = 0;

	for (size_t i = 0; i < PZ_ARRAY_LEN(refused); i++) {
		int at = yaml_get(y, us, refused[i]);
		if (at >= 0 && yaml_kind(y, at) != YAML_NULL && !(yaml_str(y, at) && !*yaml_str(y, at)))
			return fail(err, cap, "kubeconfig %s: user \"%s\" uses \"%s\", which pizza-controller does not "
				"support; use a token, tokenFile, a client certificate or an exec plugin", f->path, user, refused[i]);
	}
	if (token && !*token)
		token = NULL;
	if (token_file && !*token_file)
		token_file = NULL;
	if (yaml_kind(y, ex) != YAML_NULL && (token || token_file))
		return fail(err, cap, "kubeconfig %s: user \"%s\" sets both exec and %s; keep one", f->path, user,
			token ? "token" : "tokenFile");
	if (token_file) {
		/* client-go reads the file and keeps re-reading it; it wins over a static token */
		if (rel_path(api->token_file, sizeof api->token_file, f->path, token_file) < 0)
			return fail(err, cap, "kubeconfig %s: tokenFile path too long", f->path);
		if ((rc = read_token_file(api, api->token_file)) < 0)
			return fail(err, cap, "kubeconfig %s: user \"%s\": tokenFile %s: %s", f->path, user, api->token_file,
				rc == PZ_ECONFIG ? "empty, or holds a space, control or non-ASCII byte" : pz_strerror(rc));
		api->token_read_ms = pz_now_ms();
	} else if (token) {
		size_t tl = strlen(token);
		if (tl >= sizeof api->token)
			return fail(err, cap, "kubeconfig %s: user \"%s\": token longer than %d bytes", f->path, user,
				KUBE_TOKEN_MAX - 1);
		if (!printable_token(token, tl))
			return fail(err, cap, "kubeconfig %s: user \"%s\": token holds a space, control or non-ASCII byte "
				"(it would go raw into the Authorization header)", f->path, user);
		set_token(api, token, tl);
	}
	const char *cd = get(y, us, "client-certificate-data"), *cf = get(y, us, "client-certificate");
	const char *kd = get(y, us, "client-key-data"), *kf = get(y, us, "client-key");
	if (cd || cf || kd || kf) {
		if (!(cd || cf) || !(kd || kf))
			return fail(err, cap, "kubeconfig %s: user \"%s\" needs both a client certificate and its key",
				f->path, user);
		if (!api->target.use_tls)
			return fail(err, cap, "kubeconfig %s: client certificates need an https server", f->path);
		n = load_pem(cd, cf, f->path, &pem);
		kn = n < 0 ? n : load_pem(kd, kf, f->path, &key);
		rc = n < 0 || kn < 0 ? PZ_ECONFIG : tls_creds_set_client_pem(&api->creds, pem, (size_t)n, key, (size_t)kn);
		if (pem)
			wipe_free(pem, (size_t)n + 1);
		if (key)
			wipe_free(key, (size_t)kn + 1); /* private key bytes: not left in freed memory */
		if (rc < 0)
			return fail(err, cap, "kubeconfig %s: user \"%s\": client certificate or key unreadable "
				"(PEM certificate; RSA or EC key in PKCS#1, SEC1 or PKCS#8)", f->path, user);
	}
	if (yaml_kind(y, ex) != YAML_NULL) {
		if ((rc = want_kind(f, ex, YAML_MAP, "exec", err, cap)) < 0)
			return rc;
		return load_exec(api, k, f, ex, cl, user, err, cap);
	}
	return 0;
}

static int load_kubeconfig(struct kube_api *api, struct kset *k, const char *context, char *err, size_t cap)
{
	char names[512], files[600];
	const char *ctx_name = context, *cluster_name, *user_name;
	int cf = -1, ctx = -1, clf = -1, cl = -1, usf = -1, us = -1, rc;

	files_label(k, files, sizeof files);
	for (int i = 0; !ctx_name && i < k->n; i++) {
		const char *c = get(k->f[i].y, -1, "current-context");
		if (c && *c)
			ctx_name = c;
	}
	if (!ctx_name || !*ctx_name) {
		list_names(k, "contexts", names, sizeof names);
		return fail(err, cap, "kubeconfig %s: no current-context and no --context (contexts: %s)", files, names);
	}
	if ((rc = find_named(k, "contexts", ctx_name, "context", &cf, &ctx, err, cap)) < 0)
		return rc;
	if (rc == 0) {
		list_names(k, "contexts", names, sizeof names);
		return fail(err, cap, "kubeconfig %s: context \"%s\" not found (contexts: %s)", files, ctx_name, names);
	}
	cluster_name = get(k->f[cf].y, ctx, "cluster");
	user_name = get(k->f[cf].y, ctx, "user");
	if (!cluster_name || !*cluster_name)
		return fail(err, cap, "kubeconfig %s: context \"%s\" names no cluster", k->f[cf].path, ctx_name);
	if ((rc = find_named(k, "clusters", cluster_name, "cluster", &clf, &cl, err, cap)) < 0)
		return rc;
	if (rc == 0 || cl < 0) {
		list_names(k, "clusters", names, sizeof names);
		return fail(err, cap, "kubeconfig %s: cluster \"%s\" of context \"%s\" not found (clusters: %s)", files,
			cluster_name, ctx_name, names);
	}
	if ((rc = load_cluster(api, k, &k->f[clf], cl, cluster_name, err, cap)) < 0)
		return rc;
	if (!user_name || !*user_name)
		return 0; /* no credentials, as kubectl allows (kubectl proxy, anonymous) */
	if ((rc = find_named(k, "users", user_name, "user", &usf, &us, err, cap)) < 0)
		return rc;
	if (rc == 0) {
		list_names(k, "users", names, sizeof names);
		return fail(err, cap, "kubeconfig %s: user \"%s\" of context \"%s\" not found (users: %s)", files,
			user_name, ctx_name, names);
	}
	if (us < 0)
		return 0; /* a user with only a name: no credentials */
	return load_user(api, k, &k->f[usf], us, cl, user_name, err, cap);
}

static int load_files(struct kube_api *api, const char *const *paths, int n, const char *context, char *err, size_t cap)
{
	struct kset *k = cfg_calloc(sizeof *k);
	int rc = 0;

	if (!k)
		return fail(err, cap, "out of memory reading the kubeconfig");
	for (int i = 0; i < n && rc == 0; i++)
		rc = kset_add(k, paths[i], err, cap);
	if (rc == -ENOMEM)
		rc = fail(err, cap, "out of memory reading the kubeconfig");
	if (rc == 0)
		rc = load_kubeconfig(api, k, context, err, cap);
	kset_free(k);
	cfg_free(k);
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
	pz_snprintf(url, sizeof url, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	if (config_parse_server(api, url) < 0)
		return fail(err, cap, "in-cluster: bad KUBERNETES_SERVICE_HOST/PORT");
	pz_snprintf(path, sizeof path, "%s/ca.crt", sa_dir);
	n = read_file(path, &pem);
	if (n < 0)
		return fail(err, cap, "in-cluster: %s: %s", path, pz_strerror((int)n));
	rc = set_ca(api, pem, n, path, err, cap);
	wipe_free(pem, (size_t)n + 1);
	if (rc < 0)
		return rc;
	pz_snprintf(api->token_file, sizeof api->token_file, "%s/token", sa_dir);
	rc = read_token_file(api, api->token_file);
	if (rc < 0)
		return fail(err, cap, "in-cluster: %s: %s", api->token_file,
			rc == PZ_ECONFIG ? "empty, or holds a space, control or non-ASCII byte" : pz_strerror(rc));
	api->token_read_ms = pz_now_ms();
	return choose_proxy(api, NULL, err, cap);
}

int config_load(struct kube_api *api, const struct config_source *src, char *origin, size_t origin_cap,
	char *err, size_t err_cap)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char path[KUBE_PATH_MAX];

	api->target.creds = &api->creds;
	memset(&exec_state, 0, sizeof exec_state);
	exec_stderr[0] = refresh_err[0] = 0;
	if (src->kubeconfig) {
		pz_snprintf(origin, origin_cap, "kubeconfig %s", src->kubeconfig);
		return load_files(api, &src->kubeconfig, 1, src->context, err, err_cap);
	}
	if (env && *env) {
		/* KUBECONFIG lists files; like kubectl, those that exist are merged (missing ones skipped). */
		const char *list[CONFIG_FILES_MAX];
		char *copy = cfg_strdup(env);
		int n = 0, rc;
		size_t o = 0;
		if (!copy)
			return fail(err, err_cap, "out of memory");
		for (char *p = copy, *tok; (tok = strsep(&p, ":"));) {
			if (!*tok || access(tok, F_OK) != 0)
				continue;
			if (n == CONFIG_FILES_MAX) {
				cfg_free(copy);
				return fail(err, err_cap, "KUBECONFIG lists more than %d existing files", CONFIG_FILES_MAX);
			}
			list[n++] = tok;
		}
		if (n) {
			for (int i = 0; i < n && o < origin_cap; i++) {
				int w = pz_snprintf(origin + o, origin_cap - o, "%s%s", i ? ":" : "kubeconfig ", list[i]);
				o = w < 0 ? origin_cap : o + (size_t)w;
			}
			if (o < origin_cap)
				pz_snprintf(origin + o, origin_cap - o, " (KUBECONFIG%s)", n > 1 ? ", merged" : "");
			rc = load_files(api, list, n, src->context, err, err_cap);
			cfg_free(copy);
			return rc;
		}
		cfg_free(copy);
	}
	if (getenv("KUBERNETES_SERVICE_HOST") && *getenv("KUBERNETES_SERVICE_HOST")) {
		pz_snprintf(origin, origin_cap, "in-cluster service account %s", src->sa_dir);
		return load_in_cluster(api, src->sa_dir, err, err_cap);
	}
	if (home && pz_snprintf(path, sizeof path, "%s/.kube/config", home) < (int)sizeof path && access(path, R_OK) == 0) {
		const char *one = path;
		pz_snprintf(origin, origin_cap, "kubeconfig %s", path);
		return load_files(api, &one, 1, src->context, err, err_cap);
	}
	return fail(err, err_cap, "no configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
}
