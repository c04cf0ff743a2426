/*
 * ev.c - the event loop (see ev.h).
 *
 * Timers live in a binary min-heap keyed on their due time, so arming,
 * cancelling and firing are O(log n) however many checks are configured.
 * Waiting is done by curl_multi_poll(), which waits on curl's own sockets
 * and on our descriptors (passed as extra fds) at once, and shortens the
 * wait when curl has a timeout of its own due.
 */
#include "ev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct ev_transfer {
	CURL *easy;
	ev_http_fn fn;
	void *arg;
};

struct ev_loop {
	CURLM *multi;
	struct ev_transfer foreign; /* fn and arg for transfers added by others */
	int64_t now;
	bool stop;

	ev_timer **heap;
	size_t nheap, heap_cap;

	ev_io **ios;
	size_t nios, ios_cap;
	struct curl_waitfd *waitfds;
	size_t waitfds_cap;

	struct ev_transfer *transfers;
	size_t ntransfers, transfers_cap;

	ev_child **children;
	size_t nchildren, children_cap;
};

int64_t
ev_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ev_now(const ev_loop *loop)
{
	return loop->now;
}

/* Grow *array (of *cap elements of size elem) to hold at least need. */
static int
ev_reserve(void *array, size_t *cap, size_t need, size_t elem)
{
	void **p = array;
	size_t ncap;
	void *grown;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	grown = realloc(*p, ncap * elem);
	if (grown == NULL)
		return -1;
	*p = grown;
	*cap = ncap;
	return 0;
}

/* ------------------------------------------------------------------ timers */

void
ev_timer_init(ev_timer *timer, ev_timer_fn fn, void *arg)
{
	timer->fn = fn;
	timer->arg = arg;
	timer->due = 0;
	timer->slack = 0;
	timer->slot = SIZE_MAX;
}

void
ev_timer_set_slack(ev_timer *timer, int64_t slack_ms)
{
	timer->slack = slack_ms > 0 ? slack_ms : 0;
}

bool
ev_timer_active(const ev_timer *timer)
{
	return timer->slot != SIZE_MAX;
}

static void
ev_heap_place(ev_loop *loop, ev_timer *timer, size_t slot)
{
	loop->heap[slot] = timer;
	timer->slot = slot;
}

static void
ev_heap_up(ev_loop *loop, size_t slot)
{
	ev_timer *timer = loop->heap[slot];

	while (slot > 0) {
		size_t parent = (slot - 1) / 2;
		if (loop->heap[parent]->due <= timer->due)
			break;
		ev_heap_place(loop, loop->heap[parent], slot);
		slot = parent;
	}
	ev_heap_place(loop, timer, slot);
}

static void
ev_heap_down(ev_loop *loop, size_t slot)
{
	ev_timer *timer = loop->heap[slot];

	for (;;) {
		size_t child = 2 * slot + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap && loop->heap[child + 1]->due < loop->heap[child]->due)
			child++;
		if (timer->due <= loop->heap[child]->due)
			break;
		ev_heap_place(loop, loop->heap[child], slot);
		slot = child;
	}
	ev_heap_place(loop, timer, slot);
}

void
ev_timer_stop(ev_loop *loop, ev_timer *timer)
{
	size_t slot = timer->slot;
	ev_timer *last;

	if (slot == SIZE_MAX)
		return;
	timer->slot = SIZE_MAX;
	last = loop->heap[--loop->nheap];
	if (last == timer)
		return;
	ev_heap_place(loop, last, slot);
	ev_heap_up(loop, slot);
	ev_heap_down(loop, last->slot);
}

void
ev_timer_set_period_slack(ev_timer *timer, int64_t period_ms)
{
	int64_t slack = period_ms / 16;

	ev_timer_set_slack(timer, slack < EV_PERIOD_SLACK_MAX_MS ? slack : EV_PERIOD_SLACK_MAX_MS);
}

void
ev_timer_start(ev_loop *loop, ev_timer *timer, int64_t after_ms)
{
	ev_timer_stop(loop, timer);
	if (after_ms < 0)
		after_ms = 0;
	if (ev_reserve(&loop->heap, &loop->heap_cap, loop->nheap + 1, sizeof(*loop->heap)) < 0)
		fatalx("out of memory arming a timer");
	/* From the clock, not the iteration's cached time: a timer armed late in
	 * an iteration must not fire early. */
	timer->due = ev_clock_ms() + after_ms;
	if (timer->slack > 0)
		timer->due = (timer->due + timer->slack - 1) / timer->slack * timer->slack;
	loop->heap[loop->nheap] = timer;
	timer->slot = loop->nheap++;
	ev_heap_up(loop, timer->slot);
}

static void
ev_run_timers(ev_loop *loop)
{
	while (loop->nheap > 0 && loop->heap[0]->due <= loop->now && !loop->stop) {
		ev_timer *timer = loop->heap[0];
		int64_t next;

		ev_timer_stop(loop, timer);
		next = timer->fn(loop, timer, timer->arg);
		/* A callback that re-armed itself explicitly keeps its choice. */
		if (next != EV_TIMER_STOP && !ev_timer_active(timer))
			ev_timer_start(loop, timer, next);
	}
}

/* Milliseconds until the next timer (capped: curl_multi_poll takes no "forever"). */
static int
ev_next_timeout(const ev_loop *loop)
{
	int64_t wait;

	if (loop->nheap == 0)
		return 60000;
	wait = loop->heap[0]->due - ev_clock_ms();
	if (wait < 0)
		return 0;
	return wait > 60000 ? 60000 : (int)wait;
}

/* -------------------------------------------------------------------- fds */

void
ev_io_init(ev_io *io, int fd, short events, ev_io_fn fn, void *arg)
{
	io->fd = fd;
	io->events = events;
	io->fn = fn;
	io->arg = arg;
	io->active = false;
}

int
ev_io_start(ev_loop *loop, ev_io *io)
{
	if (io->active)
		return 0;
	if (ev_reserve(&loop->ios, &loop->ios_cap, loop->nios + 1, sizeof(*loop->ios)) < 0)
		return -1;
	loop->ios[loop->nios++] = io;
	io->active = true;
	return 0;
}

void
ev_io_stop(ev_loop *loop, ev_io *io)
{
	for (size_t i = 0; i < loop->nios; i++) {
		if (loop->ios[i] == io) {
			loop->ios[i] = loop->ios[--loop->nios];
			break;
		}
	}
	io->active = false;
}

static short
ev_to_curl_events(short events)
{
	return (short)(((events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
	               ((events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
}

/* Snapshot the watched descriptors into curl's wait array. */
static size_t
ev_fill_waitfds(ev_loop *loop)
{
	if (ev_reserve(&loop->waitfds, &loop->waitfds_cap, loop->nios, sizeof(*loop->waitfds)) < 0)
		fatalx("out of memory watching descriptors");
	for (size_t i = 0; i < loop->nios; i++) {
		loop->waitfds[i].fd = loop->ios[i]->fd;
		loop->waitfds[i].events = ev_to_curl_events(loop->ios[i]->events);
		loop->waitfds[i].revents = 0;
	}
	return loop->nios;
}

/* Dispatch by fd: a callback may stop or start watchers as it runs. */
static void
ev_dispatch_ios(ev_loop *loop, size_t nwait)
{
	for (size_t w = 0; w < nwait && !loop->stop; w++) {
		short revents = loop->waitfds[w].revents;
		short poll_events = 0;

		if (revents == 0)
			continue;
		poll_events |= (revents & CURL_WAIT_POLLIN) ? POLLIN : 0;
		poll_events |= (revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0;
		for (size_t i = 0; i < loop->nios; i++) {
			ev_io *io = loop->ios[i];
			if (io->fd == loop->waitfds[w].fd) {
				io->fn(loop, io, poll_events ? poll_events : POLLIN, io->arg);
				break;
			}
		}
	}
}

/* --------------------------------------------------------------- children */

void
ev_child_init(ev_child *watcher, pid_t pid, ev_child_fn fn, void *arg)
{
	watcher->pid = pid;
	watcher->fn = fn;
	watcher->arg = arg;
	watcher->active = false;
}

int
ev_child_start(ev_loop *loop, ev_child *watcher)
{
	if (watcher->active)
		return 0;
	if (ev_reserve(&loop->children, &loop->children_cap, loop->nchildren + 1,
	               sizeof(*loop->children)) < 0)
		return -1;
	loop->children[loop->nchildren++] = watcher;
	watcher->active = true;
	return 0;
}

void
ev_child_stop(ev_loop *loop, ev_child *watcher)
{
	for (size_t i = 0; i < loop->nchildren; i++) {
		if (loop->children[i] == watcher) {
			loop->children[i] = loop->children[--loop->nchildren];
			break;
		}
	}
	watcher->active = false;
}

static ev_child *
ev_child_find(const ev_loop *loop, pid_t pid)
{
	for (size_t i = 0; i < loop->nchildren; i++)
		if (loop->children[i]->pid == pid)
			return loop->children[i];
	return NULL;
}

int
ev_reap(ev_loop *loop)
{
	int status, orphans = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED)) > 0) {
		ev_child *watcher = ev_child_find(loop, pid);

		if (watcher == NULL) {
			if (WIFEXITED(status) || WIFSIGNALED(status))
				orphans++;
			continue;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			ev_child_stop(loop, watcher);
		watcher->fn(loop, watcher, status, watcher->arg);
	}
	if (pid < 0 && errno != ECHILD && errno != EINTR)
		log_warn("waitpid");
	return orphans;
}

/* ------------------------------------------------------------------- http */

int
ev_http_start(ev_loop *loop, CURL *easy, ev_http_fn fn, void *arg)
{
	if (ev_reserve(&loop->transfers, &loop->transfers_cap, loop->ntransfers + 1,
	               sizeof(*loop->transfers)) < 0)
		return -1;
	if (curl_multi_add_handle(loop->multi, easy) != CURLM_OK)
		return -1;
	loop->transfers[loop->ntransfers++] = (struct ev_transfer){ easy, fn, arg };
	return 0;
}

/* Forget a transfer; returns its record (by value) so a caller may run it. */
static bool
ev_http_take(ev_loop *loop, CURL *easy, struct ev_transfer *out)
{
	for (size_t i = 0; i < loop->ntransfers; i++) {
		if (loop->transfers[i].easy == easy) {
			*out = loop->transfers[i];
			loop->transfers[i] = loop->transfers[--loop->ntransfers];
			curl_multi_remove_handle(loop->multi, easy);
			return true;
		}
	}
	return false;
}

CURLM *
ev_http_multi(ev_loop *loop)
{
	return loop->multi;
}

void
ev_http_set_foreign(ev_loop *loop, ev_http_fn fn, void *arg)
{
	loop->foreign = (struct ev_transfer){ NULL, fn, arg };
}

void
ev_http_cancel(ev_loop *loop, CURL *easy)
{
	struct ev_transfer gone;

	(void)ev_http_take(loop, easy, &gone);
}

static void
ev_dispatch_http(ev_loop *loop)
{
	CURLMsg *msg;
	int running, left;

	curl_multi_perform(loop->multi, &running);
	while (!loop->stop && (msg = curl_multi_info_read(loop->multi, &left)) != NULL) {
		struct ev_transfer done;

		if (msg->msg != CURLMSG_DONE)
			continue;
		CURLcode result = msg->data.result;
		if (ev_http_take(loop, msg->easy_handle, &done))
			done.fn(loop, done.easy, result, done.arg);
		else if (loop->foreign.fn != NULL)
			loop->foreign.fn(loop, msg->easy_handle, result, loop->foreign.arg);
	}
}

/* ------------------------------------------------------------------- loop */

/* Descriptors are checked this far above the lowest free one. */
#define EV_FD_WINDOW 64

/*
 * libcurl (7.88) opens the multi handle's wake-up socketpair without
 * close-on-exec, and offers no way to ask for it: mark what
 * curl_multi_init opened, found as the descriptors open after it that
 * were not before (the loop is made before any thread runs).  spawn.c
 * closes them in every child anyway; this keeps any other exec clean.
 */
static CURLM *
ev_multi_init(void)
{
	bool was_open[EV_FD_WINDOW];
	int low = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
	CURLM *multi;

	if (low >= 0)
		close(low);
	for (int i = 0; low >= 0 && i < EV_FD_WINDOW; i++)
		was_open[i] = fcntl(low + i, F_GETFD) >= 0;
	multi = curl_multi_init();
	for (int i = 0; low >= 0 && multi != NULL && i < EV_FD_WINDOW; i++) {
		int flags = was_open[i] ? -1 : fcntl(low + i, F_GETFD);

		if (flags >= 0 && !(flags & FD_CLOEXEC))
			(void)fcntl(low + i, F_SETFD, flags | FD_CLOEXEC);
	}
	return multi;
}

ev_loop *
ev_loop_new(void)
{
	ev_loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL)
		return NULL;
	loop->multi = ev_multi_init();
	if (loop->multi == NULL) {
		free(loop);
		return NULL;
	}
	loop->now = ev_clock_ms();
	return loop;
}

void
ev_loop_free(ev_loop *loop)
{
	if (loop == NULL)
		return;
	for (size_t i = 0; i < loop->ntransfers; i++)
		curl_multi_remove_handle(loop->multi, loop->transfers[i].easy);
	curl_multi_cleanup(loop->multi);
	free(loop->heap);
	free(loop->ios);
	free(loop->waitfds);
	free(loop->transfers);
	free(loop->children);
	free(loop);
}

void
ev_break(ev_loop *loop)
{
	loop->stop = true;
}

int
ev_run(ev_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		size_t nwait;
		CURLMcode rc;

		loop->now = ev_clock_ms();
		ev_run_timers(loop);
		if (loop->stop)
			break;
		nwait = ev_fill_waitfds(loop);
		rc = curl_multi_poll(loop->multi, loop->waitfds, (unsigned)nwait,
		                     ev_next_timeout(loop), NULL);
		if (rc != CURLM_OK) {
			log_warnx("event loop: waiting failed: %s", curl_multi_strerror(rc));
			return -1;
		}
		loop->now = ev_clock_ms();
		ev_dispatch_ios(loop, nwait);
		if (!loop->stop)
			ev_dispatch_http(loop);
	}
	return 0;
}
