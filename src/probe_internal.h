/*
 * probe_internal.h - what probe.c shares with the probe kinds
 * (probe_exec.c, probe_http.c, probe_tcp.c).  Not for the rest of ostiary.
 */
#ifndef OSTIARY_PROBE_INTERNAL_H
#define OSTIARY_PROBE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe.h"
#include "util.h"

/* One kind of probe. */
struct probe_ops {
	const char *name;
	/* Set up everything a run needs, once; NULL with err filled. */
	void *(*init)(struct probe *probe, const struct check_conf *check, consul_error *err);
	/* Begin a run.  0 when it runs; -1 when it could not start, after
	 * reporting why with probe_result_*(). */
	int (*start)(void *impl);
	/* Stop a run in flight without reporting anything. */
	void (*cancel)(void *impl);
	/* Optional: variables to add to the environment of the next runs. */
	int (*set_env)(void *impl, char *const *extra);
	void (*free)(void *impl);
};

extern const struct probe_ops probe_exec_ops;
extern const struct probe_ops probe_http_ops;
extern const struct probe_ops probe_tcp_ops;

struct probe {
	ev_loop *loop;
	const struct probe_ops *ops;
	void *impl;
	char *id;     /* the check's, for log lines */
	size_t max;   /* output_max_size: no output is longer */
	bool running; /* from probe_start until done runs (or cancel) */
	bool has_result;
	probe_done_fn done;
	void *done_arg;
	ev_timer deliver; /* hands the result over from the loop */
	enum consul_status status;
	const char *output;
	char *owned; /* output, when it is ours to free */
};

/* The run is over: queue its result for delivery from the loop.  _owned
 * takes a malloc'd string (NULL = out of memory); _static keeps the pointer,
 * which must stay valid until delivery.  Either is cut to fit probe->max. */
void probe_result_owned(struct probe *probe, enum consul_status status, char *output);
void probe_result_static(struct probe *probe, enum consul_status status, const char *output);

/* Where a check's messages point: its origin ("file:line") or its ID. */
int probe_error(consul_error *err, const struct check_conf *check, const char *fmt, ...)
        PRINTF_LIKE(3, 4);

/* Bounded capture: the last cap bytes of a stream, and how long it was
 * (Consul's circbuf, github.com/armon/circbuf). */
struct probe_ring {
	char *buf;
	size_t cap;
	size_t head;    /* where the next byte goes */
	size_t len;     /* bytes held, at most cap */
	uint64_t total; /* bytes written in all */
};

int probe_ring_init(struct probe_ring *ring, size_t cap);
void probe_ring_free(struct probe_ring *ring);
void probe_ring_reset(struct probe_ring *ring);
void probe_ring_write(struct probe_ring *ring, const char *data, size_t len);
/* Contiguous room at head (len > 0), to read(2) into, then commit. */
char *probe_ring_space(struct probe_ring *ring, size_t *len);
void probe_ring_commit(struct probe_ring *ring, size_t len);
/* The held bytes, oldest first, made contiguous in place. */
const char *probe_ring_data(struct probe_ring *ring);

/* head followed by the ring's tail (probe_output_tail), within max bytes
 * in all; malloc'd, NULL on no memory. */
char *probe_output_compose(const char *head, struct probe_ring *ring, size_t max);

/* Go's text for an errno ("connection refused"): Linux strerror with a
 * lower-case first letter, as Go's syscall.Errno tables are spelled. */
void probe_go_errno(int errnum, char *buf, size_t len);
/* Go's net.JoinHostPort: "127.0.0.1:80", "[::1]:80". */
void probe_join_host_port(const char *host, unsigned port, char *buf, size_t len);

#endif
