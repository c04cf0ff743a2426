/*
 * Watches: one read kept current with blocking queries on the caller's curl
 * multi handle, after api/watch/plan.go and the client rules of Consul's
 * blocking-query documentation (website/content/api-docs/features/
 * blocking.mdx, "Implementation Details"): reset an index that went
 * backwards (one fresh read with index 0), otherwise never send an index
 * below 1 once answered, rate-limit with a
 * token bucket instead of sleeping, back off on errors, compare content
 * before calling back.  The caller drives it (consul_watch_next_ms/_tick/
 * _done) or runs consul_watch_loop.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define WATCH_RATE_INTERVAL_MS 100
#define WATCH_RATE_BURST 2
#define WATCH_BACKOFF_BASE_MS 500
#define WATCH_BACKOFF_MAX_MS 30000

struct consul_watch {
	consul_client *client;
	CURLM *multi;
	consul_watch_build_fn build;
	void *build_arg;
	consul_query base;
	consul_watch_fn fn;
	void *fn_arg;

	consul_call *call; /* the request in flight, or NULL */
	bool stopped;
	bool in_callback;
	bool free_pending; /* consul_watch_free was called from the callback */

	uint64_t index; /* sent with the next request */
	bool answered;  /* an answer came: no index below 1 from now on */

	/* The last content called back: status and body bytes. */
	bool have_content;
	long content_status;
	char *content;
	size_t content_len;

	/* token bucket */
	double tokens;
	int burst;
	long interval_ms;
	long long refilled_ms;

	/* error backoff */
	unsigned failures;
	bool error_reported;
	long long retry_at_ms;
	long backoff_base_ms;
	long backoff_max_ms;

	unsigned long requests;
	unsigned int seed;
};

static long long
watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

consul_watch *
consul_watch_new(consul_client *c, CURLM *multi, consul_watch_build_fn build, void *build_arg,
                 const consul_query *base, consul_watch_fn fn, void *fn_arg)
{
	consul_watch *w;

	if (!c || !multi || !build || !fn)
		return NULL;
	if (!(w = calloc(1, sizeof *w)))
		return NULL;
	w->client = c;
	w->multi = multi;
	w->build = build;
	w->build_arg = build_arg;
	if (base)
		w->base = *base;
	w->base.index = 0;
	if (w->base.wait_ms <= 0)
		w->base.wait_ms = CONSUL_DEFAULT_WAIT_MS;
	w->fn = fn;
	w->fn_arg = fn_arg;
	w->burst = WATCH_RATE_BURST;
	w->tokens = WATCH_RATE_BURST;
	w->interval_ms = WATCH_RATE_INTERVAL_MS;
	w->refilled_ms = watch_now_ms();
	w->backoff_base_ms = WATCH_BACKOFF_BASE_MS;
	w->backoff_max_ms = WATCH_BACKOFF_MAX_MS;
	w->seed = (unsigned int)((uintptr_t)w ^ (unsigned long long)w->refilled_ms);
	return w;
}

void
consul_watch_set_rate(consul_watch *w, long interval_ms, int burst)
{
	w->interval_ms = interval_ms > 0 ? interval_ms : 1;
	w->burst = burst >= 1 ? burst : 1;
	if (w->tokens > w->burst)
		w->tokens = w->burst;
}

void
consul_watch_set_backoff(consul_watch *w, long base_ms, long max_ms)
{
	w->backoff_base_ms = base_ms > 0 ? base_ms : 1;
	w->backoff_max_ms = max_ms >= w->backoff_base_ms ? max_ms : w->backoff_base_ms;
}

static void
watch_refill(consul_watch *w, long long now)
{
	if (now > w->refilled_ms) {
		w->tokens += (double)(now - w->refilled_ms) / (double)w->interval_ms;
		if (w->tokens > w->burst)
			w->tokens = w->burst;
	}
	w->refilled_ms = now;
}

long
consul_watch_next_ms(const consul_watch *w)
{
	long long now = watch_now_ms(), due = w->retry_at_ms;
	double tokens;

	if (w->stopped || w->call)
		return -1;
	tokens = w->tokens + (double)(now - w->refilled_ms) / (double)w->interval_ms;
	if (tokens < 1.0) {
		long long token_at = now + (long long)((1.0 - tokens) * (double)w->interval_ms) + 1;

		if (token_at > due)
			due = token_at;
	}
	return due > now ? (long)(due - now) : 0;
}

uint64_t
consul_watch_index(const consul_watch *w)
{
	return w->index;
}

unsigned long
consul_watch_requests(const consul_watch *w)
{
	return w->requests;
}

bool
consul_watch_stopped(const consul_watch *w)
{
	return w->stopped;
}

static void
watch_callback(consul_watch *w, enum consul_watch_event event, const consul_response *r)
{
	if (w->stopped)
		return;
	w->in_callback = true;
	w->fn(w, event, r, w->fn_arg);
	w->in_callback = false;
}

static void
watch_failed(consul_watch *w, const consul_response *r)
{
	long delay = w->backoff_base_ms;

	w->failures++;
	for (unsigned i = 1; i < w->failures && delay < w->backoff_max_ms; i++)
		delay *= 2;
	if (delay > w->backoff_max_ms)
		delay = w->backoff_max_ms;
	/* Jitter: between half and all of it, so many clients do not return at once. */
	delay = delay / 2 + (long)(rand_r(&w->seed) % (unsigned)(delay / 2 + 1));
	w->retry_at_ms = watch_now_ms() + delay;
	/* Start over with a read that does not block (api/watch/plan.go drops
	 * its index on an error too): a restarted agent (a dev agent forgets
	 * everything) or a restored one may never reach our index, and even
	 * index 1 blocks on a table that is empty again. */
	w->index = 0;
	if (!w->error_reported) {
		w->error_reported = true;
		watch_callback(w, CONSUL_WATCH_ERROR, r);
	}
}

static bool
watch_same_content(const consul_watch *w, const consul_response *r)
{
	return w->have_content && w->content_status == r->status && w->content_len == r->body_len &&
	       (r->body_len == 0 || memcmp(w->content, r->body, r->body_len) == 0);
}

static void
watch_answered(consul_watch *w, const consul_response *r)
{
	bool recovered = w->error_reported;
	char *copy;

	w->failures = 0;
	w->error_reported = false;
	w->retry_at_ms = 0;
	if (!r->has_index)
		w->index = 1; /* nothing to block on: the bucket makes it a poll */
	else if (w->answered && w->index > 1 && r->index < w->index)
		w->index = 0; /* went backwards: start over with a fresh read (rule 1) */
	else if (r->index < 1)
		w->index = 1; /* an index 0 never blocks: a busy loop (rule 2) */
	else
		w->index = r->index;
	w->answered = true;
	if (recovered)
		watch_callback(w, CONSUL_WATCH_RECOVERED, r);
	if (watch_same_content(w, r)) /* a return is no proof of change (rule 4) */
		return;
	if (!(copy = malloc(r->body_len + 1))) {
		watch_failed(w, r);
		return;
	}
	memcpy(copy, r->body, r->body_len);
	free(w->content);
	w->content = copy;
	w->content_len = r->body_len;
	w->content_status = r->status;
	w->have_content = true;
	watch_callback(w, CONSUL_WATCH_CHANGED, r);
}

void
consul_watch_tick(consul_watch *w)
{
	consul_query q;
	long long now;

	if (w->stopped || w->call || consul_watch_next_ms(w) != 0)
		return;
	now = watch_now_ms();
	watch_refill(w, now);
	w->tokens -= 1.0;
	q = w->base;
	q.index = w->index;
	w->call = w->build(w->client, &q, w->build_arg);
	w->requests++;
	if (!w->call) {
		watch_failed(w, NULL);
		return;
	}
	consul_call_set_data(w->call, w);
	if (curl_multi_add_handle(w->multi, consul_call_easy(w->call)) != CURLM_OK) {
		consul_call_free(w->call);
		w->call = NULL;
		watch_failed(w, NULL);
	}
}

static void
watch_release(consul_watch *w)
{
	if (w->call) {
		curl_multi_remove_handle(w->multi, consul_call_easy(w->call));
		consul_call_free(w->call);
		w->call = NULL;
	}
	free(w->content);
	free(w);
}

bool
consul_watch_done(consul_watch *w, CURL *easy, CURLcode result)
{
	consul_call *call = w->call;
	const consul_response *r;

	if (!call || !easy || consul_call_easy(call) != easy)
		return false;
	curl_multi_remove_handle(w->multi, easy);
	w->call = NULL;
	r = consul_call_finish(call, result);
	/* A missing KV key is a 404 that carries the index: content, not an error. */
	if (r->outcome == CONSUL_OK || (r->outcome == CONSUL_GONE && r->status == 404 && r->has_index))
		watch_answered(w, r);
	else
		watch_failed(w, r);
	consul_call_free(call);
	if (w->free_pending)
		watch_release(w);
	return true;
}

void
consul_watch_stop(consul_watch *w)
{
	if (!w)
		return;
	w->stopped = true;
	if (w->call) {
		curl_multi_remove_handle(w->multi, consul_call_easy(w->call));
		consul_call_free(w->call);
		w->call = NULL;
	}
}

void
consul_watch_free(consul_watch *w)
{
	if (!w)
		return;
	if (w->in_callback) { /* consul_watch_done frees it after the callback */
		w->stopped = true;
		w->free_pending = true;
		return;
	}
	watch_release(w);
}

int
consul_watch_loop(CURLM *multi, consul_watch *const *watches, size_t n, int stop_fd)
{
	for (;;) {
		struct curl_waitfd wake = { .fd = stop_fd, .events = CURL_WAIT_POLLIN };
		long timeout = 60000, curl_timeout = -1;
		size_t alive = 0;
		int running, queued;
		CURLMsg *msg;

		for (size_t i = 0; i < n; i++) {
			long ms;

			if (consul_watch_stopped(watches[i]))
				continue;
			alive++;
			consul_watch_tick(watches[i]);
			ms = consul_watch_next_ms(watches[i]);
			if (ms >= 0 && ms < timeout)
				timeout = ms;
		}
		if (!alive)
			return 0;
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			return -1;
		while ((msg = curl_multi_info_read(multi, &queued))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (consul_watch_done(watches[i], msg->easy_handle, msg->data.result))
					break;
			}
			timeout = 0; /* a callback may have made a watch due */
		}
		if (timeout > 0 && curl_multi_timeout(multi, &curl_timeout) == CURLM_OK &&
		    curl_timeout >= 0 && curl_timeout < timeout)
			timeout = curl_timeout;
		if (curl_multi_poll(multi, stop_fd >= 0 ? &wake : NULL, stop_fd >= 0 ? 1 : 0,
		                    (int)timeout, NULL) != CURLM_OK)
			return -1;
		if (stop_fd >= 0 && (wake.revents & CURL_WAIT_POLLIN))
			return 0;
	}
}
