/*
 * probe_tcp.c - TCP checks: passing when a connection can be opened
 * (Consul's CheckTCP, agent/checks/check.go), then closed at once.
 *
 * A raw non-blocking connect rather than libcurl: at thousands of checks
 * every few seconds the per-run cost is what matters, so a run allocates
 * nothing and costs socket, connect, one poll wake-up and close.
 *
 * Names are resolved once, when the probe is made (at start-up, before
 * the event loop runs: getaddrinfo blocks).  A check on a name whose
 * addresses later change keeps using the old ones until ostiary restarts.
 *
 * Outputs are Consul's: "TCP connect <addr>: Success", and on failure the
 * text of Go's *net.OpError from net.Dialer.Dial:
 * "dial tcp 127.0.0.1:1: connect: connection refused",
 * "dial tcp 10.0.0.1:80: i/o timeout".
 */
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "probe_internal.h"

/* Go's net.partialDeadline: each address gets an equal share of what is
 * left of the timeout, but not less than this (when there is that much). */
#define PROBE_TCP_SANE_MINIMUM_MS 2000

struct probe_tcp_addr {
	union { /* not sockaddr_storage: 10,000 checks are 1 MB smaller */
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
	socklen_t salen;
	int family;
	char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 16]; /* "[::1]:80", as Go prints it */
};

struct probe_tcp {
	struct probe *probe;
	struct probe_tcp_addr *addrs;
	size_t naddrs;
	char *success; /* "TCP connect <addr>: Success" */
	int64_t timeout_ms;
	/* The run's first error (Go reports that one), handed over to the
	 * probe as its output; allocated only when a run fails. */
	char *error;

	/* the run in flight */
	size_t next;
	int fd;
	int64_t deadline;
	ev_io io;
	ev_timer timer;
};

/* -------------------------------------------------------------------- runs */

static void
probe_tcp_close(struct probe_tcp *t)
{
	ev_io_stop(t->probe->loop, &t->io);
	ev_timer_stop(t->probe->loop, &t->timer);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

/* Go: OpError{Op: "dial", Net: "tcp", Addr: ra, Err: ...}.Error() */
static void
probe_tcp_error(struct probe_tcp *t, const struct probe_tcp_addr *a, const char *syscall, int err)
{
	char text[64], line[sizeof(a->text) + 128];

	if (t->error != NULL)
		return;
	if (syscall == NULL) {
		snprintf(line, sizeof(line), "dial tcp %s: i/o timeout", a->text);
	} else {
		probe_go_errno(err, text, sizeof(text));
		snprintf(line, sizeof(line), "dial tcp %s: %s: %s", a->text, syscall, text);
	}
	t->error = strdup(line); /* NULL: probe_result_owned reports the lack of memory */
}

static void
probe_tcp_success(struct probe_tcp *t)
{
	/* A plain close (FIN), as Consul's check does: a reset would make many
	 * servers log an error for every probe. */
	probe_tcp_close(t);
	probe_result_static(t->probe, CONSUL_PASSING, t->success);
}

/* How long address i of the remaining ones may take (net.partialDeadline). */
static int64_t
probe_tcp_share(const struct probe_tcp *t, int64_t remaining)
{
	int64_t share = remaining / (int64_t)(t->naddrs - t->next);

	if (share < PROBE_TCP_SANE_MINIMUM_MS)
		share = remaining < PROBE_TCP_SANE_MINIMUM_MS ? remaining
		                                              : PROBE_TCP_SANE_MINIMUM_MS;
	return share;
}

/* Connect to one address; true when the outcome is pending on the loop. */
static bool
probe_tcp_connect(struct probe_tcp *t, const struct probe_tcp_addr *a, int64_t share)
{
	t->fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		probe_tcp_error(t, a, "socket", errno);
		return false;
	}
	if (connect(t->fd, (const struct sockaddr *)&a->sa, a->salen) == 0) {
		probe_tcp_success(t);
		return true;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		probe_tcp_error(t, a, "connect", errno);
		probe_tcp_close(t);
		return false;
	}
	t->io.fd = t->fd;
	if (ev_io_start(t->probe->loop, &t->io) < 0) {
		probe_tcp_error(t, a, "connect", ENOMEM);
		probe_tcp_close(t);
		return false;
	}
	ev_timer_start(t->probe->loop, &t->timer, share);
	return true;
}

/* Addresses in order within the one timeout, as Go's dialSerial. */
static void
probe_tcp_next(struct probe_tcp *t)
{
	while (t->next < t->naddrs) {
		int64_t remaining = t->deadline - ev_clock_ms();
		int64_t share;
		const struct probe_tcp_addr *a;

		if (remaining <= 0) {
			probe_tcp_error(t, &t->addrs[t->next], NULL, 0);
			break;
		}
		share = probe_tcp_share(t, remaining);
		a = &t->addrs[t->next++];
		if (probe_tcp_connect(t, a, share))
			return;
	}
	probe_result_owned(t->probe, CONSUL_CRITICAL, t->error);
	t->error = NULL;
}

static void
probe_tcp_writable(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	struct probe_tcp *t = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		probe_tcp_success(t);
		return;
	}
	probe_tcp_error(t, &t->addrs[t->next - 1], "connect", err);
	probe_tcp_close(t);
	probe_tcp_next(t);
}

static int64_t
probe_tcp_timeout(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct probe_tcp *t = arg;

	probe_tcp_error(t, &t->addrs[t->next - 1], NULL, 0);
	probe_tcp_close(t);
	probe_tcp_next(t);
	return EV_TIMER_STOP;
}

static int
probe_tcp_start(void *impl)
{
	struct probe_tcp *t = impl;

	free(t->error); /* a cancelled run's */
	t->error = NULL;
	t->next = 0;
	t->deadline = ev_clock_ms() + t->timeout_ms;
	probe_tcp_next(t);
	return 0;
}

static void
probe_tcp_cancel(void *impl)
{
	probe_tcp_close(impl);
}

/* ------------------------------------------------------------------- setup */

static void
probe_tcp_free(void *impl)
{
	struct probe_tcp *t = impl;

	free(t->addrs);
	free(t->success);
	free(t->error);
	free(t);
}

/* Go's net.SplitHostPort: "host:port" or "[host]:port", nothing else. */
static int
probe_tcp_split(const struct check_conf *check, char *host, size_t hlen, const char **port,
                consul_error *err)
{
	const char *addr = check->tcp_addr, *colon = strrchr(addr, ':');
	const char *start = addr, *end = colon;

	if (colon == NULL)
		return probe_error(err, check, "tcp address \"%s\": missing port in address", addr);
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close + 1 != colon)
			return probe_error(err, check, "tcp address \"%s\": expected [host]:port",
			                   addr);
		start = addr + 1;
		end = close;
	} else if (memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
		return probe_error(
		        err, check,
		        "tcp address \"%s\": too many colons in address (write [v6]:port)", addr);
	}
	if (colon[1] == '\0')
		return probe_error(err, check, "tcp address \"%s\": missing port in address", addr);
	if ((size_t)(end - start) >= hlen)
		return probe_error(err, check, "tcp address \"%s\": host name too long", addr);
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	*port = colon + 1;
	return 0;
}

static int
probe_tcp_store(struct probe_tcp *t, const struct addrinfo *ai)
{
	struct probe_tcp_addr *a = &t->addrs[t->naddrs];
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (ai->ai_addrlen > sizeof(a->sa) ||
	    getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	memcpy(&a->sa, ai->ai_addr, ai->ai_addrlen);
	a->salen = ai->ai_addrlen;
	a->family = ai->ai_family;
	probe_join_host_port(host, (unsigned)strtoul(serv, NULL, 10), a->text, sizeof(a->text));
	t->naddrs++;
	return 0;
}

static int
probe_tcp_resolve(struct probe_tcp *t, const struct check_conf *check, consul_error *err)
{
	struct addrinfo hints, *res, *ai;
	char host[NI_MAXHOST];
	const char *port = NULL;
	size_t n = 0;
	int rc;

	if (check->tcp_addr == NULL || check->tcp_addr[0] == '\0')
		return probe_error(err, check, "a tcp check needs an address (host:port)");
	if (probe_tcp_split(check, host, sizeof(host), &port, err) < 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	/* Go dials an empty host as the local system. */
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0)
		return probe_error(err, check, "tcp address \"%s\": %s", check->tcp_addr,
		                   rc == EAI_NONAME && *port &&
		                                   strspn(port, "0123456789") != strlen(port)
		                           ? "the port must be a number"
		                           : gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	if ((t->addrs = calloc(n, sizeof(*t->addrs))) == NULL) {
		freeaddrinfo(res);
		return probe_error(err, check, "out of memory");
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			(void)probe_tcp_store(t, ai);
	freeaddrinfo(res);
	if (t->naddrs == 0)
		return probe_error(err, check, "tcp address \"%s\": no usable address",
		                   check->tcp_addr);
	return 0;
}

static void *
probe_tcp_init(struct probe *probe, const struct check_conf *check, consul_error *err)
{
	struct probe_tcp *t = calloc(1, sizeof(*t));
	int n;

	if (t == NULL) {
		probe_error(err, check, "out of memory");
		return NULL;
	}
	t->probe = probe;
	t->fd = -1;
	t->timeout_ms = check->timeout_ms > 0 ? check->timeout_ms : CONF_DEFAULT_NET_TIMEOUT_MS;
	ev_io_init(&t->io, -1, POLLOUT, probe_tcp_writable, t);
	ev_timer_init(&t->timer, probe_tcp_timeout, t);
	if (probe_tcp_resolve(t, check, err) < 0)
		goto fail;
	n = snprintf(NULL, 0, "TCP connect %s: Success", check->tcp_addr);
	if (n < 0 || (t->success = malloc((size_t)n + 1)) == NULL) {
		probe_error(err, check, "out of memory");
		goto fail;
	}
	snprintf(t->success, (size_t)n + 1, "TCP connect %s: Success", check->tcp_addr);
	for (size_t i = 0; i < t->naddrs; i++)
		log_debug("check %s: tcp address %s", probe->id, t->addrs[i].text);
	return t;
fail:
	probe_tcp_free(t);
	return NULL;
}

const struct probe_ops probe_tcp_ops = {
	.name = "tcp",
	.init = probe_tcp_init,
	.start = probe_tcp_start,
	.cancel = probe_tcp_cancel,
	.free = probe_tcp_free,
};
