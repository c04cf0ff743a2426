/*
 * probe_loop.h - what every probe test needs: an event loop that reaps
 * children on SIGCHLD (as the supervisor does in ostiary), a done callback
 * that records the result, and a run with a deadline instead of a sleep.
 */
#ifndef OSTIARY_TEST_PROBE_LOOP_H
#define OSTIARY_TEST_PROBE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "probe.h"

struct probe_loop {
	ev_loop *loop;
	ev_io sigio;
	ev_timer deadline;
	bool expired;
	int calls;                 /* how many results arrived */
	enum consul_status status; /* the last one */
	char *output;
	int64_t started; /* set before probe_start to time a run */
	int64_t elapsed_ms;
};

extern struct probe_loop pl;

/* Fresh loop and state for a test (Criterion .init), and its cleanup. */
void probe_loop_setup(void);
void probe_loop_teardown(void);
/* The probe_done_fn that records the result and stops the loop. */
void probe_loop_done(void *arg, enum consul_status status, const char *output);
/* Run the loop for at most limit_ms; false if the deadline came first. */
bool probe_loop_run(int64_t limit_ms);
/* probe_start, check the result was not delivered from inside it, and run
 * until exactly one result arrived (the test fails otherwise). */
void probe_loop_run_one(struct probe *probe, int64_t limit_ms);

#endif
