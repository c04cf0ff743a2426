/* "Supervise exactly": one event is one line, hostile files are refused at
 * once, errors name what is wrong. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* Number of lines of out that are exactly line. */
static int
count_lines(const char *out, const char *line)
{
	size_t len = strlen(line);
	int n = 0;

	for (const char *p = out; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t l = nl != NULL ? (size_t)(nl - p) : strlen(p);

		n += l == len && strncmp(p, line, len) == 0;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

Test(exact, a_service_name_cannot_forge_a_log_line)
{
	sim s;
	proc p;
	const char *args[] = { "web\r\nostiary: deregistered service web", "--", "true", NULL };
	char *out;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0);
	out = proc_output(&p);
	cr_assert(strstr(out, "web\\r\\nostiary: deregistered service web") != NULL, "%s", out);
	cr_assert_eq(count_lines(out, "ostiary: deregistered service web"), 0, "forged: %s", out);
	cr_assert_null(strchr(out, '\r'), "%s", out);
	free(out);
	proc_kill(&p);
	sim_stop(&s);
}

/* ------------------------------------------------------------ hostile files */

/* A hang would never end; under valgrind starting alone takes seconds. */
static int
refusal_deadline_ms(void)
{
	return getenv("OSTIARY_VALGRIND_DIR") != NULL ? 20000 : 1000;
}

static void
expect_refused(const char *const *args, const char *const *env, const char *path)
{
	proc p;
	char needle[512];
	long long start = mono_ms(), took;

	start_ostiary(&p, NULL, args, env);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125, "%s: %s", path, proc_output(&p));
	took = mono_ms() - start;
	cr_assert_lt(took, refusal_deadline_ms(), "%s: refused after %lld ms", path, took);
	snprintf(needle, sizeof(needle), "%s: not a regular file", path);
	cr_assert(proc_output_contains(&p, needle), "no \"%s\" in: %s", needle, proc_output(&p));
	cr_assert(!proc_output_contains(&p, "flex"), "%s", proc_output(&p));
	proc_kill(&p);
}

/* The directory, a FIFO and a device, each given as FILE by make_args. */
typedef void (*hostile_case)(const char *path, bool check_only);

static void
for_each_hostile(hostile_case run)
{
	const char *fifo = scratch_path("fifo"), *d = scratch_path("dir");

	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(mkdir(d, 0700), 0);
	for (int check_only = 0; check_only <= 1; check_only++) {
		run(d, check_only);
		run(fifo, check_only);
		run("/dev/zero", check_only);
	}
}

static void
config_file_case(const char *path, bool check_only)
{
	const char *args[] = { check_only ? "-t" : "-v", "-c", path, NULL };

	expect_refused(args, NULL, path);
}

static void
service_file_case(const char *path, bool check_only)
{
	const char *args[] = {
		check_only ? "-t" : "-v", "--service-file", path, "--", "true", NULL
	};

	expect_refused(args, NULL, path);
}

static void
token_file_case(const char *path, bool check_only)
{
	const char *args[] = {
		check_only ? "-t" : "-v", "--token-file", path, "web", "--", "true", NULL
	};

	expect_refused(args, NULL, path);
}

static void
token_env_case(const char *path, bool check_only)
{
	char var[300];
	const char *args[] = { check_only ? "-t" : "-v", "web", "--", "true", NULL };
	const char *env[] = { var, NULL };

	snprintf(var, sizeof(var), "CONSUL_HTTP_TOKEN_FILE=%s", path);
	expect_refused(args, env, path);
}

/* Named by a configuration file: service_files and agent.token_file. */
static void
named_in_config_case(const char *path, bool check_only)
{
	const char *conf = scratch_path("named.conf");
	const char *args[] = { check_only ? "-t" : "-v", "-c", conf, NULL };

	for (int token = 0; token <= 1; token++) {
		FILE *f = fopen(conf, "w");

		cr_assert_not_null(f);
		fputs("command = [ \"true\" ];\n", f);
		if (token)
			fprintf(f,
			        "agent = { token_file = \"%s\"; };\n"
			        "services = ( { name = \"web\"; } );\n",
			        path);
		else
			fprintf(f, "service_files = [ \"%s\" ];\n", path);
		fclose(f);
		expect_refused(args, NULL, path);
	}
}

Test(exact, hostile_config_file)
{
	for_each_hostile(config_file_case);
}

Test(exact, hostile_service_file)
{
	for_each_hostile(service_file_case);
}

Test(exact, hostile_token_file)
{
	for_each_hostile(token_file_case);
}

Test(exact, hostile_token_file_from_the_environment)
{
	for_each_hostile(token_env_case);
}

Test(exact, hostile_files_named_in_the_config_file)
{
	for_each_hostile(named_in_config_case);
}

/* ------------------------------------------------------------ named errors */

Test(exact, a_long_service_name_is_named_in_the_error)
{
	proc p;
	char *name = malloc(10001);
	const char *args[] = { "-t", name, "--", "true", NULL };

	memset(name, 'a', 10000);
	name[10000] = '\0';
	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_assert(proc_output_contains(&p, "service name \"aaaa"), "%s", proc_output(&p));
	cr_assert(proc_output_contains(&p, "10000 characters, more than 512"), "%s",
	          proc_output(&p));
	cr_assert(!proc_output_contains(&p, "owner must be"), "%s", proc_output(&p));
	proc_kill(&p);
	free(name);
}

/* ------------------------------------------------------ descriptor limits */

/* valgrind virtualises RLIMIT_NOFILE (the program's hard limit is its soft
 * one, minus valgrind's own descriptors) and takes long over 2,000 checks:
 * nothing of this can be seen under it. */
#define NOFILE_UNDER_VALGRIND "RLIMIT_NOFILE is valgrind's under valgrind"

/* 2,000 TCP checks against a closed local port. */
static const char *
many_checks_conf(void)
{
	const char *path = scratch_path("many.conf");
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs("command = [ \"sleep\", \"30\" ];\nservices = ( { name = \"many\"; checks = (\n", f);
	for (int i = 0; i < 2000; i++)
		fprintf(f, "%s{ type = \"tcp\"; tcp = \"127.0.0.1:1\"; id = \"c%d\"; }\n",
		        i ? "," : "", i);
	fputs("); } );\n", f);
	fclose(f);
	return path;
}

/* ostiary ARGS under `ulimit -n 256` (soft and hard). */
static void
start_limited(proc *p, const sim *s, const char *conf, bool check_only)
{
	const char *argv[] = { "/bin/sh",
		               "-c",
		               "ulimit -n 256 && exec \"$0\" \"$@\"",
		               ostiary_bin(),
		               check_only ? "-t" : "-v",
		               "--http-addr",
		               s != NULL ? s->agent_addr : "127.0.0.1:1",
		               "-c",
		               conf,
		               NULL };

	cr_assert_eq(proc_start(p, argv, NULL), 0);
}

#define FD_WARNING                                                                                 \
	"the checks may need up to 2033 file descriptors but the limit is 256 (RLIMIT_NOFILE, "    \
	"soft raised to hard): 16 base + 17 agent + 2000 tcp x 1"

Test(exact, too_many_checks_for_the_descriptor_limit_are_reported_by_check_config)
{
	proc p;

	skip_under_valgrind(NOFILE_UNDER_VALGRIND);
	start_limited(&p, NULL, many_checks_conf(), true);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0, "%s", proc_output(&p));
	cr_assert(proc_output_contains(&p, "warning: " FD_WARNING), "%s", proc_output(&p));
	proc_kill(&p);
}

Test(exact, too_many_checks_for_the_descriptor_limit_are_reported_at_start)
{
	sim s;
	proc p;

	skip_under_valgrind(NOFILE_UNDER_VALGRIND);
	start_sim(&s, NULL);
	start_limited(&p, &s, many_checks_conf(), false);
	cr_assert(wait_output(&p, "warning: " FD_WARNING, DEADLINE_MS), "%s", proc_output(&p));
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}

/* With the soft limit below the need and the hard one above it, ostiary
 * raises its own and has nothing to say. */
Test(exact, no_descriptor_warning_when_the_hard_limit_suffices)
{
	proc p;
	struct rlimit rl;
	const char *argv[] = { "/bin/sh",          "-c", "ulimit -S -n 1024 && exec \"$0\" \"$@\"",
		               ostiary_bin(),      "-t", "-c",
		               many_checks_conf(), NULL };

	skip_under_valgrind(NOFILE_UNDER_VALGRIND);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4096)
		cr_skip_test("hard RLIMIT_NOFILE %llu", (unsigned long long)rl.rlim_max);
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0, "%s", proc_output(&p));
	cr_assert(!proc_output_contains(&p, "file descriptors"), "%s", proc_output(&p));
	proc_kill(&p);
}

/* The raised limit is ostiary's own: the command gets the one it had. */
Test(exact, the_command_keeps_the_original_soft_limit)
{
	sim s;
	proc p;
	struct rlimit rl;
	const char *argv[] = { "/bin/sh",
		               "-c",
		               "ulimit -S -n 1024 && exec \"$0\" \"$@\"",
		               ostiary_bin(),
		               "--http-addr",
		               NULL,
		               "web",
		               "--",
		               "sh",
		               "-c",
		               "echo soft=$(ulimit -S -n)",
		               NULL };

	skip_under_valgrind(NOFILE_UNDER_VALGRIND);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 1024)
		cr_skip_test("hard RLIMIT_NOFILE %llu", (unsigned long long)rl.rlim_max);
	start_sim(&s, NULL);
	argv[5] = s.agent_addr;
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 0, "%s", proc_output(&p));
	cr_assert(proc_output_contains(&p, "soft=1024"), "%s", proc_output(&p));
	proc_kill(&p);
	sim_stop(&s);
}

/* ------------------------------------------------------ programs under -t */

Test(exact, check_config_fails_when_the_command_is_not_found)
{
	proc p;
	const char *args[] = { "-t", "web", "--", "no-such-program-ostiary", NULL };

	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_assert(proc_output_contains(&p, "error: COMMAND: command \"no-such-program-ostiary\" "
	                                   "not found on PATH"),
	          "%s", proc_output(&p));
	proc_kill(&p);
}

Test(exact, check_config_fails_when_the_command_is_not_executable)
{
	proc p;
	const char *script = scratch_path("noexec.sh");
	const char *args[] = { "-t", "web", "--", script, NULL };
	FILE *f = fopen(script, "w");

	cr_assert_not_null(f);
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(script, 0644);
	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	cr_assert(proc_output_contains(&p, "is not executable by uid"), "%s", proc_output(&p));
	proc_kill(&p);
}

Test(exact, check_config_names_the_probe_whose_program_is_missing)
{
	proc p;
	const char *conf = scratch_path("probe.conf");
	const char *args[] = { "-t", "-c", conf, NULL };
	char where[400];
	FILE *f = fopen(conf, "w");

	cr_assert_not_null(f);
	fputs("command = [ \"true\" ];\n"
	      "services = ( { name = \"web\"; checks = (\n"
	      "  { type = \"exec\"; args = [ \"true\" ]; },\n"
	      "  { type = \"exec\"; args = [ \"no-such-probe-ostiary\" ]; }\n"
	      "); } );\n",
	      f);
	fclose(f);
	start_ostiary(&p, NULL, args, NULL);
	cr_assert_eq(exit_code(expect_exit(&p, DEADLINE_MS)), 125);
	snprintf(where, sizeof(where),
	         "%s:4: check service:web:2: program \"no-such-probe-ostiary\" not found on PATH "
	         "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	         conf);
	cr_assert(proc_output_contains(&p, where), "%s", proc_output(&p));
	proc_kill(&p);
}
