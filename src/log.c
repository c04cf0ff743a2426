/* log.c - leveled logging to stderr (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcode.h"

static enum log_level log_threshold = LOG_LEVEL_NOTICE;

static const char *const log_prefixes[] = {
	[LOG_LEVEL_ERROR] = "error: ", [LOG_LEVEL_WARN] = "warning: ", [LOG_LEVEL_NOTICE] = "",
	[LOG_LEVEL_INFO] = "",         [LOG_LEVEL_DEBUG] = "debug: ",
};

void
log_init(int verbosity)
{
	int level = LOG_LEVEL_NOTICE + verbosity;

	log_threshold = level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : (enum log_level)level;
}

int
log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

/* One write per line so lines from ostiary and its child do not interleave. */
static void LOG_PRINTF(3, 0)
        log_vemit(enum log_level level, const char *errtext, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (!log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "ostiary: %s", log_prefixes[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (errtext != NULL) {
		size_t used = strlen(line);
		snprintf(line + used, sizeof(line) - used, ": %s", errtext);
	}
	fprintf(stderr, "%s\n", line);
}

#define LOG_DEFINE(name, level, with_errno)                                                        \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		const char *errtext = (with_errno) ? strerror(errno) : NULL;                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vemit(level, errtext, fmt, ap);                                                \
		va_end(ap);                                                                        \
	}

LOG_DEFINE(log_warn, LOG_LEVEL_WARN, 1)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARN, 0)
LOG_DEFINE(log_errorx, LOG_LEVEL_ERROR, 0)
LOG_DEFINE(log_notice, LOG_LEVEL_NOTICE, 0)
LOG_DEFINE(log_info, LOG_LEVEL_INFO, 0)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	const char *errtext = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, errtext, fmt, ap);
	va_end(ap);
	exit(OSTIARY_EXIT_INTERNAL);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(OSTIARY_EXIT_INTERNAL);
}
