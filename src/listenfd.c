/* listenfd.c - socket activation for the command (see listenfd.h). */
#include "listenfd.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The most descriptors passed on: systemd's own limit is far lower. */
#define LISTENFD_MAX 1024

static int listenfd_n;
static char listenfd_fds[32];
static char listenfd_names[4096];
static char listenfd_pid[sizeof("LISTEN_PID=") + LISTENFD_PID_DIGITS];
static char *listenfd_vars[4];

/* A whole non-negative decimal number, or -1. */
static long
listenfd_number(const char *text)
{
	char *end;
	long n;

	if (text == NULL || *text < '0' || *text > '9')
		return -1;
	n = strtol(text, &end, 10);
	return *end == '\0' ? n : -1;
}

int
listenfd_take(void)
{
	long pid = listenfd_number(getenv("LISTEN_PID"));
	long n = listenfd_number(getenv("LISTEN_FDS"));
	const char *names = getenv("LISTEN_FDNAMES");
	size_t k = 0;

	if (pid == (long)getpid() && n > 0 && n <= LISTENFD_MAX) {
		listenfd_n = (int)n;
		/* ostiary's probes are started from it too: none may inherit them. */
		for (int fd = LISTENFD_START; fd < LISTENFD_START + listenfd_n; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		snprintf(listenfd_fds, sizeof(listenfd_fds), "LISTEN_FDS=%d", listenfd_n);
		snprintf(listenfd_pid, sizeof(listenfd_pid), "LISTEN_PID=%*s", LISTENFD_PID_DIGITS,
		         "");
		listenfd_vars[k++] = listenfd_fds;
		listenfd_vars[k++] = listenfd_pid;
		if (names != NULL && snprintf(listenfd_names, sizeof(listenfd_names),
		                              "LISTEN_FDNAMES=%s", names) < (int)sizeof(listenfd_names))
			listenfd_vars[k++] = listenfd_names;
		listenfd_vars[k] = NULL;
	}
	/* Ours or not, never the probes': sd_listen_fds(unset_environment=1). */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return listenfd_n;
}

int
listenfd_count(void)
{
	return listenfd_n;
}

char *const *
listenfd_env(void)
{
	return listenfd_n > 0 ? listenfd_vars : NULL;
}
