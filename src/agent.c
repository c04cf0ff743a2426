/* agent.c - registration and TTL pushes (see agent.h). */
#include "agent.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum agent_call_kind {
	AGENT_CALL_REGISTER,
	AGENT_CALL_PUSH,
	AGENT_CALL_DEREGISTER,
};

struct agent {
	ev_loop *loop;
	consul_client *client;
	struct agent_settings settings;
	char *base_url;

	bool registered;           /* the agent acknowledged our registration */
	bool register_sent;        /* we may have left something on the agent */
	bool register_sent_before; /* ... as it stood before the request in flight */
	bool push_due;
	bool agent_lost; /* "agent lost" was logged, "agent back" pending */
	int64_t backoff_ms;

	enum consul_status status; /* what we report */
	char *output;
	bool status_acked; /* the agent has seen `acked_status` */
	enum consul_status acked_status;
	char last_refusal[320]; /* the last refusal logged, to avoid repeating it */
	int64_t last_refusal_log;

	consul_call *inflight;
	enum agent_call_kind inflight_kind;
	enum consul_status inflight_status; /* what an in-flight push carries */

	bool shutting_down;
	bool shutdown_done;
	agent_done_fn done;
	void *done_arg;

	ev_timer heartbeat_timer;
	ev_timer retry_timer;
	ev_timer done_timer;
};

static void agent_kick(struct agent *agent);

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

/* ----------------------------------------------------------------- timers */

static int64_t
agent_heartbeat(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent *agent = arg;

	agent->push_due = true;
	agent_kick(agent);
	return agent->settings.heartbeat_ms;
}

static int64_t
agent_retry(ev_loop *loop, ev_timer *timer, void *arg)
{
	agent_kick(arg);
	return EV_TIMER_STOP;
}

static int64_t
agent_finish_shutdown(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct agent *agent = arg;

	agent_done_fn done = agent->done;

	agent->shutdown_done = true;
	agent->done = NULL;
	if (done != NULL)
		done(agent->done_arg);
	return EV_TIMER_STOP;
}

/* Equal jitter: half the delay fixed, half random, so many ostiary
 * instances restarted together do not hammer a recovering agent in step. */
static int64_t
agent_next_backoff(struct agent *agent)
{
	int64_t delay = agent->backoff_ms;
	int64_t half = delay / 2;

	agent->backoff_ms =
	        delay * 2 > agent->settings.retry_max_ms ? agent->settings.retry_max_ms : delay * 2;
	return half + (half > 0 ? random() % (half + 1) : 0);
}

/* ------------------------------------------------------------ reachability */

static void
agent_mark_reachable(struct agent *agent)
{
	if (agent->agent_lost) {
		agent->agent_lost = false;
		log_notice("agent is back at %s", agent->base_url);
	}
}

static void
agent_mark_lost(struct agent *agent, const char *why)
{
	if (!agent->agent_lost) {
		agent->agent_lost = true;
		log_warnx("agent lost at %s: %s; still supervising, will keep retrying",
		          agent->base_url, why);
	}
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

/* True when the failure means "the agent is not answering properly". */
static bool
agent_outcome_is_outage(enum consul_outcome outcome)
{
	return outcome == CONSUL_UNREACHABLE || outcome == CONSUL_SERVER_ERROR ||
	       outcome == CONSUL_BAD_RESPONSE;
}

/* ---------------------------------------------------------------- requests */

static void agent_call_done(ev_loop *loop, CURL *easy, CURLcode result, void *arg);

static void
agent_send(struct agent *agent, consul_call *call, enum agent_call_kind kind)
{
	if (call == NULL) {
		log_warnx("out of memory building an agent request");
		return;
	}
	if (ev_http_start(agent->loop, consul_call_easy(call), agent_call_done, agent) < 0) {
		log_warnx("cannot start %s", consul_call_describe(call));
		consul_call_free(call);
		return;
	}
	log_debug("%s", consul_call_describe(call));
	agent->inflight = call;
	agent->inflight_kind = kind;
}

static void
agent_send_register(struct agent *agent)
{
	agent->register_sent_before = agent->register_sent;
	agent->register_sent = true;
	agent_send(agent, consul_service_register_call(agent->client, agent->settings.service, 0),
	           AGENT_CALL_REGISTER);
}

static void
agent_send_push(struct agent *agent)
{
	agent->push_due = false;
	agent->inflight_status = agent->status;
	agent_send(agent,
	           consul_check_update_call(agent->client, agent->settings.check_id, agent->status,
	                                    agent->output),
	           AGENT_CALL_PUSH);
}

static void
agent_send_deregister(struct agent *agent)
{
	consul_call *call =
	        consul_service_deregister_call(agent->client, agent->settings.service->id);

	if (call != NULL)
		consul_call_set_timeout(call, AGENT_DEREGISTER_TIMEOUT_MS);
	agent_send(agent, call, AGENT_CALL_DEREGISTER);
}

/* Decide what to send next; one request at a time, most important first. */
static void
agent_kick(struct agent *agent)
{
	if (agent->inflight != NULL || agent->shutdown_done)
		return;
	if (agent->shutting_down) {
		if (agent->register_sent && !ev_timer_active(&agent->done_timer))
			agent_send_deregister(agent);
		if (agent->inflight == NULL && !ev_timer_active(&agent->done_timer))
			ev_timer_start(agent->loop, &agent->done_timer, 0);
		return;
	}
	if (!agent->registered) {
		if (!ev_timer_active(&agent->retry_timer))
			agent_send_register(agent);
		return;
	}
	if (agent->push_due)
		agent_send_push(agent);
}

/* ------------------------------------------------------------- completions */

static void
agent_register_done(struct agent *agent, const consul_response *resp)
{
	const consul_service *svc = agent->settings.service;
	char why[320];
	int64_t delay;

	if (resp->outcome == CONSUL_OK) {
		agent_mark_reachable(agent);
		agent->registered = true;
		agent->backoff_ms = AGENT_RETRY_BASE_MS;
		agent->status_acked = false; /* the agent keeps an old status: push ours */
		agent->push_due = true;
		log_notice("registered service %s (id %s) with the agent at %s", svc->name, svc->id,
		           agent->base_url);
		return;
	}
	/* A request that never connected left nothing behind to deregister. */
	if (resp->curl_code == CURLE_COULDNT_CONNECT ||
	    resp->curl_code == CURLE_COULDNT_RESOLVE_HOST)
		agent->register_sent = agent->register_sent_before;
	agent_describe_failure(resp, why, sizeof(why));
	delay = agent_next_backoff(agent);
	if (agent_outcome_is_outage(resp->outcome)) {
		agent_mark_lost(agent, why);
	} else {
		agent_mark_reachable(agent);
		agent_log_refusal(agent, "the registration", why);
	}
	log_info("registration of %s failed (%s); retrying in %lld ms", svc->id,
	         consul_outcome_name(resp->outcome), (long long)delay);
	ev_timer_start(agent->loop, &agent->retry_timer, delay);
}

static void
agent_push_done(struct agent *agent, const consul_response *resp, enum consul_status sent)
{
	char why[320];

	switch (resp->outcome) {
	case CONSUL_OK:
		agent_mark_reachable(agent);
		if (!agent->status_acked || agent->acked_status != sent)
			log_notice("check %s is %s%s%s", agent->settings.check_id,
			           consul_status_name(sent), sent == CONSUL_PASSING ? "" : ": ",
			           sent == CONSUL_PASSING ? "" : agent->output);
		agent->status_acked = true;
		agent->acked_status = sent;
		return;
	case CONSUL_GONE:
		agent_mark_reachable(agent);
		agent_describe_failure(resp, why, sizeof(why));
		log_warnx("registration lost (%s); registering again", why);
		agent->registered = false;
		agent->push_due = true;
		return;
	default:
		agent_describe_failure(resp, why, sizeof(why));
		if (agent_outcome_is_outage(resp->outcome)) {
			agent_mark_lost(agent, why);
		} else {
			agent_mark_reachable(agent);
			agent_log_refusal(agent, "the status update", why);
		}
		return;
	}
}

static void
agent_deregister_done(struct agent *agent, const consul_response *resp)
{
	char why[320];

	if (resp->outcome == CONSUL_OK || resp->outcome == CONSUL_GONE) {
		log_notice("deregistered service %s", agent->settings.service->id);
	} else {
		agent_describe_failure(resp, why, sizeof(why));
		log_warnx("could not deregister service %s (%s); the agent will remove it once its "
		          "check has been critical for the deregister-after time",
		          agent->settings.service->id, why);
	}
	ev_timer_start(agent->loop, &agent->done_timer, 0);
}

static void
agent_call_done(ev_loop *loop, CURL *easy, CURLcode result, void *arg)
{
	struct agent *agent = arg;
	consul_call *call = agent->inflight;
	const consul_response *resp = consul_call_finish(call, result);

	agent->inflight = NULL;
	log_debug("%s -> %ld %s", consul_call_describe(call), resp->status,
	          consul_outcome_name(resp->outcome));
	switch (agent->inflight_kind) {
	case AGENT_CALL_REGISTER:
		agent_register_done(agent, resp);
		break;
	case AGENT_CALL_PUSH:
		agent_push_done(agent, resp, agent->inflight_status);
		break;
	case AGENT_CALL_DEREGISTER:
		agent_deregister_done(agent, resp);
		break;
	}
	consul_call_free(call);
	agent_kick(agent);
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
	agent->base_url = consul_config_describe(consul_client_config(client));
	agent->output = strdup("");
	if (agent->base_url == NULL || agent->output == NULL) {
		agent_free(agent);
		return NULL;
	}
	agent->status = CONSUL_CRITICAL;
	agent->backoff_ms = AGENT_RETRY_BASE_MS;
	ev_timer_init(&agent->heartbeat_timer, agent_heartbeat, agent);
	ev_timer_init(&agent->retry_timer, agent_retry, agent);
	ev_timer_init(&agent->done_timer, agent_finish_shutdown, agent);
	return agent;
}

void
agent_free(struct agent *agent)
{
	if (agent == NULL)
		return;
	if (agent->inflight != NULL) {
		ev_http_cancel(agent->loop, consul_call_easy(agent->inflight));
		consul_call_free(agent->inflight);
	}
	ev_timer_stop(agent->loop, &agent->heartbeat_timer);
	ev_timer_stop(agent->loop, &agent->retry_timer);
	ev_timer_stop(agent->loop, &agent->done_timer);
	free(agent->base_url);
	free(agent->output);
	free(agent);
}

void
agent_start(struct agent *agent)
{
	ev_timer_start(agent->loop, &agent->heartbeat_timer, agent->settings.heartbeat_ms);
	agent_kick(agent);
}

void
agent_set_status(struct agent *agent, enum consul_status status, const char *output)
{
	char *copy;

	if (agent->status == status && strcmp(agent->output, output) == 0)
		return;
	copy = strdup(output);
	if (copy == NULL) {
		log_warnx("out of memory recording the check output");
		return;
	}
	free(agent->output);
	agent->output = copy;
	agent->status = status;
	agent->push_due = true;
	/* Push now, and count the next heartbeat from here. */
	if (!agent->shutting_down)
		ev_timer_start(agent->loop, &agent->heartbeat_timer, agent->settings.heartbeat_ms);
	agent_kick(agent);
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
	ev_timer_stop(agent->loop, &agent->heartbeat_timer);
	ev_timer_stop(agent->loop, &agent->retry_timer);
	/* A push or registration stuck on a hung agent must not hold up the
	 * deregistration: drop it and start over with a fresh connection. */
	if (agent->inflight != NULL && agent->inflight_kind != AGENT_CALL_DEREGISTER) {
		ev_http_cancel(agent->loop, consul_call_easy(agent->inflight));
		consul_call_free(agent->inflight);
		agent->inflight = NULL;
	}
	agent_kick(agent);
}
