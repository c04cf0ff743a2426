/*
 * agent.h - ostiary's session with the local Consul agent.
 *
 * Keeps one service registered and its TTL check fed:
 *   - registers, retrying with jittered exponential backoff while the agent
 *     is away;
 *   - pushes the current status at once when it changes and otherwise every
 *     heartbeat; only the latest status is held, never a queue;
 *   - re-registers when the agent has lost the registration (a push
 *     answered 404, or 500 "does not have associated TTL") and pushes the
 *     current status straight after;
 *   - deregisters on shutdown with a short timeout, so a hung agent delays
 *     exit by a bounded time.
 * At most one request is in flight; all of them run on the event loop.
 */
#ifndef OSTIARY_AGENT_H
#define OSTIARY_AGENT_H

#include <stdint.h>

#include <ostiary/consul.h>

#include "ev.h"

/* Bound on the deregistration at shutdown: a hung agent costs at most this. */
#define AGENT_DEREGISTER_TIMEOUT_MS 2000
#define AGENT_RETRY_BASE_MS 250

struct agent;

struct agent_settings {
	const consul_service *service; /* kept by the caller for the agent's lifetime */
	const char *check_id;          /* the TTL check to feed */
	int64_t heartbeat_ms;
	int64_t retry_max_ms; /* cap of the registration backoff */
};

typedef void (*agent_done_fn)(void *arg);

struct agent *agent_new(ev_loop *loop, consul_client *client, const struct agent_settings *s);
void agent_free(struct agent *agent);
/* Start registering; status pushes follow. */
void agent_start(struct agent *agent);
/* The status to report from now on; pushed at once if it changed. */
void agent_set_status(struct agent *agent, enum consul_status status, const char *output);
/* Abandon pending work, deregister, then call done from the loop (always:
 * whatever the agent does).  Called again later, it calls the new done
 * once the deregistration has finished (at once if it already has). */
void agent_shutdown(struct agent *agent, agent_done_fn done, void *arg);

#endif
