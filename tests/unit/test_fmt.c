/*
 * test_fmt.c - pz_snprintf (src/fmt.h) against glibc's snprintf, the reference for C's contract.
 *
 * Every case runs with caps 0, 1, 2, one short, exact, one over and roomy, into a buffer whose last
 * byte is the last before a PROT_NONE page (a write past cap faults) and after 16 marker bytes (a
 * write before buf shows). Return value and stored bytes must equal glibc's for the same cap.
 * Then: every format the tree uses, verbatim; %s that must not read past its precision; and each
 * unsupported conversion, which must end the process in PZ_BUG rather than print something.
 */
#include "check.h"
#include "harness.h"
#include "fmt.h"
#include "log.h"
#include "pz.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_MAX 4096 /* the longest case is a 1000-wide field; room to spare */
#define MARK 16
#define CAPS 8

static struct guard gd;
static char want[OUT_MAX], ref[OUT_MAX + MARK];
static int cases;

/* The caps each case is tried with, from the length n of its whole output. */
static void caps_for(int n, size_t caps[CAPS])
{
	size_t u = (size_t)n;
	size_t c[CAPS] = { 0, 1, 2, u ? u - 1 : 0, u, u + 1, u + 2, OUT_MAX };
	memcpy(caps, c, sizeof c);
}

/* Where a cap-byte buffer starts so that it ends at the guard page; MARK bytes before it marked. */
static char *slot(size_t cap)
{
	char *b = gd.end - cap;
	memset(b - MARK, 0xA5, cap + MARK);
	return b;
}

/* One run at one cap: got/gn from pz_snprintf into b, refn from glibc into ref (same cap). */
static int same(int line, const char *b, size_t cap, int gn, int refn, int wn)
{
	size_t keep = cap ? ((size_t)wn < cap - 1 ? (size_t)wn : cap - 1) : 0;
	int ok = gn == wn && refn == wn;

	for (int i = 0; i < MARK; i++)
		ok &= (unsigned char)b[i - MARK] == 0xA5;
	if (cap) {
		ok &= memcmp(b, want, keep) == 0 && b[keep] == '\0';
		ok &= memcmp(b, ref, keep + 1) == 0;
	}
	if (!ok)
		fprintf(stderr, "line %d, cap %zu: pz_snprintf returned %d \"%.*s\", glibc %d \"%s\"\n", line, cap,
			gn, (int)keep, cap ? b : "", wn, want);
	return ok;
}

/* The same calls without a format attribute, for the few well-defined formats -Wformat frowns on
 * ('0' with '-', '0' with a precision). */
static int lib_u(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

static int pz_u(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = pz_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* T(fmt, args...): the case at every cap; one CHECK per case. TU: the same, unchecked. */
#define T(...) T_(snprintf, pz_snprintf, __VA_ARGS__)
#define TU(...) T_(lib_u, pz_u, __VA_ARGS__)
#define T_(lib, ours, ...) do { \
	int wn_ = lib(want, sizeof want, __VA_ARGS__), ok_ = wn_ >= 0 && wn_ < OUT_MAX; \
	size_t caps_[CAPS]; \
	caps_for(wn_, caps_); \
	for (int i_ = 0; ok_ && i_ < CAPS; i_++) { \
		size_t c_ = caps_[i_]; \
		char *b_ = slot(c_); \
		int gn_ = ours(c_ ? b_ : NULL, c_, __VA_ARGS__); \
		memset(ref, 0xA5, sizeof ref); \
		int rn_ = lib(c_ ? ref : NULL, c_, __VA_ARGS__); \
		ok_ &= same(__LINE__, b_, c_, gn_, rn_, wn_); \
	} \
	cases++; \
	CHECK(ok_); \
} while (0)

static void test_text(void)
{
	T("plain text");
	T("%%");
	T("a%%b%%%%c");
	T("100%% sure, %s%%", "50");
	T("%s", "");
	T("\r\n");
	T("tab\there and a long line that goes on for a while to pass the small caps by a fair margin");
}

static void test_strings(void)
{
	const char *long_s = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";
	T("%s", "x");
	T("[%s]", "hello");
	T("[%10s]", "hello");
	T("[%-10s]", "hello");
	T("[%3s]", "hello");
	T("[%-3s]", "hello");
	T("[%.0s]", "hello");
	T("[%.3s]", "hello");
	T("[%.10s]", "hello");
	T("[%8.3s]", "hello");
	T("[%-8.3s]", "hello");
	T("[%.*s]", 2, "hello");
	T("[%.*s]", 0, "hello");
	T("[%.*s]", -1, "hello"); /* negative: as if no precision */
	T("[%*s]", 7, "ab");
	T("[%*s]", -7, "ab");    /* negative width: left-justified */
	T("[%-*s]", 7, "ab");
	T("[%*.*s]", 6, 2, "hello");
	T("[%*.*s]", -6, 2, "hello");
	T("[%s%s%s]", "", "", "");
	T("[%10s]", "");
	T("[%-10s|%10s]", "", "");
	T("%s", long_s);
	T("%.300s", long_s);
	T("%1000s", "w");
	T("%-1000s|", "w");
	T("%s and %s and %s", long_s, long_s, long_s);
	T("%s", "utf-8: \xc3\xa9\xe2\x82\xac");
}

static void test_chars(void)
{
	T("%c", 'a');
	T("[%c%c%c]", 'x', 'y', 'z');
	T("[%5c]", 'q');
	T("[%-5c]", 'q');
	T("[%*c]", -4, 'q');
	T("[%c]", 0); /* a NUL byte inside the output: counted and stored like any other */
	T("%c", 0xe9);
	T("%c", 300); /* converted to unsigned char, as C says */
}

static void test_int(void)
{
	T("%d", 0);
	T("%d", 1);
	T("%d", -1);
	T("%d", 42);
	T("%i", -42);
	T("%d", INT_MAX);
	T("%d", INT_MIN);
	T("%i", INT_MIN);
	T("[%5d]", -42);
	T("[%-5d]", -42);
	T("[%05d]", -42);
	T("[%05d]", 42);
	TU("[%-05d]", 42);   /* '-' wins over '0' */
	TU("[%0-5d]", -42);
	T("[%5.3d]", -7);
	T("[%-6.3d]", 7);
	TU("[%08.3d]", -7);  /* a precision turns '0' off */
	T("[%.0d]", 0);     /* precision 0, value 0: no digits */
	T("[%5.0d]", 0);
	T("[%.0d]", 3);
	T("[%.1d]", 0);
	T("[%.10d]", INT_MIN);
	T("[%012d]", INT_MIN);
	T("[%2d]", INT_MIN);
	T("[%0d]", 5);
	T("[%01d]", 0);
	T("[%05d]", 0);
	T("[%*d]", 6, -3);
	T("[%*d]", -6, -3);
	T("[%0*d]", 6, -3);
	T("[%.*d]", 4, 3);
	T("[%.*d]", -4, 3);
	TU("[%0*.*d]", 8, -1, -3); /* negative precision: '0' stays on */
	T("[%*d]", 0, 9);
	T("%04d", 2026);
	T("%04d", 10000);
	T("%04d", -1);
	T("%02d", 7);
	T("%02d", 59);
	T("%02d", 123);
	T("%1000d", -1);
	T("%-1000d|", -1);
	T("%01000d", -1);
	T("%.1000d", 7);
	T("%u", 0u);
	T("%u", 1u);
	T("%u", UINT_MAX);
	T("[%10u]", 12345u);
	T("[%-10u]", 12345u);
	T("[%010u]", 12345u);
	T("[%.7u]", 12345u);
	T("[%.0u]", 0u);
	T("%x", 0u);
	T("%x", 255u);
	T("%X", 255u);
	T("%x", UINT_MAX);
	T("%X", 0xdeadbeefu);
	T("%08x", 0xbeefu);
	T("%08x", 0u);
	T("%08X", 0x12345678u);
	T("%08x", 0x80000000u);
	T("[%-8x]", 0xabu);
	T("[%.4x]", 0xabu);
	T("[%.0x]", 0u);
}

static void test_long(void)
{
	T("%ld", 0L);
	T("%ld", LONG_MAX);
	T("%ld", LONG_MIN);
	T("%li", LONG_MIN);
	T("%06ld", 0L);
	T("%06ld", 123L);
	T("%06ld", 999999L);
	T("%06ld", 1234567L);
	T("%06ld", -12L);
	T("[%-20ld]", LONG_MIN);
	T("[%25ld]", LONG_MIN);
	T("[%025ld]", LONG_MIN);
	T("[%.25ld]", LONG_MIN);
	T("%lu", 0UL);
	T("%lu", ULONG_MAX);
	T("%lx", ULONG_MAX);
	T("%lX", 0xfeedfacecafeUL);
	T("%lld", 0LL);
	T("%lld", -1LL);
	T("%lld", LLONG_MAX);
	T("%lld", LLONG_MIN);
	T("%lli", LLONG_MIN);
	T("%lld", (long long)INT64_MIN);
	T("%lld", (long long)INT64_MAX);
	T("%lld", (long long)INT_MIN - 1);
	T("%lld", (long long)UINT_MAX + 1);
	T("[%30lld]", LLONG_MIN);
	T("[%-30lld]", LLONG_MIN);
	T("[%030lld]", LLONG_MIN);
	T("[%.22lld]", -5LL);
	T("%llu", 0ULL);
	T("%llu", ULLONG_MAX);
	T("%llu", (unsigned long long)UINT64_MAX);
	T("%llx", ULLONG_MAX);
	T("%llX", 0x0123456789abcdefULL);
	T("[%020llu]", 5ULL);
	T("%zu", (size_t)0);
	T("%zu", (size_t)4096);
	T("%zu", SIZE_MAX);
	T("%zx", SIZE_MAX);
	T("%zX", (size_t)0xabcdef);
	T("[%10zu]", (size_t)77);
	T("[%-10zu]", (size_t)77);
	T("[%010zu]", (size_t)77);
	T("%zd", (ssize_t)-5);
	T("%zd", (ssize_t)(SIZE_MAX / 2));
	T("%zi", (ssize_t)-(ssize_t)(SIZE_MAX / 2) - 1);
}

/* The formats of the src/ modules, as they are written there, with values like the ones they get. */
static void test_tree_formats(void)
{
	T("%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", 2026, 1, 9, 3, 4, 5, 12L);
	T("%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", 9999, 12, 31, 23, 59, 59, 999999L);
	T("%04d-%02d-%02dT%02d:%02dZ", 1970, 1, 1, 0, 0);
	T("%s_%08x", "controller-7f9c-abcde", 0x1a2bu);
	T("%s_%08x", "h", 0xffffffffu);
	T("%.*s/%s", 9, "/etc/kube/config", "ca.crt");
	T("%.*s/%s", 0, "", "ca.crt");
	T("exec plugin %.60s: %.180s", "/usr/local/bin/a-very-long-plugin-name-that-keeps-going-and-going-on",
		"why it failed");
	T("token file %.300s: %s", "/var/run/secrets/token", "No such file or directory");
	T("the plugin's token is longer than %s%ld bytes", "", 8191L);
	T("exec plugin %s: exited with status %ld", "gke-gcloud-auth-plugin", -1L);
	T("spec.toppings has %u entries, at most %d are allowed", 11u, 10);
	T("spec.toppings[%u] repeats spec.toppings[%u]", 3u, 1u);
	T("a %s pizza holds at most %u toppings, this order has %u", "small", 3u, 7u);
	T("baking a %s pizza with %u topping%s", "large", 1u, "");
	T("replacing the oven Pod for generation %lld", 9223372036854775807LL);
	T("%s failed: HTTP %d%s%s", "status patch", 422, ": ", "Unprocessable");
	T("Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", "application/json", (size_t)1234);
	T("an object of %zu bytes exceeds --max-object-bytes=%zu ", (size_t)2000000, (size_t)1048576);
	T("%s?limit=%d%s%s%s%s", "/api/v1/pods", 500, "&continue=", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", "", "");
	T("%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d%s%s", "/api/v1/pods", "123",
		290, "&labelSelector=", "a%3Db");
	T("%s://%s%s%s:%s%s", "https", "[", "::1", "]", "6443", "/");
	T("%d %s\n", 404, "Not Found");
	T("pizza_orders_total %llu\npizza_watch_restarts_total{resource=\"%s\"} %llu\n", 12ULL, "pods", 0ULL);
}

/* %s with a precision reads at most that many bytes: "abc" without a NUL, right before the guard. */
static void test_no_overread(void)
{
	struct guard g2;
	char out[8];

	guard_init(&g2, 16);
	const char *s = guard_put(&g2, "abc", 3);
	CHECK_EQ_INT(pz_snprintf(out, sizeof out, "%.3s", s), 3);
	CHECK_EQ_STR(out, "abc");
	CHECK_EQ_INT(pz_snprintf(out, sizeof out, "[%.*s]", 2, s), 4);
	CHECK_EQ_STR(out, "[ab]");
	CHECK_EQ_INT(pz_snprintf(out, sizeof out, "%-6.3s|", s), 7);
	CHECK_EQ_STR(out, "abc   |");
	guard_free(&g2);
}

/* pz_vsnprintf straight, with a va_list used once (the way log.c and config.c call it). */
static int vcall(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = pz_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

static void test_vsnprintf(void)
{
	char out[32];

	CHECK_EQ_INT(vcall(out, sizeof out, "%s=%d %llu", "k", -3, 18446744073709551615ULL), 25);
	CHECK_EQ_STR(out, "k=-3 18446744073709551615");
	/* an empty format (vcall has no format attribute: -Wformat-zero-length would refuse "" in T) */
	memset(out, 'x', sizeof out);
	CHECK_EQ_INT(vcall(out, sizeof out, ""), 0);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(vcall(NULL, 0, "%s", "counted, never stored"), 21);
	/* the return is the whole length even when nothing fits */
	CHECK_EQ_INT(vcall(out, 1, "%1000d", 1), 1000);
	CHECK_EQ_STR(out, "");
}

/* ---- the bug trap ---- */

/* Runs pz_vsnprintf(fmt, ...) in a child: 1 when it ended in the trap (SIGABRT, with PZ_BUG's log
 * line naming pz_snprintf), 0 when it returned normally, -1 (and why, on stderr) otherwise. The format goes through vcall, which has no format
 * attribute: most of these are what -Wformat already refuses at a real call site. */
static int traps(const char *fmt, ...)
{
	int fd[2], st = 0;
	char log[1024];
	ssize_t got = 0, r;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(fd) != 0 || (pid = fork()) < 0)
		return 0;
	if (pid == 0) {
		char out[64];
		va_list ap;

		close(fd[0]);
		signal(SIGABRT, SIG_DFL);
		log_fd = fd[1];
		va_start(ap, fmt);
		pz_vsnprintf(out, sizeof out, fmt, ap);
		va_end(ap);
		_exit(0);
	}
	close(fd[1]);
	while (got < (ssize_t)sizeof log - 1 && (r = read(fd[0], log + got, sizeof log - 1 - (size_t)got)) > 0)
		got += r;
	log[got] = '\0';
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(log, "internal bug") && strstr(log, "pz_snprintf"))
		return 1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !got)
		return 0;
	fprintf(stderr, "format \"%s\": neither the trap nor a clean return (status %#x, log \"%s\")\n", fmt, st, log);
	return -1;
}

static void test_traps(void)
{
	int x = 0;

	/* the harness itself: a supported format returns cleanly and is not taken for a trap */
	CHECK(traps("%d %s", 1, "ok") == 0);
	CHECK(1 == traps("%f", 1.5));
	CHECK(1 == traps("%.3f", 1.5));
	CHECK(1 == traps("%e", 1.5));
	CHECK(1 == traps("%g", 1.5));
	CHECK(1 == traps("%a", 1.5));
	CHECK(1 == traps("%Lf", 1.5L));
	CHECK(1 == traps("%p", (void *)&x));
	CHECK(1 == traps("%n", &x));
	CHECK(1 == traps("%o", 8u));
	CHECK(1 == traps("%hd", 1));
	CHECK(1 == traps("%hhu", 1));
	CHECK(1 == traps("%jd", (intmax_t)1));
	CHECK(1 == traps("%td", (ptrdiff_t)1));
	CHECK(1 == traps("%qd", 1LL));
	CHECK(1 == traps("%+d", 1));
	CHECK(1 == traps("% d", 1));
	CHECK(1 == traps("%#x", 1u));
	CHECK(1 == traps("%'d", 1000));
	CHECK(1 == traps("%05s", "s"));
	CHECK(1 == traps("%0c", 'c'));
	CHECK(1 == traps("%.2c", 'c'));
	CHECK(1 == traps("%ls", L"w"));
	CHECK(1 == traps("%lc", 'w'));
	CHECK(1 == traps("%zs", "s"));
	CHECK(1 == traps("%lld%llld", 1LL, 1LL));
	CHECK(1 == traps("%lzu", (size_t)1));
	CHECK(1 == traps("%5%"));
	CHECK(1 == traps("%-%"));
	CHECK(1 == traps("%m"));
	CHECK(1 == traps("%S", L"w"));
	CHECK(1 == traps("%C", 'w'));
	CHECK(1 == traps("%1$d", 1));
	CHECK(1 == traps("ends in %"));
	CHECK(1 == traps("%s", (char *)NULL));
	CHECK(1 == traps("%.1s", (char *)NULL));
	CHECK(1 == traps("%2147483648d", 1));
	CHECK(1 == traps("%.99999999999d", 1));
	CHECK(1 == traps("%*d", INT_MIN, 1));
	/* C's snprintf fails with EOVERFLOW here; INT_MAX itself is a valid width */
	CHECK(1 == traps("%2147483647d%2147483647d", 1, 2));
	CHECK(traps("%2147483647d", 1) == 0);
	CHECK(1 == traps("ok %d then %f", 1, 2.0)); /* a bad conversion after good ones */
}

static void test_all_cases(void)
{
	guard_init(&gd, OUT_MAX + MARK);
	test_text();
	test_strings();
	test_chars();
	test_int();
	test_long();
	test_tree_formats();
	guard_free(&gd);
	CHECK(cases > 150);
}

int main(void)
{
	run("against glibc at every cap", test_all_cases);
	run("%s reads no further than its precision", test_no_overread);
	run("pz_vsnprintf", test_vsnprintf);
	run("unsupported conversions trap", test_traps);
	return check_done("fmt");
}
