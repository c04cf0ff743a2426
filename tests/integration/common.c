/* Shared helpers for ostiary's integration tests (see common.h). */
#include "common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void
start_sim(sim *s, const char *const *extra_args)
{
	cr_assert_eq(sim_start(s, extra_args), 0, "the Consul agent simulator did not start");
}

void
start_ostiary(proc *p, const sim *s, const char *const *args, const char *const *env)
{
	const char *argv[64];
	int n = 0;

	argv[n++] = ostiary_bin();
	if (s != NULL) {
		argv[n++] = "--http-addr";
		argv[n++] = s->agent_addr;
	}
	for (int i = 0; args[i] != NULL && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(proc_start(p, argv, env), 0, "cannot start %s", argv[0]);
}

/* A few static slots: a test needs a handful of paths, and Criterion runs
 * each test in its own process, so nothing is shared or leaked. */
static const char *
path_slot(const char *dir, const char *name)
{
	static char slots[8][256];
	static int next;
	char *slot = slots[next++ % 8];

	snprintf(slot, sizeof(slots[0]), "%s/%s", dir, name);
	return slot;
}

const char *
scratch_path(const char *name)
{
	static char dir[64];

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/ostiary-test-XXXXXX");
		cr_assert_not_null(mkdtemp(dir));
	}
	return path_slot(dir, name);
}

const char *
write_exit_code_config(const char *name, const char *settings, const char *code_file)
{
	const char *path = scratch_path(name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fprintf(f,
	        "command = [ \"sleep\", \"60\" ];\n"
	        "%s"
	        "services = ( { name = \"web\"; checks = ( { type = \"exec\";\n"
	        "  args = [ \"/bin/sh\", \"-c\", \"exit $(cat %s)\" ];\n"
	        "  interval = \"200ms\"; timeout = \"150ms\"; spread = \"0s\"; } ); } );\n",
	        settings, code_file);
	fclose(f);
	return path;
}

void
write_exit_code(const char *code_file, int code)
{
	FILE *f = fopen(code_file, "w");

	cr_assert_not_null(f);
	fprintf(f, "%d\n", code);
	fclose(f);
}

const char *
helper_path(const char *name)
{
	return path_slot(helpers_dir(), name);
}

int
exit_code(int wait_status)
{
	if (wait_status >= 0 && WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	return -1;
}

int
expect_exit(proc *p, int timeout_ms)
{
	int status = proc_wait(p, timeout_ms);

	if (status < 0) {
		char *out = proc_output(p);
		proc_kill(p);
		cr_assert_fail("ostiary did not exit within %d ms; output:\n%s", timeout_ms,
		               out ? out : "");
	}
	return status;
}

struct check_wait {
	sim *s;
	const char *id;
	const char *want;
};

static bool
check_has_status(void *arg)
{
	struct check_wait *w = arg;
	char *status = sim_check_status(w->s, w->id);
	bool ok = status != NULL && strcmp(status, w->want) == 0;

	free(status);
	return ok;
}

bool
wait_check_status(sim *s, const char *check_id, const char *status, int timeout_ms)
{
	struct check_wait w = { s, check_id, status };

	return wait_until(check_has_status, &w, timeout_ms);
}

struct service_wait {
	sim *s;
	const char *id;
	bool present;
};

bool
check_output_has(sim *s, const char *check_id, const char *needle)
{
	char *output = sim_check_output(s, check_id);
	bool found = output != NULL && strstr(output, needle) != NULL;

	free(output);
	return found;
}

struct check_output_wait {
	sim *s;
	const char *check_id, *needle;
};

static bool
check_output_cond(void *arg)
{
	struct check_output_wait *w = arg;

	return check_output_has(w->s, w->check_id, w->needle);
}

bool
wait_check_output(sim *s, const char *check_id, const char *needle, int timeout_ms)
{
	struct check_output_wait w = { s, check_id, needle };

	return wait_until(check_output_cond, &w, timeout_ms);
}

static bool
service_presence(void *arg)
{
	struct service_wait *w = arg;

	return sim_has_service(w->s, w->id) == w->present;
}

bool
wait_service(sim *s, const char *service_id, bool present, int timeout_ms)
{
	struct service_wait w = { s, service_id, present };

	return wait_until(service_presence, &w, timeout_ms);
}

struct request_wait {
	sim *s;
	const char *method;
	const char *prefix;
	int n;
};

static bool
enough_requests(void *arg)
{
	struct request_wait *w = arg;

	return sim_count(w->s, w->method, w->prefix) >= w->n;
}

bool
wait_requests(sim *s, const char *method, const char *path_prefix, int n, int timeout_ms)
{
	struct request_wait w = { s, method, path_prefix, n };

	return wait_until(enough_requests, &w, timeout_ms);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool
recorder_ready(void *arg)
{
	char *text = read_file(arg);
	bool ok = text != NULL && strncmp(text, "ready ", 6) == 0;

	free(text);
	return ok;
}

bool
wait_recorder_ready(const char *file, int timeout_ms)
{
	return wait_until(recorder_ready, (void *)file, timeout_ms);
}

long long
recorder_signal_us(const char *file, int signo)
{
	char *text = read_file(file);
	long long when = -1;
	char *save = NULL;

	if (text == NULL)
		return -1;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int got;
		long long ms;
		if (sscanf(line, "%d %lld", &got, &ms) == 2 && got == signo) {
			when = ms;
			break;
		}
	}
	free(text);
	return when;
}

struct signal_wait {
	const char *file;
	int signo;
};

static bool
recorder_has_signal(void *arg)
{
	struct signal_wait *w = arg;

	return recorder_signal_us(w->file, w->signo) >= 0;
}

bool
wait_recorder_signal(const char *file, int signo, int timeout_ms)
{
	struct signal_wait w = { file, signo };

	return wait_until(recorder_has_signal, &w, timeout_ms);
}

static bool
request_matches(json_t *entry, const char *method, const char *prefix)
{
	const char *m = json_string_value(json_object_get(entry, "method"));
	const char *p = json_string_value(json_object_get(entry, "path"));

	return m && p && (method == NULL || strcmp(m, method) == 0) &&
	       (prefix == NULL || strncmp(p, prefix, strlen(prefix)) == 0);
}

json_t *
first_request(sim *s, const char *method, const char *path_prefix)
{
	json_t *log = sim_log(s), *entry, *found = NULL;
	size_t i;

	json_array_foreach(log, i, entry)
	{
		if (request_matches(entry, method, path_prefix)) {
			found = json_incref(entry);
			break;
		}
	}
	json_decref(log);
	return found;
}

long long
first_request_us(sim *s, const char *method, const char *path_prefix)
{
	json_t *entry = first_request(s, method, path_prefix);
	long long ms = -1;

	if (entry != NULL)
		ms = (long long)(json_number_value(json_object_get(entry, "t")) * 1e6);
	json_decref(entry);
	return ms;
}

struct output_wait {
	proc *p;
	const char *needle;
};

static bool
output_has(void *arg)
{
	struct output_wait *w = arg;

	return proc_output_contains(w->p, w->needle);
}

bool
wait_output(proc *p, const char *needle, int timeout_ms)
{
	struct output_wait w = { p, needle };

	return wait_until(output_has, &w, timeout_ms);
}

pid_t
recorder_pid(const char *file)
{
	FILE *f = fopen(file, "r");
	int pid = -1;

	if (f != NULL) {
		if (fscanf(f, "ready %d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

void
stop_ostiary(proc *p, int expected_code)
{
	kill(p->pid, SIGTERM);
	cr_assert_eq(exit_code(expect_exit(p, DEADLINE_MS)), expected_code);
	proc_kill(p);
}

void
skip_under_valgrind(const char *why)
{
	if (getenv("OSTIARY_VALGRIND_DIR") != NULL)
		cr_skip_test("%s", why);
}
