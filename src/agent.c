/* agent.c - registration and TTL pushes (see agent.h). */
#include "agent.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "status.h"

enum agent_request_kind {
	AGENT_REGISTER,
	AGENT_PUSH,
	AGENT_DEREGISTER,
	AGENT_MAINTENANCE, /* service maintenance on, while draining */
	AGENT_VERIFY,      /* GET agent/checks: is everything of ours still there? */
	AGENT_SWEEP,       /* GET agent/services: leftovers of an earlier run */
	AGENT_REMOVE,      /* deregister such a leftover */
};

/* One request on the wire. */
struct agent_request {
	struct agent *agent;
	consul_call *call;
	enum agent_request_kind kind;
	struct agent_service *service;
	struct agent_check *check;  /* AGENT_PUSH */
	enum consul_status status;  /* AGENT_PUSH: what it carries */
	char *stale_id;             /* AGENT_REMOVE: the leftover's service ID */
	struct agent_request *next; /* in agent->inflight */
};

struct agent_service {
	struct agent *agent;
	const consul_service *def;
	bool registered;           /* the agent acknowledged the registration */
	bool register_sent;        /* something of ours may be on the agent */
	bool register_sent_before; /* ... as it stood before the request in flight */
	bool busy;                 /* queued for, or in, a registration */
	bool deregistered;
	bool maintenance_due; /* maintenance mode still to be switched on (or off) */
	bool maintenance_wanted; /* the operator's (ctl): kept until disabled */
	char *maintenance_reason;
	struct status_service *st;
	int64_t backoff_ms;
	ev_timer retry_timer;
	struct agent_check **checks; /* its own, to push after a registration */
	size_t nchecks;
	struct agent_service *next_queued;
};

struct agent_check {
	struct agent_service *service;
	char *id;
	int64_t heartbeat_ms;
	int64_t beat_phase; /* heartbeats go at beat_phase + k * heartbeat_ms */
	bool has_status;
	enum consul_status status;
	char *output;
	bool push_due;
	bool queued;
	bool in_flight;
	ev_timer heartbeat_timer;
	struct status_check *st;
	struct agent_check *next_queued;
};

struct agent {
	ev_loop *loop;
	consul_client *client;
	struct agent_settings settings;
	char *base_url;

	struct agent_service **services;
	size_t nservices;
	struct agent_check **checks;
	size_t nchecks;

	/* FIFO queues of work waiting for a free request slot */
	struct agent_service *register_head, *register_tail;
	struct agent_check *push_head, *push_tail;
	struct agent_request *inflight;
	int ninflight;

	bool agent_lost; /* "agent lost" was logged, "agent is back" pending */
	char last_refusal[320];
	int64_t last_refusal_log;
	ev_timer outage_timer; /* fail-closed: armed while the agent is lost */
	agent_outage_fn on_outage;
	agent_done_fn on_change; /* registered, lost, back: for sd_notify's STATUS */
	void *change_arg;
	void *outage_arg;

	ev_timer verify_timer;
	bool verify_due, verify_in_flight;
	size_t verify_next, verify_end; /* the services of the batch read back */
	/* The token file is read again on a 403 (at most once a second) and
	 * every verify interval, so a rotated token needs no signal. */
	ev_timer token_timer;
	int64_t token_read_at;
	char token_error[256]; /* the last failed re-read, said once */
	/* An earlier run's leftovers are looked for once; a failed look is
	 * tried again with the next registration or read-back, not at once. */
	bool sweep_pending, sweep_due, sweep_in_flight;

	bool draining;
	char *drain_reason;
	agent_done_fn idle_fn; /* called once nothing is queued or on the wire */
	void *idle_arg;
	size_t maintenance_pending; /* services with maintenance_due */

	bool shutting_down;
	bool shutdown_done;
	size_t deregister_next; /* next service to deregister */
	agent_done_fn done;
	void *done_arg;
	ev_timer shutdown_deadline;
	ev_timer done_timer;
};

static void agent_kick(struct agent *agent);
static void agent_token_recheck(struct agent *agent);

/* A one-line account of a failed call for the log (never holds the token). */
static void
agent_describe_failure(const consul_response *resp, char *buf, size_t len)
{
	if (resp->status == 0) {
		snprintf(buf, len, "%s",
		         resp->error[0] ? resp->error : curl_easy_strerror(resp->curl_code));
		return;
	}
	snprintf(buf, len, "HTTP %ld: %.200s", resp->status,
	         resp->body_len ? resp->body : consul_outcome_name(resp->outcome));
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* ------------------------------------------------------------------ queues */

static void
agent_queue_register(struct agent_service *service)
{
	struct agent *agent = service->agent;

	if (service->busy || service->registered || ev_timer_active(&service->retry_timer))
		return;
	service->busy = true;
	service->next_queued = NULL;
	if (agent->register_tail)
		agent->register_tail->next_queued = service;
	else
		agent->register_head = service;
	agent->register_tail = service;
}

static struct agent_service *
agent_pop_register(struct agent *agent)
{
	struct agent_service *service = agent->register_head;

	if (service != NULL) {
		agent->register_head = service->next_queued;
		if (agent->register_head == NULL)
			agent->register_tail = NULL;
	}
	return service;
}

/* A check has something to tell the agent: queue it once. */
static void
agent_mark_push(struct agent_check *check)
{
	struct agent *agent = check->service->agent;

	check->push_due = true;
	if (check->queued || check->in_flight || !check->has_status)
		return;
	check->queued = true;
	check->next_queued = NULL;
	if (agent->push_tail)
		agent->push_tail->next_queued = check;
	else
		agent->push_head = check;
	agent->push_tail = check;
}

static struct agent_check *
agent_pop_push(struct agent *agent)
{
	struct agent_check *check = agent->push_head;

	if (check != NULL) {
		agent->push_head = check->next_queued;
		if (agent->push_head == NULL)
			agent->push_tail = NULL;
		check->queued = false;
	}
	return check;
}

/* Re-registered: every check of the service tells its status again, since
 * the agent keeps an old status on re-registration (PR hashicorp/consul#4904)
 * or starts from critical after losing its state. */
static void
agent_mark_service_checks(struct agent_service *service)
{
	for (size_t i = 0; i < service->nchecks; i++)
		agent_mark_push(service->checks[i]);
}

/* Maintenance to be switched (on or off, as agent_send_maintenance
 * decides) once the service is registered. */
static void
agent_mark_maintenance(struct agent_service *service)
{
	if (service->maintenance_due)
		return;
	service->maintenance_due = true;
	service->agent->maintenance_pending++;
}

/* ----------------------------------------------------------- reachability */

static void
agent_changed(struct agent *agent)
{
	if (agent->on_change != NULL)
		agent->on_change(agent->change_arg);
}

static void
agent_mark_reachable(struct agent *agent)
{
	if (agent->agent_lost) {
		agent->agent_lost = false;
		status_agent_reachable(true);
		ev_timer_stop(agent->loop, &agent->outage_timer);
		log_notice("agent is back at %s", agent->base_url);
		agent_changed(agent);
	}
}

static void
agent_mark_lost(struct agent *agent, const char *why)
{
	if (agent->agent_lost)
		return;
	agent->agent_lost = true;
	status_agent_reachable(false);
	if (agent->settings.fail_closed_ms > 0 && !agent->shutting_down) {
		char limit[32];

		consul_duration_format(agent->settings.fail_closed_ms, limit, sizeof(limit));
		log_warnx("agent lost at %s: %s; will stop the command if it is not back within "
		          "%s (fail-closed)",
		          agent->base_url, why, limit);
		ev_timer_start(agent->loop, &agent->outage_timer, agent->settings.fail_closed_ms);
	} else {
		log_warnx("agent lost at %s: %s; still supervising, will keep retrying",
		          agent->base_url, why);
	}
	agent_changed(agent);
}

static int64_t
agent_outage_over_limit(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent *agent = arg;

	log_warnx("agent at %s unreachable for longer than the fail-closed limit", agent->base_url);
	if (agent->on_outage != NULL)
		agent->on_outage(agent->outage_arg);
	return EV_TIMER_STOP;
}

/* An agent that refuses us (403, 400) will usually keep refusing: say so
 * when the reason changes, and otherwise once a minute, not per attempt. */
static void
agent_log_refusal(struct agent *agent, const char *what, const char *why)
{
	int64_t now = ev_now(agent->loop);

	if (strcmp(why, agent->last_refusal) == 0 && now - agent->last_refusal_log < 60000)
		return;
	snprintf(agent->last_refusal, sizeof(agent->last_refusal), "%s", why);
	agent->last_refusal_log = now;
	log_warnx("agent refused %s: %s%s", what, why,
	          strstr(why, "HTTP 403") ? " (check the ACL token and its policy)" : "");
}

/* A 403 may mean the token was rotated: read the token file again soon
 * (from the loop, not inside the failed call's handling). */
static void
agent_token_recheck(struct agent *agent)
{
	int64_t since = ev_now(agent->loop) - agent->token_read_at;

	if (consul_client_config(agent->client)->token_file == NULL ||
	    ev_timer_active(&agent->token_timer) || agent->shutting_down)
		return;
	ev_timer_start(agent->loop, &agent->token_timer,
	               since >= AGENT_TOKEN_RECHECK_MS ? 0 : AGENT_TOKEN_RECHECK_MS - since);
}

/* True when the failure means "the agent is not answering properly". */
static bool
agent_outcome_is_outage(enum consul_outcome outcome)
{
	return outcome == CONSUL_UNREACHABLE || outcome == CONSUL_SERVER_ERROR ||
	       outcome == CONSUL_BAD_RESPONSE;
}

/* Outage or refusal: log it the right way; true if it was an outage. */
static bool
agent_note_failure(struct agent *agent, const consul_response *resp, const char *what, char *why,
                   size_t len)
{
	agent_describe_failure(resp, why, len);
	if (agent_outcome_is_outage(resp->outcome)) {
		agent_mark_lost(agent, why);
		return true;
	}
	agent_mark_reachable(agent);
	agent_log_refusal(agent, what, why);
	if (resp->outcome == CONSUL_DENIED)
		agent_token_recheck(agent);
	return false;
}

/* ---------------------------------------------------------------- requests */

static void agent_request_done(ev_loop *loop, CURL *easy, CURLcode result, void *arg);

static void
agent_unlink_request(struct agent *agent, struct agent_request *req)
{
	for (struct agent_request **p = &agent->inflight; *p; p = &(*p)->next) {
		if (*p == req) {
			*p = req->next;
			agent->ninflight--;
			return;
		}
	}
}

static void
agent_free_request(struct agent_request *req)
{
	consul_call_free(req->call);
	free(req->stale_id);
	free(req);
}

/* Put a call on the wire; the request, or NULL (logged) if it cannot go. */
static struct agent_request *
agent_send(struct agent *agent, consul_call *call, enum agent_request_kind kind,
           struct agent_service *service, struct agent_check *check)
{
	struct agent_request *req = calloc(1, sizeof(*req));

	if (call == NULL || req == NULL) {
		log_warnx("out of memory building an agent request");
		consul_call_free(call);
		free(req);
		return NULL;
	}
	*req = (struct agent_request){ agent,           call, kind, service, check,
		                       CONSUL_CRITICAL, NULL, NULL };
	if (check != NULL)
		req->status = check->status;
	if (ev_http_start(agent->loop, consul_call_easy(call), agent_request_done, req) < 0) {
		log_warnx("cannot start %s", consul_call_describe(call));
		agent_free_request(req);
		return NULL;
	}
	log_debug("%s", consul_call_describe(call));
	req->next = agent->inflight;
	agent->inflight = req;
	agent->ninflight++;
	return req;
}

static void
agent_send_register(struct agent_service *service)
{
	struct agent *agent = service->agent;

	service->register_sent_before = service->register_sent;
	service->register_sent = true;
	/* Replacing drops checks a previous run registered under this service
	 * and no longer has (hashicorp/consul agent.go addServiceInternal). */
	if (agent_send(agent,
	               consul_service_register_call(agent->client, service->def,
	                                            CONSUL_REPLACE_EXISTING_CHECKS),
	               AGENT_REGISTER, service, NULL) == NULL)
		service->busy = false;
}

static void
agent_send_push(struct agent_check *check)
{
	struct agent *agent = check->service->agent;

	check->push_due = false;
	status_check_pushed(check->st, check->status);
	check->in_flight = agent_send(agent,
	                              consul_check_update_call(agent->client, check->id,
	                                                       check->status, check->output),
	                              AGENT_PUSH, check->service, check) != NULL;
}

static void
agent_send_deregister(struct agent_service *service)
{
	struct agent *agent = service->agent;
	consul_call *call = consul_service_deregister_call(agent->client, service->def->id);

	if (agent_send(agent, call, AGENT_DEREGISTER, service, NULL) == NULL)
		service->deregistered = true;
}

static void
agent_send_maintenance(struct agent_service *service)
{
	struct agent *agent = service->agent;

	/* The drain's reason wins over the operator's: it says why now. */
	bool enable = agent->draining || service->maintenance_wanted;
	const char *reason = agent->draining ? agent->drain_reason : service->maintenance_reason;

	service->maintenance_due = false;
	agent->maintenance_pending--;
	agent_send(agent,
	           consul_service_maintenance_call(agent->client, service->def->id, enable,
	                                           reason),
	           AGENT_MAINTENANCE, service, NULL);
}

/* The next registered service still to be put in maintenance, or NULL. */
static struct agent_service *
agent_next_maintenance(struct agent *agent)
{
	if (agent->maintenance_pending == 0)
		return NULL;
	for (size_t i = 0; i < agent->nservices; i++) {
		struct agent_service *service = agent->services[i];
		if (service->maintenance_due && service->registered && !service->busy)
			return service;
	}
	return NULL;
}

/* A look for leftovers that failed goes again at the next occasion. */
static void
agent_retry_sweep(struct agent *agent)
{
	if (agent->sweep_pending && !agent->sweep_in_flight)
		agent->sweep_due = true;
}

/* The agent's whole service list of a busy node can be large: allow for it. */
#define AGENT_READBACK_MAX_BYTES (64 * 1024 * 1024)
/*
 * The read-back of our checks goes in batches of services, each asking the
 * agent (`filter`, agent/agent_endpoint.go AgentChecks) for this many of our
 * checks at most: its answer, some 300 bytes of JSON a check, and the tree
 * made of it stay small however many checks ostiary runs or the agent holds.
 * One regular expression a batch, `ServiceID matches "^(?:a|b)$"`, costs the
 * agent one match per check it holds; a chain of `ServiceID == "a" or ...`
 * would cost one comparison per check and service.  The filter travels in
 * the URL: keep it short.
 */
#define AGENT_VERIFY_BATCH_CHECKS 1024
#define AGENT_VERIFY_FILTER_MAX 8192
#define AGENT_VERIFY_FILTER_HEAD "ServiceID matches \"^(?:"
#define AGENT_VERIFY_FILTER_TAIL ")$\""
/* A check is well under 16 KiB of JSON (its output is cut at 4 KiB by the
 * agent, check_output_max_size): a batch's answer beyond this is garbage. */
#define AGENT_VERIFY_MAX_BYTES (AGENT_VERIFY_BATCH_CHECKS * 16 * 1024)

/* One character of a bexpr string literal, quoted as Go reads it. */
static size_t
agent_filter_put(char *buf, size_t n, unsigned char c)
{
	if (c < 0x20)
		return n + (size_t)snprintf(buf + n, 7, "\\u%04x", c);
	if (c == '\\' || c == '"')
		buf[n++] = '\\';
	buf[n++] = (char)c;
	return n;
}

/* Append one more alternative: ID as a literal in the regular expression
 * (Go's regexp syntax), which is itself in a bexpr string literal. */
static bool
agent_filter_add(char *buf, size_t *len, const char *id)
{
	size_t n = *len, room = AGENT_VERIFY_FILTER_MAX - sizeof(AGENT_VERIFY_FILTER_TAIL) - 16;

	if (n > sizeof(AGENT_VERIFY_FILTER_HEAD) - 1)
		buf[n++] = '|';
	for (const unsigned char *c = (const unsigned char *)id; *c; c++) {
		if (n >= room)
			return false;
		if (*c >= 0x20 && strchr("\\.+*?()|[]{}^$", *c) != NULL)
			n = agent_filter_put(buf, n, '\\');
		n = agent_filter_put(buf, n, *c);
	}
	*len = n;
	return true;
}

/* The filter for the next batch of registered services; false if none. */
static bool
agent_verify_filter(struct agent *agent, char *buf)
{
	size_t len = strlen(AGENT_VERIFY_FILTER_HEAD), nchecks = 0, i;

	memcpy(buf, AGENT_VERIFY_FILTER_HEAD, len);
	for (i = agent->verify_next; i < agent->nservices; i++) {
		struct agent_service *service = agent->services[i];
		size_t before = len;

		if (!service->registered || service->busy)
			continue;
		if (nchecks > 0 && nchecks + service->nchecks > AGENT_VERIFY_BATCH_CHECKS)
			break;
		if (!agent_filter_add(buf, &len, service->def->id)) {
			len = before;
			if (nchecks > 0)
				break;
			continue; /* an ID too long for any filter: not read back */
		}
		nchecks += service->nchecks + 1; /* none still makes an alternative */
	}
	agent->verify_end = i;
	memcpy(buf + len, AGENT_VERIFY_FILTER_TAIL, sizeof(AGENT_VERIFY_FILTER_TAIL));
	return nchecks > 0;
}

static void
agent_send_readback(struct agent *agent, enum agent_request_kind kind)
{
	char filter[AGENT_VERIFY_FILTER_MAX];
	consul_call *call;

	if (kind == AGENT_SWEEP) {
		if ((call = consul_services_call(agent->client)) != NULL)
			consul_call_set_max_body(call, AGENT_READBACK_MAX_BYTES);
		agent->sweep_in_flight = agent_send(agent, call, kind, NULL, NULL) != NULL;
		return;
	}
	if (!agent_verify_filter(agent, filter)) {
		agent->verify_next = 0; /* nothing (more) registered to read back */
		return;
	}
	if ((call = consul_checks_filtered_call(agent->client, filter)) != NULL)
		consul_call_set_max_body(call, AGENT_VERIFY_MAX_BYTES);
	agent->verify_in_flight = agent_send(agent, call, kind, NULL, NULL) != NULL;
}

/* The next service that may have left something on the agent, or NULL. */
static struct agent_service *
agent_next_deregistration(struct agent *agent)
{
	while (agent->deregister_next < agent->nservices) {
		struct agent_service *service = agent->services[agent->deregister_next++];
		if (service->register_sent)
			return service;
		service->deregistered = true;
	}
	return NULL;
}

static void agent_finish_shutdown(struct agent *agent);

/* Fill the free request slots, most important work first. */
static void
agent_kick(struct agent *agent)
{
	if (agent->shutdown_done)
		return;
	while (agent->ninflight < agent->settings.max_inflight) {
		struct agent_service *service;
		struct agent_check *check;

		if (agent->shutting_down) {
			if ((service = agent_next_deregistration(agent)) == NULL)
				break;
			agent_send_deregister(service);
		} else if ((service = agent_pop_register(agent)) != NULL) {
			agent_send_register(service);
		} else if ((service = agent_next_maintenance(agent)) != NULL) {
			agent_send_maintenance(service);
		} else if (agent->sweep_due && !agent->sweep_in_flight) {
			agent->sweep_due = false;
			agent_send_readback(agent, AGENT_SWEEP);
		} else if (agent->verify_due && !agent->verify_in_flight) {
			agent->verify_due = false;
			agent_send_readback(agent, AGENT_VERIFY);
		} else if ((check = agent_pop_push(agent)) != NULL) {
			/* Not registered (yet, or any more): the registration
			 * pushes every check of the service when it succeeds. */
			if (check->service->registered)
				agent_send_push(check);
		} else {
			break;
		}
	}
	if (agent->shutting_down && agent->ninflight == 0 &&
	    agent->deregister_next >= agent->nservices)
		agent_finish_shutdown(agent);
	if (agent->idle_fn != NULL && agent->ninflight == 0 && agent->register_head == NULL &&
	    agent->push_head == NULL && agent_next_maintenance(agent) == NULL) {
		agent_done_fn fn = agent->idle_fn;

		agent->idle_fn = NULL;
		fn(agent->idle_arg);
	}
}

/* ------------------------------------------------------------- completions */

/* Equal jitter: half the delay fixed, half random, so many ostiary
 * instances restarted together do not hammer a recovering agent in step. */
static int64_t
agent_next_backoff(struct agent_service *service)
{
	int64_t delay = service->backoff_ms;
	int64_t half = delay / 2;
	int64_t cap = service->agent->settings.retry_max_ms;

	service->backoff_ms = delay * 2 > cap ? cap : delay * 2;
	return half + (half > 0 ? random() % (half + 1) : 0);
}

static void
agent_register_done(struct agent_request *req, const consul_response *resp)
{
	struct agent_service *service = req->service;
	const consul_service *def = service->def;
	char why[320];
	int64_t delay;

	service->busy = false;
	if (resp->outcome == CONSUL_OK) {
		agent_mark_reachable(req->agent);
		service->registered = true;
		status_service_registered(service->st, true);
		service->backoff_ms = AGENT_RETRY_BASE_MS;
		log_notice("registered service %s (id %s) with the agent at %s", def->name, def->id,
		           req->agent->base_url);
		agent_mark_service_checks(service);
		agent_retry_sweep(req->agent);
		agent_changed(req->agent);
		/* Registering replaced every check, maintenance included. */
		if (req->agent->draining || service->maintenance_wanted)
			agent_mark_maintenance(service);
		return;
	}
	/* A request that never connected left nothing behind to deregister. */
	if (resp->curl_code == CURLE_COULDNT_CONNECT ||
	    resp->curl_code == CURLE_COULDNT_RESOLVE_HOST)
		service->register_sent = service->register_sent_before;
	agent_note_failure(req->agent, resp, "the registration", why, sizeof(why));
	delay = agent_next_backoff(service);
	log_info("registration of %s failed (%s); retrying in %lld ms", def->id,
	         consul_outcome_name(resp->outcome), (long long)delay);
	ev_timer_start(req->agent->loop, &service->retry_timer, delay);
}

static void
agent_push_done(struct agent_request *req, const consul_response *resp)
{
	struct agent_check *check = req->check;
	struct agent_service *service = req->service;
	char why[320];

	check->in_flight = false;
	if (resp->outcome == CONSUL_OK) {
		agent_mark_reachable(req->agent);
		status_check_confirmed(check->st, req->status);
	} else if (resp->outcome == CONSUL_GONE) {
		agent_mark_reachable(req->agent);
		agent_describe_failure(resp, why, sizeof(why));
		if (service->registered)
			log_warnx("registration of %s lost (%s); registering again",
			          service->def->id, why);
		service->registered = false;
		status_service_registered(service->st, false);
		check->push_due = true;
		agent_queue_register(service);
		return;
	} else {
		agent_note_failure(req->agent, resp, "the status update", why, sizeof(why));
	}
	/* The status changed while this push was on the wire: send the news. */
	if (check->push_due || check->status != req->status)
		agent_mark_push(check);
}

static void
agent_deregister_done(struct agent_request *req, const consul_response *resp)
{
	char why[320];

	req->service->deregistered = true;
	status_service_registered(req->service->st, false);
	if (resp->outcome == CONSUL_OK || resp->outcome == CONSUL_GONE) {
		log_notice("deregistered service %s", req->service->def->id);
		return;
	}
	agent_describe_failure(resp, why, sizeof(why));
	log_warnx("could not deregister service %s (%s); the agent will remove it once its "
	          "checks have been critical for the deregister-after time",
	          req->service->def->id, why);
}

static void
agent_maintenance_done(struct agent_request *req, const consul_response *resp)
{
	char why[320];

	if (resp->outcome == CONSUL_OK) {
		if (req->agent->draining || req->service->maintenance_wanted)
			log_notice("service %s is in maintenance: no new traffic",
			           req->service->def->id);
		else
			log_notice("service %s is out of maintenance", req->service->def->id);
		return;
	}
	agent_note_failure(req->agent, resp, "maintenance mode", why, sizeof(why));
	log_info("could not put %s in maintenance (%s)", req->service->def->id, why);
}

/* The agent's status of one of our checks is not what we last decided. */
static void
agent_verify_check(struct agent_check *check, json_t *on_agent)
{
	const char *status = json_string_value(json_object_get(on_agent, "Status"));
	enum consul_status confirmed;

	if (status != NULL && consul_status_parse(status, &confirmed) == 0)
		status_check_confirmed(check->st, confirmed);
	if (!check->has_status || check->in_flight || check->queued || status == NULL ||
	    strcmp(status, consul_status_name(check->status)) == 0)
		return;
	log_info("check %s is %s on the agent, not %s; pushing it again", check->id, status,
	         consul_status_name(check->status));
	agent_mark_push(check);
}

/* The agent's maintenance check says something else than the operator
 * asked for (a failed switch, or someone else's): switch it again.  This is
 * the retry of a failed maintenance request, once per verify interval. */
static void
agent_verify_maintenance(struct agent_service *service, json_t *checks)
{
	char id[512];
	bool on_agent;

	snprintf(id, sizeof(id), "_service_maintenance:%s", service->def->id);
	on_agent = json_object_get(checks, id) != NULL;
	if (on_agent == service->maintenance_wanted)
		return;
	log_info("service %s is %s maintenance on the agent; switching it again",
	         service->def->id, on_agent ? "in" : "not in");
	agent_mark_maintenance(service);
}

/* The batch's services: is every check of theirs still there, as we said? */
static void
agent_verify_services(struct agent *agent, json_t *checks)
{
	for (size_t i = agent->verify_next; i < agent->verify_end && i < agent->nservices; i++) {
		struct agent_service *service = agent->services[i];

		if (!service->registered || service->busy || agent->shutting_down)
			continue;
		for (size_t k = 0; k < service->nchecks; k++) {
			json_t *found = json_object_get(checks, service->checks[k]->id);

			if (found != NULL) {
				agent_verify_check(service->checks[k], found);
				continue;
			}
			log_warnx("check %s of service %s is gone from the agent (removed by "
			          "someone else?); registering again",
			          service->checks[k]->id, service->def->id);
			service->registered = false;
			status_service_registered(service->st, false);
			agent_queue_register(service);
			break;
		}
		if (service->registered)
			agent_verify_maintenance(service, checks);
	}
}

/* Did someone remove a service or check of ours?  Register it again.  The
 * next batch follows at once; a failed one starts over at the next tick. */
static void
agent_verify_done(struct agent_request *req, const consul_response *resp)
{
	struct agent *agent = req->agent;
	json_t *checks;
	char why[320];

	agent->verify_in_flight = false;
	if (resp->outcome != CONSUL_OK) {
		agent->verify_next = 0;
		agent_note_failure(agent, resp, "the read-back of our checks", why, sizeof(why));
		return;
	}
	agent_mark_reachable(agent);
	if ((checks = json_loads(resp->body, 0, NULL)) == NULL || !json_is_object(checks)) {
		agent->verify_next = 0;
		log_info("read-back of our checks: the agent's answer is not a JSON object");
		json_decref(checks);
		return;
	}
	agent_verify_services(agent, checks);
	json_decref(checks);
	agent->verify_next = agent->verify_end;
	if (agent->verify_next < agent->nservices) {
		agent->verify_due = true;
		return;
	}
	agent->verify_next = 0;
	mem_give_back();
}

static bool
agent_owns_service_id(const struct agent *agent, const char *id)
{
	for (size_t i = 0; i < agent->nservices; i++)
		if (strcmp(agent->services[i]->def->id, id) == 0)
			return true;
	return false;
}

/* Services marked with our owner that we no longer have: a crashed earlier
 * run left them.  Anything without our mark is never touched. */
static void
agent_sweep_done(struct agent_request *req, const consul_response *resp)
{
	struct agent *agent = req->agent;
	const char *id;
	json_t *services, *service;
	char why[320];

	agent->sweep_in_flight = false;
	if (resp->outcome != CONSUL_OK) {
		agent_note_failure(agent, resp, "the look for leftovers", why, sizeof(why));
		return;
	}
	agent->sweep_pending = false;
	if ((services = json_loads(resp->body, 0, NULL)) == NULL || !json_is_object(services)) {
		json_decref(services);
		return;
	}
	json_object_foreach(services, id, service)
	{
		const char *owner = json_string_value(json_object_get(
		        json_object_get(service, "Meta"), agent->settings.owner_key));
		struct agent_request *removal;

		if (owner == NULL || strcmp(owner, agent->settings.owner) != 0 ||
		    agent_owns_service_id(agent, id))
			continue;
		log_notice("removing service %s, left on the agent by an earlier run (owner %s)",
		           id, owner);
		removal = agent_send(agent, consul_service_deregister_call(agent->client, id),
		                     AGENT_REMOVE, NULL, NULL);
		if (removal != NULL)
			removal->stale_id = strdup(id);
	}
	json_decref(services);
}

static void
agent_remove_done(struct agent_request *req, const consul_response *resp)
{
	char why[320];

	if (resp->outcome == CONSUL_OK || resp->outcome == CONSUL_GONE)
		return;
	agent_describe_failure(resp, why, sizeof(why));
	log_warnx("could not remove leftover service %s (%s)", req->stale_id ? req->stale_id : "?",
	          why);
}

/* The endpoint label of ostiary_agent_requests_total. */
static const char *const agent_endpoint_names[] = {
	[AGENT_REGISTER] = "register",       [AGENT_PUSH] = "update",
	[AGENT_DEREGISTER] = "deregister",   [AGENT_MAINTENANCE] = "maintenance",
	[AGENT_VERIFY] = "checks",           [AGENT_SWEEP] = "services",
	[AGENT_REMOVE] = "deregister",
};

/* Count the request and how it went in the status snapshot. */
static void
agent_announce(const struct agent_request *req, CURL *easy, const consul_response *resp)
{
	curl_off_t us = 0;
	char why[320];

	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us);
	status_agent_request(agent_endpoint_names[req->kind], consul_outcome_name(resp->outcome),
	                     (int64_t)us);
	if (resp->outcome == CONSUL_OK) {
		status_agent_success();
		return;
	}
	agent_describe_failure(resp, why, sizeof(why));
	status_agent_error(why);
}

static void
agent_request_done(ev_loop *loop, CURL *easy, CURLcode result, void *arg)
{
	struct agent_request *req = arg;
	struct agent *agent = req->agent;
	const consul_response *resp = consul_call_finish(req->call, result);

	agent_unlink_request(agent, req);
	agent_announce(req, easy, resp);
	log_debug("%s -> %ld %s", consul_call_describe(req->call), resp->status,
	          consul_outcome_name(resp->outcome));
	switch (req->kind) {
	case AGENT_REGISTER:
		agent_register_done(req, resp);
		break;
	case AGENT_PUSH:
		agent_push_done(req, resp);
		break;
	case AGENT_DEREGISTER:
		agent_deregister_done(req, resp);
		break;
	case AGENT_MAINTENANCE:
		agent_maintenance_done(req, resp);
		break;
	case AGENT_VERIFY:
		agent_verify_done(req, resp);
		break;
	case AGENT_SWEEP:
		agent_sweep_done(req, resp);
		break;
	case AGENT_REMOVE:
		agent_remove_done(req, resp);
		break;
	}
	agent_free_request(req);
	agent_kick(agent);
}

/* ----------------------------------------------------------------- timers */

/*
 * The delay to the check's next heartbeat, in (0, heartbeat_ms]: heartbeats
 * keep their own phase whenever a status change is pushed in between, so a
 * push never waits longer than heartbeat_ms, and the phases of all checks
 * (see agent_add_check) spread the pushes evenly over the period instead
 * of repeating the burst in which the first results arrived.
 */
static int64_t
agent_next_beat(const struct agent_check *check)
{
	int64_t since = (ev_clock_ms() - check->beat_phase) % check->heartbeat_ms;

	return check->heartbeat_ms - (since < 0 ? since + check->heartbeat_ms : since);
}

static int64_t
agent_heartbeat(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent_check *check = arg;

	agent_mark_push(check);
	agent_kick(check->service->agent);
	return agent_next_beat(check);
}

static int64_t
agent_retry(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent_service *service = arg;

	agent_queue_register(service);
	agent_kick(service->agent);
	return EV_TIMER_STOP;
}

static int64_t
agent_token_tick(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent *agent = arg;

	agent_reload_token(agent, NULL);
	return EV_TIMER_STOP;
}

static int64_t
agent_verify_tick(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent *agent = arg;

	if (agent->shutting_down)
		return EV_TIMER_STOP;
	agent_reload_token(agent, NULL);
	if (!agent->draining) {
		agent->verify_due = true;
		agent_retry_sweep(agent);
		agent_kick(agent);
	}
	return agent->settings.verify_interval_ms;
}

static int64_t
agent_call_done_fn(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent *agent = arg;
	agent_done_fn done = agent->done;

	agent->done = NULL;
	if (done != NULL)
		done(agent->done_arg);
	return EV_TIMER_STOP;
}

/* Drop every request still on the wire (a hung agent must not hold us). */
static void
agent_cancel_requests(struct agent *agent, bool keep_deregistrations)
{
	struct agent_request **p = &agent->inflight;

	while (*p != NULL) {
		struct agent_request *req = *p;
		if (keep_deregistrations && req->kind == AGENT_DEREGISTER) {
			p = &req->next;
			continue;
		}
		*p = req->next;
		agent->ninflight--;
		if (req->kind == AGENT_DEREGISTER)
			log_warnx("gave up deregistering %s after %d ms; the agent will remove it "
			          "after the deregister-after time",
			          req->service->def->id, AGENT_SHUTDOWN_TIMEOUT_MS);
		ev_http_cancel(agent->loop, consul_call_easy(req->call));
		agent_free_request(req);
	}
}

static int64_t
agent_shutdown_overdue(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent *agent = arg;

	agent_cancel_requests(agent, false);
	agent->deregister_next = agent->nservices;
	agent_finish_shutdown(agent);
	return EV_TIMER_STOP;
}

static void
agent_finish_shutdown(struct agent *agent)
{
	if (agent->shutdown_done)
		return;
	agent->shutdown_done = true;
	ev_timer_stop(agent->loop, &agent->shutdown_deadline);
	ev_timer_start(agent->loop, &agent->done_timer, 0);
}

/* -------------------------------------------------------------- lifecycle */

struct agent *
agent_new(ev_loop *loop, consul_client *client, const struct agent_settings *settings)
{
	struct agent *agent = calloc(1, sizeof(*agent));

	if (agent == NULL)
		return NULL;
	agent->loop = loop;
	agent->client = client;
	agent->settings = *settings;
	if (agent->settings.max_inflight <= 0)
		agent->settings.max_inflight = AGENT_DEFAULT_MAX_INFLIGHT;
	agent->base_url = consul_config_describe(consul_client_config(client));
	if (agent->base_url == NULL) {
		free(agent);
		return NULL;
	}
	ev_timer_init(&agent->shutdown_deadline, agent_shutdown_overdue, agent);
	ev_timer_init(&agent->done_timer, agent_call_done_fn, agent);
	ev_timer_init(&agent->outage_timer, agent_outage_over_limit, agent);
	ev_timer_init(&agent->verify_timer, agent_verify_tick, agent);
	ev_timer_init(&agent->token_timer, agent_token_tick, agent);
	return agent;
}

/* Append ptr to a growable array of pointers. */
static int
agent_append(void *array, size_t *n, void *ptr)
{
	void ***p = array;
	void **grown = realloc(*p, (*n + 1) * sizeof(void *));

	if (grown == NULL)
		return -1;
	grown[(*n)++] = ptr;
	*p = grown;
	return 0;
}

struct agent_service *
agent_add_service(struct agent *agent, const consul_service *def)
{
	struct agent_service *service = calloc(1, sizeof(*service));

	if (service == NULL || agent_append(&agent->services, &agent->nservices, service) < 0) {
		free(service);
		return NULL;
	}
	service->agent = agent;
	service->def = def;
	service->st = status_service(def->id);
	service->backoff_ms = AGENT_RETRY_BASE_MS;
	ev_timer_init(&service->retry_timer, agent_retry, service);
	return service;
}

struct agent_check *
agent_add_check(struct agent_service *service, const char *check_id, int64_t heartbeat_ms)
{
	struct agent *agent = service->agent;
	struct agent_check *check = calloc(1, sizeof(*check));

	if (check == NULL || (check->id = strdup(check_id)) == NULL ||
	    (check->output = strdup("")) == NULL ||
	    agent_append(&agent->checks, &agent->nchecks, check) < 0) {
		if (check != NULL) {
			free(check->id);
			free(check->output);
		}
		free(check);
		return NULL;
	}
	if (agent_append(&service->checks, &service->nchecks, check) < 0) {
		agent->nchecks--; /* agent_free must not see it twice or half-made */
		free(check->id);
		free(check->output);
		free(check);
		return NULL;
	}
	check->service = service;
	check->st = status_check(check_id);
	check->heartbeat_ms = heartbeat_ms;
	/* The n-th check's phase is the fractional part of n times the golden
	 * ratio (Fibonacci hashing: 2^64 / phi), evenly spread over the period
	 * for any number of checks. */
	check->beat_phase = (int64_t)((((uint64_t)agent->nchecks * UINT64_C(0x9E3779B97F4A7C15)) >>
	                               32) * (uint64_t)heartbeat_ms >> 32);
	check->status = CONSUL_CRITICAL;
	ev_timer_init(&check->heartbeat_timer, agent_heartbeat, check);
	/* Heartbeats of many checks go out together (see ev_timer_set_slack). */
	ev_timer_set_period_slack(&check->heartbeat_timer, heartbeat_ms);
	return check;
}

void
agent_start(struct agent *agent)
{
	for (size_t i = 0; i < agent->nservices; i++)
		agent_queue_register(agent->services[i]);
	for (size_t i = 0; i < agent->nchecks; i++)
		ev_timer_start(agent->loop, &agent->checks[i]->heartbeat_timer,
		               agent_next_beat(agent->checks[i]));
	agent->sweep_pending = agent->sweep_due = agent->settings.owner != NULL;
	if (agent->settings.verify_interval_ms > 0)
		ev_timer_start(agent->loop, &agent->verify_timer,
		               agent->settings.verify_interval_ms);
	agent_kick(agent);
}

void
agent_on_outage(struct agent *agent, agent_outage_fn fn, void *arg)
{
	agent->on_outage = fn;
	agent->outage_arg = arg;
}

void
agent_on_change(struct agent *agent, agent_done_fn fn, void *arg)
{
	agent->on_change = fn;
	agent->change_arg = arg;
}

bool
agent_reachable(const struct agent *agent)
{
	return !agent->agent_lost;
}

size_t
agent_registered(const struct agent *agent)
{
	size_t n = 0;

	for (size_t i = 0; i < agent->nservices; i++)
		n += agent->services[i]->registered;
	return n;
}

void
agent_drain(struct agent *agent, const char *reason)
{
	if (agent->draining || agent->shutting_down)
		return;
	agent->draining = true;
	ev_timer_stop(agent->loop, &agent->verify_timer);
	free(agent->drain_reason);
	if ((agent->drain_reason = strdup(reason)) == NULL)
		log_warnx("out of memory: maintenance without a reason");
	for (size_t i = 0; i < agent->nservices; i++) {
		agent_mark_maintenance(agent->services[i]);
		status_service_maintenance(agent->services[i]->st, true, reason);
	}
	agent_kick(agent);
}

/* Back to what the operator asked for: out of maintenance, or in it with
 * the operator's reason. */
void
agent_undrain(struct agent *agent)
{
	if (!agent->draining || agent->shutting_down)
		return;
	agent->draining = false;
	if (agent->settings.verify_interval_ms > 0)
		ev_timer_start(agent->loop, &agent->verify_timer, agent->settings.verify_interval_ms);
	for (size_t i = 0; i < agent->nservices; i++) {
		struct agent_service *service = agent->services[i];

		agent_mark_maintenance(service);
		status_service_maintenance(service->st, service->maintenance_wanted,
		                           service->maintenance_reason);
	}
	agent_kick(agent);
}

int
agent_maintenance(struct agent *agent, const char *service_id, bool enable, const char *reason,
                  char *why, size_t len)
{
	int n = 0;

	if (agent->draining || agent->shutting_down) {
		snprintf(why, len, "ostiary is draining (stopping, or restarting the command for new "
		         "configuration): its services are in maintenance until that is over");
		return -1;
	}
	for (size_t i = 0; i < agent->nservices; i++) {
		struct agent_service *service = agent->services[i];
		char *copy = NULL;

		if (service_id != NULL && strcmp(service->def->id, service_id) != 0)
			continue;
		if (enable && reason != NULL && (copy = strdup(reason)) == NULL) {
			snprintf(why, len, "out of memory");
			return -1;
		}
		free(service->maintenance_reason);
		service->maintenance_reason = copy;
		service->maintenance_wanted = enable;
		status_service_maintenance(service->st, enable, reason);
		agent_mark_maintenance(service);
		n++;
	}
	if (n == 0) {
		snprintf(why, len, "no service with ID \"%s\"", service_id);
		return -1;
	}
	log_notice("maintenance %s for %s%s (asked on the control socket)",
	           enable ? "enabled" : "disabled", service_id ? "service " : "every service",
	           service_id ? service_id : "");
	agent_kick(agent);
	return n;
}

void
agent_when_idle(struct agent *agent, agent_done_fn fn, void *arg)
{
	agent->idle_fn = fn;
	agent->idle_arg = arg;
	agent_kick(agent);
}

int
agent_reload_token(struct agent *agent, consul_error *err)
{
	const char *path = consul_client_config(agent->client)->token_file;
	consul_error mine = { 0 };
	int changed;

	if (path == NULL)
		return 0;
	agent->token_read_at = ev_now(agent->loop);
	changed = consul_client_reload_token(agent->client, err ? err : &mine);
	if (changed < 0) {
		/* Said once per reason when nobody asked (a 403, the interval). */
		if (err == NULL && strcmp(mine.text, agent->token_error) != 0)
			log_warnx("%s; keeping the token in use", mine.text);
		snprintf(agent->token_error, sizeof(agent->token_error), "%s",
		         (err ? err : &mine)->text);
		return -1;
	}
	agent->token_error[0] = '\0';
	if (changed) {
		log_notice("re-read the token file %s: new token in use", path);
		agent_retry_now(agent);
	}
	return changed;
}

void
agent_retry_now(struct agent *agent)
{
	if (agent->shutting_down)
		return;
	for (size_t i = 0; i < agent->nservices; i++) {
		struct agent_service *service = agent->services[i];

		service->backoff_ms = AGENT_RETRY_BASE_MS;
		if (ev_timer_active(&service->retry_timer)) {
			ev_timer_stop(agent->loop, &service->retry_timer);
			agent_queue_register(service);
		}
	}
	for (size_t i = 0; i < agent->nchecks; i++)
		agent_mark_push(agent->checks[i]);
	agent_retry_sweep(agent);
	agent->last_refusal[0] = '\0'; /* a new refusal is news */
	agent_kick(agent);
}

void
agent_check_report(struct agent_check *check, enum consul_status status, const char *output,
                   bool now)
{
	struct agent *agent = check->service->agent;
	bool status_changed = !check->has_status || check->status != status;
	bool output_changed = strcmp(check->output, output) != 0;

	if (output_changed) {
		char *copy = strdup(output);
		if (copy == NULL) {
			log_warnx("out of memory recording the output of %s", check->id);
			return;
		}
		free(check->output);
		check->output = copy;
	}
	check->status = status;
	check->has_status = true;
	status_check_reported(check->st, status, check->output);
	if (!(status_changed || (now && output_changed)) || agent->shutting_down)
		return; /* the next heartbeat carries the new output */
	agent_mark_push(check);
	if (!ev_timer_active(&check->heartbeat_timer))
		ev_timer_start(agent->loop, &check->heartbeat_timer, agent_next_beat(check));
	agent_kick(agent);
}

const char *
agent_check_unsent(const struct agent_check *check)
{
	if (check->service->agent->agent_lost)
		return "the agent is unreachable";
	if (!check->service->registered)
		return "the service is not registered yet";
	return NULL;
}

void
agent_shutdown(struct agent *agent, agent_done_fn done, void *arg)
{
	agent->done = done;
	agent->done_arg = arg;
	if (agent->shutdown_done) {
		/* Already deregistered: answer again, from the loop. */
		ev_timer_start(agent->loop, &agent->done_timer, 0);
		return;
	}
	if (agent->shutting_down)
		return;
	agent->shutting_down = true;
	ev_timer_stop(agent->loop, &agent->verify_timer);
	ev_timer_stop(agent->loop, &agent->token_timer);
	ev_timer_stop(agent->loop, &agent->outage_timer);
	agent->maintenance_pending = 0;
	agent->verify_due = agent->sweep_due = false;
	for (size_t i = 0; i < agent->nchecks; i++)
		ev_timer_stop(agent->loop, &agent->checks[i]->heartbeat_timer);
	for (size_t i = 0; i < agent->nservices; i++)
		ev_timer_stop(agent->loop, &agent->services[i]->retry_timer);
	agent->register_head = agent->register_tail = NULL;
	agent->push_head = agent->push_tail = NULL;
	/* A push or registration stuck on a hung agent must not hold up the
	 * deregistration: drop them and start over on fresh connections. */
	agent_cancel_requests(agent, true);
	ev_timer_start(agent->loop, &agent->shutdown_deadline, AGENT_SHUTDOWN_TIMEOUT_MS);
	agent_kick(agent);
}

void
agent_free(struct agent *agent)
{
	if (agent == NULL)
		return;
	agent_cancel_requests(agent, false);
	for (size_t i = 0; i < agent->nchecks; i++) {
		ev_timer_stop(agent->loop, &agent->checks[i]->heartbeat_timer);
		free(agent->checks[i]->id);
		free(agent->checks[i]->output);
		free(agent->checks[i]);
	}
	for (size_t i = 0; i < agent->nservices; i++) {
		ev_timer_stop(agent->loop, &agent->services[i]->retry_timer);
		free(agent->services[i]->maintenance_reason);
		free(agent->services[i]->checks);
		free(agent->services[i]);
	}
	ev_timer_stop(agent->loop, &agent->shutdown_deadline);
	ev_timer_stop(agent->loop, &agent->done_timer);
	ev_timer_stop(agent->loop, &agent->outage_timer);
	ev_timer_stop(agent->loop, &agent->verify_timer);
	ev_timer_stop(agent->loop, &agent->token_timer);
	free(agent->drain_reason);
	free(agent->checks);
	free(agent->services);
	free(agent->base_url);
	free(agent);
}
