/*
 * fuzz_conf.c - see fuzz_conf.h.
 *
 * The checks below restate the guarantees listed above conf_finish() in
 * conf.c: the engine relies on them without checking again, so a finished
 * conf that breaks one is a bug even when nothing crashes.
 */
#include "fuzz_conf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "fuzz_util.h"

static bool
is_set(const char *s)
{
	return s != NULL && *s != '\0';
}

static void
check_probe(const struct check_conf *c)
{
	FUZZ_ASSERT(c->interval_ms >= CONF_MIN_INTERVAL_MS && c->timeout_ms > 0,
	            "%s: interval %lld, timeout %lld", c->id, (long long)c->interval_ms,
	            (long long)c->timeout_ms);
	FUZZ_ASSERT(c->spread_ms >= 0 && c->initial_delay_ms >= 0, "%s: spread/delay", c->id);
	FUZZ_ASSERT(c->success_before_passing >= 0 && c->failures_before_warning >= 0 &&
	                    c->failures_before_warning <= c->failures_before_critical,
	            "%s: thresholds", c->id);
	/* Subtracting: interval + timeout may overflow where ttl - timeout cannot. */
	FUZZ_ASSERT(c->ttl_ms == 0 || c->ttl_ms - c->timeout_ms > c->interval_ms,
	            "%s: ttl not above interval + timeout", c->id);
	FUZZ_ASSERT(c->kind != PROBE_EXEC || (c->args != NULL && is_set(c->args[0])),
	            "%s: exec without a program", c->id);
	FUZZ_ASSERT(c->kind != PROBE_HTTP || (is_set(c->http_url) && is_set(c->http_method)),
	            "%s: http without url or method", c->id);
	FUZZ_ASSERT(c->kind != PROBE_TCP || is_set(c->tcp_addr), "%s: tcp without address", c->id);
}

static void
check_check(const struct conf *conf, const struct check_conf *c)
{
	FUZZ_ASSERT(is_set(c->id) && is_set(c->name), "a check without id or name");
	FUZZ_ASSERT(c->deregister_after_ms >= 0, "%s: deregister_after %lld", c->id,
	            (long long)c->deregister_after_ms);
	FUZZ_ASSERT(c->output_max_size >= 1 && c->output_max_size <= CONSUL_OUTPUT_MAX_SIZE,
	            "%s: output_max_size %d", c->id, c->output_max_size);
	FUZZ_ASSERT(conf_check_ttl(conf, c) > conf_check_heartbeat(conf, c),
	            "%s: ttl %lld not above heartbeat %lld", c->id,
	            (long long)conf_check_ttl(conf, c), (long long)conf_check_heartbeat(conf, c));
	if (c->kind != PROBE_PROCESS)
		check_probe(c);
}

/* IDs are unique across the whole conf: services among services, checks
 * among checks. */
static void
check_unique_ids(const struct conf *conf)
{
	for (size_t s = 0; s < conf->nservices; s++) {
		const struct service_conf *svc = &conf->services[s];

		for (size_t t = 0; t < s; t++)
			FUZZ_ASSERT(strcmp(svc->id, conf->services[t].id) != 0,
			            "duplicate service id %s", svc->id);
		for (size_t c = 0; c < svc->nchecks; c++) {
			for (size_t t = 0; t <= s; t++) {
				const struct service_conf *o = &conf->services[t];

				for (size_t d = 0; d < (t == s ? c : o->nchecks); d++)
					FUZZ_ASSERT(strcmp(svc->checks[c].id, o->checks[d].id) != 0,
					            "duplicate check id %s", o->checks[d].id);
			}
		}
	}
}

/* What the agent receives: a registration body that is valid JSON. */
static void
check_registration(const struct conf *conf, const struct service_conf *svc)
{
	consul_check_def *checks = calloc(svc->nchecks + 1, sizeof(*checks));
	consul_tagged_address *tagged = calloc(svc->ntagged_addresses + 1, sizeof(*tagged));
	consul_meta *meta = calloc(svc->nmeta + 1, sizeof(*meta));
	consul_service view;
	json_t *body, *back;
	char *text;

	if (checks == NULL || tagged == NULL || meta == NULL)
		abort();
	conf_service_view(conf, svc, &view, checks, tagged, meta);
	FUZZ_ASSERT(consul_service_validate(&view, NULL) == 0, "%s: finished but invalid", svc->id);
	body = consul_service_to_json(&view);
	FUZZ_ASSERT(body != NULL, "%s: no registration body", svc->id);
	text = json_dumps(body, JSON_COMPACT);
	FUZZ_ASSERT(text != NULL, "%s: body does not serialise", svc->id);
	back = json_loads(text, 0, NULL);
	FUZZ_ASSERT(back != NULL && json_equal(body, back), "%s: body does not read back: %s",
	            svc->id, text);
	json_decref(back);
	free(text);
	json_decref(body);
	free(checks);
	free(tagged);
	free(meta);
}

static void
check_service(const struct conf *conf, const struct service_conf *svc)
{
	FUZZ_ASSERT(is_set(svc->name) && is_set(svc->id), "a service without name or id");
	FUZZ_ASSERT(svc->nchecks > 0, "%s: no check", svc->id);
	FUZZ_ASSERT(svc->deregister_after_ms >= 0, "%s: deregister_after", svc->id);
	for (size_t c = 0; c < svc->nchecks; c++)
		check_check(conf, &svc->checks[c]);
	check_registration(conf, svc);
}

static void
check_finished(struct conf *conf)
{
	consul_error err = { 0 };

	FUZZ_ASSERT(conf->nservices > 0 && conf->command != NULL && is_set(conf->command[0]),
	            "finished without a service or a command");
	for (size_t s = 0; s < conf->nservices; s++)
		check_service(conf, &conf->services[s]);
	check_unique_ids(conf);
	/* "Running it twice is harmless": the engine's callers may. */
	FUZZ_ASSERT(conf_finish(conf, &err) == 0, "a second conf_finish failed: %s", err.text);
}

/* A file holding only services has no command; give it one, so that
 * conf_finish gets to the services instead of stopping at the command. */
static void
add_command(struct conf *conf)
{
	static const char *const argv[] = { "/bin/true" };

	if (conf->command == NULL && (conf->command = conf_strv_dup(argv, 1)) == NULL)
		abort();
}

/* OSTIARY_FUZZ_VERBOSE=1 says how far an input got: for writing seeds
 * and reading crashes, never while fuzzing (it would flood the log). */
static void
report(const char *stage, const consul_error *err)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("OSTIARY_FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "%s: %s%s%s\n", stage, err ? err->source : "", err ? ": " : "",
		        err ? err->text : "");
}

void
fuzz_conf_run(fuzz_conf_loader load, const char *name, const uint8_t *data, size_t size)
{
	const char *path = fuzz_files_write(name, data, size);
	struct conf conf;
	consul_error err = { 0 };
	int rc;

	conf_init(&conf);
	fuzz_files_confine(true);
	rc = load(&conf, path, &err);
	fuzz_files_confine(false);
	if (rc < 0) {
		report("load failed", &err);
		FUZZ_ASSERT(err.text[0] != '\0', "load failed without a message");
	} else {
		add_command(&conf);
		if (conf_finish(&conf, &err) == 0) {
			report("finished", NULL);
			check_finished(&conf);
		} else {
			report("conf_finish failed", &err);
			FUZZ_ASSERT(err.text[0] != '\0', "conf_finish failed without a message");
		}
	}
	conf_free(&conf);
}
