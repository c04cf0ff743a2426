/* Exit-code mapping: the child's status as shells report it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"

static int
status_of_child(int how)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (how < 0) {
			signal(-how, SIG_DFL);
			raise(-how);
		}
		_exit(how);
	}
	waitpid(pid, &status, 0);
	return status;
}

Test(exitcode, exit_codes_pass_through)
{
	cr_assert_eq(exitcode_from_wait_status(status_of_child(0)), 0);
	cr_assert_eq(exitcode_from_wait_status(status_of_child(3)), 3);
	cr_assert_eq(exitcode_from_wait_status(status_of_child(255)), 255);
}

Test(exitcode, signals_become_128_plus_n)
{
	cr_assert_eq(exitcode_from_wait_status(status_of_child(-SIGTERM)), 128 + SIGTERM);
	cr_assert_eq(exitcode_from_wait_status(status_of_child(-SIGKILL)), 137);
}

Test(exitcode, exec_errors_as_shells_report_them)
{
	cr_assert_eq(exitcode_from_exec_errno(ENOENT), 127);
	cr_assert_eq(exitcode_from_exec_errno(ENOTDIR), 127);
	cr_assert_eq(exitcode_from_exec_errno(EACCES), 126);
	cr_assert_eq(exitcode_from_exec_errno(ENOEXEC), 126);
}
