/*
 * conf.h - what ostiary is asked to do, whichever front end said it.
 *
 * The command line (conf_options.c), a libconfig file (conf_file.c) and Consul's
 * own JSON service definitions (conf_consul.c) all fill this one model; the
 * engine reads only this.  Every string is owned by the model (malloc'd)
 * and freed by conf_free().  `origin` fields say where a definition came
 * from ("/etc/ostiary.conf:12") so run-time messages can point at it.
 */
#ifndef OSTIARY_CONF_H
#define OSTIARY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ostiary/consul.h>

/* Defaults mirror Consul's own checks (agent/checks/check.go, docs). */
#define CONF_DEFAULT_INTERVAL_MS 10000
#define CONF_DEFAULT_EXEC_TIMEOUT_MS 30000 /* script checks */
#define CONF_DEFAULT_NET_TIMEOUT_MS 10000  /* HTTP and TCP checks */
/* The shortest probe interval accepted.  Consul raises intervals below 1s
 * to 1s (agent/checks/check.go MinInterval); ostiary runs its probes itself
 * and allows down to 100ms, which its own tests use.  The agent only ever
 * sees TTLs, so Consul's floor does not apply. */
#define CONF_MIN_INTERVAL_MS 100
#define CONF_DEFAULT_TTL_MS 10000 /* the process check, as on the command line */
#define CONF_DEFAULT_DEREGISTER_AFTER_MS (10 * 60 * 1000)
#define CONF_DEFAULT_KILL_TIMEOUT_MS 7000
#define CONF_DEFAULT_RETRY_MAX_MS 10000
/* Docker's default stop budget is 10s: 1s drain + 7s kill timeout + at most
 * AGENT_SHUTDOWN_TIMEOUT_MS of deregistration stays inside it. */
#define CONF_DEFAULT_DRAIN_DELAY_MS 1000
#define CONF_DEFAULT_RESTART_DELAY_MS 1000
#define CONF_DEFAULT_RESTART_MAX_DELAY_MS 30000
#define CONF_DEFAULT_VERIFY_INTERVAL_MS 30000
/* Consul KV (kvconf.c): how long the first read may take, and quiescence
 * (consul-template's wait: MIN, and 4 x MIN as its cap unless given). */
#define CONF_DEFAULT_KV_TIMEOUT_MS 60000
#define CONF_DEFAULT_KV_WAIT_MIN_MS 1000
#define CONF_KV_WAIT_MAX_FACTOR 4
#define CONF_DEFAULT_KV_FILE_MODE 0600
/* Meta key marking what this ostiary registered, to clean up after a crash. */
#define CONF_OWNER_META_KEY "ostiary-owner"
#define CONF_DEFAULT_PATH "/etc/ostiary/ostiary.conf"
/* Signal numbers a --rewrite can name: 1 to CONF_NSIG - 1. */
#define CONF_NSIG 65
/* "Not set" for settings where 0 means something (off, no spread). */
#define CONF_UNSET (-1)

enum probe_kind {
	PROBE_PROCESS = 0, /* the wrapped child's state: running / stopped / exited */
	PROBE_EXEC,
	PROBE_HTTP,
	PROBE_TCP,
};

/* A set of check kinds, as bits. */
#define CONF_KIND_BIT(kind) (1u << (kind))
#define CONF_PROBE_KINDS                                                                           \
	(CONF_KIND_BIT(PROBE_EXEC) | CONF_KIND_BIT(PROBE_HTTP) | CONF_KIND_BIT(PROBE_TCP))

/* The first step of a graceful stop, before the child is signalled. */
enum conf_drain {
	CONF_DRAIN_MAINTENANCE = 0, /* service maintenance mode on the agent */
	CONF_DRAIN_CRITICAL,        /* every check pushed critical */
	CONF_DRAIN_DEREGISTER,      /* the service leaves the agent at once */
	CONF_DRAIN_NONE,
};

/* When the child is started again after it exits on its own. */
enum conf_restart {
	CONF_RESTART_NEVER = 0,
	CONF_RESTART_ON_FAILURE, /* non-zero exit or killed by a signal */
	CONF_RESTART_ALWAYS,
};

struct conf_kv {
	char *key;
	char *value;
};

/* What ostiary does when the configuration from Consul KV changes. */
enum conf_kv_action {
	CONF_KV_RESTART = 0, /* drain, stop and start the command anew (the default) */
	CONF_KV_SIGNAL,      /* rewrite the files, then send kv_signal to the command */
	CONF_KV_NONE,        /* rewrite the files only */
};

/* --kv-file KEY=PATH[:MODE]: the raw value of key, written to path. */
struct conf_kv_file {
	char *key;
	char *path;
	unsigned mode; /* permission bits; default CONF_DEFAULT_KV_FILE_MODE */
	char *origin;
};

struct check_conf {
	char *id;    /* unique on the agent; default "service:<service id>[:<n>]" */
	char *name;  /* default "Service '<name>' check" (Consul's default) */
	char *notes; /* may be NULL */
	enum probe_kind kind;

	/* scheduling (not used by PROBE_PROCESS) */
	int64_t interval_ms; /* default CONF_DEFAULT_INTERVAL_MS, at least CONF_MIN_INTERVAL_MS */
	int64_t timeout_ms;  /* default by kind (see above); less than interval */
	int64_t initial_delay_ms; /* before the first run; default 0 */
	int64_t spread_ms; /* first run at a random point in [delay, delay+spread]; default interval */

	/* what Consul sees */
	int64_t ttl_ms;              /* 0 = derived from interval and timeout (conf_check_ttl) */
	int64_t deregister_after_ms; /* DeregisterCriticalServiceAfter; 0 = off;
	                              * CONF_UNSET until conf_finish takes the service's */
	int success_before_passing;  /* Consul's flap damping, applied locally (0 = off) */
	int failures_before_warning;
	int failures_before_critical;
	int output_max_size; /* bytes; default CONSUL_OUTPUT_MAX_SIZE; never more */

	/* exec */
	char **args;      /* NULL-terminated argv; with `shell`, args[0] is the script */
	bool shell;       /* run args[0] with /bin/sh -c (only when asked explicitly) */
	char **env;       /* NULL-terminated "NAME=value" added to a clean environment */
	bool inherit_env; /* start from ostiary's environment instead of a clean one */
	bool kv_env;      /* also the command's variables from Consul KV (before env) */
	char *cwd;
	char *user;  /* run as this user (name or uid); NULL = as ostiary */
	char *group; /* and group; default the user's primary group */

	/* http */
	char *http_url;
	char *http_method;            /* default "GET" */
	struct conf_kv *http_headers; /* sent as "key: value", in order */
	size_t nhttp_headers;
	char *http_body;
	bool tls_skip_verify; /* default false: verification on */
	char *tls_ca_file;
	char *tls_server_name;
	bool disable_redirects; /* default false: follow, as Consul does (up to 10) */

	/* tcp */
	char *tcp_addr; /* "host:port" or "[v6]:port" */

	char *origin;
};

struct conf_tagged_address {
	char *name; /* "lan", "wan", "lan_ipv4", ... */
	char *address;
	int port;
};

struct service_conf {
	char *id; /* default: name */
	char *name;
	char **tags; /* NULL-terminated */
	size_t ntags;
	char *address;
	int port; /* 0 = omitted */
	struct conf_kv *meta;
	size_t nmeta;
	struct conf_tagged_address *tagged_addresses;
	size_t ntagged_addresses;
	bool has_weights;
	int weight_passing;
	int weight_warning;
	bool enable_tag_override;
	int64_t deregister_after_ms; /* default for its checks; CONF_UNSET until conf_finish
	                              * makes it CONF_DEFAULT_DEREGISTER_AFTER_MS */
	struct check_conf *checks;   /* none configured = one PROBE_PROCESS check */
	size_t nchecks;
	char *origin;
};

struct conf {
	consul_config consul; /* agent connection: defaults, file, env, flags */
	char **command;       /* NULL-terminated argv of the child */
	int64_t kill_timeout_ms;
	int64_t retry_max_ms;
	int64_t heartbeat_ms; /* push interval for process checks; 0 = TTL/3 */
	int64_t ttl_ms;       /* TTL of process checks */
	struct service_conf *services;
	size_t nservices;
	int verbosity;
	int log_format; /* enum log_format (log.h) */
	bool subreaper;
	char *path; /* the config file read, or NULL */

	/* graceful stop */
	enum conf_drain drain;
	int64_t drain_delay_ms; /* between the drain step and the stop signal */
	int stop_signal;        /* sent to the child; 0 = the signal ostiary received */
	bool single_child;      /* signal the command alone, not its whole process group */
	int rewrite[CONF_NSIG]; /* signal N reaches the command as rewrite[N]; 0 = dropped */

	/* readiness */
	int ready_after; /* consecutive passes before a probe first reports passing (>= 1) */
	bool notify;     /* offer NOTIFY_SOCKET; checks critical until READY=1 */

	/* restarts */
	enum conf_restart restart;
	int64_t restart_delay_ms;     /* first delay, doubled for each failure in a row */
	int64_t restart_max_delay_ms; /* cap of that delay */

	/* agent faults */
	int64_t fail_closed_ms; /* stop the child after this long without the agent; 0 = never */
	int64_t verify_interval_ms; /* read back what is on the agent this often; 0 = never */
	char *owner;                /* CONF_OWNER_META_KEY value; default: the first service's ID */

	/* live configuration from Consul KV (kvconf.c) */
	char **kv_env; /* prefixes, each ending in '/'; NULL-terminated; a later one wins */
	size_t nkv_env;
	struct conf_kv_file *kv_files;
	size_t nkv_files;
	enum conf_kv_action kv_on_change;
	int kv_signal;          /* for CONF_KV_SIGNAL */
	int64_t kv_wait_min_ms; /* act once changes have settled this long ... */
	int64_t kv_wait_max_ms; /* ... but at most this long after the first; CONF_UNSET: 4 x min */
	int64_t kv_splay_ms;    /* then wait a random time up to this */
	int64_t kv_timeout_ms;  /* for the first read of everything, at start */
	bool kv_required;       /* exit 125 when the first read times out (default true) */
	/* observability (status.h, ctl.h, metrics.h) */
	char *status_socket; /* --status-socket: a path, "none", or NULL for the default */
	char *metrics_addr;  /* --metrics-addr HOST:PORT; NULL = no metrics */
};

/* Anything to read from Consul KV? */
bool conf_kv_used(const struct conf *conf);
/*
 * The KV settings as the flags and the file spell them.  Each returns 0, or
 * -1 with why filled (for the caller to name the flag or file:line).
 *   prefix    "app/web/": must end in '/' (Consul matches prefixes as plain
 *             strings: "app/web" would also read "app/web2/...")
 *   file spec "KEY=PATH[:MODE]", MODE octal (3 or 4 digits)
 *   action    "restart", "none", "signal:SIG"
 *   wait      "MIN[:MAX]" durations
 */
int conf_kv_add_prefix(struct conf *conf, const char *prefix, char *why, size_t len);
int conf_kv_add_file(struct conf *conf, const char *key, const char *path, const char *mode,
                     const char *origin, char *why, size_t len);
int conf_kv_add_file_spec(struct conf *conf, const char *spec, const char *origin, char *why,
                          size_t len);
int conf_kv_action_parse(const char *text, enum conf_kv_action *action, int *signo, char *why,
                         size_t len);
int conf_kv_wait_parse(const char *text, int64_t *min_ms, int64_t *max_ms, char *why, size_t len);
/* Drop what an earlier source said (flags replace the file's lists). */
void conf_kv_clear_prefixes(struct conf *conf);
void conf_kv_clear_files(struct conf *conf);
void conf_kv_free(struct conf *conf);

void conf_init(struct conf *conf);
/* What the command gets for signal signo (--rewrite); 0: nothing. */
int conf_rewrite(const struct conf *conf, int signo);
void conf_free(struct conf *conf);

/* Append an empty, default-initialised service / check; NULL on no memory. */
struct service_conf *conf_add_service(struct conf *conf);
struct check_conf *conf_add_check(struct service_conf *svc, enum probe_kind kind);

/*
 * Fill in what was left to defaults (IDs, names, timeouts, TTLs) and check
 * everything the agent would reject, plus ostiary's own rules.  Errors name
 * the origin ("file:line") and the setting.
 */
int conf_finish(struct conf *conf, consul_error *err);

/* A probe's interval and timeout, the kind's default where unset. */
int64_t conf_check_interval(const struct check_conf *check);
int64_t conf_check_timeout(const struct check_conf *check);
/* The TTL pushed to Consul for a check: its own, or derived so a result
 * always lands before expiry (see conf.c for the rule). */
int64_t conf_check_ttl(const struct conf *conf, const struct check_conf *check);
/* How often the engine pushes a check's status when nothing changes. */
int64_t conf_check_heartbeat(const struct conf *conf, const struct check_conf *check);

/* NULL-terminated string vectors, as the model keeps tags, argv and env. */
void conf_strv_free(char **v);
/* A vector holding copies of n strings; NULL on no memory. */
char **conf_strv_dup(const char *const *items, size_t n);

/* Names as the flags and the file spell them: "maintenance", "on-failure"... */
const char *conf_drain_name(enum conf_drain drain);
int conf_drain_parse(const char *name, enum conf_drain *out);
const char *conf_restart_name(enum conf_restart restart);
int conf_restart_parse(const char *name, enum conf_restart *out);

/* The probe kind's name, for messages and config: "process", "exec", ... */
const char *conf_probe_name(enum probe_kind kind);

/*
 * Which kinds of check take a check setting, by its name in the model (the
 * configuration file's spelling: "url", "args", "interval", ...): a set of
 * CONF_KIND_BIT()s, 0 for a setting every kind takes.  Front ends keep only
 * their own spellings and ask here.
 */
unsigned conf_setting_kinds(const char *name);
bool conf_setting_takes(const char *name, enum probe_kind kind);
/* Why a check of this kind cannot have that setting ("url is for http
 * checks, and this is a tcp check"), for the front end's error. */
void conf_setting_misplaced(const char *name, enum probe_kind kind, char *buf, size_t len);
/* The first setting this check has that its kind does not take; NULL if none. */
const char *conf_check_misplaced(const struct check_conf *check);

/*
 * The agent's view of a finished service, for registration: out points
 * into svc and into the caller's arrays, which hold svc->nchecks,
 * svc->ntagged_addresses and svc->nmeta + 1 elements (NULL when 0).  Checks
 * carry the TTL of conf_check_ttl and start critical; the meta carries the
 * owner (CONF_OWNER_META_KEY) once conf_finish has set it.
 */
void conf_service_view(const struct conf *conf, const struct service_conf *svc, consul_service *out,
                       consul_check_def *checks, consul_tagged_address *tagged, consul_meta *meta);

/*
 * Loaders: append what a file says to conf (conf_file.c: ostiary's own
 * libconfig file, which also sets conf->path; conf_consul.c: a Consul JSON
 * service definition, as `consul services register` takes).  On error err
 * names the file, the line when known and the setting; conf may then hold
 * part of the file and must be discarded (conf_free), never used.
 */
int conf_file_load(struct conf *conf, const char *path, consul_error *err);
int conf_consul_load(struct conf *conf, const char *path, consul_error *err);

#endif
