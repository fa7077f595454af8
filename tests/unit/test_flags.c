/*
 * test_flags.c - Go-style durations and flag names (src/flags.h), against values Go's
 * time.ParseDuration and flag package give for the same text.
 */
#include "check.h"
#include "flags.h"
#include "pz.h"

#include <stdint.h>
#include <stdio.h>

static void ok(const char *s, int64_t want_ms)
{
	int64_t ms = -12345;
	int rc = flags_duration(s, &ms);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(ms, want_ms);
	if (rc != 0 || ms != want_ms)
		fprintf(stderr, "  duration \"%s\"\n", s);
}

static void bad(const char *s)
{
	int64_t ms = -12345;
	int rc = flags_duration(s, &ms);
	CHECK_EQ_INT(rc, PZ_ECONFIG);
	CHECK_EQ_INT(ms, -12345); /* untouched on failure */
	if (rc != PZ_ECONFIG)
		fprintf(stderr, "  duration \"%s\" accepted\n", s);
}

int main(void)
{
	ok("0", 0);
	ok("+0", 0);
	ok("0s", 0);
	ok("0.0h", 0);
	ok("300ms", 300);
	ok("15.5s", 15500);
	ok("1m30s", 90000);
	ok("1h2m3.5s", 3723500);
	ok("1.5h", 5400000);
	ok(".5s", 500);
	ok("1.s", 1000);
	ok("+5s", 5000);
	ok("2h45m", 9900000);
	ok("1000000us", 1000);
	ok("1000000\xc2\xb5s", 1000);  /* U+00B5 */
	ok("1000000\xce\xbcs", 1000);  /* U+03BC */
	ok("1500000000ns", 1500);
	ok("1ns", 1);                  /* rounded up: never 0 for a non-zero duration */
	ok("1.000001ms", 2);
	ok("999us", 1);
	ok("0.1ns", 0);                /* below a nanosecond: dropped, as in Go */
	ok("1.0000000000000000000001s", 1000);
	ok("3m0.25s", 180250);
	ok("1h1h", 7200000);
	ok("2562047h47m16.854775807s", 9223372036855); /* Go's maximum, 2^63-1 ns */
	ok("9223372036854775807ns", 9223372036855);
	bad("");
	bad("-1s");
	bad("-0");
	bad("1");
	bad("10");
	bad("s");
	bad(".s");
	bad(".");
	bad("1.2.3s");
	bad("1x");
	bad("1 s");
	bad(" 1s");
	bad("1s ");
	bad("1sec");
	bad("1S");
	bad("1d");
	bad("2562047h47m16.854775808s");
	bad("9223372036854775808ns");
	bad("2562048h");
	bad("99999999999999999999s");
	bad("1h-1m");
	bad("+");
	bad("++1s");

	CHECK_EQ_STR(flags_name("-kubeconfig"), "kubeconfig");
	CHECK_EQ_STR(flags_name("--kubeconfig"), "kubeconfig");
	CHECK_EQ_STR(flags_name("-kubeconfig=/x"), "kubeconfig=/x");
	CHECK_EQ_STR(flags_name("--leader-elect=true"), "leader-elect=true");
	CHECK_EQ_STR(flags_name("-v"), "v");
	CHECK(flags_name("kubeconfig") == NULL);
	CHECK(flags_name("-") == NULL);
	CHECK(flags_name("--") == NULL);
	CHECK(flags_name("---x") == NULL);
	CHECK(flags_name("-=x") == NULL);
	CHECK(flags_name("--=x") == NULL);
	CHECK(flags_name("") == NULL);
	CHECK(flags_name(NULL) == NULL);
	return check_done("flags");
}
