/* child.c - spawning and following the supervised process (see child.h). */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "spawn.h"

int
child_spawn(struct child *child, char *const argv[], char *const envp[], bool own_group)
{
	struct spawn_opts opts;
	struct spawn_failure fail;
	int code;

	memset(child, 0, sizeof(*child));
	child->name = argv[0];
	spawn_opts_init(&opts, argv, envp);
	opts.new_group = own_group;
	/* As the shells (and execvp) do: a script without #! runs in sh. */
	opts.script_fallback = true;
	if ((child->pid = spawn(&opts, &fail)) > 0) {
		child->state = CHILD_RUNNING;
		return 0;
	}
	child->pid = 0;
	child->state = CHILD_EXITED;
	if (fail.stage == SPAWN_PREPARE || fail.stage == SPAWN_FORK) {
		log_warnx("cannot start %s: %s: %s", argv[0], spawn_stage_name(fail.stage),
		          strerror(fail.err));
		return OSTIARY_EXIT_INTERNAL;
	}
	code = exitcode_from_exec_errno(fail.err);
	log_errorx("cannot run %s: %s", argv[0],
	           code == OSTIARY_EXIT_NOT_FOUND ? "command not found" : strerror(fail.err));
	return code;
}

bool
child_update(struct child *child, int wait_status)
{
	enum child_state before = child->state;

	if (WIFEXITED(wait_status) || WIFSIGNALED(wait_status)) {
		child->state = CHILD_EXITED;
		child->wait_status = wait_status;
	} else if (WIFSTOPPED(wait_status)) {
		child->state = CHILD_STOPPED;
		child->stop_signal = WSTOPSIG(wait_status);
	} else if (WIFCONTINUED(wait_status)) {
		child->state = CHILD_RUNNING;
	}
	return child->state != before;
}

void
child_signal(const struct child *child, int signo)
{
	if (child->state == CHILD_EXITED || child->pid <= 0)
		return;
	if (kill(child->pid, signo) < 0 && errno != ESRCH)
		log_warn("cannot send signal %d to %s (pid %d)", signo, child->name,
		         (int)child->pid);
}

int
child_exit_code(const struct child *child)
{
	return exitcode_from_wait_status(child->wait_status);
}
