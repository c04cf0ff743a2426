/* ostiary's libconfig configuration file (conf_file.c): the schema, values,
 * relative paths, and errors that name file, line and setting. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "conf.h"
#include "log.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* The committed example; tests run from the repository root. */
#define EXAMPLE_CONF "etc/ostiary.conf"

static struct conf conf;
static char dir[64];
static char *files[64];
static size_t nfiles;

static void
tmp_init(void)
{
	conf_init(&conf);
	snprintf(dir, sizeof(dir), "/tmp/ostiary-conf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
tmp_fini(void)
{
	conf_free(&conf);
	for (size_t i = 0; i < nfiles; i++) {
		unlink(files[i]);
		free(files[i]);
	}
	nfiles = 0;
	rmdir(dir);
}

/* Write dir/name; the path stays valid until tmp_fini. */
static const char *
tmp_file(const char *name, const char *text)
{
	char *path = NULL;
	FILE *fp;

	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	cr_assert_lt(nfiles, N(files));
	files[nfiles++] = path;
	return path;
}

static void
load_ok(const char *path)
{
	consul_error err = { 0 };

	cr_assert_eq(conf_file_load(&conf, path, &err), 0, "%s:%d: %s", err.source, err.line,
	             err.text);
}

static void
finish_ok(void)
{
	consul_error err = { 0 };

	cr_assert_eq(conf_finish(&conf, &err), 0, "%s:%d: %s", err.source, err.line, err.text);
}

/* libconfig's scanner calls its own exported ostiary_strbuf_append; a global
 * function of that name in the program replaces it and every string read
 * comes out wrong.  This names the cause when it happens. */
Test(conf_file, libconfig_reads_strings_in_this_program)
{
	config_t cfg;
	const char *value = NULL;

	config_init(&cfg);
	cr_assert_eq(config_read_string(&cfg, "s = \"abc\";"), CONFIG_TRUE);
	cr_expect(config_lookup_string(&cfg, "s", &value) == CONFIG_TRUE && value != NULL &&
	                  strcmp(value, "abc") == 0,
	          "libconfig read \"%s\" for \"abc\": a global symbol of this program (e.g. "
	          "ostiary_strbuf_append in libostiary.a) interposes libconfig's own; compare "
	          "nm -D on the binary and on libconfig.so",
	          value ? value : "(nothing)");
	config_destroy(&cfg);
}

/* ------------------------------------------------------------ the example */

Test(conf_file, the_committed_example_loads, .init = tmp_init, .fini = tmp_fini)
{
	const struct service_conf *api, *jobs, *web;
	const struct check_conf *http, *tcp, *exec;

	load_ok(EXAMPLE_CONF);
	finish_ok();
	cr_assert_str_eq(conf.path, EXAMPLE_CONF);
	cr_assert_str_eq(conf.command[0], "/usr/local/bin/api-server");
	cr_assert_eq(conf.consul.timeout_ms, 5000);
	cr_assert_eq(conf.heartbeat_ms, 3000);
	cr_assert_eq(conf.nservices, 3, "api, api-jobs, and web from service_files");
	api = &conf.services[0];
	jobs = &conf.services[1];
	web = &conf.services[2];
	cr_assert_str_eq(api->id, "api-1");
	cr_assert_eq(api->nmeta, 2);
	cr_assert_eq(api->ntagged_addresses, 2);
	cr_assert(api->has_weights && api->weight_passing == 10);
	cr_assert_eq(api->nchecks, 3);
	http = &api->checks[0];
	tcp = &api->checks[1];
	exec = &api->checks[2];
	cr_assert_eq(http->kind, PROBE_HTTP);
	cr_assert_eq(http->nhttp_headers, 3, "Accept, and X-Probe twice");
	cr_assert_eq(tcp->kind, PROBE_TCP);
	cr_assert_str_eq(tcp->id, "service:api-1:2");
	cr_assert_eq(exec->kind, PROBE_EXEC);
	cr_assert_str_eq(exec->env[0], "API_URL=http://127.0.0.1:9090");
	cr_assert_eq(jobs->nchecks, 1);
	cr_assert_eq(jobs->checks[0].kind, PROBE_PROCESS);
	cr_assert_str_eq(jobs->checks[0].id, "service:api-jobs");
	cr_assert_str_eq(web->name, "web");
	cr_assert_str_eq(web->origin, "etc/consul-web.json");
	cr_assert_eq(web->nchecks, 2);
}

Test(conf_file, the_committed_consul_example_loads, .init = tmp_init, .fini = tmp_fini)
{
	consul_error err = { 0 };

	cr_assert_eq(conf_consul_load(&conf, "etc/consul-web.json", &err), 0, "%s", err.text);
	conf.command = calloc(2, sizeof(char *));
	conf.command[0] = strdup("/bin/true");
	finish_ok();
	cr_assert_eq(conf.services[0].checks[0].kind, PROBE_HTTP);
	cr_assert_eq(conf.services[0].checks[1].kind, PROBE_TCP);
}

/* ---------------------------------------------------------------- values */

Test(conf_file, a_minimal_file, .init = tmp_init, .fini = tmp_fini)
{
	load_ok(tmp_file("min.conf", "command = [ \"/bin/sleep\", \"60\" ];\n"
	                             "services = ( { name = \"web\"; } );\n"));
	finish_ok();
	cr_assert_str_eq(conf.command[1], "60");
	cr_assert_null(conf.command[2]);
	cr_assert_str_eq(conf.services[0].id, "web");
	cr_assert_eq(conf.services[0].checks[0].kind, PROBE_PROCESS);
	cr_assert_str_eq(conf.services[0].origin + strlen(dir), "/min.conf:2");
	cr_assert_eq(conf.ttl_ms, CONF_DEFAULT_TTL_MS);
}

Test(conf_file, lifecycle_settings, .init = tmp_init, .fini = tmp_fini)
{
	load_ok(tmp_file("life.conf", "agent = { fail_closed_after = \"1m\"; "
	                              "verify_interval = \"10s\"; };\n"
	                              "command = [ \"/bin/true\" ];\n"
	                              "drain = \"deregister\";\n"
	                              "drain_delay = \"2s\";\n"
	                              "stop_signal = \"QUIT\";\n"
	                              "ready_after = 2;\n"
	                              "notify = true;\n"
	                              "restart = \"always\";\n"
	                              "restart_delay = \"500ms\";\n"
	                              "restart_max_delay = \"20s\";\n"
	                              "owner = \"fleet\";\n"
	                              "single_child = true;\n"
	                              "rewrite = [ \"HUP:0\", \"TERM:QUIT\" ];\n"
	                              "services = ( { name = \"web\"; } );\n"));
	finish_ok();
	cr_assert_eq(conf.fail_closed_ms, 60000);
	cr_assert_eq(conf.verify_interval_ms, 10000);
	cr_assert_eq(conf.drain, CONF_DRAIN_DEREGISTER);
	cr_assert_eq(conf.drain_delay_ms, 2000);
	cr_assert_eq(conf.stop_signal, SIGQUIT);
	cr_assert_eq(conf.ready_after, 2);
	cr_assert(conf.notify);
	cr_assert_eq(conf.restart, CONF_RESTART_ALWAYS);
	cr_assert_eq(conf.restart_delay_ms, 500);
	cr_assert_eq(conf.restart_max_delay_ms, 20000);
	cr_assert_str_eq(conf.owner, "fleet");
	cr_assert(conf.single_child);
	cr_assert_eq(conf_rewrite(&conf, SIGHUP), 0);
	cr_assert_eq(conf_rewrite(&conf, SIGTERM), SIGQUIT);
}

Test(conf_file, top_level_and_agent_settings, .init = tmp_init, .fini = tmp_fini)
{
	char expect[128];

	tmp_file("token", "  s3cr3t\n");
	load_ok(tmp_file("agent.conf", "agent = {\n"
	                               "  address = \"https://consul.example:8501/prefix\";\n"
	                               "  token_file = \"token\";\n"
	                               "  ca_file = \"ca.pem\";\n"
	                               "  ca_path = \"/etc/ssl/certs\";\n"
	                               "  client_cert = \"cert.pem\";\n"
	                               "  client_key = \"key.pem\";\n"
	                               "  tls_server_name = \"consul.example\";\n"
	                               "  timeout = \"1500ms\";\n"
	                               "  retry_max = 30;\n"
	                               "};\n"
	                               "command = [ \"/bin/true\" ];\n"
	                               "kill_timeout = 3;\n"
	                               "ttl = \"20s\";\n"
	                               "heartbeat = \"5s\";\n"
	                               "log_level = \"debug\";\n"
	                               "log_format = \"logfmt\";\n"
	                               "metrics_addr = \"[::1]:9100\";\n"
	                               "status_socket = \"none\";\n"
	                               "subreaper = true;\n"
	                               "services = ( { name = \"web\"; } );\n"));
	finish_ok();
	cr_assert(conf.consul.https);
	cr_assert_str_eq(conf.consul.host, "consul.example");
	cr_assert_eq(conf.consul.port, 8501);
	cr_assert_str_eq(conf.consul.path_prefix, "/prefix");
	cr_assert_str_eq(conf.consul.token, "s3cr3t", "read from the file, trimmed");
	snprintf(expect, sizeof(expect), "%s/ca.pem", dir);
	cr_assert_str_eq(conf.consul.tls.ca_file, expect, "relative to the file's directory");
	cr_assert_str_eq(conf.consul.tls.ca_path, "/etc/ssl/certs");
	snprintf(expect, sizeof(expect), "%s/key.pem", dir);
	cr_assert_str_eq(conf.consul.tls.key_file, expect);
	cr_assert_str_eq(conf.consul.tls.server_name, "consul.example");
	cr_assert_eq(conf.consul.timeout_ms, 1500);
	cr_assert_eq(conf.log_format, LOG_FORMAT_LOGFMT);
	cr_assert_str_eq(conf.metrics_addr, "[::1]:9100");
	cr_assert_str_eq(conf.status_socket, "none");
	cr_assert_eq(conf.consul.connect_timeout_ms, 1500, "capped by the total timeout");
	cr_assert_eq(conf.retry_max_ms, 30000, "a bare number is seconds");
	cr_assert_eq(conf.kill_timeout_ms, 3000);
	cr_assert_eq(conf.ttl_ms, 20000);
	cr_assert_eq(conf.heartbeat_ms, 5000);
	cr_assert_eq(conf.verbosity, 2);
	cr_assert(conf.subreaper);
}

Test(conf_file, check_settings, .init = tmp_init, .fini = tmp_fini)
{
	const struct check_conf *exec, *http, *tcp;
	char expect[128];

	load_ok(tmp_file(
	        "checks.conf",
	        "command = [ \"/bin/true\" ];\n"
	        "services = ( { name = \"web\"; deregister_after = 0;\n"
	        "  checks = (\n"
	        "    { type = \"exec\"; args = [ \"/bin/check\", \"\", \"-q\" ]; shell = true;\n"
	        "      env = { A_1 = \"x=y\"; b = \"\"; }; inherit_env = true;\n"
	        "      cwd = \"/srv\"; user = \"nobody\"; group = \"nogroup\";\n"
	        "      interval = 2; timeout = \"1.5s\"; initial_delay = \"250ms\"; spread = 0;\n"
	        "      deregister_after = \"1m\"; },\n"
	        "    { type = \"http\"; id = \"web:http\"; name = \"HTTP\"; notes = \"\";\n"
	        "      url = \"https://127.0.0.1:8443/\"; method = \"POST\"; body = \"{}\";\n"
	        "      headers = { X-B = \"1\"; Accept = [ \"a\", \"b\" ]; };\n"
	        "      tls_skip_verify = true; tls_ca_file = \"ca.pem\";\n"
	        "      tls_server_name = \"web.internal\"; disable_redirects = true;\n"
	        "      success_before_passing = 2; failures_before_warning = 1;\n"
	        "      failures_before_critical = 3; output_max_size = 512; ttl = \"1m\"; },\n"
	        "    { type = \"tcp\"; tcp = \"[::1]:5432\"; }\n"
	        "  ); } );\n"));
	finish_ok();
	exec = &conf.services[0].checks[0];
	http = &conf.services[0].checks[1];
	tcp = &conf.services[0].checks[2];
	cr_assert_str_eq(exec->args[1], "", "empty arguments are arguments");
	cr_assert_str_eq(exec->args[2], "-q");
	cr_assert(exec->shell && exec->inherit_env);
	cr_assert_str_eq(exec->env[0], "A_1=x=y");
	cr_assert_str_eq(exec->env[1], "b=");
	cr_assert_null(exec->env[2]);
	cr_assert_str_eq(exec->cwd, "/srv");
	cr_assert_str_eq(exec->user, "nobody");
	cr_assert_str_eq(exec->group, "nogroup");
	cr_assert_eq(exec->interval_ms, 2000);
	cr_assert_eq(exec->timeout_ms, 1500);
	cr_assert_eq(exec->initial_delay_ms, 250);
	cr_assert_eq(exec->spread_ms, 0);
	cr_assert_eq(exec->deregister_after_ms, 60000);
	cr_assert_str_eq(http->id, "web:http");
	cr_assert_str_eq(http->notes, "");
	cr_assert_str_eq(http->http_method, "POST");
	cr_assert_str_eq(http->http_body, "{}");
	cr_assert_eq(http->nhttp_headers, 3);
	cr_assert_str_eq(http->http_headers[0].key, "X-B");
	cr_assert_str_eq(http->http_headers[1].key, "Accept");
	cr_assert_str_eq(http->http_headers[1].value, "a");
	cr_assert_str_eq(http->http_headers[2].value, "b");
	cr_assert(http->tls_skip_verify && http->disable_redirects);
	snprintf(expect, sizeof(expect), "%s/ca.pem", dir);
	cr_assert_str_eq(http->tls_ca_file, expect);
	cr_assert_str_eq(http->tls_server_name, "web.internal");
	cr_assert_eq(http->success_before_passing, 2);
	cr_assert_eq(http->failures_before_warning, 1);
	cr_assert_eq(http->failures_before_critical, 3);
	cr_assert_eq(http->output_max_size, 512);
	cr_assert_eq(http->ttl_ms, 60000);
	cr_assert_eq(http->deregister_after_ms, 0, "from the service");
	cr_assert_str_eq(tcp->tcp_addr, "[::1]:5432");
	cr_assert_str_eq(tcp->id, "service:web:3");
}

Test(conf_file, service_settings, .init = tmp_init, .fini = tmp_fini)
{
	const struct service_conf *svc;

	load_ok(tmp_file(
	        "svc.conf",
	        "command = [ \"/bin/true\" ];\n"
	        "services = ( { name = \"web\"; id = \"web-1\"; tags = ( \"a\", \"b\" );\n"
	        "  address = \"10.0.0.5\"; port = 8080;\n"
	        "  meta = { version = \"1.0\"; empty = \"\"; };\n"
	        "  tagged_addresses = { wan = { address = \"198.51.100.7\"; port = 80; };\n"
	        "                       lan_ipv6 = { address = \"2001:db8::5\"; }; };\n"
	        "  weights = { warning = 0; };\n"
	        "  enable_tag_override = true; } );\n"));
	finish_ok();
	svc = &conf.services[0];
	cr_assert_eq(svc->ntags, 2);
	cr_assert_str_eq(svc->tags[1], "b");
	cr_assert_null(svc->tags[2]);
	cr_assert_str_eq(svc->address, "10.0.0.5");
	cr_assert_eq(svc->port, 8080);
	cr_assert_eq(svc->nmeta, 2);
	cr_assert_str_eq(svc->meta[1].key, "empty");
	cr_assert_str_eq(svc->meta[1].value, "");
	cr_assert_eq(svc->ntagged_addresses, 2);
	cr_assert_str_eq(svc->tagged_addresses[0].name, "wan");
	cr_assert_eq(svc->tagged_addresses[0].port, 80);
	cr_assert_eq(svc->tagged_addresses[1].port, 0);
	cr_assert(svc->has_weights);
	cr_assert_eq(svc->weight_passing, 1, "Consul's default for what is left out");
	cr_assert_eq(svc->weight_warning, 0);
	cr_assert(svc->enable_tag_override);
}

Test(conf_file, service_files_are_relative_to_the_file, .init = tmp_init, .fini = tmp_fini)
{
	char expect[128];

	tmp_file("db.json", "{\"service\": {\"name\": \"db\", \"check\": {\"ttl\": \"30s\"}}}");
	load_ok(tmp_file("main.conf", "command = [ \"/bin/true\" ];\n"
	                              "services = ( { name = \"web\"; } );\n"
	                              "service_files = [ \"db.json\" ];\n"));
	finish_ok();
	cr_assert_eq(conf.nservices, 2);
	cr_assert_str_eq(conf.services[1].name, "db");
	snprintf(expect, sizeof(expect), "%s/db.json", dir);
	cr_assert_str_eq(conf.services[1].origin, expect);
	cr_assert_eq(conf.services[1].checks[0].ttl_ms, 30000);
}

Test(conf_file, include_is_relative_to_the_file, .init = tmp_init, .fini = tmp_fini)
{
	tmp_file("services.inc", "services = ( { name = \"web\"; } );\n");
	load_ok(tmp_file("main.conf", "command = [ \"/bin/true\" ];\n@include \"services.inc\"\n"));
	finish_ok();
	cr_assert_str_eq(conf.services[0].name, "web");
}

/* ---------------------------------------------------------------- errors */

struct bad_file {
	const char *what;
	const char *text; /* the file */
	int line;
	const char *message; /* part of err.text */
};

#define CMD "command = [ \"/bin/true\" ];\n"
#define SVC_HTTP(settings)                                                                         \
	CMD "services = ( { name = \"web\";\n"                                                     \
	    "  checks = ( { type = \"http\"; url = \"http://127.0.0.1/\";\n" settings              \
	    "\n } ); } );\n"

static const struct bad_file bad_files[] = {
	{ "drain mode", CMD "\ndrain = \"slowly\";\n", 3, "unknown drain mode \"slowly\"" },
	{ "restart policy", CMD "restart = \"maybe\";\n", 2, "unknown restart policy" },
	{ "stop signal", CMD "stop_signal = \"SIGFOO\";\n", 2, "unknown signal" },
	{ "rewrite", CMD "rewrite = [ \"HUP:0\",\n \"TERM\" ];\n", 3,
	  "rewrite.[1]: invalid \"TERM\" (use FROM:TO" },
	{ "rewrite signal", CMD "rewrite = [ \"CHLD:HUP\" ];\n", 2, "SIGCHLD is never passed on" },
	{ "ready_after", CMD "ready_after = 0;\n", 2, "from 1 to" },
	{ "syntax error", CMD "services = (\n  { name = \"web\"; }\n  { name = \"x\"; }\n);\n", 4,
	  "syntax error" },
	{ "unknown setting", CMD "colour = \"blue\";\n", 2,
	  "colour: unknown setting \"colour\" (allowed here: agent, command, kill_timeout, ttl" },
	{ "unknown check setting", SVC_HTTP("  urll = \"x\";"), 4,
	  "services.[0].checks.[0].urll: unknown setting \"urll\" (allowed here: url, method, "
	  "headers, "
	  "body, tls_skip_verify, tls_ca_file, tls_server_name, disable_redirects, type, id" },
	{ "wrong type", CMD "services = ( { name = \"web\";\n port = \"80\"; } );\n", 3,
	  "services.[0].port: must be a port from 1 to 65535, not a string" },
	{ "float", CMD "services = ( { name = \"web\"; port = 80.5; } );\n", 2, "not a float" },
	{ "port range", CMD "services = ( { name = \"web\"; port = 65536; } );\n", 2,
	  "65536 is out of range (must be a port from 1 to 65535)" },
	{ "bad duration", SVC_HTTP("  interval = \"10x\";"), 4,
	  "services.[0].checks.[0].interval: invalid duration \"10x\"" },
	{ "negative seconds", SVC_HTTP("  timeout = -1;"), 4, "timeout: invalid duration -1" },
	{ "zero interval", SVC_HTTP("  interval = \"0s\";"), 4, "interval: must be more than 0" },
	{ "missing url",
	  CMD "services = ( { name = \"web\";\n  checks = (\n    { type = \"http\"; }\n  ); } );\n",
	  4, "services.[0].checks.[0]: an http check needs url" },
	{ "thresholds", SVC_HTTP("  failures_before_critical = 2;\n  failures_before_warning = 3;"),
	  5,
	  "services.[0].checks.[0].failures_before_warning: FailuresBeforeWarning can't be higher "
	  "than "
	  "FailuresBeforeCritical (3 > 2)" },
	{ "duplicate check ids",
	  CMD "services = ( { name = \"web\"; checks = (\n"
	      "  { type = \"tcp\"; tcp = \"127.0.0.1:1\"; id = \"dup\"; } ); },\n"
	      "  { name = \"db\"; checks = (\n"
	      "  { type = \"tcp\"; tcp = \"127.0.0.1:2\";\n    id = \"dup\"; } ); } );\n",
	  6, "services.[1].checks.[0].id: duplicate check id \"dup\"" },
	{ "reserved meta key",
	  CMD "services = ( { name = \"web\"; meta = {\n  ok = \"1\";\n  consul-version = \"2\"; "
	      "}; } );\n",
	  4,
	  "services.[0].meta.consul-version: Meta key \"consul-version\": the prefix \"consul-\" "
	  "is reserved" },
	{ "meta type", CMD "services = ( { name = \"web\"; meta = { n = 1; }; } );\n", 2,
	  "services.[0].meta.n: must be a string, not a number" },
	{ "url on tcp",
	  CMD "services = ( { name = \"web\"; checks = ( { type = \"tcp\"; tcp = \"h:1\";\n url = "
	      "\"http://x/\"; } ); } );\n",
	  3, "services.[0].checks.[0].url: url is for http checks, and this is a tcp check" },
	{ "interval on process",
	  CMD "services = ( { name = \"web\"; checks = ( { type = \"process\";\n interval = "
	      "\"1s\"; } ); } );\n",
	  3, "interval is not for process checks" },
	{ "no type",
	  CMD "services = ( { name = \"web\";\n checks = ( { url = \"http://x/\"; } ); } );\n", 3,
	  "services.[0].checks.[0]: a check needs a type: exec, http, tcp or process" },
	{ "unknown type",
	  CMD "services = ( { name = \"web\";\n checks = ( { type = \"grpc\"; } ); } );\n", 3,
	  "services.[0].checks.[0].type: unknown check type \"grpc\"" },
	{ "log level", CMD "log_level = \"loud\";\n", 2, "log_level: unknown log level \"loud\"" },
	{ "log format", CMD "log_format = \"yaml\";\n", 2,
	  "log_format: unknown log format \"yaml\"" },
	{ "metrics address", CMD "\nmetrics_addr = \"[::1]:x\";\n", 3,
	  "metrics_addr: [::1]:x: \"x\" is not a port" },
	{ "no token in the file", CMD "agent = { token = \"secret\"; };\n", 2,
	  "agent.token: unknown setting \"token\" (allowed here: address, token_file" },
	{ "certificate pair", CMD "agent = {\n  client_cert = \"c.pem\"; };\n", 2,
	  "agent: client_cert and client_key go together" },
	{ "agent address", CMD "agent = {\n  address = \"ftp://x\"; };\n", 3,
	  "agent.address: Unknown protocol scheme: ftp" },
	{ "token file", CMD "agent = { token_file = \"missing-token\"; };\n", 2,
	  "agent.token_file: error loading token file" },
	{ "empty command", "command = [ ];\n", 1, "command: must name a program first" },
	{ "command type", "command = \"/bin/true\";\n", 1,
	  "command: must be a list of strings, e.g. [\"a\", \"b\"]; not a string" },
	{ "nameless service", CMD "services = (\n  { port = 80; } );\n", 3,
	  "services.[0]: a service needs a name" },
	{ "services type", CMD "services = { name = \"web\"; };\n", 2,
	  "services: must be a list of groups" },
	{ "tag type", CMD "services = ( { name = \"web\"; tags = ( \"a\",\n 1 ); } );\n", 3,
	  "services.[0].tags.[1]: must be a string, not a number" },
	{ "tagged address",
	  CMD "services = ( { name = \"web\"; tagged_addresses = {\n lan_ipv6 = { address = "
	      "\"10.0.0.1\"; }; }; } );\n",
	  3,
	  "services.[0].tagged_addresses.lan_ipv6: Service tagged address \"lan_ipv6\" must be a "
	  "valid ipv6" },
	{ "tagged address setting",
	  CMD
	  "services = ( { name = \"web\"; tagged_addresses = { lan = { host = \"x\"; }; }; } );\n",
	  2,
	  "services.[0].tagged_addresses.lan.host: unknown setting \"host\" (allowed here: "
	  "address, port)" },
	{ "weights", CMD "services = ( { name = \"web\";\n weights = { passing = 0; }; } );\n", 3,
	  "services.[0].weights: Invalid Weights: Passing must be greater than 0" },
	{ "env name",
	  CMD "services = ( { name = \"web\"; checks = ( { type = \"exec\"; args = [ \"/x\" ];\n "
	      "env = { A-B = \"1\"; }; } ); } );\n",
	  3, "services.[0].checks.[0].env.A-B: invalid environment variable name" },
	{ "bool", SVC_HTTP("  tls_skip_verify = \"yes\";"), 4,
	  "tls_skip_verify: must be true or false, not a string" },
	{ "empty string", SVC_HTTP("  method = \"\";"), 4, "method: must not be empty" },
	{ "zero ttl", CMD "ttl = 0;\n", 2, "ttl: must be more than 0" },
	{ "check is no group", CMD "services = ( { name = \"web\"; checks = ( \"http\" ); } );\n",
	  2, "services.[0].checks.[0]: must be a group" },
};

Test(conf_file, errors_name_file_line_and_setting, .init = tmp_init, .fini = tmp_fini)
{
	for (size_t i = 0; i < N(bad_files); i++) {
		const struct bad_file *c = &bad_files[i];
		consul_error err = { 0 };
		char name[32];
		const char *path;

		snprintf(name, sizeof(name), "bad%zu.conf", i);
		path = tmp_file(name, c->text);
		cr_assert_eq(conf_file_load(&conf, path, &err), -1, "%s: accepted", c->what);
		cr_expect_str_eq(err.source, path, "%s: source", c->what);
		cr_expect_eq(err.line, c->line, "%s: line %d (%s)", c->what, err.line, err.text);
		cr_expect(strstr(err.text, c->message) != NULL, "%s: \"%s\" lacks \"%s\"", c->what,
		          err.text, c->message);
		conf_free(&conf); /* a failed load leaves a conf only fit for this */
		conf_init(&conf);
	}
}

Test(conf_file, a_missing_file, .init = tmp_init, .fini = tmp_fini)
{
	consul_error err = { 0 };
	char path[96];

	snprintf(path, sizeof(path), "%s/none.conf", dir);
	cr_assert_eq(conf_file_load(&conf, path, &err), -1);
	cr_assert_str_eq(err.source, path);
	cr_assert_eq(err.line, 0);
	cr_assert(strstr(err.text, "No such file or directory"), "%s", err.text);
}

Test(conf_file, errors_in_an_included_file_name_it, .init = tmp_init, .fini = tmp_fini)
{
	consul_error err = { 0 };
	const char *inc = tmp_file("extra.inc", "# services\nbogus = 1;\n");
	const char *bad = tmp_file("broken.inc", "x = ;\n");

	cr_assert_eq(
	        conf_file_load(&conf, tmp_file("a.conf", CMD "@include \"extra.inc\"\n"), &err),
	        -1);
	cr_assert_str_eq(err.source, inc);
	cr_assert_eq(err.line, 2);
	cr_assert(strstr(err.text, "unknown setting \"bogus\""), "%s", err.text);
	conf_free(&conf);
	conf_init(&conf);
	cr_assert_eq(
	        conf_file_load(&conf, tmp_file("b.conf", CMD "@include \"broken.inc\"\n"), &err),
	        -1);
	cr_assert_str_eq(err.source, bad);
	cr_assert_eq(err.line, 1);
}

Test(conf_file, errors_in_a_service_file_name_that_file, .init = tmp_init, .fini = tmp_fini)
{
	consul_error err = { 0 };
	const char *json = tmp_file("web.json", "{\"service\": {\"name\": \"web\",\n \"port\": }}");

	cr_assert_eq(conf_file_load(&conf,
	                            tmp_file("c.conf", CMD "service_files = [ \"web.json\" ];\n"),
	                            &err),
	             -1);
	cr_assert_str_eq(err.source, json);
	cr_assert_eq(err.line, 2);
}

Test(conf_file, a_duplicate_setting_is_a_syntax_error, .init = tmp_init, .fini = tmp_fini)
{
	consul_error err = { 0 };

	cr_assert_eq(conf_file_load(&conf, tmp_file("d.conf", CMD "ttl = \"1s\";\nttl = \"2s\";\n"),
	                            &err),
	             -1);
	cr_assert_eq(err.line, 3);
	cr_assert(strstr(err.text, "duplicate"), "%s", err.text);
}

Test(conf_file, conf_finish_errors_point_at_the_check, .init = tmp_init, .fini = tmp_fini)
{
	consul_error err = { 0 };
	const char *path =
	        tmp_file("f.conf", CMD "services = ( { name = \"web\"; checks = (\n"
	                               "  { type = \"tcp\"; tcp = \"127.0.0.1:1\"; },\n"
	                               "  { type = \"tcp\"; tcp = \"no-port\"; } ); } );\n");

	load_ok(path);
	cr_assert_eq(conf_finish(&conf, &err), -1);
	cr_assert_str_eq(err.source, path);
	cr_assert_eq(err.line, 4);
	cr_assert(
	        strstr(err.text, "check \"service:web:2\": a tcp check needs tcp = \"host:port\""),
	        "%s", err.text);
}

/*
 * Found with tests/fuzz: whole seconds were taken up to INT64_MAX / 1000,
 * and conf_finish then overflowed computing the TTL (3 * interval +
 * timeout).  They stop where the string form does: Go's int64 nanoseconds.
 */
Test(conf_file, whole_seconds_stop_at_the_string_forms_limit, .init = tmp_init, .fini = tmp_fini)
{
	const char *max = tmp_file("max.conf", SVC_HTTP("  interval = 9223372036L;"));
	const char *const refused[] = {
		tmp_file("over.conf", SVC_HTTP("  interval = 9223372037L;")),
		tmp_file("old.conf", SVC_HTTP("  interval = 9223372036854775L;")),
	};
	consul_error err = { 0 };
	int64_t ms = 0;

	cr_assert_eq(consul_duration_parse("9223372036", &ms, &err), 0, "%s", err.text);
	load_ok(max);
	cr_assert_eq(conf.services[0].checks[0].interval_ms, ms);
	finish_ok();
	for (size_t i = 0; i < N(refused); i++) {
		conf_free(&conf);
		conf_init(&conf);
		cr_assert_eq(conf_file_load(&conf, refused[i], &err), -1, "%s", refused[i]);
		cr_assert(strstr(err.text, "interval: invalid duration"), "%s", err.text);
	}
}
