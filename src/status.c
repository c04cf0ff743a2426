/* status.c - the status snapshot (see status.h). */
#include "status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Bucket bounds (seconds) for probe and agent request durations: from a
 * loopback TCP connect to an exec probe's default 30 s timeout. */
static const double status_bounds[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	                                0.5,   1,     2.5,  5,     10,   30 };
#define STATUS_NBOUNDS (sizeof(status_bounds) / sizeof(status_bounds[0]))

struct status_hist {
	uint64_t buckets[STATUS_NBOUNDS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

struct status_service {
	const char *id, *name; /* the conf's */
	bool registered;
	bool maintenance;
	char *reason;
};

struct status_check {
	const char *id, *name, *service_id, *kind; /* the conf's */
	bool probed; /* a probe feeds it (not the process check) */
	bool has_reported, has_pushed, has_confirmed;
	enum consul_status reported, pushed, confirmed;
	char *output;
	int64_t last_run;      /* wall ms; 0 = never */
	int64_t next_run_mono; /* mono ms; 0 = none due */
	int successes, failures;
	uint64_t results[3]; /* by enum consul_status */
	struct status_hist duration;
};

/* ostiary_agent_requests_total{endpoint,outcome}: a handful of pairs. */
struct status_request_count {
	char *endpoint, *outcome;
	uint64_t n;
};

struct status_kv {
	char *prefix;
	uint64_t index;
	int64_t last_change; /* wall ms; 0 = none yet */
	uint64_t changes;
};

static struct status {
	bool ready;
	const char *command; /* argv[0] */
	pid_t pid;
	char state[64];
	bool up;
	uint64_t starts;
	int64_t started_mono;

	struct status_service *services;
	size_t nservices;
	struct status_check *checks;
	size_t nchecks;

	char *agent_address;
	bool agent_reachable;
	char *agent_error;
	int64_t agent_error_at, agent_success_at; /* wall ms */
	struct status_request_count *requests;
	size_t nrequests;
	struct status_hist request_duration;

	struct status_kv *kv;
	size_t nkv;
} st;

static int64_t
status_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
status_hist_add(struct status_hist *h, int64_t duration_us)
{
	double seconds = (double)duration_us / 1e6;

	for (size_t i = 0; i < STATUS_NBOUNDS; i++) {
		if (seconds <= status_bounds[i]) {
			h->buckets[i]++;
			break;
		}
	}
	h->count++;
	h->sum += seconds;
}

/* Replace *dst with a copy of src (NULL clears); keeps the old one when out
 * of memory: the snapshot is a view, never worth failing for. */
static void
status_set_string(char **dst, const char *src)
{
	char *copy = NULL;

	if (src != NULL && *dst != NULL && strcmp(*dst, src) == 0)
		return;
	if (src != NULL && (copy = strdup(src)) == NULL)
		return;
	free(*dst);
	*dst = copy;
}

/* -------------------------------------------------------------- lifecycle */

int
status_init(const struct conf *conf, const char *agent_address)
{
	size_t k = 0;

	status_free();
	for (size_t s = 0; s < conf->nservices; s++)
		k += conf->services[s].nchecks;
	st.services = calloc(conf->nservices + 1, sizeof(*st.services));
	st.checks = calloc(k + 1, sizeof(*st.checks));
	st.agent_address = strdup(agent_address);
	if (st.services == NULL || st.checks == NULL || st.agent_address == NULL) {
		status_free();
		return -1;
	}
	st.command = conf->command != NULL ? conf->command[0] : "";
	snprintf(st.state, sizeof(st.state), "starting");
	st.agent_reachable = true;
	for (size_t s = 0; s < conf->nservices; s++) {
		const struct service_conf *svc = &conf->services[s];

		st.services[st.nservices++] = (struct status_service){ .id = svc->id,
			                                               .name = svc->name };
		for (size_t c = 0; c < svc->nchecks; c++) {
			const struct check_conf *check = &svc->checks[c];

			st.checks[st.nchecks++] = (struct status_check){
				.id = check->id,
				.name = check->name,
				.service_id = svc->id,
				.kind = conf_probe_name(check->kind),
				.probed = check->kind != PROBE_PROCESS,
			};
		}
	}
	st.ready = true;
	return 0;
}

void
status_free(void)
{
	for (size_t i = 0; i < st.nservices; i++)
		free(st.services[i].reason);
	for (size_t i = 0; i < st.nchecks; i++)
		free(st.checks[i].output);
	for (size_t i = 0; i < st.nrequests; i++) {
		free(st.requests[i].endpoint);
		free(st.requests[i].outcome);
	}
	for (size_t i = 0; i < st.nkv; i++)
		free(st.kv[i].prefix);
	free(st.services);
	free(st.checks);
	free(st.requests);
	free(st.kv);
	free(st.agent_address);
	free(st.agent_error);
	memset(&st, 0, sizeof(st));
}

/* ---------------------------------------------------------------- command */

void
status_command_started(pid_t pid)
{
	if (!st.ready)
		return;
	st.pid = pid;
	st.starts++;
	st.started_mono = status_clock(CLOCK_MONOTONIC);
}

void
status_command_state(const char *state, bool up)
{
	if (!st.ready)
		return;
	snprintf(st.state, sizeof(st.state), "%s", state);
	st.up = up;
}

/* --------------------------------------------------------------- services */

struct status_service *
status_service(const char *id)
{
	for (size_t i = 0; i < st.nservices; i++)
		if (strcmp(st.services[i].id, id) == 0)
			return &st.services[i];
	return NULL;
}

void
status_service_registered(struct status_service *s, bool registered)
{
	if (s != NULL)
		s->registered = registered;
}

void
status_service_maintenance(struct status_service *s, bool on, const char *reason)
{
	if (s == NULL)
		return;
	s->maintenance = on;
	status_set_string(&s->reason, on ? reason : NULL);
}

/* ----------------------------------------------------------------- checks */

struct status_check *
status_check(const char *id)
{
	for (size_t i = 0; i < st.nchecks; i++)
		if (strcmp(st.checks[i].id, id) == 0)
			return &st.checks[i];
	return NULL;
}

void
status_check_probe(struct status_check *c, enum consul_status result, int64_t duration_us,
                   int successes, int failures)
{
	if (c == NULL)
		return;
	c->last_run = status_clock(CLOCK_REALTIME);
	c->next_run_mono = 0;
	c->successes = successes;
	c->failures = failures;
	if ((unsigned)result < 3)
		c->results[result]++;
	status_hist_add(&c->duration, duration_us);
}

void
status_check_next_run(struct status_check *c, int64_t after_ms)
{
	if (c != NULL)
		c->next_run_mono = status_clock(CLOCK_MONOTONIC) + after_ms;
}

void
status_check_reported(struct status_check *c, enum consul_status status, const char *output)
{
	if (c == NULL)
		return;
	c->has_reported = true;
	c->reported = status;
	status_set_string(&c->output, output);
}

void
status_check_pushed(struct status_check *c, enum consul_status status)
{
	if (c == NULL)
		return;
	c->has_pushed = true;
	c->pushed = status;
}

void
status_check_confirmed(struct status_check *c, enum consul_status status)
{
	if (c == NULL)
		return;
	c->has_confirmed = true;
	c->confirmed = status;
}

/* ------------------------------------------------------------------ agent */

void
status_agent_request(const char *endpoint, const char *outcome, int64_t duration_us)
{
	struct status_request_count *grown, *slot = NULL;

	if (!st.ready)
		return;
	status_hist_add(&st.request_duration, duration_us);
	for (size_t i = 0; i < st.nrequests && slot == NULL; i++)
		if (strcmp(st.requests[i].endpoint, endpoint) == 0 &&
		    strcmp(st.requests[i].outcome, outcome) == 0)
			slot = &st.requests[i];
	if (slot == NULL) {
		if ((grown = realloc(st.requests, (st.nrequests + 1) * sizeof(*grown))) == NULL)
			return;
		st.requests = grown;
		slot = &st.requests[st.nrequests];
		*slot = (struct status_request_count){ strdup(endpoint), strdup(outcome), 0 };
		if (slot->endpoint == NULL || slot->outcome == NULL) {
			free(slot->endpoint);
			free(slot->outcome);
			return;
		}
		st.nrequests++;
	}
	slot->n++;
}

void
status_agent_reachable(bool reachable)
{
	st.agent_reachable = reachable;
}

void
status_agent_error(const char *why)
{
	if (!st.ready)
		return;
	status_set_string(&st.agent_error, why);
	st.agent_error_at = status_clock(CLOCK_REALTIME);
}

void
status_agent_success(void)
{
	if (st.ready)
		st.agent_success_at = status_clock(CLOCK_REALTIME);
}

/* ------------------------------------------------------------- KV watches */

static struct status_kv *
status_kv_slot(const char *prefix)
{
	struct status_kv *grown;

	for (size_t i = 0; i < st.nkv; i++)
		if (strcmp(st.kv[i].prefix, prefix) == 0)
			return &st.kv[i];
	if ((grown = realloc(st.kv, (st.nkv + 1) * sizeof(*grown))) == NULL)
		return NULL;
	st.kv = grown;
	grown[st.nkv] = (struct status_kv){ .prefix = strdup(prefix) };
	if (grown[st.nkv].prefix == NULL)
		return NULL;
	return &st.kv[st.nkv++];
}

void
status_kv_watch(const char *prefix, uint64_t index)
{
	struct status_kv *kv = st.ready ? status_kv_slot(prefix) : NULL;

	if (kv != NULL)
		kv->index = index;
}

void
status_kv_changed(const char *prefix, uint64_t index)
{
	struct status_kv *kv = st.ready ? status_kv_slot(prefix) : NULL;

	if (kv == NULL)
		return;
	kv->index = index;
	kv->changes++;
	kv->last_change = status_clock(CLOCK_REALTIME);
}

/* ------------------------------------------------------------------ JSON */

/* RFC 3339, UTC, or null for "never". */
static json_t *
status_json_time(int64_t wall_ms)
{
	char buf[64];
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (wall_ms <= 0 || gmtime_r(&secs, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ", (int)(wall_ms % 1000));
	return json_string(buf);
}

static json_t *
status_json_status(bool has, enum consul_status status)
{
	return has ? json_string(consul_status_name(status)) : json_null();
}

static json_t *
status_json_command(int64_t now_mono)
{
	return json_pack("{s:s, s:i, s:s, s:b, s:I, s:f}", "name", st.command, "pid",
	                 (int)st.pid, "state", st.state, "up", st.up, "restarts",
	                 (json_int_t)(st.starts > 0 ? st.starts - 1 : 0), "uptime_seconds",
	                 st.up ? (double)(now_mono - st.started_mono) / 1000.0 : 0.0);
}

static json_t *
status_json_service(const struct status_service *s)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:o}", "id", s->id, "name", s->name, "registered",
	                 s->registered, "maintenance", s->maintenance, "maintenance_reason",
	                 s->reason ? json_string(s->reason) : json_null());
}

static json_t *
status_json_check(const struct status_check *c, int64_t now_wall, int64_t now_mono)
{
	int64_t next = c->next_run_mono > 0 ? now_wall + (c->next_run_mono - now_mono) : 0;

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:i, s:i}", "id",
	                 c->id, "name", c->name, "service", c->service_id, "type", c->kind,
	                 "status",
	                 consul_status_name(c->has_reported ? c->reported : CONSUL_CRITICAL),
	                 "output", c->output ? c->output : "", "pushed",
	                 status_json_status(c->has_pushed, c->pushed), "confirmed",
	                 status_json_status(c->has_confirmed, c->confirmed), "last_run",
	                 status_json_time(c->last_run), "next_run", status_json_time(next),
	                 "successes", c->successes, "failures", c->failures);
}

static json_t *
status_json_agent(void)
{
	return json_pack("{s:s, s:b, s:o, s:o, s:o}", "address", st.agent_address, "reachable",
	                 st.agent_reachable, "last_error",
	                 st.agent_error ? json_string(st.agent_error) : json_null(),
	                 "last_error_at", status_json_time(st.agent_error_at), "last_success_at",
	                 status_json_time(st.agent_success_at));
}

static json_t *
status_json_kv(const struct status_kv *kv)
{
	return json_pack("{s:s, s:I, s:o}", "prefix", kv->prefix, "index", (json_int_t)kv->index,
	                 "last_change", status_json_time(kv->last_change));
}

/* json_pack steals the "o" references even when it fails, and returns NULL
 * then: an append of NULL is a failure the caller sees. */
static int
status_append(json_t *array, json_t *item)
{
	return item == NULL ? -1 : json_array_append_new(array, item);
}

json_t *
status_json(void)
{
	int64_t now_wall = status_clock(CLOCK_REALTIME), now_mono = status_clock(CLOCK_MONOTONIC);
	json_t *services = json_array(), *checks = json_array(), *kv = json_array();
	int rc = services && checks && kv ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < st.nservices; i++)
		rc = status_append(services, status_json_service(&st.services[i]));
	for (size_t i = 0; rc == 0 && i < st.nchecks; i++)
		rc = status_append(checks, status_json_check(&st.checks[i], now_wall, now_mono));
	for (size_t i = 0; rc == 0 && i < st.nkv; i++)
		rc = status_append(kv, status_json_kv(&st.kv[i]));
	if (rc < 0) {
		json_decref(services);
		json_decref(checks);
		json_decref(kv);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "version", OSTIARY_VERSION,
	                 "status", consul_status_name(status_worst()), "command",
	                 status_json_command(now_mono), "services", services, "checks", checks,
	                 "agent", status_json_agent(), "kv_watches", kv);
}

enum consul_status
status_worst(void)
{
	enum consul_status worst = CONSUL_PASSING;

	for (size_t i = 0; i < st.nchecks; i++) {
		enum consul_status s = st.checks[i].has_reported ? st.checks[i].reported
		                                                 : CONSUL_CRITICAL;
		if (s > worst)
			worst = s;
	}
	return worst;
}

/* ---------------------------------------------------------------- metrics */

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
status_label(FILE *out, const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out);
		if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
}

static void
status_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's samples; labels: `check="x",` or "" (with its comma). */
static void
status_hist_print(FILE *out, const char *name, const char *label, const char *value,
                  const struct status_hist *h)
{
	uint64_t cumulative = 0;

	for (size_t i = 0; i <= STATUS_NBOUNDS; i++) {
		cumulative += i < STATUS_NBOUNDS ? h->buckets[i] : 0;
		fprintf(out, "%s_bucket{", name);
		if (label != NULL) {
			fprintf(out, "%s=\"", label);
			status_label(out, value);
			fputs("\",", out);
		}
		if (i < STATUS_NBOUNDS)
			fprintf(out, "le=\"%g\"} %llu\n", status_bounds[i],
			        (unsigned long long)cumulative);
		else
			fprintf(out, "le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
	}
	for (int i = 0; i < 2; i++) {
		fprintf(out, "%s_%s", name, i == 0 ? "sum" : "count");
		if (label != NULL) {
			fprintf(out, "{%s=\"", label);
			status_label(out, value);
			fputs("\"}", out);
		}
		if (i == 0)
			fprintf(out, " %.9g\n", h->sum);
		else
			fprintf(out, " %llu\n", (unsigned long long)h->count);
	}
}

static void
status_metrics_process(FILE *out)
{
	status_family(out, "ostiary_build_info", "gauge", "The running ostiary's version.");
	fprintf(out, "ostiary_build_info{version=\"%s\"} 1\n", OSTIARY_VERSION);
	status_family(out, "ostiary_child_up", "gauge", "1 while the command runs.");
	fprintf(out, "ostiary_child_up %d\n", st.up ? 1 : 0);
	status_family(out, "ostiary_child_restarts_total", "counter",
	              "Restarts of the command (--restart).");
	fprintf(out, "ostiary_child_restarts_total %llu\n",
	        (unsigned long long)(st.starts > 0 ? st.starts - 1 : 0));
}

static void
status_metrics_checks(FILE *out)
{
	status_family(out, "ostiary_check_status", "gauge",
	              "1 for the status each check is reported with, 0 for the others.");
	for (size_t i = 0; i < st.nchecks; i++) {
		const struct status_check *c = &st.checks[i];
		enum consul_status now = c->has_reported ? c->reported : CONSUL_CRITICAL;

		for (int s = CONSUL_PASSING; s <= CONSUL_CRITICAL; s++) {
			fputs("ostiary_check_status{service=\"", out);
			status_label(out, c->service_id);
			fputs("\",check=\"", out);
			status_label(out, c->id);
			fprintf(out, "\",status=\"%s\"} %d\n", consul_status_name(s), s == (int)now);
		}
	}
	status_family(out, "ostiary_probe_results_total", "counter",
	              "Probe runs by raw result (before flap damping).");
	for (size_t i = 0; i < st.nchecks; i++) {
		for (int s = CONSUL_PASSING; s <= CONSUL_CRITICAL && st.checks[i].probed; s++) {
			fputs("ostiary_probe_results_total{check=\"", out);
			status_label(out, st.checks[i].id);
			fprintf(out, "\",status=\"%s\"} %llu\n", consul_status_name(s),
			        (unsigned long long)st.checks[i].results[s]);
		}
	}
	status_family(out, "ostiary_probe_duration_seconds", "histogram",
	              "How long probe runs took.");
	for (size_t i = 0; i < st.nchecks; i++)
		if (st.checks[i].probed)
			status_hist_print(out, "ostiary_probe_duration_seconds", "check",
			                  st.checks[i].id, &st.checks[i].duration);
}

static void
status_metrics_agent(FILE *out)
{
	status_family(out, "ostiary_agent_up", "gauge",
	              "1 while the Consul agent answers, 0 while it is lost.");
	fprintf(out, "ostiary_agent_up %d\n", st.agent_reachable ? 1 : 0);
	status_family(out, "ostiary_agent_requests_total", "counter",
	              "Requests to the Consul agent by endpoint and outcome.");
	for (size_t i = 0; i < st.nrequests; i++) {
		fputs("ostiary_agent_requests_total{endpoint=\"", out);
		status_label(out, st.requests[i].endpoint);
		fputs("\",outcome=\"", out);
		status_label(out, st.requests[i].outcome);
		fprintf(out, "\"} %llu\n", (unsigned long long)st.requests[i].n);
	}
	status_family(out, "ostiary_agent_request_duration_seconds", "histogram",
	              "How long requests to the Consul agent took.");
	status_hist_print(out, "ostiary_agent_request_duration_seconds", NULL, NULL,
	                  &st.request_duration);
}

static void
status_metrics_kv(FILE *out)
{
	status_family(out, "ostiary_kv_changes_total", "counter",
	              "Changes seen under each watched Consul KV prefix.");
	for (size_t i = 0; i < st.nkv; i++) {
		fputs("ostiary_kv_changes_total{prefix=\"", out);
		status_label(out, st.kv[i].prefix);
		fprintf(out, "\"} %llu\n", (unsigned long long)st.kv[i].changes);
	}
}

void
status_metrics(FILE *out)
{
	status_metrics_process(out);
	status_metrics_checks(out);
	status_metrics_agent(out);
	status_metrics_kv(out);
}
