/* child.c - spawning and following the supervised process (see child.h). */
#include "child.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "spawn.h"

int
child_spawn(struct child *child, char *const argv[], char *const envp[], bool own_group)
{
	return child_spawn_listen(child, argv, envp, own_group, 0, NULL);
}

int
child_spawn_listen(struct child *child, char *const argv[], char *const envp[], bool own_group,
                   int listen_fds, char *pid_env)
{
	struct spawn_opts opts;
	struct spawn_failure fail;
	int code;

	memset(child, 0, sizeof(*child));
	child->name = argv[0];
	spawn_opts_init(&opts, argv, envp);
	opts.new_group = own_group;
	opts.keep_fds = listen_fds;
	opts.pid_env = pid_env;
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

void
child_signal_group(const struct child *child, int signo)
{
	if (child->pid <= 0)
		return;
	/* The group outlives its leader as long as a member is left; the
	 * kernel does not hand its id to another process meanwhile. */
	if (kill(-child->pid, signo) < 0 && errno != ESRCH)
		log_warn("cannot send signal %d to the process group of %s (%d)", signo,
		         child->name, (int)child->pid);
}

/* State and process group of pid from /proc/<pid>/stat; -1 if gone. */
static int
child_proc_stat(const char *pid, char *state, long *pgrp)
{
	char path[300], buf[512], *paren;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	/* The name may hold anything, ")" included: the state follows the last one. */
	if (!ok || (paren = strrchr(buf, ')')) == NULL ||
	    sscanf(paren + 1, " %c %*d %ld", state, pgrp) != 2)
		return -1;
	return 0;
}

static bool
child_proc_is_ours(void)
{
	char self[32];
	ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);

	if (n <= 0)
		return false;
	self[n] = '\0';
	return atol(self) == (long)getpid();
}

/* A member of group pgid that is not a zombie: zombies wait for whoever
 * reaps them (us as PID 1 or subreaper, else init) and do nothing. */
static bool
child_group_running(pid_t pgid)
{
	DIR *dir;
	struct dirent *de;
	bool found = false;
	char state;
	long pgrp;

	/* No /proc, or one of another pid namespace (unshare --pid without
	 * --mount-proc): trust kill(2), which said someone is there. */
	if (!child_proc_is_ours() || (dir = opendir("/proc")) == NULL)
		return true;
	while (!found && (de = readdir(dir)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    child_proc_stat(de->d_name, &state, &pgrp) == 0 && pgrp == (long)pgid &&
		    state != 'Z' && state != 'X')
			found = true;
	closedir(dir);
	return found;
}

bool
child_group_alive(const struct child *child)
{
	if (child->pid <= 0)
		return false;
	/* EPERM: someone is there, if not ours to signal. */
	if (kill(-child->pid, 0) < 0 && errno != EPERM)
		return false;
	return child_group_running(child->pid);
}

int
child_exit_code(const struct child *child)
{
	return exitcode_from_wait_status(child->wait_status);
}
