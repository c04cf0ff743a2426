/*
 * spawn.h - the one way ostiary starts a process: the wrapped command
 * (child.c) and exec probes (probe_exec.c) alike.
 *
 * Everything the child needs is prepared before it is created, so that
 * between then and exec the child makes only async-signal-safe calls:
 * ostiary has threads (libcurl's resolver), and a lock one of them held
 * at that moment would never be released in the child.  The child gets:
 *   - exactly the environment it is given (execve with envp): ostiary never
 *     changes its own environment to pass a variable on;
 *   - descriptors 0, 1 and 2 only: every other one is closed, whoever
 *     opened it and whatever its close-on-exec flag;
 *   - default signal dispositions and an empty signal mask;
 *   - the soft descriptor limit ostiary started with (fdlimit.h);
 *   - optionally its own process group, a working directory and other ids.
 * spawn() returns once the program runs, or says which step failed and
 * with which errno (a close-on-exec pipe carries it back), so a command
 * that cannot be executed is told apart from one that exits 127.
 *
 * How: vfork, the child sharing ostiary's memory until exec, which copies
 * no page tables and takes no copy-on-write faults (what an exec probe
 * every few seconds would otherwise pay).  fork only when the child must
 * do what is unsafe on shared memory: set ids (glibc's setuid signals
 * every thread of the process it thinks it is in) or write LISTEN_PID
 * into envp (socket activation).  Either way the child runs the same
 * steps, and none relies on the memory being shared.  Not posix_spawn:
 * it cannot give the soft descriptor limit back, and posix_spawnp would
 * search ostiary's PATH, not envp's.
 */
#ifndef OSTIARY_SPAWN_H
#define OSTIARY_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#define SPAWN_KEEP (-1)    /* a standard descriptor: ostiary's own */
#define SPAWN_DEVNULL (-2) /* a standard descriptor: /dev/null, opened in the child */

struct spawn_opts {
	char *const *argv; /* argv[0] with a '/' runs as is, else is searched on the PATH */
	char *const *envp; /* the child's whole environment; its PATH is the one searched */
	int stdin_fd;      /* SPAWN_KEEP, SPAWN_DEVNULL or a descriptor to dup onto 0 */
	int stdout_fd;
	int stderr_fd;
	bool new_group;       /* setpgid(0, 0): kill(-pid) reaches all it starts */
	bool script_fallback; /* as execvp: a file without #! is run by /bin/sh */
	const char *cwd;      /* NULL: ostiary's */
	bool set_ids;         /* then: setgroups(groups), setgid(gid), setuid(uid) */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	/* Socket activation (listenfd.h), for the command only: descriptors
	 * 3 .. 3+keep_fds-1 stay open (close-on-exec cleared), and the child
	 * writes its pid into pid_env ("LISTEN_PID=" + spaces, an entry of
	 * envp) before exec. */
	int keep_fds;
	char *pid_env;
};

/* Where a start failed. */
enum spawn_stage {
	SPAWN_OK = 0,
	SPAWN_PREPARE, /* in ostiary: no memory, no pipe; nothing was forked */
	SPAWN_FORK,    /* fork or vfork itself */
	SPAWN_STDIO,   /* in the child: /dev/null or a standard descriptor */
	SPAWN_SETGROUPS,
	SPAWN_SETGID,
	SPAWN_SETUID,
	SPAWN_CHDIR,
	SPAWN_EXEC, /* not found, not executable, ... */
};

struct spawn_failure {
	enum spawn_stage stage;
	int err; /* errno */
};

/* Options with every standard descriptor SPAWN_KEEP and nothing else set. */
void spawn_opts_init(struct spawn_opts *o, char *const *argv, char *const *envp);

/*
 * vfork or fork, set the child up and exec.  Returns the child's pid once
 * its program runs; -1 with *fail filled otherwise (the child, if there
 * was one, has been reaped).
 */
pid_t spawn(const struct spawn_opts *o, struct spawn_failure *fail);

/* "fork", "chdir", "exec", ... for messages. */
const char *spawn_stage_name(enum spawn_stage stage);

/*
 * A new environment: base's entries, then set's, each replacing an earlier
 * entry of the same name (either may be NULL).  Strings are copied; NULL
 * when out of memory.  Free with spawn_env_free.
 */
char **spawn_env_new(char *const *base, char *const *set);
void spawn_env_free(char **envp);
/* The value of NAME in envp, or NULL. */
const char *spawn_env_get(char *const *envp, const char *name);
/* Where a program without a '/' is looked for with this environment: its
 * PATH, or execvp's default when it has none. */
const char *spawn_search_path(char *const *envp);

#endif
