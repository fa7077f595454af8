/*
 * fmt.c - pz_snprintf (fmt.h): one pass over the format; every field is laid out as
 * [spaces][sign][zeros][body][spaces] and each part goes through put(), which counts all of it and
 * stores what fits. No stdio, no locale, no float, no allocation, no state.
 *
 * A conversion fmt.h does not list is a caller's bug (-Wformat passes %f; this does not), so it
 * ends in PZ_BUG. pz_bug logs through log_begin(), never through here, so a trap cannot recurse.
 */
#include "fmt.h"
#include "pz.h"

#include <limits.h>
#include <string.h>

#define NO_PREC SIZE_MAX

struct out {
	char *buf;
	size_t room; /* bytes that may be stored: cap - 1, the last byte is the NUL's */
	size_t len;  /* bytes the whole output has so far, stored or not */
};

/* Appends n bytes: s[0], s[1], .. with step 1, or s[0] n times with step 0 (padding). */
static void put(struct out *o, const char *s, size_t n, size_t step)
{
	for (size_t i = 0; i < n && o->len + i < o->room; i++)
		o->buf[o->len + i] = s[i * step];
	o->len += n;
}

/* A decimal width or precision; more than INT_MAX is the same bug C's printf returns -1 for. */
static size_t digits(const char **p)
{
	size_t v = 0;
	while (**p >= '0' && **p <= '9') {
		v = v * 10 + (size_t)(*(*p)++ - '0');
		if (v > INT_MAX)
			PZ_BUG("pz_snprintf: width or precision over INT_MAX");
	}
	return v;
}

int pz_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = { buf, cap ? cap - 1 : 0, 0 };
	/* Digits of an integer, written backwards from the end: UINT64_MAX has 20. */
	char tmp[24], *end = tmp + sizeof tmp;

	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, p, 1, 1);
			continue;
		}
		int left = 0, zero = 0, lng = 0; /* lng: 0 int, 1 l, 2 ll, 3 z */
		size_t width, prec = NO_PREC, n, zeros = 0;
		const char *body = tmp;
		char sign = 0;

		for (p++; *p == '-' || *p == '0'; p++) {
			if (*p == '-')
				left = 1;
			else
				zero = 1;
		}
		if (*p == '*') {
			int w = va_arg(ap, int);
			p++;
			if (w < 0)
				left = 1;
			width = w < 0 ? 0u - (unsigned)w : (unsigned)w;
			if (width > INT_MAX)
				goto bad;
		} else {
			width = digits(&p);
		}
		if (*p == '.') {
			p++;
			if (*p == '*') {
				int pr = va_arg(ap, int);
				p++;
				prec = pr < 0 ? NO_PREC : (size_t)pr;
			} else {
				prec = digits(&p);
			}
		}
		if (*p == 'l' && p[1] == 'l') {
			lng = 2;
			p += 2;
		} else if (*p == 'l' || *p == 'z') {
			lng = *p++ == 'l' ? 1 : 3;
		}

		switch (*p) {
		case '%':
			/* Only the plain "%%": anything between the two is undefined in C. */
			if (p[-1] != '%')
				goto bad;
			body = "%";
			n = 1;
			break;
		case 'c':
			if (prec != NO_PREC)
				goto bad;
			tmp[0] = (char)va_arg(ap, int);
			n = 1;
			goto text;
		case 's':
			body = va_arg(ap, const char *);
			if (!body)
				goto bad;
			n = prec == NO_PREC ? strlen(body) : strnlen(body, prec);
		text:
			if (lng || zero)
				goto bad;
			break;
		case 'd': case 'i': case 'u': case 'x': case 'X': {
			unsigned long long u = lng == 2 ? va_arg(ap, unsigned long long)
			                     : lng == 1 ? va_arg(ap, unsigned long)
			                     : lng == 3 ? va_arg(ap, size_t) : va_arg(ap, unsigned);
			unsigned base = *p == 'x' || *p == 'X' ? 16 : 10;
			const char *dig = *p == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
			if (base == 10 && *p != 'u') {
				/* Back to the signed type the caller passed (modulo, as GCC and Clang define). */
				long long v = lng == 2 ? (long long)u : lng ? (long)u : (int)u;
				if (v < 0) {
					sign = '-';
					u = 0ull - (unsigned long long)v;
				}
			}
			char *d = end;
			for (; u; u /= base)
				*--d = dig[u % base];
			body = d;
			n = (size_t)(end - d);
			/* C: the precision is the minimum digit count (1 by default; 0 prints nothing for 0),
			 * and a precision turns the '0' flag off. */
			if (prec == NO_PREC)
				prec = 1;
			else
				zero = 0;
			zeros = prec > n ? prec - n : 0;
			if (zero && !left && width > (sign != 0) + n)
				zeros = width - (sign != 0) - n;
			break;
		}
		default:
			goto bad;
		}

		size_t field = (sign != 0) + zeros + n;
		size_t pad = width > field ? width - field : 0;
		if (!left)
			put(&o, " ", pad, 0);
		put(&o, &sign, sign != 0, 0);
		put(&o, "0", zeros, 0);
		put(&o, body, n, 1);
		if (left)
			put(&o, " ", pad, 0);
	}
	if (cap)
		buf[o.len < o.room ? o.len : o.room] = '\0';
	if (o.len > INT_MAX)
		PZ_BUG("pz_snprintf: output over INT_MAX bytes");
	return (int)o.len;
bad:
	PZ_BUG("pz_snprintf: conversion not supported (see fmt.h)");
}

int pz_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = pz_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}
