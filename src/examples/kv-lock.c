/*
 * kv-lock KEY -- COMMAND...: runs COMMAND only while holding a lock on KEY
 * (the `consul lock` pattern: a session with a TTL, KV acquire, renewals
 * while COMMAND runs, release when it ends); exit status COMMAND's.
 * SIGINT/SIGTERM go to COMMAND; before it started they end kv-lock with 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "example.h"

#define LOCK_TTL_MS 15000

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The call's answer, or NULL (a signal came, or the call could not be built). */
static const consul_response *
run(struct example *ex, consul_call **slot, consul_call *call)
{
	consul_call_free(*slot);
	*slot = call;
	return call ? example_perform(ex, call) : NULL;
}

static bool
renew(struct example *ex, const char *session)
{
	consul_call *call = consul_session_renew_call(ex->client, session, NULL);
	const consul_response *r = call ? consul_call_perform(call) : NULL;
	bool gone = r && r->outcome == CONSUL_GONE;

	consul_call_free(call);
	return !gone; /* an unreachable agent is retried at the next renewal */
}

/* Until acquired (true) or a signal (false). */
static bool
acquire(struct example *ex, const char *key, const char *session)
{
	consul_kv_put put = { .mode = CONSUL_KV_ACQUIRE, .session = session };
	consul_call *call = NULL;
	uint64_t index = 0;
	long long renewed = now_ms();

	for (;;) {
		consul_query q = { .index = index, .wait_ms = LOCK_TTL_MS / 3 };
		const consul_response *r;
		consul_kv_pairs pairs;
		bool held = false;

		if (!(r = run(ex, &call, consul_kv_put_call(ex->client, key, "", 0, &put))))
			break;
		if (consul_bool_parse(r, &held, NULL) == 0 && held) {
			consul_call_free(call);
			return true;
		}
		if (now_ms() - renewed > LOCK_TTL_MS / 2) {
			renew(ex, session);
			renewed = now_ms();
		}
		/* Held by someone else (or in lock-delay): wait for a change. */
		if (!(r = run(ex, &call, consul_kv_get_call(ex->client, key, &q))))
			break;
		index = r->has_index ? r->index : 0;
		if (consul_kv_parse(r, &pairs, NULL) == 0) {
			if (pairs.n == 0 || !pairs.items[0].session)
				index = 0; /* free (perhaps in lock-delay): try again soon */
			consul_kv_pairs_free(&pairs);
		}
		if (index == 0 && example_sleep(ex, 1000))
			break;
	}
	consul_call_free(call);
	return false;
}

static void
release(struct example *ex, const char *key, const char *session)
{
	consul_kv_put put = { .mode = CONSUL_KV_RELEASE, .session = session };
	consul_call *call = consul_kv_put_call(ex->client, key, NULL, 0, &put);

	if (call)
		consul_call_perform(call);
	consul_call_free(call);
	call = consul_session_destroy_call(ex->client, session, NULL);
	if (call)
		consul_call_perform(call);
	consul_call_free(call);
}

static int
run_command(struct example *ex, char **command, const char *session)
{
	long long renewed = now_ms();
	int forwarded = 0, status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("kv-lock: fork");
		return 1;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execvp(command[0], command);
		fprintf(stderr, "kv-lock: %s: %s\n", command[0], strerror(errno));
		_exit(127);
	}
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		if (done == pid)
			break;
		if (example_signal && example_signal != forwarded) {
			forwarded = example_signal;
			kill(pid, forwarded);
		}
		if (now_ms() - renewed >= LOCK_TTL_MS / 3) {
			if (!renew(ex, session)) {
				fprintf(stderr, "kv-lock: session lost, stopping %s\n", command[0]);
				kill(pid, SIGTERM);
			}
			renewed = now_ms();
		}
		struct timespec tick = { 0, 50 * 1000 * 1000 };

		nanosleep(&tick, NULL); /* a signal cuts it short */
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
main(int argc, char **argv)
{
	struct example ex;
	int i = example_init(&ex, argc, argv, "KEY -- COMMAND...");
	consul_session_def def = { .ttl_ms = LOCK_TTL_MS, .lock_delay_ms = -1,
		                   .behavior = CONSUL_SESSION_RELEASE };
	consul_call *call = NULL;
	const consul_response *r;
	const char *key;
	char *session = NULL;
	consul_error err = { 0 };
	int rc = 0;

	if (i + 2 >= argc || strcmp(argv[i + 1], "--") != 0) {
		fprintf(stderr, "usage: %s [-a ADDR] KEY -- COMMAND...\n", argv[0]);
		return 2;
	}
	key = argv[i];
	def.name = key;
	if (!(r = run(&ex, &call, consul_session_create_call(ex.client, &def, NULL))))
		goto out;
	if (consul_session_create_parse(r, &session, &err) < 0) {
		fprintf(stderr, "kv-lock: session: %s\n", err.text);
		rc = 1;
		goto out;
	}
	if (acquire(&ex, key, session))
		rc = run_command(&ex, argv + i + 2, session);
	release(&ex, key, session);
out:
	consul_call_free(call);
	free(session);
	example_free(&ex);
	return rc;
}
