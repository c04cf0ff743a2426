/* Test harness for ostiary's integration tests: drives the Consul agent
 * simulator (tests/sim/consul_sim.py) and the processes under test.
 *
 * Every call has a deadline (HTTP: connect 1 s, total 5 s), so a test never
 * hangs on the harness.  There is no global state: Criterion may run tests
 * in parallel worker processes.  Child processes get SIGKILL if the test
 * process dies (PR_SET_PDEATHSIG), so nothing outlives a crashed test. */
#ifndef OSTIARY_TESTS_HARNESS_H
#define OSTIARY_TESTS_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

typedef struct sim {
	pid_t pid;
	int agent_port;
	int control_port;
	char agent_addr[64]; /* "127.0.0.1:<agent_port>" */
	char unix_path[108]; /* "" unless started with a unix socket */
} sim;

/* Start tests/sim/consul_sim.py (path from env OSTIARY_SIM, python from env
 * PYTHON or "python3") with extra args (NULL-terminated, may be NULL); waits
 * (deadline 10 s) for its ready line.  Returns 0 or -1 (then *s is zeroed). */
int sim_start(sim *s, const char *const *extra_args);
/* POST /quit, then SIGKILL after 3 s if still alive; waitpid.  Safe to call
 * twice and on a zeroed struct. */
void sim_stop(sim *s);

/* Control API call.  body may be NULL.  Returns HTTP status (or -1); if
 * out_json != NULL and the response parses as JSON, *out_json gets a new
 * reference (else NULL). */
int sim_control(sim *s, const char *method, const char *path, const char *body, json_t **out_json);
json_t *sim_log(sim *s);   /* GET /log -> array (new ref) or NULL */
json_t *sim_state(sim *s); /* GET /state -> object (new ref) or NULL */
/* PUT /fault, e.g. "{\"mode\":\"error\",\"status\":503,\"count\":1}".
 * Returns 0 when the simulator accepted it, else -1. */
int sim_fault(sim *s, const char *json_body);
/* Count log entries matching method (NULL = any) and path prefix (NULL =
 * any; compared with the raw, still percent-encoded path).  -1 on error. */
int sim_count(sim *s, const char *method, const char *path_prefix);
/* Agent-port request (for tests that poke the agent directly).  Returns the
 * status (-1 on transport error); if out_body != NULL it gets the body
 * (malloc'd, NUL-terminated) or NULL. */
int sim_agent(sim *s, const char *method, const char *path_and_query, const char *body,
              char **out_body);
/* Status of check `check_id` in /state ("passing", ...) or NULL; malloc'd. */
char *sim_check_status(sim *s, const char *check_id);
/* Output of check `check_id` in /state or NULL; malloc'd. */
char *sim_check_output(sim *s, const char *check_id);
bool sim_has_service(sim *s, const char *service_id);

/* Wait for cond(arg) to become true, polling every 5 ms, up to timeout_ms.
 * Returns true if it did. */
bool wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Milliseconds on CLOCK_MONOTONIC (the clock of the simulator log's "t"). */
long long mono_ms(void);

typedef struct proc {
	pid_t pid;
	char out_path[256]; /* stdout+stderr captured to this temp file */
	/* Its own RUNTIME_DIRECTORY ("<out_path>.rt"), unless the test gives
	 * one: ostiary's status socket defaults to a fixed name there, and
	 * tests run side by side.  Removed with everything in it by proc_kill. */
	char rt_dir[264];
} proc;

/* fork/exec argv (argv[0] is a path; a bare name is searched in PATH) with
 * env additions ("K=V", NULL-terminated, may be NULL; added to the current
 * environment; "K=" with empty value still sets it; "-K" unsets K).  stdout
 * and stderr go to a fresh temp file; stdin is /dev/null.  The child starts
 * with default signal dispositions, an empty signal mask and its own process
 * group (pgid == pid).  Returns 0 or -1. */
int proc_start(proc *p, const char *const *argv, const char *const *env);
/* Wait for exit up to timeout_ms; returns the raw wait status, or -1 on
 * timeout (process left running) or if it was already reaped. */
int proc_wait(proc *p, int timeout_ms);
/* Read the whole captured output (malloc'd, NUL-terminated) or NULL. */
char *proc_output(proc *p);
bool proc_output_contains(proc *p, const char *needle);
/* SIGKILL + reap if not reaped yet (its descendants and the whole process
 * group, so whatever the process started dies too, in process groups of
 * its own as well), remove the temp file.  Safe to call twice. */
void proc_kill(proc *p);
const char *ostiary_bin(void); /* env OSTIARY_BIN, else "build/ostiary" */
const char *helpers_dir(void); /* env OSTIARY_HELPERS, else "build/tests/helpers" */

#endif
