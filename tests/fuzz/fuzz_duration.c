/*
 * fuzz_duration.c - consul_duration_parse and consul_duration_format.
 *
 * Properties:
 *   - whatever parses is >= 0, and formats to a string that parses back to
 *     the same value (ostiary writes formatted durations into the JSON the
 *     agent decodes, and into its own messages);
 *   - formatting honours the buffer length exactly (snprintf semantics),
 *     whatever the length, so callers may use small buffers;
 *   - any int64, negative included, formats without trouble, and every
 *     value the parser can produce survives format + parse.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ostiary/consul.h"

/* The largest value consul_duration_parse returns: Go's int64 ns, in ms. */
#define DURATION_MAX_MS (INT64_MAX / 1000000)

/* Every length up to the full one, each in a heap buffer of exactly that
 * size so that ASan sees any overrun. */
static void
check_truncation(int64_t ms, const char *full)
{
	size_t full_len = strlen(full);

	for (size_t len = 1; len <= full_len + 1; len++) {
		char *buf = malloc(len);

		if (buf == NULL)
			abort();
		consul_duration_format(ms, buf, len);
		FUZZ_ASSERT(strlen(buf) == len - 1 && strncmp(buf, full, len - 1) == 0,
		            "buffer of %zu gave \"%s\" for \"%s\"", len, buf, full);
		free(buf);
	}
}

static void
check_round_trip(int64_t ms)
{
	char text[64];
	consul_error err = { 0 };
	int64_t again = -1;

	consul_duration_format(ms, text, sizeof text);
	FUZZ_ASSERT(consul_duration_parse(text, &again, &err) == 0,
	            "%" PRId64 " formats to \"%s\", which does not parse: %s", ms, text, err.text);
	FUZZ_ASSERT(again == ms, "%" PRId64 " -> \"%s\" -> %" PRId64, ms, text, again);
	check_truncation(ms, text);
}

/* The input as a duration string, as the flags and both config files give it. */
static void
check_text(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	consul_error err = { 0 };
	int64_t ms = -1;

	if (consul_duration_parse(text, &ms, &err) == 0) {
		FUZZ_ASSERT(ms >= 0 && ms <= DURATION_MAX_MS, "\"%s\" gave %" PRId64, text, ms);
		check_round_trip(ms);
	} else {
		FUZZ_ASSERT(err.text[0] != '\0', "\"%s\" failed without a message", text);
	}
	free(text);
}

/* The first 8 bytes as a raw value, for the formatter's own corner cases. */
static void
check_raw(const uint8_t *data, size_t size)
{
	char text[64];
	int64_t ms;

	if (size < sizeof ms)
		return;
	memcpy(&ms, data, sizeof ms);
	consul_duration_format(ms, text, sizeof text);
	FUZZ_ASSERT(memchr(text, '\0', sizeof text) != NULL, "unterminated");
	if (ms >= 0 && ms <= DURATION_MAX_MS)
		check_round_trip(ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_text(data, size);
	check_raw(data, size);
	return 0;
}
