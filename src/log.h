/*
 * log.h - ostiary's logging, in the style of OpenBSD's log.c.
 *
 * Everything goes to stderr, one line per event, prefixed "ostiary: ".
 * Verbosity 0 shows errors, warnings and state changes (notice); -v adds
 * info, -vv debug.  log_warn appends strerror(errno), log_warnx does not.
 *
 * One event, one line: control characters in the message (names, outputs,
 * agent answers) are escaped as \n, \r, \t or \xNN.  Identical warnings and
 * errors are printed once per LOG_REPEAT_WINDOW_MS; the repeats are summed
 * up in one line ("N more like this in the last M s: ...") when the window
 * ends (log_tick), or at exit (log_flush).
 */
#ifndef OSTIARY_LOG_H
#define OSTIARY_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/*
 * Line formats: text is the classic "ostiary: warning: ..." line, prefixed
 * with an RFC 3339 UTC time, or with the syslog priority "<N>" when stderr
 * is the journal (which stamps lines itself and reads the priority).
 * logfmt and json carry time, level and msg as fields, one event a line.
 */
enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_LOGFMT,
	LOG_FORMAT_JSON,
};

/* What precedes a text line. */
enum log_stamp {
	LOG_STAMP_NONE = 0,
	LOG_STAMP_TIME,
	LOG_STAMP_PRIORITY,
};

/* Inline so the configuration parsers need not link the logger. */
static inline int
log_format_parse(const char *name)
{
	static const char *const names[] = { "text", "logfmt", "json" };

	for (int i = 0; i < 3; i++) {
		const char *a = name, *b = names[i];

		while (*a != '\0' && *a == *b)
			a++, b++;
		if (*a == '\0' && *b == '\0')
			return i;
	}
	return -1;
}

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

#define LOG_REPEAT_WINDOW_MS 10000

/* Where finished lines go (each ends with a newline): stderr by default. */
typedef void (*log_sink_fn)(const char *line, size_t len, void *arg);
/* A monotonic clock in ms, for the repeat windows. */
typedef int64_t (*log_clock_fn)(void);
/* Called when a window first holds back a repeat: call log_tick() in
 * after_ms (the event loop arms a timer; see main.c). */
typedef void (*log_repeat_hook_fn)(int64_t after_ms, void *arg);

void log_init(int verbosity);
void log_set_format(enum log_format format);
void log_set_stamp(enum log_stamp stamp);
/* LOG_STAMP_PRIORITY when JOURNAL_STREAM names stderr, else LOG_STAMP_TIME. */
enum log_stamp log_stamp_detect(void);
/* Wall-clock time in ms since the epoch, for the line's time; NULL restores
 * CLOCK_REALTIME. */
void log_set_wallclock(log_clock_fn fn);
int log_enabled(enum log_level level);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_errorx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* NULL restores the default (stderr, CLOCK_MONOTONIC, no hook). */
void log_set_sink(log_sink_fn fn, void *arg);
void log_set_clock(log_clock_fn fn);
void log_set_repeat_hook(log_repeat_hook_fn fn, void *arg);
/* Sum up the windows that have ended / all of them; forget every window. */
void log_tick(void);
void log_flush(void);
void log_reset(void);
/* ms until the next summary is due, or -1 when none is pending. */
int64_t log_next_due(void);
/* Copy src to dst (size bytes, NUL-terminated) with control characters
 * escaped; returns the length written.  For every line ostiary prints. */
size_t log_escape(char *dst, size_t size, const char *src);
/* Log and exit with OSTIARY_EXIT_INTERNAL; only for failures before the
 * child exists or that leave nothing to save (out of memory). */
noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
