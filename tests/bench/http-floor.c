/*
 * http-floor - the yardstick for ostiary's HTTP checks: the least a
 * program can do to make the same GETs.  CHECKS requests to URL every
 * INTERVAL_MS, their starts spread evenly over the interval as ostiary
 * spreads its checks, on one libcurl multi handle, for SECONDS seconds.
 * The request is the one ostiary's probe sends (User-Agent, Accept,
 * Accept-Encoding); a few easy handles are reused for whatever is in
 * flight.  Connections are kept alive unless FRESH is given: then each
 * request opens its own, as ostiary's probe does (Consul's
 * DisableKeepAlives).  Prints nothing but errors; exits 1 after any.
 *
 *   http-floor URL CHECKS INTERVAL_MS SECONDS [fresh]
 *
 * e.g. http-floor http://127.0.0.1:8080/ 1000 10000 45
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct floor {
	CURLM *multi;
	CURL **idle; /* easy handles not in flight */
	size_t nidle, cap;
	struct curl_slist *headers;
	const char *url;
	bool fresh;
	long errors;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	return size * n;
}

static CURL *
floor_easy(struct floor *f)
{
	CURL *e;

	if (f->nidle > 0)
		return f->idle[--f->nidle];
	if ((e = curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "Consul Health Check");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	if (f->fresh) {
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	}
	return e;
}

static void
floor_start(struct floor *f)
{
	CURL *e = floor_easy(f);

	if (e == NULL || curl_multi_add_handle(f->multi, e) != CURLM_OK) {
		fprintf(stderr, "http-floor: cannot start a request\n");
		f->errors++;
		curl_easy_cleanup(e);
	}
}

/* Finished transfers go back to the idle list (grown as needed). */
static void
floor_reap(struct floor *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		CURL *e = msg->easy_handle;
		long code = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (msg->data.result != CURLE_OK || code < 200 || code > 299) {
			fprintf(stderr, "http-floor: %s: %s, status %ld\n", f->url,
			        curl_easy_strerror(msg->data.result), code);
			f->errors++;
		}
		curl_multi_remove_handle(f->multi, e);
		if (f->nidle == f->cap) {
			size_t ncap = f->cap ? f->cap * 2 : 16;
			CURL **grown = realloc(f->idle, ncap * sizeof(*grown));

			if (grown == NULL) {
				curl_easy_cleanup(e);
				continue;
			}
			f->idle = grown;
			f->cap = ncap;
		}
		f->idle[f->nidle++] = e;
	}
}

int
main(int argc, char **argv)
{
	struct floor f = { 0 };
	long checks, interval, seconds, started = 0;
	int64_t t0, end;
	int running = 0;

	if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "fresh") != 0)) {
		fprintf(stderr, "usage: http-floor URL CHECKS INTERVAL_MS SECONDS [fresh]\n");
		return 2;
	}
	f.url = argv[1];
	checks = strtol(argv[2], NULL, 10);
	interval = strtol(argv[3], NULL, 10);
	seconds = strtol(argv[4], NULL, 10);
	f.fresh = argc == 6;
	if (checks <= 0 || interval <= 0 || seconds <= 0) {
		fprintf(stderr, "http-floor: CHECKS, INTERVAL_MS and SECONDS must be positive\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	f.multi = curl_multi_init();
	f.headers = curl_slist_append(NULL, "Accept: text/plain, text/*, */*");
	t0 = now_ms();
	end = t0 + seconds * 1000;
	for (int64_t now = t0; now < end || running > 0; now = now_ms()) {
		int64_t next;
		int wait;

		/* Request k is due at t0 + k * interval / checks. */
		while (now < end && t0 + started * interval / checks <= now) {
			floor_start(&f);
			started++;
		}
		next = t0 + started * interval / checks;
		wait = now >= end ? 100 : (int)(next - now);
		curl_multi_poll(f.multi, NULL, 0, wait, NULL);
		curl_multi_perform(f.multi, &running);
		floor_reap(&f);
	}
	while (f.nidle > 0)
		curl_easy_cleanup(f.idle[--f.nidle]);
	free(f.idle);
	curl_slist_free_all(f.headers);
	curl_multi_cleanup(f.multi);
	curl_global_cleanup();
	return f.errors > 0;
}
