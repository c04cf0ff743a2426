/* exitcode.c - exit code mapping (see exitcode.h). */
#include "exitcode.h"

#include <errno.h>
#include <sys/wait.h>

int
exitcode_from_wait_status(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return OSTIARY_EXIT_SIGNAL_BASE + WTERMSIG(wait_status);
	return OSTIARY_EXIT_INTERNAL;
}

int
exitcode_from_exec_errno(int err)
{
	/* ENOENT (no such file, or nothing on PATH) and ENOTDIR (a path
	 * component is not a directory) mean "not found" to a shell; anything
	 * else (EACCES, ENOEXEC, EISDIR, ...) means found but not runnable. */
	if (err == ENOENT || err == ENOTDIR)
		return OSTIARY_EXIT_NOT_FOUND;
	return OSTIARY_EXIT_NOT_EXECUTABLE;
}
