/*
 * exec-floor - the yardstick for exec checks: the least a program can do
 * to run a check command COUNT times per INTERVAL_MS, spread evenly over
 * the interval, for SECONDS: posix_spawn (glibc: clone with CLONE_VM and
 * CLONE_VFORK) and waitpid, nothing else.  Prints the CPU time it used
 * in total and per run (RUSAGE_SELF: its own, not the programs').
 *
 *   exec-floor COUNT INTERVAL_MS SECONDS [PROGRAM [ARG...]]
 *
 * PROGRAM defaults to /bin/true.  Compare with ostiary running COUNT exec
 * checks of the same program every INTERVAL_MS, e.g.
 *   cc -O2 -o exec-floor tests/bench/exec-floor.c && ./exec-floor 200 10000 45
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
advance(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	t->tv_sec += t->tv_nsec / 1000000000L;
	t->tv_nsec %= 1000000000L;
}

/* One run to its end; its exit status, or -1. */
static int
run(char *const argv[])
{
	pid_t pid;
	int status, err;

	if ((err = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ)) != 0) {
		errno = err;
		perror(argv[0]);
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

int
main(int argc, char *argv[])
{
	static char *true_argv[] = { "/bin/true", NULL };
	char *const *prog = argc > 4 ? argv + 4 : true_argv;
	long count, interval_ms, seconds, runs = 0, failed = 0;
	struct timespec next, end;
	double cpu;

	if (argc < 4 || (count = atol(argv[1])) <= 0 || (interval_ms = atol(argv[2])) <= 0 ||
	    (seconds = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: exec-floor COUNT INTERVAL_MS SECONDS [PROGRAM [ARG...]]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	end = next;
	end.tv_sec += seconds;
	while (next.tv_sec < end.tv_sec ||
	       (next.tv_sec == end.tv_sec && next.tv_nsec < end.tv_nsec)) {
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		failed += run(prog) != 0;
		runs++;
		advance(&next, interval_ms * 1000000L / count);
	}
	cpu = cpu_seconds();
	printf("%ld runs (%ld failed), %.3f s CPU, %.1f us per run\n", runs, failed, cpu,
	       cpu / (double)runs * 1e6);
	return failed > 0;
}
