/* Agent trouble: down at start, state loss, hangs, errors, ACL tokens. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

Test(agent, down_at_start_the_child_runs_and_registration_follows)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = { "--retry-max", "300ms", "svc", "--", sigrec, rec, NULL };

	start_sim(&s, NULL);
	cr_assert_eq(sim_control(&s, "POST", "/stop", NULL, NULL), 200);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_recorder_ready(rec, DEADLINE_MS), "the child must start without the agent");
	cr_assert(wait_output(&p, "agent lost", DEADLINE_MS));
	cr_assert_eq(sim_control(&s, "POST", "/start", NULL, NULL), 200);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_output(&p, "agent is back", DEADLINE_MS));
	stop_ostiary(&p, 0);
	sim_stop(&s);
}

Test(agent, state_loss_is_repaired_within_a_heartbeat)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = {
		"--ttl", "5s", "--heartbeat", "500ms", "svc", "--", sigrec, rec, NULL
	};

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert_eq(sim_control(&s, "DELETE", "/log", NULL, NULL), 200);
	cr_assert_eq(sim_control(&s, "POST", "/restart", NULL, NULL), 200);
	cr_assert_not(sim_has_service(&s, "svc"), "the restarted agent forgot everything");
	/* One heartbeat to notice (the push is answered 404), then at once
	 * register and push: passing again well inside two heartbeats. */
	cr_assert(wait_check_status(&s, "service:svc", "passing", 500 + 1500),
	          "not passing again within a heartbeat and a margin");
	cr_assert(wait_output(&p, "registration of svc lost", DEADLINE_MS));

	/* The repair order the agent saw: failed push, register, push. */
	json_t *log = sim_log(&s), *entry;
	size_t i;
	int step = 0;
	json_array_foreach(log, i, entry)
	{
		const char *path = json_string_value(json_object_get(entry, "path"));
		long status = (long)json_integer_value(json_object_get(entry, "status"));
		if (step == 0 && strstr(path, "/check/update/") && status == 404)
			step = 1;
		else if (step == 1 && strstr(path, "/service/register") && status == 200)
			step = 2;
		else if (step == 2 && strstr(path, "/check/update/") && status == 200)
			step = 3;
	}
	json_decref(log);
	cr_assert_eq(step, 3, "expected push 404 -> register -> push, got up to step %d", step);
	stop_ostiary(&p, 0);
	sim_stop(&s);
}

Test(agent, hung_agent_does_not_hold_up_shutdown)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *sigrec = helper_path("sigrecorder");
	const char *args[] = {
		"--heartbeat", "200ms", "svc", "--", sigrec, rec, "--exit", "0", NULL
	};

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert_eq(sim_fault(&s, "{\"mode\": \"hang\"}"), 0);
	int before = sim_count(&s, "PUT", "/v1/agent/check/update/");
	cr_assert(wait_requests(&s, "PUT", "/v1/agent/check/update/", before + 1, DEADLINE_MS),
	          "a push should now be hanging");
	long long t0 = mono_ms();
	kill(p.pid, SIGTERM);
	/* The deregistration may wait at most its 2 s bound; never the agent's whim. */
	cr_assert_eq(exit_code(expect_exit(&p, 6000)), 0);
	long long took = mono_ms() - t0;
	cr_assert_lt(took, 6000, "exit took %lld ms with a hung agent", took);
	cr_assert_geq(recorder_signal_us(rec, SIGTERM), 0, "the child must still get SIGTERM");
	proc_kill(&p);
	sim_fault(&s, "{\"mode\": \"none\"}");
	sim_stop(&s);
}

Test(agent, server_errors_are_retried_until_registered)
{
	sim s;
	proc p;
	const char *args[] = { "--retry-max", "200ms", "svc", "--", "sleep", "600", NULL };

	start_sim(&s, NULL);
	cr_assert_eq(sim_fault(&s,
	                       "{\"mode\": \"error\", \"status\": 500, \"body\": \"boom\", "
	                       "\"path_prefix\": \"/v1/agent/service/register\", \"count\": 3}"),
	             0);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert_geq(sim_count(&s, "PUT", "/v1/agent/service/register"), 4);
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

Test(agent, garbage_answers_are_survived)
{
	sim s;
	proc p;
	const char *args[] = { "--retry-max", "200ms", "svc", "--", "sleep", "600", NULL };

	start_sim(&s, NULL);
	cr_assert_eq(sim_fault(&s, "{\"mode\": \"garbage\", \"count\": 2}"), 0);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

/* The token travels only in X-Consul-Token: not in URLs, argv or logs. */
static void
assert_token_only_in_headers(sim *s, proc *p, const char *token)
{
	json_t *log = sim_log(s), *entry;
	size_t i;

	cr_assert_gt(json_array_size(log), 0);
	json_array_foreach(log, i, entry)
	{
		json_t *headers = json_object_get(entry, "headers");
		const char *path = json_string_value(json_object_get(entry, "path"));
		const char *query = json_string_value(json_object_get(entry, "query"));
		const char *body = json_string_value(json_object_get(entry, "body"));
		cr_assert_str_eq(json_string_value(json_object_get(headers, "x-consul-token")),
		                 token, "request %zu lacks the token header", i);
		cr_assert_null(strstr(path, token));
		cr_assert_null(strstr(query, token));
		cr_assert_null(strstr(body, token));
		cr_assert_null(json_object_get(headers, "authorization"));
	}
	json_decref(log);
	cr_assert_not(proc_output_contains(p, token), "the token appeared in ostiary's output");
}

Test(agent, token_from_environment_travels_only_in_the_header)
{
	sim s;
	proc p;
	const char *token = "3f1b6a52-token-from-env";
	const char *sim_args[] = { "--acl-token", token, NULL };
	const char *args[] = { "-vv", "svc", "--", "sleep", "600", NULL };
	const char *env[] = { "CONSUL_HTTP_TOKEN=3f1b6a52-token-from-env", NULL };

	start_sim(&s, sim_args);
	start_ostiary(&p, &s, args, env);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	stop_ostiary(&p, 128 + SIGTERM);
	assert_token_only_in_headers(&s, &p, token);
	sim_stop(&s);
}

Test(agent, token_file_keeps_the_secret_out_of_argv)
{
	sim s;
	proc p;
	const char *token = "9c0e77aa-token-from-file";
	const char *sim_args[] = { "--acl-token", token, NULL };
	const char *file = scratch_path("token");
	char cmdline_path[64], cmdline[4096];
	FILE *f = fopen(file, "w");

	cr_assert_not_null(f);
	fprintf(f, "%s\n", token);
	fclose(f);
	const char *args[] = { "-vv", "--token-file", file, "svc", "--", "sleep", "600", NULL };
	start_sim(&s, sim_args);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));

	snprintf(cmdline_path, sizeof(cmdline_path), "/proc/%d/cmdline", (int)p.pid);
	f = fopen(cmdline_path, "r");
	cr_assert_not_null(f);
	size_t n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	fclose(f);
	for (size_t k = 0; k < n; k++)
		if (cmdline[k] == '\0')
			cmdline[k] = ' ';
	cmdline[n] = '\0';
	cr_assert_null(strstr(cmdline, token), "the token is visible in ps: %s", cmdline);

	stop_ostiary(&p, 128 + SIGTERM);
	assert_token_only_in_headers(&s, &p, token);
	sim_stop(&s);
}

Test(agent, wrong_token_is_reported_and_the_child_keeps_running)
{
	sim s;
	proc p;
	const char *sim_args[] = { "--acl-token", "the-right-one", NULL };
	const char *args[] = { "--retry-max", "200ms", "svc", "--", "sleep", "600", NULL };
	const char *env[] = { "CONSUL_HTTP_TOKEN=a-wrong-one", NULL };

	start_sim(&s, sim_args);
	start_ostiary(&p, &s, args, env);
	cr_assert(wait_output(&p, "ACL not found", DEADLINE_MS));
	cr_assert_eq(proc_wait(&p, 0), -1, "ostiary must keep supervising");
	cr_assert_not(proc_output_contains(&p, "a-wrong-one"));
	/* Fix the agent's side: registration then succeeds without a restart. */
	cr_assert_eq(sim_control(&s, "PUT", "/acl", "{\"tokens\": [\"a-wrong-one\"]}", NULL), 200);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

Test(agent, unix_socket_agent_from_the_environment)
{
	sim s;
	proc p;
	const char *sock = scratch_path("agent.sock");
	const char *sim_args[] = { "--unix", sock, NULL };
	char addr[300];
	const char *args[] = { "svc", "--", "sleep", "600", NULL };
	const char *env[] = { addr, NULL };

	snprintf(addr, sizeof(addr), "CONSUL_HTTP_ADDR=unix://%s", sock);
	start_sim(&s, sim_args);
	/* No --http-addr: the address comes from CONSUL_HTTP_ADDR alone. */
	start_ostiary(&p, NULL, args, env);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	json_t *req = first_request(&s, "PUT", "/v1/agent/service/register");
	cr_assert_not_null(req);
	cr_assert_str_eq(
	        json_string_value(json_object_get(json_object_get(req, "headers"), "host")),
	        "localhost", "over a unix socket the Host is localhost, as in Consul's client");
	json_decref(req);
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

Test(agent, consul_http_addr_from_the_environment)
{
	sim s;
	proc p;
	char addr[128];
	const char *args[] = { "svc", "--", "sleep", "600", NULL };
	const char *env[] = { addr, NULL };

	start_sim(&s, NULL);
	snprintf(addr, sizeof(addr), "CONSUL_HTTP_ADDR=http://%s", s.agent_addr);
	start_ostiary(&p, NULL, args, env);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

/* CONSUL_NAMESPACE, CONSUL_PARTITION and CONSUL_HTTP_AUTH mean what they
 * mean to Consul's Go client: ns= and partition= on every request, basic
 * auth (never logged); a CONSUL_* variable nothing reads is named. */
Test(agent, namespace_partition_and_basic_auth_reach_the_agent)
{
	sim s;
	proc p;
	const char *sim_args[] = { "--enterprise", NULL };
	const char *args[] = { "-vv", "svc", "--", "sleep", "600", NULL };
	const char *env[] = { "CONSUL_NAMESPACE=team-a", "CONSUL_PARTITION=part-1",
		              "CONSUL_HTTP_AUTH=user:secret-pass", "CONSUL_DATACENTRE=dc9", NULL };
	json_t *reg;
	const char *query, *auth;

	start_sim(&s, sim_args);
	start_ostiary(&p, &s, args, env);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	reg = first_request(&s, "PUT", "/v1/agent/service/register");
	cr_assert_not_null(reg);
	query = json_string_value(json_object_get(reg, "query"));
	cr_assert(strstr(query, "ns=team-a") && strstr(query, "partition=part-1"), "%s", query);
	auth = json_string_value(json_object_get(json_object_get(reg, "headers"), "authorization"));
	/* base64("user:secret-pass") */
	cr_assert_str_eq(auth, "Basic dXNlcjpzZWNyZXQtcGFzcw==");
	json_decref(reg);
	cr_assert(proc_output_contains(&p, "CONSUL_DATACENTRE is set but ostiary does not use it"));
	stop_ostiary(&p, 128 + SIGTERM);
	cr_assert_not(proc_output_contains(&p, "secret-pass"), "the password reached the log");
	sim_stop(&s);
}

/* A namespace given to a Community Edition agent is refused, not ignored:
 * the operator sees why instead of a service in the default namespace. */
Test(agent, namespace_on_a_community_agent_is_reported)
{
	sim s;
	proc p;
	const char *args[] = { "--namespace", "team-a", "svc", "--", "sleep", "600", NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_output(&p, "Namespaces are a Consul Enterprise feature", DEADLINE_MS));
	cr_assert_not(sim_has_service(&s, "svc"));
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}
