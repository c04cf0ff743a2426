/* The log funnel: one event is one line; identical warnings are rate-limited. */
#include <criterion/criterion.h>
#include <string.h>

#include "log.h"

static char captured[16384];
static int nlines;
static int64_t fake_now;

static void
capture(const char *line, size_t len, void *arg)
{
	size_t used = strlen(captured);

	cr_assert_lt(used + len, sizeof(captured));
	memcpy(captured + used, line, len);
	captured[used + len] = '\0';
	nlines++;
}

static int64_t
fake_clock(void)
{
	return fake_now;
}

static void
setup(void)
{
	captured[0] = '\0';
	nlines = 0;
	fake_now = 1000000;
	log_reset();
	log_init(0);
	log_set_sink(capture, NULL);
	log_set_clock(fake_clock);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
	log_set_clock(NULL);
	log_set_repeat_hook(NULL, NULL);
	log_reset();
}

static int
count_newlines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, forged_line_stays_one_line)
{
	log_notice("registered service %s", "web\r\nostiary: deregistered service web");
	cr_assert_str_eq(
	        captured,
	        "ostiary: registered service web\\r\\nostiary: deregistered service web\n");
	cr_assert_eq(count_newlines(captured), 1);
}

Test(log, every_control_byte_is_escaped)
{
	log_warnx("out: %s", "a\tb\x01\x1b[31mc\x7f"
	                     "d\\e\xc3\xa9");
	cr_assert_str_eq(captured,
	                 "ostiary: warning: out: a\\tb\\x01\\x1b[31mc\\x7fd\\e\xc3\xa9\n");
}

Test(log, ordinary_text_unchanged)
{
	log_errorx("%s:%d: %s", "api.conf", 6, "invalid duration \"10x\"");
	cr_assert_str_eq(captured, "ostiary: error: api.conf:6: invalid duration \"10x\"\n");
}

Test(log, escape_cuts_at_a_whole_escape)
{
	char buf[6];

	cr_assert_eq(log_escape(buf, sizeof(buf), "ab\ncd"), 5);
	cr_assert_str_eq(buf, "ab\\nc");
	cr_assert_eq(log_escape(buf, 4, "a\x01"), 1);
	cr_assert_str_eq(buf, "a");
}

Test(log, long_multiline_output_is_one_line)
{
	char out[3000];

	for (size_t i = 0; i < sizeof(out) - 1; i++)
		out[i] = i % 10 == 9 ? '\n' : 'x';
	out[sizeof(out) - 1] = '\0';
	log_notice("check c output %s", out);
	cr_assert_eq(nlines, 1);
	cr_assert_eq(count_newlines(captured), 1);
}

Test(log, identical_warnings_are_summed_up)
{
	for (int i = 0; i < 5; i++) {
		log_warnx("agent lost: %s", "Couldn't connect to server");
		fake_now += 1000;
	}
	cr_assert_eq(nlines, 1);
	fake_now += 5000; /* 10 s after the first */
	log_tick();
	cr_assert_eq(nlines, 2);
	cr_assert(strstr(captured, "ostiary: warning: 4 more like this in the last 10 s: agent "
	                           "lost: Couldn't connect to server\n") != NULL,
	          "%s", captured);
	/* A new window: printed again. */
	log_warnx("agent lost: %s", "Couldn't connect to server");
	cr_assert_eq(nlines, 3);
}

Test(log, different_warnings_are_all_shown)
{
	log_warnx("check %s: cannot connect", "a");
	log_warnx("check %s: cannot connect", "b");
	log_errorx("check %s: cannot connect", "a");
	cr_assert_eq(nlines, 3);
}

Test(log, state_changes_are_never_swallowed)
{
	for (int i = 0; i < 3; i++)
		log_notice("check service:web is critical");
	cr_assert_eq(nlines, 3);
	log_flush();
	cr_assert_eq(nlines, 3);
}

Test(log, pending_counts_are_flushed)
{
	log_warnx("same");
	log_warnx("same");
	log_warnx("same");
	fake_now += 2500;
	cr_assert_eq(log_next_due(), 7500);
	log_flush();
	cr_assert_eq(nlines, 2);
	cr_assert(strstr(captured, "2 more like this in the last 3 s: same\n") != NULL, "%s",
	          captured);
	cr_assert_eq(log_next_due(), -1);
}

static int64_t hooked = -1;

static void
hook(int64_t after_ms, void *arg)
{
	hooked = after_ms;
}

Test(log, first_repeat_asks_for_a_tick)
{
	log_set_repeat_hook(hook, NULL);
	log_warnx("same");
	cr_assert_eq(hooked, -1);
	fake_now += 4000;
	log_warnx("same");
	cr_assert_eq(hooked, 6000);
}

Test(log, table_is_bounded_and_evicts_the_oldest)
{
	log_warnx("first");
	log_warnx("first");
	for (int i = 0; i < 100; i++) {
		fake_now++;
		log_warnx("distinct %d", i);
	}
	/* "first" was evicted and its repeat summed up on the way out. */
	cr_assert(strstr(captured, "1 more like this in the last 1 s: first\n") != NULL, "%s",
	          captured);
	cr_assert_eq(nlines, 102);
}
