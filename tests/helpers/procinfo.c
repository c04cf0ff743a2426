/*
 * procinfo - a test child that writes down what it was started with.
 *
 *   procinfo FILE [--wait]
 *
 * Writes to FILE (whole, by rename, so it appears complete):
 *   fd N TARGET     one line per open descriptor (from /proc/self/fd, less
 *                   the one used to read that directory), TARGET as
 *                   readlink gives it
 *   env NAME=VALUE  one line per environment entry
 *   pgid N          its process group
 * then exits 0, or with --wait waits for SIGTERM and exits 0.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void
list_fds(FILE *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (d == NULL)
		exit(90);
	while ((de = readdir(d)) != NULL) {
		char path[300], target[PATH_MAX];
		ssize_t n;

		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
			n = 0;
		target[n] = '\0';
		fprintf(out, "fd %s %s\n", de->d_name, target);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	char tmp[PATH_MAX], *fds = NULL;
	size_t len = 0;
	sigset_t term;
	int signo;
	FILE *out;

	if (argc < 2)
		return 2;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	/* Listed into memory before FILE is opened, or its descriptor would count. */
	if ((out = open_memstream(&fds, &len)) == NULL)
		return 91;
	list_fds(out);
	fclose(out);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	if ((out = fopen(tmp, "w")) == NULL)
		return 91;
	fputs(fds, out);
	free(fds);
	for (char **e = environ; *e != NULL; e++)
		fprintf(out, "env %s\n", *e);
	fprintf(out, "pgid %d\n", (int)getpgrp());
	if (fclose(out) != 0 || rename(tmp, argv[1]) != 0)
		return 92;
	if (argc > 2 && strcmp(argv[2], "--wait") == 0)
		sigwait(&term, &signo);
	return 0;
}
