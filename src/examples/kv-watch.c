/*
 * kv-watch KEY: prints KEY=VALUE when the key first has a value and each
 * time the value changes, "KEY deleted" when it is removed; nothing while it
 * is missing, never twice for the same value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example.h"

struct kv_watch {
	struct example ex;
	const char *key;
	bool has_value;
	unsigned char *value;
	size_t len;
};

static consul_call *
build(consul_client *c, const consul_query *q, void *arg)
{
	return consul_kv_get_call(c, ((struct kv_watch *)arg)->key, q);
}

static void
changed(consul_watch *w, enum consul_watch_event event, const consul_response *r, void *arg)
{
	struct kv_watch *kw = arg;
	consul_kv_pairs pairs;
	consul_error err = { 0 };

	if (event != CONSUL_WATCH_CHANGED) {
		example_report(&kw->ex, event, r);
		return;
	}
	if (consul_kv_parse(r, &pairs, &err) < 0) {
		fprintf(stderr, "kv-watch: %s\n", err.text);
		return;
	}
	if (pairs.n == 0) {
		if (kw->has_value)
			printf("%s deleted\n", kw->key);
		kw->has_value = false;
	} else {
		consul_kv_pair *p = &pairs.items[0];

		if (!kw->has_value || p->value_len != kw->len ||
		    (p->value_len && memcmp(p->value, kw->value, p->value_len) != 0)) {
			printf("%s=", kw->key);
			fwrite(p->value ? (const void *)p->value : "", 1, p->value_len, stdout);
			putchar('\n');
			free(kw->value);
			kw->value = p->value; /* taken over */
			kw->len = p->value_len;
			p->value = NULL;
			p->value_len = 0;
			kw->has_value = true;
		}
	}
	fflush(stdout);
	consul_kv_pairs_free(&pairs);
}

int
main(int argc, char **argv)
{
	struct kv_watch kw = { 0 };
	consul_watch *w;
	int i = example_init(&kw.ex, argc, argv, "KEY");

	kw.key = argv[i];
	w = consul_watch_new(kw.ex.client, kw.ex.multi, build, &kw, &kw.ex.query, changed, &kw);
	if (!w || consul_watch_loop(kw.ex.multi, &w, 1, kw.ex.stop_fd) < 0)
		return 1;
	consul_watch_free(w);
	free(kw.value);
	example_free(&kw.ex);
	return 0;
}
