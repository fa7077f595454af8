/* pz.c - the shared clock, error names and bug trap declared in pz.h. */
#include "pz.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t pz_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pz_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pz_wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

const char *pz_strerror(int code)
{
	switch (code) {
	case PZ_ETLS: return "TLS failure";
	case PZ_EHTTP: return "malformed HTTP response";
	case PZ_EJSON: return "malformed JSON";
	case PZ_ESTATUS: return "unexpected HTTP status";
	case PZ_EGONE: return "resource version expired (410 Gone)";
	case PZ_ECONFIG: return "bad configuration";
	case PZ_ETOOBIG: return "exceeds its size bound";
	case PZ_ECONFLICT: return "conflict";
	case PZ_ENOTFOUND: return "not found";
	default: break;
	}
	/* strerror costs nothing extra: printf's %m already links it in. */
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown error";
}

void pz_bug(const char *file, int line, const char *msg)
{
	log_begin(LOG_ERROR, "internal bug");
	log_str("file", file);
	log_int("line", line);
	log_str("check", msg);
	log_end();
	abort();
}

static uint64_t rand_state = 0x2545f4914f6cdd1dULL;

void pz_rand_seed(uint64_t seed) { rand_state = seed ? seed : 0x2545f4914f6cdd1dULL; }

uint64_t pz_rand(void)
{
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	return rand_state * 0x2545f4914f6cdd1dULL;
}
