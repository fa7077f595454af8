/* loopback.h - fake API servers on 127.0.0.1 for the I/O modules' unit tests (conn, kube, watch,
 * lease, reconcile), and the small poll loop that drives a module the way main.c's loop does.
 *
 * A server is a forked child (its own process, so its blocking code never blocks the state machine
 * under test) listening on a free loopback port. Each accepted connection runs the test's handler:
 * in a process of its own (concurrent: several links at once) or one after another in the server
 * process (sequential: fast, for thousands of short connections). The handler writes with blocking
 * I/O, plain or TLS (BearSSL's server engine through br_sslio, as bench/replay_server.c does).
 * What the servers saw (accepts, request lines and times, bodies) lands in a MAP_SHARED block the
 * test reads, so a test asserts on what reached the wire, not on what the client believes it sent.
 *
 * TLS: a CA and a server certificate (EC P-256, SAN IP:127.0.0.1, serverAuth) are made with openssl
 * into a temporary folder on first use (tests/data/tls holds no server key); `lb_ca` is the client's
 * trust. Needs openssl (Debian: openssl, installed by vendor/build-deps.sh): a missing one is a
 * failed check with a clear line, never a skipped test.
 *
 * Include after check.h and harness.h. Test tools: they abort on a broken set-up.
 */
#ifndef LOOPBACK_H
#define LOOPBACK_H
#include "check.h"
#include "kube.h"
#include "pz.h"
#include "tls.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- what the servers saw ---- */

#define LB_LOG_MAX 512     /* request lines kept (the rate test makes at most ~60 per resource) */
#define LB_LINE_MAX 2048   /* one request line: long enough to show an over-long continue token */
#define LB_BODY_MAX 2048   /* the last request body (lease and reconcile writes are < 2 KiB) */

struct lb_shared {
	int accepts;
	int requests;
	int closed;                    /* connections the handler finished (any way) */
	int flag[16];                  /* handler <-> test signals, meaning per test */
	int nlog;
	int64_t log_ms[LB_LOG_MAX];    /* pz_now_ms() when each request head was read */
	char log[LB_LOG_MAX][LB_LINE_MAX];
	char body[LB_BODY_MAX];        /* body of the last request */
	size_t body_len;
	char head[LB_BODY_MAX];        /* head of the last request (its headers: tokens, Host) */
	char state[4096];              /* free-form state a stateful handler keeps across processes */
};

#define LB_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define LB_GET(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define LB_SET(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

/* ---- TLS material ---- */

static struct tls_creds lb_ca;           /* the client's trust: the test CA */
static struct {
	br_x509_certificate chain[1];
	unsigned char der[4096];
	br_skey_decoder_context key;
	int ready;
} lb_srv;

static inline void lb_pem_sink(void *ctx, const void *data, size_t len)
{
	size_t *n = ctx;
	unsigned char *dst = (unsigned char *)(n + 1);
	if (*n + len <= 4096)
		memcpy(dst + *n, data, len);
	*n += len;
}

static inline char *lb_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;
	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		if (f)
			fclose(f);
		return NULL;
	}
	rewind(f);
	b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b)
		b[n] = 0;
	*len = (size_t)n;
	return b;
}

/* Makes and loads the certificates once per process. Returns 0, or -1 (with a line saying why). */
static inline int lb_tls_init(void)
{
	static struct { size_t n; unsigned char buf[4096]; } obj;
	char dir[256], cmd[2048], path[300];
	br_pem_decoder_context pc;
	size_t len, cl;
	char *pem, *ca;
	const char *p;
	int ok = 0;

	if (lb_srv.ready)
		return 0;
	snprintf(dir, sizeof dir, "%s/pz-loopback.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	/* Valid from an hour ago (openssl ca -startdate): a certificate made this second must not be
	 * "not yet valid" to a client whose clock reads the same second. */
	snprintf(cmd, sizeof cmd,
		"set -e; cd '%s'; command -v openssl >/dev/null || { echo 'loopback.h: openssl is missing "
		"(apt-get install openssl)' >&2; exit 2; }\n"
		"mkdir db; : >db/index.txt; echo 1000 >db/serial\n"
		"printf '[ca]\\ndefault_ca=a\\n[a]\\ndatabase=db/index.txt\\nnew_certs_dir=db\\nserial=db/serial\\n"
		"policy=p\\nunique_subject=no\\ndefault_md=sha256\\ncopy_extensions=none\\n[p]\\ncommonName=optional\\n' >ca.cnf\n"
		"s=$(date -u -d @$(($(date +%%s) - 3600)) +%%Y%%m%%d%%H%%M%%SZ); e=$(date -u -d @$(($(date +%%s) + 86400)) +%%Y%%m%%d%%H%%M%%SZ)\n"
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null\n"
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out srv.key 2>/dev/null\n"
		"printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n' >ca.ext\n"
		"printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\n"
		"extendedKeyUsage=serverAuth\\nsubjectAltName=IP:127.0.0.1\\n' >srv.ext\n"
		"openssl req -new -key ca.key -subj /CN=lb-ca -out ca.csr 2>/dev/null\n"
		"openssl ca -batch -config ca.cnf -selfsign -keyfile ca.key -in ca.csr -out ca.pem -notext "
		"-startdate $s -enddate $e -extfile ca.ext 2>/dev/null\n"
		"openssl req -new -key srv.key -subj /CN=kube-apiserver -out srv.csr 2>/dev/null\n"
		"openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in srv.csr -out srv.pem -notext "
		"-startdate $s -enddate $e -extfile srv.ext 2>/dev/null\n",
		dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "loopback.h: the test certificates could not be made in %s\n", dir);
		goto out;
	}
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	ca = lb_slurp(path, &cl);
	if (!ca || tls_creds_add_ca_pem(&lb_ca, ca, cl) != 1) {
		fprintf(stderr, "loopback.h: cannot load %s\n", path);
		free(ca);
		goto out;
	}
	free(ca);
	snprintf(path, sizeof path, "%s/srv.pem", dir);
	pem = lb_slurp(path, &len);
	snprintf(path, sizeof path, "%s/srv.key", dir);
	{
		size_t kl;
		char *key = lb_slurp(path, &kl), *both;
		if (!pem || !key || !(both = malloc(len + kl + 1))) {
			free(pem);
			free(key);
			goto out;
		}
		memcpy(both, pem, len);
		memcpy(both + len, key, kl);
		free(pem);
		free(key);
		pem = both;
		len += kl;
	}
	br_pem_decoder_init(&pc);
	p = pem;
	for (size_t left = len; left > 0;) {
		size_t k = br_pem_decoder_push(&pc, p, left);
		p += k;
		left -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			obj.n = 0;
			br_pem_decoder_setdest(&pc, lb_pem_sink, &obj);
			break;
		case BR_PEM_END_OBJ:
			if (obj.n > sizeof obj.buf)
				break;
			if (strstr(br_pem_decoder_name(&pc), "PRIVATE KEY")) {
				br_skey_decoder_init(&lb_srv.key);
				br_skey_decoder_push(&lb_srv.key, obj.buf, obj.n);
				ok |= br_skey_decoder_key_type(&lb_srv.key) == BR_KEYTYPE_EC ? 2 : 0;
			} else {
				memcpy(lb_srv.der, obj.buf, obj.n);
				lb_srv.chain[0].data = lb_srv.der;
				lb_srv.chain[0].data_len = obj.n;
				ok |= 1;
			}
			break;
		default:
			break;
		}
	}
	free(pem);
	lb_srv.ready = ok == 3;
out:
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "loopback.h: could not remove %s\n", dir);
	if (!lb_srv.ready)
		fprintf(stderr, "loopback.h: no TLS material (is openssl installed?)\n");
	return lb_srv.ready ? 0 : -1;
}

/* ---- one accepted connection, as the handler sees it ---- */

struct lb_peer {
	int fd;
	int tls;
	struct lb_shared *sh;
	br_ssl_server_context sc;
	br_sslio_context io;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	/* bytes read past the request returned by lb_read_request (a pipelined next request) */
	char extra[8192];
	size_t nextra;
};

static inline int lb_sock_read(void *ctx, unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(*(int *)ctx, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

static inline int lb_sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		return n <= 0 ? -1 : (int)n;
	}
}

/* Starts TLS on the connection (a TLS server does it before the handler runs; a proxy handler
 * calls it after its 200 to play the target). The handshake itself runs on the first read or
 * write. Call lb_tls_init() in main, before the tests fork, so it never runs openssl here. */
static inline int lb_tls_accept(struct lb_peer *p)
{
	if (lb_tls_init() < 0)
		return -1;
	br_ssl_server_init_full_ec(&p->sc, lb_srv.chain, 1, BR_KEYTYPE_EC, br_skey_decoder_get_ec(&lb_srv.key));
	br_ssl_engine_set_buffer(&p->sc.eng, p->iobuf, sizeof p->iobuf, 1);
	br_ssl_server_reset(&p->sc);
	br_sslio_init(&p->io, &p->sc.eng, lb_sock_read, &p->fd, lb_sock_write, &p->fd);
	p->tls = 1;
	return 0; /* the handshake runs on the first read */
}

static inline int lb_read_some(struct lb_peer *p, char *buf, size_t cap)
{
	if (p->tls) {
		int n = br_sslio_read(&p->io, buf, cap);
		return n < 0 ? 0 : n;
	}
	for (;;) {
		ssize_t n = read(p->fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? 0 : (int)n;
	}
}

/* Writes all of it (and flushes the TLS record): 0, or -1 when the peer is gone. */
static inline int lb_write(struct lb_peer *p, const void *data, size_t len)
{
	if (p->tls)
		return br_sslio_write_all(&p->io, data, len) == 0 && br_sslio_flush(&p->io) == 0 ? 0 : -1;
	for (const char *d = data; len > 0;) {
		ssize_t n = send(p->fd, d, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		d += n;
		len -= (size_t)n;
	}
	return 0;
}

static inline int lb_puts(struct lb_peer *p, const char *s) { return lb_write(p, s, strlen(s)); }

/* Reads one request: head and a Content-Length body, into buf (NUL-terminated). Logs its request
 * line and time in the shared block, keeps its body there. Returns the length, 0 when the client
 * closed (or sent something that is not a request head within cap). */
static inline int lb_read_request(struct lb_peer *p, char *buf, size_t cap)
{
	size_t n = 0, want = 0;
	char *end = NULL;

	if (p->nextra) {
		n = p->nextra < cap - 1 ? p->nextra : cap - 1;
		memcpy(buf, p->extra, n);
		p->nextra = 0;
	}
	for (;;) {
		buf[n] = 0;
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
			if (want > cap - 1)
				return 0;
		}
		if (end && n >= want)
			break;
		if (n >= cap - 1)
			return 0;
		int k = lb_read_some(p, buf + n, cap - 1 - n);
		if (k <= 0)
			return 0;
		n += (size_t)k;
	}
	if (n > want) { /* pipelined: keep for the next call */
		p->nextra = n - want < sizeof p->extra ? n - want : sizeof p->extra;
		memcpy(p->extra, buf + want, p->nextra);
		n = want;
	}
	buf[n] = 0;
	{
		int k = LB_ADD(&p->sh->nlog, 1) - 1;
		char *eol = strstr(buf, "\r\n");
		size_t ll = eol ? (size_t)(eol - buf) : 0;
		if (k < LB_LOG_MAX) {
			if (ll >= LB_LINE_MAX)
				ll = LB_LINE_MAX - 1;
			memcpy(p->sh->log[k], buf, ll);
			p->sh->log[k][ll] = 0;
			p->sh->log_ms[k] = pz_now_ms();
		}
		p->sh->body_len = want - (size_t)(end + 4 - buf);
		if (p->sh->body_len >= LB_BODY_MAX)
			p->sh->body_len = LB_BODY_MAX - 1;
		memcpy(p->sh->body, end + 4, p->sh->body_len);
		p->sh->body[p->sh->body_len] = 0;
		ll = (size_t)(end + 4 - buf) < LB_BODY_MAX - 1 ? (size_t)(end + 4 - buf) : LB_BODY_MAX - 1;
		memcpy(p->sh->head, buf, ll);
		p->sh->head[ll] = 0;
		LB_ADD(&p->sh->requests, 1);
	}
	return (int)n;
}

/* Ends the connection with an RST (SO_LINGER 0): a cut, not an end. */
static inline void lb_reset(struct lb_peer *p)
{
	struct linger lg = { 1, 0 };
	setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(p->fd);
	p->fd = -1;
}

/* Ends the connection cleanly (TLS: close_notify, then FIN). */
static inline void lb_end(struct lb_peer *p)
{
	if (p->tls)
		br_sslio_close(&p->io);
	close(p->fd);
	p->fd = -1;
}

/* Blocks until the client closes its side (or the test kills the server). */
static inline void lb_hold(struct lb_peer *p)
{
	char b[256];
	while (read(p->fd, b, sizeof b) > 0)
		;
}

/* ---- the server ---- */

typedef void (*lb_handler)(struct lb_peer *p, void *arg);

struct lb_server {
	pid_t pid;
	int port;
	struct lb_shared *sh;
};

static inline struct lb_shared *lb_shared_new(void)
{
	struct lb_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		abort();
	}
	memset(sh, 0, sizeof *sh);
	return sh;
}

static inline void lb_run_peer(int fd, int tls, struct lb_shared *sh, lb_handler h, void *arg)
{
	static struct lb_peer peer; /* ~33 KiB with the engine: not on the stack */
	int one = 1;
	memset(&peer, 0, sizeof peer);
	peer.fd = fd;
	peer.sh = sh;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (!tls || lb_tls_accept(&peer) == 0)
		h(&peer, arg);
	if (peer.fd >= 0)
		close(peer.fd);
	LB_ADD(&sh->closed, 1);
}

/* Forks the server. concurrent: each connection in a process of its own; else one after another.
 * The TLS material is made before the fork, so every process shares it. */
static inline void lb_start(struct lb_server *s, int tls, int concurrent, lb_handler h, void *arg)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int lfd, one = 1;
	pid_t parent = getpid();

	if (tls && lb_tls_init() < 0) {
		check_failed++;
		fprintf(stderr, "loopback.h: a TLS server was asked for and cannot be made\n");
	}
	if (!s->sh)
		s->sh = lb_shared_new();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("loopback listen");
		abort();
	}
	s->port = ntohs(sa.sin_port);
	fflush(stdout);
	fflush(stderr);
	s->pid = fork();
	if (s->pid < 0) {
		perror("fork");
		abort();
	}
	if (s->pid > 0) {
		close(lfd);
		return;
	}
	/* the server: dies with the test that started it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	signal(SIGPIPE, SIG_IGN);
	if (concurrent)
		signal(SIGCHLD, SIG_IGN); /* handlers reap themselves */
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			_exit(0);
		}
		LB_ADD(&s->sh->accepts, 1);
		if (!concurrent) {
			lb_run_peer(fd, tls, s->sh, h, arg);
			continue;
		}
		pid_t server = getpid(), c = fork();
		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != server)
				_exit(0);
			close(lfd);
			lb_run_peer(fd, tls, s->sh, h, arg);
			_exit(0);
		}
		close(fd);
	}
}

/* Stops the server it started (its handlers die with it: PR_SET_PDEATHSIG). */
static inline void lb_stop(struct lb_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static inline void lb_free(struct lb_server *s)
{
	lb_stop(s);
	if (s->sh)
		munmap(s->sh, sizeof *s->sh);
	s->sh = NULL;
}

/* Request line k as the server saw it ("" when there is none). */
static inline const char *lb_line(const struct lb_server *s, int k)
{
	return k >= 0 && k < LB_GET(&s->sh->nlog) && k < LB_LOG_MAX ? s->sh->log[k] : "";
}

/* How many request lines contain `what`. */
static inline int lb_count(const struct lb_server *s, const char *what)
{
	int n = 0, total = LB_GET(&s->sh->nlog);
	for (int k = 0; k < total && k < LB_LOG_MAX; k++)
		n += strstr(s->sh->log[k], what) != NULL;
	return n;
}

/* Waits (bounded) until *p reaches v: for a handler's signal. Returns 1 when it did. */
static inline int lb_wait(int *p, int v, int ms)
{
	int64_t end = pz_now_ms() + ms;
	while (LB_GET(p) < v) {
		if (pz_now_ms() > end)
			return 0;
		poll(NULL, 0, 1);
	}
	return 1;
}

/* ---- the client side ---- */

/* A kube_api aimed at the server (plain or TLS, the name checked is 127.0.0.1). */
static inline void lb_api(struct kube_api *api, const struct lb_server *s, int tls)
{
	memset(api, 0, sizeof *api);
	snprintf(api->target.host, sizeof api->target.host, "127.0.0.1");
	snprintf(api->target.port, sizeof api->target.port, "%d", s->port);
	api->target.use_tls = tls;
	if (tls) {
		tls_name_set(&api->target.name, "127.0.0.1");
		api->target.creds = &lb_ca;
	}
	snprintf(api->host_header, sizeof api->host_header, "127.0.0.1:%d", s->port);
	if (kube_api_resolve(api) != 0) {
		fprintf(stderr, "loopback.h: kube_api_resolve failed\n");
		abort();
	}
}

/* Open file descriptors of this process (a leak shows as a count that grows). */
static inline int lb_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* A call timed: wall milliseconds, and whether the process waited in the kernel (a voluntary
 * context switch: sleeping in poll/recv/connect) or was only preempted by a loaded machine. */
struct lb_timer {
	int64_t t0;
	long nvcsw, nivcsw;
};

static inline void lb_timer_start(struct lb_timer *t)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	t->nvcsw = ru.ru_nvcsw;
	t->nivcsw = ru.ru_nivcsw;
	t->t0 = pz_now_ms();
}

/* 1 when the call since lb_timer_start returned promptly: it never slept in the kernel, and it took
 * under 50 ms of wall time unless the scheduler preempted it (a shared 2-core machine can take a
 * process off the CPU for longer than that; sleeping is what a blocking call would do). */
static inline int lb_timer_prompt(const struct lb_timer *t, int64_t *ms)
{
	struct rusage ru;
	int64_t el = pz_now_ms() - t->t0;
	getrusage(RUSAGE_SELF, &ru);
	if (ms)
		*ms = el;
	if (ru.ru_nvcsw != t->nvcsw)
		return 0;
	return el < 50 || ru.ru_nivcsw != t->nivcsw;
}

/* run() from harness.h, with the test's wall time on stderr when it took over a second (the whole
 * unit suite has a time budget). */
#define LB_RUN(name, fn) do { \
	int64_t t0_ = pz_now_ms(); \
	run(name, fn); \
	if (pz_now_ms() - t0_ > (getenv("LB_TIMES") ? 0 : 1000)) \
		fprintf(stderr, "  (%s: %lld ms)\n", name, (long long)(pz_now_ms() - t0_)); \
} while (0)

/* A complete JSON answer with Content-Length, as the API server sends small ones. */
static inline void lb_answer(struct lb_peer *p, int status, const char *body)
{
	char h[256];
	snprintf(h, sizeof h, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", status,
		strlen(body));
	lb_puts(p, h);
	lb_puts(p, body);
}

#endif
