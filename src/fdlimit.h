/*
 * fdlimit.h - file descriptors: raise the limit, and say at start when the
 * configured checks could still run out of them.
 *
 * Thousands of probes each hold a descriptor or two while they run; when
 * the limit is too low they would fail one by one with "Too many open
 * files".  ostiary raises its soft RLIMIT_NOFILE to the hard limit and
 * warns once, with the numbers, when its estimate is still above it.
 */
#ifndef OSTIARY_FDLIMIT_H
#define OSTIARY_FDLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

#include "conf.h"

/* Descriptors ostiary holds whatever it runs: stdio, the signal pipe,
 * libcurl's wakeup pair, the notify socket, the child's report pipe, and
 * room for libcurl's resolver, files read at start and the like. */
#define FDLIMIT_BASE 16
/* Per probe while it runs: a socket; an http probe maybe a resolver pair
 * too; an exec probe its output pipe (both ends until the fork is done). */
#define FDLIMIT_PER_TCP 1
#define FDLIMIT_PER_HTTP 2
#define FDLIMIT_PER_EXEC 2

struct fdlimit_need {
	size_t tcp, http, exec;
	unsigned long agent; /* agent requests in flight, plus the kept connection */
	unsigned long total;
};

void fdlimit_estimate(const struct conf *conf, struct fdlimit_need *need);
/* Raise the soft limit to the hard one; the limit now in force is put in
 * *limit (RLIM_INFINITY when none).  The original is kept for children. */
void fdlimit_raise(rlim_t *limit);
/* The warning when need->total exceeds limit: true and text in buf. */
bool fdlimit_describe(const struct fdlimit_need *need, rlim_t limit, char *buf, size_t size);
/* Raise, estimate, warn: what main does before anything runs. */
void fdlimit_check(const struct conf *conf);
/* In a forked child before exec (async-signal-safe): give back the soft
 * limit ostiary started with, so programs that size tables or loop over
 * every descriptor by it behave as they would without ostiary. */
void fdlimit_restore_for_child(void);

#endif
