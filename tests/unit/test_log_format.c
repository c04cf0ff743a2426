/* Log formats: every line of every format parses back to the event. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MAX_LINES 16

static char lines[MAX_LINES][32768];
static int nlines;
static int64_t fake_now;

/* 2026-12-04T15:04:05.123Z */
#define FAKE_WALL_MS 1796396645123LL

/* Bytes a child or an agent may hand us: quotes, backslashes, escapes
 * that look like logfmt's own, control bytes, valid and invalid UTF-8. */
static const char hostile[] = "a \"b\" c=d \\n e\\\\ f\n\r\tg\x01\x1b[31m\x7f h\xc3\xa9 "
                              "i\xff\xc3 j\xed\xa0\x80 k";

static void
capture(const char *line, size_t len, void *arg)
{
	cr_assert_lt(nlines, MAX_LINES);
	cr_assert_lt(len, sizeof(lines[0]));
	cr_assert_eq(line[len - 1], '\n', "a line ends with a newline");
	cr_assert_null(memchr(line, '\n', len - 1), "one event, one line");
	memcpy(lines[nlines], line, len - 1);
	lines[nlines][len - 1] = '\0';
	nlines++;
}

static int64_t
fake_clock(void)
{
	return fake_now;
}

static int64_t
fake_wallclock(void)
{
	return FAKE_WALL_MS;
}

static void
setup(void)
{
	nlines = 0;
	fake_now = 1000000;
	log_reset();
	log_init(2);
	log_set_sink(capture, NULL);
	log_set_clock(fake_clock);
	log_set_wallclock(fake_wallclock);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
	log_set_clock(NULL);
	log_set_wallclock(NULL);
	log_set_format(LOG_FORMAT_TEXT);
	log_set_stamp(LOG_STAMP_NONE);
	log_reset();
}

TestSuite(log_format, .init = setup, .fini = teardown);

Test(log_format, names)
{
	cr_assert_eq(log_format_parse("text"), LOG_FORMAT_TEXT);
	cr_assert_eq(log_format_parse("logfmt"), LOG_FORMAT_LOGFMT);
	cr_assert_eq(log_format_parse("json"), LOG_FORMAT_JSON);
	cr_assert_eq(log_format_parse("jso"), -1);
	cr_assert_eq(log_format_parse("jsonl"), -1);
	cr_assert_eq(log_format_parse(""), -1);
}

Test(log_format, text_with_time)
{
	log_set_stamp(LOG_STAMP_TIME);
	log_warnx("agent lost");
	log_notice("registered service %s", "web\r\nostiary: deregistered service web");
	cr_assert_eq(nlines, 2);
	cr_assert_str_eq(lines[0], "2026-12-04T15:04:05.123Z ostiary: warning: agent lost");
	cr_assert_str_eq(lines[1], "2026-12-04T15:04:05.123Z ostiary: registered service "
	                           "web\\r\\nostiary: deregistered service web");
}

Test(log_format, text_under_journald_carries_the_priority)
{
	log_set_stamp(LOG_STAMP_PRIORITY);
	log_errorx("e");
	log_warnx("w");
	log_notice("n");
	log_info("i");
	log_debug("d");
	cr_assert_eq(nlines, 5);
	cr_assert_str_eq(lines[0], "<3>ostiary: error: e");
	cr_assert_str_eq(lines[1], "<4>ostiary: warning: w");
	cr_assert_str_eq(lines[2], "<5>ostiary: n");
	cr_assert_str_eq(lines[3], "<6>ostiary: i");
	cr_assert_str_eq(lines[4], "<7>ostiary: debug: d");
}

Test(log_format, journal_stream_is_detected_by_device_and_inode)
{
	struct stat st;
	char value[64];

	cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", value, 1);
	cr_assert_eq(log_stamp_detect(), LOG_STAMP_PRIORITY);
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", value, 1);
	cr_assert_eq(log_stamp_detect(), LOG_STAMP_TIME, "another stream: not the journal");
	setenv("JOURNAL_STREAM", "garbage", 1);
	cr_assert_eq(log_stamp_detect(), LOG_STAMP_TIME);
	unsetenv("JOURNAL_STREAM");
	cr_assert_eq(log_stamp_detect(), LOG_STAMP_TIME);
}

/* The message as JSON must hold: invalid UTF-8 becomes U+FFFD. */
static const char hostile_as_utf8[] = "a \"b\" c=d \\n e\\\\ f\n\r\tg\x01\x1b[31m\x7f h\xc3\xa9 "
                                      "i\xef\xbf\xbd\xef\xbf\xbd j\xef\xbf\xbd\xef\xbf\xbd\xef\xbf"
                                      "\xbd k";

static void
expect_json(const char *line, const char *level, const char *msg)
{
	json_error_t jerr;
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);

	cr_assert_not_null(o, "not JSON (%s): %s", jerr.text, line);
	cr_assert(json_is_object(o));
	cr_assert_eq(json_object_size(o), 3, "%s", line);
	cr_assert_str_eq(json_string_value(json_object_get(o, "time")), "2026-12-04T15:04:05.123Z");
	cr_assert_str_eq(json_string_value(json_object_get(o, "level")), level);
	cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), msg, "%s", line);
	json_decref(o);
}

Test(log_format, json_lines_parse)
{
	log_set_format(LOG_FORMAT_JSON);
	log_set_stamp(LOG_STAMP_PRIORITY); /* text only: JSON lines stay JSON */
	log_warnx("%s", hostile);
	log_notice("registered service web");
	log_errorx("e");
	log_info("i");
	log_debug("d");
	cr_assert_eq(nlines, 5);
	expect_json(lines[0], "warning", hostile_as_utf8);
	expect_json(lines[1], "notice", "registered service web");
	expect_json(lines[2], "error", "e");
	expect_json(lines[3], "info", "i");
	expect_json(lines[4], "debug", "d");
}

/*
 * A strict logfmt reader: key=value pairs separated by one space; a value
 * is bare (no space, '=', '"', backslash or control byte) or quoted with
 * \" \\ \n \r \t \xNN escapes and nothing else.  Returns the number of
 * pairs, or -1.
 */
struct pair {
	char key[32];
	char value[8192];
};

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static const char *
logfmt_value(const char *p, char *out, size_t size)
{
	size_t o = 0;

	if (*p != '"') {
		while (*p != '\0' && *p != ' ') {
			if (*p == '=' || *p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ||
			    *p == 0x7f || o + 1 >= size)
				return NULL;
			out[o++] = *p++;
		}
		out[o] = '\0';
		return o > 0 ? p : NULL;
	}
	for (p++; *p != '"'; p++) {
		char c = *p;

		if (c == '\0' || (unsigned char)c < 0x20 || c == 0x7f || o + 1 >= size)
			return NULL;
		if (c == '\\') {
			c = *++p;
			if (c == 'n')
				c = '\n';
			else if (c == 'r')
				c = '\r';
			else if (c == 't')
				c = '\t';
			else if (c == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0)
				c = (char)(hexval(p[1]) * 16 + hexval(p[2])), p += 2;
			else if (c != '"' && c != '\\')
				return NULL;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return p + 1;
}

static int
logfmt_parse(const char *line, struct pair *pairs, int max)
{
	int n = 0;

	for (const char *p = line; *p != '\0'; n++) {
		size_t k = 0;

		if (n == max || (n > 0 && *p++ != ' '))
			return -1;
		while (*p != '=' && *p != '\0' && *p != ' ' && k + 1 < sizeof(pairs[n].key))
			pairs[n].key[k++] = *p++;
		pairs[n].key[k] = '\0';
		if (k == 0 || *p++ != '=')
			return -1;
		if ((p = logfmt_value(p, pairs[n].value, sizeof(pairs[n].value))) == NULL)
			return -1;
	}
	return n;
}

static void
expect_logfmt(const char *line, const char *level, const char *msg)
{
	struct pair pairs[4];

	cr_assert_eq(logfmt_parse(line, pairs, 4), 3, "not strict logfmt: %s", line);
	cr_assert_str_eq(pairs[0].key, "time");
	cr_assert_str_eq(pairs[0].value, "2026-12-04T15:04:05.123Z");
	cr_assert_str_eq(pairs[1].key, "level");
	cr_assert_str_eq(pairs[1].value, level);
	cr_assert_str_eq(pairs[2].key, "msg");
	cr_assert_str_eq(pairs[2].value, msg, "%s", line);
}

Test(log_format, logfmt_lines_parse)
{
	log_set_format(LOG_FORMAT_LOGFMT);
	log_warnx("%s", hostile);
	log_notice("registered service web");
	log_errorx("%s", "");
	cr_assert_eq(nlines, 3);
	expect_logfmt(lines[0], "warning", hostile);
	expect_logfmt(lines[1], "notice", "registered service web");
	expect_logfmt(lines[2], "error", "");
}

Test(log_format, logfmt_parser_is_strict)
{
	struct pair pairs[4];

	cr_assert_eq(logfmt_parse("a=b c=\"d e\"", pairs, 4), 2);
	cr_assert_eq(logfmt_parse("a=b c", pairs, 4), -1);
	cr_assert_eq(logfmt_parse("a=b c=d e", pairs, 4), -1);
	cr_assert_eq(logfmt_parse("a=\"b", pairs, 4), -1);
	cr_assert_eq(logfmt_parse("a=\"b\\q\"", pairs, 4), -1);
	cr_assert_eq(logfmt_parse("a=b\"c", pairs, 4), -1, "a quote inside a bare value");
	cr_assert_eq(logfmt_parse("a=b\\c", pairs, 4), -1);
}

/* The rate limit sits before the format: its summary is one more event. */
Test(log_format, repeats_are_summed_up_in_every_format)
{
	for (int f = LOG_FORMAT_LOGFMT; f <= LOG_FORMAT_JSON; f++) {
		char first[sizeof(lines[0])];

		nlines = 0;
		log_reset();
		log_set_format((enum log_format)f);
		for (int i = 0; i < 3; i++)
			log_warnx("agent lost: %s", "x\ny");
		cr_assert_eq(nlines, 1);
		strcpy(first, lines[0]);
		fake_now += LOG_REPEAT_WINDOW_MS;
		log_tick();
		cr_assert_eq(nlines, 2);
		if (f == LOG_FORMAT_JSON) {
			expect_json(first, "warning", "agent lost: x\ny");
			expect_json(lines[1], "warning",
			            "2 more like this in the last 10 s: agent lost: x\ny");
		} else {
			expect_logfmt(first, "warning", "agent lost: x\ny");
			expect_logfmt(lines[1], "warning",
			              "2 more like this in the last 10 s: agent lost: x\ny");
		}
	}
}
