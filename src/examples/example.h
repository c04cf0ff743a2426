/*
 * What the examples share: the agent address and token the usual way
 * (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN[_FILE], then -a ADDR), a self-pipe
 * that SIGINT/SIGTERM write to (consul_watch_loop stops on it), and one line
 * on stderr when the agent is lost and one when it is back.
 */
#ifndef OSTIARY_EXAMPLE_H
#define OSTIARY_EXAMPLE_H

#include <signal.h>

#include <ostiary/consul.h>

struct example {
	consul_client *client;
	CURLM *multi;
	int stop_fd; /* readable once SIGINT or SIGTERM arrived */
	bool lost;
	consul_query query; /* the watch's options: -w WAIT sets wait_ms */
};

/* Parses "-a ADDR" and "-w WAIT" (a blocking query's wait, e.g. 30s) and returns the index of the first other argument, or
 * exits 2 with usage. */
int example_init(struct example *ex, int argc, char **argv, const char *usage);
void example_free(struct example *ex);
/* The last signal caught (SIGINT or SIGTERM), 0 if none. */
extern volatile sig_atomic_t example_signal;
/* Say once that the agent is lost (CONSUL_WATCH_ERROR) or back (_RECOVERED). */
void example_report(struct example *ex, enum consul_watch_event event, const consul_response *r);
/* Sleep ms, or less when a signal comes; true when one came. */
bool example_sleep(struct example *ex, long ms);
/* Runs call blocking until the agent answers (neither unreachable nor a
 * server error), retrying with backoff; NULL when a signal came first. */
const consul_response *example_perform(struct example *ex, consul_call *call);

#endif
