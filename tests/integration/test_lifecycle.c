/* Registration, heartbeats, exit statuses: what the agent sees and what a
 * shell sees when ostiary wraps a command. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void
assert_keys(json_t *obj, const char *const *keys, const char *what)
{
	size_t n = 0;

	for (; keys[n] != NULL; n++)
		cr_assert_not_null(json_object_get(obj, keys[n]), "%s lacks \"%s\"", what, keys[n]);
	cr_assert_eq(json_object_size(obj), n, "%s has %zu keys, expected exactly %zu", what,
	             json_object_size(obj), n);
}

Test(lifecycle, register_body_is_exactly_what_the_agent_accepts)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--ttl",     "10s",      "--heartbeat", "3s",     "--tags",
		               "a",         "--tags",   "b",           "--meta", "version=1.2",
		               "--address", "10.0.0.5", "--port",      "8080",   "--id",
		               "web-1",     "web",      "--",          sigrec,   rec,
		               NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:web-1", "passing", DEADLINE_MS));

	json_t *req = first_request(&s, "PUT", "/v1/agent/service/register");
	cr_assert_not_null(req);
	cr_assert_eq(json_integer_value(json_object_get(req, "status")), 200);
	json_error_t jerr;
	json_t *body = json_loads(json_string_value(json_object_get(req, "body")), 0, &jerr);
	cr_assert_not_null(body, "register body is not JSON: %s", jerr.text);
	const char *service_keys[] = { "ID",   "Name", "Tags",  "Address",
		                       "Port", "Meta", "Check", NULL };
	assert_keys(body, service_keys, "service");
	cr_assert_str_eq(json_string_value(json_object_get(body, "ID")), "web-1");
	cr_assert_str_eq(json_string_value(json_object_get(body, "Name")), "web");
	cr_assert_eq(json_integer_value(json_object_get(body, "Port")), 8080);
	cr_assert_str_eq(json_string_value(json_object_get(body, "Address")), "10.0.0.5");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(body, "Tags"), 1)), "b");
	cr_assert_str_eq(
	        json_string_value(json_object_get(json_object_get(body, "Meta"), "version")),
	        "1.2");
	cr_assert_str_eq(json_string_value(
	                         json_object_get(json_object_get(body, "Meta"), "ostiary-owner")),
	                 "web-1", "the owner mark (default: the service ID)");
	cr_assert_eq(json_object_size(json_object_get(body, "Meta")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(req, "query")),
	                 "replace-existing-checks=true",
	                 "an earlier run's stale checks of this service are replaced");
	json_t *check = json_object_get(body, "Check");
	const char *check_keys[] = { "CheckID", "Name",   "Notes",
		                     "TTL",     "Status", "DeregisterCriticalServiceAfter",
		                     NULL };
	assert_keys(check, check_keys, "Check");
	cr_assert_str_eq(json_string_value(json_object_get(check, "CheckID")), "service:web-1");
	cr_assert_str_eq(json_string_value(json_object_get(check, "TTL")), "10s");
	cr_assert_str_eq(json_string_value(json_object_get(check, "Status")), "critical");
	cr_assert_str_eq(
	        json_string_value(json_object_get(check, "DeregisterCriticalServiceAfter")),
	        "10m0s");
	json_decref(body);
	json_decref(req);

	/* The first push follows the registration at once, as an update. */
	req = first_request(&s, "PUT", "/v1/agent/check/update/");
	cr_assert_not_null(req);
	cr_assert_str_eq(json_string_value(json_object_get(req, "path")),
	                 "/v1/agent/check/update/service%3Aweb-1");
	json_decref(req);

	/* The recorder exits 0 on SIGTERM only once its handler is in place. */
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_assert_eq(sim_count(&s, "GET", NULL), sim_count(&s, "GET", "/v1/agent/services"),
	             "the only read is the one look for an earlier run's leftovers");
	cr_assert_eq(sim_count(&s, "GET", "/v1/agent/services"), 1);
	cr_assert_eq(sim_count(&s, "POST", NULL), 0, "every write is a PUT");
	proc_kill(&p);
	sim_stop(&s);
}

Test(lifecycle, heartbeat_keeps_its_cadence)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = {
		"--ttl", "3s", "--heartbeat", "200ms", "svc", "--", sigrec, rec, NULL
	};

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_requests(&s, "PUT", "/v1/agent/check/update/", 8, DEADLINE_MS));

	json_t *log = sim_log(&s), *entry;
	size_t i;
	double prev = -1, first = -1, last = -1;
	int pushes = 0;
	json_array_foreach(log, i, entry)
	{
		const char *path = json_string_value(json_object_get(entry, "path"));
		double t = json_number_value(json_object_get(entry, "t"));
		if (strncmp(path, "/v1/agent/check/update/", 23) != 0)
			continue;
		/* Skip the immediate push after registration; time the rest. */
		if (++pushes >= 2) {
			if (first < 0)
				first = t;
			last = t;
			cr_assert_lt(t - prev, 1.5, "a %.0f ms gap between heartbeats",
			             (t - prev) * 1000);
		}
		prev = t;
	}
	json_decref(log);
	double mean_ms = (last - first) * 1000 / (pushes - 2);
	cr_assert(mean_ms > 150 && mean_ms < 400, "mean heartbeat %.0f ms for a 200 ms setting",
	          mean_ms);
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

static int
run_command(sim *s, const char *const *command, proc *p)
{
	const char *args[16] = { "--ttl", "5s", "svc", "--" };
	int n = 4;

	for (int i = 0; command[i] != NULL; i++)
		args[n++] = command[i];
	args[n] = NULL;
	start_ostiary(p, s, args, NULL);
	return exit_code(expect_exit(p, DEADLINE_MS));
}

Test(lifecycle, exit_status_is_the_childs)
{
	sim s;
	proc p;
	const char *ok[] = { "true", NULL };
	const char *three[] = { "sh", "-c", "exit 3", NULL };
	const char *killed[] = { "sh", "-c", "kill -KILL $$", NULL };
	const char *segv[] = { "sh", "-c", "kill -SEGV $$", NULL };

	start_sim(&s, NULL);
	cr_assert_eq(run_command(&s, ok, &p), 0);
	proc_kill(&p);
	cr_assert_eq(run_command(&s, three, &p), 3);
	proc_kill(&p);
	cr_assert_eq(run_command(&s, killed, &p), 128 + SIGKILL);
	proc_kill(&p);
	cr_assert_eq(run_command(&s, segv, &p), 128 + SIGSEGV);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lifecycle, child_exit_deregisters_before_ostiary_exits)
{
	sim s;
	proc p;
	char script[300];
	const char *go = scratch_path("exit-now");
	/* The child exits on our word, once the agent has seen it passing. */
	snprintf(script, sizeof(script), "until [ -e %s ]; do sleep 0.05; done; exit 4", go);
	const char *args[] = { "--ttl", "5s", "svc", "--", "sh", "-c", script, NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	FILE *f = fopen(go, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 4);
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/deregister/svc"), 1);
	cr_assert_not(sim_has_service(&s, "svc"));
	cr_assert(proc_output_contains(&p, "deregistered service svc"));
	proc_kill(&p);
	sim_stop(&s);
}

Test(lifecycle, missing_command_is_127_and_registers_nothing)
{
	sim s;
	proc p;
	const char *args[] = { "svc", "--", "/nonexistent/ostiary-no-such-command", NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 127);
	cr_assert(proc_output_contains(&p, "command not found"));
	cr_assert_eq(sim_count(&s, NULL, NULL), 0);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lifecycle, non_executable_command_is_126)
{
	proc p;
	const char *file = scratch_path("not-executable");
	FILE *f = fopen(file, "w");
	const char *args[] = { "--http-addr", "127.0.0.1:1", "svc", "--", file, NULL };

	cr_assert_not_null(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	chmod(file, 0644);
	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 126);
	proc_kill(&p);
}

Test(lifecycle, usage_errors_are_125_and_name_the_flag)
{
	proc p;
	const char *args[] = { "--ttl", "ten", "svc", "--", "true", NULL };

	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_assert(proc_output_contains(&p, "--ttl"));
	proc_kill(&p);
}

Test(lifecycle, help_and_version)
{
	proc p;
	const char *help[] = { "--help", NULL };
	const char *version[] = { "--version", NULL };

	start_ostiary(&p, NULL, help, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_assert(proc_output_contains(&p, "usage: ostiary"));
	cr_assert(proc_output_contains(&p, "--deregister-after"));
	proc_kill(&p);
	start_ostiary(&p, NULL, version, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_assert(proc_output_contains(&p, "ostiary "));
	proc_kill(&p);
}

/* The arrival times (sim clock, s) of the check updates in the log. */
struct update_times {
	sim *s;
	double t[4096];
	size_t n;
	double until; /* seconds after the first update */
};

static bool
update_times_cover(void *arg)
{
	struct update_times *u = arg;
	json_t *log = sim_log(u->s), *entry;
	size_t i;

	u->n = 0;
	json_array_foreach(log, i, entry)
	{
		const char *path = json_string_value(json_object_get(entry, "path"));

		if (u->n < sizeof(u->t) / sizeof(u->t[0]) && path != NULL &&
		    strncmp(path, "/v1/agent/check/update/", 23) == 0)
			u->t[u->n++] = json_number_value(json_object_get(entry, "t"));
	}
	json_decref(log);
	return u->n > 0 && u->t[u->n - 1] >= u->t[0] + u->until;
}

#define SPREAD_CHECKS 20
#define SPREAD_BINS 8 /* of 500 ms: two heartbeat periods */

/* Twenty checks whose first results all come within the first second (the
 * interval): their heartbeats (every 2 s) still spread over the whole
 * period, instead of repeating that burst and leaving the rest idle. */
Test(lifecycle, heartbeats_of_many_checks_spread_over_the_period)
{
	const char *conf = scratch_path("spread.conf");
	const char *args[] = { "-c", conf, NULL };
	FILE *f = fopen(conf, "w");
	static struct update_times u;
	int bins[SPREAD_BINS] = { 0 };
	sim s;
	proc p;

	start_sim(&s, NULL);
	cr_assert_not_null(f);
	fprintf(f, "command = [\"sleep\", \"600\"];\nttl = \"6s\";\nheartbeat = \"2s\";\n"
	           "services = ({ name = \"many\"; checks = (\n");
	for (int c = 0; c < SPREAD_CHECKS; c++)
		fprintf(f, "%s  { id = \"many-c%d\"; type = \"tcp\"; tcp = \"%s\"; interval = \"1s\"; }",
		        c ? ",\n" : "", c, s.agent_addr);
	fprintf(f, "); });\n");
	cr_assert_eq(fclose(f), 0);
	start_ostiary(&p, &s, args, NULL);
	/* Steady from the second period on: wait until the window is recorded. */
	u = (struct update_times){ .s = &s, .until = 2.0 + SPREAD_BINS * 0.5 };
	cr_assert(wait_until(update_times_cover, &u, 20000), "no steady state recorded");
	for (size_t i = 0; i < u.n; i++) {
		double since = u.t[i] - u.t[0] - 2.0;
		if (since >= 0 && since < SPREAD_BINS * 0.5)
			bins[(int)(since / 0.5)]++;
	}
	/* 20 checks every 2 s: 5 pushes a bin when spread, 0 in half of them when not. */
	for (int b = 0; b < SPREAD_BINS; b++)
		cr_assert(bins[b] >= 1 && bins[b] <= 12, "%d pushes in the %d-th 500 ms of the window",
		          bins[b], b);
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}
