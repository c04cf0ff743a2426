/*
 * ostiary/consul.h - a small client for the local Consul agent's HTTP API.
 *
 * This is the public, daemon-free layer of ostiary (built as libostiary.a).
 * It knows how to describe the agent connection (including Consul's
 * CONSUL_HTTP_* environment variables, with the Go client's precedence),
 * how to spell service and check definitions the way the agent's strict
 * JSON decoder accepts them, and how to build one HTTP request per agent
 * endpoint as a libcurl easy handle.  Requests can be run blocking
 * (consul_call_perform) or handed to the caller's curl multi handle
 * (consul_call_easy + consul_call_finish) so an event loop never blocks.
 *
 * Conventions:
 *   - functions returning int answer 0 on success and -1 on error, and fill
 *     the caller's consul_error when one is passed (it may be NULL);
 *   - strings inside the definition structs belong to the caller; the
 *     library copies what it keeps;
 *   - the ACL token is sent only as the X-Consul-Token header.  Nothing the
 *     library returns for logging (URLs, descriptions, errors) contains it.
 */
#ifndef OSTIARY_CONSUL_H
#define OSTIARY_CONSUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this header, for compile-time checks as jansson's and
 * curl's allow (#if OSTIARY_VERSION_HEX >= 0x000200); consul_library_version()
 * names the library actually linked.  This is the one place the version is
 * written: the Makefile and the pkg-config file read it from here.
 */
#define OSTIARY_MAJOR_VERSION 0
#define OSTIARY_MINOR_VERSION 1
#define OSTIARY_MICRO_VERSION 0
#define OSTIARY_VERSION "0.1.0"
/* (major << 16) | (minor << 8) | micro */
#define OSTIARY_VERSION_HEX                                                                        \
	((OSTIARY_MAJOR_VERSION << 16) | (OSTIARY_MINOR_VERSION << 8) | OSTIARY_MICRO_VERSION)

#define CONSUL_DEFAULT_HOST "127.0.0.1"
#define CONSUL_DEFAULT_PORT 8500
#define CONSUL_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define CONSUL_DEFAULT_TIMEOUT_MS 5000
/* The agent's default check_output_max_size (agent/checks/check.go DefaultBufSize). */
#define CONSUL_OUTPUT_MAX_SIZE 4096
/* Bodies larger than this are not read: the call fails as CONSUL_BAD_RESPONSE. */
#define CONSUL_RESPONSE_MAX_BYTES (1024 * 1024)

/* ------------------------------------------------------------------ errors */

/*
 * Errors come back through this out-parameter, jansson style.  `source`
 * names what was being read (a flag such as "--ttl", a variable such as
 * "CONSUL_HTTP_ADDR", or a file name); `line`/`column` are 1-based and 0
 * when they do not apply; `text` says what is wrong and what is allowed.
 */
typedef struct consul_error {
	int line;
	int column;
	char source[96];
	char text[256];
} consul_error;

/* Fill *err (when err is not NULL) printf-style. Always returns -1. */
int consul_error_set(consul_error *err, const char *source, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

/* --------------------------------------------------------------- durations */

/*
 * Parse a duration as Consul does (Go's time.ParseDuration: "10s", "1m30s",
 * "1.5h", "500ms", "250us", "0") into milliseconds.  A bare number without a
 * unit is taken as seconds, as ianitor and most operators expect ("10").
 * Negative values, unknown units, empty strings and overflows are errors;
 * so is a non-zero value below one millisecond.
 */
int consul_duration_parse(const char *text, int64_t *out_ms, consul_error *err);

/* Format milliseconds the way Go prints durations ("1m30s", "500ms", "0s"). */
void consul_duration_format(int64_t ms, char *buf, size_t len);

/* ---------------------------------------------------------------- statuses */

enum consul_status {
	CONSUL_PASSING = 0,
	CONSUL_WARNING,
	CONSUL_CRITICAL,
};

/* "passing", "warning" or "critical". */
const char *consul_status_name(enum consul_status status);
/* Accepts exactly the three names above (as the agent does). */
int consul_status_parse(const char *name, enum consul_status *out);

/* ----------------------------------------------------------- configuration */

enum consul_transport {
	CONSUL_TRANSPORT_TCP = 0, /* http or https over TCP */
	CONSUL_TRANSPORT_UNIX,    /* http over a unix socket */
};

typedef struct consul_tls {
	bool verify;       /* default true; only CONSUL_HTTP_SSL_VERIFY=false turns it off */
	char *ca_file;     /* CONSUL_CACERT */
	char *ca_path;     /* CONSUL_CAPATH */
	char *cert_file;   /* CONSUL_CLIENT_CERT */
	char *key_file;    /* CONSUL_CLIENT_KEY */
	char *server_name; /* CONSUL_TLS_SERVER_NAME, ":port" stripped */
} consul_tls;

typedef struct consul_config {
	enum consul_transport transport;
	bool https;        /* scheme https: from "https://" or CONSUL_HTTP_SSL=true */
	char *host;        /* host name or IP literal (IPv6 without brackets) */
	int port;          /* 0 = the scheme's default port (80 or 443) */
	char *path_prefix; /* "" or "/prefix" (no trailing slash): reverse proxies */
	char *socket_path; /* for CONSUL_TRANSPORT_UNIX */
	char *token;       /* ACL secret: never logged, sent only as X-Consul-Token */
	char *token_file;  /* the file the token was read from, or NULL */
	char *ns;          /* Enterprise namespace (CONSUL_NAMESPACE): ?ns= on every request */
	char *partition;   /* Enterprise admin partition (CONSUL_PARTITION): ?partition= */
	char *http_auth;   /* "user[:password]" for HTTP basic auth (CONSUL_HTTP_AUTH): a
	                    * secret like the token, never logged */
	consul_tls tls;
	long connect_timeout_ms;
	long timeout_ms; /* total time for one request */
} consul_config;

/* Defaults: http://127.0.0.1:8500, no token, TLS verify on, default timeouts. */
void consul_config_init(consul_config *cfg);
void consul_config_free(consul_config *cfg);
/* Deep copy; returns -1 on allocation failure. */
int consul_config_copy(consul_config *dst, const consul_config *src);

/*
 * Set the agent address from any of CONSUL_HTTP_ADDR's forms:
 *   host:port | host | [v6]:port | http://host:port[/prefix] |
 *   https://host:port[/prefix] | unix:///path/to/socket
 * A missing port means the scheme's default, as in Consul's Go client.
 * "http://" does not turn off https already forced by CONSUL_HTTP_SSL.
 * Any other scheme: "Unknown protocol scheme: <x>".
 */
int consul_config_set_addr(consul_config *cfg, const char *addr, const char *source,
                           consul_error *err);

/* Read a token file (contents whitespace-trimmed) and remember its path in
 * cfg->token_file.  An empty file means no token, as in Consul's Go client
 * (api/api.go): cfg->token is then NULL, which callers may warn about. */
int consul_config_load_token_file(consul_config *cfg, const char *path, consul_error *err);

/* Receives warnings the Go client would log (e.g. an unparsable CONSUL_HTTP_SSL). */
typedef void (*consul_warn_fn)(void *arg, const char *message);

/*
 * The token is a credential: warn (warn(warn_arg, message)) when the file
 * at path can be read by its group or by everyone, naming the file and its
 * mode, never its contents.  Nothing happens when path or warn is NULL or
 * the file cannot be stat()ed (loading it reports that).  Worth calling
 * after each load, since a rotated file may come with another mode.
 */
void consul_config_warn_token_file_mode(const char *path, consul_warn_fn warn, void *warn_arg);
/* Look-up function for environment variables (a table in tests).  getenv
 * itself has another type (it returns char *): pass NULL for it instead. */
typedef const char *(*consul_getenv_fn)(const char *name);

/*
 * Apply the CONSUL_* variables of Consul's Go client (api/api.go
 * DefaultConfig) with its precedence (CONSUL_HTTP_TOKEN_FILE over
 * CONSUL_HTTP_TOKEN): every name consul_config_env_names lists.  Call it
 * before applying command-line flags, which then override.  getenv_fn NULL
 * reads the process environment.  An empty token file is warned about.  On
 * error cfg is left unchanged.
 */
int consul_config_from_env(consul_config *cfg, consul_getenv_fn getenv_fn, consul_warn_fn warn,
                           void *warn_arg, consul_error *err);

/* The CONSUL_* variables consul_config_from_env reads, NULL-terminated: a
 * program can name the ones set in its environment that nothing reads. */
const char *const *consul_config_env_names(void);

/* The base URL without credentials, e.g. "http://127.0.0.1:8500" or
 * "unix:///run/consul.sock"; for log lines. Caller frees. */
char *consul_config_describe(const consul_config *cfg);

/* ------------------------------------------------------------- definitions */

typedef struct consul_meta {
	const char *key;
	const char *value;
} consul_meta;

/* A TTL check, embedded in a service registration or registered alone. */
typedef struct consul_check_def {
	const char *id; /* "CheckID" when embedded, "ID" when alone */
	const char *name;
	const char *notes;           /* NULL = omitted */
	const char *service_id;      /* only for a standalone registration */
	int64_t ttl_ms;              /* > 0 */
	int64_t deregister_after_ms; /* DeregisterCriticalServiceAfter; 0 = omitted */
	bool has_status;             /* send Status (initial status) */
	enum consul_status status;
} consul_check_def;

/* One entry of TaggedAddresses: {"lan": {"Address": ..., "Port": ...}}. */
typedef struct consul_tagged_address {
	const char *name;
	const char *address;
	int port; /* 0 = omitted */
} consul_tagged_address;

typedef struct consul_service {
	const char *id;   /* NULL = the agent uses the name */
	const char *name; /* required */
	const char *const *tags;
	size_t ntags;
	const char *address; /* NULL = omitted */
	int port;            /* 0 = omitted */
	const consul_meta *meta;
	size_t nmeta;
	const consul_tagged_address *tagged_addresses;
	size_t ntagged_addresses;
	bool has_weights; /* send Weights {Passing, Warning} */
	int weight_passing;
	int weight_warning;
	bool enable_tag_override; /* sent only when true */
	const consul_check_def *checks;
	size_t nchecks;
} consul_service;

/* Check a definition against the agent's own validation rules (name
 * required, Meta key/value rules, no 0.0.0.0/:: address, TTL > 0, ...) so a
 * user sees a clear local error instead of a 400 at run time. */
int consul_service_validate(const consul_service *svc, consul_error *err);

/* The JSON body for PUT /v1/agent/service/register (new reference). */
json_t *consul_service_to_json(const consul_service *svc);
/* The JSON body for PUT /v1/agent/check/register (new reference). */
json_t *consul_check_def_to_json(const consul_check_def *check);

/* Percent-encode an ID for use as one URL path segment. Caller frees. */
char *consul_path_escape(const char *id);

/* ------------------------------------------------------------------- calls */

typedef struct consul_client consul_client;

/* Copies cfg. Returns NULL (and fills err) on bad TLS settings or no memory. */
consul_client *consul_client_new(const consul_config *cfg, consul_error *err);
void consul_client_free(consul_client *client);
const consul_config *consul_client_config(const consul_client *client);
/* Use this ACL token (NULL or "" = none) for calls built from now on; calls
 * already built keep the one they had.  The old token is wiped. */
int consul_client_set_token(consul_client *client, const char *token, consul_error *err);
/* Read the client's token file again (after a rotation, say on SIGHUP).
 * 1 if the token changed, 0 if not (or there is no token file), -1 on
 * error, when the old token stays in use. */
int consul_client_reload_token(consul_client *client, consul_error *err);

/* How a finished call went, from the caller's point of view. */
enum consul_outcome {
	CONSUL_OK = 0,       /* 200 */
	CONSUL_GONE,         /* 404, or 500 "... does not have associated TTL": re-register */
	CONSUL_DENIED,       /* 403: ACL token missing, unknown or lacking rights */
	CONSUL_REJECTED,     /* other 4xx: our request is wrong; retrying will not help */
	CONSUL_SERVER_ERROR, /* 5xx (other than GONE) or 429 */
	CONSUL_UNREACHABLE,  /* could not connect, reset, timed out */
	CONSUL_BAD_RESPONSE, /* not HTTP, oversized, or unexpected status */
};

const char *consul_outcome_name(enum consul_outcome outcome);
enum consul_outcome consul_classify(CURLcode code, long status, const char *body);

/* The longest X-Consul-ContentHash kept (the agent sends 16 hex digits). */
#define CONSUL_CONTENT_HASH_MAX 64

typedef struct consul_response {
	enum consul_outcome outcome;
	CURLcode curl_code;
	long status; /* 0 when no HTTP answer */
	char *body;  /* NUL-terminated, never NULL after a finished call */
	size_t body_len;
	char error[CURL_ERROR_SIZE]; /* transport error text, "" if none */
	/*
	 * Query metadata, the headers of api/api.go parseQueryMeta that
	 * blocking queries need.  Each is optional: its has_ flag is set only
	 * when the final response carried the header with a well-formed value
	 * (a malformed one counts as absent).  Most /v1/agent endpoints are not
	 * blocking queries and send none; GET agent/service/:id sends the
	 * content hash.
	 */
	bool has_index;
	uint64_t index; /* X-Consul-Index */
	bool has_known_leader;
	bool known_leader; /* X-Consul-KnownLeader */
	bool has_last_contact;
	uint64_t last_contact_ms; /* X-Consul-LastContact */
	/* X-Consul-ContentHash (hash-based blocking), "" when absent */
	char content_hash[CONSUL_CONTENT_HASH_MAX + 1];
} consul_response;

/* One HTTP request to the agent. */
typedef struct consul_call consul_call;

enum consul_register_flags {
	CONSUL_REPLACE_EXISTING_CHECKS = 1 << 0,
};

consul_call *consul_service_register_call(consul_client *c, const consul_service *svc,
                                          unsigned flags);
consul_call *consul_service_deregister_call(consul_client *c, const char *service_id);
consul_call *consul_service_maintenance_call(consul_client *c, const char *service_id, bool enable,
                                             const char *reason);
consul_call *consul_check_register_call(consul_client *c, const consul_check_def *check);
consul_call *consul_check_deregister_call(consul_client *c, const char *check_id);
/* PUT /v1/agent/check/update/:id with {"Status","Output"}. */
consul_call *consul_check_update_call(consul_client *c, const char *check_id,
                                      enum consul_status status, const char *output);
/* PUT /v1/agent/check/pass|warn|fail/:id?note=... */
consul_call *consul_check_ttl_call(consul_client *c, const char *check_id,
                                   enum consul_status status, const char *note);
consul_call *consul_services_call(consul_client *c); /* GET agent/services */
consul_call *consul_service_call(consul_client *c,
                                 const char *service_id); /* GET agent/service/:id */
consul_call *consul_checks_call(consul_client *c);        /* GET agent/checks */
/* GET agent/checks?filter=EXPR: only the checks a go-bexpr expression over
 * their fields keeps (e.g. ServiceID == "web"); NULL or "" = all of them. */
consul_call *consul_checks_filtered_call(consul_client *c, const char *filter);
consul_call *consul_self_call(consul_client *c);          /* GET agent/self */

/* Override the total timeout of this call (e.g. a short one on shutdown). */
void consul_call_set_timeout(consul_call *call, long timeout_ms);
/* Accept response bodies up to this size instead of CONSUL_RESPONSE_MAX_BYTES
 * (e.g. the agent's whole check list on a node with thousands of checks). */
void consul_call_set_max_body(consul_call *call, size_t bytes);
/* Caller's pointer, e.g. the callback context of an event loop. */
void consul_call_set_data(consul_call *call, void *data);
void *consul_call_data(const consul_call *call);
/* "PUT /v1/agent/check/update/service%3Aweb": for logs; never holds a secret. */
const char *consul_call_describe(const consul_call *call);

/* The easy handle, for curl_multi_add_handle. Its private pointer is the call. */
CURL *consul_call_easy(consul_call *call);
/* The call owning an easy handle that came back from curl_multi_info_read. */
consul_call *consul_call_from_easy(CURL *easy);
/* After the multi handle reports the transfer done: read status and classify. */
const consul_response *consul_call_finish(consul_call *call, CURLcode result);
/* Blocking alternative for simple programs: run the call now.  It may be
 * repeated (a retry); a call handed to a multi handle runs once. */
const consul_response *consul_call_perform(consul_call *call);
const consul_response *consul_call_response(const consul_call *call);
/* Frees the call; its easy handle, reset, is kept for a next call to reuse
 * (remove it from any multi handle first). */
void consul_call_free(consul_call *call);

/* ----------------------------------------------------------------- queries */

/*
 * Options of a read (api/api.go QueryOptions).  Every read constructor takes
 * one; NULL means all defaults (a non-blocking, default-consistency read of
 * the agent's datacenter).  Strings belong to the caller.
 *
 * index > 0 makes the read a blocking query (agent/blockingquery): the agent
 * answers when the result's index passes it or the wait runs out.  wait_ms 0
 * is the agent's default (5 min); the agent caps it at 10 min and adds up to
 * wait/16.  Such a call gets a total timeout of wait + wait/16 +
 * CONSUL_BLOCKING_TIMEOUT_MARGIN_MS instead of the configured one.
 */
#define CONSUL_DEFAULT_WAIT_MS (5 * 60 * 1000)
#define CONSUL_MAX_WAIT_MS (10 * 60 * 1000)
#define CONSUL_BLOCKING_TIMEOUT_MARGIN_MS 5000

typedef struct consul_query {
	uint64_t index;    /* 0 = answer at once */
	int64_t wait_ms;   /* with index: 0 = the agent's default */
	bool stale;        /* ?stale: any server answers */
	bool consistent;   /* ?consistent (not with stale) */
	const char *dc;    /* NULL = the agent's datacenter */
	const char *filter; /* go-bexpr expression, where the endpoint accepts one */
	const char *ns;        /* Enterprise namespace, NULL = none sent */
	const char *partition; /* Enterprise admin partition, NULL = none sent */
} consul_query;

/* The total timeout a read with these options gets (see above). */
long consul_query_timeout_ms(const consul_query *q, long default_timeout_ms);

/*
 * Decoding answers.  Every consul_*_parse function reads a finished call's
 * response, answers 0 and fills its out-parameters, or -1 with err filled
 * (source "response"): an unsuccessful outcome, a body that is not JSON or
 * has the wrong types (CONSUL_BAD_RESPONSE material: the agent is never
 * trusted).  What they return belongs to the caller and is released with the
 * matching *_free function; everything is copied out of the response, which
 * may be freed (with its call) right after.
 */

/* Any JSON answer: *out gets a new reference (json_decref it). */
int consul_response_json(const consul_response *r, json_t **out, consul_error *err);

/* A JSON array of strings (kv keys, datacenters, status peers). */
typedef struct consul_strings {
	char **items;
	size_t n;
} consul_strings;
int consul_strings_parse(const consul_response *r, consul_strings *out, consul_error *err);
void consul_strings_free(consul_strings *s);

/*
 * Strict base64 (RFC 4648, standard alphabet, '=' padding required, no
 * whitespace), as Go's encoding/json writes []byte.  *out is malloc'ed
 * with one NUL byte past *out_len (values are bytes; the NUL is only a
 * convenience).  -1 on any malformed input or no memory.
 */
int consul_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

/* ---------------------------------------------------------------------- kv */

/* One entry of GET /v1/kv/:key (agent/kvs_endpoint.go, api/kv.go KVPair). */
typedef struct consul_kv_pair {
	char *key;
	unsigned char *value; /* bytes (NUL after value_len); NULL when the value is null */
	size_t value_len;
	uint64_t flags;
	uint64_t create_index;
	uint64_t modify_index;
	uint64_t lock_index;
	char *session; /* the lock holder's session ID, NULL when none */
} consul_kv_pair;

typedef struct consul_kv_pairs {
	consul_kv_pair *items; /* in key order, as the agent sends them */
	size_t n;
} consul_kv_pairs;

/* GET /v1/kv/:key: one key (a missing key is a 404 that still carries the
 * index: consul_kv_parse turns it into 0 pairs). */
consul_call *consul_kv_get_call(consul_client *c, const char *key, const consul_query *q);
/* GET /v1/kv/:prefix?recurse: every key under prefix ("" = all). */
consul_call *consul_kv_list_call(consul_client *c, const char *prefix, const consul_query *q);
/* GET /v1/kv/:prefix?keys[&separator=]: key names only (separator NULL = none). */
consul_call *consul_kv_keys_call(consul_client *c, const char *prefix, const char *separator,
                                 const consul_query *q);

enum consul_kv_put_mode {
	CONSUL_KV_SET = 0, /* plain write */
	CONSUL_KV_CAS,     /* only if ModifyIndex == cas (0: only if the key is absent) */
	CONSUL_KV_ACQUIRE, /* take the lock with session */
	CONSUL_KV_RELEASE, /* give it back */
};

typedef struct consul_kv_put {
	enum consul_kv_put_mode mode;
	uint64_t flags; /* sent when not 0 */
	uint64_t cas;
	const char *session; /* for ACQUIRE and RELEASE */
	const char *dc, *ns, *partition;
} consul_kv_put;

/* PUT /v1/kv/:key with value bytes as the body (opts NULL = plain set).
 * The answer is true or false: consul_bool_parse. */
consul_call *consul_kv_put_call(consul_client *c, const char *key, const void *value,
                                size_t value_len, const consul_kv_put *opts);
/* DELETE /v1/kv/:key; recurse deletes every key under the prefix (an empty
 * prefix with recurse empties the store: refused here); cas > 0 deletes only
 * at that ModifyIndex (not with recurse). */
consul_call *consul_kv_delete_call(consul_client *c, const char *key, bool recurse, uint64_t cas,
                                   const consul_query *q);

/* 200 with entries, or 404 (no key): 0 pairs. */
int consul_kv_parse(const consul_response *r, consul_kv_pairs *out, consul_error *err);
void consul_kv_pairs_free(consul_kv_pairs *pairs);
/* The answer to keys: 404 is an empty list. */
int consul_kv_keys_parse(const consul_response *r, consul_strings *out, consul_error *err);
/* A bare true/false answer (KV put/delete, session destroy). */
int consul_bool_parse(const consul_response *r, bool *out, consul_error *err);

/* ---------------------------------------------------------------- sessions */

enum consul_session_behavior {
	CONSUL_SESSION_RELEASE = 0, /* default: locks are released on invalidation */
	CONSUL_SESSION_DELETE,      /* the held keys are deleted */
};

typedef struct consul_session_def {
	const char *name;     /* NULL = omitted */
	const char *node;     /* NULL = the agent's node */
	int64_t ttl_ms;       /* 0 = no TTL; else 10 s .. 24 h */
	int64_t lock_delay_ms; /* < 0 = the default (15 s); 0 = none */
	enum consul_session_behavior behavior;
	const char *const *checks; /* NodeChecks; NULL = the default (serfHealth) */
	size_t nchecks;
} consul_session_def;

typedef struct consul_session {
	char *id;
	char *name;
	char *node;
	char *behavior; /* "release" or "delete" */
	char *ttl;      /* as the agent spells it ("15s"), "" when none */
	int64_t lock_delay_ms;
	uint64_t create_index;
	uint64_t modify_index;
} consul_session;

typedef struct consul_sessions {
	consul_session *items;
	size_t n;
} consul_sessions;

/* PUT /v1/session/create; the answer's ID: consul_session_create_parse. */
consul_call *consul_session_create_call(consul_client *c, const consul_session_def *def,
                                        const consul_query *q);
/* PUT /v1/session/renew/:id: the session again (404 when it is gone). */
consul_call *consul_session_renew_call(consul_client *c, const char *id, const consul_query *q);
/* PUT /v1/session/destroy/:id: true. */
consul_call *consul_session_destroy_call(consul_client *c, const char *id, const consul_query *q);
/* GET /v1/session/info/:id ([] when it does not exist), GET /v1/session/list. */
consul_call *consul_session_info_call(consul_client *c, const char *id, const consul_query *q);
consul_call *consul_session_list_call(consul_client *c, const consul_query *q);

/* *id_out is malloc'ed. */
int consul_session_create_parse(const consul_response *r, char **id_out, consul_error *err);
int consul_session_parse(const consul_response *r, consul_sessions *out, consul_error *err);
void consul_sessions_free(consul_sessions *sessions);

/* ------------------------------------------------------------------ health */

typedef struct consul_health_check {
	char *node;
	char *check_id;
	char *name;
	char *status; /* "passing", "warning", "critical" (kept as sent) */
	char *output;
	char *service_id;   /* "" for a node check (serfHealth) */
	char *service_name;
} consul_health_check;

typedef struct consul_health_checks {
	consul_health_check *items;
	size_t n;
} consul_health_checks;

typedef struct consul_health_entry {
	char *node;
	char *node_address;
	char *service_id;
	char *service_name;
	char *service_address; /* "" when the service uses the node's address */
	int port;
	char **tags;
	size_t ntags;
	consul_health_checks checks; /* node checks included */
} consul_health_entry;

typedef struct consul_health_entries {
	consul_health_entry *items;
	size_t n;
} consul_health_entries;

/* GET /v1/health/service/:service[?passing][&tag=...]; tag NULL = any. */
consul_call *consul_health_service_call(consul_client *c, const char *service, bool passing_only,
                                        const char *tag, const consul_query *q);
/* GET /v1/health/checks/:service, /v1/health/node/:node, /v1/health/state/:state
 * (state: "any", "passing", "warning" or "critical"). */
consul_call *consul_health_checks_call(consul_client *c, const char *service,
                                       const consul_query *q);
consul_call *consul_health_node_call(consul_client *c, const char *node, const consul_query *q);
consul_call *consul_health_state_call(consul_client *c, const char *state, const consul_query *q);

int consul_health_service_parse(const consul_response *r, consul_health_entries *out,
                                consul_error *err);
void consul_health_entries_free(consul_health_entries *entries);
/* The answer of checks, node and state. */
int consul_health_checks_parse(const consul_response *r, consul_health_checks *out,
                               consul_error *err);
void consul_health_checks_free(consul_health_checks *checks);
/* The address to use for an entry: the service's, else the node's. */
const char *consul_health_entry_address(const consul_health_entry *entry);

/* ----------------------------------------------------------------- catalog */

typedef struct consul_catalog_node {
	char *id;
	char *node;
	char *address;
	char *datacenter;
} consul_catalog_node;

typedef struct consul_catalog_nodes {
	consul_catalog_node *items;
	size_t n;
} consul_catalog_nodes;

/* GET /v1/catalog/datacenters: consul_strings_parse. */
consul_call *consul_catalog_datacenters_call(consul_client *c);
/* GET /v1/catalog/nodes: consul_catalog_nodes_parse. */
consul_call *consul_catalog_nodes_call(consul_client *c, const consul_query *q);
/* GET /v1/catalog/services: an object name -> [tags]: consul_response_json. */
consul_call *consul_catalog_services_call(consul_client *c, const consul_query *q);
/* GET /v1/catalog/service/:name[?tag=]: flat entries: consul_response_json. */
consul_call *consul_catalog_service_call(consul_client *c, const char *service, const char *tag,
                                         const consul_query *q);

int consul_catalog_nodes_parse(const consul_response *r, consul_catalog_nodes *out,
                               consul_error *err);
void consul_catalog_nodes_free(consul_catalog_nodes *nodes);

/* ------------------------------------------------------- agent, status, events */

/* GET /v1/agent/members (gossip view, no blocking): consul_response_json. */
consul_call *consul_agent_members_call(consul_client *c, bool wan);
/* GET /v1/status/leader: a JSON string ("" without a leader): consul_status_leader_parse. */
consul_call *consul_status_leader_call(consul_client *c, const consul_query *q);
/* GET /v1/status/peers: consul_strings_parse. */
consul_call *consul_status_peers_call(consul_client *c, const consul_query *q);
int consul_status_leader_parse(const consul_response *r, char **leader_out, consul_error *err);

typedef struct consul_event {
	char *id;
	char *name;
	unsigned char *payload; /* NULL when none */
	size_t payload_len;
	uint64_t ltime;
} consul_event;

typedef struct consul_events {
	consul_event *items;
	size_t n;
} consul_events;

/* PUT /v1/event/fire/:name with payload bytes (may be NULL): the event back. */
consul_call *consul_event_fire_call(consul_client *c, const char *name, const void *payload,
                                    size_t payload_len, const consul_query *q);
/* GET /v1/event/list[?name=]: the agent's recent events (blocking: the index is
 * derived from the last event's ID, not a Raft index). */
consul_call *consul_event_list_call(consul_client *c, const char *name, const consul_query *q);
/* The answer of fire (one object) or list (an array). */
int consul_event_parse(const consul_response *r, consul_events *out, consul_error *err);
void consul_events_free(consul_events *events);

/* ------------------------------------------------------------------ watches */

/*
 * A watch keeps one read current with blocking queries (api/watch/plan.go,
 * with the client rules of Consul's blocking-query documentation):
 *   - the index of each answer is sent back; one that went backwards resets
 *     it to 0 (one fresh, non-blocking read), and so does an error (the agent
 *     may have restarted and never reach the old index); otherwise an index
 *     below 1 is never sent after the first answer (0 never blocks: an
 *     answer without an index, or with 0, makes the next request send 1);
 *   - requests are rate-limited by a token bucket (default burst 2, one token
 *     per 100 ms) instead of a sleep, so an agent that stops blocking makes a
 *     bounded poll, not a hot loop;
 *   - errors back off exponentially with jitter (default 500 ms doubling to
 *     30 s); the callback hears CONSUL_WATCH_ERROR once when they start and
 *     CONSUL_WATCH_RECOVERED once when an answer comes again;
 *   - an answer calls back (CONSUL_WATCH_CHANGED) only when its content (status
 *     and body bytes) differs from the last one: the first answer always does.
 *     A 404 that carries an index (a missing KV key) is content too.
 *
 * The caller drives it on its own curl multi handle:
 *   consul_watch_next_ms  ms until the watch wants to start a request (0: now;
 *                         -1: one is running, or the watch is stopped);
 *   consul_watch_tick     starts the request if it is due (adds its easy handle
 *                         to the multi handle);
 *   consul_watch_done     for each CURLMSG_DONE: true when the handle was the
 *                         watch's (it is then removed, read, and the callback
 *                         runs);
 * or calls consul_watch_loop, a simple blocking driver.  The callback may call
 * consul_watch_stop or consul_watch_free on its own watch.
 */
typedef struct consul_watch consul_watch;

/* Builds the read with the query the watch gives (index, wait set). */
typedef consul_call *(*consul_watch_build_fn)(consul_client *c, const consul_query *q,
                                              void *arg);

enum consul_watch_event {
	CONSUL_WATCH_CHANGED = 0, /* response: the new content (outcome OK, or GONE for a 404) */
	CONSUL_WATCH_ERROR,       /* response: the first failure of a run of them */
	CONSUL_WATCH_RECOVERED,   /* response: the first answer after failures */
};

typedef void (*consul_watch_fn)(consul_watch *w, enum consul_watch_event event,
                                const consul_response *response, void *arg);

/* base: options copied for every request (NULL = defaults; its strings must
 * outlive the watch); wait_ms of base 0 = CONSUL_DEFAULT_WAIT_MS. */
consul_watch *consul_watch_new(consul_client *c, CURLM *multi, consul_watch_build_fn build,
                               void *build_arg, const consul_query *base, consul_watch_fn fn,
                               void *fn_arg);
/* Token bucket: one token every interval_ms, at most burst (>= 1). */
void consul_watch_set_rate(consul_watch *w, long interval_ms, int burst);
void consul_watch_set_backoff(consul_watch *w, long base_ms, long max_ms);
long consul_watch_next_ms(const consul_watch *w);
void consul_watch_tick(consul_watch *w);
bool consul_watch_done(consul_watch *w, CURL *easy, CURLcode result);
/* The index the next request sends, and how many requests were started. */
uint64_t consul_watch_index(const consul_watch *w);
unsigned long consul_watch_requests(const consul_watch *w);
/* Stops it (a running request is removed from the multi handle). */
void consul_watch_stop(consul_watch *w);
bool consul_watch_stopped(const consul_watch *w);
void consul_watch_free(consul_watch *w);

/*
 * Runs the watches on multi until each is stopped, or stop_fd (>= 0, e.g.
 * the read end of a self-pipe a signal handler writes to) becomes readable.
 * 0 then; -1 when the multi handle fails.
 */
int consul_watch_loop(CURLM *multi, consul_watch *const *watches, size_t n, int stop_fd);

/* The linked library's version string, e.g. "0.1.0": OSTIARY_VERSION as
 * the library was built (a program may have been built against another). */
const char *consul_library_version(void);

#ifdef __cplusplus
}
#endif

#endif /* OSTIARY_CONSUL_H */
