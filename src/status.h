/*
 * status.h - the status snapshot (s6-supervise's announce()).
 *
 * One snapshot of everything an operator asks about: the command, each
 * service and check, the agent session, the KV watches, and the counters
 * and histograms of the metrics.  The subsystems write it at the places
 * where they already log a state change (supervisor.c, check.c, agent.c,
 * and the KV watch); the readers - the control socket (ctl.c) and the
 * metrics endpoint (metrics.c) - only read it, never the live state, so a
 * reader can neither change nor stall what it looks at.
 *
 * There is one snapshot per process (as there is one log): status_init()
 * builds it from the finished configuration; until then, and with a NULL
 * handle, every writer is a no-op, so the engines work without it (unit
 * tests).  Nothing secret goes in: no token, no KV value, no header.
 */
#ifndef OSTIARY_STATUS_H
#define OSTIARY_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>
#include <ostiary/consul.h>

#include "conf.h"

struct status_service;
struct status_check;

/* Build the snapshot for conf's services and checks; agent_address is
 * shown as is.  -1 when out of memory. */
int status_init(const struct conf *conf, const char *agent_address);
void status_free(void);

/* ---------------------------------------------------------- the command */

/* A new process of the command runs (the first start, or a restart). */
void status_command_started(pid_t pid);
/* What the supervisor is doing ("running", "restarting", "draining", ...,
 * or "stopped" while the command is SIGSTOPped); up: the command runs. */
void status_command_state(const char *state, bool up);

/* ------------------------------------------------------------- services */

/* The handle for a configured service ID; NULL if unknown or no snapshot. */
struct status_service *status_service(const char *id);
void status_service_registered(struct status_service *s, bool registered);
/* Maintenance as the operator (ctl) or the drain asked for it. */
void status_service_maintenance(struct status_service *s, bool on, const char *reason);

/* --------------------------------------------------------------- checks */

struct status_check *status_check(const char *id);
/* One probe run ended: its raw result, how long it took, and the
 * thresholds' consecutive counts after it. */
void status_check_probe(struct status_check *c, enum consul_status result, int64_t duration_us,
                        int successes, int failures);
/* The next probe run is due in after_ms. */
void status_check_next_run(struct status_check *c, int64_t after_ms);
/* What ostiary now tells the agent for this check. */
void status_check_reported(struct status_check *c, enum consul_status status, const char *output);
/* A push of this status went out / the agent confirmed this status (a push
 * answered 200, or the read-back of the agent's checks). */
void status_check_pushed(struct status_check *c, enum consul_status status);
void status_check_confirmed(struct status_check *c, enum consul_status status);

/* ---------------------------------------------------------------- agent */

/* One request to the agent finished: endpoint is the kind of request
 * ("register", "update", ...), outcome consul_outcome_name()'s. */
void status_agent_request(const char *endpoint, const char *outcome, int64_t duration_us);
void status_agent_reachable(bool reachable);
/* The last failure, in the log's words (never a token), or a success. */
void status_agent_error(const char *why);
void status_agent_success(void);

/* ------------------------------------------------------------ KV watches
 *
 * The hook for the KV watch (live configuration from Consul KV).  The
 * snapshot holds an array of {prefix, index, last_change}, empty until a
 * watch calls these; `ostiary status` shows it and /metrics counts
 * ostiary_kv_changes_total{prefix}.
 *   status_kv_watch(prefix, index):   a watch on prefix answered with this
 *                                     X-Consul-Index (no change implied);
 *   status_kv_changed(prefix, index): what is under prefix changed (and was
 *                                     applied): last_change = now, +1.
 * The prefix is shown and used as a label: never pass a value or a token.
 */
void status_kv_watch(const char *prefix, uint64_t index);
void status_kv_changed(const char *prefix, uint64_t index);

/* --------------------------------------------------------------- readers */

/* The whole snapshot as JSON (a new reference), NULL when out of memory. */
json_t *status_json(void);
/* The worst status any check is reported with (CONSUL_PASSING when none). */
enum consul_status status_worst(void);
/* The metrics in Prometheus text format 0.0.4. */
void status_metrics(FILE *out);

#endif
