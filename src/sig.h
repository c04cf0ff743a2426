/*
 * sig.h - signals turned into a file descriptor (the self-pipe trick).
 *
 * The handlers only write the signal number into a non-blocking pipe; the
 * event loop reads it and does the real work, so nothing async-signal-unsafe
 * ever runs in a handler.
 */
#ifndef OSTIARY_SIG_H
#define OSTIARY_SIG_H

#include <stdbool.h>

/* Install the handlers; returns the read end of the pipe, or -1. */
int sig_init(void);
/* Next pending signal number, or 0 when the pipe is drained. */
int sig_next(int fd);
/* In a freshly forked child: default dispositions and an empty mask (the
 * pipe needs no closing: it is close-on-exec). */
void sig_reset_for_child(void);
/* Signals that make ostiary stop the child (after deregistering). */
bool sig_is_terminating(int signo);
/* Signals passed on to the child untouched. */
bool sig_is_forwarded(int signo);
/* "SIGTERM" etc., or "signal N". */
const char *sig_name(int signo, char *buf, unsigned len);
/* "TERM", "SIGTERM", "sigterm" or "15": the signal number; -1 if unknown. */
int sig_parse(const char *text);
/* SIGTSTP (Ctrl-Z): passed on, then ostiary stops itself. */
bool sig_is_job_stop(int signo);
/*
 * --rewrite's "FROM:TO" (names or numbers; TO may be 0: drop).  Returns 0,
 * or -1 with what is wrong in why.
 */
int sig_parse_rewrite(const char *text, int *from, int *to, char *why, unsigned len);

#endif
