/*
 * The library's examples (src/examples/, built into build/examples/) against
 * the simulator: each prints what its README section promises, and the
 * watch under it follows Consul's client rules under the simulator's faults
 * (snapshot/restore moving the index back, no-block, hang-blocking, an agent
 * that goes away and comes back).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char *
example_path(const char *name)
{
	static char path[512];
	const char *dir = getenv("OSTIARY_EXAMPLES");

	snprintf(path, sizeof path, "%s/%s", dir ? dir : "build/examples", name);
	return path;
}

/* Starts an example with -a <sim> and the arguments given (NULL-terminated). */
static void
start_example(proc *p, const sim *s, const char *name, const char *const *args)
{
	const char *argv[16];
	int n = 0;

	argv[n++] = example_path(name);
	argv[n++] = "-a";
	argv[n++] = s->agent_addr;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(proc_start(p, argv, NULL), 0, "cannot start %s", argv[0]);
}

static void
kv_put(sim *s, const char *key, const char *value)
{
	char path[256];

	snprintf(path, sizeof path, "/v1/kv/%s", key);
	cr_assert_eq(sim_agent(s, "PUT", path, value, NULL), 200, "PUT %s", key);
}

static void
kv_delete(sim *s, const char *key)
{
	char path[256];

	snprintf(path, sizeof path, "/v1/kv/%s", key);
	cr_assert_eq(sim_agent(s, "DELETE", path, NULL, NULL), 200, "DELETE %s", key);
}

/* The Session of KV key (its holder), "" when none; malloc'ed. */
static char *
kv_session(sim *s, const char *key)
{
	char path[256], *body = NULL, *session;
	json_t *json, *value;

	snprintf(path, sizeof path, "/v1/kv/%s", key);
	cr_assert_eq(sim_agent(s, "GET", path, NULL, &body), 200, "GET %s", key);
	json = json_loads(body, 0, NULL);
	value = json_object_get(json_array_get(json, 0), "Session");
	session = strdup(json_is_string(value) ? json_string_value(value) : "");
	json_decref(json);
	free(body);
	return session;
}

static int
count_in(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void
expect_output(proc *p, const char *needle)
{
	char shown[4096];
	char *out;

	if (wait_output(p, needle, DEADLINE_MS))
		return;
	out = proc_output(p);
	snprintf(shown, sizeof shown, "%s", out ? out : "");
	free(out); /* the failed assertion does not return */
	cr_assert_fail("no \"%s\" in:\n%s", needle, shown);
}

/* SIGTERM; the examples exit 0. */
static void
stop_example(proc *p)
{
	kill(p->pid, SIGTERM);
	cr_expect_eq(exit_code(expect_exit(p, DEADLINE_MS)), 0);
}

/* A blocking request on path is waiting in the simulator. */
static bool
blocked_on(sim *s, const char *path, int n)
{
	return wait_requests(s, "GET", path, n, DEADLINE_MS);
}

Test(lib_examples, kv_watch_prints_each_change_once)
{
	const char *args[] = { "cfg/color", NULL };
	proc p;
	sim s;
	char *out;

	start_sim(&s, NULL);
	start_example(&p, &s, "kv-watch", args);
	cr_assert(blocked_on(&s, "/v1/kv/cfg/color", 2), "the second read blocks");
	kv_put(&s, "cfg/other", "x"); /* another key: nothing to say */
	kv_put(&s, "cfg/color", "blue");
	expect_output(&p, "cfg/color=blue\n");
	kv_put(&s, "cfg/color", "blue"); /* idempotent: same content */
	kv_put(&s, "cfg/color", "red");
	expect_output(&p, "cfg/color=red\n");
	kv_delete(&s, "cfg/color");
	expect_output(&p, "cfg/color deleted\n");
	kv_put(&s, "cfg/color", "red");
	expect_output(&p, "cfg/color deleted\ncfg/color=red\n");
	stop_example(&p);
	out = proc_output(&p);
	cr_expect_str_eq(out, "cfg/color=blue\ncfg/color=red\ncfg/color deleted\ncfg/color=red\n");
	free(out);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lib_examples, kv_config_loads_then_reports_changes_per_key)
{
	const char *args[] = { "app/", NULL };
	proc p;
	sim s;
	char *out;

	start_sim(&s, NULL);
	kv_put(&s, "app/b", "2");
	kv_put(&s, "app/a", "1");
	kv_put(&s, "apple", "not under app/");
	start_example(&p, &s, "kv-config", args);
	expect_output(&p, "app/a=1\napp/b=2\nloaded 2 keys\n");
	cr_assert(blocked_on(&s, "/v1/kv/app/", 2));
	kv_put(&s, "app/b", "3");
	expect_output(&p, "changed app/b=3\n");
	kv_delete(&s, "app/a");
	expect_output(&p, "deleted app/a\n");
	kv_put(&s, "app/c", "4");
	expect_output(&p, "changed app/c=4\n");
	stop_example(&p);
	out = proc_output(&p);
	cr_expect_str_eq(out, "app/a=1\napp/b=2\nloaded 2 keys\nchanged app/b=3\ndeleted app/a\n"
	                      "changed app/c=4\n");
	free(out);
	proc_kill(&p);
	sim_stop(&s);
}

static void
register_web(sim *s, const char *id, const char *address, int port)
{
	char body[512];

	snprintf(body, sizeof body,
	         "{\"ID\":\"%s\",\"Name\":\"web\",\"Address\":\"%s\",\"Port\":%d,"
	         "\"Check\":{\"CheckID\":\"ttl-%s\",\"TTL\":\"60s\",\"Status\":\"passing\"}}",
	         id, address, port, id);
	cr_assert_eq(sim_agent(s, "PUT", "/v1/agent/service/register", body, NULL), 200);
}

Test(lib_examples, health_watch_follows_the_passing_set)
{
	const char *args[] = { "web", NULL };
	proc p;
	sim s;

	start_sim(&s, NULL);
	start_example(&p, &s, "health-watch", args);
	expect_output(&p, "web: none\n");
	register_web(&s, "web-2", "10.0.0.2", 8080);
	expect_output(&p, "web: web-2 10.0.0.2:8080\n");
	register_web(&s, "web-1", "10.0.0.1", 80);
	expect_output(&p, "web: web-1 10.0.0.1:80, web-2 10.0.0.2:8080\n");
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/check/fail/ttl-web-2", NULL, NULL), 200);
	expect_output(&p, "web: web-1 10.0.0.1:80\n");
	stop_example(&p);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lib_examples, kv_put_writes_bytes)
{
	const char *argv[] = { example_path("kv-put"), "-a", NULL, "dir/key", "hello world", NULL };
	char *body = NULL;
	proc p;
	sim s;

	start_sim(&s, NULL);
	argv[2] = s.agent_addr;
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	cr_expect_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_assert_eq(sim_agent(&s, "GET", "/v1/kv/dir/key?raw", NULL, &body), 200);
	cr_expect_str_eq(body, "hello world");
	free(body);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lib_examples, kv_lock_runs_the_command_holding_the_lock)
{
	char command[512];
	const char *args[] = { "locks/job", "--", "sh", "-c", command, NULL };
	char *session;
	proc p;
	sim s;

	snprintf(command, sizeof command, "echo running; sleep 1; exit 3");
	start_sim(&s, NULL);
	start_example(&p, &s, "kv-lock", args);
	expect_output(&p, "running\n");
	session = kv_session(&s, "locks/job");
	cr_expect_neq(session[0], '\0', "held while it runs");
	free(session);
	cr_expect_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 3, "the command's status");
	session = kv_session(&s, "locks/job");
	cr_expect_str_eq(session, "", "released");
	free(session);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lib_examples, kv_lock_waits_for_the_holder)
{
	const char *first[] = { "locks/one", "--", "sh", "-c", "echo first; sleep 2", NULL };
	const char *second[] = { "locks/one", "--", "sh", "-c", "echo second", NULL };
	proc a, b;
	sim s;
	char *out;

	start_sim(&s, NULL);
	start_example(&a, &s, "kv-lock", first);
	expect_output(&a, "first\n");
	start_example(&b, &s, "kv-lock", second);
	/* The second has tried for the lock and been refused (the first's
	 * acquire is one of these PUTs): it must not have run COMMAND. */
	cr_assert(wait_requests(&s, "PUT", "/v1/kv/locks/one", 2, DEADLINE_MS));
	out = proc_output(&b);
	cr_expect_null(strstr(out, "second"), "ran while the lock was held");
	free(out);
	cr_expect_eq(exit_code(expect_exit(&a, DEADLINE_MS)), 0);
	expect_output(&b, "second\n");
	cr_expect_eq(exit_code(expect_exit(&b, DEADLINE_MS)), 0);
	proc_kill(&a);
	proc_kill(&b);
	sim_stop(&s);
}

/* ------------------------------------------------------------------ faults */

Test(lib_examples, index_going_backwards_is_reset)
{
	const char *args[] = { "r/k", NULL };
	proc p;
	sim s;

	start_sim(&s, NULL);
	kv_put(&s, "r/k", "old");
	cr_assert_eq(sim_control(&s, "POST", "/snapshot", NULL, NULL), 200);
	kv_put(&s, "r/k", "new");
	kv_put(&s, "r/other", "x");
	kv_put(&s, "r/other", "y");
	start_example(&p, &s, "kv-watch", args);
	expect_output(&p, "r/k=new\n");
	cr_assert(blocked_on(&s, "/v1/kv/r/k", 2));
	/* A Raft snapshot restore: the key's index moves back below ours. */
	cr_assert_eq(sim_control(&s, "POST", "/restore", NULL, NULL), 200);
	expect_output(&p, "r/k=old\n");
	/* Not stuck on the old, higher index: the next write shows at once. */
	kv_put(&s, "r/k", "newest");
	expect_output(&p, "r/k=newest\n");
	stop_example(&p);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lib_examples, no_block_fault_is_no_hot_loop)
{
	const char *args[] = { "nb/k", NULL };
	long long start;
	int n;
	proc p;
	sim s;

	start_sim(&s, NULL);
	kv_put(&s, "nb/k", "v");
	cr_assert_eq(sim_fault(&s, "{\"mode\":\"no-block\",\"path_prefix\":\"/v1/kv/\"}"), 0);
	start = mono_ms();
	start_example(&p, &s, "kv-watch", args);
	expect_output(&p, "nb/k=v\n");
	usleep(2000 * 1000); /* the window the request rate is measured over, not a wait until */
	n = sim_count(&s, "GET", "/v1/kv/nb/k");
	/* The token bucket: a burst of 2, then one request per 100 ms. */
	cr_expect_leq(n, 2 + (mono_ms() - start) / 100 + 2, "%d requests in %lld ms", n,
	              mono_ms() - start);
	cr_expect_geq(n, 5, "it keeps polling: %d", n);
	stop_example(&p);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lib_examples, hang_blocking_recovers_by_the_client_timeout, .timeout = 40)
{
	/* wait 1s: the call's timeout is 1 s + 1/16 + the 5 s margin */
	const char *args[] = { "-w", "1s", "hb/k", NULL };
	proc p;
	sim s;

	start_sim(&s, NULL);
	kv_put(&s, "hb/k", "v1");
	start_example(&p, &s, "kv-watch", args);
	expect_output(&p, "hb/k=v1\n");
	cr_assert_eq(sim_fault(&s, "{\"mode\":\"hang-blocking\",\"path_prefix\":\"/v1/kv/\"}"), 0);
	cr_assert(wait_output(&p, "agent lost", 15000), "the hung request times out");
	cr_assert_eq(sim_fault(&s, "{\"mode\":\"none\"}"), 0);
	kv_put(&s, "hb/k", "v2");
	expect_output(&p, "hb/k=v2\n");
	expect_output(&p, "agent back\n");
	stop_example(&p);
	proc_kill(&p);
	sim_stop(&s);
}

Test(lib_examples, agent_lost_and_back_said_once)
{
	const char *args[] = { "lb/k", NULL };
	proc p;
	sim s;
	char *out;

	start_sim(&s, NULL);
	kv_put(&s, "lb/k", "v1");
	start_example(&p, &s, "kv-watch", args);
	expect_output(&p, "lb/k=v1\n");
	cr_assert(blocked_on(&s, "/v1/kv/lb/k", 2));
	cr_assert_eq(sim_control(&s, "POST", "/stop", NULL, NULL), 200);
	expect_output(&p, "agent lost");
	/* A window of several failed attempts (nothing to wait until): "agent
	 * lost" must still be said once at the end. */
	usleep(1500 * 1000);
	cr_assert_eq(sim_control(&s, "POST", "/start", NULL, NULL), 200);
	expect_output(&p, "agent back\n");
	kv_put(&s, "lb/k", "v2");
	expect_output(&p, "lb/k=v2\n");
	stop_example(&p);
	out = proc_output(&p);
	cr_expect_eq(count_in(out, "agent lost"), 1, "%s", out);
	cr_expect_eq(count_in(out, "agent back"), 1, "%s", out);
	free(out);
	proc_kill(&p);
	sim_stop(&s);
}

/* The README's library example, run: a TTL check passes through the agent
 * found by CONSUL_HTTP_ADDR; a check the agent does not know fails. */
Test(lib_examples, ttl_pass_is_the_readme_example)
{
	const char *argv[] = { example_path("ttl-pass"), "ttl-web", "all good", NULL };
	const char *unknown[] = { example_path("ttl-pass"), "no-such-check", NULL };
	char addr_env[128], *status, *output;
	const char *env[] = { addr_env, NULL };
	proc p;
	sim s;

	start_sim(&s, NULL);
	snprintf(addr_env, sizeof addr_env, "CONSUL_HTTP_ADDR=%s", s.agent_addr);
	cr_assert_eq(
	        sim_agent(&s, "PUT", "/v1/agent/service/register",
	                  "{\"ID\":\"web\",\"Name\":\"web\",\"Check\":{\"CheckID\":\"ttl-web\","
	                  "\"TTL\":\"60s\"}}",
	                  NULL),
	        200);
	cr_assert_eq(proc_start(&p, argv, env), 0);
	cr_expect_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	cr_expect(proc_output_contains(&p, "ttl-web: passing"));
	proc_kill(&p);
	status = sim_check_status(&s, "ttl-web");
	output = sim_check_output(&s, "ttl-web");
	cr_expect_str_eq(status, "passing");
	cr_expect_str_eq(output, "all good");
	free(status);
	free(output);
	cr_assert_eq(proc_start(&p, unknown, env), 0);
	cr_expect_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 1);
	proc_kill(&p);
	sim_stop(&s);
}
