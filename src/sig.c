/* sig.c - self-pipe signal delivery (see sig.h). */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int sig_pipe[2] = { -1, -1 };

/* Stop the child: deregister first, then pass the signal on. */
static const int sig_terminating[] = { SIGTERM, SIGINT, SIGQUIT };
/* Passed on as they are: reload, log rotation, window size, and the rest
 * a daemon may use. */
static const int sig_forwarded[] = { SIGHUP,    SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGURG,
	                             SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ,  SIGCONT };
/* The command runs in a process group of its own, which the terminal's
 * Ctrl-Z does not reach: ostiary passes it on, then stops itself (and
 * SIGCONT above wakes both).  TTIN and TTOU keep their default: the kernel
 * sends them to whoever touched the terminal, and a caught one would make
 * that read or write restart and be signalled again, forever. */
static const int sig_job_stops[] = { SIGTSTP };

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void
sig_handler(int signo)
{
	int saved = errno;
	unsigned char byte = (unsigned char)signo;

	/* A full pipe means the loop already has work waiting; dropping a
	 * repeat is harmless, blocking here would not be. */
	(void)!write(sig_pipe[1], &byte, 1);
	errno = saved;
}

static int
sig_catch(int signo)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(signo, &sa, NULL);
}

int
sig_init(void)
{
	sigset_t none;

	/* Close-on-exec from the start: nothing ostiary starts inherits it. */
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	for (size_t i = 0; i < NELEMS(sig_terminating); i++)
		if (sig_catch(sig_terminating[i]) < 0)
			return -1;
	for (size_t i = 0; i < NELEMS(sig_forwarded); i++)
		if (sig_catch(sig_forwarded[i]) < 0)
			return -1;
	for (size_t i = 0; i < NELEMS(sig_job_stops); i++)
		if (sig_catch(sig_job_stops[i]) < 0)
			return -1;
	if (sig_catch(SIGCHLD) < 0)
		return -1;
	/* Writes to a closed agent connection must be errors, not death. */
	signal(SIGPIPE, SIG_IGN);
	/* A container runtime may start us with signals blocked. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return sig_pipe[0];
}

int
sig_next(int fd)
{
	unsigned char byte;
	ssize_t n;

	do {
		n = read(fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? byte : 0;
}

void
sig_reset_for_child(void)
{
	sigset_t none;

	for (size_t i = 0; i < NELEMS(sig_terminating); i++)
		signal(sig_terminating[i], SIG_DFL);
	for (size_t i = 0; i < NELEMS(sig_forwarded); i++)
		signal(sig_forwarded[i], SIG_DFL);
	for (size_t i = 0; i < NELEMS(sig_job_stops); i++)
		signal(sig_job_stops[i], SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	/* An ignored disposition survives exec: give the child a clean one. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static bool
sig_in(int signo, const int *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == signo)
			return true;
	return false;
}

bool
sig_is_terminating(int signo)
{
	return sig_in(signo, sig_terminating, NELEMS(sig_terminating));
}

bool
sig_is_forwarded(int signo)
{
	return sig_in(signo, sig_forwarded, NELEMS(sig_forwarded));
}

bool
sig_is_job_stop(int signo)
{
	return sig_in(signo, sig_job_stops, NELEMS(sig_job_stops));
}

/* A table rather than sigabbrev_np(3), which is glibc-only. */
static const struct {
	int signo;
	const char *name;
} sig_names[] = {
	{ SIGHUP, "SIGHUP" },       { SIGINT, "SIGINT" },   { SIGQUIT, "SIGQUIT" },
	{ SIGILL, "SIGILL" },       { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
	{ SIGBUS, "SIGBUS" },       { SIGFPE, "SIGFPE" },   { SIGKILL, "SIGKILL" },
	{ SIGUSR1, "SIGUSR1" },     { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
	{ SIGPIPE, "SIGPIPE" },     { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" },
	{ SIGCHLD, "SIGCHLD" },     { SIGCONT, "SIGCONT" }, { SIGSTOP, "SIGSTOP" },
	{ SIGTSTP, "SIGTSTP" },     { SIGTTIN, "SIGTTIN" }, { SIGTTOU, "SIGTTOU" },
	{ SIGURG, "SIGURG" },       { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" },
	{ SIGVTALRM, "SIGVTALRM" }, { SIGPROF, "SIGPROF" }, { SIGWINCH, "SIGWINCH" },
	{ SIGSYS, "SIGSYS" },
};

const char *
sig_name(int signo, char *buf, unsigned len)
{
	for (size_t i = 0; i < NELEMS(sig_names); i++) {
		if (sig_names[i].signo == signo) {
			snprintf(buf, len, "%s", sig_names[i].name);
			return buf;
		}
	}
	snprintf(buf, len, "signal %d", signo);
	return buf;
}

int
sig_parse(const char *text)
{
	char *end;
	long n;

	if (text[0] >= '0' && text[0] <= '9') {
		n = strtol(text, &end, 10);
		return *end == '\0' && n > 0 && n < NSIG ? (int)n : -1;
	}
	if (strncasecmp(text, "SIG", 3) == 0)
		text += 3;
	for (size_t i = 0; i < NELEMS(sig_names); i++)
		if (strcasecmp(text, sig_names[i].name + 3) == 0)
			return sig_names[i].signo;
	return -1;
}

/* One side of FROM:TO; TO may be 0. */
static int
sig_parse_side(const char *text, size_t len, bool zero_ok)
{
	char buf[32];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (zero_ok && strcmp(buf, "0") == 0)
		return 0;
	return sig_parse(buf);
}

int
sig_parse_rewrite(const char *text, int *from, int *to, char *why, unsigned len)
{
	const char *colon = strchr(text, ':');
	char name[32];

	if (colon == NULL || strchr(colon + 1, ':') != NULL) {
		snprintf(why, len, "invalid \"%s\" (use FROM:TO, e.g. HUP:0 or TERM:QUIT)", text);
		return -1;
	}
	if ((*from = sig_parse_side(text, (size_t)(colon - text), false)) < 0) {
		snprintf(why, len,
		         "unknown signal \"%.*s\" in \"%s\" (use a name such as HUP or a number)",
		         (int)(colon - text), text, text);
		return -1;
	}
	if ((*to = sig_parse_side(colon + 1, strlen(colon + 1), true)) < 0) {
		snprintf(why, len,
		         "unknown signal \"%s\" in \"%s\" (use a name such as QUIT, a number, or 0 "
		         "to drop the signal)",
		         colon + 1, text);
		return -1;
	}
	/* Only what reaches ostiary and is passed on can be rewritten. */
	if (*from == SIGKILL || *from == SIGSTOP || *from == SIGCHLD || *from == SIGPIPE) {
		snprintf(why, len,
		         "%s is never passed on to the command, so it cannot be rewritten",
		         sig_name(*from, name, sizeof(name)));
		return -1;
	}
	return 0;
}
