/*
 * supervisor.h - the child's lifecycle and the shutdown sequence.
 *
 * On a terminating signal (TERM, INT, QUIT) the service leaves the healthy
 * set first (the drain step: maintenance, checks critical or
 * deregistration), then after the drain delay the child gets the stop
 * signal, then SIGKILL after the kill timeout; then the services are
 * deregistered and ostiary exits with the child's status.  A child that
 * exits on its own is restarted as the restart policy says (the services
 * stay registered, checks held critical), or ostiary deregisters and exits
 * with its status.  Until the child is ready (READY=1 on NOTIFY_SOCKET when
 * asked for) and while it says STOPPING=1, checks are held critical.
 * SIGHUP re-reads the token file and is forwarded; other signals are
 * forwarded as they come (as --rewrite says).  The child leads a process
 * group of its own, and signals go to the whole group unless
 * --single-child; once the child is gone, what is left of the group gets
 * the stop signal and SIGKILL before anything else happens.  Every process
 * that ends up as our child (PID 1 or subreaper) is reaped.  An agent
 * unreachable past the fail-closed limit stops the child as a signal
 * would, without the drain step.
 */
#ifndef OSTIARY_SUPERVISOR_H
#define OSTIARY_SUPERVISOR_H

#include <stdint.h>

#include "agent.h"
#include "check.h"
#include "child.h"
#include "conf.h"
#include "ev.h"
#include "kvconf.h"

/* What a run works with, built by main before the child starts (so that a
 * configuration that cannot work never starts anything); all of it
 * outlives supervisor_run. */
struct supervisor_env {
	ev_loop *loop;
	consul_client *client; /* its token file is re-read on SIGHUP */
	struct agent *agent;
	struct services *services;
	struct checks *checks;
	const struct conf *conf;
	struct kvconf *kv; /* NULL unless the command's configuration comes from Consul KV */
	int signal_fd;     /* from sig_init() */
};

/*
 * Start the command (with NOTIFY_SOCKET when conf->notify) and run the loop
 * until it has exited for good (restarts included) and the services are
 * deregistered.  Returns the exit code for ostiary: the last child's
 * status, or 126/127/125 when the command cannot be started at all (then
 * nothing was registered), or 128+N when signal N ended the wait for
 * Consul KV.
 */
int supervisor_run(const struct supervisor_env *env);

/* Ask the kernel to make us the reaper of orphaned descendants (Linux). */
int supervisor_become_subreaper(void);

#endif
