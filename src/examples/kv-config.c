/*
 * kv-config PREFIX: loads every key under PREFIX, prints them as KEY=VALUE in
 * key order and "loaded N keys", then prints "changed KEY=VALUE" and
 * "deleted KEY" for each key that changes: a configuration wrapper on one
 * blocking list of the prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example.h"

struct kv_config {
	struct example ex;
	const char *prefix;
	bool loaded;
	consul_kv_pairs keys; /* the last content, in key order */
};

static consul_call *
build(consul_client *c, const consul_query *q, void *arg)
{
	return consul_kv_list_call(c, ((struct kv_config *)arg)->prefix, q);
}

static void
print_pair(const char *what, const consul_kv_pair *p)
{
	printf("%s%s=", what, p->key);
	fwrite(p->value ? (const void *)p->value : "", 1, p->value_len, stdout);
	putchar('\n');
}

static bool
same_value(const consul_kv_pair *a, const consul_kv_pair *b)
{
	return a->value_len == b->value_len &&
	       (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

/* Both lists are in key order: one merge pass finds what changed. */
static void
print_changes(const consul_kv_pairs *old, const consul_kv_pairs *now)
{
	size_t i = 0, j = 0;

	while (i < old->n || j < now->n) {
		int cmp = i == old->n   ? 1
		          : j == now->n ? -1
		                        : strcmp(old->items[i].key, now->items[j].key);

		if (cmp < 0) {
			printf("deleted %s\n", old->items[i++].key);
		} else if (cmp > 0) {
			print_pair("changed ", &now->items[j++]);
		} else {
			if (!same_value(&old->items[i], &now->items[j]))
				print_pair("changed ", &now->items[j]);
			i++, j++;
		}
	}
}

static void
changed(consul_watch *w, enum consul_watch_event event, const consul_response *r, void *arg)
{
	struct kv_config *kc = arg;
	consul_kv_pairs now;
	consul_error err = { 0 };

	if (event != CONSUL_WATCH_CHANGED) {
		example_report(&kc->ex, event, r);
		return;
	}
	if (consul_kv_parse(r, &now, &err) < 0) {
		fprintf(stderr, "kv-config: %s\n", err.text);
		return;
	}
	if (!kc->loaded) {
		for (size_t i = 0; i < now.n; i++)
			print_pair("", &now.items[i]);
		printf("loaded %zu keys\n", now.n);
		kc->loaded = true;
	} else {
		print_changes(&kc->keys, &now);
	}
	fflush(stdout);
	consul_kv_pairs_free(&kc->keys);
	kc->keys = now;
}

int
main(int argc, char **argv)
{
	struct kv_config kc = { 0 };
	consul_watch *w;
	int i = example_init(&kc.ex, argc, argv, "PREFIX");

	kc.prefix = argv[i];
	w = consul_watch_new(kc.ex.client, kc.ex.multi, build, &kc, &kc.ex.query, changed, &kc);
	if (!w || consul_watch_loop(kc.ex.multi, &w, 1, kc.ex.stop_fd) < 0)
		return 1;
	consul_watch_free(w);
	consul_kv_pairs_free(&kc.keys);
	example_free(&kc.ex);
	return 0;
}
