/* probe_output_tail: Consul's "Captured N of M bytes" shape, within max. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

/* "0000\n0001\n...": every 5-byte line is distinct, so a tail is recognisable. */
static char *
numbered_lines(size_t lines)
{
	char *s = malloc(lines * 5 + 1);

	for (size_t i = 0; i < lines; i++)
		snprintf(s + i * 5, 6, "%04zu\n", i % 10000);
	return s;
}

Test(probe_output, short_output_is_kept_whole)
{
	char *out = probe_output_tail("all of it\n", 10, 10, 4096);

	cr_assert_str_eq(out, "all of it\n");
	free(out);
}

Test(probe_output, exactly_max_bytes_is_not_cut)
{
	char *data = numbered_lines(20); /* 100 bytes */
	char *out = probe_output_tail(data, 100, 100, 100);

	cr_assert_str_eq(out, data);
	free(out);
	free(data);
}

Test(probe_output, cut_output_has_the_captured_prefix_and_the_tail)
{
	char *data = numbered_lines(200); /* 1000 bytes */
	char *out = probe_output_tail(data, 1000, 1000, 100);
	char expected[128];

	/* "Captured 70 of 1000 bytes\n...\n" is 30 bytes: 70 are left for the tail. */
	snprintf(expected, sizeof(expected), "Captured 70 of 1000 bytes\n...\n%s", data + 930);
	cr_assert_str_eq(out, expected);
	cr_assert_eq(strlen(out), 100);
	free(out);
	free(data);
}

Test(probe_output, bytes_already_lost_are_counted_in_the_total)
{
	/* A ring buffer kept the last 50 of 500 bytes; max is not the limit. */
	char *data = numbered_lines(10);
	char *out = probe_output_tail(data, 50, 500, 4096);
	char expected[128];

	snprintf(expected, sizeof(expected), "Captured 50 of 500 bytes\n...\n%s", data);
	cr_assert_str_eq(out, expected);
	free(out);
	free(data);
}

Test(probe_output, tail_grows_when_its_count_needs_fewer_digits)
{
	/* With 10000 bytes and max 40, "Captured 9 of 10000 bytes\n...\n" (30)
	 * plus 9 bytes fits; 10 would need a 31-byte prefix: 41. */
	char *data = numbered_lines(2000);
	char *out = probe_output_tail(data, 10000, 10000, 40);
	char expected[64];

	snprintf(expected, sizeof(expected), "Captured 9 of 10000 bytes\n...\n%s", data + 9991);
	cr_assert_str_eq(out, expected);
	free(out);
	free(data);
}

Test(probe_output, never_longer_than_max_and_as_full_as_allowed)
{
	char *data = numbered_lines(200);

	for (size_t max = 0; max <= 1100; max++) {
		char *out = probe_output_tail(data, 1000, 1000, max);
		size_t len = strlen(out);

		cr_assert_leq(len, max, "max %zu gave %zu bytes", max, len);
		/* The prefix alone is 29 to 32 bytes: past that nothing is wasted
		 * but a byte or so where the count loses a digit. */
		if (max >= 40 && max < 1000)
			cr_assert_geq(len + 1, max, "max %zu gave only %zu bytes", max, len);
		if (max >= 1000)
			cr_assert_str_eq(out, data);
		free(out);
	}
	free(data);
}

Test(probe_output, a_limit_below_the_prefix_cuts_the_prefix_too)
{
	char *out = probe_output_tail("0123456789", 10, 10, 8);

	cr_assert_str_eq(out, "Captured");
	free(out);
}

Test(probe_output, tail_does_not_start_inside_a_utf8_character)
{
	/* 100 times "é" (C3 A9): an odd number of bytes left for the tail
	 * would start on A9; that byte is dropped instead. */
	char data[201];

	for (int i = 0; i < 100; i++)
		memcpy(data + 2 * i, "\xc3\xa9", 2);
	data[200] = '\0';
	/* prefix "Captured NN of 200 bytes\n...\n" is 29 bytes; max 40 leaves 11. */
	char *out = probe_output_tail(data, 200, 200, 40);

	cr_assert_str_eq(out,
	                 "Captured 10 of 200 bytes\n...\n\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	free(out);
}
