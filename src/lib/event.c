/*
 * User events (/v1/event/fire/:name, /v1/event/list): agent/event_endpoint.go.
 * The list's X-Consul-Index is not a Raft index but derived from the last
 * event's ID; it still works with index/wait (and may go "backwards").
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

consul_call *
consul_event_fire_call(consul_client *c, const char *name, const void *payload, size_t payload_len,
                       const consul_query *q)
{
	consul_call *call = ostiary_request_new(c, "PUT", "/v1/event/fire/", name);
	consul_query w = { 0 };

	if (payload_len && !payload) {
		consul_call_free(call);
		return NULL;
	}
	if (q)
		w.dc = q->dc;
	call = ostiary_query_apply(call, &w);
	if (payload)
		call = ostiary_request_raw_body(call, payload, payload_len);
	return ostiary_request_ready(call);
}

consul_call *
consul_event_list_call(consul_client *c, const char *name, const consul_query *q)
{
	consul_call *call = ostiary_request_new(c, "GET", "/v1/event/list", NULL);

	call = ostiary_request_query(call, "name", name && *name ? name : NULL);
	return ostiary_query_ready(ostiary_query_apply(call, q), q);
}

static void
event_clear(void *item)
{
	consul_event *e = item;

	free(e->id);
	free(e->name);
	free(e->payload);
	memset(e, 0, sizeof *e);
}

static int
event_decode(json_t *obj, void *item)
{
	consul_event *e = item;
	json_t *payload = json_object_get(obj, "Payload");

	if (ostiary_json_string(obj, "ID", &e->id) < 0 ||
	    ostiary_json_string(obj, "Name", &e->name) < 0 ||
	    ostiary_json_u64(obj, "LTime", &e->ltime) < 0)
		return -1;
	if (!payload || json_is_null(payload))
		return 0;
	if (!json_is_string(payload))
		return -1;
	return consul_base64_decode(json_string_value(payload), json_string_length(payload),
	                            &e->payload, &e->payload_len);
}

int
consul_event_parse(const consul_response *r, consul_events *out, consul_error *err)
{
	json_t *json = ostiary_response_json(r, err);
	void *items = NULL;
	int rc;

	out->items = NULL;
	out->n = 0;
	if (!json)
		return -1;
	if (json_is_object(json)) { /* fire answers the one event */
		json_t *one = json_array();

		if (!one || json_array_append(one, json) < 0) {
			json_decref(one);
			json_decref(json);
			return consul_error_set(err, "response", "out of memory");
		}
		json_decref(json);
		json = one;
	}
	rc = ostiary_json_array_decode(json, sizeof *out->items, event_decode, event_clear, &items,
	                               &out->n, err);
	out->items = items;
	json_decref(json);
	return rc;
}

void
consul_events_free(consul_events *events)
{
	if (!events)
		return;
	ostiary_array_free(events->items, events->n, sizeof *events->items, event_clear);
	events->items = NULL;
	events->n = 0;
}
