/*
 * probe_exec.c - script checks: run a command, its exit status is the
 * check's status (Consul's CheckMonitor, agent/checks/check.go):
 * 0 passing, 1 warning, anything else critical.
 *
 * Everything the child needs (argv, environment, ids) is prepared once in
 * probe_exec_init; spawn.c starts it (vfork unless the check switches
 * user or group; only async-signal-safe calls before exec, nothing of
 * ostiary's inherited but 0-2).
 *
 * The child leads its own process group, so a timeout, a cancel and the
 * end of every run can SIGKILL everything it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "probe_internal.h"
#include "sig.h"
#include "spawn.h"

extern char **environ;

/* Reads per wake-up: a child that never stops writing must not starve the loop. */
#define PROBE_EXEC_READS 16

struct probe_exec {
	struct probe *probe;
	char **argv; /* as execve gets it: "sh -c script" with shell */
	char **envp;
	const struct check_conf *check; /* for a new environment (kv_env) */
	char *cwd;
	bool set_ids;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	int64_t timeout_ms;
	struct probe_ring out;

	/* the run in flight */
	pid_t pid; /* also its process group */
	int fd;    /* read end of the output pipe, -1 once at EOF */
	bool exited;
	int wait_status;
	ev_io io;
	ev_child child;
	ev_timer timer;
};

/* -------------------------------------------------------------------- runs */

static const char *
probe_exec_status_name(int wait_status, char *buf, size_t len)
{
	char sig[32];

	if (WIFEXITED(wait_status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(wait_status));
	else
		snprintf(buf, len, "killed by %s",
		         sig_name(WTERMSIG(wait_status), sig, sizeof(sig)));
	return buf;
}

/* Whatever is left of the group goes too: nothing outlives its run. */
static void
probe_exec_kill_group(struct probe_exec *x)
{
	if (x->pid > 0 && kill(-x->pid, SIGKILL) < 0 && errno != ESRCH)
		log_warn("check %s: cannot kill process group %d", x->probe->id, (int)x->pid);
}

static void
probe_exec_close(struct probe_exec *x)
{
	ev_io_stop(x->probe->loop, &x->io);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

/* Stop watching; the zombie, if any, is collected by ev_reap as an orphan. */
static void
probe_exec_stop(struct probe_exec *x)
{
	probe_exec_kill_group(x);
	probe_exec_close(x);
	ev_child_stop(x->probe->loop, &x->child);
	ev_timer_stop(x->probe->loop, &x->timer);
	x->pid = 0;
}

static enum consul_status
probe_exec_status(int wait_status)
{
	if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
		return CONSUL_PASSING;
	if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 1)
		return CONSUL_WARNING;
	return CONSUL_CRITICAL;
}

/* Exited and its output at EOF: the run is over. */
static void
probe_exec_finish(struct probe_exec *x)
{
	char how[64];

	log_debug("check %s: command %s", x->probe->id,
	          probe_exec_status_name(x->wait_status, how, sizeof(how)));
	probe_exec_stop(x);
	probe_result_owned(x->probe, probe_exec_status(x->wait_status),
	                   probe_output_compose("", &x->out, x->probe->max));
}

/* Read what is there; returns true at EOF. */
static bool
probe_exec_drain(struct probe_exec *x)
{
	for (int i = 0; i < PROBE_EXEC_READS; i++) {
		size_t room;
		char *dst = probe_ring_space(&x->out, &room);
		ssize_t n = read(x->fd, dst, room);

		if (n > 0) {
			probe_ring_commit(&x->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n < 0)
			log_warn("check %s: reading the command's output", x->probe->id);
		return true;
	}
	return false;
}

static void
probe_exec_readable(ev_loop *loop, ev_io *io, short revents, void *arg)
{
	struct probe_exec *x = arg;

	if (!probe_exec_drain(x))
		return;
	probe_exec_close(x);
	if (x->exited)
		probe_exec_finish(x);
}

static void
probe_exec_exited(ev_loop *loop, ev_child *watcher, int wait_status, void *arg)
{
	struct probe_exec *x = arg;

	if (!WIFEXITED(wait_status) && !WIFSIGNALED(wait_status))
		return; /* stopped or continued: the timeout still runs */
	x->exited = true;
	x->wait_status = wait_status;
	/* A background process may still hold the pipe: like Consul, wait
	 * for EOF, bounded by the timeout. */
	if (x->fd < 0)
		probe_exec_finish(x);
}

/*
 * Consul: "Timed out (%s) running check", then "\n\n" and the output so
 * far when there is any (CheckMonitor.check, agent/checks/check.go),
 * after killing the whole process tree.
 */
static int64_t
probe_exec_timeout(ev_loop *loop, ev_timer *timer, void *arg)
{
	struct probe_exec *x = arg;
	char dur[32], head[96];

	probe_exec_kill_group(x);
	if (x->fd >= 0)
		(void)probe_exec_drain(x);
	consul_duration_format(x->timeout_ms, dur, sizeof(dur));
	snprintf(head, sizeof(head), "Timed out (%s) running check%s", dur,
	         x->out.total > 0 ? "\n\n" : "");
	log_debug("check %s: timed out after %s", x->probe->id, dur);
	probe_exec_stop(x);
	probe_result_owned(x->probe, CONSUL_CRITICAL,
	                   probe_output_compose(head, &x->out, x->probe->max));
	return EV_TIMER_STOP;
}

static int
probe_exec_fail(struct probe_exec *x, const char *what)
{
	char text[160], err[64];

	snprintf(err, sizeof(err), "%s", strerror(errno));
	snprintf(text, sizeof(text), "ostiary: cannot run the check: %s: %s", what, err);
	log_warnx("check %s: %s: %s", x->probe->id, what, err);
	probe_result_owned(x->probe, CONSUL_CRITICAL, strdup(text));
	return -1;
}

static int
probe_exec_pipe(struct probe_exec *x, int fds[2])
{
	/* Both ends close-on-exec: the child dup2s its end onto 1 and 2 (which
	 * clears the flag); no other command ever inherits them. */
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	/* Only our end is non-blocking: the child's writes must block as usual.
	 * A new pipe's status flags are known: no F_GETFL per run. */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

static pid_t
probe_exec_spawn(struct probe_exec *x, int out, struct spawn_failure *failure)
{
	struct spawn_opts opts;

	spawn_opts_init(&opts, x->argv, x->envp);
	opts.stdin_fd = SPAWN_DEVNULL;
	opts.stdout_fd = out;
	opts.stderr_fd = out;
	/* Own group, so that kill(-pid) reaches whatever the check starts. */
	opts.new_group = true;
	opts.cwd = x->cwd;
	opts.set_ids = x->set_ids;
	opts.uid = x->uid;
	opts.gid = x->gid;
	opts.groups = x->groups;
	opts.ngroups = x->ngroups;
	return spawn(&opts, failure);
}

/* What the failed step acted on, for "exec ls: No such file or directory". */
static const char *
probe_exec_step(const struct probe_exec *x, enum spawn_stage stage)
{
	switch (stage) {
	case SPAWN_STDIO:
		return "/dev/null";
	case SPAWN_SETGROUPS:
		return "for the check's user";
	case SPAWN_SETGID:
		return "to the check's group";
	case SPAWN_SETUID:
		return "to the check's user";
	case SPAWN_CHDIR:
		return x->cwd;
	default:
		return x->argv[0];
	}
}

/* The command did not start: ostiary's own failure (no pipe, no fork) as
 * before, or a failure in the child, critical with what failed, like a
 * check whose script is missing. */
static int
probe_exec_refused(struct probe_exec *x, const struct spawn_failure *failure)
{
	char *text = NULL;

	errno = failure->err;
	if (failure->stage == SPAWN_PREPARE || failure->stage == SPAWN_FORK)
		return probe_exec_fail(x, spawn_stage_name(failure->stage));
	if (asprintf(&text, "%s %s: %s", spawn_stage_name(failure->stage),
	             probe_exec_step(x, failure->stage), strerror(failure->err)) < 0)
		text = NULL;
	log_debug("check %s: %s", x->probe->id, text ? text : "cannot start the command");
	probe_result_owned(x->probe, CONSUL_CRITICAL, text);
	return 0;
}

static int
probe_exec_start(void *impl)
{
	struct probe_exec *x = impl;
	ev_loop *loop = x->probe->loop;
	struct spawn_failure failure;
	int fds[2];
	pid_t pid;

	probe_ring_reset(&x->out);
	x->exited = false;
	if (probe_exec_pipe(x, fds) < 0)
		return probe_exec_fail(x, "pipe");
	pid = probe_exec_spawn(x, fds[1], &failure);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return probe_exec_refused(x, &failure);
	}
	x->pid = pid;
	x->fd = fds[0];
	ev_io_init(&x->io, x->fd, POLLIN, probe_exec_readable, x);
	ev_child_init(&x->child, pid, probe_exec_exited, x);
	if (ev_io_start(loop, &x->io) < 0 || ev_child_start(loop, &x->child) < 0) {
		probe_exec_stop(x);
		errno = ENOMEM;
		return probe_exec_fail(x, "watching the command");
	}
	ev_timer_start(loop, &x->timer, x->timeout_ms);
	return 0;
}

static void
probe_exec_cancel(void *impl)
{
	probe_exec_stop(impl);
}

/* ------------------------------------------------------------------- setup */

static void
probe_exec_free_list(char **list)
{
	if (list == NULL)
		return;
	for (char **p = list; *p != NULL; p++)
		free(*p);
	free(list);
}

static void
probe_exec_free(void *impl)
{
	struct probe_exec *x = impl;

	probe_exec_free_list(x->argv);
	spawn_env_free(x->envp);
	free(x->cwd);
	free(x->groups);
	probe_ring_free(&x->out);
	free(x);
}

/* What a clean environment holds, whatever ostiary's own PATH is. */
#define PROBE_EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

char **
probe_exec_envp(const struct check_conf *check)
{
	static char *const clean[] = { "PATH=" PROBE_EXEC_PATH, NULL };

	return spawn_env_new(check->inherit_env ? environ : clean, check->env);
}

/* The check's own env still wins over the variables from Consul KV. */
static int
probe_exec_set_env(void *impl, char *const *extra)
{
	struct probe_exec *x = impl;
	char **base, **envp;

	if (!x->check->kv_env)
		return 0;
	if ((base = probe_exec_envp(x->check)) == NULL)
		return -1;
	envp = spawn_env_new(base, extra);
	spawn_env_free(base);
	if (envp == NULL)
		return -1;
	if (x->check->env != NULL) {
		base = envp;
		envp = spawn_env_new(base, x->check->env);
		spawn_env_free(base);
		if (envp == NULL)
			return -1;
	}
	spawn_env_free(x->envp);
	x->envp = envp;
	return 0;
}

static size_t
probe_exec_count(char *const *list)
{
	size_t n = 0;

	while (list != NULL && list[n] != NULL)
		n++;
	return n;
}

static int
probe_exec_arguments(struct probe_exec *x, const struct check_conf *check, consul_error *err)
{
	size_t n = probe_exec_count(check->args), k = 0;

	if (n == 0 || check->args[0][0] == '\0')
		return probe_error(err, check, "an exec check needs a command");
	if (check->shell)
		n = 3; /* sh -c script: the script is args[0] alone */
	if ((x->argv = calloc(n + 1, sizeof(*x->argv))) == NULL)
		return probe_error(err, check, "out of memory");
	if (check->shell) {
		if ((x->argv[k++] = strdup("/bin/sh")) == NULL ||
		    (x->argv[k++] = strdup("-c")) == NULL ||
		    (x->argv[k++] = strdup(check->args[0])) == NULL)
			return probe_error(err, check, "out of memory");
		return 0;
	}
	for (; k < n; k++)
		if ((x->argv[k] = strdup(check->args[k])) == NULL)
			return probe_error(err, check, "out of memory");
	return 0;
}

static bool
probe_exec_numeric(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* A user by name, or by number even without a passwd entry (then pw is NULL). */
static int
probe_exec_user(const struct check_conf *check, struct passwd **pw, uid_t *uid, consul_error *err)
{
	unsigned long num;

	if ((*pw = getpwnam(check->user)) != NULL) {
		*uid = (*pw)->pw_uid;
		return 0;
	}
	if (!probe_exec_numeric(check->user, &num) || num != (uid_t)num)
		return probe_error(err, check, "unknown user \"%s\"", check->user);
	*uid = (uid_t)num;
	*pw = getpwuid(*uid);
	return 0;
}

static int
probe_exec_group(const struct check_conf *check, gid_t *gid, consul_error *err)
{
	struct group *gr;
	unsigned long num;

	if ((gr = getgrnam(check->group)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	if (!probe_exec_numeric(check->group, &num) || num != (gid_t)num)
		return probe_error(err, check, "unknown group \"%s\"", check->group);
	*gid = (gid_t)num;
	return 0;
}

/* The user's supplementary groups, looked up now rather than after fork
 * (initgroups reads the group database: no async-signal-safe call). */
static int
probe_exec_groups(struct probe_exec *x, const char *name, consul_error *err,
                  const struct check_conf *check)
{
	int n = 16;

	if (name == NULL) {
		/* No user entry to take groups from: just the group itself. */
		x->ngroups = 1;
		if ((x->groups = malloc(sizeof(gid_t))) == NULL)
			return probe_error(err, check, "out of memory");
		x->groups[0] = x->gid;
		return 0;
	}
	for (;;) {
		int got = n;
		gid_t *list = realloc(x->groups, (size_t)n * sizeof(gid_t));

		if (list == NULL)
			return probe_error(err, check, "out of memory");
		x->groups = list;
		if (getgrouplist(name, x->gid, x->groups, &got) >= 0) {
			x->ngroups = got;
			return 0;
		}
		n = got > n ? got : n * 2;
	}
}

/* 'user "x"', 'group "y"' or both, for messages. */
static void
probe_exec_describe_ids(const struct check_conf *check, char *buf, size_t len)
{
	if (check->user != NULL && check->group != NULL)
		snprintf(buf, len, "user \"%s\" and group \"%s\"", check->user, check->group);
	else if (check->user != NULL)
		snprintf(buf, len, "user \"%s\"", check->user);
	else
		snprintf(buf, len, "group \"%s\"", check->group);
}

/*
 * Resolve user and group once, at start-up: a name that does not exist is
 * a configuration error, not a failing check.  Changing ids needs root;
 * asking for the ids ostiary already has is allowed (and a no-op).
 */
static int
probe_exec_credentials(struct probe_exec *x, const struct check_conf *check, consul_error *err)
{
	struct passwd *pw = NULL;
	char *name = NULL, ids[320];
	int rc;

	if (check->user == NULL && check->group == NULL)
		return 0;
	x->uid = geteuid();
	x->gid = getegid();
	if (check->user != NULL) {
		if (probe_exec_user(check, &pw, &x->uid, err) < 0)
			return -1;
		if (pw == NULL && check->group == NULL)
			return probe_error(
			        err, check,
			        "user %s has no entry in the user database: set a group too",
			        check->user);
		if (pw != NULL) {
			x->gid = pw->pw_gid;
			if ((name = strdup(pw->pw_name)) == NULL)
				return probe_error(err, check, "out of memory");
		}
	}
	if (check->group != NULL && probe_exec_group(check, &x->gid, err) < 0) {
		free(name);
		return -1;
	}
	if (geteuid() != 0) {
		free(name);
		if (x->uid == geteuid() && x->gid == getegid())
			return 0; /* already who the check asks for */
		probe_exec_describe_ids(check, ids, sizeof(ids));
		return probe_error(err, check,
		                   "running a check as %s needs ostiary to run as root (it runs as "
		                   "uid %u)",
		                   ids, (unsigned)geteuid());
	}
	x->set_ids = true;
	rc = probe_exec_groups(x, name, err, check);
	free(name);
	return rc;
}

static void *
probe_exec_init(struct probe *probe, const struct check_conf *check, consul_error *err)
{
	struct probe_exec *x = calloc(1, sizeof(*x));

	if (x == NULL) {
		probe_error(err, check, "out of memory");
		return NULL;
	}
	x->probe = probe;
	x->check = check;
	x->fd = -1;
	x->timeout_ms = check->timeout_ms > 0 ? check->timeout_ms : CONF_DEFAULT_EXEC_TIMEOUT_MS;
	ev_timer_init(&x->timer, probe_exec_timeout, x);
	if (probe_exec_arguments(x, check, err) < 0 || probe_exec_credentials(x, check, err) < 0)
		goto fail;
	if ((x->envp = probe_exec_envp(check)) == NULL ||
	    (check->cwd != NULL && (x->cwd = strdup(check->cwd)) == NULL) ||
	    probe_ring_init(&x->out, probe->max) < 0) {
		probe_error(err, check, "out of memory");
		goto fail;
	}
	return x;
fail:
	probe_exec_free(x);
	return NULL;
}

const struct probe_ops probe_exec_ops = {
	.name = "exec",
	.init = probe_exec_init,
	.start = probe_exec_start,
	.cancel = probe_exec_cancel,
	.set_env = probe_exec_set_env,
	.free = probe_exec_free,
};
