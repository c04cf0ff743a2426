/*
 * main.c - ostiary: wrap a process, register it with the local Consul agent
 * with TTL checks, keep the checks fed while the process runs, deregister
 * on every way out, and exit with the process's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "kvconf.h"
#include "listenfd.h"
#include "log.h"
#include "conf_options.h"
#include "ctl.h"
#include "metrics.h"
#include "progcheck.h"
#include "service.h"
#include "sig.h"
#include "status.h"
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
main_engine_free(struct supervisor_env *env)
{
	if (env->loop != NULL) {
		log_set_repeat_hook(NULL, NULL);
		ev_timer_stop(env->loop, &main_log_timer);
	}
	kvconf_free(env->kv);
	checks_free(env->checks);
	services_free(env->services);
	agent_free(env->agent);
	status_free();
	ev_loop_free(env->loop);
	consul_client_free(env->client);
}

static int
main_engine_new(struct supervisor_env *env, const struct conf *conf, consul_error *err)
{
	struct agent_settings settings = {
		.retry_max_ms = conf->retry_max_ms,
		.fail_closed_ms = conf->fail_closed_ms,
		.verify_interval_ms = conf->verify_interval_ms,
		.owner_key = CONF_OWNER_META_KEY,
		.owner = conf->owner,
	};

	char *address;

	env->conf = conf;
	env->client = consul_client_new(&conf->consul, err);
	if (env->client == NULL)
		return -1;
	/* Before the engines: they look their snapshot entries up. */
	address = consul_config_describe(consul_client_config(env->client));
	if (address == NULL || status_init(conf, address) < 0) {
		free(address);
		return consul_error_set(err, "ostiary", "out of memory");
	}
	free(address);
	env->loop = ev_loop_new();
	if (env->loop != NULL) {
		ev_timer_init(&main_log_timer, main_log_tick, NULL);
		log_set_repeat_hook(main_log_arm, env->loop);
	}
	env->agent = env->loop ? agent_new(env->loop, env->client, &settings) : NULL;
	if (env->agent == NULL)
		return consul_error_set(err, "ostiary", "out of memory");
	if ((env->services = services_new(env->agent, conf, err)) == NULL)
		return -1;
	if ((env->checks = checks_new(env->loop, env->services, conf, err)) == NULL)
		return -1;
	if (conf_kv_used(conf) && (env->kv = kvconf_new(env->loop, env->client, conf)) == NULL)
		return consul_error_set(err, "ostiary", "out of memory");
	return 0;
}

/* The readers of the status snapshot: the control socket and the metrics. */
static int
main_observe(struct supervisor_env *env, struct ctl **ctl, struct metrics **metrics,
             consul_error *err)
{
	char buf[PATH_MAX];
	const char *path;

	if (env->conf->metrics_addr != NULL &&
	    (*metrics = metrics_new(env->loop, env->conf->metrics_addr, err)) == NULL)
		return -1;
	if (ctl_socket_path(env->conf, buf, sizeof(buf), &path, err) < 0)
		return -1;
	if (path == NULL) {
		log_info("no status socket (--status-socket none, or no runtime directory)");
		return 0;
	}
	*ctl = ctl_new(env->loop, env->agent, path, err);
	return *ctl != NULL ? 0 : -1;
}

static int
main_run(const struct conf *conf, bool check_only)
{
	struct supervisor_env env = { .signal_fd = -1 };
	struct ctl *ctl = NULL;
	struct metrics *metrics = NULL;
	consul_error err = { 0 };
	int code;

	fdlimit_check(conf);
	if (main_engine_new(&env, conf, &err) < 0) {
		main_report_error(&err);
		main_engine_free(&env);
		return OSTIARY_EXIT_USAGE;
	}
	if (check_only && (progcheck_command(conf, &err) < 0 || progcheck_probes(conf, &err) < 0)) {
		main_report_error(&err);
		main_engine_free(&env);
		return OSTIARY_EXIT_USAGE;
	}
	if (check_only) {
		printf("ostiary: configuration OK: %zu service%s\n", conf->nservices,
		       conf->nservices == 1 ? "" : "s");
		main_engine_free(&env);
		return 0;
	}
	/* A socket another ostiary answers on stops us before anything starts. */
	if (main_observe(&env, &ctl, &metrics, &err) < 0) {
		main_report_error(&err);
		metrics_free(metrics);
		main_engine_free(&env);
		return OSTIARY_EXIT_USAGE;
	}
	if ((env.signal_fd = sig_init()) < 0)
		fatal("cannot set up signal handling");
	if (conf->subreaper && supervisor_become_subreaper() < 0)
		log_warn("--subreaper");
	code = supervisor_run(&env);
	ctl_free(ctl);
	metrics_free(metrics);
	main_engine_free(&env);
	return code;
}

/*
 * Started with 0, 1 or 2 closed (a careless parent, `<&-`), the first
 * descriptors ostiary opens would land there and the command would read or
 * write them as its stdio.  /dev/null holds their places; failing that, go
 * on (spawn.c still keeps ostiary's descriptors from the command).
 */
static void
main_stdio(void)
{
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* The lowest free descriptor: fd itself, the ones below are open. */
		if (open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY) < 0)
			return;
	}
}

int
main(int argc, char **argv)
{
	struct conf conf;
	struct conf_options_request req;
	consul_error err = { 0 };
	int code;

	main_stdio();
	/* Socket activation: before anything opens a descriptor or a thread. */
	if (!ctl_is_client(argc, argv))
		listenfd_take();
	if (ctl_is_client(argc, argv))
		return ctl_client_main(argc - 1, argv + 1);
	log_set_stamp(log_stamp_detect());
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "ostiary: error: cannot initialise libcurl\n");
		return OSTIARY_EXIT_INTERNAL;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (conf_options_parse(&conf, &req, argc, argv, main_getenv, main_warn, &err) < 0) {
		main_report_error(&err);
		code = OSTIARY_EXIT_USAGE;
	} else if (req.help) {
		conf_options_usage(stdout);
		code = 0;
	} else if (req.version) {
		printf("ostiary %s\n", OSTIARY_VERSION);
		code = 0;
	} else {
		log_init(conf.verbosity);
		log_set_format((enum log_format)conf.log_format);
		conf_options_warn_unknown_env(environ, main_warn);
		code = main_run(&conf, req.check_only);
	}
	log_flush();
	conf_free(&conf);
	curl_global_cleanup();
	return code;
}
