/* fuzz_files.c - see fuzz_files.h. */
#include "fuzz_files.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a fuzzed file may name besides itself: one of each loader's inputs. */
static const struct {
	const char *name;
	const char *text;
} fixed_files[] = {
	{ "consul-web.json", "{\"service\": {\"name\": \"web\", \"port\": 8080, \"check\": "
	                     "{\"tcp\": \"127.0.0.1:8080\", \"interval\": \"10s\"}}}\n" },
	{ "token", "00000000-0000-0000-0000-000000000001\n" },
	{ "include.conf", "ttl = \"20s\";\nkill_timeout = 3;\n" },
};

static char dir[PATH_MAX];
static char path_buf[PATH_MAX + 256];
static bool confined;

/* ----------------------------------------------------------------- fence */

/* dir + "/" + a name without slashes, other than "." and "..". */
static bool
path_allowed(const char *path)
{
	size_t len = strlen(dir);
	const char *name;

	if (!confined)
		return true;
	if (path == NULL || strncmp(path, dir, len) != 0 || path[len] != '/')
		return false;
	name = path + len + 1;
	return *name != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

/* The libc function this file hides. */
static void *
real_function(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (fn == NULL)
		abort();
	return fn;
}

typedef FILE *(*fopen_fn)(const char *, const char *);
typedef int (*open_fn)(const char *, int, ...);

/* Resolved on first use (libFuzzer opens files before any init of ours)
 * and at init at the latest: dlsym must not run inside fuzz_libconfig's
 * recording, where its allocations would be taken for libconfig's. */
static fopen_fn real_fopen, real_fopen64;
static open_fn real_open, real_open64;

static FILE *
fenced_fopen(fopen_fn *real, const char *symbol, const char *path, const char *mode)
{
	if (!path_allowed(path)) {
		errno = EACCES;
		return NULL;
	}
	if (*real == NULL)
		*(void **)real = real_function(symbol);
	return (*real)(path, mode);
}

static int
fenced_open(open_fn *real, const char *symbol, const char *path, int flags, va_list ap)
{
	/* The mode argument exists only when a file may be created (glibc's
	 * __OPEN_NEEDS_MODE: O_TMPFILE includes the O_DIRECTORY bit). */
	bool needs_mode = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
	mode_t mode = needs_mode ? va_arg(ap, mode_t) : 0;

	if (!path_allowed(path)) {
		errno = EACCES;
		return -1;
	}
	if (*real == NULL)
		*(void **)real = real_function(symbol);
	return (*real)(path, flags, mode);
}

FILE *
fopen(const char *restrict path, const char *restrict mode)
{
	return fenced_fopen(&real_fopen, "fopen", path, mode);
}

FILE *
fopen64(const char *restrict path, const char *restrict mode)
{
	return fenced_fopen(&real_fopen64, "fopen64", path, mode);
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = fenced_open(&real_open, "open", path, flags, ap);
	va_end(ap);
	return fd;
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	int fd;

	va_start(ap, flags);
	fd = fenced_open(&real_open64, "open64", path, flags, ap);
	va_end(ap);
	return fd;
}

void
fuzz_files_confine(bool on)
{
	confined = on;
}

/* ------------------------------------------------------------- directory */

static void
remove_dir(void)
{
	DIR *d;
	struct dirent *e;

	confined = false;
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, e->d_name) > 0)
			unlink(path_buf);
	}
	closedir(d);
	rmdir(dir);
}

const char *
fuzz_files_write(const char *name, const void *data, size_t size)
{
	int fd;

	snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
	fd = open(path_buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) < 0) {
		perror(path_buf);
		abort();
	}
	return path_buf;
}

/* Absolute, as the loaders make the paths they open: the fence compares. */
void
fuzz_files_init(void)
{
	const char *tmp = getenv("TMPDIR");
	char made[sizeof path_buf];

	snprintf(made, sizeof made, "%s/ostiary-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(made) == NULL || realpath(made, dir) == NULL) {
		perror(made);
		abort();
	}
	atexit(remove_dir);
	*(void **)&real_fopen = real_function("fopen");
	*(void **)&real_fopen64 = real_function("fopen64");
	*(void **)&real_open = real_function("open");
	*(void **)&real_open64 = real_function("open64");
	for (size_t i = 0; i < sizeof fixed_files / sizeof fixed_files[0]; i++)
		fuzz_files_write(fixed_files[i].name, fixed_files[i].text,
		                 strlen(fixed_files[i].text));
}
