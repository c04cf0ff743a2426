/*
 * child.h - the supervised process: start it, follow its state, end it.
 */
#ifndef OSTIARY_CHILD_H
#define OSTIARY_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

enum child_state {
	CHILD_RUNNING = 0,
	CHILD_STOPPED, /* SIGSTOP / SIGTSTP: alive but not serving */
	CHILD_EXITED,
};

struct child {
	pid_t pid;
	enum child_state state;
	int wait_status;  /* valid once CHILD_EXITED */
	int stop_signal;  /* valid while CHILD_STOPPED */
	const char *name; /* argv[0], for messages */
};

/*
 * Start argv (searched on envp's PATH) with exactly the environment envp,
 * in a process group of its own if own_group (see spawn.h).  Returns 0 once
 * the exec has succeeded; otherwise logs why and returns the exit code
 * ostiary must use (126, 127, or 125 if ostiary itself failed).
 */
int child_spawn(struct child *child, char *const argv[], char *const envp[], bool own_group);
/* The same, handing it descriptors 3 .. 3+listen_fds-1 and writing its pid
 * into pid_env, an entry of envp (socket activation: listenfd.h). */
int child_spawn_listen(struct child *child, char *const argv[], char *const envp[], bool own_group,
                       int listen_fds, char *pid_env);

/* What waitpid reported for this child: updates state; returns true if changed. */
bool child_update(struct child *child, int wait_status);

/* Send a signal; a child that is already gone is not an error. */
void child_signal(const struct child *child, int signo);
/* The same to the child's process group (started with own_group), which
 * may outlive the child itself. */
void child_signal_group(const struct child *child, int signo);
/* Is any process left in the child's process group (zombies aside)? */
bool child_group_alive(const struct child *child);

/* The exit code ostiary reports for the child (0..255). */
int child_exit_code(const struct child *child);

#endif
