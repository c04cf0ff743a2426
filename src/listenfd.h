/*
 * listenfd.h - socket activation passed through to the command.
 *
 * systemd (or systemd-socket-activate, s6-fdholder...) starts ostiary with
 * listening sockets at descriptors 3 .. 3+N-1 and LISTEN_FDS=N,
 * LISTEN_PID=<ostiary's pid>, LISTEN_FDNAMES=a:b.  They are the command's:
 * ostiary never reads them; it takes the variables out of its own
 * environment at start (as sd_listen_fds(1) does, so exec probes never see
 * them), marks the descriptors close-on-exec (so no probe inherits them), and
 * hands them to every start of the command at the same numbers, with
 * LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID set to the command's own pid in
 * the child after fork (spawn.h, keep_fds and pid_env).
 */
#ifndef OSTIARY_LISTENFD_H
#define OSTIARY_LISTENFD_H

#define LISTENFD_START 3 /* SD_LISTEN_FDS_START */
/* Room after "LISTEN_PID=" for any pid, filled in by the child. */
#define LISTENFD_PID_DIGITS 20

/*
 * Call first thing in main, before anything opens a descriptor or starts a
 * thread (it changes the environment).  Returns how many descriptors were
 * passed to ostiary (0 when none, or when LISTEN_PID names another
 * process: then they were not meant for us and are left alone).
 */
int listenfd_take(void);
/* How many the command gets (what listenfd_take found). */
int listenfd_count(void);
/* The command's LISTEN_* entries, "NAME=value", NULL-terminated, with
 * "LISTEN_PID=" followed by LISTENFD_PID_DIGITS spaces for the child to
 * fill; NULL when there are none.  Static storage. */
char *const *listenfd_env(void);

#endif
