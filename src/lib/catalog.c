/*
 * The catalog (/v1/catalog/...): agent/catalog_endpoint.go.  Raw entries, no
 * health filtering.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

consul_call *
consul_catalog_datacenters_call(consul_client *c)
{
	/* Not a blocking query; answers without a leader. */
	return ostiary_request_ready(
	        ostiary_request_new(c, "GET", "/v1/catalog/datacenters", NULL));
}

consul_call *
consul_catalog_nodes_call(consul_client *c, const consul_query *q)
{
	return ostiary_query_ready(
	        ostiary_query_apply(ostiary_request_new(c, "GET", "/v1/catalog/nodes", NULL), q),
	        q);
}

consul_call *
consul_catalog_services_call(consul_client *c, const consul_query *q)
{
	return ostiary_query_ready(
	        ostiary_query_apply(ostiary_request_new(c, "GET", "/v1/catalog/services", NULL), q),
	        q);
}

consul_call *
consul_catalog_service_call(consul_client *c, const char *service, const char *tag,
                            const consul_query *q)
{
	consul_call *call = ostiary_request_new(c, "GET", "/v1/catalog/service/", service);

	call = ostiary_request_query(call, "tag", tag && *tag ? tag : NULL);
	return ostiary_query_ready(ostiary_query_apply(call, q), q);
}

static void
node_clear(void *item)
{
	consul_catalog_node *n = item;

	free(n->id);
	free(n->node);
	free(n->address);
	free(n->datacenter);
	memset(n, 0, sizeof *n);
}

static int
node_decode(json_t *obj, void *item)
{
	consul_catalog_node *n = item;

	return ostiary_json_string(obj, "ID", &n->id) < 0 ||
	                       ostiary_json_string(obj, "Node", &n->node) < 0 ||
	                       ostiary_json_string(obj, "Address", &n->address) < 0 ||
	                       ostiary_json_string(obj, "Datacenter", &n->datacenter) < 0
	               ? -1
	               : 0;
}

int
consul_catalog_nodes_parse(const consul_response *r, consul_catalog_nodes *out, consul_error *err)
{
	void *items;
	int rc = ostiary_response_array(r, sizeof *out->items, node_decode, node_clear, &items,
	                                &out->n, err);

	out->items = items;
	return rc;
}

void
consul_catalog_nodes_free(consul_catalog_nodes *nodes)
{
	if (!nodes)
		return;
	ostiary_array_free(nodes->items, nodes->n, sizeof *nodes->items, node_clear);
	nodes->items = NULL;
	nodes->n = 0;
}
