/*
 * KV, sessions, health, catalog, status and events: the requests built
 * (method, path, query, as consul_call_describe shows them) and the answers
 * decoded, Consul's documented sample bodies included; no network.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"

static consul_client *
test_client(void)
{
	consul_config cfg;
	consul_client *client;

	consul_config_init(&cfg);
	client = consul_client_new(&cfg, NULL);
	consul_config_free(&cfg);
	cr_assert_not_null(client);
	return client;
}

static void
expect_call(consul_call *call, const char *want)
{
	cr_assert_not_null(call, "expected %s", want);
	cr_expect_str_eq(consul_call_describe(call), want);
	consul_call_free(call);
}

static consul_response
answer(enum consul_outcome outcome, long status, const char *body)
{
	consul_response r;

	memset(&r, 0, sizeof r);
	r.outcome = outcome;
	r.status = status;
	r.body = (char *)body;
	r.body_len = strlen(body);
	return r;
}

Test(lib_kv, get_list_keys_paths)
{
	consul_client *c = test_client();
	consul_query q = { .index = 42, .wait_ms = 30000, .stale = true, .dc = "dc2" };

	expect_call(consul_kv_get_call(c, "app/db url", NULL), "GET /v1/kv/app/db%20url");
	expect_call(consul_kv_get_call(c, "app/x", &q),
	            "GET /v1/kv/app/x?dc=dc2&stale=&index=42&wait=30000ms");
	expect_call(consul_kv_list_call(c, "app/", NULL), "GET /v1/kv/app/?recurse=");
	expect_call(consul_kv_list_call(c, "", NULL), "GET /v1/kv/?recurse=");
	expect_call(consul_kv_keys_call(c, "web/", "/", NULL), "GET /v1/kv/web/?keys=&separator=%2F");
	cr_expect_null(consul_kv_get_call(c, "", NULL), "Missing key name");
	consul_client_free(c);
}

Test(lib_kv, query_options_everywhere)
{
	consul_client *c = test_client();
	consul_query q = { .consistent = true, .filter = "Service.Port == 80", .ns = "team",
		           .partition = "p1" };
	consul_query both = { .stale = true, .consistent = true };
	consul_query index_only = { .index = 7 };

	expect_call(consul_health_service_call(c, "web", true, "v1", &q),
	            "GET /v1/health/service/web?passing=1&tag=v1&consistent=&filter=Service.Port%20%3D%3D%2080"
	            "&ns=team&partition=p1");
	cr_expect_null(consul_kv_get_call(c, "k", &both), "stale and consistent conflict");
	/* no wait given: the agent's default, none sent */
	expect_call(consul_catalog_services_call(c, &index_only), "GET /v1/catalog/services?index=7");
	consul_client_free(c);
}

Test(lib_kv, blocking_timeout_covers_the_wait)
{
	consul_query q = { .index = 5, .wait_ms = 60000 };
	consul_query deflt = { .index = 5 };
	consul_query huge = { .index = 5, .wait_ms = 3600000 };

	cr_expect_eq(consul_query_timeout_ms(NULL, 5000), 5000);
	cr_expect_eq(consul_query_timeout_ms(&q, 5000), 60000 + 3750 + 5000);
	cr_expect_eq(consul_query_timeout_ms(&deflt, 5000), 300000 + 18750 + 5000);
	cr_expect_eq(consul_query_timeout_ms(&huge, 5000), 600000 + 37500 + 5000);
}

Test(lib_kv, writes)
{
	consul_client *c = test_client();
	consul_kv_put cas = { .mode = CONSUL_KV_CAS, .cas = 0, .flags = 42 };
	consul_kv_put acq = { .mode = CONSUL_KV_ACQUIRE, .session = "s-1" };
	consul_kv_put rel = { .mode = CONSUL_KV_RELEASE, .session = "s-1" };
	consul_kv_put nosess = { .mode = CONSUL_KV_ACQUIRE };

	expect_call(consul_kv_put_call(c, "a/b", "x\0y", 3, NULL), "PUT /v1/kv/a/b");
	expect_call(consul_kv_put_call(c, "a", "", 0, &cas), "PUT /v1/kv/a?flags=42&cas=0");
	expect_call(consul_kv_put_call(c, "a", "v", 1, &acq), "PUT /v1/kv/a?acquire=s-1");
	expect_call(consul_kv_put_call(c, "a", NULL, 0, &rel), "PUT /v1/kv/a?release=s-1");
	cr_expect_null(consul_kv_put_call(c, "/a", "v", 1, NULL), "api/kv.go refuses a leading /");
	cr_expect_null(consul_kv_put_call(c, "a", "v", 1, &nosess));
	expect_call(consul_kv_delete_call(c, "a", false, 0, NULL), "DELETE /v1/kv/a");
	expect_call(consul_kv_delete_call(c, "app/", true, 0, NULL), "DELETE /v1/kv/app/?recurse=");
	expect_call(consul_kv_delete_call(c, "a", false, 9, NULL), "DELETE /v1/kv/a?cas=9");
	cr_expect_null(consul_kv_delete_call(c, "", true, 0, NULL), "would empty the store");
	cr_expect_null(consul_kv_delete_call(c, "a", true, 9, NULL), "recurse with cas");
	consul_client_free(c);
}

Test(lib_kv, other_endpoints)
{
	consul_client *c = test_client();
	consul_session_def def = { .name = "lock", .ttl_ms = 15000, .lock_delay_ms = -1 };

	expect_call(consul_session_create_call(c, &def, NULL), "PUT /v1/session/create");
	expect_call(consul_session_renew_call(c, "abc", NULL), "PUT /v1/session/renew/abc");
	expect_call(consul_session_destroy_call(c, "abc", NULL), "PUT /v1/session/destroy/abc");
	expect_call(consul_session_info_call(c, "abc", NULL), "GET /v1/session/info/abc");
	expect_call(consul_session_list_call(c, NULL), "GET /v1/session/list");
	expect_call(consul_health_checks_call(c, "web", NULL), "GET /v1/health/checks/web");
	expect_call(consul_health_node_call(c, "n1", NULL), "GET /v1/health/node/n1");
	expect_call(consul_health_state_call(c, "critical", NULL), "GET /v1/health/state/critical");
	cr_expect_null(consul_health_state_call(c, "", NULL), "Missing check state");
	expect_call(consul_catalog_datacenters_call(c), "GET /v1/catalog/datacenters");
	expect_call(consul_catalog_nodes_call(c, NULL), "GET /v1/catalog/nodes");
	expect_call(consul_catalog_service_call(c, "web", "v2", NULL),
	            "GET /v1/catalog/service/web?tag=v2");
	expect_call(consul_agent_members_call(c, false), "GET /v1/agent/members");
	expect_call(consul_status_leader_call(c, NULL), "GET /v1/status/leader");
	expect_call(consul_status_peers_call(c, NULL), "GET /v1/status/peers");
	expect_call(consul_event_fire_call(c, "deploy", "v1", 2, NULL), "PUT /v1/event/fire/deploy");
	expect_call(consul_event_list_call(c, "deploy", NULL), "GET /v1/event/list?name=deploy");
	consul_client_free(c);
}

/* website/content/api-docs/kv.mdx, "Sample Response" of GET. */
Test(lib_kv, parse_documented_kv_sample)
{
	consul_response r = answer(CONSUL_OK, 200,
	                           "[{\"CreateIndex\":100,\"ModifyIndex\":200,\"LockIndex\":200,"
	                           "\"Key\":\"zip\",\"Flags\":0,\"Value\":\"dGVzdA==\","
	                           "\"Session\":\"adf4238a-882b-9ddc-4a9d-5b6758e4159e\"}]");
	consul_kv_pairs pairs;
	consul_error err = { 0 };

	cr_assert_eq(consul_kv_parse(&r, &pairs, &err), 0, "%s", err.text);
	cr_assert_eq(pairs.n, 1);
	cr_expect_str_eq(pairs.items[0].key, "zip");
	cr_expect_eq(pairs.items[0].value_len, 4);
	cr_expect_eq(memcmp(pairs.items[0].value, "test", 4), 0);
	cr_expect_eq(pairs.items[0].create_index, 100);
	cr_expect_eq(pairs.items[0].modify_index, 200);
	cr_expect_eq(pairs.items[0].lock_index, 200);
	cr_expect_str_eq(pairs.items[0].session, "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
	consul_kv_pairs_free(&pairs);
}

Test(lib_kv, parse_null_value_missing_key_and_bytes)
{
	consul_response r = answer(CONSUL_OK, 200,
	                           "[{\"Key\":\"a\",\"Value\":null,\"Flags\":18446744073709551615},"
	                           "{\"Key\":\"b\",\"Value\":\"AP8A\",\"Session\":\"\"}]");
	consul_response missing = answer(CONSUL_GONE, 404, "");
	consul_kv_pairs pairs;

	/* Flags above INT64_MAX: jansson cannot hold it as an integer */
	cr_expect_eq(consul_kv_parse(&r, &pairs, NULL), -1);
	r = answer(CONSUL_OK, 200,
	           "[{\"Key\":\"a\",\"Value\":null,\"Flags\":7},"
	           "{\"Key\":\"b\",\"Value\":\"AP8A\",\"Session\":\"\"}]");
	cr_assert_eq(consul_kv_parse(&r, &pairs, NULL), 0);
	cr_assert_eq(pairs.n, 2);
	cr_expect_null(pairs.items[0].value);
	cr_expect_eq(pairs.items[0].flags, 7);
	cr_expect_eq(pairs.items[1].value_len, 3);
	cr_expect_eq(memcmp(pairs.items[1].value, "\0\xff\0", 3), 0);
	cr_expect_null(pairs.items[1].session);
	consul_kv_pairs_free(&pairs);

	cr_assert_eq(consul_kv_parse(&missing, &pairs, NULL), 0);
	cr_expect_eq(pairs.n, 0);
}

Test(lib_kv, parse_refuses_wrong_types)
{
	static const char *const bodies[] = {
		"{}",
		"[1]",
		"[{\"Key\":5}]",
		"[{\"Value\":\"dGVzdA==\"}]",
		"[{\"Key\":\"a\",\"Value\":7}]",
		"[{\"Key\":\"a\",\"Value\":\"dGVzd\"}]",
		"[{\"Key\":\"a\",\"ModifyIndex\":-1}]",
		"[{\"Key\":\"a\",\"ModifyIndex\":\"1\"}]",
		"[{\"Key\":\"a\",\"Session\":[]}]",
		"not json",
	};
	consul_error err = { 0 };

	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		consul_response r = answer(CONSUL_OK, 200, bodies[i]);
		consul_kv_pairs pairs = { 0 };

		err.text[0] = '\0';
		cr_expect_eq(consul_kv_parse(&r, &pairs, &err), -1, "%s", bodies[i]);
		cr_expect_neq(err.text[0], '\0', "%s leaves no message", bodies[i]);
		cr_expect_eq(pairs.n, 0);
	}
	{
		consul_response denied = answer(CONSUL_DENIED, 403, "ACL not found");
		consul_kv_pairs pairs;

		cr_expect_eq(consul_kv_parse(&denied, &pairs, &err), -1);
	}
}

Test(lib_kv, keys_and_bools)
{
	consul_response r = answer(CONSUL_OK, 200, "[\"/web/bar\",\"/web/foo\",\"/web/subdir/\"]");
	consul_response none = answer(CONSUL_GONE, 404, "");
	consul_response t = answer(CONSUL_OK, 200, "true");
	consul_response f = answer(CONSUL_OK, 200, "false\n");
	consul_response bad = answer(CONSUL_OK, 200, "\"true\"");
	consul_strings keys;
	bool b;

	cr_assert_eq(consul_kv_keys_parse(&r, &keys, NULL), 0);
	cr_assert_eq(keys.n, 3);
	cr_expect_str_eq(keys.items[2], "/web/subdir/");
	consul_strings_free(&keys);
	cr_assert_eq(consul_kv_keys_parse(&none, &keys, NULL), 0);
	cr_expect_eq(keys.n, 0);
	cr_expect_eq(consul_bool_parse(&t, &b, NULL), 0);
	cr_expect(b);
	cr_expect_eq(consul_bool_parse(&f, &b, NULL), 0);
	cr_expect_not(b);
	cr_expect_eq(consul_bool_parse(&bad, &b, NULL), -1);
}

Test(lib_kv, base64_strict)
{
	static const struct {
		const char *in;
		const char *out;
		size_t len;
	} good[] = {
		{ "", "", 0 },         { "Zg==", "f", 1 },     { "Zm8=", "fo", 2 },
		{ "Zm9v", "foo", 3 },  { "Zm9vYg==", "foob", 4 }, { "AP8A", "\0\xff\0", 3 },
		{ "+/+/", "\xfb\xff\xbf", 3 },
	};
	static const char *const bad[] = { "Z", "Zg=", "Zg", "Zh==", "Zm9=", "Z===", "=Zg=",
		                           "Zg==Zg==", "Zm 9", "Zm9v\n", "Zm-_", "Zg=a" };

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		unsigned char *out;
		size_t len;

		cr_assert_eq(consul_base64_decode(good[i].in, strlen(good[i].in), &out, &len), 0, "%s",
		             good[i].in);
		cr_expect_eq(len, good[i].len, "%s", good[i].in);
		cr_expect_eq(memcmp(out, good[i].out, len), 0, "%s", good[i].in);
		cr_expect_eq(out[len], '\0');
		free(out);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		unsigned char *out = (unsigned char *)"x";
		size_t len = 9;

		cr_expect_eq(consul_base64_decode(bad[i], strlen(bad[i]), &out, &len), -1, "%s", bad[i]);
		cr_expect_null(out);
	}
}

/* website/content/api-docs/health.mdx, GET /health/service/:service sample (trimmed). */
Test(lib_kv, parse_documented_health_service_sample)
{
	consul_response r = answer(
	        CONSUL_OK, 200,
	        "[{\"Node\":{\"ID\":\"40e4a748-2192-161a-0510-9bf59fe950b5\",\"Node\":\"foobar\","
	        "\"Address\":\"10.1.10.12\",\"Datacenter\":\"dc1\",\"TaggedAddresses\":{\"lan\":"
	        "\"10.1.10.12\",\"wan\":\"10.1.10.12\"},\"Meta\":{\"instance_type\":\"t2.medium\"}},"
	        "\"Service\":{\"ID\":\"redis\",\"Service\":\"redis\",\"Tags\":[\"primary\"],"
	        "\"Address\":\"10.1.10.12\",\"TaggedAddresses\":{\"lan\":{\"address\":\"10.1.10.12\","
	        "\"port\":8000}},\"Meta\":null,\"Port\":8000,\"Weights\":{\"Passing\":10,\"Warning\":1},"
	        "\"Namespace\":\"default\"},\"Checks\":[{\"Node\":\"foobar\",\"CheckID\":\"service:redis\","
	        "\"Name\":\"Service 'redis' check\",\"Status\":\"passing\",\"Notes\":\"\",\"Output\":\"\","
	        "\"ServiceID\":\"redis\",\"ServiceName\":\"redis\",\"ServiceTags\":[\"primary\"],"
	        "\"Namespace\":\"default\"},{\"Node\":\"foobar\",\"CheckID\":\"serfHealth\",\"Name\":"
	        "\"Serf Health Status\",\"Status\":\"passing\",\"Notes\":\"\",\"Output\":\"\","
	        "\"ServiceID\":\"\",\"ServiceName\":\"\",\"ServiceTags\":[],\"Namespace\":\"default\"}]}]");
	consul_health_entries entries;
	consul_error err = { 0 };

	cr_assert_eq(consul_health_service_parse(&r, &entries, &err), 0, "%s", err.text);
	cr_assert_eq(entries.n, 1);
	cr_expect_str_eq(entries.items[0].node, "foobar");
	cr_expect_str_eq(entries.items[0].service_id, "redis");
	cr_expect_eq(entries.items[0].port, 8000);
	cr_assert_eq(entries.items[0].ntags, 1);
	cr_expect_str_eq(entries.items[0].tags[0], "primary");
	cr_expect_str_eq(consul_health_entry_address(&entries.items[0]), "10.1.10.12");
	cr_assert_eq(entries.items[0].checks.n, 2);
	cr_expect_str_eq(entries.items[0].checks.items[1].check_id, "serfHealth");
	cr_expect_str_eq(entries.items[0].checks.items[1].service_id, "");
	consul_health_entries_free(&entries);

	r = answer(CONSUL_OK, 200, "[{\"Node\":{},\"Service\":{\"Port\":\"80\"}}]");
	cr_expect_eq(consul_health_service_parse(&r, &entries, &err), -1);
	r = answer(CONSUL_OK, 200, "[{\"Node\":{},\"Service\":{\"Tags\":[1]}}]");
	cr_expect_eq(consul_health_service_parse(&r, &entries, &err), -1);
	r = answer(CONSUL_OK, 200, "[{\"Node\":{},\"Service\":{},\"Checks\":[{\"Status\":1}]}]");
	cr_expect_eq(consul_health_service_parse(&r, &entries, &err), -1);
	r = answer(CONSUL_OK, 200, "[]");
	cr_expect_eq(consul_health_service_parse(&r, &entries, &err), 0);
	cr_expect_eq(entries.n, 0);
}

/* website/content/api-docs/session.mdx: create and info samples. */
Test(lib_kv, parse_documented_session_samples)
{
	consul_response created = answer(CONSUL_OK, 200,
	                                 "{\"ID\":\"adf4238a-882b-9ddc-4a9d-5b6758e4159e\"}");
	consul_response info = answer(
	        CONSUL_OK, 200,
	        "[{\"ID\":\"adf4238a-882b-9ddc-4a9d-5b6758e4159e\",\"Name\":\"test-session\","
	        "\"Node\":\"raja-laptop-02\",\"LockDelay\":1.5e+10,\"Behavior\":\"release\","
	        "\"TTL\":\"30s\",\"NodeChecks\":[\"serfHealth\"],\"ServiceChecks\":null,"
	        "\"CreateIndex\":1086449,\"ModifyIndex\":1086449}]");
	consul_sessions sessions;
	char *id;

	cr_assert_eq(consul_session_create_parse(&created, &id, NULL), 0);
	cr_expect_str_eq(id, "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
	free(id);
	/* The documented sample writes LockDelay as 1.5e+10: not an integer. */
	cr_expect_eq(consul_session_parse(&info, &sessions, NULL), -1);
	info = answer(CONSUL_OK, 200,
	              "[{\"ID\":\"adf4\",\"Name\":\"test-session\",\"Node\":\"n\",\"LockDelay\":"
	              "15000000000,\"Behavior\":\"release\",\"TTL\":\"30s\",\"CreateIndex\":1086449,"
	              "\"ModifyIndex\":1086449}]");
	cr_assert_eq(consul_session_parse(&info, &sessions, NULL), 0);
	cr_assert_eq(sessions.n, 1);
	cr_expect_eq(sessions.items[0].lock_delay_ms, 15000);
	cr_expect_str_eq(sessions.items[0].ttl, "30s");
	cr_expect_eq(sessions.items[0].create_index, 1086449);
	consul_sessions_free(&sessions);
}

Test(lib_kv, parse_catalog_status_events)
{
	consul_response dcs = answer(CONSUL_OK, 200, "[\"dc1\",\"dc2\"]");
	consul_response nodes = answer(CONSUL_OK, 200,
	                               "[{\"ID\":\"40e4\",\"Node\":\"baz\",\"Address\":\"10.1.10.11\","
	                               "\"Datacenter\":\"dc1\",\"TaggedAddresses\":{},\"Meta\":{}}]");
	consul_response leader = answer(CONSUL_OK, 200, "\"10.1.10.12:8300\"");
	consul_response ev = answer(CONSUL_OK, 200,
	                            "{\"ID\":\"b54fe110\",\"Name\":\"deploy\",\"Payload\":\"djE=\","
	                            "\"NodeFilter\":\"\",\"Version\":1,\"LTime\":3}");
	consul_strings s;
	consul_catalog_nodes n;
	consul_events events;
	char *text;

	cr_assert_eq(consul_strings_parse(&dcs, &s, NULL), 0);
	cr_expect_eq(s.n, 2);
	consul_strings_free(&s);
	cr_assert_eq(consul_catalog_nodes_parse(&nodes, &n, NULL), 0);
	cr_expect_str_eq(n.items[0].address, "10.1.10.11");
	consul_catalog_nodes_free(&n);
	cr_assert_eq(consul_status_leader_parse(&leader, &text, NULL), 0);
	cr_expect_str_eq(text, "10.1.10.12:8300");
	free(text);
	cr_assert_eq(consul_event_parse(&ev, &events, NULL), 0);
	cr_assert_eq(events.n, 1);
	cr_expect_eq(events.items[0].payload_len, 2);
	cr_expect_eq(memcmp(events.items[0].payload, "v1", 2), 0);
	cr_expect_eq(events.items[0].ltime, 3);
	consul_events_free(&events);
}
