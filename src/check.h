/*
 * check.h - the health-check engine (relayd's hce): runs each check's probe
 * on its timer, funnels every result through one function that applies the
 * flap-damping thresholds and logs state changes, and hands the result to
 * the agent session through the check's handle (registered by service.c).
 * PROBE_PROCESS checks are fed by the supervisor with the child's state
 * instead of a probe.
 */
#ifndef OSTIARY_CHECK_H
#define OSTIARY_CHECK_H

#include <stdbool.h>

#include <ostiary/consul.h>

#include "agent.h"
#include "conf.h"
#include "ev.h"
#include "service.h"

struct checks;

/* Build a probe for every check of conf; results go to the agent through
 * the services' check handles.  NULL (err filled) when a probe cannot be
 * set up. */
struct checks *checks_new(ev_loop *loop, const struct services *services, const struct conf *conf,
                          consul_error *err);
/* Arm the probe timers (initial delay plus a random start spread). */
void checks_start(struct checks *checks);
/* The child's state, for every PROBE_PROCESS check. */
void checks_process_state(struct checks *checks, enum consul_status status, const char *output);
/*
 * Hold every check critical with `reason` as its output (waiting for
 * READY=1, restarting the child, draining): probes go on and their results
 * are kept, so releasing (reason NULL) reports each check's latest status
 * at once.  Holding again with another reason replaces the output.
 */
void checks_hold(struct checks *checks, const char *reason);
/* A new child: probes must again pass ready_after times before passing. */
void checks_reset_readiness(struct checks *checks);
/* The command's variables from Consul KV, for exec probes with kv_env. */
void checks_set_kv_env(struct checks *checks, char *const *env);
/* Cancel running probes and timers: nothing more is reported. */
void checks_stop(struct checks *checks);
void checks_free(struct checks *checks);

/*
 * Consul's flap damping (agent/checks/check.go StatusHandler), applied here
 * because the agent does not apply it to TTL checks.  Both counters start
 * at their thresholds so the first result is reported at once; passing and
 * warning count as successes; enough failures report critical, fewer but at
 * least failures_before_warning report warning (0 = same as critical).
 */
struct check_threshold {
	int success_before_passing;
	int failures_before_warning;
	int failures_before_critical;
	int successes;
	int failures;
};

void check_threshold_init(struct check_threshold *t, int success_before_passing,
                          int failures_before_warning, int failures_before_critical);
/* Feed one probe result; true (and *report set) if a status is to be reported. */
bool check_threshold_apply(struct check_threshold *t, enum consul_status result,
                           enum consul_status *report);

#endif
