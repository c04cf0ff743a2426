/*
 * HTTP probes against a real server: a listening socket made here and
 * served by a forked child, which answers each connection with the next
 * canned response and records every request it read into a pipe for the
 * test to inspect.  Runs go through the event loop until done fires; a
 * deadline timer fails the test instead of hanging.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ev.h"
#include "probe.h"
#include "probe_loop.h"
#include "sig.h"

#define REQUEST_END "\n<<end of request>>\n"

struct harness {

	/* the server */
	int listen_fd;
	int port;
	pid_t server;
	int log_fd;
	char url[128];
};

static struct harness h;

/* A listening socket on 127.0.0.1 and an ephemeral port. */
static int
listen_local(int backlog, int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, backlog), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
setup(void)
{
	memset(&h, 0, sizeof(h));
	probe_loop_setup();
	h.listen_fd = listen_local(16, &h.port);
	h.log_fd = -1;
	snprintf(h.url, sizeof(h.url), "http://127.0.0.1:%d/health", h.port);
}

static void
teardown(void)
{
	if (h.server > 0) {
		kill(h.server, SIGKILL);
		waitpid(h.server, NULL, 0); /* ECHILD if ev_reap got it first */
	}
	if (h.log_fd >= 0)
		close(h.log_fd);
	close(h.listen_fd);
	probe_loop_teardown();
}

TestSuite(probe_http, .init = setup, .fini = teardown, .timeout = 30);

/* ------------------------------------------------------------------ server */

static ssize_t
find_header_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return (ssize_t)(i + 4);
	return -1;
}

static size_t
content_length(const char *buf, size_t head)
{
	for (size_t i = 0; i + 16 < head; i++)
		if ((i == 0 || buf[i - 1] == '\n') &&
		    strncasecmp(buf + i, "Content-Length:", 15) == 0)
			return strtoul(buf + i + 15, NULL, 10);
	return 0;
}

/* One request: headers, then Content-Length bytes of body. */
static size_t
read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n, head = -1;

	while (len < cap) {
		if (head >= 0 && len >= (size_t)head + content_length(buf, (size_t)head))
			break;
		if ((n = read(fd, buf + len, cap - len)) <= 0)
			break;
		len += (size_t)n;
		if (head < 0)
			head = find_header_end(buf, len);
	}
	return len;
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

static _Noreturn void
server_main(int log_fd, const char *const *responses, size_t n)
{
	static char req[65536];

	for (size_t i = 0; i < n; i++) {
		int c = accept(h.listen_fd, NULL, NULL);
		size_t len;

		if (c < 0)
			_exit(1);
		len = read_request(c, req, sizeof(req));
		write_all(log_fd, req, len);
		write_all(log_fd, REQUEST_END, strlen(REQUEST_END));
		write_all(c, responses[i], strlen(responses[i]));
		shutdown(c, SHUT_WR);
		while (read(c, req, sizeof(req)) > 0)
			;
		close(c);
	}
	/* Stay until killed, so the test decides when the server goes. */
	for (;;)
		pause();
}

static void
serve(const char *const *responses, size_t n)
{
	int log[2];

	cr_assert_eq(pipe(log), 0);
	h.server = fork();
	cr_assert_geq(h.server, 0);
	if (h.server == 0) {
		close(log[0]);
		server_main(log[1], responses, n);
	}
	close(log[1]);
	h.log_fd = log[0];
}

/* The next request the server read (it is logged before the response is
 * sent, so once done has run it is there). */
static char *
next_request(void)
{
	static char buf[131072];
	size_t len = 0;
	char *end;

	buf[0] = '\0';
	while ((end = strstr(buf, REQUEST_END)) == NULL && len + 1 < sizeof(buf)) {
		ssize_t n = read(h.log_fd, buf + len, 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	cr_assert_not_null(end, "no request logged (got \"%s\")", buf);
	*end = '\0';
	return buf;
}

/* ------------------------------------------------------------------- runs */

static struct probe *
make(struct check_conf *check)
{
	consul_error err = { 0 };
	struct probe *probe;

	check->id = "http-test";
	check->kind = PROBE_HTTP;
	if (check->http_url == NULL)
		check->http_url = h.url;
	if (check->timeout_ms == 0)
		check->timeout_ms = 5000;
	if (check->output_max_size == 0)
		check->output_max_size = 4096;
	probe = probe_new(pl.loop, check, &err);
	cr_assert_not_null(probe, "probe_new: %s: %s", err.source, err.text);
	return probe;
}

/* One response, one GET: check status and output. */
static void
expect(const char *response, enum consul_status status, const char *reason, const char *body)
{
	struct check_conf check = { 0 };
	struct probe *probe;
	char expected[512];

	serve((const char *[]){ response }, 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "HTTP GET %s: %s Output: %s", h.url, reason, body);
	cr_assert_eq(pl.status, status, "status %d: %s", pl.status, pl.output);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

/* ---------------------------------------------------------------- statuses */

Test(probe_http, status_200_is_passing)
{
	expect("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nhealthy",
	       CONSUL_PASSING, "200 OK", "healthy");
}

Test(probe_http, status_204_is_passing)
{
	expect("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", CONSUL_PASSING,
	       "204 No Content", "");
}

Test(probe_http, status_429_is_warning)
{
	expect("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 9\r\n\r\nslow down",
	       CONSUL_WARNING, "429 Too Many Requests", "slow down");
}

Test(probe_http, status_500_is_critical)
{
	expect("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom",
	       CONSUL_CRITICAL, "500 Internal Server Error", "boom");
}

Test(probe_http, status_404_is_critical)
{
	expect("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", CONSUL_CRITICAL,
	       "404 Not Found", "");
}

Test(probe_http, reason_phrase_comes_from_the_status_line)
{
	/* Go's resp.Status is what the server said, not a table. */
	expect("HTTP/1.1 200 Fine Thanks\r\nContent-Length: 2\r\n\r\nok", CONSUL_PASSING,
	       "200 Fine Thanks", "ok");
}

Test(probe_http, body_without_length_is_read_to_close)
{
	expect("HTTP/1.0 200 OK\r\n\r\nuntil close", CONSUL_PASSING, "200 OK", "until close");
}

/* --------------------------------------------------------------- redirects */

#define REDIRECT "HTTP/1.1 301 Moved Permanently\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n"
#define FINAL "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"

Test(probe_http, redirects_are_followed)
{
	struct check_conf check = { 0 };
	struct probe *probe;
	char expected[256];

	serve((const char *[]){ REDIRECT, FINAL }, 2);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	/* The output names the configured URL and the final answer. */
	snprintf(expected, sizeof(expected), "HTTP GET %s: 200 OK Output: final", h.url);
	cr_assert_eq(pl.status, CONSUL_PASSING);
	cr_assert_str_eq(pl.output, expected);
	cr_assert(strncmp(next_request(), "GET /health HTTP/1.1\r\n", 22) == 0);
	cr_assert(strncmp(next_request(), "GET /final HTTP/1.1\r\n", 21) == 0);
	probe_free(probe);
}

Test(probe_http, redirects_can_be_disabled)
{
	struct check_conf check = { .disable_redirects = true };
	struct probe *probe;
	char expected[256];

	serve((const char *[]){ REDIRECT, FINAL }, 2);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "HTTP GET %s: 301 Moved Permanently Output: ", h.url);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

Test(probe_http, tenth_redirect_is_refused_as_go_does)
{
	/* Go's defaultCheckRedirect: 10 requests at most, then
	 * `Get "<Location>": stopped after 10 redirects`. */
	static char responses[11][128];
	const char *list[11];
	struct check_conf check = { 0 };
	struct probe *probe;

	for (int i = 0; i < 11; i++) {
		snprintf(responses[i], sizeof(responses[i]),
		         "HTTP/1.1 302 Found\r\nLocation: /r%d\r\nContent-Length: 0\r\n\r\n",
		         i + 1);
		list[i] = responses[i];
	}
	serve(list, 11);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, "Get \"/r10\": stopped after 10 redirects");
	for (int i = 0; i < 10; i++)
		(void)next_request();
	probe_free(probe);
}

/* ------------------------------------------------------------ the request */

Test(probe_http, method_headers_and_body_are_sent_as_configured)
{
	struct conf_kv headers[] = { { "X-Probe", "yes" }, { "X-Empty", "" } };
	struct check_conf check = {
		.http_method = "PUT",
		.http_headers = headers,
		.nhttp_headers = 2,
		.http_body = "ping=1",
	};
	struct probe *probe;
	char expected[256], *req;

	serve((const char *[]){ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" }, 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	req = next_request();
	cr_assert(strncmp(req, "PUT /health HTTP/1.1\r\n", 22) == 0, "%s", req);
	cr_assert_not_null(strstr(req, "\r\nX-Probe: yes\r\n"), "%s", req);
	cr_assert_not_null(strstr(req, "\r\nX-Empty:\r\n"), "%s", req);
	cr_assert_not_null(strstr(req, "\r\nUser-Agent: Consul Health Check\r\n"), "%s", req);
	cr_assert_not_null(strstr(req, "\r\nAccept: text/plain, text/*, */*\r\n"), "%s", req);
	cr_assert_not_null(strstr(req, "\r\nContent-Length: 6\r\n"), "%s", req);
	/* Go sends neither; curl would have. */
	cr_assert_null(strcasestr(req, "Content-Type"), "%s", req);
	cr_assert_null(strcasestr(req, "Expect:"), "%s", req);
	cr_assert_str_eq(strstr(req, "\r\n\r\n"), "\r\n\r\nping=1");
	snprintf(expected, sizeof(expected), "HTTP PUT %s: 200 OK Output: ", h.url);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

Test(probe_http, output_names_the_configured_method)
{
	struct check_conf check = { .http_method = "POST", .http_body = "x" };
	struct probe *probe;
	char expected[256], *req;

	serve((const char *[]){ "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok" }, 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "HTTP POST %s: 201 Created Output: ok", h.url);
	cr_assert_str_eq(pl.output, expected);
	req = next_request();
	cr_assert(strncmp(req, "POST /health HTTP/1.1\r\n", 23) == 0, "%s", req);
	probe_free(probe);
}

Test(probe_http, configured_user_agent_and_accept_win)
{
	struct conf_kv headers[] = { { "user-agent", "mine/1.0" },
		                     { "Accept", "application/json" } };
	struct check_conf check = { .http_headers = headers, .nhttp_headers = 2 };
	struct probe *probe;
	char *req;

	serve((const char *[]){ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" }, 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	req = next_request();
	cr_assert_not_null(strstr(req, "\r\nuser-agent: mine/1.0\r\n"), "%s", req);
	cr_assert_null(strstr(req, "Consul Health Check"), "%s", req);
	cr_assert_not_null(strstr(req, "\r\nAccept: application/json\r\n"), "%s", req);
	cr_assert_null(strstr(req, "text/plain"), "%s", req);
	probe_free(probe);
}

Test(probe_http, head_requests_have_no_body)
{
	struct check_conf check = { .http_method = "HEAD" };
	struct probe *probe;
	char expected[256], *req;

	serve((const char *[]){ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" }, 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "HTTP HEAD %s: 200 OK Output: ", h.url);
	cr_assert_str_eq(pl.output, expected);
	req = next_request();
	cr_assert(strncmp(req, "HEAD /health HTTP/1.1\r\n", 23) == 0, "%s", req);
	probe_free(probe);
}

/* -------------------------------------------------------------- the body */

/* Past the output cap the body is not read further (an endless body would
 * otherwise cost a core until the timeout): the status counts, and the
 * output shows the body's first bytes, saying so. */
Test(probe_http, big_body_is_read_only_up_to_the_limit)
{
	static char response[200100];
	struct check_conf check = { .output_max_size = 300 };
	struct probe *probe;
	char head[256], *cut;
	size_t body = 200000, kept;
	int off;

	off = snprintf(response, sizeof(response), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
	               body);
	for (size_t i = 0; i < body; i++)
		response[off + (int)i] = (char)('a' + i % 26);
	response[off + (int)body] = '\0';
	serve((const char *[]){ response }, 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING);
	cr_assert_leq(strlen(pl.output), 300);
	cr_assert_geq(strlen(pl.output), 290);
	snprintf(head, sizeof(head), "HTTP GET %s: 200 OK Output: Captured the first ", h.url);
	cr_assert(strncmp(pl.output, head, strlen(head)) == 0, "%s", pl.output);
	cr_assert_eq(sscanf(pl.output + strlen(head), "%zu", &kept), 1);
	cut = strstr(pl.output, " bytes (not read further)\n...\n");
	cr_assert_not_null(cut, "%s", pl.output);
	cut += strlen(" bytes (not read further)\n...\n");
	cr_assert_eq(strlen(cut), kept);
	cr_assert(memcmp(cut, response + off, kept) == 0, "%s", pl.output);
	probe_free(probe);
}

/* A body that ends within the cap is shown whole, as before. */
Test(probe_http, body_at_the_limit_is_not_cut)
{
	struct check_conf check = { .output_max_size = 200 };
	struct probe *probe;
	char expected[256];

	serve(
	        (const char *[]){
	                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\ndown!" },
	        1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "HTTP GET %s: 503 Service Unavailable Output: down!",
	         h.url);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

Test(probe_http, body_cut_short_still_reports_the_status)
{
	/* Consul only logs a failed io.Copy and reports the status line with
	 * the part of the body it read. */
	expect("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello", CONSUL_PASSING, "200 OK",
	       "hello");
}

/* ------------------------------------------------------------------ errors */

Test(probe_http, connection_refused_is_critical)
{
	struct check_conf check = { 0 };
	struct probe *probe;
	char expected[256];
	int port;

	/* A port nobody listens on any more. */
	close(listen_local(1, &port));
	snprintf(h.url, sizeof(h.url), "http://127.0.0.1:%d/", port);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected),
	         "Get \"http://127.0.0.1:%d/\": dial tcp 127.0.0.1:%d: connect: connection refused",
	         port, port);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

Test(probe_http, silent_server_times_out_within_the_timeout)
{
	/* The kernel accepts the connection; nobody ever answers. */
	struct check_conf check = { .timeout_ms = 300 };
	struct probe *probe = make(&check);
	char expected[256];

	probe_loop_run_one(probe, 5000);
	snprintf(expected, sizeof(expected),
	         "Get \"%s\": context deadline exceeded (Client.Timeout exceeded while awaiting "
	         "headers)",
	         h.url);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, expected);
	cr_assert_geq(pl.elapsed_ms, 290);
	cr_assert_lt(pl.elapsed_ms, 2000);
	probe_free(probe);
}

Test(probe_http, empty_reply_is_eof)
{
	struct check_conf check = { 0 };
	struct probe *probe;
	char expected[256];

	serve((const char *[]){ "" }, 1);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "Get \"%s\": EOF", h.url);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

Test(probe_http, password_is_hidden_in_errors)
{
	struct check_conf check = { 0 };
	struct probe *probe;
	char expected[256];
	int port;

	close(listen_local(1, &port));
	snprintf(h.url, sizeof(h.url), "http://user:pw@127.0.0.1:%d/x", port);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected),
	         "Get \"http://user:***@127.0.0.1:%d/x\": dial tcp 127.0.0.1:%d: connect: "
	         "connection refused",
	         port, port);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

Test(probe_http, bad_urls_are_refused_up_front)
{
	struct check_conf check = { .id = "http-test", .kind = PROBE_HTTP };
	consul_error err = { 0 };

	check.http_url = "ftp://127.0.0.1/";
	cr_assert_null(probe_new(pl.loop, &check, &err));
	cr_assert_str_eq(err.text,
	                 "http URL \"ftp://127.0.0.1/\": only http:// and https:// are supported");
	check.http_url = "not a url";
	cr_assert_null(probe_new(pl.loop, &check, &err));
	cr_assert(strncmp(err.text, "http URL \"not a url\": ", 22) == 0, "%s", err.text);
}

/* -------------------------------------------------------------- life cycle */

Test(probe_http, start_while_running_is_refused_and_cancel_is_silent)
{
	struct check_conf check = { .timeout_ms = 500 };
	struct probe *probe = make(&check);

	cr_assert_eq(probe_start(probe, probe_loop_done, NULL), 0);
	cr_assert_eq(probe_start(probe, probe_loop_done, NULL), -1);
	cr_assert(probe_running(probe));
	probe_cancel(probe);
	cr_assert_not(probe_running(probe));
	/* Past the request's timeout: still nothing. */
	cr_assert_not(probe_loop_run(800));
	cr_assert_eq(pl.calls, 0);
	/* And the handle is good for another run. */
	serve((const char *[]){ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" }, 1);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	probe_free(probe);
}

Test(probe_http, probe_runs_again_with_fresh_state)
{
	struct check_conf check = { 0 };
	struct probe *probe = make(&check);
	char expected[256];

	serve((const char *[]){ "HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nbad",
	                        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood" },
	      2);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	pl.calls = 0;
	probe_loop_run_one(probe, 10000);
	snprintf(expected, sizeof(expected), "HTTP GET %s: 200 OK Output: good", h.url);
	cr_assert_eq(pl.status, CONSUL_PASSING);
	cr_assert_str_eq(pl.output, expected);
	probe_free(probe);
}

/* Runs borrow easy handles from a pool shared by every HTTP probe: what
 * one check set (method, headers, body, output cap) must not reach the
 * next one to use the handle. */
Test(probe_http, pooled_handles_carry_nothing_to_the_next_check)
{
	struct conf_kv headers[] = { { "X-Probe", "yes" } };
	struct check_conf put = { .http_method = "PUT", .http_headers = headers,
		                  .nhttp_headers = 1, .http_body = "ping=1",
		                  .output_max_size = 40 };
	struct check_conf get = { 0 };
	struct probe *first = make(&put), *second = make(&get);
	char expected[256], *req;

	serve((const char *[]){ "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfirs",
	                        "HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"
	                        "012345678901234567890123456789012345678901234567890123456789" },
	      2);
	probe_loop_run_one(first, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	req = next_request();
	cr_assert(strncmp(req, "PUT /health HTTP/1.1\r\n", 22) == 0, "%s", req);
	pl.calls = 0;
	probe_loop_run_one(second, 10000);
	req = next_request();
	cr_assert(strncmp(req, "GET /health HTTP/1.1\r\n", 22) == 0, "%s", req);
	cr_assert_null(strstr(req, "X-Probe"), "%s", req);
	cr_assert_null(strcasestr(req, "Content-Length"), "%s", req);
	cr_assert_str_eq(strstr(req, "\r\n\r\n"), "\r\n\r\n");
	snprintf(expected, sizeof(expected), "HTTP GET %s: 200 OK Output: %s", h.url,
	         "012345678901234567890123456789012345678901234567890123456789");
	cr_assert_str_eq(pl.output, expected);
	probe_free(first);
	probe_free(second);
}

/* --------------------------------------------------------------------- TLS */

struct tls_files {
	char dir[64];
	char cert[96];
	char key[96];
};

static int64_t
on_tick(ev_loop *loop, ev_timer *timer, void *arg)
{
	ev_break(loop);
	return EV_TIMER_STOP;
}

/* Keep the loop turning (reaping included) until a connect succeeds. */
static bool
wait_for_port(int port, int64_t limit_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int64_t until = ev_clock_ms() + limit_ms;
	ev_timer tick;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	ev_timer_init(&tick, on_tick, NULL);
	while (ev_clock_ms() < until) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));

		close(fd);
		if (rc == 0)
			return true;
		ev_timer_start(pl.loop, &tick, 10);
		ev_run(pl.loop);
	}
	return false;
}

/* A certificate for "probe.test" and `openssl s_server -www` using it. */
static void
tls_server(struct tls_files *f, int *port)
{
	char cmd[512];

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		cr_skip_test("no openssl command here");
	snprintf(f->dir, sizeof(f->dir), "/tmp/ostiary-probe-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout %s -out %s -days 1 -subj /CN=probe.test "
	         "-addext subjectAltName=DNS:probe.test >/dev/null 2>&1",
	         f->key, f->cert);
	cr_assert_eq(system(cmd), 0, "openssl req failed");
	/* The harness's listener gives a free port: hand it over. */
	*port = h.port;
	close(h.listen_fd);
	h.listen_fd = listen_local(1, &(int){ 0 });
	h.server = fork();
	cr_assert_geq(h.server, 0);
	if (h.server == 0) {
		char accept[16];
		snprintf(accept, sizeof(accept), "%d", *port);
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept,
		       "-cert", f->cert, "-key", f->key, (char *)NULL);
		_exit(127);
	}
	cr_assert(wait_for_port(*port, 10000), "openssl s_server did not come up");
}

static void
tls_cleanup(struct tls_files *f)
{
	unlink(f->cert);
	unlink(f->key);
	rmdir(f->dir);
}

Test(probe_http, https_verified_against_tls_server_name_and_ca_file)
{
	struct tls_files f;
	struct check_conf check = { .tls_server_name = "probe.test" };
	struct probe *probe;
	char head[128];
	int port;

	tls_server(&f, &port);
	check.tls_ca_file = f.cert;
	snprintf(h.url, sizeof(h.url), "https://127.0.0.1:%d/", port);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	/* s_server -www answers "HTTP/1.0 200 ok" and an HTML page. */
	snprintf(head, sizeof(head), "HTTP GET https://127.0.0.1:%d/: 200 ok Output: ", port);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	cr_assert(strncmp(pl.output, head, strlen(head)) == 0, "%s", pl.output);
	cr_assert_leq(strlen(pl.output), 4096);
	probe_free(probe);
	tls_cleanup(&f);
}

Test(probe_http, https_name_mismatch_is_critical)
{
	struct tls_files f;
	struct check_conf check = { 0 };
	struct probe *probe;
	char head[128];
	int port;

	tls_server(&f, &port);
	check.tls_ca_file = f.cert; /* trusted, but issued for probe.test */
	snprintf(h.url, sizeof(h.url), "https://127.0.0.1:%d/", port);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	snprintf(head, sizeof(head), "Get \"https://127.0.0.1:%d/\": ", port);
	cr_assert_eq(pl.status, CONSUL_CRITICAL, "%s", pl.output);
	cr_assert(strncmp(pl.output, head, strlen(head)) == 0, "%s", pl.output);
	probe_free(probe);
	tls_cleanup(&f);
}

Test(probe_http, https_skip_verify_accepts_any_certificate)
{
	struct tls_files f;
	struct check_conf check = { .tls_skip_verify = true };
	struct probe *probe;
	int port;

	tls_server(&f, &port);
	snprintf(h.url, sizeof(h.url), "https://127.0.0.1:%d/", port);
	probe = make(&check);
	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, CONSUL_PASSING, "%s", pl.output);
	probe_free(probe);
	tls_cleanup(&f);
}
