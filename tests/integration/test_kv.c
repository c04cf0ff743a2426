/*
 * The command's configuration from Consul KV, against the simulator's KV
 * store: what the command gets at start, what a change does (a restart
 * that drains and keeps the service registered, a signal, nothing), when
 * it does it, and what an agent that is away changes (nothing, once the
 * command runs).
 *
 * The command is a shell that writes its environment to REC.env.PID and
 * execs sigrecorder, which appends "ready PID" to REC at each start and
 * the signals it gets.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ostiary/consul.h>

#include "common.h"

static const char *const child_script = "env > \"$1.env.$$\"; exec \"$2\" \"$1\"";

/* ostiary ARGS... -- sh -c child_script sh REC SIGRECORDER */
static void
start_kv_ostiary(proc *p, sim *s, const char *rec, const char *const *args)
{
	const char *argv[64];
	int n = 0;

	for (int i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n++] = "--";
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = child_script;
	argv[n++] = "sh";
	argv[n++] = rec;
	argv[n++] = helper_path("sigrecorder");
	argv[n] = NULL;
	start_ostiary(p, s, argv, NULL);
}

static void
kv_put(sim *s, const char *key, const char *value)
{
	char path[512];

	snprintf(path, sizeof(path), "/v1/kv/%s", key);
	cr_assert_eq(sim_agent(s, "PUT", path, value, NULL), 200, "PUT %s", key);
}

/* A value with any bytes in it, through the library. */
static void
kv_put_bytes(sim *s, const char *key, const void *value, size_t len)
{
	consul_config cfg;
	consul_client *client;
	consul_call *call;
	bool ok = false;

	consul_config_init(&cfg);
	cr_assert_eq(consul_config_set_addr(&cfg, s->agent_addr, "test", NULL), 0);
	cr_assert_not_null(client = consul_client_new(&cfg, NULL));
	consul_config_free(&cfg);
	call = consul_kv_put_call(client, key, value, len, NULL);
	cr_assert_eq(consul_bool_parse(consul_call_perform(call), &ok, NULL), 0);
	cr_assert(ok);
	consul_call_free(call);
	consul_client_free(client);
}

/* The KV endpoints reset every connection (an agent that is away; its
 * data, on the servers, stays), or work again. */
static void
kv_unreachable(sim *s, bool unreachable)
{
	cr_assert_eq(sim_fault(s, unreachable ? "{\"mode\":\"reset\",\"path_prefix\":\"/v1/kv/\","
	                                       "\"count\":1000000}"
	                                     : "{\"mode\":\"none\"}"),
	             0);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 65536 + 1 > cap && (buf = realloc(buf, cap = 2 * cap + 65536 + 1)) == NULL)
			break;
		size_t got = fread(buf + n, 1, 65536, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	if (buf != NULL)
		buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

struct file_wait {
	const char *path, *text;
};

static bool
file_is(void *arg)
{
	struct file_wait *w = arg;
	char *text = slurp(w->path, NULL);
	bool same = text != NULL && strcmp(text, w->text) == 0;

	free(text);
	return same;
}

static bool
wait_file_is(const char *path, const char *text, int timeout_ms)
{
	struct file_wait w = { path, text };

	return wait_until(file_is, &w, timeout_ms);
}

/* The pids of the command's starts, in order; returns how many. */
static int
starts(const char *rec, int *pids, int max)
{
	char *text = slurp(rec, NULL), *save = NULL;
	int n = 0;

	for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, "ready %d", n < max ? &pids[n] : &pids[max - 1]) == 1)
			n++;
	free(text);
	return n;
}

struct starts_wait {
	const char *rec;
	int n;
};

static bool
enough_starts(void *arg)
{
	struct starts_wait *w = arg;
	int pids[64];

	return starts(w->rec, pids, 64) >= w->n;
}

static bool
wait_starts(const char *rec, int n, int timeout_ms)
{
	struct starts_wait w = { rec, n };

	return wait_until(enough_starts, &w, timeout_ms);
}

/* The environment the nth start (1-based) got, as env printed it. */
static char *
env_of(const char *rec, int nth)
{
	int pids[64];
	char path[512];

	cr_assert_geq(starts(rec, pids, 64), nth, "no start %d", nth);
	snprintf(path, sizeof(path), "%s.env.%d", rec, pids[nth - 1]);
	/* The shell writes it before exec, and "ready" comes after exec. */
	return slurp(path, NULL);
}

/* NAME's value in env output (one "NAME=value" per line), or NULL. */
static char *
env_get(const char *env, const char *name)
{
	size_t n = strlen(name);

	for (const char *line = env; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > n && strncmp(line, name, n) == 0 && line[n] == '=')
			return strndup(line + n + 1, len - n - 1);
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

static void
assert_env(const char *env, const char *name, const char *value)
{
	char *got = env_get(env, name);

	if (value == NULL)
		cr_assert_null(got, "%s is set (to %s)", name, got);
	else
		cr_assert(got != NULL && strcmp(got, value) == 0, "%s is %s, not %s", name,
		          got ? got : "unset", value);
	free(got);
}

/* NAME's value as the nth start got it (NULL: unset). */
static void
assert_start_env(const char *rec, int nth, const char *name, const char *value)
{
	char *env = env_of(rec, nth);

	cr_assert_not_null(env, "no environment of start %d", nth);
	assert_env(env, name, value);
	free(env);
}

static void
finish(proc *p, sim *s)
{
	stop_ostiary(p, 0);
	proc_kill(p);
	sim_stop(s);
}

/* ------------------------------------------------------------ at start */

Test(kv, environment_from_prefixes)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "--kv-env", "app/common/", "--kv-env", "app/web/", "web", NULL };
	char *env;

	start_sim(&s, NULL);
	kv_put(&s, "app/common/log-level", "info");
	kv_put(&s, "app/common/port", "80");
	kv_put(&s, "app/web/port", "8080");
	kv_put(&s, "app/web/db/host", "db.local");
	kv_put(&s, "app/web/folder/", "");
	kv_put(&s, "app/web/multi", "line one\nline two");
	kv_put(&s, "app/web2/port", "9999");
	kv_put_bytes(&s, "app/web/binary", "a\0b", 3);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));

	env = env_of(rec, 1);
	cr_assert_not_null(env);
	assert_env(env, "LOG_LEVEL", "info");
	assert_env(env, "PORT", "8080"); /* the later prefix wins */
	assert_env(env, "DB_HOST", "db.local");
	assert_env(env, "FOLDER", NULL);
	assert_env(env, "FOLDER_", NULL);
	assert_env(env, "MULTI", "line one");
	cr_assert(strstr(env, "line two") != NULL, "the value is passed verbatim");
	cr_assert(strstr(env, "9999") == NULL, "app/web2/ is not app/web/");
	cr_assert(wait_output(&p, "app/web/binary holds a NUL byte", DEADLINE_MS));
	free(env);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	finish(&p, &s);
}

Test(kv, files_written_atomically_with_their_mode)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *cfg = scratch_path("web.conf");
	const char *big_path = scratch_path("big.bin");
	char spec[300], big_spec[300];
	const char *args[] = { "--kv-file", spec, "--kv-file", big_spec, "--kv-env", "app/",
		               "--kv-on-change", "none", "--kv-wait", "0", "web", NULL };
	static char big[512 * 1024 + 1];
	struct stat before, after;
	size_t len;
	char *text;

	snprintf(spec, sizeof(spec), "app/cfg=%s:0640", cfg);
	snprintf(big_spec, sizeof(big_spec), "app/big=%s", big_path);
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	start_sim(&s, NULL);
	kv_put(&s, "app/cfg", "listen = 8080\n");
	kv_put(&s, "app/big", big);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));

	cr_assert_eq(stat(cfg, &before), 0, "written before the command started");
	cr_assert_eq(before.st_mode & 07777, 0640);
	text = slurp(cfg, NULL);
	cr_assert_str_eq(text, "listen = 8080\n");
	free(text);
	cr_assert_eq(stat(big_path, &after), 0);
	cr_assert_eq(after.st_mode & 07777, 0600, "the default mode is owner-only");
	text = slurp(big_path, &len);
	cr_assert_eq(len, sizeof(big) - 1, "512 KiB, Consul's largest value");
	cr_assert_eq(memcmp(text, big, len), 0);
	free(text);
	cr_assert(wait_output(&p, "app/big holds 524288 bytes, more than an environment string",
	                      DEADLINE_MS),
	          "too long for the environment: skipped, said");
	text = env_of(rec, 1);
	assert_env(text, "CFG", "listen = 8080");
	assert_env(text, "BIG", NULL);
	free(text);

	kv_put(&s, "app/cfg", "listen = 9090\n");
	cr_assert(wait_output(&p, "leaving sh as it is", DEADLINE_MS));
	text = slurp(cfg, NULL);
	cr_assert_str_eq(text, "listen = 9090\n");
	free(text);
	cr_assert_eq(stat(cfg, &after), 0);
	cr_assert_neq(after.st_ino, before.st_ino, "replaced by a rename, not rewritten in place");
	cr_assert_eq(after.st_mode & 07777, 0640);
	cr_assert(wait_starts(rec, 1, 0));
	int pids[4];
	cr_assert_eq(starts(rec, pids, 4), 1, "none: no restart");
	cr_assert_eq(recorder_signal_us(rec, SIGHUP), -1, "none: no signal");

	cr_assert_eq(sim_agent(&s, "DELETE", "/v1/kv/app/cfg", NULL, NULL), 200);
	cr_assert(wait_output(&p, "key app/cfg was deleted", DEADLINE_MS));
	text = slurp(cfg, NULL);
	cr_assert_str_eq(text, "listen = 9090\n", "a deleted key leaves its file as it was");
	free(text);
	finish(&p, &s);
}

/* A key a file needs blocks the start until it exists. */
Test(kv, missing_file_key_blocks_the_start)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *cfg = scratch_path("web.conf");
	char spec[300];
	const char *args[] = { "--kv-file", spec, "web", NULL };
	int pids[4];

	snprintf(spec, sizeof(spec), "app/cfg=%s", cfg);
	start_sim(&s, NULL);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_output(&p, "waiting for key app/cfg to exist", DEADLINE_MS));
	cr_assert_eq(starts(rec, pids, 4), 0, "started without its file");
	cr_assert_not(sim_has_service(&s, "web"), "registered without a command");
	kv_put(&s, "app/cfg", "x=1");
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));
	cr_assert(wait_service(&s, "web", true, DEADLINE_MS));
	finish(&p, &s);
}

Test(kv, agent_down_at_start_gives_up_with_125)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "--kv-env", "app/web/", "--kv-timeout", "1500ms", "web", NULL };
	int pids[4];

	start_sim(&s, NULL);
	cr_assert_eq(sim_control(&s, "POST", "/stop", NULL, NULL), 200);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_assert(proc_output_contains(&p, "could not read from Consul KV in 1.5s: app/web/"),
	          "%s", proc_output(&p));
	cr_assert(proc_output_contains(&p, "unreachable"), "says why");
	cr_assert_eq(starts(rec, pids, 4), 0);
	proc_kill(&p);
	sim_stop(&s);
}

/* Not required: the command starts without the data, and gets it (as a
 * change) once the agent is back. */
Test(kv, agent_down_at_start_not_required)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "--kv-env",      "app/web/",        "--kv-timeout", "1s",
		               "--kv-required=false", "--kv-wait",   "0",
		               "--drain-delay", "0",               "web",          NULL };

	start_sim(&s, NULL);
	kv_put(&s, "app/web/port", "8080");
	kv_unreachable(&s, true);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));
	cr_assert(proc_output_contains(&p, "--kv-required=false"), "%s", proc_output(&p));
	assert_start_env(rec, 1, "PORT", NULL);

	kv_unreachable(&s, false);
	cr_assert(wait_starts(rec, 2, DEADLINE_MS), "the data arrived: a restart");
	assert_start_env(rec, 2, "PORT", "8080");
	finish(&p, &s);
}

/* Back within the timeout: the command starts with the data. */
Test(kv, agent_back_before_the_timeout)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "--kv-env", "app/web/", "web", NULL };
	int pids[4];

	start_sim(&s, NULL);
	kv_put(&s, "app/web/port", "8080");
	kv_unreachable(&s, true);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_output(&p, "cannot read app/web/ yet", DEADLINE_MS));
	cr_assert_eq(starts(rec, pids, 4), 0);
	kv_unreachable(&s, false);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));
	assert_start_env(rec, 1, "PORT", "8080");
	finish(&p, &s);
}

Test(kv, terminated_while_waiting)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "-v", "--kv-file", "app/missing=/nonexistent/x", "web", NULL };

	start_sim(&s, NULL);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_output(&p, "waiting for key app/missing", DEADLINE_MS));
	kill(p.pid, SIGHUP); /* nobody to forward it to yet: still waiting */
	kill(p.pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 128 + SIGTERM);
	cr_assert_not(proc_output_contains(&p, "forwarding"), "forwarded to no command");
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/register"), 0);
	proc_kill(&p);
	sim_stop(&s);
}

/* --------------------------------------------------------------- changes */

/* The order the agent and the command see: maintenance, the old command's
 * stop signal, the new command; the service never leaves the agent. */
Test(kv, restart_is_a_drain)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "-v",        "--kv-env", "app/web/", "--kv-wait", "0",
		               "--drain-delay", "300ms",  "web",      NULL };
	long long maintenance_us, stop_us;
	char *output;
	json_t *req;

	start_sim(&s, NULL);
	kv_put(&s, "app/web/port", "8080");
	kv_put(&s, "app/web/secret", "s3cr3t-v4lue");
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));

	kv_put(&s, "app/web/port", "9090");
	cr_assert(wait_starts(rec, 2, DEADLINE_MS));
	maintenance_us = first_request_us(&s, "PUT", "/v1/agent/service/maintenance/web");
	stop_us = recorder_signal_us(rec, SIGTERM);
	cr_assert_geq(maintenance_us, 0, "no maintenance");
	cr_assert_geq(stop_us, 0, "the old command got no SIGTERM");
	cr_assert_lt(maintenance_us, stop_us, "maintenance before the stop signal");
	cr_assert_geq(stop_us - maintenance_us, 250 * 1000, "the drain delay passed");
	req = first_request(&s, "PUT", "/v1/agent/service/maintenance/web");
	cr_assert(strstr(json_string_value(json_object_get(req, "query")), "enable=true") != NULL);
	cr_assert(strstr(json_string_value(json_object_get(req, "query")),
	                 "restarting%20for%20new%20configuration") != NULL ||
	                  strstr(json_string_value(json_object_get(req, "query")),
	                         "restarting+for+new+configuration") != NULL,
	          "the reason says why: %s", json_string_value(json_object_get(req, "query")));
	json_decref(req);
	cr_assert(proc_output_contains(&p,
	                               "restarting for new configuration (keys: app/web/port)"));

	assert_start_env(rec, 2, "PORT", "9090");
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	cr_assert(wait_requests(&s, "PUT", "/v1/agent/service/maintenance/web", 2, DEADLINE_MS),
	          "out of maintenance again");
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/deregister"), 0,
	             "never deregistered");
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/register"), 1,
	             "registered once, and kept");

	output = proc_output(&p);
	cr_assert(strstr(output, "s3cr3t-v4lue") == NULL, "a value in the log");
	free(output);
	json_t *log = sim_log(&s), *entry;
	size_t i;
	json_array_foreach(log, i, entry)
	{
		const char *path = json_string_value(json_object_get(entry, "path"));
		char *dump = json_dumps(entry, 0);

		cr_assert(strncmp(path, "/v1/kv/", 7) == 0 || strstr(dump, "s3cr3t") == NULL,
		          "a value sent to the agent: %s", dump);
		free(dump);
	}
	json_decref(log);
	finish(&p, &s);
}

/* The checks pass again only once the new command says READY=1. */
Test(kv, restart_waits_for_ready)
{
	sim s;
	proc p;
	const char *go = scratch_path("go");
	static const char *notifier =
	        "echo \"PORT=$PORT\" >> \"$1.ports\"; "
	        "while :; do "
	        "if mv \"$1\" \"$1.sent\" 2>/dev/null; then "
	        "python3 -c 'import os,socket,sys; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); "
	        "s.sendto(open(sys.argv[1],\"rb\").read(), os.environ[\"NOTIFY_SOCKET\"])' "
	        "\"$1.sent\"; "
	        "fi; sleep 0.02; done";
	const char *args[] = { "--notify",  "--kv-env", "app/web/", "--kv-wait",     "0",
		               "--drain-delay", "0",    "web",      "--",            "sh",
		               "-c",        notifier,   "sh",       go,              NULL };
	FILE *f;
	char path[300];

	start_sim(&s, NULL);
	kv_put(&s, "app/web/port", "1");
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:web", "critical", DEADLINE_MS));
	cr_assert_not_null(f = fopen(go, "w"));
	fputs("READY=1", f);
	fclose(f);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));

	kv_put(&s, "app/web/port", "2");
	snprintf(path, sizeof(path), "%s.ports", go);
	cr_assert(wait_file_is(path, "PORT=1\nPORT=2\n", DEADLINE_MS), "restarted with PORT=2");
	cr_assert(wait_check_output(&s, "service:web", "READY=1", DEADLINE_MS),
	          "the new command's check waits for READY=1");
	cr_assert(wait_check_status(&s, "service:web", "critical", 0), "passing before READY");
	cr_assert_not_null(f = fopen(go, "w"));
	fputs("READY=1", f);
	fclose(f);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

Test(kv, signal_mode)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec"), *cfg = scratch_path("web.conf");
	char spec[300];
	const char *args[] = { "--kv-file", spec, "--kv-on-change", "signal:HUP", "--kv-wait", "0",
		               "web",       NULL };
	int pids[4];
	char *text;

	snprintf(spec, sizeof(spec), "app/cfg=%s", cfg);
	start_sim(&s, NULL);
	kv_put(&s, "app/cfg", "v1");
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));
	kv_put(&s, "app/cfg", "v2");
	cr_assert(wait_recorder_signal(rec, SIGHUP, DEADLINE_MS));
	text = slurp(cfg, NULL);
	cr_assert_str_eq(text, "v2", "the file is written before the signal");
	free(text);
	cr_assert_eq(starts(rec, pids, 4), 1, "no restart");
	cr_assert(proc_output_contains(&p, "for new configuration (keys: app/cfg)"));
	finish(&p, &s);
}

/* -------------------------------------------------- no change, no action */

Test(kv, same_value_and_index_backwards_do_nothing)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "--kv-env", "app/web/", "--kv-wait", "0", "web", NULL };
	int before, pids[8];

	start_sim(&s, NULL);
	kv_put(&s, "app/web/port", "8080");
	cr_assert_eq(sim_control(&s, "POST", "/snapshot", NULL, NULL), 200);
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));

	/* A new ModifyIndex, the same value (only the flags changed). */
	before = sim_count(&s, "GET", "/v1/kv/app/web/");
	kv_put(&s, "app/web/port?flags=7", "8080");
	cr_assert(wait_requests(&s, "GET", "/v1/kv/app/web/", before + 1, DEADLINE_MS));
	/* The index goes backwards (the snapshot from before), and the reads
	 * after it fail for a while (an outage): the same data afterwards. */
	cr_assert_eq(sim_fault(&s, "{\"mode\":\"reset\",\"path_prefix\":\"/v1/kv/\","
	                           "\"count\":8}"),
	             0);
	cr_assert_eq(sim_control(&s, "POST", "/restore", NULL, NULL), 200);
	cr_assert(wait_output(&p, "reading app/web/ again", DEADLINE_MS), "%s", proc_output(&p));
	/* Had any of it been taken for a change, --kv-wait 0 acts at once. */
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	cr_assert_eq(starts(rec, pids, 8), 1, "restarted without a change");
	cr_assert_eq(sim_count(&s, "PUT", "/v1/agent/service/maintenance/web"), 0);
	finish(&p, &s);
}

/* A burst of writes settles into one restart (the default --kv-wait 1s). */
Test(kv, burst_gives_one_restart)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "--kv-env", "app/web/", "--drain-delay", "0", "web", NULL };
	int pids[8];
	char value[16];

	start_sim(&s, NULL);
	kv_put(&s, "app/web/n", "0");
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	for (int i = 1; i <= 50; i++) {
		snprintf(value, sizeof(value), "%d", i);
		kv_put(&s, "app/web/n", value);
		usleep(20 * 1000); /* the burst's pace (50 writes over 1 s), not a wait */
	}
	cr_assert(wait_starts(rec, 2, DEADLINE_MS));
	assert_start_env(rec, 2, "N", "50");
	/* Settled: anything more would come within the wait, 1 s. */
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	cr_assert_not(wait_starts(rec, 3, 2000), "a second restart");
	cr_assert_eq(starts(rec, pids, 8), 2);
	finish(&p, &s);
}

/* Quiescence: MIN after the last change, but never more than MAX after the
 * first; then the splay it chose. */
Test(kv, wait_and_splay_timing)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "-v", "--kv-env", "app/web/", "--kv-wait", "600ms:1500ms",
		               "--kv-on-change", "signal:USR1", "web", NULL };
	long long first, signalled;
	char value[16];

	start_sim(&s, NULL);
	kv_put(&s, "app/web/n", "0");
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));

	/* Changes every 200 ms for 3 s: never quiet for 600 ms, so MAX acts. */
	first = mono_ms();
	for (int i = 1; i <= 15; i++) {
		snprintf(value, sizeof(value), "%d", i);
		kv_put(&s, "app/web/n", value);
		usleep(200 * 1000); /* the writes' pace, never quiet for MIN: not a wait */
	}
	cr_assert(wait_recorder_signal(rec, SIGUSR1, DEADLINE_MS));
	signalled = recorder_signal_us(rec, SIGUSR1) / 1000;
	cr_assert_geq(signalled - first, 1400, "acted before MAX: %lld ms", signalled - first);
	cr_assert_lt(signalled - first, 2500, "MAX did not cap the wait: %lld ms",
	             signalled - first);
	finish(&p, &s);
}

Test(kv, splay_waits_the_time_it_chose)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "-v", "--kv-env", "app/web/", "--kv-wait", "0", "--kv-splay", "2s",
		               "--kv-on-change", "signal:USR1", "web", NULL };
	long long put_at, signalled, chosen = -1;
	char *out, *at;

	start_sim(&s, NULL);
	kv_put(&s, "app/web/n", "0");
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	put_at = mono_ms();
	kv_put(&s, "app/web/n", "1");
	cr_assert(wait_recorder_signal(rec, SIGUSR1, DEADLINE_MS));
	signalled = recorder_signal_us(rec, SIGUSR1) / 1000;
	out = proc_output(&p);
	at = strstr(out, "acting in ");
	cr_assert_not_null(at, "the splay is logged: %s", out);
	cr_assert_eq(sscanf(at, "acting in %lld ms", &chosen), 1);
	cr_assert(chosen >= 0 && chosen <= 2000, "chose %lld ms", chosen);
	cr_assert_geq(signalled - put_at, chosen, "acted before its splay");
	cr_assert_lt(signalled - put_at, chosen + 1500, "waited far longer than its splay");
	free(out);
	finish(&p, &s);
}

/* A large prefix: every key arrives, and one change restarts once. */
Test(kv, thousand_keys)
{
	sim s;
	proc p;
	const char *rec = scratch_path("rec");
	const char *args[] = { "--kv-env", "big/", "--kv-wait", "0", "--drain-delay", "0", "web",
		               NULL };
	char key[64], value[64], *env;
	int count = 0;

	start_sim(&s, NULL);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "big/key-%04d", i);
		snprintf(value, sizeof(value), "value %d", i);
		kv_put(&s, key, value);
	}
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_starts(rec, 1, DEADLINE_MS));
	env = env_of(rec, 1);
	for (const char *at = env; (at = strstr(at, "\nKEY_")) != NULL; at++)
		count++;
	cr_assert_eq(count, 1000, "%d of 1000 variables", count);
	assert_env(env, "KEY_0999", "value 999");
	free(env);
	kv_put(&s, "big/key-0500", "changed");
	cr_assert(wait_starts(rec, 2, DEADLINE_MS));
	assert_start_env(rec, 2, "KEY_0500", "changed");
	finish(&p, &s);
}

/* Exec probes get the variables only when their check asks (kv_env). */
Test(kv, exec_probes_get_the_variables_only_when_asked)
{
	sim s;
	proc p;
	const char *conf = scratch_path("ostiary.conf");
	const char *args[] = { "-c", conf, NULL };
	FILE *f;

	start_sim(&s, NULL);
	kv_put(&s, "app/web/port", "8080");
	cr_assert_not_null(f = fopen(conf, "w"));
	fprintf(f, "command = [ \"sleep\", \"1000\" ];\n"
	           "kv = { env = [ \"app/web/\" ]; wait = \"0\"; };\n"
	           "drain_delay = \"0\";\n"
	           "services = ( { name = \"web\"; checks = (\n"
	           "  { id = \"with\"; type = \"exec\"; kv_env = true; interval = \"200ms\";\n"
	           "    timeout = \"1s\"; ttl = \"3s\";\n"
	           "    args = [ \"sh\", \"-c\", \"echo port=${PORT:-unset}\" ]; },\n"
	           "  { id = \"without\"; type = \"exec\"; interval = \"200ms\";\n"
	           "    args = [ \"sh\", \"-c\", \"echo port=${PORT:-unset}\" ]; } ); } );\n");
	fclose(f);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_output(&s, "with", "port=8080", DEADLINE_MS));
	cr_assert(wait_check_output(&s, "without", "port=unset", DEADLINE_MS));
	kv_put(&s, "app/web/port", "9090");
	cr_assert(wait_check_output(&s, "with", "port=9090", DEADLINE_MS), "%s / %s", sim_check_output(&s, "with"), proc_output(&p));
	cr_assert(check_output_has(&s, "without", "port=unset"));
	stop_ostiary(&p, 143);
	proc_kill(&p);
	sim_stop(&s);
}

/* `ostiary status` shows each watch: its prefix or key and the index read. */
Test(kv, status_shows_the_watches)
{
	sim s;
	proc p, client;
	const char *rec = scratch_path("rec"), *sock = scratch_path("ostiary.sock");
	const char *args[] = { "--kv-env", "app/web/", "--status-socket", sock, "web", NULL };
	const char *status[] = { ostiary_bin(), "status", "--json", "--socket", sock, NULL };
	json_t *st, *watch;
	char *out;

	start_sim(&s, NULL);
	kv_put(&s, "app/web/port", "8080");
	start_kv_ostiary(&p, &s, rec, args);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	cr_assert_eq(proc_start(&client, status, NULL), 0);
	cr_assert_eq(exit_code(proc_wait(&client, DEADLINE_MS)), 0);
	out = proc_output(&client);
	proc_kill(&client);
	st = json_loads(out, 0, NULL);
	cr_assert_not_null(st, "not JSON: %s", out);
	watch = json_array_get(json_object_get(st, "kv_watches"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(watch, "prefix")), "app/web/");
	cr_assert_gt(json_integer_value(json_object_get(watch, "index")), 0);
	cr_assert(strstr(out, "8080") == NULL, "a value in the status");
	json_decref(st);
	free(out);
	finish(&p, &s);
}
