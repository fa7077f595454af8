/*
 * execcred.c - exec credential plugins (see execcred.h): fork, exec, read two pipes under one
 * deadline, kill the process group when the deadline passes or the output is too large, then
 * parse the ExecCredential with jsmn.
 */
#include "fmt.h"
#include "execcred.h"
#include "json.h"
#include "pz.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tokens of one ExecCredential: ~20 (kind, apiVersion, spec, status and its four fields). */
#define EXECCRED_TOKENS 128

static char out_buf[EXECCRED_OUT_MAX + 1] __attribute__((aligned(4096)));
static jsmntok_t toks[EXECCRED_TOKENS];

static int failf(struct execcred_result *r, int code, const char *fmt, const char *a, long b)
{
	pz_snprintf(r->err, sizeof r->err, fmt, a, b);
	return code;
}

const char *execcred_keep(struct execcred_plugin *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;
	if (n > sizeof p->strings - p->used)
		return NULL;
	d = p->strings + p->used;
	memcpy(d, s, n);
	p->used += n;
	return d;
}

void execcred_wipe(struct execcred_result *r)
{
	explicit_bzero(r, sizeof *r);
}

/* ---- time ---- */

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int execcred_parse_time(const char *s, size_t len, int64_t *epoch_s)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (len < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
	    digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
		return PZ_ECONFIG;
	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
		return PZ_ECONFIG;
	if (s[i] == '.') {
		size_t f = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return PZ_ECONFIG;
	}
	if (i < len && s[i] == 'Z') {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (len - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return PZ_ECONFIG;
		i += 6;
	} else {
		return PZ_ECONFIG;
	}
	if (i != len)
		return PZ_ECONFIG;
	*epoch_s = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - sign * (oh * 3600 + om * 60);
	return 0;
}

/* ---- redaction ---- */

static int token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

void execcred_redact(char *text, const char *token)
{
	static const char mark[] = "[redacted]";
	const size_t ml = sizeof mark - 1;
	size_t tl = token ? strlen(token) : 0, n = strlen(text), o = 0;

	for (size_t i = 0; i < n;) {
		if (tl && n - i >= tl && memcmp(text + i, token, tl) == 0) {
			/* never longer than what it replaces */
			if (tl >= ml) {
				memcpy(text + o, mark, ml);
				o += ml;
			} else {
				memset(text + o, '*', tl);
				o += tl;
			}
			i += tl;
			continue;
		}
		if (token_char(text[i]) && (i == 0 || !token_char(text[i - 1]))) {
			size_t j = i;
			int alpha = 0, digit = 0;
			while (j < n && token_char(text[j])) {
				alpha |= (text[j] >= 'A' && text[j] <= 'Z') || (text[j] >= 'a' && text[j] <= 'z');
				digit |= text[j] >= '0' && text[j] <= '9';
				j++;
			}
			int after_bearer = i >= 7 && strncasecmp(text + i - 7, "bearer ", 7) == 0;
			if ((j - i >= 16 && alpha && digit) || (after_bearer && j - i >= ml)) {
				memcpy(text + o, mark, ml);
				o += ml;
			} else {
				memmove(text + o, text + i, j - i);
				o += j - i;
			}
			i = j;
			continue;
		}
		text[o++] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
		i++;
	}
	text[o] = 0;
	explicit_bzero(text + o, n - o); /* the tail held what was just redacted */
}

/* ---- the ExecCredential ---- */

static int printable_token(const char *t)
{
	if (!*t)
		return 0;
	for (; *t; t++)
		if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
			return 0;
	return 1;
}

int execcred_parse(const struct execcred_plugin *p, const char *json, size_t len, struct execcred_result *r)
{
	struct json_doc d;
	int n, st, i, rc;
	const char *want = p->v1 ? "client.authentication.k8s.io/v1" : "client.authentication.k8s.io/v1beta1";

	r->token[0] = 0;
	r->cert_len = r->key_len = 0;
	r->expiry_s = 0;
	n = json_parse(&d, json, len, toks, EXECCRED_TOKENS);
	if (n < 0 || toks[0].type != JSMN_OBJECT)
		return failf(r, n == PZ_ETOOBIG ? PZ_ETOOBIG : PZ_EJSON,
			"the plugin printed something that is not an ExecCredential JSON object%s", "", 0);
	if (!json_eq(&d, json_get(&d, 0, "kind"), "ExecCredential"))
		return failf(r, PZ_ECONFIG, "the plugin's output is not kind ExecCredential%s", "", 0);
	if (!json_eq(&d, json_get(&d, 0, "apiVersion"), want))
		return failf(r, PZ_ECONFIG, "the plugin's ExecCredential is not apiVersion %s, which the kubeconfig asks for", want, 0);
	st = json_get(&d, 0, "status");
	if (st < 0 || toks[st].type != JSMN_OBJECT)
		return failf(r, PZ_ECONFIG, "the plugin's ExecCredential has no status%s", "", 0);
	if ((i = json_get(&d, st, "token")) >= 0 && toks[i].type == JSMN_STRING) {
		rc = json_str(&d, i, r->token, sizeof r->token);
		if (rc == PZ_ETOOBIG)
			return failf(r, PZ_ETOOBIG, "the plugin's token is longer than %s%ld bytes", "", KUBE_TOKEN_MAX - 1);
		if (rc < 0)
			return failf(r, PZ_EJSON, "the plugin's token is not a valid JSON string%s", "", 0);
		if (rc > 0 && !printable_token(r->token)) {
			explicit_bzero(r->token, sizeof r->token);
			return failf(r, PZ_ECONFIG, "the plugin's token holds a space, control or non-ASCII byte%s", "", 0);
		}
	}
	int ci = json_get(&d, st, "clientCertificateData"), ki = json_get(&d, st, "clientKeyData");
	if ((ci >= 0 && toks[ci].type == JSMN_STRING && toks[ci].end > toks[ci].start) !=
	    (ki >= 0 && toks[ki].type == JSMN_STRING && toks[ki].end > toks[ki].start))
		return failf(r, PZ_ECONFIG, "the plugin gave clientCertificateData or clientKeyData without the other%s", "", 0);
	if (ci >= 0 && toks[ci].type == JSMN_STRING && toks[ci].end > toks[ci].start) {
		int cl = json_str(&d, ci, r->cert, sizeof r->cert), kl = json_str(&d, ki, r->key, sizeof r->key);
		if (cl < 0 || kl < 0)
			return failf(r, cl == PZ_ETOOBIG || kl == PZ_ETOOBIG ? PZ_ETOOBIG : PZ_EJSON,
				"the plugin's client certificate or key is too long or not a valid string%s", "", 0);
		r->cert_len = (size_t)cl;
		r->key_len = (size_t)kl;
	}
	if (!r->token[0] && !r->cert_len)
		return failf(r, PZ_ECONFIG, "the plugin's ExecCredential has neither status.token nor a client certificate%s", "", 0);
	if ((i = json_get(&d, st, "expirationTimestamp")) >= 0 && toks[i].type == JSMN_STRING) {
		if (execcred_parse_time(json + toks[i].start, (size_t)(toks[i].end - toks[i].start), &r->expiry_s) < 0)
			return failf(r, PZ_ECONFIG, "the plugin's expirationTimestamp is not an RFC 3339 time%s", "", 0);
	} else if (i >= 0 && !json_eq(&d, i, "null") && !(toks[i].type == JSMN_PRIMITIVE && json[toks[i].start] == 'n')) {
		return failf(r, PZ_ECONFIG, "the plugin's expirationTimestamp is not a string%s", "", 0);
	}
	return 0;
}

/* ---- running it ---- */

/* The plugin's environment: ours, with its env entries and KUBERNETES_EXEC_INFO set over it. Built
 * in the child, in static storage (setenv would pull in libc's malloc for this one use). Entries
 * beyond the bounds are dropped. */
#define CHILD_ENV_MAX 1024
#define CHILD_ENV_BYTES (128 * 1024)
extern char **environ;
static char *child_env_ptr[CHILD_ENV_MAX + 1];
static char child_env_buf[CHILD_ENV_BYTES];

static char *const *child_env(const struct execcred_plugin *p)
{
	size_t used = 0;
	int n = 0;

	for (int i = -1; i < p->nenv && n < CHILD_ENV_MAX; i++) {
		const char *name = i < 0 ? "KUBERNETES_EXEC_INFO" : p->env_name[i];
		const char *value = i < 0 ? p->info : p->env_value[i];
		size_t ln = strlen(name), lv = strlen(value);
		if (used + ln + lv + 2 > sizeof child_env_buf)
			continue;
		child_env_ptr[n++] = child_env_buf + used;
		memcpy(child_env_buf + used, name, ln);
		child_env_buf[used + ln] = '=';
		memcpy(child_env_buf + used + ln + 1, value, lv + 1);
		used += ln + lv + 2;
	}
	for (char **e = environ; e && *e && n < CHILD_ENV_MAX; e++) {
		int shadowed = 0;
		for (int k = 0; k < n && !shadowed; k++) {
			const char *eq = strchr(child_env_ptr[k], '=');
			size_t ln = (size_t)(eq - child_env_ptr[k]);
			shadowed = strncmp(*e, child_env_ptr[k], ln) == 0 && (*e)[ln] == '=';
		}
		if (!shadowed)
			child_env_ptr[n++] = *e;
	}
	child_env_ptr[n] = NULL;
	return child_env_ptr;
}

static void child(const struct execcred_plugin *p, int out_fd, int err_fd)
{
	sigset_t none;
	int nul = open("/dev/null", O_RDONLY);

	setpgid(0, 0); /* its own group: the deadline kills a script's children too */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL); /* an ignored signal survives exec; the parent ignores SIGPIPE */
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(126);
	execvpe(p->argv[0], (char *const *)p->argv, child_env(p));
	{
		/* for the parent's message; the command name is configuration, not a secret */
		const char *e = pz_strerror(-errno);
		if (write(2, e, strlen(e)) < 0)
			_exit(127);
	}
	_exit(127);
}

static void reap(pid_t pid, int *status, int64_t deadline)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return;
		if (pz_now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return;
		}
		poll(NULL, 0, 5);
	}
}

int execcred_run(const struct execcred_plugin *p, struct execcred_result *r)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, status = 0, rc = 0;
	size_t olen = 0, elen = 0;
	int64_t deadline = pz_now_ms() + EXECCRED_TIMEOUT_MS;
	const char *cmd = p->argv[0];
	pid_t pid;

	r->err[0] = r->stderr_text[0] = 0;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		rc = -errno;
		failf(r, rc, "exec plugin %s: cannot make pipes (%ld)", cmd, -rc);
		goto close_all;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		failf(r, rc, "exec plugin %s: cannot fork (%ld)", cmd, -rc);
		goto close_all;
	}
	if (pid == 0)
		child(p, out[1], err[1]);
	setpgid(pid, pid); /* also here: whichever runs first, the group exists before any kill */
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);

	while (out[0] >= 0 || err[0] >= 0) {
		struct pollfd pf[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
		int64_t left = deadline - pz_now_ms();
		if (left <= 0) {
			rc = failf(r, -ETIMEDOUT, "exec plugin %s: no answer within %ld ms; killed", cmd, EXECCRED_TIMEOUT_MS);
			break;
		}
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (out[0] >= 0 && pf[0].revents) {
			ssize_t n = read(out[0], out_buf + olen, sizeof out_buf - olen);
			if (n > 0 && olen + (size_t)n > EXECCRED_OUT_MAX) {
				olen += (size_t)n; /* for the wipe */
				rc = failf(r, PZ_ETOOBIG, "exec plugin %s: printed more than %ld bytes; killed", cmd, EXECCRED_OUT_MAX);
				break;
			}
			if (n > 0)
				olen += (size_t)n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(out[0]);
				out[0] = -1;
			}
		}
		if (err[0] >= 0 && pf[1].revents) {
			char drop[512];
			size_t room = sizeof r->stderr_text - 1 - elen;
			ssize_t n = read(err[0], room ? r->stderr_text + elen : drop, room ? room : sizeof drop);
			if (n > 0 && room)
				elen += (size_t)n;
			else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(err[0]);
				err[0] = -1;
			}
		}
	}
	if (rc < 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	reap(pid, &status, rc < 0 ? 0 : deadline);
	r->stderr_text[elen] = 0;
	if (rc == 0) {
		if (WIFSIGNALED(status))
			rc = failf(r, PZ_ECONFIG, "exec plugin %s: killed by signal %ld", cmd, WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && elen && !olen)
			rc = failf(r, PZ_ECONFIG, "exec plugin %s: cannot be started (not installed, or not on PATH?)", cmd, 0);
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = failf(r, PZ_ECONFIG, "exec plugin %s: exited with status %ld", cmd, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		else
			rc = execcred_parse(p, out_buf, olen, r);
		if (rc < 0 && strncmp(r->err, "exec plugin ", 12) != 0) {
			char why[sizeof r->err];
			memcpy(why, r->err, sizeof why);
			pz_snprintf(r->err, sizeof r->err, "exec plugin %.60s: %.180s", cmd, why);
		}
	}
	execcred_redact(r->stderr_text, rc == 0 ? r->token : NULL);
	/* the output held the credential: wipe what was read, then give the pages back */
	explicit_bzero(out_buf, olen);
	madvise(out_buf, sizeof out_buf & ~(size_t)4095, MADV_DONTNEED);
close_all:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return rc;
}
