/*
 * kvconf.h - the command's configuration from Consul KV: what envconsul and
 * consul-template's exec mode do, inside the process that also owns the
 * command's registration (supervisor.c turns a change into a drain-aware
 * restart, a signal, or nothing, as --kv-on-change says).
 *
 * One blocking-query watch (the library's consul_watch) per --kv-env prefix
 * and per --kv-file key, on the loop's curl multi handle.  The data the
 * command was last given ("applied") is kept beside the latest read
 * ("current"), and only a difference in keys or values is a change: a new
 * ModifyIndex with the same value, an index that went backwards, an agent
 * that came back are not.  A change is acted on once it has settled
 * (--kv-wait MIN[:MAX]) and after a random splay (--kv-splay).  Values are
 * never logged, only key names.
 */
#ifndef OSTIARY_KVCONF_H
#define OSTIARY_KVCONF_H

#include <stdbool.h>
#include <stddef.h>

#include <ostiary/consul.h>

#include "conf.h"
#include "ev.h"

struct kvconf;
typedef void (*kvconf_fn)(void *arg);

/* NULL when out of memory.  conf and client must outlive it; free it
 * before the loop (its transfers are on the loop's multi handle). */
struct kvconf *kvconf_new(ev_loop *loop, consul_client *client, const struct conf *conf);
void kvconf_free(struct kvconf *kv);

/*
 * Start reading.  loaded() is called once every prefix has been read and
 * every file key exists; changed() whenever, after the first kvconf_apply,
 * the data differs from what was applied and the change has settled.
 */
void kvconf_start(struct kvconf *kv, kvconf_fn loaded, kvconf_fn changed, void *arg);
bool kvconf_loaded(const struct kvconf *kv);
/* What has not been read yet and why, for the start-up timeout's message:
 * "app/web/ (the agent is unreachable: ...), key app/cfg (does not exist)". */
void kvconf_describe_unread(const struct kvconf *kv, char *buf, size_t len);
/* The keys whose values differ from the applied ones: "A, B and 3 more". */
void kvconf_describe_changes(const struct kvconf *kv, char *buf, size_t len);

/*
 * The latest data becomes the command's: the files whose content changed
 * are written (all of them or none: each to a file beside it first, then
 * renamed), and kvconf_env() is rebuilt.  -1 (logged, nothing applied)
 * when a file cannot be written; that data is then not offered through
 * changed() again, only a newer change is.
 */
int kvconf_apply(struct kvconf *kv);
/* "NAME=value" entries of the applied data, in prefix order (a later entry
 * of the same name wins, as spawn_env_new does); never NULL. */
char *const *kvconf_env(const struct kvconf *kv);

/*
 * The environment variable name of key read under prefix (envconsul's
 * sanitize and upcase): the prefix and leading '/' removed, every
 * character outside [A-Za-z0-9_] replaced by '_', upper-cased.  out holds
 * strlen(key) + 1 bytes.  -1 when the key gives no variable (a folder
 * entry, the prefix itself, a key outside the prefix).
 */
int kvconf_env_name(const char *prefix, const char *key, char *out);

#endif
