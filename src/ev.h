/*
 * ev.h - ostiary's event loop: one thread, one monotonic clock.
 *
 * Three kinds of event source:
 *   - timers, whose callback returns its next interval (redis ae.c style);
 *   - file descriptors (the signal self-pipe, later probe pipes);
 *   - HTTP transfers on a libcurl multi handle, so no agent request ever
 *     blocks the loop.
 * All callbacks run on the loop's thread; ev_now() is the time the current
 * iteration started.
 */
#ifndef OSTIARY_EV_H
#define OSTIARY_EV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

typedef struct ev_loop ev_loop;

/* ------------------------------------------------------------------ timers */

#define EV_TIMER_STOP (-1)

typedef struct ev_timer ev_timer;
/* Return the delay in ms until the next run, or EV_TIMER_STOP. */
typedef int64_t (*ev_timer_fn)(ev_loop *loop, ev_timer *timer, void *arg);

struct ev_timer {
	ev_timer_fn fn;
	void *arg;
	int64_t due;   /* ev clock, ms */
	int64_t slack; /* ms it may run late; 0 = on time */
	size_t slot;   /* position in the heap, EV_SLOT_BUCKET or SIZE_MAX (not armed) */
	struct ev_bucket *bucket; /* with slack: the timers due at the same time */
	ev_timer *next, *prev;    /* ... in arming order */
};

void ev_timer_init(ev_timer *timer, ev_timer_fn fn, void *arg);
/*
 * Let a timer run up to slack_ms late: its due time is rounded up to a
 * multiple of slack_ms, so timers sharing a slack fire together in one
 * wakeup instead of one wakeup each (never early).  For periodic work whose
 * exact phase does not matter, such as thousands of probes: such timers
 * share one list per due time, so arming, stopping and firing one costs
 * O(1) instead of heap operations over all of them.
 */
void ev_timer_set_slack(ev_timer *timer, int64_t slack_ms);
/* The slack of periodic work, the one rule for probes and heartbeats: a
 * sixteenth of the period, at most EV_PERIOD_SLACK_MAX_MS. */
#define EV_PERIOD_SLACK_MAX_MS 250
void ev_timer_set_period_slack(ev_timer *timer, int64_t period_ms);
/* (Re)arm to fire after_ms from now by the clock, not the loop's cached
 * ev_now(): a timer armed late in a busy iteration still waits after_ms. */
void ev_timer_start(ev_loop *loop, ev_timer *timer, int64_t after_ms);
void ev_timer_stop(ev_loop *loop, ev_timer *timer);
bool ev_timer_active(const ev_timer *timer);

/* -------------------------------------------------------------------- fds */

typedef struct ev_io ev_io;
typedef void (*ev_io_fn)(ev_loop *loop, ev_io *io, short revents, void *arg);

struct ev_io {
	int fd;
	short events; /* POLLIN, POLLOUT */
	ev_io_fn fn;
	void *arg;
	bool active;
	uint64_t since; /* the loop's iteration when it was started */
};

void ev_io_init(ev_io *io, int fd, short events, ev_io_fn fn, void *arg);
int ev_io_start(ev_loop *loop, ev_io *io);
void ev_io_stop(ev_loop *loop, ev_io *io);

/* --------------------------------------------------------------- children */

typedef struct ev_child ev_child;
/* wait_status as waitpid(2) reports it: exited, killed, stopped or continued. */
typedef void (*ev_child_fn)(ev_loop *loop, ev_child *watcher, int wait_status, void *arg);

struct ev_child {
	pid_t pid;
	ev_child_fn fn;
	void *arg;
	bool active;
};

void ev_child_init(ev_child *watcher, pid_t pid, ev_child_fn fn, void *arg);
int ev_child_start(ev_loop *loop, ev_child *watcher);
void ev_child_stop(ev_loop *loop, ev_child *watcher);
/*
 * Collect every child that changed state (call it on SIGCHLD) and tell its
 * watcher; a watcher is stopped before it hears of an exit.  Children nobody
 * watches (orphans adopted as PID 1 or subreaper) are just reaped; returns
 * how many.
 */
int ev_reap(ev_loop *loop);

/* ------------------------------------------------------------------- http */

/* Called once per transfer, after the handle was removed from the multi. */
typedef void (*ev_http_fn)(ev_loop *loop, CURL *easy, CURLcode result, void *arg);

int ev_http_start(ev_loop *loop, CURL *easy, ev_http_fn fn, void *arg);
/* Abandon a transfer; its callback will not run. */
void ev_http_cancel(ev_loop *loop, CURL *easy);
/*
 * The multi handle itself, for code that adds its own transfers (a
 * consul_watch does): the loop polls them with the rest, and hands each
 * one that finishes, still in the multi handle, to the foreign callback.
 */
CURLM *ev_http_multi(ev_loop *loop);
void ev_http_set_foreign(ev_loop *loop, ev_http_fn fn, void *arg);

/* ------------------------------------------------------------------- loop */

ev_loop *ev_loop_new(void);
void ev_loop_free(ev_loop *loop);
/* Run until ev_break(); returns 0, or -1 if polling failed for good. */
int ev_run(ev_loop *loop);
void ev_break(ev_loop *loop);
/* Milliseconds on the monotonic clock, as of the current iteration. */
int64_t ev_now(const ev_loop *loop);
/* Read the monotonic clock afresh. */
int64_t ev_clock_ms(void);

#endif
