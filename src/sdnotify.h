/*
 * sdnotify.h - ostiary telling systemd about itself (Type=notify).
 *
 * The sd_notify protocol without libsystemd: when ostiary's own
 * environment has NOTIFY_SOCKET (a path, or "@name" for an abstract
 * socket), each sdnotify_send is one datagram of "KEY=VALUE" lines to it.
 * Not to be confused with notify.c, the socket ostiary offers its command.
 */
#ifndef OSTIARY_SDNOTIFY_H
#define OSTIARY_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

/* Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; true when systemd
 * listens.  A socket that cannot be used is logged once and ignored. */
bool sdnotify_init(void);
/* The watchdog ping interval in ms (half WATCHDOG_USEC), or 0 when systemd
 * does not watch this process. */
int64_t sdnotify_watchdog_ms(void);
/* One datagram; nothing when systemd does not listen. */
void sdnotify_send(const char *fmt, ...) LOG_PRINTF(1, 2);
/* RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload wants. */
void sdnotify_reloading(void);
/* The variables meant for ostiary, not for the command it starts. */
bool sdnotify_is_own_variable(const char *entry);
void sdnotify_close(void);

#endif
