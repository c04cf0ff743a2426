/*
 * conf_file.c - ostiary's own configuration file, in libconfig syntax
 * (https://hyperrealm.github.io/libconfig/):
 *
 *   agent    = { address = "127.0.0.1:8500"; token_file = "token"; ... };
 *   command  = [ "/usr/bin/web", "--port", "8080" ];
 *   services = ( { name = "web"; port = 8080;
 *                  checks = ( { type = "http"; url = "http://127.0.0.1:8080/"; } ); } );
 *
 * The schema is the tables below: every group lists the settings it
 * allows, so a misspelt or misplaced setting is an error naming the
 * setting, its line and what is allowed there, never silently ignored.
 * Values are typed strictly (libconfig's auto-conversion stays off).
 *
 * Durations are Go/Consul strings ("10s", "1m30s", "500ms") or a whole
 * number of seconds.  Paths of files ostiary reads (token_file, ca_file,
 * ca_path, client_cert, client_key, tls_ca_file, service_files, @include)
 * are relative to the configuration file's directory; a check's cwd is
 * used as given.  Group member names are libconfig names,
 * [A-Za-z*][-A-Za-z0-9_*]*, so meta keys, env names and header names must
 * have that form too (a meta key cannot start with a digit here).
 *
 * The ACL token itself cannot be written in the file, only token_file: a
 * configuration file is copied, shared and checked in far more often than
 * a secret should be.
 *
 * Errors carry the file, the 1-based line of the setting and its path as
 * libconfig spells it ("services.[0].checks.[1].interval").  On error the
 * conf may hold part of the file; the caller discards it.
 */
#include "conf.h"
#include "file.h"
#include "log.h"
#include "metrics.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "sig.h"
#include "util.h"

struct conf_file {
	struct conf *conf;
	const char *path; /* as given: errors name it so */
	char *dir;        /* its directory, for relative paths */
	consul_error *err;
};

/* How a setting's value is read into its field. */
enum conf_file_type {
	CONF_FILE_STRING,   /* non-empty string -> char * */
	CONF_FILE_TEXT,     /* any string, even "" -> char * */
	CONF_FILE_PATH,     /* non-empty string, relative to the file -> char * */
	CONF_FILE_ARGV,     /* list of strings, the first non-empty -> char ** */
	CONF_FILE_BOOL,     /* true / false -> bool */
	CONF_FILE_COUNT,    /* whole number >= 0 -> int */
	CONF_FILE_PORT,     /* 1-65535 -> int */
	CONF_FILE_DURATION, /* duration >= 0 -> int64_t ms */
	CONF_FILE_TIMEOUT,  /* duration > 0 -> int64_t ms */
	CONF_FILE_CUSTOM,   /* the key's own function */
};

typedef int (*conf_file_fn)(struct conf_file *cf, const config_setting_t *s, void *target);

/* One allowed setting of a group. */
struct conf_file_key {
	const char *name;
	enum conf_file_type type;
	size_t offset; /* of its field in the group's target */
	conf_file_fn custom;
};

/* ----------------------------------------------------------------- errors */

/* "services.[0].checks.[1].interval": libconfig's own path syntax. */
static void
conf_file_setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *parent = config_setting_parent(s);
	const char *name = config_setting_name(s);
	size_t used;

	buf[0] = '\0';
	if (parent == NULL)
		return;
	conf_file_setting_path(parent, buf, len);
	used = strlen(buf);
	if (name != NULL)
		snprintf(buf + used, len - used, "%s%s", used ? "." : "", name);
	else
		snprintf(buf + used, len - used, "%s[%d]", used ? "." : "",
		         config_setting_index(s));
}

/*
 * The file a setting (or a syntax error) is in.  libconfig names the main
 * file NULL, and an @include as the directive wrote it (1.5) or joined to
 * the include directory, which conf_file_parse makes absolute (1.7).
 */
static const char *
conf_file_source(struct conf_file *cf, const char *file, char *buf, size_t len)
{
	if (file == NULL)
		return cf->path;
	if (file[0] == '/')
		return file;
	snprintf(buf, len, "%s/%s", cf->dir, file);
	return buf;
}

/* Fill cf->err for setting s: its file and line, its path before the text. */
static int conf_file_error(struct conf_file *cf, const config_setting_t *s, const char *fmt, ...)
        PRINTF_LIKE(3, 4);

static int
conf_file_error(struct conf_file *cf, const config_setting_t *s, const char *fmt, ...)
{
	char where[128], what[256], file[PATH_MAX];
	va_list ap;

	if (cf->err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	conf_file_setting_path(s, where, sizeof(where));
	consul_error_set(cf->err,
	                 conf_file_source(cf, config_setting_source_file(s), file, sizeof(file)),
	                 "%s%s%s", where, *where ? ": " : "", what);
	cf->err->line = (int)config_setting_source_line(s);
	return -1;
}

/* A library error (duration, address, token file, agent rule) at s. */
static int
conf_file_relay(struct conf_file *cf, const config_setting_t *s, const consul_error *lib)
{
	return conf_file_error(cf, s, "%s", lib->text);
}

static int
conf_file_oom(struct conf_file *cf, const config_setting_t *s)
{
	return conf_file_error(cf, s, "out of memory");
}

/* "path:line" of a group, for run-time messages and conf_finish errors. */
static char *
conf_file_origin(struct conf_file *cf, const config_setting_t *s)
{
	char file[PATH_MAX], *origin = NULL;

	if (asprintf(&origin, "%s:%u",
	             conf_file_source(cf, config_setting_source_file(s), file, sizeof(file)),
	             config_setting_source_line(s)) < 0)
		return NULL;
	return origin;
}

/* -------------------------------------------------------------- scalars */

static const char *
conf_file_type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	default:
		return "a number";
	}
}

static int
conf_file_want(struct conf_file *cf, const config_setting_t *s, int type, const char *what)
{
	if (config_setting_type(s) == type)
		return 0;
	return conf_file_error(cf, s, "must be %s, not %s", what,
	                       conf_file_type_name(config_setting_type(s)));
}

static bool
conf_file_is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* A whole number in [min, max]; `what` says what is allowed. */
static int
conf_file_int(struct conf_file *cf, const config_setting_t *s, long long min, long long max,
              const char *what, int *out)
{
	long long v;

	if (!conf_file_is_int(s))
		return conf_file_error(cf, s, "must be %s, not %s", what,
		                       conf_file_type_name(config_setting_type(s)));
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return conf_file_error(cf, s, "%lld is out of range (must be %s)", v, what);
	*out = (int)v;
	return 0;
}

/* A Go duration string, or a whole number of seconds. */
static int
conf_file_duration(struct conf_file *cf, const config_setting_t *s, bool positive, int64_t *out)
{
	consul_error lib;
	int64_t ms;

	if (conf_file_is_int(s)) {
		long long secs = config_setting_get_int64(s);

		/* The string form's limit: Go keeps durations in int64 nanoseconds. */
		if (secs < 0 || secs > INT64_MAX / 1000000000)
			return conf_file_error(cf, s, "invalid duration %lld (use e.g. 10s, 1m30s)",
			                       secs);
		ms = (int64_t)secs * 1000;
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (consul_duration_parse(config_setting_get_string(s), &ms, &lib) < 0)
			return conf_file_relay(cf, s, &lib);
	} else {
		return conf_file_error(
		        cf, s,
		        "must be a duration such as \"10s\" or \"1m30s\", or a whole "
		        "number of seconds; not %s",
		        conf_file_type_name(config_setting_type(s)));
	}
	if (positive && ms <= 0)
		return conf_file_error(cf, s, "must be more than 0 (e.g. 10s)");
	*out = ms;
	return 0;
}

static int
conf_file_string(struct conf_file *cf, const config_setting_t *s, bool empty_ok, const char **out)
{
	if (conf_file_want(cf, s, CONFIG_TYPE_STRING, "a string") < 0)
		return -1;
	*out = config_setting_get_string(s);
	if (!empty_ok && **out == '\0')
		return conf_file_error(cf, s, "must not be empty (leave the setting out instead)");
	return 0;
}

/* Replace *slot with a copy of value. */
static int
conf_file_set(struct conf_file *cf, const config_setting_t *s, char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return conf_file_oom(cf, s);
	free(*slot);
	*slot = copy;
	return 0;
}

/* A file ostiary reads: relative to the configuration file's directory. */
static int
conf_file_set_path(struct conf_file *cf, const config_setting_t *s, char **slot, const char *value)
{
	char *full = NULL;

	if (value[0] == '/')
		return conf_file_set(cf, s, slot, value);
	if (asprintf(&full, "%s/%s", cf->dir, value) < 0)
		return conf_file_oom(cf, s);
	free(*slot);
	*slot = full;
	return 0;
}

/* A list or array of strings as a NULL-terminated vector; *n its length. */
static int
conf_file_strv(struct conf_file *cf, const config_setting_t *s, char ***out, size_t *n)
{
	int len = config_setting_length(s);
	char **v;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return conf_file_error(cf, s,
		                       "must be a list of strings, e.g. [\"a\", \"b\"]; not %s",
		                       conf_file_type_name(config_setting_type(s)));
	if ((v = calloc((size_t)len + 1, sizeof(*v))) == NULL)
		return conf_file_oom(cf, s);
	for (int i = 0; i < len; i++) {
		const config_setting_t *elem = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(elem) != CONFIG_TYPE_STRING) {
			conf_strv_free(v);
			return conf_file_error(cf, elem, "must be a string, not %s",
			                       conf_file_type_name(config_setting_type(elem)));
		}
		if ((v[i] = strdup(config_setting_get_string(elem))) == NULL) {
			conf_strv_free(v);
			return conf_file_oom(cf, s);
		}
	}
	conf_strv_free(*out);
	*out = v;
	if (n != NULL)
		*n = (size_t)len;
	return 0;
}

/* A command line: at least the program, which must not be "". */
static int
conf_file_argv(struct conf_file *cf, const config_setting_t *s, char ***out)
{
	if (conf_file_strv(cf, s, out, NULL) < 0)
		return -1;
	if ((*out)[0] == NULL || *(*out)[0] == '\0')
		return conf_file_error(
		        cf, s,
		        "must name a program first, e.g. [\"/usr/bin/web\", \"--port\", "
		        "\"8080\"]");
	return 0;
}

/* -------------------------------------------------------- group walking */

static const struct conf_file_key *
conf_file_find(const struct conf_file_key *keys, size_t nkeys, const char *name)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

/* May a group hold this setting?  kind >= 0: a check of that kind. */
static bool
conf_file_allows(const struct conf_file_key *key, int kind)
{
	return kind < 0 || conf_setting_takes(key->name, (enum probe_kind)kind);
}

/* A setting that only checks of this kind take (url for http, ...). */
static bool
conf_file_kind_specific(const struct conf_file_key *key, int kind)
{
	return kind >= 0 && conf_setting_kinds(key->name) == CONF_KIND_BIT(kind);
}

/* Append name to a ", "-separated list while it fits; once it does not,
 * end the list with ", ..." and answer false. */
static bool
conf_file_list_add(char *list, size_t len, size_t *used, const char *name)
{
	if (*used + strlen(name) + 6 >= len) {
		snprintf(list + *used, len - *used, ", ...");
		return false;
	}
	*used += (size_t)snprintf(list + *used, len - *used, "%s%s", *used ? ", " : "", name);
	return true;
}

/* "unknown setting "foo" (allowed here: a, b, c)", as many names as fit;
 * in a check its own kind's settings first, the likeliest to be misspelt. */
static int
conf_file_unknown(struct conf_file *cf, const config_setting_t *s, const struct conf_file_key *keys,
                  size_t nkeys, int kind)
{
	char allowed[160] = "";
	size_t used = 0;
	bool room = true;

	for (size_t i = 0; room && i < nkeys; i++) {
		if (conf_file_kind_specific(&keys[i], kind))
			room = conf_file_list_add(allowed, sizeof(allowed), &used, keys[i].name);
	}
	for (size_t i = 0; room && i < nkeys; i++) {
		if (conf_file_allows(&keys[i], kind) && !conf_file_kind_specific(&keys[i], kind))
			room = conf_file_list_add(allowed, sizeof(allowed), &used, keys[i].name);
	}
	return conf_file_error(cf, s, "unknown setting \"%s\" (allowed here: %s)",
	                       config_setting_name(s), allowed);
}

/* A check setting that another kind of check takes. */
static int
conf_file_wrong_kind(struct conf_file *cf, const config_setting_t *s,
                     const struct conf_file_key *key, int kind)
{
	char why[192];

	conf_setting_misplaced(key->name, (enum probe_kind)kind, why, sizeof(why));
	return conf_file_error(cf, s, "%s", why);
}

static int
conf_file_apply(struct conf_file *cf, const config_setting_t *s, const struct conf_file_key *key,
                void *target)
{
	void *field = (char *)target + key->offset;
	const char *text;

	switch (key->type) {
	case CONF_FILE_STRING:
	case CONF_FILE_TEXT:
		return conf_file_string(cf, s, key->type == CONF_FILE_TEXT, &text) < 0
		               ? -1
		               : conf_file_set(cf, s, field, text);
	case CONF_FILE_PATH:
		return conf_file_string(cf, s, false, &text) < 0
		               ? -1
		               : conf_file_set_path(cf, s, field, text);
	case CONF_FILE_ARGV:
		return conf_file_argv(cf, s, field);
	case CONF_FILE_BOOL:
		if (conf_file_want(cf, s, CONFIG_TYPE_BOOL, "true or false") < 0)
			return -1;
		*(bool *)field = config_setting_get_bool(s) != 0;
		return 0;
	case CONF_FILE_COUNT:
		return conf_file_int(cf, s, 0, INT_MAX, "a whole number, 0 or more", field);
	case CONF_FILE_PORT:
		return conf_file_int(cf, s, 1, 65535, "a port from 1 to 65535", field);
	case CONF_FILE_DURATION:
	case CONF_FILE_TIMEOUT:
		return conf_file_duration(cf, s, key->type == CONF_FILE_TIMEOUT, field);
	case CONF_FILE_CUSTOM:
		return key->custom(cf, s, target);
	}
	return conf_file_error(cf, s, "internal error: unknown setting type");
}

/* Apply every member of a group through its table; kind >= 0 for checks. */
static int
conf_file_group(struct conf_file *cf, const config_setting_t *group,
                const struct conf_file_key *keys, size_t nkeys, void *target, int kind)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const struct conf_file_key *key =
		        conf_file_find(keys, nkeys, config_setting_name(s));

		if (key == NULL)
			return conf_file_unknown(cf, s, keys, nkeys, kind);
		if (!conf_file_allows(key, kind))
			return conf_file_wrong_kind(cf, s, key, kind);
		if (conf_file_apply(cf, s, key, target) < 0)
			return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- checks */

/* env = { NAME = "value"; ... } -> "NAME=value" entries. */
static int
conf_file_check_env(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct check_conf *check = target;
	int n = config_setting_length(s);
	char **env;

	if (conf_file_want(cf, s, CONFIG_TYPE_GROUP, "a group { NAME = \"value\"; ... }") < 0)
		return -1;
	if ((env = calloc((size_t)n + 1, sizeof(*env))) == NULL)
		return conf_file_oom(cf, s);
	conf_strv_free(check->env);
	check->env = env;
	for (int i = 0; i < n; i++) {
		const config_setting_t *var = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(var), *value;

		if (strspn(name,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
		    strlen(name))
			return conf_file_error(
			        cf, var,
			        "invalid environment variable name (use A-Z, a-z, 0-9 "
			        "and _)");
		if (conf_file_string(cf, var, true, &value) < 0)
			return -1;
		if (asprintf(&env[i], "%s=%s", name, value) < 0) {
			env[i] = NULL;
			return conf_file_oom(cf, var);
		}
	}
	return 0;
}

static int
conf_file_add_header(struct conf_file *cf, const config_setting_t *s, struct check_conf *check,
                     const char *name, const char *value)
{
	struct conf_kv *grown =
	        realloc(check->http_headers, (check->nhttp_headers + 1) * sizeof(*grown));

	if (grown == NULL)
		return conf_file_oom(cf, s);
	check->http_headers = grown;
	grown[check->nhttp_headers] = (struct conf_kv){ strdup(name), strdup(value) };
	check->nhttp_headers++;
	if (grown[check->nhttp_headers - 1].key == NULL ||
	    grown[check->nhttp_headers - 1].value == NULL)
		return conf_file_oom(cf, s);
	return 0;
}

/* headers = { Accept = "text/plain"; X-Tag = [ "a", "b" ]; }: a list sends
 * the header once per value, as Consul's map[string][]string does. */
static int
conf_file_check_headers(struct conf_file *cf, const config_setting_t *s, void *target)
{
	if (conf_file_want(cf, s, CONFIG_TYPE_GROUP, "a group { Name = \"value\"; ... }") < 0)
		return -1;
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *h = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(h);
		int type = config_setting_type(h);

		if (type == CONFIG_TYPE_STRING) {
			if (conf_file_add_header(cf, h, target, name,
			                         config_setting_get_string(h)) < 0)
				return -1;
			continue;
		}
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			return conf_file_error(cf, h,
			                       "must be a string or a list of strings, not %s",
			                       conf_file_type_name(type));
		for (int j = 0; j < config_setting_length(h); j++) {
			const config_setting_t *v = config_setting_get_elem(h, (unsigned)j);
			const char *value;

			if (conf_file_string(cf, v, true, &value) < 0 ||
			    conf_file_add_header(cf, v, target, name, value) < 0)
				return -1;
		}
	}
	return 0;
}

/* Read before the other members: it decides which of them are allowed. */
static int
conf_file_check_type(struct conf_file *cf, const config_setting_t *s, void *target)
{
	return 0;
}

static const struct conf_file_key conf_file_check_keys[] = {
	{ "type", CONF_FILE_CUSTOM, 0, conf_file_check_type },
	{ "id", CONF_FILE_STRING, offsetof(struct check_conf, id), NULL },
	{ "name", CONF_FILE_STRING, offsetof(struct check_conf, name), NULL },
	{ "notes", CONF_FILE_TEXT, offsetof(struct check_conf, notes), NULL },
	{ "ttl", CONF_FILE_TIMEOUT, offsetof(struct check_conf, ttl_ms), NULL },
	{ "deregister_after", CONF_FILE_DURATION, offsetof(struct check_conf, deregister_after_ms),
	  NULL },
	{ "output_max_size", CONF_FILE_COUNT, offsetof(struct check_conf, output_max_size), NULL },
	{ "interval", CONF_FILE_TIMEOUT, offsetof(struct check_conf, interval_ms), NULL },
	{ "timeout", CONF_FILE_TIMEOUT, offsetof(struct check_conf, timeout_ms), NULL },
	{ "initial_delay", CONF_FILE_DURATION, offsetof(struct check_conf, initial_delay_ms),
	  NULL },
	{ "spread", CONF_FILE_DURATION, offsetof(struct check_conf, spread_ms), NULL },
	{ "success_before_passing", CONF_FILE_COUNT,
	  offsetof(struct check_conf, success_before_passing), NULL },
	{ "failures_before_warning", CONF_FILE_COUNT,
	  offsetof(struct check_conf, failures_before_warning), NULL },
	{ "failures_before_critical", CONF_FILE_COUNT,
	  offsetof(struct check_conf, failures_before_critical), NULL },
	{ "args", CONF_FILE_ARGV, offsetof(struct check_conf, args), NULL },
	{ "shell", CONF_FILE_BOOL, offsetof(struct check_conf, shell), NULL },
	{ "env", CONF_FILE_CUSTOM, 0, conf_file_check_env },
	{ "inherit_env", CONF_FILE_BOOL, offsetof(struct check_conf, inherit_env), NULL },
	{ "kv_env", CONF_FILE_BOOL, offsetof(struct check_conf, kv_env), NULL },
	{ "cwd", CONF_FILE_STRING, offsetof(struct check_conf, cwd), NULL },
	{ "user", CONF_FILE_STRING, offsetof(struct check_conf, user), NULL },
	{ "group", CONF_FILE_STRING, offsetof(struct check_conf, group), NULL },
	{ "url", CONF_FILE_STRING, offsetof(struct check_conf, http_url), NULL },
	{ "method", CONF_FILE_STRING, offsetof(struct check_conf, http_method), NULL },
	{ "headers", CONF_FILE_CUSTOM, 0, conf_file_check_headers },
	{ "body", CONF_FILE_TEXT, offsetof(struct check_conf, http_body), NULL },
	{ "tls_skip_verify", CONF_FILE_BOOL, offsetof(struct check_conf, tls_skip_verify), NULL },
	{ "tls_ca_file", CONF_FILE_PATH, offsetof(struct check_conf, tls_ca_file), NULL },
	{ "tls_server_name", CONF_FILE_STRING, offsetof(struct check_conf, tls_server_name), NULL },
	{ "disable_redirects", CONF_FILE_BOOL, offsetof(struct check_conf, disable_redirects),
	  NULL },
	{ "tcp", CONF_FILE_STRING, offsetof(struct check_conf, tcp_addr), NULL },
};

/* The check's type member, which must be there. */
static int
conf_file_check_kind(struct conf_file *cf, const config_setting_t *group, enum probe_kind *kind)
{
	const config_setting_t *s = config_setting_get_member(group, "type");
	const char *name;

	if (s == NULL)
		return conf_file_error(
		        cf, group,
		        "a check needs a type: exec, http, tcp or process (e.g. type = "
		        "\"http\")");
	if (conf_file_string(cf, s, false, &name) < 0)
		return -1;
	for (int k = PROBE_PROCESS; k <= PROBE_TCP; k++) {
		if (strcmp(name, conf_probe_name((enum probe_kind)k)) == 0) {
			*kind = (enum probe_kind)k;
			return 0;
		}
	}
	return conf_file_error(cf, s, "unknown check type \"%s\" (use exec, http, tcp or process)",
	                       name);
}

/* A member to point an error at, or the group when it is not there. */
static const config_setting_t *
conf_file_member(const config_setting_t *group, const char *name)
{
	const config_setting_t *member = config_setting_get_member(group, name);

	return member != NULL ? member : group;
}

/* What a kind of check cannot do without, named at the check. */
static int
conf_file_check_complete(struct conf_file *cf, const config_setting_t *group,
                         const struct check_conf *check)
{
	if (check->kind == PROBE_EXEC && check->args == NULL)
		return conf_file_error(
		        cf, group,
		        "an exec check needs args (e.g. args = [\"/usr/lib/web/health\"])");
	if (check->kind == PROBE_HTTP && check->http_url == NULL)
		return conf_file_error(cf, group,
		                       "an http check needs url (e.g. url = "
		                       "\"http://127.0.0.1:8080/health\")");
	if (check->kind == PROBE_TCP && check->tcp_addr == NULL)
		return conf_file_error(cf, group,
		                       "a tcp check needs tcp = \"host:port\" (e.g. tcp = "
		                       "\"127.0.0.1:5432\")");
	if (check->failures_before_warning > check->failures_before_critical)
		return conf_file_error(cf, conf_file_member(group, "failures_before_warning"),
		                       "FailuresBeforeWarning can't be higher than "
		                       "FailuresBeforeCritical (%d > %d)",
		                       check->failures_before_warning,
		                       check->failures_before_critical);
	return 0;
}

/* An explicit check id used before in this conf (defaults are compared by
 * conf_finish, once they exist). */
static int
conf_file_check_unique(struct conf_file *cf, const config_setting_t *group,
                       const struct check_conf *check)
{
	const struct conf *conf = cf->conf;

	if (check->id == NULL)
		return 0;
	for (size_t s = 0; s < conf->nservices; s++) {
		for (size_t c = 0; c < conf->services[s].nchecks; c++) {
			const struct check_conf *other = &conf->services[s].checks[c];

			if (other != check && other->id != NULL &&
			    strcmp(other->id, check->id) == 0)
				return conf_file_error(
				        cf, conf_file_member(group, "id"),
				        "duplicate check id \"%s\" (also at %s; check ids "
				        "must be unique on the agent)",
				        check->id, other->origin ? other->origin : "?");
		}
	}
	return 0;
}

static int
conf_file_check(struct conf_file *cf, const config_setting_t *group, struct service_conf *svc)
{
	struct check_conf *check;
	enum probe_kind kind = PROBE_PROCESS;

	if (conf_file_want(cf, group, CONFIG_TYPE_GROUP, "a group { type = \"...\"; ... }") < 0 ||
	    conf_file_check_kind(cf, group, &kind) < 0)
		return -1;
	if ((check = conf_add_check(svc, kind)) == NULL ||
	    (check->origin = conf_file_origin(cf, group)) == NULL)
		return conf_file_oom(cf, group);
	if (conf_file_group(cf, group, conf_file_check_keys, nitems(conf_file_check_keys), check,
	                    (int)kind) < 0)
		return -1;
	return conf_file_check_complete(cf, group, check) < 0
	               ? -1
	               : conf_file_check_unique(cf, group, check);
}

static int
conf_file_checks(struct conf_file *cf, const config_setting_t *s, void *target)
{
	if (conf_file_want(cf, s, CONFIG_TYPE_LIST, "a list of groups ( { ... }, { ... } )") < 0)
		return -1;
	for (int i = 0; i < config_setting_length(s); i++) {
		if (conf_file_check(cf, config_setting_get_elem(s, (unsigned)i), target) < 0)
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- services */

/* The agent's own rules (consul_service_validate) on one part of a service,
 * reported at the setting that holds it. */
static int
conf_file_agent_rules(struct conf_file *cf, const config_setting_t *s, const consul_service *part)
{
	consul_error lib;

	if (consul_service_validate(part, &lib) < 0)
		return conf_file_relay(cf, s, &lib);
	return 0;
}

static int
conf_file_service_tags(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct service_conf *svc = target;

	return conf_file_strv(cf, s, &svc->tags, &svc->ntags);
}

/* meta = { version = "1.2.3"; ... }: each pair checked as the agent would. */
static int
conf_file_service_meta(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct service_conf *svc = target;

	if (conf_file_want(cf, s, CONFIG_TYPE_GROUP, "a group { key = \"value\"; ... }") < 0)
		return -1;
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		consul_meta pair = { config_setting_name(m), NULL };
		consul_service part = { .name = "-", .meta = &pair, .nmeta = 1 };
		struct conf_kv *grown;

		if (conf_file_string(cf, m, true, &pair.value) < 0 ||
		    conf_file_agent_rules(cf, m, &part) < 0)
			return -1;
		if ((grown = realloc(svc->meta, (svc->nmeta + 1) * sizeof(*grown))) == NULL)
			return conf_file_oom(cf, m);
		svc->meta = grown;
		grown[svc->nmeta++] = (struct conf_kv){ strdup(pair.key), strdup(pair.value) };
		if (grown[svc->nmeta - 1].key == NULL || grown[svc->nmeta - 1].value == NULL)
			return conf_file_oom(cf, m);
	}
	return 0;
}

static int
conf_file_tagged_address(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf_tagged_address *ta = target;

	if (strcmp(config_setting_name(s), "address") == 0) {
		const char *address;

		return conf_file_string(cf, s, false, &address) < 0
		               ? -1
		               : conf_file_set(cf, s, &ta->address, address);
	}
	return conf_file_int(cf, s, 1, 65535, "a port from 1 to 65535", &ta->port);
}

static const struct conf_file_key conf_file_tagged_keys[] = {
	{ "address", CONF_FILE_CUSTOM, 0, conf_file_tagged_address },
	{ "port", CONF_FILE_CUSTOM, 0, conf_file_tagged_address },
};

/* tagged_addresses = { wan = { address = "198.51.100.7"; port = 80; }; } */
static int
conf_file_service_tagged(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct service_conf *svc = target;

	if (conf_file_want(cf, s, CONFIG_TYPE_GROUP, "a group { lan = { address = \"...\"; }; }") <
	    0)
		return -1;
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *t = config_setting_get_elem(s, (unsigned)i);
		struct conf_tagged_address *grown, *ta;
		consul_tagged_address view;
		consul_service part = { .name = "-",
			                .tagged_addresses = &view,
			                .ntagged_addresses = 1 };

		if (conf_file_want(cf, t, CONFIG_TYPE_GROUP,
		                   "a group { address = \"...\"; port = N; }") < 0)
			return -1;
		grown = realloc(svc->tagged_addresses,
		                (svc->ntagged_addresses + 1) * sizeof(*grown));
		if (grown == NULL)
			return conf_file_oom(cf, t);
		svc->tagged_addresses = grown;
		ta = &grown[svc->ntagged_addresses++];
		*ta = (struct conf_tagged_address){ strdup(config_setting_name(t)), NULL, 0 };
		if (ta->name == NULL)
			return conf_file_oom(cf, t);
		if (conf_file_group(cf, t, conf_file_tagged_keys, nitems(conf_file_tagged_keys), ta,
		                    -1) < 0)
			return -1;
		view = (consul_tagged_address){ ta->name, ta->address, ta->port };
		if (conf_file_agent_rules(cf, t, &part) < 0)
			return -1;
	}
	return 0;
}

static const struct conf_file_key conf_file_weight_keys[] = {
	{ "passing", CONF_FILE_COUNT, offsetof(struct service_conf, weight_passing), NULL },
	{ "warning", CONF_FILE_COUNT, offsetof(struct service_conf, weight_warning), NULL },
};

/* weights = { passing = 10; warning = 1; }: what is left out is 1, as in
 * Consul's own service definitions (agent/config/builder.go serviceVal). */
static int
conf_file_service_weights(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct service_conf *svc = target;
	consul_service part = { .name = "-", .has_weights = true };

	if (conf_file_want(cf, s, CONFIG_TYPE_GROUP, "a group { passing = N; warning = N; }") < 0)
		return -1;
	svc->has_weights = true;
	svc->weight_passing = 1;
	svc->weight_warning = 1;
	if (conf_file_group(cf, s, conf_file_weight_keys, nitems(conf_file_weight_keys), svc, -1) <
	    0)
		return -1;
	part.weight_passing = svc->weight_passing;
	part.weight_warning = svc->weight_warning;
	return conf_file_agent_rules(cf, s, &part);
}

static const struct conf_file_key conf_file_service_keys[] = {
	{ "name", CONF_FILE_STRING, offsetof(struct service_conf, name), NULL },
	{ "id", CONF_FILE_STRING, offsetof(struct service_conf, id), NULL },
	{ "tags", CONF_FILE_CUSTOM, 0, conf_file_service_tags },
	{ "address", CONF_FILE_STRING, offsetof(struct service_conf, address), NULL },
	{ "port", CONF_FILE_PORT, offsetof(struct service_conf, port), NULL },
	{ "meta", CONF_FILE_CUSTOM, 0, conf_file_service_meta },
	{ "tagged_addresses", CONF_FILE_CUSTOM, 0, conf_file_service_tagged },
	{ "weights", CONF_FILE_CUSTOM, 0, conf_file_service_weights },
	{ "enable_tag_override", CONF_FILE_BOOL, offsetof(struct service_conf, enable_tag_override),
	  NULL },
	{ "deregister_after", CONF_FILE_DURATION,
	  offsetof(struct service_conf, deregister_after_ms), NULL },
	{ "checks", CONF_FILE_CUSTOM, 0, conf_file_checks },
};

static int
conf_file_service(struct conf_file *cf, const config_setting_t *group)
{
	struct service_conf *svc;

	if (conf_file_want(cf, group, CONFIG_TYPE_GROUP, "a group { name = \"...\"; ... }") < 0)
		return -1;
	if ((svc = conf_add_service(cf->conf)) == NULL ||
	    (svc->origin = conf_file_origin(cf, group)) == NULL)
		return conf_file_oom(cf, group);
	if (conf_file_group(cf, group, conf_file_service_keys, nitems(conf_file_service_keys), svc,
	                    -1) < 0)
		return -1;
	if (svc->name == NULL)
		return conf_file_error(cf, group, "a service needs a name (e.g. name = \"web\")");
	return 0;
}

static int
conf_file_services(struct conf_file *cf, const config_setting_t *s, void *target)
{
	if (conf_file_want(cf, s, CONFIG_TYPE_LIST, "a list of groups ( { ... }, { ... } )") < 0)
		return -1;
	for (int i = 0; i < config_setting_length(s); i++) {
		if (conf_file_service(cf, config_setting_get_elem(s, (unsigned)i)) < 0)
			return -1;
	}
	return 0;
}

/* service_files = [ "web.json" ]: Consul definitions, loaded in order. */
static int
conf_file_service_files(struct conf_file *cf, const config_setting_t *s, void *target)
{
	char **files = NULL;
	int rc = 0;

	if (conf_file_strv(cf, s, &files, NULL) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && files[i] != NULL; i++) {
		char *path = NULL;

		if (*files[i] == '\0')
			rc = conf_file_error(cf, config_setting_get_elem(s, (unsigned)i),
			                     "must not be empty");
		else if (conf_file_set_path(cf, s, &path, files[i]) < 0)
			rc = -1;
		else
			rc = conf_consul_load(cf->conf, path, cf->err);
		free(path);
	}
	conf_strv_free(files);
	return rc;
}

/* ------------------------------------------------------------ the agent */

static int
conf_file_agent_address(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *addr;
	consul_error lib;

	if (conf_file_string(cf, s, false, &addr) < 0)
		return -1;
	if (consul_config_set_addr(&conf->consul, addr, cf->path, &lib) < 0)
		return conf_file_relay(cf, s, &lib);
	return 0;
}

static int
conf_file_agent_token_file(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *file;
	char *path = NULL;
	consul_error lib;
	int rc = 0;

	if (conf_file_string(cf, s, false, &file) < 0 || conf_file_set_path(cf, s, &path, file) < 0)
		return -1;
	if (consul_config_load_token_file(&conf->consul, path, &lib) < 0)
		rc = conf_file_relay(cf, s, &lib);
	free(path);
	return rc;
}

/* The total time of one request; the connect timeout never exceeds it. */
static int
conf_file_agent_timeout(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	int64_t ms;

	if (conf_file_duration(cf, s, true, &ms) < 0)
		return -1;
	if (ms > LONG_MAX)
		return conf_file_error(cf, s, "too long");
	conf->consul.timeout_ms = (long)ms;
	if (conf->consul.connect_timeout_ms > ms)
		conf->consul.connect_timeout_ms = (long)ms;
	return 0;
}

static const struct conf_file_key conf_file_agent_keys[] = {
	{ "address", CONF_FILE_CUSTOM, 0, conf_file_agent_address },
	{ "token_file", CONF_FILE_CUSTOM, 0, conf_file_agent_token_file },
	{ "ca_file", CONF_FILE_PATH, offsetof(struct conf, consul.tls.ca_file), NULL },
	{ "ca_path", CONF_FILE_PATH, offsetof(struct conf, consul.tls.ca_path), NULL },
	{ "client_cert", CONF_FILE_PATH, offsetof(struct conf, consul.tls.cert_file), NULL },
	{ "client_key", CONF_FILE_PATH, offsetof(struct conf, consul.tls.key_file), NULL },
	{ "tls_server_name", CONF_FILE_STRING, offsetof(struct conf, consul.tls.server_name),
	  NULL },
	{ "namespace", CONF_FILE_STRING, offsetof(struct conf, consul.ns), NULL },
	{ "partition", CONF_FILE_STRING, offsetof(struct conf, consul.partition), NULL },
	{ "timeout", CONF_FILE_CUSTOM, 0, conf_file_agent_timeout },
	{ "retry_max", CONF_FILE_TIMEOUT, offsetof(struct conf, retry_max_ms), NULL },
	{ "fail_closed_after", CONF_FILE_DURATION, offsetof(struct conf, fail_closed_ms), NULL },
	{ "verify_interval", CONF_FILE_DURATION, offsetof(struct conf, verify_interval_ms), NULL },
};

static int
conf_file_agent(struct conf_file *cf, const config_setting_t *s, void *target)
{
	bool cert, key;

	if (conf_file_want(cf, s, CONFIG_TYPE_GROUP, "a group { address = \"...\"; ... }") < 0 ||
	    conf_file_group(cf, s, conf_file_agent_keys, nitems(conf_file_agent_keys), target, -1) <
	            0)
		return -1;
	cert = config_setting_get_member(s, "client_cert") != NULL;
	key = config_setting_get_member(s, "client_key") != NULL;
	if (cert != key)
		return conf_file_error(
		        cf, s, "client_cert and client_key go together: give both or neither");
	return 0;
}

/* ------------------------------------------------------------ Consul KV */

/* env = [ "app/web/", "app/common/" ]; */
static int
conf_file_kv_env(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	char **list = NULL, why[512];
	size_t n = 0;
	int rc = 0;

	if (conf_file_strv(cf, s, &list, &n) < 0)
		return -1;
	conf_kv_clear_prefixes(conf);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (conf_kv_add_prefix(conf, list[i], why, sizeof(why)) < 0)
			rc = conf_file_error(cf, config_setting_get_elem(s, (unsigned)i), "%s", why);
	conf_strv_free(list);
	return rc;
}

/* One of files = ( { key = "app/tls.pem"; path = "/run/web/tls.pem"; mode = "0640"; } ). */
static int
conf_file_kv_file(struct conf_file *cf, const config_setting_t *group, struct conf *conf)
{
	static const char *const names[] = { "key", "path", "mode" };
	const char *values[3] = { NULL, NULL, NULL };
	char why[512], *origin;
	int rc;

	if (conf_file_want(cf, group, CONFIG_TYPE_GROUP,
	                   "a group { key = \"...\"; path = \"...\"; }") < 0)
		return -1;
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		size_t k = 0;

		while (k < nitems(names) && strcmp(names[k], config_setting_name(s)) != 0)
			k++;
		if (k == nitems(names))
			return conf_file_error(cf, s, "unknown setting (use key, path or mode)");
		if (conf_file_string(cf, s, false, &values[k]) < 0)
			return -1;
	}
	if (values[0] == NULL || values[1] == NULL)
		return conf_file_error(cf, group, "needs both key and path");
	if ((origin = conf_file_origin(cf, group)) == NULL)
		return conf_file_oom(cf, group);
	rc = conf_kv_add_file(conf, values[0], values[1], values[2], origin, why, sizeof(why));
	free(origin);
	return rc < 0 ? conf_file_error(cf, group, "%s", why) : 0;
}

static int
conf_file_kv_files(struct conf_file *cf, const config_setting_t *s, void *target)
{
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return conf_file_error(cf, s, "must be a list ( { key = ...; path = ...; }, ... )");
	conf_kv_clear_files(target);
	for (int i = 0; i < config_setting_length(s); i++)
		if (conf_file_kv_file(cf, config_setting_get_elem(s, (unsigned)i), target) < 0)
			return -1;
	return 0;
}

static int
conf_file_kv_on_change(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *text;
	char why[256];

	if (conf_file_string(cf, s, false, &text) < 0)
		return -1;
	if (conf_kv_action_parse(text, &conf->kv_on_change, &conf->kv_signal, why, sizeof(why)) < 0)
		return conf_file_error(cf, s, "%s", why);
	return 0;
}

static int
conf_file_kv_wait(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *text;
	char why[256];

	if (conf_file_string(cf, s, false, &text) < 0)
		return -1;
	if (conf_kv_wait_parse(text, &conf->kv_wait_min_ms, &conf->kv_wait_max_ms, why,
	                       sizeof(why)) < 0)
		return conf_file_error(cf, s, "%s", why);
	return 0;
}

static const struct conf_file_key conf_file_kv_keys[] = {
	{ "env", CONF_FILE_CUSTOM, 0, conf_file_kv_env },
	{ "files", CONF_FILE_CUSTOM, 0, conf_file_kv_files },
	{ "on_change", CONF_FILE_CUSTOM, 0, conf_file_kv_on_change },
	{ "wait", CONF_FILE_CUSTOM, 0, conf_file_kv_wait },
	{ "splay", CONF_FILE_DURATION, offsetof(struct conf, kv_splay_ms), NULL },
	{ "timeout", CONF_FILE_TIMEOUT, offsetof(struct conf, kv_timeout_ms), NULL },
	{ "required", CONF_FILE_BOOL, offsetof(struct conf, kv_required), NULL },
};

static int
conf_file_kv(struct conf_file *cf, const config_setting_t *s, void *target)
{
	if (conf_file_want(cf, s, CONFIG_TYPE_GROUP, "a group { env = [ \"app/web/\" ]; ... }") <
	    0)
		return -1;
	return conf_file_group(cf, s, conf_file_kv_keys, nitems(conf_file_kv_keys), target, -1);
}

/* ----------------------------------------------------------- top level */

static int
conf_file_log_level(struct conf_file *cf, const config_setting_t *s, void *target)
{
	static const char *const levels[] = { "notice", "info", "debug" };
	struct conf *conf = target;
	const char *level;

	if (conf_file_string(cf, s, false, &level) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (strcmp(level, levels[i]) == 0) {
			conf->verbosity = i;
			return 0;
		}
	}
	return conf_file_error(cf, s, "unknown log level \"%s\" (use notice, info or debug)",
	                       level);
}

static int
conf_file_log_format(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *name;
	int format;

	if (conf_file_string(cf, s, false, &name) < 0)
		return -1;
	if ((format = log_format_parse(name)) < 0)
		return conf_file_error(
		        cf, s, "unknown log format \"%s\" (use text, logfmt or json)", name);
	conf->log_format = format;
	return 0;
}

/* metrics_addr = "127.0.0.1:9100"; checked as --metrics-addr is. */
static int
conf_file_metrics_addr(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *addr;
	char why[160];

	if (conf_file_string(cf, s, false, &addr) < 0)
		return -1;
	if (metrics_addr_check(addr, why, sizeof(why)) < 0)
		return conf_file_error(cf, s, "%s: %s", addr, why);
	return conf_file_set(cf, s, &conf->metrics_addr, addr);
}

static int
conf_file_drain(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *name;

	if (conf_file_string(cf, s, false, &name) < 0)
		return -1;
	if (conf_drain_parse(name, &conf->drain) < 0)
		return conf_file_error(cf, s,
		                       "unknown drain mode \"%s\" (use maintenance, critical, "
		                       "deregister or none)",
		                       name);
	return 0;
}

static int
conf_file_restart(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *name;

	if (conf_file_string(cf, s, false, &name) < 0)
		return -1;
	if (conf_restart_parse(name, &conf->restart) < 0)
		return conf_file_error(cf, s,
		                       "unknown restart policy \"%s\" (use never, on-failure or "
		                       "always)",
		                       name);
	return 0;
}

static int
conf_file_stop_signal(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	const char *name;

	if (conf_file_string(cf, s, false, &name) < 0)
		return -1;
	if ((conf->stop_signal = sig_parse(name)) < 0)
		return conf_file_error(cf, s,
		                       "unknown signal \"%s\" (use a name such as \"TERM\" or "
		                       "\"QUIT\")",
		                       name);
	return 0;
}

/* rewrite = [ "HUP:0", "TERM:QUIT" ]; as --rewrite. */
static int
conf_file_rewrite(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;
	char **list = NULL, why[200];
	size_t n = 0;
	int from, to;

	if (conf_file_strv(cf, s, &list, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (sig_parse_rewrite(list[i], &from, &to, why, sizeof(why)) < 0) {
			conf_strv_free(list);
			return conf_file_error(cf, config_setting_get_elem(s, (unsigned)i), "%s",
			                       why);
		}
		conf->rewrite[from] = to;
	}
	conf_strv_free(list);
	return 0;
}

static int
conf_file_ready_after(struct conf_file *cf, const config_setting_t *s, void *target)
{
	struct conf *conf = target;

	return conf_file_int(cf, s, 1, 1000000, "a whole number from 1 to 1000000",
	                     &conf->ready_after);
}

static const struct conf_file_key conf_file_top_keys[] = {
	{ "agent", CONF_FILE_CUSTOM, 0, conf_file_agent },
	{ "command", CONF_FILE_ARGV, offsetof(struct conf, command), NULL },
	{ "kill_timeout", CONF_FILE_DURATION, offsetof(struct conf, kill_timeout_ms), NULL },
	{ "ttl", CONF_FILE_TIMEOUT, offsetof(struct conf, ttl_ms), NULL },
	{ "heartbeat", CONF_FILE_TIMEOUT, offsetof(struct conf, heartbeat_ms), NULL },
	{ "log_level", CONF_FILE_CUSTOM, 0, conf_file_log_level },
	{ "log_format", CONF_FILE_CUSTOM, 0, conf_file_log_format },
	{ "subreaper", CONF_FILE_BOOL, offsetof(struct conf, subreaper), NULL },
	{ "drain", CONF_FILE_CUSTOM, 0, conf_file_drain },
	{ "drain_delay", CONF_FILE_DURATION, offsetof(struct conf, drain_delay_ms), NULL },
	{ "stop_signal", CONF_FILE_CUSTOM, 0, conf_file_stop_signal },
	{ "single_child", CONF_FILE_BOOL, offsetof(struct conf, single_child), NULL },
	{ "rewrite", CONF_FILE_CUSTOM, 0, conf_file_rewrite },
	{ "ready_after", CONF_FILE_CUSTOM, 0, conf_file_ready_after },
	{ "notify", CONF_FILE_BOOL, offsetof(struct conf, notify), NULL },
	{ "restart", CONF_FILE_CUSTOM, 0, conf_file_restart },
	{ "restart_delay", CONF_FILE_TIMEOUT, offsetof(struct conf, restart_delay_ms), NULL },
	{ "restart_max_delay", CONF_FILE_TIMEOUT, offsetof(struct conf, restart_max_delay_ms),
	  NULL },
	{ "owner", CONF_FILE_STRING, offsetof(struct conf, owner), NULL },
	{ "status_socket", CONF_FILE_STRING, offsetof(struct conf, status_socket), NULL },
	{ "metrics_addr", CONF_FILE_CUSTOM, 0, conf_file_metrics_addr },
	{ "service_files", CONF_FILE_CUSTOM, 0, conf_file_service_files },
	{ "services", CONF_FILE_CUSTOM, 0, conf_file_services },
	{ "kv", CONF_FILE_CUSTOM, 0, conf_file_kv },
};

/* ----------------------------------------------------------------- reading */

static char *
conf_file_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* @include files are found relative to the configuration file. */
static int
conf_file_include_dir(struct conf_file *cf, config_t *cfg)
{
	char cwd[PATH_MAX], *dir = NULL;

	if (cf->dir[0] == '/') {
		config_set_include_dir(cfg, cf->dir);
		return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return consul_error_set(cf->err, cf->path, "cannot find the current directory: %s",
		                        strerror(errno));
	if (asprintf(&dir, "%s/%s", cwd, cf->dir) < 0)
		return consul_error_set(cf->err, cf->path, "out of memory");
	config_set_include_dir(cfg, dir); /* copied */
	free(dir);
	return 0;
}

/* Parse the file; on a syntax error name the file (an @include's, if the
 * error is there) and the line as libconfig reports them. */
static int
conf_file_parse(struct conf_file *cf, config_t *cfg)
{
	FILE *fp;
	char file[PATH_MAX];
	int ok;

	if (conf_file_include_dir(cf, cfg) < 0)
		return -1;
	if ((fp = file_open_regular(cf->path, "configuration file", cf->err)) == NULL)
		return -1;
	ok = config_read(cfg, fp);
	fclose(fp);
	if (ok == CONFIG_TRUE)
		return 0;
	consul_error_set(
	        cf->err, conf_file_source(cf, config_error_file(cfg), file, sizeof(file)),
	        "%s (libconfig syntax: name = value; groups { ... }, lists ( ... ), arrays "
	        "[ ... ])",
	        config_error_text(cfg) ? config_error_text(cfg) : "cannot parse");
	if (cf->err != NULL)
		cf->err->line = config_error_line(cfg);
	return -1;
}

int
conf_file_load(struct conf *conf, const char *path, consul_error *err)
{
	struct conf_file cf = { .conf = conf, .path = path, .err = err };
	char *copy = strdup(path);
	config_t cfg;
	int rc = -1;

	if (copy == NULL || (cf.dir = conf_file_dirname(path)) == NULL) {
		free(copy);
		return consul_error_set(err, path, "out of memory");
	}
	free(conf->path);
	conf->path = copy;
	config_init(&cfg);
	if (conf_file_parse(&cf, &cfg) == 0)
		rc = conf_file_group(&cf, config_root_setting(&cfg), conf_file_top_keys,
		                     nitems(conf_file_top_keys), conf, -1);
	config_destroy(&cfg);
	free(cf.dir);
	return rc;
}
