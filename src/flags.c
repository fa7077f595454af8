/*
 * flags.c - Go-style durations and flag names (see flags.h). Start-up only, no state.
 */
#include "flags.h"
#include "pz.h"

#include <string.h>

#define NS_PER_MS 1000000LL

struct unit {
	const char *name;
	int64_t ns;
};

/* Longest names first where one is a prefix of another ("ms" before "m"). */
static const struct unit units[] = {
	{ "ns", 1LL }, { "us", 1000LL }, { "\xc2\xb5s", 1000LL }, { "\xce\xbcs", 1000LL },
	{ "ms", NS_PER_MS }, { "s", 1000LL * NS_PER_MS }, { "m", 60000LL * NS_PER_MS },
	{ "h", 3600000LL * NS_PER_MS },
};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* floor(unit * 0.d1d2...dn) for the fraction digits f[0..n), exactly, without overflow: Horner's
 * rule from the last digit, x = (d * unit + x) / 10, where flooring at each step gives the floor
 * of the whole because d * unit is an integer. Every intermediate stays below 10 * unit. */
static int64_t fraction_ns(const char *f, size_t n, int64_t unit)
{
	int64_t x = 0;
	while (n--)
		x = ((int64_t)(f[n] - '0') * unit + x) / 10;
	return x;
}

int flags_duration(const char *s, int64_t *ms)
{
	const int64_t max = INT64_MAX;
	int64_t total = 0;

	if (!s || !*s)
		return PZ_ECONFIG;
	if (*s == '+')
		s++;
	else if (*s == '-')
		return PZ_ECONFIG;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (!*s)
		return PZ_ECONFIG;
	while (*s) {
		const char *ip = s, *fp = NULL;
		size_t il, fl = 0, k;
		if (!is_digit(*s) && *s != '.')
			return PZ_ECONFIG;
		while (is_digit(*s))
			s++;
		il = (size_t)(s - ip);
		if (*s == '.') {
			fp = ++s;
			while (is_digit(*s))
				s++;
			fl = (size_t)(s - fp);
		}
		if (il == 0 && fl == 0)
			return PZ_ECONFIG; /* "." or ".s": no digits at all */
		for (k = 0; k < PZ_ARRAY_LEN(units); k++) {
			size_t ul = strlen(units[k].name);
			/* the unit ends where the next number starts (or at the end) */
			if (strncmp(s, units[k].name, ul) == 0 && (s[ul] == 0 || is_digit(s[ul]) || s[ul] == '.'))
				break;
		}
		if (k == PZ_ARRAY_LEN(units))
			return PZ_ECONFIG; /* missing or unknown unit */
		int64_t unit = units[k].ns, v = 0;
		s += strlen(units[k].name);
		for (size_t i = 0; i < il; i++) {
			if (v > (max - (ip[i] - '0')) / 10)
				return PZ_ECONFIG;
			v = v * 10 + (ip[i] - '0');
		}
		if (v > max / unit)
			return PZ_ECONFIG;
		v *= unit;
		if (fl) {
			int64_t f = fraction_ns(fp, fl, unit);
			if (v > max - f)
				return PZ_ECONFIG;
			v += f;
		}
		if (total > max - v)
			return PZ_ECONFIG;
		total += v;
	}
	*ms = total / NS_PER_MS + (total % NS_PER_MS != 0);
	return 0;
}

const char *flags_name(const char *arg)
{
	if (!arg || arg[0] != '-' || arg[1] == 0)
		return NULL;
	arg++;
	if (arg[0] == '-') {
		arg++;
		if (arg[0] == 0)
			return NULL; /* "--": end of flags */
	}
	if (arg[0] == '-' || arg[0] == '=')
		return NULL; /* "---x" and "-=x": Go's "bad flag syntax" */
	return arg;
}
