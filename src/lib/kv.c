/*
 * The KV store (/v1/kv/:key): agent/kvs_endpoint.go KVSGet, KVSGetKeys,
 * KVSPut, KVSDelete; the entries as api/kv.go KVPair decodes them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static consul_call *
kv_new(consul_client *c, const char *method, const char *key)
{
	consul_call *call;
	char *escaped, *path;

	if (!key)
		return NULL;
	escaped = ostiary_query_escape_key(key);
	path = escaped ? ostiary_strbuf_format("/v1/kv/%s", escaped) : NULL;
	call = path ? ostiary_request_new_path(c, method, path) : NULL;
	free(escaped);
	free(path);
	return call;
}

consul_call *
consul_kv_get_call(consul_client *c, const char *key, const consul_query *q)
{
	/* An empty key without recurse is a 400 "Missing key name". */
	if (!key || !*key)
		return NULL;
	return ostiary_query_ready(ostiary_query_apply(kv_new(c, "GET", key), q), q);
}

/* recurse and keys are presence flags: "?recurse=false" still recurses. */
consul_call *
consul_kv_list_call(consul_client *c, const char *prefix, const consul_query *q)
{
	consul_call *call = ostiary_request_query(kv_new(c, "GET", prefix), "recurse", "");

	return ostiary_query_ready(ostiary_query_apply(call, q), q);
}

consul_call *
consul_kv_keys_call(consul_client *c, const char *prefix, const char *separator,
                    const consul_query *q)
{
	consul_call *call = ostiary_request_query(kv_new(c, "GET", prefix), "keys", "");

	call = ostiary_request_query(call, "separator", separator && *separator ? separator : NULL);
	return ostiary_query_ready(ostiary_query_apply(call, q), q);
}

static consul_call *
kv_write_options(consul_call *call, const char *dc, const char *ns, const char *partition)
{
	consul_query q = { .dc = dc, .ns = ns, .partition = partition };

	return ostiary_query_apply(call, &q);
}

consul_call *
consul_kv_put_call(consul_client *c, const char *key, const void *value, size_t value_len,
                   const consul_kv_put *opts)
{
	static const consul_kv_put plain = { .mode = CONSUL_KV_SET };
	char number[32];
	consul_call *call;

	if (!opts)
		opts = &plain;
	/* api/kv.go put: "Invalid key. Key must not begin with a '/'". */
	if (!key || !*key || key[0] == '/' || (value_len && !value))
		return NULL;
	if ((opts->mode == CONSUL_KV_ACQUIRE || opts->mode == CONSUL_KV_RELEASE) &&
	    (!opts->session || !*opts->session))
		return NULL;
	call = kv_new(c, "PUT", key);
	if (opts->flags) {
		snprintf(number, sizeof number, "%" PRIu64, opts->flags);
		call = ostiary_request_query(call, "flags", number);
	}
	switch (opts->mode) {
	case CONSUL_KV_SET:
		break;
	case CONSUL_KV_CAS:
		snprintf(number, sizeof number, "%" PRIu64, opts->cas);
		call = ostiary_request_query(call, "cas", number);
		break;
	case CONSUL_KV_ACQUIRE:
		call = ostiary_request_query(call, "acquire", opts->session);
		break;
	case CONSUL_KV_RELEASE:
		call = ostiary_request_query(call, "release", opts->session);
		break;
	default:
		consul_call_free(call);
		return NULL;
	}
	call = kv_write_options(call, opts->dc, opts->ns, opts->partition);
	return ostiary_request_ready(ostiary_request_raw_body(call, value ? value : "", value_len));
}

consul_call *
consul_kv_delete_call(consul_client *c, const char *key, bool recurse, uint64_t cas,
                      const consul_query *q)
{
	char number[32];
	consul_call *call;

	/* KVSDelete: an empty key with recurse deletes the whole store; recurse
	 * with cas is a 400 (conflictingFlags); cas 0 would never delete. */
	if (!key || !*key || (recurse && cas))
		return NULL;
	call = kv_new(c, "DELETE", key);
	call = ostiary_request_query(call, "recurse", recurse ? "" : NULL);
	if (cas) {
		snprintf(number, sizeof number, "%" PRIu64, cas);
		call = ostiary_request_query(call, "cas", number);
	}
	if (q)
		call = kv_write_options(call, q->dc, q->ns, q->partition);
	return ostiary_request_ready(call);
}

/* ---------------------------------------------------------------- decoding */

static void
kv_pair_clear(consul_kv_pair *p)
{
	free(p->key);
	free(p->value);
	free(p->session);
	memset(p, 0, sizeof *p);
}

void
consul_kv_pairs_free(consul_kv_pairs *pairs)
{
	if (!pairs)
		return;
	for (size_t i = 0; i < pairs->n; i++)
		kv_pair_clear(&pairs->items[i]);
	free(pairs->items);
	pairs->items = NULL;
	pairs->n = 0;
}

static int
kv_pair_decode(json_t *obj, consul_kv_pair *p, consul_error *err, size_t i)
{
	json_t *value;

	if (!json_is_object(obj))
		return consul_error_set(err, "response", "entry %zu is not an object", i);
	if (ostiary_json_string(obj, "Key", &p->key) < 0 || !*p->key)
		return consul_error_set(err, "response", "entry %zu: Key missing or not a string", i);
	if (ostiary_json_u64(obj, "Flags", &p->flags) < 0 ||
	    ostiary_json_u64(obj, "CreateIndex", &p->create_index) < 0 ||
	    ostiary_json_u64(obj, "ModifyIndex", &p->modify_index) < 0 ||
	    ostiary_json_u64(obj, "LockIndex", &p->lock_index) < 0)
		return consul_error_set(err, "response", "entry %zu: an index or Flags is not an "
		                                         "unsigned integer", i);
	if (ostiary_json_string(obj, "Session", &p->session) < 0)
		return consul_error_set(err, "response", "entry %zu: Session is not a string", i);
	if (!*p->session) { /* omitted, null or "": no holder */
		free(p->session);
		p->session = NULL;
	}
	value = json_object_get(obj, "Value");
	if (!value || json_is_null(value)) /* an empty value is null */
		return 0;
	if (!json_is_string(value) ||
	    consul_base64_decode(json_string_value(value), json_string_length(value), &p->value,
	                         &p->value_len) < 0)
		return consul_error_set(err, "response", "entry %zu: Value is not base64", i);
	return 0;
}

int
consul_kv_parse(const consul_response *r, consul_kv_pairs *out, consul_error *err)
{
	json_t *json;

	out->items = NULL;
	out->n = 0;
	/* A missing key (or nothing under the prefix) is a 404 with an empty body. */
	if (r && r->outcome == CONSUL_GONE && r->status == 404)
		return 0;
	if (!(json = ostiary_response_json(r, err)))
		return -1;
	if (!json_is_array(json)) {
		json_decref(json);
		return consul_error_set(err, "response", "not a JSON array");
	}
	if (json_array_size(json) &&
	    !(out->items = calloc(json_array_size(json), sizeof *out->items))) {
		json_decref(json);
		return consul_error_set(err, "response", "out of memory");
	}
	for (size_t i = 0; i < json_array_size(json); i++) {
		out->n = i + 1;
		if (kv_pair_decode(json_array_get(json, i), &out->items[i], err, i) < 0) {
			consul_kv_pairs_free(out);
			json_decref(json);
			return -1;
		}
	}
	json_decref(json);
	return 0;
}

int
consul_kv_keys_parse(const consul_response *r, consul_strings *out, consul_error *err)
{
	out->items = NULL;
	out->n = 0;
	if (r && r->outcome == CONSUL_GONE && r->status == 404)
		return 0;
	return consul_strings_parse(r, out, err);
}
