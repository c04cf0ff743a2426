/* -t finds the programs ostiary would run and checks they can be run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progcheck.h"

static struct conf conf;
static char dir[] = "/tmp/ostiary-progcheck-XXXXXX";
static char prog[64], noexec[64], privdir[64], privprog[80];

static void
write_script(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0); /* mkdtemp makes it 0700 */
	snprintf(prog, sizeof(prog), "%s/prog", dir);
	snprintf(noexec, sizeof(noexec), "%s/noexec", dir);
	snprintf(privdir, sizeof(privdir), "%s/priv", dir);
	snprintf(privprog, sizeof(privprog), "%s/prog", privdir);
	write_script(prog, 0755);
	write_script(noexec, 0644);
	cr_assert_eq(mkdir(privdir, 0700), 0);
	write_script(privprog, 0755);
	conf_init(&conf);
}

static void
teardown(void)
{
	conf_free(&conf);
	unlink(privprog);
	rmdir(privdir);
	unlink(prog);
	unlink(noexec);
	rmdir(dir);
}

TestSuite(progcheck, .init = setup, .fini = teardown);

static char **
argv1(const char *a)
{
	char **v = calloc(2, sizeof(*v));

	v[0] = strdup(a);
	return v;
}

static struct check_conf *
exec_check(const char *program)
{
	struct service_conf *svc = conf_add_service(&conf);
	struct check_conf *check = conf_add_check(svc, PROBE_EXEC);

	check->id = strdup("web:disk");
	check->origin = strdup("test.conf:7");
	check->args = argv1(program);
	return check;
}

Test(progcheck, command_found_on_path)
{
	consul_error err = { 0 };

	conf.command = argv1("sh");
	cr_assert_eq(progcheck_command(&conf, &err), 0, "%s", err.text);
}

Test(progcheck, command_not_found_is_named)
{
	consul_error err = { 0 };

	conf.command = argv1("no-such-program-ostiary");
	cr_assert_eq(progcheck_command(&conf, &err), -1);
	cr_assert_str_eq(err.source, "COMMAND");
	cr_assert(strstr(err.text, "\"no-such-program-ostiary\" not found on PATH") != NULL, "%s",
	          err.text);
}

Test(progcheck, command_not_executable_is_named)
{
	consul_error err = { 0 };

	conf.command = argv1(noexec);
	cr_assert_eq(progcheck_command(&conf, &err), -1);
	cr_assert(strstr(err.text, "is not executable by uid") != NULL, "%s", err.text);
	cr_assert(strstr(err.text, "mode 0644") != NULL, "%s", err.text);
}

Test(progcheck, probe_uses_the_clean_path_not_ostiarys)
{
	consul_error err = { 0 };
	char path[300];

	/* Found on ostiary's PATH but not on the probe's fixed one. */
	snprintf(path, sizeof(path), "%s:%s", dir, getenv("PATH") ? getenv("PATH") : "");
	setenv("PATH", path, 1);
	exec_check("prog");
	cr_assert_eq(progcheck_probes(&conf, &err), -1);
	cr_assert_str_eq(err.source, "test.conf:7");
	cr_assert(strstr(err.text, "check web:disk: program \"prog\" not found on PATH "
	                           "/usr/local/sbin:") != NULL,
	          "%s", err.text);
	/* inherit_env: ostiary's PATH. */
	conf.services[0].checks[0].inherit_env = true;
	cr_assert_eq(progcheck_probes(&conf, &err), 0, "%s", err.text);
}

Test(progcheck, probe_env_path_is_searched)
{
	consul_error err = { 0 };
	struct check_conf *check = exec_check("prog");
	char var[100];

	snprintf(var, sizeof(var), "PATH=%s", dir);
	check->env = argv1(var);
	cr_assert_eq(progcheck_probes(&conf, &err), 0, "%s", err.text);
}

Test(progcheck, shell_probe_needs_only_sh)
{
	consul_error err = { 0 };
	struct check_conf *check = exec_check("no-such-thing && exit 1");

	check->shell = true;
	cr_assert_eq(progcheck_probes(&conf, &err), 0, "%s", err.text);
}

Test(progcheck, probe_user_must_reach_the_program)
{
	consul_error err = { 0 };
	struct check_conf *check;

	if (geteuid() != 0)
		cr_skip_test("needs root: runs a probe as nobody");
	check = exec_check(privprog);
	/* Root could run it: a check as root would pass. */
	cr_assert_eq(progcheck_probes(&conf, &err), 0, "%s", err.text);
	check->user = strdup("nobody");
	cr_assert_eq(progcheck_probes(&conf, &err), -1);
	cr_assert(strstr(err.text, "is not searchable by user nobody") != NULL, "%s", err.text);
	/* Mode bits, not root's access(2): 0744 is not executable for nobody. */
	cr_assert_eq(chmod(privdir, 0755), 0);
	cr_assert_eq(chmod(privprog, 0744), 0);
	cr_assert_eq(progcheck_probes(&conf, &err), -1);
	cr_assert(strstr(err.text, "is not executable by user nobody") != NULL, "%s", err.text);
	cr_assert_eq(chmod(privprog, 0755), 0);
	cr_assert_eq(progcheck_probes(&conf, &err), 0, "%s", err.text);
}
