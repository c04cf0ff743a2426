/*
 * bare-loop - the yardstick for `make bench`: the least a program can do
 * to keep a TTL check fed.  One reused libcurl easy handle, the same PUT
 * ostiary sends for a heartbeat, every INTERVAL_MS, COUNT times.  Prints
 * the CPU time it used per request.
 *
 *   bare-loop AGENT_HOST:PORT CHECK_ID COUNT INTERVAL_MS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
main(int argc, char **argv)
{
	char url[512];
	const char *body = "{\"Status\":\"passing\",\"Output\":\"sleep (pid 1) is running\"}";
	struct curl_slist *headers = NULL;
	struct timespec pause = { 0, 0 };
	long count, ok = 0;
	double start;
	CURL *easy;

	if (argc != 5) {
		fprintf(stderr, "usage: bare-loop HOST:PORT CHECK_ID COUNT INTERVAL_MS\n");
		return 2;
	}
	count = atol(argv[3]);
	pause.tv_nsec = atol(argv[4]) * 1000000L;
	snprintf(url, sizeof(url), "http://%s/v1/agent/check/update/%s", argv[1], argv[2]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	easy = curl_easy_init();
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	start = cpu_seconds();
	for (long i = 0; i < count; i++) {
		long status = 0;
		if (curl_easy_perform(easy) == CURLE_OK &&
		    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status == 200)
			ok++;
		nanosleep(&pause, NULL); /* pacing until the next heartbeat is due */
	}
	printf("%ld %ld %.6f\n", count, ok, cpu_seconds() - start);
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	curl_global_cleanup();
	return ok == count ? 0 : 1;
}
