/*
 * The command's process group: stop and forwarded signals reach a server
 * behind a wrapper script, nothing it started outlives it, the terminal's
 * Ctrl-C reaches ostiary only (so it drains first), --single-child and
 * --rewrite.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* A wrapper that does not exec: the recorder is sh's child, not ostiary's. */
#define WRAPPER "\"$0\" \"$1\"; true"
/* ... that also ignores the stop signal itself and exits 3 once the
 * recorder is gone: only a signal to the whole group ends it. */
#define STUBBORN_WRAPPER "trap '' TERM; \"$0\" \"$1\"; exit 3"

/* Gone, or a zombie nobody has reaped yet: either way it does nothing. */
static bool
process_gone(pid_t pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	bool gone = true;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) != NULL && (paren = strrchr(buf, ')')) != NULL)
		gone = paren[2] == 'Z' || paren[2] == 'X';
	fclose(f);
	return gone;
}

static bool
recorder_gone(void *arg)
{
	return process_gone(*(pid_t *)arg);
}

/* Kill what a failed test may leave behind (it is in no group of ours). */
static void
kill_recorder(const char *file)
{
	pid_t pid = recorder_pid(file);

	if (pid > 0 && !process_gone(pid))
		kill(pid, SIGKILL);
}

/* The recorder file of the running test: whatever the outcome, its
 * recorder (in a process group no kill of ostiary's reaches) goes. */
static const char *current_rec;

static const char *
rec_path(void)
{
	return current_rec = scratch_path("rec");
}

static void
suite_fini(void)
{
	if (current_rec != NULL)
		kill_recorder(current_rec);
}

TestSuite(groups, .fini = suite_fini);

static long long
now_us(void)
{
	return mono_ms() * 1000;
}

/* -------------------------------------------- the group gets the signal */

/* The stop signal goes to the group: the recorder behind a wrapper that
 * ignores it is stopped at once, so the wrapper exits 3 on its own,
 * without the SIGKILL that would come after the kill timeout. */
Test(groups, the_stop_signal_reaches_the_whole_group)
{
	sim s;
	proc p;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--drain-delay",
		               "0",
		               "--kill-timeout",
		               "5s",
		               "svc",
		               "--",
		               "sh",
		               "-c",
		               STUBBORN_WRAPPER,
		               sigrec,
		               rec,
		               NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 3,
	             "the wrapper was killed: the recorder did not get the stop signal");
	cr_assert_geq(recorder_signal_us(rec, SIGTERM), 0);
	cr_assert_not(proc_output_contains(&p, "SIGKILL"));
	kill_recorder(rec);
	proc_kill(&p);
	sim_stop(&s);
}

/* sh -c 'server; true': the server gets SIGTERM and is gone once ostiary
 * has exited, however ostiary runs: plain, subreaper, PID 1. */
static void
wrapper_is_stopped(const char *const *prefix, bool subreaper)
{
	sim s;
	proc p;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	const char *argv[32];
	pid_t server, target;
	int n = 0;

	start_sim(&s, NULL);
	for (int i = 0; prefix != NULL && prefix[i] != NULL; i++)
		argv[n++] = prefix[i];
	argv[n++] = ostiary_bin();
	argv[n++] = "--http-addr";
	argv[n++] = s.agent_addr;
	argv[n++] = "--drain-delay";
	argv[n++] = "0";
	if (subreaper)
		argv[n++] = "--subreaper";
	argv[n++] = "svc";
	argv[n++] = "--";
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = WRAPPER;
	argv[n++] = sigrec;
	argv[n++] = rec;
	argv[n] = NULL;
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	/* Under unshare, ostiary is unshare's child; pids are the namespace's. */
	target = p.pid;
	if (prefix != NULL) {
		char cmd[64];
		FILE *f;
		int child = -1;

		snprintf(cmd, sizeof(cmd), "pgrep -P %d", (int)p.pid);
		if ((f = popen(cmd, "r")) != NULL) {
			if (fscanf(f, "%d", &child) != 1)
				child = -1;
			pclose(f);
		}
		cr_assert_gt(child, 0, "no ostiary under unshare");
		target = child;
	}
	server = prefix == NULL ? recorder_pid(rec) : -1;
	kill(target, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGTERM);
	cr_assert_geq(recorder_signal_us(rec, SIGTERM), 0, "the server never got SIGTERM");
	/* As PID 1 its namespace is gone with it: the SIGTERM line is the proof. */
	if (server > 0)
		cr_assert(wait_until(recorder_gone, &server, 2000),
		          "the server (pid %d) outlived ostiary", (int)server);
	cr_assert_not(sim_has_service(&s, "svc"));
	kill_recorder(rec);
	proc_kill(&p);
	sim_stop(&s);
}

Test(groups, wrapper_without_exec_plain)
{
	wrapper_is_stopped(NULL, false);
}

Test(groups, wrapper_without_exec_as_subreaper)
{
	wrapper_is_stopped(NULL, true);
}

Test(groups, wrapper_without_exec_as_pid_1)
{
	const char *unshare[] = { NULL, "--pid", "--fork", "--mount-proc", "--kill-child", NULL };
	int status = system("unshare --pid --fork --mount-proc true >/dev/null 2>&1");

	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		cr_skip_test("unshare --pid --fork --mount-proc fails here (needs root or user "
		             "namespaces): PID 1 not tested");
	unshare[0] = access("/usr/bin/unshare", X_OK) == 0 ? "/usr/bin/unshare" : "/bin/unshare";
	wrapper_is_stopped(unshare, false);
}

/* ---------------------------------------------- what is left is stopped */

/* The command exits and leaves a background process in its group: that
 * one gets the stop signal, then SIGKILL, before ostiary deregisters. */
Test(groups, leftovers_of_the_group_are_stopped_after_the_command_exits)
{
	sim s;
	proc p;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--kill-timeout",
		               "300ms",
		               "svc",
		               "--",
		               "sh",
		               "-c",
		               "\"$0\" \"$1\" --ignore-term & "
		               "while [ ! -s \"$1\" ]; do sleep 0.01; done",
		               sigrec,
		               rec,
		               NULL };
	pid_t server;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	server = recorder_pid(rec);
	cr_assert_gt(server, 0);
	cr_assert_geq(recorder_signal_us(rec, SIGTERM), 0, "the leftover never got SIGTERM");
	cr_assert(process_gone(server), "the leftover (pid %d) outlived ostiary", (int)server);
	cr_assert(proc_output_contains(&p, "sending SIGKILL"));
	long long left = first_request_us(&s, "PUT", "/v1/agent/service/deregister/svc");
	cr_assert_gt(left, recorder_signal_us(rec, SIGTERM), "deregistered before the cleanup");
	kill_recorder(rec);
	proc_kill(&p);
	sim_stop(&s);
}

/* ------------------------------------------------------- --single-child */

/* Only the command gets the stop signal (and SIGKILL after the timeout);
 * the recorder in its group gets SIGTERM only from the cleanup after the
 * command is gone, a kill timeout later. */
Test(groups, single_child_signals_the_command_alone)
{
	sim s;
	proc p;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--single-child",
		               "--drain-delay",
		               "0",
		               "--kill-timeout",
		               "500ms",
		               "svc",
		               "--",
		               "sh",
		               "-c",
		               STUBBORN_WRAPPER,
		               sigrec,
		               rec,
		               NULL };
	long long sent;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	sent = now_us();
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGKILL,
	             "the wrapper ignores SIGTERM: only SIGKILL ends it");
	cr_assert_geq(recorder_signal_us(rec, SIGTERM) - sent, 450 * 1000,
	              "the recorder got SIGTERM %lld us after ostiary, before the kill timeout",
	              recorder_signal_us(rec, SIGTERM) - sent);
	cr_assert(proc_output_contains(&p, "what is left of its process group"));
	kill_recorder(rec);
	proc_kill(&p);
	sim_stop(&s);
}

/* ------------------------------------------------------------ --rewrite */

Test(groups, rewrite_hup_to_0_keeps_the_command_alive)
{
	sim s;
	proc p;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	/* sh dies of SIGHUP, as a server that does not handle it would. */
	const char *args[] = { "--rewrite", "HUP:0", "svc",  "--", "sh",
		               "-c",        WRAPPER, sigrec, rec,  NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	kill(p.pid, SIGHUP);
	/* Signals are passed on in order: once WINCH is there (sh ignores it),
	 * HUP was judged. */
	kill(p.pid, SIGWINCH);
	cr_assert(wait_recorder_signal(rec, SIGWINCH, DEADLINE_MS));
	cr_assert_lt(recorder_signal_us(rec, SIGHUP), 0, "SIGHUP was passed on");
	cr_assert_eq(proc_wait(&p, 0), -1, "ostiary exited: the command died");
	cr_assert(sim_has_service(&s, "svc"));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGTERM);
	kill_recorder(rec);
	proc_kill(&p);
	sim_stop(&s);
}

Test(groups, rewrite_term_to_quit_on_stop)
{
	sim s;
	proc p;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--rewrite", "TERM:QUIT", "--drain-delay", "0", "svc", "--", sigrec,
		               rec,         NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_assert_geq(recorder_signal_us(rec, SIGQUIT), 0, "the command got no SIGQUIT");
	cr_assert_lt(recorder_signal_us(rec, SIGTERM), 0, "the command got SIGTERM");
	cr_assert(proc_output_contains(&p, "sending SIGQUIT"));
	proc_kill(&p);
	sim_stop(&s);
}

Test(groups, a_bad_rewrite_is_a_usage_error)
{
	proc p;
	const char *args[] = { "--rewrite", "TERM:NOPE", "svc", "--", "true", NULL };

	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_assert(proc_output_contains(&p, "--rewrite: unknown signal \"NOPE\""));
	proc_kill(&p);
}

/* ------------------------------------------------------ Ctrl-C on a tty */

struct tty_run {
	pid_t pid;
	int master;
};

/* ostiary as the session leader of a new pseudo-terminal, in its
 * foreground process group, as a shell would run it. */
static void
start_on_tty(struct tty_run *t, const char *const *argv)
{
	int slave;
	pid_t parent = getpid();
	/* Its own runtime directory, as proc_start gives: the status socket's
	 * default name there is fixed, and tests run side by side. */
	const char *rt = scratch_path("rt");

	cr_assert(mkdir(rt, 0700) == 0 || errno == EEXIST);
	cr_assert_eq(openpty(&t->master, &slave, NULL, NULL, NULL), 0);
	t->pid = fork();
	cr_assert_geq(t->pid, 0);
	if (t->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		setsid();
		if (ioctl(slave, TIOCSCTTY, 0) < 0)
			_exit(126);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(slave);
		close(t->master);
		setenv("RUNTIME_DIRECTORY", rt, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(slave);
}

/* Read what ostiary wrote to the terminal (so it never blocks), until
 * it exits; its wait status, or -1. */
static int
wait_on_tty(struct tty_run *t, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	char buf[4096];
	int status;

	while (mono_ms() < deadline) {
		struct pollfd pfd = { t->master, POLLIN, 0 };

		if (waitpid(t->pid, &status, WNOHANG) == t->pid)
			return status;
		if (poll(&pfd, 1, 10) > 0 && read(t->master, buf, sizeof(buf)) <= 0)
			(void)0; /* EIO once the slave side is closed */
	}
	kill(t->pid, SIGKILL);
	waitpid(t->pid, &status, 0);
	return -1;
}

/* ^C makes the terminal send SIGINT to its foreground group: ostiary's,
 * not the command's.  So ostiary drains first (maintenance reaches the
 * agent), and only then is the command signalled. */
Test(groups, ctrl_c_on_a_terminal_goes_through_the_drain)
{
	sim s;
	struct tty_run t;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	const char *argv[] = { ostiary_bin(), "--http-addr", NULL, "--drain-delay",
		               "300ms",       "svc",         "--", sigrec,
		               rec,           NULL };
	const char ctrl_c = 0x03;

	start_sim(&s, NULL);
	argv[2] = s.agent_addr;
	start_on_tty(&t, argv);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert_eq(write(t.master, &ctrl_c, 1), 1);
	cr_assert_eq(exit_code(wait_on_tty(&t, DEADLINE_MS)), 0);
	long long maintenance = first_request_us(&s, "PUT", "/v1/agent/service/maintenance/svc");
	long long signalled = recorder_signal_us(rec, SIGINT);
	cr_assert_geq(maintenance, 0, "no maintenance request: ostiary did not drain");
	cr_assert_geq(signalled, 0, "the command never got SIGINT");
	/* The delay runs from the drain step, before the request reaches the
	 * agent; under valgrind that transit took 13 ms once.  A delay not kept
	 * at all shows as about 0. */
	cr_assert_geq(signalled - maintenance, 250 * 1000,
	              "the command got SIGINT %lld us after maintenance; the drain delay is 300 ms",
	              signalled - maintenance);
	close(t.master);
	kill_recorder(rec);
	sim_stop(&s);
}

/* The state letter of pid in /proc (R, S, T...), or '?'. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *paren, state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return state;
	if (fgets(buf, sizeof(buf), f) != NULL && (paren = strrchr(buf, ')')) != NULL)
		state = paren[2];
	fclose(f);
	return state;
}

struct both {
	pid_t a, b;
	char want;
};

static bool
both_in_state(void *arg)
{
	struct both *w = arg;
	char a = proc_state(w->a), b = proc_state(w->b);

	/* "Not stopped" is running or sleeping. */
	if (w->want == 'S')
		return a != 'T' && a != 't' && b != 'T' && b != 't';
	return a == w->want && b == w->want;
}

/* ^Z stops ostiary's group only (the terminal's foreground group):
 * ostiary passes SIGTSTP on and stops itself, so both are suspended;
 * SIGCONT to ostiary (what fg sends) wakes both. */
Test(groups, ctrl_z_on_a_terminal_suspends_both)
{
	sim s;
	struct tty_run t;
	const char *rec = rec_path(), *sigrec = helper_path("sigrecorder");
	const char *argv[] = { ostiary_bin(), "--http-addr", NULL, "--drain-delay",
		               "0",           "svc",         "--", sigrec,
		               rec,           NULL };
	const char ctrl_z = 0x1a, ctrl_c = 0x03;
	struct both w;

	start_sim(&s, NULL);
	argv[2] = s.agent_addr;
	start_on_tty(&t, argv);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	w.a = t.pid;
	w.b = recorder_pid(rec);
	cr_assert_eq(write(t.master, &ctrl_z, 1), 1);
	w.want = 'T';
	cr_assert(wait_until(both_in_state, &w, DEADLINE_MS), "ostiary %c, command %c",
	          proc_state(w.a), proc_state(w.b));
	kill(t.pid, SIGCONT);
	w.want = 'S';
	cr_assert(wait_until(both_in_state, &w, DEADLINE_MS), "ostiary %c, command %c",
	          proc_state(w.a), proc_state(w.b));
	cr_assert_eq(write(t.master, &ctrl_c, 1), 1);
	cr_assert_eq(exit_code(wait_on_tty(&t, DEADLINE_MS)), 0);
	close(t.master);
	kill_recorder(rec);
	sim_stop(&s);
}
