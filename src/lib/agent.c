/*
 * The agent's endpoints (/v1/agent/...): methods, paths and bodies follow
 * agent/http_register.go and agent/agent_endpoint.go.  Each constructor
 * chains request.c's builders.
 */
#include <stdbool.h>

#include "internal.h"

static bool
agent_status_valid(enum consul_status status)
{
	return (unsigned)status <= CONSUL_CRITICAL;
}

consul_call *
consul_service_register_call(consul_client *c, const consul_service *svc, unsigned flags)
{
	consul_call *call = ostiary_request_new(c, "PUT", "/v1/agent/service/register", NULL);

	/* Only an empty value or exactly "true" enables it (AgentRegisterService). */
	call = ostiary_request_query(call, "replace-existing-checks",
	                             flags & CONSUL_REPLACE_EXISTING_CHECKS ? "true" : NULL);
	return ostiary_request_ready(
	        ostiary_request_json(call, svc ? consul_service_to_json(svc) : NULL));
}

consul_call *
consul_service_deregister_call(consul_client *c, const char *service_id)
{
	return ostiary_request_ready(
	        ostiary_request_new(c, "PUT", "/v1/agent/service/deregister/", service_id));
}

consul_call *
consul_service_maintenance_call(consul_client *c, const char *service_id, bool enable,
                                const char *reason)
{
	consul_call *call =
	        ostiary_request_new(c, "PUT", "/v1/agent/service/maintenance/", service_id);

	call = ostiary_request_query(call, "enable", enable ? "true" : "false");
	return ostiary_request_ready(ostiary_request_query(call, "reason", reason));
}

consul_call *
consul_check_register_call(consul_client *c, const consul_check_def *check)
{
	consul_call *call = ostiary_request_new(c, "PUT", "/v1/agent/check/register", NULL);

	return ostiary_request_ready(
	        ostiary_request_json(call, check ? consul_check_def_to_json(check) : NULL));
}

consul_call *
consul_check_deregister_call(consul_client *c, const char *check_id)
{
	return ostiary_request_ready(
	        ostiary_request_new(c, "PUT", "/v1/agent/check/deregister/", check_id));
}

static json_t *
agent_update_body(enum consul_status status, const char *output)
{
	json_t *body = json_object();
	const char *name = consul_status_name(status);

	/* json_object_set_new releases the value even when it fails. */
	if (!body || json_object_set_new(body, "Status", json_string(name)) < 0 ||
	    json_object_set_new(body, "Output",
	                        ostiary_definition_json_string(output ? output : "")) < 0) {
		json_decref(body);
		return NULL;
	}
	return body;
}

consul_call *
consul_check_update_call(consul_client *c, const char *check_id, enum consul_status status,
                         const char *output)
{
	consul_call *call;

	if (!agent_status_valid(status))
		return NULL;
	call = ostiary_request_new(c, "PUT", "/v1/agent/check/update/", check_id);
	return ostiary_request_ready(
	        ostiary_request_json(call, call ? agent_update_body(status, output) : NULL));
}

consul_call *
consul_check_ttl_call(consul_client *c, const char *check_id, enum consul_status status,
                      const char *note)
{
	static const char *const endpoints[] = {
		[CONSUL_PASSING] = "/v1/agent/check/pass/",
		[CONSUL_WARNING] = "/v1/agent/check/warn/",
		[CONSUL_CRITICAL] = "/v1/agent/check/fail/",
	};

	if (!agent_status_valid(status))
		return NULL;
	/* The note becomes the check's Output; none means an empty Output. */
	return ostiary_request_ready(ostiary_request_query(
	        ostiary_request_new(c, "PUT", endpoints[status], check_id), "note", note));
}

consul_call *
consul_services_call(consul_client *c)
{
	return ostiary_request_ready(ostiary_request_new(c, "GET", "/v1/agent/services", NULL));
}

consul_call *
consul_service_call(consul_client *c, const char *service_id)
{
	return ostiary_request_ready(
	        ostiary_request_new(c, "GET", "/v1/agent/service/", service_id));
}

consul_call *
consul_checks_call(consul_client *c)
{
	return consul_checks_filtered_call(c, NULL);
}

consul_call *
consul_checks_filtered_call(consul_client *c, const char *filter)
{
	return ostiary_request_ready(ostiary_request_query(
	        ostiary_request_new(c, "GET", "/v1/agent/checks", NULL), "filter",
	        filter && *filter ? filter : NULL));
}

consul_call *
consul_self_call(consul_client *c)
{
	return ostiary_request_ready(ostiary_request_new(c, "GET", "/v1/agent/self", NULL));
}

consul_call *
consul_agent_members_call(consul_client *c, bool wan)
{
	/* Gossip view, not a blocking query (agent/agent_endpoint.go AgentMembers). */
	return ostiary_request_ready(ostiary_request_query(
	        ostiary_request_new(c, "GET", "/v1/agent/members", NULL), "wan", wan ? "1" : NULL));
}
