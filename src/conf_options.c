/* conf_options.c - command line and environment (see conf_options.h). */
#include "conf_options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "sig.h"
#include "util.h"

enum {
	OPT_CONSUL_AGENT = 256,
	OPT_HTTP_ADDR,
	OPT_TOKEN_FILE,
	OPT_CA_FILE,
	OPT_CA_PATH,
	OPT_CLIENT_CERT,
	OPT_CLIENT_KEY,
	OPT_TLS_SERVER_NAME,
	OPT_NAMESPACE,
	OPT_PARTITION,
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
	OPT_SERVICE_FILE,
	OPT_DRAIN,
	OPT_DRAIN_DELAY,
	OPT_STOP_SIGNAL,
	OPT_READY_AFTER,
	OPT_NOTIFY,
	OPT_RESTART,
	OPT_RESTART_DELAY,
	OPT_RESTART_MAX_DELAY,
	OPT_FAIL_CLOSED,
	OPT_VERIFY_INTERVAL,
	OPT_OWNER,
	OPT_SINGLE_CHILD,
	OPT_REWRITE,
	OPT_LOG_FORMAT,
	OPT_KV_ENV,
	OPT_KV_FILE,
	OPT_KV_ON_CHANGE,
	OPT_KV_WAIT,
	OPT_KV_SPLAY,
	OPT_KV_TIMEOUT,
	OPT_KV_REQUIRED,
	OPT_STATUS_SOCKET,
	OPT_METRICS_ADDR,
};

static void conf_options_warn(consul_warn_fn warn, const char *fmt, ...) PRINTF_LIKE(2, 3);

static const struct option conf_options_long[] = {
	{ "consul-agent", required_argument, NULL, OPT_CONSUL_AGENT },
	{ "http-addr", required_argument, NULL, OPT_HTTP_ADDR },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "ca-path", required_argument, NULL, OPT_CA_PATH },
	{ "client-cert", required_argument, NULL, OPT_CLIENT_CERT },
	{ "client-key", required_argument, NULL, OPT_CLIENT_KEY },
	{ "tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME },
	{ "namespace", required_argument, NULL, OPT_NAMESPACE },
	{ "partition", required_argument, NULL, OPT_PARTITION },
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
	{ "service-file", required_argument, NULL, OPT_SERVICE_FILE },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "drain-delay", required_argument, NULL, OPT_DRAIN_DELAY },
	{ "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
	{ "ready-after", required_argument, NULL, OPT_READY_AFTER },
	{ "notify", no_argument, NULL, OPT_NOTIFY },
	{ "restart", required_argument, NULL, OPT_RESTART },
	{ "restart-delay", required_argument, NULL, OPT_RESTART_DELAY },
	{ "restart-max-delay", required_argument, NULL, OPT_RESTART_MAX_DELAY },
	{ "fail-closed", required_argument, NULL, OPT_FAIL_CLOSED },
	{ "verify-interval", required_argument, NULL, OPT_VERIFY_INTERVAL },
	{ "owner", required_argument, NULL, OPT_OWNER },
	{ "single-child", no_argument, NULL, OPT_SINGLE_CHILD },
	{ "rewrite", required_argument, NULL, OPT_REWRITE },
	{ "kv-env", required_argument, NULL, OPT_KV_ENV },
	{ "kv-file", required_argument, NULL, OPT_KV_FILE },
	{ "kv-on-change", required_argument, NULL, OPT_KV_ON_CHANGE },
	{ "kv-wait", required_argument, NULL, OPT_KV_WAIT },
	{ "kv-splay", required_argument, NULL, OPT_KV_SPLAY },
	{ "kv-timeout", required_argument, NULL, OPT_KV_TIMEOUT },
	{ "kv-required", optional_argument, NULL, OPT_KV_REQUIRED },
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "status-socket", required_argument, NULL, OPT_STATUS_SOCKET },
	{ "metrics-addr", required_argument, NULL, OPT_METRICS_ADDR },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void
conf_options_usage(FILE *out)
{
	fputs("usage: ostiary [options] SERVICE -- COMMAND [ARGS...]\n"
	      "       ostiary -c FILE [options] [SERVICE] [-- COMMAND [ARGS...]]\n"
	      "       ostiary -t [-c FILE]\n"
	      "       ostiary status [--socket PATH] [--json]\n"
	      "       ostiary maintenance enable|disable [--reason TEXT] [--service ID]\n"
	      "                          [--socket PATH]\n"
	      "\n"
	      "Run COMMAND, register it with the local Consul agent as SERVICE with TTL\n"
	      "checks fed by local probes (by default: is COMMAND running?), deregister\n"
	      "when it ends.\n"
	      "\n"
	      "Configuration:\n"
	      "  -c, --config FILE       read services, checks and settings from FILE\n"
	      "                          (default " CONF_DEFAULT_PATH " when no SERVICE\n"
	      "                          and no COMMAND are given)\n"
	      "  --service-file FILE     also load a Consul JSON service definition\n"
	      "                          (repeatable); its HTTP/TCP/Args checks run locally\n"
	      "  -t, --check-config      check the configuration and exit\n"
	      "Flags override the file; SERVICE picks (or adds) the service they apply to.\n"
	      "\n"
	      "Service:\n"
	      "  --id ID                 service ID (default: SERVICE)\n"
	      "  --tags TAG              add a tag (repeatable)\n"
	      "  --meta KEY=VALUE        add service metadata (repeatable)\n"
	      "  --address ADDR          service address (default: the agent's)\n"
	      "  --port PORT             service port\n"
	      "Timing (durations: 10, 10s, 1m30s, 500ms; a bare number is seconds):\n"
	      "  --ttl D                 TTL of the process check (default 10s)\n"
	      "  --heartbeat D           its push interval, shorter than the TTL (default TTL/3)\n"
	      "  --deregister-after D    agent removes the service after its check has been\n"
	      "                          critical this long; 0 turns it off (default 10m)\n"
	      "  --kill-timeout D        SIGKILL the command this long after the stop\n"
	      "                          signal (default 7s)\n"
	      "  --agent-timeout D       total time for one agent request (default 5s)\n"
	      "  --retry-max D           longest wait between registration attempts (default 10s)\n"
	      "Stopping (on SIGTERM, SIGINT, SIGQUIT: drain, wait, signal, kill, deregister):\n"
	      "  --drain MODE            maintenance (default), critical, deregister or none\n"
	      "  --drain-delay D         wait after draining before the stop signal (default 1s)\n"
	      "  --stop-signal SIG       signal for COMMAND (default: the one received)\n"
	      "  --single-child          signal COMMAND alone, not its whole process group\n"
	      "  --rewrite FROM:TO       COMMAND gets signal TO for FROM, 0 = not at all\n"
	      "                          (repeatable; e.g. HUP:0, TERM:QUIT)\n"
	      "Readiness and restarts:\n"
	      "  --ready-after N         probe passes in a row before a check first passes\n"
	      "                          (default 1)\n"
	      "  --notify                give COMMAND a NOTIFY_SOCKET; critical until READY=1\n"
	      "  --restart POLICY        never (default), on-failure or always\n"
	      "  --restart-delay D       first restart delay, doubled per attempt (default 1s)\n"
	      "  --restart-max-delay D   cap of that delay (default 30s)\n"
	      "Configuration from Consul KV (the command starts once all of it is read):\n"
	      "  --kv-env PREFIX         every key under PREFIX (ending in /) becomes an\n"
	      "                          environment variable: app/web/db/host -> DB_HOST\n"
	      "                          (repeatable; a later prefix wins)\n"
	      "  --kv-file KEY=PATH[:MODE]  write KEY's value to PATH (mode default 0600)\n"
	      "                          before the start and on every change (repeatable)\n"
	      "  --kv-on-change ACTION   restart (default: drain, stop, start anew),\n"
	      "                          signal:SIG (e.g. signal:HUP) or none\n"
	      "  --kv-wait MIN[:MAX]     act once changes settled for MIN, at most MAX after\n"
	      "                          the first (default 1s:4s; 0 acts at once)\n"
	      "  --kv-splay D            then wait a random time up to D (default 0)\n"
	      "  --kv-timeout D          how long the first read may take (default 1m)\n"
	      "  --kv-required=BOOL      true (default): exit 125 when it times out;\n"
	      "                          false: start the command without the data\n"
	      "Agent faults:\n"
	      "  --fail-closed D         stop COMMAND once the agent has been unreachable this\n"
	      "                          long (default: never, COMMAND keeps running)\n"
	      "  --verify-interval D     check the agent still has our registrations (default\n"
	      "                          30s; 0 = never)\n"
	      "  --owner NAME            mark registrations to clean up a crashed run's\n"
	      "                          leftovers (default: the first service ID)\n"
	      "Agent (flags override CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN[_FILE], "
	      "CONSUL_CACERT...):\n"
	      "  --http-addr ADDR        host:port, http://..., https://..., unix:///path\n"
	      "                          (default 127.0.0.1:8500)\n"
	      "  --consul-agent H[:P]    ianitor's form of --http-addr (port defaults to 8500)\n"
	      "  --token-file PATH       read the ACL token from PATH\n"
	      "  --ca-file PATH  --ca-path DIR  --client-cert PATH  --client-key PATH\n"
	      "  --tls-server-name NAME  TLS settings for an https agent\n"
	      "  --namespace NS          Consul Enterprise namespace (CONSUL_NAMESPACE)\n"
	      "  --partition NAME        Consul Enterprise admin partition (CONSUL_PARTITION)\n"
	      "Other:\n"
	      "  --subreaper             adopt and reap orphaned descendants (Linux)\n"
	      "  -v, --verbose           more log detail (repeat for debug)\n"
	      "  --log-format F          text (default), logfmt or json\n"
	      "  --status-socket PATH    control socket for `ostiary status` and\n"
	      "                          `ostiary maintenance`; none = off (default\n"
	      "                          $RUNTIME_DIRECTORY/ostiary.sock, see ostiary(1))\n"
	      "  --metrics-addr H:P      serve Prometheus metrics on GET /metrics (a bare\n"
	      "                          port means 127.0.0.1; default off)\n"
	      "  -h, --help              this text\n"
	      "  -V, --version           print the version\n"
	      "\n"
	      "Exit status: COMMAND's, or 128+N if it died of signal N; 125 when ostiary\n"
	      "itself fails (bad usage or configuration), 126 if COMMAND cannot be\n"
	      "executed, 127 if it is not found.  -t exits 0 when the configuration is good.\n",
	      out);
}

/* ------------------------------------------------------------- the flags */

/* Everything the command line said, kept as given until the files are
 * read: flags are applied last, so they override the files. */
struct conf_options_cli {
	const char *config;
	const char **service_files;
	size_t nservice_files;

	const char *addr;     /* --http-addr or --consul-agent */
	bool addr_is_ianitor; /* given as --consul-agent: default port 8500 */
	const char *token_file, *ca_file, *ca_path, *cert, *key, *server_name, *ns, *partition;
	const char *agent_timeout, *retry_max, *kill_timeout, *ttl, *heartbeat;
	const char *drain, *drain_delay, *stop_signal, *ready_after, *restart, *restart_delay,
	        *restart_max_delay, *fail_closed, *verify_interval, *owner;
	bool notify, single_child;
	const char **rewrites;
	size_t nrewrites;

	const char **kv_env, **kv_files;
	size_t nkv_env, nkv_files;
	const char *kv_on_change, *kv_wait, *kv_splay, *kv_timeout, *kv_required;

	const char *service; /* the SERVICE argument */
	const char *id, *address, *port, *deregister_after;
	const char **tags;
	size_t ntags;
	char **meta;
	size_t nmeta;

	int verbosity;
	int log_format; /* -1: not given */
	const char *status_socket;
	const char *metrics_addr;
	bool subreaper;
	char **command; /* after "--", NULL-terminated, points into argv */
};

static void
conf_options_cli_free(struct conf_options_cli *cli)
{
	free(cli->service_files);
	free(cli->tags);
	free(cli->meta);
	free(cli->rewrites);
	free(cli->kv_env);
	free(cli->kv_files);
}

static int
conf_options_push(void *array, size_t *n, const void *value, const char *flag, consul_error *err)
{
	const void ***p = array;
	const void **grown = realloc(*p, (*n + 1) * sizeof(void *));

	if (grown == NULL)
		return consul_error_set(err, flag, "out of memory");
	grown[(*n)++] = value;
	*p = grown;
	return 0;
}

/* One flag into cli; returns 0, or -1 with err filled. */
static int
conf_options_one(struct conf_options_cli *cli, struct conf_options_request *req, int c,
                 const char *flag, char *value, consul_error *err)
{
	switch (c) {
	case 'c':
		cli->config = value;
		break;
	case 't':
		req->check_only = true;
		break;
	case 'h':
		req->help = true;
		break;
	case 'V':
		req->version = true;
		break;
	case 'v':
		cli->verbosity++;
		break;
	case OPT_STATUS_SOCKET:
		if (*value == '\0')
			return consul_error_set(err, flag,
			                        "empty path (give a path, or none to turn it off)");
		cli->status_socket = value;
		break;
	case OPT_METRICS_ADDR: {
		char why[160];

		if (metrics_addr_check(value, why, sizeof(why)) < 0)
			return consul_error_set(err, flag, "%s: %s", value, why);
		cli->metrics_addr = value;
		break;
	}
	case OPT_LOG_FORMAT:
		if ((cli->log_format = log_format_parse(value)) < 0) {
			return consul_error_set(
			        err, flag, "unknown log format \"%s\" (use text, logfmt or json)",
			        value);
		}
		break;
	case OPT_SERVICE_FILE:
		return conf_options_push(&cli->service_files, &cli->nservice_files, value, flag,
		                         err);
	case OPT_CONSUL_AGENT:
	case OPT_HTTP_ADDR:
		cli->addr = value;
		cli->addr_is_ianitor = c == OPT_CONSUL_AGENT;
		break;
	case OPT_TOKEN_FILE:
		cli->token_file = value;
		break;
	case OPT_CA_FILE:
		cli->ca_file = value;
		break;
	case OPT_CA_PATH:
		cli->ca_path = value;
		break;
	case OPT_CLIENT_CERT:
		cli->cert = value;
		break;
	case OPT_CLIENT_KEY:
		cli->key = value;
		break;
	case OPT_TLS_SERVER_NAME:
		cli->server_name = value;
		break;
	case OPT_NAMESPACE:
		cli->ns = value;
		break;
	case OPT_PARTITION:
		cli->partition = value;
		break;
	case OPT_AGENT_TIMEOUT:
		cli->agent_timeout = value;
		break;
	case OPT_RETRY_MAX:
		cli->retry_max = value;
		break;
	case OPT_KILL_TIMEOUT:
		cli->kill_timeout = value;
		break;
	case OPT_TTL:
		cli->ttl = value;
		break;
	case OPT_HEARTBEAT:
		cli->heartbeat = value;
		break;
	case OPT_DEREGISTER_AFTER:
		cli->deregister_after = value;
		break;
	case OPT_ID:
		cli->id = value;
		break;
	case OPT_ADDRESS:
		cli->address = value;
		break;
	case OPT_PORT:
		cli->port = value;
		break;
	case OPT_TAGS:
		return conf_options_push(&cli->tags, &cli->ntags, value, flag, err);
	case OPT_META:
		return conf_options_push(&cli->meta, &cli->nmeta, value, flag, err);
	case OPT_SUBREAPER:
		cli->subreaper = true;
		break;
	case OPT_NOTIFY:
		cli->notify = true;
		break;
	case OPT_DRAIN:
		cli->drain = value;
		break;
	case OPT_DRAIN_DELAY:
		cli->drain_delay = value;
		break;
	case OPT_STOP_SIGNAL:
		cli->stop_signal = value;
		break;
	case OPT_READY_AFTER:
		cli->ready_after = value;
		break;
	case OPT_RESTART:
		cli->restart = value;
		break;
	case OPT_RESTART_DELAY:
		cli->restart_delay = value;
		break;
	case OPT_RESTART_MAX_DELAY:
		cli->restart_max_delay = value;
		break;
	case OPT_FAIL_CLOSED:
		cli->fail_closed = value;
		break;
	case OPT_VERIFY_INTERVAL:
		cli->verify_interval = value;
		break;
	case OPT_OWNER:
		cli->owner = value;
		break;
	case OPT_SINGLE_CHILD:
		cli->single_child = true;
		break;
	case OPT_REWRITE:
		return conf_options_push(&cli->rewrites, &cli->nrewrites, value, flag, err);
	case OPT_KV_ENV:
		return conf_options_push(&cli->kv_env, &cli->nkv_env, value, flag, err);
	case OPT_KV_FILE:
		return conf_options_push(&cli->kv_files, &cli->nkv_files, value, flag, err);
	case OPT_KV_ON_CHANGE:
		cli->kv_on_change = value;
		break;
	case OPT_KV_WAIT:
		cli->kv_wait = value;
		break;
	case OPT_KV_SPLAY:
		cli->kv_splay = value;
		break;
	case OPT_KV_TIMEOUT:
		cli->kv_timeout = value;
		break;
	case OPT_KV_REQUIRED:
		cli->kv_required = value != NULL ? value : "true";
		break;
	default:
		return consul_error_set(err, flag, "unknown option (see ostiary --help)");
	}
	return 0;
}

static const char *
conf_options_flag_name(int c, char *buf, size_t len)
{
	for (const struct option *o = conf_options_long; o->name != NULL; o++) {
		if (o->val == c) {
			snprintf(buf, len, "--%s", o->name);
			return buf;
		}
	}
	snprintf(buf, len, "-%c", c);
	return buf;
}

/* Where "--" is: everything after it is the command, never our options. */
static int
conf_options_find_separator(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return -1;
}

static int
conf_options_scan(struct conf_options_cli *cli, struct conf_options_request *req, int argc,
                  char **argv, consul_error *err)
{
	int sep = conf_options_find_separator(argc, argv);
	int nopt = sep < 0 ? argc : sep;
	char flag[64];
	int c;

	optind = 1;
	opterr = 0; /* we say what is wrong ourselves, naming the flag */
	while ((c = getopt_long(nopt, argv, ":c:tvhV", conf_options_long, NULL)) != -1) {
		/* Name the flag as the user typed it: "-x" for a short one. */
		char shortopt[3] = { '-', (char)optopt, '\0' };
		bool short_flag = optopt > 0 && optopt < 128 && argv[optind - 1][1] != '-';
		const char *given = short_flag ? shortopt : argv[optind - 1];

		if (c == '?')
			return consul_error_set(err, given, "unknown option (see ostiary --help)");
		if (c == ':')
			return consul_error_set(err, given, "needs a value (see ostiary --help)");
		if (conf_options_one(cli, req, c, conf_options_flag_name(c, flag, sizeof(flag)),
		                     optarg, err) < 0)
			return -1;
	}
	if (optind < nopt)
		cli->service = argv[optind];
	if (optind + 1 < nopt)
		return consul_error_set(err, argv[optind + 1],
		                        "unexpected argument after SERVICE \"%s\"; put COMMAND "
		                        "after \"--\"",
		                        argv[optind]);
	if (sep >= 0 && sep + 1 >= argc)
		return consul_error_set(err, "COMMAND", "nothing after \"--\"");
	if (sep >= 0)
		cli->command = argv + sep + 1;
	return 0;
}

/* ---------------------------------------------------- environment override */

/* Flags hide the variables they override, so a broken variable that a flag
 * replaces is never parsed (in Consul's CLI the flag value replaces the
 * variable's before the address is parsed).  Option parsing runs once, on
 * one thread, so a file-scope view is enough. */
static const struct conf_options_cli *conf_options_given;
static consul_getenv_fn conf_options_real_getenv;

static bool
conf_options_flag_overrides(const char *name)
{
	const struct conf_options_cli *f = conf_options_given;

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
	if (strcmp(name, "CONSUL_NAMESPACE") == 0)
		return f->ns != NULL;
	if (strcmp(name, "CONSUL_PARTITION") == 0)
		return f->partition != NULL;
	return false;
}

static const char *
conf_options_getenv(const char *name)
{
	return conf_options_flag_overrides(name) ? NULL : conf_options_real_getenv(name);
}

/* --------------------------------------------------------------- values */

/* Replace *slot with a copy of value. */
static int
conf_options_set_string(char **slot, const char *value, const char *flag, consul_error *err)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return consul_error_set(err, flag, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

static int
conf_options_duration(const char *flag, const char *value, int64_t *out, consul_error *err)
{
	if (value == NULL)
		return 0;
	if (consul_duration_parse(value, out, err) < 0) {
		snprintf(err->source, sizeof(err->source), "%s", flag);
		return -1;
	}
	return 0;
}

static int
conf_options_positive(const char *flag, const char *value, int64_t *out, consul_error *err)
{
	if (conf_options_duration(flag, value, out, err) < 0)
		return -1;
	if (value != NULL && *out <= 0)
		return consul_error_set(err, flag, "must be more than 0");
	return 0;
}

static int
conf_options_port(const char *value, int *out, consul_error *err)
{
	char *end;
	long port = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0' || port < 1 || port > 65535)
		return consul_error_set(err, "--port", "invalid port \"%s\" (use 1 to 65535)",
		                        value);
	*out = (int)port;
	return 0;
}

/* ------------------------------------------------------- applying them */

/* The library's parser does every form, "[v6]" included; it leaves port 0
 * for "the scheme's default" and never accepts an explicit 0, so a TCP
 * address with port 0 afterwards is one given without a port. */
int
conf_options_set_agent(consul_config *cfg, const char *hostport, const char *source,
                       consul_error *err)
{
	if (consul_config_set_addr(cfg, hostport, source, err) < 0)
		return -1;
	if (cfg->transport == CONSUL_TRANSPORT_TCP && cfg->port == 0)
		cfg->port = CONSUL_DEFAULT_PORT;
	return 0;
}

static int
conf_options_apply_agent(struct conf *conf, const struct conf_options_cli *cli,
                         consul_getenv_fn getenv_fn, consul_warn_fn warn, consul_error *err)
{
	consul_config *cfg = &conf->consul;
	int64_t timeout;

	conf_options_given = cli;
	conf_options_real_getenv = getenv_fn;
	if (consul_config_from_env(cfg, conf_options_getenv, warn, NULL, err) < 0)
		return -1;
	if (cli->addr != NULL &&
	    (cli->addr_is_ianitor ? conf_options_set_agent(cfg, cli->addr, "--consul-agent", err)
	                          : consul_config_set_addr(cfg, cli->addr, "--http-addr", err)) < 0)
		return -1;
	if (cli->token_file != NULL &&
	    consul_config_load_token_file(cfg, cli->token_file, err) < 0) {
		snprintf(err->source, sizeof(err->source), "--token-file");
		return -1;
	}
	if (cli->token_file != NULL && cfg->token == NULL)
		conf_options_warn(warn, "--token-file %s is empty: requests carry no ACL token",
		                  cli->token_file);
	if ((cli->cert == NULL) != (cli->key == NULL))
		return consul_error_set(err, cli->cert ? "--client-cert" : "--client-key",
		                        "both --client-cert and --client-key must be given");
	if ((cli->ca_file &&
	     conf_options_set_string(&cfg->tls.ca_file, cli->ca_file, "--ca-file", err)) ||
	    (cli->ca_path &&
	     conf_options_set_string(&cfg->tls.ca_path, cli->ca_path, "--ca-path", err)) ||
	    (cli->cert &&
	     conf_options_set_string(&cfg->tls.cert_file, cli->cert, "--client-cert", err)) ||
	    (cli->key &&
	     conf_options_set_string(&cfg->tls.key_file, cli->key, "--client-key", err)) ||
	    (cli->server_name && conf_options_set_string(&cfg->tls.server_name, cli->server_name,
	                                                 "--tls-server-name", err)) ||
	    (cli->ns && conf_options_set_string(&cfg->ns, cli->ns, "--namespace", err)) ||
	    (cli->partition &&
	     conf_options_set_string(&cfg->partition, cli->partition, "--partition", err)))
		return -1;
	if (cli->agent_timeout != NULL) {
		if (conf_options_positive("--agent-timeout", cli->agent_timeout, &timeout, err) < 0)
			return -1;
		cfg->timeout_ms = (long)timeout;
		if (cfg->connect_timeout_ms > timeout)
			cfg->connect_timeout_ms = (long)timeout;
	}
	return 0;
}

static int
conf_options_apply_globals(struct conf *conf, const struct conf_options_cli *cli, consul_error *err)
{
	if (conf_options_positive("--ttl", cli->ttl, &conf->ttl_ms, err) < 0 ||
	    conf_options_positive("--heartbeat", cli->heartbeat, &conf->heartbeat_ms, err) < 0 ||
	    conf_options_duration("--kill-timeout", cli->kill_timeout, &conf->kill_timeout_ms,
	                          err) < 0 ||
	    conf_options_positive("--retry-max", cli->retry_max, &conf->retry_max_ms, err) < 0)
		return -1;
	conf->verbosity += cli->verbosity;
	if (cli->log_format >= 0)
		conf->log_format = cli->log_format;
	conf->subreaper = conf->subreaper || cli->subreaper;
	if (cli->status_socket != NULL &&
	    conf_options_set_string(&conf->status_socket, cli->status_socket, "--status-socket",
	                            err) < 0)
		return -1;
	if (cli->metrics_addr != NULL &&
	    conf_options_set_string(&conf->metrics_addr, cli->metrics_addr, "--metrics-addr",
	                            err) < 0)
		return -1;
	if (cli->command != NULL) {
		size_t n = 0;
		char **command;

		while (cli->command[n] != NULL)
			n++;
		if ((command = conf_strv_dup((const char *const *)cli->command, n)) == NULL)
			return consul_error_set(err, "COMMAND", "out of memory");
		conf_strv_free(conf->command);
		conf->command = command;
	}
	return 0;
}

static int
conf_options_count(const char *flag, const char *value, int *out, consul_error *err)
{
	char *end;
	long n;

	if (value == NULL)
		return 0;
	n = strtol(value, &end, 10);
	if (*value == '\0' || *end != '\0' || n < 1 || n > 1000000)
		return consul_error_set(err, flag, "invalid count \"%s\" (use 1 to 1000000)",
		                        value);
	*out = (int)n;
	return 0;
}

/* After the file's: for the same signal, the command line wins. */
static int
conf_options_rewrites(struct conf *conf, const struct conf_options_cli *cli, consul_error *err)
{
	char why[200];
	int from, to;

	for (size_t i = 0; i < cli->nrewrites; i++) {
		if (sig_parse_rewrite(cli->rewrites[i], &from, &to, why, sizeof(why)) < 0)
			return consul_error_set(err, "--rewrite", "%s", why);
		conf->rewrite[from] = to;
	}
	return 0;
}

/* Stopping, readiness, restarts and agent-fault policy. */
static int
conf_options_apply_lifecycle(struct conf *conf, const struct conf_options_cli *cli,
                             consul_error *err)
{
	if (cli->drain && conf_drain_parse(cli->drain, &conf->drain) < 0)
		return consul_error_set(
		        err, "--drain",
		        "unknown mode \"%s\" (use maintenance, critical, deregister "
		        "or none)",
		        cli->drain);
	if (cli->restart && conf_restart_parse(cli->restart, &conf->restart) < 0)
		return consul_error_set(err, "--restart",
		                        "unknown policy \"%s\" (use never, on-failure or always)",
		                        cli->restart);
	if (cli->stop_signal && (conf->stop_signal = sig_parse(cli->stop_signal)) < 0)
		return consul_error_set(
		        err, "--stop-signal",
		        "unknown signal \"%s\" (use a name such as TERM or QUIT, or "
		        "a number)",
		        cli->stop_signal);
	if (conf_options_duration("--drain-delay", cli->drain_delay, &conf->drain_delay_ms, err) <
	            0 ||
	    conf_options_positive("--restart-delay", cli->restart_delay, &conf->restart_delay_ms,
	                          err) < 0 ||
	    conf_options_positive("--restart-max-delay", cli->restart_max_delay,
	                          &conf->restart_max_delay_ms, err) < 0 ||
	    conf_options_duration("--fail-closed", cli->fail_closed, &conf->fail_closed_ms, err) <
	            0 ||
	    conf_options_duration("--verify-interval", cli->verify_interval,
	                          &conf->verify_interval_ms, err) < 0 ||
	    conf_options_count("--ready-after", cli->ready_after, &conf->ready_after, err) < 0 ||
	    (cli->owner && conf_options_set_string(&conf->owner, cli->owner, "--owner", err) < 0))
		return -1;
	if (conf->restart_max_delay_ms < conf->restart_delay_ms)
		return consul_error_set(
		        err, cli->restart_max_delay ? "--restart-max-delay" : "--restart-delay",
		        "the restart delay cap is shorter than the first delay");
	conf->notify = conf->notify || cli->notify;
	conf->single_child = conf->single_child || cli->single_child;
	return conf_options_rewrites(conf, cli, err);
}

/* Lists given on the command line replace the file's, as --tags does. */
static int
conf_options_apply_kv(struct conf *conf, const struct conf_options_cli *cli, consul_error *err)
{
	char why[512];

	if (cli->nkv_env > 0)
		conf_kv_clear_prefixes(conf);
	for (size_t i = 0; i < cli->nkv_env; i++)
		if (conf_kv_add_prefix(conf, cli->kv_env[i], why, sizeof(why)) < 0)
			return consul_error_set(err, "--kv-env", "%s", why);
	if (cli->nkv_files > 0)
		conf_kv_clear_files(conf);
	for (size_t i = 0; i < cli->nkv_files; i++)
		if (conf_kv_add_file_spec(conf, cli->kv_files[i], "--kv-file", why, sizeof(why)) < 0)
			return consul_error_set(err, "--kv-file", "%s", why);
	if (cli->kv_on_change != NULL &&
	    conf_kv_action_parse(cli->kv_on_change, &conf->kv_on_change, &conf->kv_signal, why,
	                         sizeof(why)) < 0)
		return consul_error_set(err, "--kv-on-change", "%s", why);
	if (cli->kv_wait != NULL && conf_kv_wait_parse(cli->kv_wait, &conf->kv_wait_min_ms,
	                                               &conf->kv_wait_max_ms, why, sizeof(why)) < 0)
		return consul_error_set(err, "--kv-wait", "%s", why);
	if (cli->kv_required != NULL) {
		if (strcmp(cli->kv_required, "true") != 0 && strcmp(cli->kv_required, "false") != 0)
			return consul_error_set(err, "--kv-required", "\"%s\": use true or false",
			                        cli->kv_required);
		conf->kv_required = strcmp(cli->kv_required, "true") == 0;
	}
	return conf_options_duration("--kv-splay", cli->kv_splay, &conf->kv_splay_ms, err) < 0 ||
	                       conf_options_positive("--kv-timeout", cli->kv_timeout,
	                                             &conf->kv_timeout_ms, err) < 0
	               ? -1
	               : 0;
}

static bool
conf_options_has_service_flags(const struct conf_options_cli *cli)
{
	return cli->id || cli->address || cli->port || cli->deregister_after || cli->ntags ||
	       cli->nmeta;
}

/* The service the flags speak of: SERVICE (found or added), or the only
 * one; *out stays NULL when there is none and no flag needs one. */
static int
conf_options_target_service(struct conf *conf, const struct conf_options_cli *cli,
                            struct service_conf **out, consul_error *err)
{
	*out = NULL;
	if (cli->service == NULL) {
		if (conf->nservices == 1)
			*out = &conf->services[0];
		else if (conf->nservices == 0)
			return consul_error_set(err, "SERVICE",
			                        "missing service name (usage: ostiary [options] "
			                        "SERVICE -- COMMAND [ARGS...], or -c FILE)");
		else if (conf_options_has_service_flags(cli))
			return consul_error_set(err, "SERVICE",
			                        "the configuration has %zu services: name the one "
			                        "the service flags apply to",
			                        conf->nservices);
		return 0;
	}
	for (size_t i = 0; i < conf->nservices; i++) {
		if (conf->services[i].name && strcmp(conf->services[i].name, cli->service) == 0) {
			*out = &conf->services[i];
			return 0;
		}
	}
	if ((*out = conf_add_service(conf)) == NULL)
		return consul_error_set(err, "SERVICE", "out of memory");
	if (conf_options_set_string(&(*out)->name, cli->service, "SERVICE", err) < 0 ||
	    conf_options_set_string(&(*out)->origin, "the command line", "SERVICE", err) < 0)
		return -1;
	return 0;
}

static int
conf_options_apply_meta(struct service_conf *svc, const struct conf_options_cli *cli,
                        consul_error *err)
{
	struct conf_kv *meta = calloc(cli->nmeta + 1, sizeof(*meta));

	if (meta == NULL)
		return consul_error_set(err, "--meta", "out of memory");
	for (size_t i = 0; i < svc->nmeta; i++) {
		free(svc->meta[i].key);
		free(svc->meta[i].value);
	}
	free(svc->meta);
	svc->meta = meta;
	svc->nmeta = 0;
	for (size_t i = 0; i < cli->nmeta; i++) {
		char *eq = strchr(cli->meta[i], '=');
		if (eq == NULL || eq == cli->meta[i])
			return consul_error_set(err, "--meta",
			                        "invalid metadata \"%s\" (use KEY=VALUE)",
			                        cli->meta[i]);
		meta[i].key = strndup(cli->meta[i], (size_t)(eq - cli->meta[i]));
		meta[i].value = strdup(eq + 1);
		svc->nmeta++;
		if (meta[i].key == NULL || meta[i].value == NULL)
			return consul_error_set(err, "--meta", "out of memory");
	}
	return 0;
}

static int
conf_options_apply_service(struct conf *conf, const struct conf_options_cli *cli, consul_error *err)
{
	struct service_conf *svc;

	if (conf_options_target_service(conf, cli, &svc, err) < 0)
		return -1;
	if (svc == NULL)
		return 0;
	if ((cli->id && conf_options_set_string(&svc->id, cli->id, "--id", err) < 0) ||
	    (cli->address &&
	     conf_options_set_string(&svc->address, cli->address, "--address", err) < 0) ||
	    (cli->port && conf_options_port(cli->port, &svc->port, err) < 0) ||
	    conf_options_duration("--deregister-after", cli->deregister_after,
	                          &svc->deregister_after_ms, err) < 0)
		return -1;
	if (cli->ntags > 0) {
		char **tags = conf_strv_dup(cli->tags, cli->ntags);
		if (tags == NULL)
			return consul_error_set(err, "--tags", "out of memory");
		conf_strv_free(svc->tags);
		svc->tags = tags;
		svc->ntags = cli->ntags;
	}
	if (cli->nmeta > 0 && conf_options_apply_meta(svc, cli, err) < 0)
		return -1;
	return 0;
}

/* The file to read: -c, or the default one when the command line names
 * neither a service nor a command (then it must exist). */
static const char *
conf_options_config_path(const struct conf_options_cli *cli)
{
	if (cli->config != NULL)
		return cli->config;
	if (cli->service == NULL && cli->command == NULL)
		return CONF_DEFAULT_PATH;
	return NULL;
}

static int
conf_options_load_files(struct conf *conf, const struct conf_options_cli *cli, consul_error *err)
{
	const char *path = conf_options_config_path(cli);

	if (path != NULL && conf_file_load(conf, path, err) < 0)
		return -1;
	for (size_t i = 0; i < cli->nservice_files; i++)
		if (conf_consul_load(conf, cli->service_files[i], err) < 0)
			return -1;
	return 0;
}

static void
conf_options_warn(consul_warn_fn warn, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	warn(NULL, text);
}

void
conf_options_warn_unknown_env(char *const *envp, consul_warn_fn warn)
{
	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		const char *const *known = consul_config_env_names();
		size_t len = strcspn(envp[i], "=");
		bool used = false;

		if (strncmp(envp[i], "CONSUL_", 7) != 0)
			continue;
		for (size_t k = 0; known[k] != NULL && !used; k++)
			used = strlen(known[k]) == len && strncmp(known[k], envp[i], len) == 0;
		if (!used)
			conf_options_warn(warn, "%.*s is set but ostiary does not use it", (int)len,
			                  envp[i]);
	}
}

static void
conf_options_warn_short_deregister(const struct conf *conf, consul_warn_fn warn)
{
	for (size_t s = 0; warn && s < conf->nservices; s++) {
		for (size_t c = 0; c < conf->services[s].nchecks; c++) {
			int64_t after = conf->services[s].checks[c].deregister_after_ms;
			if (after > 0 && after < 60000) {
				warn(NULL, "deregister-after below 1m: the agent raises it to 1m");
				return;
			}
		}
	}
}

int
conf_options_parse(struct conf *conf, struct conf_options_request *req, int argc, char **argv,
                   consul_getenv_fn getenv_fn, consul_warn_fn warn, consul_error *err)
{
	struct conf_options_cli cli = { .log_format = -1 };
	int rc = -1;

	memset(req, 0, sizeof(*req));
	conf_init(conf);
	if (conf_options_scan(&cli, req, argc, argv, err) < 0)
		goto out;
	if (req->help || req->version) {
		rc = 0;
		goto out;
	}
	if (conf_options_load_files(conf, &cli, err) < 0 ||
	    conf_options_apply_agent(conf, &cli, getenv_fn, warn, err) < 0 ||
	    conf_options_apply_globals(conf, &cli, err) < 0 ||
	    conf_options_apply_lifecycle(conf, &cli, err) < 0 ||
	    conf_options_apply_kv(conf, &cli, err) < 0 ||
	    conf_options_apply_service(conf, &cli, err) < 0 || conf_finish(conf, err) < 0)
		goto out;
	conf_options_warn_short_deregister(conf, warn);
	if (conf->nkv_env > 0 && conf->kv_on_change != CONF_KV_RESTART)
		conf_options_warn(warn, "KV environment changes reach the command only when it "
		                        "starts again (the on-change action is not restart)");
	consul_config_warn_token_file_mode(conf->consul.token_file, warn, NULL);
	rc = 0;
out:
	conf_options_cli_free(&cli);
	return rc;
}
