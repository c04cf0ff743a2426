/*
 * notify.h - the sd_notify(3) socket ostiary offers its child.
 *
 * The child finds it through NOTIFY_SOCKET (the caller puts it in the
 * child's environment; the NOTIFY_SOCKET ostiary itself may have been given
 * is never read here) and sends newline-separated VAR=VALUE datagrams, as
 * to systemd: READY=1, STATUS=..., STOPPING=1, RELOADING=1.  Anything else
 * (MAINPID=, WATCHDOG=1, FDSTORE=1 and its descriptors, ...) is ignored.
 *
 * Like systemd's NotifyAccess=all, restricted to the child's process tree:
 * a datagram counts only if the kernel's credentials name the main pid or
 * one of its descendants at the time it is read.  A sender that has already
 * exited and is not the main pid itself cannot be placed in the tree any
 * more; its message is dropped.
 */
#ifndef OSTIARY_NOTIFY_H
#define OSTIARY_NOTIFY_H

#include <stdbool.h>
#include <sys/types.h>

#include <ostiary/consul.h>

#include "ev.h"

/* What one datagram said. */
struct notify_message {
	bool ready;         /* READY=1 */
	bool stopping;      /* STOPPING=1 */
	bool reloading;     /* RELOADING=1 */
	const char *status; /* STATUS=... text (valid during the callback only), NULL if absent */
	pid_t pid;          /* the sender's pid (from SCM_CREDENTIALS) */
};

/* Called once per accepted datagram that held at least one of the variables
 * above.  It may call notify_free. */
typedef void (*notify_fn)(void *arg, const struct notify_message *msg);

struct notify;

/* Create the socket and watch it on loop. NULL (err filled) on failure. */
struct notify *notify_new(ev_loop *loop, notify_fn fn, void *arg, consul_error *err);
/* The value for the child's NOTIFY_SOCKET. */
const char *notify_socket_path(const struct notify *n);
/* Only datagrams from this process or its descendants are accepted (0 = none accepted).
 * Senders are judged when the loop reads their datagrams, so a child may send before this
 * is called as long as the loop has not run in between. */
void notify_set_main_pid(struct notify *n, pid_t pid);
/* Closes the socket and removes whatever it created on the filesystem. */
void notify_free(struct notify *n);

#endif
