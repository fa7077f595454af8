/* pz.c - the shared clock, error names and bug trap declared in pz.h. */
#include "pz.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;

int64_t pz_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	log_line(LOG_ERROR, "msg=\"internal bug\" file=%s line=%d check=\"%s\"", file, line, msg);
	abort();
}

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_line(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (level < log_min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof line - 2) {
		n = (int)sizeof line - 2;
		memcpy(line + n - 3, "...", 3);
	}
	line[n++] = '\n';
	/* One write per line so lines from a crash-looping process never interleave mid-line. */
	while (n > 0) {
		ssize_t w = write(2, line, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		break;
	}
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
