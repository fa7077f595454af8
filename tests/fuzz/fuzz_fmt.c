/*
 * fuzz_fmt.c - libFuzzer target for pz_snprintf (src/fmt.h): random formats made only of the
 * conversions fmt.h supports, with random arguments, must give exactly what the libc's snprintf
 * gives (return value and bytes) at every cap, never write outside [buf, buf + cap) (buf ends at a
 * PROT_NONE page and follows marker bytes) and never read the format past its NUL (the format too
 * ends at a PROT_NONE page).
 *
 * Arguments cannot be typed at run time, so each input picks one of a few fixed argument lists
 * (SIGS: i int, l long, L long long, z size_t, s string) and the format is built to match it: each
 * conversion takes the next argument, a '*' width or precision an int one when the next is an int.
 *
 * Input layout:
 *   byte 0      the argument list (SIGS[b % NSIG])
 *   byte 1      a small cap to try besides 0, 1, exact-1, exact, exact+1
 *   then        the 8 arguments: i 4 bytes, l/L/z 8 bytes, s a length byte (% 80) and the bytes
 *   then ops    one byte each: bits 0-1: 0 a literal byte (next byte), 1 "%%", 2-3 a conversion:
 *               its flags, width, precision and letter come from the op's bits 2-7 and the next byte
 */
#include "fuzz.h"
#include "fmt.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#define SLOTS 8
#define FMT_MAX 1024
/* 8 conversions of at most 999 wide or 999 digits each, plus FMT_MAX of literal text */
#define OUT_MAX 16384
#define STR_MAX 80

static const char *const SIGS[] = {
	"iiiiiiii", "iiLiisiz", "sisisisi", "LLiLzzll", "iisiiLiz", "liizsiLs", "zzzzzzzz", "iiiiisss",
};
#define NSIG (sizeof SIGS / sizeof SIGS[0])

union slot {
	int i;
	long l;
	long long L;
	size_t z;
	const char *s;
};

struct in {
	const uint8_t *p, *end;
};

static unsigned byte(struct in *in) { return in->p < in->end ? *in->p++ : 0; }

static uint64_t bytes(struct in *in, int n)
{
	uint64_t v = 0;
	for (int k = 0; k < n; k++)
		v = v << 8 | byte(in);
	return v;
}

/* One region per use, each ending at a PROT_NONE page. */
static char *guard_end(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), data = (len + pg - 1) / pg * pg;
	char *m = mmap(NULL, data + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED && mprotect(m + data, pg, PROT_NONE) == 0);
	return m + data;
}

static char *out_end, *fmt_end;
static char want[OUT_MAX], ref[OUT_MAX];
static char strs[SLOTS][STR_MAX + 1];

/* The call with the argument list of SIGS[sig]: written out, since C types every argument at
 * compile time. The same list feeds pz_snprintf and the libc's snprintf. */
#define CALLS(F) \
	switch (sig) { \
	case 0: return F(b, cap, fmt, v[0].i, v[1].i, v[2].i, v[3].i, v[4].i, v[5].i, v[6].i, v[7].i); \
	case 1: return F(b, cap, fmt, v[0].i, v[1].i, v[2].L, v[3].i, v[4].i, v[5].s, v[6].i, v[7].z); \
	case 2: return F(b, cap, fmt, v[0].s, v[1].i, v[2].s, v[3].i, v[4].s, v[5].i, v[6].s, v[7].i); \
	case 3: return F(b, cap, fmt, v[0].L, v[1].L, v[2].i, v[3].L, v[4].z, v[5].z, v[6].l, v[7].l); \
	case 4: return F(b, cap, fmt, v[0].i, v[1].i, v[2].s, v[3].i, v[4].i, v[5].L, v[6].i, v[7].z); \
	case 5: return F(b, cap, fmt, v[0].l, v[1].i, v[2].i, v[3].z, v[4].s, v[5].i, v[6].L, v[7].s); \
	case 6: return F(b, cap, fmt, v[0].z, v[1].z, v[2].z, v[3].z, v[4].z, v[5].z, v[6].z, v[7].z); \
	default: return F(b, cap, fmt, v[0].i, v[1].i, v[2].i, v[3].i, v[4].i, v[5].s, v[6].s, v[7].s); \
	}

static int call_pz(unsigned sig, char *b, size_t cap, const char *fmt, const union slot *v) { CALLS(pz_snprintf) }
static int call_libc(unsigned sig, char *b, size_t cap, const char *fmt, const union slot *v) { CALLS(snprintf) }

/* Appends a width or precision of 1-3 digits, the first never '0' for a width (it would be the flag). */
static size_t put_digits(char *f, size_t n, unsigned r, int is_width)
{
	unsigned val = r % 1000;
	char d[4];
	int k = 0;

	if (is_width && val == 0)
		val = 1;
	do
		d[k++] = (char)('0' + val % 10);
	while ((val /= 10) != 0);
	if (!is_width && (r & 0x400))
		f[n++] = '0'; /* ".05": a leading zero in a precision is just a digit */
	while (k)
		f[n++] = d[--k];
	return n;
}

/* A small int for a '*': -40..40 mostly, up to +-999 sometimes. */
static int star_value(int raw) { return raw & 0x100 ? raw % 1000 : raw % 41; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, data + size };
	union slot v[SLOTS];
	char fmt[FMT_MAX + 32];
	size_t fn = 0;
	int slot = 0;

	if (!out_end) {
		out_end = guard_end(OUT_MAX + 64);
		fmt_end = guard_end(FMT_MAX + 64);
	}
	unsigned sig = byte(&in) % NSIG;
	unsigned small = byte(&in) % 16;
	const char *types = SIGS[sig];

	for (int k = 0; k < SLOTS; k++) {
		switch (types[k]) {
		case 'i': v[k].i = (int)(uint32_t)bytes(&in, 4); break;
		case 'l': v[k].l = (long)bytes(&in, 8); break;
		case 'L': v[k].L = (long long)bytes(&in, 8); break;
		case 'z': v[k].z = (size_t)bytes(&in, 8); break;
		default: {
			unsigned n = byte(&in) % (STR_MAX + 1);
			for (unsigned j = 0; j < n; j++)
				strs[k][j] = (char)byte(&in);
			strs[k][n] = '\0'; /* a NUL among the bytes just makes it shorter */
			v[k].s = strs[k];
		}
		}
	}

	while (in.p < in.end && fn < FMT_MAX) {
		unsigned op = byte(&in), r = byte(&in);
		if ((op & 3) == 0 || ((op & 3) >= 2 && slot >= SLOTS)) {
			fmt[fn++] = r && r != '%' ? (char)r : 'x';
			continue;
		}
		if ((op & 3) == 1) {
			fmt[fn++] = '%';
			fmt[fn++] = '%';
			continue;
		}
		/* A conversion for the argument at slot (after the '*' ints it may take first). */
		char conv_type;
		int star_w = 0, star_p = 0;
		unsigned wkind = op >> 2 & 3, pkind = op >> 4 & 3;
		if (wkind == 3 && types[slot] == 'i' && slot + 1 < SLOTS) {
			star_w = 1;
			v[slot].i = star_value(v[slot].i);
			slot++;
		}
		if (pkind == 3 && types[slot] == 'i' && slot + 1 < SLOTS) {
			star_p = 1;
			v[slot].i = star_value(v[slot].i);
			slot++;
		}
		conv_type = types[slot++];
		int is_c = conv_type == 'i' && (r & 7) == 7 && !star_p; /* %c takes no precision */
		int text = conv_type == 's' || is_c;                       /* and no '0', like %s */

		fmt[fn++] = '%';
		if (op & 0x40)
			fmt[fn++] = '-';
		if ((op & 0x80) && !text)
			fmt[fn++] = '0';
		if ((r & 0x80) && (op & 0x40))
			fmt[fn++] = '-';
		if (star_w)
			fmt[fn++] = '*';
		else if (wkind == 1 || wkind == 3)
			fn = put_digits(fmt, fn, r * 7 + op, 1);
		else if (wkind == 2)
			fn = put_digits(fmt, fn, r % 24, 1);
		if (!is_c) {
			if (star_p) {
				fmt[fn++] = '.';
				fmt[fn++] = '*';
			} else if (pkind == 1) {
				fmt[fn++] = '.';
			} else if (pkind >= 2) {
				fmt[fn++] = '.';
				fn = put_digits(fmt, fn, pkind == 2 ? r % 30 : r * 13 + op, 0);
			}
		}
		static const char convs[] = "diuxX";
		switch (conv_type) {
		case 'i': fmt[fn++] = is_c ? 'c' : convs[(r & 7) % 5]; break;
		case 'l': fmt[fn++] = 'l'; fmt[fn++] = convs[(r & 7) % 5]; break;
		case 'L': fmt[fn++] = 'l'; fmt[fn++] = 'l'; fmt[fn++] = convs[(r & 7) % 5]; break;
		case 'z': fmt[fn++] = 'z'; fmt[fn++] = convs[(r & 7) % 5]; break;
		default: fmt[fn++] = 's'; break;
		}
	}
	fmt[fn] = '\0';
	/* The format as the last bytes before a PROT_NONE page: a read past its NUL faults. */
	char *f = memcpy(fmt_end - fn - 1, fmt, fn + 1);

	int wn = call_libc(sig, want, sizeof want, f, v);
	CHECK(wn >= 0 && wn < OUT_MAX);
	size_t w = (size_t)wn;
	size_t caps[] = { 0, 1, small, w ? w - 1 : 0, w, w + 1, OUT_MAX };
	for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
		size_t cap = caps[c], keep = cap ? (w < cap - 1 ? w : cap - 1) : 0;
		char *b = out_end - cap;

		memset(b - 32, 0x5a, cap + 32);
		int gn = call_pz(sig, cap ? b : NULL, cap, f, v);
		if (gn != wn || (cap && (memcmp(b, want, keep) != 0 || b[keep] != '\0')))
			fprintf(stderr, "format \"%s\" cap %zu: pz %d \"%.*s\", libc %d \"%s\"\n", fmt, cap, gn,
				(int)keep, cap ? b : "", wn, want);
		CHECK(gn == wn);
		CHECK(cap == 0 || (memcmp(b, want, keep) == 0 && b[keep] == '\0'));
		for (int k = 1; k <= 32; k++)
			CHECK((unsigned char)b[-k] == 0x5a);
		/* the libc at the same cap stores the same bytes */
		memset(ref, 0x5a, cap + 1 < sizeof ref ? cap + 1 : sizeof ref);
		CHECK(call_libc(sig, cap ? ref : NULL, cap, f, v) == wn);
		CHECK(cap == 0 || memcmp(ref, b, keep + 1) == 0);
	}
	return 0;
}
