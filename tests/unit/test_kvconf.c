/* Configuration from Consul KV: the naming rules and every way to say what
 * to read (flags, the configuration file), with their errors. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_options.h"
#include "kvconf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* envconsul's sanitize + upcase, with the prefix and leading '/' removed. */
Test(kvconf, env_names)
{
	static const struct {
		const char *prefix, *key, *name; /* name NULL: no variable */
	} cases[] = {
		{ "app/web/", "app/web/port", "PORT" },
		{ "app/web/", "app/web/db/host", "DB_HOST" },
		{ "app/web/", "app/web/max-conns", "MAX_CONNS" },
		{ "app/web/", "app/web/Log.Level", "LOG_LEVEL" },
		{ "app/web/", "app/web/already_UPPER_9", "ALREADY_UPPER_9" },
		{ "app/web/", "app/web//double", "DOUBLE" },
		{ "app/web/", "app/web/9lives", "9LIVES" },
		{ "app/web/", "app/web/caf\xc3\xa9", "CAF__" },
		{ "app/web/", "app/web/a b=c", "A_B_C" },
		{ "app/web/", "app/web/", NULL },        /* the prefix itself */
		{ "app/web/", "app/web/folder/", NULL }, /* a folder entry */
		{ "app/web/", "app/web2/port", NULL },   /* a sibling */
		{ "app/", "app/web/port", "WEB_PORT" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		char out[64];
		int rc = kvconf_env_name(cases[i].prefix, cases[i].key, out);

		if (cases[i].name == NULL) {
			cr_assert_eq(rc, -1, "%s under %s gave %s", cases[i].key, cases[i].prefix,
			             out);
			continue;
		}
		cr_assert_eq(rc, 0, "%s under %s gave no name", cases[i].key, cases[i].prefix);
		cr_assert_str_eq(out, cases[i].name, "%s under %s", cases[i].key,
		                 cases[i].prefix);
	}
}

Test(kvconf, prefixes_must_be_folders)
{
	struct conf conf;
	char why[512];

	conf_init(&conf);
	cr_assert_eq(conf_kv_add_prefix(&conf, "app/web/", why, sizeof(why)), 0);
	cr_assert_eq(conf_kv_add_prefix(&conf, "app/web", why, sizeof(why)), -1);
	cr_assert(strstr(why, "app/web2/") != NULL, "says why: %s", why);
	cr_assert(strstr(why, "\"app/web/\"") != NULL, "says what to write: %s", why);
	cr_assert_eq(conf_kv_add_prefix(&conf, "", why, sizeof(why)), -1);
	cr_assert_eq(conf_kv_add_prefix(&conf, "/app/", why, sizeof(why)), -1);
	cr_assert_eq(conf.nkv_env, 1);
	cr_assert_null(conf.kv_env[1]);
	conf_free(&conf);
}

Test(kvconf, file_specs)
{
	static const struct {
		const char *spec, *key, *path;
		unsigned mode; /* 0: refused */
	} cases[] = {
		{ "app/cfg=/etc/web.conf", "app/cfg", "/etc/web.conf", 0600 },
		{ "app/cfg=/etc/web.conf:0640", "app/cfg", "/etc/web.conf", 0640 },
		{ "app/cfg=/etc/web.conf:644", "app/cfg", "/etc/web.conf", 0644 },
		{ "app/cfg=/srv/a:b.conf", "app/cfg", "/srv/a:b.conf", 0600 },
		{ "app/cfg=rel/x:0600", "app/cfg", "rel/x", 0600 },
		{ "app/cfg=/etc/x:4755", NULL, NULL, 0 },
		{ "app/cfg=/etc/x:0800", "app/cfg", "/etc/x:0800", 0600 },
		{ "=/etc/x", NULL, NULL, 0 },
		{ "app/cfg", NULL, NULL, 0 },
		{ "app/cfg=", NULL, NULL, 0 },
		{ "app/folder/=/etc/x", NULL, NULL, 0 },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct conf conf;
		char why[512];
		int rc;

		conf_init(&conf);
		rc = conf_kv_add_file_spec(&conf, cases[i].spec, "--kv-file", why, sizeof(why));
		if (cases[i].key == NULL) {
			cr_assert_eq(rc, -1, "%s accepted", cases[i].spec);
		} else {
			cr_assert_eq(rc, 0, "%s: %s", cases[i].spec, why);
			cr_assert_str_eq(conf.kv_files[0].key, cases[i].key);
			cr_assert_str_eq(conf.kv_files[0].path, cases[i].path, "%s", cases[i].spec);
			cr_assert_eq(conf.kv_files[0].mode, cases[i].mode, "%s", cases[i].spec);
		}
		conf_free(&conf);
	}
}

Test(kvconf, actions_and_waits)
{
	enum conf_kv_action action;
	int64_t min, max;
	int signo = 0;
	char why[256];

	cr_assert_eq(conf_kv_action_parse("restart", &action, &signo, why, sizeof(why)), 0);
	cr_assert_eq(action, CONF_KV_RESTART);
	cr_assert_eq(conf_kv_action_parse("none", &action, &signo, why, sizeof(why)), 0);
	cr_assert_eq(action, CONF_KV_NONE);
	cr_assert_eq(conf_kv_action_parse("signal:HUP", &action, &signo, why, sizeof(why)), 0);
	cr_assert_eq(action, CONF_KV_SIGNAL);
	cr_assert_eq(signo, SIGHUP);
	cr_assert_eq(conf_kv_action_parse("signal:SIGUSR1", &action, &signo, why, sizeof(why)), 0);
	cr_assert_eq(signo, SIGUSR1);
	cr_assert_eq(conf_kv_action_parse("signal:KILL", &action, &signo, why, sizeof(why)), -1);
	cr_assert_eq(conf_kv_action_parse("signal:", &action, &signo, why, sizeof(why)), -1);
	cr_assert_eq(conf_kv_action_parse("reload", &action, &signo, why, sizeof(why)), -1);
	cr_assert(strstr(why, "restart, signal:SIG or none") != NULL, "%s", why);

	cr_assert_eq(conf_kv_wait_parse("2s:10s", &min, &max, why, sizeof(why)), 0);
	cr_assert_eq(min, 2000);
	cr_assert_eq(max, 10000);
	cr_assert_eq(conf_kv_wait_parse("500ms", &min, &max, why, sizeof(why)), 0);
	cr_assert_eq(min, 500);
	cr_assert_eq(max, CONF_UNSET, "MAX defaults later, to 4 x MIN");
	cr_assert_eq(conf_kv_wait_parse("0", &min, &max, why, sizeof(why)), 0);
	cr_assert_eq(min, 0);
	cr_assert_eq(conf_kv_wait_parse("10s:2s", &min, &max, why, sizeof(why)), -1);
	cr_assert_eq(conf_kv_wait_parse("soon", &min, &max, why, sizeof(why)), -1);
}

/* ------------------------------------------------------------ the flags */

static char *argv_store[40];
static int argc_store;

static char **
make_argv(const char *const *args)
{
	argc_store = 0;
	argv_store[argc_store++] = strdup("ostiary");
	for (size_t i = 0; args[i] != NULL; i++)
		argv_store[argc_store++] = strdup(args[i]);
	argv_store[argc_store] = NULL;
	return argv_store;
}

static void
free_argv(void)
{
	for (int i = 0; i < argc_store; i++)
		free(argv_store[i]);
	argc_store = 0;
}

static const char *
no_env(const char *name)
{
	return NULL;
}

static char warnings[1024];

static void
collect(void *arg, const char *message)
{
	strncat(warnings, message, sizeof(warnings) - strlen(warnings) - 1);
}

static int
parse(struct conf *conf, consul_error *err, const char *const *args)
{
	struct conf_options_request req;
	char **argv = make_argv(args); /* before argc_store is read */

	warnings[0] = '\0';
	return conf_options_parse(conf, &req, argc_store, argv, no_env, collect, err);
}

Test(kvconf, flags, .fini = free_argv)
{
	const char *args[] = { "--kv-env",       "app/common/",   "--kv-env",
		               "app/web/",       "--kv-file",     "app/tls=/run/web/tls.pem:0640",
		               "--kv-on-change", "signal:HUP",    "--kv-wait",
		               "2s",             "--kv-splay",    "5s",
		               "--kv-timeout",   "30s",           "--kv-required=false",
		               "web",            "--",            "/bin/true",
		               NULL };
	struct conf conf;
	consul_error err = { 0 };

	cr_assert_eq(parse(&conf, &err, args), 0, "%s: %s", err.source, err.text);
	cr_assert(conf_kv_used(&conf));
	cr_assert_eq(conf.nkv_env, 2);
	cr_assert_str_eq(conf.kv_env[1], "app/web/", "in order: a later prefix wins");
	cr_assert_eq(conf.nkv_files, 1);
	cr_assert_eq(conf.kv_files[0].mode, 0640);
	cr_assert_eq(conf.kv_on_change, CONF_KV_SIGNAL);
	cr_assert_eq(conf.kv_signal, SIGHUP);
	cr_assert_eq(conf.kv_wait_min_ms, 2000);
	cr_assert_eq(conf.kv_wait_max_ms, 8000, "consul-template's default: 4 x MIN");
	cr_assert_eq(conf.kv_splay_ms, 5000);
	cr_assert_eq(conf.kv_timeout_ms, 30000);
	cr_assert_not(conf.kv_required);
	cr_assert(strstr(warnings, "only when it starts again") != NULL,
	          "an environment with a signal action is warned about: %s", warnings);
	conf_free(&conf);
}

Test(kvconf, defaults, .fini = free_argv)
{
	const char *args[] = { "--kv-env", "app/web/", "web", "--", "/bin/true", NULL };
	struct conf conf;
	consul_error err = { 0 };

	cr_assert_eq(parse(&conf, &err, args), 0, "%s: %s", err.source, err.text);
	cr_assert_eq(conf.kv_on_change, CONF_KV_RESTART);
	cr_assert_eq(conf.kv_wait_min_ms, CONF_DEFAULT_KV_WAIT_MIN_MS);
	cr_assert_eq(conf.kv_wait_max_ms, 4 * CONF_DEFAULT_KV_WAIT_MIN_MS);
	cr_assert_eq(conf.kv_splay_ms, 0);
	cr_assert_eq(conf.kv_timeout_ms, CONF_DEFAULT_KV_TIMEOUT_MS);
	cr_assert(conf.kv_required);
	cr_assert_str_eq(warnings, "");
	conf_free(&conf);
}

Test(kvconf, flag_errors_name_the_flag, .fini = free_argv)
{
	static const struct {
		const char *flag, *value, *source;
	} cases[] = {
		{ "--kv-env", "app/web", "--kv-env" },
		{ "--kv-file", "app/cfg", "--kv-file" },
		{ "--kv-on-change", "reload", "--kv-on-change" },
		{ "--kv-wait", "3s:1s", "--kv-wait" },
		{ "--kv-splay", "often", "--kv-splay" },
		{ "--kv-timeout", "0", "--kv-timeout" },
		{ "--kv-required=maybe", NULL, "--kv-required" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		const char *args[] = { cases[i].flag, cases[i].value, "web", "--", "/bin/true",
			               NULL };
		const char *short_args[] = { cases[i].flag, "web", "--", "/bin/true", NULL };
		struct conf conf;
		consul_error err = { 0 };

		cr_assert_eq(parse(&conf, &err, cases[i].value ? args : short_args), -1,
		             "%s %s accepted", cases[i].flag, cases[i].value);
		cr_assert_str_eq(err.source, cases[i].source, "%s", err.text);
		conf_free(&conf);
		free_argv();
	}
}

/* ------------------------------------------------------------- the file */

static char dir[64];

static const char *
write_conf(const char *text)
{
	static char path[128];
	FILE *fp;

	snprintf(dir, sizeof(dir), "/tmp/ostiary-kv-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ostiary.conf", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void
remove_conf(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ostiary.conf", dir);
	unlink(path);
	rmdir(dir);
}

Test(kvconf, file_section, .fini = remove_conf)
{
	const char *path = write_conf("command = [ \"/bin/true\" ];\n"
	                              "services = ( { name = \"web\"; } );\n"
	                              "kv = {\n"
	                              "  env = [ \"app/common/\", \"app/web/\" ];\n"
	                              "  files = ( { key = \"app/tls\"; path = \"/run/tls.pem\"; "
	                              "mode = \"0640\"; },\n"
	                              "            { key = \"app/cfg\"; path = \"/run/web.conf\"; } );\n"
	                              "  on_change = \"signal:USR2\";\n"
	                              "  wait = \"1s:3s\";\n"
	                              "  splay = \"2s\";\n"
	                              "  timeout = \"10s\";\n"
	                              "  required = false;\n"
	                              "};\n");
	struct conf conf;
	consul_error err = { 0 };

	conf_init(&conf);
	cr_assert_eq(conf_file_load(&conf, path, &err), 0, "%s:%d: %s", err.source, err.line,
	             err.text);
	cr_assert_eq(conf_finish(&conf, &err), 0, "%s", err.text);
	cr_assert_eq(conf.nkv_env, 2);
	cr_assert_eq(conf.nkv_files, 2);
	cr_assert_eq(conf.kv_files[0].mode, 0640);
	cr_assert_eq(conf.kv_files[1].mode, 0600);
	cr_assert(strstr(conf.kv_files[1].origin, "ostiary.conf:6") != NULL, "%s",
	          conf.kv_files[1].origin);
	cr_assert_eq(conf.kv_signal, SIGUSR2);
	cr_assert_eq(conf.kv_wait_max_ms, 3000);
	cr_assert_eq(conf.kv_splay_ms, 2000);
	cr_assert_eq(conf.kv_timeout_ms, 10000);
	cr_assert_not(conf.kv_required);
	conf_free(&conf);
}

Test(kvconf, file_errors_name_file_line_and_setting, .fini = remove_conf)
{
	static const struct {
		const char *section;
		int line;
		const char *needle;
	} cases[] = {
		{ "kv = {\n  env = [ \"app/web\" ];\n};\n", 4, "kv.env.[0]" },
		{ "kv = {\n  on_change = \"reload\";\n};\n", 4, "kv.on_change" },
		{ "kv = {\n  files = ( { key = \"a\"; } );\n};\n", 4, "needs both key and path" },
		{ "kv = {\n  files = ( { key = \"a\"; path = \"/x\"; mode = \"0999\"; } );\n};\n",
		  4, "mode" },
		{ "kv = {\n  wait = \"5s:1s\";\n};\n", 4, "kv.wait" },
		{ "kv = {\n  envs = [ \"app/\" ];\n};\n", 4, "envs" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		char text[512];
		struct conf conf;
		consul_error err = { 0 };
		const char *path;

		snprintf(text, sizeof(text),
		         "command = [ \"/bin/true\" ];\nservices = ( { name = \"web\"; } );\n%s",
		         cases[i].section);
		path = write_conf(text);
		conf_init(&conf);
		cr_assert_eq(conf_file_load(&conf, path, &err), -1, "accepted: %s",
		             cases[i].section);
		cr_assert_str_eq(err.source, path);
		cr_assert_eq(err.line, cases[i].line, "%s: line %d", err.text, err.line);
		cr_assert(strstr(err.text, cases[i].needle) != NULL, "%s", err.text);
		conf_free(&conf);
		remove_conf();
	}
}
