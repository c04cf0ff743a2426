/*
 * Durations as Consul reads them: Go's time.ParseDuration grammar
 * ([-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, golang/go src/time/format.go), kept in
 * milliseconds.  Differences, all deliberate: a negative sign is refused (a
 * negative TTL or interval makes no sense here), a lone number is seconds
 * ("10", "2.5", as ianitor accepts), and a non-zero value below 1ms is
 * refused because it would silently become 0.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define DURATION_FORMS "use a number with ns, us, ms, s, m or h, e.g. 10s or 1m30s"
#define DURATION_NS_LIMIT ((uint64_t)1 << 63) /* Go works in int64 nanoseconds */
#define NS_PER_MS UINT64_C(1000000)

/* Go's unitMap, in nanoseconds. */
static const struct duration_unit {
	const char *name;
	uint64_t ns;
} duration_units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 }, /* U+03BC Greek small letter mu */
	{ "ms", NS_PER_MS },
	{ "s", 1000 * NS_PER_MS },
	{ "m", 60 * 1000 * NS_PER_MS },
	{ "h", 60 * 60 * 1000 * NS_PER_MS },
};

static const struct duration_unit *
duration_find_unit(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
		if (strlen(duration_units[i].name) == len &&
		    memcmp(duration_units[i].name, name, len) == 0)
			return &duration_units[i];
	}
	return NULL;
}

static bool
duration_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Go's leadingInt: the integer part, refusing values above 2^63. */
static int
duration_leading_int(const char **s, uint64_t *out)
{
	uint64_t x = 0;

	for (; duration_is_digit(**s); (*s)++) {
		if (x > DURATION_NS_LIMIT / 10)
			return -1;
		x = x * 10 + (uint64_t)(**s - '0');
		if (x > DURATION_NS_LIMIT)
			return -1;
	}
	*out = x;
	return 0;
}

/* Go's leadingFraction: digits past int64 precision are skipped, not an error. */
static void
duration_leading_fraction(const char **s, uint64_t *out, double *scale)
{
	uint64_t x = 0;
	bool overflow = false;

	*scale = 1;
	for (; duration_is_digit(**s); (*s)++) {
		uint64_t y;

		if (overflow)
			continue;
		if (x > (DURATION_NS_LIMIT - 1) / 10) {
			overflow = true;
			continue;
		}
		y = x * 10 + (uint64_t)(**s - '0');
		if (y > DURATION_NS_LIMIT) {
			overflow = true;
			continue;
		}
		x = y;
		*scale *= 10;
	}
	*out = x;
}

static int
duration_invalid(consul_error *err, const char *text, const char *problem)
{
	return consul_error_set(err, NULL, "invalid duration \"%s\": %s (" DURATION_FORMS ")", text,
	                        problem);
}

/*
 * One "<number><unit>" term at *s, added to *total_ns.  `text` is the whole
 * input (for messages), `body` where the terms start (after a sign): a
 * unit-less number is accepted only as the whole body, and means seconds.
 */
static int
duration_term(const char *text, const char *body, const char **s, uint64_t *total_ns,
              consul_error *err)
{
	const struct duration_unit *unit;
	const char *start = *s, *unit_start;
	uint64_t v, f = 0;
	double scale = 1;
	bool pre, post = false;

	if (!(**s == '.' || duration_is_digit(**s)))
		return duration_invalid(err, text, "expected a number");
	if (duration_leading_int(s, &v) < 0)
		return duration_invalid(err, text, "too large");
	pre = *s != start;
	if (**s == '.') {
		const char *frac = ++*s;

		duration_leading_fraction(s, &f, &scale);
		post = *s != frac;
	}
	if (!pre && !post)
		return duration_invalid(err, text, "a number needs at least one digit");

	unit_start = *s;
	while (**s && **s != '.' && !duration_is_digit(**s))
		(*s)++;
	if (*s == unit_start) {
		if (start != body || **s)
			return duration_invalid(err, text, "missing unit");
		unit = duration_find_unit("s", 1);
	} else {
		unit = duration_find_unit(unit_start, (size_t)(*s - unit_start));
	}
	if (!unit) {
		char problem[96];

		snprintf(problem, sizeof problem, "unknown unit \"%.*s\"", (int)(*s - unit_start),
		         unit_start);
		return duration_invalid(err, text, problem);
	}

	if (v > DURATION_NS_LIMIT / unit->ns)
		return duration_invalid(err, text, "too large");
	v *= unit->ns;
	if (f > 0) {
		/* As Go: float64 keeps fractions of hours nanosecond-accurate. */
		v += (uint64_t)((double)f * ((double)unit->ns / scale));
		if (v > DURATION_NS_LIMIT)
			return duration_invalid(err, text, "too large");
	}
	*total_ns += v;
	if (*total_ns > DURATION_NS_LIMIT)
		return duration_invalid(err, text, "too large");
	return 0;
}

int
consul_duration_parse(const char *text, int64_t *out_ms, consul_error *err)
{
	const char *s = text;
	uint64_t total_ns = 0;

	if (!text || !*text)
		return consul_error_set(err, NULL, "empty duration (" DURATION_FORMS ")");
	if (*s == '-')
		return duration_invalid(err, text, "negative durations are not allowed");
	if (*s == '+')
		s++;
	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	if (!*s)
		return duration_invalid(err, text, "expected a number");
	for (const char *body = s; *s;) {
		if (duration_term(text, body, &s, &total_ns, err) < 0)
			return -1;
	}
	if (total_ns > DURATION_NS_LIMIT - 1)
		return duration_invalid(err, text, "too large");
	if (total_ns > 0 && total_ns < NS_PER_MS)
		return duration_invalid(err, text, "below the 1ms resolution");
	/* Sub-millisecond remainders ("1.5ms") are dropped: ms is our resolution. */
	*out_ms = (int64_t)(total_ns / NS_PER_MS);
	return 0;
}

/* Go's Duration.String restricted to whole milliseconds. */
void
consul_duration_format(int64_t ms, char *buf, size_t len)
{
	uint64_t u = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	const char *sign = ms < 0 ? "-" : "";
	uint64_t secs = u / 1000, h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
	char frac[8] = "";

	if (!buf || !len)
		return;
	if (u == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	if (u < 1000) {
		snprintf(buf, len, "%s%" PRIu64 "ms", sign, u);
		return;
	}
	if (u % 1000) {
		size_t n;

		snprintf(frac, sizeof frac, ".%03u", (unsigned)(u % 1000));
		for (n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	if (h)
		snprintf(buf, len, "%s%" PRIu64 "h%" PRIu64 "m%" PRIu64 "%ss", sign, h, m, s, frac);
	else if (m)
		snprintf(buf, len, "%s%" PRIu64 "m%" PRIu64 "%ss", sign, m, s, frac);
	else
		snprintf(buf, len, "%s%" PRIu64 "%ss", sign, s, frac);
}
