/* Issue 4: readiness, restarts, agent faults and crash safety, seen from the
 * agent's side (the simulator) and from the shell's (exit codes). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* Written under another name and renamed, so a reader polling for the
 * file never sees it half-written. */
static void
write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[300];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert_geq(fd, 0, "cannot create %s", tmp);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	cr_assert_eq(rename(tmp, path), 0);
}

/* A child that sends sd_notify datagrams when told to: each time the file
 * GO appears it takes it (renames it, so a newer GO is never lost) and
 * sends its content; the test drives it. */
static const char *notify_child =
        "while :; do "
        "if mv \"$1\" \"$1.sent\" 2>/dev/null; then "
        "python3 -c 'import os,socket,sys; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); "
        "s.sendto(open(sys.argv[1],\"rb\").read(), os.environ[\"NOTIFY_SOCKET\"])' \"$1.sent\"; "
        "fi; sleep 0.02; done";

Test(resilience, notify_holds_checks_critical_until_ready)
{
	sim s;
	proc p;
	const char *go = scratch_path("go");
	const char *args[] = { "-v", "--notify",   "svc", "--", "sh",
		               "-c", notify_child, "sh",  go,   NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_output(&s, "service:svc", "READY=1", DEADLINE_MS),
	          "the check says what it waits for");
	cr_assert(wait_check_status(&s, "service:svc", "critical", DEADLINE_MS));

	write_file(go, "STATUS=warming caches", 0600);
	cr_assert(wait_output(&p, "warming caches", DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:svc", "critical", 0), "a STATUS is not READY");

	write_file(go, "READY=1\nSTATUS=serving", 0600);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert(wait_check_output(&s, "service:svc", "serving", DEADLINE_MS),
	          "STATUS= shows in the process check's output");

	write_file(go, "STOPPING=1", 0600);
	cr_assert(wait_check_status(&s, "service:svc", "critical", DEADLINE_MS),
	          "STOPPING=1 takes the service out of rotation");
	cr_assert(check_output_has(&s, "service:svc", "STOPPING=1"));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

/* A probe must pass N times in a row before the check first passes. */
Test(resilience, ready_after_needs_consecutive_passes)
{
	sim s;
	proc p;
	const char *conf = scratch_path("ostiary.conf"), *count = scratch_path("count");
	char text[1024];

	snprintf(text, sizeof(text),
	         "command = [\"sleep\", \"600\"];\n"
	         "ready_after = 3;\n"
	         "services = ({ name = \"svc\"; checks = ({ type = \"exec\"; "
	         "args = [\"/bin/sh\", \"-c\", \"echo x >> %s\"]; interval = \"200ms\"; "
	         "timeout = \"150ms\"; }); });\n",
	         count);
	write_file(conf, text, 0644);
	const char *args[] = { "-c", conf, NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));

	/* Before passing, the agent heard "critical, n of 3 passes". */
	json_t *log = sim_log(&s), *entry;
	size_t i;
	bool held = false;
	json_array_foreach(log, i, entry)
	{
		const char *path = json_string_value(json_object_get(entry, "path"));
		const char *body = json_string_value(json_object_get(entry, "body"));

		if (path == NULL || body == NULL || strstr(path, "/v1/agent/check/update/") == NULL)
			continue;
		if (strstr(body, "passing") != NULL)
			break;
		held = held || strstr(body, "of 3 passes in a row") != NULL;
	}
	json_decref(log);
	cr_assert(held, "no push said the check was not ready yet");

	/* Passing came only after the third run. */
	FILE *f = fopen(count, "r");
	int runs = 0;
	for (int c; f != NULL && (c = fgetc(f)) != EOF;)
		runs += c == '\n';
	if (f != NULL)
		fclose(f);
	cr_assert_geq(runs, 3, "passing after %d runs", runs);
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

/* A crashing child is restarted with backoff; the service stays registered
 * and critical with the restart note; SIGTERM gives the last status. */
Test(resilience, crash_loop_stays_registered_and_critical)
{
	sim s;
	proc p;
	const char *args[] = { "--restart",
		               "on-failure",
		               "--restart-delay",
		               "100ms",
		               "--restart-max-delay",
		               "400ms",
		               "svc",
		               "--",
		               "sh",
		               "-c",
		               "exit 3",
		               NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_output(&s, "service:svc", "attempt 4", DEADLINE_MS));
	cr_assert(check_output_has(&s, "service:svc", "exited with status 3"));
	cr_assert(wait_check_output(&s, "service:svc", "next in 400ms", DEADLINE_MS),
	          "the delay doubles up to its cap");
	char *status = sim_check_status(&s, "service:svc");
	cr_assert_str_eq(status, "critical");
	free(status);
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/deregister/"), 0,
	             "never deregistered between attempts");
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/register"), 1,
	             "registered once, not once per attempt");
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 3, "the last child's status");
	cr_assert_not(sim_has_service(&s, "svc"));
	proc_kill(&p);
	sim_stop(&s);
}

/* on-failure does not restart a clean exit. */
Test(resilience, on_failure_does_not_restart_success)
{
	sim s;
	proc p;
	const char *args[] = { "--restart", "on-failure", "svc", "--", "true", NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_assert_not(proc_output_contains(&p, "restarting"));
	proc_kill(&p);
	sim_stop(&s);
}

/* Fail-closed: the agent gone longer than the limit stops the child;
 * ostiary exits with the child's status. */
Test(resilience, fail_closed_stops_the_child)
{
	sim s;
	proc p;
	const char *args[] = { "--fail-closed",
		               "600ms",
		               "--ttl",
		               "2s",
		               "--heartbeat",
		               "200ms",
		               "--agent-timeout",
		               "300ms",
		               "svc",
		               "--",
		               "sleep",
		               "600",
		               NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert_eq(sim_control(&s, "POST", "/stop", NULL, NULL), 200);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGTERM);
	cr_assert(proc_output_contains(&p, "fail-closed"));
	proc_kill(&p);
	sim_stop(&s);
}

/* Fail-open (the default): an agent outage never touches the child. */
Test(resilience, fail_open_keeps_the_child)
{
	sim s;
	proc p;
	const char *args[] = { "--ttl",           "2s",    "--heartbeat", "200ms",
		               "--agent-timeout", "300ms", "svc",         "--",
		               "sleep",           "600",   NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert_eq(sim_control(&s, "POST", "/stop", NULL, NULL), 200);
	cr_assert(wait_output(&p, "agent lost", DEADLINE_MS));
	cr_assert_eq(proc_wait(&p, 1500), -1, "ostiary exited while the agent was away");
	cr_assert_eq(sim_control(&s, "POST", "/start", NULL, NULL), 200);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGTERM);
	proc_kill(&p);
	sim_stop(&s);
}

/* Someone deregisters our service behind our back: the read-back repairs
 * it long before the next push (the heartbeat is 20 s here). */
Test(resilience, silent_deregistration_is_repaired)
{
	sim s;
	proc p;
	const char *args[] = { "--ttl", "60s", "--heartbeat", "20s",   "--verify-interval",
		               "300ms", "svc", "--",          "sleep", "600",
		               NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/service/deregister/svc", NULL, NULL), 200);
	cr_assert(wait_service(&s, "svc", false, DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:svc", "passing", 5000),
	          "not repaired by the read-back");
	cr_assert(proc_output_contains(&p, "gone from the agent"));

	/* A status the agent has wrong is pushed again. */
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/check/fail/service%3Asvc", NULL, NULL), 200);
	cr_assert(wait_check_status(&s, "service:svc", "critical", DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:svc", "passing", 5000));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

/* A crashed run with another service ID left its service behind: the next
 * run with the same owner removes it, and touches nothing else. */
Test(resilience, leftovers_of_an_earlier_run_are_removed)
{
	sim s;
	proc p;
	const char *leftover = "{\"ID\":\"web-old\",\"Name\":\"web\",\"Meta\":{\"ostiary-owner\":"
	                       "\"web-fleet\"}}";
	const char *other_owner = "{\"ID\":\"web-other\",\"Name\":\"web\",\"Meta\":"
	                          "{\"ostiary-owner\":\"someone-else\"}}";
	const char *unrelated = "{\"ID\":\"db\",\"Name\":\"db\"}";
	const char *args[] = { "--owner", "web-fleet", "--id", "web-new", "web",
		               "--",      "sleep",     "600",  NULL };

	start_sim(&s, NULL);
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/service/register", leftover, NULL), 200);
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/service/register", other_owner, NULL), 200);
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/service/register", unrelated, NULL), 200);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:web-new", "passing", DEADLINE_MS));
	cr_assert(wait_service(&s, "web-old", false, DEADLINE_MS), "the leftover stayed");
	cr_assert(sim_has_service(&s, "web-other"), "another owner's service was removed");
	cr_assert(sim_has_service(&s, "db"), "an unrelated service was removed");
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

/* A rotated token takes effect on SIGHUP; a readable token file is warned
 * about; the token never shows in the log. */
Test(resilience, sighup_rereads_the_token_file)
{
	sim s;
	proc p;
	const char *token = scratch_path("token"), *rec = scratch_path("rec");
	const char *sim_args[] = { "--acl-token", "good-secret-1234", NULL };
	const char *args[] = { "--token-file",
		               token,
		               "--retry-max",
		               "300ms",
		               "svc",
		               "--",
		               helper_path("sigrecorder"),
		               rec,
		               NULL };

	write_file(token, "wrong-secret-5678\n", 0644);
	start_sim(&s, sim_args);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_output(&p, "readable by everyone", DEADLINE_MS));
	cr_assert(wait_output(&p, "403", DEADLINE_MS));
	/* Refused reads are not retried in a loop. */
	cr_assert(wait_requests(&s, "PUT", "/v1/agent/service/register", 3, DEADLINE_MS));
	cr_assert_leq(sim_count(&s, "GET", "/v1/agent/services"), 1,
	              "the refused look for "
	              "leftovers was retried at once");
	write_file(token, "good-secret-1234\n", 0600);
	kill(p.pid, SIGHUP);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS),
	          "the new token was not used");
	cr_assert(proc_output_contains(&p, "new token in use"));
	cr_assert(wait_recorder_signal(rec, SIGHUP, DEADLINE_MS), "SIGHUP is still forwarded");
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	cr_assert_not(proc_output_contains(&p, "secret"), "a token reached the log");
	proc_kill(&p);
	sim_stop(&s);
}

/* A rotated token file is picked up without any signal: the 403 that the
 * old token earns makes ostiary read the file again. */
Test(resilience, rotated_token_file_needs_no_signal)
{
	sim s;
	proc p;
	const char *token = scratch_path("token");
	const char *sim_args[] = { "--acl-token", "good-secret-1234", NULL };
	const char *args[] = {
		"--token-file", token,   "--retry-max", "300ms", "--verify-interval", "1h", "svc",
		"--",           "sleep", "600",         NULL
	};

	write_file(token, "wrong-secret-5678\n", 0600);
	start_sim(&s, sim_args);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_output(&p, "403", DEADLINE_MS));
	write_file(token, "good-secret-1234\n", 0600);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS),
	          "the rotated token was not picked up");
	cr_assert(proc_output_contains(&p, "new token in use"));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	cr_assert_not(proc_output_contains(&p, "secret"), "a token reached the log");
	proc_kill(&p);
	sim_stop(&s);
}

/* With no 403 to prompt it, the token file is still read every verify
 * interval. */
Test(resilience, token_file_is_reread_every_verify_interval)
{
	sim s;
	proc p;
	const char *token = scratch_path("token");
	const char *args[] = { "--token-file", token, "--verify-interval",
		               "300ms",        "svc", "--",
		               "sleep",        "600", NULL };

	write_file(token, "first-secret-1234\n", 0600);
	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	write_file(token, "second-secret-5678\n", 0600);
	cr_assert(wait_output(&p, "new token in use", DEADLINE_MS));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	cr_assert_not(proc_output_contains(&p, "secret-"), "a token reached the log");
	proc_kill(&p);
	sim_stop(&s);
}

/* ------------------------------------------------------------- TLS agent */

/* Certificates from tests/sim/make-certs.sh, made once per test. */
static const char *
make_certs(void)
{
	static char dir[256], cmd[1024];
	const char *sim_path = getenv("OSTIARY_SIM");
	char script[512];

	snprintf(dir, sizeof(dir), "%s", scratch_path("certs"));
	snprintf(script, sizeof(script), "%s", sim_path ? sim_path : "tests/sim/consul_sim.py");
	*strrchr(script, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "sh %s/make-certs.sh %s", script, dir);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
	return dir;
}

static const char *
cert(const char *dir, const char *name)
{
	static char paths[6][300];
	static int next;
	char *slot = paths[next++ % 6];

	snprintf(slot, sizeof(paths[0]), "%s/%s", dir, name);
	return slot;
}

static void
start_tls_sim(sim *s, const char *dir, bool client_auth)
{
	const char *args[] = { "--tls-cert",
		               cert(dir, "server.pem"),
		               "--tls-key",
		               cert(dir, "server-key.pem"),
		               client_auth ? "--tls-client-ca" : NULL,
		               cert(dir, "ca.pem"),
		               NULL };

	start_sim(s, args);
}

static const char *
https_addr(const sim *s)
{
	static char addr[96];

	snprintf(addr, sizeof(addr), "https://127.0.0.1:%d", s->agent_port);
	return addr;
}

static void
stop_and_clean(proc *p, sim *s)
{
	kill(p->pid, SIGTERM);
	expect_exit(p, DEADLINE_MS);
	proc_kill(p);
	sim_stop(s);
}

Test(tls, verified_agent_with_the_ca_file)
{
	sim s;
	proc p;
	const char *dir = make_certs();

	start_tls_sim(&s, dir, false);
	const char *args[] = { "--http-addr", https_addr(&s), "--ca-file", cert(dir, "ca.pem"),
		               "svc",         "--",           "sleep",     "600",
		               NULL };
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	stop_and_clean(&p, &s);
}

/* Verification is on by default: an agent whose CA we were not given is
 * refused, and the command keeps running; only CONSUL_HTTP_SSL_VERIFY=false
 * turns the check off. */
Test(tls, unknown_ca_is_refused_unless_verification_is_off)
{
	sim s;
	proc p;
	const char *dir = make_certs();

	start_tls_sim(&s, dir, false);
	const char *args[] = {
		"--http-addr", https_addr(&s), "--ca-file", cert(dir, "other-ca.pem"), "svc", "--",
		"sleep",       "600",          NULL
	};
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_output(&p, "certificate", DEADLINE_MS), "the log names the cause");
	cr_assert_not(sim_has_service(&s, "svc"));
	cr_assert_eq(proc_wait(&p, 300), -1, "the command must keep running");
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);

	const char *insecure[] = { "CONSUL_HTTP_SSL_VERIFY=false", NULL };
	const char *plain[] = { "--http-addr", https_addr(&s), "svc", "--", "sleep", "600", NULL };
	start_ostiary(&p, &s, plain, insecure);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	stop_and_clean(&p, &s);
}

/* verify_incoming: the agent wants our client certificate; the server name
 * is checked against --tls-server-name when we connect by IP. */
Test(tls, client_certificate_and_server_name)
{
	sim s;
	proc p;
	const char *dir = make_certs();

	start_tls_sim(&s, dir, true);
	const char *args[] = { "--http-addr",
		               https_addr(&s),
		               "--ca-file",
		               cert(dir, "ca.pem"),
		               "--client-cert",
		               cert(dir, "client.pem"),
		               "--client-key",
		               cert(dir, "client-key.pem"),
		               "--tls-server-name",
		               "server.dc1.consul",
		               "svc",
		               "--",
		               "sleep",
		               "600",
		               NULL };
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:svc", "passing", DEADLINE_MS));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);

	const char *no_cert[] = { "--http-addr", https_addr(&s), "--ca-file", cert(dir, "ca.pem"),
		                  "--id",        "svc2",         "svc",       "--",
		                  "sleep",       "600",          NULL };
	start_ostiary(&p, &s, no_cert, NULL);
	cr_assert(wait_output(&p, "agent lost", DEADLINE_MS), "no client certificate: refused");
	cr_assert_not(sim_has_service(&s, "svc2"));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);

	const char *wrong_name[] = { "--http-addr",
		                     https_addr(&s),
		                     "--ca-file",
		                     cert(dir, "ca.pem"),
		                     "--client-cert",
		                     cert(dir, "client.pem"),
		                     "--client-key",
		                     cert(dir, "client-key.pem"),
		                     "--tls-server-name",
		                     "wrong.example",
		                     "--id",
		                     "svc3",
		                     "svc",
		                     "--",
		                     "sleep",
		                     "600",
		                     NULL };
	start_ostiary(&p, &s, wrong_name, NULL);
	cr_assert(wait_output(&p, "agent lost", DEADLINE_MS), "a wrong server name: refused");
	cr_assert_not(sim_has_service(&s, "svc3"));
	stop_and_clean(&p, &s);
}

/* Whether an URL-escaped filter names service `id` as one alternative of its
 * regular expression "^(?:a|b)$". */
static bool
filter_names(const char *query, const char *id)
{
	static const char *const before[] = { "%3A", "%7C" }, *const after[] = { "%7C", "%29" };
	char needle[128];

	for (int b = 0; b < 2; b++) {
		for (int a = 0; a < 2; a++) {
			snprintf(needle, sizeof(needle), "%s%s%s", before[b], id, after[a]);
			if (strstr(query, needle) != NULL)
				return true;
		}
	}
	return false;
}

/* How many read-backs of our checks asked for service `id` (by its filter). */
static int
readbacks_naming(sim *s, const char *id, int *unfiltered)
{
	json_t *log = sim_log(s), *entry;
	size_t i;
	int n = 0;

	*unfiltered = 0;
	json_array_foreach(log, i, entry)
	{
		const char *path = json_string_value(json_object_get(entry, "path"));
		const char *query = json_string_value(json_object_get(entry, "query"));

		if (path == NULL || strcmp(path, "/v1/agent/checks") != 0)
			continue;
		if (query == NULL || strstr(query, "filter=") == NULL)
			(*unfiltered)++;
		else if (filter_names(query, id))
			n++;
	}
	json_decref(log);
	return n;
}

static bool
first_and_last_services_read_back(void *arg)
{
	int unfiltered;

	return readbacks_naming(arg, "svc0", &unfiltered) > 0 &&
	       readbacks_naming(arg, "svc11", &unfiltered) > 0;
}

/* 1,200 checks: the read-back asks for ours only, in batches of at most
 * 1,024 checks, and still repairs a service of the last batch. */
Test(resilience, read_back_goes_in_filtered_batches)
{
	const char *conf = scratch_path("many.conf");
	FILE *f = fopen(conf, "w");
	const char *args[] = { "--verify-interval", "1s", "-c", conf, NULL };
	int unfiltered;
	sim s;
	proc p;

	skip_under_valgrind("1,200 checks take too long under valgrind; "
	                    "read_back_names_odd_service_ids_literally runs the read-back there");
	start_sim(&s, NULL);
	cr_assert_not_null(f);
	fprintf(f, "command = [\"sleep\", \"600\"];\nservices = (\n");
	for (int svc = 0; svc < 12; svc++) {
		fprintf(f, "%s  { name = \"svc%d\"; checks = (\n", svc ? ",\n" : "", svc);
		for (int c = 0; c < 100; c++)
			fprintf(f, "%s    { id = \"svc%d-c%d\"; type = \"tcp\"; tcp = \"%s\"; "
			           "interval = \"3s\"; ttl = \"1h\"; }",
			        c ? ",\n" : "", svc, c, s.agent_addr);
		fprintf(f, " ); }");
	}
	fprintf(f, "\n);\n");
	cr_assert_eq(fclose(f), 0);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "svc11-c99", "passing", DEADLINE_MS));
	/* From here: the log keeps every read-back's answer, which adds up. */
	cr_assert_eq(sim_control(&s, "DELETE", "/log", NULL, NULL), 200);
	cr_assert(wait_until(first_and_last_services_read_back, &s, DEADLINE_MS),
	          "svc0 or svc11 was never read back");
	cr_assert_geq(readbacks_naming(&s, "svc0", &unfiltered), 0);
	cr_assert_eq(unfiltered, 0, "a read-back asked for every check on the agent");

	/* The TTL of 1 h keeps heartbeats (every 30 min) from finding it first. */
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/check/deregister/svc11-c99", NULL, NULL), 200);
	cr_assert(wait_output(&p, "check svc11-c99 of service svc11 is gone", 5000),
	          "the last batch's service was not read back");
	cr_assert(wait_check_status(&s, "svc11-c99", "passing", 5000), "not repaired");
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}

/* A service ID full of what regular expressions and bexpr strings treat
 * specially is still read back, as itself only. */
Test(resilience, read_back_names_odd_service_ids_literally)
{
	/* Heartbeats every 5 min: the read-back, not a push, finds the check gone. */
	const char *args[] = { "--ttl", "10m", "--heartbeat", "5m", "--verify-interval", "300ms",
		               "--id",  "w.b+(1)|x\\\"y", "svc", "--", "sleep", "600", NULL };
	sim s;
	proc p;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:w.b+(1)|x\\\"y", "passing", DEADLINE_MS));
	cr_assert(wait_requests(&s, "GET", "/v1/agent/checks", 5, DEADLINE_MS));
	cr_assert_not(proc_output_contains(&p, "is gone"), "its own check was not found");
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/check/deregister/service%3Aw.b%2B%281%29%7Cx%5C%22y",
	                       NULL, NULL),
	             200);
	cr_assert(wait_output(&p, "is gone from the agent", 5000), "the odd ID was not read back");
	cr_assert(wait_check_status(&s, "service:w.b+(1)|x\\\"y", "passing", 5000), "not repaired");
	stop_ostiary(&p, 128 + SIGTERM);
	sim_stop(&s);
}
