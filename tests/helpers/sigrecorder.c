/*
 * sigrecorder - a test child that writes down what happens to it.
 *
 *   sigrecorder FILE [--ignore-term] [--exit CODE]
 *
 * Appends "ready PID" to FILE at start, then "SIGNO MONO_US" for every
 * signal it receives (MONO_US: CLOCK_MONOTONIC in microseconds, comparable
 * with the simulator's request log).  SIGTERM ends it with CODE (default 0)
 * unless --ignore-term is given.  SIGINT and SIGQUIT end it the same way.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int pipe_fds[2];

static void
on_signal(int signo)
{
	unsigned char b = (unsigned char)signo;
	(void)!write(pipe_fds[1], &b, 1);
}

static void
record(const char *path, const char *line)
{
	FILE *f = fopen(path, "a");

	if (f == NULL)
		exit(90);
	fputs(line, f);
	fclose(f);
}

int
main(int argc, char **argv)
{
	static const int caught[] = {
		SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH
	};
	int ignore_term = 0, code = 0;
	char line[64];

	if (argc < 2)
		return 2;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--ignore-term") == 0)
			ignore_term = 1;
		else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc)
			code = atoi(argv[++i]);
	}
	if (pipe(pipe_fds) < 0)
		return 91;
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		signal(caught[i], on_signal);
	snprintf(line, sizeof(line), "ready %d\n", (int)getpid());
	record(argv[1], line);
	for (;;) {
		unsigned char signo;
		struct timespec ts;

		if (read(pipe_fds[0], &signo, 1) != 1)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(line, sizeof(line), "%d %lld\n", signo,
		         (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
		record(argv[1], line);
		if ((signo == SIGTERM && !ignore_term) || signo == SIGINT || signo == SIGQUIT)
			return code;
	}
}
