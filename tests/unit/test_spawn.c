/*
 * spawn.c against real programs: the environment passed exactly, nothing
 * but 0-2 inherited, each failing step reported with its errno (and the
 * 126/127 mapping the command's exit status uses), the PATH search, the
 * process group, and environments built without touching ostiary's own.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "fdlimit.h"
#include "spawn.h"

extern char **environ;

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ostiary-spawn-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

TestSuite(spawn, .init = setup, .fini = teardown, .timeout = 30);

static const char *
in_dir(const char *name)
{
	static char paths[4][128];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

/* Whole file, NUL bytes included; *len its length. */
static char *
slurp(const char *path, size_t *len)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0, "cannot open %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

/*
 * spawn vforks unless the child must set ids or write LISTEN_PID; the
 * guarantees hold either way, so the tests below that loop over
 * via_fork check both.  Asking for LISTEN_PID takes the fork path
 * (set_ids would too, but needs root).
 */
static bool via_fork;
static char listen_pid[] = "LISTEN_PID=            ";

static pid_t
start(const struct spawn_opts *o, struct spawn_failure *fail)
{
	struct spawn_opts forked = *o;
	char *envp[64];
	size_t n = 0;

	if (!via_fork)
		return spawn(o, fail);
	for (; o->envp[n] != NULL; n++) {
		cr_assert_lt(n, sizeof(envp) / sizeof(envp[0]) - 2);
		envp[n] = o->envp[n];
	}
	envp[n++] = listen_pid;
	envp[n] = NULL;
	forked.envp = envp;
	forked.pid_env = listen_pid;
	return spawn(&forked, fail);
}

/* For messages. */
static const char *
path_name(void)
{
	return via_fork ? "fork" : "vfork";
}

/* Run to the end; the exit code, or -1 when not started (*fail says why). */
static int
run(const struct spawn_opts *o, struct spawn_failure *fail)
{
	struct spawn_failure none;
	pid_t pid = start(o, fail ? fail : &none);
	int status;

	if (pid < 0)
		return -1;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "status %#x", status);
	return WEXITSTATUS(status);
}

/* argv run with its stdout into FILE "out"; returns what it wrote. */
static char *
run_capture(char **argv, char **envp, size_t *len)
{
	struct spawn_opts o;
	int out = open(in_dir("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert_geq(out, 0);
	spawn_opts_init(&o, argv, envp);
	o.stdout_fd = out;
	cr_assert_eq(run(&o, NULL), 0);
	close(out);
	return slurp(in_dir("out"), len);
}

/* ------------------------------------------------------------ environment */

Test(spawn, the_environment_is_exactly_envp)
{
	char *envp[] = { "A=1", "NOTIFY_SOCKET=/run/x", "EMPTY=", NULL };
	const char want[] = "A=1\0NOTIFY_SOCKET=/run/x\0EMPTY=";
	size_t len;
	/* cat's /proc/self/environ is cat's own: the block execve built. */
	char *got = run_capture((char *[]){ "/bin/cat", "/proc/self/environ", NULL }, envp, &len);

	cr_assert_eq(len, sizeof(want), "environment of %zu bytes: %s", len, got);
	cr_assert_eq(memcmp(got, want, sizeof(want)), 0);
}

Test(spawn, env_new_overrides_and_leaves_environ_alone)
{
	char *base[] = { "PATH=/bin", "A=1", "A=2", "B=x", NULL };
	char *set[] = { "B=y", "NOTIFY_SOCKET=/run/n", NULL };
	char **envp;

	unsetenv("NOTIFY_SOCKET");
	envp = spawn_env_new(base, set);
	cr_assert_not_null(envp);
	cr_assert_str_eq(envp[0], "PATH=/bin");
	cr_assert_str_eq(envp[1], "A=2", "a later entry replaces an earlier one in place");
	cr_assert_str_eq(envp[2], "B=y");
	cr_assert_str_eq(envp[3], "NOTIFY_SOCKET=/run/n");
	cr_assert_null(envp[4]);
	cr_assert_str_eq(spawn_env_get(envp, "NOTIFY_SOCKET"), "/run/n");
	cr_assert_null(spawn_env_get(envp, "NOTIFY"), "a prefix is not a name");
	cr_assert_null(getenv("NOTIFY_SOCKET"), "our own environment changed");
	spawn_env_free(envp);
	envp = spawn_env_new(NULL, NULL);
	cr_assert_not_null(envp);
	cr_assert_null(envp[0]);
	spawn_env_free(envp);
}

/* ------------------------------------------------------------ descriptors */

Test(spawn, only_0_1_2_are_inherited)
{
	int plain = open("/dev/null", O_RDONLY); /* no close-on-exec: closed all the same */
	int high = fcntl(plain, F_DUPFD, 200);

	cr_assert_geq(plain, 3);
	cr_assert_eq(high, 200);
	for (int f = 0; f < 2; f++) {
		/* sh's own descriptors, listed by ls (sh -c opens nothing itself). */
		char *got;

		via_fork = f;
		got = run_capture((char *[]){ "/bin/sh", "-c", "ls /proc/$$/fd", NULL },
		                  (char *[]){ "PATH=/bin:/usr/bin", NULL }, NULL);
		cr_assert_str_eq(got, "0\n1\n2\n", "%s", path_name());
	}
	close(plain);
	close(high);
}

Test(spawn, descriptors_given_at_0_to_2_are_moved_into_place)
{
	struct spawn_opts o;
	int saved_in = dup(STDIN_FILENO), out;
	char *argv[] = { "/bin/sh", "-c", "echo to-out; echo to-err >&2", NULL };

	/* The output file lands on 0, so it must be moved onto 1 and 2 and off 0. */
	close(STDIN_FILENO);
	out = open(in_dir("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_eq(out, STDIN_FILENO);
	spawn_opts_init(&o, argv, (char *[]){ NULL });
	o.stdin_fd = SPAWN_DEVNULL;
	o.stdout_fd = out;
	o.stderr_fd = out;
	cr_assert_eq(run(&o, NULL), 0);
	dup2(saved_in, STDIN_FILENO);
	close(saved_in);
	cr_assert_str_eq(slurp(in_dir("out"), NULL), "to-out\nto-err\n");
}

/* --------------------------------------------------------------- failures */

static void
assert_failure(char **argv, char **envp, enum spawn_stage stage, int err, int code)
{
	struct spawn_opts o;
	struct spawn_failure fail;

	spawn_opts_init(&o, argv, envp);
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		cr_assert_eq(run(&o, &fail), -1, "%s started (%s)", argv[0], path_name());
		cr_assert_eq(fail.stage, stage, "stage %d (%s)", (int)fail.stage, path_name());
		cr_assert_eq(fail.err, err, "errno %d (%s), expected %d (%s)", fail.err,
		             strerror(fail.err), err, path_name());
		cr_assert_eq(exitcode_from_exec_errno(fail.err), code);
		cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "the failed child was left unreaped");
	}
}

Test(spawn, missing_program_is_enoent_and_127)
{
	assert_failure((char *[]){ "/nonexistent/ostiary-x", NULL }, (char *[]){ NULL }, SPAWN_EXEC,
	               ENOENT, OSTIARY_EXIT_NOT_FOUND);
	assert_failure((char *[]){ "ostiary-no-such-command", NULL },
	               (char *[]){ "PATH=/bin:/usr/bin", NULL }, SPAWN_EXEC, ENOENT,
	               OSTIARY_EXIT_NOT_FOUND);
}

Test(spawn, non_executable_file_is_eacces_and_126)
{
	write_file(in_dir("noexec"), "#!/bin/sh\nexit 0\n", 0644);
	assert_failure((char *[]){ (char *)in_dir("noexec"), NULL }, (char *[]){ NULL }, SPAWN_EXEC,
	               EACCES, OSTIARY_EXIT_NOT_EXECUTABLE);
}

Test(spawn, missing_cwd_is_reported_as_chdir)
{
	struct spawn_opts o;
	struct spawn_failure fail;

	spawn_opts_init(&o, (char *[]){ "/bin/true", NULL }, (char *[]){ NULL });
	o.cwd = "/nonexistent/ostiary";
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		cr_assert_eq(run(&o, &fail), -1, "%s", path_name());
		cr_assert_eq(fail.stage, SPAWN_CHDIR, "%s", path_name());
		cr_assert_eq(fail.err, ENOENT);
		cr_assert_str_eq(spawn_stage_name(fail.stage), "chdir");
	}
}

Test(spawn, the_working_directory_is_applied)
{
	struct spawn_opts o;
	int out = open(in_dir("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char want[160];

	cr_assert_eq(mkdir(in_dir("cwd"), 0755), 0);
	spawn_opts_init(&o, (char *[]){ "/bin/pwd", "-P", NULL }, (char *[]){ NULL });
	o.stdout_fd = out;
	o.cwd = in_dir("cwd");
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		cr_assert_eq(run(&o, NULL), 0, "%s", path_name());
	}
	close(out);
	snprintf(want, sizeof(want), "%s\n%s\n", in_dir("cwd"), in_dir("cwd"));
	cr_assert_str_eq(slurp(in_dir("out"), NULL), want);
}

Test(spawn, a_program_exiting_127_is_not_a_failure_to_start)
{
	struct spawn_opts o;

	spawn_opts_init(&o, (char *[]){ "/bin/sh", "-c", "exit 127", NULL }, (char *[]){ NULL });
	cr_assert_eq(run(&o, NULL), 127);
}

/* ------------------------------------------------------------ PATH search */

Test(spawn, bare_names_are_searched_on_the_given_path)
{
	char path[256];

	cr_assert_eq(mkdir(in_dir("a"), 0755), 0);
	cr_assert_eq(mkdir(in_dir("b"), 0755), 0);
	/* Not executable in a, executable in b: a is passed over, as execvp does. */
	write_file(in_dir("a/prog"), "#!/bin/sh\necho from-a\n", 0644);
	write_file(in_dir("b/prog"), "#!/bin/sh\necho from-b\n", 0755);
	snprintf(path, sizeof(path), "PATH=/nonexistent::%s:%s", in_dir("a"), in_dir("b"));
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		cr_assert_str_eq(
		        run_capture((char *[]){ "prog", NULL }, (char *[]){ path, NULL }, NULL),
		        "from-b\n", "%s", path_name());
	}
	/* Only the non-executable one: EACCES wins over ENOENT. */
	snprintf(path, sizeof(path), "PATH=/nonexistent:%s", in_dir("a"));
	assert_failure((char *[]){ "prog", NULL }, (char *[]){ path, NULL }, SPAWN_EXEC, EACCES,
	               OSTIARY_EXIT_NOT_EXECUTABLE);
}

Test(spawn, a_script_without_shebang_runs_in_sh_only_when_asked)
{
	struct spawn_opts o;
	struct spawn_failure fail;
	char *argv[] = { (char *)in_dir("plain"), "arg1", NULL };
	int out = open(in_dir("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	write_file(in_dir("plain"), "echo \"plain $1\"\n", 0755);
	spawn_opts_init(&o, argv, (char *[]){ "PATH=/bin:/usr/bin", NULL });
	o.stdout_fd = out;
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		o.script_fallback = false;
		cr_assert_eq(run(&o, &fail), -1, "%s", path_name());
		cr_assert_eq(fail.stage, SPAWN_EXEC);
		cr_assert_eq(fail.err, ENOEXEC);
		o.script_fallback = true;
		cr_assert_eq(run(&o, NULL), 0, "%s", path_name());
	}
	close(out);
	cr_assert_str_eq(slurp(in_dir("out"), NULL), "plain arg1\nplain arg1\n");
}

/* --------------------------------------------------------- process group */

Test(spawn, new_group_makes_the_child_lead_one)
{
	struct spawn_opts o;
	struct spawn_failure fail;
	pid_t pid;

	spawn_opts_init(&o, (char *[]){ "/bin/sleep", "30", NULL }, (char *[]){ NULL });
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		o.new_group = false;
		pid = start(&o, &fail);
		cr_assert_gt(pid, 0);
		cr_assert_eq(getpgid(pid), getpgrp(), "without new_group: our group (%s)",
		             path_name());
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		o.new_group = true;
		pid = start(&o, &fail);
		cr_assert_gt(pid, 0);
		cr_assert_eq(getpgid(pid), pid, "already its own group when spawn returns (%s)",
		             path_name());
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

Test(spawn, signals_are_reset_for_the_child)
{
	sigset_t block;
	unsigned long long blocked, ignored;
	char *got;

	/* Ignored and blocked here; default and unblocked there. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		got = run_capture(
		        (char *[]){ "/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL },
		        (char *[]){ NULL }, NULL);
		cr_assert_eq(sscanf(got, "SigBlk: %llx SigIgn: %llx", &blocked, &ignored), 2, "%s",
		             got);
		/* Signals 1-31: what a caller may have set (32 and up are libc's own). */
		cr_assert_eq(blocked & 0x7fffffffULL, 0, "%s: %s", path_name(), got);
		cr_assert_eq(ignored & 0x7fffffffULL, 0, "%s: %s", path_name(), got);
	}
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

/* ---------------------------------------------------------- resource limits */

/* ostiary raises its soft descriptor limit; the program gets the original
 * (which is why spawn does not use posix_spawn: it cannot set limits). */
Test(spawn, the_soft_descriptor_limit_is_given_back)
{
	struct rlimit saved, low;
	rlim_t raised;
	char *got;

	/* valgrind keeps a limit of its own, which the programs never see. */
	if (strstr(getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "", "vgpreload") != NULL)
		cr_skip_test("RLIMIT_NOFILE is valgrind's under valgrind");
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max <= 512)
		cr_skip_test("hard RLIMIT_NOFILE %llu", (unsigned long long)saved.rlim_max);
	low = (struct rlimit){ 512, saved.rlim_max };
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	fdlimit_raise(&raised);
	cr_assert_gt(raised, 512);
	for (int f = 0; f < 2; f++) {
		via_fork = f;
		got = run_capture((char *[]){ "/bin/sh", "-c", "ulimit -S -n", NULL },
		                  (char *[]){ NULL }, NULL);
		cr_assert_str_eq(got, "512\n", "%s", path_name());
	}
	setrlimit(RLIMIT_NOFILE, &saved);
}
