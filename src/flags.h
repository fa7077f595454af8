/*
 * flags.h - command-line words as Go programs read them, so that flags copied from a
 * controller-runtime deployment work unchanged.
 *
 * Durations follow Go's time.ParseDuration: a sequence of decimal numbers, each with an optional
 * fraction and a unit ("300ms", "1.5h", "1h2m3.5s", ".5s"); units ns, us, µs (U+00B5 or U+03BC),
 * ms, s, m, h; a leading '+' is allowed; "0" alone needs no unit. Unlike Go, a negative duration is
 * refused (no flag of ours means anything by one). Integer arithmetic only: libc's float parser
 * would cost binary size for nothing. Like Go, a value is exact to the nanosecond (fraction digits
 * below a nanosecond of their unit are dropped) and the total may not exceed Go's maximum,
 * 2^63-1 ns (about 292 years).
 *
 * The result is in milliseconds, rounded UP: "1ns" is 1 ms, not 0, because every duration flag of
 * ours is a period, a timeout or a backoff, where 0 would mean a busy loop or "expire at once"
 * that the user did not ask for. Only "0" (or "0s", "0.0h", ...) gives 0.
 *
 * Flag names follow Go's flag package: "-name" and "--name" are the same flag, and "-name=value"
 * carries its value.
 */
#ifndef PZ_FLAGS_H
#define PZ_FLAGS_H

#include <stdint.h>

/* Parses s into *ms. Returns 0, or PZ_ECONFIG for anything Go refuses, a negative duration, or a
 * total over 2^63-1 ns. *ms is written only on success. */
int flags_duration(const char *s, int64_t *ms);

/* The flag name in arg without its one or two leading dashes ("name" or "name=value"; the caller
 * splits at '='), or NULL when arg is not a flag: no dash, "-" alone (a positional argument by
 * convention), "--" (Go's end of flags: the caller decides what follows), three dashes, or an
 * empty name ("-=x"), all of which Go's flag package refuses or does not treat as flags. */
const char *flags_name(const char *arg);

#endif
