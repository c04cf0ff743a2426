/* child.c - spawning and following the supervised process (see child.h). */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "fdlimit.h"
#include "log.h"
#include "sig.h"

/* Runs in the forked child: exec, or report errno through the pipe. */
static _Noreturn void
child_exec(int report_fd, char *const argv[])
{
	int err;

	sig_reset_for_child();
	fdlimit_restore_for_child();
	execvp(argv[0], argv);
	err = errno;
	(void)!write(report_fd, &err, sizeof(err));
	_exit(exitcode_from_exec_errno(err));
}

int
child_spawn(struct child *child, char *const argv[])
{
	int report[2];
	int err = 0;
	ssize_t n;

	memset(child, 0, sizeof(*child));
	child->name = argv[0];
	/* The report pipe is close-on-exec: EOF means exec succeeded, a
	 * word of data is the errno of a failed exec. */
	if (pipe2(report, O_CLOEXEC) < 0) {
		log_warn("cannot create a pipe to start %s", argv[0]);
		return OSTIARY_EXIT_INTERNAL;
	}
	child->pid = fork();
	if (child->pid < 0) {
		log_warn("cannot fork to start %s", argv[0]);
		close(report[0]);
		close(report[1]);
		return OSTIARY_EXIT_INTERNAL;
	}
	if (child->pid == 0) {
		close(report[0]);
		child_exec(report[1], argv);
	}
	close(report[1]);
	do {
		n = read(report[0], &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(err)) {
		int code = exitcode_from_exec_errno(err);
		waitpid(child->pid, NULL, 0);
		child->state = CHILD_EXITED;
		log_errorx("cannot run %s: %s", argv[0],
		           code == OSTIARY_EXIT_NOT_FOUND ? "command not found" : strerror(err));
		return code;
	}
	child->state = CHILD_RUNNING;
	return 0;
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
