/*
 * watch-many -a ADDR N: N watches (KV keys bench/k0 .. bench/kN-1) on one
 * curl multi handle, driven by consul_watch_loop.  Prints "rss KB" before
 * the watches start, "ready" with the RSS once every watch has had its first
 * answer, and "changes N" on SIGTERM.  For tests/bench/lib_watch.py.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ostiary/consul.h>

static int wake[2];
static unsigned long changes, first;
static size_t nwatches;

static void
on_signal(int signo)
{
	if (write(wake[1], "x", 1) < 0) {
	}
}

static long
rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static consul_call *
build(consul_client *c, const consul_query *q, void *arg)
{
	return consul_kv_get_call(c, (const char *)arg, q);
}

static void
changed(consul_watch *w, enum consul_watch_event event, const consul_response *r, void *arg)
{
	if (event != CONSUL_WATCH_CHANGED)
		return;
	changes++;
	if (++first == nwatches)
		printf("ready rss %ld\n", rss_kb());
}

int
main(int argc, char **argv)
{
	struct rlimit lim;
	consul_config cfg;
	consul_error err = { 0 };
	consul_client *client;
	consul_watch **watches;
	char **keys;
	CURLM *multi;

	if (argc != 4 || strcmp(argv[1], "-a") != 0) {
		fprintf(stderr, "usage: watch-many -a ADDR N\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	nwatches = (size_t)atol(argv[3]);
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
		lim.rlim_cur = lim.rlim_max;
		setrlimit(RLIMIT_NOFILE, &lim);
	}
	consul_config_init(&cfg);
	if (consul_config_set_addr(&cfg, argv[2], "-a", &err) < 0 ||
	    !(client = consul_client_new(&cfg, &err))) {
		fprintf(stderr, "watch-many: %s\n", err.text);
		return 2;
	}
	consul_config_free(&cfg);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	multi = curl_multi_init();
	if (pipe(wake) < 0)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("rss %ld\n", rss_kb());
	watches = calloc(nwatches, sizeof *watches);
	keys = calloc(nwatches, sizeof *keys);
	for (size_t i = 0; i < nwatches; i++) {
		char key[64];

		snprintf(key, sizeof key, "bench/k%zu", i);
		keys[i] = strdup(key);
		watches[i] = consul_watch_new(client, multi, build, keys[i], NULL, changed, NULL);
		if (!watches[i])
			return 1;
	}
	consul_watch_loop(multi, watches, nwatches, wake[0]);
	printf("changes %lu\n", changes);
	for (size_t i = 0; i < nwatches; i++) {
		consul_watch_free(watches[i]);
		free(keys[i]);
	}
	free(watches);
	free(keys);
	curl_multi_cleanup(multi);
	consul_client_free(client);
	curl_global_cleanup();
	return 0;
}
