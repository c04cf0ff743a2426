/* spawn.c - starting a process (see spawn.h). */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdlimit.h"
#include "sig.h"

/* execvp's search path when the environment has no PATH. */
#define SPAWN_DEFAULT_PATH "/bin:/usr/bin"
/* Where closing descriptors one by one gives up (no close_range(2)). */
#define SPAWN_MAX_FDS 65536

#if defined(__linux__) && defined(__GLIBC__) &&                                                    \
        (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define SPAWN_HAVE_CLOSE_RANGE 1
#endif

/* What the child writes to the report pipe when it cannot exec. */
struct spawn_report {
	int stage;
	int err;
};

/* Everything the child uses, made ready before fork. */
struct spawn_prep {
	const struct spawn_opts *o;
	const char *search; /* the PATH to look a bare name up on */
	char **sh_argv;     /* "/bin/sh FILE ARGS...", for script_fallback */
	int max_fd;         /* for closing descriptors without close_range */
	int report;         /* the child's end of the report pipe */
};

void
spawn_opts_init(struct spawn_opts *o, char *const *argv, char *const *envp)
{
	memset(o, 0, sizeof(*o));
	o->argv = argv;
	o->envp = envp;
	o->stdin_fd = SPAWN_KEEP;
	o->stdout_fd = SPAWN_KEEP;
	o->stderr_fd = SPAWN_KEEP;
}

const char *
spawn_stage_name(enum spawn_stage stage)
{
	switch (stage) {
	case SPAWN_OK:
		return "start";
	case SPAWN_PREPARE:
		return "prepare";
	case SPAWN_FORK:
		return "fork";
	case SPAWN_STDIO:
		return "open";
	case SPAWN_SETGROUPS:
		return "setgroups";
	case SPAWN_SETGID:
		return "setgid";
	case SPAWN_SETUID:
		return "setuid";
	case SPAWN_CHDIR:
		return "chdir";
	case SPAWN_EXEC:
		return "exec";
	}
	return "start";
}

/* ------------------------------------------------------------ the child */

static _Noreturn void
spawn_fail(const struct spawn_prep *p, enum spawn_stage stage, int err)
{
	struct spawn_report r = { (int)stage, err };

	/* Smaller than PIPE_BUF: written whole or not at all. */
	(void)!write(p->report, &r, sizeof(r));
	_exit(127);
}

/* A descriptor at 0-2 that is to be moved must first get out of the way
 * of the dup2s (and dup2 onto itself would keep close-on-exec set). */
static int
spawn_lift(int fd)
{
	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	return fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
}

static void
spawn_stdio(const struct spawn_prep *p)
{
	const struct spawn_opts *o = p->o;
	int src[3] = { o->stdin_fd, o->stdout_fd, o->stderr_fd };

	if (src[0] == SPAWN_DEVNULL && (src[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		spawn_fail(p, SPAWN_STDIO, errno);
	for (int i = 0; i < 3; i++)
		if (src[i] >= 0 && (src[i] = spawn_lift(src[i])) < 0)
			spawn_fail(p, SPAWN_STDIO, errno);
	for (int i = 0; i < 3; i++)
		if (src[i] >= 0 && dup2(src[i], i) < 0)
			spawn_fail(p, SPAWN_STDIO, errno);
}

/* Nothing of ostiary's reaches the program: not its sockets to the agent,
 * not libcurl's, not what ostiary itself inherited. */
static void
spawn_close_others(const struct spawn_prep *p)
{
	int low = STDERR_FILENO + 1 + p->o->keep_fds, keep = p->report;

#ifdef SPAWN_HAVE_CLOSE_RANGE
	if ((keep == low || close_range((unsigned)low, (unsigned)keep - 1, 0) == 0) &&
	    close_range((unsigned)keep + 1, ~0U, 0) == 0)
		return;
#endif
	for (int fd = low; fd < p->max_fd; fd++)
		if (fd != keep)
			(void)close(fd);
}

static void
spawn_ids(const struct spawn_prep *p)
{
	const struct spawn_opts *o = p->o;

	if (!o->set_ids)
		return;
	/* Groups first: after setuid we could no longer change them. */
	if (setgroups((size_t)o->ngroups, o->groups) < 0)
		spawn_fail(p, SPAWN_SETGROUPS, errno);
	if (setgid(o->gid) < 0)
		spawn_fail(p, SPAWN_SETGID, errno);
	if (setuid(o->uid) < 0)
		spawn_fail(p, SPAWN_SETUID, errno);
}

/* execve, and as execvp does, a file the kernel cannot run (no #!) run by
 * the shell.  Returns errno. */
static int
spawn_execve(const struct spawn_prep *p, const char *path)
{
	execve(path, p->o->argv, p->o->envp);
	if (errno == ENOEXEC && p->sh_argv != NULL) {
		p->sh_argv[1] = (char *)path;
		execve(p->sh_argv[0], p->sh_argv, p->o->envp);
		errno = ENOEXEC;
	}
	return errno;
}

/* execvp(3) over the prepared PATH, without its malloc.  Returns errno. */
static int
spawn_search(const struct spawn_prep *p)
{
	const char *file = p->o->argv[0], *dir = p->search;
	size_t flen = strlen(file);
	char path[PATH_MAX];
	int found = ENOENT, err;

	if (strchr(file, '/') != NULL)
		return spawn_execve(p, file);
	for (;;) {
		const char *end = strchr(dir, ':');
		size_t dlen = end ? (size_t)(end - dir) : strlen(dir);

		if (dlen + flen + 2 <= sizeof(path)) {
			/* An empty element is the current directory, as for execvp. */
			size_t n = dlen ? dlen : 1;

			memcpy(path, dlen ? dir : ".", n);
			path[n] = '/';
			memcpy(path + n + 1, file, flen + 1);
			err = spawn_execve(p, path);
			if (err == EACCES)
				found = EACCES;
			else if (err != ENOENT && err != ENOTDIR)
				return err;
		}
		if (end == NULL)
			return found;
		dir = end + 1;
	}
}

/* Socket activation: the kept descriptors open across exec, and
 * LISTEN_PID this process's pid (async-signal-safe: no printf). */
static void
spawn_listen_fds(const struct spawn_prep *p)
{
	char *slot = p->o->pid_env ? strchr(p->o->pid_env, '=') : NULL;
	char digits[24];
	int n = 0;

	for (int fd = STDERR_FILENO + 1; fd <= STDERR_FILENO + p->o->keep_fds; fd++)
		if (fcntl(fd, F_SETFD, 0) < 0)
			spawn_fail(p, SPAWN_STDIO, errno);
	if (slot == NULL)
		return;
	for (pid_t pid = getpid(); pid > 0 && n < (int)sizeof(digits); pid /= 10)
		digits[n++] = (char)('0' + pid % 10);
	for (slot++; n > 0; slot++)
		*slot = digits[--n];
	*slot = '\0';
}

/* Any handler at all, not only ostiary's (sig_reset_for_child): under
 * vfork a handler would run on ostiary's memory. */
static void
spawn_default_handlers(void)
{
	struct sigaction sa;

	for (int signo = 1; signo < NSIG; signo++) {
		if (sigaction(signo, NULL, &sa) < 0 || sa.sa_handler == SIG_DFL ||
		    sa.sa_handler == SIG_IGN)
			continue;
		sa.sa_handler = SIG_DFL;
		sa.sa_flags = 0;
		(void)sigaction(signo, &sa, NULL);
	}
}

static _Noreturn void
spawn_child(struct spawn_prep *p)
{
	/* Before anything can fail: the report pipe must not be one of 0-2. */
	if ((p->report = spawn_lift(p->report)) < 0)
		_exit(127);
	if (p->o->new_group)
		(void)setpgid(0, 0);
	/* Dispositions first, then the mask spawn() blocked: a signal in
	 * between would run ostiary's handler and reach ostiary's loop. */
	spawn_default_handlers();
	sig_reset_for_child();
	fdlimit_restore_for_child();
	spawn_stdio(p);
	spawn_close_others(p);
	spawn_listen_fds(p);
	/* As Go's os/exec: credentials first, then the directory, which
	 * must be reachable by the user the program runs as. */
	spawn_ids(p);
	if (p->o->cwd != NULL && chdir(p->o->cwd) < 0)
		spawn_fail(p, SPAWN_CHDIR, errno);
	spawn_fail(p, SPAWN_EXEC, spawn_search(p));
}

/* ----------------------------------------------------------- the parent */

static int
spawn_max_fd(void)
{
	long n = sysconf(_SC_OPEN_MAX);

	return n < 0 || n > SPAWN_MAX_FDS ? SPAWN_MAX_FDS : (int)n;
}

/* "/bin/sh", a slot for the file, then argv[1...]. */
static char **
spawn_sh_argv(char *const *argv)
{
	size_t n = 0;
	char **sh;

	while (argv[n] != NULL)
		n++;
	if ((sh = calloc(n + 2, sizeof(*sh))) == NULL)
		return NULL;
	sh[0] = "/bin/sh";
	for (size_t i = 1; i < n; i++)
		sh[i + 1] = argv[i];
	return sh;
}

static int
spawn_prepare(struct spawn_prep *p, const struct spawn_opts *o, struct spawn_failure *fail)
{
	memset(p, 0, sizeof(*p));
	p->o = o;
	p->report = -1;
	p->max_fd = spawn_max_fd();
	p->search = spawn_search_path(o->envp);
	if (o->script_fallback && (p->sh_argv = spawn_sh_argv(o->argv)) == NULL) {
		fail->stage = SPAWN_PREPARE;
		fail->err = ENOMEM;
		return -1;
	}
	return 0;
}

/* EOF on the report pipe: the exec happened.  A report: it did not. */
static pid_t
spawn_await_exec(pid_t pid, int fd, struct spawn_failure *fail)
{
	struct spawn_report r;
	ssize_t n;

	do {
		n = read(fd, &r, sizeof(r));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(r))
		return pid; /* EOF (or an error that tells nothing): it runs */
	fail->stage = (enum spawn_stage)r.stage;
	fail->err = r.err;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return -1;
}

/*
 * vfork unless the child must do what is unsafe in a process that shares
 * ostiary's memory: set*id (glibc's setuid signals every thread of the
 * process it believes it is) and writing LISTEN_PID into envp (ours).
 * vfork copies no page tables and causes no copy-on-write faults, which
 * fork does for every exec probe run.  Nothing relies on the sharing
 * (vfork may be a fork: valgrind's is): the report still takes the pipe,
 * and what the child writes to memory (p->report, sh_argv[1]) is not
 * read here again.
 */
static pid_t
spawn_fork(struct spawn_prep *p, int report[2])
{
	const struct spawn_opts *o = p->o;
	pid_t pid = !o->set_ids && o->keep_fds == 0 && o->pid_env == NULL ? vfork() : fork();

	if (pid == 0) {
		close(report[0]);
		p->report = report[1];
		spawn_child(p);
	}
	return pid;
}

pid_t
spawn(const struct spawn_opts *o, struct spawn_failure *fail)
{
	struct spawn_prep p;
	sigset_t all, old;
	int report[2], saved;
	pid_t pid;

	memset(fail, 0, sizeof(*fail));
	if (spawn_prepare(&p, o, fail) < 0)
		return -1;
	if (pipe2(report, O_CLOEXEC) < 0) {
		fail->stage = SPAWN_PREPARE;
		fail->err = errno;
		free(p.sh_argv);
		return -1;
	}
	/* No handler of ours may run in the child (see spawn_child). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = spawn_fork(&p, report);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(report[1]);
	if (pid < 0) {
		fail->stage = SPAWN_FORK;
		fail->err = saved;
	} else {
		pid = spawn_await_exec(pid, report[0], fail);
	}
	close(report[0]);
	free(p.sh_argv);
	return pid;
}

/* --------------------------------------------------------- environments */

static size_t
spawn_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static size_t
spawn_count(char *const *list)
{
	size_t n = 0;

	while (list != NULL && list[n] != NULL)
		n++;
	return n;
}

/* Set NAME=value in envp (room for it is there), replacing an earlier one. */
static int
spawn_env_put(char **envp, size_t *n, const char *entry)
{
	size_t nlen = spawn_name_len(entry);
	char *copy = strdup(entry);

	if (copy == NULL)
		return -1;
	for (size_t i = 0; i < *n; i++) {
		if (spawn_name_len(envp[i]) == nlen && strncmp(envp[i], entry, nlen) == 0) {
			free(envp[i]);
			envp[i] = copy;
			return 0;
		}
	}
	envp[(*n)++] = copy;
	envp[*n] = NULL;
	return 0;
}

char **
spawn_env_new(char *const *base, char *const *set)
{
	size_t n = 0;
	char **envp = calloc(spawn_count(base) + spawn_count(set) + 1, sizeof(*envp));

	if (envp == NULL)
		return NULL;
	for (size_t i = 0; base != NULL && base[i] != NULL; i++)
		if (spawn_env_put(envp, &n, base[i]) < 0)
			goto fail;
	for (size_t i = 0; set != NULL && set[i] != NULL; i++)
		if (spawn_env_put(envp, &n, set[i]) < 0)
			goto fail;
	return envp;
fail:
	spawn_env_free(envp);
	return NULL;
}

void
spawn_env_free(char **envp)
{
	if (envp == NULL)
		return;
	for (char **p = envp; *p != NULL; p++)
		free(*p);
	free(envp);
}

const char *
spawn_env_get(char *const *envp, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], name, nlen) == 0 && envp[i][nlen] == '=')
			return envp[i] + nlen + 1;
	return NULL;
}

const char *
spawn_search_path(char *const *envp)
{
	const char *path = spawn_env_get(envp, "PATH");

	return path != NULL ? path : SPAWN_DEFAULT_PATH;
}
