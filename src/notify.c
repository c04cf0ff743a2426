/*
 * notify.c - the sd_notify(3) socket offered to the child (see notify.h).
 *
 * One AF_UNIX datagram socket, bound to "notify" in a fresh mkdtemp(3)
 * directory under $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=), else
 * $XDG_RUNTIME_DIR, else /tmp.  The child may run as another user (children
 * and exec probes can drop privileges), so the directory is 0711 and the
 * socket 0666: the path is no secret (/tmp can be listed by anyone), and
 * what keeps strangers out is the sender's credentials, which the kernel
 * attaches to every datagram (SO_PASSCRED) and which no sender can forge
 * without privileges.
 *
 * A sender is accepted if it is the main pid or descends from it, found by
 * walking the PPid: chain in /proc/<pid>/status.  That chain is read when
 * the datagram is read, not when it was sent, so:
 *   - a helper that sends and exits at once (systemd-notify --no-block, a
 *     script's one-line sender) may be gone from /proc by then, unless it
 *     is the main pid itself: its message is dropped, because nothing tells
 *     where it stood any more.  systemd-notify without --no-block waits for
 *     its BARRIER=1 descriptor to be closed, which happens here on reading,
 *     so it is still there when its message is judged;
 *   - a descendant whose parent has exited was re-parented to init or a
 *     subreaper and is outside the tree from then on;
 *   - a pid that was reused in between is judged by its new owner, the race
 *     every pid-based check has (systemd's before SCM_PIDFD).
 * Under a /proc mounted with hidepid=, other users' processes look exited.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* What sd_notify senders keep to, and all systemd reads (NOTIFY_BUFFER_MAX). */
#define NOTIFY_DATAGRAM_MAX 4096
/* STATUS= ends up in a Consul check's output. */
#define NOTIFY_STATUS_MAX 1024
/* Generations between the main pid and a sender we look through. */
#define NOTIFY_MAX_DEPTH 64
/* Datagrams per wake-up: a child that never stops sending must not starve
 * the loop; poll is level-triggered, so the rest come next iteration. */
#define NOTIFY_READS 256
/* The kernel's SCM_MAX_FD: all the descriptors one datagram can carry. */
#define NOTIFY_MAX_FDS 253
#define NOTIFY_CONTROL_LEN                                                                         \
	(CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_MAX_FDS))

#define NOTIFY_DIR_TEMPLATE "ostiary-notify.XXXXXX"
#define NOTIFY_SOCKET_NAME "notify"
#define NOTIFY_SUN_PATH_LEN sizeof(((struct sockaddr_un *)NULL)->sun_path)

struct notify {
	ev_loop *loop;
	notify_fn fn;
	void *arg;
	int fd;
	pid_t main_pid;
	ev_io io;
	bool made_dir;
	bool bound;
	bool *freed; /* while the callback runs: set when it frees us */
	char dir[NOTIFY_SUN_PATH_LEN];
	char path[NOTIFY_SUN_PATH_LEN];
	char buf[NOTIFY_DATAGRAM_MAX + 1];
	char status[NOTIFY_STATUS_MAX + 1];
};

/* ------------------------------------------------------------------ senders */

/* The parent of pid, from /proc; -1 with errno (ENOENT: pid is gone). */
static int
notify_parent(pid_t pid, pid_t *ppid)
{
	char path[32], buf[2048], *p, *end;
	size_t used = 0;
	ssize_t got;
	long v;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* PPid: comes within the first lines; Name: is escaped, so no
	 * process name can fake a line of its own. */
	while (used < sizeof(buf) - 1) {
		got = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (got == 0)
			break;
		used += (size_t)got;
	}
	close(fd);
	buf[used] = '\0';
	/* A process that exited between open and read shows an empty file. */
	if (used == 0) {
		errno = ENOENT;
		return -1;
	}
	if ((p = strstr(buf, "\nPPid:")) == NULL) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtol(p + 6, &end, 10);
	if (errno != 0 || end == p + 6 || v < 0) {
		errno = EINVAL;
		return -1;
	}
	*ppid = (pid_t)v;
	return 0;
}

static bool
notify_in_tree(const struct notify *n, pid_t pid)
{
	pid_t p = pid, parent;

	if (n->main_pid <= 0) {
		log_debug("notify: message from pid %d dropped: no main process", (int)pid);
		return false;
	}
	if (pid == n->main_pid)
		return true;
	for (int depth = 0; depth < NOTIFY_MAX_DEPTH; depth++) {
		if (notify_parent(p, &parent) < 0) {
			if (errno == ENOENT || errno == ESRCH)
				log_debug("notify: message from pid %d dropped: %s exited before "
				          "it was read, its ancestry is unknown",
				          (int)pid,
				          p == pid ? "the sender" : "an ancestor of the sender");
			else
				log_debug("notify: message from pid %d dropped: cannot read the "
				          "parent of pid %d: %s",
				          (int)pid, (int)p, strerror(errno));
			return false;
		}
		if (parent == n->main_pid)
			return true;
		if (parent <= 1)
			break;
		p = parent;
	}
	log_debug("notify: message from pid %d dropped: not main pid %d nor one of its descendants",
	          (int)pid, (int)n->main_pid);
	return false;
}

/* ----------------------------------------------------------------- messages */

/* Sanitised into n->status: control characters other than tab would reach
 * a check's output; the cut falls between UTF-8 characters. */
static const char *
notify_status(struct notify *n, const char *text)
{
	size_t len = strlen(text);

	if (len > NOTIFY_STATUS_MAX) {
		len = NOTIFY_STATUS_MAX;
		for (int i = 0; i < 3 && len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80; i++)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		n->status[i] = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
	}
	n->status[len] = '\0';
	return n->status;
}

/*
 * systemd's reading: one assignment per line, exact "READY=1" and the like,
 * the first STATUS= wins, a NUL ends the message.  True if anything we use
 * was there.
 */
static bool
notify_parse(struct notify *n, char *buf, size_t len, struct notify_message *msg)
{
	char *line = buf, *end;
	bool any = false;

	len = strnlen(buf, len);
	buf[len] = '\0';
	for (; line < buf + len; line = end + 1) {
		if ((end = strchr(line, '\n')) == NULL)
			end = buf + len;
		*end = '\0';
		if (strcmp(line, "READY=1") == 0)
			msg->ready = any = true;
		else if (strcmp(line, "STOPPING=1") == 0)
			msg->stopping = any = true;
		else if (strcmp(line, "RELOADING=1") == 0)
			msg->reloading = any = true;
		else if (strncmp(line, "STATUS=", 7) == 0) {
			if (msg->status == NULL)
				msg->status = notify_status(n, line + 7);
			any = true;
		}
	}
	return any;
}

/*
 * The sender's credentials, if the kernel gave them.  Descriptors passed
 * along (FDSTORE=1) are closed: we keep none, and each would be a leak.
 */
static bool
notify_control(struct msghdr *mh, struct ucred *cred)
{
	bool have = false;
	int closed = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < nfds; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
				closed++;
			}
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
		           c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
			have = true;
		}
	}
	if (closed > 0)
		log_debug("notify: closed %d descriptor%s passed along", closed,
		          closed == 1 ? "" : "s");
	return have;
}

/* Read one datagram: 1 to go on, 0 when drained, -1 when the callback freed n. */
static int
notify_receive(struct notify *n)
{
	union {
		struct cmsghdr align;
		char buf[NOTIFY_CONTROL_LEN];
	} control;
	struct iovec iov = { .iov_base = n->buf, .iov_len = NOTIFY_DATAGRAM_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct notify_message msg = { 0 };
	struct ucred cred = { 0 };
	bool freed = false;
	ssize_t len;

	memset(&control, 0, sizeof(control));
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	/* MSG_TRUNC: the datagram's real length, for the log line; CLOEXEC:
	 * descriptors passed along never reach a child before we close them. */
	while ((len = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC)) < 0 &&
	       errno == EINTR)
		;
	if (len < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("notify: reading %s", n->path);
		return 0;
	}
	if (!notify_control(&mh, &cred) || cred.pid <= 0) {
		/* No pid: no credentials, or a sender in a pid namespace we
		 * cannot see into. */
		log_debug("notify: message without the sender's credentials dropped");
		return 1;
	}
	/* Strangers first: only the child's tree gets a warning in the log. */
	if (!notify_in_tree(n, cred.pid))
		return 1;
	if ((mh.msg_flags & MSG_TRUNC) || len > NOTIFY_DATAGRAM_MAX) {
		log_warnx("notify: message of %zd bytes from pid %d dropped: at most %d are read",
		          len, (int)cred.pid, NOTIFY_DATAGRAM_MAX);
		return 1;
	}
	if (!notify_parse(n, n->buf, (size_t)len, &msg)) {
		log_debug("notify: message from pid %d has nothing ostiary uses", (int)cred.pid);
		return 1;
	}
	msg.pid = cred.pid;
	n->freed = &freed;
	n->fn(n->arg, &msg);
	if (freed)
		return -1;
	n->freed = NULL;
	return 1;
}

static void
notify_readable(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	struct notify *n = arg;

	for (int i = 0; i < NOTIFY_READS; i++)
		if (notify_receive(n) <= 0)
			return;
}

/* -------------------------------------------------------------------- setup */

/*
 * Where the directory goes, as a prefix of *base (its length returned):
 * the first directory of $RUNTIME_DIRECTORY (systemd lists several with
 * colons), else $XDG_RUNTIME_DIR, else /tmp.  sd_notify only takes absolute
 * paths, so a relative value is passed over.
 */
static size_t
notify_base(const char **base, const char **source)
{
	static const char *const vars[] = { "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR" };
	size_t len;

	*base = "/tmp";
	*source = "notify socket";
	for (size_t i = 0; i < nitems(vars); i++) {
		const char *v = getenv(vars[i]);

		if (v == NULL || *v == '\0')
			continue;
		if (*v != '/') {
			log_warnx("notify: %s=%s is not an absolute path; not using it", vars[i],
			          v);
			continue;
		}
		*base = v;
		*source = vars[i];
		break;
	}
	len = strcspn(*base, ":");
	while (len > 0 && (*base)[len - 1] == '/')
		len--;
	return len;
}

static int
notify_fail(consul_error *err, const char *source, const char *what)
{
	consul_error_set(err, source, "notify socket: %s: %s", what, strerror(errno));
	return -1;
}

static int
notify_bind(struct notify *n, consul_error *err)
{
	const char *base, *source;
	size_t len = notify_base(&base, &source);
	size_t need = len + sizeof("/" NOTIFY_DIR_TEMPLATE "/" NOTIFY_SOCKET_NAME);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int on = 1;

	if (need > NOTIFY_SUN_PATH_LEN)
		return consul_error_set(
		        err, source,
		        "notify socket path too long: a unix socket path holds at most "
		        "%zu bytes, the socket under %.*s would need %zu",
		        NOTIFY_SUN_PATH_LEN - 1, (int)len, base, need - 1);
	snprintf(n->dir, sizeof(n->dir), "%.*s/%s", (int)len, base, NOTIFY_DIR_TEMPLATE);
	if (mkdtemp(n->dir) == NULL)
		return consul_error_set(err, source,
		                        "notify socket: cannot create a directory under %.*s: %s",
		                        (int)len, base, strerror(errno));
	n->made_dir = true;
	/* Cannot be cut short: the length was checked above. */
	if (snprintf(n->path, sizeof(n->path), "%s/%s", n->dir, NOTIFY_SOCKET_NAME) >=
	    (int)sizeof(n->path)) {
		errno = ENAMETOOLONG;
		return notify_fail(err, source, n->dir);
	}
	memcpy(addr.sun_path, n->path, strlen(n->path) + 1);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return notify_fail(err, source, "socket");
	if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
		return notify_fail(err, source, "SO_PASSCRED");
	if (bind(n->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return notify_fail(err, n->path, "bind");
	n->bound = true;
	/* The socket first: until the directory opens up, nobody else can
	 * reach it, whatever our umask made of it. */
	if (chmod(n->path, 0666) < 0)
		return notify_fail(err, n->path, "chmod");
	if (chmod(n->dir, 0711) < 0)
		return notify_fail(err, n->dir, "chmod");
	return 0;
}

struct notify *
notify_new(ev_loop *loop, notify_fn fn, void *arg, consul_error *err)
{
	struct notify *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		consul_error_set(err, "notify socket", "out of memory");
		return NULL;
	}
	n->loop = loop;
	n->fn = fn;
	n->arg = arg;
	n->fd = -1;
	if (notify_bind(n, err) < 0)
		goto fail;
	ev_io_init(&n->io, n->fd, POLLIN, notify_readable, n);
	if (ev_io_start(loop, &n->io) < 0) {
		consul_error_set(err, "notify socket", "out of memory");
		goto fail;
	}
	log_debug("notify: socket at %s", n->path);
	return n;
fail:
	notify_free(n);
	return NULL;
}

const char *
notify_socket_path(const struct notify *n)
{
	return n->path;
}

void
notify_set_main_pid(struct notify *n, pid_t pid)
{
	n->main_pid = pid > 0 ? pid : 0;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->freed != NULL)
		*n->freed = true;
	ev_io_stop(n->loop, &n->io);
	if (n->fd >= 0)
		close(n->fd);
	if (n->bound && unlink(n->path) < 0 && errno != ENOENT)
		log_warn("notify: removing %s", n->path);
	if (n->made_dir && rmdir(n->dir) < 0 && errno != ENOENT)
		log_warn("notify: removing %s", n->dir);
	free(n);
}
