/*
 * Calls: classification, descriptions, and real HTTP exchanges with a tiny
 * forked server that records the request bytes and answers a canned reply.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ostiary/consul.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DEADLINE_MS 5000
#define TOKEN "tok-7c1e5a-secret"

/* ------------------------------------------------------------ test server */

enum server_mode {
	SERVER_HTTP,   /* read one request, answer the canned response */
	SERVER_RAW,    /* read what arrives first (a TLS ClientHello), hang up */
	SERVER_SILENT, /* read one request, never answer */
};

struct server {
	pid_t pid;
	int port;
	int requests; /* pipe: the bytes the server received */
};

static int
listen_tcp(int *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
		                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	*port = ntohs(addr.sin_port);
	return fd;
}

static bool
wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, DEADLINE_MS) == 1;
}

static void
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* Bytes of one HTTP request: headers, then Content-Length bytes of body. */
static size_t
read_request(int conn, enum server_mode mode, char *buf, size_t cap)
{
	size_t len = 0, want = 0;

	while (len < cap - 1 && (!want || len < want) && wait_readable(conn)) {
		ssize_t n = read(conn, buf + len, cap - 1 - len);
		char *end, *cl;

		if (n <= 0 || mode == SERVER_RAW)
			return len + (n > 0 ? (size_t)n : 0);
		len += (size_t)n;
		buf[len] = '\0';
		if (!want && (end = strstr(buf, "\r\n\r\n"))) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			want = (size_t)(end + 4 - buf) +
			       (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
		}
	}
	return len;
}

static void
server_child(int listener, int out, enum server_mode mode, const char *response,
             size_t response_len)
{
	static char request[64 * 1024];
	size_t len;
	int conn;

	signal(SIGPIPE, SIG_IGN);
	if (!wait_readable(listener) || (conn = accept(listener, NULL, NULL)) < 0)
		_exit(1);
	len = read_request(conn, mode, request, sizeof request);
	write_all(out, request, len);
	close(out);
	if (mode == SERVER_HTTP)
		write_all(conn, response, response_len);
	else if (mode == SERVER_SILENT)
		wait_readable(conn); /* until the client gives up and closes */
	close(conn);
	_exit(0);
}

static void
server_start(struct server *srv, int listener, enum server_mode mode, const char *response,
             size_t response_len)
{
	int fds[2];

	cr_assert_eq(listen(listener, 1), 0);
	cr_assert_eq(pipe(fds), 0);
	srv->pid = fork();
	cr_assert_geq(srv->pid, 0);
	if (srv->pid == 0) {
		close(fds[0]);
		server_child(listener, fds[1], mode, response, response_len);
	}
	close(fds[1]);
	close(listener);
	srv->requests = fds[0];
}

static struct server
start_http(const char *response)
{
	struct server srv;

	server_start(&srv, listen_tcp(&srv.port), SERVER_HTTP, response, strlen(response));
	return srv;
}

/* What the server received (NUL-terminated; *len counts binary bytes). */
static char *
server_finish(struct server *srv, size_t *len)
{
	size_t cap = 64 * 1024 + 1, got = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while (got < cap - 1 && wait_readable(srv->requests) &&
	       (n = read(srv->requests, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(srv->requests);
	kill(srv->pid, SIGKILL); /* nothing it still does matters now */
	waitpid(srv->pid, NULL, 0);
	if (len)
		*len = got;
	return buf;
}

static consul_client *
client_for(const char *addr, const char *token)
{
	consul_config cfg;
	consul_error err = { 0 };
	consul_client *client;

	consul_config_init(&cfg);
	cr_assert_eq(consul_config_set_addr(&cfg, addr, "test", &err), 0, "%s", err.text);
	cfg.token = token ? strdup(token) : NULL;
	client = consul_client_new(&cfg, &err);
	cr_assert_not_null(client, "%s", err.text);
	consul_config_free(&cfg);
	return client;
}

static consul_client *
client_for_port(int port, const char *token)
{
	char addr[64];

	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	return client_for(addr, token);
}

static bool
starts_with(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

static char *
body_of(char *request)
{
	char *end = strstr(request, "\r\n\r\n");

	cr_assert_not_null(end, "no end of headers in: %s", request);
	return end + 4;
}

/* ------------------------------------------------------------ HTTP exchanges */

Test(lib_http, ttl_push_sends_token_only_as_header)
{
	struct server srv = start_http("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	consul_client *client = client_for_port(srv.port, TOKEN);
	consul_call *call =
	        consul_check_ttl_call(client, "service:web/1", CONSUL_PASSING, "all good");
	const consul_response *r = consul_call_perform(call);
	char *request = server_finish(&srv, NULL);
	char *line_end = strstr(request, "\r\n");

	cr_assert_eq(r->outcome, CONSUL_OK, "%s", r->error);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->curl_code, CURLE_OK);
	cr_assert_str_eq(r->body, "");
	cr_assert_str_eq(r->error, "");
	cr_assert_not_null(line_end);
	*line_end = '\0';
	cr_assert_str_eq(request,
	                 "PUT /v1/agent/check/pass/service%3Aweb%2F1?note=all%20good HTTP/1.1");
	*line_end = '\r';
	cr_assert(strstr(request, "\r\nX-Consul-Token: " TOKEN "\r\n"), "%s", request);
	cr_assert(strstr(request, "\r\nContent-Length: 0\r\n"), "%s", request);
	cr_assert_null(strcasestr(request, "Content-Type"), "%s", request);
	cr_assert(strstr(request, "\r\nUser-Agent: ostiary/"), "%s", request);
	cr_assert_null(strstr(consul_call_describe(call), TOKEN));
	free(request);
	consul_call_free(call);
	consul_client_free(client);
}

Test(lib_http, register_sends_json_body)
{
	struct server srv = start_http("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	consul_client *client = client_for_port(srv.port, NULL);
	consul_check_def check = { .id = "web:ttl", .ttl_ms = 10000 };
	consul_service svc = { .id = "web", .name = "web", .checks = &check, .nchecks = 1 };
	consul_call *call =
	        consul_service_register_call(client, &svc, CONSUL_REPLACE_EXISTING_CHECKS);
	const consul_response *r = consul_call_perform(call);
	char *request = server_finish(&srv, NULL);
	json_t *body = json_loads(body_of(request), 0, NULL);

	cr_assert_eq(r->outcome, CONSUL_OK, "%s", r->error);
	cr_assert(
	        starts_with(
	                request,
	                "PUT /v1/agent/service/register?replace-existing-checks=true HTTP/1.1\r\n"),
	        "%s", request);
	cr_assert(strstr(request, "\r\nContent-Type: application/json\r\n"), "%s", request);
	cr_assert_null(strstr(request, "X-Consul-Token"), "no token, no header: %s", request);
	cr_assert_null(strstr(request, "Expect:"), "%s", request);
	cr_assert_not_null(body, "body is not JSON: %s", request);
	cr_assert_str_eq(json_string_value(json_object_get(body, "Name")), "web");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "Check"), "TTL")),
	                 "10s");
	json_decref(body);
	free(request);
	consul_call_free(call);
	consul_client_free(client);
}

Test(lib_http, update_unknown_check_is_gone)
{
	struct server srv = start_http("HTTP/1.1 404 Not Found\r\nContent-Length: 24\r\n\r\n"
	                               "Unknown check ID \"web\".\n");
	consul_client *client = client_for_port(srv.port, TOKEN);
	consul_call *call = consul_check_update_call(client, "web", CONSUL_WARNING, "disk 91%");
	const consul_response *r = consul_call_perform(call);
	char *request = server_finish(&srv, NULL);
	json_t *body = json_loads(body_of(request), 0, NULL);

	cr_assert_eq(r->outcome, CONSUL_GONE);
	cr_assert_eq(r->status, 404);
	cr_assert_str_eq(r->body, "Unknown check ID \"web\".\n");
	cr_assert_eq(r->body_len, 24);
	cr_assert_eq(consul_call_response(call), r);
	cr_assert(starts_with(request, "PUT /v1/agent/check/update/web HTTP/1.1\r\n"), "%s",
	          request);
	cr_assert_eq(json_object_size(body), 2);
	cr_assert_str_eq(json_string_value(json_object_get(body, "Status")), "warning");
	cr_assert_str_eq(json_string_value(json_object_get(body, "Output")), "disk 91%");
	json_decref(body);
	free(request);
	consul_call_free(call);
	consul_client_free(client);
}

Test(lib_http, old_agent_no_ttl_500_is_gone)
{
	struct server srv =
	        start_http("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 42\r\n\r\n"
	                   "CheckID \"web\" does not have associated TTL");
	consul_client *client = client_for_port(srv.port, NULL);
	consul_call *call = consul_check_ttl_call(client, "web", CONSUL_CRITICAL, NULL);
	const consul_response *r = consul_call_perform(call);
	char *request = server_finish(&srv, NULL);

	cr_assert_eq(r->outcome, CONSUL_GONE);
	cr_assert(starts_with(request, "PUT /v1/agent/check/fail/web HTTP/1.1\r\n"), "%s", request);
	free(request);
	consul_call_free(call);
	consul_client_free(client);
}

Test(lib_http, oversized_response_is_bad)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n";
	size_t len = sizeof head - 1 + 2097152;
	char *response = malloc(len);
	struct server srv;
	consul_client *client;
	consul_call *call;
	const consul_response *r;

	memcpy(response, head, sizeof head - 1);
	memset(response + sizeof head - 1, 'x', 2097152);
	server_start(&srv, listen_tcp(&srv.port), SERVER_HTTP, response, len);
	client = client_for_port(srv.port, NULL);
	call = consul_services_call(client);
	r = consul_call_perform(call);
	free(server_finish(&srv, NULL));

	cr_assert_eq(r->outcome, CONSUL_BAD_RESPONSE);
	cr_assert_str_eq(r->error, "response larger than 1048576 bytes");
	cr_assert_leq(r->body_len, CONSUL_RESPONSE_MAX_BYTES);
	free(response);
	consul_call_free(call);
	consul_client_free(client);
}

Test(lib_http, connection_refused_is_unreachable)
{
	int port, fd = listen_tcp(&port); /* bound, never listening: refused */
	consul_client *client = client_for_port(port, NULL);
	consul_call *call = consul_self_call(client);
	const consul_response *r = consul_call_perform(call);

	cr_assert_eq(r->outcome, CONSUL_UNREACHABLE);
	cr_assert_eq(r->curl_code, CURLE_COULDNT_CONNECT);
	cr_assert_eq(r->status, 0);
	cr_assert_str_eq(r->body, "");
	cr_assert_neq(r->error[0], '\0');
	consul_call_free(call);
	consul_client_free(client);
	close(fd);
}

Test(lib_http, timeout_is_unreachable)
{
	struct server srv;
	consul_client *client;
	consul_call *call;
	const consul_response *r;

	server_start(&srv, listen_tcp(&srv.port), SERVER_SILENT, NULL, 0);
	client = client_for_port(srv.port, NULL);
	call = consul_checks_call(client);
	consul_call_set_timeout(call, 300);
	r = consul_call_perform(call);
	cr_assert_eq(r->outcome, CONSUL_UNREACHABLE);
	cr_assert_eq(r->curl_code, CURLE_OPERATION_TIMEDOUT);
	consul_call_free(call);
	free(server_finish(&srv, NULL));
	consul_client_free(client);
}

Test(lib_http, redirects_are_not_followed)
{
	struct server srv =
	        start_http("HTTP/1.1 301 Moved Permanently\r\n"
	                   "Location: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n");
	consul_client *client = client_for_port(srv.port, TOKEN);
	consul_call *call = consul_service_call(client, "a/b");
	const consul_response *r = consul_call_perform(call);
	char *request = server_finish(&srv, NULL);

	cr_assert_eq(r->outcome, CONSUL_BAD_RESPONSE);
	cr_assert_eq(r->status, 301);
	cr_assert(starts_with(request, "GET /v1/agent/service/a%2Fb HTTP/1.1\r\n"), "%s", request);
	free(request);
	consul_call_free(call);
	consul_client_free(client);
}

Test(lib_http, path_prefix_is_used)
{
	struct server srv = start_http("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	char addr[64];
	consul_client *client;
	consul_call *call;
	const consul_response *r;
	char *request;

	snprintf(addr, sizeof addr, "http://127.0.0.1:%d/consul/", srv.port);
	client = client_for(addr, NULL);
	call = consul_self_call(client);
	r = consul_call_perform(call);
	request = server_finish(&srv, NULL);
	cr_assert_eq(r->outcome, CONSUL_OK, "%s", r->error);
	cr_assert_str_eq(r->body, "{}");
	cr_assert(starts_with(request, "GET /consul/v1/agent/self HTTP/1.1\r\n"), "%s", request);
	cr_assert_str_eq(consul_call_describe(call), "GET /v1/agent/self");
	free(request);
	consul_call_free(call);
	consul_client_free(client);
}

Test(lib_http, unix_socket)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char url[sizeof addr.sun_path + 8];
	const char *reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct server srv;
	consul_client *client;
	consul_call *call;
	const consul_response *r;
	char *request;

	snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/ostiary-test-%d.sock", (int)getpid());
	unlink(addr.sun_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	server_start(&srv, fd, SERVER_HTTP, reply, strlen(reply));
	snprintf(url, sizeof url, "unix://%s", addr.sun_path);
	client = client_for(url, NULL);
	call = consul_service_deregister_call(client, "web");
	r = consul_call_perform(call);
	request = server_finish(&srv, NULL);
	unlink(addr.sun_path);

	cr_assert_eq(r->outcome, CONSUL_OK, "%s", r->error);
	cr_assert(starts_with(request, "PUT /v1/agent/service/deregister/web HTTP/1.1\r\n"), "%s",
	          request);
	cr_assert(strstr(request, "\r\nHost: localhost\r\n"), "%s", request);
	free(request);
	consul_call_free(call);
	consul_client_free(client);
}

/* The server name travels as SNI in the ClientHello while the connection
 * still goes to the configured address. */
Test(lib_http, tls_server_name_is_sent_to_the_configured_host)
{
	struct server srv;
	consul_config cfg;
	consul_client *client;
	consul_call *call;
	const consul_response *r;
	char addr[64], *hello;
	size_t len;

	server_start(&srv, listen_tcp(&srv.port), SERVER_RAW, NULL, 0);
	snprintf(addr, sizeof addr, "https://127.0.0.1:%d", srv.port);
	consul_config_init(&cfg);
	cr_assert_eq(consul_config_set_addr(&cfg, addr, "test", NULL), 0);
	cfg.tls.server_name = strdup("agent.consul.test");
	cfg.tls.verify = false;
	client = consul_client_new(&cfg, NULL);
	call = consul_self_call(client);
	r = consul_call_perform(call);
	hello = server_finish(&srv, &len);

	cr_assert_neq(r->outcome, CONSUL_OK);
	cr_assert_gt(len, 0, "nothing reached 127.0.0.1:%d", srv.port);
	cr_assert_eq(hello[0], 0x16, "not a TLS handshake");
	cr_assert_not_null(memmem(hello, len, "agent.consul.test", 17), "SNI missing");
	free(hello);
	consul_call_free(call);
	consul_client_free(client);
	consul_config_free(&cfg);
}

/* The event-loop path: the caller's multi handle runs the easy handle. */
Test(lib_http, multi_handle)
{
	struct server srv =
	        start_http("HTTP/1.1 403 Forbidden\r\nContent-Length: 17\r\n\r\nPermission denied");
	consul_client *client = client_for_port(srv.port, TOKEN);
	consul_call *call = consul_service_maintenance_call(client, "web", true, "deploy");
	CURLM *multi = curl_multi_init();
	const consul_response *r = NULL;
	int running = 1;

	consul_call_set_data(call, &running);
	cr_assert_eq(curl_multi_add_handle(multi, consul_call_easy(call)), CURLM_OK);
	for (int rounds = 0; !r && rounds < 1000; rounds++) {
		CURLMsg *msg;
		int left;

		cr_assert_eq(curl_multi_perform(multi, &running), CURLM_OK);
		while ((msg = curl_multi_info_read(multi, &left))) {
			consul_call *done = consul_call_from_easy(msg->easy_handle);

			cr_assert_eq(done, call);
			cr_assert_eq(consul_call_data(done), &running);
			r = consul_call_finish(done, msg->data.result);
		}
		if (!r)
			cr_assert_eq(curl_multi_poll(multi, NULL, 0, 100, NULL), CURLM_OK);
	}
	cr_assert_not_null(r, "the transfer never finished");
	cr_assert_eq(r->outcome, CONSUL_DENIED);
	cr_assert_str_eq(r->body, "Permission denied");
	free(server_finish(&srv, NULL));
	curl_multi_remove_handle(multi, consul_call_easy(call));
	curl_multi_cleanup(multi);
	consul_call_free(call);
	consul_client_free(client);
}

/* A blocking query's answer: the metadata headers, any case, come back parsed. */
Test(lib_http, query_metadata_is_parsed)
{
	struct server srv = start_http("HTTP/1.1 200 OK\r\nx-consul-index: 18446744073709551615\r\n"
	                               "X-Consul-KnownLeader: true\r\n"
	                               "X-CONSUL-LASTCONTACT: 42\r\n"
	                               "X-Consul-ContentHash: 9a8b7c6d5e4f3a2b\r\n"
	                               "Content-Length: 2\r\n\r\n{}");
	consul_client *client = client_for_port(srv.port, NULL);
	consul_call *call = consul_service_call(client, "web");
	const consul_response *r = consul_call_perform(call);

	free(server_finish(&srv, NULL));
	cr_assert_eq(r->outcome, CONSUL_OK, "%s", r->error);
	cr_assert(r->has_index);
	cr_assert_eq(r->index, UINT64_MAX);
	cr_assert(r->has_known_leader);
	cr_assert(r->known_leader);
	cr_assert(r->has_last_contact);
	cr_assert_eq(r->last_contact_ms, 42);
	cr_assert_str_eq(r->content_hash, "9a8b7c6d5e4f3a2b");
	cr_assert_str_eq(r->body, "{}");
	consul_call_free(call);
	consul_client_free(client);
}

/* An agent endpoint that is no blocking query sends none: all absent, also
 * after an earlier run of the same call that had them. */
Test(lib_http, query_metadata_absent)
{
	static const char with[] = "HTTP/1.1 200 OK\r\nX-Consul-Index: 7\r\n"
	                           "X-Consul-KnownLeader: false\r\nX-Consul-LastContact: 0\r\n"
	                           "X-Consul-ContentHash: abc\r\nContent-Length: 0\r\n\r\n";
	static const char without[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct server srv = start_http(with);
	consul_client *client = client_for_port(srv.port, NULL);
	consul_call *call = consul_services_call(client);
	const consul_response *r = consul_call_perform(call);

	free(server_finish(&srv, NULL));
	cr_assert(r->has_index && r->has_known_leader && r->has_last_contact);
	cr_assert_not(r->known_leader);
	cr_assert_eq(r->last_contact_ms, 0);
	consul_call_free(call);
	consul_client_free(client);

	srv = start_http(without);
	client = client_for_port(srv.port, NULL);
	call = consul_services_call(client);
	r = consul_call_perform(call);
	free(server_finish(&srv, NULL));
	cr_assert_eq(r->outcome, CONSUL_OK, "%s", r->error);
	cr_assert_not(r->has_index || r->has_known_leader || r->has_last_contact);
	cr_assert_str_eq(r->content_hash, "");
	consul_call_free(call);
	consul_client_free(client);
}

/* ------------------------------------------------------- no network needed */

Test(lib_call, classification)
{
	static const struct {
		CURLcode code;
		long status;
		const char *body;
		enum consul_outcome outcome;
	} cases[] = {
		{ CURLE_OK, 200, "", CONSUL_OK },
		{ CURLE_OK, 404, "Unknown check ID", CONSUL_GONE },
		{ CURLE_OK, 500, "CheckID \"x\" does not have associated TTL", CONSUL_GONE },
		{ CURLE_OK, 500, "failed persisting state", CONSUL_SERVER_ERROR },
		{ CURLE_OK, 500, NULL, CONSUL_SERVER_ERROR },
		{ CURLE_OK, 503, "", CONSUL_SERVER_ERROR },
		{ CURLE_OK, 429, "", CONSUL_SERVER_ERROR },
		{ CURLE_OK, 403, "ACL not found", CONSUL_DENIED },
		{ CURLE_OK, 400, "Request decode failed", CONSUL_REJECTED },
		{ CURLE_OK, 405, "method GET not allowed", CONSUL_REJECTED },
		{ CURLE_OK, 401, "", CONSUL_REJECTED },
		{ CURLE_OK, 204, "", CONSUL_BAD_RESPONSE },
		{ CURLE_OK, 301, "", CONSUL_BAD_RESPONSE },
		{ CURLE_OK, 100, "", CONSUL_BAD_RESPONSE },
		{ CURLE_OK, 600, "", CONSUL_BAD_RESPONSE },
		{ CURLE_COULDNT_CONNECT, 0, "", CONSUL_UNREACHABLE },
		{ CURLE_COULDNT_RESOLVE_HOST, 0, "", CONSUL_UNREACHABLE },
		{ CURLE_OPERATION_TIMEDOUT, 0, "", CONSUL_UNREACHABLE },
		{ CURLE_SEND_ERROR, 0, "", CONSUL_UNREACHABLE },
		{ CURLE_RECV_ERROR, 0, "", CONSUL_UNREACHABLE },
		{ CURLE_GOT_NOTHING, 0, "", CONSUL_UNREACHABLE },
		{ CURLE_WEIRD_SERVER_REPLY, 0, "", CONSUL_BAD_RESPONSE },
		{ CURLE_WRITE_ERROR, 200, "", CONSUL_BAD_RESPONSE },
		{ CURLE_SSL_CONNECT_ERROR, 0, "", CONSUL_BAD_RESPONSE },
	};

	for (size_t i = 0; i < N(cases); i++)
		cr_assert_eq(consul_classify(cases[i].code, cases[i].status, cases[i].body),
		             cases[i].outcome, "case %zu (curl %d, HTTP %ld)", i,
		             (int)cases[i].code, cases[i].status);
}

Test(lib_call, outcome_names)
{
	static const char *const names[] = { "ok",          "gone",         "denied",
		                             "rejected",    "server error", "unreachable",
		                             "bad response" };

	for (int i = CONSUL_OK; i <= CONSUL_BAD_RESPONSE; i++)
		cr_assert_str_eq(consul_outcome_name((enum consul_outcome)i), names[i]);
}

Test(lib_call, describe_every_endpoint_without_secrets)
{
	consul_client *client = client_for("https://consul.example:8501/prefix", TOKEN);
	consul_check_def check = { .id = "c", .name = "c", .ttl_ms = 1000 };
	consul_service svc = { .name = "web" };
	const struct {
		consul_call *call;
		const char *described;
	} cases[] = {
		{ consul_check_ttl_call(client, "service:web", CONSUL_PASSING, "all good"),
		  "PUT /v1/agent/check/pass/service%3Aweb?note=all%20good" },
		{ consul_check_ttl_call(client, "w", CONSUL_WARNING, NULL),
		  "PUT /v1/agent/check/warn/w" },
		{ consul_check_ttl_call(client, "f", CONSUL_CRITICAL, "a&b=c"),
		  "PUT /v1/agent/check/fail/f?note=a%26b%3Dc" },
		{ consul_check_update_call(client, "service:web", CONSUL_PASSING, "ok"),
		  "PUT /v1/agent/check/update/service%3Aweb" },
		{ consul_service_maintenance_call(client, "web", true, "deploy now"),
		  "PUT /v1/agent/service/maintenance/web?enable=true&reason=deploy%20now" },
		{ consul_service_maintenance_call(client, "web", false, NULL),
		  "PUT /v1/agent/service/maintenance/web?enable=false" },
		{ consul_service_register_call(client, &svc, 0), "PUT /v1/agent/service/register" },
		{ consul_service_register_call(client, &svc, CONSUL_REPLACE_EXISTING_CHECKS),
		  "PUT /v1/agent/service/register?replace-existing-checks=true" },
		{ consul_service_deregister_call(client, "web 1"),
		  "PUT /v1/agent/service/deregister/web%201" },
		{ consul_check_register_call(client, &check), "PUT /v1/agent/check/register" },
		{ consul_check_deregister_call(client, "c"), "PUT /v1/agent/check/deregister/c" },
		{ consul_services_call(client), "GET /v1/agent/services" },
		{ consul_service_call(client, "web"), "GET /v1/agent/service/web" },
		{ consul_checks_call(client), "GET /v1/agent/checks" },
		{ consul_checks_filtered_call(client, ""), "GET /v1/agent/checks" },
		{ consul_checks_filtered_call(client, "ServiceID == \"a b\""),
		  "GET /v1/agent/checks?filter=ServiceID%20%3D%3D%20%22a%20b%22" },
		{ consul_self_call(client), "GET /v1/agent/self" },
	};

	for (size_t i = 0; i < N(cases); i++) {
		cr_assert_not_null(cases[i].call, "case %zu not built", i);
		cr_assert_str_eq(consul_call_describe(cases[i].call), cases[i].described);
		cr_assert_null(strstr(consul_call_describe(cases[i].call), TOKEN));
		cr_assert_eq(consul_call_from_easy(consul_call_easy(cases[i].call)), cases[i].call);
		consul_call_free(cases[i].call);
	}
	consul_client_free(client);
}

Test(lib_call, refuses_to_build_nonsense)
{
	consul_client *client = client_for("127.0.0.1:8500", NULL);

	cr_assert_null(consul_service_deregister_call(client, NULL));
	cr_assert_null(consul_service_deregister_call(client, ""));
	cr_assert_null(consul_check_ttl_call(client, NULL, CONSUL_PASSING, NULL));
	cr_assert_null(consul_check_ttl_call(client, "c", (enum consul_status)3, NULL));
	cr_assert_null(consul_check_update_call(client, "c", (enum consul_status) - 1, "x"));
	cr_assert_null(consul_service_register_call(client, NULL, 0));
	cr_assert_null(consul_check_register_call(client, NULL));
	cr_assert_null(consul_services_call(NULL));
	cr_assert_null(consul_call_from_easy(NULL));
	consul_client_free(client);
}

Test(lib_call, client_rejects_bad_settings)
{
	consul_config cfg;
	consul_error err = { 0 };

	consul_config_init(&cfg);
	cfg.tls.cert_file = strdup("/c.pem");
	cr_assert_null(consul_client_new(&cfg, &err));
	cr_assert_str_eq(err.text, "both client cert and client key must be provided");
	free(cfg.tls.cert_file);
	cfg.tls.cert_file = NULL;

	cfg.token = strdup("line1\nX-Evil: " TOKEN);
	cr_assert_null(consul_client_new(&cfg, &err));
	cr_assert(strstr(err.text, "control characters"), "%s", err.text);
	cr_assert_null(strstr(err.text, TOKEN));
	consul_config_free(&cfg);
}

Test(lib_call, client_keeps_its_own_copy)
{
	consul_config cfg;
	consul_client *client;

	consul_config_init(&cfg);
	cfg.token = strdup(TOKEN);
	client = consul_client_new(&cfg, NULL);
	cr_assert_not_null(client);
	cr_assert_neq(consul_client_config(client)->token, cfg.token);
	consul_config_free(&cfg);
	cr_assert_str_eq(consul_client_config(client)->token, TOKEN);
	cr_assert_str_eq(consul_client_config(client)->host, "127.0.0.1");
	consul_client_free(client);
}

Test(lib_call, library_version)
{
	unsigned major, minor, patch;
	char tail;

	cr_assert_eq(sscanf(consul_library_version(), "%u.%u.%u%c", &major, &minor, &patch, &tail),
	             3, "\"%s\" is not N.N.N", consul_library_version());
}

/* The header's macros agree with each other and with the linked library. */
Test(lib_call, version_macros)
{
	char built[32];

	snprintf(built, sizeof built, "%d.%d.%d", OSTIARY_MAJOR_VERSION, OSTIARY_MINOR_VERSION,
	         OSTIARY_MICRO_VERSION);
	cr_assert_str_eq(built, OSTIARY_VERSION);
	cr_assert_eq(OSTIARY_VERSION_HEX, (OSTIARY_MAJOR_VERSION << 16) |
	                                          (OSTIARY_MINOR_VERSION << 8) |
	                                          OSTIARY_MICRO_VERSION);
	cr_assert_str_eq(consul_library_version(), OSTIARY_VERSION);
}

/* The configured namespace and partition go on every request (api/api.go
 * newRequest); a read's own query options win, never sent twice. */
Test(lib_call, namespace_and_partition_on_every_request)
{
	consul_config cfg;
	consul_error err = { 0 };
	consul_client *client;
	consul_call *call;
	consul_query q = { .ns = "from-query" };

	consul_config_init(&cfg);
	cfg.ns = strdup("team a");
	cfg.partition = strdup("part-1");
	client = consul_client_new(&cfg, &err);
	cr_assert_not_null(client, "%s", err.text);
	consul_config_free(&cfg);
	call = consul_check_ttl_call(client, "service:web", CONSUL_PASSING, "ok");
	cr_assert_not_null(call);
	cr_assert_str_eq(
	        consul_call_describe(call),
	        "PUT /v1/agent/check/pass/service%3Aweb?note=ok&ns=team%20a&partition=part-1");
	consul_call_free(call);
	call = consul_kv_get_call(client, "app/x", &q);
	cr_assert_not_null(call);
	cr_assert_str_eq(consul_call_describe(call),
	                 "GET /v1/kv/app/x?ns=from-query&partition=part-1");
	consul_call_free(call);
	consul_client_free(client);
}
