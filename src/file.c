/* file.c - opening hostile configuration files, writing the command's (see file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a file";
}

static int
file_not_regular(const char *path, mode_t mode, consul_error *err)
{
	return consul_error_set(err, path, "not a regular file (%s)", file_kind(mode));
}

/*
 * O_NONBLOCK so that opening a FIFO does not wait for a writer; it is
 * cleared once the file is known to be regular (where it means nothing).
 * A socket cannot be opened at all (ENXIO): stat says what it is.
 */
FILE *
file_open_regular(const char *path, const char *what, consul_error *err)
{
	struct stat st;
	FILE *fp;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), saved;

	if (fd < 0) {
		saved = errno;
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
			file_not_regular(path, st.st_mode, err);
		else
			consul_error_set(err, path, "cannot read the %s: %s", what,
			                 strerror(saved));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		consul_error_set(err, path, "cannot read the %s: %s", what, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		file_not_regular(path, st.st_mode, err);
		close(fd);
		return NULL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		consul_error_set(err, path, "cannot read the %s: %s", what, strerror(errno));
		close(fd);
		return NULL;
	}
	return fp;
}

/* ------------------------------------------------------------- writing */

static int
file_write_all(int fd, const unsigned char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Beside path, so the rename is atomic (one file system); hidden and
 * marked as ours, so a crash leaves a recognisable leftover.  fchmod sets
 * the mode exactly, whatever the umask; fsync before the rename, so the
 * name never points at a file whose data did not reach the disk.
 */
int
file_write_temp(const char *path, const void *data, size_t len, unsigned mode, char **tmp,
                consul_error *err)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	char *name = NULL;
	int fd, saved;

	if (asprintf(&name, "%.*s.%s.ostiary-XXXXXX", dirlen, path, path + dirlen) < 0)
		return consul_error_set(err, path, "out of memory");
	if ((fd = mkstemp(name)) < 0) {
		saved = errno;
		free(name);
		return consul_error_set(err, path, "cannot create a file beside it: %s",
		                        strerror(saved));
	}
	if (fchmod(fd, (mode_t)mode) < 0 || file_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(name);
		free(name);
		return consul_error_set(err, path, "cannot write: %s", strerror(saved));
	}
	if (close(fd) < 0) {
		saved = errno;
		unlink(name);
		free(name);
		return consul_error_set(err, path, "cannot write: %s", strerror(saved));
	}
	*tmp = name;
	return 0;
}
