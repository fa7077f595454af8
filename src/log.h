/*
 * log.h - one line per event on stderr, "level=... msg=... key=value ...", as logfmt.
 *
 * Modules do not log; they return codes. The loop and main log outcomes, once. Callers must never
 * pass a credential (token, key) to these functions: nothing here can tell one from a name.
 */
#ifndef PZ_LOG_H
#define PZ_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below this level are dropped. Set once at start-up from --v. */
extern enum log_level log_min_level;

/* Longest line written; a longer one is cut and ends with "...". Kept on the stack. */
#define LOG_LINE_MAX 1024

__attribute__((format(printf, 2, 3)))
void log_line(enum log_level level, const char *fmt, ...);

#endif
