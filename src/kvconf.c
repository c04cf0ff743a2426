/* kvconf.c - the command's configuration from Consul KV (see kvconf.h). */
#include "kvconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "status.h"

/* A prefix may hold many keys of up to 512 KiB each (Consul's
 * kv_max_value_size, base64 in the answer): far more than the library's
 * default bound, but still a bound. */
#define KVCONF_MAX_ANSWER_BYTES (64 * 1024 * 1024)

/* Reads are retried quickly at first: the command waits for them. */
#define KVCONF_BACKOFF_BASE_MS 250
#define KVCONF_BACKOFF_MAX_MS 5000

struct kvconf_entry {
	char *key;
	unsigned char *value; /* value_len bytes, then a NUL */
	size_t value_len;
};

/* One read's result: a prefix's keys in key order (folders left out), or
 * a file's key (n is 0 when it does not exist). */
struct kvconf_data {
	struct kvconf_entry *items;
	size_t n;
};

struct kvconf_source {
	struct kvconf *kv;
	const char *prefix;               /* a --kv-env prefix, or NULL */
	const struct conf_kv_file *file;  /* a --kv-file, or NULL */
	consul_watch *watch;
	bool answered;   /* current holds a real answer */
	bool failing;    /* the last read failed */
	char error[512]; /* why it failed, or why it is not usable yet */
	struct kvconf_data current, applied;
	bool written; /* the file holds applied (false until the first write) */
};

enum kvconf_phase {
	KVCONF_IDLE,
	KVCONF_SETTLING, /* waiting for changes to stop (--kv-wait) */
	KVCONF_SPLAY,    /* waiting a random time (--kv-splay) */
};

struct kvconf {
	ev_loop *loop;
	consul_client *client;
	const struct conf *conf;
	struct kvconf_source *sources; /* prefixes in order, then files */
	size_t nsources;
	kvconf_fn loaded_fn, changed_fn;
	void *arg;
	bool loaded;  /* loaded_fn was called */
	bool applied; /* kvconf_apply succeeded once: changes are acted on */
	ev_timer tick; /* starts the watches' requests when due */

	enum kvconf_phase phase;
	int64_t first_change_at;
	ev_timer settle;
	unsigned long generation;        /* counts changes of current */
	unsigned long failed_generation; /* current as a failed kvconf_apply saw it */

	char **env; /* of the applied data */
};

/* ------------------------------------------------------------------- data */

static void
kvconf_data_free(struct kvconf_data *data)
{
	for (size_t i = 0; i < data->n; i++) {
		free(data->items[i].key);
		free(data->items[i].value);
	}
	free(data->items);
	data->items = NULL;
	data->n = 0;
}

static bool
kvconf_entry_equal(const struct kvconf_entry *a, const struct kvconf_entry *b)
{
	return strcmp(a->key, b->key) == 0 && a->value_len == b->value_len &&
	       memcmp(a->value, b->value, a->value_len) == 0;
}

static bool
kvconf_data_equal(const struct kvconf_data *a, const struct kvconf_data *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!kvconf_entry_equal(&a->items[i], &b->items[i]))
			return false;
	return true;
}

static int
kvconf_entry_copy(struct kvconf_entry *to, const char *key, const unsigned char *value,
                  size_t len)
{
	to->key = strdup(key);
	to->value = malloc(len + 1);
	to->value_len = len;
	if (to->key == NULL || to->value == NULL)
		return -1;
	if (len > 0)
		memcpy(to->value, value, len);
	to->value[len] = '\0';
	return 0;
}

static int
kvconf_data_copy(struct kvconf_data *to, const struct kvconf_data *from)
{
	struct kvconf_data copy = { calloc(from->n + 1, sizeof(*copy.items)), 0 };

	if (copy.items == NULL)
		return -1;
	for (; copy.n < from->n; copy.n++) {
		const struct kvconf_entry *e = &from->items[copy.n];
		if (kvconf_entry_copy(&copy.items[copy.n], e->key, e->value, e->value_len) < 0) {
			copy.n++;
			kvconf_data_free(&copy);
			return -1;
		}
	}
	kvconf_data_free(to);
	*to = copy;
	return 0;
}

/* The answer's pairs, folders left out (a folder is a key ending in '/',
 * created by the UI or `consul kv put app/`); a null value is empty. */
static int
kvconf_data_from(struct kvconf_data *out, const consul_kv_pairs *pairs)
{
	struct kvconf_data data = { calloc(pairs->n + 1, sizeof(*data.items)), 0 };

	if (data.items == NULL)
		return -1;
	for (size_t i = 0; i < pairs->n; i++) {
		const consul_kv_pair *p = &pairs->items[i];
		size_t klen = strlen(p->key);

		if (klen == 0 || p->key[klen - 1] == '/')
			continue;
		if (kvconf_entry_copy(&data.items[data.n++], p->key, p->value,
		                      p->value ? p->value_len : 0) < 0) {
			kvconf_data_free(&data);
			return -1;
		}
	}
	*out = data;
	return 0;
}

/* ------------------------------------------------------------ env names */

int
kvconf_env_name(const char *prefix, const char *key, char *out)
{
	size_t plen = strlen(prefix), n = 0;
	const char *rest;

	if (strncmp(key, prefix, plen) != 0)
		return -1;
	for (rest = key + plen; *rest == '/'; rest++)
		;
	if (*rest == '\0' || rest[strlen(rest) - 1] == '/')
		return -1;
	for (; *rest != '\0'; rest++) {
		char c = *rest;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			c = '_';
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

static void
kvconf_env_free(char **env)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* Linux's bound on one environment string, NAME=value and its NUL
 * (MAX_ARG_STRLEN, 32 pages): execve fails with E2BIG beyond it. */
#define KVCONF_ENV_STRING_MAX (32 * 4096)

/* One "NAME=value" for an entry, or NULL (*skip set) when it gives none. */
static char *
kvconf_env_entry(const char *prefix, const struct kvconf_entry *e, bool *skip)
{
	char *name = malloc(strlen(e->key) + 1), *entry = NULL;

	*skip = false;
	if (name == NULL)
		return NULL;
	if (kvconf_env_name(prefix, e->key, name) < 0) {
		*skip = true;
	} else if (memchr(e->value, '\0', e->value_len) != NULL) {
		/* The environment is NUL-terminated strings: this cannot be one. */
		log_warnx("Consul KV: %s holds a NUL byte, which an environment value cannot; "
		          "not setting %s",
		          e->key, name);
		*skip = true;
	} else if (strlen(name) + e->value_len + 2 > KVCONF_ENV_STRING_MAX) {
		log_warnx("Consul KV: %s holds %zu bytes, more than an environment string may "
		          "(%d with its name); not setting %s (--kv-file can pass it)",
		          e->key, e->value_len, KVCONF_ENV_STRING_MAX, name);
		*skip = true;
	} else if (asprintf(&entry, "%s=%s", name, (const char *)e->value) < 0) {
		entry = NULL;
	}
	free(name);
	return entry;
}

static int
kvconf_env_build(struct kvconf *kv)
{
	size_t total = 0, n = 0;
	char **env;

	for (size_t i = 0; i < kv->nsources; i++)
		if (kv->sources[i].prefix != NULL)
			total += kv->sources[i].applied.n;
	if ((env = calloc(total + 1, sizeof(*env))) == NULL)
		return -1;
	for (size_t i = 0; i < kv->nsources; i++) {
		const struct kvconf_source *src = &kv->sources[i];

		for (size_t k = 0; src->prefix != NULL && k < src->applied.n; k++) {
			bool skip;

			env[n] = kvconf_env_entry(src->prefix, &src->applied.items[k], &skip);
			if (env[n] != NULL)
				n++;
			else if (!skip) {
				kvconf_env_free(env);
				return -1;
			}
		}
	}
	kvconf_env_free(kv->env);
	kv->env = env;
	return 0;
}

char *const *
kvconf_env(const struct kvconf *kv)
{
	static char *const none[] = { NULL };

	return kv->env != NULL ? kv->env : none;
}

/* ----------------------------------------------------------- describing */

static const char *
kvconf_source_name(const struct kvconf_source *src)
{
	return src->prefix != NULL ? src->prefix : src->file->key;
}

/* Is the source's data usable: read, and for a file's key, existing? */
static bool
kvconf_source_ready(const struct kvconf_source *src)
{
	return src->answered && (src->prefix != NULL || src->current.n == 1);
}

static void
kvconf_append(char *buf, size_t len, size_t *used, const char *text)
{
	int n = snprintf(buf + *used, len - *used, "%s%s", *used > 0 ? ", " : "", text);

	if (n > 0)
		*used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

void
kvconf_describe_unread(const struct kvconf *kv, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < kv->nsources; i++) {
		const struct kvconf_source *src = &kv->sources[i];
		char item[1200];

		if (kvconf_source_ready(src))
			continue;
		snprintf(item, sizeof(item), "%s%s (%s)", src->prefix ? "" : "key ",
		         kvconf_source_name(src), src->error[0] ? src->error : "no answer yet");
		kvconf_append(buf, len, &used, item);
	}
}

/* Keys added, removed or changed between two sorted lists, named into the
 * list (at most `shown` of them; *more counts the rest). */
static void
kvconf_diff_keys(const struct kvconf_data *a, const struct kvconf_data *b, char *buf, size_t len,
                 size_t *used, int *shown, int *more)
{
	size_t i = 0, k = 0;

	while (i < a->n || k < b->n) {
		int cmp = i == a->n ? 1 : k == b->n ? -1 : strcmp(a->items[i].key, b->items[k].key);
		const char *key = cmp <= 0 ? a->items[i].key : b->items[k].key;
		bool differs = cmp != 0 || !kvconf_entry_equal(&a->items[i], &b->items[k]);

		i += cmp <= 0;
		k += cmp >= 0;
		if (!differs)
			continue;
		if (*shown > 0) {
			kvconf_append(buf, len, used, key);
			(*shown)--;
		} else {
			(*more)++;
		}
	}
}

/* At most this many key names in a message: a 1,000-key change is not a
 * 1,000-name log line. */
#define KVCONF_KEYS_SHOWN 10

void
kvconf_describe_changes(const struct kvconf *kv, char *buf, size_t len)
{
	size_t used = 0;
	int shown = KVCONF_KEYS_SHOWN, more = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < kv->nsources; i++)
		kvconf_diff_keys(&kv->sources[i].applied, &kv->sources[i].current, buf, len, &used,
		                 &shown, &more);
	if (more > 0 && used < len)
		snprintf(buf + used, len - used, " and %d more", more);
}

static bool
kvconf_differs(const struct kvconf *kv)
{
	for (size_t i = 0; i < kv->nsources; i++)
		if (!kvconf_data_equal(&kv->sources[i].current, &kv->sources[i].applied))
			return true;
	return false;
}

/* ------------------------------------------------------ settling changes */

static int64_t
kvconf_settled(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct kvconf *kv = arg;

	if (kv->phase == KVCONF_SETTLING && kv->conf->kv_splay_ms > 0) {
		int64_t splay = random() % (kv->conf->kv_splay_ms + 1);

		kv->phase = KVCONF_SPLAY;
		log_info("Consul KV: the change has settled; acting in %lld ms (--kv-splay)",
		         (long long)splay);
		return splay;
	}
	kv->phase = KVCONF_IDLE;
	if (kvconf_differs(kv) && kv->generation != kv->failed_generation)
		kv->changed_fn(kv->arg);
	return EV_TIMER_STOP;
}

/* A change arrived: (re)start the quiescence wait, bounded by its maximum
 * counted from the first change of the run. */
static void
kvconf_consider(struct kvconf *kv)
{
	int64_t now = ev_now(kv->loop), due;

	if (!kv->applied)
		return;
	if (!kvconf_differs(kv)) {
		/* Changed back before anything was done: nothing to do. */
		ev_timer_stop(kv->loop, &kv->settle);
		kv->phase = KVCONF_IDLE;
		return;
	}
	if (kv->phase == KVCONF_SPLAY)
		return; /* the action takes the latest data anyway */
	if (kv->phase == KVCONF_IDLE) {
		kv->phase = KVCONF_SETTLING;
		kv->first_change_at = now;
	}
	due = now + kv->conf->kv_wait_min_ms;
	if (due > kv->first_change_at + kv->conf->kv_wait_max_ms)
		due = kv->first_change_at + kv->conf->kv_wait_max_ms;
	ev_timer_start(kv->loop, &kv->settle, due > now ? due - now : 0);
}

/* ---------------------------------------------------------------- reads */

static void
kvconf_check_loaded(struct kvconf *kv)
{
	if (kv->loaded)
		return;
	for (size_t i = 0; i < kv->nsources; i++)
		if (!kvconf_source_ready(&kv->sources[i]))
			return;
	kv->loaded = true;
	log_info("Consul KV: read everything the command needs");
	kv->loaded_fn(kv->arg);
}

static void
kvconf_describe_failure(const consul_response *r, char *buf, size_t len)
{
	if (r == NULL)
		snprintf(buf, len, "cannot build the request");
	else if (r->status == 403)
		snprintf(buf, len, "HTTP 403: the ACL token may not read it");
	else if (r->outcome == CONSUL_BAD_RESPONSE && r->error[0] != '\0')
		snprintf(buf, len, "%s", r->error);
	else if (r->status != 0)
		snprintf(buf, len, "HTTP %ld", r->status);
	else
		snprintf(buf, len, "the agent is unreachable: %s",
		         r->error[0] ? r->error : consul_outcome_name(r->outcome));
}

static void
kvconf_answered(struct kvconf_source *src, const consul_response *r)
{
	struct kvconf *kv = src->kv;
	consul_kv_pairs pairs = { 0 };
	struct kvconf_data data = { 0 };
	consul_error err = { 0 };

	if (consul_kv_parse(r, &pairs, &err) < 0 || kvconf_data_from(&data, &pairs) < 0) {
		consul_kv_pairs_free(&pairs);
		snprintf(src->error, sizeof(src->error), "unreadable answer: %s",
		         err.text[0] ? err.text : "out of memory");
		log_warnx("Consul KV: %s: %s", kvconf_source_name(src), src->error);
		return;
	}
	consul_kv_pairs_free(&pairs);
	src->error[0] = '\0';
	status_kv_watch(kvconf_source_name(src), r->index);
	if (src->file != NULL && data.n == 0)
		snprintf(src->error, sizeof(src->error), "does not exist");
	if (src->answered && kvconf_data_equal(&data, &src->current)) {
		kvconf_data_free(&data);
		return;
	}
	if (src->file != NULL && data.n == 0 && kvconf_source_ready(src)) {
		/* Nothing to write in its place: the command keeps what it has. */
		log_warnx("Consul KV: key %s was deleted; %s stays as it is", src->file->key,
		          src->file->path);
		kvconf_data_free(&data);
		return;
	}
	if (src->file != NULL && data.n == 0 && !kv->loaded)
		log_notice("Consul KV: waiting for key %s to exist (for %s)", src->file->key,
		           src->file->path);
	kvconf_data_free(&src->current);
	src->current = data;
	src->answered = true;
	kv->generation++;
	status_kv_changed(kvconf_source_name(src), r->index);
	kvconf_check_loaded(kv);
	kvconf_consider(kv);
}

static void
kvconf_watch_event(consul_watch *w, enum consul_watch_event event, const consul_response *r,
                   void *arg)
{
	struct kvconf_source *src = arg;

	switch (event) {
	case CONSUL_WATCH_CHANGED:
		src->failing = false;
		kvconf_answered(src, r);
		break;
	case CONSUL_WATCH_ERROR:
		src->failing = true;
		kvconf_describe_failure(r, src->error, sizeof(src->error));
		if (src->kv->applied)
			log_warnx("Consul KV: cannot read %s (%s); the command keeps the "
			          "configuration it has",
			          kvconf_source_name(src), src->error);
		else
			log_notice("Consul KV: cannot read %s yet (%s); retrying",
			           kvconf_source_name(src), src->error);
		break;
	case CONSUL_WATCH_RECOVERED:
		src->failing = false;
		log_notice("Consul KV: reading %s again", kvconf_source_name(src));
		break;
	}
}

static consul_call *
kvconf_build(consul_client *c, const consul_query *q, void *arg)
{
	const struct kvconf_source *src = arg;
	consul_call *call = src->prefix != NULL ? consul_kv_list_call(c, src->prefix, q)
	                                        : consul_kv_get_call(c, src->file->key, q);

	if (call != NULL)
		consul_call_set_max_body(call, KVCONF_MAX_ANSWER_BYTES);
	return call;
}

/* Start each watch's request when it is due: the next time any is. */
static int64_t
kvconf_tick(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct kvconf *kv = arg;
	int64_t next = EV_TIMER_STOP;

	for (size_t i = 0; i < kv->nsources; i++) {
		long ms;

		consul_watch_tick(kv->sources[i].watch);
		ms = consul_watch_next_ms(kv->sources[i].watch);
		if (ms >= 0 && (next == EV_TIMER_STOP || ms < next))
			next = ms;
	}
	return next;
}

static void
kvconf_transfer_done(ev_loop *loop, CURL *easy, CURLcode result, void *arg)
{
	struct kvconf *kv = arg;

	for (size_t i = 0; i < kv->nsources; i++)
		if (consul_watch_done(kv->sources[i].watch, easy, result))
			break;
	/* An answer makes its watch due again (now, or when a token comes). */
	ev_timer_start(loop, &kv->tick, 0);
}

/* ------------------------------------------------------------- applying */

/* The file sources whose content changed get a file beside theirs; all
 * are renamed in place only when every one was written. */
static int
kvconf_write_files(struct kvconf *kv)
{
	char **tmp = calloc(kv->nsources + 1, sizeof(*tmp));
	consul_error err = { 0 };
	int rc = 0;

	if (tmp == NULL)
		return -1;
	for (size_t i = 0; i < kv->nsources && rc == 0; i++) {
		const struct kvconf_source *src = &kv->sources[i];
		const struct kvconf_entry *e = src->current.items;

		if (src->file == NULL || src->current.n != 1 ||
		    (src->written && kvconf_data_equal(&src->current, &src->applied)))
			continue;
		rc = file_write_temp(src->file->path, e->value, e->value_len, src->file->mode,
		                     &tmp[i], &err);
		if (rc < 0)
			log_errorx("Consul KV: cannot write %s (key %s): %s", src->file->path,
			           src->file->key, err.text);
	}
	for (size_t i = 0; i < kv->nsources; i++) {
		if (tmp[i] == NULL)
			continue;
		if (rc == 0 && rename(tmp[i], kv->sources[i].file->path) < 0) {
			log_errorx("Consul KV: cannot replace %s: %s", kv->sources[i].file->path,
			           strerror(errno));
			rc = -1;
		}
		if (rc < 0)
			unlink(tmp[i]);
		else
			log_info("Consul KV: wrote %s (key %s)", kv->sources[i].file->path,
			         kv->sources[i].file->key);
		free(tmp[i]);
	}
	free(tmp);
	return rc;
}

int
kvconf_apply(struct kvconf *kv)
{
	if (kvconf_write_files(kv) < 0) {
		kv->failed_generation = kv->generation;
		return -1;
	}
	for (size_t i = 0; i < kv->nsources; i++) {
		struct kvconf_source *src = &kv->sources[i];

		if (kvconf_data_copy(&src->applied, &src->current) < 0) {
			log_warnx("Consul KV: out of memory");
			kv->failed_generation = kv->generation;
			return -1;
		}
		src->written = src->written || (src->file != NULL && src->current.n == 1);
	}
	if (kvconf_env_build(kv) < 0) {
		log_warnx("Consul KV: out of memory");
		return -1;
	}
	kv->applied = true;
	kv->phase = KVCONF_IDLE;
	ev_timer_stop(kv->loop, &kv->settle);
	return 0;
}

/* ---------------------------------------------------------- life cycle */

static int
kvconf_add_source(struct kvconf *kv, const char *prefix, const struct conf_kv_file *file)
{
	struct kvconf_source *src = &kv->sources[kv->nsources];

	*src = (struct kvconf_source){ .kv = kv, .prefix = prefix, .file = file };
	src->watch = consul_watch_new(kv->client, ev_http_multi(kv->loop), kvconf_build, src, NULL,
	                              kvconf_watch_event, src);
	if (src->watch == NULL)
		return -1;
	consul_watch_set_backoff(src->watch, KVCONF_BACKOFF_BASE_MS, KVCONF_BACKOFF_MAX_MS);
	kv->nsources++;
	return 0;
}

struct kvconf *
kvconf_new(ev_loop *loop, consul_client *client, const struct conf *conf)
{
	struct kvconf *kv = calloc(1, sizeof(*kv));

	if (kv == NULL)
		return NULL;
	*kv = (struct kvconf){ .loop = loop, .client = client, .conf = conf };
	ev_timer_init(&kv->tick, kvconf_tick, kv);
	ev_timer_init(&kv->settle, kvconf_settled, kv);
	kv->sources = calloc(conf->nkv_env + conf->nkv_files + 1, sizeof(*kv->sources));
	if (kv->sources == NULL) {
		free(kv);
		return NULL;
	}
	for (size_t i = 0; i < conf->nkv_env; i++)
		if (kvconf_add_source(kv, conf->kv_env[i], NULL) < 0)
			goto fail;
	for (size_t i = 0; i < conf->nkv_files; i++)
		if (kvconf_add_source(kv, NULL, &conf->kv_files[i]) < 0)
			goto fail;
	return kv;
fail:
	kvconf_free(kv);
	return NULL;
}

void
kvconf_start(struct kvconf *kv, kvconf_fn loaded, kvconf_fn changed, void *arg)
{
	kv->loaded_fn = loaded;
	kv->changed_fn = changed;
	kv->arg = arg;
	ev_http_set_foreign(kv->loop, kvconf_transfer_done, kv);
	ev_timer_start(kv->loop, &kv->tick, 0);
}

bool
kvconf_loaded(const struct kvconf *kv)
{
	return kv->loaded;
}

void
kvconf_free(struct kvconf *kv)
{
	if (kv == NULL)
		return;
	ev_timer_stop(kv->loop, &kv->tick);
	ev_timer_stop(kv->loop, &kv->settle);
	ev_http_set_foreign(kv->loop, NULL, NULL);
	for (size_t i = 0; i < kv->nsources; i++) {
		consul_watch_free(kv->sources[i].watch);
		kvconf_data_free(&kv->sources[i].current);
		kvconf_data_free(&kv->sources[i].applied);
	}
	free(kv->sources);
	kvconf_env_free(kv->env);
	free(kv);
}
