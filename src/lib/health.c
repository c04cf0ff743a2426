/*
 * Health (/v1/health/...): agent/health_endpoint.go.  Lists answer [] when
 * nothing matches; service entries carry the node, the service and every
 * check of both (node checks such as serfHealth included).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

consul_call *
consul_health_service_call(consul_client *c, const char *service, bool passing_only,
                           const char *tag, const consul_query *q)
{
	consul_call *call = ostiary_request_new(c, "GET", "/v1/health/service/", service);

	/* api/health.go Service sends passing=1; the agent reads a Go bool. */
	call = ostiary_request_query(call, "passing", passing_only ? "1" : NULL);
	call = ostiary_request_query(call, "tag", tag && *tag ? tag : NULL);
	return ostiary_query_ready(ostiary_query_apply(call, q), q);
}

consul_call *
consul_health_checks_call(consul_client *c, const char *service, const consul_query *q)
{
	return ostiary_query_ready(
	        ostiary_query_apply(ostiary_request_new(c, "GET", "/v1/health/checks/", service),
	                            q),
	        q);
}

consul_call *
consul_health_node_call(consul_client *c, const char *node, const consul_query *q)
{
	return ostiary_query_ready(
	        ostiary_query_apply(ostiary_request_new(c, "GET", "/v1/health/node/", node), q), q);
}

consul_call *
consul_health_state_call(consul_client *c, const char *state, const consul_query *q)
{
	/* An empty state is a 400 "Missing check state". */
	if (!state || (strcmp(state, "any") != 0 && strcmp(state, "passing") != 0 &&
	               strcmp(state, "warning") != 0 && strcmp(state, "critical") != 0))
		return NULL;
	return ostiary_query_ready(
	        ostiary_query_apply(ostiary_request_new(c, "GET", "/v1/health/state/", state), q),
	        q);
}

static void
check_clear(void *item)
{
	consul_health_check *h = item;

	free(h->node);
	free(h->check_id);
	free(h->name);
	free(h->status);
	free(h->output);
	free(h->service_id);
	free(h->service_name);
	memset(h, 0, sizeof *h);
}

static int
check_decode(json_t *obj, void *item)
{
	consul_health_check *h = item;

	return ostiary_json_string(obj, "Node", &h->node) < 0 ||
	                       ostiary_json_string(obj, "CheckID", &h->check_id) < 0 ||
	                       ostiary_json_string(obj, "Name", &h->name) < 0 ||
	                       ostiary_json_string(obj, "Status", &h->status) < 0 ||
	                       ostiary_json_string(obj, "Output", &h->output) < 0 ||
	                       ostiary_json_string(obj, "ServiceID", &h->service_id) < 0 ||
	                       ostiary_json_string(obj, "ServiceName", &h->service_name) < 0
	               ? -1
	               : 0;
}

void
consul_health_checks_free(consul_health_checks *checks)
{
	if (!checks)
		return;
	ostiary_array_free(checks->items, checks->n, sizeof *checks->items, check_clear);
	checks->items = NULL;
	checks->n = 0;
}

static void
entry_clear(void *item)
{
	consul_health_entry *e = item;

	free(e->node);
	free(e->node_address);
	free(e->service_id);
	free(e->service_name);
	free(e->service_address);
	for (size_t i = 0; i < e->ntags; i++)
		free(e->tags[i]);
	free(e->tags);
	consul_health_checks_free(&e->checks);
	memset(e, 0, sizeof *e);
}

static int
entry_decode(json_t *obj, void *item)
{
	consul_health_entry *e = item;
	json_t *node = json_object_get(obj, "Node");
	json_t *service = json_object_get(obj, "Service");
	json_t *checks = json_object_get(obj, "Checks");
	json_t *port;
	void *items;

	if (!json_is_object(node) || !json_is_object(service))
		return -1;
	if (ostiary_json_string(node, "Node", &e->node) < 0 ||
	    ostiary_json_string(node, "Address", &e->node_address) < 0 ||
	    ostiary_json_string(service, "ID", &e->service_id) < 0 ||
	    ostiary_json_string(service, "Service", &e->service_name) < 0 ||
	    ostiary_json_string(service, "Address", &e->service_address) < 0 ||
	    ostiary_json_strings(service, "Tags", &e->tags, &e->ntags) < 0)
		return -1;
	port = json_object_get(service, "Port");
	if (port && !json_is_null(port)) {
		if (!json_is_integer(port) || json_integer_value(port) < 0 ||
		    json_integer_value(port) > 65535)
			return -1;
		e->port = (int)json_integer_value(port);
	}
	if (!checks || json_is_null(checks))
		return 0;
	if (ostiary_json_array_decode(checks, sizeof *e->checks.items, check_decode, check_clear,
	                              &items, &e->checks.n, NULL) < 0)
		return -1;
	e->checks.items = items;
	return 0;
}

int
consul_health_service_parse(const consul_response *r, consul_health_entries *out, consul_error *err)
{
	void *items;
	int rc = ostiary_response_array(r, sizeof *out->items, entry_decode, entry_clear, &items,
	                                &out->n, err);

	out->items = items;
	return rc;
}

void
consul_health_entries_free(consul_health_entries *entries)
{
	if (!entries)
		return;
	ostiary_array_free(entries->items, entries->n, sizeof *entries->items, entry_clear);
	entries->items = NULL;
	entries->n = 0;
}

int
consul_health_checks_parse(const consul_response *r, consul_health_checks *out, consul_error *err)
{
	void *items;
	int rc = ostiary_response_array(r, sizeof *out->items, check_decode, check_clear, &items,
	                                &out->n, err);

	out->items = items;
	return rc;
}

const char *
consul_health_entry_address(const consul_health_entry *entry)
{
	return entry->service_address && *entry->service_address ? entry->service_address
	                                                         : entry->node_address;
}
