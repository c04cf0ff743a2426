/* Test harness for ostiary's integration tests (see harness.h). */
#include "harness.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum {
	HTTP_CONNECT_TIMEOUT_MS = 1000,
	HTTP_TOTAL_TIMEOUT_MS = 5000,
	SIM_READY_TIMEOUT_MS = 10000,
	SIM_QUIT_TIMEOUT_MS = 3000,
	POLL_INTERVAL_MS = 5,
};

/* ------------------------------------------------------------------------ */
/* Small utilities                                                          */
/* ------------------------------------------------------------------------ */

long long
mono_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec pause = { ms / 1000, (long)(ms % 1000) * 1000000L };

	/* The poll interval of wait_until(), which owns the deadline. */
	while (nanosleep(&pause, &pause) == -1 && errno == EINTR)
		;
}

bool
wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;

	for (;;) {
		if (cond(arg))
			return true;
		if (mono_ms() >= deadline)
			return false;
		sleep_ms(POLL_INTERVAL_MS);
	}
}

static const char *
env_or(const char *name, const char *fallback)
{
	const char *value = getenv(name);

	return value != NULL && value[0] != '\0' ? value : fallback;
}

const char *
ostiary_bin(void)
{
	return env_or("OSTIARY_BIN", "build/ostiary");
}

const char *
helpers_dir(void)
{
	return env_or("OSTIARY_HELPERS", "build/tests/helpers");
}

/* Reap pid if it has exited, waiting up to timeout_ms.  True once it is gone
 * (also when it was reaped before). */
static bool
reap_within(pid_t pid, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r == -1 && errno == ECHILD))
			return true;
		if (r == -1 && errno == EINTR)
			continue;
		if (mono_ms() >= deadline)
			return false;
		sleep_ms(POLL_INTERVAL_MS);
	}
}

static void
reap_blocking(pid_t pid)
{
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/* In a freshly forked child, before exec: default signal dispositions, no
 * blocked signals, and SIGKILL when the test process goes away.  Only
 * async-signal-safe calls. */
static void
prepare_child(pid_t parent)
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL); /* EINVAL for reserved numbers: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* the parent died before prctl */
}

/* ------------------------------------------------------------------------ */
/* HTTP through libcurl                                                     */
/* ------------------------------------------------------------------------ */

struct buffer {
	char *data;
	size_t len;
};

static size_t
buffer_append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buffer *buf = userdata;
	size_t n = size * nmemb;
	char *grown = realloc(buf->data, buf->len + n + 1);

	if (grown == NULL)
		return 0; /* makes libcurl fail the transfer */
	memcpy(grown + buf->len, ptr, n);
	buf->data = grown;
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

static void
set_request_body(CURL *curl, const char *method, const char *body, struct curl_slist **headers)
{
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		*headers = curl_slist_append(*headers, "Content-Type: application/json");
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	           strcmp(method, "OPTIONS") != 0) {
		/* An explicit empty body, so a PUT/POST carries Content-Length: 0. */
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
}

/* One request to 127.0.0.1:port.  Returns the HTTP status or -1; the body
 * goes to *response (caller frees response->data). */
static int
http_call(int port, const char *method, const char *path, const char *body, struct buffer *response)
{
	CURL *curl;
	struct curl_slist *headers = NULL;
	char url[2048];
	long status = -1;

	response->data = NULL;
	response->len = 0;
	if (port <= 0 || method == NULL || path == NULL ||
	    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path) >= (int)sizeof(url))
		return -1;
	curl = curl_easy_init();
	if (curl == NULL)
		return -1;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* ignore http_proxy & co. */
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)HTTP_TOTAL_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, buffer_append);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
	headers = curl_slist_append(headers, "Expect:");
	set_request_body(curl, method, body, &headers);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	return (int)status;
}

/* ------------------------------------------------------------------------ */
/* Simulator control                                                        */
/* ------------------------------------------------------------------------ */

int
sim_control(sim *s, const char *method, const char *path, const char *body, json_t **out_json)
{
	struct buffer response;
	int status;

	if (out_json != NULL)
		*out_json = NULL;
	if (s == NULL)
		return -1;
	status = http_call(s->control_port, method, path, body, &response);
	if (status >= 0 && out_json != NULL && response.data != NULL)
		*out_json = json_loadb(response.data, response.len, JSON_DECODE_ANY, NULL);
	free(response.data);
	return status;
}

static json_t *
control_get(sim *s, const char *path, int (*is_kind)(const json_t *))
{
	json_t *value = NULL;

	if (sim_control(s, "GET", path, NULL, &value) != 200 || value == NULL || !is_kind(value)) {
		json_decref(value);
		return NULL;
	}
	return value;
}

static int
is_array(const json_t *value)
{
	return json_is_array(value);
}

static int
is_object(const json_t *value)
{
	return json_is_object(value);
}

json_t *
sim_log(sim *s)
{
	return control_get(s, "/log", is_array);
}

json_t *
sim_state(sim *s)
{
	return control_get(s, "/state", is_object);
}

int
sim_fault(sim *s, const char *json_body)
{
	return sim_control(s, "PUT", "/fault", json_body, NULL) == 200 ? 0 : -1;
}

static bool
entry_matches(json_t *entry, const char *method, const char *path_prefix)
{
	const char *m = json_string_value(json_object_get(entry, "method"));
	const char *p = json_string_value(json_object_get(entry, "path"));

	if (m == NULL || p == NULL)
		return false;
	if (method != NULL && strcmp(m, method) != 0)
		return false;
	return path_prefix == NULL || strncmp(p, path_prefix, strlen(path_prefix)) == 0;
}

int
sim_count(sim *s, const char *method, const char *path_prefix)
{
	json_t *log = sim_log(s), *entry;
	size_t i;
	int count = 0;

	if (log == NULL)
		return -1;
	json_array_foreach(log, i, entry)
	{
		if (entry_matches(entry, method, path_prefix))
			count++;
	}
	json_decref(log);
	return count;
}

int
sim_agent(sim *s, const char *method, const char *path_and_query, const char *body, char **out_body)
{
	struct buffer response;
	int status;

	if (out_body != NULL)
		*out_body = NULL;
	if (s == NULL)
		return -1;
	status = http_call(s->agent_port, method, path_and_query, body, &response);
	if (out_body != NULL && status >= 0)
		*out_body = response.data != NULL ? response.data : strdup("");
	else
		free(response.data);
	return status;
}

/* A string field of one entry of /state ("services" or "checks"), malloc'd. */
static char *
state_field(sim *s, const char *table, const char *id, const char *field)
{
	json_t *state = sim_state(s);
	const char *value;
	char *copy = NULL;

	if (state == NULL || id == NULL)
		goto out;
	value = json_string_value(
	        json_object_get(json_object_get(json_object_get(state, table), id), field));
	if (value != NULL)
		copy = strdup(value);
out:
	json_decref(state);
	return copy;
}

char *
sim_check_status(sim *s, const char *check_id)
{
	return state_field(s, "checks", check_id, "Status");
}

char *
sim_check_output(sim *s, const char *check_id)
{
	return state_field(s, "checks", check_id, "Output");
}

bool
sim_has_service(sim *s, const char *service_id)
{
	char *id = state_field(s, "services", service_id, "ID");
	bool present = id != NULL;

	free(id);
	return present;
}

/* ------------------------------------------------------------------------ */
/* Simulator process                                                        */
/* ------------------------------------------------------------------------ */

static size_t
count_args(const char *const *args)
{
	size_t n = 0;

	while (args != NULL && args[n] != NULL)
		n++;
	return n;
}

/* Remember "--unix PATH" / "--unix=PATH" from the simulator arguments. */
static void
note_unix_path(sim *s, const char *const *args)
{
	for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
		const char *path = NULL;
		if (strcmp(args[i], "--unix") == 0 && args[i + 1] != NULL)
			path = args[i + 1];
		else if (strncmp(args[i], "--unix=", 7) == 0)
			path = args[i] + 7;
		if (path != NULL)
			snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
	}
}

static pid_t
spawn_simulator(const char *const *extra_args, int stdout_fd)
{
	size_t n_extra = count_args(extra_args), n = 0;
	const char **argv = calloc(n_extra + 3, sizeof(*argv));
	pid_t parent = getpid(), pid;

	if (argv == NULL)
		return -1;
	argv[n++] = env_or("PYTHON", "python3");
	argv[n++] = env_or("OSTIARY_SIM", "tests/sim/consul_sim.py");
	for (size_t i = 0; i < n_extra; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		prepare_child(parent);
		if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
		    dup2(stdout_fd, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(argv);
	return pid;
}

/* Read the simulator's first stdout line, up to the deadline. */
static bool
read_ready_line(int fd, pid_t pid, char *line, size_t size)
{
	long long deadline = mono_ms() + SIM_READY_TIMEOUT_MS;
	size_t len = 0;

	while (len + 1 < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - mono_ms();
		ssize_t got;

		if (left <= 0 || waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		got = read(fd, line + len, size - 1 - len);
		if (got == 0)
			return false; /* it exited without a word */
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		len += (size_t)got;
		line[len] = '\0';
		if (strchr(line, '\n') != NULL)
			return true;
	}
	return false;
}

static bool
parse_ready_line(sim *s, const char *line)
{
	json_t *ready = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
	bool ok;

	s->agent_port = (int)json_integer_value(json_object_get(ready, "agent_port"));
	s->control_port = (int)json_integer_value(json_object_get(ready, "control_port"));
	json_decref(ready);
	ok = s->agent_port > 0 && s->control_port > 0;
	if (ok)
		snprintf(s->agent_addr, sizeof(s->agent_addr), "127.0.0.1:%d", s->agent_port);
	return ok;
}

int
sim_start(sim *s, const char *const *extra_args)
{
	int fds[2];
	char line[512];
	pid_t pid;
	bool ready;

	memset(s, 0, sizeof(*s));
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	pid = spawn_simulator(extra_args, fds[1]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	ready = read_ready_line(fds[0], pid, line, sizeof(line));
	close(fds[0]); /* the simulator writes nothing else to stdout */
	if (!ready || !parse_ready_line(s, line)) {
		kill(pid, SIGKILL);
		reap_blocking(pid);
		memset(s, 0, sizeof(*s));
		return -1;
	}
	s->pid = pid;
	note_unix_path(s, extra_args);
	return 0;
}

void
sim_stop(sim *s)
{
	if (s == NULL || s->pid <= 0)
		return;
	sim_control(s, "POST", "/quit", NULL, NULL);
	if (!reap_within(s->pid, SIM_QUIT_TIMEOUT_MS)) {
		kill(s->pid, SIGKILL);
		reap_blocking(s->pid);
	}
	if (s->unix_path[0] != '\0')
		unlink(s->unix_path); /* left behind only if it was killed */
	s->pid = 0;
}

/* ------------------------------------------------------------------------ */
/* Processes under test                                                     */
/* ------------------------------------------------------------------------ */

static size_t
env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq != NULL ? (size_t)(eq - entry) : strlen(entry);
}

/* Drop every "NAME=..." entry of env (NULL-terminated, compacted in place). */
static void
env_remove(char **env, const char *name, size_t name_len)
{
	size_t out = 0;

	for (size_t in = 0; env[in] != NULL; in++) {
		if (env_name_len(env[in]) == name_len && strncmp(env[in], name, name_len) == 0)
			continue;
		env[out++] = env[in];
	}
	env[out] = NULL;
}

/* The environment for a child: a copy of ours with the changes applied.
 * Entries point at the caller's strings; only the array is allocated. */
static char **
build_env(const char *const *changes)
{
	size_t n_env = count_args((const char *const *)environ);
	size_t n_changes = count_args(changes);
	char **env = calloc(n_env + n_changes + 1, sizeof(*env));
	size_t n = n_env;

	if (env == NULL)
		return NULL;
	if (n_env > 0)
		memcpy(env, environ, n_env * sizeof(*env));
	for (size_t i = 0; i < n_changes; i++) {
		const char *change = changes[i];
		if (change[0] == '-') {
			env_remove(env, change + 1, strlen(change + 1));
		} else if (strchr(change, '=') != NULL) {
			env_remove(env, change, env_name_len(change));
			n = count_args((const char *const *)env);
			env[n++] = (char *)change;
			env[n] = NULL;
		}
	}
	return env;
}

static int
open_capture_file(proc *p)
{
	int len = snprintf(p->out_path, sizeof(p->out_path), "%s/ostiary-proc-XXXXXX",
	                   env_or("TMPDIR", "/tmp"));

	if (len < 0 || (size_t)len >= sizeof(p->out_path)) {
		p->out_path[0] = '\0';
		return -1;
	}
	return mkostemp(p->out_path, O_CLOEXEC);
}

static void
exec_child(const char *const *argv, char **env, int devnull, int out_fd, pid_t parent)
{
	setpgid(0, 0);
	prepare_child(parent);
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0)
		_exit(127);
	if (strchr(argv[0], '/') != NULL)
		execve(argv[0], (char *const *)argv, env);
	else
		execvpe(argv[0], (char *const *)argv, env);
	dprintf(STDERR_FILENO, "proc_start: cannot execute %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static bool
env_mentions(const char *const *changes, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; changes != NULL && changes[i] != NULL; i++) {
		const char *c = changes[i][0] == '-' ? changes[i] + 1 : changes[i];
		if (strncmp(c, name, len) == 0 && (c[len] == '=' || c[len] == '\0'))
			return true;
	}
	return false;
}

/* The environment changes plus a private RUNTIME_DIRECTORY (see proc). */
static char **
build_env_rt(proc *p, const char *const *changes)
{
	static char entry[300];
	size_t n = count_args(changes);
	const char **more;
	char **env;

	if (env_mentions(changes, "RUNTIME_DIRECTORY") || p->out_path[0] == '\0')
		return build_env(changes);
	snprintf(p->rt_dir, sizeof(p->rt_dir), "%s.rt", p->out_path);
	if (mkdir(p->rt_dir, 0700) < 0) {
		p->rt_dir[0] = '\0';
		return build_env(changes);
	}
	snprintf(entry, sizeof(entry), "RUNTIME_DIRECTORY=%s", p->rt_dir);
	if ((more = calloc(n + 2, sizeof(*more))) == NULL)
		return NULL;
	if (n > 0)
		memcpy(more, changes, n * sizeof(*more));
	more[n] = entry;
	env = build_env(more);
	free(more);
	return env;
}

static int
rt_remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

int
proc_start(proc *p, const char *const *argv, const char *const *env)
{
	int out_fd, devnull;
	char **child_env;
	pid_t parent = getpid(), pid;

	memset(p, 0, sizeof(*p));
	if (argv == NULL || argv[0] == NULL)
		return -1;
	out_fd = open_capture_file(p);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	child_env = build_env_rt(p, env);
	pid = (out_fd < 0 || devnull < 0 || child_env == NULL) ? -1 : fork();
	if (pid == 0)
		exec_child(argv, child_env, devnull, out_fd, parent);
	if (pid > 0)
		setpgid(pid, pid); /* also here, so there is no race */
	free(child_env);
	if (devnull >= 0)
		close(devnull);
	if (out_fd >= 0)
		close(out_fd);
	if (pid < 0) {
		if (p->out_path[0] != '\0')
			unlink(p->out_path);
		if (p->rt_dir[0] != '\0')
			rmdir(p->rt_dir);
		memset(p, 0, sizeof(*p));
		return -1;
	}
	p->pid = pid;
	return 0;
}

int
proc_wait(proc *p, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	int status;

	if (p == NULL || p->pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1; /* ECHILD: reaped before */
		if (mono_ms() >= deadline)
			return -1;
		sleep_ms(POLL_INTERVAL_MS);
	}
}

/* The whole captured output; *len_out gets its length (it may hold NULs). */
static char *
read_capture(proc *p, size_t *len_out)
{
	FILE *f;
	struct buffer buf = { NULL, 0 };
	char chunk[8192];
	size_t got;

	if (p == NULL || p->out_path[0] == '\0' || (f = fopen(p->out_path, "rb")) == NULL)
		return NULL;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buffer_append(chunk, 1, got, &buf) != got)
			break;
	}
	fclose(f);
	if (buf.data == NULL)
		buf.data = calloc(1, 1);
	*len_out = buf.len;
	return buf.data;
}

char *
proc_output(proc *p)
{
	size_t len;

	return read_capture(p, &len);
}

bool
proc_output_contains(proc *p, const char *needle)
{
	size_t len;
	char *text = read_capture(p, &len);
	bool found =
	        text != NULL && needle != NULL && memmem(text, len, needle, strlen(needle)) != NULL;

	free(text);
	return found;
}

/* The parent of pid from /proc, or -1. */
static pid_t
parent_of(const char *pid)
{
	char path[300], buf[512], *paren;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL && (paren = strrchr(buf, ')')) != NULL &&
	    sscanf(paren + 1, " %*c %d", &ppid) != 1)
		ppid = -1;
	fclose(f);
	return ppid;
}

/* SIGKILL every descendant of pid: ostiary runs its command in a process
 * group of its own, which killing ostiary's group does not reach. */
static void
kill_descendants(pid_t pid)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || parent_of(de->d_name) != pid)
			continue;
		/* Stopped first, so it cannot fork behind our back. */
		kill(atoi(de->d_name), SIGSTOP);
		kill_descendants(atoi(de->d_name));
		kill(atoi(de->d_name), SIGKILL);
	}
	closedir(dir);
}

void
proc_kill(proc *p)
{
	siginfo_t info;

	if (p == NULL)
		return;
	memset(&info, 0, sizeof(info));
	/* Only while it is still our unreaped child (running or zombie) are its
	 * pid and process group certainly ours to signal. */
	if (p->pid > 0 && waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
		if (info.si_pid == 0) {
			kill(p->pid, SIGSTOP);
			kill_descendants(p->pid);
		}
		kill(-p->pid, SIGKILL);
		if (info.si_pid == 0)
			kill(p->pid, SIGKILL); /* in case it left its group */
		reap_blocking(p->pid);
	}
	p->pid = 0;
	if (p->out_path[0] != '\0') {
		unlink(p->out_path);
		p->out_path[0] = '\0';
	}
	if (p->rt_dir[0] != '\0') {
		nftw(p->rt_dir, rt_remove_one, 8, FTW_DEPTH | FTW_PHYS);
		p->rt_dir[0] = '\0';
	}
}
