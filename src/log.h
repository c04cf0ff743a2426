/*
 * log.h - ostiary's logging, in the style of OpenBSD's log.c.
 *
 * Everything goes to stderr, one line per event, prefixed "ostiary: ".
 * Verbosity 0 shows errors, warnings and state changes (notice); -v adds
 * info, -vv debug.  log_warn appends strerror(errno), log_warnx does not.
 */
#ifndef OSTIARY_LOG_H
#define OSTIARY_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(int verbosity);
int log_enabled(enum log_level level);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_errorx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Log and exit with OSTIARY_EXIT_INTERNAL; only for failures before the
 * child exists or that leave nothing to save (out of memory). */
noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
