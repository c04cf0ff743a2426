/*
 * ctl_client.c - `ostiary status` and `ostiary maintenance`: one request to
 * a running ostiary's control socket (see ctl.h), its answer printed.
 */
#include "ctl.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "exitcode.h"

/* The longest answer read: a snapshot of thousands of checks with their
 * outputs (4 KiB each at most). */
#define CTL_CLIENT_MAX_ANSWER (64 * 1024 * 1024)

static int
ctl_client_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "ostiary: error: %s\n", why);
	fputs("usage: ostiary status [--socket PATH] [--json]\n"
	      "       ostiary maintenance enable|disable [--reason TEXT] [--service ID] "
	      "[--socket PATH]\n",
	      stderr);
	return OSTIARY_EXIT_USAGE;
}

bool
ctl_is_client(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "status") != 0 && strcmp(argv[1], "maintenance") != 0))
		return false;
	/* `ostiary status -- cmd` runs cmd as the service "status". */
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return false;
	return true;
}

/* -------------------------------------------------------- finding it */

/* The only *.sock in dir, as the server's default would put it there. */
static int
ctl_client_only_socket(const char *dir, char *buf, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (d == NULL) {
		fprintf(stderr, "ostiary: error: no status socket: %s: %s (give --socket PATH)\n",
		        dir, strerror(errno));
		return CTL_EXIT_UNREACHABLE;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n <= 5 || strcmp(e->d_name + n - 5, ".sock") != 0)
			continue;
		if (found++ == 0 && snprintf(buf, len, "%s/%s", dir, e->d_name) >= (int)len)
			found = 2; /* cannot be named: make the user say it */
	}
	closedir(d);
	if (found == 1)
		return 0;
	if (found == 0)
		fprintf(stderr, "ostiary: error: no status socket in %s (give --socket PATH)\n",
		        dir);
	else
		fprintf(stderr,
		        "ostiary: error: %d status sockets in %s: say which with --socket PATH\n",
		        found, dir);
	return found == 0 ? CTL_EXIT_UNREACHABLE : OSTIARY_EXIT_USAGE;
}

/* The server's default place (ctl_socket_path), without knowing its owner. */
static int
ctl_client_default(char *buf, size_t len)
{
	const char *runtime = getenv("RUNTIME_DIRECTORY"), *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX];

	if (runtime != NULL && runtime[0] == '/') {
		snprintf(buf, len, "%.*s/ostiary.sock", (int)strcspn(runtime, ":"), runtime);
		return 0;
	}
	if (xdg != NULL && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/ostiary", xdg);
	else
		snprintf(dir, sizeof(dir), "/run/ostiary");
	return ctl_client_only_socket(dir, buf, len);
}

/* ---------------------------------------------------------- talking */

static int64_t
ctl_client_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
ctl_client_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ostiary: error: --socket %s: path too long\n", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* Non-blocking: an ostiary whose backlog is full is not waited for. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ostiary: error: cannot reach ostiary at %s: %s\n", path,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Wait for fd to be ready for events before the deadline. */
static bool
ctl_client_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - ctl_client_ms();

	return left > 0 && poll(&p, 1, (int)left) == 1;
}

static int
ctl_client_send(int fd, const char *line, int64_t deadline)
{
	size_t off = 0, len = strlen(line);

	while (off < len) {
		ssize_t n;

		if (!ctl_client_wait(fd, POLLOUT, deadline))
			return -1;
		n = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		off += n > 0 ? (size_t)n : 0;
	}
	return 0;
}

/* Read one answer line; NULL on timeout, close or error. */
static char *
ctl_client_receive(int fd, int64_t deadline)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *grown;

	for (;;) {
		ssize_t n;

		if (len + 4096 > cap) {
			if (cap >= CTL_CLIENT_MAX_ANSWER || (grown = realloc(buf, cap + 65536)) == NULL)
				break;
			buf = grown;
			cap += 65536;
		}
		if (!ctl_client_wait(fd, POLLIN, deadline))
			break;
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf + len - n, '\n', (size_t)n) != NULL)
			return buf;
	}
	free(buf);
	return NULL;
}

/* One request, one answer (NULL, said on stderr, when unreachable). */
static json_t *
ctl_client_call(const char *path, json_t *request)
{
	int64_t deadline = ctl_client_ms() + CTL_CLIENT_TIMEOUT_MS;
	char *line = json_dumps(request, JSON_COMPACT), *framed = NULL, *answer = NULL;
	json_t *result = NULL;
	int fd = ctl_client_connect(path);

	if (fd >= 0 && line != NULL && asprintf(&framed, "%s\n", line) >= 0 &&
	    ctl_client_send(fd, framed, deadline) == 0)
		answer = ctl_client_receive(fd, deadline);
	if (fd >= 0 && answer == NULL)
		fprintf(stderr, "ostiary: error: no answer from ostiary at %s within %d ms\n",
		        path, CTL_CLIENT_TIMEOUT_MS);
	if (answer != NULL && (result = json_loads(answer, 0, NULL)) == NULL)
		fprintf(stderr, "ostiary: error: %s: the answer is not JSON\n", path);
	if (fd >= 0)
		close(fd);
	free(line);
	free(framed);
	free(answer);
	return result;
}

/* ------------------------------------------------------------ status */

/* "3s ago" / "in 7s" from an RFC 3339 UTC time; "-" for null. */
static const char *
ctl_client_when(json_t *value, char *buf, size_t len)
{
	const char *text = json_string_value(value);
	struct tm tm = { 0 };
	long long delta;

	if (text == NULL || strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return "-";
	delta = (long long)(timegm(&tm) - time(NULL));
	if (delta >= 0)
		snprintf(buf, len, "in %llds", delta);
	else
		snprintf(buf, len, "%llds ago", -delta);
	return buf;
}

static const char *
ctl_client_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "-";
}

/* An output on one line, cut to fit a terminal. */
static void
ctl_client_oneline(const char *text, char *buf, size_t len)
{
	size_t i = 0;

	for (; *text != '\0' && i + 1 < len; text++)
		buf[i++] = (*text == '\n' || *text == '\r' || *text == '\t') ? ' ' : *text;
	buf[i] = '\0';
	if (*text != '\0' && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

static void
ctl_client_print_checks(json_t *checks)
{
	size_t i;
	json_t *c;

	printf("\n%-28s %-9s %-9s %-9s %-10s %-10s %-7s %s\n", "CHECK", "STATUS", "PUSHED",
	       "CONFIRMED", "LAST RUN", "NEXT RUN", "OK/FAIL", "OUTPUT");
	json_array_foreach(checks, i, c)
	{
		char last[32], next[32], out[61];

		ctl_client_oneline(ctl_client_str(c, "output"), out, sizeof(out));
		printf("%-28s %-9s %-9s %-9s %-10s %-10s %3d/%-3d %s\n", ctl_client_str(c, "id"),
		       ctl_client_str(c, "status"), ctl_client_str(c, "pushed"),
		       ctl_client_str(c, "confirmed"),
		       ctl_client_when(json_object_get(c, "last_run"), last, sizeof(last)),
		       ctl_client_when(json_object_get(c, "next_run"), next, sizeof(next)),
		       (int)json_integer_value(json_object_get(c, "successes")),
		       (int)json_integer_value(json_object_get(c, "failures")), out);
	}
}

static void
ctl_client_print(json_t *st)
{
	json_t *cmd = json_object_get(st, "command"), *agent = json_object_get(st, "agent");
	json_t *item;
	size_t i;
	char t1[32], t2[32];

	printf("%-28s %-8s %-12s %-8s %s\n", "COMMAND", "PID", "STATE", "RESTARTS", "UPTIME");
	printf("%-28s %-8d %-12s %-8d %.0fs\n", ctl_client_str(cmd, "name"),
	       (int)json_integer_value(json_object_get(cmd, "pid")), ctl_client_str(cmd, "state"),
	       (int)json_integer_value(json_object_get(cmd, "restarts")),
	       json_number_value(json_object_get(cmd, "uptime_seconds")));
	printf("\n%-28s %-11s %s\n", "SERVICE", "REGISTERED", "MAINTENANCE");
	json_array_foreach(json_object_get(st, "services"), i, item)
	{
		printf("%-28s %-11s %s%s%s\n", ctl_client_str(item, "id"),
		       json_is_true(json_object_get(item, "registered")) ? "yes" : "no",
		       json_is_true(json_object_get(item, "maintenance")) ? "yes" : "no",
		       json_is_string(json_object_get(item, "maintenance_reason")) ? ": " : "",
		       json_is_string(json_object_get(item, "maintenance_reason"))
		               ? ctl_client_str(item, "maintenance_reason")
		               : "");
	}
	ctl_client_print_checks(json_object_get(st, "checks"));
	printf("\n%-28s %-10s %-13s %s\n", "AGENT", "REACHABLE", "LAST SUCCESS", "LAST ERROR");
	printf("%-28s %-10s %-13s %s %s\n", ctl_client_str(agent, "address"),
	       json_is_true(json_object_get(agent, "reachable")) ? "yes" : "no",
	       ctl_client_when(json_object_get(agent, "last_success_at"), t1, sizeof(t1)),
	       ctl_client_when(json_object_get(agent, "last_error_at"), t2, sizeof(t2)),
	       ctl_client_str(agent, "last_error"));
	printf("\n%-28s %-12s %s\n", "KV PREFIX", "INDEX", "LAST CHANGE");
	json_array_foreach(json_object_get(st, "kv_watches"), i, item)
	{
		printf("%-28s %-12lld %s\n", ctl_client_str(item, "prefix"),
		       (long long)json_integer_value(json_object_get(item, "index")),
		       ctl_client_when(json_object_get(item, "last_change"), t1, sizeof(t1)));
	}
	if (json_array_size(json_object_get(st, "kv_watches")) == 0)
		printf("(no KV watches)\n");
}

static int
ctl_client_exit_for(const char *status)
{
	if (status != NULL && strcmp(status, "passing") == 0)
		return CTL_EXIT_PASSING;
	if (status != NULL && strcmp(status, "warning") == 0)
		return CTL_EXIT_WARNING;
	return CTL_EXIT_CRITICAL;
}

static int
ctl_client_status(const char *path, bool as_json)
{
	json_t *req = json_pack("{s:s}", "cmd", "status");
	json_t *st = req != NULL ? ctl_client_call(path, req) : NULL;
	int code;

	json_decref(req);
	if (st == NULL)
		return CTL_EXIT_UNREACHABLE;
	if (as_json) {
		json_dumpf(st, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		ctl_client_print(st);
	}
	code = ctl_client_exit_for(json_string_value(json_object_get(st, "status")));
	json_decref(st);
	return code;
}

/* ------------------------------------------------------- maintenance */

static int
ctl_client_maintenance(const char *path, bool enable, const char *reason, const char *service)
{
	json_t *req = json_pack("{s:s, s:b}", "cmd", "maintenance", "enable", enable), *answer;
	int code = 0;

	if (req == NULL || (reason && json_object_set_new(req, "reason", json_string(reason))) ||
	    (service && json_object_set_new(req, "service", json_string(service)))) {
		json_decref(req);
		return OSTIARY_EXIT_INTERNAL;
	}
	answer = ctl_client_call(path, req);
	json_decref(req);
	if (answer == NULL)
		return CTL_EXIT_UNREACHABLE;
	if (json_is_true(json_object_get(answer, "ok"))) {
		long long n = (long long)json_integer_value(json_object_get(answer, "services"));

		printf("maintenance %s for %lld service%s\n", enable ? "enabled" : "disabled", n,
		       n == 1 ? "" : "s");
	} else {
		fprintf(stderr, "ostiary: error: %s\n", ctl_client_str(answer, "error"));
		code = 1;
	}
	json_decref(answer);
	return code;
}

/* ------------------------------------------------------------ main */

enum { CTL_OPT_SOCKET = 256, CTL_OPT_JSON, CTL_OPT_REASON, CTL_OPT_SERVICE };

int
ctl_client_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, CTL_OPT_SOCKET },
		{ "json", no_argument, NULL, CTL_OPT_JSON },
		{ "reason", required_argument, NULL, CTL_OPT_REASON },
		{ "service", required_argument, NULL, CTL_OPT_SERVICE },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket = NULL, *reason = NULL, *service = NULL, *verb = argv[0];
	bool as_json = false, status = strcmp(verb, "status") == 0, enable = false;
	char path[PATH_MAX];
	int c, code;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == CTL_OPT_SOCKET)
			socket = optarg;
		else if (c == CTL_OPT_JSON && status)
			as_json = true;
		else if (c == CTL_OPT_REASON && !status)
			reason = optarg;
		else if (c == CTL_OPT_SERVICE && !status)
			service = optarg;
		else
			return ctl_client_usage("unknown or misplaced option");
	}
	if (!status) {
		if (optind >= argc || (strcmp(argv[optind], "enable") != 0 &&
		                       strcmp(argv[optind], "disable") != 0))
			return ctl_client_usage("maintenance takes enable or disable");
		enable = strcmp(argv[optind++], "enable") == 0;
	}
	if (optind < argc)
		return ctl_client_usage("too many arguments");
	if (socket != NULL)
		snprintf(path, sizeof(path), "%s", socket);
	else if ((code = ctl_client_default(path, sizeof(path))) != 0)
		return code;
	return status ? ctl_client_status(path, as_json)
	              : ctl_client_maintenance(path, enable, reason, service);
}
