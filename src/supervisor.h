/*
 * supervisor.h - the child's lifecycle and the shutdown sequence.
 *
 * On a terminating signal (TERM, INT, QUIT) the service leaves the healthy
 * set first (deregistration), then the child gets the signal, then SIGKILL
 * after the kill timeout; ostiary exits with the child's status.  When the
 * child exits on its own, ostiary deregisters and exits with its status.
 * Other signals are forwarded as they come.  Every process that ends up as
 * our child (PID 1 or subreaper) is reaped.
 */
#ifndef OSTIARY_SUPERVISOR_H
#define OSTIARY_SUPERVISOR_H

#include <stdint.h>

#include "agent.h"
#include "check.h"
#include "child.h"
#include "ev.h"

struct supervisor_settings {
	int64_t kill_timeout_ms;
};

/*
 * Run the loop until the child has exited and the service is deregistered.
 * The child must already be running; returns the exit code for ostiary.
 */
int supervisor_run(ev_loop *loop, struct agent *agent, struct checks *checks, struct child *child,
                   int signal_fd, const struct supervisor_settings *settings);

/* Ask the kernel to make us the reaper of orphaned descendants (Linux). */
int supervisor_become_subreaper(void);

#endif
