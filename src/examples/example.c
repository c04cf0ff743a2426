/* What the examples share (example.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "example.h"

volatile sig_atomic_t example_signal;
static int example_pipe[2] = { -1, -1 };

static void
example_on_signal(int signo)
{
	int saved = errno;
	char byte = 1;

	example_signal = signo;
	if (write(example_pipe[1], &byte, 1) < 0) { /* full: a wake-up is pending anyway */
	}
	errno = saved;
}

static void
example_warn(void *arg, const char *message)
{
	fprintf(stderr, "%s: warning: %s\n", (const char *)arg, message);
}

int
example_init(struct example *ex, int argc, char **argv, const char *usage)
{
	struct sigaction sa;
	consul_config cfg;
	consul_error err = { 0 };
	int i = 1;

	memset(ex, 0, sizeof *ex);
	setvbuf(stdout, NULL, _IOLBF, 0);
	consul_config_init(&cfg);
	if (consul_config_from_env(&cfg, NULL, example_warn, argv[0], &err) < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], err.source, err.text);
		exit(2);
	}
	while (i + 1 < argc && (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "-w") == 0)) {
		int rc = argv[i][1] == 'a'
		                 ? consul_config_set_addr(&cfg, argv[i + 1], "-a", &err)
		                 : consul_duration_parse(argv[i + 1], &ex->query.wait_ms, &err);

		if (rc < 0) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], err.source, err.text);
			exit(2);
		}
		i += 2;
	}
	if (i >= argc || (argv[i][0] == '-' && strcmp(argv[i], "--") != 0)) {
		fprintf(stderr, "usage: %s [-a ADDR] [-w WAIT] %s\n", argv[0], usage);
		exit(2);
	}
	if (!(ex->client = consul_client_new(&cfg, &err))) {
		fprintf(stderr, "%s: %s\n", argv[0], err.text);
		exit(2);
	}
	consul_config_free(&cfg);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!(ex->multi = curl_multi_init()) || pipe(example_pipe) < 0) {
		fprintf(stderr, "%s: out of resources\n", argv[0]);
		exit(2);
	}
	fcntl(example_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(example_pipe[1], F_SETFL, O_NONBLOCK);
	fcntl(example_pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(example_pipe[1], F_SETFD, FD_CLOEXEC);
	ex->stop_fd = example_pipe[0];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = example_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return i;
}

void
example_free(struct example *ex)
{
	curl_multi_cleanup(ex->multi);
	consul_client_free(ex->client);
	curl_global_cleanup();
}

void
example_report(struct example *ex, enum consul_watch_event event, const consul_response *r)
{
	if (event == CONSUL_WATCH_ERROR && !ex->lost) {
		ex->lost = true;
		fprintf(stderr, "agent lost: %s%s%s\n", r ? consul_outcome_name(r->outcome) : "no request",
		        r && r->error[0] ? ": " : "", r ? r->error : "");
	} else if (event == CONSUL_WATCH_RECOVERED && ex->lost) {
		ex->lost = false;
		fprintf(stderr, "agent back\n");
	}
}

bool
example_sleep(struct example *ex, long ms)
{
	struct pollfd pfd = { .fd = ex->stop_fd, .events = POLLIN };

	if (example_signal)
		return true;
	poll(&pfd, 1, (int)ms);
	return example_signal != 0;
}

const consul_response *
example_perform(struct example *ex, consul_call *call)
{
	long delay = 250;

	for (;;) {
		const consul_response *r = consul_call_perform(call);

		if (r->outcome != CONSUL_UNREACHABLE && r->outcome != CONSUL_SERVER_ERROR) {
			example_report(ex, CONSUL_WATCH_RECOVERED, r);
			return r;
		}
		example_report(ex, CONSUL_WATCH_ERROR, r);
		/* with jitter: between half and all of the delay */
		if (example_sleep(ex, delay / 2 + rand() % (delay / 2 + 1)))
			return NULL;
		if (delay < 10000)
			delay *= 2;
	}
}
