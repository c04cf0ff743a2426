/* metrics.c - the Prometheus endpoint on libmicrohttpd (see metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "status.h"
#include "util.h"

struct metrics {
	ev_loop *loop;
	struct MHD_Daemon *daemon;
	int listen_fd;
	ev_io io; /* the daemon's epoll descriptor */
	ev_timer timer;
};

/* A non-blocking listening socket on addr; -1 with err filled. */
static int
metrics_listen(const char *addr, consul_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], port[8], why[128];
	int fd = -1, on = 1, rc;

	if (metrics_addr_split(addr, host, sizeof(host), port, sizeof(port), why, sizeof(why)) < 0)
		return consul_error_set(err, "--metrics-addr", "%s: %s", addr, why);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return consul_error_set(err, "--metrics-addr", "%s: %s", addr, gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		consul_error_set(err, "--metrics-addr", "%s: cannot listen: %s", addr,
		                 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* -------------------------------------------------------------- requests */

static enum MHD_Result
metrics_reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len)
{
	struct MHD_Response *resp =
	        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        status == MHD_HTTP_OK ? METRICS_CONTENT_TYPE
	                                              : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
metrics_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	char *body = strdup(text);

	return body != NULL ? metrics_reply(conn, status, body, strlen(body)) : MHD_NO;
}

/* One request: GET (or HEAD) /metrics, rendered from the snapshot. */
static enum MHD_Result
metrics_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                const char *version, const char *upload, size_t *upload_size, void **state)
{
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics only\n");
	if (strcmp(url, "/metrics") != 0)
		return metrics_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	if ((out = open_memstream(&body, &len)) == NULL)
		return MHD_NO;
	status_metrics(out);
	if (fclose(out) != 0) {
		free(body);
		return MHD_NO;
	}
	return metrics_reply(conn, MHD_HTTP_OK, body, len);
}

/* ------------------------------------------------------------- the loop */

/* Let the daemon do what is ready, then wait for its next deadline. */
static void
metrics_run(struct metrics *m)
{
	MHD_UNSIGNED_LONG_LONG timeout;

	MHD_run(m->daemon);
	if (MHD_get_timeout(m->daemon, &timeout) == MHD_YES)
		ev_timer_start(m->loop, &m->timer, (int64_t)timeout);
	else
		ev_timer_stop(m->loop, &m->timer);
}

static void
metrics_ready(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	metrics_run(arg);
}

static int64_t
metrics_due(ev_loop *loop, ev_timer *timer, void *arg)
{
	metrics_run(arg);
	return EV_TIMER_STOP;
}

/* libmicrohttpd's own messages (MHD_USE_ERROR_LOG), into our log. */
static void metrics_log(void *arg, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

static void
metrics_log(void *arg, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_info("metrics: %s", line);
}

/* Where scrapes go, with the port the kernel chose for port 0. */
static void
metrics_announce(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	log_notice("metrics on http://%s%s%s:%s/metrics", ss.ss_family == AF_INET6 ? "[" : "",
	           host, ss.ss_family == AF_INET6 ? "]" : "", port);
}

struct metrics *
metrics_new(ev_loop *loop, const char *addr, consul_error *err)
{
	struct metrics *m = calloc(1, sizeof(*m));
	const union MHD_DaemonInfo *info;

	if (m == NULL) {
		consul_error_set(err, "--metrics-addr", "out of memory");
		return NULL;
	}
	m->loop = loop;
	ev_timer_init(&m->timer, metrics_due, m);
	if ((m->listen_fd = metrics_listen(addr, err)) < 0) {
		free(m);
		return NULL;
	}
	/* No thread of its own (no MHD_USE_INTERNAL_POLLING_THREAD): our loop. */
	m->daemon = MHD_start_daemon(
	        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, metrics_request, m,
	        MHD_OPTION_LISTEN_SOCKET, m->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned)METRICS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned)METRICS_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)METRICS_MEMORY_LIMIT, MHD_OPTION_EXTERNAL_LOGGER, metrics_log, NULL,
	        MHD_OPTION_END);
	info = m->daemon ? MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (info == NULL) {
		consul_error_set(err, "--metrics-addr", "%s: cannot start the HTTP server", addr);
		metrics_free(m);
		return NULL;
	}
	ev_io_init(&m->io, info->epoll_fd, POLLIN, metrics_ready, m);
	if (ev_io_start(loop, &m->io) < 0) {
		consul_error_set(err, "--metrics-addr", "out of memory");
		metrics_free(m);
		return NULL;
	}
	metrics_announce(m->listen_fd);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	ev_io_stop(m->loop, &m->io);
	ev_timer_stop(m->loop, &m->timer);
	if (m->daemon != NULL)
		MHD_stop_daemon(m->daemon);
	/* A socket given with MHD_OPTION_LISTEN_SOCKET is closed by
	 * MHD_stop_daemon; ours to close only when the daemon never took it. */
	else if (m->listen_fd >= 0)
		close(m->listen_fd);
	free(m);
}
