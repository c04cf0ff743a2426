/*
 * conf_kv.c - the model's Consul KV settings (see conf.h): what the flags
 * and the configuration file both parse, so each rule is written once.
 */
#include "conf.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"
#include "util.h"

static int conf_kv_why(char *why, size_t len, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int
conf_kv_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

bool
conf_kv_used(const struct conf *conf)
{
	return conf->nkv_env > 0 || conf->nkv_files > 0;
}

int
conf_kv_add_prefix(struct conf *conf, const char *prefix, char *why, size_t len)
{
	size_t n = strlen(prefix);
	char **grown;

	if (n == 0 || prefix[0] == '/')
		return conf_kv_why(why, len,
		                   "\"%s\": a KV prefix is a folder such as \"app/web/\" (no "
		                   "leading '/')",
		                   prefix);
	if (prefix[n - 1] != '/')
		return conf_kv_why(why, len,
		                   "\"%s\" does not end in '/': Consul matches a prefix as plain "
		                   "text, so it would also read \"%s2/...\" and the like; write "
		                   "\"%s/\"",
		                   prefix, prefix, prefix);
	if ((grown = realloc(conf->kv_env, (conf->nkv_env + 2) * sizeof(*grown))) == NULL)
		return conf_kv_why(why, len, "out of memory");
	conf->kv_env = grown;
	if ((grown[conf->nkv_env] = strdup(prefix)) == NULL)
		return conf_kv_why(why, len, "out of memory");
	grown[++conf->nkv_env] = NULL;
	return 0;
}

/* "640" or "0640": permission bits only (no setuid, setgid or sticky). */
static int
conf_kv_mode(const char *text, unsigned *out, char *why, size_t len)
{
	size_t n = strlen(text);
	char *end;
	unsigned long mode;

	if ((n != 3 && n != 4) || strspn(text, "01234567") != n)
		return conf_kv_why(why, len, "invalid mode \"%s\" (use octal, e.g. 0600 or 0640)",
		                   text);
	mode = strtoul(text, &end, 8);
	if (mode > 0777)
		return conf_kv_why(why, len,
		                   "mode %s sets setuid, setgid or sticky bits: use 0777 or less",
		                   text);
	*out = (unsigned)mode;
	return 0;
}

int
conf_kv_add_file(struct conf *conf, const char *key, const char *path, const char *mode,
                 const char *origin, char *why, size_t len)
{
	struct conf_kv_file file = { .mode = CONF_DEFAULT_KV_FILE_MODE }, *grown;

	if (*key == '\0' || *key == '/' || key[strlen(key) - 1] == '/')
		return conf_kv_why(why, len, "\"%s\" is not a key (a folder or empty)", key);
	if (*path == '\0')
		return conf_kv_why(why, len, "no path for key \"%s\"", key);
	if (mode != NULL && conf_kv_mode(mode, &file.mode, why, len) < 0)
		return -1;
	for (size_t i = 0; i < conf->nkv_files; i++)
		if (strcmp(conf->kv_files[i].path, path) == 0)
			return conf_kv_why(why, len, "%s is written already, from key \"%s\"", path,
			                   conf->kv_files[i].key);
	grown = realloc(conf->kv_files, (conf->nkv_files + 1) * sizeof(*grown));
	if (grown == NULL)
		return conf_kv_why(why, len, "out of memory");
	conf->kv_files = grown;
	file.key = strdup(key);
	file.path = strdup(path);
	file.origin = strdup(origin);
	grown[conf->nkv_files++] = file;
	if (file.key == NULL || file.path == NULL || file.origin == NULL)
		return conf_kv_why(why, len, "out of memory");
	return 0;
}

/* KEY=PATH[:MODE]: the key ends at the first '=' (Consul keys rarely hold
 * one; paths often hold neither), the mode is what follows the last ':'
 * when it is 3 or 4 octal digits. */
int
conf_kv_add_file_spec(struct conf *conf, const char *spec, const char *origin, char *why,
                      size_t len)
{
	const char *eq = strchr(spec, '='), *colon;
	char *key, *path, *mode = NULL;
	int rc;

	if (eq == NULL || eq == spec)
		return conf_kv_why(why, len, "\"%s\": use KEY=PATH[:MODE]", spec);
	colon = strrchr(eq + 1, ':');
	if (colon != NULL && (strlen(colon + 1) < 3 || strlen(colon + 1) > 4 ||
	                      strspn(colon + 1, "01234567") != strlen(colon + 1)))
		colon = NULL;
	key = strndup(spec, (size_t)(eq - spec));
	path = colon ? strndup(eq + 1, (size_t)(colon - eq - 1)) : strdup(eq + 1);
	if (colon != NULL)
		mode = strdup(colon + 1);
	if (key == NULL || path == NULL || (colon != NULL && mode == NULL))
		rc = conf_kv_why(why, len, "out of memory");
	else
		rc = conf_kv_add_file(conf, key, path, mode, origin, why, len);
	free(key);
	free(path);
	free(mode);
	return rc;
}

int
conf_kv_action_parse(const char *text, enum conf_kv_action *action, int *signo, char *why,
                     size_t len)
{
	if (strcmp(text, "restart") == 0) {
		*action = CONF_KV_RESTART;
		return 0;
	}
	if (strcmp(text, "none") == 0) {
		*action = CONF_KV_NONE;
		return 0;
	}
	if (strncmp(text, "signal:", 7) == 0) {
		int sig = sig_parse(text + 7);

		if (sig <= 0 || sig == SIGKILL || sig == SIGSTOP)
			return conf_kv_why(why, len,
			                   "unknown or unusable signal \"%s\" (use a name such as "
			                   "HUP or USR1)",
			                   text + 7);
		*action = CONF_KV_SIGNAL;
		*signo = sig;
		return 0;
	}
	return conf_kv_why(why, len, "unknown action \"%s\" (use restart, signal:SIG or none)",
	                   text);
}

int
conf_kv_wait_parse(const char *text, int64_t *min_ms, int64_t *max_ms, char *why, size_t len)
{
	const char *colon = strchr(text, ':');
	char *min_text = colon ? strndup(text, (size_t)(colon - text)) : strdup(text);
	consul_error err = { 0 };
	int64_t min, max = CONF_UNSET;
	int rc = 0;

	if (min_text == NULL)
		return conf_kv_why(why, len, "out of memory");
	if (consul_duration_parse(min_text, &min, &err) < 0 ||
	    (colon != NULL && consul_duration_parse(colon + 1, &max, &err) < 0))
		rc = conf_kv_why(why, len, "%s (use MIN[:MAX], e.g. 2s:10s)", err.text);
	else if (min < 0 || (colon != NULL && max < min))
		rc = conf_kv_why(why, len, "\"%s\": MAX must be at least MIN", text);
	free(min_text);
	if (rc == 0) {
		*min_ms = min;
		*max_ms = max;
	}
	return rc;
}

void
conf_kv_clear_prefixes(struct conf *conf)
{
	conf_strv_free(conf->kv_env);
	conf->kv_env = NULL;
	conf->nkv_env = 0;
}

void
conf_kv_clear_files(struct conf *conf)
{
	for (size_t i = 0; i < conf->nkv_files; i++) {
		free(conf->kv_files[i].key);
		free(conf->kv_files[i].path);
		free(conf->kv_files[i].origin);
	}
	free(conf->kv_files);
	conf->kv_files = NULL;
	conf->nkv_files = 0;
}

void
conf_kv_free(struct conf *conf)
{
	conf_kv_clear_prefixes(conf);
	conf_kv_clear_files(conf);
}
