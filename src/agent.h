/*
 * agent.h - ostiary's session with the local Consul agent.
 *
 * Keeps services registered and their TTL checks fed:
 *   - registers each service (with all its checks), retrying with jittered
 *     exponential backoff while the agent is away;
 *   - pushes a check's status at once when it changes, and otherwise every
 *     heartbeat (carrying the latest output then: an output-only change
 *     waits, so a chatty probe does not turn into a stream of writes);
 *   - holds only the latest status per check, never a queue of old ones;
 *   - re-registers a service the agent lost (a push answered 404, or 500
 *     "does not have associated TTL") and pushes its checks straight after;
 *   - reads our checks back every verify interval and repairs what someone
 *     else removed, and removes services an earlier run of the same owner
 *     left behind (nothing without that owner's mark);
 *   - puts services in maintenance when asked to drain, and reports an
 *     outage longer than the fail-closed limit;
 *   - deregisters everything on shutdown within a fixed time bound, so a
 *     hung agent delays exit by at most AGENT_SHUTDOWN_TIMEOUT_MS.
 * Requests run on the event loop, a bounded number at a time.
 */
#ifndef OSTIARY_AGENT_H
#define OSTIARY_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <ostiary/consul.h>

#include "ev.h"

/* The whole deregistration at shutdown takes at most this long (it counts
 * against the stop budgets of Docker and Kubernetes; see conf.h). */
#define AGENT_SHUTDOWN_TIMEOUT_MS 1000
#define AGENT_RETRY_BASE_MS 250
#define AGENT_DEFAULT_MAX_INFLIGHT 16
#define AGENT_TOKEN_RECHECK_MS 1000

struct agent;
struct agent_service;
struct agent_check;

struct agent_settings {
	int64_t retry_max_ms;       /* cap of the registration backoff */
	int max_inflight;           /* requests on the wire at once */
	int64_t fail_closed_ms;     /* call the outage handler after this long lost; 0 = never */
	int64_t verify_interval_ms; /* read our checks back this often; 0 = never */
	const char *owner_key;      /* the service Meta key carrying the owner mark */
	const char *owner;          /* remove services carrying this owner mark that are not
	                             * ours (an earlier run's); NULL = never */
};

typedef void (*agent_done_fn)(void *arg);
typedef void (*agent_outage_fn)(void *arg);

struct agent *agent_new(ev_loop *loop, consul_client *client, const struct agent_settings *s);
void agent_free(struct agent *agent);

/* The definition (and everything it points to) is the caller's and must
 * outlive the agent. */
struct agent_service *agent_add_service(struct agent *agent, const consul_service *def);
/* A TTL check of that service (its ID appears in the definition). */
struct agent_check *agent_add_check(struct agent_service *service, const char *check_id,
                                    int64_t heartbeat_ms);

/* Start registering; pushes follow as statuses are reported. */
void agent_start(struct agent *agent);
/*
 * The status to report from now on for this check (see the header
 * comment).  A new status is pushed at once; so is a new output when `now`
 * (a check's first real result, a hold put on or lifted): other
 * output-only changes wait for the heartbeat.
 */
void agent_check_report(struct agent_check *check, enum consul_status status, const char *output,
                        bool now);
/* Why a report made now would not reach the agent at once ("the service is
 * not registered yet", "the agent is unreachable"), or NULL when it would:
 * for log lines, which say what the agent has been told. */
const char *agent_check_unsent(const struct agent_check *check);

/* Called once the agent has been unreachable for settings.fail_closed_ms. */
void agent_on_outage(struct agent *agent, agent_outage_fn fn, void *arg);
/* Called when a service is registered and when the agent is lost or back
 * (for systemd's READY=1 and STATUS=). */
void agent_on_change(struct agent *agent, agent_done_fn fn, void *arg);
/* False while the agent is lost. */
bool agent_reachable(const struct agent *agent);
/* How many services the agent has accepted (and not lost since). */
size_t agent_registered(const struct agent *agent);
/* Graceful stop, first step: put every service in maintenance with this
 * reason (again after any re-registration); pushes go on. */
void agent_drain(struct agent *agent, const char *reason);
/* The drain is over without a shutdown (the command restarted for new
 * configuration): every service goes back to the maintenance the operator
 * asked for (none, usually), and read-backs resume. */
void agent_undrain(struct agent *agent);
/*
 * Maintenance asked for by the operator (`ostiary maintenance`, through
 * ctl.c): every service, or the one with ID service_id, goes in (enable)
 * or out of Consul maintenance with reason (NULL: the agent's default) and
 * stays so across re-registrations - a lost or repaired registration gets
 * it again - until asked otherwise.  A failed switch is retried at the next
 * read-back (verify interval).  Returns how many services it applies to;
 * -1 with why filled for an unknown ID, or while stopping (the drain holds
 * every service in maintenance).
 */
int agent_maintenance(struct agent *agent, const char *service_id, bool enable, const char *reason,
                      char *why, size_t len);
/* Call fn once nothing is queued or on the wire (from within the call, if
 * that is already so): what was reported has reached the agent, or failed. */
void agent_when_idle(struct agent *agent, agent_done_fn fn, void *arg);
/* Something changed (a new token): retry registrations and pushes now. */
void agent_retry_now(struct agent *agent);
/*
 * Read the client's token file again: on SIGHUP, and by itself after a 403
 * (at most once per AGENT_TOKEN_RECHECK_MS) and every verify interval, so
 * a rotated token takes effect without a signal.  A new token is logged
 * (never its value) and retries everything at once.  1 if the token
 * changed, 0 if not (or there is no token file), -1 if the file could not
 * be read (err filled, the old token stays in use; with err NULL the
 * failure is logged, once per reason).
 */
int agent_reload_token(struct agent *agent, consul_error *err);

/*
 * Abandon pending work, deregister every service, then call done from the
 * loop (always: whatever the agent does).  Called again later, it calls the
 * new done once the deregistration has finished (at once if it already has).
 */
void agent_shutdown(struct agent *agent, agent_done_fn done, void *arg);

#endif
