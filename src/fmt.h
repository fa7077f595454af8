/*
 * fmt.h - pz_snprintf: C's snprintf for the conversions this program uses, and nothing else.
 *
 * Why: calling libc's snprintf links musl's whole printf engine (printf_core, fmt_fp, pop_arg and
 * the long double support behind %f/%e/%g/%a): ~9-10 KB of a binary whose budget is 224 KiB, for a
 * program that never formats a floating-point number.
 *
 * Contract: exactly C's snprintf/vsnprintf. The return value is the length the whole output has
 * (without the NUL), whatever cap is; at most cap bytes are written, the last of them a NUL; cap
 * may be 0 (then buf may be NULL and nothing is written). A return >= cap means "cut".
 *
 * Supported (the subset the tree uses, plus its obvious neighbours):
 *   conversions  d i u x X c s %
 *   flags        - 0            ('0' only with d i u x X; ignored, as in C, with '-' or a precision)
 *   width        digits or *    (a negative * width means '-', as in C)
 *   precision    .digits or .*  (minimum digits for integers, maximum bytes for %s; ignored for %c;
 *                                a negative * precision is "none", as in C)
 *   length       l ll z         (on d i u x X only)
 * Anything else (%f, %p, %n, %o, h, hh, j, t, L, the + space # flags, '0' with s or c, a NULL %s,
 * a width or precision beyond INT_MAX, an output longer than INT_MAX) is a bug in the caller and
 * ends the process through PZ_BUG: a new %f fails loudly in the tests instead of printing garbage.
 *
 * The format attribute keeps the compiler's argument checks (-Wformat) on every call.
 */
#ifndef PZ_FMT_H
#define PZ_FMT_H

#include <stdarg.h>
#include <stddef.h>

__attribute__((format(printf, 3, 4)))
int pz_snprintf(char *buf, size_t cap, const char *fmt, ...);

__attribute__((format(printf, 3, 0)))
int pz_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);

#endif
