/*
 * probe.h - local health probes (exec, http, tcp).
 *
 * One probe per check.  probe_start() begins one run; the run ends by
 * calling the done function exactly once, always from the event loop and
 * never from inside probe_start().  Nothing here blocks: exec probes are
 * child processes watched by the loop, HTTP probes run on libcurl's multi
 * interface, TCP connects are non-blocking.  Results follow Consul's
 * conventions (agent/checks/check.go), so operators see familiar outputs.
 *
 * PROBE_PROCESS has no probe: the engine feeds it from the child's state.
 */
#ifndef OSTIARY_PROBE_H
#define OSTIARY_PROBE_H

#include <ostiary/consul.h>

#include "conf.h"
#include "ev.h"

struct probe;

/*
 * An exec check's environment, clean by default: a fixed PATH plus the
 * check's own variables, so none of ostiary's environment
 * (CONSUL_HTTP_TOKEN above all) reaches a script.  With inherit_env,
 * ostiary's environment as it is now, the check's variables overriding.
 * NULL when out of memory; free with spawn_env_free.  (-t looks the
 * program up with it too.)
 */
char **probe_exec_envp(const struct check_conf *check);

/* output is NUL-terminated, at most the check's output_max_size bytes, and
 * valid only during the call. */
typedef void (*probe_done_fn)(void *arg, enum consul_status status, const char *output);

/* NULL (and err filled) if the check cannot be probed (bad URL, unknown user). */
struct probe *probe_new(ev_loop *loop, const struct check_conf *check, consul_error *err);
/* Start a run; -1 if one is already running or it could not start at all
 * (then done is still called, with critical and the reason). */
int probe_start(struct probe *probe, probe_done_fn done, void *arg);
bool probe_running(const struct probe *probe);
/* Abandon a run: kill its process group, cancel its transfer; done is not called. */
void probe_cancel(struct probe *probe);
/* The command's variables from Consul KV, for the runs from now on of an
 * exec probe configured with kv_env (others ignore them).  -1 on no memory
 * (the probe keeps its environment). */
int probe_set_env(struct probe *probe, char *const *extra);
void probe_free(struct probe *probe);

/*
 * Fit output into max bytes keeping its end, the way the agent's script
 * and HTTP checks do (a ring buffer; agent/checks/check.go): when cut, the
 * result is "Captured <kept> of <total> bytes\n...\n<last bytes>", all of
 * it within max.  Returns a malloc'd string.
 */
char *probe_output_tail(const char *data, size_t len, size_t total, size_t max);

#endif
