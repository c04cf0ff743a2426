/* Command-line and environment parsing of the ostiary tool. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_options.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A fake environment: NULL-terminated "NAME=value" strings. */
static const char *const *fake_env;

static const char *
fake_getenv(const char *name)
{
	size_t n = strlen(name);

	for (const char *const *e = fake_env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static char warnings[512];

static void
collect_warning(void *arg, const char *message)
{
	strncat(warnings, message, sizeof(warnings) - strlen(warnings) - 1);
}

/* argv must be writable (getopt permutes it, --meta splits values). */
#define MAXARGS 40
static char *argv_store[MAXARGS];
static int argc_store;

static void
free_argv(void)
{
	for (int i = 0; i < argc_store; i++)
		free(argv_store[i]);
	argc_store = 0;
}

static char **
make_argv(const char *first, ...)
{
	va_list ap;
	const char *a;

	free_argv();
	argv_store[argc_store++] = strdup("ostiary");
	va_start(ap, first);
	for (a = first; a != NULL; a = va_arg(ap, const char *))
		argv_store[argc_store++] = strdup(a);
	va_end(ap);
	argv_store[argc_store] = NULL;
	return argv_store;
}

static void
suite_fini(void)
{
	free_argv();
}

static struct conf_options_request req;

static int
parse(struct conf *o, consul_error *err, const char *const *env, char **argv)
{
	fake_env = env;
	warnings[0] = '\0';
	return conf_options_parse(o, &req, argc_store, argv, fake_getenv, collect_warning, err);
}

/* The first (command-line) service and its process check. */
#define SVC(o) (&(o).services[0])
#define CHECK(o) (&(o).services[0].checks[0])

Test(options, ianitor_command_line, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	char **argv = make_argv("--consul-agent", "consul.local", "--ttl", "30", "--heartbeat", "5",
	                        "--tags", "a", "--tags", "b", "--id", "web-1", "--port", "8080",
	                        "-v", "web", "--", "python3", "-m", "http.server", NULL);

	cr_assert_eq(parse(&o, &err, NULL, argv), 0, "%s: %s", err.source, err.text);
	cr_assert_eq(o.nservices, 1);
	cr_assert_str_eq(SVC(o)->name, "web");
	cr_assert_str_eq(SVC(o)->id, "web-1");
	cr_assert_eq(SVC(o)->nchecks, 1);
	cr_assert_eq(CHECK(o)->kind, PROBE_PROCESS);
	cr_assert_str_eq(CHECK(o)->id, "service:web-1");
	cr_assert_eq(conf_check_ttl(&o, CHECK(o)), 30000);
	cr_assert_eq(conf_check_heartbeat(&o, CHECK(o)), 5000);
	cr_assert_eq(SVC(o)->ntags, 2);
	cr_assert_str_eq(SVC(o)->tags[0], "a");
	cr_assert_str_eq(SVC(o)->tags[1], "b");
	cr_assert_null(SVC(o)->tags[2]);
	cr_assert_eq(SVC(o)->port, 8080);
	cr_assert_eq(o.verbosity, 1);
	cr_assert_str_eq(o.consul.host, "consul.local");
	cr_assert_eq(o.consul.port, 8500, "ianitor's --consul-agent defaults to port 8500");
	cr_assert_str_eq(o.command[0], "python3");
	cr_assert_str_eq(o.command[2], "http.server");
	cr_assert_null(o.command[3]);
	conf_free(&o);
}

/* Moved from the library's tests with the function. */
Test(options, agent_flag_defaults_to_8500)
{
	static const struct {
		const char *arg;
		const char *host;
		int port;
	} agents[] = {
		{ "agent.local", "agent.local", 8500 },
		{ "agent.local:9500", "agent.local", 9500 },
		{ "[::1]", "::1", 8500 },
		{ "http://agent", "agent", 8500 },
	};

	for (size_t i = 0; i < N(agents); i++) {
		consul_config cfg;

		consul_config_init(&cfg);
		cr_assert_eq(conf_options_set_agent(&cfg, agents[i].arg, "--consul-agent", NULL),
		             0);
		cr_assert_str_eq(cfg.host, agents[i].host);
		cr_assert_eq(cfg.port, agents[i].port, "%s", agents[i].arg);
		consul_config_free(&cfg);
	}
}

/* Ports and schemes the --http-addr forms have; a socket has no port. */
Test(options, agent_flag_keeps_given_ports_and_sockets)
{
	consul_config cfg;

	consul_config_init(&cfg);
	cr_assert_eq(conf_options_set_agent(&cfg, "[fe80::1]:9000", "--consul-agent", NULL), 0);
	cr_assert_str_eq(cfg.host, "fe80::1");
	cr_assert_eq(cfg.port, 9000);
	cr_assert_eq(conf_options_set_agent(&cfg, "https://agent/consul", "--consul-agent", NULL),
	             0);
	cr_assert(cfg.https);
	cr_assert_eq(cfg.port, 8500, "8500, not https's 443");
	cr_assert_str_eq(cfg.path_prefix, "/consul");
	cr_assert_eq(
	        conf_options_set_agent(&cfg, "unix:///run/consul.sock", "--consul-agent", NULL), 0);
	cr_assert_eq(cfg.transport, CONSUL_TRANSPORT_UNIX);
	cr_assert_str_eq(cfg.socket_path, "/run/consul.sock");
	cr_assert_neq(conf_options_set_agent(&cfg, "[::1", "--consul-agent", NULL), 0);
	consul_config_free(&cfg);
}

Test(options, defaults_are_documented_values, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };

	cr_assert_eq(parse(&o, &err, NULL, make_argv("svc", "--", "true", NULL)), 0);
	cr_assert_eq(conf_check_ttl(&o, CHECK(o)), 10000);
	cr_assert_eq(conf_check_heartbeat(&o, CHECK(o)), 3333,
	             "heartbeat defaults to a third of the TTL");
	cr_assert_eq(CHECK(o)->deregister_after_ms, 10 * 60 * 1000);
	cr_assert_eq(o.kill_timeout_ms, 7000);
	cr_assert_str_eq(SVC(o)->id, "svc");
	cr_assert_str_eq(o.consul.host, "127.0.0.1");
	cr_assert_eq(o.consul.port, 8500);
	cr_assert_null(o.consul.token);
	cr_assert(o.consul.tls.verify);
	/* Issue 4: stop budget 1s drain + 7s kill timeout, fail-open. */
	cr_assert_eq(o.drain, CONF_DRAIN_MAINTENANCE);
	cr_assert_eq(o.drain_delay_ms, 1000);
	cr_assert_eq(o.stop_signal, 0, "the signal ostiary received");
	cr_assert_eq(o.ready_after, 1);
	cr_assert_not(o.notify);
	cr_assert_eq(o.restart, CONF_RESTART_NEVER);
	cr_assert_eq(o.restart_delay_ms, 1000);
	cr_assert_eq(o.restart_max_delay_ms, 30000);
	cr_assert_eq(o.fail_closed_ms, 0, "fail-open");
	cr_assert_eq(o.verify_interval_ms, 30000);
	cr_assert_str_eq(o.owner, "svc", "the first service's ID");
	conf_free(&o);
}

Test(options, lifecycle_flags, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };

	cr_assert_eq(
	        parse(&o, &err, NULL,
	              make_argv("--drain", "critical", "--drain-delay", "5s", "--stop-signal",
	                        "SIGQUIT", "--ready-after", "3", "--notify", "--restart",
	                        "on-failure", "--restart-delay", "200ms", "--restart-max-delay",
	                        "1m", "--fail-closed", "30s", "--verify-interval", "0", "--owner",
	                        "fleet-a", "svc", "--", "true", NULL)),
	        0, "%s: %s", err.source, err.text);
	cr_assert_eq(o.drain, CONF_DRAIN_CRITICAL);
	cr_assert_eq(o.drain_delay_ms, 5000);
	cr_assert_eq(o.stop_signal, SIGQUIT);
	cr_assert_eq(o.ready_after, 3);
	cr_assert(o.notify);
	cr_assert_eq(o.restart, CONF_RESTART_ON_FAILURE);
	cr_assert_eq(o.restart_delay_ms, 200);
	cr_assert_eq(o.restart_max_delay_ms, 60000);
	cr_assert_eq(o.fail_closed_ms, 30000);
	cr_assert_eq(o.verify_interval_ms, 0, "0 turns the read-back off");
	cr_assert_str_eq(o.owner, "fleet-a");
	conf_free(&o);
	cr_assert_eq(
	        parse(&o, &err, NULL, make_argv("--stop-signal", "15", "svc", "--", "true", NULL)),
	        0);
	cr_assert_eq(o.stop_signal, SIGTERM, "a number works too");
	conf_free(&o);
}

Test(options, single_child_and_rewrites, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };

	cr_assert_eq(parse(&o, &err, NULL, make_argv("svc", "--", "true", NULL)), 0);
	cr_assert_not(o.single_child, "the whole process group by default");
	cr_assert_eq(conf_rewrite(&o, SIGHUP), SIGHUP, "no rewrite by default");
	conf_free(&o);
	cr_assert_eq(parse(&o, &err, NULL,
	                   make_argv("--single-child", "--rewrite", "HUP:0", "--rewrite",
	                             "SIGTERM:quit", "--rewrite", "10:12", "--rewrite", "USR2:1",
	                             "--rewrite", "USR2:2", "svc", "--", "true", NULL)),
	             0, "%s: %s", err.source, err.text);
	cr_assert(o.single_child);
	cr_assert_eq(conf_rewrite(&o, SIGHUP), 0, "0 drops the signal");
	cr_assert_eq(conf_rewrite(&o, SIGTERM), SIGQUIT);
	cr_assert_eq(conf_rewrite(&o, SIGUSR1), SIGUSR2, "numbers work too");
	cr_assert_eq(conf_rewrite(&o, SIGUSR2), SIGINT, "the last one for a signal wins");
	cr_assert_eq(conf_rewrite(&o, SIGINT), SIGINT, "others stay as they are");
	conf_free(&o);
}

Test(options, readable_token_file_is_warned_about, .fini = suite_fini)
{
	char path[] = "/tmp/ostiary-token-XXXXXX";
	int fd = mkstemp(path);
	struct conf o;
	consul_error err = { 0 };

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "abc\n", 4), 4);
	close(fd);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(
	        parse(&o, &err, NULL, make_argv("--token-file", path, "svc", "--", "true", NULL)),
	        0);
	cr_assert_null(strstr(warnings, "token file"), "0600 is fine: %s", warnings);
	cr_assert_str_eq(o.consul.token_file, path, "kept for re-reads on SIGHUP");
	conf_free(&o);
	cr_assert_eq(chmod(path, 0640), 0);
	cr_assert_eq(
	        parse(&o, &err, NULL, make_argv("--token-file", path, "svc", "--", "true", NULL)),
	        0);
	cr_assert_not_null(strstr(warnings, "readable by its group"), "%s", warnings);
	cr_assert_null(strstr(warnings, "abc"), "the warning holds the token");
	conf_free(&o);
	unlink(path);
}

Test(options, consul_duration_forms, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	char **argv = make_argv("--ttl", "1m30s", "--heartbeat", "500ms", "--kill-timeout", "2s",
	                        "--deregister-after", "0", "svc", "--", "true", NULL);

	cr_assert_eq(parse(&o, &err, NULL, argv), 0, "%s", err.text);
	cr_assert_eq(conf_check_ttl(&o, CHECK(o)), 90000);
	cr_assert_eq(conf_check_heartbeat(&o, CHECK(o)), 500);
	cr_assert_eq(o.kill_timeout_ms, 2000);
	cr_assert_eq(CHECK(o)->deregister_after_ms, 0, "0 turns deregister-after off");
	conf_free(&o);
}

Test(options, meta_pairs_split_at_first_equals, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	char **argv =
	        make_argv("--meta", "version=1.2", "--meta", "expr=a=b", "svc", "--", "true", NULL);

	cr_assert_eq(parse(&o, &err, NULL, argv), 0, "%s", err.text);
	cr_assert_eq(SVC(o)->nmeta, 2);
	cr_assert_str_eq(SVC(o)->meta[0].key, "version");
	cr_assert_str_eq(SVC(o)->meta[0].value, "1.2");
	cr_assert_str_eq(SVC(o)->meta[1].key, "expr");
	cr_assert_str_eq(SVC(o)->meta[1].value, "a=b");
	conf_free(&o);
}

/* Each bad input names the flag (source) that caused it. */
struct bad_case {
	const char *args[8];
	const char *source;
	const char *text_part;
};

static const struct bad_case bad_cases[] = {
	{ { "--rewrite", "HUP", "svc", "--", "true" }, "--rewrite", "use FROM:TO" },
	{ { "--rewrite", "FOO:0", "svc", "--", "true" }, "--rewrite", "unknown signal \"FOO\"" },
	{ { "--rewrite", "TERM:BAR", "svc", "--", "true" }, "--rewrite", "0 to drop the signal" },
	{ { "--rewrite", "KILL:TERM", "svc", "--", "true" },
	  "--rewrite",
	  "SIGKILL is never passed on" },
	{ { "--rewrite", "HUP:0:1", "svc", "--", "true" }, "--rewrite", "use FROM:TO" },
	{ { "--ttl", "10x", "svc", "--", "true" }, "--ttl", "10x" },
	{ { "--ttl", "5s", "--heartbeat", "5s", "svc", "--", "true" }, "--heartbeat", "shorter" },
	{ { "--port", "70000", "svc", "--", "true" }, "--port", "65535" },
	{ { "--meta", "novalue", "svc", "--", "true" }, "--meta", "KEY=VALUE" },
	{ { "--meta", "consul-x=1", "svc", "--", "true" }, "", "consul-" },
	{ { "--bogus", "svc", "--", "true" }, "--bogus", "unknown option" },
	{ { "svc", "--", NULL }, "COMMAND", "--" },
	{ { "svc", "true", NULL }, "true", "\"--\"" },
	{ { "svc", NULL }, "", "command" },
	{ { "--", "true", NULL }, "SERVICE", "service name" },
	{ { "--http-addr", "ftp://x", "svc", "--", "true" }, "--http-addr", "ftp" },
	{ { "--address", "0.0.0.0", "svc", "--", "true" }, "", "address" },
	{ { "--ttl", NULL }, "--ttl", "value" },
	{ { "--drain", "gently", "svc", "--", "true" }, "--drain", "maintenance, critical" },
	{ { "--restart", "sometimes", "svc", "--", "true" }, "--restart", "on-failure" },
	{ { "--stop-signal", "SIGNOPE", "svc", "--", "true" }, "--stop-signal", "SIGNOPE" },
	{ { "--ready-after", "0", "svc", "--", "true" }, "--ready-after", "1 to" },
	{ { "--restart-delay", "5s", "--restart-max-delay", "1s", "svc", "--", "true" },
	  "--restart-max-delay",
	  "cap" },
	{ { "--fail-closed", "-1s", "svc", "--", "true" }, "--fail-closed", "" },
	{ { "--meta", "ostiary-owner=x", "svc", "--", "true" }, "", "ostiary's own" },
	{ { "--metrics-addr", "localhost:http", "svc", "--", "true" }, "--metrics-addr",
	  "not a port" },
	{ { "--metrics-addr", "::1:9100", "svc", "--", "true" }, "--metrics-addr", "brackets" },
	{ { "--metrics-addr", "70000", "svc", "--", "true" }, "--metrics-addr", "0 to 65535" },
	{ { "--status-socket", "", "svc", "--", "true" }, "--status-socket", "empty path" },
};

Test(options, bad_input_names_the_flag, .fini = suite_fini)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct conf o;
		consul_error err = { 0 };
		char **argv;

		free_argv();
		argv_store[argc_store++] = strdup("ostiary");
		for (int k = 0; k < 8 && c->args[k]; k++)
			argv_store[argc_store++] = strdup(c->args[k]);
		argv_store[argc_store] = NULL;
		argv = argv_store;
		cr_assert_eq(parse(&o, &err, NULL, argv), -1, "case %zu should fail", i);
		if (c->source[0])
			cr_expect_str_eq(err.source, c->source, "case %zu: source", i);
		cr_expect(strstr(err.text, c->text_part) != NULL ||
		                  strstr(err.source, c->text_part),
		          "case %zu: \"%s\" lacks \"%s\"", i, err.text, c->text_part);
		conf_free(&o);
	}
}

Test(options, flags_override_environment, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *env[] = { "CONSUL_HTTP_ADDR=10.1.1.1:8600", "CONSUL_HTTP_TOKEN=from-env",
		              NULL };

	cr_assert_eq(parse(&o, &err, env, make_argv("svc", "--", "true", NULL)), 0, "%s", err.text);
	cr_assert_str_eq(o.consul.host, "10.1.1.1");
	cr_assert_eq(o.consul.port, 8600);
	cr_assert_str_eq(o.consul.token, "from-env");
	conf_free(&o);

	cr_assert_eq(parse(&o, &err, env,
	                   make_argv("--http-addr", "127.0.0.2:9000", "svc", "--", "true", NULL)),
	             0, "%s", err.text);
	cr_assert_str_eq(o.consul.host, "127.0.0.2");
	cr_assert_eq(o.consul.port, 9000);
	conf_free(&o);
}

Test(options, flag_hides_a_broken_variable_it_overrides, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *env[] = { "CONSUL_HTTP_ADDR=ftp://broken", NULL };

	cr_assert_eq(parse(&o, &err, env, make_argv("svc", "--", "true", NULL)), -1);
	cr_assert_str_eq(err.source, "CONSUL_HTTP_ADDR");
	conf_free(&o);
	cr_assert_eq(parse(&o, &err, env,
	                   make_argv("--http-addr", "unix:///run/consul.sock", "svc", "--", "true",
	                             NULL)),
	             0, "%s", err.text);
	cr_assert_eq(o.consul.transport, CONSUL_TRANSPORT_UNIX);
	cr_assert_str_eq(o.consul.socket_path, "/run/consul.sock");
	conf_free(&o);
}

Test(options, token_file_flag_beats_token_variables, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	char path[] = "/tmp/ostiary-token-XXXXXX";
	int fd = mkstemp(path);
	const char *env[] = { "CONSUL_HTTP_TOKEN=env-token", "CONSUL_HTTP_TOKEN_FILE=/nonexistent",
		              NULL };

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "  file-token\n", 13), 13);
	close(fd);
	cr_assert_eq(
	        parse(&o, &err, env, make_argv("--token-file", path, "svc", "--", "true", NULL)), 0,
	        "%s", err.text);
	cr_assert_str_eq(o.consul.token, "file-token");
	conf_free(&o);
	unlink(path);
}

Test(options, short_deregister_after_is_warned_about, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };

	cr_assert_eq(parse(&o, &err, NULL,
	                   make_argv("--deregister-after", "30s", "svc", "--", "true", NULL)),
	             0);
	cr_assert(strstr(warnings, "1m") != NULL, "warning: \"%s\"", warnings);
	conf_free(&o);
}

Test(options, help_and_version_need_nothing_else, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };

	cr_assert_eq(parse(&o, &err, NULL, make_argv("--help", NULL)), 0);
	cr_assert(req.help);
	conf_free(&o);
	cr_assert_eq(parse(&o, &err, NULL, make_argv("-V", NULL)), 0);
	cr_assert(req.version);
	conf_free(&o);
}

Test(options, command_arguments_are_never_taken_as_options, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	char **argv = make_argv("svc", "--", "ls", "--ttl", "-v", "--", NULL);

	cr_assert_eq(parse(&o, &err, NULL, argv), 0, "%s", err.text);
	cr_assert_eq(o.verbosity, 0);
	cr_assert_eq(o.ttl_ms, 10000);
	cr_assert_str_eq(o.command[1], "--ttl");
	cr_assert_str_eq(o.command[3], "--");
	conf_free(&o);
}

/* ------------------------------------------------ files and flags together */

static const char *
conf_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/ostiary-options-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char *const two_services =
        "agent: { address = \"10.0.0.1:8500\"; };\n"
        "command = [\"/usr/bin/web\"];\n"
        "ttl = \"20s\";\n"
        "services = ( { name = \"web\"; port = 80; tags = [\"a\"]; },\n"
        "             { name = \"admin\"; port = 81; } );\n";

Test(options, flags_override_the_file_for_the_named_service, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *path = conf_file(two_services);
	char **argv =
	        make_argv("-c", path, "--port", "8080", "--tags", "b", "--ttl", "30s", "web", NULL);

	cr_assert_eq(parse(&o, &err, NULL, argv), 0, "%s: %s", err.source, err.text);
	cr_assert_eq(o.nservices, 2);
	cr_assert_eq(o.services[0].port, 8080, "the flag wins over the file");
	cr_assert_eq(o.services[0].ntags, 1);
	cr_assert_str_eq(o.services[0].tags[0], "b", "--tags replaces the file's tags");
	cr_assert_eq(o.services[1].port, 81, "the other service is untouched");
	cr_assert_eq(o.ttl_ms, 30000);
	cr_assert_str_eq(o.command[0], "/usr/bin/web", "the file's command when none is given");
	cr_assert_str_eq(o.consul.host, "10.0.0.1");
	conf_free(&o);
	unlink(path);
}

Test(options, environment_beats_the_file_and_flags_beat_both, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *path = conf_file(two_services);
	const char *env[] = { "CONSUL_HTTP_ADDR=10.0.0.2:8500", NULL };

	cr_assert_eq(parse(&o, &err, env, make_argv("-c", path, NULL)), 0, "%s", err.text);
	cr_assert_str_eq(o.consul.host, "10.0.0.2");
	conf_free(&o);
	cr_assert_eq(
	        parse(&o, &err, env, make_argv("-c", path, "--http-addr", "10.0.0.3:8500", NULL)),
	        0, "%s", err.text);
	cr_assert_str_eq(o.consul.host, "10.0.0.3");
	conf_free(&o);
	unlink(path);
}

Test(options, command_line_command_replaces_the_files, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *path = conf_file(two_services);

	cr_assert_eq(parse(&o, &err, NULL, make_argv("-c", path, "--", "sleep", "5", NULL)), 0,
	             "%s", err.text);
	cr_assert_str_eq(o.command[0], "sleep");
	cr_assert_str_eq(o.command[1], "5");
	cr_assert_null(o.command[2]);
	conf_free(&o);
	unlink(path);
}

Test(options, service_flags_need_a_name_when_the_file_has_several, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *path = conf_file(two_services);

	cr_assert_eq(parse(&o, &err, NULL, make_argv("-c", path, "--port", "1", NULL)), -1);
	cr_assert_str_eq(err.source, "SERVICE");
	cr_assert(strstr(err.text, "2 services"), "%s", err.text);
	conf_free(&o);
	unlink(path);
}

Test(options, a_new_service_name_adds_a_service, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *path = conf_file(two_services);

	cr_assert_eq(parse(&o, &err, NULL, make_argv("-c", path, "extra", NULL)), 0, "%s",
	             err.text);
	cr_assert_eq(o.nservices, 3);
	cr_assert_str_eq(o.services[2].name, "extra");
	cr_assert_eq(o.services[2].checks[0].kind, PROBE_PROCESS);
	conf_free(&o);
	unlink(path);
}

Test(options, check_config_flag, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *path = conf_file(two_services);

	cr_assert_eq(parse(&o, &err, NULL, make_argv("-t", "-c", path, NULL)), 0, "%s", err.text);
	cr_assert(req.check_only);
	conf_free(&o);
	unlink(path);
}

/* --namespace and --partition override CONSUL_NAMESPACE / CONSUL_PARTITION. */
Test(options, namespace_and_partition_flags_override_the_environment, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	const char *env[] = { "CONSUL_NAMESPACE=from-env", "CONSUL_PARTITION=part-env", NULL };
	char **argv = make_argv("--namespace", "from-flag", "web", "--", "true", NULL);

	cr_assert_eq(parse(&o, &err, env, argv), 0, "%s: %s", err.source, err.text);
	cr_assert_str_eq(o.consul.ns, "from-flag");
	cr_assert_str_eq(o.consul.partition, "part-env");
	conf_free(&o);
}

/* Every CONSUL_* variable nothing reads is named once; the others are not. */
Test(options, unknown_consul_variables_are_named)
{
	char *const envp[] = { "CONSUL_HTTP_ADDR=x", "CONSUL_DATACENTRE=dc1", "HOME=/root",
		               "CONSUL_GRPC_ADDR=y", "CONSUL_NAMESPACE=a",    NULL };

	warnings[0] = '\0';
	conf_options_warn_unknown_env(envp, collect_warning);
	cr_assert(strstr(warnings, "CONSUL_DATACENTRE is set but ostiary does not use it"), "%s",
	          warnings);
	cr_assert(strstr(warnings, "CONSUL_GRPC_ADDR is set"), "%s", warnings);
	cr_assert_null(strstr(warnings, "CONSUL_HTTP_ADDR is"), "%s", warnings);
	cr_assert_null(strstr(warnings, "CONSUL_NAMESPACE is"), "%s", warnings);
}

/* An empty --token-file means no token, as the Go client reads it, said once. */
Test(options, empty_token_file_warns_and_sends_no_token, .fini = suite_fini)
{
	struct conf o;
	consul_error err = { 0 };
	char path[] = "/tmp/ostiary-empty-token-XXXXXX";
	int fd = mkstemp(path);
	char **argv;

	cr_assert_geq(fd, 0);
	fchmod(fd, 0600);
	close(fd);
	argv = make_argv("--token-file", path, "web", "--", "true", NULL);
	cr_assert_eq(parse(&o, &err, NULL, argv), 0, "%s: %s", err.source, err.text);
	cr_assert_null(o.consul.token);
	cr_assert(strstr(warnings, "is empty: requests carry no ACL token"), "%s", warnings);
	conf_free(&o);
	unlink(path);
}
