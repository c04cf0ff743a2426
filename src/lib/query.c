/*
 * Query options of the reads (api/api.go QueryOptions, agent/http.go
 * parseWait/parseConsistency/parseDC): the parameters every read takes and
 * the total timeout a blocking query needs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int64_t
query_wait_ms(const consul_query *q)
{
	int64_t wait = q->wait_ms > 0 ? q->wait_ms : CONSUL_DEFAULT_WAIT_MS;

	/* agent/consul/rpc.go RPCQueryTimeout: at most max_query_time (10 min). */
	return wait > CONSUL_MAX_WAIT_MS ? CONSUL_MAX_WAIT_MS : wait;
}

/*
 * A blocking read may take the whole wait plus the agent's jitter
 * (RandomStagger(wait / 16), agent/consul/rpc.go) before the answer even
 * starts: the call's total timeout must not cut it.
 */
long
consul_query_timeout_ms(const consul_query *q, long default_timeout_ms)
{
	int64_t wait;

	if (!q || q->index == 0)
		return default_timeout_ms;
	wait = query_wait_ms(q);
	return (long)(wait + wait / 16 + CONSUL_BLOCKING_TIMEOUT_MARGIN_MS);
}

consul_call *
ostiary_query_apply(consul_call *call, const consul_query *q)
{
	char number[32];

	if (!call || !q)
		return call;
	if (q->stale && q->consistent) { /* agent/http.go parseConsistency: a 400 */
		consul_call_free(call);
		return NULL;
	}
	call = ostiary_request_query(call, "dc", q->dc && *q->dc ? q->dc : NULL);
	call = ostiary_request_query(call, "stale", q->stale ? "" : NULL);
	call = ostiary_request_query(call, "consistent", q->consistent ? "" : NULL);
	call = ostiary_request_query(call, "filter", q->filter && *q->filter ? q->filter : NULL);
	call = ostiary_request_query(call, "ns", q->ns && *q->ns ? q->ns : NULL);
	call = ostiary_request_query(call, "partition",
	                             q->partition && *q->partition ? q->partition : NULL);
	if (q->index == 0) /* api/api.go: index omitted when 0, wait only with it */
		return call;
	snprintf(number, sizeof number, "%" PRIu64, q->index);
	call = ostiary_request_query(call, "index", number);
	if (q->wait_ms > 0) {
		/* api/api.go durToMsec: "<n>ms", never 0ms (the agent would take
		 * 0 as its default wait). */
		snprintf(number, sizeof number, "%" PRId64 "ms", query_wait_ms(q));
		call = ostiary_request_query(call, "wait", number);
	}
	return call;
}

consul_call *
ostiary_query_ready(consul_call *call, const consul_query *q)
{
	call = ostiary_request_ready(call);
	if (call && q && q->index > 0)
		consul_call_set_timeout(call, consul_query_timeout_ms(q, CONSUL_DEFAULT_TIMEOUT_MS));
	return call;
}

/* RFC 3986 unreserved bytes and '/' stay; everything else is %XX. */
char *
ostiary_query_escape_key(const char *key)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(key);
	char *out, *p;

	if (len > (SIZE_MAX - 1) / 3 || !(out = malloc(len * 3 + 1)))
		return NULL;
	p = out;
	for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
		if ((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
		    *k == '-' || *k == '.' || *k == '_' || *k == '~' || *k == '/') {
			*p++ = (char)*k;
		} else {
			*p++ = '%';
			*p++ = hex[*k >> 4];
			*p++ = hex[*k & 15];
		}
	}
	*p = '\0';
	return out;
}
