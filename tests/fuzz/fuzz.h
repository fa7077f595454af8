/* fuzz.h - what every fuzz target shares: a broken invariant names itself and aborts, which
 * libFuzzer reports as a crash with the input that caused it. */
#ifndef PZ_FUZZ_H
#define PZ_FUZZ_H
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

#endif
