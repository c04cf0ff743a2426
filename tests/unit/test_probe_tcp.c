/*
 * TCP probes against real sockets on loopback: success, refusal, a
 * timeout (a listener whose accept queue is full drops new SYNs), names
 * with several addresses.  Runs go through the event loop until done
 * fires; a deadline timer fails the test instead of hanging.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "probe.h"
#include "probe_loop.h"

struct harness {
	char addr[64];
};

static struct harness h;

static void
setup(void)
{
	memset(&h, 0, sizeof(h));
	probe_loop_setup();
}

static void
teardown(void)
{
	probe_loop_teardown();
}

TestSuite(probe_tcp, .init = setup, .fini = teardown, .timeout = 30);

/* A listener on the loopback address of family af; -1 if there is none. */
static int
listen_on(int af, int backlog, int *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int
closed_port(void)
{
	int port, fd = listen_on(AF_INET, 1, &port);

	cr_assert_geq(fd, 0);
	close(fd);
	return port;
}

static struct probe *
make(const char *addr, int64_t timeout_ms)
{
	struct check_conf check = {
		.id = "tcp-test",
		.kind = PROBE_TCP,
		.tcp_addr = (char *)addr,
		.timeout_ms = timeout_ms,
		.output_max_size = 4096,
	};
	consul_error err = { 0 };
	struct probe *probe = probe_new(pl.loop, &check, &err);

	cr_assert_not_null(probe, "probe_new: %s: %s", err.source, err.text);
	return probe;
}

static void
expect(const char *addr, enum consul_status status, const char *output)
{
	struct probe *probe = make(addr, 5000);

	probe_loop_run_one(probe, 10000);
	cr_assert_eq(pl.status, status, "status %d: %s", pl.status, pl.output);
	cr_assert_str_eq(pl.output, output);
	probe_free(probe);
}

Test(probe_tcp, listening_port_is_passing)
{
	char expected[128];
	int port, fd = listen_on(AF_INET, 16, &port);

	cr_assert_geq(fd, 0);
	snprintf(h.addr, sizeof(h.addr), "127.0.0.1:%d", port);
	snprintf(expected, sizeof(expected), "TCP connect 127.0.0.1:%d: Success", port);
	expect(h.addr, CONSUL_PASSING, expected);
	close(fd);
}

Test(probe_tcp, closed_port_is_critical_with_gos_error)
{
	char expected[128];
	int port = closed_port();

	snprintf(h.addr, sizeof(h.addr), "127.0.0.1:%d", port);
	snprintf(expected, sizeof(expected), "dial tcp 127.0.0.1:%d: connect: connection refused",
	         port);
	expect(h.addr, CONSUL_CRITICAL, expected);
}

Test(probe_tcp, ipv6_literal_in_brackets)
{
	char expected[128];
	int port, fd = listen_on(AF_INET6, 16, &port);

	if (fd < 0)
		cr_skip_test("no IPv6 loopback here");
	snprintf(h.addr, sizeof(h.addr), "[::1]:%d", port);
	snprintf(expected, sizeof(expected), "TCP connect [::1]:%d: Success", port);
	expect(h.addr, CONSUL_PASSING, expected);
	close(fd);
	/* Refused, the address is printed as Go prints it: in brackets. */
	snprintf(expected, sizeof(expected), "dial tcp [::1]:%d: connect: connection refused",
	         port);
	expect(h.addr, CONSUL_CRITICAL, expected);
}

Test(probe_tcp, name_with_several_addresses_tries_them_in_order)
{
	/* "localhost" may give ::1 before 127.0.0.1: refused there, the
	 * next address still counts, and the output names what was asked. */
	char expected[128];
	int port, fd = listen_on(AF_INET, 16, &port);

	cr_assert_geq(fd, 0);
	snprintf(h.addr, sizeof(h.addr), "localhost:%d", port);
	snprintf(expected, sizeof(expected), "TCP connect localhost:%d: Success", port);
	expect(h.addr, CONSUL_PASSING, expected);
	close(fd);
}

Test(probe_tcp, one_probe_runs_again_and_again)
{
	char ok[128], refused[128];
	int port, fd = listen_on(AF_INET, 16, &port);
	struct probe *probe;

	cr_assert_geq(fd, 0);
	snprintf(h.addr, sizeof(h.addr), "127.0.0.1:%d", port);
	snprintf(ok, sizeof(ok), "TCP connect 127.0.0.1:%d: Success", port);
	snprintf(refused, sizeof(refused), "dial tcp 127.0.0.1:%d: connect: connection refused",
	         port);
	probe = make(h.addr, 5000);
	probe_loop_run_one(probe, 10000);
	cr_assert_str_eq(pl.output, ok);
	close(fd);
	for (int i = 0; i < 3; i++) {
		probe_loop_run_one(probe, 10000);
		cr_assert_eq(pl.status, CONSUL_CRITICAL);
		cr_assert_str_eq(pl.output, refused);
	}
	probe_free(probe);
}

/* A listener with a full accept queue: Linux drops further SYNs, so a
 * connect stays pending until our timeout.  Returns the listener. */
static int
full_listener(int *port, int *clients, int nclients)
{
	int fd = listen_on(AF_INET, 0, port);
	struct sockaddr_in sin = { .sin_family = AF_INET };

	cr_assert_geq(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)*port);
	for (int i = 0; i < nclients; i++) {
		clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		cr_assert_geq(clients[i], 0);
		(void)connect(clients[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	/* The first client is established (queued, not accepted). */
	struct pollfd p = { .fd = clients[0], .events = POLLOUT };
	cr_assert_eq(poll(&p, 1, 2000), 1);
	return fd;
}

Test(probe_tcp, unanswered_connect_times_out_within_the_timeout)
{
	int port, clients[3], fd = full_listener(&port, clients, 3);
	char expected[128];
	struct probe *probe;

	snprintf(h.addr, sizeof(h.addr), "127.0.0.1:%d", port);
	probe = make(h.addr, 300);
	probe_loop_run_one(probe, 5000);
	snprintf(expected, sizeof(expected), "dial tcp 127.0.0.1:%d: i/o timeout", port);
	cr_assert_eq(pl.status, CONSUL_CRITICAL);
	cr_assert_str_eq(pl.output, expected);
	cr_assert_geq(pl.elapsed_ms, 290);
	cr_assert_lt(pl.elapsed_ms, 2000);
	probe_free(probe);
	for (int i = 0; i < 3; i++)
		close(clients[i]);
	close(fd);
}

Test(probe_tcp, start_while_running_is_refused_and_cancel_is_silent)
{
	int port, clients[3], fd = full_listener(&port, clients, 3);
	struct probe *probe;

	snprintf(h.addr, sizeof(h.addr), "127.0.0.1:%d", port);
	probe = make(h.addr, 300);
	cr_assert_eq(probe_start(probe, probe_loop_done, NULL), 0);
	cr_assert_eq(probe_start(probe, probe_loop_done, NULL), -1);
	cr_assert(probe_running(probe));
	probe_cancel(probe);
	cr_assert_not(probe_running(probe));
	cr_assert_not(probe_loop_run(600));
	cr_assert_eq(pl.calls, 0);
	probe_free(probe);
	for (int i = 0; i < 3; i++)
		close(clients[i]);
	close(fd);
}

static void
expect_refused(const char *addr, const char *text)
{
	struct check_conf check = {
		.id = "tcp-test",
		.kind = PROBE_TCP,
		.tcp_addr = (char *)addr,
	};
	consul_error err = { 0 };

	cr_assert_null(probe_new(pl.loop, &check, &err));
	cr_assert_str_eq(err.text, text);
	cr_assert_str_eq(err.source, "check tcp-test");
}

Test(probe_tcp, bad_addresses_are_refused_up_front)
{
	expect_refused("127.0.0.1", "tcp address \"127.0.0.1\": missing port in address");
	expect_refused("127.0.0.1:", "tcp address \"127.0.0.1:\": missing port in address");
	expect_refused("::1:80",
	               "tcp address \"::1:80\": too many colons in address (write [v6]:port)");
	expect_refused("localhost:http",
	               "tcp address \"localhost:http\": the port must be a number");
	expect_refused("", "a tcp check needs an address (host:port)");
}
