/*
 * Sessions (/v1/session/...): agent/session_endpoint.go; with a KV acquire
 * and release they make locks (the `consul lock` pattern).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Durations as the agent's FixupLockDelay/TTL parsing takes them: "<n>ms" is
 * a Go duration; a TTL must be 10s..24h (checked by the agent). */
static json_t *
session_duration(int64_t ms)
{
	char text[40];

	consul_duration_format(ms, text, sizeof text);
	return json_string(text);
}

static json_t *
session_body(const consul_session_def *def)
{
	json_t *body = json_object();
	int rc = 0;

	if (!body)
		return NULL;
	if (def->name)
		rc |= json_object_set_new(body, "Name", ostiary_definition_json_string(def->name));
	if (def->node)
		rc |= json_object_set_new(body, "Node", ostiary_definition_json_string(def->node));
	if (def->ttl_ms > 0)
		rc |= json_object_set_new(body, "TTL", session_duration(def->ttl_ms));
	if (def->lock_delay_ms >= 0)
		rc |= json_object_set_new(body, "LockDelay", session_duration(def->lock_delay_ms));
	rc |= json_object_set_new(
	        body, "Behavior",
	        json_string(def->behavior == CONSUL_SESSION_DELETE ? "delete" : "release"));
	if (def->checks) {
		json_t *checks = json_array();

		for (size_t i = 0; checks && i < def->nchecks; i++)
			rc |= json_array_append_new(checks,
			                            ostiary_definition_json_string(def->checks[i]));
		rc |= json_object_set_new(body, "NodeChecks", checks);
	}
	if (rc) {
		json_decref(body);
		return NULL;
	}
	return body;
}

static consul_call *
session_write_options(consul_call *call, const consul_query *q)
{
	consul_query w = { 0 };

	if (q) {
		w.dc = q->dc;
		w.ns = q->ns;
		w.partition = q->partition;
	}
	return ostiary_query_apply(call, &w);
}

consul_call *
consul_session_create_call(consul_client *c, const consul_session_def *def, const consul_query *q)
{
	static const consul_session_def defaults = { .lock_delay_ms = -1 };
	consul_call *call;

	if (!def)
		def = &defaults;
	if (def->behavior != CONSUL_SESSION_RELEASE && def->behavior != CONSUL_SESSION_DELETE)
		return NULL;
	call = session_write_options(ostiary_request_new(c, "PUT", "/v1/session/create", NULL), q);
	return ostiary_request_ready(ostiary_request_json(call, call ? session_body(def) : NULL));
}

consul_call *
consul_session_renew_call(consul_client *c, const char *id, const consul_query *q)
{
	return ostiary_request_ready(
	        session_write_options(ostiary_request_new(c, "PUT", "/v1/session/renew/", id), q));
}

consul_call *
consul_session_destroy_call(consul_client *c, const char *id, const consul_query *q)
{
	return ostiary_request_ready(session_write_options(
	        ostiary_request_new(c, "PUT", "/v1/session/destroy/", id), q));
}

consul_call *
consul_session_info_call(consul_client *c, const char *id, const consul_query *q)
{
	return ostiary_query_ready(
	        ostiary_query_apply(ostiary_request_new(c, "GET", "/v1/session/info/", id), q), q);
}

consul_call *
consul_session_list_call(consul_client *c, const consul_query *q)
{
	return ostiary_query_ready(
	        ostiary_query_apply(ostiary_request_new(c, "GET", "/v1/session/list", NULL), q), q);
}

int
consul_session_create_parse(const consul_response *r, char **id_out, consul_error *err)
{
	json_t *json = ostiary_response_json(r, err);
	int rc = 0;

	*id_out = NULL;
	if (!json)
		return -1;
	if (!json_is_object(json) || ostiary_json_string(json, "ID", id_out) < 0 || !**id_out) {
		free(*id_out);
		*id_out = NULL;
		rc = consul_error_set(err, "response", "no session ID in the answer");
	}
	json_decref(json);
	return rc;
}

static void
session_clear(void *item)
{
	consul_session *s = item;

	free(s->id);
	free(s->name);
	free(s->node);
	free(s->behavior);
	free(s->ttl);
	memset(s, 0, sizeof *s);
}

static int
session_decode(json_t *obj, void *item)
{
	consul_session *s = item;
	uint64_t delay_ns;

	if (ostiary_json_string(obj, "ID", &s->id) < 0 ||
	    ostiary_json_string(obj, "Name", &s->name) < 0 ||
	    ostiary_json_string(obj, "Node", &s->node) < 0 ||
	    ostiary_json_string(obj, "Behavior", &s->behavior) < 0 ||
	    ostiary_json_string(obj, "TTL", &s->ttl) < 0 ||
	    ostiary_json_u64(obj, "LockDelay", &delay_ns) < 0 || /* nanoseconds */
	    ostiary_json_u64(obj, "CreateIndex", &s->create_index) < 0 ||
	    ostiary_json_u64(obj, "ModifyIndex", &s->modify_index) < 0)
		return -1;
	s->lock_delay_ms = (int64_t)(delay_ns / 1000000);
	return 0;
}

int
consul_session_parse(const consul_response *r, consul_sessions *out, consul_error *err)
{
	void *items;
	int rc = ostiary_response_array(r, sizeof *out->items, session_decode, session_clear,
	                                &items, &out->n, err);

	out->items = items;
	return rc;
}

void
consul_sessions_free(consul_sessions *sessions)
{
	if (!sessions)
		return;
	ostiary_array_free(sessions->items, sessions->n, sizeof *sessions->items, session_clear);
	sessions->items = NULL;
	sessions->n = 0;
}
