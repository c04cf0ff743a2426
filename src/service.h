/*
 * service.h - what the agent is told about each configured service: the
 * library's definition of the service and its TTL checks, handed to the
 * agent session to register and keep registered.  The check engine only
 * turns probe results into statuses; it reports them through the handles
 * made here.
 */
#ifndef OSTIARY_SERVICE_H
#define OSTIARY_SERVICE_H

#include <stddef.h>

#include <ostiary/consul.h>

#include "agent.h"
#include "conf.h"

struct services;

/* Give every service of conf (and each of its checks) to the agent
 * session.  conf must outlive the result.  NULL (err filled) when out of
 * memory. */
struct services *services_new(struct agent *agent, const struct conf *conf, consul_error *err);
/* The agent's handle for the index-th check of the configuration: the
 * services in order, each service's checks in order. */
struct agent_check *services_check(const struct services *services, size_t index);
void services_free(struct services *services);

#endif
