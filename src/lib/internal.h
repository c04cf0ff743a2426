/*
 * Private helpers shared by the files of libostiary (src/lib/).  Nothing here
 * is installed; the public API is include/ostiary/consul.h.
 */
#ifndef OSTIARY_LIB_INTERNAL_H
#define OSTIARY_LIB_INTERNAL_H

/*
 * Internal functions are prefixed "ostiary_": a static library exports
 * every non-static symbol, and a generic name (libconfig exports its own
 * strbuf_append) would silently replace, or be replaced by, another
 * library's function at link time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ostiary/consul.h"

#if defined(__GNUC__)
#define LIB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LIB_PRINTF(fmt, args)
#endif

/* strbuf.c: a growable, always NUL-terminated byte buffer. */
struct strbuf {
	char *data; /* NULL until something is appended */
	size_t len;
	size_t cap;
};

int ostiary_strbuf_append(struct strbuf *buf, const void *data, size_t len);
/* The same, the buffer never growing past max bytes of content (its
 * allocation stays within max + 1): -1 when they would not fit. */
int ostiary_strbuf_append_max(struct strbuf *buf, const void *data, size_t len, size_t max);
int ostiary_strbuf_printf(struct strbuf *buf, const char *fmt, ...) LIB_PRINTF(2, 3);
/* A malloc'ed formatted string, or NULL when out of memory. */
char *ostiary_strbuf_format(const char *fmt, ...) LIB_PRINTF(1, 2);
void ostiary_strbuf_free(struct strbuf *buf);

/* config.c */
/* Overwrite a secret before its memory goes back to the allocator. */
void ostiary_config_secret_wipe(char *secret);
/* The host to use even if consul_config_init could not allocate one. */
const char *ostiary_config_host(const consul_config *cfg);
const char *ostiary_config_path_prefix(const consul_config *cfg);
/* True when host must be written in brackets in a URL (an IPv6 literal). */
bool ostiary_config_host_needs_brackets(const char *host);
/* Append host, in brackets when it is an IPv6 literal. */
int ostiary_config_append_host(struct strbuf *buf, const char *host);
/* Append "scheme://host[:port]" for a TCP config, host given by the caller. */
int ostiary_config_append_origin(struct strbuf *buf, const consul_config *cfg, const char *host);
/* api/api.go SetupTLSConfig's wording. */
#define CONFIG_CERT_PAIR_TEXT "both client cert and client key must be provided"

/* definition.c */
/* A JSON string of text, invalid UTF-8 replaced by U+FFFD as Go's
 * encoding/json does; NULL when text is NULL or memory runs out. */
json_t *ostiary_definition_json_string(const char *text);

/* request.c: the builders agent.c chains to make its calls.  Each takes
 * the call being built, NULL after an earlier failure (then it does nothing
 * and returns NULL), and frees the call when it fails itself. */
/* A call to endpoint; an endpoint ending in "/" needs id, which is escaped. */
consul_call *ostiary_request_new(consul_client *client, const char *method, const char *endpoint,
                                 const char *id);
/* A call to an already escaped path ("/v1/kv/a/b%20c"). */
consul_call *ostiary_request_new_path(consul_client *client, const char *method, const char *path);
/* A raw (non-JSON) request body of len bytes, copied. */
consul_call *ostiary_request_raw_body(consul_call *call, const void *data, size_t len);
/* Adds "name=value" to the query string; a NULL value adds nothing. */
consul_call *ostiary_request_query(consul_call *call, const char *name, const char *value);
/* The JSON request body; takes the reference to body (NULL fails). */
consul_call *ostiary_request_json(consul_call *call, json_t *body);
/* The last builder: puts everything on the easy handle. */
consul_call *ostiary_request_ready(consul_call *call);

/* One header line as libcurl hands it over (CR LF included, not
 * NUL-terminated): fills the response's query metadata; a status line
 * ("HTTP/...") starts a new response and clears it. */
void ostiary_request_parse_header(consul_response *response, const char *line, size_t len);

/* query.c: a read's options onto a call being built (a builder like the
 * above): dc, stale/consistent, filter, ns, partition, and for a blocking
 * query index, wait ("<n>ms") and the longer timeout. */
consul_call *ostiary_query_apply(consul_call *call, const consul_query *q);
/* ostiary_request_ready, then the blocking timeout when q blocks. */
consul_call *ostiary_query_ready(consul_call *call, const consul_query *q);
/* Percent-escape a KV key or prefix for the path, keeping '/'. */
char *ostiary_query_escape_key(const char *key);
/* Copy a JSON string member (absent or null: ""), -1 when it has another type. */
int ostiary_json_string(json_t *obj, const char *name, char **out);
/* A JSON unsigned integer member (absent: 0), -1 when not a non-negative integer. */
int ostiary_json_u64(json_t *obj, const char *name, uint64_t *out);
/* The response parsed as JSON, or -1 with err filled (also for a bad outcome). */
json_t *ostiary_response_json(const consul_response *r, consul_error *err);
/* Decode one JSON object into *item (zeroed); -1 on a wrong type, leaving
 * what was decoded for clear. */
typedef int (*ostiary_decode_fn)(json_t *obj, void *item);
typedef void (*ostiary_clear_fn)(void *item);
/* A JSON array of objects into a calloc'ed array of items. */
int ostiary_json_array_decode(json_t *json, size_t elem_size, ostiary_decode_fn decode,
                              ostiary_clear_fn clear, void **items_out, size_t *n_out,
                              consul_error *err);
/* The response's JSON array of objects decoded into items, as above. */
int ostiary_response_array(const consul_response *r, size_t elem_size, ostiary_decode_fn decode,
                           ostiary_clear_fn clear, void **items_out, size_t *n_out,
                           consul_error *err);
/* Clear every item of a decoded array, then free it. */
void ostiary_array_free(void *items, size_t n, size_t elem_size, ostiary_clear_fn clear);
/* A member holding an array of strings (absent/null: none); on -1 *out holds
 * *n_out strings to free. */
int ostiary_json_strings(json_t *obj, const char *name, char ***out, size_t *n_out);

#endif /* OSTIARY_LIB_INTERNAL_H */
