/* check.c - the health-check engine (see check.h). */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "probe.h"
#include "status.h"

struct check {
	struct checks *checks;
	const struct check_conf *conf;
	struct agent_check *agent_check;
	struct probe *probe; /* NULL for PROBE_PROCESS */
	struct check_threshold threshold;
	int passes; /* in a row, until ready */
	bool ready; /* ready_after passes seen (probes) */
	bool has_status;
	enum consul_status status; /* the last status decided */
	char *output;              /* ... and its output */
	ev_timer run_timer;
	struct status_check *st;
	int64_t started_us; /* the running probe's start, for its duration */
};

struct checks {
	ev_loop *loop;
	const struct conf *conf;
	struct check *items;
	size_t nitems;
	bool stopped;
	char *hold; /* every check reports critical with this output; NULL = off */
};

/* -------------------------------------------------------------- threshold */

void
check_threshold_init(struct check_threshold *t, int success_before_passing,
                     int failures_before_warning, int failures_before_critical)
{
	t->success_before_passing = success_before_passing;
	t->failures_before_critical = failures_before_critical;
	/* agent.go addCheck: an unset warning threshold equals the critical one. */
	t->failures_before_warning =
	        failures_before_warning > 0 ? failures_before_warning : failures_before_critical;
	t->successes = success_before_passing;
	t->failures = failures_before_critical;
}

bool
check_threshold_apply(struct check_threshold *t, enum consul_status result,
                      enum consul_status *report)
{
	if (result == CONSUL_PASSING || result == CONSUL_WARNING) {
		t->successes++;
		t->failures = 0;
		if (t->successes < t->success_before_passing)
			return false;
		*report = result;
		return true;
	}
	t->failures++;
	t->successes = 0;
	if (t->failures >= t->failures_before_critical) {
		*report = CONSUL_CRITICAL;
		return true;
	}
	if (t->failures >= t->failures_before_warning) {
		*report = CONSUL_WARNING;
		return true;
	}
	return false;
}

/* ----------------------------------------------------------------- funnel */

/* What the agent hears: the decided status, unless the checks are held;
 * `now` when the output says something new (see agent_check_report). */
static void
check_forward(struct check *check, bool now)
{
	const char *hold = check->checks->hold;

	if (hold != NULL)
		agent_check_report(check->agent_check, CONSUL_CRITICAL, hold, now);
	else if (check->has_status)
		agent_check_report(check->agent_check, check->status, check->output, now);
	else
		agent_check_report(check->agent_check, CONSUL_CRITICAL, "no result yet", now);
}

static void
check_decide(struct check *check, enum consul_status status, const char *output)
{
	bool first = !check->has_status;
	char *copy = strdup(output);

	if (copy == NULL) {
		log_warnx("out of memory recording the output of %s", check->conf->id);
		return;
	}
	free(check->output);
	check->output = copy;
	check->has_status = true;
	check->status = status;
	/* The first result replaces "no result yet" at once, whatever its
	 * status: a failing check shows why straight away. */
	check_forward(check, first);
}

/* Readiness: a probe's first passing report needs ready_after passes in a
 * row; until then a pass reads as critical, saying how far along it is. */
static bool
check_ready(struct check *check, enum consul_status result, const char *output)
{
	int needed = check->checks->conf->ready_after;
	char note[CONSUL_OUTPUT_MAX_SIZE + 128];

	if (check->ready || check->probe == NULL)
		return true;
	if (result == CONSUL_CRITICAL) {
		check->passes = 0;
		return true;
	}
	if (++check->passes >= needed) {
		check->ready = true;
		return true;
	}
	snprintf(note, sizeof(note), "not ready yet: %d of %d passes in a row; last: %s",
	         check->passes, needed, output);
	check_decide(check, CONSUL_CRITICAL, note);
	return false;
}

/* A new status, and what the agent has been told of it. */
static void
check_log_change(const struct check *check, enum consul_status report, const char *output)
{
	const char *unsent = agent_check_unsent(check->agent_check);
	char told[128] = "";

	if (check->checks->hold != NULL)
		snprintf(told, sizeof(told), " (reported critical while held)");
	else if (unsent != NULL)
		snprintf(told, sizeof(told), " (not told to the agent yet: %s)", unsent);
	if (report == CONSUL_PASSING)
		log_notice("check %s is passing%s", check->conf->id, told);
	else
		log_notice("check %s is %s%s: %s", check->conf->id, consul_status_name(report),
		           told, output);
}

/* Every result of every check comes through here. */
static void
check_result(struct check *check, enum consul_status result, const char *output)
{
	enum consul_status report;

	if (check->checks->stopped || !check_ready(check, result, output))
		return;
	if (!check_threshold_apply(&check->threshold, result, &report)) {
		log_info("check %s: %s result held back by its thresholds", check->conf->id,
		         consul_status_name(result));
		return;
	}
	if (!check->has_status || check->status != report)
		check_log_change(check, report, output);
	check_decide(check, report, output);
}

/* ---------------------------------------------------------------- probes */

/* Probe durations in microseconds: the loop's clock has milliseconds, and
 * a loopback probe takes less than one. */
static int64_t
check_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
check_probe_done(void *arg, enum consul_status status, const char *output)
{
	struct check *check = arg;

	check_result(check, status, output);
	status_check_probe(check->st, status, check_clock_us() - check->started_us,
	                   check->threshold.successes, check->threshold.failures);
	/* Like Consul's checks: the next run starts an interval after this
	 * one ended, so runs never overlap. */
	if (!check->checks->stopped) {
		ev_timer_start(check->checks->loop, &check->run_timer, check->conf->interval_ms);
		status_check_next_run(check->st, check->conf->interval_ms);
	}
}

static int64_t
check_run(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct check *check = arg;

	check->started_us = check_clock_us();
	if (probe_start(check->probe, check_probe_done, check) < 0)
		log_debug("check %s: previous run still going", check->conf->id);
	return EV_TIMER_STOP;
}

static int
check_setup(struct check *check, struct checks *checks, struct agent_check *agent_check,
            const struct check_conf *conf, consul_error *err)
{
	check->checks = checks;
	check->conf = conf;
	check_threshold_init(&check->threshold, conf->success_before_passing,
	                     conf->failures_before_warning, conf->failures_before_critical);
	ev_timer_init(&check->run_timer, check_run, check);
	/* Thousands of probes wake the loop once per batch, not once each: a
	 * wakeup costs more than a loopback TCP connect. */
	ev_timer_set_period_slack(&check->run_timer, conf->interval_ms);
	if (conf->kind != PROBE_PROCESS &&
	    (check->probe = probe_new(checks->loop, conf, err)) == NULL)
		return -1;
	check->agent_check = agent_check;
	check->st = status_check(conf->id);
	return 0;
}

/* ------------------------------------------------------------- lifecycle */

struct checks *
checks_new(ev_loop *loop, const struct services *services, const struct conf *conf,
           consul_error *err)
{
	struct checks *checks = calloc(1, sizeof(*checks));
	size_t k = 0;

	if (checks == NULL)
		goto nomem;
	checks->loop = loop;
	checks->conf = conf;
	for (size_t s = 0; s < conf->nservices; s++)
		k += conf->services[s].nchecks;
	if ((checks->items = calloc(k + 1, sizeof(*checks->items))) == NULL)
		goto nomem;
	k = 0;
	for (size_t s = 0; s < conf->nservices; s++) {
		const struct service_conf *svc = &conf->services[s];

		for (size_t c = 0; c < svc->nchecks; c++, k++) {
			checks->nitems = k + 1; /* so checks_free sees a half-built one */
			if (check_setup(&checks->items[k], checks, services_check(services, k),
			                &svc->checks[c], err) < 0)
				goto fail;
		}
	}
	return checks;
nomem:
	consul_error_set(err, "ostiary", "out of memory");
fail:
	checks_free(checks);
	return NULL;
}

void
checks_start(struct checks *checks)
{
	for (size_t i = 0; i < checks->nitems; i++) {
		struct check *check = &checks->items[i];
		int64_t spread = check->conf->spread_ms;
		int64_t start;

		if (check->probe == NULL)
			continue;
		start = check->conf->initial_delay_ms + (spread > 0 ? random() % (spread + 1) : 0);
		ev_timer_start(checks->loop, &check->run_timer, start);
		status_check_next_run(check->st, start);
	}
}

void
checks_process_state(struct checks *checks, enum consul_status status, const char *output)
{
	for (size_t i = 0; i < checks->nitems; i++)
		if (checks->items[i].conf->kind == PROBE_PROCESS)
			check_result(&checks->items[i], status, output);
}

void
checks_hold(struct checks *checks, const char *reason)
{
	char *copy = NULL;

	if (reason != NULL && checks->hold != NULL && strcmp(reason, checks->hold) == 0)
		return;
	if (reason != NULL && (copy = strdup(reason)) == NULL) {
		log_warnx("out of memory holding the checks");
		return;
	}
	if (copy != NULL)
		log_info("checks held critical: %s", copy);
	else if (checks->hold != NULL)
		log_info("checks released");
	free(checks->hold);
	checks->hold = copy;
	for (size_t i = 0; i < checks->nitems; i++)
		check_forward(&checks->items[i], true);
}

void
checks_reset_readiness(struct checks *checks)
{
	for (size_t i = 0; i < checks->nitems; i++) {
		checks->items[i].ready = false;
		checks->items[i].passes = 0;
	}
}

void
checks_set_kv_env(struct checks *checks, char *const *env)
{
	for (size_t i = 0; i < checks->nitems; i++) {
		struct check *check = &checks->items[i];

		if (check->probe != NULL && probe_set_env(check->probe, env) < 0)
			log_warnx("check %s: out of memory; its environment stays as it was",
			          check->conf->id);
	}
}

void
checks_stop(struct checks *checks)
{
	checks->stopped = true;
	for (size_t i = 0; i < checks->nitems; i++) {
		ev_timer_stop(checks->loop, &checks->items[i].run_timer);
		if (checks->items[i].probe != NULL)
			probe_cancel(checks->items[i].probe);
	}
}

void
checks_free(struct checks *checks)
{
	if (checks == NULL)
		return;
	for (size_t i = 0; i < checks->nitems; i++) {
		ev_timer_stop(checks->loop, &checks->items[i].run_timer);
		if (checks->items[i].probe != NULL)
			probe_free(checks->items[i].probe);
		free(checks->items[i].output);
	}
	free(checks->hold);
	free(checks->items);
	free(checks);
}
