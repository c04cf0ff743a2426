/*
 * main.c - ostiary: wrap a process, register it with the local Consul agent
 * with TTL checks, keep the checks fed while the process runs, deregister
 * on every way out, and exit with the process's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ostiary/consul.h>

#include "agent.h"
#include "check.h"
#include "conf.h"
#include "ev.h"
#include "exitcode.h"
#include "fdlimit.h"
#include "log.h"
#include "options.h"
#include "sig.h"
#include "supervisor.h"

/* Everything a run needs besides the child; built before the child starts
 * so that a configuration that cannot work never starts anything. */
struct engine {
	consul_client *client;
	ev_loop *loop;
	struct agent *agent;
	struct checks *checks;
};

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
main_report_error(const consul_error *err)
{
	if (err->line > 0)
		log_errorx("%s:%d: %s", err->source, err->line, err->text);
	else if (err->source[0] != '\0')
		log_errorx("%s: %s", err->source, err->text);
	else
		log_errorx("%s", err->text);
}

/* Repeated warnings are summed up when their window ends, not only when
 * the next line comes: a timer armed only while something is held back. */
static ev_timer main_log_timer;

static int64_t
main_log_tick(ev_loop *loop, ev_timer *timer, void *arg)
{
	int64_t next;

	log_tick();
	next = log_next_due();
	return next < 0 ? EV_TIMER_STOP : next;
}

static void
main_log_arm(int64_t after_ms, void *arg)
{
	ev_loop *loop = arg;

	if (!ev_timer_active(&main_log_timer) || main_log_timer.due > ev_now(loop) + after_ms)
		ev_timer_start(loop, &main_log_timer, after_ms);
}

static void
main_engine_free(struct engine *engine)
{
	if (engine->loop != NULL) {
		log_set_repeat_hook(NULL, NULL);
		ev_timer_stop(engine->loop, &main_log_timer);
	}
	checks_free(engine->checks);
	agent_free(engine->agent);
	ev_loop_free(engine->loop);
	consul_client_free(engine->client);
}

static int
main_engine_new(struct engine *engine, const struct conf *conf, consul_error *err)
{
	struct agent_settings settings = {
		.retry_max_ms = conf->retry_max_ms,
		.fail_closed_ms = conf->fail_closed_ms,
		.verify_interval_ms = conf->verify_interval_ms,
		.owner = conf->owner,
	};

	engine->client = consul_client_new(&conf->consul, err);
	if (engine->client == NULL)
		return -1;
	engine->loop = ev_loop_new();
	if (engine->loop != NULL) {
		ev_timer_init(&main_log_timer, main_log_tick, NULL);
		log_set_repeat_hook(main_log_arm, engine->loop);
	}
	engine->agent = engine->loop ? agent_new(engine->loop, engine->client, &settings) : NULL;
	if (engine->agent == NULL)
		return consul_error_set(err, "ostiary", "out of memory");
	engine->checks = checks_new(engine->loop, engine->agent, conf, err);
	return engine->checks != NULL ? 0 : -1;
}

static int
main_run(const struct conf *conf, bool check_only)
{
	struct engine engine = { 0 };
	consul_error err = { 0 };
	int signal_fd, code;

	fdlimit_check(conf);
	if (main_engine_new(&engine, conf, &err) < 0) {
		main_report_error(&err);
		main_engine_free(&engine);
		return OSTIARY_EXIT_USAGE;
	}
	if (check_only) {
		printf("ostiary: configuration OK: %zu service%s\n", conf->nservices,
		       conf->nservices == 1 ? "" : "s");
		main_engine_free(&engine);
		return 0;
	}
	if ((signal_fd = sig_init()) < 0)
		fatal("cannot set up signal handling");
	if (conf->subreaper && supervisor_become_subreaper() < 0)
		log_warn("--subreaper");
	code = supervisor_run(&(struct supervisor_env){
	        .loop = engine.loop,
	        .client = engine.client,
	        .agent = engine.agent,
	        .checks = engine.checks,
	        .conf = conf,
	        .signal_fd = signal_fd,
	});
	main_engine_free(&engine);
	return code;
}

int
main(int argc, char **argv)
{
	struct conf conf;
	struct options_request req;
	consul_error err = { 0 };
	int code;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "ostiary: error: cannot initialise libcurl\n");
		return OSTIARY_EXIT_INTERNAL;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (options_parse(&conf, &req, argc, argv, main_getenv, main_warn, &err) < 0) {
		main_report_error(&err);
		code = OSTIARY_EXIT_USAGE;
	} else if (req.help) {
		options_usage(stdout);
		code = 0;
	} else if (req.version) {
		printf("ostiary %s\n", OSTIARY_VERSION);
		code = 0;
	} else {
		log_init(conf.verbosity);
		code = main_run(&conf, req.check_only);
	}
	log_flush();
	conf_free(&conf);
	curl_global_cleanup();
	return code;
}
