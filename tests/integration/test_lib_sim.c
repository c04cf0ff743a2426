/*
 * The library against the Consul agent simulator: the query metadata of
 * consul_response as the agent sends it.  GET agent/service/:id is
 * hash-based blocking and answers X-Consul-ContentHash; the other /v1/agent
 * endpoints are no blocking queries and send no X-Consul-Index.
 */
#include <stdio.h>
#include <string.h>

#include <ostiary/consul.h>

#include "common.h"

static consul_client *
client_for_sim(const sim *s)
{
	consul_config cfg;
	consul_error err = { 0 };
	consul_client *client;

	consul_config_init(&cfg);
	cr_assert_eq(consul_config_set_addr(&cfg, s->agent_addr, "test", &err), 0, "%s", err.text);
	client = consul_client_new(&cfg, &err);
	cr_assert_not_null(client, "%s", err.text);
	consul_config_free(&cfg);
	return client;
}

/* Runs the call and frees it; copies the response's metadata to *out. */
static void
run(consul_call *call, consul_response *out)
{
	const consul_response *r;

	cr_assert_not_null(call);
	r = consul_call_perform(call);
	cr_assert_eq(r->outcome, CONSUL_OK, "%s: %ld %s %s", consul_call_describe(call), r->status,
	             r->error, r->body);
	*out = *r;
	out->body = NULL; /* freed with the call */
	consul_call_free(call);
}

Test(lib_sim, service_read_carries_the_content_hash)
{
	consul_service svc = { .id = "web-1", .name = "web" };
	consul_response r;
	consul_client *client;
	sim s;

	start_sim(&s, NULL);
	client = client_for_sim(&s);
	run(consul_service_register_call(client, &svc, 0), &r);
	cr_assert_not(r.has_index || r.has_known_leader || r.has_last_contact);
	cr_assert_str_eq(r.content_hash, "");

	run(consul_service_call(client, "web-1"), &r);
	cr_assert_eq(strlen(r.content_hash), 16, "\"%s\"", r.content_hash);
	cr_assert_eq(strspn(r.content_hash, "0123456789abcdef"), 16, "\"%s\"", r.content_hash);
	cr_assert_not(r.has_index, "agent/service/:id blocks on the hash, not an index");

	run(consul_services_call(client), &r);
	cr_assert_not(r.has_index || r.has_known_leader || r.has_last_contact);
	cr_assert_str_eq(r.content_hash, "");
	consul_client_free(client);
	sim_stop(&s);
}
