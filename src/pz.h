/*
 * pz.h - what every module shares: the return convention, the clock, and the bug trap.
 *
 * Return convention (one for the whole program): a function returns >= 0 for success (a count or a
 * length) and a negative errno-style code on failure. Codes from BearSSL, jsmn and the parsers are
 * translated to these at each module's edge; pz_strerror() names them for the log.
 */
#ifndef PZ_H
#define PZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Project-specific codes, below every errno value so they never collide. */
#define PZ_ETLS      (-4096) /* TLS failure; the engine's own code is logged where it happened */
#define PZ_EHTTP     (-4097) /* malformed HTTP framing */
#define PZ_EJSON     (-4098) /* malformed or unexpected JSON */
#define PZ_ESTATUS   (-4099) /* HTTP status the caller did not expect; see the response */
#define PZ_EGONE     (-4100) /* 410 Gone: the resourceVersion is too old, re-list */
#define PZ_ECONFIG   (-4101) /* bad configuration */
#define PZ_ETOOBIG   (-4102) /* an object or line exceeded its named bound */
#define PZ_ECONFLICT (-4103) /* 409 Conflict / AlreadyExists */
#define PZ_ENOTFOUND (-4104) /* 404 */

const char *pz_strerror(int code);

/* Decimal only, as strtol(s, end, 10) (sign, clamping at LONG_MIN/LONG_MAX, *end after the digits
 * or at s when there are none), without libc's generic number scanner. */
long pz_parse_long(const char *s, char **end);
/* strstr without libc's two-way matcher: our haystacks are short (a proxy's head, a URL). */
const char *pz_find(const char *hay, const char *needle);

/* Milliseconds on CLOCK_MONOTONIC: every deadline and timer in the program uses it. */
int64_t pz_now_ms(void);
/* Microseconds on CLOCK_MONOTONIC: durations for metrics. */
int64_t pz_now_us(void);
/* Seconds since the epoch on CLOCK_REALTIME: only for timestamps written into objects. */
int64_t pz_wall_s(void);

/* A broken internal contract is a bug: report file and line, then abort. Never used for input. */
#define PZ_BUG(msg) pz_bug(__FILE__, __LINE__, msg)
#define PZ_ASSERT(c) do { if (!(c)) PZ_BUG(#c); } while (0)
_Noreturn void pz_bug(const char *file, int line, const char *msg);

#define PZ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))



/* Small fast PRNG (xorshift64*) for jitter only; seeded from getrandom at start-up. */
uint64_t pz_rand(void);
void pz_rand_seed(uint64_t seed);

#endif
