/*
 * fuzz_kv.c - the decoders of the agent's KV, health, session and event
 * answers, and the strict base64 decoder under them.
 *
 * Properties:
 *   - consul_base64_decode accepts exactly the canonical encodings: whatever
 *     it decodes encodes back to the very input (one value, one spelling),
 *     with a NUL after the bytes; a refusal leaves *out NULL;
 *   - the input as a 200 body: consul_kv_parse, consul_kv_keys_parse,
 *     consul_health_service_parse, consul_session_parse and
 *     consul_event_parse either succeed with a result whose every string is
 *     set (a KV pair's key non-empty, each value followed by a NUL) or fail
 *     with a message and an empty result; nothing crashes or leaks;
 *   - the input as a 404 body: a KV read is 0 pairs, whatever the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ostiary/consul.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
check_base64(const char *text, size_t len)
{
	unsigned char *out = (unsigned char *)"not touched";
	size_t out_len = 99;

	if (consul_base64_decode(text, len, &out, &out_len) < 0) {
		FUZZ_ASSERT(out == NULL, "a refused input left a buffer");
		return;
	}
	FUZZ_ASSERT(out_len == len / 4 * 3 - (len && text[len - 1] == '=') -
	                               (len > 1 && text[len - 2] == '='),
	            "length %zu for an input of %zu", out_len, len);
	FUZZ_ASSERT(out[out_len] == '\0', "no NUL after the bytes");
	for (size_t i = 0, o = 0; i < out_len; i += 3, o += 4) {
		uint32_t v = (uint32_t)out[i] << 16;
		size_t n = out_len - i < 3 ? out_len - i : 3;
		char enc[4];

		if (n > 1)
			v |= (uint32_t)out[i + 1] << 8;
		if (n > 2)
			v |= out[i + 2];
		enc[0] = alphabet[v >> 18 & 63];
		enc[1] = alphabet[v >> 12 & 63];
		enc[2] = n > 1 ? alphabet[v >> 6 & 63] : '=';
		enc[3] = n > 2 ? alphabet[v & 63] : '=';
		FUZZ_ASSERT(memcmp(enc, text + o, 4) == 0, "decoded bytes encode to another text");
	}
	free(out);
}

static consul_response
answer(enum consul_outcome outcome, long status, const char *body, size_t len)
{
	consul_response r;

	memset(&r, 0, sizeof r);
	r.outcome = outcome;
	r.status = status;
	r.body = (char *)body;
	r.body_len = len;
	return r;
}

static void
check_kv(const consul_response *r)
{
	consul_error err = { 0 };
	consul_kv_pairs pairs;
	consul_strings keys;

	if (consul_kv_parse(r, &pairs, &err) == 0) {
		for (size_t i = 0; i < pairs.n; i++) {
			FUZZ_ASSERT(pairs.items[i].key && pairs.items[i].key[0], "pair without a key");
			FUZZ_ASSERT(!pairs.items[i].value ||
			                    pairs.items[i].value[pairs.items[i].value_len] == '\0',
			            "value without its NUL");
			FUZZ_ASSERT(pairs.items[i].value || pairs.items[i].value_len == 0,
			            "length without a value");
		}
		consul_kv_pairs_free(&pairs);
	} else {
		FUZZ_ASSERT(err.text[0] && pairs.n == 0 && !pairs.items, "failure without a message");
	}
	err.text[0] = '\0';
	if (consul_kv_keys_parse(r, &keys, &err) == 0) {
		for (size_t i = 0; i < keys.n; i++)
			FUZZ_ASSERT(keys.items[i], "a NULL key");
		consul_strings_free(&keys);
	} else {
		FUZZ_ASSERT(err.text[0] && keys.n == 0, "failure without a message");
	}
}

static void
check_others(const consul_response *r)
{
	consul_error err = { 0 };
	consul_health_entries entries;
	consul_sessions sessions;
	consul_events events;

	if (consul_health_service_parse(r, &entries, &err) == 0) {
		for (size_t i = 0; i < entries.n; i++) {
			FUZZ_ASSERT(entries.items[i].service_id && consul_health_entry_address(&entries.items[i]),
			            "an entry without its strings");
			FUZZ_ASSERT(entries.items[i].port >= 0 && entries.items[i].port <= 65535, "port");
			for (size_t j = 0; j < entries.items[i].checks.n; j++)
				FUZZ_ASSERT(entries.items[i].checks.items[j].status, "a check without status");
		}
		consul_health_entries_free(&entries);
	} else {
		FUZZ_ASSERT(err.text[0] && entries.n == 0, "failure without a message");
	}
	err.text[0] = '\0';
	if (consul_session_parse(r, &sessions, &err) == 0) {
		for (size_t i = 0; i < sessions.n; i++)
			FUZZ_ASSERT(sessions.items[i].id && sessions.items[i].ttl, "a session's strings");
		consul_sessions_free(&sessions);
	} else {
		FUZZ_ASSERT(err.text[0] && sessions.n == 0, "failure without a message");
	}
	err.text[0] = '\0';
	if (consul_event_parse(r, &events, &err) == 0) {
		for (size_t i = 0; i < events.n; i++)
			FUZZ_ASSERT(events.items[i].id && events.items[i].name, "an event's strings");
		consul_events_free(&events);
	} else {
		FUZZ_ASSERT(err.text[0] && events.n == 0, "failure without a message");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	consul_response r;
	consul_kv_pairs pairs;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	check_base64(text, size);
	r = answer(CONSUL_OK, 200, text, size);
	check_kv(&r);
	check_others(&r);
	r = answer(CONSUL_GONE, 404, text, size);
	FUZZ_ASSERT(consul_kv_parse(&r, &pairs, NULL) == 0 && pairs.n == 0, "a 404 is no key");
	free(text);
	return 0;
}
