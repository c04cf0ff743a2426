/*
 * Decoding the agent's JSON answers, never trusting it: a wrong type is an
 * error, not a crash.  The typed decoders of kv.c, session.c, health.c, ...
 * build on these.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

json_t *
ostiary_response_json(const consul_response *r, consul_error *err)
{
	json_error_t jerr;
	json_t *json;

	if (!r) {
		consul_error_set(err, "response", "no response");
		return NULL;
	}
	if (r->outcome != CONSUL_OK) {
		consul_error_set(err, "response", "%s (HTTP %ld)%s%s",
		                 consul_outcome_name(r->outcome), r->status,
		                 r->error[0] ? ": " : "", r->error);
		return NULL;
	}
	json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!json)
		consul_error_set(err, "response", "not JSON: %s", jerr.text);
	return json;
}

int
consul_response_json(const consul_response *r, json_t **out, consul_error *err)
{
	*out = ostiary_response_json(r, err);
	return *out ? 0 : -1;
}

int
ostiary_json_string(json_t *obj, const char *name, char **out)
{
	json_t *value = json_object_get(obj, name);
	const char *text = "";

	*out = NULL;
	if (value && json_is_string(value))
		text = json_string_value(value);
	else if (value && !json_is_null(value))
		return -1;
	*out = strdup(text);
	return *out ? 0 : -1;
}

int
ostiary_json_u64(json_t *obj, const char *name, uint64_t *out)
{
	json_t *value = json_object_get(obj, name);

	*out = 0;
	if (!value || json_is_null(value))
		return 0;
	/* jansson reads integers as json_int_t (long long); larger ones fail to
	 * parse as integers and come as reals: refused. */
	if (!json_is_integer(value) || json_integer_value(value) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(value);
	return 0;
}

void
consul_strings_free(consul_strings *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i]);
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

int
consul_strings_parse(const consul_response *r, consul_strings *out, consul_error *err)
{
	json_t *json = ostiary_response_json(r, err);
	size_t i;

	out->items = NULL;
	out->n = 0;
	if (!json)
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
	for (i = 0; i < json_array_size(json); i++) {
		json_t *item = json_array_get(json, i);

		if (!json_is_string(item) || !(out->items[i] = strdup(json_string_value(item)))) {
			consul_strings_free(out);
			json_decref(json);
			return consul_error_set(err, "response", "element %zu is not a string", i);
		}
		out->n = i + 1;
	}
	json_decref(json);
	return 0;
}

int
consul_bool_parse(const consul_response *r, bool *out, consul_error *err)
{
	json_t *json = ostiary_response_json(r, err);

	*out = false;
	if (!json)
		return -1;
	if (!json_is_boolean(json)) {
		json_decref(json);
		return consul_error_set(err, "response", "not true or false");
	}
	*out = json_is_true(json);
	json_decref(json);
	return 0;
}

/* RFC 4648 standard alphabet, padding required (Go's base64.StdEncoding,
 * what encoding/json writes for []byte). */
static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
consul_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
	const unsigned char *in = (const unsigned char *)text;
	unsigned char *buf;
	size_t n = 0;

	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0)
		return -1;
	if (!(buf = malloc(len / 4 * 3 + 1)))
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		bool last = i + 4 == len;

		for (int j = 0; j < 4; j++) {
			if (in[i + j] == '=' && last && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad || (v[j] = base64_value(in[i + j])) < 0) {
				free(buf);
				return -1;
			}
		}
		/* "=" then a letter ("ab=c") was refused above.  The bits a
		 * padded group drops must be zero, as base64.StdEncoding.Strict()
		 * wants: the agent's encoding/json always writes them so, and one
		 * value has one spelling. */
		if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3))) {
			free(buf);
			return -1;
		}
		buf[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			buf[n++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			buf[n++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

int
ostiary_json_array_decode(json_t *json, size_t elem_size, ostiary_decode_fn decode,
                          ostiary_clear_fn clear, void **items_out, size_t *n_out,
                          consul_error *err)
{
	char *items = NULL;
	size_t n = json_is_array(json) ? json_array_size(json) : 0;

	*items_out = NULL;
	*n_out = 0;
	if (!json_is_array(json))
		return consul_error_set(err, "response", "not a JSON array");
	if (n && !(items = calloc(n, elem_size)))
		return consul_error_set(err, "response", "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *obj = json_array_get(json, i);

		if (!json_is_object(obj) || decode(obj, items + i * elem_size) < 0) {
			for (size_t j = 0; j <= i; j++)
				clear(items + j * elem_size);
			free(items);
			return consul_error_set(err, "response",
			                        "entry %zu is not an object of the expected types",
			                        i);
		}
	}
	*items_out = items;
	*n_out = n;
	return 0;
}

int
ostiary_response_array(const consul_response *r, size_t elem_size, ostiary_decode_fn decode,
                       ostiary_clear_fn clear, void **items_out, size_t *n_out, consul_error *err)
{
	json_t *json = ostiary_response_json(r, err);
	int rc;

	*items_out = NULL;
	*n_out = 0;
	if (!json)
		return -1;
	rc = ostiary_json_array_decode(json, elem_size, decode, clear, items_out, n_out, err);
	json_decref(json);
	return rc;
}

void
ostiary_array_free(void *items, size_t n, size_t elem_size, ostiary_clear_fn clear)
{
	for (size_t i = 0; i < n; i++)
		clear((char *)items + i * elem_size);
	free(items);
}

int
ostiary_json_strings(json_t *obj, const char *name, char ***out, size_t *n_out)
{
	json_t *array = json_object_get(obj, name);
	size_t n;

	*out = NULL;
	*n_out = 0;
	if (!array || json_is_null(array))
		return 0;
	if (!json_is_array(array))
		return -1;
	n = json_array_size(array);
	if (n && !(*out = calloc(n, sizeof **out)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_array_get(array, i);

		if (!json_is_string(item) || !((*out)[i] = strdup(json_string_value(item))))
			return -1; /* the caller's clear frees what is there (n_out counts it) */
		*n_out = i + 1;
	}
	return 0;
}
