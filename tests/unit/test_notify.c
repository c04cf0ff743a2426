/*
 * The sd_notify socket against real senders: forked children and
 * grandchildren speaking the sd_notify protocol, the test process itself as
 * a stranger.  A dropped datagram is seen to be dropped either by a later
 * one from an accepted sender (datagrams are read in order, so when the
 * sentinel arrives the one before it was judged) or, when nobody can be
 * accepted, by the sender's own queue draining (SIOCOUTQ counts what the
 * receiver has not read yet).  Every wait is the loop run with a deadline.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ev.h"
#include "notify.h"

#define LIMIT_MS 10000
#define MAX_SEEN 8

struct seen_msg {
	bool ready, stopping, reloading;
	bool has_status;
	char status[2048];
	pid_t pid;
};

/* What the callback saw, in order. */
struct seen {
	int calls;
	int want; /* break the loop at this many calls */
	bool free_in_callback;
	struct seen_msg msgs[MAX_SEEN];
};

static ev_loop *loop;
static struct notify *nt;
static struct seen seen;
static ev_timer deadline, poller;
static bool expired;
static bool (*until)(void *);
static void *until_arg;
static char base[64]; /* this test's RUNTIME_DIRECTORY */

#define LAST (&seen.msgs[seen.calls - 1])

static void
on_message(void *arg, const struct notify_message *m)
{
	if (seen.calls < MAX_SEEN) {
		struct seen_msg *s = &seen.msgs[seen.calls];

		s->ready = m->ready;
		s->stopping = m->stopping;
		s->reloading = m->reloading;
		s->has_status = m->status != NULL;
		snprintf(s->status, sizeof(s->status), "%s", m->status ? m->status : "");
		s->pid = m->pid;
	}
	seen.calls++;
	if (seen.free_in_callback) {
		notify_free(nt);
		nt = NULL;
	}
	if (seen.calls >= seen.want)
		ev_break(loop);
}

static int64_t
on_deadline(ev_loop *l, ev_timer *timer, void *arg)
{
	expired = true;
	ev_break(l);
	return EV_TIMER_STOP;
}

static int64_t
on_poll(ev_loop *l, ev_timer *timer, void *arg)
{
	if (until(until_arg)) {
		ev_break(l);
		return EV_TIMER_STOP;
	}
	return 2;
}

static bool
run(void)
{
	expired = false;
	ev_timer_start(loop, &deadline, LIMIT_MS);
	ev_run(loop);
	ev_timer_stop(loop, &deadline);
	return !expired;
}

/* Run until the callback has run want times in all; false on deadline. */
static bool
wait_calls(int want)
{
	seen.want = want;
	return seen.calls >= want || run();
}

/* Run until pred holds (checked every 2 ms); false on deadline. */
static bool
wait_until(bool (*pred)(void *), void *arg)
{
	bool ok;

	until = pred;
	until_arg = arg;
	seen.want = INT_MAX;
	ev_timer_start(loop, &poller, 0);
	ok = run();
	ev_timer_stop(loop, &poller);
	return ok;
}

static void
setup(void)
{
	memset(&seen, 0, sizeof(seen));
	loop = ev_loop_new();
	cr_assert_not_null(loop);
	ev_timer_init(&deadline, on_deadline, NULL);
	ev_timer_init(&poller, on_poll, NULL);
	snprintf(base, sizeof(base), "/tmp/ostiary-notify-test.XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	setenv("RUNTIME_DIRECTORY", base, 1);
	unsetenv("XDG_RUNTIME_DIR");
}

static void
teardown(void)
{
	notify_free(nt);
	nt = NULL;
	ev_loop_free(loop);
	rmdir(base);
}

TestSuite(notify, .init = setup, .fini = teardown, .timeout = 60);

static struct notify *
make(void)
{
	consul_error err = { 0 };

	nt = notify_new(loop, on_message, NULL, &err);
	cr_assert_not_null(nt, "notify_new: %s: %s", err.source, err.text);
	return nt;
}

/* ----------------------------------------------------------------- senders */

/* One datagram to path, with fd passed along when fd >= 0.  With keep, the
 * socket stays open for SIOCOUTQ and is returned there. */
static int
send_to(const char *path, const void *data, size_t len, int fd, int *keep)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = {
		.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1
	};
	ssize_t n;
	int s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	n = sendmsg(s, &mh, MSG_NOSIGNAL);
	if (keep != NULL && n == (ssize_t)len) {
		*keep = s;
		return 0;
	}
	close(s);
	return n == (ssize_t)len ? 0 : -1;
}

static int
send_text(const char *path, const char *text)
{
	return send_to(path, text, strlen(text), -1, NULL);
}

/*
 * sd_notify(3) as libsystemd does it, without libsystemd: take
 * $NOTIFY_SOCKET (a path, or @ for the abstract namespace), connect a
 * datagram socket to it and send the state.  1 sent, 0 no socket, -1 error.
 */
static int
sd_notify_like(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(state), elen;
	socklen_t salen;
	int s, ok;

	if (e == NULL)
		return 0;
	elen = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || elen < 2 || elen >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, e, elen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + elen + (e[0] == '/'));
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	ok = connect(s, (struct sockaddr *)&sa, salen) == 0 &&
	     send(s, state, len, MSG_NOSIGNAL) == (ssize_t)len;
	close(s);
	return ok ? 1 : -1;
}

/* ---------------------------------------------------------------- children */

/*
 * A forked child runs body, then waits until the test closes its end of
 * the hold pipe, so that it is still there (and still the parent of what
 * it forked) when its datagrams are read.  Whatever it forks inherits the
 * read end and can hold on the same way.
 */
struct kid {
	pid_t pid;
	int hold; /* the test's end; closing it lets the child go */
	int done; /* a byte comes once body has returned */
};

typedef int (*body_fn)(const char *path, void *arg, int hold);

static void
hold_on(int hold)
{
	char c;

	while (read(hold, &c, 1) < 0 && errno == EINTR)
		;
}

static _Noreturn void
finish(int rc, int hold)
{
	hold_on(hold);
	while (wait(NULL) > 0)
		;
	_exit(rc);
}

static struct kid
spawn(body_fn body, void *arg)
{
	const char *path = notify_socket_path(nt);
	struct kid k;
	int p[2], d[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(d, O_CLOEXEC), 0);
	k.pid = fork();
	cr_assert_geq(k.pid, 0);
	if (k.pid == 0) {
		int rc;

		/* The test may have stopped listening on done. */
		signal(SIGPIPE, SIG_IGN);
		close(p[1]);
		close(d[0]);
		rc = body(path, arg, p[0]);
		(void)!write(d[1], "", 1);
		close(d[1]);
		finish(rc, p[0]);
	}
	close(p[0]);
	close(d[1]);
	k.hold = p[1];
	k.done = d[0];
	return k;
}

/* Let the child go and check it did all it was asked. */
static void
release(struct kid *k)
{
	int st;

	close(k->hold);
	close(k->done);
	cr_assert_eq(waitpid(k->pid, &st, 0), k->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status 0x%x", (int)k->pid, st);
}

/* arg: NULL-terminated list of texts, one datagram each. */
static int
body_send(const char *path, void *arg, int hold)
{
	for (const char *const *t = arg; *t != NULL; t++)
		if (send_text(path, *t) < 0)
			return 10;
	return 0;
}

/* Block until the child's body has run: for what must happen before any
 * datagram is read. */
static void
wait_body(struct kid *k)
{
	char c;

	while (read(k->done, &c, 1) < 0 && errno == EINTR)
		;
}

#define TEXTS(...) ((void *)(const char *const[]){ __VA_ARGS__, NULL })

static void
expect_calls(int n)
{
	cr_assert(wait_calls(n), "%d of %d messages within %d ms", seen.calls, n, LIMIT_MS);
	cr_assert_eq(seen.calls, n);
}

/* ------------------------------------------------------------------ basics */

Test(notify, ready_from_the_child_reaches_the_callback_with_its_pid)
{
	struct kid k;

	make();
	k = spawn(body_send, TEXTS("READY=1"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_eq(LAST->pid, k.pid);
	cr_assert(LAST->ready);
	cr_assert_not(LAST->stopping);
	cr_assert_not(LAST->reloading);
	cr_assert_not(LAST->has_status);
	release(&k);
}

Test(notify, status_arrives)
{
	struct kid k;

	make();
	k = spawn(body_send, TEXTS("STATUS=Serving 3 clients"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_eq(LAST->pid, k.pid);
	cr_assert_not(LAST->ready);
	cr_assert(LAST->has_status);
	cr_assert_str_eq(LAST->status, "Serving 3 clients");
	release(&k);
}

Test(notify, ready_and_status_in_one_datagram_give_one_callback_with_both)
{
	struct kid k;

	make();
	k = spawn(body_send, TEXTS("READY=1\nSTATUS=x", "STATUS=sentinel"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(2);
	cr_assert(seen.msgs[0].ready);
	cr_assert_str_eq(seen.msgs[0].status, "x");
	cr_assert_str_eq(seen.msgs[1].status, "sentinel");
	release(&k);
}

Test(notify, stopping_and_reloading_set_their_flags)
{
	struct kid k;

	make();
	k = spawn(body_send, TEXTS("RELOADING=1\nMONOTONIC_USEC=123\nSTOPPING=1\n"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert(LAST->stopping);
	cr_assert(LAST->reloading);
	cr_assert_not(LAST->ready);
	cr_assert_not(LAST->has_status);
	release(&k);
}

Test(notify, every_queued_datagram_is_read_in_order)
{
	make();
	notify_set_main_pid(nt, getpid());
	/* All queued before the loop looks: one wake-up must read them all. */
	cr_assert_eq(send_text(notify_socket_path(nt), "STATUS=one"), 0);
	cr_assert_eq(send_text(notify_socket_path(nt), "STATUS=two"), 0);
	cr_assert_eq(send_text(notify_socket_path(nt), "STATUS=three"), 0);
	/* The loop stops after the first, but the wake-up that brought it
	 * read the other two as well. */
	cr_assert(wait_calls(1));
	cr_assert_eq(seen.calls, 3);
	cr_assert_str_eq(seen.msgs[0].status, "one");
	cr_assert_str_eq(seen.msgs[1].status, "two");
	cr_assert_str_eq(seen.msgs[2].status, "three");
}

/* The standard client: the child finds the socket in its environment. */
static int
body_sd_notify(const char *path, void *arg, int hold)
{
	if (setenv("NOTIFY_SOCKET", path, 1) < 0)
		return 10;
	return sd_notify_like("READY=1\nSTATUS=via sd_notify") == 1 ? 0 : 11;
}

Test(notify, the_child_can_use_the_sd_notify_algorithm)
{
	struct kid k;

	/* ostiary's own NOTIFY_SOCKET (from systemd, say) plays no part. */
	setenv("NOTIFY_SOCKET", "/nonexistent/ostiary-parent.sock", 1);
	make();
	cr_assert_str_neq(notify_socket_path(nt), "/nonexistent/ostiary-parent.sock");
	k = spawn(body_sd_notify, NULL);
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_eq(LAST->pid, k.pid);
	cr_assert(LAST->ready);
	cr_assert_str_eq(LAST->status, "via sd_notify");
	release(&k);
}

struct waited {
	pid_t pid;
	int status;
};

static bool
reaped(void *arg)
{
	struct waited *w = arg;

	return waitpid(w->pid, &w->status, WNOHANG) == w->pid;
}

/*
 * The real systemd-notify, when installed, run by the child's shell.  It
 * sends READY=1 and STATUS=, then waits on a barrier (BARRIER=1 with a
 * pipe's write end) that completes only when that descriptor is closed
 * here: its exit status says the descriptor was closed.
 */
Test(notify, systemd_notify_is_understood_and_its_barrier_completes)
{
	const char *tool = "/usr/bin/systemd-notify";
	struct waited w;

	if (access(tool, X_OK) < 0)
		cr_skip_test("no %s", tool);
	make();
	w.pid = fork();
	cr_assert_geq(w.pid, 0);
	if (w.pid == 0) {
		setenv("NOTIFY_SOCKET", notify_socket_path(nt), 1);
		execl("/bin/sh", "sh", "-c", "\"$0\" --ready --status=from-tool; exit $?", tool,
		      (char *)NULL);
		_exit(127);
	}
	notify_set_main_pid(nt, w.pid);
	expect_calls(1);
	cr_assert(LAST->ready);
	cr_assert_str_eq(LAST->status, "from-tool");
	cr_assert(wait_until(reaped, &w), "systemd-notify still waits on its barrier");
	cr_assert(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0, "status 0x%x", w.status);
	cr_assert_eq(seen.calls, 1, "BARRIER=1 alone is nothing to report");
}

/* --------------------------------------------------------------- ancestry */

Test(notify, a_sender_outside_the_tree_is_dropped)
{
	struct kid k;

	make();
	/* The test process is the child's parent: outside its tree. */
	cr_assert_eq(send_text(notify_socket_path(nt), "READY=1\nSTATUS=outsider"), 0);
	k = spawn(body_send, TEXTS("STATUS=insider"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_eq(LAST->pid, k.pid);
	cr_assert_not(LAST->ready);
	cr_assert_str_eq(LAST->status, "insider");
	release(&k);
}

static bool
consumed(void *arg)
{
	int queued = -1;

	return ioctl(*(int *)arg, SIOCOUTQ, &queued) == 0 && queued == 0;
}

/* Send from the test process and wait until the socket has read it. */
static void
send_and_wait_consumed(const char *text, int fd)
{
	int s = -1;

	cr_assert_eq(send_to(notify_socket_path(nt), text, strlen(text), fd, &s), 0);
	cr_assert(wait_until(consumed, &s), "the datagram was never read");
	close(s);
}

Test(notify, no_main_pid_accepts_nothing)
{
	make();
	/* Not even ostiary's own process. */
	notify_set_main_pid(nt, 0);
	send_and_wait_consumed("READY=1", -1);
	cr_assert_eq(seen.calls, 0);
}

Test(notify, a_sibling_of_the_main_pid_is_dropped)
{
	struct kid main_kid, sibling;

	make();
	sibling = spawn(body_send, TEXTS("READY=1\nSTATUS=sibling"));
	/* Its datagram is queued before the main child's. */
	wait_body(&sibling);
	main_kid = spawn(body_send, TEXTS("STATUS=main"));
	notify_set_main_pid(nt, main_kid.pid);
	expect_calls(1);
	cr_assert_eq(LAST->pid, main_kid.pid);
	cr_assert_not(LAST->ready);
	cr_assert_str_eq(LAST->status, "main");
	release(&main_kid);
	release(&sibling);
}

Test(notify, the_main_pid_itself_is_accepted)
{
	make();
	notify_set_main_pid(nt, getpid());
	send_and_wait_consumed("READY=1", -1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(LAST->pid, getpid());
}

/* A grandchild sends and holds on like its parent. */
static int
body_grandchild(const char *path, void *arg, int hold)
{
	pid_t pid = fork();

	if (pid < 0)
		return 20;
	if (pid == 0)
		finish(body_send(path, arg, hold), hold);
	return 0;
}

Test(notify, a_grandchild_is_accepted)
{
	struct kid k;

	make();
	k = spawn(body_grandchild, TEXTS("STATUS=from the grandchild"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_str_eq(LAST->status, "from the grandchild");
	cr_assert_gt(LAST->pid, 0);
	cr_assert_neq(LAST->pid, k.pid);
	release(&k);
}

/* A grandchild sends and is reaped before anything is read; then the
 * child itself sends a sentinel. */
static int
body_gone_grandchild(const char *path, void *arg, int hold)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return 20;
	if (pid == 0)
		_exit(send_text(path, "READY=1\nSTATUS=gone") < 0 ? 21 : 0);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 22;
	return send_text(path, "STATUS=sentinel") < 0 ? 23 : 0;
}

Test(notify, a_descendant_that_exited_before_the_read_is_dropped)
{
	struct kid k;

	make();
	k = spawn(body_gone_grandchild, NULL);
	notify_set_main_pid(nt, k.pid);
	/* Nothing is read before the grandchild is gone. */
	wait_body(&k);
	expect_calls(1);
	cr_assert_eq(LAST->pid, k.pid);
	cr_assert_not(LAST->ready);
	cr_assert_str_eq(LAST->status, "sentinel");
	release(&k);
}

Test(notify, the_main_pid_is_accepted_even_after_it_exited)
{
	int st;
	pid_t pid;

	make();
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(send_text(notify_socket_path(nt), "STOPPING=1") < 0 ? 1 : 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	notify_set_main_pid(nt, pid);
	expect_calls(1);
	cr_assert_eq(LAST->pid, pid);
	cr_assert(LAST->stopping);
}

/*
 * A line of generations under the child (level 1), all holding on.  The
 * deepest sends "STATUS=too deep" and tells its parent, which then sends
 * "STATUS=deep enough".
 */
struct chain {
	int deepest;
	int level;
};

static int
body_chain(const char *path, void *arg, int hold)
{
	struct chain *c = arg;
	int sent[2] = { -1, -1 };
	char ok = 0;
	pid_t pid;

	if (c->level == c->deepest)
		return send_text(path, "STATUS=too deep") < 0 ? 30 : 0;
	if (c->level == c->deepest - 1 && pipe2(sent, O_CLOEXEC) < 0)
		return 31;
	if ((pid = fork()) < 0)
		return 32;
	if (pid == 0) {
		int rc;

		close(sent[0]);
		c->level++;
		rc = body_chain(path, c, hold);
		if (rc == 0 && sent[1] >= 0)
			(void)!write(sent[1], "1", 1);
		close(sent[1]);
		finish(rc, hold);
	}
	if (sent[0] < 0)
		return 0;
	close(sent[1]);
	while (read(sent[0], &ok, 1) < 0 && errno == EINTR)
		;
	close(sent[0]);
	if (ok != '1')
		return 33;
	return send_text(path, "STATUS=deep enough") < 0 ? 34 : 0;
}

Test(notify, descendants_are_looked_for_64_generations_deep)
{
	/* Level 65 is 64 generations below the child: still found; level 66
	 * is one too many. */
	struct chain c = { .deepest = 66, .level = 1 };
	struct kid k;

	make();
	k = spawn(body_chain, &c);
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_str_eq(LAST->status, "deep enough");
	release(&k);
}

/* ---------------------------------------------------------------- messages */

Test(notify, unknown_variables_alone_give_no_callback)
{
	struct kid k;

	make();
	k = spawn(body_send, TEXTS("MAINPID=4242\nWATCHDOG=1\nERRNO=2\nFDSTORE=1\nBARRIER=1\n"
	                           "READY=0\nready=1\n READY=1\nREADY=1 \nREADY\nSTATUS\n\n",
	                           "STATUS=sentinel"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_not(LAST->ready);
	cr_assert_str_eq(LAST->status, "sentinel");
	release(&k);
}

Test(notify, control_characters_in_status_become_spaces)
{
	struct kid k;

	make();
	k = spawn(body_send, TEXTS("STATUS=a\001b\033[31mc\td\177e\r\nREADY=1"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_str_eq(LAST->status, "a b [31mc\td e ");
	cr_assert(LAST->ready);
	release(&k);
}

Test(notify, empty_status_means_cleared_and_the_first_status_counts)
{
	struct kid k;

	make();
	k = spawn(body_send, TEXTS("STATUS=", "STATUS=first\nSTATUS=second"));
	notify_set_main_pid(nt, k.pid);
	expect_calls(2);
	cr_assert(seen.msgs[0].has_status);
	cr_assert_str_eq(seen.msgs[0].status, "");
	cr_assert_str_eq(seen.msgs[1].status, "first");
	release(&k);
}

Test(notify, a_nul_byte_ends_the_message)
{
	static const char text[] = "STATUS=x\0READY=1\nSTOPPING=1";

	make();
	notify_set_main_pid(nt, getpid());
	cr_assert_eq(send_to(notify_socket_path(nt), text, sizeof(text) - 1, -1, NULL), 0);
	expect_calls(1);
	cr_assert_str_eq(LAST->status, "x");
	cr_assert_not(LAST->ready);
	cr_assert_not(LAST->stopping);
}

/* "STATUS=" then head, then the 2-byte "é", then z up to total bytes. */
static char *
status_datagram(size_t head, size_t total)
{
	char *d = malloc(total + 1);

	cr_assert_not_null(d);
	memset(d, 'z', total);
	memcpy(d, "STATUS=", 7);
	memset(d + 7, 'x', head);
	memcpy(d + 7 + head, "\xc3\xa9", 2);
	d[total] = '\0';
	return d;
}

Test(notify, status_is_capped_at_1024_bytes_between_characters)
{
	char *cut_in_e = status_datagram(1023, 4096), *e_fits = status_datagram(1022, 2000);
	char *too_big = status_datagram(10, 4097);
	char want[1025];
	struct kid k;

	make();
	/* 4096 bytes are read; 4097 are not. */
	k = spawn(body_send, TEXTS(too_big, cut_in_e, e_fits));
	notify_set_main_pid(nt, k.pid);
	expect_calls(2);
	memset(want, 'x', 1023);
	want[1023] = '\0';
	cr_assert_str_eq(seen.msgs[0].status, want);
	memcpy(want + 1022, "\xc3\xa9", 3);
	cr_assert_eq(strlen(seen.msgs[1].status), 1024);
	cr_assert_str_eq(seen.msgs[1].status, want);
	release(&k);
	free(cut_in_e);
	free(e_fits);
	free(too_big);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* arg: two write ends, sent with a message ostiary ignores and with one it
 * reports; the child's copies are closed once sent. */
static int
body_send_fds(const char *path, void *arg, int hold)
{
	int *fds = arg;
	static const char store[] = "FDSTORE=1\nFDNAME=a", stored[] = "FDSTORE=1\nSTATUS=stored";

	if (send_to(path, store, sizeof(store) - 1, fds[0], NULL) < 0 ||
	    send_to(path, stored, sizeof(stored) - 1, fds[1], NULL) < 0)
		return 40;
	close(fds[0]);
	close(fds[1]);
	return 0;
}

static void
assert_eof(int fd, const char *what)
{
	char c;

	cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	cr_assert_eq(read(fd, &c, 1), 0, "%s: a copy of the write end is still open", what);
	close(fd);
}

Test(notify, descriptors_passed_along_are_closed)
{
	int stranger[2], ignored[2], reported[2], ends[2], before;
	struct kid k;

	make();
	before = count_fds();
	cr_assert_eq(pipe2(stranger, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(ignored, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(reported, O_CLOEXEC), 0);
	/* Dropped: from the test process, outside the tree. */
	cr_assert_eq(send_to(notify_socket_path(nt), "FDSTORE=1", 9, stranger[1], NULL), 0);
	close(stranger[1]);
	ends[0] = ignored[1];
	ends[1] = reported[1];
	k = spawn(body_send_fds, ends);
	close(ignored[1]);
	close(reported[1]);
	notify_set_main_pid(nt, k.pid);
	expect_calls(1);
	cr_assert_str_eq(LAST->status, "stored");
	release(&k);
	assert_eof(stranger[0], "dropped message");
	assert_eof(ignored[0], "ignored message");
	assert_eof(reported[0], "reported message");
	cr_assert_eq(count_fds(), before);
}

Test(notify, the_callback_may_free_the_notifier)
{
	char path[PATH_MAX];
	struct stat st;

	make();
	notify_set_main_pid(nt, getpid());
	snprintf(path, sizeof(path), "%s", notify_socket_path(nt));
	cr_assert_eq(send_text(path, "READY=1"), 0);
	cr_assert_eq(send_text(path, "STATUS=never read"), 0);
	/* The second datagram is still queued when the first frees everything. */
	seen.free_in_callback = true;
	expect_calls(1);
	cr_assert_null(nt);
	cr_assert_not(LAST->has_status);
	cr_assert_eq(stat(dirname(path), &st), -1);
}

/* ------------------------------------------------------------- filesystem */

static void
assert_under(const char *dir)
{
	const char *path = notify_socket_path(nt);
	size_t n = strlen(dir);

	cr_assert_eq(strncmp(path, dir, n), 0, "%s is not under %s", path, dir);
	cr_assert_eq(strncmp(path + n, "/ostiary-notify.", 16), 0, "%s", path);
	cr_assert_eq(strlen(path + n), strlen("/ostiary-notify.XXXXXX/notify"), "%s", path);
	cr_assert_str_eq(path + strlen(path) - 7, "/notify");
}

Test(notify, the_socket_lives_under_runtime_directory_and_free_removes_it)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct stat st;

	umask(077); /* modes are set, not left to the umask */
	make();
	assert_under(base);
	snprintf(path, sizeof(path), "%s", notify_socket_path(nt));
	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0666, "socket mode %o", st.st_mode & 07777);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0711, "directory mode %o", st.st_mode & 07777);
	notify_free(nt);
	nt = NULL;
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(stat(dir, &st), -1);
	cr_assert_eq(errno, ENOENT);
	/* Nothing else was left behind. */
	cr_assert_eq(rmdir(base), 0);
}

Test(notify, the_first_of_several_runtime_directories_is_used)
{
	char list[128];

	snprintf(list, sizeof(list), "%s/:/nonexistent", base);
	setenv("RUNTIME_DIRECTORY", list, 1);
	make();
	assert_under(base);
}

Test(notify, xdg_runtime_dir_without_runtime_directory)
{
	unsetenv("RUNTIME_DIRECTORY");
	setenv("XDG_RUNTIME_DIR", base, 1);
	make();
	assert_under(base);
}

Test(notify, a_relative_runtime_directory_is_passed_over)
{
	setenv("RUNTIME_DIRECTORY", "relative/dir", 1);
	setenv("XDG_RUNTIME_DIR", base, 1);
	make();
	assert_under(base);
}

Test(notify, tmp_when_nothing_else_is_set)
{
	unsetenv("RUNTIME_DIRECTORY");
	make();
	assert_under("/tmp");
}

Test(notify, a_path_too_long_for_sun_path_fails_clearly)
{
	struct sockaddr_un sa;
	/* "/ostiary-notify.XXXXXX/notify" and the NUL take 30 bytes. */
	size_t fits = sizeof(sa.sun_path) - 30;
	char dir[256];
	consul_error err = { 0 };
	size_t n = strlen(base);

	/* The longest directory that works: the socket path takes 107 bytes. */
	snprintf(dir, sizeof(dir), "%s/", base);
	memset(dir + n + 1, 'd', fits - n - 1);
	dir[fits] = '\0';
	cr_assert_eq(mkdir(dir, 0700), 0);
	setenv("RUNTIME_DIRECTORY", dir, 1);
	make();
	cr_assert_eq(strlen(notify_socket_path(nt)), sizeof(sa.sun_path) - 1);
	notify_free(nt);
	nt = NULL;
	cr_assert_eq(rmdir(dir), 0);

	/* One byte more does not, and says why. */
	memcpy(dir + fits, "d", 2);
	setenv("RUNTIME_DIRECTORY", dir, 1);
	cr_assert_null(notify_new(loop, on_message, NULL, &err));
	cr_assert_str_eq(err.source, "RUNTIME_DIRECTORY");
	cr_assert_not_null(strstr(err.text, "too long"), "%s", err.text);
	cr_assert_not_null(strstr(err.text, "108"), "%s", err.text);
}

Test(notify, a_missing_runtime_directory_is_an_error)
{
	consul_error err = { 0 };

	setenv("RUNTIME_DIRECTORY", "/nonexistent/ostiary", 1);
	cr_assert_null(notify_new(loop, on_message, NULL, &err));
	cr_assert_str_eq(err.source, "RUNTIME_DIRECTORY");
	cr_assert_not_null(strstr(err.text, "under /nonexistent/ostiary: No such file"), "%s",
	                   err.text);
}
