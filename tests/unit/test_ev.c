/* The event loop: timers in due order, self-rescheduling, fds. */
#include <criterion/criterion.h>
#include <poll.h>
#include <unistd.h>

#include "ev.h"

struct order {
	int fired[16];
	int n;
	ev_loop *loop;
};

struct tagged {
	ev_timer timer;
	struct order *order;
	int tag;
	int repeats; /* how many more times to re-arm */
};

static int64_t
record_fire(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct tagged *t = arg;

	t->order->fired[t->order->n++] = t->tag;
	if (t->order->n == 6)
		ev_break(loop);
	return t->repeats-- > 0 ? 1 : EV_TIMER_STOP;
}

Test(ev, timers_fire_in_due_order_and_return_their_next_interval)
{
	ev_loop *loop = ev_loop_new();
	struct order order = { .loop = loop };
	struct tagged t[4];
	/* 100 ms apart: a loop woken late (valgrind, a busy machine) must still
	 * find only one timer due at a time, or the order is the wake-up's. */
	const int64_t after[] = { 300, 100, 200, 400 };

	for (int i = 0; i < 4; i++) {
		t[i] = (struct tagged){ .order = &order, .tag = i, .repeats = 0 };
		ev_timer_init(&t[i].timer, record_fire, &t[i]);
	}
	t[1].repeats = 2; /* the 100 ms timer runs three times, 1 ms apart */
	for (int i = 0; i < 4; i++)
		ev_timer_start(loop, &t[i].timer, after[i]);
	cr_assert_eq(ev_run(loop), 0);
	cr_assert_eq(order.n, 6);
	const int expected[] = { 1, 1, 1, 2, 0, 3 };
	for (int i = 0; i < 6; i++)
		cr_assert_eq(order.fired[i], expected[i], "position %d", i);
	ev_loop_free(loop);
}

Test(ev, stopped_timer_never_fires)
{
	ev_loop *loop = ev_loop_new();
	struct order order = { .loop = loop };
	struct tagged a = { .order = &order, .tag = 7 }, b = { .order = &order, .tag = 8 };

	ev_timer_init(&a.timer, record_fire, &a);
	ev_timer_init(&b.timer, record_fire, &b);
	ev_timer_start(loop, &a.timer, 5);
	ev_timer_start(loop, &b.timer, 10);
	ev_timer_stop(loop, &a.timer);
	cr_assert_not(ev_timer_active(&a.timer));
	order.n = 5; /* b's firing makes six and breaks the loop */
	cr_assert_eq(ev_run(loop), 0);
	cr_assert_eq(order.fired[5], 8);
	ev_loop_free(loop);
}

/* Timers with slack that share a due time fire together, in arming order;
 * one stopped by an earlier one's callback in the same wake-up never fires. */
struct shared_slot {
	ev_timer timers[8];
	int fired[8];
	int n;
	int64_t armed_at;
	int64_t earliest; /* the first firing, on the clock */
};

static int64_t
slot_fire(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct shared_slot *s = arg;
	int tag = (int)(timer - s->timers);

	if (s->n == 0)
		s->earliest = ev_clock_ms();
	s->fired[s->n++] = tag;
	if (tag == 2)
		ev_timer_stop(loop, &s->timers[5]);
	if (s->n == 7)
		ev_break(loop);
	return EV_TIMER_STOP;
}

Test(ev, timers_with_slack_share_a_wakeup_in_arming_order_and_never_fire_early)
{
	ev_loop *loop = ev_loop_new();
	struct shared_slot s = { .n = 0 };
	const int order[] = { 3, 0, 6, 2, 1, 5, 4, 7 };

	/* One 1 s slot for all of them: arm well before its end. */
	while (ev_clock_ms() % 1000 > 900)
		usleep(10000);
	s.armed_at = ev_clock_ms();
	for (int i = 0; i < 8; i++) {
		ev_timer_init(&s.timers[i], slot_fire, &s);
		ev_timer_set_slack(&s.timers[i], 1000);
	}
	for (int i = 0; i < 8; i++)
		ev_timer_start(loop, &s.timers[order[i]], 1 + i % 2);
	ev_timer_stop(loop, &s.timers[4]);
	ev_timer_start(loop, &s.timers[4], 1); /* re-armed: now after 5 */
	cr_assert_eq(ev_run(loop), 0);
	const int expected[] = { 3, 0, 6, 2, 1, 7, 4 };
	cr_assert_eq(s.n, 7, "fired %d timers", s.n);
	for (int i = 0; i < 7; i++)
		cr_assert_eq(s.fired[i], expected[i], "position %d", i);
	cr_assert_geq(s.earliest, s.armed_at + 1);
	cr_assert_not(ev_timer_active(&s.timers[5]));
	ev_loop_free(loop);
}

/* A slot emptied by stopping its timers leaves nothing behind to fire, and a
 * timer with slack and one without keep their due order. */
Test(ev, emptied_slot_is_gone_and_slack_timers_keep_due_order_with_exact_ones)
{
	ev_loop *loop = ev_loop_new();
	struct order order = { .loop = loop };
	struct tagged gone[3], late = { .order = &order, .tag = 9 },
	                       early = { .order = &order, .tag = 4 };

	for (int i = 0; i < 3; i++) {
		gone[i] = (struct tagged){ .order = &order, .tag = 20 + i };
		ev_timer_init(&gone[i].timer, record_fire, &gone[i]);
		ev_timer_set_slack(&gone[i].timer, 50);
		ev_timer_start(loop, &gone[i].timer, 10);
	}
	for (int i = 0; i < 3; i++)
		ev_timer_stop(loop, &gone[i].timer);
	ev_timer_init(&early.timer, record_fire, &early);
	ev_timer_set_slack(&early.timer, 100);
	ev_timer_start(loop, &early.timer, 120); /* due at the next 100 ms after that */
	ev_timer_init(&late.timer, record_fire, &late);
	ev_timer_start(loop, &late.timer, 400);
	order.n = 4; /* early and late make six and break the loop */
	cr_assert_eq(ev_run(loop), 0);
	cr_assert_eq(order.fired[4], 4);
	cr_assert_eq(order.fired[5], 9);
	ev_loop_free(loop);
}

static void
on_readable(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	char c;

	*(int *)arg = (revents & POLLIN) && read(io->fd, &c, 1) == 1 ? c : -1;
	ev_break(loop);
}

Test(ev, fd_watcher_wakes_the_loop)
{
	ev_loop *loop = ev_loop_new();
	int fds[2], got = 0;
	ev_io io;

	cr_assert_eq(pipe(fds), 0);
	ev_io_init(&io, fds[0], POLLIN, on_readable, &got);
	cr_assert_eq(ev_io_start(loop, &io), 0);
	cr_assert_eq(write(fds[1], "x", 1), 1);
	cr_assert_eq(ev_run(loop), 0);
	cr_assert_eq(got, 'x');
	ev_io_stop(loop, &io);
	ev_loop_free(loop);
	close(fds[0]);
	close(fds[1]);
}
