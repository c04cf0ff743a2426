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
/* Frees the call and its easy handle (remove it from any multi handle first). */
void consul_call_free(consul_call *call);

/* The linked library's version string, e.g. "0.1.0": OSTIARY_VERSION as
 * the library was built (a program may have been built against another). */
const char *consul_library_version(void);

#ifdef __cplusplus
}
#endif

#endif /* OSTIARY_CONSUL_H */
