/*
 * conf_options.h - ostiary's command line (a drop-in for ianitor's), resolved
 * together with the configuration file, Consul JSON service definitions
 * and the Consul environment variables into one struct conf.
 *
 *   ostiary [options] SERVICE -- COMMAND [ARGS...]
 *   ostiary -c FILE [options] [SERVICE] [-- COMMAND [ARGS...]]
 *   ostiary -t [-c FILE]
 *
 * Precedence, lowest first: built-in defaults, the configuration file and
 * service files, the CONSUL_* environment, the command line.
 */
#ifndef OSTIARY_CONF_OPTIONS_H
#define OSTIARY_CONF_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include <ostiary/consul.h>

#include "conf.h"

/* What the user asked for besides (or instead of) a run. */
struct conf_options_request {
	bool help;
	bool version;
	bool check_only; /* -t: validate the configuration and exit */
};

/*
 * Parse argv, the files it names and the environment (through getenv_fn)
 * into conf, finished and validated.  Returns 0 on success; -1 with err
 * filled (source = flag, variable or file; line when a file has one).
 * conf must be freed with conf_free() either way.  argv is permuted.
 */
int conf_options_parse(struct conf *conf, struct conf_options_request *req, int argc, char **argv,
                       consul_getenv_fn getenv_fn, consul_warn_fn warn, consul_error *err);
void conf_options_usage(FILE *out);
/* Name, in one warning each, the CONSUL_* variables of envp that nothing
 * reads (a misspelling, or a setting ostiary does not have). */
void conf_options_warn_unknown_env(char *const *envp, consul_warn_fn warn);
/* ianitor's --consul-agent HOST[:PORT]: any address consul_config_set_addr
 * takes, but a missing port means 8500 rather than the scheme's default. */
int conf_options_set_agent(consul_config *cfg, const char *hostport, const char *source,
                           consul_error *err);

#endif
