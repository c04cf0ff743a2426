/*
 * main.c - ostiary: wrap a process, register it with the local Consul agent
 * with a TTL check, keep the check fed while the process runs, deregister
 * on every way out, and exit with the process's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ostiary/consul.h>

#include "agent.h"
#include "child.h"
#include "ev.h"
#include "exitcode.h"
#include "log.h"
#include "options.h"
#include "sig.h"
#include "supervisor.h"

static const char *
main_getenv(const char *name)
{
	return getenv(name);
}

static void
main_warn(void *arg, const char *message)
{
	log_warnx("%s", message);
}

static void
main_report_usage_error(const consul_error *err)
{
	if (err->line > 0)
		log_errorx("%s:%d: %s", err->source, err->line, err->text);
	else if (err->source[0] != '\0')
		log_errorx("%s: %s", err->source, err->text);
	else
		log_errorx("%s", err->text);
}

/* Everything after the options are in: start the child, then the session. */
static int
main_run(struct options *opts)
{
	consul_service service;
	consul_check check;
	struct child child;
	consul_error err = { 0 };
	consul_client *client;
	ev_loop *loop = NULL;
	struct agent *agent = NULL;
	int signal_fd, code;

	options_service(opts, &service, &check);
	client = consul_client_new(&opts->consul, &err);
	if (client == NULL) {
		main_report_usage_error(&err);
		return OSTIARY_EXIT_USAGE;
	}
	loop = ev_loop_new();
	signal_fd = sig_init();
	if (loop == NULL || signal_fd < 0)
		fatal("cannot set up the event loop");
	if (opts->subreaper && supervisor_become_subreaper() < 0)
		log_warn("--subreaper");

	/* The child starts whatever the agent is doing. */
	code = child_spawn(&child, opts->command);
	if (code == 0) {
		struct agent_settings settings = {
			.service = &service,
			.check_id = opts->check_id,
			.heartbeat_ms = opts->heartbeat_ms,
			.retry_max_ms = opts->retry_max_ms,
		};
		struct supervisor_settings sup = { .kill_timeout_ms = opts->kill_timeout_ms };

		agent = agent_new(loop, client, &settings);
		if (agent == NULL)
			fatalx("out of memory");
		code = supervisor_run(loop, agent, &child, signal_fd, &sup);
	}
	agent_free(agent);
	ev_loop_free(loop);
	consul_client_free(client);
	return code;
}

int
main(int argc, char **argv)
{
	struct options opts;
	consul_error err = { 0 };
	int code;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "ostiary: error: cannot initialise libcurl\n");
		return OSTIARY_EXIT_INTERNAL;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (options_parse(&opts, argc, argv, main_getenv, main_warn, &err) < 0) {
		main_report_usage_error(&err);
		options_free(&opts);
		curl_global_cleanup();
		return OSTIARY_EXIT_USAGE;
	}
	if (opts.show_help || opts.show_version) {
		if (opts.show_help)
			options_usage(stdout);
		else
			printf("ostiary %s\n", OSTIARY_VERSION);
		options_free(&opts);
		curl_global_cleanup();
		return 0;
	}
	log_init(opts.verbosity);
	code = main_run(&opts);
	options_free(&opts);
	curl_global_cleanup();
	return code;
}
