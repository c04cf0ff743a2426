/* fuzz_util.c - see fuzz_util.h. */
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: property failed: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);

	/* Out of memory is the fuzzer's malloc limit, not a finding: stop. */
	if (s == NULL)
		abort();
	return s;
}

size_t
fuzz_lines(const uint8_t *data, size_t size, char **lines, size_t max)
{
	size_t n = 0;

	while (n < max) {
		const uint8_t *nl = n + 1 < max ? memchr(data, '\n', size) : NULL;
		size_t len = nl ? (size_t)(nl - data) : size;

		lines[n++] = fuzz_strndup(data, len);
		if (nl == NULL)
			break;
		size -= len + 1;
		data = nl + 1;
	}
	return n;
}
