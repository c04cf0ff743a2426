/* log.c - leveled logging to stderr (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitcode.h"

static enum log_level log_threshold = LOG_LEVEL_NOTICE;

static const char *const log_prefixes[] = {
	[LOG_LEVEL_ERROR] = "error: ", [LOG_LEVEL_WARN] = "warning: ", [LOG_LEVEL_NOTICE] = "",
	[LOG_LEVEL_INFO] = "",         [LOG_LEVEL_DEBUG] = "debug: ",
};

/* A formatted message before escaping; longer ones are cut. */
#define LOG_MESSAGE_MAX 2048
/* Escaping turns one byte into at most four ("\xNN"). */
#define LOG_LINE_MAX (sizeof("ostiary: warning: ") + 4 * LOG_MESSAGE_MAX + 1)

/*
 * Identical warnings and errors: the first of a window is printed, the
 * others counted and summed up in one line when the window ends.  A fixed
 * table keeps memory bounded; a message that finds it full evicts (and sums
 * up) the oldest entry.  The summary quotes the start of the message.
 */
#define LOG_REPEAT_SLOTS 32
#define LOG_REPEAT_QUOTE 200

struct log_repeat {
	bool used;
	enum log_level level;
	uint64_t hash;
	int64_t first_ms; /* when the printed one was */
	unsigned suppressed;
	char quote[LOG_REPEAT_QUOTE + 1];
};

static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];

static void log_stderr_sink(const char *line, size_t len, void *arg);
static int64_t log_monotonic_ms(void);

static log_sink_fn log_sink = log_stderr_sink;
static void *log_sink_arg;
static log_clock_fn log_clock = log_monotonic_ms;
static log_repeat_hook_fn log_hook;
static void *log_hook_arg;

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

void
log_set_sink(log_sink_fn fn, void *arg)
{
	log_sink = fn != NULL ? fn : log_stderr_sink;
	log_sink_arg = fn != NULL ? arg : NULL;
}

void
log_set_clock(log_clock_fn fn)
{
	log_clock = fn != NULL ? fn : log_monotonic_ms;
}

void
log_set_repeat_hook(log_repeat_hook_fn fn, void *arg)
{
	log_hook = fn;
	log_hook_arg = arg;
}

void
log_reset(void)
{
	memset(log_repeats, 0, sizeof(log_repeats));
}

static int64_t
log_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One write per line so lines from ostiary and its child do not interleave. */
static void
log_stderr_sink(const char *line, size_t len, void *arg)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

/* ---------------------------------------------------------------- escaping */

/*
 * Control characters would let a name, an output or an agent's answer
 * forge log lines ("web\r\nostiary: deregistered service web") or break a
 * line in two.  A backslash is left as it is: it cannot end a line, and
 * paths, regular expressions and quoted JSON stay readable.
 */
size_t
log_escape(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
		char esc[5] = { *p, '\0' };

		if (*p == '\n')
			memcpy(esc, "\\n", 3);
		else if (*p == '\r')
			memcpy(esc, "\\r", 3);
		else if (*p == '\t')
			memcpy(esc, "\\t", 3);
		else if (*p < 0x20 || *p == 0x7f)
			snprintf(esc, sizeof(esc), "\\x%c%c", hex[*p >> 4], hex[*p & 0xf]);
		size_t n = strlen(esc);
		if (o + n >= size)
			break;
		memcpy(dst + o, esc, n);
		o += n;
	}
	dst[o] = '\0';
	return o;
}

static void
log_write(enum log_level level, const char *message)
{
	char line[LOG_LINE_MAX];
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "ostiary: %s", log_prefixes[level]);
	n += log_escape(line + n, sizeof(line) - n - 1, message);
	line[n++] = '\n';
	log_sink(line, n, log_sink_arg);
}

/* ---------------------------------------------------------- rate limiting */

static uint64_t
log_hash(enum log_level level, const char *text)
{
	uint64_t h = 14695981039346656037ULL ^ (uint64_t)level; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* "N more like this in the last M s", M rounded up, at least 1. */
static void
log_summarise(struct log_repeat *r, int64_t now)
{
	char text[LOG_REPEAT_QUOTE + 80];
	int64_t secs = (now - r->first_ms + 999) / 1000;

	if (r->used && r->suppressed > 0) {
		snprintf(text, sizeof(text), "%u more like this in the last %lld s: %s",
		         r->suppressed, (long long)(secs < 1 ? 1 : secs), r->quote);
		log_write(r->level, text);
	}
	r->used = false;
	r->suppressed = 0;
}

static struct log_repeat *
log_repeat_slot(uint64_t hash, int64_t now)
{
	struct log_repeat *oldest = &log_repeats[0];

	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
		struct log_repeat *r = &log_repeats[i];

		if (r->used && r->hash == hash)
			return r;
	}
	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
		struct log_repeat *r = &log_repeats[i];

		if (!r->used)
			return r;
		if (r->first_ms < oldest->first_ms)
			oldest = r;
	}
	log_summarise(oldest, now);
	return oldest;
}

/* True when the message is a repeat inside its window: counted, not shown. */
static bool
log_suppress(enum log_level level, const char *message)
{
	uint64_t hash = log_hash(level, message);
	int64_t now = log_clock();
	struct log_repeat *r = log_repeat_slot(hash, now);

	if (r->used && now - r->first_ms < LOG_REPEAT_WINDOW_MS) {
		if (r->suppressed++ == 0 && log_hook != NULL)
			log_hook(r->first_ms + LOG_REPEAT_WINDOW_MS - now, log_hook_arg);
		return true;
	}
	log_summarise(r, now);
	*r = (struct log_repeat){ .used = true, .level = level, .hash = hash, .first_ms = now };
	snprintf(r->quote, sizeof(r->quote), "%s", message);
	return false;
}

void
log_tick(void)
{
	int64_t now = log_clock();

	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
		struct log_repeat *r = &log_repeats[i];

		if (r->used && now - r->first_ms >= LOG_REPEAT_WINDOW_MS)
			log_summarise(r, now);
	}
}

int64_t
log_next_due(void)
{
	int64_t now = log_clock(), due = -1;

	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
		const struct log_repeat *r = &log_repeats[i];
		int64_t left = r->first_ms + LOG_REPEAT_WINDOW_MS - now;

		if (!r->used || r->suppressed == 0)
			continue;
		if (left < 0)
			left = 0;
		if (due < 0 || left < due)
			due = left;
	}
	return due;
}

void
log_flush(void)
{
	int64_t now = log_clock();

	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++)
		log_summarise(&log_repeats[i], now);
}

/* ------------------------------------------------------------------ funnel */

static void LOG_PRINTF(4, 0) log_vemit(enum log_level level, bool limited, const char *errtext,
                                       const char *fmt, va_list ap)
{
	char message[LOG_MESSAGE_MAX];
	size_t used;

	if (!log_enabled(level))
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	if (errtext != NULL) {
		used = strlen(message);
		snprintf(message + used, sizeof(message) - used, ": %s", errtext);
	}
	if (limited && level <= LOG_LEVEL_WARN && log_suppress(level, message))
		return;
	log_write(level, message);
}

#define LOG_DEFINE(name, level, with_errno)                                                        \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		const char *errtext = (with_errno) ? strerror(errno) : NULL;                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vemit(level, true, errtext, fmt, ap);                                          \
		va_end(ap);                                                                        \
	}

LOG_DEFINE(log_warn, LOG_LEVEL_WARN, 1)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARN, 0)
LOG_DEFINE(log_errorx, LOG_LEVEL_ERROR, 0)
LOG_DEFINE(log_notice, LOG_LEVEL_NOTICE, 0)
LOG_DEFINE(log_info, LOG_LEVEL_INFO, 0)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, 0)

/* The last words are never swallowed, and come after what was pending. */
void
fatal(const char *fmt, ...)
{
	const char *errtext = strerror(errno);
	va_list ap;

	log_flush();
	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, false, errtext, fmt, ap);
	va_end(ap);
	exit(OSTIARY_EXIT_INTERNAL);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	log_flush();
	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, false, NULL, fmt, ap);
	va_end(ap);
	exit(OSTIARY_EXIT_INTERNAL);
}
