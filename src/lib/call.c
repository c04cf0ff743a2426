/*
 * Calls: one agent request per consul_call, built as a libcurl easy handle
 * that the caller runs blocking (consul_call_perform) or on its own multi
 * handle (consul_call_easy + consul_call_finish).  Methods, paths and status
 * codes follow agent/http_register.go and agent/agent_endpoint.go.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"

struct consul_client {
	consul_config cfg;
};

struct consul_call {
	CURL *easy;
	const char *method;       /* "GET" or "PUT" */
	const consul_config *cfg; /* the client's, while the call is built */
	struct strbuf path;       /* "/v1/agent/...[?query]", escaped */
	bool has_query;
	char *body; /* JSON request body, or NULL */
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

/* ------------------------------------------------------------------ clients */

static bool
call_has_control_chars(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
	}
	return false;
}

static int
call_check_config(const consul_config *cfg, consul_error *err)
{
	if (!cfg->tls.cert_file != !cfg->tls.key_file)
		return consul_error_set(err, "TLS", CONFIG_CERT_PAIR_TEXT);
	if (cfg->transport == CONSUL_TRANSPORT_UNIX && (!cfg->socket_path || !*cfg->socket_path))
		return consul_error_set(
		        err, "address",
		        "a unix socket path is required (e.g. unix:///run/consul/http.sock)");
	/* The token goes into a header line: a newline would split it. */
	if (cfg->token && call_has_control_chars(cfg->token))
		return consul_error_set(
		        err, "token", "the ACL token contains control characters (a line break?)");
	return 0;
}

consul_client *
consul_client_new(const consul_config *cfg, consul_error *err)
{
	consul_client *client;

	if (call_check_config(cfg, err) < 0)
		return NULL;
	client = calloc(1, sizeof *client);
	if (!client || consul_config_copy(&client->cfg, cfg) < 0) {
		free(client);
		consul_error_set(err, "client", "out of memory");
		return NULL;
	}
	return client;
}

void
consul_client_free(consul_client *client)
{
	if (!client)
		return;
	consul_config_free(&client->cfg);
	free(client);
}

int
consul_client_set_token(consul_client *client, const char *token, consul_error *err)
{
	char *copy = NULL;

	if (token && call_has_control_chars(token))
		return consul_error_set(
		        err, "token", "the ACL token contains control characters (a line break?)");
	if (token && *token && (copy = strdup(token)) == NULL)
		return consul_error_set(err, "token", "out of memory");
	if (client->cfg.token) {
		ostiary_config_secret_wipe(client->cfg.token);
		free(client->cfg.token);
	}
	client->cfg.token = copy;
	return 0;
}

int
consul_client_reload_token(consul_client *client, consul_error *err)
{
	consul_config fresh;
	bool changed;
	int rc = 0;

	if (!client->cfg.token_file)
		return 0;
	consul_config_init(&fresh);
	if (consul_config_load_token_file(&fresh, client->cfg.token_file, err) < 0) {
		consul_config_free(&fresh);
		return -1;
	}
	changed = !client->cfg.token || strcmp(client->cfg.token, fresh.token) != 0;
	if (changed)
		rc = consul_client_set_token(client, fresh.token, err);
	consul_config_free(&fresh);
	return rc < 0 ? -1 : changed;
}

const consul_config *
consul_client_config(const consul_client *client)
{
	return &client->cfg;
}

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
call_classify_transport(CURLcode code)
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
		return call_classify_transport(code);
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

/* ------------------------------------------------------------ building calls */

/*
 * The call_* builders below chain: each takes the call being built (NULL
 * after an earlier failure), frees it on its own failure, and returns it.
 */

/* `endpoint` ends with "/" when an ID must follow. */
static consul_call *
call_new(consul_client *client, const char *method, const char *endpoint, const char *id)
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
	call->cfg = &client->cfg;
	call->max_body = CONSUL_RESPONSE_MAX_BYTES;
	call->response.body = call->no_body;
	escaped = needs_id ? consul_path_escape(id) : NULL;
	if (!(call->easy = curl_easy_init()) || (needs_id && !escaped) ||
	    ostiary_strbuf_printf(&call->path, "%s%s", endpoint, needs_id ? escaped : "") < 0) {
		consul_call_free(call);
		call = NULL;
	}
	free(escaped);
	return call;
}

/* Adds "name=value" to the query; a NULL value adds nothing. */
static consul_call *
call_query(consul_call *call, const char *name, const char *value)
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
static consul_call *
call_json(consul_call *call, json_t *body)
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
call_uses_server_name(const consul_config *cfg)
{
	return cfg->transport == CONSUL_TRANSPORT_TCP && cfg->https && cfg->tls.server_name &&
	       *cfg->tls.server_name;
}

static char *
call_url(const consul_call *call)
{
	const consul_config *cfg = call->cfg;
	struct strbuf url = { 0 };
	int rc;

	/* Over a unix socket the Go client's Host is "localhost" too. */
	if (cfg->transport == CONSUL_TRANSPORT_UNIX)
		rc = ostiary_strbuf_printf(&url, "http://localhost");
	else
		rc = ostiary_config_append_origin(&url, cfg,
		                                  call_uses_server_name(cfg)
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
call_connect_to(consul_call *call)
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
call_add_header(consul_call *call, const char *header)
{
	struct curl_slist *list = curl_slist_append(call->headers, header);

	if (!list)
		return -1;
	call->headers = list;
	return 0;
}

static int
call_add_token_header(consul_call *call)
{
	char *header;
	int rc;

	if (!call->cfg->token || !*call->cfg->token)
		return 0;
	header = ostiary_strbuf_format("X-Consul-Token: %s", call->cfg->token);
	rc = header ? call_add_header(call, header) : -1;
	ostiary_config_secret_wipe(header);
	free(header);
	return rc;
}

static int
call_add_headers(consul_call *call)
{
	if (call_add_token_header(call) < 0)
		return -1;
	if (strcmp(call->method, "PUT") != 0)
		return 0;
	if (!call->body) /* drop libcurl's form Content-Type on an empty body */
		return call_add_header(call, "Content-Type:");
	/* "Expect:" spares the 100-continue round trip libcurl adds for larger bodies. */
	if (call_add_header(call, "Content-Type: application/json") < 0 ||
	    call_add_header(call, "Expect:") < 0)
		return -1;
	return 0;
}

/* libcurl 7.88 opens its sockets without close-on-exec: a kept-alive
 * agent connection would leak into every program the caller starts. */
static int
call_socket_cloexec(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags >= 0)
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	return CURL_SOCKOPT_OK;
}

static size_t
call_collect(char *data, size_t size, size_t nmemb, void *arg)
{
	consul_call *call = arg;
	size_t len = size * nmemb;

	if (len > call->max_body - call->received.len) {
		call->oversize = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return ostiary_strbuf_append(&call->received, data, len) == 0 ? len : 0;
}

static CURLcode
call_set_common(consul_call *call, const char *url)
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
		rc = curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, call_socket_cloexec);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->response.error);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, call_collect);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)call);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_USERAGENT, agent);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_HTTPHEADER, call->headers);
	return rc;
}

/* PUT carries its body (possibly empty: Content-Length: 0) as POST data. */
static CURLcode
call_set_method(consul_call *call)
{
	const char *body = call->body ? call->body : "";
	CURLcode rc;

	if (strcmp(call->method, "PUT") != 0)
		return curl_easy_setopt(call->easy, CURLOPT_HTTPGET, 1L);
	rc = curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(call->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		                      (curl_off_t)strlen(body));
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(call->easy, CURLOPT_CUSTOMREQUEST, "PUT");
	return rc;
}

static CURLcode
call_set_file(CURL *easy, CURLoption option, const char *path)
{
	return path && *path ? curl_easy_setopt(easy, option, path) : CURLE_OK;
}

static CURLcode
call_set_transport(consul_call *call)
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
		rc = call_set_file(easy, CURLOPT_CAINFO, cfg->tls.ca_file);
	if (rc == CURLE_OK)
		rc = call_set_file(easy, CURLOPT_CAPATH, cfg->tls.ca_path);
	if (rc == CURLE_OK)
		rc = call_set_file(easy, CURLOPT_SSLCERT, cfg->tls.cert_file);
	if (rc == CURLE_OK)
		rc = call_set_file(easy, CURLOPT_SSLKEY, cfg->tls.key_file);
	if (rc == CURLE_OK && call->connect_to)
		rc = curl_easy_setopt(easy, CURLOPT_CONNECT_TO, call->connect_to);
	return rc;
}

/* The last builder: everything the request needs goes onto the handle. */
static consul_call *
call_ready(consul_call *call)
{
	char *url;
	bool ok;

	if (!call)
		return NULL;
	url = call_url(call);
	ok = url &&
	     (call->describe = ostiary_strbuf_format("%s %s", call->method, call->path.data)) &&
	     call_add_headers(call) == 0 &&
	     (!call_uses_server_name(call->cfg) || call_connect_to(call) == 0) &&
	     call_set_common(call, url) == CURLE_OK && call_set_method(call) == CURLE_OK &&
	     call_set_transport(call) == CURLE_OK;
	free(url);
	call->cfg = NULL; /* the call must not depend on the client any longer */
	if (!ok) {
		consul_call_free(call);
		return NULL;
	}
	return call;
}

/* ---------------------------------------------------------------- endpoints */

static bool
call_status_valid(enum consul_status status)
{
	return (unsigned)status <= CONSUL_CRITICAL;
}

consul_call *
consul_service_register_call(consul_client *c, const consul_service *svc, unsigned flags)
{
	consul_call *call = call_new(c, "PUT", "/v1/agent/service/register", NULL);

	/* Only an empty value or exactly "true" enables it (AgentRegisterService). */
	call = call_query(call, "replace-existing-checks",
	                  flags & CONSUL_REPLACE_EXISTING_CHECKS ? "true" : NULL);
	return call_ready(call_json(call, svc ? consul_service_to_json(svc) : NULL));
}

consul_call *
consul_service_deregister_call(consul_client *c, const char *service_id)
{
	return call_ready(call_new(c, "PUT", "/v1/agent/service/deregister/", service_id));
}

consul_call *
consul_service_maintenance_call(consul_client *c, const char *service_id, bool enable,
                                const char *reason)
{
	consul_call *call = call_new(c, "PUT", "/v1/agent/service/maintenance/", service_id);

	call = call_query(call, "enable", enable ? "true" : "false");
	return call_ready(call_query(call, "reason", reason));
}

consul_call *
consul_check_register_call(consul_client *c, const consul_check_def *check)
{
	consul_call *call = call_new(c, "PUT", "/v1/agent/check/register", NULL);

	return call_ready(call_json(call, check ? consul_check_def_to_json(check) : NULL));
}

consul_call *
consul_check_deregister_call(consul_client *c, const char *check_id)
{
	return call_ready(call_new(c, "PUT", "/v1/agent/check/deregister/", check_id));
}

static json_t *
call_update_body(enum consul_status status, const char *output)
{
	json_t *body = json_object();
	const char *name = consul_status_name(status);

	/* json_object_set_new releases the value even when it fails. */
	if (!body || json_object_set_new(body, "Status", json_string(name)) < 0 ||
	    json_object_set_new(body, "Output",
	                        ostiary_definition_json_string(output ? output : "")) < 0) {
		json_decref(body);
		return NULL;
	}
	return body;
}

consul_call *
consul_check_update_call(consul_client *c, const char *check_id, enum consul_status status,
                         const char *output)
{
	consul_call *call;

	if (!call_status_valid(status))
		return NULL;
	call = call_new(c, "PUT", "/v1/agent/check/update/", check_id);
	return call_ready(call_json(call, call ? call_update_body(status, output) : NULL));
}

consul_call *
consul_check_ttl_call(consul_client *c, const char *check_id, enum consul_status status,
                      const char *note)
{
	static const char *const endpoints[] = {
		[CONSUL_PASSING] = "/v1/agent/check/pass/",
		[CONSUL_WARNING] = "/v1/agent/check/warn/",
		[CONSUL_CRITICAL] = "/v1/agent/check/fail/",
	};

	if (!call_status_valid(status))
		return NULL;
	/* The note becomes the check's Output; none means an empty Output. */
	return call_ready(
	        call_query(call_new(c, "PUT", endpoints[status], check_id), "note", note));
}

consul_call *
consul_services_call(consul_client *c)
{
	return call_ready(call_new(c, "GET", "/v1/agent/services", NULL));
}

consul_call *
consul_service_call(consul_client *c, const char *service_id)
{
	return call_ready(call_new(c, "GET", "/v1/agent/service/", service_id));
}

consul_call *
consul_checks_call(consul_client *c)
{
	return call_ready(call_new(c, "GET", "/v1/agent/checks", NULL));
}

consul_call *
consul_self_call(consul_client *c)
{
	return call_ready(call_new(c, "GET", "/v1/agent/self", NULL));
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
		curl_easy_cleanup(call->easy);
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
