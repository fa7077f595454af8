/*
 * log.h - one line per event on stderr, built field by field: logfmt (default) or JSON
 * (--log-format=json, with controller-runtime's keys so existing log pipelines parse it).
 *
 * A line is begun, fields are added, and the line is ended; it is then written with one write(2),
 * so lines from two processes never interleave mid-line. Every value is escaped for the format:
 * quotes, backslashes, newlines, control bytes and invalid UTF-8 can never end a value, start a key
 * or start a new line, whatever bytes came from the API server. Keys are program constants.
 *
 * Modules do not log; they return codes. The loop, reconcile and start-up log outcomes, once.
 * Callers must never pass a credential (token, key) to these functions: nothing here can tell one
 * from a name.
 *
 * The line is kept in one static buffer (the program is single-threaded): LOG_LINE_MAX bytes; a
 * longer line is cut at a field boundary or inside a value and still ends well-formed.
 *
 * The two formats:
 *   logfmt  ts=2026-11-30T00:00:00.000Z level=info msg="order deleted" namespace=default name=a
 *   JSON    {"ts":1795996800.000,"level":"info","msg":"order deleted","namespace":"default",...}
 * ts is UTC with milliseconds: RFC 3339 in logfmt, epoch seconds as a number in JSON (zap's
 * production encoder, as controller-runtime's JSON logs have it). level is debug, info, warn or
 * error. log_int writes a bare integer in both formats.
 *
 * Escaping (the same inside logfmt quotes and JSON strings, so one decoder reads both: JSON's
 * string rules, which go-logfmt's decoder also follows):
 *   - " \ newline CR tab are written \" \\ \n \r \t;
 *   - every other byte below 0x20, DEL, the C1 controls U+0080..U+009F and U+2028/U+2029 (which
 *     some tools take as line breaks) are written \u00NN (\u2028, \u2029): never \xNN, which JSON
 *     and go-logfmt do not read;
 *   - each byte that is not part of well-formed UTF-8 (stray continuation, overlong form,
 *     surrogate, above U+10FFFF, cut sequence) is written \ufffd, as zap and go-logfmt do: an
 *     escape of the raw byte would read back as a different, valid character;
 *   - anything else (printable ASCII, well-formed UTF-8) is copied.
 * A logfmt value is written bare only when it is non-empty and every byte is printable ASCII other
 * than " = and \ (so never a space); otherwise it is quoted. A logfmt key byte outside that set is
 * written '_' (keys are constants; this only keeps a wrong one from breaking the line).
 *
 * Cutting: a field whose key does not fit is dropped whole; a value that does not fit is cut after
 * its last whole escape or UTF-8 sequence and closed. Once something is cut, later fields are
 * dropped and log_end adds truncated=true (JSON: "truncated":true) before the newline, so the line
 * is still one well-formed record with the keys that fitted. Room for that tail is reserved.
 *
 * Values are copied into the line when each call is made, so a value may live in a buffer the
 * caller reuses or overwrites right after the call (the aliasing trap of issue 8 cannot happen
 * here: nothing is formatted in place).
 */
#ifndef PZ_LOG_H
#define PZ_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/* Lines below this level are dropped. Set once at start-up from --log-level. */
extern enum log_level log_min_level;
/* Set once at start-up from --log-format. */
extern enum log_format log_format;
/* Where lines go: 2 (stderr). The tests point it at a file or pipe. */
extern int log_fd;

/* 2 KiB holds a reconcile line with a 63-byte namespace and name, a 160-byte status message and an
 * API server message of ~1 KiB even when every byte of it is escaped 2x; and it is below PIPE_BUF
 * (4096), so one write(2) to a pipe is atomic and lines never interleave. */
#define LOG_LINE_MAX 2048

/* Starts a line: ts, level, msg. Returns 1 when the line will be written, 0 when its level is
 * filtered (the field calls and log_end are then no-ops, so callers need not test it).
 * A line begun while another is open replaces it (the open one is a caller bug, dropped). */
int log_begin(enum log_level level, const char *msg);
/* A string field from anywhere (escaped). NULL is written as an empty string. */
void log_str(const char *key, const char *value);
/* The same for len bytes that need not be NUL-terminated. */
void log_mem(const char *key, const char *value, size_t len);
void log_int(const char *key, long long value);
/* A pz error code: error="<pz_strerror(code)>". */
void log_err(int code);
/* The object a reconcile is about, with controller-runtime's keys: controller, controllerGroup,
 * controllerKind, PizzaOrder {name, namespace} (a nested object in JSON, "ns/name" in logfmt),
 * namespace, name, and reconcileID when reconcile_id is not NULL. */
void log_object(const char *ns, const char *name, const char *reconcile_id);
/* Ends the line and writes it. */
void log_end(void);

/* The ts value for unix_ms (milliseconds since the epoch, clamped to 1970-01-01 .. 9999-12-31):
 * "2026-11-30T00:00:00.000Z" for logfmt, "1795996800.000" for JSON. Writes it NUL-terminated to
 * out and returns its length. The writer uses it with CLOCK_REALTIME; exposed for the tests. */
#define LOG_TS_MAX 25
size_t log_ts(char out[LOG_TS_MAX], int64_t unix_ms, enum log_format format);


#endif
