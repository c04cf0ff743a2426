/* The status snapshot through the control socket: `ostiary status` (table,
 * JSON, exit codes), `ostiary maintenance`, and the socket's own rules (a
 * second ostiary refused, a stale socket replaced, mode 0600). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* `ostiary ARGS...` as a client: its exit code, its output in *out (may be NULL). */
static int
run_client(const char *const *args, const char *const *env, char **out)
{
	const char *argv[16];
	proc p;
	int n = 0, status;

	argv[n++] = ostiary_bin();
	for (int i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(proc_start(&p, argv, env), 0);
	status = proc_wait(&p, DEADLINE_MS);
	if (out != NULL)
		*out = proc_output(&p);
	proc_kill(&p);
	return exit_code(status);
}

static int
status_code(const char *socket)
{
	const char *args[] = { "status", "--socket", socket, NULL };

	return run_client(args, NULL, NULL);
}

/* `ostiary status --json` parsed; NULL when it did not answer. */
static json_t *
status_json_of(const char *socket)
{
	const char *args[] = { "status", "--json", "--socket", socket, NULL };
	char *out = NULL;
	json_t *st;

	run_client(args, NULL, &out);
	st = out != NULL ? json_loads(out, 0, NULL) : NULL;
	free(out);
	return st;
}

struct code_wait {
	const char *socket;
	int want;
};

static bool
code_is(void *arg)
{
	struct code_wait *w = arg;

	return status_code(w->socket) == w->want;
}

static bool
wait_status_code(const char *socket, int want)
{
	struct code_wait w = { socket, want };

	return wait_until(code_is, &w, DEADLINE_MS);
}

static bool
socket_exists(void *arg)
{
	struct stat sb;

	return stat(arg, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

Test(status, exit_codes_follow_the_worst_check)
{
	const char *code_file = scratch_path("code");
	const char *socket = scratch_path("st.sock");
	const char *config = write_exit_code_config("status.conf", "", code_file);
	const char *args[] = { "-c", config, "--status-socket", socket, NULL };
	struct stat sb;
	sim s;
	proc p;

	write_exit_code(code_file, 0);
	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_until(socket_exists, (void *)socket, DEADLINE_MS), "no socket");
	cr_assert_eq(stat(socket, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
	cr_assert(wait_status_code(socket, 0), "never passing (exit 0)");
	write_exit_code(code_file, 1);
	cr_assert(wait_status_code(socket, 1), "a warning check is not exit 1");
	write_exit_code(code_file, 2);
	cr_assert(wait_status_code(socket, 2), "a critical check is not exit 2");
	write_exit_code(code_file, 0);
	cr_assert(wait_status_code(socket, 0), "not passing again");
	stop_ostiary(&p, 143);
	/* Gone with ostiary: a client cannot reach it (3). */
	cr_expect_eq(status_code(socket), 3);
	cr_expect_neq(access(socket, F_OK), 0, "the socket file outlived ostiary");
	sim_stop(&s);
}

Test(status, json_snapshot_says_what_happened)
{
	const char *code_file = scratch_path("code");
	const char *socket = scratch_path("st.sock");
	const char *config = write_exit_code_config("status.conf", "", code_file);
	const char *args[] = { "-c", config, "--status-socket", socket, NULL };
	json_t *st, *check, *service, *cmd;
	sim s;
	proc p;

	write_exit_code(code_file, 2);
	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:web", "critical", DEADLINE_MS));
	cr_assert(wait_status_code(socket, 2));
	st = status_json_of(socket);
	cr_assert_not_null(st);
	cmd = json_object_get(st, "command");
	cr_expect_str_eq(json_string_value(json_object_get(cmd, "name")), "sleep");
	cr_expect_gt(json_integer_value(json_object_get(cmd, "pid")), 0);
	cr_expect_str_eq(json_string_value(json_object_get(cmd, "state")), "running");
	cr_expect_eq(json_integer_value(json_object_get(cmd, "restarts")), 0);
	service = json_array_get(json_object_get(st, "services"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(service, "id")), "web");
	cr_expect(json_is_true(json_object_get(service, "registered")));
	cr_expect(json_is_false(json_object_get(service, "maintenance")));
	check = json_array_get(json_object_get(st, "checks"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(check, "id")), "service:web");
	cr_expect_str_eq(json_string_value(json_object_get(check, "status")), "critical");
	cr_expect_str_eq(json_string_value(json_object_get(check, "type")), "exec");
	cr_expect(json_is_string(json_object_get(check, "last_run")));
	cr_expect_geq(json_integer_value(json_object_get(check, "failures")), 1);
	cr_expect(json_is_true(json_object_get(json_object_get(st, "agent"), "reachable")));
	/* The KV watches' place, empty until a watch reports. */
	cr_expect(json_is_array(json_object_get(st, "kv_watches")));
	cr_expect_eq(json_array_size(json_object_get(st, "kv_watches")), 0);
	json_decref(st);
	stop_ostiary(&p, 143);
	sim_stop(&s);
}

Test(status, table_and_default_socket_in_runtime_directory)
{
	const char *args[] = { "--ttl", "2s", "web", "--", "sleep", "60", NULL };
	const char *client[] = { "status", NULL };
	char sock[300], env_rt[320], *out = NULL;
	const char *env[] = { env_rt, NULL };
	sim s;
	proc p;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	/* The harness gives each process its own RUNTIME_DIRECTORY. */
	snprintf(sock, sizeof(sock), "%s/ostiary.sock", p.rt_dir);
	snprintf(env_rt, sizeof(env_rt), "RUNTIME_DIRECTORY=%s", p.rt_dir);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	cr_assert(wait_until(socket_exists, sock, DEADLINE_MS), "no socket at %s", sock);
	cr_expect_eq(run_client(client, env, &out), 0, "%s", out ? out : "");
	cr_assert_not_null(out);
	cr_expect_not_null(strstr(out, "service:web"), "%s", out);
	cr_expect_not_null(strstr(out, "passing"), "%s", out);
	cr_expect_not_null(strstr(out, "(no KV watches)"), "%s", out);
	free(out);
	stop_ostiary(&p, 143);
	sim_stop(&s);
}

Test(status, second_ostiary_refused_on_a_live_socket)
{
	const char *socket = scratch_path("st.sock");
	const char *args[] = { "--status-socket", socket, "web", "--", "sleep", "60", NULL };
	const char *args2[] = { "--status-socket", socket, "other", "--", "sleep", "60", NULL };
	sim s;
	proc p, q;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_until(socket_exists, (void *)socket, DEADLINE_MS));
	start_ostiary(&q, &s, args2, NULL);
	cr_expect_eq(exit_code(expect_exit(&q, DEADLINE_MS)), 125);
	cr_expect(proc_output_contains(&q, "another ostiary is running"));
	/* It started nothing, and the first one still answers. */
	cr_expect_not(sim_has_service(&s, "other"));
	cr_expect(wait_status_code(socket, 0));
	proc_kill(&q);
	stop_ostiary(&p, 143);
	sim_stop(&s);
}

Test(status, stale_socket_of_a_sigkilled_run_is_replaced)
{
	const char *socket = scratch_path("st.sock");
	const char *args[] = { "--status-socket", socket, "web", "--", "sleep", "60", NULL };
	sim s;
	proc p, q;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_until(socket_exists, (void *)socket, DEADLINE_MS));
	kill(p.pid, SIGKILL);
	cr_assert_neq(proc_wait(&p, DEADLINE_MS), -1);
	cr_assert(socket_exists((void *)socket), "the SIGKILLed run's socket should be left");
	cr_expect_eq(status_code(socket), 3);
	proc_kill(&p);
	start_ostiary(&q, &s, args, NULL);
	cr_assert(wait_status_code(socket, 0), "the new run does not answer on the old path");
	stop_ostiary(&q, 143);
	sim_stop(&s);
}

Test(status, a_plain_file_is_never_replaced)
{
	const char *path = scratch_path("not-a-socket");
	const char *args[] = { "--status-socket", path, "web", "--", "sleep", "60", NULL };
	FILE *f = fopen(path, "w");
	sim s;
	proc p;

	cr_assert_not_null(f);
	fputs("precious\n", f);
	fclose(f);
	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_expect_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_expect(proc_output_contains(&p, "is not a socket"));
	cr_expect_eq(access(path, F_OK), 0);
	proc_kill(&p);
	sim_stop(&s);
}

Test(status, unreachable_socket_is_exit_3)
{
	cr_expect_eq(status_code(scratch_path("nothing-here.sock")), 3);
}

static bool
maintenance_on(void *arg)
{
	char *status = sim_check_status(arg, "_service_maintenance:web");
	bool on = status != NULL;

	free(status);
	return on;
}

static bool
maintenance_off(void *arg)
{
	return !maintenance_on(arg);
}

Test(status, maintenance_kept_across_re_registration_until_disabled)
{
	const char *socket = scratch_path("st.sock");
	const char *args[] = { "--status-socket", socket, "--ttl", "2s", "web", "--",
		               "sleep",           "60",   NULL };
	const char *enable[] = { "maintenance", "enable", "--reason", "deploy 42",
		                 "--socket",    socket,   NULL };
	const char *disable[] = { "maintenance", "disable", "--socket", socket, NULL };
	const char *unknown[] = { "maintenance", "enable", "--service", "nope", "--socket", socket,
		                  NULL };
	char *out = NULL;
	json_t *st;
	sim s;
	proc p;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));
	cr_assert_eq(run_client(enable, NULL, &out), 0, "%s", out ? out : "");
	free(out);
	cr_assert(wait_until(maintenance_on, &s, DEADLINE_MS), "maintenance not switched on");
	st = status_json_of(socket);
	cr_assert_not_null(st);
	cr_expect_str_eq(json_string_value(json_object_get(
	                         json_array_get(json_object_get(st, "services"), 0),
	                         "maintenance_reason")),
	                 "deploy 42");
	json_decref(st);

	/* The agent forgets the service: the re-registration brings the
	 * maintenance back with it. */
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/agent/service/deregister/web", NULL, NULL), 200);
	cr_assert(wait_requests(&s, "PUT", "/v1/agent/service/register", 2, DEADLINE_MS),
	          "not registered again");
	cr_assert(wait_requests(&s, "PUT", "/v1/agent/service/maintenance/web", 2, DEADLINE_MS),
	          "maintenance not asked for again after the re-registration");
	cr_assert(wait_until(maintenance_on, &s, DEADLINE_MS),
	          "maintenance lost with the re-registration");

	cr_expect_eq(run_client(unknown, NULL, NULL), 1);
	cr_assert_eq(run_client(disable, NULL, NULL), 0);
	cr_assert(wait_until(maintenance_off, &s, DEADLINE_MS), "maintenance not switched off");
	stop_ostiary(&p, 143);
	sim_stop(&s);
}
