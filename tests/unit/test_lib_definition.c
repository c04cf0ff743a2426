/* Service/check JSON, validation against the agent's rules, path escaping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ostiary/consul.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* obj has exactly these keys (NULL-terminated list). */
static void
assert_keys(json_t *obj, const char *const *keys)
{
	size_t n = 0;

	cr_assert(json_is_object(obj));
	for (; keys[n]; n++)
		cr_assert_not_null(json_object_get(obj, keys[n]), "missing key %s", keys[n]);
	cr_assert_eq(json_object_size(obj), n, "unexpected extra keys in %s",
	             json_dumps(obj, JSON_COMPACT));
}

static const char *
str_at(json_t *obj, const char *key)
{
	json_t *value = json_object_get(obj, key);

	cr_assert(json_is_string(value), "%s is not a string", key);
	return json_string_value(value);
}

static const char *const web_tags[] = { "v1", "blue" };
static const consul_meta web_meta[] = { { "version", "1.2.3" } };

static consul_check_def
ttl_check(const char *id)
{
	return (consul_check_def){ .id = id,
		               .name = "myapp TTL",
		               .notes = "pushed by myapp-agent",
		               .ttl_ms = 15000,
		               .deregister_after_ms = 600000,
		               .has_status = true,
		               .status = CONSUL_CRITICAL };
}

Test(lib_definition, full_service_with_one_check)
{
	consul_check_def check = ttl_check("myapp-1:ttl");
	consul_service svc = { .id = "myapp-1",
		               .name = "myapp",
		               .tags = web_tags,
		               .ntags = 1,
		               .address = "10.0.0.5",
		               .port = 8080,
		               .meta = web_meta,
		               .nmeta = 1,
		               .checks = &check,
		               .nchecks = 1 };
	json_t *json = consul_service_to_json(&svc);
	char *text = json_dumps(json, JSON_COMPACT);

	/* The example of agent-api notes 1.1, with Go's spelling of 10m. */
	cr_assert_str_eq(
	        text,
	        "{\"ID\":\"myapp-1\",\"Name\":\"myapp\",\"Tags\":[\"v1\"],\"Address\":\"10.0.0.5\","
	        "\"Port\":8080,\"Meta\":{\"version\":\"1.2.3\"},\"Check\":{\"CheckID\":\"myapp-1:"
	        "ttl\","
	        "\"Name\":\"myapp TTL\",\"Notes\":\"pushed by myapp-agent\",\"TTL\":\"15s\","
	        "\"Status\":\"critical\",\"DeregisterCriticalServiceAfter\":\"10m0s\"}}");
	free(text);
	json_decref(json);
}

Test(lib_definition, embedded_check_uses_CheckID_never_ID)
{
	consul_check_def check = ttl_check("c1");
	consul_service svc = { .name = "web", .checks = &check, .nchecks = 1 };
	json_t *json = consul_service_to_json(&svc);
	json_t *embedded = json_object_get(json, "Check");

	assert_keys(json, (const char *const[]){ "Name", "Check", NULL });
	assert_keys(embedded, (const char *const[]){ "CheckID", "Name", "Notes", "TTL", "Status",
	                                             "DeregisterCriticalServiceAfter", NULL });
	cr_assert_null(json_object_get(embedded, "ID"));
	cr_assert_null(json_object_get(json, "Checks"));
	json_decref(json);
}

Test(lib_definition, two_checks_become_Checks)
{
	consul_check_def checks[2] = { ttl_check("a"), ttl_check("b") };
	consul_service svc = { .name = "web", .checks = checks, .nchecks = 2 };
	json_t *json = consul_service_to_json(&svc);
	json_t *list = json_object_get(json, "Checks");

	cr_assert_null(json_object_get(json, "Check"));
	cr_assert(json_is_array(list));
	cr_assert_eq(json_array_size(list), 2);
	cr_assert_str_eq(str_at(json_array_get(list, 0), "CheckID"), "a");
	cr_assert_str_eq(str_at(json_array_get(list, 1), "CheckID"), "b");
	cr_assert_str_eq(str_at(json_array_get(list, 1), "TTL"), "15s");
	json_decref(json);
}

Test(lib_definition, absent_fields_are_omitted)
{
	consul_check_def check = { .ttl_ms = 1500 };
	consul_service svc = {
		.name = "web", .id = "", .address = "", .port = 0, .checks = &check, .nchecks = 1
	};
	json_t *json = consul_service_to_json(&svc);

	assert_keys(json, (const char *const[]){ "Name", "Check", NULL });
	assert_keys(json_object_get(json, "Check"), (const char *const[]){ "TTL", NULL });
	cr_assert_str_eq(str_at(json_object_get(json, "Check"), "TTL"), "1.5s",
	                 "durations are Go strings, never numbers (numbers mean ns)");
	json_decref(json);

	svc.nchecks = 0;
	json = consul_service_to_json(&svc);
	assert_keys(json, (const char *const[]){ "Name", NULL });
	json_decref(json);
}

Test(lib_definition, standalone_check_uses_ID)
{
	consul_check_def check = ttl_check("myapp-1:db");
	json_t *json;

	check.service_id = "myapp-1";
	check.status = CONSUL_WARNING;
	json = consul_check_def_to_json(&check);
	assert_keys(json,
	            (const char *const[]){ "ID", "Name", "Notes", "ServiceID", "TTL", "Status",
	                                   "DeregisterCriticalServiceAfter", NULL });
	cr_assert_str_eq(str_at(json, "ID"), "myapp-1:db");
	cr_assert_str_eq(str_at(json, "ServiceID"), "myapp-1");
	cr_assert_str_eq(str_at(json, "Status"), "warning");
	cr_assert_null(json_object_get(json, "CheckID"));
	json_decref(json);

	check.has_status = false;
	check.deregister_after_ms = 0;
	json = consul_check_def_to_json(&check);
	cr_assert_null(json_object_get(json, "Status"));
	cr_assert_null(json_object_get(json, "DeregisterCriticalServiceAfter"));
	json_decref(json);
}

Test(lib_definition, invalid_utf8_text_is_replaced_like_go)
{
	consul_check_def check = { .id = "c", .notes = "bad \xff byte", .ttl_ms = 1000 };
	json_t *json = consul_check_def_to_json(&check);

	cr_assert_not_null(json);
	cr_assert_str_eq(str_at(json, "Notes"), "bad \xef\xbf\xbd byte");
	json_decref(json);
}

Test(lib_definition, tagged_addresses_weights_and_tag_override)
{
	static const consul_tagged_address tagged[] = {
		{ "lan", "10.0.0.5", 8080 },
		{ "wan_ipv4", "198.51.100.7", 0 },
	};
	consul_service svc = { .name = "web",
		               .tagged_addresses = tagged,
		               .ntagged_addresses = 2,
		               .has_weights = true,
		               .weight_passing = 10,
		               .weight_warning = 0,
		               .enable_tag_override = true };
	json_t *json = consul_service_to_json(&svc);
	char *text = json_dumps(json, JSON_COMPACT);

	/* The agent's field names (structs.ServiceDefinition), Port left out
	 * when 0 and a zero Warning weight kept (0 is meaningful there). */
	cr_assert_str_eq(text, "{\"Name\":\"web\",\"TaggedAddresses\":{\"lan\":{\"Address\":"
	                       "\"10.0.0.5\",\"Port\":8080},\"wan_ipv4\":{\"Address\":"
	                       "\"198.51.100.7\"}},\"Weights\":{\"Passing\":10,\"Warning\":0},"
	                       "\"EnableTagOverride\":true}");
	free(text);
	json_decref(json);
}

Test(lib_definition, weights_and_tag_override_are_omitted_unless_asked)
{
	consul_service svc = { .name = "web", .weight_passing = 5, .weight_warning = 5 };
	json_t *json = consul_service_to_json(&svc);

	assert_keys(json, (const char *const[]){ "Name", NULL });
	json_decref(json);
}

/* --------------------------------------------------------------- validation */

static consul_check_def valid_checks[2];
static consul_meta valid_meta[2];
static const char *valid_tags[2];

static consul_service
valid_service(void)
{
	valid_checks[0] = ttl_check("web:ttl");
	valid_checks[1] = ttl_check("web:db");
	valid_meta[0] = (consul_meta){ "version", "1.0" };
	valid_meta[1] = (consul_meta){ "owner_team-2", "ops" };
	valid_tags[0] = "a";
	valid_tags[1] = "b";
	return (consul_service){ .id = "web-1",
		                 .name = "web",
		                 .tags = valid_tags,
		                 .ntags = 2,
		                 .address = "10.0.0.5",
		                 .port = 80,
		                 .meta = valid_meta,
		                 .nmeta = 2,
		                 .checks = valid_checks,
		                 .nchecks = 2 };
}

static void
assert_invalid(const consul_service *svc, const char *source, const char *problem)
{
	consul_error err = { 0 };

	cr_assert_eq(consul_service_validate(svc, &err), -1, "accepted; expected %s", problem);
	cr_assert_str_eq(err.source, source, "for: %s", err.text);
	cr_assert(strstr(err.text, problem), "expected \"%s\" in: %s", problem, err.text);
}

Test(lib_validate, valid_service_passes)
{
	consul_service svc = valid_service();
	consul_error err = { 0 };

	cr_assert_eq(consul_service_validate(&svc, &err), 0, "%s", err.text);
	svc.address = "::1";
	cr_assert_eq(consul_service_validate(&svc, NULL), 0);
	svc.address = NULL;
	svc.id = NULL;
	svc.port = 65535;
	cr_assert_eq(consul_service_validate(&svc, NULL), 0);
}

Test(lib_validate, name_is_required)
{
	consul_service svc = valid_service();

	svc.name = NULL;
	assert_invalid(&svc, "Name", "Missing service name");
	svc.name = "";
	assert_invalid(&svc, "Name", "Missing service name");
	svc.name = "we\xc3";
	assert_invalid(&svc, "Name", "not valid UTF-8");
}

Test(lib_validate, unspecified_addresses_are_refused)
{
	static const char *const bad[] = { "0.0.0.0",         "::",  "[::]",
		                           "0:0:0:0:0:0:0:0", "::0", "::ffff:0.0.0.0" };

	for (size_t i = 0; i < N(bad); i++) {
		consul_service svc = valid_service();

		svc.address = bad[i];
		assert_invalid(&svc, "Address", "Invalid service address");
	}
}

Test(lib_validate, port_range)
{
	consul_service svc = valid_service();

	svc.port = -1;
	assert_invalid(&svc, "Port", "1-65535");
	svc.port = 65536;
	assert_invalid(&svc, "Port", "1-65535");
}

Test(lib_validate, meta_rules)
{
	static char long_key[130], max_key[129], long_value[514], max_value[513];
	static const struct {
		const char *key;
		const char *value;
		const char *problem;
	} cases[] = {
		{ "", "v", "cannot be blank" },
		{ "bad key", "v", "invalid characters" },
		{ "dot.key", "v", "a-z, A-Z, 0-9, _ and -" },
		{ long_key, "v", "too long" },
		{ "consul-version", "v", "reserved" },
		{ "k", long_value, "too long" },
		{ "k", "\xff", "UTF-8" },
	};

	memset(long_key, 'k', 129);
	memset(max_key, 'k', 128);
	memset(long_value, 'v', 513);
	memset(max_value, 'v', 512);
	for (size_t i = 0; i < N(cases); i++) {
		consul_service svc = valid_service();

		valid_meta[1] = (consul_meta){ cases[i].key, cases[i].value };
		assert_invalid(&svc, "Meta", cases[i].problem);
	}

	consul_service svc = valid_service();
	valid_meta[1] = (consul_meta){ max_key, max_value };
	cr_assert_eq(consul_service_validate(&svc, NULL), 0, "128/512 are the limits, inclusive");
	valid_meta[1] = (consul_meta){ "version", "2" };
	assert_invalid(&svc, "Meta", "duplicate Meta key \"version\"");
}

Test(lib_validate, at_most_64_meta_pairs)
{
	static char keys[65][16];
	static consul_meta meta[65];
	consul_service svc = valid_service();

	for (int i = 0; i < 65; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		meta[i] = (consul_meta){ keys[i], "v" };
	}
	svc.meta = meta;
	svc.nmeta = 64;
	cr_assert_eq(consul_service_validate(&svc, NULL), 0);
	svc.nmeta = 65;
	assert_invalid(&svc, "Meta", "at most 64");
}

Test(lib_validate, check_rules)
{
	consul_service svc = valid_service();

	valid_checks[1].ttl_ms = 0;
	assert_invalid(&svc, "TTL", "check \"web:db\": TTL must be > 0");
	svc = valid_service();
	valid_checks[1].id = NULL;
	valid_checks[1].ttl_ms = -5;
	assert_invalid(&svc, "TTL", "check #2: TTL must be > 0");
	svc = valid_service();
	valid_checks[0].id = "";
	assert_invalid(&svc, "CheckID", "must not be empty");
	svc = valid_service();
	valid_checks[0].name = "";
	assert_invalid(&svc, "Name", "must not be empty");
	svc = valid_service();
	valid_checks[1].id = "web:ttl";
	assert_invalid(&svc, "CheckID", "duplicate CheckID \"web:ttl\"");
	svc = valid_service();
	valid_checks[0].deregister_after_ms = -1;
	assert_invalid(&svc, "DeregisterCriticalServiceAfter", "positive");
	svc = valid_service();
	valid_checks[0].status = (enum consul_status)7;
	assert_invalid(&svc, "Status", "passing, warning or critical");
	svc = valid_service();
	valid_checks[0].has_status = false;
	valid_checks[0].status = (enum consul_status)7;
	cr_assert_eq(consul_service_validate(&svc, NULL), 0, "Status is not sent, so not checked");
}

Test(lib_validate, tags_must_be_present)
{
	consul_service svc = valid_service();

	valid_tags[1] = NULL;
	assert_invalid(&svc, "Tags", "tag #2 is missing");
}

Test(lib_validate, tagged_addresses)
{
	static const struct {
		const char *name;
		const char *address;
		int port;
		const char *problem; /* NULL = valid */
	} cases[] = {
		{ "lan", "10.0.0.5", 80, NULL },
		{ "wan", "web.example.com", 0, NULL },
		{ "lan_ipv4", "10.0.0.5", 65535, NULL },
		{ "lan_ipv4", "::ffff:10.0.0.5", 0, NULL }, /* Go's To4() accepts it */
		{ "wan_ipv4", "2001:db8::1", 0, "\"wan_ipv4\" must be a valid ipv4 address" },
		{ "lan_ipv4", "host.example", 0, "must be a valid ipv4 address" },
		{ "lan_ipv4", "010.0.0.5", 0, "must be a valid ipv4 address" },
		{ "lan_ipv6", "2001:db8::1", 0, NULL },
		{ "lan_ipv6", "10.0.0.5", 0, "\"lan_ipv6\" must be a valid ipv6 address" },
		{ "lan_ipv6", "::ffff:10.0.0.5", 0, "must be a valid ipv6 address" },
		{ "wan_ipv6", "[2001:db8::1]", 0, "\"wan_ipv6\" must be a valid ipv6 address" },
		{ "lan", "", 80, "needs an address" },
		{ "lan", NULL, 80, "needs an address" },
		{ "", "10.0.0.5", 80, "has no name" },
		{ "lan", "10.0.0.5", 65536, "invalid port 65536" },
		{ "lan", "10.0.0.5", -1, "invalid port -1" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		consul_tagged_address ta = { cases[i].name, cases[i].address, cases[i].port };
		consul_service svc = valid_service();

		svc.tagged_addresses = &ta;
		svc.ntagged_addresses = 1;
		if (cases[i].problem)
			assert_invalid(&svc, "TaggedAddresses", cases[i].problem);
		else
			cr_assert_eq(consul_service_validate(&svc, NULL), 0, "case %zu", i);
	}
}

Test(lib_validate, tagged_address_names_are_unique)
{
	consul_tagged_address ta[2] = { { "lan", "10.0.0.5", 0 }, { "lan", "10.0.0.6", 0 } };
	consul_service svc = valid_service();

	svc.tagged_addresses = ta;
	svc.ntagged_addresses = 2;
	assert_invalid(&svc, "TaggedAddresses", "duplicate tagged address \"lan\"");
}

Test(lib_validate, weights_as_the_agent_checks_them)
{
	static const struct {
		int passing, warning;
		const char *problem; /* NULL = valid */
	} cases[] = {
		{ 1, 0, NULL },
		{ 65535, 65535, NULL },
		{ 0, 1, "Invalid Weights: Passing must be greater than 0" },
		{ -3, 1, "Passing must be greater than 0" },
		{ 1, -1, "Invalid Weights: Warning must be greater or equal than 0" },
		{ 65536, 1, "Invalid Weights: DNS Weight must be between 0 and 65535" },
		{ 1, 65536, "DNS Weight must be between 0 and 65535" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		consul_service svc = valid_service();

		svc.has_weights = true;
		svc.weight_passing = cases[i].passing;
		svc.weight_warning = cases[i].warning;
		if (cases[i].problem)
			assert_invalid(&svc, "Weights", cases[i].problem);
		else
			cr_assert_eq(consul_service_validate(&svc, NULL), 0, "case %zu", i);
	}

	consul_service svc = valid_service();
	svc.weight_passing = 0; /* not sent, so not checked */
	cr_assert_eq(consul_service_validate(&svc, NULL), 0);
}

/* ------------------------------------------------------------ path escaping */

Test(lib_definition, path_escape)
{
	static const struct {
		const char *id;
		const char *escaped;
	} cases[] = {
		{ "service:web-1", "service%3Aweb-1" },   { "a/b c", "a%2Fb%20c" },
		{ "AZaz09-._~", "AZaz09-._~" },           { "caf\xc3\xa9", "caf%C3%A9" },
		{ "100%?#&=+", "100%25%3F%23%26%3D%2B" }, { "", "" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		char *escaped = consul_path_escape(cases[i].id);

		cr_assert_str_eq(escaped, cases[i].escaped);
		free(escaped);
	}
	cr_assert_null(consul_path_escape(NULL));
}

/* Every byte but RFC 3986's unreserved ones comes out as %XX, upper case:
 * the set the hand-written escaper had before curl_easy_escape did it. */
Test(lib_definition, path_escape_every_byte)
{
	static const char hex[] = "0123456789ABCDEF";

	for (int c = 1; c < 256; c++) {
		char id[2] = { (char)c, '\0' }, want[4];
		bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		                  (c >= '0' && c <= '9') || strchr("-._~", c);
		char *escaped = consul_path_escape(id);

		if (unreserved)
			snprintf(want, sizeof want, "%c", c);
		else
			snprintf(want, sizeof want, "%%%c%c", hex[c >> 4], hex[c & 0x0f]);
		cr_assert_str_eq(escaped, want, "byte 0x%02x", c);
		free(escaped);
	}
}

/* URL paths drop "." and ".." as dot segments: such an ID could never be
 * deregistered (found by tests/fuzz/fuzz_consul_json.c). */
Test(lib_validate, dot_segment_ids_are_refused)
{
	consul_service svc = valid_service();

	svc.id = "..";
	assert_invalid(&svc, "ID", "dot segment");
	svc.id = NULL;
	svc.name = ".";
	assert_invalid(&svc, "ID", "dot segment");
	svc = valid_service();
	valid_checks[1].id = ".";
	assert_invalid(&svc, "CheckID", "dot segment");
	svc = valid_service();
	svc.id = "...";
	cr_assert_eq(consul_service_validate(&svc, NULL), 0, "three dots are an ordinary name");
}
