/*
 * probe.c - what every probe kind shares (see probe.h): picking the kind,
 * the run's life cycle, delivering results from the loop, and fitting
 * outputs into the check's output_max_size the way Consul does
 * (agent/checks/check.go, CheckMonitor.check and CheckHTTP.check).
 */
#include "probe.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "probe_internal.h"
#include "util.h"

static const struct probe_ops *const probe_kinds[] = {
	[PROBE_EXEC] = &probe_exec_ops,
	[PROBE_HTTP] = &probe_http_ops,
	[PROBE_TCP] = &probe_tcp_ops,
};


int
probe_error(consul_error *err, const struct check_conf *check, const char *fmt, ...)
{
	char source[96], text[256];
	va_list ap;

	if (check->origin != NULL)
		snprintf(source, sizeof(source), "%s", check->origin);
	else
		snprintf(source, sizeof(source), "check %s", check->id ? check->id : "(unnamed)");
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return consul_error_set(err, source, "%s", text);
}

/* --------------------------------------------------------------- life cycle */

static int64_t probe_deliver(ev_loop *loop, ev_timer *timer, void *arg);

struct probe *
probe_new(ev_loop *loop, const struct check_conf *check, consul_error *err)
{
	struct probe *probe;

	if ((size_t)check->kind >= nitems(probe_kinds) || probe_kinds[check->kind] == NULL) {
		if (check->kind == PROBE_PROCESS)
			probe_error(err, check,
			            "a process check has no probe: it follows the child");
		else
			probe_error(err, check, "unknown check kind %d", (int)check->kind);
		return NULL;
	}
	if ((probe = calloc(1, sizeof(*probe))) == NULL ||
	    (probe->id = strdup(check->id ? check->id : "(unnamed)")) == NULL) {
		free(probe);
		probe_error(err, check, "out of memory");
		return NULL;
	}
	probe->loop = loop;
	probe->ops = probe_kinds[check->kind];
	/* Consul's agent never reports more than its output limit; neither do we. */
	probe->max = check->output_max_size > 0 && check->output_max_size <= CONSUL_OUTPUT_MAX_SIZE
	                     ? (size_t)check->output_max_size
	                     : CONSUL_OUTPUT_MAX_SIZE;
	ev_timer_init(&probe->deliver, probe_deliver, probe);
	if ((probe->impl = probe->ops->init(probe, check, err)) == NULL) {
		free(probe->id);
		free(probe);
		return NULL;
	}
	return probe;
}

static void
probe_clear_result(struct probe *probe)
{
	free(probe->owned);
	probe->owned = NULL;
	probe->output = NULL;
	probe->has_result = false;
}

int
probe_start(struct probe *probe, probe_done_fn done, void *arg)
{
	if (probe->running)
		return -1;
	probe->running = true;
	probe->done = done;
	probe->done_arg = arg;
	return probe->ops->start(probe->impl);
}

bool
probe_running(const struct probe *probe)
{
	return probe->running;
}

int
probe_set_env(struct probe *probe, char *const *extra)
{
	return probe->ops->set_env != NULL ? probe->ops->set_env(probe->impl, extra) : 0;
}

void
probe_cancel(struct probe *probe)
{
	if (!probe->running)
		return;
	if (!probe->has_result)
		probe->ops->cancel(probe->impl);
	ev_timer_stop(probe->loop, &probe->deliver);
	probe_clear_result(probe);
	probe->running = false;
}

void
probe_free(struct probe *probe)
{
	if (probe == NULL)
		return;
	probe_cancel(probe);
	probe->ops->free(probe->impl);
	free(probe->id);
	free(probe);
}

/* ------------------------------------------------------------------ results */

/* Results travel through a 0 ms timer so that done never runs inside
 * probe_start() nor deep inside an I/O callback of the probe itself: the
 * callee may start the next run or free the probe. */
static void
probe_queue(struct probe *probe, enum consul_status status)
{
	probe->status = status;
	probe->has_result = true;
	log_debug("check %s: %s probe says %s: %s", probe->id, probe->ops->name,
	          consul_status_name(status), probe->output);
	ev_timer_start(probe->loop, &probe->deliver, 0);
}

void
probe_result_owned(struct probe *probe, enum consul_status status, char *output)
{
	char *fitted;

	probe_clear_result(probe);
	if (output == NULL) {
		probe_result_static(probe, CONSUL_CRITICAL,
		                    "ostiary: out of memory running the check");
		return;
	}
	if (strlen(output) > probe->max) {
		fitted = probe_output_tail(output, strlen(output), strlen(output), probe->max);
		free(output);
		output = fitted;
		if (output == NULL) {
			probe_result_static(probe, CONSUL_CRITICAL,
			                    "ostiary: out of memory running the check");
			return;
		}
	}
	probe->owned = output;
	probe->output = output;
	probe_queue(probe, status);
}

void
probe_result_static(struct probe *probe, enum consul_status status, const char *output)
{
	size_t len = strlen(output);

	if (len > probe->max) {
		probe_result_owned(probe, status, probe_output_tail(output, len, len, probe->max));
		return;
	}
	probe_clear_result(probe);
	probe->output = output;
	probe_queue(probe, status);
}

static int64_t
probe_deliver(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct probe *probe = arg;
	probe_done_fn done = probe->done;
	void *done_arg = probe->done_arg;
	enum consul_status status = probe->status;
	const char *output = probe->output;
	char *owned = probe->owned;

	/* Hand the result over first: done may start the next run (which
	 * must find the probe idle) or free the probe. */
	probe->owned = NULL;
	probe->output = NULL;
	probe->has_result = false;
	probe->running = false;
	done(done_arg, status, output);
	free(owned);
	return EV_TIMER_STOP;
}

/* ------------------------------------------------------------------ outputs */

static size_t
probe_captured_len(size_t kept, size_t total)
{
	int n = snprintf(NULL, 0, "Captured %zu of %zu bytes\n...\n", kept, total);

	return n < 0 ? 0 : (size_t)n;
}

/* A tail that starts inside a UTF-8 sequence would carry a broken
 * character; skip its continuation bytes (at most three). */
static size_t
probe_utf8_skip(const char *start, size_t kept)
{
	size_t skip = 0;

	while (skip < 3 && skip < kept && ((unsigned char)start[skip] & 0xc0) == 0x80)
		skip++;
	return skip;
}

/*
 * Consul keeps the last OutputMaxSize bytes and, when output was lost,
 * prints "Captured %d of %d bytes\n...\n%s" in front (CheckMonitor.check,
 * truncateAndLogOutput).  There the prefix comes on top of the limit; here
 * the tail shrinks to make room, so the whole stays within max.
 */
char *
probe_output_tail(const char *data, size_t len, size_t total, size_t max)
{
	size_t kept, prefix;
	const char *start;
	char *out;

	if (total < len)
		total = len;
	if (len == total && len <= max)
		return strndup(data, len);
	/* Room for the longest prefix is a lower bound; the prefix shrinks
	 * with kept's digits, so then grow kept while the whole still fits. */
	prefix = probe_captured_len(len, total);
	kept = prefix < max ? max - prefix : 0;
	if (kept > len)
		kept = len;
	while (kept < len && probe_captured_len(kept + 1, total) + kept + 1 <= max)
		kept++;
	start = data + len - kept;
	if (kept > 0) {
		size_t skip = probe_utf8_skip(start, kept);
		start += skip;
		kept -= skip;
	}
	prefix = probe_captured_len(kept, total);
	if ((out = malloc(prefix + kept + 1)) == NULL)
		return NULL;
	snprintf(out, prefix + 1, "Captured %zu of %zu bytes\n...\n", kept, total);
	memcpy(out + prefix, start, kept);
	out[prefix + kept] = '\0';
	/* A limit below the prefix itself: cut the prefix too. */
	if (prefix + kept > max)
		out[max] = '\0';
	return out;
}

char *
probe_output_compose(const char *head, struct probe_ring *ring, size_t max)
{
	size_t hlen = strlen(head);
	const char *data = probe_ring_data(ring);
	char *tail, *out;

	if (hlen >= max) {
		/* Nothing of the body fits: the head alone, cut to size. */
		return probe_output_tail(head, hlen, hlen + ring->total, max);
	}
	if ((tail = probe_output_tail(data, ring->len, ring->total, max - hlen)) == NULL)
		return NULL;
	if ((out = malloc(hlen + strlen(tail) + 1)) != NULL) {
		memcpy(out, head, hlen);
		strcpy(out + hlen, tail);
	}
	free(tail);
	return out;
}

void
probe_go_errno(int errnum, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(errnum));
	if (len > 0)
		buf[0] = (char)tolower((unsigned char)buf[0]);
}

void
probe_join_host_port(const char *host, unsigned port, char *buf, size_t len)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

/* --------------------------------------------------------------------- ring */

int
probe_ring_init(struct probe_ring *ring, size_t cap)
{
	memset(ring, 0, sizeof(*ring));
	if ((ring->buf = malloc(cap ? cap : 1)) == NULL)
		return -1;
	ring->cap = cap ? cap : 1;
	return 0;
}

void
probe_ring_free(struct probe_ring *ring)
{
	free(ring->buf);
	ring->buf = NULL;
}

void
probe_ring_reset(struct probe_ring *ring)
{
	ring->head = 0;
	ring->len = 0;
	ring->total = 0;
}

char *
probe_ring_space(struct probe_ring *ring, size_t *len)
{
	*len = ring->cap - ring->head;
	return ring->buf + ring->head;
}

void
probe_ring_commit(struct probe_ring *ring, size_t len)
{
	ring->head = (ring->head + len) % ring->cap;
	ring->len = ring->len + len > ring->cap ? ring->cap : ring->len + len;
	ring->total += len;
}

void
probe_ring_write(struct probe_ring *ring, const char *data, size_t len)
{
	/* Only the last cap bytes can survive: skip the rest at once. */
	if (len > ring->cap) {
		ring->total += len - ring->cap;
		data += len - ring->cap;
		len = ring->cap;
	}
	while (len > 0) {
		size_t room, n;
		char *dst = probe_ring_space(ring, &room);

		n = len < room ? len : room;
		memcpy(dst, data, n);
		probe_ring_commit(ring, n);
		data += n;
		len -= n;
	}
}

static void
probe_reverse(char *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		char c = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = c;
	}
}

const char *
probe_ring_data(struct probe_ring *ring)
{
	/* Full and wrapped: rotate left by head (three reversals), no copy. */
	if (ring->len == ring->cap && ring->head != 0) {
		probe_reverse(ring->buf, ring->head);
		probe_reverse(ring->buf + ring->head, ring->cap - ring->head);
		probe_reverse(ring->buf, ring->cap);
		ring->head = 0;
	}
	return ring->len == ring->cap ? ring->buf : ring->buf + ring->head - ring->len;
}
