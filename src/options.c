/* options.c - command line and environment (see options.h). */
#include "options.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum {
	OPT_CONSUL_AGENT = 256,
	OPT_HTTP_ADDR,
	OPT_TOKEN_FILE,
	OPT_CA_FILE,
	OPT_CA_PATH,
	OPT_CLIENT_CERT,
	OPT_CLIENT_KEY,
	OPT_TLS_SERVER_NAME,
	OPT_TTL,
	OPT_HEARTBEAT,
	OPT_DEREGISTER_AFTER,
	OPT_KILL_TIMEOUT,
	OPT_AGENT_TIMEOUT,
	OPT_RETRY_MAX,
	OPT_TAGS,
	OPT_ID,
	OPT_ADDRESS,
	OPT_PORT,
	OPT_META,
	OPT_SUBREAPER,
};

static const struct option options_long[] = {
	{ "consul-agent", required_argument, NULL, OPT_CONSUL_AGENT },
	{ "http-addr", required_argument, NULL, OPT_HTTP_ADDR },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "ca-path", required_argument, NULL, OPT_CA_PATH },
	{ "client-cert", required_argument, NULL, OPT_CLIENT_CERT },
	{ "client-key", required_argument, NULL, OPT_CLIENT_KEY },
	{ "tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
	{ "deregister-after", required_argument, NULL, OPT_DEREGISTER_AFTER },
	{ "kill-timeout", required_argument, NULL, OPT_KILL_TIMEOUT },
	{ "agent-timeout", required_argument, NULL, OPT_AGENT_TIMEOUT },
	{ "retry-max", required_argument, NULL, OPT_RETRY_MAX },
	{ "tags", required_argument, NULL, OPT_TAGS },
	{ "tag", required_argument, NULL, OPT_TAGS },
	{ "id", required_argument, NULL, OPT_ID },
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "meta", required_argument, NULL, OPT_META },
	{ "subreaper", no_argument, NULL, OPT_SUBREAPER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void
options_usage(FILE *out)
{
	fputs("usage: ostiary [options] SERVICE -- COMMAND [ARGS...]\n"
	      "\n"
	      "Run COMMAND, register it with the local Consul agent as SERVICE with a TTL\n"
	      "check, keep the check passing while COMMAND runs, deregister when it ends.\n"
	      "\n"
	      "Service:\n"
	      "  --id ID                 service ID (default: SERVICE)\n"
	      "  --tags TAG              add a tag (repeatable)\n"
	      "  --meta KEY=VALUE        add service metadata (repeatable)\n"
	      "  --address ADDR          service address (default: the agent's)\n"
	      "  --port PORT             service port\n"
	      "Timing (durations: 10, 10s, 1m30s, 500ms; a bare number is seconds):\n"
	      "  --ttl D                 TTL of the check (default 10s)\n"
	      "  --heartbeat D           push interval, shorter than the TTL (default TTL/3)\n"
	      "  --deregister-after D    agent removes the service after its check has been\n"
	      "                          critical this long; 0 turns it off (default 10m)\n"
	      "  --kill-timeout D        SIGKILL the command this long after the stop\n"
	      "                          signal (default 7s)\n"
	      "  --agent-timeout D       total time for one agent request (default 5s)\n"
	      "  --retry-max D           longest wait between registration attempts (default 10s)\n"
	      "Agent (flags override CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN[_FILE], "
	      "CONSUL_CACERT...):\n"
	      "  --http-addr ADDR        host:port, http://..., https://..., unix:///path\n"
	      "                          (default 127.0.0.1:8500)\n"
	      "  --consul-agent H[:P]    ianitor's form of --http-addr (port defaults to 8500)\n"
	      "  --token-file PATH       read the ACL token from PATH\n"
	      "  --ca-file PATH  --ca-path DIR  --client-cert PATH  --client-key PATH\n"
	      "  --tls-server-name NAME  TLS settings for an https agent\n"
	      "Other:\n"
	      "  --subreaper             adopt and reap orphaned descendants (Linux)\n"
	      "  -v, --verbose           more log detail (repeat for debug)\n"
	      "  -h, --help              this text\n"
	      "  -V, --version           print the version\n"
	      "\n"
	      "Exit status: COMMAND's, or 128+N if it died of signal N; 125 when ostiary\n"
	      "itself fails, 126 if COMMAND cannot be executed, 127 if it is not found.\n",
	      out);
}

/* ---------------------------------------------------- environment override */

/* Agent settings from flags, kept as given until the environment is read. */
struct options_flags {
	const char *addr;     /* --http-addr or --consul-agent */
	bool addr_is_ianitor; /* given as --consul-agent: default port 8500 */
	const char *token_file;
	const char *ca_file, *ca_path, *cert, *key, *server_name;
	const char *agent_timeout;
};

/* Flags hide the variables they override, so a broken variable that a flag
 * replaces is never parsed (in Consul's CLI the flag value replaces the
 * variable's before the address is parsed).  Option parsing runs once, on
 * one thread, so a file-scope view is enough. */
static const struct options_flags *options_given;
static consul_getenv_fn options_real_getenv;

static bool
options_flag_overrides(const char *name)
{
	const struct options_flags *f = options_given;

	if (strcmp(name, "CONSUL_HTTP_ADDR") == 0)
		return f->addr != NULL;
	if (strcmp(name, "CONSUL_HTTP_TOKEN") == 0 || strcmp(name, "CONSUL_HTTP_TOKEN_FILE") == 0)
		return f->token_file != NULL;
	if (strcmp(name, "CONSUL_CACERT") == 0)
		return f->ca_file != NULL;
	if (strcmp(name, "CONSUL_CAPATH") == 0)
		return f->ca_path != NULL;
	if (strcmp(name, "CONSUL_CLIENT_CERT") == 0 || strcmp(name, "CONSUL_CLIENT_KEY") == 0)
		return f->cert != NULL || f->key != NULL;
	if (strcmp(name, "CONSUL_TLS_SERVER_NAME") == 0)
		return f->server_name != NULL;
	return false;
}

static const char *
options_getenv(const char *name)
{
	return options_flag_overrides(name) ? NULL : options_real_getenv(name);
}

/* Replace *slot with a copy of value. */
static int
options_set_string(char **slot, const char *value, const char *flag, consul_error *err)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return consul_error_set(err, flag, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

static int
options_apply_agent_flags(struct options *opts, const struct options_flags *f,
                          consul_getenv_fn getenv_fn, consul_warn_fn warn, consul_error *err)
{
	consul_config *cfg = &opts->consul;

	options_given = f;
	options_real_getenv = getenv_fn;
	if (consul_config_from_env(cfg, options_getenv, warn, NULL, err) < 0)
		return -1;
	if (f->addr != NULL) {
		int rc = f->addr_is_ianitor
		                 ? consul_config_set_agent(cfg, f->addr, "--consul-agent", err)
		                 : consul_config_set_addr(cfg, f->addr, "--http-addr", err);
		if (rc < 0)
			return -1;
	}
	if (f->token_file != NULL && consul_config_load_token_file(cfg, f->token_file, err) < 0) {
		snprintf(err->source, sizeof(err->source), "--token-file");
		return -1;
	}
	if ((f->cert == NULL) != (f->key == NULL))
		return consul_error_set(err, f->cert ? "--client-cert" : "--client-key",
		                        "both --client-cert and --client-key must be given");
	if ((f->ca_file && options_set_string(&cfg->tls.ca_file, f->ca_file, "--ca-file", err)) ||
	    (f->ca_path && options_set_string(&cfg->tls.ca_path, f->ca_path, "--ca-path", err)) ||
	    (f->cert && options_set_string(&cfg->tls.cert_file, f->cert, "--client-cert", err)) ||
	    (f->key && options_set_string(&cfg->tls.key_file, f->key, "--client-key", err)) ||
	    (f->server_name &&
	     options_set_string(&cfg->tls.server_name, f->server_name, "--tls-server-name", err)))
		return -1;
	return 0;
}

/* --------------------------------------------------------------- values */

static int
options_duration(const char *flag, const char *value, int64_t *out, consul_error *err)
{
	if (consul_duration_parse(value, out, err) < 0) {
		snprintf(err->source, sizeof(err->source), "%s", flag);
		return -1;
	}
	return 0;
}

static int
options_port(const char *value, int *out, consul_error *err)
{
	char *end;
	long port = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0' || port < 1 || port > 65535)
		return consul_error_set(err, "--port", "invalid port \"%s\" (use 1 to 65535)",
		                        value);
	*out = (int)port;
	return 0;
}

static int
options_push(void *array, size_t *n, size_t elem, const void *value, const char *flag,
             consul_error *err)
{
	void **p = array;
	char *grown = realloc(*p, (*n + 1) * elem);

	if (grown == NULL)
		return consul_error_set(err, flag, "out of memory");
	memcpy(grown + *n * elem, value, elem);
	*p = grown;
	(*n)++;
	return 0;
}

static int
options_meta(struct options *opts, char *value, consul_error *err)
{
	char *eq = strchr(value, '=');
	consul_kv kv;

	if (eq == NULL || eq == value)
		return consul_error_set(err, "--meta", "invalid metadata \"%s\" (use KEY=VALUE)",
		                        value);
	*eq = '\0';
	kv.key = value;
	kv.value = eq + 1;
	return options_push(&opts->meta, &opts->nmeta, sizeof(kv), &kv, "--meta", err);
}

/* ---------------------------------------------------------------- parsing */

/* Where "--" is: everything after it is the command, never our options. */
static int
options_find_separator(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return -1;
}

/* One flag; returns 0, or -1 with err filled. */
static int
options_one(struct options *opts, struct options_flags *flags, int c, const char *flag, char *value,
            consul_error *err)
{
	switch (c) {
	case OPT_CONSUL_AGENT:
	case OPT_HTTP_ADDR:
		flags->addr = value;
		flags->addr_is_ianitor = c == OPT_CONSUL_AGENT;
		return 0;
	case OPT_TOKEN_FILE:
		flags->token_file = value;
		return 0;
	case OPT_CA_FILE:
		flags->ca_file = value;
		return 0;
	case OPT_CA_PATH:
		flags->ca_path = value;
		return 0;
	case OPT_CLIENT_CERT:
		flags->cert = value;
		return 0;
	case OPT_CLIENT_KEY:
		flags->key = value;
		return 0;
	case OPT_TLS_SERVER_NAME:
		flags->server_name = value;
		return 0;
	case OPT_AGENT_TIMEOUT:
		flags->agent_timeout = value;
		return 0;
	case OPT_TTL:
		return options_duration(flag, value, &opts->ttl_ms, err);
	case OPT_HEARTBEAT:
		return options_duration(flag, value, &opts->heartbeat_ms, err);
	case OPT_DEREGISTER_AFTER:
		return options_duration(flag, value, &opts->deregister_after_ms, err);
	case OPT_KILL_TIMEOUT:
		return options_duration(flag, value, &opts->kill_timeout_ms, err);
	case OPT_RETRY_MAX:
		return options_duration(flag, value, &opts->retry_max_ms, err);
	case OPT_TAGS:
		return options_push(&opts->tags, &opts->ntags, sizeof(char *), &value, flag, err);
	case OPT_ID:
		return options_set_string(&opts->service_id, value, flag, err);
	case OPT_ADDRESS:
		return options_set_string(&opts->address, value, flag, err);
	case OPT_PORT:
		return options_port(value, &opts->port, err);
	case OPT_META:
		return options_meta(opts, value, err);
	case OPT_SUBREAPER:
		opts->subreaper = true;
		return 0;
	case 'v':
		opts->verbosity++;
		return 0;
	case 'h':
		opts->show_help = true;
		return 0;
	case 'V':
		opts->show_version = true;
		return 0;
	default:
		return consul_error_set(err, flag, "unknown option (see ostiary --help)");
	}
}

static const char *
options_flag_name(int c, char *buf, size_t len, const char *arg)
{
	for (const struct option *o = options_long; o->name != NULL; o++)
		if (o->val == c && c >= 256) {
			snprintf(buf, len, "--%s", o->name);
			return buf;
		}
	snprintf(buf, len, "%s", arg ? arg : "?");
	return buf;
}

static int
options_scan(struct options *opts, struct options_flags *flags, int argc, char **argv,
             consul_error *err)
{
	int c, index;
	char flag[64];

	optind = 1;
	opterr = 0; /* we say what is wrong ourselves, naming the flag */
	while ((c = getopt_long(argc, argv, ":vhV", options_long, &index)) != -1) {
		/* Name the flag as the user typed it: "-x" for a short one. */
		char shortopt[3] = { '-', (char)optopt, '\0' };
		bool short_flag = optopt > 0 && optopt < 128 && argv[optind - 1][1] != '-';
		const char *given = short_flag ? shortopt : argv[optind - 1];
		if (c == '?')
			return consul_error_set(err, given, "unknown option (see ostiary --help)");
		if (c == ':')
			return consul_error_set(err, given, "needs a value (see ostiary --help)");
		if (options_one(opts, flags, c, options_flag_name(c, flag, sizeof(flag), given),
		                optarg, err) < 0)
			return -1;
	}
	return 0;
}

static int
options_finish(struct options *opts, const struct options_flags *flags, consul_warn_fn warn,
               consul_error *err)
{
	char note[160];

	if (flags->agent_timeout != NULL) {
		int64_t ms;
		if (options_duration("--agent-timeout", flags->agent_timeout, &ms, err) < 0)
			return -1;
		if (ms <= 0)
			return consul_error_set(err, "--agent-timeout", "must be more than 0");
		opts->consul.timeout_ms = (long)ms;
		if (opts->consul.connect_timeout_ms > ms)
			opts->consul.connect_timeout_ms = (long)ms;
	}
	if (opts->ttl_ms <= 0)
		return consul_error_set(err, "--ttl", "must be more than 0");
	if (opts->heartbeat_ms == 0)
		opts->heartbeat_ms = opts->ttl_ms / 3 > 0 ? opts->ttl_ms / 3 : 1;
	if (opts->heartbeat_ms >= opts->ttl_ms)
		return consul_error_set(err, "--heartbeat",
		                        "must be shorter than --ttl, or the check expires between "
		                        "pushes (a third of the TTL is a good choice)");
	if (opts->retry_max_ms <= 0)
		return consul_error_set(err, "--retry-max", "must be more than 0");
	if (opts->deregister_after_ms > 0 &&
	    opts->deregister_after_ms < OPTIONS_AGENT_DEREGISTER_MIN_MS) {
		snprintf(note, sizeof(note),
		         "--deregister-after below 1m: the agent raises it to 1m");
		if (warn != NULL)
			warn(NULL, note);
	}
	if (options_set_string(&opts->service_id,
	                       opts->service_id ? opts->service_id : opts->service_name, "--id",
	                       err) < 0)
		return -1;
	if (asprintf(&opts->check_id, "service:%s", opts->service_id) < 0 ||
	    asprintf(&opts->check_name, "%s process", opts->service_name) < 0)
		return consul_error_set(err, "SERVICE", "out of memory");
	return 0;
}

static int
options_validate_service(const struct options *opts, consul_error *err)
{
	consul_service svc;
	consul_check check;

	options_service(opts, &svc, &check);
	return consul_service_validate(&svc, err);
}

int
options_parse(struct options *opts, int argc, char **argv, consul_getenv_fn getenv_fn,
              consul_warn_fn warn, consul_error *err)
{
	struct options_flags flags = { 0 };
	int sep = options_find_separator(argc, argv);
	int nopt = sep < 0 ? argc : sep;

	memset(opts, 0, sizeof(*opts));
	consul_config_init(&opts->consul);
	opts->ttl_ms = OPTIONS_DEFAULT_TTL_MS;
	opts->deregister_after_ms = OPTIONS_DEFAULT_DEREGISTER_AFTER_MS;
	opts->kill_timeout_ms = OPTIONS_DEFAULT_KILL_TIMEOUT_MS;
	opts->retry_max_ms = OPTIONS_DEFAULT_RETRY_MAX_MS;

	if (options_scan(opts, &flags, nopt, argv, err) < 0)
		return -1;
	if (opts->show_help || opts->show_version)
		return 0;
	if (optind >= nopt)
		return consul_error_set(err, "SERVICE",
		                        "missing service name (usage: ostiary [options] SERVICE -- "
		                        "COMMAND [ARGS...])");
	if (optind + 1 < nopt)
		return consul_error_set(err, argv[optind + 1],
		                        "unexpected argument after SERVICE \"%s\"; put COMMAND "
		                        "after \"--\"",
		                        argv[optind]);
	if (sep < 0 || sep + 1 >= argc)
		return consul_error_set(err, "COMMAND",
		                        "missing \"-- COMMAND\" (usage: ostiary [options] SERVICE "
		                        "-- COMMAND [ARGS...])");
	if (options_set_string(&opts->service_name, argv[optind], "SERVICE", err) < 0)
		return -1;
	opts->command = argv + sep + 1;
	if (options_apply_agent_flags(opts, &flags, getenv_fn, warn, err) < 0 ||
	    options_finish(opts, &flags, warn, err) < 0)
		return -1;
	return options_validate_service(opts, err);
}

void
options_service(const struct options *opts, consul_service *svc, consul_check *check)
{
	*check = (consul_check){
		.id = opts->check_id,
		.name = opts->check_name,
		.notes = "TTL check fed by ostiary: passing while the process runs",
		.ttl_ms = opts->ttl_ms,
		.deregister_after_ms = opts->deregister_after_ms,
		.has_status = true,
		.status = CONSUL_CRITICAL,
	};
	*svc = (consul_service){
		.id = opts->service_id,
		.name = opts->service_name,
		.tags = (const char *const *)opts->tags,
		.ntags = opts->ntags,
		.address = opts->address,
		.port = opts->port,
		.meta = opts->meta,
		.nmeta = opts->nmeta,
		.checks = check,
		.nchecks = 1,
	};
}

void
options_free(struct options *opts)
{
	free(opts->service_name);
	free(opts->service_id);
	free(opts->address);
	free(opts->tags);
	free(opts->meta);
	free(opts->check_id);
	free(opts->check_name);
	consul_config_free(&opts->consul);
	memset(opts, 0, sizeof(*opts));
}
