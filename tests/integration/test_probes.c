/* Probes end to end: a configuration file (and Consul JSON definitions)
 * with exec, http and tcp checks, run by the real binary, seen by the
 * agent simulator as TTL checks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char *
write_file(const char *name, const char *text)
{
	const char *path = scratch_path(name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static json_t *
register_body(sim *s, const char *service_id)
{
	json_t *log = sim_log(s), *entry, *found = NULL;
	size_t i;

	json_array_foreach(log, i, entry)
	{
		const char *path = json_string_value(json_object_get(entry, "path"));
		json_t *body;
		if (strcmp(path, "/v1/agent/service/register") != 0)
			continue;
		body = json_loads(json_string_value(json_object_get(entry, "body")), 0, NULL);
		if (body &&
		    strcmp(json_string_value(json_object_get(body, "ID")), service_id) == 0) {
			found = body;
			break;
		}
		json_decref(body);
	}
	json_decref(log);
	return found;
}

Test(probes, config_file_services_and_checks_reach_the_agent)
{
	sim s;
	proc p;
	char conf[2048];
	const char *flag = scratch_path("healthy");

	start_sim(&s, NULL);
	snprintf(
	        conf, sizeof(conf),
	        "command = [\"sleep\", \"600\"];\n"
	        "services = (\n"
	        "  { name = \"web\"; id = \"web-1\"; port = 8080; tags = [\"v1\"];\n"
	        "    checks = (\n"
	        "      { id = \"web-http\"; type = \"http\"; interval = \"200ms\";\n"
	        "        url = \"http://%s/v1/agent/self\"; },\n"
	        "      { id = \"web-tcp\"; type = \"tcp\"; interval = \"200ms\"; tcp = \"%s\"; },\n"
	        "      { id = \"web-exec\"; type = \"exec\"; interval = \"200ms\";\n"
	        "        args = [\"sh\", \"-c\", \"test -e %s || exit 2\"]; }\n"
	        "    );\n"
	        "  },\n"
	        "  { name = \"sidecar\"; }\n"
	        ");\n",
	        s.agent_addr, s.agent_addr, flag);
	const char *args[] = { "-c", write_file("ostiary.conf", conf), NULL };
	start_ostiary(&p, &s, args, NULL);

	cr_assert(wait_check_status(&s, "web-http", "passing", DEADLINE_MS));
	cr_assert(wait_check_status(&s, "web-tcp", "passing", DEADLINE_MS));
	cr_assert(wait_check_status(&s, "web-exec", "critical", DEADLINE_MS),
	          "exec: exit 2 while the file does not exist");
	write_file("healthy", "");
	cr_assert(wait_check_status(&s, "web-exec", "passing", DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:sidecar", "passing", DEADLINE_MS),
	          "a service without checks gets the process check");

	char *output = sim_check_output(&s, "web-http");
	cr_assert(output && strncmp(output, "HTTP GET http://", 16) == 0 &&
	                  strstr(output, ": 200 OK Output: "),
	          "Consul's HTTP output shape, got: %s", output ? output : "(none)");
	free(output);
	output = sim_check_output(&s, "web-tcp");
	cr_assert(output && strstr(output, "TCP connect ") && strstr(output, ": Success"),
	          "output: %s", output ? output : "(none)");
	free(output);

	json_t *body = register_body(&s, "web-1");
	cr_assert_not_null(body);
	json_t *checks = json_object_get(body, "Checks");
	cr_assert_eq(json_array_size(checks), 3);
	json_t *first = json_array_get(checks, 0);
	cr_assert_str_eq(json_string_value(json_object_get(first, "CheckID")), "web-http");
	cr_assert_null(json_object_get(first, "HTTP"),
	               "the agent gets a TTL check, not an HTTP one");
	cr_assert_not_null(json_object_get(first, "TTL"));
	json_decref(body);

	stop_ostiary(&p, 128 + SIGTERM);
	cr_assert_not(sim_has_service(&s, "web-1"));
	cr_assert_not(sim_has_service(&s, "sidecar"));
	sim_stop(&s);
}

static const char *
runs_path(const char *flag)
{
	static char path[300];

	snprintf(path, sizeof(path), "%s.runs", flag);
	return path;
}

static int
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[128];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

struct runs_wait {
	const char *path;
	int want;
};

static bool
enough_runs(void *arg)
{
	struct runs_wait *w = arg;

	return count_lines(w->path) >= w->want;
}

Test(probes, status_change_is_pushed_at_once_and_output_does_not_churn)
{
	sim s;
	proc p;
	char conf[2048];
	const char *flag = scratch_path("healthy");

	start_sim(&s, NULL);
	/* The output changes on every run (a counter): only status changes
	 * and heartbeats may reach the agent, not every run. */
	snprintf(conf, sizeof(conf),
	         "command = [\"sleep\", \"600\"];\n"
	         "services = ( { name = \"app\"; checks = ( {\n"
	         "  id = \"app-exec\"; type = \"exec\"; interval = \"100ms\"; timeout = \"1s\";\n"
	         "  ttl = \"30s\";\n"
	         "  args = [\"sh\", \"-c\", \"echo run $(date +%%s%%N) >> %s.runs; test -e %s || "
	         "exit 2\"];\n"
	         "} ); } );\n",
	         flag, flag);
	const char *args[] = { "-c", write_file("ostiary.conf", conf), NULL };
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "app-exec", "critical", DEADLINE_MS));

	write_file("healthy", "");
	long long t0 = mono_ms();
	cr_assert(wait_check_status(&s, "app-exec", "passing", DEADLINE_MS));
	cr_assert_lt(mono_ms() - t0, 3000,
	             "a status change must not wait for the heartbeat (15 s)");

	/* Let it run 20 more times, each run with a new output. */
	int pushes_before = sim_count(&s, "PUT", "/v1/agent/check/update/app-exec");
	struct runs_wait w = { .path = runs_path(flag) };
	w.want = count_lines(w.path) + 20;
	cr_assert(wait_until(enough_runs, &w, DEADLINE_MS));
	int pushes = sim_count(&s, "PUT", "/v1/agent/check/update/app-exec") - pushes_before;
	cr_assert_leq(pushes, 2, "%d pushes for 20 runs that only changed the output", pushes);
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

Test(probes, consul_json_definitions_run_locally_as_ttl_checks)
{
	sim s;
	proc p;
	char def[2048];

	start_sim(&s, NULL);
	snprintf(def, sizeof(def),
	         "{ \"service\": {\n"
	         "    \"name\": \"api\", \"id\": \"api-1\", \"port\": 9000, \"tags\": [\"blue\"],\n"
	         "    \"meta\": {\"team\": \"core\"},\n"
	         "    \"checks\": [\n"
	         "      { \"id\": \"api-http\", \"http\": \"http://%s/v1/agent/self\",\n"
	         "        \"interval\": \"200ms\", \"timeout\": \"1s\" },\n"
	         "      { \"CheckID\": \"api-tcp\", \"TCP\": \"%s\", \"Interval\": \"200ms\" },\n"
	         "      { \"id\": \"api-args\", \"args\": [\"true\"], \"interval\": \"200ms\" }\n"
	         "    ]\n"
	         "} }\n",
	         s.agent_addr, s.agent_addr);
	const char *args[] = {
		"--service-file", write_file("api.json", def), "--", "sleep", "600", NULL
	};
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "api-http", "passing", DEADLINE_MS));
	cr_assert(wait_check_status(&s, "api-tcp", "passing", DEADLINE_MS));
	cr_assert(wait_check_status(&s, "api-args", "passing", DEADLINE_MS));

	json_t *body = register_body(&s, "api-1");
	cr_assert_not_null(body);
	cr_assert_str_eq(json_string_value(json_object_get(body, "Name")), "api");
	cr_assert_eq(json_integer_value(json_object_get(body, "Port")), 9000);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "Meta"), "team")),
	                 "core");
	json_t *checks = json_object_get(body, "Checks"), *check;
	size_t i;
	cr_assert_eq(json_array_size(checks), 3);
	json_array_foreach(checks, i, check)
	{
		cr_assert_not_null(json_object_get(check, "TTL"));
		cr_assert_null(json_object_get(check, "HTTP"));
		cr_assert_null(json_object_get(check, "TCP"));
		cr_assert_null(json_object_get(check, "Args"),
		               "the agent can keep enable_script_checks off");
	}
	json_decref(body);
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

Test(probes, check_config_reports_file_line_and_setting)
{
	proc p;
	const char *conf =
	        write_file("bad.conf", "command = [\"true\"];\n"
	                               "services = ( { name = \"web\";\n"
	                               "  checks = ( { type = \"http\";\n"
	                               "    interval = \"10x\"; url = \"http://x/\"; } );\n"
	                               "} );\n");
	const char *args[] = { "-t", "-c", conf, NULL };
	char where[400];

	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	snprintf(where, sizeof(where), "%s:4", conf);
	cr_assert(proc_output_contains(&p, where), "no file:line in: %s", proc_output(&p));
	cr_assert(proc_output_contains(&p, "interval"));
	proc_kill(&p);
}

Test(probes, check_config_accepts_a_good_file_and_starts_nothing)
{
	proc p;
	const char *marker = scratch_path("started");
	char conf[512];

	snprintf(conf, sizeof(conf),
	         "command = [\"touch\", \"%s\"];\n"
	         "services = ( { name = \"web\"; checks = ( { type = \"tcp\"; tcp = "
	         "\"127.0.0.1:1\"; } ); } );\n",
	         marker);
	const char *args[] = { "-t", "-c", write_file("good.conf", conf), NULL };
	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0, "%s", proc_output(&p));
	cr_assert(proc_output_contains(&p, "configuration OK"));
	cr_assert_neq(access(marker, F_OK), 0, "-t must not run the command");
	proc_kill(&p);
}

Test(probes, bad_config_never_starts_the_command)
{
	proc p;
	const char *marker = scratch_path("started");
	char conf[512];

	snprintf(conf, sizeof(conf),
	         "command = [\"touch\", \"%s\"];\n"
	         "services = ( { name = \"web\"; checks = ( { type = \"tcp\"; } ); } );\n",
	         marker);
	const char *args[] = { "-c", write_file("bad.conf", conf), NULL };
	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_assert_neq(access(marker, F_OK), 0, "a bad configuration must not start anything");
	proc_kill(&p);
}

/* A check's first result replaces "no result yet" at once, even when it
 * is critical like the registration: with a 60 s heartbeat, waiting for it
 * would hide the 404 that explains the failure for a minute. */
Test(probes, first_critical_result_reaches_the_agent_at_once)
{
	sim s;
	proc p;
	char conf[1024];

	start_sim(&s, NULL);
	snprintf(conf, sizeof(conf),
	         "command = [\"sleep\", \"600\"];\n"
	         "heartbeat = \"60s\";\n"
	         "services = ( { name = \"web\"; checks = (\n"
	         "  { id = \"web-http\"; type = \"http\"; interval = \"200ms\"; ttl = \"180s\";\n"
	         "    url = \"http://%s/v1/agent/service/no-such-service\"; }\n"
	         "); } );\n",
	         s.agent_addr);
	const char *args[] = { "-c", write_file("ostiary.conf", conf), NULL };

	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_service(&s, "web", true, DEADLINE_MS));
	/* Well inside the heartbeat (60 s) and half the TTL (90 s). */
	cr_assert(wait_check_output(&s, "web-http", "404", 5000),
	          "the first result waited for the heartbeat");
	char *status = sim_check_status(&s, "web-http");
	cr_assert_str_eq(status, "critical");
	free(status);
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

/* A state change logged while the agent is away says it was not told. */
Test(probes, state_change_log_says_the_agent_was_not_told)
{
	sim s;
	proc p;
	const char *args[] = { "--agent-timeout", "300ms", "svc", "--", "sleep", "600", NULL };

	start_sim(&s, NULL);
	cr_assert_eq(sim_control(&s, "POST", "/stop", NULL, NULL), 200);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_output(
	        &p, "check service:svc is passing (not told to the agent yet: ", DEADLINE_MS));
	cr_assert_not(proc_output_contains(&p, "check service:svc is passing\n"));
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}
