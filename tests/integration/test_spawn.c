/* What the command is started with: descriptors and environment. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static bool
file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

/* The whole file (malloc'd), or NULL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	if (len != NULL)
		*len = n;
	return buf;
}

/* The "fd N TARGET" lines of a procinfo report, in one string. */
static char *
fd_lines(const char *report)
{
	char *text = slurp(report, NULL), *out = calloc(1, 65536), *save = NULL;

	cr_assert_not_null(text, "no report from procinfo at %s", report);
	for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "fd ", 3) == 0) {
			strcat(out, l);
			strcat(out, "\n");
		}
	}
	free(text);
	return out;
}

/* The value of env NAME in a procinfo report (malloc'd), or NULL. */
static char *
report_env(const char *report, const char *name)
{
	char *text = slurp(report, NULL), *value = NULL, *save = NULL;
	size_t nlen = strlen(name);

	for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, "env ", 4) == 0 && strncmp(l + 4, name, nlen) == 0 &&
		    l[4 + nlen] == '=')
			value = strdup(l + 5 + nlen);
	free(text);
	return value;
}

/* NAME's value in the environment block of pid (malloc'd), or NULL. */
static char *
proc_env(pid_t pid, const char *name)
{
	char path[64], *text, *value = NULL;
	size_t len, nlen = strlen(name);

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	text = slurp(path, &len);
	cr_assert_not_null(text);
	for (size_t i = 0; i < len; i += strlen(text + i) + 1)
		if (strncmp(text + i, name, nlen) == 0 && text[i + nlen] == '=')
			value = strdup(text + i + nlen + 1);
	free(text);
	return value;
}

/* Neither the event loop's descriptors (libcurl's socketpair, the signal
 * pipe), nor the notify socket, nor what ostiary itself inherited reach
 * the command: only 0, 1 and 2. */
Test(spawn, the_command_gets_only_0_1_2)
{
	sim s;
	proc p;
	const char *report = scratch_path("info"), *info = helper_path("procinfo");
	const char *args[] = { "--notify", "svc", "--", info, report, NULL };
	char *fds, *out;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	fds = fd_lines(report);
	/* proc_start gives ostiary /dev/null and its capture file. */
	cr_assert(strncmp(fds, "fd 0 /dev/null\nfd 1 /", 21) == 0, "descriptors:\n%s", fds);
	out = strstr(fds, "fd 2 ");
	cr_assert(out != NULL && strchr(out, '\n')[1] == '\0', "descriptors:\n%s", fds);
	free(fds);
	proc_kill(&p);
	sim_stop(&s);
}

/* Started with 0, 1 and 2 closed, ostiary holds them with /dev/null before
 * it opens anything, so its own descriptors never become the command's
 * stdio. */
Test(spawn, closed_stdio_becomes_dev_null_for_the_command)
{
	sim s;
	proc p;
	const char *report = scratch_path("info"), *info = helper_path("procinfo");
	const char *argv[] = { "/bin/sh", "-c",   "exec \"$@\" <&- >&- 2>&-",
		               "sh",      NULL,   "--http-addr",
		               NULL,      "svc",  "--",
		               info,      report, NULL };
	char *fds;

	start_sim(&s, NULL);
	/* Under `make valgrind`, OSTIARY_BIN is a script that execs valgrind,
	 * whose log file would take the closed 0 before ostiary runs: this
	 * one test runs the real binary. */
	argv[4] = getenv("OSTIARY_REAL_BIN") ? getenv("OSTIARY_REAL_BIN") : ostiary_bin();
	argv[6] = s.agent_addr;
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	fds = fd_lines(report);
	cr_assert_str_eq(fds, "fd 0 /dev/null\nfd 1 /dev/null\nfd 2 /dev/null\n");
	free(fds);
	proc_kill(&p);
	sim_stop(&s);
}

/* --notify: the command's environment is ostiary's with NOTIFY_SOCKET set
 * to ostiary's socket (replacing one ostiary was given); ostiary's own
 * stays as it was.  /proc/<pid>/environ shows the block ostiary was
 * exec'd with, so the last assertion only catches a changed start-up. */
Test(spawn, notify_socket_is_given_to_the_command_only)
{
	sim s;
	proc p;
	const char *report = scratch_path("info"), *info = helper_path("procinfo");
	const char *args[] = { "--notify", "svc", "--", info, report, "--wait", NULL };
	const char *env[] = { "NOTIFY_SOCKET=/outer/socket", "OSTIARY_TEST_MARK=kept", NULL };
	char *value, *mark;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, env);
	cr_assert(wait_until(file_exists, (void *)report, DEADLINE_MS), "procinfo did not run");
	value = report_env(report, "NOTIFY_SOCKET");
	mark = report_env(report, "OSTIARY_TEST_MARK");
	cr_assert(value != NULL && value[0] == '/' && strstr(value, "/notify") != NULL &&
	                  strcmp(value, "/outer/socket") != 0,
	          "NOTIFY_SOCKET=%s", value ? value : "(unset)");
	cr_assert(access(value, F_OK) == 0, "no socket at %s", value);
	cr_assert(mark != NULL && strcmp(mark, "kept") == 0, "the rest of the environment is lost");
	free(value);
	free(mark);
	value = proc_env(p.pid, "NOTIFY_SOCKET");
	cr_assert(value != NULL && strcmp(value, "/outer/socket") == 0,
	          "ostiary's own NOTIFY_SOCKET=%s", value ? value : "(unset)");
	free(value);
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	proc_kill(&p);
	sim_stop(&s);
}

/* Without --notify, a NOTIFY_SOCKET ostiary was given (systemd's, for
 * ostiary itself: sdnotify.c) does not reach the command, and none is made
 * up. */
Test(spawn, without_notify_no_notify_socket_reaches_the_command)
{
	sim s;
	proc p;
	const char *report = scratch_path("info"), *info = helper_path("procinfo");
	const char *args[] = { "svc", "--", info, report, NULL };
	const char *outer[] = { "NOTIFY_SOCKET=/outer/socket", NULL };
	const char *none[] = { "-NOTIFY_SOCKET", NULL };
	char *value;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, outer);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	value = report_env(report, "NOTIFY_SOCKET");
	cr_assert_null(value, "NOTIFY_SOCKET=%s", value);
	proc_kill(&p);
	unlink(report);
	start_ostiary(&p, &s, args, none);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_assert_null(report_env(report, "NOTIFY_SOCKET"));
	proc_kill(&p);
	sim_stop(&s);
}
