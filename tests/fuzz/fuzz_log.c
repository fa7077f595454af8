/*
 * fuzz_log.c - libFuzzer target for the log writer (src/log.h): random bytes as values, in both
 * formats, must always give exactly one line (one newline, at the end, at most LOG_LINE_MAX bytes)
 * that the strict reader of logparse.h parses back into the fields that were asked, with the
 * values that were given (ill-formed UTF-8 read back as U+FFFD), cut only as log.h allows.
 *
 * Input layout:
 *   byte 0      bit 0: JSON; bits 1-2: the line's level; bits 3-4: log_min_level
 *   byte 1      msg length m, then m bytes of msg
 *   then ops    one byte each: bits 0-2 the call, bit 3 a key with bytes logfmt must replace;
 *               str/mem take a 2-byte length (12 bits) and the bytes, int takes 8 bytes, err 4,
 *               object three 1-byte lengths and the bytes, fill a byte and a 2-byte count.
 * Keys are made unique per line (k0, k1, ..): the reader refuses a key twice, and the writer leaves
 * that to its callers.
 */
#include "fuzz.h"
#include "log.h"
#include "logparse.h"
#include "pz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Enough ops to cut any line: 2 KiB of output is reached long before. */
#define OPS_MAX 100
#define VALUE_MAX 4096

static int out_fd = -1;
static char out[LP_LINE_MAX * 2];
static struct lp_record rec;
static struct lp_want want[LP_FIELDS_MAX];
/* Expected decoded values: each up to 3x its input (U+FFFD for each byte). */
static char arena[OPS_MAX * 3 * (VALUE_MAX + 8) + 4096];
static char keys[OPS_MAX + 8][LP_KEY_MAX];
static size_t used;
static int nw;

static const char *expect(const char *v, size_t n)
{
	const char *p = arena + used;
	used += lp_expect(v, n, arena + used);
	return p;
}

/* A field whose expected value runs from v to the end of the arena (NULL: not compared). */
static void want_add(const char *key, const char *v)
{
	CHECK(nw < LP_FIELDS_MAX);
	want[nw].key = key;
	want[nw].val = v;
	want[nw].vlen = v ? (size_t)(arena + used - v) : 0;
	nw++;
}

/* The field's expected value is the input, with ill-formed UTF-8 as U+FFFD. */
static void want_value(const char *key, const char *v, size_t n)
{
	const char *e = expect(v, n);
	want_add(key, e);
}

static void want_text(const char *key, const char *text)
{
	want_value(key, text, strlen(text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char value[VALUE_MAX + 1];
	size_t i = 0, n, k;
	int json, level, min, ops = 0, object_done = 0, err_done = 0, rc;
	ssize_t got;

	if (size < 2)
		return 0;
	if (out_fd < 0) {
		out_fd = memfd_create("fuzz_log", 0);
		CHECK(out_fd >= 0);
	}
	CHECK(ftruncate(out_fd, 0) == 0 && lseek(out_fd, 0, SEEK_SET) == 0);
	log_fd = out_fd;
	json = data[0] & 1;
	level = (data[0] >> 1) & 3;
	min = (data[0] >> 3) & 3;
	log_format = json ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT;
	log_min_level = (enum log_level)min;
	used = 0;
	nw = 0;

	n = data[1];
	i = 2;
	if (n > size - i)
		n = size - i;
	memcpy(value, data + i, n);
	i += n;
	CHECK(log_begin((enum log_level)level, NULL) == (level >= min));
	/* begun again with the real message: the first line is replaced, never written */
	value[n] = '\0';
	CHECK(log_begin((enum log_level)level, value) == (level >= min));
	want_add("ts", NULL);
	want_text("level", level == 0 ? "debug" : level == 1 ? "info" : level == 2 ? "warn" : "error");
	want_value("msg", value, strnlen(value, n));

	while (i < size && ops < OPS_MAX) {
		uint8_t op = data[i++];
		char key[LP_KEY_MAX];
		const char *wkey = keys[ops];

		/* bit 3: a key logfmt must repair; it reads back with '_' for space, quote and '=' */
		snprintf(key, sizeof key, op & 8 ? "bad k%d=\"" : "k%d", ops);
		memcpy(keys[ops], key, sizeof key);
		for (char *c = keys[ops]; !json && *c; c++)
			if (*c == ' ' || *c == '=' || *c == '"')
				*c = '_';
		ops++;
		switch (op & 7) {
		case 0: /* str: up to the first NUL */
		case 1: /* mem */
			n = i + 2 <= size ? (size_t)(data[i] | (data[i + 1] & 0x0f) << 8) : 0;
			i = i + 2 <= size ? i + 2 : size;
			if (n > size - i)
				n = size - i;
			memcpy(value, data + i, n);
			value[n] = '\0';
			i += n;
			if ((op & 7) == 0) {
				log_str(key, value);
				n = strlen(value);
			} else {
				log_mem(key, value, n);
			}
			break;
		case 2: { /* int */
			long long v = 0;
			k = size - i < 8 ? size - i : 8;
			memcpy(&v, data + i, k);
			i += k;
			log_int(key, v);
			n = (size_t)snprintf(value, sizeof value, "%lld", v);
			break;
		}
		case 3: /* err */
		case 4: { /* NULL value */
			int code = 0;
			if ((op & 7) == 4) {
				log_str(key, NULL);
				value[0] = '\0';
				n = 0;
				break;
			}
			if (err_done) {
				ops--;
				continue;
			}
			err_done = 1;
			k = size - i < 4 ? size - i : 4;
			memcpy(&code, data + i, k);
			i += k;
			log_err(code);
			wkey = "error";
			snprintf(value, sizeof value, "%s", pz_strerror(code));
			n = strlen(value);
			break;
		}
		case 5: /* object */
		case 6: { /* object without reconcileID */
			char part[3][256];
			size_t len[3];
			if (object_done) {
				ops--;
				continue;
			}
			object_done = 1;
			for (int p = 0; p < 3; p++) {
				len[p] = i < size ? data[i++] : 0;
				if (len[p] > size - i)
					len[p] = size - i;
				memcpy(part[p], data + i, len[p]);
				part[p][len[p]] = '\0';
				i += len[p];
				len[p] = strlen(part[p]);
			}
			log_object(part[0], part[1], (op & 7) == 5 ? part[2] : NULL);
			want_text("controller", "pizzaorder");
			want_text("controllerGroup", "pizzeria.example.com");
			want_text("controllerKind", "PizzaOrder");
			if (json) {
				want_value("PizzaOrder.name", part[1], len[1]);
				want_value("PizzaOrder.namespace", part[0], len[0]);
			} else {
				const char *e = expect(part[0], len[0]);
				expect("/", 1);
				expect(part[1], len[1]);
				want_add("PizzaOrder", e);
			}
			want_value("namespace", part[0], len[0]);
			want_value("name", part[1], len[1]);
			if ((op & 7) == 5)
				want_value("reconcileID", part[2], len[2]);
			continue;
		}
		default: { /* fill: one byte repeated, to reach the cut quickly */
			uint8_t b = i < size ? data[i++] : 'x';
			n = i + 2 <= size ? (size_t)(data[i] | (data[i + 1] & 0x0f) << 8) : 0;
			i = i + 2 <= size ? i + 2 : size;
			memset(value, b, n);
			log_mem(key, value, n);
			break;
		}
		}
		want_value(wkey, value, n);
	}
	log_end();

	got = pread(out_fd, out, sizeof out, 0);
	CHECK(got >= 0);
	if (level < min) {
		CHECK(got == 0);
		return 0;
	}
	CHECK(got > 0 && got <= LOG_LINE_MAX);
	rc = lp_parse(out, (size_t)got, json, &rec);
	if (rc != 0)
		fprintf(stderr, "unreadable line (%s): %.*s", lp_why(rc), (int)got, out);
	CHECK(rc == 0);
	CHECK(lp_ts_ok(&rec, json));
	rc = lp_match(&rec, want, nw);
	if (rc != 0)
		fprintf(stderr, "line differs from what was asked (%d): %.*s", rc, (int)got, out);
	CHECK(rc == 0);
	/* a line is cut only when what was asked does not fit */
	if (lp_get(&rec, "truncated"))
		CHECK(got > LOG_LINE_MAX - 6 * 4 - 64);
	return 0;
}
