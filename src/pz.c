/* pz.c - the shared clock, error names and bug trap declared in pz.h. */
#include "pz.h"

#include <limits.h>
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
	/* The errno values a socket, a file or a child process gives us here. Our own table, not
	 * libc's strerror: musl's message table is 2 KiB for the ~130 codes we never see. */
	case -ECONNREFUSED: return "Connection refused";
	case -ECONNRESET: return "Connection reset by peer";
	case -ETIMEDOUT: return "Operation timed out";
	case -EHOSTUNREACH: return "Host is unreachable";
	case -ENETUNREACH: return "Network unreachable";
	case -EPIPE: return "Broken pipe";
	case -ENOTCONN: return "Socket not connected";
	case -EAGAIN: return "Resource temporarily unavailable";
	case -EADDRINUSE: return "Address in use";
	case -EADDRNOTAVAIL: return "Address not available";
	case -EACCES: return "Permission denied";
	case -EPERM: return "Operation not permitted";
	case -ENOENT: return "No such file or directory";
	case -ENOTDIR: return "Not a directory";
	case -EISDIR: return "Is a directory";
	case -EINVAL: return "Invalid argument";
	case -ENOMEM: return "Out of memory";
	case -ENOSPC: return "No space left on device";
	case -EEXIST: return "File exists";
	case -EBUSY: return "Resource busy";
	case -EMFILE: return "No file descriptors available";
	case -ENFILE: return "Too many open files in system";
	case -EIO: return "I/O error";
	case -ENOEXEC: return "Exec format error";
	case -ECHILD: return "No child process";
	case -EINTR: return "Interrupted system call";
	default: break;
	}
	return code < 0 && code > -4096 ? "system error" : "unknown error";
}

long pz_parse_long(const char *s, char **end)
{
	unsigned long v = 0;
	int neg = *s == '-';
	const char *p = s + (*s == '-' || *s == '+');
	const char *digits = p;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v > (unsigned long)LONG_MAX / 10 ? (unsigned long)LONG_MAX + 1 : v * 10 + (unsigned long)(*p - '0');
	if (p == digits)
		p = s; /* no digits: nothing consumed, as strtol */
	if (end)
		*end = (char *)p;
	if (v > (unsigned long)LONG_MAX)
		return neg ? LONG_MIN : LONG_MAX;
	return neg ? -(long)v : (long)v;
}

const char *pz_find(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncmp(hay, needle, n) == 0)
			return hay;
	return n ? NULL : hay;
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
