/*
 * util.h - the small idioms every file of the tool would otherwise spell
 * for itself.
 */
#ifndef OSTIARY_UTIL_H
#define OSTIARY_UTIL_H

/* The number of elements of an array (OpenBSD's <sys/param.h> nitems). */
#ifndef nitems
#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Let the compiler check a printf-like format against its arguments. */
#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

#endif
