/* Consul's JSON service definitions (conf_consul.c): the keys Consul's
 * config decoder accepts, the checks ostiary can run, errors, and the round
 * trip to the registration the agent gets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct conf conf;
static char path[64];

static void
json_init(void)
{
	int fd;

	conf_init(&conf);
	conf.command = calloc(2, sizeof(char *));
	conf.command[0] = strdup("/bin/true");
	snprintf(path, sizeof(path), "/tmp/ostiary-json-XXXXXX");
	cr_assert_geq(fd = mkstemp(path), 0);
	close(fd);
}

static void
json_fini(void)
{
	conf_free(&conf);
	unlink(path);
}

static void
json_write(const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Load text (and finish the conf); the error is returned in err. */
static int
json_load(const char *text, consul_error *err)
{
	json_write(text);
	memset(err, 0, sizeof(*err));
	return conf_consul_load(&conf, path, err);
}

static void
json_ok(const char *text)
{
	consul_error err;

	cr_assert_eq(json_load(text, &err), 0, "%s:%d: %s", err.source, err.line, err.text);
	cr_assert_eq(conf_finish(&conf, &err), 0, "%s:%d: %s", err.source, err.line, err.text);
}

/* ----------------------------------------------------------------- forms */

Test(conf_consul, one_service_snake_case, .init = json_init, .fini = json_fini)
{
	const struct service_conf *svc;
	const struct check_conf *check;

	json_ok("{\"service\": {\"name\": \"web\", \"id\": \"web-1\", \"tags\": [\"v1\", "
	        "\"blue\"],\n"
	        " \"address\": \"10.0.0.5\", \"port\": 8080, \"meta\": {\"version\": \"1.2\"},\n"
	        " \"tagged_addresses\": {\"lan_ipv4\": {\"address\": \"10.0.0.5\", \"port\": "
	        "8080}},\n"
	        " \"weights\": {\"passing\": 5, \"warning\": 2}, \"enable_tag_override\": true,\n"
	        " \"check\": {\"id\": \"web-1:http\", \"name\": \"HTTP\", \"notes\": \"n\",\n"
	        "   \"http\": \"http://127.0.0.1:8080/\", \"method\": \"HEAD\", \"body\": \"b\",\n"
	        "   \"header\": {\"Accept\": [\"text/plain\"]}, \"disable_redirects\": true,\n"
	        "   \"tls_server_name\": \"web\", \"tls_skip_verify\": true,\n"
	        "   \"interval\": \"500ms\", \"timeout\": \"250ms\", \"success_before_passing\": "
	        "2,\n"
	        "   \"failures_before_warning\": 1, \"failures_before_critical\": 3,\n"
	        "   \"output_max_size\": 1024, \"deregister_critical_service_after\": \"2m\",\n"
	        "   \"status\": \"passing\", \"service_id\": \"ignored\"}}}");
	cr_assert_eq(conf.nservices, 1);
	svc = &conf.services[0];
	cr_assert_str_eq(svc->name, "web");
	cr_assert_str_eq(svc->id, "web-1");
	cr_assert_eq(svc->ntags, 2);
	cr_assert_str_eq(svc->tags[1], "blue");
	cr_assert_str_eq(svc->address, "10.0.0.5");
	cr_assert_eq(svc->port, 8080);
	cr_assert_str_eq(svc->meta[0].key, "version");
	cr_assert_str_eq(svc->tagged_addresses[0].name, "lan_ipv4");
	cr_assert_eq(svc->tagged_addresses[0].port, 8080);
	cr_assert(svc->has_weights && svc->weight_passing == 5 && svc->weight_warning == 2);
	cr_assert(svc->enable_tag_override);
	cr_assert_str_eq(svc->origin, path);
	cr_assert_eq(svc->nchecks, 1);
	check = &svc->checks[0];
	cr_assert_eq(check->kind, PROBE_HTTP);
	cr_assert_str_eq(check->id, "web-1:http");
	cr_assert_str_eq(check->name, "HTTP");
	cr_assert_str_eq(check->notes, "n");
	cr_assert_str_eq(check->http_url, "http://127.0.0.1:8080/");
	cr_assert_str_eq(check->http_method, "HEAD");
	cr_assert_str_eq(check->http_body, "b");
	cr_assert_eq(check->nhttp_headers, 1);
	cr_assert(check->disable_redirects && check->tls_skip_verify);
	cr_assert_str_eq(check->tls_server_name, "web");
	cr_assert_eq(check->interval_ms, 500, "kept as given: no 1s floor");
	cr_assert_eq(check->timeout_ms, 250);
	cr_assert_eq(check->success_before_passing, 2);
	cr_assert_eq(check->failures_before_warning, 1);
	cr_assert_eq(check->failures_before_critical, 3);
	cr_assert_eq(check->output_max_size, 1024);
	cr_assert_eq(check->deregister_after_ms, 120000);
}

Test(conf_consul, a_services_list, .init = json_init, .fini = json_fini)
{
	json_ok("{\"services\": [{\"name\": \"web\", \"port\": 80},\n"
	        "              {\"name\": \"db\", \"checks\": [{\"tcp\": \"127.0.0.1:5432\",\n"
	        "                                           \"interval\": \"5s\"}]}]}");
	cr_assert_eq(conf.nservices, 2);
	cr_assert_str_eq(conf.services[0].name, "web");
	cr_assert_eq(conf.services[0].checks[0].kind, PROBE_PROCESS, "no checks: the default one");
	cr_assert_str_eq(conf.services[1].id, "db");
	cr_assert_eq(conf.services[1].checks[0].kind, PROBE_TCP);
	cr_assert_str_eq(conf.services[1].checks[0].id, "service:db");
}

Test(conf_consul, service_and_services_together, .init = json_init, .fini = json_fini)
{
	json_ok("{\"service\": {\"name\": \"a\"}, \"services\": [{\"name\": \"b\"}]}");
	cr_assert_eq(conf.nservices, 2);
}

/* mapstructure matches keys in any case; the listed aliases too. */
Test(conf_consul, camel_case_as_consul_reads_it, .init = json_init, .fini = json_fini)
{
	const struct service_conf *svc;

	json_ok("{\"Service\": {\"Name\": \"web\", \"ID\": \"web-1\", \"Tags\": [\"v1\"], "
	        "\"Port\": 80,\n"
	        " \"Meta\": {\"k\": \"v\"}, \"Weights\": {\"Passing\": 3, \"Warning\": 0},\n"
	        " \"Checks\": [\n"
	        "  {\"CheckID\": \"a\", \"Name\": \"A\", \"HTTP\": \"http://127.0.0.1/\",\n"
	        "   \"Interval\": \"10s\", \"Timeout\": \"1s\", \"Method\": \"GET\",\n"
	        "   \"Header\": {\"X\": [\"1\"]}, \"TLSSkipVerify\": true,\n"
	        "   \"DeregisterCriticalServiceAfter\": \"5m\", \"Notes\": \"n\"},\n"
	        "  {\"ID\": \"b\", \"ScriptArgs\": [\"/bin/check\"], \"Interval\": \"10s\"},\n"
	        "  {\"id\": \"c\", \"TCP\": \"127.0.0.1:1\", \"INTERVAL\": \"1s\"},\n"
	        "  {\"id\": \"d\", \"TTL\": \"20s\", \"ServiceID\": \"web-1\"}]}}");
	svc = &conf.services[0];
	cr_assert_str_eq(svc->id, "web-1");
	cr_assert_eq(svc->weight_warning, 0);
	cr_assert_eq(svc->nchecks, 4);
	cr_assert_str_eq(svc->checks[0].id, "a");
	cr_assert(svc->checks[0].tls_skip_verify);
	cr_assert_eq(svc->checks[0].deregister_after_ms, 300000);
	cr_assert_eq(svc->checks[1].kind, PROBE_EXEC);
	cr_assert_str_eq(svc->checks[1].args[0], "/bin/check");
	cr_assert_eq(svc->checks[2].kind, PROBE_TCP);
	cr_assert_eq(svc->checks[3].kind, PROBE_PROCESS);
}

Test(conf_consul, header_arrays_send_each_value, .init = json_init, .fini = json_fini)
{
	const struct check_conf *check;

	json_ok("{\"service\": {\"name\": \"web\", \"check\": {\"http\": \"http://127.0.0.1/\",\n"
	        " \"interval\": \"1s\", \"header\": {\"Accept\": [\"a\", \"b\"], \"X-Empty\": [],\n"
	        " \"Host\": [\"web.example\"]}}}}");
	check = &conf.services[0].checks[0];
	cr_assert_eq(check->nhttp_headers, 3);
	cr_assert_str_eq(check->http_headers[0].key, "Accept");
	cr_assert_str_eq(check->http_headers[0].value, "a");
	cr_assert_str_eq(check->http_headers[1].value, "b");
	cr_assert_str_eq(check->http_headers[2].key, "Host");
	cr_assert_str_eq(check->http_headers[2].value, "web.example");
	cr_assert_str_eq(check->http_method, "GET");
}

Test(conf_consul, args_run_without_a_shell, .init = json_init, .fini = json_fini)
{
	const struct check_conf *check;

	json_ok("{\"service\": {\"name\": \"web\", \"check\": {\"args\": [\"/bin/sh\", \"-c\", "
	        "\"exit 1\"],\n"
	        " \"interval\": \"30s\"}}}");
	check = &conf.services[0].checks[0];
	cr_assert_eq(check->kind, PROBE_EXEC);
	cr_assert_not(check->shell);
	cr_assert_str_eq(check->args[2], "exit 1");
	cr_assert_null(check->args[3]);
	cr_assert_eq(check->timeout_ms, CONF_DEFAULT_EXEC_TIMEOUT_MS);
}

Test(conf_consul, a_ttl_check_follows_the_command, .init = json_init, .fini = json_fini)
{
	const struct check_conf *check;

	json_ok("{\"service\": {\"name\": \"web\", \"check\": {\"ttl\": \"30s\", \"notes\": "
	        "\"x\"}}}");
	check = &conf.services[0].checks[0];
	cr_assert_eq(check->kind, PROBE_PROCESS);
	cr_assert_eq(check->ttl_ms, 30000);
	cr_assert_eq(conf_check_ttl(&conf, check), 30000);
	cr_assert_eq(conf_check_heartbeat(&conf, check), 10000);
}

/* builder.go serviceVal appends "checks" first, then "check". */
Test(conf_consul, checks_come_before_check, .init = json_init, .fini = json_fini)
{
	const struct service_conf *svc;

	json_ok("{\"service\": {\"name\": \"web\",\n"
	        " \"check\": {\"ttl\": \"10s\"},\n"
	        " \"checks\": [{\"tcp\": \"127.0.0.1:1\", \"interval\": \"1s\"},\n"
	        "            {\"http\": \"http://127.0.0.1/\", \"interval\": \"1s\"}]}}");
	svc = &conf.services[0];
	cr_assert_eq(svc->nchecks, 3);
	cr_assert_eq(svc->checks[0].kind, PROBE_TCP);
	cr_assert_str_eq(svc->checks[0].id, "service:web:1");
	cr_assert_eq(svc->checks[1].kind, PROBE_HTTP);
	cr_assert_eq(svc->checks[2].kind, PROBE_PROCESS);
	cr_assert_str_eq(svc->checks[2].id, "service:web:3");
}

Test(conf_consul, empty_strings_are_unset_and_0s_is_off, .init = json_init, .fini = json_fini)
{
	const struct service_conf *svc;

	json_ok("{\"service\": {\"name\": \"web\", \"id\": \"\", \"checks\": [\n"
	        " {\"ttl\": \"10s\", \"name\": \"\", \"deregister_critical_service_after\": "
	        "\"0s\"},\n"
	        " {\"ttl\": \"10s\", \"deregister_critical_service_after\": \"\"}]}}");
	svc = &conf.services[0];
	cr_assert_str_eq(svc->id, "web");
	cr_assert_str_eq(svc->checks[0].name, "Service 'web' check");
	cr_assert_eq(svc->checks[0].deregister_after_ms, 0);
	cr_assert_eq(svc->checks[1].deregister_after_ms, CONF_DEFAULT_DEREGISTER_AFTER_MS);
}

/* ---------------------------------------------------------------- errors */

struct bad_json {
	const char *what;
	const char *text;
	const char *message; /* part of err.text */
};

#define SVC(rest) "{\"service\": {\"name\": \"web\"" rest "}}"
#define CHECK(body) SVC(", \"check\": {" body "}")

static const struct bad_json bad_json[] = {
	{ "grpc", CHECK("\"grpc\": \"127.0.0.1:9090\", \"interval\": \"10s\""),
	  "service.check: grpc: ostiary cannot run grpc checks; give the check as http, tcp, args "
	  "or ttl (supported: http, tcp, args, ttl)" },
	{ "docker",
	  CHECK("\"docker_container_id\": \"f00\", \"args\": [\"x\"], \"interval\": \"1s\""),
	  "ostiary cannot run docker checks" },
	{ "docker alias", CHECK("\"DockerContainerID\": \"f00\""),
	  "ostiary cannot run docker checks" },
	{ "udp", CHECK("\"udp\": \"127.0.0.1:53\", \"interval\": \"1s\""),
	  "cannot run udp checks" },
	{ "h2ping", CHECK("\"h2ping\": \"127.0.0.1:443\", \"interval\": \"1s\""),
	  "cannot run h2ping" },
	{ "alias", CHECK("\"alias_service\": \"db\""), "cannot run alias checks" },
	{ "os service", CHECK("\"os_service\": \"sshd\", \"interval\": \"1s\""),
	  "cannot run os_service" },
	{ "nothing to run", CHECK("\"name\": \"x\""),
	  "service.check: the check has nothing to run" },
	{ "two things", CHECK("\"http\": \"http://x/\", \"tcp\": \"x:1\", \"interval\": \"1s\""),
	  "a check runs one thing: http or tcp" },
	{ "no interval", CHECK("\"http\": \"http://x/\""),
	  "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or GRPC checks" },
	{ "zero interval", CHECK("\"tcp\": \"x:1\", \"interval\": \"0s\""),
	  "Interval must be > 0" },
	{ "ttl and interval", CHECK("\"ttl\": \"10s\", \"interval\": \"10s\""),
	  "Interval and TTL cannot both be specified" },
	{ "zero ttl", CHECK("\"ttl\": \"0s\""), "TTL must be > 0 for TTL checks" },
	{ "timeout on ttl", CHECK("\"ttl\": \"10s\", \"timeout\": \"1s\""),
	  "service.check.timeout: timeout does not apply to TTL checks" },
	{ "header on tcp", CHECK("\"tcp\": \"x:1\", \"interval\": \"1s\", \"header\": {}"),
	  "service.check.header: header does not apply to tcp checks" },
	{ "header value",
	  CHECK("\"http\": \"http://x/\", \"interval\": \"1s\", \"header\": {\"A\": \"b\"}"),
	  "header \"A\" must be an array of strings" },
	{ "unknown key", SVC(", \"colour\": \"blue\""),
	  "service: unknown key \"colour\" (allowed here: id, name, tags" },
	{ "unknown check key",
	  "{\"services\": [{\"name\": \"a\"}, {\"name\": \"web\", \"checks\": [\n"
	  "{\"ttl\": \"1s\"}, {\"ttl\": \"1s\", \"intervall\": \"1s\"}]}]}",
	  "services[1].checks[1]: unknown key \"intervall\"" },
	{ "multi-word CamelCase", SVC(", \"EnableTagOverride\": true"),
	  "unknown key \"EnableTagOverride\": Consul's service definitions spell it "
	  "\"enable_tag_override\"" },
	{ "CamelCase threshold", CHECK("\"ttl\": \"1s\", \"SuccessBeforePassing\": 2"),
	  "spell it \"success_before_passing\"" },
	{ "check_id", CHECK("\"ttl\": \"1s\", \"check_id\": \"x\""), "spell it \"id\"" },
	{ "two spellings", "{\"service\": {\"name\": \"a\", \"Name\": \"b\"}}",
	  "\"name\" is given twice (as \"name\" and \"Name\")" },
	{ "alias twice", CHECK("\"args\": [\"a\"], \"ScriptArgs\": [\"b\"], \"interval\": \"1s\""),
	  "\"args\" is given twice" },
	{ "proxy", SVC(", \"connect\": {\"native\": true}"),
	  "service.connect: Connect (sidecar services, native) is not supported" },
	{ "kind", SVC(", \"kind\": \"connect-proxy\""), "typical services only" },
	{ "service token", SVC(", \"token\": \"secret\""),
	  "per-service ACL tokens are not supported" },
	{ "top-level key", "{\"service\": {\"name\": \"a\"}, \"datacenter\": \"dc1\"}",
	  "unknown key \"datacenter\" (a service definition file holds \"service\" or "
	  "\"services\")" },
	{ "no service", "{}", "no \"service\" or \"services\"" },
	{ "not an object", "[1, 2]", "a service definition file is a JSON object" },
	{ "services type", "{\"services\": {\"name\": \"a\"}}",
	  "services: must be an array of services, not an object" },
	{ "nameless", "{\"services\": [{\"port\": 80}]}", "services[0]: a service needs a name" },
	{ "port type", SVC(", \"port\": \"80\""),
	  "service.port: must be a whole number, not a string" },
	{ "port range", SVC(", \"port\": 70000"), "70000 is out of range (0 to 65535)" },
	{ "duration type", CHECK("\"ttl\": 10"),
	  "service.check.ttl: must be a duration string such as \"10s\"" },
	{ "bad duration", CHECK("\"ttl\": \"10x\""), "invalid duration \"10x\"" },
	{ "tags type", SVC(", \"tags\": [\"a\", 1]"), "service.tags: element 1 must be a string" },
	{ "reserved meta", SVC(", \"meta\": {\"consul-x\": \"1\"}"),
	  "service.meta: Meta key \"consul-x\": the prefix \"consul-\" is reserved" },
	{ "tagged", SVC(", \"tagged_addresses\": {\"wan_ipv4\": {\"address\": \"::1\"}}"),
	  "service.tagged_addresses.wan_ipv4: Service tagged address \"wan_ipv4\" must be a valid "
	  "ipv4" },
	{ "tagged key", SVC(", \"tagged_addresses\": {\"wan\": {\"addr\": \"x\"}}"),
	  "service.tagged_addresses.wan: unknown key \"addr\"" },
	{ "weights", SVC(", \"weights\": {\"passing\": 0}"),
	  "service.weights: Invalid Weights: Passing must be greater than 0" },
	{ "status", CHECK("\"ttl\": \"1s\", \"status\": \"ok\""),
	  "Status for checks must 'passing', 'warning', 'critical'" },
	{ "empty args", CHECK("\"args\": [], \"interval\": \"1s\""),
	  "args must name a program first" },
	{ "check token", CHECK("\"ttl\": \"1s\", \"token\": \"x\""), "per-check ACL tokens" },
	{ "bool type", SVC(", \"enable_tag_override\": \"yes\""),
	  "must be true or false, not a string" },
	{ "negative threshold",
	  CHECK("\"tcp\": \"x:1\", \"interval\": \"1s\", \"failures_before_critical\": -1"),
	  "-1 is out of range" },
};

Test(conf_consul, errors_name_the_file_and_the_json_path, .init = json_init, .fini = json_fini)
{
	for (size_t i = 0; i < N(bad_json); i++) {
		consul_error err;

		cr_assert_eq(json_load(bad_json[i].text, &err), -1, "%s: accepted",
		             bad_json[i].what);
		cr_expect_str_eq(err.source, path, "%s: source", bad_json[i].what);
		cr_expect_eq(err.line, 0, "%s: line", bad_json[i].what);
		cr_expect(strstr(err.text, bad_json[i].message) != NULL, "%s: \"%s\" lacks \"%s\"",
		          bad_json[i].what, err.text, bad_json[i].message);
		conf_free(&conf);
		conf_init(&conf);
	}
}

Test(conf_consul, a_syntax_error_has_line_and_column, .init = json_init, .fini = json_fini)
{
	consul_error err;

	cr_assert_eq(json_load("{\"service\": {\n  \"name\": \"web\",\n  \"port\": 80,,\n}}", &err),
	             -1);
	cr_assert_str_eq(err.source, path);
	cr_assert_eq(err.line, 3);
	cr_assert_eq(err.column, 14);
	cr_assert(strlen(err.text) > 0);
}

Test(conf_consul, duplicate_keys_are_a_syntax_error, .init = json_init, .fini = json_fini)
{
	consul_error err;

	cr_assert_eq(json_load("{\"service\": {\"name\": \"a\",\n \"name\": \"b\"}}", &err), -1);
	cr_assert_eq(err.line, 2);
	cr_assert(strstr(err.text, "duplicate"), "%s", err.text);
}

Test(conf_consul, a_missing_file, .init = json_init, .fini = json_fini)
{
	consul_error err = { 0 };

	unlink(path);
	cr_assert_eq(conf_consul_load(&conf, path, &err), -1);
	cr_assert_str_eq(err.source, path);
	cr_assert_eq(err.line, 0);
	cr_assert(strstr(err.text, "No such file"), "%s", err.text);
}

/* A name that conf_finish, not the loader, finds wrong still names the file. */
Test(conf_consul, finish_errors_name_the_file, .init = json_init, .fini = json_fini)
{
	consul_error err;

	cr_assert_eq(json_load(CHECK("\"tcp\": \"no-port\", \"interval\": \"1s\""), &err), 0, "%s",
	             err.text);
	cr_assert_eq(conf_finish(&conf, &err), -1);
	cr_assert_str_eq(err.source, path);
	cr_assert(strstr(err.text, "a tcp check needs tcp = \"host:port\""), "%s", err.text);
}

/* ------------------------------------------------------------ round trip */

/* JSON in Consul's file format -> the model -> the body of
 * PUT /v1/agent/service/register, through the view the engine registers. */
Test(conf_consul, round_trip_to_the_register_body, .init = json_init, .fini = json_fini)
{
	const struct service_conf *svc;
	consul_check_def checks[3];
	consul_tagged_address tagged[1];
	consul_meta meta[2];
	consul_service view;
	json_t *body;
	char *text;

	json_ok("{\"service\": {\"name\": \"web\", \"id\": \"web-1\", \"tags\": [\"v1\"],\n"
	        " \"address\": \"10.0.0.5\", \"port\": 8080, \"meta\": {\"version\": \"1.2.3\"},\n"
	        " \"tagged_addresses\": {\"wan\": {\"address\": \"198.51.100.7\", \"port\": 80}},\n"
	        " \"weights\": {\"passing\": 10}, \"enable_tag_override\": true,\n"
	        " \"checks\": [\n"
	        "  {\"id\": \"web-1:http\", \"name\": \"web HTTP\", \"notes\": \"GET /health\",\n"
	        "   \"http\": \"http://127.0.0.1:8080/health\", \"interval\": \"10s\",\n"
	        "   \"timeout\": \"2s\", \"deregister_critical_service_after\": \"90s\"},\n"
	        "  {\"tcp\": \"127.0.0.1:8080\", \"interval\": \"5s\", \"timeout\": \"1s\"},\n"
	        "  {\"ttl\": \"30s\"}]}}");
	svc = &conf.services[0];
	cr_assert_eq(svc->nchecks, N(checks));
	conf_service_view(&conf, svc, &view, checks, tagged, meta);
	cr_assert_eq(consul_service_validate(&view, NULL), 0);
	body = consul_service_to_json(&view);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	/* TTLs: 3 * 10s + 2s, 3 * 5s + 1s, and the TTL check's own. */
	cr_assert_str_eq(
	        text,
	        "{\"ID\":\"web-1\",\"Name\":\"web\",\"Tags\":[\"v1\"],\"Address\":\"10.0.0.5\","
	        "\"Port\":8080,\"Meta\":{\"version\":\"1.2.3\",\"ostiary-owner\":\"web-1\"},"
	        "\"TaggedAddresses\":{\"wan\":{\"Address\":\"198.51.100.7\",\"Port\":80}},"
	        "\"Weights\":{\"Passing\":10,\"Warning\":1},\"EnableTagOverride\":true,"
	        "\"Checks\":["
	        "{\"CheckID\":\"web-1:http\",\"Name\":\"web HTTP\",\"Notes\":\"GET /health\","
	        "\"TTL\":\"32s\",\"Status\":\"critical\",\"DeregisterCriticalServiceAfter\":"
	        "\"1m30s\"},"
	        "{\"CheckID\":\"service:web-1:2\",\"Name\":\"Service 'web' check\",\"TTL\":\"16s\","
	        "\"Status\":\"critical\",\"DeregisterCriticalServiceAfter\":\"10m0s\"},"
	        "{\"CheckID\":\"service:web-1:3\",\"Name\":\"Service 'web' check\","
	        "\"Notes\":\"TTL check fed by ostiary: passing while the process runs\","
	        "\"TTL\":\"30s\","
	        "\"Status\":\"critical\",\"DeregisterCriticalServiceAfter\":\"10m0s\"}]}");
	free(text);
}

Test(conf_consul, one_check_is_sent_as_Check, .init = json_init, .fini = json_fini)
{
	consul_check_def checks[1];
	consul_meta meta[1];
	consul_service view;
	json_t *body, *check;

	json_ok("{\"service\": {\"name\": \"web\", \"check\": {\"ttl\": \"15s\"}}}");
	conf_service_view(&conf, &conf.services[0], &view, checks, NULL, meta);
	body = consul_service_to_json(&view);
	check = json_object_get(body, "Check");
	cr_assert(json_is_object(check));
	cr_assert_str_eq(json_string_value(json_object_get(check, "CheckID")), "service:web");
	cr_assert_str_eq(json_string_value(json_object_get(check, "TTL")), "15s");
	cr_assert_null(json_object_get(check, "ID"), "the agent rejects ID inside a service");
	cr_assert_null(json_object_get(body, "Weights"), "only when asked for");
	cr_assert_null(json_object_get(body, "TaggedAddresses"));
	cr_assert_null(json_object_get(body, "EnableTagOverride"));
	json_decref(body);
}
