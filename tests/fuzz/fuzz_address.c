/*
 * fuzz_address.c - the agent address: consul_config_set_addr,
 * consul_config_from_env and consul_config_describe.
 *
 * Input: up to four lines.  Each line alone goes through set_addr and
 * set_agent (the tool's --consul-agent, below) on a fresh config; all of
 * them then go, in turn, through one config (so replaced strings are freed) and through the environment
 * (CONSUL_HTTP_ADDR, CONSUL_TLS_SERVER_NAME, CONSUL_HTTP_SSL,
 * CONSUL_HTTP_SSL_VERIFY), ending with a client and a request built on it.
 *
 * Properties:
 *   - no crash, no leak, and an error always carries a message;
 *   - after success, describe never returns NULL, and what it returns is
 *     itself an address that sets the same connection (log lines show it
 *     as the address to use);
 *   - a failed set leaves the config as it was;
 *   - the ACL token never shows in describe or in a request description.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ostiary/consul.h"

#define MAX_LINES 4
#define SECRET "fuzz-token-0b4d5e6f-never-logged"

typedef int (*set_fn)(consul_config *, const char *, const char *, consul_error *);

/* src/conf_options.c conf_options_set_agent (the tool's --consul-agent), which this
 * library-only target cannot link: set_addr, then port 8500 when none. */
static int
set_agent(consul_config *cfg, const char *hostport, const char *source, consul_error *err)
{
	if (consul_config_set_addr(cfg, hostport, source, err) < 0)
		return -1;
	if (cfg->transport == CONSUL_TRANSPORT_TCP && cfg->port == 0)
		cfg->port = CONSUL_DEFAULT_PORT;
	return 0;
}

static bool
same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The fields an address sets; host and port mean nothing over a socket. */
static bool
same_connection(const consul_config *a, const consul_config *b)
{
	if (a->transport != b->transport || a->https != b->https ||
	    !same_string(a->path_prefix, b->path_prefix))
		return false;
	if (a->transport == CONSUL_TRANSPORT_UNIX)
		return same_string(a->socket_path, b->socket_path);
	return same_string(a->host, b->host) && a->port == b->port;
}

static char *
describe(const consul_config *cfg)
{
	char *text = consul_config_describe(cfg);

	FUZZ_ASSERT(text != NULL, "describe returned NULL");
	FUZZ_ASSERT(strstr(text, SECRET) == NULL, "describe shows the token: %s", text);
	return text;
}

/* describe's answer, given back as an address, must mean the same thing. */
static void
check_describe_round_trip(const consul_config *cfg, const char *input)
{
	char *text = describe(cfg);
	consul_config again;
	consul_error err = { 0 };

	consul_config_init(&again);
	FUZZ_ASSERT(consul_config_set_addr(&again, text, "describe", &err) == 0,
	            "\"%s\" describes as \"%s\", which is refused: %s", input, text, err.text);
	FUZZ_ASSERT(same_connection(cfg, &again), "\"%s\" -> \"%s\" sets another connection", input,
	            text);
	consul_config_free(&again);
	free(text);
}

static void
check_fresh(set_fn set, const char *line)
{
	consul_config cfg;
	consul_error err = { 0 };

	consul_config_init(&cfg);
	if (set(&cfg, line, "fuzz", &err) == 0)
		check_describe_round_trip(&cfg, line);
	else
		FUZZ_ASSERT(err.text[0] != '\0', "\"%s\" refused without a message", line);
	consul_config_free(&cfg);
}

/* One config through every line: a refused address must change nothing. */
static void
check_sequence(char **lines, size_t n)
{
	consul_config cfg, before;
	consul_error err;

	consul_config_init(&cfg);
	for (size_t i = 0; i < n; i++) {
		set_fn set = i % 2 ? set_agent : consul_config_set_addr;

		if (consul_config_copy(&before, &cfg) < 0)
			abort();
		if (set(&cfg, lines[i], "fuzz", &err) < 0)
			FUZZ_ASSERT(same_connection(&cfg, &before),
			            "refused \"%s\" changed the config", lines[i]);
		consul_config_free(&before);
		free(describe(&cfg));
	}
	consul_config_free(&cfg);
}

/* ------------------------------------------------------------ environment */

static char *env_lines[MAX_LINES];

/* The variables the lines stand for; files (token, certificates) stay out. */
static const char *
fake_getenv(const char *name)
{
	static const char *const names[MAX_LINES] = { "CONSUL_HTTP_ADDR", "CONSUL_TLS_SERVER_NAME",
		                                      "CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY" };

	if (strcmp(name, "CONSUL_HTTP_TOKEN") == 0)
		return SECRET;
	for (size_t i = 0; i < MAX_LINES; i++) {
		if (strcmp(name, names[i]) == 0)
			return env_lines[i];
	}
	return NULL;
}

static void
ignore_warning(void *arg, const char *message)
{
	FUZZ_ASSERT(strstr(message, SECRET) == NULL, "a warning shows the token: %s", message);
}

/* A request on the configured client: the URL and headers get built. */
static void
check_request(const consul_config *cfg)
{
	consul_client *client = consul_client_new(cfg, NULL);
	consul_call *call;

	if (client == NULL)
		return;
	if ((call = consul_self_call(client)) != NULL) {
		FUZZ_ASSERT(strstr(consul_call_describe(call), SECRET) == NULL,
		            "the call description shows the token");
		consul_call_free(call);
	}
	consul_client_free(client);
}

static void
check_env(char **lines, size_t n)
{
	consul_config cfg;
	consul_error err = { 0 };

	for (size_t i = 0; i < MAX_LINES; i++)
		env_lines[i] = i < n ? lines[i] : NULL;
	consul_config_init(&cfg);
	if (consul_config_from_env(&cfg, fake_getenv, ignore_warning, NULL, &err) == 0) {
		free(describe(&cfg));
		check_request(&cfg);
	} else {
		FUZZ_ASSERT(err.text[0] != '\0', "environment refused without a message");
		FUZZ_ASSERT(strstr(err.text, SECRET) == NULL, "an error shows the token");
	}
	consul_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *lines[MAX_LINES];
	size_t n;

	/* The token checks look for SECRET; an input holding it proves nothing
	 * (libFuzzer learns it from the strstr calls and will try it). */
	if (memmem(data, size, SECRET, strlen(SECRET)) != NULL)
		return 0;
	n = fuzz_lines(data, size, lines, MAX_LINES);
	for (size_t i = 0; i < n; i++) {
		check_fresh(consul_config_set_addr, lines[i]);
		check_fresh(set_agent, lines[i]);
	}
	check_sequence(lines, n);
	check_env(lines, n);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	return 0;
}
