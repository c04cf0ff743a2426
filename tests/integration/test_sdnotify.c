/* systemd's view of ostiary (Type=notify): a fake systemd, a datagram
 * socket bound here, passed to ostiary as NOTIFY_SOCKET. */
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define MAX_MSGS 512

struct fake_systemd {
	int fd;
	char path[108];
	char *msgs[MAX_MSGS];
	int n;
};

static void
systemd_listen(struct fake_systemd *sd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(sd, 0, sizeof(*sd));
	snprintf(sd->path, sizeof(sd->path), "%s", scratch_path("notify.sock"));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sd->path);
	sd->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(sd->fd, 0);
	cr_assert_eq(bind(sd->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* systemd may also hand out an abstract socket: NOTIFY_SOCKET=@name. */
static void
systemd_listen_abstract(struct fake_systemd *sd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;

	memset(sd, 0, sizeof(*sd));
	snprintf(sd->path, sizeof(sd->path), "@ostiary-test-%d", (int)getpid());
	len = strlen(sd->path);
	memcpy(sa.sun_path + 1, sd->path + 1, len - 1);
	sd->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(sd->fd, 0);
	cr_assert_eq(bind(sd->fd, (struct sockaddr *)&sa,
	                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
	             0);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Index of the first message at or after `from` starting with prefix,
 * receiving until the deadline; -1 if none came. */
static int
systemd_find(struct fake_systemd *sd, const char *prefix, const char *needle, int from,
             int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (int i = from;; i++) {
		while (i >= sd->n) {
			struct pollfd pfd = { .fd = sd->fd, .events = POLLIN };
			long long left = deadline - now_ms();
			char buf[4096];
			ssize_t len;

			if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
				return -1;
			len = recv(sd->fd, buf, sizeof(buf) - 1, 0);
			cr_assert_gt(len, 0);
			cr_assert_lt(sd->n, MAX_MSGS);
			buf[len] = '\0';
			sd->msgs[sd->n++] = strdup(buf);
		}
		if (strncmp(sd->msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(sd->msgs[i], needle) != NULL)
			return i;
	}
}

static int
systemd_wait(struct fake_systemd *sd, const char *prefix, int from, int timeout_ms)
{
	return systemd_find(sd, prefix, "", from, timeout_ms);
}

static void
systemd_close(struct fake_systemd *sd)
{
	for (int i = 0; i < sd->n; i++)
		free(sd->msgs[i]);
	close(sd->fd);
}

/* Wait for the file to hold a whole line; return it (static). */
static const char *
wait_line(const char *path)
{
	static char line[256];
	long long deadline = now_ms() + DEADLINE_MS;

	while (now_ms() < deadline) {
		FILE *f = fopen(path, "r");

		if (f != NULL) {
			char *got = fgets(line, sizeof(line), f);

			fclose(f);
			if (got != NULL && strchr(line, '\n') != NULL)
				return line;
		}
		usleep(10000); /* poll the file until the deadline */
	}
	return NULL;
}

Test(sdnotify, ready_status_watchdog_reload_stop)
{
	struct fake_systemd sd;
	sim s;
	proc p;
	char script[512], env_notify[160];
	const char *seen = scratch_path("env"), *line;
	const char *env[] = { env_notify, "WATCHDOG_USEC=400000", NULL };
	int i, reload;

	systemd_listen(&sd);
	snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", sd.path);
	/* Ignores SIGHUP (ostiary forwards it) and tells what it inherited. */
	snprintf(script, sizeof(script),
	         "trap '' HUP; echo \"ns=${NOTIFY_SOCKET-unset} wd=${WATCHDOG_USEC-unset}\" > %s; "
	         "exec sleep 60",
	         seen);
	const char *args[] = { "web", "--", "/bin/sh", "-c", script, NULL };

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, env);

	/* READY=1 only once the agent has answered the registration. */
	i = systemd_wait(&sd, "READY=1", 0, DEADLINE_MS);
	cr_assert_geq(i, 0, "no READY=1");
	cr_assert(wait_service(&s, "web", true, 0), "READY=1 before the registration");
	cr_assert_geq(systemd_find(&sd,
	                           "STATUS=", ": running; 1/1 services registered; agent reachable",
	                           0, DEADLINE_MS),
	              0);
	cr_assert_geq(systemd_wait(&sd, "WATCHDOG=1", 0, DEADLINE_MS), 0);
	cr_assert_geq(systemd_wait(&sd, "WATCHDOG=1", systemd_wait(&sd, "WATCHDOG=1", 0, 0) + 1,
	                           DEADLINE_MS),
	              0, "a second watchdog ping");

	line = wait_line(seen);
	cr_assert_not_null(line);
	cr_assert_str_eq(line, "ns=unset wd=unset\n", "systemd's variables are ostiary's");

	kill(p.pid, SIGHUP);
	reload = systemd_wait(&sd, "RELOADING=1\nMONOTONIC_USEC=", i + 1, DEADLINE_MS);
	cr_assert_geq(reload, 0, "no RELOADING=1 with MONOTONIC_USEC");
	cr_assert_gt(atoll(sd.msgs[reload] + strlen("RELOADING=1\nMONOTONIC_USEC=")), 0);
	cr_assert_geq(systemd_wait(&sd, "READY=1", reload + 1, DEADLINE_MS), 0,
	              "no READY=1 after the reload");

	kill(p.pid, SIGTERM);
	cr_assert_geq(systemd_wait(&sd, "STOPPING=1", reload + 1, DEADLINE_MS), 0);
	expect_exit(&p, DEADLINE_MS);
	for (int k = 0; k < sd.n; k++)
		cr_log_info("systemd got: %s", sd.msgs[k]);
	proc_kill(&p);
	sim_stop(&s);
	systemd_close(&sd);
}

Test(sdnotify, abstract_socket)
{
	struct fake_systemd sd;
	sim s;
	proc p;
	char env_notify[160];
	const char *env[] = { env_notify, NULL };
	const char *args[] = { "web", "--", "sleep", "60", NULL };
	int ready;

	systemd_listen_abstract(&sd);
	snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", sd.path);
	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, env);
	ready = systemd_wait(&sd, "READY=1", 0, DEADLINE_MS);
	cr_assert_geq(ready, 0, "no READY=1 on %s", sd.path);
	kill(p.pid, SIGTERM);
	cr_assert_geq(systemd_wait(&sd, "STOPPING=1", ready + 1, DEADLINE_MS), 0);
	expect_exit(&p, DEADLINE_MS);
	cr_assert_eq(systemd_find(&sd, "WATCHDOG=1", "", 0, 0), -1, "no WATCHDOG_USEC, no pings");
	proc_kill(&p);
	sim_stop(&s);
	systemd_close(&sd);
}
