/*
 * Exec probes against real commands: status mapping, captured output,
 * timeouts that kill the whole process group, the clean environment.
 * Each run goes through the event loop until done fires; a deadline
 * timer fails the test instead of hanging.  SIGCHLD reaches ev_reap as
 * in the daemon: through sig.c's self-pipe.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "ev.h"
#include "probe.h"
#include "probe_loop.h"
#include "sig.h"

#define CLEAN_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct harness {
	ev_timer poll;
	bool (*until)(void *arg);
	void *until_arg;
};

static struct harness h;

static void
setup(void)
{
	memset(&h, 0, sizeof(h));
	probe_loop_setup();
#ifdef __linux__
	/* Orphaned grandchildren come back to us, so ev_reap collects them
	 * and "gone" can be told from "zombie of someone else". */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
}

static void
teardown(void)
{
	probe_loop_teardown();
}

TestSuite(probe_exec, .init = setup, .fini = teardown, .timeout = 30);

static struct probe *
make(struct check_conf *check)
{
	consul_error err = { 0 };
	struct probe *probe;

	check->id = "exec-test";
	check->kind = PROBE_EXEC;
	if (check->timeout_ms == 0)
		check->timeout_ms = 10000;
	if (check->output_max_size == 0)
		check->output_max_size = 4096;
	probe = probe_new(pl.loop, check, &err);
	cr_assert_not_null(probe, "probe_new: %s: %s", err.source, err.text);
	return probe;
}

static void
run_args(char **args, enum consul_status status, const char *output)
{
	struct check_conf check = { .args = args };
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, status, "status %d, output \"%s\"", pl.status, pl.output);
	cr_assert_str_eq(pl.output, output);
	probe_free(probe);
}

static int64_t
on_poll(ev_loop *loop, ev_timer *timer, void *arg)
{
	if (h.until(h.until_arg)) {
		ev_break(loop);
		return EV_TIMER_STOP;
	}
	return 5;
}

/* Keep the loop (and reaping) going until pred holds; false on deadline. */
static bool
wait_until(bool (*pred)(void *), void *arg, int64_t limit_ms)
{
	bool ok;

	h.until = pred;
	h.until_arg = arg;
	ev_timer_init(&h.poll, on_poll, NULL);
	ev_timer_start(pl.loop, &h.poll, 0);
	ok = probe_loop_run(limit_ms);
	ev_timer_stop(pl.loop, &h.poll);
	return ok;
}

static bool
pid_gone(void *arg)
{
	pid_t pid = *(pid_t *)arg;

	return kill(pid, 0) < 0 && errno == ESRCH;
}

static void
assert_gone(pid_t pid)
{
	cr_assert_gt(pid, 1);
	cr_assert(wait_until(pid_gone, &pid, 5000), "process %d survived its check", (int)pid);
}

/* ------------------------------------------------------------------ status */

Test(probe_exec, exit_0_is_passing)
{
	run_args((char *[]){ "/bin/sh", "-c", "echo hello", NULL }, CONSUL_PASSING, "hello\n");
}

Test(probe_exec, exit_1_is_warning)
{
	run_args((char *[]){ "/bin/sh", "-c", "echo careful; exit 1", NULL }, CONSUL_WARNING,
	         "careful\n");
}

Test(probe_exec, exit_2_is_critical)
{
	run_args((char *[]){ "/bin/sh", "-c", "echo broken; exit 2", NULL }, CONSUL_CRITICAL,
	         "broken\n");
}

Test(probe_exec, other_exit_codes_are_critical)
{
	run_args((char *[]){ "/bin/sh", "-c", "exit 255", NULL }, CONSUL_CRITICAL, "");
}

Test(probe_exec, death_by_signal_is_critical)
{
	run_args((char *[]){ "/bin/sh", "-c", "echo dying; kill -KILL $$", NULL }, CONSUL_CRITICAL,
	         "dying\n");
}

Test(probe_exec, stdout_and_stderr_are_both_captured)
{
	run_args((char *[]){ "/bin/sh", "-c", "echo out; echo err >&2; echo out2", NULL },
	         CONSUL_PASSING, "out\nerr\nout2\n");
}

Test(probe_exec, stdin_is_dev_null)
{
	run_args((char *[]){ "/bin/sh", "-c", "cat; echo end", NULL }, CONSUL_PASSING, "end\n");
}

Test(probe_exec, inherited_descriptors_are_closed)
{
	/* A descriptor without close-on-exec, as libcurl's sockets are. */
	int fd = dup(STDIN_FILENO);
	char script[128];

	cr_assert_geq(fd, 3);
	snprintf(script, sizeof(script),
	         "test -e /proc/self/fd/%d && echo leaked; ls /proc/self/fd", fd);
	/* 3 is the directory ls reads. */
	run_args((char *[]){ "/bin/sh", "-c", script, NULL }, CONSUL_PASSING, "0\n1\n2\n3\n");
	close(fd);
}

Test(probe_exec, probe_can_run_again)
{
	struct check_conf check = { .args = (char *[]){ "/bin/sh", "-c", "echo again", NULL } };
	struct probe *probe = make(&check);

	for (int i = 0; i < 3; i++) {
		probe_loop_run_one(probe, 10000);
		cr_assert_eq(pl.status, CONSUL_PASSING);
		cr_assert_str_eq(pl.output, "again\n");
	}
	cr_assert_eq(pl.calls, 3);
	probe_free(probe);
}

/* ------------------------------------------------------------------ output */

Test(probe_exec, long_output_keeps_its_tail_with_consul_prefix)
{
	/* 200 lines of "NNNN\n": 1000 bytes, max 100. */
	struct check_conf check = {
		.args =
		        (char *[]){
		                "/bin/sh", "-c",
		                "i=0; while [ $i -lt 200 ]; do printf '%04d\\n' $i; i=$((i+1)); "
		                "done",
		                NULL },
		.output_max_size = 100,
	};
	struct probe *probe = make(&check);
	char all[1001], expected[128];

	for (int i = 0; i < 200; i++)
		snprintf(all + 5 * i, 6, "%04d\n", i);
	snprintf(expected, sizeof(expected), "Captured 70 of 1000 bytes\n...\n%s", all + 930);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING);
	cr_assert_str_eq(pl.output, expected);
	cr_assert_leq(strlen(pl.output), 100);
	probe_free(probe);
}

Test(probe_exec, huge_output_stays_bounded)
{
	/* 4 MB through a 4096-byte ring: the run ends, the output fits. */
	struct check_conf check = {
		.args = (char *[]){ "/bin/sh", "-c",
		                    "head -c 4194304 /dev/zero | tr '\\0' x; echo END", NULL },
	};
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 20000);
	cr_assert_eq(pl.status, CONSUL_PASSING);
	cr_assert_leq(strlen(pl.output), 4096);
	cr_assert(strncmp(pl.output, "Captured ", 9) == 0, "%.60s", pl.output);
	cr_assert(strstr(pl.output, " of 4194308 bytes\n...\n") != NULL, "%.60s", pl.output);
	cr_assert_str_eq(pl.output + strlen(pl.output) - 5, "xEND\n");
	probe_free(probe);
}

/* ---------------------------------------------------------------- timeouts */

/* The pid a script printed on the line after the timeout message. */
static pid_t
pid_after_timeout(const char *output, const char *message)
{
	size_t n = strlen(message);

	cr_assert(strncmp(output, message, n) == 0, "output: \"%s\"", output);
	return (pid_t)atoi(output + n);
}

Test(probe_exec, timeout_kills_the_whole_process_group)
{
	/* The script waits on a background sleep: both must go. */
	struct check_conf check = {
		.args = (char *[]){ "/bin/sh", "-c", "sleep 60 & echo $!; wait", NULL },
		.timeout_ms = 300,
	};
	struct probe *probe = make(&check);
	pid_t grandchild;

	probe_loop_run_one(probe, 5000);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_geq(pl.elapsed_ms, 290);
	cr_assert_lt(pl.elapsed_ms, 3000);
	grandchild = pid_after_timeout(pl.output, "Timed out (300ms) running check\n\n");
	char expected[96];
	snprintf(expected, sizeof(expected), "Timed out (300ms) running check\n\n%d\n",
	         (int)grandchild);
	cr_assert_str_eq(pl.output, expected);
	assert_gone(grandchild);
	probe_free(probe);
}

Test(probe_exec, timeout_without_output_is_the_message_alone)
{
	struct check_conf check = {
		.args = (char *[]){ "/bin/sleep", "60", NULL },
		.timeout_ms = 1500,
	};
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 5000);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, "Timed out (1.5s) running check");
	probe_free(probe);
}

Test(probe_exec, background_process_holding_the_output_is_bounded_by_the_timeout)
{
	/* sh exits 0 at once, but the sleep keeps the pipe open: as in
	 * Consul, the run waits for EOF, and the timeout ends it. */
	struct check_conf check = {
		.args = (char *[]){ "/bin/sh", "-c", "sleep 60 & echo $!", NULL },
		.timeout_ms = 300,
	};
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 5000);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	assert_gone(pid_after_timeout(pl.output, "Timed out (300ms) running check\n\n"));
	probe_free(probe);
}

Test(probe_exec, leftovers_are_killed_when_a_run_ends)
{
	/* The background sleep does not hold the pipe: the run passes at
	 * once, and the end of the run takes the sleep with it. */
	struct check_conf check = {
		.args = (char *[]){ "/bin/sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!", NULL },
	};
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 5000);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	cr_assert_lt(pl.elapsed_ms, 5000);
	assert_gone((pid_t)atoi(pl.output));
	probe_free(probe);
}

/* ------------------------------------------------------------- environment */

Test(probe_exec, environment_is_clean_by_default)
{
	struct check_conf check = {
		.args = (char *[]){ "/usr/bin/env", NULL },
		.env = (char *[]){ "FOO=bar", "EMPTY=", NULL },
	};
	struct probe *probe;

	setenv("OSTIARY_PROBE_SECRET", "leaked", 1);
	setenv("CONSUL_HTTP_TOKEN", "s3cr3t", 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING);
	cr_assert_str_eq(pl.output, CLEAN_PATH "\nFOO=bar\nEMPTY=\n");
	probe_free(probe);
}

Test(probe_exec, configured_variables_override_path_and_each_other)
{
	struct check_conf check = {
		.args = (char *[]){ "/usr/bin/env", NULL },
		.env = (char *[]){ "PATH=/bin", "A=1", "A=2", NULL },
	};
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 10000);
	cr_assert_str_eq(pl.output, "PATH=/bin\nA=2\n");
	probe_free(probe);
}

Test(probe_exec, inherit_env_passes_ostiarys_environment_with_overrides)
{
	struct check_conf check = {
		.args = (char *[]){ "/usr/bin/env", NULL },
		.env = (char *[]){ "OSTIARY_PROBE_OVERRIDE=mine", NULL },
		.inherit_env = true,
	};
	struct probe *probe;

	setenv("OSTIARY_PROBE_KEPT", "yes", 1);
	setenv("OSTIARY_PROBE_OVERRIDE", "theirs", 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING);
	cr_assert(strstr(pl.output, "\nOSTIARY_PROBE_KEPT=yes\n") != NULL ||
	                  strncmp(pl.output, "OSTIARY_PROBE_KEPT=yes\n", 23) == 0,
	          "%s", pl.output);
	cr_assert(strstr(pl.output, "OSTIARY_PROBE_OVERRIDE=mine\n") != NULL, "%s", pl.output);
	cr_assert_null(strstr(pl.output, "theirs"), "%s", pl.output);
	probe_free(probe);
}

Test(probe_exec, cwd_is_where_the_command_runs)
{
	char dir[] = "/tmp/ostiary-probe-cwd-XXXXXX", real[PATH_MAX], expected[PATH_MAX + 2];
	struct check_conf check = { .args = (char *[]){ "/bin/pwd", NULL } };
	struct probe *probe;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_not_null(realpath(dir, real));
	check.cwd = dir;
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "%s\n", real);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
	rmdir(dir);
}

Test(probe_exec, missing_cwd_is_critical)
{
	struct check_conf check = {
		.args = (char *[]){ "/bin/pwd", NULL },
		.cwd = "/nonexistent/ostiary",
	};
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, "chdir /nonexistent/ostiary: No such file or directory");
	probe_free(probe);
}

/* ---------------------------------------------------------- exec and shell */

Test(probe_exec, missing_program_is_critical)
{
	run_args((char *[]){ "/nonexistent/ostiary-check", NULL }, CONSUL_CRITICAL,
	         "exec /nonexistent/ostiary-check: No such file or directory");
}

Test(probe_exec, program_not_on_path_is_critical)
{
	run_args((char *[]){ "ostiary-no-such-command", NULL }, CONSUL_CRITICAL,
	         "exec ostiary-no-such-command: No such file or directory");
}

Test(probe_exec, bare_names_are_found_on_the_clean_path)
{
	run_args((char *[]){ "echo", "found", NULL }, CONSUL_PASSING, "found\n");
}

Test(probe_exec, non_executable_file_is_critical)
{
	char path[] = "/tmp/ostiary-probe-noexec-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	chmod(path, 0644);
	char expected[128];
	/* Even root cannot execute a file without any x bit. */
	snprintf(expected, sizeof(expected), "exec %s: Permission denied", path);
	run_args((char *[]){ path, NULL }, CONSUL_CRITICAL, expected);
	unlink(path);
}

Test(probe_exec, arguments_are_not_given_to_a_shell)
{
	run_args((char *[]){ "/bin/echo", "$HOME;echo x", "`id`", NULL }, CONSUL_PASSING,
	         "$HOME;echo x `id`\n");
}

Test(probe_exec, shell_runs_the_script_when_asked)
{
	struct check_conf check = {
		.args = (char *[]){ "echo $((6 * 7)); exit 1", NULL },
		.shell = true,
	};
	struct probe *probe = make(&check);

	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_WARNING);
	cr_assert_str_eq(pl.output, "42\n");
	probe_free(probe);
}

/* -------------------------------------------------------------- credentials */

static void
assert_probe_error(struct check_conf *check, const char *text)
{
	consul_error err = { 0 };

	check->id = "exec-test";
	check->kind = PROBE_EXEC;
	cr_assert_null(probe_new(pl.loop, check, &err));
	cr_assert_str_eq(err.text, text);
	cr_assert_str_eq(err.source, "check exec-test");
}

Test(probe_exec, unknown_user_is_refused_up_front)
{
	struct check_conf check = {
		.args = (char *[]){ "/bin/true", NULL },
		.user = "ostiary-no-such-user",
	};

	assert_probe_error(&check, "unknown user \"ostiary-no-such-user\"");
}

Test(probe_exec, unknown_group_is_refused_up_front)
{
	struct check_conf check = {
		.args = (char *[]){ "/bin/true", NULL },
		.group = "ostiary-no-such-group",
	};

	assert_probe_error(&check, "unknown group \"ostiary-no-such-group\"");
}

Test(probe_exec, another_user_needs_root)
{
	struct check_conf check = {
		.args = (char *[]){ "/bin/true", NULL },
		.user = "root",
	};
	struct passwd *nobody = getpwnam("nobody");
	char expected[160];

	/* This test process is disposable: as root, become nobody first. */
	if (geteuid() == 0) {
		cr_assert_not_null(nobody);
		cr_assert_eq(setgid(nobody->pw_gid), 0);
		cr_assert_eq(setuid(nobody->pw_uid), 0);
	}
	snprintf(
	        expected, sizeof(expected),
	        "running a check as user \"root\" needs ostiary to run as root (it runs as uid %u)",
	        (unsigned)geteuid());
	assert_probe_error(&check, expected);
}

Test(probe_exec, own_user_needs_no_root)
{
	struct passwd *self = getpwuid(geteuid());
	struct check_conf check = { .args = (char *[]){ "/usr/bin/id", "-u", NULL } };
	struct probe *probe;
	char expected[32];

	cr_assert_not_null(self);
	check.user = self->pw_name;
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "%u\n", (unsigned)geteuid());
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

Test(probe_exec, runs_as_the_configured_user)
{
	struct passwd *nobody = getpwnam("nobody");
	struct check_conf check = {
		.args = (char *[]){ "/bin/sh", "-c", "id -u; id -g; id -G", NULL },
		.user = "nobody",
	};
	struct probe *probe;
	char expected[64];

	if (geteuid() != 0)
		cr_skip_test("needs root");
	cr_assert_not_null(nobody);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "%u\n%u\n", (unsigned)nobody->pw_uid,
	         (unsigned)nobody->pw_gid);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	cr_assert(strncmp(pl.output, expected, strlen(expected)) == 0, "%s", pl.output);
	/* root's supplementary groups are gone */
	cr_assert_null(strstr(pl.output + strlen(expected), "0\n"), "%s", pl.output);
	probe_free(probe);
}

Test(probe_exec, numeric_user_and_group)
{
	struct check_conf check = {
		.args = (char *[]){ "/bin/sh", "-c", "id -u; id -g", NULL },
		.user = "4242",
		.group = "4343",
	};
	struct probe *probe;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	cr_assert_str_eq(pl.output, "4242\n4343\n");
	probe_free(probe);
}

Test(probe_exec, numeric_user_without_entry_needs_a_group)
{
	struct check_conf check = {
		.args = (char *[]){ "/bin/true", NULL },
		.user = "4242",
	};

	if (getpwuid(4242) != NULL)
		cr_skip_test("uid 4242 exists here");
	assert_probe_error(&check, "user 4242 has no entry in the user database: set a group too");
}

/* ------------------------------------------------------------ life cycle */

Test(probe_exec, process_checks_have_no_probe)
{
	struct check_conf check = { .id = "svc", .kind = PROBE_PROCESS };
	consul_error err = { 0 };

	cr_assert_null(probe_new(pl.loop, &check, &err));
	cr_assert_str_eq(err.text, "a process check has no probe: it follows the child");
	cr_assert_str_eq(err.source, "check svc");
}

Test(probe_exec, empty_command_is_refused)
{
	struct check_conf check = { .args = (char *[]){ NULL } };

	assert_probe_error(&check, "an exec check needs a command");
}

/* A file holding "<pid of sh> <pid of sleep>" written by the script. */
static bool
file_ready(void *arg)
{
	struct stat st;

	return stat(arg, &st) == 0;
}

static void
read_pids(const char *path, pid_t *a, pid_t *b)
{
	FILE *f = fopen(path, "r");
	int x = 0, y = 0;

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d %d", &x, &y), 2);
	fclose(f);
	*a = x;
	*b = y;
}

static void
remove_pids(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	unlink(path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static struct probe *
start_pid_writer(char *path, char *script, size_t len)
{
	struct check_conf check = { .args = (char *[]){ "/bin/sh", "-c", script, NULL } };
	struct probe *probe;
	char dir[] = "/tmp/ostiary-probe-pids-XXXXXX";

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, PATH_MAX, "%s/pids", dir);
	snprintf(script, len, "sleep 60 & echo $$ $! > %s.tmp; mv %s.tmp %s; wait", path, path,
	         path);
	probe = make(&check);
	cr_assert_eq(probe_start(probe, probe_loop_done, NULL), 0);
	cr_assert(wait_until(file_ready, path, 5000), "the script never wrote %s", path);
	return probe;
}

Test(probe_exec, start_while_running_is_refused)
{
	char path[PATH_MAX], script[PATH_MAX * 3 + 64];
	struct probe *probe = start_pid_writer(path, script, sizeof(script));

	cr_assert(probe_running(probe));
	cr_assert_eq(probe_start(probe, probe_loop_done, NULL), -1);
	cr_assert(probe_running(probe));
	probe_free(probe);
	cr_assert_eq(pl.calls, 0);
	remove_pids(path);
}

Test(probe_exec, cancel_kills_the_group_and_reports_nothing)
{
	char path[PATH_MAX], script[PATH_MAX * 3 + 64];
	struct probe *probe = start_pid_writer(path, script, sizeof(script));
	pid_t sh, sleeper;

	read_pids(path, &sh, &sleeper);
	probe_cancel(probe);
	cr_assert_not(probe_running(probe));
	assert_gone(sh);
	assert_gone(sleeper);
	/* Nothing arrives later either. */
	cr_assert_not(probe_loop_run(200));
	cr_assert_eq(pl.calls, 0);
	probe_free(probe);
	remove_pids(path);
}

Test(probe_exec, free_while_running_kills_the_group)
{
	char path[PATH_MAX], script[PATH_MAX * 3 + 64];
	struct probe *probe = start_pid_writer(path, script, sizeof(script));
	pid_t sh, sleeper;

	read_pids(path, &sh, &sleeper);
	probe_free(probe);
	assert_gone(sh);
	assert_gone(sleeper);
	cr_assert_eq(pl.calls, 0);
	remove_pids(path);
}

/* done may start the next run and free nothing it should not. */
static struct probe *chained;

static void
on_done_restart(void *arg, enum consul_status status, const char *output)
{
	probe_loop_done(arg, status, output);
	cr_assert_str_eq(output, "chain\n");
	if (pl.calls < 3) {
		cr_assert_eq(probe_start(chained, on_done_restart, NULL), 0);
		cr_assert_str_eq(output, "chain\n");
	}
}

Test(probe_exec, done_may_start_the_next_run)
{
	struct check_conf check = { .args = (char *[]){ "/bin/echo", "chain", NULL } };

	chained = make(&check);
	cr_assert_eq(probe_start(chained, on_done_restart, NULL), 0);
	for (int i = 0; i < 3; i++)
		cr_assert(probe_loop_run(10000));
	cr_assert_eq(pl.calls, 3);
	cr_assert_not(probe_running(chained));
	probe_free(chained);
}
