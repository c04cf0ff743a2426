/*
 * conf.c - the configuration model (see conf.h): construction, names,
 * derived timings, which check kind takes which setting, and the library's
 * view of a service.  Defaults and validation are in conf_validate.c.
 *
 * "Not set" is 0 / NULL / false, except where 0 is a meaningful value:
 * service_conf.deregister_after_ms, check_conf.deregister_after_ms and
 * check_conf.spread_ms start at CONF_UNSET (-1), which conf_add_service()
 * and conf_add_check() put there, so that "0 = off" / "0 = no spread" can
 * be said explicitly.  After conf_finish() no field holds CONF_UNSET.
 */
#include "conf.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	conf->kv_wait_min_ms = CONF_DEFAULT_KV_WAIT_MIN_MS;
	conf->kv_wait_max_ms = CONF_UNSET;
	conf->kv_timeout_ms = CONF_DEFAULT_KV_TIMEOUT_MS;
	conf->kv_required = true;
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
conf_pairs_free(struct conf_kv *kv, size_t n)
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
	conf_pairs_free(check->http_headers, check->nhttp_headers);
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
	conf_pairs_free(svc->meta, svc->nmeta);
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
	conf_kv_free(conf);
	free(conf->status_socket);
	free(conf->metrics_addr);
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

	if ((unsigned)kind >= nitems(names))
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
	return (unsigned)drain < nitems(conf_drain_names) ? conf_drain_names[drain] : "?";
}

int
conf_drain_parse(const char *name, enum conf_drain *out)
{
	int i = conf_name_index(conf_drain_names, nitems(conf_drain_names), name);

	if (i < 0)
		return -1;
	*out = (enum conf_drain)i;
	return 0;
}

const char *
conf_restart_name(enum conf_restart restart)
{
	return (unsigned)restart < nitems(conf_restart_names) ? conf_restart_names[restart] : "?";
}

int
conf_restart_parse(const char *name, enum conf_restart *out)
{
	int i = conf_name_index(conf_restart_names, nitems(conf_restart_names), name);

	if (i < 0)
		return -1;
	*out = (enum conf_restart)i;
	return 0;
}

/* ---------------------------------------------------------------- timings */

int64_t
conf_check_interval(const struct check_conf *check)
{
	return check->interval_ms != 0 ? check->interval_ms : CONF_DEFAULT_INTERVAL_MS;
}

int64_t
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

/* -------------------------------------------------------- check settings */

/*
 * Which kinds of check take which setting: the one table every front end
 * reads.  Names are the model's (the configuration file spells them so);
 * a setting not listed here is taken by every kind.  Process checks follow
 * the command itself, so they take no probe settings at all.
 */
enum conf_field {
	CONF_FIELD_PTR,  /* set when not NULL */
	CONF_FIELD_BOOL, /* set when true */
	CONF_FIELD_MS,   /* int64_t, set when > 0 (CONF_UNSET is not) */
	CONF_FIELD_INT,  /* int, set when not 0 */
	CONF_FIELD_SIZE, /* size_t, set when not 0 */
};

static const struct conf_check_setting {
	const char *name;
	unsigned kinds;
	enum conf_field type;
	size_t offset;
} conf_check_settings[] = {
#define CONF_SETTING(name, kinds, type, field)                                                     \
	{                                                                                          \
		name, kinds, CONF_FIELD_##type, offsetof(struct check_conf, field)                 \
	}
	CONF_SETTING("interval", CONF_PROBE_KINDS, MS, interval_ms),
	CONF_SETTING("timeout", CONF_PROBE_KINDS, MS, timeout_ms),
	CONF_SETTING("initial_delay", CONF_PROBE_KINDS, MS, initial_delay_ms),
	CONF_SETTING("spread", CONF_PROBE_KINDS, MS, spread_ms),
	CONF_SETTING("success_before_passing", CONF_PROBE_KINDS, INT, success_before_passing),
	CONF_SETTING("failures_before_warning", CONF_PROBE_KINDS, INT, failures_before_warning),
	CONF_SETTING("failures_before_critical", CONF_PROBE_KINDS, INT, failures_before_critical),
	CONF_SETTING("args", CONF_KIND_BIT(PROBE_EXEC), PTR, args),
	CONF_SETTING("shell", CONF_KIND_BIT(PROBE_EXEC), BOOL, shell),
	CONF_SETTING("env", CONF_KIND_BIT(PROBE_EXEC), PTR, env),
	CONF_SETTING("inherit_env", CONF_KIND_BIT(PROBE_EXEC), BOOL, inherit_env),
	CONF_SETTING("kv_env", CONF_KIND_BIT(PROBE_EXEC), BOOL, kv_env),
	CONF_SETTING("cwd", CONF_KIND_BIT(PROBE_EXEC), PTR, cwd),
	CONF_SETTING("user", CONF_KIND_BIT(PROBE_EXEC), PTR, user),
	CONF_SETTING("group", CONF_KIND_BIT(PROBE_EXEC), PTR, group),
	CONF_SETTING("url", CONF_KIND_BIT(PROBE_HTTP), PTR, http_url),
	CONF_SETTING("method", CONF_KIND_BIT(PROBE_HTTP), PTR, http_method),
	CONF_SETTING("headers", CONF_KIND_BIT(PROBE_HTTP), SIZE, nhttp_headers),
	CONF_SETTING("body", CONF_KIND_BIT(PROBE_HTTP), PTR, http_body),
	CONF_SETTING("tls_skip_verify", CONF_KIND_BIT(PROBE_HTTP), BOOL, tls_skip_verify),
	CONF_SETTING("tls_ca_file", CONF_KIND_BIT(PROBE_HTTP), PTR, tls_ca_file),
	CONF_SETTING("tls_server_name", CONF_KIND_BIT(PROBE_HTTP), PTR, tls_server_name),
	CONF_SETTING("disable_redirects", CONF_KIND_BIT(PROBE_HTTP), BOOL, disable_redirects),
	CONF_SETTING("tcp", CONF_KIND_BIT(PROBE_TCP), PTR, tcp_addr),
#undef CONF_SETTING
};

unsigned
conf_setting_kinds(const char *name)
{
	for (size_t i = 0; i < nitems(conf_check_settings); i++) {
		if (strcmp(conf_check_settings[i].name, name) == 0)
			return conf_check_settings[i].kinds;
	}
	return 0;
}

bool
conf_setting_takes(const char *name, enum probe_kind kind)
{
	unsigned kinds = conf_setting_kinds(name);

	return kinds == 0 || (kinds & CONF_KIND_BIT(kind)) != 0;
}

void
conf_setting_misplaced(const char *name, enum probe_kind kind, char *buf, size_t len)
{
	unsigned kinds = conf_setting_kinds(name);

	if (kinds == CONF_PROBE_KINDS) {
		snprintf(buf, len,
		         "%s is not for process checks (they follow the command itself; use an "
		         "exec, http or tcp check to probe)",
		         name);
		return;
	}
	for (int k = PROBE_EXEC; k <= PROBE_TCP; k++) {
		if (kinds == CONF_KIND_BIT(k)) {
			snprintf(buf, len, "%s is for %s checks, and this is a %s check", name,
			         conf_probe_name((enum probe_kind)k), conf_probe_name(kind));
			return;
		}
	}
	snprintf(buf, len, "%s does not belong in a %s check", name, conf_probe_name(kind));
}

static bool
conf_setting_is_set(const struct conf_check_setting *setting, const struct check_conf *c)
{
	const char *field = (const char *)c + setting->offset;

	switch (setting->type) {
	case CONF_FIELD_PTR:
		return *(void *const *)(const void *)field != NULL;
	case CONF_FIELD_BOOL:
		return *(const bool *)field;
	case CONF_FIELD_MS:
		return *(const int64_t *)(const void *)field > 0;
	case CONF_FIELD_INT:
		return *(const int *)(const void *)field != 0;
	case CONF_FIELD_SIZE:
		return *(const size_t *)(const void *)field != 0;
	}
	return false;
}
const char *
conf_check_misplaced(const struct check_conf *check)
{
	for (size_t i = 0; i < nitems(conf_check_settings); i++) {
		const struct conf_check_setting *setting = &conf_check_settings[i];

		if (conf_setting_is_set(setting, check) &&
		    !conf_setting_takes(setting->name, check->kind))
			return setting->name;
	}
	return NULL;
}

/* ------------------------------------------------------------------ views */

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
