/* Shared helpers for ostiary's integration tests (simulator + real binary). */
#ifndef OSTIARY_TEST_COMMON_H
#define OSTIARY_TEST_COMMON_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../harness.h"

/* Deadlines: generous, since CI machines can be slow; tests end as soon as
 * the condition holds, so these cost nothing when things work. */
#define DEADLINE_MS 10000

void start_sim(sim *s, const char *const *extra_args);
/* ostiary --http-addr <sim> ARGS... ; env additions may be NULL. */
void start_ostiary(proc *p, const sim *s, const char *const *args, const char *const *env);
/* Path of a fresh, not yet existing file in a private temp directory.
 * (The test process owns it; valid until the test ends.) */
const char *scratch_path(const char *name);
/* Path of a helper program from tests/helpers (built next to the tests). */
const char *helper_path(const char *name);
/*
 * A configuration (scratch file `name`, plus the top-level `settings`)
 * running `sleep 60` as service web with one exec check, every 200 ms, that
 * exits with the number code_file holds; write_exit_code sets that number.
 */
const char *write_exit_code_config(const char *name, const char *settings,
                                   const char *code_file);
void write_exit_code(const char *code_file, int code);
/* The wait status -> exit code ostiary reported (-1 if it did not exit normally). */
int exit_code(int wait_status);
/* Wait for ostiary to exit; fail the test (after killing it) if it does not. */
int expect_exit(proc *p, int timeout_ms);

bool wait_check_status(sim *s, const char *check_id, const char *status, int timeout_ms);
/* Does the agent's output of the check contain needle (now, or within the time)? */
bool check_output_has(sim *s, const char *check_id, const char *needle);
bool wait_check_output(sim *s, const char *check_id, const char *needle, int timeout_ms);
bool wait_service(sim *s, const char *service_id, bool present, int timeout_ms);
/* Wait until the log holds at least n requests matching method and path prefix. */
bool wait_requests(sim *s, const char *method, const char *path_prefix, int n, int timeout_ms);

/* Wait until ostiary's captured output contains needle. */
bool wait_output(proc *p, const char *needle, int timeout_ms);

/* sigrecorder files: "ready PID" then "SIGNO MONO_US" lines. */
bool wait_recorder_ready(const char *file, int timeout_ms);
/* The time the recorder got signo (first time), or -1. */
long long recorder_signal_us(const char *file, int signo);
bool wait_recorder_signal(const char *file, int signo, int timeout_ms);
/* The recorder's pid from its "ready PID" line, or -1 before it. */
pid_t recorder_pid(const char *file);

/* Skip the test when ostiary runs under valgrind (make valgrind), saying why. */
void skip_under_valgrind(const char *why);

/* SIGTERM ostiary; it must exit with expected_code within DEADLINE_MS. */
void stop_ostiary(proc *p, int expected_code);

/* Time (us, CLOCK_MONOTONIC) the first matching request arrived, or -1. */
long long first_request_us(sim *s, const char *method, const char *path_prefix);
/* The first logged request matching (new reference) or NULL. */
json_t *first_request(sim *s, const char *method, const char *path_prefix);

#endif
