/* GET /metrics, parsed by a real Prometheus parser (prometheus_client, run
 * by tests/sim/prom_scrape.py), values checked against what happened. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

struct scrape {
	json_t *doc; /* {"content_type", "families", "samples"} */
};

/* The port ostiary logged ("metrics on http://127.0.0.1:PORT/metrics"). */
static int
metrics_port(proc *p)
{
	const char *needle = "metrics on http://127.0.0.1:";
	char *out, *at;
	int port = -1;

	cr_assert(wait_output(p, needle, DEADLINE_MS), "no metrics line");
	out = proc_output(p);
	cr_assert_not_null(out);
	at = strstr(out, needle);
	if (at != NULL)
		port = atoi(at + strlen(needle));
	free(out);
	cr_assert_gt(port, 0);
	return port;
}

static const char *
scraper_path(void)
{
	static char path[512];
	const char *sim_path = getenv("OSTIARY_SIM");
	const char *slash = sim_path ? strrchr(sim_path, '/') : NULL;

	if (slash == NULL)
		return "tests/sim/prom_scrape.py";
	snprintf(path, sizeof(path), "%.*s/prom_scrape.py", (int)(slash - sim_path), sim_path);
	return path;
}

/* Scrape and parse; fails the test if the parser refuses the body. */
static json_t *
scrape(int port, const char *path)
{
	char url[128], *out;
	const char *argv[] = { "/usr/bin/python3", scraper_path(), url, NULL };
	proc p;
	int status;
	json_t *doc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	status = proc_wait(&p, DEADLINE_MS);
	out = proc_output(&p);
	cr_assert_eq(exit_code(status), 0, "scrape failed: %s", out ? out : "");
	doc = json_loads(out, 0, NULL);
	cr_assert_not_null(doc, "not JSON: %s", out);
	free(out);
	proc_kill(&p);
	return doc;
}

/* The value of the sample name{labels...} (pairs, NULL-ended), or -1. */
static double
sample(json_t *doc, const char *name, ...)
{
	json_t *samples = json_object_get(doc, "samples"), *s;
	size_t i;

	json_array_foreach(samples, i, s)
	{
		json_t *labels = json_array_get(s, 1);
		bool match = strcmp(json_string_value(json_array_get(s, 0)), name) == 0;
		va_list ap;
		const char *k;

		va_start(ap, name);
		while (match && (k = va_arg(ap, const char *)) != NULL) {
			const char *v = va_arg(ap, const char *);
			const char *have = json_string_value(json_object_get(labels, k));

			match = have != NULL && strcmp(have, v) == 0;
		}
		va_end(ap);
		if (match)
			return json_number_value(json_array_get(s, 2));
	}
	return -1;
}

/* Port 0: any free one, which ostiary names in its log. */
#define METRICS_ON_ANY_PORT "metrics_addr = \"127.0.0.1:0\";\n"

static const char *
family_type(json_t *doc, const char *name)
{
	return json_string_value(json_object_get(json_object_get(doc, "families"), name));
}

struct wait_sample {
	int port;
	const char *status;
	double at_least;
};

static bool
results_counted(void *arg)
{
	struct wait_sample *w = arg;
	json_t *doc = scrape(w->port, "/metrics");
	bool ok = sample(doc, "ostiary_probe_results_total", "check", "service:web", "status",
	                 w->status, NULL) >= w->at_least;

	json_decref(doc);
	return ok;
}

Test(metrics, parsed_and_checked_against_what_happened)
{
	const char *code_file = scratch_path("code");
	const char *config = write_exit_code_config("metrics.conf", METRICS_ON_ANY_PORT, code_file);
	const char *args[] = { "-c", config, "--status-socket", "none", NULL };
	struct wait_sample w;
	json_t *doc;
	double passing, critical, runs;
	sim s;
	proc p;

	write_exit_code(code_file, 0);
	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	w.port = metrics_port(&p);
	cr_assert(wait_check_status(&s, "service:web", "passing", DEADLINE_MS));

	doc = scrape(w.port, "/metrics");
	cr_expect_str_eq(json_string_value(json_object_get(doc, "content_type")),
	                 "text/plain; version=0.0.4; charset=utf-8");
	cr_expect_str_eq(family_type(doc, "ostiary_check_status"), "gauge");
	cr_expect_str_eq(family_type(doc, "ostiary_probe_results"), "counter");
	cr_expect_str_eq(family_type(doc, "ostiary_probe_duration_seconds"), "histogram");
	cr_expect_str_eq(family_type(doc, "ostiary_agent_requests"), "counter");
	cr_expect_str_eq(family_type(doc, "ostiary_agent_request_duration_seconds"), "histogram");
	cr_expect_str_eq(family_type(doc, "ostiary_child_restarts"), "counter");
	cr_expect_str_eq(family_type(doc, "ostiary_kv_changes"), "counter");
	cr_expect_eq(sample(doc, "ostiary_build_info", NULL), 1);
	cr_expect_eq(sample(doc, "ostiary_child_up", NULL), 1);
	cr_expect_eq(sample(doc, "ostiary_agent_up", NULL), 1);
	cr_expect_eq(sample(doc, "ostiary_child_restarts_total", NULL), 0);
	cr_expect_eq(sample(doc, "ostiary_check_status", "service", "web", "check", "service:web",
	                    "status", "passing", NULL),
	             1);
	cr_expect_eq(sample(doc, "ostiary_check_status", "check", "service:web", "status",
	                    "critical", NULL),
	             0);
	cr_expect_geq(sample(doc, "ostiary_agent_requests_total", "endpoint", "register",
	                     "outcome", "ok", NULL),
	              1);
	passing = sample(doc, "ostiary_probe_results_total", "check", "service:web", "status",
	                 "passing", NULL);
	critical = sample(doc, "ostiary_probe_results_total", "check", "service:web", "status",
	                  "critical", NULL);
	runs = sample(doc, "ostiary_probe_duration_seconds_count", "check", "service:web", NULL);
	cr_expect_geq(passing, 1);
	cr_expect_eq(critical, 0, "critical results before any failed: %f", critical);
	/* Every run is timed once: the histogram counts what the results count. */
	cr_expect_eq(runs, passing + critical);
	cr_expect_geq(sample(doc, "ostiary_agent_request_duration_seconds_count", NULL), 1);
	json_decref(doc);

	/* A failing probe moves the critical counter and the status gauge. */
	write_exit_code(code_file, 2);
	w.status = "critical";
	w.at_least = 1;
	cr_assert(wait_until(results_counted, &w, DEADLINE_MS), "critical never counted");
	cr_assert(wait_check_status(&s, "service:web", "critical", DEADLINE_MS));
	doc = scrape(w.port, "/metrics");
	cr_expect_eq(sample(doc, "ostiary_check_status", "check", "service:web", "status",
	                    "critical", NULL),
	             1);
	cr_expect_eq(sample(doc, "ostiary_check_status", "check", "service:web", "status",
	                    "passing", NULL),
	             0);
	json_decref(doc);
	stop_ostiary(&p, 143);
	sim_stop(&s);
}

static bool
restarts_counted(void *arg)
{
	struct wait_sample *w = arg;
	json_t *doc = scrape(w->port, "/metrics");
	bool ok = sample(doc, "ostiary_child_restarts_total", NULL) >= w->at_least;

	json_decref(doc);
	return ok;
}

Test(metrics, restarts_and_agent_outage)
{
	const char *args[] = { "--metrics-addr",  "0",     "--restart", "always", "--restart-delay",
		               "100ms",           "--ttl", "2s",        "web",    "--",
		               "sh",              "-c",    "sleep 0.2", NULL };
	struct wait_sample w = { .at_least = 2 };
	json_t *doc;
	sim s;
	proc p;

	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	w.port = metrics_port(&p);
	cr_assert(wait_until(restarts_counted, &w, DEADLINE_MS), "restarts not counted");
	cr_assert(wait_output(&p, "restarted sh", DEADLINE_MS));
	/* The agent goes away: ostiary_agent_up drops once a request fails. */
	sim_stop(&s);
	cr_assert(wait_output(&p, "agent lost", DEADLINE_MS));
	doc = scrape(w.port, "/metrics");
	cr_expect_eq(sample(doc, "ostiary_agent_up", NULL), 0);
	cr_expect_geq(sample(doc, "ostiary_agent_requests_total", "outcome", "unreachable", NULL),
	              1);
	json_decref(doc);
	/* Stopped between two runs or during one: its status varies. */
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
}

/* Idle and half-sent connections hold nothing up: probes go on and a
 * scrape still answers; other paths and methods are refused. */
Test(metrics, slow_clients_do_not_block_the_loop)
{
	const char *code_file = scratch_path("code");
	const char *config = write_exit_code_config("metrics.conf", METRICS_ON_ANY_PORT, code_file);
	const char *args[] = { "-c", config, "--status-socket", "none", NULL };
	struct wait_sample w = { .status = "passing" };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int idle[4];
	json_t *doc;
	sim s;
	proc p;

	write_exit_code(code_file, 0);
	start_sim(&s, NULL);
	start_ostiary(&p, &s, args, NULL);
	w.port = metrics_port(&p);
	sa.sin_port = htons((uint16_t)w.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 4; i++) {
		idle[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(idle[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	cr_assert(write(idle[0], "GET /metr", 9) == 9);
	doc = scrape(w.port, "/metrics");
	w.at_least = sample(doc, "ostiary_probe_results_total", "check", "service:web", "status",
	                    "passing", NULL) +
	             3;
	json_decref(doc);
	cr_expect(wait_until(results_counted, &w, DEADLINE_MS), "probes stopped");
	for (int i = 0; i < 4; i++)
		close(idle[i]);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd),
		         "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/other | "
		         "grep -qx 404 && curl -s -o /dev/null -w '%%{http_code}' -X POST "
		         "http://127.0.0.1:%d/metrics | grep -qx 405",
		         w.port, w.port);
		cr_expect_eq(system(cmd), 0, "/other is not 404 or POST is not 405");
	}
	stop_ostiary(&p, 143);
	sim_stop(&s);
}
