/*
 * Raft status (/v1/status/leader, /v1/status/peers): agent/status_endpoint.go.
 * (consul_status_name and _parse, the check statuses, are definition.c's.)
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static consul_call *
status_call(consul_client *c, const char *endpoint, const consul_query *q)
{
	consul_query only_dc = { 0 };

	if (q)
		only_dc.dc = q->dc;
	return ostiary_request_ready(ostiary_query_apply(ostiary_request_new(c, "GET", endpoint, NULL),
	                                                 &only_dc));
}

consul_call *
consul_status_leader_call(consul_client *c, const consul_query *q)
{
	return status_call(c, "/v1/status/leader", q);
}

consul_call *
consul_status_peers_call(consul_client *c, const consul_query *q)
{
	return status_call(c, "/v1/status/peers", q);
}

int
consul_status_leader_parse(const consul_response *r, char **leader_out, consul_error *err)
{
	json_t *json = ostiary_response_json(r, err);

	*leader_out = NULL;
	if (!json)
		return -1;
	if (!json_is_string(json)) {
		json_decref(json);
		return consul_error_set(err, "response", "not a JSON string");
	}
	*leader_out = strdup(json_string_value(json));
	json_decref(json);
	return *leader_out ? 0 : consul_error_set(err, "response", "out of memory");
}
