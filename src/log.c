/* log.c - leveled logging to stderr (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exitcode.h"

static enum log_level log_threshold = LOG_LEVEL_NOTICE;

static const char *const log_prefixes[] = {
	[LOG_LEVEL_ERROR] = "error: ", [LOG_LEVEL_WARN] = "warning: ", [LOG_LEVEL_NOTICE] = "",
	[LOG_LEVEL_INFO] = "",         [LOG_LEVEL_DEBUG] = "debug: ",
};

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARN] = "warning", [LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",
};

/* sd-daemon(3) priorities, for journalctl -p. */
static const char log_priorities[] = {
	[LOG_LEVEL_ERROR] = '3', [LOG_LEVEL_WARN] = '4',  [LOG_LEVEL_NOTICE] = '5',
	[LOG_LEVEL_INFO] = '6',  [LOG_LEVEL_DEBUG] = '7',
};

static enum log_format log_format = LOG_FORMAT_TEXT;
static enum log_stamp log_stamp = LOG_STAMP_NONE;

/* A formatted message before escaping; longer ones are cut. */
#define LOG_MESSAGE_MAX 2048
/* Escaping turns one byte into at most six (JSON's "\u00NN"); the rest of
 * a line (time, level, keys) is short. */
#define LOG_LINE_MAX (6 * LOG_MESSAGE_MAX + 128)

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
static int64_t log_realtime_ms(void);
static log_clock_fn log_wallclock = log_realtime_ms;
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
log_set_format(enum log_format format)
{
	log_format = format;
}

void
log_set_stamp(enum log_stamp stamp)
{
	log_stamp = stamp;
}

/* systemd sets JOURNAL_STREAM to the "DEV:INODE" of the stream it gave
 * the service; stderr may since have been redirected elsewhere. */
enum log_stamp
log_stamp_detect(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return LOG_STAMP_TIME;
	if ((unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
		return LOG_STAMP_PRIORITY;
	return LOG_STAMP_TIME;
}

void
log_set_wallclock(log_clock_fn fn)
{
	log_wallclock = fn != NULL ? fn : log_realtime_ms;
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

static int64_t
log_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
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

/* RFC 3339, UTC, milliseconds: 2026-12-04T15:04:05.123Z (24 bytes). */
static size_t
log_time(char *dst, size_t size)
{
	int64_t ms = log_wallclock();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (gmtime_r(&secs, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = strftime(dst, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(dst + n, size - n, ".%03dZ", (int)(ms % 1000));
	return n;
}

/* Length of the valid UTF-8 sequence at p, or 0: JSON must be UTF-8, and a
 * child's output or an agent's answer need not be. */
static size_t
log_utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (*p >= 0xc2 && *p <= 0xdf)
		len = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		len = 3, lo = *p == 0xe0 ? 0xa0 : 0x80, hi = *p == 0xed ? 0x9f : 0xbf;
	else if (*p >= 0xf0 && *p <= 0xf4)
		len = 4, lo = *p == 0xf0 ? 0x90 : 0x80, hi = *p == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* A JSON string (RFC 8259), quotes included; invalid UTF-8 becomes U+FFFD. */
static size_t
log_json_string(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size < 3)
		return 0;
	dst[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)src; *p != '\0';) {
		char esc[7] = { (char)*p, '\0' };
		size_t n = 1, adv = 1;

		if (*p == '"' || *p == '\\')
			esc[0] = '\\', esc[1] = (char)*p, n = 2;
		else if (*p == '\n')
			memcpy(esc, "\\n", 3), n = 2;
		else if (*p == '\r')
			memcpy(esc, "\\r", 3), n = 2;
		else if (*p == '\t')
			memcpy(esc, "\\t", 3), n = 2;
		else if (*p < 0x20 || *p == 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "\\u00%c%c", hex[*p >> 4],
			                     hex[*p & 0xf]);
		else if (*p >= 0x80 && (adv = log_utf8_len(p)) == 0)
			memcpy(esc, "\\ufffd", 7), n = 6, adv = 1;
		else if (*p >= 0x80)
			n = adv, memcpy(esc, p, adv);
		if (o + n + 2 > size)
			break;
		memcpy(dst + o, esc, n);
		o += n;
		p += adv;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}

/* A logfmt value: quoted when empty or holding a space, '=', '"', a
 * backslash or a control character, with \" \\ \n \r \t \xNN inside. */
static size_t
log_logfmt_value(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	bool quote = *src == '\0';
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++)
		quote = quote || *p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f;
	if (size < 3)
		return 0;
	if (quote)
		dst[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
		char esc[5] = { (char)*p, '\0' };
		size_t n = 1;

		if (*p == '"' || *p == '\\')
			esc[0] = '\\', esc[1] = (char)*p, n = 2;
		else if (*p == '\n')
			memcpy(esc, "\\n", 3), n = 2;
		else if (*p == '\r')
			memcpy(esc, "\\r", 3), n = 2;
		else if (*p == '\t')
			memcpy(esc, "\\t", 3), n = 2;
		else if (*p < 0x20 || *p == 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%c%c", hex[*p >> 4],
			                     hex[*p & 0xf]);
		if (o + n + 2 > size)
			break;
		memcpy(dst + o, esc, n);
		o += n;
	}
	if (quote)
		dst[o++] = '"';
	dst[o] = '\0';
	return o;
}

static size_t
log_format_text(char *line, size_t size, enum log_level level, const char *message)
{
	size_t n = 0;

	if (log_stamp == LOG_STAMP_TIME) {
		n = log_time(line, size);
		line[n++] = ' ';
	} else if (log_stamp == LOG_STAMP_PRIORITY) {
		n = (size_t)snprintf(line, size, "<%c>", log_priorities[level]);
	}
	n += (size_t)snprintf(line + n, size - n, "ostiary: %s", log_prefixes[level]);
	n += log_escape(line + n, size - n, message);
	return n;
}

static size_t
log_format_logfmt(char *line, size_t size, enum log_level level, const char *message)
{
	size_t n = 0;

	n += (size_t)snprintf(line + n, size - n, "time=");
	n += log_time(line + n, size - n);
	n += (size_t)snprintf(line + n, size - n, " level=%s msg=", log_level_names[level]);
	n += log_logfmt_value(line + n, size - n, message);
	return n;
}

static size_t
log_format_json(char *line, size_t size, enum log_level level, const char *message)
{
	char stamp[64];
	size_t n;

	log_time(stamp, sizeof(stamp));
	n = (size_t)snprintf(line, size, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", stamp,
	                     log_level_names[level]);
	n += log_json_string(line + n, size - n - 1, message);
	line[n++] = '}';
	return n;
}

static void
log_write(enum log_level level, const char *message)
{
	char line[LOG_LINE_MAX];
	size_t n;

	if (log_format == LOG_FORMAT_JSON)
		n = log_format_json(line, sizeof(line) - 1, level, message);
	else if (log_format == LOG_FORMAT_LOGFMT)
		n = log_format_logfmt(line, sizeof(line) - 1, level, message);
	else
		n = log_format_text(line, sizeof(line) - 1, level, message);
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
