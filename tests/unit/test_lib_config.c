/* Agent addresses, CONSUL_* environment variables, token files, describe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ostiary/consul.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *
or_empty(const char *s)
{
	return s ? s : "";
}

Test(lib_config, defaults)
{
	consul_config cfg;

	consul_config_init(&cfg);
	cr_assert_eq(cfg.transport, CONSUL_TRANSPORT_TCP);
	cr_assert_not(cfg.https);
	cr_assert_str_eq(cfg.host, "127.0.0.1");
	cr_assert_eq(cfg.port, 8500);
	cr_assert_str_eq(cfg.path_prefix, "");
	cr_assert_null(cfg.socket_path);
	cr_assert_null(cfg.token);
	cr_assert(cfg.tls.verify);
	cr_assert_null(cfg.tls.ca_file);
	cr_assert_null(cfg.tls.server_name);
	cr_assert_eq(cfg.connect_timeout_ms, CONSUL_DEFAULT_CONNECT_TIMEOUT_MS);
	cr_assert_eq(cfg.timeout_ms, CONSUL_DEFAULT_TIMEOUT_MS);
	consul_config_free(&cfg);
}

static const struct {
	const char *addr;
	bool https_before;
	enum consul_transport transport;
	bool https;
	const char *host;
	int port;
	const char *prefix;
	const char *socket;
} addresses[] = {
	{ "127.0.0.1:8500", false, CONSUL_TRANSPORT_TCP, false, "127.0.0.1", 8500, "", NULL },
	{ "consul.local", false, CONSUL_TRANSPORT_TCP, false, "consul.local", 0, "", NULL },
	{ "consul.local:1", false, CONSUL_TRANSPORT_TCP, false, "consul.local", 1, "", NULL },
	{ "[::1]:8500", false, CONSUL_TRANSPORT_TCP, false, "::1", 8500, "", NULL },
	{ "[fe80::1]", false, CONSUL_TRANSPORT_TCP, false, "fe80::1", 0, "", NULL },
	{ "http://10.0.0.1:8500", false, CONSUL_TRANSPORT_TCP, false, "10.0.0.1", 8500, "", NULL },
	{ "http://10.0.0.1:8500/", false, CONSUL_TRANSPORT_TCP, false, "10.0.0.1", 8500, "", NULL },
	{ "http://proxy:80/consul/", false, CONSUL_TRANSPORT_TCP, false, "proxy", 80, "/consul",
	  NULL },
	{ "https://h:8501/a/b", false, CONSUL_TRANSPORT_TCP, true, "h", 8501, "/a/b", NULL },
	{ "https://[::1]:8501", false, CONSUL_TRANSPORT_TCP, true, "::1", 8501, "", NULL },
	{ "https://h", false, CONSUL_TRANSPORT_TCP, true, "h", 0, "", NULL },
	/* CONSUL_HTTP_SSL forced https: "http://" must not downgrade. */
	{ "http://h:8500", true, CONSUL_TRANSPORT_TCP, true, "h", 8500, "", NULL },
	{ "h:8500", true, CONSUL_TRANSPORT_TCP, true, "h", 8500, "", NULL },
	{ "unix:///run/consul/http.sock", false, CONSUL_TRANSPORT_UNIX, false, "127.0.0.1", 8500,
	  "", "/run/consul/http.sock" },
};

Test(lib_config, address_forms)
{
	for (size_t i = 0; i < N(addresses); i++) {
		consul_config cfg;
		consul_error err = { 0 };

		consul_config_init(&cfg);
		cfg.https = addresses[i].https_before;
		cr_assert_eq(consul_config_set_addr(&cfg, addresses[i].addr, "test", &err), 0,
		             "%s: %s", addresses[i].addr, err.text);
		cr_assert_eq(cfg.transport, addresses[i].transport, "%s", addresses[i].addr);
		cr_assert_eq(cfg.https, addresses[i].https, "%s", addresses[i].addr);
		cr_assert_str_eq(cfg.host, addresses[i].host, "%s", addresses[i].addr);
		cr_assert_eq(cfg.port, addresses[i].port, "%s", addresses[i].addr);
		cr_assert_str_eq(cfg.path_prefix, addresses[i].prefix, "%s", addresses[i].addr);
		cr_assert_str_eq(or_empty(cfg.socket_path), or_empty(addresses[i].socket), "%s",
		                 addresses[i].addr);
		consul_config_free(&cfg);
	}
}

Test(lib_config, tcp_address_replaces_unix_socket)
{
	consul_config cfg;

	consul_config_init(&cfg);
	cr_assert_eq(consul_config_set_addr(&cfg, "unix:///tmp/s", "test", NULL), 0);
	cr_assert_eq(consul_config_set_addr(&cfg, "10.1.1.1:9", "test", NULL), 0);
	cr_assert_eq(cfg.transport, CONSUL_TRANSPORT_TCP);
	cr_assert_null(cfg.socket_path);
	cr_assert_str_eq(cfg.host, "10.1.1.1");
	consul_config_free(&cfg);
}

static const struct {
	const char *addr;
	const char *problem;
} bad_addresses[] = {
	{ "xyz://host", "Unknown protocol scheme: xyz" },
	{ "HTTP://host", "Unknown protocol scheme: HTTP" },
	{ "", "empty address" },
	{ ":8500", "missing host" },
	{ "http://", "missing host" },
	{ "http://:8500/x", "missing host" },
	{ "[]:8500", "missing host" },
	{ "host:0", "invalid port \"0\"" },
	{ "host:65536", "invalid port \"65536\"" },
	{ "host:-1", "invalid port \"-1\"" },
	{ "host:abc", "invalid port \"abc\"" },
	{ "host:", "invalid port \"\"" },
	{ "host:123456", "invalid port" },
	{ "::1", "brackets" },
	{ "fe80::1:8500", "brackets" },
	{ "[::1", "missing \"]\"" },
	{ "[::1]8500", "expected \":port\"" },
	{ "unix://", "missing socket path" },
	{ "host:8500/prefix", "needs http:// or https://" },
	{ "http://host:8500/a b", "path prefix" },
	{ "http://host:8500/a?b", "path prefix" },
	{ "ho st:8500", "characters" },
	{ "http://host#x", "characters" },
};

Test(lib_config, bad_addresses_name_the_source)
{
	for (size_t i = 0; i < N(bad_addresses); i++) {
		consul_config cfg;
		consul_error err = { 0 };

		consul_config_init(&cfg);
		cr_assert_eq(consul_config_set_addr(&cfg, bad_addresses[i].addr, "--consul", &err),
		             -1, "\"%s\" accepted", bad_addresses[i].addr);
		cr_assert_str_eq(err.source, "--consul");
		cr_assert(strstr(err.text, bad_addresses[i].problem), "\"%s\": %s",
		          bad_addresses[i].addr, err.text);
		/* A failed address leaves the configuration as it was. */
		cr_assert_str_eq(cfg.host, "127.0.0.1");
		cr_assert_eq(cfg.port, 8500);
		cr_assert_eq(cfg.transport, CONSUL_TRANSPORT_TCP);
		consul_config_free(&cfg);
	}
}

Test(lib_config, credentials_in_address_are_not_echoed)
{
	consul_config cfg;
	consul_error err = { 0 };

	consul_config_init(&cfg);
	cr_assert_eq(consul_config_set_addr(&cfg, "http://user:hunter2@host:8500", "x", &err), -1);
	cr_assert(strstr(err.text, "not supported"), "%s", err.text);
	cr_assert_null(strstr(err.text, "hunter2"), "%s", err.text);
	consul_config_free(&cfg);
}

Test(lib_config, describe)
{
	static const struct {
		const char *addr;
		const char *described;
	} cases[] = {
		{ "127.0.0.1:8500", "http://127.0.0.1:8500" },
		{ "https://h:8501/prefix/", "https://h:8501/prefix" },
		{ "unix:///run/consul.sock", "unix:///run/consul.sock" },
		{ "[::1]:8500", "http://[::1]:8500" },
		{ "consul.local", "http://consul.local" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		consul_config cfg;
		char *text;

		consul_config_init(&cfg);
		cfg.token = strdup("secret-token-value");
		cr_assert_eq(consul_config_set_addr(&cfg, cases[i].addr, "test", NULL), 0);
		text = consul_config_describe(&cfg);
		cr_assert_str_eq(text, cases[i].described);
		cr_assert_null(strstr(text, "secret-token-value"));
		free(text);
		consul_config_free(&cfg);
	}
}

Test(lib_config, copy_is_deep_and_free_zeroes)
{
	consul_config cfg, copy;

	consul_config_init(&cfg);
	cfg.token = strdup("t0ken");
	cfg.tls.ca_file = strdup("/etc/ca.pem");
	cfg.tls.verify = false;
	cr_assert_eq(consul_config_copy(&copy, &cfg), 0);
	cr_assert_neq(copy.host, cfg.host);
	cr_assert_neq(copy.token, cfg.token);
	cr_assert_str_eq(copy.host, "127.0.0.1");
	cr_assert_str_eq(copy.token, "t0ken");
	cr_assert_str_eq(copy.tls.ca_file, "/etc/ca.pem");
	cr_assert_null(copy.tls.ca_path);
	cr_assert_not(copy.tls.verify);
	consul_config_free(&cfg);
	cr_assert_str_eq(copy.token, "t0ken", "the copy must not share memory");
	consul_config_free(&copy);
	cr_assert_null(copy.host);
	cr_assert_null(copy.token);
	cr_assert_eq(copy.port, 0);
}

/* ------------------------------------------------------------- environment */

static const char *const *fake_env;

static const char *
fake_getenv(const char *name)
{
	for (size_t i = 0; fake_env[i]; i += 2) {
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	}
	return NULL;
}

struct warnings {
	int count;
	char last[256];
};

static void
collect_warning(void *arg, const char *message)
{
	struct warnings *w = arg;

	w->count++;
	snprintf(w->last, sizeof w->last, "%s", message);
}

/* Applies env (name, value, ..., NULL) to a default config. */
static int
from_env(consul_config *cfg, const char *const *env, struct warnings *w, consul_error *err)
{
	fake_env = env;
	consul_config_init(cfg);
	return consul_config_from_env(cfg, fake_getenv, collect_warning, w, err);
}

static char *
write_temp_file(const char *contents)
{
	char *path = strdup("/tmp/ostiary-test-XXXXXX");
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, contents, strlen(contents)), (ssize_t)strlen(contents));
	close(fd);
	return path;
}

Test(lib_env, nothing_set_keeps_defaults)
{
	static const char *const env[] = { NULL };
	struct warnings w = { 0 };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, &w, NULL), 0);
	cr_assert_str_eq(cfg.host, "127.0.0.1");
	cr_assert_eq(cfg.port, 8500);
	cr_assert_not(cfg.https);
	cr_assert_null(cfg.token);
	cr_assert(cfg.tls.verify);
	cr_assert_eq(w.count, 0);
	consul_config_free(&cfg);
}

Test(lib_env, empty_values_count_as_unset)
{
	static const char *const env[] = { "CONSUL_HTTP_ADDR",
		                           "",
		                           "CONSUL_HTTP_TOKEN_FILE",
		                           "",
		                           "CONSUL_HTTP_TOKEN",
		                           "tok",
		                           "CONSUL_HTTP_SSL",
		                           "",
		                           NULL };
	struct warnings w = { 0 };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, &w, NULL), 0);
	cr_assert_str_eq(cfg.host, "127.0.0.1");
	cr_assert_str_eq(cfg.token, "tok");
	cr_assert_eq(w.count, 0);
	consul_config_free(&cfg);
}

Test(lib_env, token_file_wins_over_token)
{
	char *path = write_temp_file("  from-file\n");
	const char *const env[] = { "CONSUL_HTTP_TOKEN", "from-env", "CONSUL_HTTP_TOKEN_FILE", path,
		                    NULL };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, NULL, NULL), 0);
	cr_assert_str_eq(cfg.token, "from-file");
	consul_config_free(&cfg);
	unlink(path);
	free(path);
}

/* CONSUL_NAMESPACE, CONSUL_PARTITION and CONSUL_HTTP_AUTH, as the Go
 * client reads them (api/api.go DefaultConfig). */
Test(lib_env, namespace_partition_and_basic_auth)
{
	static const char *const env[] = {
		"CONSUL_NAMESPACE", "team-a", "CONSUL_PARTITION", "part-1", "CONSUL_HTTP_AUTH",
		"user:pa:ss",       NULL
	};
	consul_config cfg, copy;

	cr_assert_eq(from_env(&cfg, env, NULL, NULL), 0);
	cr_assert_str_eq(cfg.ns, "team-a");
	cr_assert_str_eq(cfg.partition, "part-1");
	cr_assert_str_eq(cfg.http_auth, "user:pa:ss");
	cr_assert_eq(consul_config_copy(&copy, &cfg), 0);
	cr_assert_str_eq(copy.http_auth, "user:pa:ss");
	cr_assert_neq(copy.http_auth, cfg.http_auth);
	consul_config_free(&copy);
	consul_config_free(&cfg);
}

/* Every variable read is listed, for a program to name the others. */
Test(lib_env, names_lists_what_is_read)
{
	const char *const *names = consul_config_env_names();
	static const char *const expected[] = { "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN_FILE",
		                                "CONSUL_HTTP_AUTH", "CONSUL_NAMESPACE",
		                                "CONSUL_PARTITION", "CONSUL_TLS_SERVER_NAME" };

	for (size_t e = 0; e < sizeof expected / sizeof expected[0]; e++) {
		bool found = false;

		for (size_t i = 0; names[i] != NULL; i++)
			found = found || strcmp(names[i], expected[e]) == 0;
		cr_assert(found, "%s is not listed", expected[e]);
	}
}

/* An empty token file means no token, with a warning (never the contents). */
Test(lib_env, empty_token_file_is_no_token_with_a_warning)
{
	char *path = write_temp_file(" \n");
	const char *const env[] = { "CONSUL_HTTP_TOKEN_FILE", path, NULL };
	struct warnings w = { 0 };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, &w, NULL), 0);
	cr_assert_null(cfg.token);
	cr_assert_eq(w.count, 1);
	cr_assert(strstr(w.last, "is empty"), "%s", w.last);
	consul_config_free(&cfg);
	unlink(path);
	free(path);
}

Test(lib_env, unreadable_token_file_fails_and_keeps_config)
{
	static const char *const env[] = { "CONSUL_HTTP_TOKEN",
		                           "from-env",
		                           "CONSUL_HTTP_ADDR",
		                           "h:1",
		                           "CONSUL_HTTP_TOKEN_FILE",
		                           "/nonexistent/token",
		                           NULL };
	consul_config cfg;
	consul_error err = { 0 };

	fake_env = env;
	consul_config_init(&cfg);
	cfg.token = strdup("earlier");
	cr_assert_eq(consul_config_from_env(&cfg, fake_getenv, NULL, NULL, &err), -1);
	cr_assert_str_eq(err.source, "CONSUL_HTTP_TOKEN_FILE");
	cr_assert(strstr(err.text, "/nonexistent/token"), "%s", err.text);
	cr_assert_str_eq(cfg.token, "earlier");
	cr_assert_str_eq(cfg.host, "127.0.0.1", "a failed from_env must not apply half");
	consul_config_free(&cfg);
}

Test(lib_env, ssl_then_http_address_does_not_downgrade)
{
	static const char *const env[] = { "CONSUL_HTTP_SSL", "true", "CONSUL_HTTP_ADDR",
		                           "http://consul:8501", NULL };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, NULL, NULL), 0);
	cr_assert(cfg.https);
	cr_assert_str_eq(cfg.host, "consul");
	cr_assert_eq(cfg.port, 8501);
	consul_config_free(&cfg);
}

Test(lib_env, https_address_wins_over_ssl_false)
{
	static const char *const env[] = { "CONSUL_HTTP_SSL", "false", "CONSUL_HTTP_ADDR",
		                           "https://consul:8501", NULL };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, NULL, NULL), 0);
	cr_assert(cfg.https);
	consul_config_free(&cfg);
}

Test(lib_env, parse_bool_values)
{
	static const char *const truths[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const lies[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < N(truths); i++) {
		const char *const env[] = { "CONSUL_HTTP_SSL", truths[i], "CONSUL_HTTP_SSL_VERIFY",
			                    lies[i], NULL };
		struct warnings w = { 0 };
		consul_config cfg;

		cr_assert_eq(from_env(&cfg, env, &w, NULL), 0);
		cr_assert(cfg.https, "CONSUL_HTTP_SSL=%s", truths[i]);
		cr_assert_not(cfg.tls.verify, "CONSUL_HTTP_SSL_VERIFY=%s", lies[i]);
		cr_assert_eq(w.count, 0);
		consul_config_free(&cfg);
	}
}

Test(lib_env, unparsable_ssl_warns_and_stays_http)
{
	static const char *const env[] = { "CONSUL_HTTP_SSL", "yes", NULL };
	struct warnings w = { 0 };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, &w, NULL), 0);
	cr_assert_not(cfg.https);
	cr_assert_eq(w.count, 1);
	cr_assert(strstr(w.last, "could not parse CONSUL_HTTP_SSL"), "%s", w.last);
	consul_config_free(&cfg);
}

Test(lib_env, unparsable_ssl_verify_keeps_verification_on)
{
	static const char *const env[] = { "CONSUL_HTTP_SSL_VERIFY", "nope", NULL };
	struct warnings w = { 0 };
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, &w, NULL), 0);
	cr_assert(cfg.tls.verify);
	cr_assert_eq(w.count, 1);
	cr_assert(strstr(w.last, "CONSUL_HTTP_SSL_VERIFY"), "%s", w.last);
	consul_config_free(&cfg);
}

Test(lib_env, tls_files)
{
	static const char *const env[] = {
		"CONSUL_CACERT", "/ca.pem",           "CONSUL_CAPATH", "/cas", "CONSUL_CLIENT_CERT",
		"/c.pem",        "CONSUL_CLIENT_KEY", "/k.pem",        NULL
	};
	consul_config cfg;

	cr_assert_eq(from_env(&cfg, env, NULL, NULL), 0);
	cr_assert_str_eq(cfg.tls.ca_file, "/ca.pem");
	cr_assert_str_eq(cfg.tls.ca_path, "/cas");
	cr_assert_str_eq(cfg.tls.cert_file, "/c.pem");
	cr_assert_str_eq(cfg.tls.key_file, "/k.pem");
	consul_config_free(&cfg);
}

Test(lib_env, client_cert_without_key_is_an_error)
{
	static const char *const cert_only[] = { "CONSUL_CLIENT_CERT", "/c.pem", NULL };
	static const char *const key_only[] = { "CONSUL_CLIENT_KEY", "/k.pem", NULL };
	consul_config cfg;
	consul_error err = { 0 };

	cr_assert_eq(from_env(&cfg, cert_only, NULL, &err), -1);
	cr_assert_str_eq(err.text, "both client cert and client key must be provided");
	cr_assert_str_eq(err.source, "CONSUL_CLIENT_CERT");
	cr_assert_null(cfg.tls.cert_file);
	consul_config_free(&cfg);

	cr_assert_eq(from_env(&cfg, key_only, NULL, &err), -1);
	cr_assert_str_eq(err.source, "CONSUL_CLIENT_KEY");
	consul_config_free(&cfg);
}

Test(lib_env, server_name_port_is_stripped)
{
	static const struct {
		const char *value;
		const char *name;
	} cases[] = {
		{ "consul.example:8501", "consul.example" },
		{ "consul.example", "consul.example" },
		{ "[::1]:8501", "::1" },
		{ "[::1]", "::1" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		const char *const env[] = { "CONSUL_TLS_SERVER_NAME", cases[i].value, NULL };
		consul_config cfg;

		cr_assert_eq(from_env(&cfg, env, NULL, NULL), 0, "%s", cases[i].value);
		cr_assert_str_eq(cfg.tls.server_name, cases[i].name);
		consul_config_free(&cfg);
	}
}

Test(lib_env, bad_server_name_and_address)
{
	static const char *const bad_name[] = { "CONSUL_TLS_SERVER_NAME", "fe80::1", NULL };
	static const char *const bad_addr[] = { "CONSUL_HTTP_ADDR", "ftp://x", NULL };
	consul_config cfg;
	consul_error err = { 0 };

	cr_assert_eq(from_env(&cfg, bad_name, NULL, &err), -1);
	cr_assert_str_eq(err.source, "CONSUL_TLS_SERVER_NAME");
	consul_config_free(&cfg);
	cr_assert_eq(from_env(&cfg, bad_addr, NULL, &err), -1);
	cr_assert_str_eq(err.source, "CONSUL_HTTP_ADDR");
	cr_assert_str_eq(err.text, "Unknown protocol scheme: ftp (use host:port, http://host:port, "
	                           "https://host:port or unix:///path/to/socket)");
	consul_config_free(&cfg);
}

Test(lib_env, null_lookup_reads_the_process_environment)
{
	consul_config cfg;

	cr_assert_eq(setenv("CONSUL_HTTP_ADDR", "unix:///tmp/agent.sock", 1), 0);
	consul_config_init(&cfg);
	cr_assert_eq(consul_config_from_env(&cfg, NULL, NULL, NULL, NULL), 0);
	cr_assert_eq(cfg.transport, CONSUL_TRANSPORT_UNIX);
	cr_assert_str_eq(cfg.socket_path, "/tmp/agent.sock");
	consul_config_free(&cfg);
}

/* --------------------------------------------------------------- token file */

Test(lib_token, contents_are_trimmed)
{
	char *path = write_temp_file("\t s3cr3t-token \r\n\n");
	consul_config cfg;

	consul_config_init(&cfg);
	cr_assert_eq(consul_config_load_token_file(&cfg, path, NULL), 0);
	cr_assert_str_eq(cfg.token, "s3cr3t-token");
	consul_config_free(&cfg);
	unlink(path);
	free(path);
}

Test(lib_token, missing_file_names_the_file_not_the_token)
{
	consul_config cfg;
	consul_error err = { 0 };

	consul_config_init(&cfg);
	cfg.token = strdup("previous-secret");
	cr_assert_eq(consul_config_load_token_file(&cfg, "/nonexistent/ostiary-token", &err), -1);
	cr_assert_str_eq(err.text, "error loading token file /nonexistent/ostiary-token: "
	                           "No such file or directory");
	cr_assert_str_eq(err.source, "/nonexistent/ostiary-token");
	cr_assert_null(strstr(err.text, "previous-secret"));
	cr_assert_str_eq(cfg.token, "previous-secret", "a failed load keeps the old token");
	consul_config_free(&cfg);
}

/* consul_config_warn_token_file_mode (was the tool's conf_options.c). */
static char mode_warning[512];
static int mode_warnings;

static void
collect_mode_warning(void *arg, const char *message)
{
	cr_assert_eq(arg, (void *)mode_warning, "warn_arg is passed through");
	snprintf(mode_warning, sizeof mode_warning, "%s", message);
	mode_warnings++;
}

static void
warn_mode(const char *path, mode_t mode)
{
	cr_assert_eq(chmod(path, mode), 0);
	mode_warning[0] = '\0';
	mode_warnings = 0;
	consul_config_warn_token_file_mode(path, collect_mode_warning, mode_warning);
}

Test(lib_token, readable_file_is_warned_about)
{
	char *path = write_temp_file("s3cr3t-token\n");
	char want[512];

	warn_mode(path, 0600);
	cr_assert_eq(mode_warnings, 0, "0600 is fine: %s", mode_warning);
	warn_mode(path, 0400);
	cr_assert_eq(mode_warnings, 0, "0400 is fine: %s", mode_warning);
	warn_mode(path, 0640);
	snprintf(want, sizeof want,
	         "token file %s is readable by its group (mode 0640): anyone who can read it "
	         "can act with the token; chmod 600 it",
	         path);
	cr_assert_str_eq(mode_warning, want);
	warn_mode(path, 0604);
	cr_assert(strstr(mode_warning, "readable by everyone (mode 0604)"), "%s", mode_warning);
	warn_mode(path, 0644);
	cr_assert(strstr(mode_warning, "readable by everyone (mode 0644)"), "%s", mode_warning);
	cr_assert_null(strstr(mode_warning, "s3cr3t"), "the warning holds the token");
	consul_config_warn_token_file_mode(path, NULL, NULL); /* no one to tell */
	unlink(path);
	mode_warnings = 0;
	consul_config_warn_token_file_mode(path, collect_mode_warning, mode_warning);
	consul_config_warn_token_file_mode(NULL, collect_mode_warning, mode_warning);
	cr_assert_eq(mode_warnings, 0, "a missing file is the loader's to report");
	free(path);
}

Test(lib_token, empty_directory_and_oversized_files_fail)
{
	char *blank = write_temp_file(" \n\t\n");
	char *big = malloc(64 * 1024 + 2);
	char *big_path;
	consul_config cfg;
	consul_error err = { 0 };

	memset(big, 'Q', 64 * 1024 + 1);
	big[64 * 1024 + 1] = '\0';
	big_path = write_temp_file(big);
	consul_config_init(&cfg);

	/* An empty file is no token, as in the Go client (api/api.go). */
	cr_assert_eq(consul_config_load_token_file(&cfg, blank, &err), 0, "%s", err.text);
	cr_assert_null(cfg.token);
	cr_assert_str_eq(cfg.token_file, blank);
	cr_assert_eq(consul_config_load_token_file(&cfg, "/tmp", &err), -1);
	cr_assert(strstr(err.text, "/tmp: not a regular file"), "%s", err.text);
	cr_assert_eq(consul_config_load_token_file(&cfg, big_path, &err), -1);
	cr_assert(strstr(err.text, "larger than 65536 bytes"), "%s", err.text);
	cr_assert_null(strstr(err.text, "QQQQ"), "token contents leaked: %s", err.text);
	cr_assert_null(cfg.token);

	big[64 * 1024] = '\0'; /* exactly the limit is fine */
	unlink(big_path);
	free(big_path);
	big_path = write_temp_file(big);
	cr_assert_eq(consul_config_load_token_file(&cfg, big_path, &err), 0, "%s", err.text);
	cr_assert_eq(strlen(cfg.token), 64 * 1024);

	consul_config_free(&cfg);
	unlink(blank);
	unlink(big_path);
	free(blank);
	free(big_path);
	free(big);
}
