/*
 * exitcode.h - ostiary's exit statuses.
 *
 * ostiary exits with its child's status: the child's exit code, or 128+N
 * when the child died of signal N (as shells report it).  Its own failures
 * use the codes env(1), timeout(1) and the shells use, so a wrapper script
 * can tell them apart from the child's.
 */
#ifndef OSTIARY_EXITCODE_H
#define OSTIARY_EXITCODE_H

#define OSTIARY_EXIT_USAGE 125          /* bad command line or environment; nothing started */
#define OSTIARY_EXIT_INTERNAL 125       /* ostiary itself failed (cannot fork, no memory) */
#define OSTIARY_EXIT_NO_KV 125          /* Consul KV data could not be read in time or applied */
#define OSTIARY_EXIT_NOT_EXECUTABLE 126 /* COMMAND found but could not be executed */
#define OSTIARY_EXIT_NOT_FOUND 127      /* COMMAND not found */
#define OSTIARY_EXIT_SIGNAL_BASE 128    /* child killed by signal N: 128+N */

/* Map a wait(2) status to the exit code ostiary reports. */
int exitcode_from_wait_status(int wait_status);
/* Map an exec(3) errno to 126 or 127 as shells do. */
int exitcode_from_exec_errno(int err);

#endif
