/*
 * conf.c - the configuration model (see conf.h): construction, defaults,
 * derived timings and validation.
 *
 * The front ends (options.c, conf_file.c, conf_consul.c) only record what
 * they were told; conf_finish() is the single place that fills in defaults
 * and decides what is valid, so every front end gets the same rules.
 *
 * "Not set" is 0 / NULL / false, except where 0 is a meaningful value:
 * service_conf.deregister_after_ms, check_conf.deregister_after_ms and
 * check_conf.spread_ms start at CONF_UNSET (-1), which conf_add_service()
 * and conf_add_check() put there, so that "0 = off" / "0 = no spread" can
 * be said explicitly.  After conf_finish() no field holds CONF_UNSET.
 */
#include "conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The shortest probe interval accepted.  Consul raises intervals below 1s
 * (checks.MinInterval, CONF_MIN_INTERVAL_MS) to 1s; ostiary runs its
 * probes itself and allows down to 100ms, which its tests rely on.  The
 * agent only ever sees TTLs, so Consul's floor does not apply.
 */
#define CONF_FLOOR_INTERVAL_MS 100

#define CONF_KIND_BIT(kind) (1u << (kind))
#define CONF_PROBES                                                                                \
	(CONF_KIND_BIT(PROBE_EXEC) | CONF_KIND_BIT(PROBE_HTTP) | CONF_KIND_BIT(PROBE_TCP))

#if defined(__GNUC__)
#define CONF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CONF_PRINTF(a, b)
#endif

/* ------------------------------------------------------------ life cycle */

void
conf_init(struct conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	consul_config_init(&conf->consul);
	conf->kill_timeout_ms = CONF_DEFAULT_KILL_TIMEOUT_MS;
	conf->retry_max_ms = CONF_DEFAULT_RETRY_MAX_MS;
	conf->ttl_ms = CONF_DEFAULT_TTL_MS;
	conf->heartbeat_ms = 0; /* TTL/3 */
	conf->drain = CONF_DRAIN_MAINTENANCE;
	conf->drain_delay_ms = CONF_DEFAULT_DRAIN_DELAY_MS;
	conf->ready_after = 1;
	conf->restart = CONF_RESTART_NEVER;
	conf->restart_delay_ms = CONF_DEFAULT_RESTART_DELAY_MS;
	conf->restart_max_delay_ms = CONF_DEFAULT_RESTART_MAX_DELAY_MS;
	conf->verify_interval_ms = CONF_DEFAULT_VERIFY_INTERVAL_MS;
	for (int i = 0; i < CONF_NSIG; i++)
		conf->rewrite[i] = i;
}

int
conf_rewrite(const struct conf *conf, int signo)
{
	return signo > 0 && signo < CONF_NSIG ? conf->rewrite[signo] : signo;
}

void
conf_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

char **
conf_strv_dup(const char *const *items, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; v != NULL && i < n; i++) {
		if ((v[i] = strdup(items[i])) == NULL) {
			conf_strv_free(v);
			return NULL;
		}
	}
	return v;
}

static void
conf_kv_free(struct conf_kv *kv, size_t n)
{
	for (size_t i = 0; kv != NULL && i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void
conf_check_free(struct check_conf *check)
{
	free(check->id);
	free(check->name);
	free(check->notes);
	conf_strv_free(check->args);
	conf_strv_free(check->env);
	free(check->cwd);
	free(check->user);
	free(check->group);
	free(check->http_url);
	free(check->http_method);
	conf_kv_free(check->http_headers, check->nhttp_headers);
	free(check->http_body);
	free(check->tls_ca_file);
	free(check->tls_server_name);
	free(check->tcp_addr);
	free(check->origin);
}

static void
conf_service_free(struct service_conf *svc)
{
	free(svc->id);
	free(svc->name);
	conf_strv_free(svc->tags);
	free(svc->address);
	conf_kv_free(svc->meta, svc->nmeta);
	for (size_t i = 0; svc->tagged_addresses != NULL && i < svc->ntagged_addresses; i++) {
		free(svc->tagged_addresses[i].name);
		free(svc->tagged_addresses[i].address);
	}
	free(svc->tagged_addresses);
	for (size_t i = 0; svc->checks != NULL && i < svc->nchecks; i++)
		conf_check_free(&svc->checks[i]);
	free(svc->checks);
	free(svc->origin);
}

void
conf_free(struct conf *conf)
{
	consul_config_free(&conf->consul);
	conf_strv_free(conf->command);
	for (size_t i = 0; conf->services != NULL && i < conf->nservices; i++)
		conf_service_free(&conf->services[i]);
	free(conf->services);
	free(conf->path);
	free(conf->owner);
	memset(conf, 0, sizeof(*conf));
}

/* The arrays grow one element at a time: configurations are small, and an
 * element's address stays valid until the next append to the same array. */
struct service_conf *
conf_add_service(struct conf *conf)
{
	struct service_conf *grown, *svc;

	grown = realloc(conf->services, (conf->nservices + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	conf->services = grown;
	svc = &grown[conf->nservices++];
	memset(svc, 0, sizeof(*svc));
	svc->deregister_after_ms = CONF_UNSET;
	return svc;
}

struct check_conf *
conf_add_check(struct service_conf *svc, enum probe_kind kind)
{
	struct check_conf *grown, *check;

	grown = realloc(svc->checks, (svc->nchecks + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	svc->checks = grown;
	check = &grown[svc->nchecks++];
	memset(check, 0, sizeof(*check));
	check->kind = kind;
	check->spread_ms = CONF_UNSET;
	check->deregister_after_ms = CONF_UNSET;
	return check;
}

const char *
conf_probe_name(enum probe_kind kind)
{
	static const char *const names[] = {
		[PROBE_PROCESS] = "process",
		[PROBE_EXEC] = "exec",
		[PROBE_HTTP] = "http",
		[PROBE_TCP] = "tcp",
	};

	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
}

static const char *const conf_drain_names[] = {
	[CONF_DRAIN_MAINTENANCE] = "maintenance",
	[CONF_DRAIN_CRITICAL] = "critical",
	[CONF_DRAIN_DEREGISTER] = "deregister",
	[CONF_DRAIN_NONE] = "none",
};

static const char *const conf_restart_names[] = {
	[CONF_RESTART_NEVER] = "never",
	[CONF_RESTART_ON_FAILURE] = "on-failure",
	[CONF_RESTART_ALWAYS] = "always",
};

#define CONF_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int
conf_name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *
conf_drain_name(enum conf_drain drain)
{
	return (unsigned)drain < CONF_NELEMS(conf_drain_names) ? conf_drain_names[drain] : "?";
}

int
conf_drain_parse(const char *name, enum conf_drain *out)
{
	int i = conf_name_index(conf_drain_names, CONF_NELEMS(conf_drain_names), name);

	if (i < 0)
		return -1;
	*out = (enum conf_drain)i;
	return 0;
}

const char *
conf_restart_name(enum conf_restart restart)
{
	return (unsigned)restart < CONF_NELEMS(conf_restart_names) ? conf_restart_names[restart]
	                                                           : "?";
}

int
conf_restart_parse(const char *name, enum conf_restart *out)
{
	int i = conf_name_index(conf_restart_names, CONF_NELEMS(conf_restart_names), name);

	if (i < 0)
		return -1;
	*out = (enum conf_restart)i;
	return 0;
}

/* ---------------------------------------------------------------- timings */

static int64_t
conf_check_interval(const struct check_conf *check)
{
	return check->interval_ms != 0 ? check->interval_ms : CONF_DEFAULT_INTERVAL_MS;
}

static int64_t
conf_check_timeout(const struct check_conf *check)
{
	if (check->timeout_ms != 0)
		return check->timeout_ms;
	return check->kind == PROBE_EXEC ? CONF_DEFAULT_EXEC_TIMEOUT_MS
	                                 : CONF_DEFAULT_NET_TIMEOUT_MS;
}

/*
 * A probe's result reaches the agent at most interval + timeout after the
 * previous one (the next run starts an interval after the last ended, and
 * may take the whole timeout).  Three intervals plus the timeout leaves room
 * for one lost push or a slow agent before the check expires to critical
 * on the agent's side.  A process check uses the TTL of the command line
 * (conf->ttl_ms) unless it has its own.
 */
int64_t
conf_check_ttl(const struct conf *conf, const struct check_conf *check)
{
	if (check->ttl_ms > 0)
		return check->ttl_ms;
	if (check->kind == PROBE_PROCESS)
		return conf->ttl_ms;
	return 3 * conf_check_interval(check) + conf_check_timeout(check);
}

/*
 * Process checks push every heartbeat (--heartbeat, else a third of the
 * TTL, as ianitor did); probes re-push their last result every half TTL,
 * which matters only when runs stall (results normally come every
 * interval).  Never 0: a zero timer would spin.
 */
int64_t
conf_check_heartbeat(const struct conf *conf, const struct check_conf *check)
{
	int64_t ttl = conf_check_ttl(conf, check), beat;

	if (check->kind == PROBE_PROCESS)
		beat = conf->heartbeat_ms > 0 ? conf->heartbeat_ms : ttl / 3;
	else
		beat = ttl / 2;
	return beat > 0 ? beat : 1;
}

/* ----------------------------------------------------------------- errors */

/* source and line from an origin "FILE:LINE" (or just a name, such as "the
 * command line"), the text printf-style. */
static int conf_error(consul_error *err, const char *origin, const char *fmt, ...)
        CONF_PRINTF(3, 4);

static int
conf_error(consul_error *err, const char *origin, const char *fmt, ...)
{
	const char *colon = origin ? strrchr(origin, ':') : NULL;
	size_t len = origin ? strlen(origin) : 0;
	va_list ap;

	if (err == NULL)
		return -1;
	memset(err, 0, sizeof(*err));
	if (colon != NULL && colon[1] != '\0' &&
	    strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		err->line = atoi(colon + 1);
		len = (size_t)(colon - origin);
	}
	snprintf(err->source, sizeof(err->source), "%.*s", (int)len, origin ? origin : "");
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return -1;
}

/* 'service "web"' or 'service #2' when it has no name yet. */
static const char *
conf_service_label(const struct conf *conf, const struct service_conf *svc, char *buf, size_t len)
{
	if (svc->name != NULL && *svc->name != '\0')
		snprintf(buf, len, "service \"%s\"", svc->name);
	else
		snprintf(buf, len, "service #%zu", (size_t)(svc - conf->services) + 1);
	return buf;
}

/* 'check "service:web"' or 'check #2' when it has no ID yet. */
static const char *
conf_check_label(const struct service_conf *svc, const struct check_conf *check, char *buf,
                 size_t len)
{
	if (check->id != NULL && *check->id != '\0')
		snprintf(buf, len, "check \"%s\"", check->id);
	else
		snprintf(buf, len, "check #%zu of service \"%s\"",
		         (size_t)(check - svc->checks) + 1, svc->name ? svc->name : "");
	return buf;
}

static const char *
conf_check_origin(const struct service_conf *svc, const struct check_conf *check)
{
	return check->origin != NULL ? check->origin : svc->origin;
}

/* ------------------------------------------------------------ validation */

/*
 * The first setting a check has that its kind does not use, by the name it
 * has in the configuration file; NULL when there is none.  Process checks
 * follow the command itself, so they take no probe settings at all.
 */
static const char *
conf_check_foreign(const struct check_conf *c, unsigned *owners)
{
	const struct {
		const char *name;
		unsigned kinds;
		bool set;
	} fields[] = {
		{ "interval", CONF_PROBES, c->interval_ms != 0 },
		{ "timeout", CONF_PROBES, c->timeout_ms != 0 },
		{ "initial_delay", CONF_PROBES, c->initial_delay_ms != 0 },
		{ "spread", CONF_PROBES, c->spread_ms > 0 },
		{ "success_before_passing", CONF_PROBES, c->success_before_passing != 0 },
		{ "failures_before_warning", CONF_PROBES, c->failures_before_warning != 0 },
		{ "failures_before_critical", CONF_PROBES, c->failures_before_critical != 0 },
		{ "args", CONF_KIND_BIT(PROBE_EXEC), c->args != NULL },
		{ "shell", CONF_KIND_BIT(PROBE_EXEC), c->shell },
		{ "env", CONF_KIND_BIT(PROBE_EXEC), c->env != NULL },
		{ "inherit_env", CONF_KIND_BIT(PROBE_EXEC), c->inherit_env },
		{ "cwd", CONF_KIND_BIT(PROBE_EXEC), c->cwd != NULL },
		{ "user", CONF_KIND_BIT(PROBE_EXEC), c->user != NULL },
		{ "group", CONF_KIND_BIT(PROBE_EXEC), c->group != NULL },
		{ "url", CONF_KIND_BIT(PROBE_HTTP), c->http_url != NULL },
		{ "method", CONF_KIND_BIT(PROBE_HTTP), c->http_method != NULL },
		{ "headers", CONF_KIND_BIT(PROBE_HTTP), c->nhttp_headers > 0 },
		{ "body", CONF_KIND_BIT(PROBE_HTTP), c->http_body != NULL },
		{ "tls_skip_verify", CONF_KIND_BIT(PROBE_HTTP), c->tls_skip_verify },
		{ "tls_ca_file", CONF_KIND_BIT(PROBE_HTTP), c->tls_ca_file != NULL },
		{ "tls_server_name", CONF_KIND_BIT(PROBE_HTTP), c->tls_server_name != NULL },
		{ "disable_redirects", CONF_KIND_BIT(PROBE_HTTP), c->disable_redirects },
		{ "tcp", CONF_KIND_BIT(PROBE_TCP), c->tcp_addr != NULL },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].set && !(fields[i].kinds & CONF_KIND_BIT(c->kind))) {
			*owners = fields[i].kinds;
			return fields[i].name;
		}
	}
	return NULL;
}

static int
conf_check_kind_settings(const struct service_conf *svc, const struct check_conf *check,
                         consul_error *err)
{
	unsigned owners = 0;
	const char *foreign = conf_check_foreign(check, &owners);
	char label[192];

	if ((unsigned)check->kind > PROBE_TCP)
		return conf_error(err, conf_check_origin(svc, check),
		                  "%s: unknown check type %d (use exec, http, tcp or process)",
		                  conf_check_label(svc, check, label, sizeof(label)),
		                  (int)check->kind);
	if (foreign == NULL)
		return 0;
	conf_check_label(svc, check, label, sizeof(label));
	if (owners == CONF_PROBES)
		return conf_error(err, conf_check_origin(svc, check),
		                  "%s: %s is not for process checks (they follow the command "
		                  "itself; use an exec, http or tcp check to probe)",
		                  label, foreign);
	for (int kind = PROBE_EXEC; kind <= PROBE_TCP; kind++) {
		if (owners == CONF_KIND_BIT(kind))
			return conf_error(err, conf_check_origin(svc, check),
			                  "%s: %s is for %s checks, and this is a %s check", label,
			                  foreign, conf_probe_name((enum probe_kind)kind),
			                  conf_probe_name(check->kind));
	}
	return conf_error(err, conf_check_origin(svc, check), "%s: %s does not belong here", label,
	                  foreign);
}

static bool
conf_has_ctl(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* RFC 9110 token: what a method or a header name may be made of. */
static bool
conf_is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (strchr("!#$%&'*+-.^_`|~", *s) == NULL &&
		    !((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')))
			return false;
	}
	return true;
}

static bool
conf_is_env_name(const char *s, size_t len)
{
	if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_'))
			return false;
	}
	return true;
}

static int
conf_validate_exec(const struct service_conf *svc, const struct check_conf *check,
                   const char *label, consul_error *err)
{
	const char *origin = conf_check_origin(svc, check);

	if (check->args == NULL || check->args[0] == NULL || *check->args[0] == '\0')
		return conf_error(err, origin,
		                  "%s: an exec check needs args, the program and its arguments "
		                  "(e.g. args = [\"/usr/lib/web/health\", \"--quick\"])",
		                  label);
	for (size_t i = 0; check->env != NULL && check->env[i] != NULL; i++) {
		const char *eq = strchr(check->env[i], '=');

		if (eq == NULL || !conf_is_env_name(check->env[i], (size_t)(eq - check->env[i])))
			return conf_error(err, origin,
			                  "%s: invalid environment entry \"%s\" (use NAME=value; "
			                  "names use A-Z, a-z, 0-9 and _)",
			                  label, check->env[i]);
	}
	return 0;
}

static int
conf_validate_http(const struct service_conf *svc, const struct check_conf *check,
                   const char *label, consul_error *err)
{
	const char *origin = conf_check_origin(svc, check);
	const char *url = check->http_url;
	size_t scheme = 0;

	if (url != NULL && strncasecmp(url, "http://", 7) == 0)
		scheme = 7;
	else if (url != NULL && strncasecmp(url, "https://", 8) == 0)
		scheme = 8;
	if (url == NULL || scheme == 0 || url[scheme] == '\0' || url[scheme] == '/' ||
	    strpbrk(url, " ") != NULL || conf_has_ctl(url))
		return conf_error(err, origin,
		                  "%s: an http check needs url, an http:// or https:// URL "
		                  "(e.g. url = \"http://127.0.0.1:8080/health\")%s%s%s",
		                  label, url ? "; not \"" : "", url ? url : "", url ? "\"" : "");
	if (check->http_method != NULL && !conf_is_token(check->http_method))
		return conf_error(err, origin,
		                  "%s: invalid HTTP method \"%s\" (e.g. GET, HEAD, POST)", label,
		                  check->http_method);
	for (size_t i = 0; i < check->nhttp_headers; i++) {
		const struct conf_kv *h = &check->http_headers[i];

		if (h->key == NULL || !conf_is_token(h->key))
			return conf_error(err, origin, "%s: invalid HTTP header name \"%s\"", label,
			                  h->key ? h->key : "");
		if (h->value == NULL || conf_has_ctl(h->value))
			return conf_error(err, origin,
			                  "%s: HTTP header %s: the value must be one line of "
			                  "printable text",
			                  label, h->key);
	}
	return 0;
}

/* "host:port" or "[v6]:port", port 1-65535, as Consul's TCP check dials. */
static int
conf_validate_tcp(const struct service_conf *svc, const struct check_conf *check, const char *label,
                  consul_error *err)
{
	const char *addr = check->tcp_addr ? check->tcp_addr : "";
	const char *colon = strrchr(addr, ':');
	const char *origin = conf_check_origin(svc, check);
	bool bracketed = addr[0] == '[';
	long port = 0;
	char *end = NULL;

	if (colon != NULL && colon[1] >= '0' && colon[1] <= '9')
		port = strtol(colon + 1, &end, 10);
	if (check->tcp_addr == NULL || colon == NULL || colon == addr || end == NULL ||
	    *end != '\0' || port < 1 || port > 65535 || conf_has_ctl(addr) ||
	    strchr(addr, ' ') != NULL)
		return conf_error(err, origin,
		                  "%s: a tcp check needs tcp = \"host:port\" with a port from 1 to "
		                  "65535 (e.g. \"127.0.0.1:5432\" or \"[::1]:5432\")%s%s%s",
		                  label, check->tcp_addr ? "; not \"" : "",
		                  check->tcp_addr ? check->tcp_addr : "",
		                  check->tcp_addr ? "\"" : "");
	if (bracketed ? (colon[-1] != ']' || colon - addr < 3)
	              : memchr(addr, ':', (size_t)(colon - addr)) != NULL)
		return conf_error(err, origin,
		                  "%s: tcp = \"%s\": write an IPv6 address in brackets, e.g. "
		                  "\"[::1]:5432\"",
		                  label, addr);
	return 0;
}

/* Consul's check_type.go Validate for the thresholds, in its words. */
static int
conf_validate_thresholds(const struct service_conf *svc, const struct check_conf *check,
                         const char *label, consul_error *err)
{
	const char *origin = conf_check_origin(svc, check);

	if (check->success_before_passing < 0 || check->failures_before_warning < 0 ||
	    check->failures_before_critical < 0)
		return conf_error(err, origin,
		                  "%s: success_before_passing, failures_before_warning and "
		                  "failures_before_critical must be 0 or more",
		                  label);
	if (check->failures_before_warning > check->failures_before_critical)
		return conf_error(err, origin,
		                  "%s: FailuresBeforeWarning can't be higher than "
		                  "FailuresBeforeCritical (%d > %d)",
		                  label, check->failures_before_warning,
		                  check->failures_before_critical);
	return 0;
}

/* Scheduling of probes: the interval floor, timeouts, start spread. */
static int
conf_validate_schedule(const struct service_conf *svc, const struct check_conf *check,
                       const char *label, consul_error *err)
{
	const char *origin = conf_check_origin(svc, check);

	if (check->interval_ms < CONF_FLOOR_INTERVAL_MS)
		return conf_error(err, origin, "%s: interval must be at least %dms", label,
		                  CONF_FLOOR_INTERVAL_MS);
	if (check->timeout_ms <= 0)
		return conf_error(err, origin, "%s: timeout must be more than 0", label);
	if (check->initial_delay_ms < 0 || check->spread_ms < 0)
		return conf_error(err, origin, "%s: initial_delay and spread must be 0 or more",
		                  label);
	return 0;
}

/* The TTL the agent enforces against the pushes that feed it. */
static int
conf_validate_ttl(const struct conf *conf, const struct service_conf *svc,
                  const struct check_conf *check, const char *label, consul_error *err)
{
	const char *origin = conf_check_origin(svc, check);
	int64_t ttl = conf_check_ttl(conf, check);
	char a[32], b[32], c[32];

	if (check->ttl_ms < 0 || ttl <= 0)
		return conf_error(err, origin, "%s: ttl must be more than 0", label);
	if (check->kind == PROBE_PROCESS) {
		/* With the global ttl, conf_finish_heartbeat has said it. */
		if (check->ttl_ms > 0 && conf->heartbeat_ms > 0 && conf->heartbeat_ms >= ttl) {
			consul_duration_format(conf->heartbeat_ms, a, sizeof(a));
			consul_duration_format(ttl, b, sizeof(b));
			return conf_error(
			        err, origin,
			        "%s: heartbeat (%s) must be shorter than the ttl (%s), or "
			        "the check expires between pushes",
			        label, a, b);
		}
		return 0;
	}
	if (check->ttl_ms > 0 && check->ttl_ms <= check->interval_ms + check->timeout_ms) {
		consul_duration_format(check->ttl_ms, a, sizeof(a));
		consul_duration_format(check->interval_ms, b, sizeof(b));
		consul_duration_format(check->timeout_ms, c, sizeof(c));
		return conf_error(err, origin,
		                  "%s: ttl must be longer than interval + timeout or the check "
		                  "expires between results (ttl %s, interval %s, timeout %s)",
		                  label, a, b, c);
	}
	return 0;
}

static int
conf_validate_check(const struct conf *conf, const struct service_conf *svc,
                    const struct check_conf *check, consul_error *err)
{
	const char *origin = conf_check_origin(svc, check);
	char label[192];

	conf_check_label(svc, check, label, sizeof(label));
	if (*check->id == '\0' || *check->name == '\0')
		return conf_error(err, origin, "%s: the check's %s must not be empty", label,
		                  *check->id == '\0' ? "id" : "name");
	if (check->output_max_size < 0)
		return conf_error(err, origin, "%s: output_max_size must be positive", label);
	if (check->deregister_after_ms < 0)
		return conf_error(err, origin, "%s: deregister_after must be 0 (off) or more",
		                  label);
	if (check->kind != PROBE_PROCESS && (conf_validate_schedule(svc, check, label, err) < 0 ||
	                                     conf_validate_thresholds(svc, check, label, err) < 0))
		return -1;
	if ((check->kind == PROBE_EXEC && conf_validate_exec(svc, check, label, err) < 0) ||
	    (check->kind == PROBE_HTTP && conf_validate_http(svc, check, label, err) < 0) ||
	    (check->kind == PROBE_TCP && conf_validate_tcp(svc, check, label, err) < 0))
		return -1;
	return conf_validate_ttl(conf, svc, check, label, err);
}

/* --------------------------------------------------------------- defaults */

static char *conf_format(const char *fmt, ...) CONF_PRINTF(1, 2);

static char *
conf_format(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : out;
}

static int
conf_oom(consul_error *err, const char *origin)
{
	return conf_error(err, origin, "out of memory");
}

/* agent.go addServiceInternal: "service:<service id>", and ":<n>" (its
 * 1-based position) when the service has more than one check. */
static char *
conf_check_default_id(const struct service_conf *svc, size_t index)
{
	if (svc->nchecks == 1)
		return conf_format("service:%s", svc->id);
	return conf_format("service:%s:%zu", svc->id, index + 1);
}

/*
 * A check's defaults (agent.go addServiceInternal for the ID and name):
 * ID "service:<service id>", with ":<n>" (1-based position) when the
 * service has more than one check; name "Service '<name>' check"; probe
 * interval and timeout as Consul's own checks; a process check's notes
 * say what feeds it; first runs spread over one
 * interval; output capped at the agent's limit; DeregisterCriticalServiceAfter
 * from the service; method GET.
 */
static int
conf_check_defaults(const struct service_conf *svc, struct check_conf *check, size_t index,
                    consul_error *err)
{
	const char *origin = conf_check_origin(svc, check);

	if (check->id == NULL && (check->id = conf_check_default_id(svc, index)) == NULL)
		return conf_oom(err, origin);
	if (check->name == NULL &&
	    (check->name = conf_format("Service '%s' check", svc->name)) == NULL)
		return conf_oom(err, origin);
	if (check->kind == PROBE_PROCESS) {
		check->spread_ms = 0;
		/* Tell whoever reads the catalog what feeds this TTL check. */
		if (check->notes == NULL &&
		    (check->notes = strdup("TTL check fed by ostiary: passing while the "
		                           "process runs")) == NULL)
			return conf_oom(err, origin);
	} else {
		check->interval_ms = conf_check_interval(check);
		check->timeout_ms = conf_check_timeout(check);
		if (check->spread_ms == CONF_UNSET)
			check->spread_ms = check->interval_ms;
	}
	if (check->kind == PROBE_HTTP && check->http_method == NULL &&
	    (check->http_method = strdup("GET")) == NULL)
		return conf_oom(err, origin);
	if (check->deregister_after_ms == CONF_UNSET)
		check->deregister_after_ms = svc->deregister_after_ms;
	return 0;
}

/* The agent keeps at most CONSUL_OUTPUT_MAX_SIZE bytes whatever a check
 * asks for (agent.go addCheck: OutputMaxSize can only lower it). */
static void
conf_check_cap_output(struct check_conf *check)
{
	if (check->output_max_size == 0 || check->output_max_size > CONSUL_OUTPUT_MAX_SIZE)
		check->output_max_size = CONSUL_OUTPUT_MAX_SIZE;
}

/* A service's defaults: ID = name, DeregisterCriticalServiceAfter 10m (so a
 * SIGKILLed ostiary leaves no ghost), and one process check when none is
 * configured: the command's own state is the health signal. */
static int
conf_service_defaults(struct conf *conf, struct service_conf *svc, consul_error *err)
{
	char label[160];

	conf_service_label(conf, svc, label, sizeof(label));
	if (svc->name == NULL || *svc->name == '\0')
		return conf_error(err, svc->origin,
		                  "%s has no name (a service needs a non-empty name)", label);
	if (svc->id != NULL && *svc->id == '\0')
		return conf_error(err, svc->origin,
		                  "%s: id must not be empty (leave it out to use the name)", label);
	if (svc->id == NULL && (svc->id = strdup(svc->name)) == NULL)
		return conf_oom(err, svc->origin);
	if (svc->deregister_after_ms == CONF_UNSET)
		svc->deregister_after_ms = CONF_DEFAULT_DEREGISTER_AFTER_MS;
	if (svc->deregister_after_ms < 0)
		return conf_error(err, svc->origin, "%s: deregister_after must be 0 (off) or more",
		                  label);
	if (svc->nchecks == 0) {
		struct check_conf *check = conf_add_check(svc, PROBE_PROCESS);

		if (check == NULL ||
		    (svc->origin != NULL && (check->origin = strdup(svc->origin)) == NULL))
			return conf_oom(err, svc->origin);
	}
	return 0;
}

static int
conf_finish_service(struct conf *conf, struct service_conf *svc, consul_error *err)
{
	if (conf_service_defaults(conf, svc, err) < 0)
		return -1;
	for (size_t i = 0; i < svc->nchecks; i++) {
		struct check_conf *check = &svc->checks[i];

		if (conf_check_kind_settings(svc, check, err) < 0 ||
		    conf_check_defaults(svc, check, i, err) < 0 ||
		    conf_validate_check(conf, svc, check, err) < 0)
			return -1;
		conf_check_cap_output(check);
	}
	return 0;
}

/* --------------------------------------------------------- whole-conf rules */

/* IDs name things on one agent: services and checks alike must be unique
 * across every service ostiary registers. */
static int
conf_unique_ids(const struct conf *conf, consul_error *err)
{
	for (size_t s = 0; s < conf->nservices; s++) {
		const struct service_conf *svc = &conf->services[s];

		for (size_t t = 0; t < s; t++) {
			if (strcmp(svc->id, conf->services[t].id) == 0)
				return conf_error(
				        err, svc->origin,
				        "service \"%s\": duplicate service id \"%s\" (service "
				        "\"%s\" has it too; give each its own id)",
				        svc->name, svc->id, conf->services[t].name);
		}
		for (size_t c = 0; c < svc->nchecks; c++) {
			const struct check_conf *check = &svc->checks[c];

			for (size_t t = 0; t <= s; t++) {
				const struct service_conf *other = &conf->services[t];

				for (size_t d = 0; d < (t == s ? c : other->nchecks); d++) {
					if (strcmp(check->id, other->checks[d].id) == 0)
						return conf_error(
						        err, conf_check_origin(svc, check),
						        "service \"%s\": duplicate check id \"%s\" "
						        "(service \"%s\" has it too; check ids "
						        "must be "
						        "unique on the agent)",
						        svc->name, check->id, other->name);
				}
			}
		}
	}
	return 0;
}

void
conf_service_view(const struct conf *conf, const struct service_conf *svc, consul_service *out,
                  consul_check_def *checks, consul_tagged_address *tagged, consul_meta *meta)
{
	for (size_t i = 0; i < svc->nchecks; i++) {
		const struct check_conf *c = &svc->checks[i];

		/* Registered critical: nothing is known until the first result. */
		checks[i] = (consul_check_def){
			.id = c->id,
			.name = c->name,
			.notes = c->notes,
			.ttl_ms = conf_check_ttl(conf, c),
			.deregister_after_ms =
			        c->deregister_after_ms > 0 ? c->deregister_after_ms : 0,
			.has_status = true,
			.status = CONSUL_CRITICAL,
		};
	}
	for (size_t i = 0; i < svc->ntagged_addresses; i++)
		tagged[i] = (consul_tagged_address){ svc->tagged_addresses[i].name,
			                             svc->tagged_addresses[i].address,
			                             svc->tagged_addresses[i].port };
	size_t nmeta = 0;

	for (size_t i = 0; i < svc->nmeta; i++)
		meta[nmeta++] = (consul_meta){ svc->meta[i].key, svc->meta[i].value };
	if (conf->owner != NULL)
		meta[nmeta++] = (consul_meta){ CONF_OWNER_META_KEY, conf->owner };
	*out = (consul_service){
		.id = svc->id,
		.name = svc->name,
		.tags = (const char *const *)svc->tags,
		.ntags = svc->ntags,
		.address = svc->address,
		.port = svc->port,
		.meta = nmeta ? meta : NULL,
		.nmeta = nmeta,
		.tagged_addresses = svc->ntagged_addresses ? tagged : NULL,
		.ntagged_addresses = svc->ntagged_addresses,
		.has_weights = svc->has_weights,
		.weight_passing = svc->weight_passing,
		.weight_warning = svc->weight_warning,
		.enable_tag_override = svc->enable_tag_override,
		.checks = svc->nchecks ? checks : NULL,
		.nchecks = svc->nchecks,
	};
}

/* The agent's own rules (Meta, addresses, weights, ...) on exactly what
 * will be registered, so a mistake is reported now, not as a 400 later. */
static int
conf_agent_rules(const struct conf *conf, const struct service_conf *svc, consul_error *err)
{
	consul_check_def *checks = calloc(svc->nchecks + 1, sizeof(*checks));
	consul_tagged_address *tagged = calloc(svc->ntagged_addresses + 1, sizeof(*tagged));
	consul_meta *meta = calloc(svc->nmeta + 1, sizeof(*meta));
	consul_error agent = { 0 };
	consul_service view;
	int rc = 0;

	if (checks == NULL || tagged == NULL || meta == NULL) {
		rc = conf_oom(err, svc->origin);
	} else {
		conf_service_view(conf, svc, &view, checks, tagged, meta);
		if (consul_service_validate(&view, &agent) < 0)
			rc = conf_error(err, svc->origin, "service \"%s\": %s: %s", svc->name,
			                agent.source, agent.text);
	}
	free(checks);
	free(tagged);
	free(meta);
	return rc;
}

static int
conf_finish_globals(const struct conf *conf, consul_error *err)
{
	if (conf->nservices == 0)
		return consul_error_set(err, conf->path ? conf->path : "SERVICE",
		                        "no service to register (give SERVICE on the command line, "
		                        "or `services` in the file)");
	if (conf->command == NULL || conf->command[0] == NULL || *conf->command[0] == '\0')
		return consul_error_set(err, conf->path ? conf->path : "COMMAND",
		                        "no command to run (give COMMAND after --, or `command` in "
		                        "the file)");
	if (conf->ttl_ms <= 0 || conf->heartbeat_ms < 0)
		return consul_error_set(err, "ttl",
		                        "ttl must be more than 0 and heartbeat 0 or more");
	if (conf->kill_timeout_ms < 0 || conf->retry_max_ms <= 0)
		return consul_error_set(err, "kill_timeout",
		                        "kill_timeout must be 0 or more and retry_max more than 0");
	if (conf->ready_after < 1)
		return consul_error_set(err, "ready_after", "ready_after must be 1 or more");
	if (conf->restart_delay_ms <= 0 || conf->restart_max_delay_ms < conf->restart_delay_ms)
		return consul_error_set(
		        err, "restart_delay",
		        "restart_delay must be more than 0 and restart_max_delay at "
		        "least as long");
	if (conf->drain_delay_ms < 0 || conf->fail_closed_ms < 0 || conf->verify_interval_ms < 0)
		return consul_error_set(
		        err, "drain_delay",
		        "drain_delay, fail_closed_after and verify_interval must be 0 "
		        "or more");
	return 0;
}

/* The owner marks every registration, so a later run can tell its own
 * leftovers from other services on the agent; default: the first ID. */
static int
conf_finish_owner(struct conf *conf, consul_error *err)
{
	if (conf->owner == NULL && (conf->owner = strdup(conf->services[0].id)) == NULL)
		return consul_error_set(err, "owner", "out of memory");
	if (*conf->owner == '\0' || strlen(conf->owner) > 512)
		return consul_error_set(err, "owner",
		                        "owner must be 1 to 512 characters (a Consul meta value)");
	for (size_t i = 0; i < conf->nservices; i++)
		for (size_t k = 0; k < conf->services[i].nmeta; k++)
			if (strcmp(conf->services[i].meta[k].key, CONF_OWNER_META_KEY) == 0)
				return consul_error_set(err, conf->services[i].origin,
				                        "meta key " CONF_OWNER_META_KEY
				                        " is ostiary's own (set `owner` "
				                        "or --owner instead)");
	return 0;
}

/* Does a process check (an explicit one or the default) use conf->ttl_ms? */
static bool
conf_uses_global_ttl(const struct conf *conf)
{
	for (size_t s = 0; s < conf->nservices; s++) {
		const struct service_conf *svc = &conf->services[s];

		if (svc->nchecks == 0)
			return true;
		for (size_t c = 0; c < svc->nchecks; c++) {
			if (svc->checks[c].kind == PROBE_PROCESS && svc->checks[c].ttl_ms == 0)
				return true;
		}
	}
	return false;
}

/* --heartbeat / heartbeat against --ttl / ttl, named as the flag when no
 * file was read (the model does not record which of the two said it). */
static int
conf_finish_heartbeat(const struct conf *conf, consul_error *err)
{
	char beat[32], ttl[32];

	if (conf->heartbeat_ms <= 0 || conf->heartbeat_ms < conf->ttl_ms ||
	    !conf_uses_global_ttl(conf))
		return 0;
	consul_duration_format(conf->heartbeat_ms, beat, sizeof(beat));
	consul_duration_format(conf->ttl_ms, ttl, sizeof(ttl));
	return consul_error_set(err, conf->path ? conf->path : "--heartbeat",
	                        "heartbeat (%s) must be shorter than the ttl (%s), or the check "
	                        "expires between pushes",
	                        beat, ttl);
}

/*
 * Defaults first, then every rule, then the agent's own validation on the
 * exact registration.  Running it twice is harmless: defaults only fill
 * what is unset.  The engine relies on what it guarantees:
 *   - at least one service and a non-empty command;
 *   - every service has a name, an id (default: the name), at least one
 *     check (default: one process check) and deregister_after_ms >= 0
 *     (default CONF_DEFAULT_DEREGISTER_AFTER_MS; 0 = off);
 *   - every check has a non-empty id and name, deregister_after_ms >= 0,
 *     output_max_size in 1..CONSUL_OUTPUT_MAX_SIZE, no setting foreign to
 *     its kind; probes have interval >= 100ms, timeout > 0, spread and
 *     initial delay >= 0, thresholds >= 0 with warning <= critical, and
 *     args / an http(s) URL and method / a host:port as their kind needs;
 *   - service IDs and check IDs are unique across the conf;
 *   - conf_check_ttl() > conf_check_heartbeat() for every check, and a
 *     probe's explicit ttl exceeds interval + timeout.
 */
int
conf_finish(struct conf *conf, consul_error *err)
{
	if (conf_finish_globals(conf, err) < 0 || conf_finish_heartbeat(conf, err) < 0)
		return -1;
	for (size_t i = 0; i < conf->nservices; i++) {
		if (conf_finish_service(conf, &conf->services[i], err) < 0)
			return -1;
	}
	if (conf_unique_ids(conf, err) < 0 || conf_finish_owner(conf, err) < 0)
		return -1;
	for (size_t i = 0; i < conf->nservices; i++) {
		if (conf_agent_rules(conf, &conf->services[i], err) < 0)
			return -1;
	}
	return 0;
}
