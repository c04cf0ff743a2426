/*
 * fuzz_util.h - helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * A property that does not hold must stop the fuzzer as loudly as a
 * sanitizer report does, so that libFuzzer saves the input as a crash:
 * FUZZ_ASSERT prints what failed and aborts.
 */
#ifndef OSTIARY_FUZZ_UTIL_H
#define OSTIARY_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_ASSERT(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                         \
	} while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 4, 5)))
#endif
        ;

/* The input as a C string: everything up to the first NUL byte, if any.
 * The library takes C strings, so that is all any caller can hand it. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/*
 * Split the input at '\n' into at most max C strings (the last one takes
 * the rest).  Returns how many; free each with free().  Lines keep the
 * multi-line seeds readable; a NUL inside a line ends it, as above.
 */
size_t fuzz_lines(const uint8_t *data, size_t size, char **lines, size_t max);

#endif
