/* The configuration model: defaults, derived timings and validation
 * (conf_finish), whatever front end filled it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define ORIGIN "/etc/ostiary/test.conf:12"

static struct conf conf;

static void
conf_fini(void)
{
	conf_free(&conf);
}

static char **
strv(const char *a, const char *b)
{
	char **v = calloc(3, sizeof(*v));

	v[0] = strdup(a);
	v[1] = b ? strdup(b) : NULL;
	return v;
}

/* A conf with a command and one service "web" from ORIGIN. */
static struct service_conf *
web(void)
{
	struct service_conf *svc;

	conf_init(&conf);
	conf.command = strv("/bin/true", NULL);
	svc = conf_add_service(&conf);
	svc->name = strdup("web");
	svc->origin = strdup(ORIGIN);
	return svc;
}

static struct check_conf *
add(struct service_conf *svc, enum probe_kind kind)
{
	struct check_conf *check = conf_add_check(svc, kind);

	check->origin = strdup(ORIGIN);
	if (kind == PROBE_EXEC)
		check->args = strv("/usr/bin/health", "--quick");
	else if (kind == PROBE_HTTP)
		check->http_url = strdup("http://127.0.0.1:8080/health");
	else if (kind == PROBE_TCP)
		check->tcp_addr = strdup("127.0.0.1:8080");
	return check;
}

static void
finish_ok(void)
{
	consul_error err = { 0 };

	cr_assert_eq(conf_finish(&conf, &err), 0, "%s:%d: %s", err.source, err.line, err.text);
}

/* ----------------------------------------------------------- life cycle */

Test(conf, init_sets_the_documented_defaults, .fini = conf_fini)
{
	conf_init(&conf);
	cr_assert_eq(conf.kill_timeout_ms, CONF_DEFAULT_KILL_TIMEOUT_MS);
	cr_assert_eq(conf.retry_max_ms, CONF_DEFAULT_RETRY_MAX_MS);
	cr_assert_eq(conf.ttl_ms, 10000);
	cr_assert_eq(conf.heartbeat_ms, 0);
	cr_assert_eq(conf.nservices, 0);
	cr_assert_null(conf.command);
	cr_assert_null(conf.path);
	cr_assert_str_eq(conf.consul.host, CONSUL_DEFAULT_HOST);
	cr_assert_eq(conf.consul.port, CONSUL_DEFAULT_PORT);
	cr_assert_eq(conf.consul.timeout_ms, CONSUL_DEFAULT_TIMEOUT_MS);
}

Test(conf, new_services_and_checks_start_unset, .fini = conf_fini)
{
	struct service_conf *svc;
	struct check_conf *check;

	conf_init(&conf);
	svc = conf_add_service(&conf);
	cr_assert_not_null(svc);
	cr_assert_eq(conf.nservices, 1);
	cr_assert_null(svc->name);
	cr_assert_eq(svc->deregister_after_ms, -1, "-1: not set (0 means off)");
	check = conf_add_check(svc, PROBE_TCP);
	cr_assert_eq(svc->nchecks, 1);
	cr_assert_eq(check->kind, PROBE_TCP);
	cr_assert_eq(check->interval_ms, 0);
	cr_assert_eq(check->ttl_ms, 0);
	cr_assert_eq(check->spread_ms, -1);
	cr_assert_eq(check->deregister_after_ms, -1);
	cr_assert_null(check->id);
	cr_assert_not_null(conf_add_service(&conf));
	cr_assert_eq(conf.nservices, 2);
}

Test(conf, free_releases_everything_and_is_repeatable)
{
	struct service_conf *svc = web();
	struct check_conf *check = add(svc, PROBE_HTTP);

	check->http_headers = calloc(1, sizeof(struct conf_kv));
	check->http_headers[0] = (struct conf_kv){ strdup("Accept"), strdup("text/plain") };
	check->nhttp_headers = 1;
	svc->meta = calloc(1, sizeof(struct conf_kv));
	svc->meta[0] = (struct conf_kv){ strdup("k"), strdup("v") };
	svc->nmeta = 1;
	svc->tagged_addresses = calloc(1, sizeof(struct conf_tagged_address));
	svc->tagged_addresses[0] =
	        (struct conf_tagged_address){ strdup("lan"), strdup("10.0.0.1"), 1 };
	svc->ntagged_addresses = 1;
	svc->tags = strv("a", "b");
	svc->ntags = 2;
	add(svc, PROBE_EXEC)->env = strv("A=1", NULL);
	conf.path = strdup("/etc/x.conf");
	finish_ok();
	conf_free(&conf); /* ASan and valgrind hold the rest */
	cr_assert_eq(conf.nservices, 0);
	cr_assert_null(conf.services);
	conf_free(&conf);
}

Test(conf, probe_names)
{
	cr_assert_str_eq(conf_probe_name(PROBE_PROCESS), "process");
	cr_assert_str_eq(conf_probe_name(PROBE_EXEC), "exec");
	cr_assert_str_eq(conf_probe_name(PROBE_HTTP), "http");
	cr_assert_str_eq(conf_probe_name(PROBE_TCP), "tcp");
	cr_assert_str_eq(conf_probe_name((enum probe_kind)42), "unknown");
}

/* ------------------------------------------------------------- defaults */

Test(conf, a_bare_service_gets_id_deregister_and_a_process_check, .fini = conf_fini)
{
	struct service_conf *svc = web();
	struct check_conf *check;

	finish_ok();
	svc = &conf.services[0];
	cr_assert_str_eq(svc->id, "web");
	cr_assert_eq(svc->deregister_after_ms, CONF_DEFAULT_DEREGISTER_AFTER_MS);
	cr_assert_eq(svc->nchecks, 1);
	check = &svc->checks[0];
	cr_assert_eq(check->kind, PROBE_PROCESS);
	cr_assert_str_eq(check->id, "service:web");
	cr_assert_str_eq(check->name, "Service 'web' check");
	cr_assert_eq(check->deregister_after_ms, CONF_DEFAULT_DEREGISTER_AFTER_MS);
	cr_assert_eq(check->output_max_size, CONSUL_OUTPUT_MAX_SIZE);
	cr_assert_eq(check->interval_ms, 0, "process checks have no schedule");
	cr_assert_eq(check->spread_ms, 0);
	cr_assert_str_eq(check->origin, ORIGIN);
	cr_assert_eq(conf_check_ttl(&conf, check), CONF_DEFAULT_TTL_MS);
}

Test(conf, check_ids_follow_consuls_rule, .fini = conf_fini)
{
	static const struct {
		size_t nchecks;
		const char *explicit_second; /* NULL: the second is defaulted too */
		const char *ids[3];
	} cases[] = {
		{ 1, NULL, { "service:web-1" } },
		{ 2, NULL, { "service:web-1:1", "service:web-1:2" } },
		{ 3, "mine", { "service:web-1:1", "mine", "service:web-1:3" } },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct service_conf *svc = web();

		svc->id = strdup("web-1"); /* the service ID, not the name, goes in */
		for (size_t c = 0; c < cases[i].nchecks; c++)
			add(svc, PROBE_TCP);
		if (cases[i].explicit_second)
			svc->checks[1].id = strdup(cases[i].explicit_second);
		finish_ok();
		for (size_t c = 0; c < cases[i].nchecks; c++)
			cr_assert_str_eq(conf.services[0].checks[c].id, cases[i].ids[c],
			                 "case %zu check %zu", i, c);
		conf_free(&conf);
	}
}

Test(conf, probe_defaults_by_kind, .fini = conf_fini)
{
	static const struct {
		enum probe_kind kind;
		int64_t timeout_ms;
		const char *method;
	} cases[] = {
		{ PROBE_EXEC, CONF_DEFAULT_EXEC_TIMEOUT_MS, NULL },
		{ PROBE_HTTP, CONF_DEFAULT_NET_TIMEOUT_MS, "GET" },
		{ PROBE_TCP, CONF_DEFAULT_NET_TIMEOUT_MS, NULL },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct check_conf *check;

		add(web(), cases[i].kind);
		finish_ok();
		check = &conf.services[0].checks[0];
		cr_assert_eq(check->interval_ms, CONF_DEFAULT_INTERVAL_MS, "case %zu", i);
		cr_assert_eq(check->timeout_ms, cases[i].timeout_ms, "case %zu", i);
		cr_assert_eq(check->spread_ms, check->interval_ms,
		             "first runs spread over an interval");
		cr_assert_eq(check->initial_delay_ms, 0);
		if (cases[i].method)
			cr_assert_str_eq(check->http_method, cases[i].method);
		else
			cr_assert_null(check->http_method);
		conf_free(&conf);
	}
}

Test(conf, explicit_values_are_kept, .fini = conf_fini)
{
	struct check_conf *check = add(web(), PROBE_HTTP);

	check->interval_ms = 250;
	check->timeout_ms = 100;
	check->spread_ms = 0; /* no spread, said explicitly */
	check->http_method = strdup("HEAD");
	check->output_max_size = 100;
	check->id = strdup("web:health");
	check->name = strdup("health");
	finish_ok();
	check = &conf.services[0].checks[0];
	cr_assert_eq(check->interval_ms, 250);
	cr_assert_eq(check->timeout_ms, 100);
	cr_assert_eq(check->spread_ms, 0);
	cr_assert_str_eq(check->http_method, "HEAD");
	cr_assert_eq(check->output_max_size, 100);
	cr_assert_str_eq(check->id, "web:health");
	cr_assert_str_eq(check->name, "health");
}

Test(conf, output_is_capped_at_the_agents_limit, .fini = conf_fini)
{
	add(web(), PROBE_TCP)->output_max_size = 1 << 20;
	finish_ok();
	cr_assert_eq(conf.services[0].checks[0].output_max_size, CONSUL_OUTPUT_MAX_SIZE);
}

Test(conf, deregister_after_comes_from_the_service_unless_set, .fini = conf_fini)
{
	static const struct {
		int64_t service, check, expect;
	} cases[] = {
		{ -1, -1, CONF_DEFAULT_DEREGISTER_AFTER_MS },
		{ 0, -1, 0 },           /* service says off */
		{ 300000, -1, 300000 }, /* service's value */
		{ 300000, 0, 0 },       /* the check turns it off */
		{ -1, 120000, 120000 }, /* the check's own */
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct service_conf *svc = web();

		svc->deregister_after_ms = cases[i].service;
		add(svc, PROBE_TCP)->deregister_after_ms = cases[i].check;
		finish_ok();
		cr_assert_eq(conf.services[0].checks[0].deregister_after_ms, cases[i].expect,
		             "case %zu", i);
		conf_free(&conf);
	}
}

Test(conf, finish_twice_changes_nothing, .fini = conf_fini)
{
	struct service_conf *svc = web();

	add(svc, PROBE_HTTP);
	add(svc, PROBE_TCP)->spread_ms = 0;
	finish_ok();
	finish_ok();
	cr_assert_eq(conf.services[0].nchecks, 2);
	cr_assert_str_eq(conf.services[0].checks[1].id, "service:web:2");
	cr_assert_eq(conf.services[0].checks[1].spread_ms, 0);
	cr_assert_eq(conf.services[0].checks[0].spread_ms, CONF_DEFAULT_INTERVAL_MS);
}

/* ---------------------------------------------------------------- timings */

Test(conf, ttl_and_heartbeat_derivation, .fini = conf_fini)
{
	static const struct {
		const char *what;
		enum probe_kind kind;
		int64_t global_ttl, global_heartbeat;
		int64_t interval, timeout, ttl; /* the check's; 0 = default */
		int64_t expect_ttl, expect_heartbeat;
	} cases[] = {
		{ "process: the global ttl, a third of it", PROBE_PROCESS, 10000, 0, 0, 0, 0, 10000,
		  3333 },
		{ "process: --heartbeat wins", PROBE_PROCESS, 10000, 2000, 0, 0, 0, 10000, 2000 },
		{ "process: its own ttl", PROBE_PROCESS, 10000, 0, 0, 0, 30000, 30000, 10000 },
		{ "exec: 3 * 10s + 30s", PROBE_EXEC, 10000, 0, 0, 0, 0, 60000, 30000 },
		{ "http: 3 * 10s + 10s", PROBE_HTTP, 10000, 0, 0, 0, 0, 40000, 20000 },
		{ "tcp: 3 * 1s + 500ms", PROBE_TCP, 10000, 2000, 1000, 500, 0, 3500, 1750 },
		{ "tcp: its own ttl", PROBE_TCP, 10000, 0, 1000, 500, 9000, 9000, 4500 },
		{ "never a zero heartbeat", PROBE_PROCESS, 2, 0, 0, 0, 0, 2, 1 },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct check_conf *check = add(web(), cases[i].kind);

		conf.ttl_ms = cases[i].global_ttl;
		conf.heartbeat_ms = cases[i].global_heartbeat;
		check->interval_ms = cases[i].interval;
		check->timeout_ms = cases[i].timeout;
		check->ttl_ms = cases[i].ttl;
		finish_ok();
		check = &conf.services[0].checks[0];
		cr_assert_eq(conf_check_ttl(&conf, check), cases[i].expect_ttl, "%s",
		             cases[i].what);
		cr_assert_eq(conf_check_heartbeat(&conf, check), cases[i].expect_heartbeat, "%s",
		             cases[i].what);
		cr_assert_lt(conf_check_heartbeat(&conf, check), conf_check_ttl(&conf, check));
		conf_free(&conf);
	}
}

Test(conf, derived_ttl_before_finish_uses_the_defaults, .fini = conf_fini)
{
	struct check_conf *check = add(web(), PROBE_EXEC);

	cr_assert_eq(conf_check_ttl(&conf, check),
	             3 * CONF_DEFAULT_INTERVAL_MS + CONF_DEFAULT_EXEC_TIMEOUT_MS);
}

/* ------------------------------------------------------------- validation */

struct bad_case {
	const char *what;
	void (*setup)(void);
	const char *source; /* expected err.source */
	int line;           /* expected err.line */
	const char *text;   /* part of err.text */
};

static void
no_service(void)
{
	conf_init(&conf);
	conf.command = strv("/bin/true", NULL);
}

static void
no_command(void)
{
	web();
	conf_free(&conf);
	conf_init(&conf);
	conf_add_service(&conf)->name = strdup("web");
}

static void
empty_command(void)
{
	web();
	free(conf.command[0]);
	conf.command[0] = strdup("");
}

static void
nameless_service(void)
{
	free(web()->name);
	conf.services[0].name = NULL;
}

static void
empty_service_id(void)
{
	web()->id = strdup("");
}

static void
short_interval(void)
{
	add(web(), PROBE_TCP)->interval_ms = 99;
}

static void
negative_timeout(void)
{
	add(web(), PROBE_TCP)->timeout_ms = -5;
}

static void
exec_without_args(void)
{
	struct check_conf *check = add(web(), PROBE_EXEC);

	free(check->args[0]);
	free(check->args[1]);
	free(check->args);
	check->args = NULL;
}

static void
exec_bad_env(void)
{
	add(web(), PROBE_EXEC)->env = strv("NOEQUALS", NULL);
}

static void
http_without_url(void)
{
	struct check_conf *check = add(web(), PROBE_HTTP);

	free(check->http_url);
	check->http_url = NULL;
}

static void
http_ftp_url(void)
{
	struct check_conf *check = add(web(), PROBE_HTTP);

	free(check->http_url);
	check->http_url = strdup("ftp://127.0.0.1/");
}

static void
http_bad_method(void)
{
	add(web(), PROBE_HTTP)->http_method = strdup("GE T");
}

static void
http_header_injection(void)
{
	struct check_conf *check = add(web(), PROBE_HTTP);

	check->http_headers = calloc(1, sizeof(struct conf_kv));
	check->http_headers[0] = (struct conf_kv){ strdup("X-A"), strdup("1\r\nHost: evil") };
	check->nhttp_headers = 1;
}

static void
tcp_addr(const char *addr)
{
	struct check_conf *check = add(web(), PROBE_TCP);

	free(check->tcp_addr);
	check->tcp_addr = strdup(addr);
}

static void
tcp_no_port(void)
{
	tcp_addr("localhost");
}

static void
tcp_port_zero(void)
{
	tcp_addr("localhost:0");
}

static void
tcp_port_too_big(void)
{
	tcp_addr("localhost:65536");
}

static void
tcp_bare_v6(void)
{
	tcp_addr("::1:5432");
}

static void
thresholds_inverted(void)
{
	struct check_conf *check = add(web(), PROBE_HTTP);

	check->failures_before_warning = 3;
	check->failures_before_critical = 2;
}

static void
thresholds_negative(void)
{
	add(web(), PROBE_HTTP)->success_before_passing = -1;
}

static void
process_with_interval(void)
{
	add(web(), PROBE_PROCESS)->interval_ms = 1000;
}

static void
process_with_thresholds(void)
{
	add(web(), PROBE_PROCESS)->failures_before_critical = 2;
}

static void
http_with_args(void)
{
	add(web(), PROBE_HTTP)->args = strv("/bin/true", NULL);
}

static void
tcp_with_url(void)
{
	add(web(), PROBE_TCP)->http_url = strdup("http://x/");
}

static void
probe_ttl_too_short(void)
{
	struct check_conf *check = add(web(), PROBE_TCP);

	check->interval_ms = 1000;
	check->timeout_ms = 1000;
	check->ttl_ms = 2000;
}

static void
process_ttl_below_heartbeat(void)
{
	conf.heartbeat_ms = 5000;
	add(web(), PROBE_PROCESS)->ttl_ms = 5000;
	conf.heartbeat_ms = 5000;
}

static void
global_heartbeat_too_long(void)
{
	web();
	conf.heartbeat_ms = 10000;
}

static void
negative_output_size(void)
{
	add(web(), PROBE_TCP)->output_max_size = -1;
}

static void
empty_check_id(void)
{
	add(web(), PROBE_TCP)->id = strdup("");
}

static void
duplicate_service_id(void)
{
	struct service_conf *svc;

	web();
	svc = conf_add_service(&conf);
	svc->name = strdup("web-two");
	svc->id = strdup("web");
	svc->origin = strdup("/etc/ostiary/test.conf:30");
}

static void
duplicate_check_id(void)
{
	struct service_conf *svc = web();

	add(svc, PROBE_TCP)->id = strdup("same");
	add(svc, PROBE_HTTP)->id = strdup("same");
}

/* A generated ID can collide with another service's explicit one. */
static void
duplicate_generated_check_id(void)
{
	struct service_conf *svc = web();

	svc = conf_add_service(&conf);
	svc->name = strdup("other");
	svc->origin = strdup(ORIGIN);
	add(svc, PROBE_TCP)->id = strdup("service:web");
}

static void
reserved_meta_key(void)
{
	struct service_conf *svc = web();

	svc->meta = calloc(1, sizeof(struct conf_kv));
	svc->meta[0] = (struct conf_kv){ strdup("consul-version"), strdup("1") };
	svc->nmeta = 1;
}

static void
bad_tagged_address(void)
{
	struct service_conf *svc = web();

	svc->tagged_addresses = calloc(1, sizeof(struct conf_tagged_address));
	svc->tagged_addresses[0] =
	        (struct conf_tagged_address){ strdup("lan_ipv4"), strdup("::1"), 0 };
	svc->ntagged_addresses = 1;
}

static void
zero_passing_weight(void)
{
	struct service_conf *svc = web();

	svc->has_weights = true;
	svc->weight_passing = 0;
	svc->weight_warning = 1;
}

static void
unspecified_address(void)
{
	web()->address = strdup("0.0.0.0");
}

static const struct bad_case bad_cases[] = {
	{ "no service", no_service, "SERVICE", 0, "no service to register" },
	{ "no command", no_command, "COMMAND", 0,
	  "no command to run (give COMMAND after --, or `command` in the file)" },
	{ "empty command", empty_command, "COMMAND", 0, "no command to run" },
	{ "nameless service", nameless_service, "/etc/ostiary/test.conf", 12, "has no name" },
	{ "empty service id", empty_service_id, "/etc/ostiary/test.conf", 12,
	  "id must not be empty" },
	{ "interval floor", short_interval, "/etc/ostiary/test.conf", 12,
	  "check \"service:web\": interval must be at least 100ms" },
	{ "timeout", negative_timeout, "/etc/ostiary/test.conf", 12,
	  "timeout must be more than 0" },
	{ "exec args", exec_without_args, "/etc/ostiary/test.conf", 12,
	  "an exec check needs args" },
	{ "exec env", exec_bad_env, "/etc/ostiary/test.conf", 12,
	  "invalid environment entry \"NOEQUALS\"" },
	{ "http url", http_without_url, "/etc/ostiary/test.conf", 12,
	  "an http check needs url, an http:// or https:// URL" },
	{ "ftp url", http_ftp_url, "/etc/ostiary/test.conf", 12, "not \"ftp://127.0.0.1/\"" },
	{ "method", http_bad_method, "/etc/ostiary/test.conf", 12, "invalid HTTP method \"GE T\"" },
	{ "header", http_header_injection, "/etc/ostiary/test.conf", 12,
	  "one line of printable text" },
	{ "tcp port", tcp_no_port, "/etc/ostiary/test.conf", 12,
	  "a tcp check needs tcp = \"host:port\"" },
	{ "tcp port 0", tcp_port_zero, "/etc/ostiary/test.conf", 12, "from 1 to 65535" },
	{ "tcp port 65536", tcp_port_too_big, "/etc/ostiary/test.conf", 12,
	  "not \"localhost:65536\"" },
	{ "tcp v6", tcp_bare_v6, "/etc/ostiary/test.conf", 12, "IPv6 address in brackets" },
	{ "thresholds", thresholds_inverted, "/etc/ostiary/test.conf", 12,
	  "FailuresBeforeWarning can't be higher than FailuresBeforeCritical" },
	{ "negative thresholds", thresholds_negative, "/etc/ostiary/test.conf", 12,
	  "must be 0 or more" },
	{ "process interval", process_with_interval, "/etc/ostiary/test.conf", 12,
	  "interval is not for process checks" },
	{ "process thresholds", process_with_thresholds, "/etc/ostiary/test.conf", 12,
	  "failures_before_critical is not for process checks" },
	{ "http args", http_with_args, "/etc/ostiary/test.conf", 12,
	  "args is for exec checks, and this is a http check" },
	{ "tcp url", tcp_with_url, "/etc/ostiary/test.conf", 12, "url is for http checks" },
	{ "probe ttl", probe_ttl_too_short, "/etc/ostiary/test.conf", 12,
	  "ttl must be longer than interval + timeout or the check expires between results" },
	{ "process ttl", process_ttl_below_heartbeat, "/etc/ostiary/test.conf", 12,
	  "heartbeat (5s) must be shorter than the ttl (5s)" },
	{ "global heartbeat", global_heartbeat_too_long, "--heartbeat", 0,
	  "heartbeat (10s) must be shorter than the ttl (10s)" },
	{ "output size", negative_output_size, "/etc/ostiary/test.conf", 12,
	  "output_max_size must be positive" },
	{ "empty check id", empty_check_id, "/etc/ostiary/test.conf", 12, "id must not be empty" },
	{ "duplicate service", duplicate_service_id, "/etc/ostiary/test.conf", 30,
	  "duplicate service id \"web\"" },
	{ "duplicate check", duplicate_check_id, "/etc/ostiary/test.conf", 12,
	  "duplicate check id \"same\"" },
	{ "duplicate generated check", duplicate_generated_check_id, "/etc/ostiary/test.conf", 12,
	  "duplicate check id \"service:web\"" },
	{ "meta", reserved_meta_key, "/etc/ostiary/test.conf", 12,
	  "service \"web\": Meta: Meta key \"consul-version\": the prefix \"consul-\" is "
	  "reserved" },
	{ "tagged", bad_tagged_address, "/etc/ostiary/test.conf", 12,
	  "Service tagged address \"lan_ipv4\" must be a valid ipv4 address" },
	{ "weights", zero_passing_weight, "/etc/ostiary/test.conf", 12,
	  "Invalid Weights: Passing must be greater than 0" },
	{ "address", unspecified_address, "/etc/ostiary/test.conf", 12, "Invalid service address" },
};

Test(conf, validation_names_origin_and_problem, .fini = conf_fini)
{
	for (size_t i = 0; i < N(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		consul_error err = { 0 };

		c->setup();
		cr_assert_eq(conf_finish(&conf, &err), -1, "%s: accepted", c->what);
		cr_expect_str_eq(err.source, c->source, "%s: source (%s)", c->what, err.text);
		cr_expect_eq(err.line, c->line, "%s: line", c->what);
		cr_expect(strstr(err.text, c->text) != NULL, "%s: \"%s\" lacks \"%s\"", c->what,
		          err.text, c->text);
		conf_free(&conf);
	}
}

Test(conf, edge_values_that_are_valid, .fini = conf_fini)
{
	static const char *const tcp_ok[] = { "127.0.0.1:1", "[::1]:65535", "db.example:5432" };
	struct check_conf *check;

	for (size_t i = 0; i < N(tcp_ok); i++) {
		tcp_addr(tcp_ok[i]);
		finish_ok();
		conf_free(&conf);
	}
	check = add(web(), PROBE_HTTP);
	check->interval_ms = 100; /* the floor, inclusive: below Consul's 1s */
	check->timeout_ms = 50;
	check->ttl_ms = 151; /* just above interval + timeout */
	check->failures_before_warning = 2;
	check->failures_before_critical = 2;
	free(check->http_url);
	check->http_url = strdup("HTTPS://[::1]:8443/health?full=1");
	finish_ok();
}

Test(conf, no_error_struct_is_fine, .fini = conf_fini)
{
	no_service();
	cr_assert_eq(conf_finish(&conf, NULL), -1);
	conf_free(&conf);
	short_interval();
	cr_assert_eq(conf_finish(&conf, NULL), -1);
}

/* ------------------------------------------------------------------ view */

Test(conf, service_view_is_what_the_agent_gets, .fini = conf_fini)
{
	struct service_conf *svc = web();
	struct check_conf *check;
	consul_check_def checks[2];
	consul_tagged_address tagged[1];
	consul_meta meta[2];
	consul_service view;

	svc->tags = strv("v1", NULL);
	svc->ntags = 1;
	svc->port = 8080;
	svc->address = strdup("10.0.0.5");
	svc->meta = calloc(1, sizeof(struct conf_kv));
	svc->meta[0] = (struct conf_kv){ strdup("version"), strdup("1.2") };
	svc->nmeta = 1;
	svc->tagged_addresses = calloc(1, sizeof(struct conf_tagged_address));
	svc->tagged_addresses[0] =
	        (struct conf_tagged_address){ strdup("wan"), strdup("198.51.100.7"), 80 };
	svc->ntagged_addresses = 1;
	svc->has_weights = true;
	svc->weight_passing = 3;
	svc->weight_warning = 0;
	svc->enable_tag_override = true;
	svc->deregister_after_ms = 0;
	check = add(svc, PROBE_TCP);
	check->notes = strdup("port open");
	add(svc, PROBE_PROCESS)->deregister_after_ms = 90000;
	finish_ok();
	svc = &conf.services[0];
	conf_service_view(&conf, svc, &view, checks, tagged, meta);
	cr_assert_str_eq(view.id, "web");
	cr_assert_str_eq(view.name, "web");
	cr_assert_eq(view.ntags, 1);
	cr_assert_str_eq(view.tags[0], "v1");
	cr_assert_str_eq(view.address, "10.0.0.5");
	cr_assert_eq(view.port, 8080);
	cr_assert_eq(view.nmeta, 2, "its own meta, then the owner mark");
	cr_assert_str_eq(view.meta[0].value, "1.2");
	cr_assert_str_eq(view.meta[1].key, "ostiary-owner");
	cr_assert_str_eq(view.meta[1].value, "web", "the first service's ID by default");
	cr_assert_eq(view.ntagged_addresses, 1);
	cr_assert_str_eq(view.tagged_addresses[0].address, "198.51.100.7");
	cr_assert_eq(view.tagged_addresses[0].port, 80);
	cr_assert(view.has_weights && view.weight_passing == 3 && view.weight_warning == 0);
	cr_assert(view.enable_tag_override);
	cr_assert_eq(view.nchecks, 2);
	cr_assert_str_eq(view.checks[0].id, "service:web:1");
	cr_assert_str_eq(view.checks[0].notes, "port open");
	cr_assert_eq(view.checks[0].ttl_ms, 3 * 10000 + 10000);
	cr_assert_eq(view.checks[0].deregister_after_ms, 0);
	cr_assert(view.checks[0].has_status && view.checks[0].status == CONSUL_CRITICAL);
	cr_assert_null(view.checks[0].service_id, "embedded checks name no service");
	cr_assert_eq(view.checks[1].ttl_ms, CONF_DEFAULT_TTL_MS);
	cr_assert_eq(view.checks[1].deregister_after_ms, 90000);
	cr_assert_eq(consul_service_validate(&view, NULL), 0);
}
