/* harness.h - what the unit tests share beyond check.h: a child process per test, recorded data read
 * from tests/data, inputs placed right before a PROT_NONE page, a plain reference de-chunker and
 * base64. Include it after check.h; every function is static inline so that a test that uses only a
 * few of them still builds without warnings.
 *
 * These are test tools: they malloc, abort on a broken set-up, and favour the obvious over the fast. */
#ifndef HARNESS_H
#define HARNESS_H
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* ---- isolation ---- */

/* Runs fn in a child; its counts come back through a pipe. A crash (guard page, ASan, UBSan) is one
 * failure, and the tests after it still run. PZ_TEST_NOFORK=1 runs inline, for a debugger. */
static inline void run(const char *name, void (*fn)(void))
{
	int fd[2], st = 0, counts[2] = { 0, 0 };
	ssize_t got;
	pid_t pid;

	if (getenv("PZ_TEST_NOFORK")) {
		fn();
		return;
	}
	fflush(stdout);
	fflush(stderr);
	if (pipe(fd) < 0 || (pid = fork()) < 0) {
		perror(name);
		check_failed++;
		return;
	}
	if (pid == 0) {
		close(fd[0]);
		check_passed = check_failed = 0;
		fn();
#if defined(__SANITIZE_ADDRESS__)
		__lsan_do_leak_check();
#endif
		counts[0] = check_passed;
		counts[1] = check_failed;
		if (write(fd[1], counts, sizeof counts) != (ssize_t)sizeof counts)
			_exit(3);
		_exit(0);
	}
	close(fd[1]);
	got = read(fd[0], counts, sizeof counts);
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (got != (ssize_t)sizeof counts || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		check_failed++;
		fprintf(stderr, "%s: CRASHED (%s %d)\n", name, WIFSIGNALED(st) ? "signal" : "exit status",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return;
	}
	check_passed += counts[0];
	check_failed += counts[1];
}

/* ---- recorded data ---- */

/* Reads tests/data/<name> (or $PZ_TEST_DATA/<name>; name may hold a folder, "tls/ca.pem") into a
 * malloc'd, NUL-terminated buffer of exactly len + 1 bytes, so ASan sees a read past the NUL. The
 * caller frees it. NULL (and *len = 0) when the file cannot be read. */
static inline char *data_load(const char *name, size_t *len)
{
	const char *dir = getenv("PZ_TEST_DATA");
	char path[512];
	FILE *f;
	char *buf = NULL;
	long n;

	*len = 0;
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/data", name);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s (run from the repository root or set PZ_TEST_DATA)\n", path);
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

/* tests/data/tls/<name> (a fixture made by tests/data/tls/gen.sh) as data_load reads it, except that
 * a file that cannot be read comes back as an empty string, not NULL: test_tls and test_config run
 * in one process, so the checks on it fail and the tests after it still run. The caller frees it. */
static inline char *data_tls(const char *name, size_t *len)
{
	char path[256], *b;

	snprintf(path, sizeof path, "tls/%s", name);
	b = data_load(path, len);
	return b ? b : calloc(1, 1);
}

/* The body of a recorded response the slow, obvious way (the files use CRLF and plain hex sizes),
 * into out[0..cap); *head_len gets the length of the head with its blank line. Returns the body
 * length, or -1 when the file is not what the recorder produced or the body does not fit. */
static inline long ref_body(const char *in, size_t len, char *out, size_t cap, size_t *head_len)
{
	const char *end = in + len, *p = memmem(in, len, "\r\n\r\n", 4);
	size_t n = 0;

	if (!p)
		return -1;
	p += 4;
	*head_len = (size_t)(p - in);
	if (!memmem(in, *head_len, "\r\nTransfer-Encoding: chunked\r\n", 30)) {
		if ((size_t)(end - p) > cap)
			return -1;
		memcpy(out, p, (size_t)(end - p));
		return end - p;
	}
	for (;;) {
		char *e;
		unsigned long sz = strtoul(p, &e, 16);
		if (e == p || end - e < 2 || memcmp(e, "\r\n", 2) != 0)
			return -1;
		p = e + 2;
		if (sz == 0)
			break;
		if (sz > (size_t)(end - p) || n + sz > cap)
			return -1;
		memcpy(out + n, p, sz);
		n += sz;
		p += sz;
		if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
			return -1;
		p += 2;
	}
	return end - p == 2 && memcmp(p, "\r\n", 2) == 0 ? (long)n : -1;
}

/* The de-chunked body of tests/data/<name> in a malloc'd, NUL-terminated buffer (as long as the
 * whole file, head included), which the caller frees. NULL when it cannot be read or is not a
 * response the recorder wrote. */
static inline char *load_body(const char *name, size_t *blen)
{
	size_t len = 0, head_len = 0;
	char *raw = data_load(name, &len), *out = NULL;
	long n;

	if (!raw)
		return NULL;
	out = malloc(len + 1);
	if (!out || (n = ref_body(raw, len, out, len, &head_len)) < 0) {
		fprintf(stderr, "%s: not a response the recorder wrote\n", name);
		free(raw);
		free(out);
		return NULL;
	}
	free(raw);
	out[n] = 0;
	*blen = (size_t)n;
	return out;
}

/* ---- guard pages ---- */

/* A readable, writable region whose first byte past `end` is a PROT_NONE page. */
struct guard {
	char *map;
	size_t maplen;
	char *end;
};

/* Room for cap bytes before the guard (at least one page, so that end - 1 is always writable). */
static inline void guard_init(struct guard *g, size_t cap)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), data = (cap + pg - 1) / pg * pg;

	if (data == 0)
		data = pg;
	g->maplen = data + pg;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED || mprotect(g->map + data, pg, PROT_NONE) != 0) {
		perror("guard page");
		abort();
	}
	g->end = g->map + data;
}

static inline void guard_free(struct guard *g) { munmap(g->map, g->maplen); }

/* Copies src so that its last byte is the last readable one; returns where it starts. */
static inline const char *guard_put(struct guard *g, const void *src, size_t len)
{
	memcpy(g->end - len, src, len);
	return g->end - len;
}

/* ---- base64 ---- */

/* Standard base64 with padding of in[0..n) into out, NUL-terminated; out needs 4 * ((n + 2) / 3) + 1
 * bytes. Returns the length written, NUL excluded. */
static inline size_t b64(const unsigned char *in, size_t n, char *out)
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
#endif
