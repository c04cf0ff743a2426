/*
 * conf_validate.c - the configuration model's defaults and validation.
 *
 * The front ends (conf_options.c, conf_file.c, conf_consul.c) only record what
 * they were told; conf_finish() is the single place that fills in defaults
 * and decides what is valid, so every front end gets the same rules.
 */
#include "conf.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ----------------------------------------------------------------- errors */

/* source and line from an origin "FILE:LINE" (or just a name, such as "the
 * command line"), the text printf-style. */
static int conf_error(consul_error *err, const char *origin, const char *fmt, ...)
        PRINTF_LIKE(3, 4);

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

static int
conf_check_kind_settings(const struct service_conf *svc, const struct check_conf *check,
                         consul_error *err)
{
	char label[192], why[192];
	const char *foreign;

	if ((unsigned)check->kind > PROBE_TCP)
		return conf_error(err, conf_check_origin(svc, check),
		                  "%s: unknown check type %d (use exec, http, tcp or process)",
		                  conf_check_label(svc, check, label, sizeof(label)),
		                  (int)check->kind);
	if ((foreign = conf_check_misplaced(check)) == NULL)
		return 0;
	conf_setting_misplaced(foreign, check->kind, why, sizeof(why));
	return conf_error(err, conf_check_origin(svc, check), "%s: %s",
	                  conf_check_label(svc, check, label, sizeof(label)), why);
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

	if (check->interval_ms < CONF_MIN_INTERVAL_MS)
		return conf_error(err, origin, "%s: interval must be at least %dms", label,
		                  CONF_MIN_INTERVAL_MS);
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

static char *conf_format(const char *fmt, ...) PRINTF_LIKE(1, 2);

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
	const struct service_conf *first = &conf->services[0];
	const char *field = strcmp(first->id, first->name) == 0 ? "name" : "id";

	/* A default owner too long is the first ID's fault: say so. */
	if (conf->owner == NULL && strlen(first->id) > 512)
		return consul_error_set(
		        err, first->origin,
		        "service %s \"%.40s...\" is %zu characters, more than 512: "
		        "the first service's ID is also its ostiary-owner meta value "
		        "(use a shorter %s, or set owner / --owner)",
		        field, first->id, strlen(first->id), field);
	if (conf->owner == NULL && (conf->owner = strdup(first->id)) == NULL)
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
/* The quiescence cap defaults to consul-template's: 4 x its minimum. */
static int
conf_finish_kv(struct conf *conf, consul_error *err)
{
	if (conf->kv_wait_max_ms == CONF_UNSET)
		conf->kv_wait_max_ms = conf->kv_wait_min_ms * CONF_KV_WAIT_MAX_FACTOR;
	if (conf->kv_wait_min_ms < 0 || conf->kv_wait_max_ms < conf->kv_wait_min_ms)
		return consul_error_set(err, "kv.wait", "the maximum wait is shorter than the minimum");
	if (conf->kv_splay_ms < 0 || conf->kv_timeout_ms <= 0)
		return consul_error_set(err, "kv.timeout",
		                        "kv.splay must be 0 or more and kv.timeout more than 0");
	return 0;
}

int
conf_finish(struct conf *conf, consul_error *err)
{
	if (conf_finish_globals(conf, err) < 0 || conf_finish_heartbeat(conf, err) < 0 ||
	    conf_finish_kv(conf, err) < 0)
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
