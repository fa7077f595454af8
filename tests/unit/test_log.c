/*
 * test_log.c - the log writer (src/log.h): exact bytes for each escape and each field kind, both
 * formats; every line read back by an independent strict reader (tests/fuzz/logparse.h) with the
 * values it was given; hostile values (quotes, backslashes, CR/LF, control bytes, ill-formed UTF-8,
 * a forged-line API message); a cut at every position near LOG_LINE_MAX; the timestamp against
 * glibc's gmtime_r; aliasing (a value buffer reused between calls); pz_bug's last line; the
 * deprecated log_line (delete its test with it); and the lines cross-checked with
 * tests/logcheck.py (python3), which must also refuse a forged one.
 *
 * Lines go to a memfd (log_fd), read back after each log_end. Each test runs in a child process.
 */
#include "check.h"
#include "harness.h"
#include "../fuzz/logparse.h"
#include "log.h"
#include "pz.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INJECTED "x\" \nts=1999-01-01 level=error msg=INJECTED"

static int out_fd = -1;
static char out[LP_LINE_MAX * 2];
static size_t out_len;
static struct lp_record rec;

static void capture_reset(void)
{
	if (out_fd < 0)
		out_fd = memfd_create("log", 0);
	if (out_fd < 0 || ftruncate(out_fd, 0) < 0 || lseek(out_fd, 0, SEEK_SET) != 0) {
		perror("memfd");
		abort();
	}
	log_fd = out_fd;
}

/* What was written since capture_reset, NUL-terminated in out. */
static const char *captured(void)
{
	ssize_t n = pread(out_fd, out, sizeof out - 1, 0);
	out_len = n > 0 ? (size_t)n : 0;
	out[out_len] = '\0';
	return out;
}

/* The line after its ts field ("level=..." / "\"level\":..."), so exact bytes can be compared. */
static const char *after_ts(int json)
{
	const char *p = captured();
	p = strchr(p, json ? ',' : ' ');
	return p ? p + 1 : "(no ts)";
}

/* Reads the captured output back as one line of the given format; prints the line on failure. */
static int parse_back(int json)
{
	int rc;

	captured();
	rc = lp_parse(out, out_len, json, &rec);
	if (rc < 0 || !lp_ts_ok(&rec, json)) {
		fprintf(stderr, "unreadable %s line (%s): %s\n", json ? "JSON" : "logfmt", lp_why(rc), out);
		return 0;
	}
	return 1;
}

static void set_format(int json)
{
	log_format = json ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT;
	log_min_level = LOG_DEBUG;
	capture_reset();
}

/* ---- the timestamp ---- */

static void test_ts_known(void)
{
	static const struct { int64_t ms; const char *logfmt, *json; } c[] = {
		{ 0, "1970-01-01T00:00:00.000Z", "0.000" },
		{ 1, "1970-01-01T00:00:00.001Z", "0.001" },
		{ 1795996800000, "2026-11-30T00:00:00.000Z", "1795996800.000" },
		{ 951825599999, "2000-02-29T11:59:59.999Z", "951825599.999" },
		{ 4107542399999, "2100-02-28T23:59:59.999Z", "4107542399.999" },
		{ 4107542400000, "2100-03-01T00:00:00.000Z", "4107542400.000" },
		{ -1, "1970-01-01T00:00:00.000Z", "0.000" },                 /* clamped */
		{ INT64_MIN, "1970-01-01T00:00:00.000Z", "0.000" },
		{ 253402300799999, "9999-12-31T23:59:59.999Z", "253402300799.999" },
		{ 253402300800000, "9999-12-31T23:59:59.999Z", "253402300799.999" },
		{ INT64_MAX, "9999-12-31T23:59:59.999Z", "253402300799.999" },
	};
	char ts[LOG_TS_MAX + 8];

	for (size_t i = 0; i < PZ_ARRAY_LEN(c); i++) {
		memset(ts, 'Z', sizeof ts);
		CHECK_EQ_INT(log_ts(ts, c[i].ms, LOG_FORMAT_LOGFMT), strlen(c[i].logfmt));
		CHECK_EQ_STR(ts, c[i].logfmt);
		CHECK_EQ_INT(log_ts(ts, c[i].ms, LOG_FORMAT_JSON), strlen(c[i].json));
		CHECK_EQ_STR(ts, c[i].json);
	}
}

/* Every ~week from 1970 to 9999 at a moving time of day, against glibc. */
static void test_ts_against_gmtime(void)
{
	char ts[LOG_TS_MAX], want[64];
	int bad = 0, n = 0;

	for (int64_t s = 0; s < INT64_C(253402300800); s += 7 * 86400 + 3661, n++) {
		time_t t = (time_t)s;
		struct tm tm;
		int ms = (int)(s % 1000);
		gmtime_r(&t, &tm);
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
		log_ts(ts, s * 1000 + ms, LOG_FORMAT_LOGFMT);
		if (strcmp(ts, want) != 0 && bad++ < 5)
			fprintf(stderr, "log_ts(%lld) = %s, gmtime_r says %s\n", (long long)s, ts, want);
		snprintf(want, sizeof want, "%lld.%03d", (long long)s, ms);
		log_ts(ts, s * 1000 + ms, LOG_FORMAT_JSON);
		if (strcmp(ts, want) != 0 && bad++ < 5)
			fprintf(stderr, "log_ts(%lld, json) = %s, expected %s\n", (long long)s, ts, want);
	}
	CHECK(n > 400000);
	CHECK_EQ_INT(bad, 0);
}

/* The ts of a real line is now, in both formats. */
static void test_ts_is_now(void)
{
	for (int json = 0; json <= 1; json++) {
		int64_t before = (int64_t)time(NULL), at;
		set_format(json);
		log_begin(LOG_INFO, "now");
		log_end();
		CHECK(parse_back(json));
		if (json) {
			at = strtoll(rec.arena + rec.f[0].val, NULL, 10);
		} else {
			struct tm tm;
			memset(&tm, 0, sizeof tm);
			CHECK(strptime(rec.arena + rec.f[0].val, "%Y-%m-%dT%H:%M:%S", &tm) != NULL);
			at = (int64_t)timegm(&tm);
		}
		CHECK(at >= before && at <= (int64_t)time(NULL));
	}
}

/* ---- exact bytes ---- */

static void test_logfmt_exact(void)
{
	set_format(0);
	CHECK_EQ_INT(log_begin(LOG_WARN, "order deleted"), 1);
	log_str("bare", "default/a-1_b.c:8080");
	log_int("n", -42);
	log_int("min", LLONG_MIN);
	log_int("max", LLONG_MAX);
	log_err(PZ_ENOTFOUND);
	log_err(-ENOENT);
	log_end();
	CHECK_EQ_STR(after_ts(0), "level=warn msg=\"order deleted\" bare=default/a-1_b.c:8080 n=-42 "
		"min=-9223372036854775808 max=9223372036854775807 error=\"not found\" "
		"error=\"No such file or directory\"\n");

	capture_reset();
	log_begin(LOG_ERROR, "started");
	log_object("default", "order-123", "5f1d0c3e-aaaa");
	log_end();
	CHECK_EQ_STR(after_ts(0), "level=error msg=started controller=pizzaorder controllerGroup=pizzeria.example.com "
		"controllerKind=PizzaOrder PizzaOrder=default/order-123 namespace=default name=order-123 "
		"reconcileID=5f1d0c3e-aaaa\n");

	capture_reset();
	log_begin(LOG_DEBUG, NULL);
	log_str("nul", NULL);
	log_mem("mem", "abcdef", 3);
	log_mem("nulmem", NULL, 5);
	log_object(NULL, NULL, NULL);
	log_end();
	CHECK_EQ_STR(after_ts(0), "level=debug msg=\"\" nul=\"\" mem=abc nulmem=\"\" controller=pizzaorder "
		"controllerGroup=pizzeria.example.com controllerKind=PizzaOrder PizzaOrder=/ namespace=\"\" name=\"\"\n");
	CHECK(strncmp(out, "ts=", 3) == 0);
}

static void test_json_exact(void)
{
	set_format(1);
	log_begin(LOG_INFO, "reconcile");
	log_object("default", "order-123", "5f1d0c3e-aaaa");
	log_int("n", -42);
	log_int("min", LLONG_MIN);
	log_str("bare", "a b");
	log_err(PZ_ETLS);
	log_end();
	CHECK_EQ_STR(after_ts(1), "\"level\":\"info\",\"msg\":\"reconcile\",\"controller\":\"pizzaorder\","
		"\"controllerGroup\":\"pizzeria.example.com\",\"controllerKind\":\"PizzaOrder\","
		"\"PizzaOrder\":{\"name\":\"order-123\",\"namespace\":\"default\"},\"namespace\":\"default\","
		"\"name\":\"order-123\",\"reconcileID\":\"5f1d0c3e-aaaa\",\"n\":-42,\"min\":-9223372036854775808,"
		"\"bare\":\"a b\",\"error\":\"TLS failure\"}\n");
	CHECK(strncmp(out, "{\"ts\":", 6) == 0);
	CHECK(parse_back(1));
	CHECK(lp_get(&rec, "n") && lp_get(&rec, "n")->number);
	CHECK(lp_is_str(&rec, "PizzaOrder.namespace", "default"));

	capture_reset();
	log_begin(LOG_ERROR, NULL);
	log_str("k", NULL);
	log_object(NULL, NULL, NULL);
	log_end();
	CHECK_EQ_STR(after_ts(1), "\"level\":\"error\",\"msg\":\"\",\"k\":\"\",\"controller\":\"pizzaorder\","
		"\"controllerGroup\":\"pizzeria.example.com\",\"controllerKind\":\"PizzaOrder\","
		"\"PizzaOrder\":{\"name\":\"\",\"namespace\":\"\"},\"namespace\":\"\",\"name\":\"\"}\n");
}

/* Each escape, in both formats: input, logfmt value, JSON value. */
static const struct esc_case {
	const char *in;
	size_t len;
	const char *logfmt, *json;
} esc_cases[] = {
#define C(in, lf, js) { in, sizeof in - 1, lf, js }
	C("abc", "abc", "\"abc\""),
	C("", "\"\"", "\"\""),
	C("a b", "\"a b\"", "\"a b\""),
	C("a=b", "\"a=b\"", "\"a=b\""),
	C("a\"b", "\"a\\\"b\"", "\"a\\\"b\""),
	C("a\\b", "\"a\\\\b\"", "\"a\\\\b\""),
	C("\n\r\t", "\"\\n\\r\\t\"", "\"\\n\\r\\t\""),
	C("\x01\x1f\x7f\x1b[31m", "\"\\u0001\\u001f\\u007f\\u001b[31m\"", "\"\\u0001\\u001f\\u007f\\u001b[31m\""),
	C("a\0b", "\"a\\u0000b\"", "\"a\\u0000b\""),
	C("\xc2\x85\xc2\x9f", "\"\\u0085\\u009f\"", "\"\\u0085\\u009f\""),          /* C1 (NEL) */
	C("\xc2\xa0", "\"\xc2\xa0\"", "\"\xc2\xa0\""),                             /* NBSP: not C1 */
	C("\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"", "\"\\u2028\\u2029\""),
	C("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\"", "\"\xe2\x80\xa7\xe2\x80\xaa\""),
	C("\xff", "\"\\ufffd\"", "\"\\ufffd\""),
	C("a\x80z", "\"a\\ufffdz\"", "\"a\\ufffdz\""),                             /* stray continuation */
	C("\xc0\xaf", "\"\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\""),                 /* overlong / */
	C("\xc1\xbf", "\"\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\""),
	C("\xe0\x9f\xbf", "\"\\ufffd\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\\ufffd\""), /* overlong */
	C("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\\ufffd\""), /* surrogate */
	C("\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
	C("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
	C("\xf5\x80", "\"\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\""),
	C("\xe2\x82", "\"\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\""),                 /* cut at the end */
	C("\xf0\x9f\x98" "A", "\"\\ufffd\\ufffd\\ufffdA\"", "\"\\ufffd\\ufffd\\ufffdA\""),
	C("\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf", "\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\"",
		"\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\""),                     /* edges, all valid */
	C("caf\xc3\xa9 \xf0\x9f\x8d\x95", "\"caf\xc3\xa9 \xf0\x9f\x8d\x95\"", "\"caf\xc3\xa9 \xf0\x9f\x8d\x95\""),
	C(INJECTED, "\"x\\\" \\nts=1999-01-01 level=error msg=INJECTED\"",
		"\"x\\\" \\nts=1999-01-01 level=error msg=INJECTED\""),
#undef C
};

static void test_escapes(void)
{
	char want[256], expect[64 * 3];

	for (int json = 0; json <= 1; json++) {
		for (size_t i = 0; i < PZ_ARRAY_LEN(esc_cases); i++) {
			const struct esc_case *c = &esc_cases[i];
			set_format(json);
			log_begin(LOG_INFO, "m");
			log_mem("v", c->in, c->len);
			log_end();
			if (json)
				snprintf(want, sizeof want, "\"level\":\"info\",\"msg\":\"m\",\"v\":%s}\n", c->json);
			else
				snprintf(want, sizeof want, "level=info msg=m v=%s\n", c->logfmt);
			CHECK_EQ_STR(after_ts(json), want);
			/* and read back as the input with ill-formed bytes as U+FFFD */
			CHECK(parse_back(json));
			CHECK_EQ_INT(rec.n, 4);
			CHECK(lp_is(&rec, lp_get(&rec, "v"), expect, lp_expect(c->in, c->len, expect)));
		}
	}
}

/* A logfmt key is a constant, but a wrong one must not break the line either. */
static void test_bad_keys(void)
{
	set_format(0);
	log_begin(LOG_INFO, "m");
	log_str("a key=\"x\"\n", "v");
	log_str("", "w");
	log_end();
	CHECK_EQ_STR(after_ts(0), "level=info msg=m a_key__x__=v _=w\n");
	CHECK(parse_back(0));

	set_format(1);
	log_begin(LOG_INFO, "m");
	log_str("a key=\"x\"\n", "v");
	log_end();
	CHECK_EQ_STR(after_ts(1), "\"level\":\"info\",\"msg\":\"m\",\"a key=\\\"x\\\"\\n\":\"v\"}\n");
	CHECK(parse_back(1));
}

/* ---- hostile values read back ---- */

static void test_injection(void)
{
	for (int json = 0; json <= 1; json++) {
		set_format(json);
		log_begin(LOG_ERROR, INJECTED);
		log_str("detail", INJECTED);
		log_object(INJECTED, "a\r\nlevel=info", INJECTED);
		log_end();
		captured();
		CHECK(memchr(out, '\n', out_len) == out + out_len - 1);   /* one line */
		CHECK(strstr(out, "\nts=") == NULL && strstr(out, "\n") == out + out_len - 1);
		CHECK(parse_back(json));
		CHECK(lp_is_str(&rec, "level", "error"));
		CHECK(lp_is_str(&rec, "msg", INJECTED));
		CHECK(lp_is_str(&rec, "detail", INJECTED));
		CHECK(lp_is_str(&rec, "namespace", INJECTED));
		CHECK(lp_is_str(&rec, "name", "a\r\nlevel=info"));
		CHECK(lp_is_str(&rec, "reconcileID", INJECTED));
		CHECK(lp_is_str(&rec, json ? "PizzaOrder.namespace" : "PizzaOrder",
			json ? INJECTED : INJECTED "/a\r\nlevel=info"));
		CHECK_EQ_INT(rec.n, json ? 12 : 11);   /* no key more: the reader refuses a key twice */
	}
}

/* Random hostile bytes of every kind, many times: each line reads back with exactly its values. */
static void test_random_values(void)
{
	static const char alphabet[] = "\"\\\n\r\t =\x01\x7f\x80\xbf\xc2\xe2\xed\xf0\xf4\xff\xa8" "az/";
	char v[3][64], expect[3][64 * 3];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int bad = 0;

	for (int iter = 0; iter < 4000; iter++) {
		int json = iter & 1;
		size_t len[3];
		struct lp_want want[14];
		int nw = 0, rc;

		for (int k = 0; k < 3; k++) {
			seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
			len[k] = seed % 40;
			for (size_t j = 0; j < len[k]; j++) {
				seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
				v[k][j] = (seed & 3) ? alphabet[(seed >> 8) % (sizeof alphabet - 1)] : (char)(seed >> 16);
			}
		}
		set_format(json);
		log_begin(LOG_WARN, "m");
		log_mem("a", v[0], len[0]);
		log_mem("b", v[1], len[1]);
		log_mem("c", v[2], len[2]);
		log_end();
		want[nw++] = (struct lp_want){ "ts", NULL, 0 };
		want[nw++] = (struct lp_want){ "level", "warn", 4 };
		want[nw++] = (struct lp_want){ "msg", "m", 1 };
		for (int k = 0; k < 3; k++)
			want[nw++] = (struct lp_want){ k == 0 ? "a" : k == 1 ? "b" : "c", expect[k], lp_expect(v[k], len[k], expect[k]) };
		captured();
		rc = lp_parse(out, out_len, json, &rec);
		if (rc == 0)
			rc = lp_match(&rec, want, nw);
		if (rc != 0 && bad++ < 3)
			fprintf(stderr, "random line %d: %d (%s): %s\n", iter, rc, lp_why(rc), out);
	}
	CHECK_EQ_INT(bad, 0);
}

/* ---- cutting ---- */

/* A line of: a filler of `fill` bytes, then a value of `reps` copies of unit, an int, and an object
 * whose namespace and name are that value too (so a cut also lands inside the nested JSON object).
 * It must read back as a prefix of what was asked, cut where the rules say, never over LOG_LINE_MAX. */
static int cut_case(int json, size_t fill, const char *unit, size_t reps)
{
	static char filler[LP_LINE_MAX], val[LP_LINE_MAX * 2], expect[LP_LINE_MAX * 6], both[LP_LINE_MAX * 12];
	size_t ulen = strlen(unit), vlen = ulen * reps, elen;
	struct lp_want want[16];
	int nw = 0, rc;

	memset(filler, 'f', fill);
	for (size_t i = 0; i < reps; i++)
		memcpy(val + i * ulen, unit, ulen);
	elen = lp_expect(val, vlen, expect);
	set_format(json);
	log_begin(LOG_INFO, "cut");
	log_mem("filler", filler, fill);
	log_mem("value", val, vlen);
	log_int("n", 1234567);
	val[vlen] = '\0';
	log_object(val, val, "rid");
	log_end();
	want[nw++] = (struct lp_want){ "ts", NULL, 0 };
	want[nw++] = (struct lp_want){ "level", "info", 4 };
	want[nw++] = (struct lp_want){ "msg", "cut", 3 };
	want[nw++] = (struct lp_want){ "filler", filler, fill };
	want[nw++] = (struct lp_want){ "value", expect, elen };
	want[nw++] = (struct lp_want){ "n", "1234567", 7 };
	want[nw++] = (struct lp_want){ "controller", "pizzaorder", 10 };
	want[nw++] = (struct lp_want){ "controllerGroup", "pizzeria.example.com", 20 };
	want[nw++] = (struct lp_want){ "controllerKind", "PizzaOrder", 10 };
	if (json) {
		want[nw++] = (struct lp_want){ "PizzaOrder.name", expect, elen };
		want[nw++] = (struct lp_want){ "PizzaOrder.namespace", expect, elen };
	} else {
		memcpy(both, expect, elen);
		both[elen] = '/';
		memcpy(both + elen + 1, expect, elen);
		want[nw++] = (struct lp_want){ "PizzaOrder", both, 2 * elen + 1 };
	}
	want[nw++] = (struct lp_want){ "namespace", expect, elen };
	want[nw++] = (struct lp_want){ "name", expect, elen };
	want[nw++] = (struct lp_want){ "reconcileID", "rid", 3 };
	captured();
	if (out_len > LOG_LINE_MAX) {
		fprintf(stderr, "line of %zu bytes (fill %zu, unit %s)\n", out_len, fill, unit);
		return -1;
	}
	rc = lp_parse(out, out_len, json, &rec);
	if (rc == 0)
		rc = lp_match(&rec, want, nw);
	if (rc != 0)
		fprintf(stderr, "cut line (fill %zu, unit %s, %s): %d (%s): %s\n", fill, unit, json ? "json" : "logfmt",
			rc, lp_why(rc), out);
	return rc;
}

static void test_cut_everywhere(void)
{
	/* A unit of each escaped width: 1 (bare), 1 quoted, 2, 6, 3 (raw UTF-8), 4 (raw), 6 (\ufffd). */
	static const char *const units[] = { "x", "x y", "\"", "\x01", "\xe2\x82\xac", "\xf0\x9f\x8d\x95", "\xff" };
	int bad = 0, cut = 0, whole = 0;

	for (int json = 0; json <= 1; json++)
		for (size_t u = 0; u < PZ_ARRAY_LEN(units); u++)
			for (size_t fill = 900; fill <= 2100 && bad < 5; fill++) {
				if (cut_case(json, fill, units[u], 16) != 0)
					bad++;
				else if (lp_get(&rec, "truncated"))
					cut++;
				else
					whole++;
			}
	CHECK_EQ_INT(bad, 0);
	CHECK(cut > 1000 && whole > 1000);   /* both sides of the limit were exercised */
}

/* One value far over the limit, of every kind: cut inside the value, the line still whole. */
static void test_cut_long_value(void)
{
	static const char *const units[] = { "a", "\"", "\n", "\x7f", "\xc3\xa9", "\xff", INJECTED };
	for (int json = 0; json <= 1; json++)
		for (size_t u = 0; u < PZ_ARRAY_LEN(units); u++) {
			CHECK_EQ_INT(cut_case(json, 0, units[u], 5000 / strlen(units[u])), 0);
			CHECK(lp_get(&rec, "truncated") != NULL);
			CHECK(lp_get(&rec, "value") != NULL && lp_get(&rec, "value")->vlen > 100);
			CHECK(lp_get(&rec, "n") == NULL);   /* later fields dropped */
			CHECK(out_len <= LOG_LINE_MAX && out_len > LOG_LINE_MAX - 32);
		}
	/* the exact end of a cut line */
	set_format(0);
	log_begin(LOG_INFO, "m");
	for (int i = 0; i < 300; i++)
		log_str("k", "vvvvvvvvvv");
	log_end();
	captured();
	CHECK(out_len > 16 && strcmp(out + out_len - 16, " truncated=true\n") == 0);
	set_format(1);
	log_begin(LOG_INFO, "m");
	for (int i = 0; i < 300; i++)
		log_int("k", i);
	log_end();
	captured();
	CHECK(out_len > 19 && strcmp(out + out_len - 19, ",\"truncated\":true}\n") == 0);
}

/* ---- levels, aliasing, the bug trap, the deprecated call ---- */

static void test_levels(void)
{
	set_format(0);
	log_min_level = LOG_WARN;
	CHECK_EQ_INT(log_begin(LOG_INFO, "dropped"), 0);
	log_str("k", "v");
	log_object("a", "b", "c");
	log_end();
	CHECK_EQ_INT(strlen(captured()), 0);
	CHECK_EQ_INT(log_begin(LOG_DEBUG, "dropped"), 0);
	log_end();
	CHECK_EQ_INT(strlen(captured()), 0);
	CHECK_EQ_INT(log_begin(LOG_WARN, "kept"), 1);
	log_end();
	CHECK_EQ_INT(log_begin(LOG_ERROR, "kept"), 1);
	log_end();
	captured();
	CHECK(strstr(out, "level=warn msg=kept\n") != NULL && strstr(out, "level=error msg=kept\n") != NULL);
	/* a field call with no line open writes nothing */
	capture_reset();
	log_str("k", "v");
	log_int("i", 1);
	log_end();
	CHECK_EQ_INT(strlen(captured()), 0);
	/* a line begun over an open one replaces it */
	log_begin(LOG_ERROR, "first");
	log_str("k", "v");
	log_begin(LOG_ERROR, "second");
	log_end();
	CHECK(strstr(captured(), "msg=first") == NULL && strstr(out, "level=error msg=second\n") != NULL);
}

/* Values are copied at the call: one buffer reused for several fields, the message, and a value
 * inside another's bytes (issue 8's snprintf(x, .., "%s", x) emptied messages). */
static void test_aliasing(void)
{
	char buf[64];

	for (int json = 0; json <= 1; json++) {
		set_format(json);
		strcpy(buf, "first value");
		log_begin(LOG_INFO, buf);
		log_str("a", buf);
		strcpy(buf, "second");
		log_str("b", buf);
		log_mem("c", buf + 2, 3);
		log_object(buf, buf + 1, buf);
		memset(buf, 0, sizeof buf);
		log_end();
		CHECK(parse_back(json));
		CHECK(lp_is_str(&rec, "msg", "first value"));
		CHECK(lp_is_str(&rec, "a", "first value"));
		CHECK(lp_is_str(&rec, "b", "second"));
		CHECK(lp_is_str(&rec, "c", "con"));
		CHECK(lp_is_str(&rec, "namespace", "second") && lp_is_str(&rec, "name", "econd"));
		CHECK(lp_is_str(&rec, "reconcileID", "second"));
		/* pz_strerror hands out strerror's buffer: two in a row keep their own texts */
		capture_reset();
		log_begin(LOG_INFO, "m");
		log_err(-EACCES);
		log_err(-ENOENT);
		log_end();
		captured();
		CHECK(strstr(out, "Permission denied") != NULL && strstr(out, "No such file or directory") != NULL);
	}
}

static void test_bug_trap(void)
{
	for (int json = 0; json <= 1; json++) {
		pid_t pid;
		int st = 0;

		set_format(json);
		fflush(stderr);
		pid = fork();
		if (pid == 0) {
			signal(SIGABRT, SIG_DFL);
			pz_bug("src/x.c", 77, "a \"check\"\n");
		}
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
		CHECK(parse_back(json));
		CHECK(lp_is_str(&rec, "level", "error") && lp_is_str(&rec, "msg", "internal bug"));
		CHECK(lp_is_str(&rec, "file", "src/x.c") && lp_is_str(&rec, "line", "77"));
		CHECK(lp_is_str(&rec, "check", "a \"check\"\n"));
	}
}

/* ---- the Python checker agrees, and refuses forged lines ---- */

static int run_logcheck(const char *fmt, const char *path)
{
	const char *data = getenv("PZ_TEST_DATA");
	char script[512], cmd[1536];
	int st;

	snprintf(script, sizeof script, "%s/../logcheck.py", data ? data : "tests/data");
	if (access(script, R_OK) != 0)
		snprintf(script, sizeof script, "tests/logcheck.py");
	snprintf(cmd, sizeof cmd, "python3 '%s' --format %s '%s' >/dev/null", script, fmt, path);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_python_checker(void)
{
	char path[2][64];

	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_log: python3 not found (Debian package python3): the logcheck.py cross-check "
			"cannot run, counted as a failure\n");
		CHECK(0);
		return;
	}
	/* Every hostile line of both formats in one file each, then the checker over them. */
	for (int json = 0; json <= 1; json++) {
		int fd;
		snprintf(path[json], sizeof path[json], "/tmp/pz-test-log.%d.%d", (int)getpid(), json);
		fd = open(path[json], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0);
		log_format = json ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT;
		log_min_level = LOG_DEBUG;
		log_fd = fd;
		for (size_t i = 0; i < PZ_ARRAY_LEN(esc_cases); i++) {
			log_begin(LOG_INFO, esc_cases[i].in);
			log_mem("v", esc_cases[i].in, esc_cases[i].len);
			log_object(esc_cases[i].in, "n", esc_cases[i].in);
			log_end();
		}
		for (int i = 0; i < 40; i++) {   /* long lines, cut */
			char big[3000];
			memset(big, "a\"\n\xff"[i & 3], sizeof big - 1);
			big[sizeof big - 1] = '\0';
			log_begin(LOG_ERROR, "long");
			log_str("filler", big + sizeof big - 1 - (size_t)i * 40);
			log_mem("value", big, sizeof big);
			log_object("ns", "name", "id");
			log_end();
		}
		close(fd);
		CHECK_EQ_INT(run_logcheck(json ? "json" : "logfmt", path[json]), 0);
		CHECK_EQ_INT(run_logcheck("auto", path[json]), 0);
		CHECK_EQ_INT(run_logcheck(json ? "logfmt" : "json", path[json]), 1);  /* the other format */
	}
	/* What the old, unescaped writer printed for the same message is refused. */
	{
		static const char forged[] = "ts=2026-11-30T00:00:00.000Z level=error msg=\"watch failed\" detail=\""
			INJECTED "\"\n";
		int fd = open(path[0], O_WRONLY | O_TRUNC);
		CHECK(fd >= 0 && write(fd, forged, sizeof forged - 1) == (ssize_t)sizeof forged - 1);
		close(fd);
		CHECK_EQ_INT(run_logcheck("logfmt", path[0]), 1);
	}
	unlink(path[0]);
	unlink(path[1]);
}

int main(void)
{
	run("ts known values", test_ts_known);
	run("ts against gmtime_r", test_ts_against_gmtime);
	run("ts is now", test_ts_is_now);
	run("logfmt exact", test_logfmt_exact);
	run("json exact", test_json_exact);
	run("escapes", test_escapes);
	run("bad keys", test_bad_keys);
	run("injection", test_injection);
	run("random values", test_random_values);
	run("cut everywhere", test_cut_everywhere);
	run("cut long value", test_cut_long_value);
	run("levels", test_levels);
	run("aliasing", test_aliasing);
	run("bug trap", test_bug_trap);
	run("python checker", test_python_checker);
	return check_done("log");
}
