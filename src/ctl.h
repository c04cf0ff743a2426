/*
 * ctl.h - the control socket (relayd's control.c) and its client,
 * `ostiary status` and `ostiary maintenance`.
 *
 * A unix stream socket, mode 0600 (owner only), one JSON request per line,
 * one JSON answer per line:
 *   {"cmd":"status"}
 *       -> the status snapshot (status_json());
 *   {"cmd":"maintenance","enable":true,"reason":"...","service":"ID"}
 *       -> {"ok":true,"services":["ID",...]} or {"ok":false,"error":"..."}
 *          (without "service": every service).
 * The server answers from the snapshot only (status.h); maintenance goes
 * to the agent session, which keeps it across re-registrations.  Bounded:
 * CTL_MAX_CLIENTS connections, CTL_MAX_LINE bytes a request, CTL_IDLE_MS
 * without a request before a connection is closed.
 */
#ifndef OSTIARY_CTL_H
#define OSTIARY_CTL_H

#include <ostiary/consul.h>

#include "agent.h"
#include "conf.h"
#include "ev.h"

#define CTL_MAX_CLIENTS 16
#define CTL_MAX_LINE 4096
#define CTL_IDLE_MS 10000
/* `ostiary status` gives up on a silent ostiary after this long. */
#define CTL_CLIENT_TIMEOUT_MS 5000
/* Exit statuses of `ostiary status` (Docker's HEALTHCHECK reads 0 and 1). */
#define CTL_EXIT_PASSING 0
#define CTL_EXIT_WARNING 1
#define CTL_EXIT_CRITICAL 2
#define CTL_EXIT_UNREACHABLE 3

struct ctl;

/*
 * The socket's path: conf->status_socket when given ("none": NULL, off),
 * else $RUNTIME_DIRECTORY/ostiary.sock, else
 * $XDG_RUNTIME_DIR/ostiary/OWNER.sock, else /run/ostiary/OWNER.sock when
 * root; NULL (off) for another user without either variable.  Writes into
 * buf; -1 (err filled) when the path does not fit a unix socket.
 */
int ctl_socket_path(const struct conf *conf, char *buf, size_t len, const char **out,
                    consul_error *err);

/*
 * Listen on path.  A socket file there that still answers is another
 * ostiary's: refused (err filled), nothing is touched.  One that does not
 * answer is a crashed run's and is replaced.  Anything else there (a plain
 * file) is refused.
 */
struct ctl *ctl_new(ev_loop *loop, struct agent *agent, const char *path, consul_error *err);
/* Close every connection and remove the socket file. */
void ctl_free(struct ctl *ctl);

/* `ostiary status|maintenance ...` (argv[0] is the subcommand); returns
 * the exit status. */
int ctl_client_main(int argc, char **argv);
/* Is argv a client subcommand ("status"/"maintenance" with no "--")? */
bool ctl_is_client(int argc, char **argv);

#endif
