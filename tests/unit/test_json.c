/*
 * test_json.c - the jsmn wrapper and the JSON writer (src/json.h).
 *
 * Reading is checked on recorded API server objects (tests/data, de-chunked by harness.h's plain
 * reference decoder) and on hand-made edge cases; writing on exact output, on parse-back round trips
 * and on every buffer size up to the one that fits, each buffer ending at a PROT_NONE page. Each test
 * runs in a child process, so a crash is one failure and the others still run.
 */
#include "check.h"
#include "harness.h"
#include "json.h"
#include "pz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static jsmntok_t tok[8192];

/* Parses a C string; the doc's tokens live in the shared `tok`. */
static int parse(struct json_doc *d, const char *s) { return json_parse(d, s, strlen(s), tok, PZ_ARRAY_LEN(tok)); }

/* json_str into a static buffer; "(error N)" on failure. */
static const char *str(const struct json_doc *d, int i)
{
	static char out[8192];
	int rc = json_str(d, i, out, sizeof out);
	if (rc < 0)
		snprintf(out, sizeof out, "(error %d)", rc);
	return out;
}

/* ---- reading recorded objects ---- */

static void test_recorded_order(void)
{
	size_t len = 0;
	char *body = load_body("get-order.http", &len);
	struct json_doc d, inner;
	int64_t v = -1;
	int n, t;

	CHECK(body != NULL);
	if (!body)
		return;
	n = json_parse(&d, body, len, tok, PZ_ARRAY_LEN(tok));
	CHECK(n > 50);
	CHECK_EQ_INT(d.ntok, n);
	CHECK_EQ_INT(d.tok[0].type, JSMN_OBJECT);
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "metadata.name")), "order-123");
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "metadata.namespace")), "default");
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "metadata.resourceVersion")), "194");
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "metadata.uid")), "e75be8aa-76a6-48dd-b6d2-ddb7e0e738aa");
	CHECK_EQ_INT(json_int(&d, json_path(&d, 0, "metadata.generation"), &v), 0);
	CHECK_EQ_INT(v, 1);
	CHECK(json_eq(&d, json_path(&d, 0, "spec.size"), "large"));
	CHECK(json_eq(&d, json_get(&d, 0, "kind"), "PizzaOrder"));
	t = json_path(&d, 0, "spec.toppings");
	CHECK(t > 0 && d.tok[t].type == JSMN_ARRAY && d.tok[t].size == 2);
	CHECK(t > 0 && json_eq(&d, t + 1, "cheese") && json_eq(&d, t + 2, "pepperoni"));
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "status.phase")), "Pending");
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "status.ovenPod")), "order-123-oven");
	t = json_path(&d, 0, "status.conditions");
	CHECK(t > 0 && d.tok[t].type == JSMN_ARRAY && d.tok[t].size == 1);
	CHECK(t > 0 && json_eq(&d, json_get(&d, t + 1, "reason"), "OvenPending"));
	CHECK_EQ_INT(json_path(&d, 0, "status.conditions.type"), -1); /* arrays have no keys */
	/* Keys are whole path steps, matched exactly: the annotation key holds dots of its own. */
	CHECK_EQ_INT(json_path(&d, 0, "metadata.annotations.kubectl"), -1);
	t = json_get(&d, json_path(&d, 0, "metadata.annotations"), "kubectl.kubernetes.io/last-applied-configuration");
	CHECK(t > 0);
	/* That annotation is JSON inside a JSON string: unescaped, it parses again. */
	CHECK_EQ_STR(str(&d, t), "{\"apiVersion\":\"pizzeria.example.com/v1\",\"kind\":\"PizzaOrder\","
		"\"metadata\":{\"annotations\":{},\"name\":\"order-123\",\"namespace\":\"default\"},"
		"\"spec\":{\"size\":\"large\",\"toppings\":[\"cheese\",\"pepperoni\"]}}\n");
	{
		static char copy[1024];
		static jsmntok_t tok2[64];
		int cl = json_str(&d, t, copy, sizeof copy);
		CHECK(cl > 0 && json_parse(&inner, copy, (size_t)cl, tok2, PZ_ARRAY_LEN(tok2)) > 0);
		CHECK(cl > 0 && json_eq(&inner, json_path(&inner, 0, "spec.size"), "large"));
	}
	free(body);
}

static void test_recorded_others(void)
{
	size_t len = 0;
	char *body;
	struct json_doc d;
	int64_t v = 0;
	int c, e;

	body = load_body("get-pod.http", &len);
	CHECK(body != NULL);
	if (body) {
		CHECK(json_parse(&d, body, len, tok, PZ_ARRAY_LEN(tok)) > 0);
		CHECK_EQ_STR(str(&d, json_path(&d, 0, "metadata.labels.pizzeria.example.com/order")), "(error -4098)");
		CHECK_EQ_STR(str(&d, json_get(&d, json_path(&d, 0, "metadata.labels"), "pizzeria.example.com/order")), "order-123");
		CHECK_EQ_STR(str(&d, json_path(&d, 0, "status.phase")), "Running");
		c = json_path(&d, 0, "spec.containers");
		CHECK(c > 0 && d.tok[c].type == JSMN_ARRAY && d.tok[c].size == 1);
		CHECK(c > 0 && json_eq(&d, json_get(&d, c + 1, "name"), "oven"));
		e = c > 0 ? json_get(&d, c + 1, "env") : -1;
		CHECK(e > 0 && d.tok[e].size == 3);
		/* json_skip steps over a whole element: the third env entry. */
		if (e > 0) {
			int third = json_skip(&d, json_skip(&d, e + 1));
			CHECK_EQ_STR(str(&d, json_get(&d, third, "name")), "BAKE_SECONDS");
			CHECK_EQ_STR(str(&d, json_get(&d, third, "value")), "30");
		}
		free(body);
	}

	body = load_body("get-notfound.http", &len);
	CHECK(body != NULL);
	if (body) {
		CHECK(json_parse(&d, body, len, tok, PZ_ARRAY_LEN(tok)) > 0);
		CHECK_EQ_INT(json_int(&d, json_get(&d, 0, "code"), &v), 0);
		CHECK_EQ_INT(v, 404);
		CHECK(json_eq(&d, json_get(&d, 0, "reason"), "NotFound"));
		CHECK_EQ_STR(str(&d, json_get(&d, 0, "message")), "pizzaorders.pizzeria.example.com \"nope\" not found");
		CHECK_EQ_STR(str(&d, json_path(&d, 0, "details.name")), "nope");
		c = json_get(&d, 0, "metadata");
		CHECK(c > 0 && d.tok[c].type == JSMN_OBJECT && d.tok[c].size == 0);
		free(body);
	}

	body = load_body("watch-gone.http", &len);
	CHECK(body != NULL);
	if (body) {
		CHECK(json_parse(&d, body, len, tok, PZ_ARRAY_LEN(tok)) > 0); /* trailing newline is blank */
		CHECK(json_eq(&d, json_get(&d, 0, "type"), "ERROR"));
		CHECK_EQ_INT(json_int(&d, json_path(&d, 0, "object.code"), &v), 0);
		CHECK_EQ_INT(v, 410);
		CHECK(json_eq(&d, json_path(&d, 0, "object.reason"), "Expired"));
		free(body);
	}

	/* Every watch event line parses alone. */
	body = load_body("watch-orders.http", &len);
	CHECK(body != NULL);
	if (body) {
		static const char *const types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK" };
		static const char *const rvs[] = { "207", "208", "209", "209" };
		int k = 0;
		for (char *p = body, *nl; (nl = memchr(p, '\n', len - (size_t)(p - body))); p = nl + 1, k++) {
			CHECK(json_parse(&d, p, (size_t)(nl - p), tok, PZ_ARRAY_LEN(tok)) > 0);
			CHECK(k < 4 && json_eq(&d, json_get(&d, 0, "type"), types[k]));
			/* A bookmark's object carries only its resourceVersion. */
			CHECK_EQ_STR(str(&d, json_path(&d, 0, "object.metadata.name")), k < 3 ? "small-one" : "(error -4098)");
			CHECK_EQ_STR(str(&d, json_path(&d, 0, "object.metadata.resourceVersion")), rvs[k < 4 ? k : 0]);
		}
		CHECK_EQ_INT(k, 4);
		/* The whole body is four values, not one. */
		CHECK_EQ_INT(json_parse(&d, body, len, tok, PZ_ARRAY_LEN(tok)), PZ_EJSON);
		free(body);
	}
}

/* Too few tokens is PZ_ETOOBIG at every cap below the count, never a partial success. */
static void test_parse_token_cap(void)
{
	size_t len = 0;
	char *body = load_body("get-order.http", &len);
	struct json_doc d;
	int n, bad = 0;

	CHECK(body != NULL);
	if (!body)
		return;
	n = json_parse(&d, body, len, tok, PZ_ARRAY_LEN(tok));
	CHECK(n > 0);
	for (int cap = 0; cap < n; cap++)
		if (json_parse(&d, body, len, tok, (unsigned)cap) != PZ_ETOOBIG)
			bad++;
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(d.ntok, 0);
	/* Exactly enough, in an array just that long (ASan catches a write past it). */
	{
		jsmntok_t *exact = malloc(sizeof *exact * (size_t)n);
		CHECK_EQ_INT(json_parse(&d, body, len, exact, (unsigned)n), n);
		CHECK_EQ_STR(str(&d, json_path(&d, 0, "metadata.name")), "order-123");
		free(exact);
	}
	free(body);
}

static void test_parse_bad(void)
{
	static const char *const bad[] = {
		"", "   \n", "\"str\"", "123", "-1", "true", "null",            /* not a container */
		"{} x", "{}{}", "[1] ]", "{\"a\":1} ,", "[] []", "{}\"\"",        /* trailing bytes */
		"{\"a\":1}}", "[1}", "{\"a\":[}", "{\"a\":x}", "{1:2}",         /* broken */
		"[\"\\q\"]", "[\"\\u12G4\"]", "{\"a\":{}:1}",
	};
	struct json_doc d;
	size_t len = 0;
	char *body;
	int bad_prefix = 0;

	for (size_t i = 0; i < PZ_ARRAY_LEN(bad); i++) {
		int rc = parse(&d, bad[i]);
		if (rc != PZ_EJSON)
			fprintf(stderr, "json_parse(%s) = %d\n", bad[i], rc);
		CHECK_EQ_INT(rc, PZ_EJSON);
	}
	/* A NUL byte inside len is not the end of the text. */
	CHECK_EQ_INT(json_parse(&d, "{\"a\":1}\0", 8, tok, PZ_ARRAY_LEN(tok)), PZ_EJSON);
	/* Blanks after the value are fine. */
	CHECK_EQ_INT(parse(&d, " \t{\"a\":1} \r\n\t"), 3);
	CHECK_EQ_INT(parse(&d, "[]"), 1);

	/* Every proper prefix of a real object is truncated, hence PZ_EJSON (never a success). */
	body = load_body("get-order.http", &len);
	CHECK(body != NULL);
	for (size_t k = 0; body && k < len; k++)
		if (json_parse(&d, body, k, tok, PZ_ARRAY_LEN(tok)) != PZ_EJSON)
			bad_prefix++;
	CHECK_EQ_INT(bad_prefix, 0);
	free(body);
}

/* json.h: "PZ_EJSON when the text is not one complete, valid JSON value". jsmn lets these through
 * (it does not check separators or the shape of primitives), so the wrapper must. */
static void test_parse_malformed_complete(void)
{
	static const char *const bad[] = {
		"{\"a\"}", "{\"a\",\"b\"}", "{\"a\"::1}", "{\"a\":1 \"b\":2}", "[1 2]", "[\"a\" \"b\"]",
		"[1,]", "{\"a\":1,}", "[,1]", "{,}", "[:]", "{\"a\":1,,\"b\":2}",
		"{\"a\":tru}", "[nul]", "[truex]", "[01]", "{\"a\":-}", "[1.2.3]", "[\"a\tb\"]",
	};
	struct json_doc d;

	for (size_t i = 0; i < PZ_ARRAY_LEN(bad); i++) {
		int rc = parse(&d, bad[i]);
		if (rc != PZ_EJSON)
			fprintf(stderr, "json_parse accepts malformed %s (%d tokens)\n", bad[i], rc);
		CHECK_EQ_INT(rc, PZ_EJSON);
	}
}

/* ---- walking tokens ---- */

static void test_get_path_eq(void)
{
	struct json_doc d;
	int a, x, arr;

	CHECK(parse(&d, "{\"k\":\"name\",\"a\":{\"name\":\"inner\",\"x\":[1,{\"name\":\"deep\"},[\"name\"]]},"
		"\"name\":\"outer\",\"e\":\"\",\"n\":null,\"t\":true,\"arr\":[{\"k\":\"v\"}],\"nam\":1}") > 0);
	/* A key is found only among obj's own members, never in a nested value or as a value. */
	CHECK_EQ_STR(str(&d, json_get(&d, 0, "name")), "outer");
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "a.name")), "inner");
	CHECK_EQ_STR(str(&d, json_path(&d, 0, "nam")), "(error -4098)"); /* 1 is not a string */
	CHECK_EQ_INT(json_get(&d, 0, "na"), -1);
	CHECK_EQ_INT(json_get(&d, 0, "names"), -1);
	CHECK_EQ_INT(json_get(&d, 0, "inner"), -1);
	CHECK_EQ_INT(json_get(&d, 0, "deep"), -1);
	CHECK_EQ_INT(json_get(&d, 0, ""), -1);
	a = json_get(&d, 0, "a");
	CHECK(a > 0 && d.tok[a].type == JSMN_OBJECT);
	x = json_path(&d, 0, "a.x");
	CHECK(x > 0 && d.tok[x].type == JSMN_ARRAY && d.tok[x].size == 3);
	CHECK_EQ_INT(json_path(&d, 0, "a.x.name"), -1);
	CHECK_EQ_INT(json_path(&d, 0, "a.missing"), -1);
	CHECK_EQ_INT(json_path(&d, 0, "missing.name"), -1);
	CHECK_EQ_INT(json_path(&d, 0, "name.x"), -1);
	CHECK_EQ_INT(json_path(&d, 0, ""), 0);
	arr = json_get(&d, 0, "arr");
	CHECK_EQ_INT(json_get(&d, arr, "k"), -1);           /* not an object */
	CHECK_EQ_STR(str(&d, json_get(&d, arr + 1, "k")), "v");
	CHECK_EQ_INT(json_get(&d, -1, "name"), -1);
	CHECK_EQ_INT(json_get(&d, d.ntok, "name"), -1);
	CHECK_EQ_INT(json_skip(&d, a), json_get(&d, 0, "name") - 1);
	CHECK_EQ_INT(json_skip(&d, 0), d.ntok);
	/* json_eq: strings only, whole and exact. */
	CHECK(json_eq(&d, json_get(&d, 0, "name"), "outer"));
	CHECK(!json_eq(&d, json_get(&d, 0, "name"), "oute"));
	CHECK(!json_eq(&d, json_get(&d, 0, "name"), "outer2"));
	CHECK(!json_eq(&d, json_get(&d, 0, "name"), "Outer"));
	CHECK(json_eq(&d, json_get(&d, 0, "e"), ""));
	CHECK(!json_eq(&d, json_get(&d, 0, "n"), "null"));
	CHECK(!json_eq(&d, json_get(&d, 0, "t"), "true"));
	CHECK(!json_eq(&d, a, ""));
	CHECK(!json_eq(&d, -1, ""));
	CHECK(!json_eq(&d, json_get(&d, 0, "missing"), "outer"));
}

/* json_eq on an index past the last token is 0, like json_get/json_str/json_int; here the token
 * array holds exactly ntok tokens, so reading tok[ntok] is an overflow ASan reports. */
static void test_eq_past_end(void)
{
	static const char s[] = "{\"a\":\"b\"}";
	jsmntok_t *exact = malloc(3 * sizeof *exact);
	struct json_doc d;

	CHECK_EQ_INT(json_parse(&d, s, sizeof s - 1, exact, 3), 3);
	CHECK(!json_eq(&d, d.ntok, "b"));
	free(exact);
}

/* ---- json_str ---- */

static void test_str_escapes(void)
{
	struct json_doc d;
	int rc;

	CHECK(parse(&d, "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"plain text\", \"\", \"a\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\uD83D\\uDE00\","
		" \"\\u007f\\u0080\\u07ff\\u0800\\uffff\\ud800\\udc00\\udbff\\udfff\\u0001\", \"caf\xc3\xa9 raw\", {}, 12]") > 0);
	CHECK_EQ_STR(str(&d, 1), "\"\\/\b\f\n\r\t");
	CHECK_EQ_STR(str(&d, 2), "plain text");
	CHECK_EQ_STR(str(&d, 3), "");
	CHECK_EQ_STR(str(&d, 4), "aA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
	CHECK_EQ_STR(str(&d, 5), "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\x01");
	CHECK_EQ_STR(str(&d, 6), "caf\xc3\xa9 raw");
	rc = json_str(&d, 4, (char[64]){ 0 }, 64);
	CHECK_EQ_INT(rc, 1 + 1 + 2 + 3 + 4 + 4);
	/* Not a string. */
	CHECK_EQ_INT(json_str(&d, 0, (char[8]){ 0 }, 8), PZ_EJSON);
	CHECK_EQ_INT(json_str(&d, 7, (char[8]){ 0 }, 8), PZ_EJSON);
	CHECK_EQ_INT(json_str(&d, 8, (char[8]){ 0 }, 8), PZ_EJSON);
	CHECK_EQ_INT(json_str(&d, -1, (char[8]){ 0 }, 8), PZ_EJSON);
	CHECK_EQ_INT(json_str(&d, d.ntok, (char[8]){ 0 }, 8), PZ_EJSON);
}

static void test_str_bad_unicode(void)
{
	static const char *const bad[] = {
		"[\"\\ud83d\"]",          /* lone high surrogate at the end */
		"[\"\\ud83dx\"]",         /* high surrogate, then a plain character */
		"[\"\\ud83d\\u0041\"]",   /* high surrogate, then not a low one */
		"[\"\\ud83d\\ud83d\"]",   /* two high surrogates */
		"[\"\\ud83d\\n\"]",       /* high surrogate, then another escape */
		"[\"\\udbff\\ue000\"]",   /* just past the low range */
		"[\"\\ude00\"]",          /* lone low surrogate */
		"[\"\\udfff\\ud83d\"]",   /* pair the wrong way round */
		"[\"\\u0000\"]",          /* NUL would cut the C string */
		"[\"a\\u0000b\"]",
	};
	char out[64];

	for (size_t i = 0; i < PZ_ARRAY_LEN(bad); i++) {
		struct json_doc d;
		int rc;
		CHECK(parse(&d, bad[i]) == 2); /* jsmn only checks the hex digits */
		rc = json_str(&d, 1, out, sizeof out);
		if (rc != PZ_EJSON)
			fprintf(stderr, "json_str(%s) = %d\n", bad[i], rc);
		CHECK_EQ_INT(rc, PZ_EJSON);
	}
}

/* Every cap up to the one that fits is PZ_ETOOBIG, and nothing is written past cap. */
static void test_str_cap(void)
{
	static const char *const docs[] = {
		"[\"order-123\"]",
		"[\"x\\u00e9\\u20ac\\ud83d\\ude00\\n\"]",  /* 1 + 2 + 3 + 4 + 1 bytes: every width straddles */
	};
	static const char *const want[] = { "order-123", "x\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n" };
	struct guard g;

	guard_init(&g, 64);
	for (size_t k = 0; k < PZ_ARRAY_LEN(docs); k++) {
		struct json_doc d;
		size_t wl = strlen(want[k]);
		int bad = 0, rc;
		CHECK_EQ_INT(parse(&d, docs[k]), 2);
		for (size_t cap = 1; cap <= wl; cap++)
			if ((rc = json_str(&d, 1, g.end - cap, cap)) != PZ_ETOOBIG) {
				fprintf(stderr, "json_str cap %zu: %d\n", cap, rc);
				bad++;
			}
		CHECK_EQ_INT(bad, 0);
		CHECK(json_str(&d, 1, g.end, 0) < 0);
		rc = json_str(&d, 1, g.end - (wl + 1), wl + 1);
		CHECK_EQ_INT(rc, (long)wl);
		CHECK_EQ_STR(g.end - (wl + 1), want[k]);
	}
	guard_free(&g);
}

/* ---- json_int ---- */

static void test_int(void)
{
	static const struct {
		const char *text;
		int rc;
		int64_t v;
	} cases[] = {
		{ "0", 0, 0 }, { "-0", 0, 0 }, { "7", 0, 7 }, { "123", 0, 123 }, { "-123", 0, -123 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775806", 0, INT64_MAX - 1 },
		{ "-9223372036854775807", 0, INT64_MIN + 1 },
		{ "9223372036854775808", PZ_EJSON, 0 },
		{ "-9223372036854775809", PZ_EJSON, 0 },
		{ "9223372036854775810", PZ_EJSON, 0 },
		{ "18446744073709551615", PZ_EJSON, 0 },
		{ "18446744073709551616", PZ_EJSON, 0 },
		{ "99999999999999999999", PZ_EJSON, 0 },
		{ "-99999999999999999999", PZ_EJSON, 0 },
		{ "1.5", PZ_EJSON, 0 }, { "1.0", PZ_EJSON, 0 }, { "1e3", PZ_EJSON, 0 }, { "-1E3", PZ_EJSON, 0 },
		{ "-", PZ_EJSON, 0 }, { "--1", PZ_EJSON, 0 }, { "1-", PZ_EJSON, 0 },
		{ "true", PZ_EJSON, 0 }, { "false", PZ_EJSON, 0 }, { "null", PZ_EJSON, 0 },
		{ "\"5\"", PZ_EJSON, 0 }, { "{}", PZ_EJSON, 0 }, { "[]", PZ_EJSON, 0 },
	};

	for (size_t i = 0; i < PZ_ARRAY_LEN(cases); i++) {
		char doc[64];
		struct json_doc d;
		int64_t v = 12345;
		int rc;
		snprintf(doc, sizeof doc, "[%s]", cases[i].text);
		if (parse(&d, doc) < 2) {
			/* not even valid JSON ("-", "--1"): json_parse refuses it, which is the same
			 * verdict json_int would give */
			CHECK_EQ_INT(cases[i].rc, PZ_EJSON);
			continue;
		}
		rc = json_int(&d, 1, &v);
		if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
			fprintf(stderr, "json_int(%s) = %d, %lld\n", cases[i].text, rc, (long long)v);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (cases[i].rc == 0)
			CHECK(v == cases[i].v);
	}
	{
		struct json_doc d;
		int64_t v;
		CHECK(parse(&d, "[1]") == 2);
		CHECK_EQ_INT(json_int(&d, -1, &v), PZ_EJSON);
		CHECK_EQ_INT(json_int(&d, 2, &v), PZ_EJSON);
		CHECK_EQ_INT(json_int(&d, 0, &v), PZ_EJSON);
	}
}

/* ---- writer ---- */

/* One document built through every writer call; `w` must be initialised. */
static void build(struct json_w *w)
{
	json_w_obj(w);
	json_w_kstr(w, "name", "order-123");
	json_w_key(w, "spec");
	json_w_obj(w);
	json_w_kint(w, "n", 1);
	json_w_key(w, "list");
	json_w_arr(w);
	json_w_int(w, 1);
	json_w_cstr(w, "x");
	json_w_obj(w);
	json_w_key(w, "b");
	json_w_bool(w, 1);
	json_w_close(w);
	json_w_arr(w);
	json_w_close(w);
	json_w_obj(w);
	json_w_close(w);
	json_w_bool(w, 0);
	json_w_str(w, "a\0b", 3);
	json_w_close(w);
	json_w_key(w, "empty");
	json_w_obj(w);
	json_w_close(w);
	json_w_key(w, "nested");
	json_w_arr(w);
	json_w_arr(w);
	json_w_arr(w);
	json_w_close(w);
	json_w_close(w);
	json_w_int(w, 0);
	json_w_close(w);
	json_w_close(w);
	json_w_kint(w, "min", INT64_MIN);
	json_w_kint(w, "max", INT64_MAX);
	json_w_kint(w, "neg", -42);
	json_w_kstr(w, "k\"ey", "");
	json_w_close(w);
}

static const char built[] = "{\"name\":\"order-123\",\"spec\":{\"n\":1,\"list\":[1,\"x\",{\"b\":true},[],{},false,"
	"\"a\\u0000b\"],\"empty\":{},\"nested\":[[[]],0]},\"min\":-9223372036854775808,"
	"\"max\":9223372036854775807,\"neg\":-42,\"k\\\"ey\":\"\"}";

static void test_writer_exact(void)
{
	static char buf[1024];
	struct json_w w;
	struct json_doc d;
	int64_t v = 0;
	int rc;

	memset(buf, 'Z', sizeof buf);
	json_w_init(&w, buf, sizeof buf);
	build(&w);
	rc = json_w_end(&w);
	CHECK_EQ_INT(rc, (long)sizeof built - 1);
	CHECK_EQ_STR(buf, built);
	/* It parses back to what was written. */
	CHECK(json_parse(&d, buf, (size_t)(rc > 0 ? rc : 0), tok, PZ_ARRAY_LEN(tok)) > 0);
	CHECK_EQ_STR(str(&d, json_get(&d, 0, "name")), "order-123");
	CHECK_EQ_INT(json_int(&d, json_get(&d, 0, "min"), &v), 0);
	CHECK(v == INT64_MIN);
	CHECK_EQ_INT(json_int(&d, json_get(&d, 0, "max"), &v), 0);
	CHECK(v == INT64_MAX);
	CHECK_EQ_INT(d.tok[json_path(&d, 0, "spec.list")].size, 7);
	CHECK(json_get(&d, 0, "k\\\"ey") > 0);

	/* A top-level array, and the smallest documents. */
	json_w_init(&w, buf, sizeof buf);
	json_w_arr(&w);
	json_w_arr(&w);
	json_w_close(&w);
	json_w_arr(&w);
	json_w_arr(&w);
	json_w_close(&w);
	json_w_close(&w);
	json_w_obj(&w);
	json_w_close(&w);
	json_w_close(&w);
	CHECK_EQ_INT(json_w_end(&w), 12);
	CHECK_EQ_STR(buf, "[[],[[]],{}]");
	json_w_init(&w, buf, 3);
	json_w_obj(&w);
	json_w_close(&w);
	CHECK_EQ_INT(json_w_end(&w), 2);
	CHECK_EQ_STR(buf, "{}");
}

static void test_writer_escaping(void)
{
	static char buf[4096], back[1024];
	static const char want[] = "[\"q\\\"b\\\\s/\\n\\r\\t\\u0008\\u000c\\u0001\\u001f\\u007f \xc3\xa9~\"]";
	char all[256];
	struct json_w w;
	struct json_doc d;
	int rc;

	json_w_init(&w, buf, sizeof buf);
	json_w_arr(&w);
	json_w_cstr(&w, "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f \xc3\xa9~");
	json_w_close(&w);
	CHECK_EQ_INT(json_w_end(&w), (long)sizeof want - 1);
	CHECK_EQ_STR(buf, want);

	/* Every byte but NUL survives writer -> json_parse -> json_str, as a value and as a key. */
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = 0;
	json_w_init(&w, buf, sizeof buf);
	json_w_obj(&w);
	json_w_kstr(&w, all, all);
	json_w_close(&w);
	rc = json_w_end(&w);
	CHECK(rc > 0);
	for (int i = 0; i < rc; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			CHECK(!"raw control byte in writer output");
			break;
		}
	CHECK_EQ_INT(json_parse(&d, buf, (size_t)(rc > 0 ? rc : 0), tok, PZ_ARRAY_LEN(tok)), 3);
	CHECK_EQ_INT(json_str(&d, 1, back, sizeof back), 255);
	CHECK(memcmp(back, all, 256) == 0);
	CHECK_EQ_INT(json_str(&d, 2, back, sizeof back), 255);
	CHECK(memcmp(back, all, 256) == 0);
}

/* Every buffer smaller than the document is PZ_ETOOBIG from json_w_end, with nothing written past
 * cap (the buffer ends at a guard page); one byte more than its length (for the NUL) fits. */
static void test_writer_overflow(void)
{
	size_t len = sizeof built - 1;
	struct guard g;
	struct json_w w;
	int bad = 0, rc;

	guard_init(&g, len + 1);
	for (size_t cap = 0; cap <= len; cap++) {
		json_w_init(&w, g.end - cap, cap);
		build(&w);
		if ((rc = json_w_end(&w)) != PZ_ETOOBIG) {
			fprintf(stderr, "writer cap %zu of %zu: %d\n", cap, len, rc);
			bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
	json_w_init(&w, g.end - (len + 1), len + 1);
	build(&w);
	CHECK_EQ_INT(json_w_end(&w), (long)len);
	CHECK_EQ_STR(g.end - (len + 1), built);

	/* The first error sticks: an unbalanced close after an overflow still reports the overflow. */
	json_w_init(&w, g.end - 4, 4);
	json_w_cstr(&w, "too long");
	json_w_close(&w);
	CHECK_EQ_INT(json_w_end(&w), PZ_ETOOBIG);
	guard_free(&g);
}

static void test_writer_nesting(void)
{
	static char buf[256];
	char want[2 * JSON_W_DEPTH_MAX + 1];
	struct json_w w;
	struct json_doc d;

	/* Unbalanced: a close too many, an open never closed. */
	json_w_init(&w, buf, sizeof buf);
	json_w_close(&w);
	CHECK_EQ_INT(json_w_end(&w), PZ_EJSON);
	json_w_init(&w, buf, sizeof buf);
	json_w_obj(&w);
	json_w_close(&w);
	json_w_close(&w);
	CHECK_EQ_INT(json_w_end(&w), PZ_EJSON);
	json_w_init(&w, buf, sizeof buf);
	json_w_obj(&w);
	json_w_key(&w, "a");
	json_w_arr(&w);
	CHECK_EQ_INT(json_w_end(&w), PZ_EJSON);
	/* The first error sticks: balanced again afterwards is still an error. */
	json_w_init(&w, buf, sizeof buf);
	json_w_close(&w);
	json_w_obj(&w);
	json_w_close(&w);
	CHECK_EQ_INT(json_w_end(&w), PZ_EJSON);

	/* JSON_W_DEPTH_MAX deep is fine... */
	json_w_init(&w, buf, sizeof buf);
	for (int i = 0; i < JSON_W_DEPTH_MAX; i++)
		json_w_arr(&w);
	for (int i = 0; i < JSON_W_DEPTH_MAX; i++)
		json_w_close(&w);
	memset(want, '[', JSON_W_DEPTH_MAX);
	memset(want + JSON_W_DEPTH_MAX, ']', JSON_W_DEPTH_MAX);
	want[2 * JSON_W_DEPTH_MAX] = 0;
	CHECK_EQ_INT(json_w_end(&w), 2 * JSON_W_DEPTH_MAX);
	CHECK_EQ_STR(buf, want);
	CHECK(json_parse(&d, buf, 2 * JSON_W_DEPTH_MAX, tok, PZ_ARRAY_LEN(tok)) == JSON_W_DEPTH_MAX);

	/* ...one more is an error, and going on (far) past it stays in bounds (UBSan checks). */
	json_w_init(&w, buf, sizeof buf);
	for (int i = 0; i < JSON_W_DEPTH_MAX + 1; i++)
		json_w_arr(&w);
	for (int i = 0; i < JSON_W_DEPTH_MAX + 1; i++)
		json_w_close(&w);
	CHECK(json_w_end(&w) < 0);
	json_w_init(&w, buf, sizeof buf);
	for (int i = 0; i < 4 * JSON_W_DEPTH_MAX; i++) {
		json_w_obj(&w);
		json_w_key(&w, "k");
	}
	json_w_int(&w, 1);
	for (int i = 0; i < 4 * JSON_W_DEPTH_MAX; i++)
		json_w_close(&w);
	CHECK(json_w_end(&w) < 0);
}

int main(void)
{
	run("recorded order", test_recorded_order);
	run("recorded others", test_recorded_others);
	run("parse token cap", test_parse_token_cap);
	run("parse bad", test_parse_bad);
	run("parse malformed but complete", test_parse_malformed_complete);
	run("get path eq", test_get_path_eq);
	run("eq past the last token", test_eq_past_end);
	run("str escapes", test_str_escapes);
	run("str bad unicode", test_str_bad_unicode);
	run("str cap", test_str_cap);
	run("int", test_int);
	run("writer exact", test_writer_exact);
	run("writer escaping", test_writer_escaping);
	run("writer overflow", test_writer_overflow);
	run("writer nesting", test_writer_nesting);
	return check_done("json");
}
