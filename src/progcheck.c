/* progcheck.c - -t finds and checks the programs ostiary would run (see progcheck.h). */
#include "progcheck.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"
#include "spawn.h"

extern char **environ;

#define PROGCHECK_MAX_GROUPS 256

/* Who a program runs as, and how to name them in a message. */
struct progcheck_who {
	uid_t uid;
	gid_t gid;
	gid_t groups[PROGCHECK_MAX_GROUPS];
	int ngroups;
	char name[64];
};

static bool
progcheck_in_group(const struct progcheck_who *who, gid_t gid)
{
	if (gid == who->gid)
		return true;
	for (int i = 0; i < who->ngroups; i++)
		if (who->groups[i] == gid)
			return true;
	return false;
}

/* The owner's, group's or others' bit, as the kernel picks the class;
 * root needs none to search and any one to execute. */
static bool
progcheck_allowed(const struct stat *st, const struct progcheck_who *who, bool dir)
{
	if (who->uid == 0)
		return dir || (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
	if (st->st_uid == who->uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (progcheck_in_group(who, st->st_gid))
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

/* Sets why (cut to fit) and returns EACCES: the program is there but
 * cannot be run. */
static int __attribute__((format(printf, 3, 4)))
progcheck_denied(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return EACCES;
}

/*
 * 0 when path names a regular file who may execute; else ENOENT (nothing
 * there) or EACCES with why saying what stops it.
 */
static int
progcheck_file(const char *path, const struct progcheck_who *who, char *why, size_t size)
{
	char dir[PATH_MAX];
	struct stat st;

	if (stat(path, &st) < 0 && errno == EACCES)
		return progcheck_denied(why, size, "%s: %s", path, strerror(errno));
	if (stat(path, &st) < 0)
		return ENOENT;
	if (!S_ISREG(st.st_mode))
		return progcheck_denied(why, size, "%s is not a regular file", path);
	if (!progcheck_allowed(&st, who, false))
		return progcheck_denied(
		        why, size, "%s is not executable by %s (mode %04o, owner uid %u gid %u)",
		        path, who->name, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
		        (unsigned)st.st_gid);
	/* Every directory on the way must be searchable by who, too. */
	memcpy(dir, path, strlen(path) + 1); /* path < PATH_MAX: stat took it */
	for (char *slash = strrchr(dir, '/'); slash != NULL; slash = strrchr(dir, '/')) {
		*slash = '\0';
		if (stat(dir[0] != '\0' ? dir : "/", &st) == 0 &&
		    !progcheck_allowed(&st, who, true))
			return progcheck_denied(why, size,
			                        "%s: directory %s is not searchable by %s", path,
			                        dir[0] != '\0' ? dir : "/", who->name);
	}
	return 0;
}

/* dir/name, dir made absolute against cwd (or ostiary's own); false when
 * it does not fit (then nothing can be there). */
static bool
progcheck_join(char *out, size_t size, const char *cwd, const char *dir, size_t dlen,
               const char *name)
{
	char here[PATH_MAX];
	const char *base = cwd != NULL ? cwd : (getcwd(here, sizeof(here)) ? here : ".");
	int n;

	if (dlen > 0 && dir[0] == '/')
		n = snprintf(out, size, "%.*s/%s", (int)dlen, dir, name);
	else if (dlen > 0)
		n = snprintf(out, size, "%s/%.*s/%s", base, (int)dlen, dir, name);
	else if (name[0] == '/')
		n = snprintf(out, size, "%s", name);
	else
		n = snprintf(out, size, "%s/%s", base, name);
	return n >= 0 && (size_t)n < size;
}

/* As execvp: a name with a slash is used as it is, else each PATH element
 * in turn; a match that cannot be run is remembered and the search goes on. */
static int
progcheck_find(const char *file, const char *search, const char *cwd,
               const struct progcheck_who *who, char *why, size_t size)
{
	char path[PATH_MAX];
	int found = ENOENT;

	if (strchr(file, '/') != NULL) {
		if (!progcheck_join(path, sizeof(path), cwd, "", 0, file))
			return ENOENT;
		return progcheck_file(path, who, why, size);
	}
	for (const char *dir = search;; dir++) {
		const char *end = strchr(dir, ':');
		size_t dlen = end != NULL ? (size_t)(end - dir) : strlen(dir);
		char reason[512];

		int rc = progcheck_join(path, sizeof(path), cwd, dir, dlen, file)
		                 ? progcheck_file(path, who, reason, sizeof(reason))
		                 : ENOENT;

		switch (rc) {
		case 0:
			return 0;
		case EACCES:
			if (found != EACCES)
				progcheck_denied(why, size, "%s", reason);
			found = EACCES;
			break;
		}
		if (end == NULL)
			return found;
		dir = end;
	}
}

static void
progcheck_self(struct progcheck_who *who)
{
	int n = getgroups(PROGCHECK_MAX_GROUPS, who->groups);

	who->uid = geteuid();
	who->gid = getegid();
	who->ngroups = n < 0 ? 0 : n;
	snprintf(who->name, sizeof(who->name), "uid %u", (unsigned)who->uid);
}

/* The probe's user and group as probe_exec.c resolves them (already
 * validated when the probes were made). */
static void
progcheck_check_user(const struct check_conf *check, struct progcheck_who *who)
{
	struct passwd *pw;
	struct group *gr;

	progcheck_self(who);
	if (check->user != NULL) {
		pw = getpwnam(check->user);
		if (pw == NULL)
			pw = getpwuid((uid_t)strtoul(check->user, NULL, 10));
		who->uid = pw != NULL ? pw->pw_uid : (uid_t)strtoul(check->user, NULL, 10);
		who->ngroups = 0;
		if (pw != NULL) {
			who->gid = pw->pw_gid;
			who->ngroups = PROGCHECK_MAX_GROUPS;
			if (getgrouplist(pw->pw_name, pw->pw_gid, who->groups, &who->ngroups) < 0)
				who->ngroups = 0;
		}
		snprintf(who->name, sizeof(who->name), "user %s (uid %u)", check->user,
		         (unsigned)who->uid);
	}
	if (check->group != NULL) {
		gr = getgrnam(check->group);
		who->gid = gr != NULL ? gr->gr_gid : (gid_t)strtoul(check->group, NULL, 10);
	}
}

static int
progcheck_report(consul_error *err, const char *source, const char *what, const char *file,
                 const char *search, int rc, const char *why)
{
	if (rc == ENOENT && strchr(file, '/') != NULL)
		return consul_error_set(err, source, "%s \"%s\" not found", what, file);
	if (rc == ENOENT)
		return consul_error_set(err, source, "%s \"%s\" not found on PATH %s", what, file,
		                        search);
	return consul_error_set(err, source, "%s \"%s\" cannot be run: %s", what, file, why);
}

int
progcheck_command(const struct conf *conf, consul_error *err)
{
	struct progcheck_who who;
	const char *search = spawn_search_path(environ);
	char why[512] = "";
	int rc;

	if (conf->command == NULL || conf->command[0] == NULL)
		return 0;
	progcheck_self(&who);
	rc = progcheck_find(conf->command[0], search, NULL, &who, why, sizeof(why));
	if (rc == 0)
		return 0;
	return progcheck_report(err, "COMMAND", "command", conf->command[0], search, rc, why);
}

static int
progcheck_probe(const struct check_conf *check, consul_error *err)
{
	struct progcheck_who who;
	const char *file = check->shell ? "/bin/sh" : check->args[0];
	char **envp = probe_exec_envp(check);
	char source[96], what[160], why[512] = "";
	int rc;

	if (envp == NULL)
		return consul_error_set(err, "ostiary", "out of memory");
	progcheck_check_user(check, &who);
	rc = progcheck_find(file, spawn_search_path(envp), check->cwd, &who, why, sizeof(why));
	if (rc != 0) {
		snprintf(source, sizeof(source), "%s", check->origin ? check->origin : "check");
		snprintf(what, sizeof(what), "check %s: program", check->id);
		progcheck_report(err, source, what, file, spawn_search_path(envp), rc, why);
	}
	spawn_env_free(envp);
	return rc == 0 ? 0 : -1;
}

int
progcheck_probes(const struct conf *conf, consul_error *err)
{
	for (size_t s = 0; s < conf->nservices; s++) {
		const struct service_conf *svc = &conf->services[s];

		for (size_t c = 0; c < svc->nchecks; c++) {
			const struct check_conf *check = &svc->checks[c];

			if (check->kind == PROBE_EXEC && check->args != NULL &&
			    progcheck_probe(check, err) < 0)
				return -1;
		}
	}
	return 0;
}
