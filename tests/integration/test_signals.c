/* Signals and the shutdown order: deregister, then signal, then SIGKILL. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

/* The default drain: maintenance, the drain delay, the signal, and the
 * deregistration only once the child is gone. */
Test(signals, sigterm_drains_then_signals_then_deregisters)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--ttl", "5s", "--drain-delay", "400ms", "svc", "--",
		               sigrec,  rec,  "--exit",        "0",     NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert(wait_check_status(&s, "_service_maintenance:svc", "critical", DEADLINE_MS),
	          "the service went into maintenance");
	cr_assert(sim_has_service(&s, "svc"), "still registered while draining");
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);

	long long maintenance = first_request_us(&s, "PUT", "/v1/agent/service/maintenance/svc");
	long long signalled = recorder_signal_us(rec, SIGTERM);
	long long deregistered = first_request_us(&s, "PUT", "/v1/agent/service/deregister/svc");
	cr_assert_geq(maintenance, 0, "no maintenance request reached the agent");
	cr_assert_geq(signalled, 0, "the child never got SIGTERM");
	/* The delay runs from before the request went out: allow its transit,
	 * slow on a loaded machine (a delay not kept at all shows as ~0). */
	cr_assert_geq(signalled - maintenance, 300 * 1000,
	              "SIGTERM came %lld us after maintenance; the drain delay is 400 ms",
	              signalled - maintenance);
	cr_assert_gt(deregistered, signalled,
	             "deregistered (%lld) before the child was signalled "
	             "(%lld)",
	             deregistered, signalled);
	json_t *req = first_request(&s, "PUT", "/v1/agent/service/maintenance/svc");
	cr_assert_not_null(strstr(json_string_value(json_object_get(req, "query")), "enable=true"));
	cr_assert_not_null(strstr(json_string_value(json_object_get(req, "query")), "SIGTERM"),
	                   "the reason says why");
	json_decref(req);
	cr_assert_not(sim_has_service(&s, "svc"));
	proc_kill(&p);
	sim_stop(&s);
}

/* --drain deregister: the service leaves the agent before the signal. */
Test(signals, drain_deregister_leaves_before_the_child_is_signalled)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--drain", "deregister", "--drain-delay", "0", "svc", "--", sigrec,
		               rec,       NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	long long deregistered = first_request_us(&s, "PUT", "/v1/agent/service/deregister/svc");
	long long signalled = recorder_signal_us(rec, SIGTERM);
	cr_assert_geq(deregistered, 0);
	cr_assert_lt(deregistered, signalled);
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/maintenance/"), 0);
	proc_kill(&p);
	sim_stop(&s);
}

/* A zero drain delay still lets maintenance reach the agent first. */
Test(signals, zero_drain_delay_waits_for_maintenance)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--drain-delay", "0", "svc", "--", sigrec, rec, NULL };

	start_sim(&s, NULL);
	cr_assert_eq(sim_fault(&s, "{\"mode\":\"delay\",\"delay_ms\":300,"
	                           "\"path_prefix\":\"/v1/agent/service/maintenance/\"}"),
	             0);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	long long maintenance = first_request_us(&s, "PUT", "/v1/agent/service/maintenance/svc");
	long long signalled = recorder_signal_us(rec, SIGTERM);
	cr_assert_geq(maintenance, 0);
	cr_assert_geq(signalled - maintenance, 300 * 1000,
	              "the child was signalled %lld us after maintenance arrived, before the "
	              "agent answered it (300 ms later)",
	              signalled - maintenance);
	proc_kill(&p);
	sim_stop(&s);
}

/* --drain critical with --stop-signal: checks go critical, the child gets
 * the configured signal, not the one ostiary received. */
Test(signals, drain_critical_and_stop_signal)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--drain",
		               "critical",
		               "--drain-delay",
		               "300ms",
		               "--stop-signal",
		               "QUIT",
		               "svc",
		               "--",
		               sigrec,
		               rec,
		               NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert(wait_check_status(&s, "service:svc", "critical", DEADLINE_MS));
	char *output = sim_check_output(&s, "service:svc");
	cr_assert(output != NULL && strstr(output, "draining") != NULL, "output: %s", output);
	free(output);
	cr_assert(wait_recorder_signal(rec, SIGQUIT, DEADLINE_MS), "the child got no SIGQUIT");
	cr_assert_lt(recorder_signal_us(rec, SIGTERM), 0, "the child got SIGTERM");
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

Test(signals, child_killed_by_the_forwarded_signal_gives_128_plus_n)
{
	sim s;
	proc p;
	const char *args[] = { "--ttl", "5s", "svc", "--", "sleep", "600", NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	kill(p.pid, SIGINT);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGINT);
	proc_kill(&p);
	sim_stop(&s);
}

Test(signals, kill_timeout_escalates_to_sigkill)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--kill-timeout", "300ms", "svc",           "--",
		               sigrec,           rec,     "--ignore-term", NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGKILL);
	cr_assert_geq(recorder_signal_us(rec, SIGTERM), 0, "SIGTERM was not passed on first");
	cr_assert(proc_output_contains(&p, "sending SIGKILL"));
	proc_kill(&p);
	sim_stop(&s);
}

Test(signals, other_signals_are_forwarded_and_the_service_stays)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "svc", "--", sigrec, rec, NULL };
	const int forwarded[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		kill(p.pid, forwarded[i]);
		cr_assert(wait_recorder_signal(rec, forwarded[i], DEADLINE_MS),
		          "signal %d did not reach the child", forwarded[i]);
	}
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/deregister/"), 0);
	cr_assert(sim_has_service(&s, "svc"));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	proc_kill(&p);
	sim_stop(&s);
}

Test(signals, stopped_child_is_critical_until_continued)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--heartbeat", "1s", "svc", "--", sigrec, rec, NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	pid_t child = recorder_pid(rec);
	cr_assert_gt(child, 0);

	kill(child, SIGSTOP);
	cr_assert(wait_check_status(&s, "service:svc", "critical", DEADLINE_MS));
	char *output = sim_check_output(&s, "service:svc");
	cr_assert(output && strstr(output, "stopped"), "output: %s", output ? output : "(none)");
	free(output);

	kill(child, SIGCONT);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	proc_kill(&p);
	sim_stop(&s);
}

Test(signals, sigterm_reaches_a_stopped_child)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "svc", "--", sigrec, rec, "--exit", "5", NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(recorder_pid(rec), SIGSTOP);
	cr_assert(wait_check_status(&s, "service:svc", "critical", DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 5);
	proc_kill(&p);
	sim_stop(&s);
}

/* ------------------------------------------------------------ PID 1 duty */

/* Number of zombie processes whose parent is ppid. */
static int
zombie_children(pid_t ppid)
{
	DIR *proc_dir = opendir("/proc");
	struct dirent *de;
	int zombies = 0;

	if (proc_dir == NULL)
		return -1;
	while ((de = readdir(proc_dir)) != NULL) {
		char path[300], buf[512], state;
		int parent;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL) {
			char *close_paren = strrchr(buf, ')');
			if (close_paren && sscanf(close_paren + 2, "%c %d", &state, &parent) == 2 &&
			    parent == ppid && state == 'Z')
				zombies++;
		}
		fclose(f);
	}
	closedir(proc_dir);
	return zombies;
}

/* The pid of the first child of ppid, or -1. */
static pid_t
first_child_of(pid_t ppid)
{
	DIR *proc_dir = opendir("/proc");
	struct dirent *de;
	pid_t found = -1;

	while (proc_dir && found < 0 && (de = readdir(proc_dir)) != NULL) {
		char path[300], buf[512];
		int parent;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || (f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL) {
			char *close_paren = strrchr(buf, ')');
			if (close_paren && sscanf(close_paren + 4, "%d", &parent) == 1 &&
			    parent == ppid)
				found = atoi(de->d_name);
		}
		fclose(f);
	}
	if (proc_dir)
		closedir(proc_dir);
	return found;
}

static bool
no_zombies(void *arg)
{
	return zombie_children(*(pid_t *)arg) == 0;
}

static bool
file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

static bool
has_child(void *arg)
{
	pid_t *pids = arg;

	pids[1] = first_child_of(pids[0]);
	return pids[1] > 0;
}

static bool
pid_namespaces_work(void)
{
	int status = system("unshare --pid --fork --mount-proc true >/dev/null 2>&1");

	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* As PID 1 of a PID namespace (what a container gives it), or as a
 * subreaper where namespaces are not allowed, ostiary reaps orphans. */
Test(signals, orphaned_zombies_are_reaped)
{
	sim s;
	proc p;
	const char *done = scratch_path("zombies-done"), *maker = helper_path("zombie-maker");
	bool as_pid1 = pid_namespaces_work();
	const char *with_ns[] = { "unshare",     "--pid", "--fork", "--kill-child", ostiary_bin(),
		                  "--http-addr", NULL,    "svc",    "--",           maker,
		                  "20",          done,    NULL };
	const char *with_subreaper[] = { ostiary_bin(), "--http-addr", NULL, "--subreaper", "svc",
		                         "--",          maker,         "20", done,          NULL };
	const char **argv;

	start_sim(&s, NULL);
	with_ns[6] = s.agent_addr;
	with_subreaper[2] = s.agent_addr;
	argv = as_pid1 ? with_ns : with_subreaper;
	if (as_pid1) {
		/* unshare needs an absolute path to find itself the same way everywhere */
		argv[0] =
		        access("/usr/bin/unshare", X_OK) == 0 ? "/usr/bin/unshare" : "/bin/unshare";
	}
	cr_log_info("reaping as %s", as_pid1 ? "PID 1 in a PID namespace" : "a subreaper");
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	cr_assert(wait_until(file_exists, (void *)done, DEADLINE_MS),
	          "zombie-maker did not finish");

	pid_t ostiary_pid = p.pid;
	if (as_pid1) {
		pid_t pids[2] = { p.pid, -1 };
		cr_assert(wait_until(has_child, pids, DEADLINE_MS));
		ostiary_pid = pids[1];
	}
	cr_assert(wait_until(no_zombies, &ostiary_pid, DEADLINE_MS),
	          "%d zombies still wait for ostiary (pid %d)", zombie_children(ostiary_pid),
	          (int)ostiary_pid);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	kill(as_pid1 ? ostiary_pid : p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}
