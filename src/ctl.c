/* ctl.c - the control socket and `ostiary status|maintenance` (see ctl.h). */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "exitcode.h"
#include "log.h"
#include "status.h"
#include "util.h"

#define CTL_SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

struct ctl_client {
	struct ctl *ctl;
	int fd;
	ev_io io;
	ev_timer idle;
	char in[CTL_MAX_LINE];
	size_t in_len;
	char *out; /* the answer being written; NULL when none */
	size_t out_len, out_off;
	bool closing; /* close once the answer is written */
	struct ctl_client *next;
};

struct ctl {
	ev_loop *loop;
	struct agent *agent;
	char *path;
	int fd;
	ev_io io;
	struct ctl_client *clients;
	int nclients;
};

/* ------------------------------------------------------------ the path */

static int
ctl_path_fits(const char *path, const char *source, consul_error *err)
{
	if (strlen(path) < CTL_SUN_PATH_LEN)
		return 0;
	return consul_error_set(err, source,
	                        "status socket path too long: a unix socket path holds at most "
	                        "%zu bytes: %s",
	                        CTL_SUN_PATH_LEN - 1, path);
}

/* OWNER as a file name: a '/' in it would make a path of it. */
static void
ctl_owner_name(const char *owner, char *buf, size_t len)
{
	snprintf(buf, len, "%s", owner != NULL ? owner : "ostiary");
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
}

int
ctl_socket_path(const struct conf *conf, char *buf, size_t len, const char **out,
                consul_error *err)
{
	const char *runtime = getenv("RUNTIME_DIRECTORY"), *xdg = getenv("XDG_RUNTIME_DIR");
	char owner[256];

	*out = NULL;
	if (conf->status_socket != NULL) {
		if (strcmp(conf->status_socket, "none") == 0)
			return 0;
		snprintf(buf, len, "%s", conf->status_socket);
		*out = buf;
		return ctl_path_fits(buf, "--status-socket", err);
	}
	ctl_owner_name(conf->owner, owner, sizeof(owner));
	/* systemd lists several RuntimeDirectory= with colons: the first. */
	if (runtime != NULL && runtime[0] == '/')
		snprintf(buf, len, "%.*s/ostiary.sock", (int)strcspn(runtime, ":"), runtime);
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, len, "%s/ostiary/%s.sock", xdg, owner);
	else if (geteuid() == 0)
		snprintf(buf, len, "/run/ostiary/%s.sock", owner);
	else
		return 0;
	*out = buf;
	return ctl_path_fits(buf, "--status-socket", err);
}

/* The default places under XDG_RUNTIME_DIR and /run are ours to make. */
static void
ctl_make_parent(const char *path)
{
	char dir[CTL_SUN_PATH_LEN];
	const char *slash = strrchr(path, '/');
	size_t n = slash != NULL ? (size_t)(slash - path) : 0;

	if (n == 0 || n >= sizeof(dir))
		return;
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (strcmp(dir + (n > 8 ? n - 8 : 0), "/ostiary") == 0)
		(void)mkdir(dir, 0700);
}

/* --------------------------------------------------------------- server */

static void ctl_client_io(ev_loop *loop, ev_io *io, short revents, void *arg);

static void
ctl_client_free(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;

	for (struct ctl_client **p = &ctl->clients; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	ctl->nclients--;
	ev_io_stop(ctl->loop, &c->io);
	ev_timer_stop(ctl->loop, &c->idle);
	close(c->fd);
	free(c->out);
	free(c);
}

static int64_t
ctl_client_idle(ev_loop *loop, ev_timer *timer, void *arg)
{
	log_debug("control socket: closing a connection idle for %d ms", CTL_IDLE_MS);
	ctl_client_free(arg);
	return EV_TIMER_STOP;
}

static json_t *ctl_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

static json_t *
ctl_error(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", text);
}

static json_t *
ctl_maintenance(struct ctl *ctl, json_t *req)
{
	json_t *enable = json_object_get(req, "enable");
	json_t *reason = json_object_get(req, "reason"), *service = json_object_get(req, "service");
	char why[256];
	int n;

	if (!json_is_boolean(enable) || (reason != NULL && !json_is_string(reason)) ||
	    (service != NULL && !json_is_string(service)))
		return ctl_error("%s", "maintenance takes \"enable\" (true or false), and "
		                       "optionally \"reason\" and \"service\" (strings)");
	n = agent_maintenance(ctl->agent, json_string_value(service), json_is_true(enable),
	                      json_string_value(reason), why, sizeof(why));
	if (n < 0)
		return ctl_error("%s", why);
	return json_pack("{s:b, s:i}", "ok", 1, "services", n);
}

/* One request line to one answer; never NULL but when out of memory. */
static json_t *
ctl_answer(struct ctl *ctl, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr), *answer;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (cmd == NULL)
		answer = ctl_error("%s", "a request is one JSON object per line, with \"cmd\": "
		                         "\"status\" or \"maintenance\"");
	else if (strcmp(cmd, "status") == 0)
		answer = status_json();
	else if (strcmp(cmd, "maintenance") == 0)
		answer = ctl_maintenance(ctl, req);
	else
		answer = ctl_error("unknown cmd \"%.100s\" (use status or maintenance)", cmd);
	json_decref(req);
	return answer;
}

static void
ctl_client_reply(struct ctl_client *c, json_t *answer)
{
	char *text = answer != NULL ? json_dumps(answer, JSON_COMPACT) : NULL;

	json_decref(answer);
	if (text == NULL || asprintf(&c->out, "%s\n", text) < 0) {
		c->out = NULL;
		c->closing = true;
	} else {
		c->out_len = strlen(c->out);
		c->out_off = 0;
	}
	free(text);
	c->io.events = POLLOUT;
}

/* A whole line in: answer it (one request at a time per connection). */
static void
ctl_client_line(struct ctl_client *c)
{
	char *nl = memchr(c->in, '\n', c->in_len);
	size_t used;

	if (nl == NULL) {
		if (c->in_len < sizeof(c->in))
			return;
		c->closing = true;
		ctl_client_reply(c, ctl_error("request longer than %d bytes", CTL_MAX_LINE - 1));
		return;
	}
	*nl = '\0';
	used = (size_t)(nl - c->in) + 1;
	ctl_client_reply(c, ctl_answer(c->ctl, c->in));
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
}

static void
ctl_client_read(struct ctl_client *c)
{
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		ctl_client_free(c);
		return;
	}
	if (n > 0)
		c->in_len += (size_t)n;
	ctl_client_line(c);
}

static void
ctl_client_write(struct ctl_client *c)
{
	ssize_t n = c->out ? send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
	                          MSG_NOSIGNAL)
	                   : 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		ctl_client_free(c);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out != NULL && c->out_off < c->out_len)
		return;
	free(c->out);
	c->out = NULL;
	if (c->closing) {
		ctl_client_free(c);
		return;
	}
	c->io.events = POLLIN;
	/* A second request may already be buffered. */
	ctl_client_line(c);
}

static void
ctl_client_io(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	struct ctl_client *c = arg;

	ev_timer_start(loop, &c->idle, CTL_IDLE_MS);
	if (c->io.events & POLLOUT)
		ctl_client_write(c);
	else if (revents & (POLLIN | POLLHUP | POLLERR))
		ctl_client_read(c);
}

static void
ctl_accept(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	struct ctl *ctl = arg;
	struct ctl_client *c;
	int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* Over the bound: the newcomer is turned away, not the others. */
	if (ctl->nclients >= CTL_MAX_CLIENTS || (c = calloc(1, sizeof(*c))) == NULL) {
		log_info("control socket: %d connections open; refusing another",
		         ctl->nclients);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	ev_io_init(&c->io, fd, POLLIN, ctl_client_io, c);
	ev_timer_init(&c->idle, ctl_client_idle, c);
	if (ev_io_start(loop, &c->io) < 0) {
		close(fd);
		free(c);
		return;
	}
	ev_timer_start(loop, &c->idle, CTL_IDLE_MS);
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
}

/* Is a live server behind this socket file?  Non-blocking: a server
 * with a full backlog (EAGAIN) is alive, and must not hold up our start. */
static bool
ctl_socket_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	                        errno == EAGAIN);

	if (fd >= 0)
		close(fd);
	return live;
}

/* Make way for the socket: nothing there, or a dead socket (removed). */
static int
ctl_claim_path(const struct sockaddr_un *sa, consul_error *err)
{
	struct stat sb;

	if (lstat(sa->sun_path, &sb) < 0)
		return errno == ENOENT ? 0
		                       : consul_error_set(err, sa->sun_path, "status socket: %s",
		                                          strerror(errno));
	if (!S_ISSOCK(sb.st_mode))
		return consul_error_set(err, sa->sun_path,
		                        "status socket: the path exists and is not a socket; "
		                        "not replacing it");
	if (ctl_socket_live(sa))
		return consul_error_set(err, sa->sun_path,
		                        "status socket: another ostiary is running and answers on "
		                        "it (give this one its own --status-socket, or "
		                        "--status-socket none)");
	log_info("status socket %s: replacing a stale socket (an earlier run that did not "
	         "exit cleanly)",
	         sa->sun_path);
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return consul_error_set(err, sa->sun_path, "status socket: cannot remove: %s",
		                        strerror(errno));
	return 0;
}

/* bind with mode 0600 from the start: no moment where others may connect. */
static int
ctl_listen(struct ctl *ctl, const struct sockaddr_un *sa, consul_error *err)
{
	mode_t mask;
	int rc;

	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0)
		return consul_error_set(err, sa->sun_path, "status socket: %s", strerror(errno));
	mask = umask(0177);
	rc = bind(ctl->fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(mask);
	if (rc < 0)
		return consul_error_set(err, sa->sun_path, "status socket: %s", strerror(errno));
	/* Ours from here on: ctl_free removes it. */
	if ((ctl->path = strdup(sa->sun_path)) == NULL) {
		unlink(sa->sun_path);
		return consul_error_set(err, sa->sun_path, "out of memory");
	}
	if (chmod(sa->sun_path, 0600) < 0 || listen(ctl->fd, CTL_MAX_CLIENTS) < 0)
		return consul_error_set(err, sa->sun_path, "status socket: %s", strerror(errno));
	ev_io_init(&ctl->io, ctl->fd, POLLIN, ctl_accept, ctl);
	if (ev_io_start(ctl->loop, &ctl->io) < 0)
		return consul_error_set(err, sa->sun_path, "status socket: cannot watch it");
	return 0;
}

struct ctl *
ctl_new(ev_loop *loop, struct agent *agent, const char *path, consul_error *err)
{
	struct ctl *ctl = calloc(1, sizeof(*ctl));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (ctl == NULL) {
		consul_error_set(err, path, "out of memory");
		return NULL;
	}
	ctl->loop = loop;
	ctl->agent = agent;
	ctl->fd = -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ctl_make_parent(path);
	if (ctl_claim_path(&sa, err) < 0 || ctl_listen(ctl, &sa, err) < 0) {
		ctl_free(ctl);
		return NULL;
	}
	log_info("status socket: %s", path);
	return ctl;
}

void
ctl_free(struct ctl *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		ctl_client_free(ctl->clients);
	if (ctl->fd >= 0) {
		ev_io_stop(ctl->loop, &ctl->io);
		close(ctl->fd);
	}
	if (ctl->path != NULL)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
