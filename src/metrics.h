/*
 * metrics.h - GET /metrics in the Prometheus text format 0.0.4, served by
 * libmicrohttpd from ostiary's own event loop.
 *
 * Why libmicrohttpd: the endpoint faces the network, and an HTTP parser of
 * our own would need fuzzing and years of hardening; libmicrohttpd is a
 * small, maintained GNU library packaged by Debian.  It runs here without a
 * thread of its own: its epoll descriptor is one more ev_io in the loop and
 * its timeout one more ev_timer, so a scrape is a few non-blocking reads and
 * writes between probes, never a wait.  Every request is bounded
 * (METRICS_MAX_CONNECTIONS at once, METRICS_TIMEOUT_S without progress,
 * METRICS_MEMORY_LIMIT bytes of request per connection).  The body is
 * rendered from the status snapshot (status_metrics()), nothing else.
 */
#ifndef OSTIARY_METRICS_H
#define OSTIARY_METRICS_H

#include <stddef.h>

#include <ostiary/consul.h>

#include "ev.h"

#define METRICS_MAX_CONNECTIONS 8
#define METRICS_TIMEOUT_S 5
#define METRICS_MEMORY_LIMIT (32 * 1024)
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics;

/*
 * Check a --metrics-addr: HOST:PORT, [V6]:PORT, :PORT or PORT (the last
 * two on the loopback address).  0, or -1 with why filled.
 */
int metrics_addr_check(const char *addr, char *why, size_t len);
/* The same, split: host (loopback's for a bare port) and port. */
int metrics_addr_split(const char *addr, char *host, size_t hlen, char *port, size_t plen,
                       char *why, size_t len);

/* Listen on addr and serve from loop; NULL (err filled, source = flag)
 * when it cannot listen. */
struct metrics *metrics_new(ev_loop *loop, const char *addr, consul_error *err);
void metrics_free(struct metrics *m);

#endif
