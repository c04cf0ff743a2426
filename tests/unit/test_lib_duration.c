/* Durations (Go's time.ParseDuration grammar, in ms) and statuses. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ostiary/consul.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *text;
	int64_t ms;
} valid[] = {
	{ "0", 0 },
	{ "+0", 0 },
	{ "0s", 0 },
	{ "0.0s", 0 },
	{ "10s", 10000 },
	{ "+5s", 5000 },
	{ "1m30s", 90000 },
	{ "1.5h", 5400000 },
	{ "500ms", 500 },
	{ "1000us", 1 },
	{ "1000\xc2\xb5s", 1 }, /* U+00B5 micro sign */
	{ "1000\xce\xbcs", 1 }, /* U+03BC Greek mu */
	{ "1000000ns", 1 },
	{ ".5s", 500 },
	{ "5.s", 5000 },
	{ "1h1m1s1ms", 3661001 },
	{ "1.0015s", 1001 }, /* sub-millisecond remainder dropped */
	{ "10", 10000 },     /* bare number = seconds */
	{ "2.5", 2500 },
	{ "0.5", 500 },
	{ "2562047h", INT64_C(2562047) * 3600000 },
};

Test(lib_duration, parses_go_durations)
{
	for (size_t i = 0; i < N(valid); i++) {
		consul_error err = { 0 };
		int64_t ms = -1;

		cr_assert_eq(consul_duration_parse(valid[i].text, &ms, &err), 0, "\"%s\": %s",
		             valid[i].text, err.text);
		cr_assert_eq(ms, valid[i].ms, "\"%s\" gave %lld", valid[i].text, (long long)ms);
	}
}

static const struct {
	const char *text;
	const char *problem;
} invalid[] = {
	{ "", "empty duration" },
	{ "-5s", "negative durations are not allowed" },
	{ "-0", "negative" },
	{ "10x", "unknown unit \"x\"" },
	{ "10 s", "unknown unit \" s\"" },
	{ "1hh", "unknown unit \"hh\"" },
	{ "10S", "unknown unit \"S\"" },
	{ "s", "expected a number" },
	{ "+", "expected a number" },
	{ ".s", "at least one digit" },
	{ "1m30", "missing unit" },
	{ "1.2.3s", "missing unit" },
	{ "500us", "below the 1ms resolution" },
	{ "1ns", "below the 1ms resolution" },
	{ "2562048h", "too large" },
	{ "99999999999999999999s", "too large" },
	{ "9223372036854775808ns", "too large" },
};

Test(lib_duration, rejects_with_a_useful_message)
{
	for (size_t i = 0; i < N(invalid); i++) {
		consul_error err = { 0 };
		int64_t ms = 42;

		cr_assert_eq(consul_duration_parse(invalid[i].text, &ms, &err), -1,
		             "\"%s\" accepted", invalid[i].text);
		cr_assert_eq(ms, 42, "output changed for \"%s\"", invalid[i].text);
		cr_assert(strstr(err.text, invalid[i].problem), "\"%s\": %s", invalid[i].text,
		          err.text);
		cr_assert(strstr(err.text, "e.g. 10s or 1m30s"), "no hint in: %s", err.text);
	}
}

Test(lib_duration, exact_error_text)
{
	consul_error err;
	int64_t ms;

	cr_assert_eq(consul_duration_parse("10x", &ms, &err), -1);
	cr_assert_str_eq(err.text, "invalid duration \"10x\": unknown unit \"x\" "
	                           "(use a number with ns, us, ms, s, m or h, e.g. 10s or 1m30s)");
	cr_assert_eq(err.line, 0);
	cr_assert_eq(err.column, 0);
}

Test(lib_duration, error_out_parameter_is_optional)
{
	int64_t ms;

	cr_assert_eq(consul_duration_parse("bogus", &ms, NULL), -1);
	cr_assert_eq(consul_duration_parse(NULL, &ms, NULL), -1);
}

static const struct {
	int64_t ms;
	const char *text;
} formats[] = {
	{ 0, "0s" },
	{ 1, "1ms" },
	{ 500, "500ms" },
	{ 999, "999ms" },
	{ 1000, "1s" },
	{ 1050, "1.05s" },
	{ 1001, "1.001s" },
	{ 1500, "1.5s" },
	{ 60000, "1m0s" },
	{ 90000, "1m30s" },
	{ 90500, "1m30.5s" },
	{ 3600000, "1h0m0s" },
	{ 3661001, "1h1m1.001s" },
	{ INT64_C(100) * 3600000, "100h0m0s" },
	{ -1500, "-1.5s" },
};

Test(lib_duration, formats_like_go)
{
	for (size_t i = 0; i < N(formats); i++) {
		char buf[48];

		consul_duration_format(formats[i].ms, buf, sizeof buf);
		cr_assert_str_eq(buf, formats[i].text, "%lld ms", (long long)formats[i].ms);
	}
}

Test(lib_duration, format_truncates_safely)
{
	char buf[4] = "xyz";

	consul_duration_format(3600000, buf, sizeof buf);
	cr_assert_str_eq(buf, "1h0");
}

Test(lib_duration, format_then_parse_round_trips)
{
	for (int64_t ms = 0; ms < INT64_C(400) * 86400000; ms = ms * 3 + 7) {
		char buf[48];
		int64_t back = -1;

		consul_duration_format(ms, buf, sizeof buf);
		cr_assert_eq(consul_duration_parse(buf, &back, NULL), 0, "\"%s\"", buf);
		cr_assert_eq(back, ms, "\"%s\" came back as %lld", buf, (long long)back);
	}
}

Test(lib_status, names_and_parsing)
{
	static const char *const names[] = { "passing", "warning", "critical" };

	for (int i = CONSUL_PASSING; i <= CONSUL_CRITICAL; i++) {
		enum consul_status status = CONSUL_CRITICAL;

		cr_assert_str_eq(consul_status_name((enum consul_status)i), names[i]);
		cr_assert_eq(consul_status_parse(names[i], &status), 0);
		cr_assert_eq((int)status, i);
	}
	for (size_t i = 0; i < 4; i++) {
		static const char *const wrong[] = { "Passing", "pass", "", "critical " };
		enum consul_status status;

		cr_assert_eq(consul_status_parse(wrong[i], &status), -1, "\"%s\" accepted",
		             wrong[i]);
	}
}
