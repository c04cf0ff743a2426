/*
 * zombie-maker - a test child that leaves orphans for its init to reap.
 *
 *   zombie-maker COUNT DONEFILE
 *
 * COUNT times: fork a middle process that forks a grandchild and exits at
 * once; the grandchild exits too, so it is re-parented to the nearest
 * reaper (PID 1 of the namespace, or a subreaper) as a zombie.  Then it
 * writes DONEFILE and waits for SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int count;
	FILE *f;

	if (argc != 3)
		return 2;
	count = atoi(argv[1]);
	for (int i = 0; i < count; i++) {
		pid_t middle = fork();
		if (middle < 0)
			return 3;
		if (middle == 0) {
			if (fork() == 0)
				_exit(0); /* the orphan-to-be */
			_exit(0);
		}
		waitpid(middle, NULL, 0);
	}
	f = fopen(argv[2], "w");
	if (f == NULL)
		return 4;
	fprintf(f, "%d\n", count);
	fclose(f);
	for (;;)
		pause();
}
