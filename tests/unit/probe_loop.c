/* probe_loop.c - the shared harness of the probe tests (see probe_loop.h). */
#include "probe_loop.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"

struct probe_loop pl;

static void
probe_loop_on_signal(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	int signo;

	while ((signo = sig_next(io->fd)) != 0)
		if (signo == SIGCHLD)
			ev_reap(loop);
}

static int64_t
probe_loop_on_deadline(ev_loop *loop, ev_timer *timer, void *arg)
{
	pl.expired = true;
	ev_break(loop);
	return EV_TIMER_STOP;
}

void
probe_loop_done(void *arg, enum consul_status status, const char *output)
{
	pl.calls++;
	pl.status = status;
	free(pl.output);
	pl.output = strdup(output);
	pl.elapsed_ms = ev_clock_ms() - pl.started;
	ev_break(pl.loop);
}

void
probe_loop_setup(void)
{
	int fd;

	memset(&pl, 0, sizeof(pl));
	pl.loop = ev_loop_new();
	cr_assert_not_null(pl.loop);
	fd = sig_init();
	cr_assert_geq(fd, 0);
	ev_io_init(&pl.sigio, fd, POLLIN, probe_loop_on_signal, NULL);
	cr_assert_eq(ev_io_start(pl.loop, &pl.sigio), 0);
	ev_timer_init(&pl.deadline, probe_loop_on_deadline, NULL);
}

void
probe_loop_teardown(void)
{
	free(pl.output);
	pl.output = NULL;
	ev_loop_free(pl.loop);
}

bool
probe_loop_run(int64_t limit_ms)
{
	pl.expired = false;
	ev_timer_start(pl.loop, &pl.deadline, limit_ms);
	ev_run(pl.loop);
	ev_timer_stop(pl.loop, &pl.deadline);
	return !pl.expired;
}

void
probe_loop_run_one(struct probe *probe, int64_t limit_ms)
{
	int calls = pl.calls;

	pl.started = ev_clock_ms();
	cr_assert_eq(probe_start(probe, probe_loop_done, NULL), 0);
	cr_assert_eq(pl.calls, calls, "done ran inside probe_start");
	cr_assert(probe_running(probe));
	cr_assert(probe_loop_run(limit_ms), "no result within %lld ms", (long long)limit_ms);
	cr_assert_eq(pl.calls, calls + 1);
	cr_assert_not(probe_running(probe));
}
