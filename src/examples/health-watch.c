/*
 * health-watch SERVICE: prints "SERVICE: ID ADDRESS:PORT, ..." (the passing
 * instances, sorted by ID) or "SERVICE: none" at start and each time that
 * set changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example.h"

struct health_watch {
	struct example ex;
	const char *service;
	char *last; /* the last line printed */
};

static consul_call *
build(consul_client *c, const consul_query *q, void *arg)
{
	return consul_health_service_call(c, ((struct health_watch *)arg)->service, true, NULL, q);
}

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const consul_health_entry *)a)->service_id,
	              ((const consul_health_entry *)b)->service_id);
}

static char *
describe(const char *service, consul_health_entries *entries)
{
	char *line = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&line, &size);

	if (!out)
		return NULL;
	if (entries->n > 1) /* (qsort must not be given a NULL array) */
		qsort(entries->items, entries->n, sizeof *entries->items, by_id);
	fprintf(out, "%s: ", service);
	if (entries->n == 0)
		fputs("none", out);
	for (size_t i = 0; i < entries->n; i++)
		fprintf(out, "%s%s %s:%d", i ? ", " : "", entries->items[i].service_id,
		        consul_health_entry_address(&entries->items[i]), entries->items[i].port);
	fclose(out);
	return line;
}

static void
changed(consul_watch *w, enum consul_watch_event event, const consul_response *r, void *arg)
{
	struct health_watch *hw = arg;
	consul_health_entries entries;
	consul_error err = { 0 };
	char *line;

	if (event != CONSUL_WATCH_CHANGED) {
		example_report(&hw->ex, event, r);
		return;
	}
	if (consul_health_service_parse(r, &entries, &err) < 0) {
		fprintf(stderr, "health-watch: %s\n", err.text);
		return;
	}
	line = describe(hw->service, &entries);
	consul_health_entries_free(&entries);
	/* Checks' output changes the answer, not the set of passing instances. */
	if (line && (!hw->last || strcmp(line, hw->last) != 0)) {
		printf("%s\n", line);
		fflush(stdout);
		free(hw->last);
		hw->last = line;
	} else {
		free(line);
	}
}

int
main(int argc, char **argv)
{
	struct health_watch hw = { 0 };
	consul_watch *w;
	int i = example_init(&hw.ex, argc, argv, "SERVICE");

	hw.service = argv[i];
	w = consul_watch_new(hw.ex.client, hw.ex.multi, build, &hw, &hw.ex.query, changed, &hw);
	if (!w || consul_watch_loop(hw.ex.multi, &w, 1, hw.ex.stop_fd) < 0)
		return 1;
	consul_watch_free(w);
	free(hw.last);
	example_free(&hw.ex);
	return 0;
}
