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

/* ------------------------------------------------------------------ watches */

struct stop_state {
	int changed;
	bool free_it;
	uint64_t index_seen;
};

static consul_call *
build_kv_get(consul_client *c, const consul_query *q, void *arg)
{
	return consul_kv_get_call(c, (const char *)arg, q);
}

static void
stop_on_change(consul_watch *w, enum consul_watch_event event, const consul_response *r,
               void *arg)
{
	struct stop_state *st = arg;

	if (event != CONSUL_WATCH_CHANGED)
		return;
	st->changed++;
	st->index_seen = r->index;
	if (st->free_it)
		consul_watch_free(w);
	else
		consul_watch_stop(w);
}

static void
watch_stops_itself(bool free_it)
{
	struct stop_state st = { .free_it = free_it };
	consul_client *client;
	consul_watch *w;
	CURLM *multi;
	sim s;

	start_sim(&s, NULL);
	cr_assert_eq(sim_agent(&s, "PUT", "/v1/kv/w/k", "v", NULL), 200);
	client = client_for_sim(&s);
	multi = curl_multi_init();
	w = consul_watch_new(client, multi, build_kv_get, "w/k", NULL, stop_on_change, &st);
	cr_assert_not_null(w);
	if (free_it) {
		/* Driven by hand: the loop would touch the freed watch. */
		while (st.changed == 0) {
			int running, queued;
			CURLMsg *msg;

			consul_watch_tick(w);
			curl_multi_perform(multi, &running);
			while ((msg = curl_multi_info_read(multi, &queued)))
				if (msg->msg == CURLMSG_DONE)
					consul_watch_done(w, msg->easy_handle, msg->data.result);
			if (st.changed == 0)
				curl_multi_poll(multi, NULL, 0, 100, NULL);
		}
	} else {
		cr_assert_eq(consul_watch_loop(multi, &w, 1, -1), 0);
		cr_expect(consul_watch_stopped(w));
		cr_expect_eq(consul_watch_requests(w), 1);
		consul_watch_free(w);
	}
	cr_expect_eq(st.changed, 1);
	cr_expect_gt(st.index_seen, 1);
	curl_multi_cleanup(multi);
	consul_client_free(client);
	sim_stop(&s);
}

Test(lib_sim, watch_stopped_from_its_callback)
{
	watch_stops_itself(false);
}

Test(lib_sim, watch_freed_from_its_callback)
{
	watch_stops_itself(true);
}

/* The KV reads against the simulator: bytes in, bytes out, the 404 of a
 * missing key still carries the index. */
Test(lib_sim, kv_round_trip_and_missing_key_index)
{
	consul_kv_pairs pairs;
	consul_client *client;
	consul_call *call;
	const consul_response *r;
	bool ok = false;
	sim s;

	start_sim(&s, NULL);
	client = client_for_sim(&s);
	call = consul_kv_put_call(client, "bin/k", "a\0b", 3, NULL);
	r = consul_call_perform(call);
	cr_assert_eq(consul_bool_parse(r, &ok, NULL), 0, "%ld %s", r->status, r->body);
	cr_expect(ok);
	consul_call_free(call);

	call = consul_kv_get_call(client, "bin/k", NULL);
	r = consul_call_perform(call);
	cr_assert_eq(consul_kv_parse(r, &pairs, NULL), 0);
	cr_assert_eq(pairs.n, 1);
	cr_expect_eq(pairs.items[0].value_len, 3);
	cr_expect_eq(memcmp(pairs.items[0].value, "a\0b", 3), 0);
	cr_expect(r->has_index);
	consul_kv_pairs_free(&pairs);
	consul_call_free(call);

	call = consul_kv_get_call(client, "bin/missing", NULL);
	r = consul_call_perform(call);
	cr_expect_eq(r->status, 404);
	cr_expect(r->has_index, "the 404 carries X-Consul-Index");
	cr_expect(r->has_known_leader);
	cr_assert_eq(consul_kv_parse(r, &pairs, NULL), 0);
	cr_expect_eq(pairs.n, 0);
	consul_call_free(call);
	consul_client_free(client);
	sim_stop(&s);
}
