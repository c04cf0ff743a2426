/*
 * options.h - ostiary's command line (a drop-in for ianitor's) and the
 * Consul environment variables, resolved into one settings structure.
 *
 *   ostiary [options] SERVICE -- COMMAND [ARGS...]
 *
 * Precedence: flags > CONSUL_* environment > built-in defaults.
 */
#ifndef OSTIARY_OPTIONS_H
#define OSTIARY_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ostiary/consul.h>

#define OPTIONS_DEFAULT_TTL_MS 10000
#define OPTIONS_DEFAULT_DEREGISTER_AFTER_MS (10 * 60 * 1000)
#define OPTIONS_DEFAULT_KILL_TIMEOUT_MS 7000
#define OPTIONS_DEFAULT_RETRY_MAX_MS 10000
/* The agent raises DeregisterCriticalServiceAfter below this to it. */
#define OPTIONS_AGENT_DEREGISTER_MIN_MS 60000

struct options {
	/* the service */
	char *service_name;
	char *service_id;
	char *address;
	int port;
	char **tags;
	size_t ntags;
	consul_kv *meta; /* key/value point into argv (split in place) */
	size_t nmeta;
	char *check_id; /* "service:<id>", Consul's own default for a service check */
	char *check_name;

	/* timing */
	int64_t ttl_ms;
	int64_t heartbeat_ms;
	int64_t deregister_after_ms; /* 0 = off */
	int64_t kill_timeout_ms;
	int64_t retry_max_ms;

	/* the agent */
	consul_config consul;

	/* the rest */
	int verbosity;
	bool subreaper;
	char **command; /* NULL-terminated, points into argv */

	/* what the user asked for rather than a run */
	bool show_help;
	bool show_version;
};

/*
 * Parse argv and the environment (through getenv_fn).  Returns 0 on
 * success; -1 with err filled (source = the flag or variable) otherwise.
 * argv is permuted and modified in place (--meta values are split).
 */
int options_parse(struct options *opts, int argc, char **argv, consul_getenv_fn getenv_fn,
                  consul_warn_fn warn, consul_error *err);
void options_free(struct options *opts);
/* Fill a consul_service from the options (pointers into opts). */
void options_service(const struct options *opts, consul_service *svc, consul_check *check);
void options_usage(FILE *out);

#endif
