/* The status snapshot's readers: label escaping and counting in the metrics,
 * the worst status, the KV hook. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "status.h"

static struct conf conf;

static void
setup(void)
{
	struct service_conf *svc;
	struct check_conf *a, *b;

	conf_init(&conf);
	svc = conf_add_service(&conf);
	svc->id = strdup("web");
	svc->name = strdup("web");
	a = conf_add_check(svc, PROBE_EXEC);
	a->id = strdup("odd \"id\"\\\nx");
	a->name = strdup("a");
	b = conf_add_check(svc, PROBE_PROCESS);
	b->id = strdup("service:web");
	b->name = strdup("b");
	cr_assert_eq(status_init(&conf, "http://127.0.0.1:8500"), 0);
}

static void
teardown(void)
{
	status_free();
	conf_free(&conf);
}

static char *
render(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	status_metrics(out);
	fclose(out);
	return text;
}

Test(status_unit, label_values_are_escaped, .init = setup, .fini = teardown)
{
	char *text;

	status_check_probe(status_check("odd \"id\"\\\nx"), CONSUL_CRITICAL, 1500, 0, 1);
	text = render();
	cr_expect_not_null(strstr(text, "ostiary_probe_results_total{check=\"odd \\\"id\\\"\\\\\\nx\","
	                                "status=\"critical\"} 1\n"),
	                   "%s", text);
	/* A process check has no probe series. */
	cr_expect_null(strstr(text, "ostiary_probe_results_total{check=\"service:web\""));
	free(text);
}

Test(status_unit, histogram_is_cumulative, .init = setup, .fini = teardown)
{
	struct status_check *c = status_check("odd \"id\"\\\nx");
	char *text;

	status_check_probe(c, CONSUL_PASSING, 500, 1, 0);      /* 0.5 ms */
	status_check_probe(c, CONSUL_PASSING, 2000000, 2, 0);  /* 2 s */
	status_check_probe(c, CONSUL_WARNING, 60000000, 3, 0); /* 60 s: only +Inf */
	text = render();
	cr_expect_not_null(strstr(text, "le=\"0.001\"} 1\n"), "%s", text);
	cr_expect_not_null(strstr(text, "le=\"2.5\"} 2\n"), "%s", text);
	cr_expect_not_null(strstr(text, "le=\"30\"} 2\n"), "%s", text);
	cr_expect_not_null(strstr(text, "le=\"+Inf\"} 3\n"), "%s", text);
	cr_expect_not_null(strstr(text, "_count{check=\"odd \\\"id\\\"\\\\\\nx\"} 3\n"), "%s", text);
	free(text);
}

Test(status_unit, worst_status_and_kv_hook, .init = setup, .fini = teardown)
{
	json_t *st;
	char *text;

	/* Never reported: critical, as registered. */
	cr_expect_eq(status_worst(), CONSUL_CRITICAL);
	status_check_reported(status_check("service:web"), CONSUL_PASSING, "ok");
	status_check_reported(status_check("odd \"id\"\\\nx"), CONSUL_WARNING, "hmm");
	cr_expect_eq(status_worst(), CONSUL_WARNING);
	status_kv_watch("config/web", 7);
	status_kv_changed("config/web", 9);
	status_kv_changed("config/web", 12);
	st = status_json();
	cr_assert_not_null(st);
	cr_expect_eq(json_array_size(json_object_get(st, "kv_watches")), 1);
	cr_expect_eq(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(st, "kv_watches"), 0), "index")),
	             12);
	json_decref(st);
	text = render();
	cr_expect_not_null(strstr(text, "ostiary_kv_changes_total{prefix=\"config/web\"} 2\n"), "%s",
	                   text);
	free(text);
}
