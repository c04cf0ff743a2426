/* sdnotify.c - sd_notify(3) for ostiary itself (see sdnotify.h). */
#include "sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int sdnotify_fd = -1;
static struct sockaddr_un sdnotify_addr;
static socklen_t sdnotify_addrlen;

bool
sdnotify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (path == NULL || path[0] == '\0')
		return false;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sdnotify_addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET=%s is not a socket path; not telling systemd", path);
		return false;
	}
	memset(&sdnotify_addr, 0, sizeof(sdnotify_addr));
	sdnotify_addr.sun_family = AF_UNIX;
	memcpy(sdnotify_addr.sun_path, path, len);
	/* Abstract: a leading NUL, and the length counts exactly the name. */
	if (path[0] == '@')
		sdnotify_addr.sun_path[0] = '\0';
	sdnotify_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	                               (path[0] == '@' ? 0 : 1));
	sdnotify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sdnotify_fd < 0) {
		log_warn("NOTIFY_SOCKET: socket");
		return false;
	}
	return true;
}

int64_t
sdnotify_watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	long long us;

	if (sdnotify_fd < 0 || usec == NULL)
		return 0;
	/* Meant for another process (ours is a child of the one watched). */
	if (pid != NULL && strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	errno = 0;
	us = strtoll(usec, &end, 10);
	if (errno != 0 || *end != '\0' || us <= 0)
		return 0;
	return us / 2000 > 0 ? us / 2000 : 1;
}

void
sdnotify_send(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (sdnotify_fd < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Lost datagrams are systemd's business (it times out); never block. */
	if (sendto(sdnotify_fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	           (const struct sockaddr *)&sdnotify_addr, sdnotify_addrlen) < 0)
		log_debug("NOTIFY_SOCKET: %s", strerror(errno));
}

void
sdnotify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sdnotify_send("RELOADING=1\nMONOTONIC_USEC=%lld",
	              (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

bool
sdnotify_is_own_variable(const char *entry)
{
	static const char *const names[] = { "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(entry, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

void
sdnotify_close(void)
{
	if (sdnotify_fd >= 0)
		close(sdnotify_fd);
	sdnotify_fd = -1;
}
