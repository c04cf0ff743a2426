/*
 * conf_consul.c - Consul's own JSON service definitions, the files
 * `consul services register FILE.json` and the agent's config directory
 * take:
 *
 *   {"service": {"name": "web", "port": 8080,
 *                "check": {"http": "http://127.0.0.1:8080/health", "interval": "10s"}}}
 *   {"services": [{...}, {...}]}
 *
 * Consul decodes these with the agent's config decoder
 * (agent/config/config.go ServiceDefinition / CheckDefinition, through
 * mapstructure): a key matches a field's snake_case name with any case
 * ("name", "Name", "NAME"), and a few fields have aliases
 * (lib/decode HookTranslateKeys): ScriptArgs for args, ServiceID for
 * service_id, DockerContainerID, TLSSkipVerify and
 * DeregisterCriticalServiceAfter.  So "Check", "HTTP", "Interval" and
 * "ScriptArgs" work, but multi-word CamelCase keys such as
 * "EnableTagOverride" or "SuccessBeforePassing" do not: Consul reports them
 * as invalid config keys, and so does ostiary (naming the spelling Consul
 * wants).  "CheckID" is accepted for a check's id, as older agents did.
 *
 * Checks run locally and reach the agent as TTL checks:
 *   http -> PROBE_HTTP, tcp -> PROBE_TCP, args/ScriptArgs -> PROBE_EXEC
 *   (never through a shell), ttl alone -> PROBE_PROCESS with that TTL.
 * gRPC, H2PING, UDP, Docker, alias and OS service checks cannot be run and
 * are errors.  Interval, timeout and the thresholds are kept as given:
 * ostiary does not raise intervals below 1s as the agent would.  "status"
 * is read but not used (ostiary registers critical until the first result)
 * and a check's service_id is ignored, as Consul ignores it in a service.
 * A service without deregister_critical_service_after gets ostiary's
 * default (10m), so a killed ostiary leaves no ghost service.
 *
 * jansson reports positions only for syntax errors; other errors name the
 * file, line 0, and the JSON path ("services[0].checks[1].http").
 */
#include "conf.h"
#include "file.h"
#include "util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define CONF_CONSUL_MAX_KEYS 48

struct conf_consul {
	struct conf *conf;
	const char *path;
	consul_error *err;
};

typedef int (*conf_consul_fn)(struct conf_consul *cc, const char *at, json_t *value, void *field);

/* One key Consul's decoder knows in an object. */
struct conf_consul_key {
	const char *name;  /* the field's snake_case name */
	const char *alias; /* a second spelling (matched the same way), or NULL */
	conf_consul_fn apply;
	size_t offset;       /* of the field apply fills, in the target */
	const char *setting; /* in a check: the model's name for it, whose kinds
	                      * of check take it (conf_setting_kinds); NULL: all */
	const char *refuse;  /* set: the key is Consul's, but ostiary cannot do it */
};

/* ----------------------------------------------------------------- errors */

static int conf_consul_error(struct conf_consul *cc, const char *at, const char *fmt, ...)
        PRINTF_LIKE(3, 4);

static int
conf_consul_error(struct conf_consul *cc, const char *at, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return consul_error_set(cc->err, cc->path, "%s%s%s", at, *at ? ": " : "", what);
}

static int
conf_consul_oom(struct conf_consul *cc, const char *at)
{
	return conf_consul_error(cc, at, "out of memory");
}

/* "services[0].checks[1]" + ".http" */
static const char *
conf_consul_at(char *buf, size_t len, const char *at, const char *key)
{
	snprintf(buf, len, "%s%s%s", at, *at ? "." : "", key);
	return buf;
}

static const char *
conf_consul_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int
conf_consul_want(struct conf_consul *cc, const char *at, const json_t *v, bool ok, const char *what)
{
	if (ok)
		return 0;
	return conf_consul_error(cc, at, "must be %s, not %s", what, conf_consul_json_type(v));
}

/* ----------------------------------------------------------------- values */

/* Consul's stringVal: "" is the same as leaving the key out. */
static int
conf_consul_string(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	char **slot = field, *copy;

	if (conf_consul_want(cc, at, value, json_is_string(value), "a string") < 0)
		return -1;
	if (*json_string_value(value) == '\0')
		return 0;
	if ((copy = strdup(json_string_value(value))) == NULL)
		return conf_consul_oom(cc, at);
	free(*slot);
	*slot = copy;
	return 0;
}

static int
conf_consul_bool(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	if (conf_consul_want(cc, at, value, json_is_boolean(value), "true or false") < 0)
		return -1;
	*(bool *)field = json_is_true(value);
	return 0;
}

static int
conf_consul_int(struct conf_consul *cc, const char *at, json_t *value, json_int_t min,
                json_int_t max, int *out)
{
	json_int_t v;

	if (conf_consul_want(cc, at, value, json_is_integer(value), "a whole number") < 0)
		return -1;
	v = json_integer_value(value);
	if (v < min || v > max)
		return conf_consul_error(cc, at,
		                         "%" JSON_INTEGER_FORMAT
		                         " is out of range (%" JSON_INTEGER_FORMAT
		                         " to %" JSON_INTEGER_FORMAT ")",
		                         v, min, max);
	*out = (int)v;
	return 0;
}

static int
conf_consul_count(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	return conf_consul_int(cc, at, value, 0, INT32_MAX, field);
}

static int
conf_consul_port(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	return conf_consul_int(cc, at, value, 0, 65535, field);
}

/* Weights are checked by the agent's rules later, with its words. */
static int
conf_consul_weight(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	return conf_consul_int(cc, at, value, INT32_MIN, INT32_MAX, field);
}

/* A Go duration string ("10s"); "" means not given. */
static int
conf_consul_duration(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	consul_error lib;

	if (conf_consul_want(cc, at, value, json_is_string(value),
	                     "a duration string such as \"10s\"") < 0)
		return -1;
	if (*json_string_value(value) == '\0')
		return 0;
	if (consul_duration_parse(json_string_value(value), field, &lib) < 0)
		return conf_consul_error(cc, at, "%s", lib.text);
	return 0;
}

/* An array of strings as a NULL-terminated vector; *n its length. */
static int
conf_consul_strv(struct conf_consul *cc, const char *at, json_t *value, char ***out, size_t *n)
{
	size_t len = json_array_size(value);
	char **v;

	if (conf_consul_want(cc, at, value, json_is_array(value), "an array of strings") < 0)
		return -1;
	if ((v = calloc(len + 1, sizeof(*v))) == NULL)
		return conf_consul_oom(cc, at);
	for (size_t i = 0; i < len; i++) {
		json_t *elem = json_array_get(value, i);

		if (!json_is_string(elem)) {
			conf_strv_free(v);
			return conf_consul_error(cc, at, "element %zu must be a string, not %s", i,
			                         conf_consul_json_type(elem));
		}
		if ((v[i] = strdup(json_string_value(elem))) == NULL) {
			conf_strv_free(v);
			return conf_consul_oom(cc, at);
		}
	}
	conf_strv_free(*out);
	*out = v;
	if (n != NULL)
		*n = len;
	return 0;
}

/* --------------------------------------------------------------- matching */

/* Equal ignoring case and underscores: "EnableTagOverride" is
 * "enable_tag_override" as a human means it, though not as Consul reads it. */
static bool
conf_consul_loosely_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_')
			a++;
		while (*b == '_')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if ((*a | 0x20) != (*b | 0x20))
			return false;
		a++, b++;
	}
}

static int
conf_consul_unknown(struct conf_consul *cc, const char *at, const char *key,
                    const struct conf_consul_key *keys, size_t nkeys)
{
	char allowed[160] = "";
	size_t used = 0;

	for (size_t i = 0; i < nkeys; i++) {
		if (conf_consul_loosely_equal(key, keys[i].name) ||
		    (keys[i].alias != NULL && conf_consul_loosely_equal(key, keys[i].alias)))
			return conf_consul_error(cc, at,
			                         "unknown key \"%s\": Consul's service definitions "
			                         "spell it \"%s\"",
			                         key, keys[i].name);
	}
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].refuse != NULL)
			continue;
		if (used + strlen(keys[i].name) + 6 >= sizeof(allowed)) {
			snprintf(allowed + used, sizeof(allowed) - used, ", ...");
			break;
		}
		used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
		                         used ? ", " : "", keys[i].name);
	}
	return conf_consul_error(cc, at, "unknown key \"%s\" (allowed here: %s)", key, allowed);
}

/*
 * Match every key of obj against the table, as mapstructure does (any
 * case, or the alias); found[i] gets the value of keys[i].  Two spellings
 * of one key are refused: which one Consul keeps depends on map order.
 */
static int
conf_consul_match(struct conf_consul *cc, const char *at, json_t *obj,
                  const struct conf_consul_key *keys, size_t nkeys, json_t **found)
{
	const char *spelled[CONF_CONSUL_MAX_KEYS] = { 0 };
	const char *key;
	json_t *value;

	memset(found, 0, nkeys * sizeof(*found));
	json_object_foreach(obj, key, value)
	{
		size_t i;

		for (i = 0; i < nkeys; i++) {
			if (strcasecmp(key, keys[i].name) == 0 ||
			    (keys[i].alias != NULL && strcasecmp(key, keys[i].alias) == 0))
				break;
		}
		if (i == nkeys)
			return conf_consul_unknown(cc, at, key, keys, nkeys);
		if (found[i] != NULL)
			return conf_consul_error(cc, at,
			                         "\"%s\" is given twice (as \"%s\" and \"%s\")",
			                         keys[i].name, spelled[i], key);
		found[i] = value;
		spelled[i] = key;
	}
	return 0;
}

/* Apply what was found; kind >= 0 in a check (the keys' kinds apply). */
static int
conf_consul_apply(struct conf_consul *cc, const char *at, const struct conf_consul_key *keys,
                  size_t nkeys, json_t **found, void *target, int kind)
{
	char where[192];

	for (size_t i = 0; i < nkeys; i++) {
		const struct conf_consul_key *key = &keys[i];

		if (found[i] == NULL)
			continue;
		conf_consul_at(where, sizeof(where), at, key->name);
		if (key->refuse != NULL)
			return conf_consul_error(cc, where, "%s", key->refuse);
		if (kind >= 0 && key->setting != NULL &&
		    !conf_setting_takes(key->setting, (enum probe_kind)kind))
			return conf_consul_error(
			        cc, where, "%s does not apply to %s checks", key->name,
			        kind == PROBE_PROCESS ? "TTL"
			                              : conf_probe_name((enum probe_kind)kind));
		if (key->apply != NULL &&
		    key->apply(cc, where, found[i], (char *)target + key->offset) < 0)
			return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- checks */

/* "Header": {"Name": ["v1", "v2"]}: Consul's map[string][]string. */
static int
conf_consul_header(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	struct check_conf *check = field;
	const char *name;
	json_t *values;

	if (conf_consul_want(cc, at, value, json_is_object(value),
	                     "an object {\"Name\": [\"value\"]}") < 0)
		return -1;
	json_object_foreach(value, name, values)
	{
		size_t n = json_array_size(values);
		struct conf_kv *grown;

		if (!json_is_array(values))
			return conf_consul_error(cc, at,
			                         "header \"%s\" must be an array of strings, e.g. "
			                         "[\"value\"]; not %s",
			                         name, conf_consul_json_type(values));
		grown = realloc(check->http_headers,
		                (check->nhttp_headers + n + 1) * sizeof(*grown));
		if (grown == NULL)
			return conf_consul_oom(cc, at);
		check->http_headers = grown;
		for (size_t i = 0; i < n; i++) {
			json_t *v = json_array_get(values, i);
			struct conf_kv *kv = &grown[check->nhttp_headers];

			if (!json_is_string(v))
				return conf_consul_error(
				        cc, at, "header \"%s\": values must be strings", name);
			*kv = (struct conf_kv){ strdup(name), strdup(json_string_value(v)) };
			check->nhttp_headers++;
			if (kv->key == NULL || kv->value == NULL)
				return conf_consul_oom(cc, at);
		}
	}
	return 0;
}

static int
conf_consul_args(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	return conf_consul_strv(cc, at, value, field, NULL);
}

/* Read and checked, not used: ostiary registers critical until the first
 * result, and Consul ignores a service_id inside a service. */
static int
conf_consul_status(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	enum consul_status status;

	if (conf_consul_want(cc, at, value, json_is_string(value), "a string") < 0)
		return -1;
	if (*json_string_value(value) != '\0' &&
	    consul_status_parse(json_string_value(value), &status) < 0)
		return conf_consul_error(cc, at,
		                         "Status for checks must 'passing', 'warning', 'critical'");
	return 0;
}

static int
conf_consul_ignore(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	return 0;
}

/*
 * A check's keys.  The first four name its type; the next block are
 * Consul's checks ostiary cannot run.
 */
enum {
	CONF_CONSUL_HTTP_KEY,
	CONF_CONSUL_TCP_KEY,
	CONF_CONSUL_ARGS_KEY,
	CONF_CONSUL_TTL_KEY,
	CONF_CONSUL_INTERVAL_KEY,
};

#define CONF_CONSUL_CANNOT(what)                                                                   \
	"ostiary cannot run " what                                                                 \
	" checks; give the check as http, tcp, args or ttl (supported: "                           \
	"http, tcp, args, ttl)"

static const struct conf_consul_key conf_consul_check_keys[] = {
	[CONF_CONSUL_HTTP_KEY] = { "http", NULL, conf_consul_string,
	                           offsetof(struct check_conf, http_url), "url", NULL },
	[CONF_CONSUL_TCP_KEY] = { "tcp", NULL, conf_consul_string,
	                          offsetof(struct check_conf, tcp_addr), "tcp", NULL },
	[CONF_CONSUL_ARGS_KEY] = { "args", "scriptargs", conf_consul_args,
	                           offsetof(struct check_conf, args), "args", NULL },
	[CONF_CONSUL_TTL_KEY] = { "ttl", NULL, conf_consul_duration,
	                          offsetof(struct check_conf, ttl_ms), NULL, NULL },
	[CONF_CONSUL_INTERVAL_KEY] = { "interval", NULL, conf_consul_duration,
	                               offsetof(struct check_conf, interval_ms), "interval", NULL },
	{ "id", "checkid", conf_consul_string, offsetof(struct check_conf, id), NULL, NULL },
	{ "name", NULL, conf_consul_string, offsetof(struct check_conf, name), NULL, NULL },
	{ "notes", NULL, conf_consul_string, offsetof(struct check_conf, notes), NULL, NULL },
	{ "status", NULL, conf_consul_status, 0, NULL, NULL },
	{ "service_id", "serviceid", conf_consul_ignore, 0, NULL, NULL },
	{ "deregister_critical_service_after", "deregistercriticalserviceafter",
	  conf_consul_duration, offsetof(struct check_conf, deregister_after_ms), NULL, NULL },
	{ "output_max_size", NULL, conf_consul_count, offsetof(struct check_conf, output_max_size),
	  NULL, NULL },
	{ "timeout", NULL, conf_consul_duration, offsetof(struct check_conf, timeout_ms), "timeout",
	  NULL },
	{ "success_before_passing", NULL, conf_consul_count,
	  offsetof(struct check_conf, success_before_passing), "success_before_passing", NULL },
	{ "failures_before_warning", NULL, conf_consul_count,
	  offsetof(struct check_conf, failures_before_warning), "failures_before_warning", NULL },
	{ "failures_before_critical", NULL, conf_consul_count,
	  offsetof(struct check_conf, failures_before_critical), "failures_before_critical", NULL },
	{ "header", NULL, conf_consul_header, 0, "headers", NULL },
	{ "method", NULL, conf_consul_string, offsetof(struct check_conf, http_method), "method",
	  NULL },
	{ "body", NULL, conf_consul_string, offsetof(struct check_conf, http_body), "body", NULL },
	{ "disable_redirects", NULL, conf_consul_bool,
	  offsetof(struct check_conf, disable_redirects), "disable_redirects", NULL },
	{ "tls_server_name", NULL, conf_consul_string, offsetof(struct check_conf, tls_server_name),
	  "tls_server_name", NULL },
	{ "tls_skip_verify", "tlsskipverify", conf_consul_bool,
	  offsetof(struct check_conf, tls_skip_verify), "tls_skip_verify", NULL },
	{ "grpc", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("grpc") },
	{ "grpc_use_tls", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("grpc") },
	{ "h2ping", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("h2ping") },
	{ "h2ping_use_tls", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("h2ping") },
	{ "udp", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("udp") },
	{ "docker_container_id", "dockercontainerid", NULL, 0, NULL, CONF_CONSUL_CANNOT("docker") },
	{ "shell", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("docker") },
	{ "alias_node", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("alias") },
	{ "alias_service", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("alias") },
	{ "os_service", NULL, NULL, 0, NULL, CONF_CONSUL_CANNOT("os_service") },
	{ "token", NULL, NULL, 0, NULL,
	  "per-check ACL tokens are not supported (ostiary uses its own token: token_file or "
	  "CONSUL_HTTP_TOKEN)" },
};

/* The kind from the keys present, with Consul's own wording where it has
 * one (check_type.go Validate). */
static int
conf_consul_check_kind(struct conf_consul *cc, const char *at, json_t **found,
                       enum probe_kind *kind)
{
	static const enum probe_kind kinds[] = { PROBE_HTTP, PROBE_TCP, PROBE_EXEC, PROBE_PROCESS };
	const char *first = NULL;

	for (size_t i = 0; i < nitems(conf_consul_check_keys); i++) {
		if (found[i] != NULL && conf_consul_check_keys[i].refuse != NULL)
			return conf_consul_error(cc, at, "%s: %s", conf_consul_check_keys[i].name,
			                         conf_consul_check_keys[i].refuse);
	}
	if (found[CONF_CONSUL_TTL_KEY] != NULL && found[CONF_CONSUL_INTERVAL_KEY] != NULL)
		return conf_consul_error(cc, at, "Interval and TTL cannot both be specified");
	for (size_t i = 0; i < 4; i++) {
		if (found[i] == NULL)
			continue;
		if (first != NULL)
			return conf_consul_error(cc, at,
			                         "a check runs one thing: %s or %s, not both (give "
			                         "each its own check)",
			                         first, conf_consul_check_keys[i].name);
		first = conf_consul_check_keys[i].name;
		*kind = kinds[i];
	}
	if (first == NULL)
		return conf_consul_error(
		        cc, at,
		        "the check has nothing to run: give http, tcp, args or ttl "
		        "(supported: http, tcp, args, ttl)");
	if (*kind != PROBE_PROCESS && found[CONF_CONSUL_INTERVAL_KEY] == NULL)
		return conf_consul_error(
		        cc, at,
		        "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or "
		        "GRPC checks (e.g. \"interval\": \"10s\")");
	return 0;
}

static int
conf_consul_check(struct conf_consul *cc, const char *at, json_t *obj, struct service_conf *svc)
{
	json_t *found[nitems(conf_consul_check_keys)];
	struct check_conf *check;
	enum probe_kind kind = PROBE_PROCESS;

	if (conf_consul_want(cc, at, obj, json_is_object(obj), "an object") < 0 ||
	    conf_consul_match(cc, at, obj, conf_consul_check_keys, nitems(conf_consul_check_keys),
	                      found) < 0 ||
	    conf_consul_check_kind(cc, at, found, &kind) < 0)
		return -1;
	if ((check = conf_add_check(svc, kind)) == NULL ||
	    (check->origin = strdup(cc->path)) == NULL)
		return conf_consul_oom(cc, at);
	if (conf_consul_apply(cc, at, conf_consul_check_keys, nitems(conf_consul_check_keys), found,
	                      check, (int)kind) < 0)
		return -1;
	if (kind != PROBE_PROCESS && check->interval_ms <= 0)
		return conf_consul_error(
		        cc, at,
		        "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or "
		        "GRPC checks");
	if (kind == PROBE_PROCESS && check->ttl_ms <= 0)
		return conf_consul_error(cc, at, "TTL must be > 0 for TTL checks");
	if (kind == PROBE_EXEC && (check->args[0] == NULL || *check->args[0] == '\0'))
		return conf_consul_error(cc, at, "args must name a program first");
	return 0;
}

/* "checks" first, then "check": agent/config/builder.go serviceVal. */
static int
conf_consul_checks(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	char where[192];

	if (conf_consul_want(cc, at, value, json_is_array(value), "an array of checks") < 0)
		return -1;
	for (size_t i = 0; i < json_array_size(value); i++) {
		snprintf(where, sizeof(where), "%s[%zu]", at, i);
		if (conf_consul_check(cc, where, json_array_get(value, i), field) < 0)
			return -1;
	}
	return 0;
}

static int
conf_consul_one_check(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	return conf_consul_check(cc, at, value, field);
}

/* --------------------------------------------------------------- services */

/* The agent's rules on one part of a service (consul_service_validate). */
static int
conf_consul_agent_rules(struct conf_consul *cc, const char *at, const consul_service *part)
{
	consul_error lib;

	if (consul_service_validate(part, &lib) < 0)
		return conf_consul_error(cc, at, "%s", lib.text);
	return 0;
}

static int
conf_consul_tags(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	struct service_conf *svc = field;

	return conf_consul_strv(cc, at, value, &svc->tags, &svc->ntags);
}

static int
conf_consul_meta(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	struct service_conf *svc = field;
	const char *key;
	json_t *v;

	if (conf_consul_want(cc, at, value, json_is_object(value), "an object of strings") < 0)
		return -1;
	json_object_foreach(value, key, v)
	{
		consul_meta pair = { key, json_string_value(v) };
		consul_service part = { .name = "-", .meta = &pair, .nmeta = 1 };
		struct conf_kv *grown;

		if (!json_is_string(v))
			return conf_consul_error(cc, at, "\"%s\" must be a string, not %s", key,
			                         conf_consul_json_type(v));
		if (conf_consul_agent_rules(cc, at, &part) < 0)
			return -1;
		if ((grown = realloc(svc->meta, (svc->nmeta + 1) * sizeof(*grown))) == NULL)
			return conf_consul_oom(cc, at);
		svc->meta = grown;
		grown[svc->nmeta++] = (struct conf_kv){ strdup(key), strdup(pair.value) };
		if (grown[svc->nmeta - 1].key == NULL || grown[svc->nmeta - 1].value == NULL)
			return conf_consul_oom(cc, at);
	}
	return 0;
}

static const struct conf_consul_key conf_consul_address_keys[] = {
	{ "address", NULL, conf_consul_string, offsetof(struct conf_tagged_address, address), NULL,
	  NULL },
	{ "port", NULL, conf_consul_port, offsetof(struct conf_tagged_address, port), NULL, NULL },
};

static int
conf_consul_tagged(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	struct service_conf *svc = field;
	json_t *found[nitems(conf_consul_address_keys)];
	const char *name;
	json_t *addr;
	char where[192];

	if (conf_consul_want(cc, at, value, json_is_object(value), "an object") < 0)
		return -1;
	json_object_foreach(value, name, addr)
	{
		struct conf_tagged_address *grown, *ta;
		consul_tagged_address view;
		consul_service part = { .name = "-",
			                .tagged_addresses = &view,
			                .ntagged_addresses = 1 };

		conf_consul_at(where, sizeof(where), at, name);
		if (conf_consul_want(cc, where, addr, json_is_object(addr),
		                     "an object {\"address\": ..., \"port\": ...}") < 0 ||
		    conf_consul_match(cc, where, addr, conf_consul_address_keys,
		                      nitems(conf_consul_address_keys), found) < 0)
			return -1;
		grown = realloc(svc->tagged_addresses,
		                (svc->ntagged_addresses + 1) * sizeof(*grown));
		if (grown == NULL)
			return conf_consul_oom(cc, where);
		svc->tagged_addresses = grown;
		ta = &grown[svc->ntagged_addresses++];
		*ta = (struct conf_tagged_address){ strdup(name), NULL, 0 };
		if (ta->name == NULL)
			return conf_consul_oom(cc, where);
		if (conf_consul_apply(cc, where, conf_consul_address_keys,
		                      nitems(conf_consul_address_keys), found, ta, -1) < 0)
			return -1;
		view = (consul_tagged_address){ ta->name, ta->address, ta->port };
		if (conf_consul_agent_rules(cc, where, &part) < 0)
			return -1;
	}
	return 0;
}

static const struct conf_consul_key conf_consul_weight_keys[] = {
	{ "passing", NULL, conf_consul_weight, offsetof(struct service_conf, weight_passing), NULL,
	  NULL },
	{ "warning", NULL, conf_consul_weight, offsetof(struct service_conf, weight_warning), NULL,
	  NULL },
};

/* What is left out is 1 (builder.go serviceVal). */
static int
conf_consul_weights(struct conf_consul *cc, const char *at, json_t *value, void *field)
{
	struct service_conf *svc = field;
	json_t *found[nitems(conf_consul_weight_keys)];
	consul_service part = { .name = "-", .has_weights = true };

	if (conf_consul_want(cc, at, value, json_is_object(value), "an object") < 0 ||
	    conf_consul_match(cc, at, value, conf_consul_weight_keys,
	                      nitems(conf_consul_weight_keys), found) < 0)
		return -1;
	svc->has_weights = true;
	svc->weight_passing = 1;
	svc->weight_warning = 1;
	if (conf_consul_apply(cc, at, conf_consul_weight_keys, nitems(conf_consul_weight_keys),
	                      found, svc, -1) < 0)
		return -1;
	part.weight_passing = svc->weight_passing;
	part.weight_warning = svc->weight_warning;
	return conf_consul_agent_rules(cc, at, &part);
}

/* Service keys; "checks" before "check", as the agent orders them. */
static const struct conf_consul_key conf_consul_service_keys[] = {
	{ "id", NULL, conf_consul_string, offsetof(struct service_conf, id), NULL, NULL },
	{ "name", NULL, conf_consul_string, offsetof(struct service_conf, name), NULL, NULL },
	{ "tags", NULL, conf_consul_tags, 0, NULL, NULL },
	{ "address", NULL, conf_consul_string, offsetof(struct service_conf, address), NULL, NULL },
	{ "port", NULL, conf_consul_port, offsetof(struct service_conf, port), NULL, NULL },
	{ "meta", NULL, conf_consul_meta, 0, NULL, NULL },
	{ "tagged_addresses", NULL, conf_consul_tagged, 0, NULL, NULL },
	{ "weights", NULL, conf_consul_weights, 0, NULL, NULL },
	{ "enable_tag_override", NULL, conf_consul_bool,
	  offsetof(struct service_conf, enable_tag_override), NULL, NULL },
	{ "checks", NULL, conf_consul_checks, 0, NULL, NULL },
	{ "check", NULL, conf_consul_one_check, 0, NULL, NULL },
	{ "kind", NULL, NULL, 0, NULL,
	  "ostiary registers typical services only (no proxies or gateways)" },
	{ "proxy", NULL, NULL, 0, NULL, "Connect proxies are not supported" },
	{ "connect", NULL, NULL, 0, NULL, "Connect (sidecar services, native) is not supported" },
	{ "socket_path", NULL, NULL, 0, NULL, "services on unix sockets are not supported" },
	{ "token", NULL, NULL, 0, NULL,
	  "per-service ACL tokens are not supported (ostiary uses its own token: token_file or "
	  "CONSUL_HTTP_TOKEN)" },
	{ "namespace", NULL, NULL, 0, NULL, "namespaces (Consul Enterprise) are not supported" },
	{ "partition", NULL, NULL, 0, NULL,
	  "admin partitions (Consul Enterprise) are not supported" },
};

_Static_assert(nitems(conf_consul_check_keys) <= CONF_CONSUL_MAX_KEYS &&
                       nitems(conf_consul_service_keys) <= CONF_CONSUL_MAX_KEYS,
               "conf_consul_match keeps spellings for CONF_CONSUL_MAX_KEYS keys");

static int
conf_consul_service(struct conf_consul *cc, const char *at, json_t *obj)
{
	json_t *found[nitems(conf_consul_service_keys)];
	struct service_conf *svc;

	if (conf_consul_want(cc, at, obj, json_is_object(obj), "an object") < 0 ||
	    conf_consul_match(cc, at, obj, conf_consul_service_keys,
	                      nitems(conf_consul_service_keys), found) < 0)
		return -1;
	if ((svc = conf_add_service(cc->conf)) == NULL || (svc->origin = strdup(cc->path)) == NULL)
		return conf_consul_oom(cc, at);
	if (conf_consul_apply(cc, at, conf_consul_service_keys, nitems(conf_consul_service_keys),
	                      found, svc, -1) < 0)
		return -1;
	if (svc->name == NULL)
		return conf_consul_error(cc, at, "a service needs a name (\"name\": \"web\")");
	return 0;
}

static int
conf_consul_services(struct conf_consul *cc, json_t *root)
{
	json_t *one = NULL, *many = NULL, *value;
	const char *key;
	char where[32];

	json_object_foreach(root, key, value)
	{
		json_t **slot = strcasecmp(key, "service") == 0    ? &one
		                : strcasecmp(key, "services") == 0 ? &many
		                                                   : NULL;

		if (slot == NULL)
			return conf_consul_error(
			        cc, "",
			        "unknown key \"%s\" (a service definition file holds "
			        "\"service\" or \"services\")",
			        key);
		if (*slot != NULL)
			return conf_consul_error(cc, "", "\"%s\" is given twice", key);
		*slot = value;
	}
	if (one == NULL && many == NULL)
		return conf_consul_error(cc, "", "no \"service\" or \"services\" in the file");
	if (one != NULL && conf_consul_service(cc, "service", one) < 0)
		return -1;
	if (many != NULL &&
	    conf_consul_want(cc, "services", many, json_is_array(many), "an array of services") < 0)
		return -1;
	for (size_t i = 0; many != NULL && i < json_array_size(many); i++) {
		snprintf(where, sizeof(where), "services[%zu]", i);
		if (conf_consul_service(cc, where, json_array_get(many, i)) < 0)
			return -1;
	}
	return 0;
}

int
conf_consul_load(struct conf *conf, const char *path, consul_error *err)
{
	struct conf_consul cc = { .conf = conf, .path = path, .err = err };
	json_error_t jerr;
	FILE *fp = file_open_regular(path, "service definition file", err);
	json_t *root;
	int rc;

	if (fp == NULL)
		return -1;
	root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
	fclose(fp);
	if (root == NULL) {
		consul_error_set(err, path, "%s", jerr.text);
		if (err != NULL) {
			err->line = jerr.line > 0 ? jerr.line : 0;
			err->column = jerr.column > 0 ? jerr.column : 0;
		}
		return -1;
	}
	if (!json_is_object(root))
		rc = conf_consul_error(&cc, "",
		                       "a service definition file is a JSON object: {\"service\": "
		                       "{...}} or {\"services\": [...]}");
	else
		rc = conf_consul_services(&cc, root);
	json_decref(root);
	return rc;
}
