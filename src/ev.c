/*
 * ev.c - the event loop (see ev.h).
 *
 * Timers live in a binary min-heap keyed on their due time, so arming,
 * cancelling and firing are O(log n).  Timers with slack (thousands of
 * periodic probes and heartbeats) share few due times: those are kept as
 * buckets, one list per due time found through a small hash, and only the
 * bucket sits in the heap, so each of them costs O(1).
 * Waiting is one poll(2) over every watched descriptor, curl's among them:
 * libcurl's socket interface (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION) tells
 * which sockets and which timeout it wants, and curl_multi_socket_action
 * then handles just the socket that is ready.  curl_multi_perform would
 * poll every transfer's socket once more on every wakeup of the loop.
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

/* One of curl's sockets, watched for it (CURLMOPT_SOCKETFUNCTION). */
struct ev_curl_socket {
	ev_io io;
	struct ev_curl_socket *next, *prev;
};

/* The timers with slack due at one time; its anchor (fn NULL) is in the heap. */
struct ev_bucket {
	ev_timer anchor;
	ev_timer *head, *tail;
	struct ev_bucket *next_hashed;
};

/* Buckets live at most a period (seconds) ahead in slots of at least a
 * few ms: a few hundred at a time at most.  A prime spreads multiples. */
#define EV_BUCKET_HASH 61
#define EV_SLOT_BUCKET (SIZE_MAX - 1)

struct ev_loop {
	CURLM *multi;
	struct ev_transfer foreign; /* fn and arg for transfers added by others */
	int64_t now;
	bool stop;

	ev_timer **heap;
	size_t nheap, heap_cap;
	struct ev_bucket *buckets[EV_BUCKET_HASH];

	ev_io **ios;
	size_t nios, ios_cap;
	struct pollfd *pollfds;
	size_t pollfds_cap;
	uint64_t iteration; /* polls so far: a watcher started since is not dispatched */

	ev_timer curl_timer; /* curl's own timeout (CURLMOPT_TIMERFUNCTION) */
	struct ev_curl_socket *curl_sockets;

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
	timer->bucket = NULL;
	timer->next = timer->prev = NULL;
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

static void
ev_heap_remove(ev_loop *loop, ev_timer *timer)
{
	size_t slot = timer->slot;
	ev_timer *last = loop->heap[--loop->nheap];

	timer->slot = SIZE_MAX;
	if (last == timer)
		return;
	ev_heap_place(loop, last, slot);
	ev_heap_up(loop, slot);
	ev_heap_down(loop, last->slot);
}

static void
ev_heap_insert(ev_loop *loop, ev_timer *timer)
{
	if (ev_reserve(&loop->heap, &loop->heap_cap, loop->nheap + 1, sizeof(*loop->heap)) < 0)
		fatalx("out of memory arming a timer");
	loop->heap[loop->nheap] = timer;
	timer->slot = loop->nheap++;
	ev_heap_up(loop, timer->slot);
}

static struct ev_bucket **
ev_bucket_chain(ev_loop *loop, int64_t due)
{
	return &loop->buckets[(uint64_t)due % EV_BUCKET_HASH];
}

/* The bucket of timers due at `due`, made (and put in the heap) if new. */
static struct ev_bucket *
ev_bucket_get(ev_loop *loop, int64_t due)
{
	struct ev_bucket **chain = ev_bucket_chain(loop, due), *bucket;

	for (bucket = *chain; bucket != NULL; bucket = bucket->next_hashed)
		if (bucket->anchor.due == due)
			return bucket;
	if ((bucket = calloc(1, sizeof(*bucket))) == NULL)
		fatalx("out of memory arming a timer");
	bucket->anchor.due = due;
	bucket->next_hashed = *chain;
	*chain = bucket;
	ev_heap_insert(loop, &bucket->anchor);
	return bucket;
}

static void
ev_bucket_free(ev_loop *loop, struct ev_bucket *bucket)
{
	struct ev_bucket **p = ev_bucket_chain(loop, bucket->anchor.due);

	while (*p != bucket)
		p = &(*p)->next_hashed;
	*p = bucket->next_hashed;
	ev_heap_remove(loop, &bucket->anchor);
	free(bucket);
}

static void
ev_bucket_append(ev_loop *loop, ev_timer *timer)
{
	struct ev_bucket *bucket = ev_bucket_get(loop, timer->due);

	timer->bucket = bucket;
	timer->slot = EV_SLOT_BUCKET;
	timer->next = NULL;
	timer->prev = bucket->tail;
	if (bucket->tail != NULL)
		bucket->tail->next = timer;
	else
		bucket->head = timer;
	bucket->tail = timer;
}

/* Unlink; the bucket goes when its last timer does. */
static void
ev_bucket_unlink(ev_loop *loop, ev_timer *timer)
{
	struct ev_bucket *bucket = timer->bucket;

	*(timer->prev ? &timer->prev->next : &bucket->head) = timer->next;
	*(timer->next ? &timer->next->prev : &bucket->tail) = timer->prev;
	timer->slot = SIZE_MAX;
	timer->bucket = NULL;
	if (bucket->head == NULL)
		ev_bucket_free(loop, bucket);
}

void
ev_timer_stop(ev_loop *loop, ev_timer *timer)
{
	if (timer->slot == EV_SLOT_BUCKET)
		ev_bucket_unlink(loop, timer);
	else if (timer->slot != SIZE_MAX)
		ev_heap_remove(loop, timer);
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
	/* From the clock, not the iteration's cached time: a timer armed late in
	 * an iteration must not fire early. */
	timer->due = ev_clock_ms() + after_ms;
	if (timer->slack > 0) {
		timer->due = (timer->due + timer->slack - 1) / timer->slack * timer->slack;
		ev_bucket_append(loop, timer);
	} else {
		ev_heap_insert(loop, timer);
	}
}

/* The timer due first: the heap's top, or the first of the top bucket. */
static ev_timer *
ev_first_timer(ev_loop *loop)
{
	ev_timer *top = loop->heap[0];

	return top->fn != NULL ? top : ((struct ev_bucket *)(void *)top)->head;
}

static void
ev_run_timers(ev_loop *loop)
{
	while (loop->nheap > 0 && loop->heap[0]->due <= loop->now && !loop->stop) {
		ev_timer *timer = ev_first_timer(loop);
		int64_t next;

		ev_timer_stop(loop, timer);
		next = timer->fn(loop, timer, timer->arg);
		/* A callback that re-armed itself explicitly keeps its choice. */
		if (next != EV_TIMER_STOP && !ev_timer_active(timer))
			ev_timer_start(loop, timer, next);
	}
}

/* Milliseconds until the next timer (capped: a wakeup a minute at least). */
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
	io->since = loop->iteration;
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

/* Snapshot the watched descriptors into the poll array. */
static size_t
ev_fill_pollfds(ev_loop *loop)
{
	if (ev_reserve(&loop->pollfds, &loop->pollfds_cap, loop->nios, sizeof(*loop->pollfds)) < 0)
		fatalx("out of memory watching descriptors");
	for (size_t i = 0; i < loop->nios; i++) {
		loop->pollfds[i].fd = loop->ios[i]->fd;
		loop->pollfds[i].events = loop->ios[i]->events;
		loop->pollfds[i].revents = 0;
	}
	return loop->nios;
}

/*
 * Dispatch by fd: a callback may stop or start watchers as it runs.  A
 * watcher started after the poll is skipped: its descriptor may reuse the
 * number of one just closed, whose readiness is not its own.
 */
static void
ev_dispatch_ios(ev_loop *loop, size_t nwait)
{
	for (size_t w = 0; w < nwait && !loop->stop; w++) {
		short revents = loop->pollfds[w].revents;

		if (revents == 0)
			continue;
		/* An error or hangup alone is read as readable: the read says which. */
		if (!(revents & (POLLIN | POLLOUT)))
			revents |= POLLIN;
		for (size_t i = 0; i < loop->nios; i++) {
			ev_io *io = loop->ios[i];
			if (io->fd == loop->pollfds[w].fd) {
				if (io->since != loop->iteration)
					io->fn(loop, io, revents, io->arg);
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

/* Hand every finished transfer to its callback. */
static void
ev_http_collect(ev_loop *loop)
{
	CURLMsg *msg;
	int left;

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

/* One of curl's sockets is ready; it may be gone (freed) on return. */
static void
ev_curl_ready(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	int bits = ((revents & POLLIN) ? CURL_CSELECT_IN : 0) |
	           ((revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
	           ((revents & POLLERR) ? CURL_CSELECT_ERR : 0);
	int running;

	curl_multi_socket_action(loop->multi, io->fd, bits, &running);
	ev_http_collect(loop);
}

static int64_t
ev_curl_timeout(ev_loop *loop, ev_timer *timer, void *arg)
{
	int running;

	curl_multi_socket_action(loop->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	ev_http_collect(loop);
	return EV_TIMER_STOP; /* curl arms it again through ev_curl_set_timer */
}

/* CURLMOPT_TIMERFUNCTION: -1 is no timeout; 0 is at once, from the loop
 * (libcurl may not be called back into from here). */
static int
ev_curl_set_timer(CURLM *multi, long timeout_ms, void *arg)
{
	ev_loop *loop = arg;

	if (timeout_ms < 0)
		ev_timer_stop(loop, &loop->curl_timer);
	else
		ev_timer_start(loop, &loop->curl_timer, timeout_ms);
	return 0;
}

static void
ev_curl_socket_free(ev_loop *loop, struct ev_curl_socket *s)
{
	ev_io_stop(loop, &s->io);
	*(s->prev ? &s->prev->next : &loop->curl_sockets) = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch (or stop watching) one of curl's sockets. */
static int
ev_curl_watch(CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_data)
{
	ev_loop *loop = arg;
	struct ev_curl_socket *s = socket_data;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			ev_curl_socket_free(loop, s);
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			fatalx("out of memory watching a connection to the agent");
		ev_io_init(&s->io, fd, 0, ev_curl_ready, NULL);
		s->next = loop->curl_sockets;
		if (s->next != NULL)
			s->next->prev = s;
		loop->curl_sockets = s;
		curl_multi_assign(loop->multi, fd, s);
	}
	s->io.events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
	                       ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	if (ev_io_start(loop, &s->io) < 0)
		fatalx("out of memory watching a connection to the agent");
	return 0;
}

/* ------------------------------------------------------------------- loop */

/* The agent's in-flight limit (AGENT_DEFAULT_MAX_INFLIGHT), and room for
 * HTTP probes' and KV watches' connections. */
#define EV_MAX_IDLE_CONNECTIONS 64

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
	/* libcurl keeps 4 idle connections per handle in the multi, so the
	 * cache shrinks between bursts of agent requests and the next burst
	 * connects anew; keep as many as can be in flight. */
	if (multi != NULL)
		(void)curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)EV_MAX_IDLE_CONNECTIONS);
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
	ev_timer_init(&loop->curl_timer, ev_curl_timeout, NULL);
	curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, ev_curl_watch);
	curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
	curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, ev_curl_set_timer);
	curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
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
	while (loop->curl_sockets != NULL)
		ev_curl_socket_free(loop, loop->curl_sockets);
	for (size_t i = 0; i < EV_BUCKET_HASH; i++) {
		while (loop->buckets[i] != NULL) {
			struct ev_bucket *bucket = loop->buckets[i];
			loop->buckets[i] = bucket->next_hashed;
			free(bucket);
		}
	}
	free(loop->heap);
	free(loop->ios);
	free(loop->pollfds);
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

		loop->now = ev_clock_ms();
		ev_run_timers(loop);
		if (loop->stop)
			break;
		nwait = ev_fill_pollfds(loop);
		if (poll(loop->pollfds, (nfds_t)nwait, ev_next_timeout(loop)) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("event loop: poll");
			return -1;
		}
		loop->iteration++;
		loop->now = ev_clock_ms();
		ev_dispatch_ios(loop, nwait);
	}
	return 0;
}
