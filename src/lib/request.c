/*
 * Requests: one agent request per consul_call, built as a libcurl easy handle
 * that the caller runs blocking (consul_call_perform) or on its own multi
 * handle (consul_call_easy + consul_call_finish); how a finished one went
 * (consul_classify); URL path escaping.  The endpoints themselves are in
 * agent.c.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

struct consul_call {
	CURL *easy;
	const char *method;       /* "GET" or "PUT" */
	const consul_config *cfg; /* the client's, while the call is built */
	struct strbuf path;       /* "/v1/agent/...[?query]", escaped */
	bool has_query;
	char *body;      /* JSON request body, or NULL */
	size_t body_len; /* of a raw body (bytes, maybe with NULs) */
	bool raw_body;   /* body is bytes, not JSON (KV values, event payloads) */
	char *describe;
	struct curl_slist *headers; /* one of them carries the token */
	struct curl_slist *connect_to;
	struct strbuf received; /* response body */
	bool oversize;
	size_t max_body; /* response bytes kept before the call fails as oversized */
	char no_body[1]; /* response.body when nothing was stored */
	void *data;
	consul_response response;
};

/* ----------------------------------------------------------- classification */

const char *
consul_outcome_name(enum consul_outcome outcome)
{
	switch (outcome) {
	case CONSUL_OK:
		return "ok";
	case CONSUL_GONE:
		return "gone";
	case CONSUL_DENIED:
		return "denied";
	case CONSUL_REJECTED:
		return "rejected";
	case CONSUL_SERVER_ERROR:
		return "server error";
	case CONSUL_UNREACHABLE:
		return "unreachable";
	case CONSUL_BAD_RESPONSE:
		return "bad response";
	}
	return "unknown";
}

static enum consul_outcome
request_classify_transport(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return CONSUL_UNREACHABLE;
	default:
		/* Not HTTP, an oversized body (write error), TLS trouble... */
		return CONSUL_BAD_RESPONSE;
	}
}

/*
 * Status codes as agent/http.go wrap() produces them.  Older agents answer a
 * push to an unknown check with 500 "does not have associated TTL" instead
 * of 404 (agent-api notes 2.5); both mean "register again".
 */
enum consul_outcome
consul_classify(CURLcode code, long status, const char *body)
{
	if (code != CURLE_OK)
		return request_classify_transport(code);
	if (status == 200)
		return CONSUL_OK;
	if (status == 404 ||
	    (status == 500 && body && strstr(body, "does not have associated TTL")))
		return CONSUL_GONE;
	if (status == 403)
		return CONSUL_DENIED;
	if (status == 429 || (status >= 500 && status <= 599))
		return CONSUL_SERVER_ERROR;
	if (status >= 400 && status <= 499)
		return CONSUL_REJECTED;
	return CONSUL_BAD_RESPONSE;
}

/* ------------------------------------------------------------ idle handles */

/*
 * A freed call leaves its libcurl handle here, reset to defaults, for the
 * next call to take: a program sending thousands of requests (ostiary's TTL
 * pushes) does not allocate and free a handle, its receive buffer and its
 * state each time.  Shared by every client, and so by every thread.
 */
#define REQUEST_IDLE_HANDLES 32

static struct {
	pthread_mutex_t lock;
	CURL *easy[REQUEST_IDLE_HANDLES];
	size_t n;
} request_idle = { .lock = PTHREAD_MUTEX_INITIALIZER };

static CURL *
request_easy_take(void)
{
	CURL *easy = NULL;

	pthread_mutex_lock(&request_idle.lock);
	if (request_idle.n > 0)
		easy = request_idle.easy[--request_idle.n];
	pthread_mutex_unlock(&request_idle.lock);
	return easy ? easy : curl_easy_init();
}

static void
request_easy_give_back(CURL *easy)
{
	curl_easy_reset(easy);
	pthread_mutex_lock(&request_idle.lock);
	if (request_idle.n < REQUEST_IDLE_HANDLES) {
		request_idle.easy[request_idle.n++] = easy;
		easy = NULL;
	}
	pthread_mutex_unlock(&request_idle.lock);
	if (easy)
		curl_easy_cleanup(easy);
}

/* ------------------------------------------------------------ building calls */

/*
 * The ostiary_request_* builders chain: each takes the call being built
 * (NULL after an earlier failure), frees it on its own failure, and returns
 * it.  agent.c's endpoint constructors are such chains.
 */

/* `endpoint` ends with "/" when an ID must follow. */
consul_call *
ostiary_request_new(consul_client *client, const char *method, const char *endpoint, const char *id)
{
	bool needs_id = endpoint[strlen(endpoint) - 1] == '/';
	consul_call *call;
	char *escaped;

	if (!client || (needs_id && (!id || !*id)))
		return NULL;
	call = calloc(1, sizeof *call);
	if (!call)
		return NULL;
	call->method = method;
	call->cfg = consul_client_config(client);
	call->max_body = CONSUL_RESPONSE_MAX_BYTES;
	call->response.body = call->no_body;
	escaped = needs_id ? consul_path_escape(id) : NULL;
	if (!(call->easy = request_easy_take()) || (needs_id && !escaped) ||
	    ostiary_strbuf_printf(&call->path, "%s%s", endpoint, needs_id ? escaped : "") < 0) {
		consul_call_free(call);
		call = NULL;
	}
	free(escaped);
	return call;
}

/* A call to a path escaped by the caller: a KV key keeps its '/'
 * (api/kv.go builds "/v1/kv/" + key). */
consul_call *
ostiary_request_new_path(consul_client *client, const char *method, const char *path)
{
	consul_call *call;

	if (!client || !path)
		return NULL;
	if (!(call = calloc(1, sizeof *call)))
		return NULL;
	call->method = method;
	call->cfg = consul_client_config(client);
	call->max_body = CONSUL_RESPONSE_MAX_BYTES;
	call->response.body = call->no_body;
	if (!(call->easy = request_easy_take()) ||
	    ostiary_strbuf_printf(&call->path, "%s", path) < 0) {
		consul_call_free(call);
		return NULL;
	}
	return call;
}

/* A raw body: len bytes copied (a KV value, an event payload). */
consul_call *
ostiary_request_raw_body(consul_call *call, const void *data, size_t len)
{
	if (!call)
		return NULL;
	if (!(call->body = malloc(len + 1))) {
		consul_call_free(call);
		return NULL;
	}
	if (len)
		memcpy(call->body, data, len);
	call->body[len] = '\0';
	call->body_len = len;
	call->raw_body = true;
	return call;
}

/* Adds "name=value" to the query; a NULL value adds nothing. */
consul_call *
ostiary_request_query(consul_call *call, const char *name, const char *value)
{
	char *escaped;
	int rc;

	if (!call || !value)
		return call;
	escaped = curl_easy_escape(call->easy, value, 0);
	rc = escaped ? ostiary_strbuf_printf(&call->path, "%c%s=%s", call->has_query ? '&' : '?',
	                                     name, escaped)
	             : -1;
	curl_free(escaped);
	if (rc < 0) {
		consul_call_free(call);
		return NULL;
	}
	call->has_query = true;
	return call;
}

/* Takes the reference to body. */
consul_call *
ostiary_request_json(consul_call *call, json_t *body)
{
	if (call && body)
		call->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (call && !call->body) {
		consul_call_free(call);
		return NULL;
	}
	return call;
}

/* A TLS server name goes into the URL so that libcurl sends it as SNI and
 * verifies the certificate against it (7.88 has no separate option). */
static bool
request_uses_server_name(const consul_config *cfg)
{
	return cfg->transport == CONSUL_TRANSPORT_TCP && cfg->https && cfg->tls.server_name &&
	       *cfg->tls.server_name;
}

static char *
request_url(const consul_call *call)
{
	const consul_config *cfg = call->cfg;
	struct strbuf url = { 0 };
	int rc;

	/* Over a unix socket the Go client's Host is "localhost" too. */
	if (cfg->transport == CONSUL_TRANSPORT_UNIX)
		rc = ostiary_strbuf_printf(&url, "http://localhost");
	else
		rc = ostiary_config_append_origin(&url, cfg,
		                                  request_uses_server_name(cfg)
		                                          ? cfg->tls.server_name
		                                          : ostiary_config_host(cfg));
	if (rc < 0 || ostiary_strbuf_printf(&url, "%s%s", ostiary_config_path_prefix(cfg),
	                                    call->path.data) < 0) {
		ostiary_strbuf_free(&url);
		return NULL;
	}
	return url.data;
}

/* "name:port:host:port": the connection for the server name in the URL goes
 * to the configured host (which may be a name, unlike CURLOPT_RESOLVE's). */
static int
request_connect_to(consul_call *call)
{
	const consul_config *cfg = call->cfg;
	int port = cfg->port ? cfg->port : 443;
	struct strbuf entry = { 0 };
	struct curl_slist *list = NULL;

	if (ostiary_config_append_host(&entry, cfg->tls.server_name) == 0 &&
	    ostiary_strbuf_printf(&entry, ":%d:", port) == 0 &&
	    ostiary_config_append_host(&entry, ostiary_config_host(cfg)) == 0 &&
	    ostiary_strbuf_printf(&entry, ":%d", port) == 0)
		list = curl_slist_append(NULL, entry.data);
	ostiary_strbuf_free(&entry);
	call->connect_to = list;
	return list ? 0 : -1;
}

static int
request_add_header(consul_call *call, const char *header)
{
	struct curl_slist *list = curl_slist_append(call->headers, header);

	if (!list)
		return -1;
	call->headers = list;
	return 0;
}

static int
request_add_token_header(consul_call *call)
{
	char *header;
	int rc;

	if (!call->cfg->token || !*call->cfg->token)
		return 0;
	header = ostiary_strbuf_format("X-Consul-Token: %s", call->cfg->token);
	rc = header ? request_add_header(call, header) : -1;
	ostiary_config_secret_wipe(header);
	free(header);
	return rc;
}

static int
request_add_headers(consul_call *call)
{
	if (request_add_token_header(call) < 0)
		return -1;
	if (strcmp(call->method, "PUT") != 0)
		return 0;
	if (!call->body) /* drop libcurl's form Content-Type on an empty body */
		return request_add_header(call, "Content-Type:");
	if (call->raw_body) /* api/kv.go put: the value as it is */
		return request_add_header(call, "Content-Type: application/octet-stream") < 0 ||
		                       request_add_header(call, "Expect:") < 0
		               ? -1
		               : 0;
	/* "Expect:" spares the 100-continue round trip libcurl adds for larger bodies. */
	if (request_add_header(call, "Content-Type: application/json") < 0 ||
	    request_add_header(call, "Expect:") < 0)
		return -1;
	return 0;
}

/* libcurl 7.88 opens its sockets without close-on-exec: a kept-alive
 * agent connection would leak into every program the caller starts. */
static int
request_socket_cloexec(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags >= 0)
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	return CURL_SOCKOPT_OK;
}

static size_t
request_collect(char *data, size_t size, size_t nmemb, void *arg)
{
	consul_call *call = arg;
	size_t len = size * nmemb;

	if (len > call->max_body - call->received.len) {
		call->oversize = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return ostiary_strbuf_append_max(&call->received, data, len, call->max_body) == 0 ? len : 0;
}

/* ----------------------------------------------------------- query metadata */

/* A new response starts without metadata: the headers of an interim
 * response (100 Continue) or of an earlier attempt must not stick. */
static void
request_meta_reset(consul_response *response)
{
	response->has_index = response->has_known_leader = response->has_last_contact = false;
	response->known_leader = false;
	response->index = response->last_contact_ms = 0;
	response->content_hash[0] = '\0';
}

/* Decimal digits only, as strconv.FormatUint writes them: no sign, no
 * space, nothing past UINT64_MAX. */
static bool
request_parse_u64(const char *text, size_t len, uint64_t *out)
{
	uint64_t value = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned digit = (unsigned)((unsigned char)text[i] - '0');

		if (digit > 9 || value > (UINT64_MAX - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	*out = value;
	return true;
}

/* The agent writes "true" or "false" (agent/http.go setKnownLeader). */
static bool
request_parse_bool(const char *text, size_t len, bool *out)
{
	if (len == 4 && memcmp(text, "true", 4) == 0)
		*out = true;
	else if (len == 5 && memcmp(text, "false", 5) == 0)
		*out = false;
	else
		return false;
	return true;
}

/* A hash is a visible ASCII token that fits the response's buffer. */
static bool
request_parse_hash(const char *text, size_t len, char *out, size_t cap)
{
	if (len == 0 || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] <= ' ' || text[i] >= 0x7f)
			return false;
	}
	memcpy(out, text, len);
	out[len] = '\0';
	return true;
}

static bool
request_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Header names are case-insensitive (RFC 9110 5.1). */
static bool
request_header_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

static void
request_parse_meta(consul_response *r, const char *name, size_t name_len, const char *value,
                   size_t len)
{
	if (request_header_is(name, name_len, "X-Consul-Index")) {
		if (!(r->has_index = request_parse_u64(value, len, &r->index)))
			r->index = 0;
	} else if (request_header_is(name, name_len, "X-Consul-KnownLeader")) {
		if (!(r->has_known_leader = request_parse_bool(value, len, &r->known_leader)))
			r->known_leader = false;
	} else if (request_header_is(name, name_len, "X-Consul-LastContact")) {
		if (!(r->has_last_contact = request_parse_u64(value, len, &r->last_contact_ms)))
			r->last_contact_ms = 0;
	} else if (request_header_is(name, name_len, "X-Consul-ContentHash")) {
		if (!request_parse_hash(value, len, r->content_hash, sizeof r->content_hash))
			r->content_hash[0] = '\0';
	}
}

void
ostiary_request_parse_header(consul_response *response, const char *line, size_t len)
{
	const char *colon, *value;
	size_t value_len;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		request_meta_reset(response);
		return;
	}
	if (!(colon = memchr(line, ':', len)))
		return;
	value = colon + 1;
	value_len = len - (size_t)(value - line);
	while (value_len > 0 && request_is_blank(*value))
		value++, value_len--;
	while (value_len > 0 && request_is_blank(value[value_len - 1]))
		value_len--;
	request_parse_meta(response, line, (size_t)(colon - line), value, value_len);
}

static size_t
request_header(char *line, size_t size, size_t nitems, void *arg)
{
	consul_call *call = arg;

	ostiary_request_parse_header(&call->response, line, size * nitems);
	return size * nitems;
}

/* CONSUL_HTTP_AUTH "user[:password]" as HTTP basic auth, as the Go client's
 * SetBasicAuth (api/api.go); libcurl keeps its own copies. */
static CURLcode
request_set_auth(consul_call *call)
{
	const char *auth = call->cfg->http_auth, *colon;
	char *user;
	CURLcode rc;

	if (!auth || !*auth)
		return CURLE_OK;
	colon = strchr(auth, ':');
	if (!(user = strndup(auth, colon ? (size_t)(colon - auth) : strlen(auth))))
		return CURLE_OUT_OF_MEMORY;
	rc = curl_easy_setopt(call->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(call->easy, CURLOPT_USERNAME, user);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(call->easy, CURLOPT_PASSWORD, colon ? colon + 1 : "");
	ostiary_config_secret_wipe(user);
	free(user);
	return rc;
}

static CURLcode
request_set_common(consul_call *call, const char *url)
{
	const consul_config *cfg = call->cfg;
	CURL *easy = call->easy;
	char agent[64];
	CURLcode rc;

	snprintf(agent, sizeof agent, "ostiary/%s", consul_library_version());
	rc = curl_easy_setopt(easy, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)call);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Never through a proxy from http_proxy & co.: the token would go to it. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_PROXY, "");
	/* A redirect means a mis-escaped ID (hashicorp/consul#4992); following
	 * it could also take the token elsewhere. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, request_socket_cloexec);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->response.error);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, request_collect);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)call);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, request_header);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)call);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_USERAGENT, agent);
	if (rc == CURLE_OK)
		rc = request_set_auth(call);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_HTTPHEADER, call->headers);
	return rc;
}

/* PUT carries its body (possibly empty: Content-Length: 0) as POST data. */
static CURLcode
request_set_method(consul_call *call)
{
	const char *body = call->body ? call->body : "";
	CURLcode rc;

	if (strcmp(call->method, "DELETE") == 0) {
		rc = curl_easy_setopt(call->easy, CURLOPT_HTTPGET, 1L);
		return rc == CURLE_OK
		               ? curl_easy_setopt(call->easy, CURLOPT_CUSTOMREQUEST, "DELETE")
		               : rc;
	}
	if (strcmp(call->method, "PUT") != 0)
		return curl_easy_setopt(call->easy, CURLOPT_HTTPGET, 1L);
	rc = curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(call->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		                      (curl_off_t)(call->raw_body ? call->body_len : strlen(body)));
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(call->easy, CURLOPT_CUSTOMREQUEST, "PUT");
	return rc;
}

static CURLcode
request_set_file(CURL *easy, CURLoption option, const char *path)
{
	return path && *path ? curl_easy_setopt(easy, option, path) : CURLE_OK;
}

static CURLcode
request_set_transport(consul_call *call)
{
	const consul_config *cfg = call->cfg;
	CURL *easy = call->easy;
	CURLcode rc;

	if (cfg->transport == CONSUL_TRANSPORT_UNIX)
		return curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, cfg->socket_path);
	if (!cfg->https)
		return CURLE_OK;
	rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, cfg->tls.verify ? 1L : 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, cfg->tls.verify ? 2L : 0L);
	if (rc == CURLE_OK)
		rc = request_set_file(easy, CURLOPT_CAINFO, cfg->tls.ca_file);
	if (rc == CURLE_OK)
		rc = request_set_file(easy, CURLOPT_CAPATH, cfg->tls.ca_path);
	if (rc == CURLE_OK)
		rc = request_set_file(easy, CURLOPT_SSLCERT, cfg->tls.cert_file);
	if (rc == CURLE_OK)
		rc = request_set_file(easy, CURLOPT_SSLKEY, cfg->tls.key_file);
	if (rc == CURLE_OK && call->connect_to)
		rc = curl_easy_setopt(easy, CURLOPT_CONNECT_TO, call->connect_to);
	return rc;
}

/* Whether the query string already has "name=". */
static bool
request_has_param(const consul_call *call, const char *name)
{
	const char *query = call->has_query ? strchr(call->path.data, '?') : NULL;
	size_t len = strlen(name);

	for (const char *p = query; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, len) == 0 && p[1 + len] == '=')
			return true;
	}
	return false;
}

/* The last builder: everything the request needs goes onto the handle. */
consul_call *
ostiary_request_ready(consul_call *call)
{
	const consul_config *cfg;
	char *url;
	bool ok;

	if (!call)
		return NULL;
	/* Like the Go client (api/api.go newRequest), every request carries the
	 * configured namespace and partition, unless its query options (which
	 * win there too) already gave their own. */
	cfg = call->cfg;
	if (!request_has_param(call, "ns"))
		call = ostiary_request_query(call, "ns", cfg->ns && *cfg->ns ? cfg->ns : NULL);
	if (call && !request_has_param(call, "partition"))
		call = ostiary_request_query(call, "partition",
		                             cfg->partition && *cfg->partition ? cfg->partition
		                                                               : NULL);
	if (!call)
		return NULL;
	url = request_url(call);
	ok = url &&
	     (call->describe = ostiary_strbuf_format("%s %s", call->method, call->path.data)) &&
	     request_add_headers(call) == 0 &&
	     (!request_uses_server_name(call->cfg) || request_connect_to(call) == 0) &&
	     request_set_common(call, url) == CURLE_OK && request_set_method(call) == CURLE_OK &&
	     request_set_transport(call) == CURLE_OK;
	free(url);
	call->cfg = NULL; /* the call must not depend on the client any longer */
	if (!ok) {
		consul_call_free(call);
		return NULL;
	}
	return call;
}

/* ------------------------------------------------------------ running calls */

void
consul_call_set_timeout(consul_call *call, long timeout_ms)
{
	curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
}

void
consul_call_set_max_body(consul_call *call, size_t bytes)
{
	call->max_body = bytes;
}

void
consul_call_set_data(consul_call *call, void *data)
{
	call->data = data;
}

void *
consul_call_data(const consul_call *call)
{
	return call->data;
}

const char *
consul_call_describe(const consul_call *call)
{
	return call->describe;
}

CURL *
consul_call_easy(consul_call *call)
{
	return call->easy;
}

consul_call *
consul_call_from_easy(CURL *easy)
{
	char *owner = NULL;

	if (!easy || curl_easy_getinfo(easy, CURLINFO_PRIVATE, &owner) != CURLE_OK)
		return NULL;
	return (consul_call *)(void *)owner;
}

const consul_response *
consul_call_finish(consul_call *call, CURLcode result)
{
	consul_response *response = &call->response;
	long status = 0;

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	response->curl_code = result;
	response->status = status;
	response->body = call->received.data ? call->received.data : call->no_body;
	response->body_len = call->received.len;
	if (call->oversize) {
		response->outcome = CONSUL_BAD_RESPONSE;
		snprintf(response->error, sizeof response->error, "response larger than %zu bytes",
		         call->max_body);
		return response;
	}
	response->outcome = consul_classify(result, status, response->body);
	if (result != CURLE_OK && !response->error[0])
		snprintf(response->error, sizeof response->error, "%s", curl_easy_strerror(result));
	return response;
}

/* Resets what an earlier run left, so a call can be performed again. */
const consul_response *
consul_call_perform(consul_call *call)
{
	call->received.len = 0;
	if (call->received.data)
		call->received.data[0] = '\0';
	call->oversize = false;
	call->response.error[0] = '\0';
	request_meta_reset(&call->response);
	return consul_call_finish(call, curl_easy_perform(call->easy));
}

const consul_response *
consul_call_response(const consul_call *call)
{
	return &call->response;
}

void
consul_call_free(consul_call *call)
{
	if (!call)
		return;
	if (call->easy)
		request_easy_give_back(call->easy);
	for (struct curl_slist *header = call->headers; header; header = header->next)
		ostiary_config_secret_wipe(header->data);
	curl_slist_free_all(call->headers);
	curl_slist_free_all(call->connect_to);
	ostiary_strbuf_free(&call->path);
	ostiary_strbuf_free(&call->received);
	free(call->body);
	free(call->describe);
	free(call);
}

/* ------------------------------------------------------------ path escaping */

/*
 * The agent takes everything after the endpoint's prefix of the decoded path,
 * so every byte outside RFC 3986's unreserved set is escaped; '/' in an ID
 * would otherwise make Go's mux answer 301 (hashicorp/consul#4992).
 * curl_easy_escape keeps exactly A-Z a-z 0-9 - . _ ~ and writes %XX in
 * upper case; it ignores its handle since 7.82.0.  Its result is copied
 * because our callers free() what we return, and curl's memory must go back
 * through curl_free.
 */
char *
consul_path_escape(const char *id)
{
	char *escaped, *copy;

	if (!id)
		return NULL;
	/* Length 0 makes curl use strlen; "" escapes to "". */
	if (!(escaped = curl_easy_escape(NULL, id, 0)))
		return NULL;
	copy = strdup(escaped);
	curl_free(escaped);
	return copy;
}
