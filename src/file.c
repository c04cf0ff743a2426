/* file.c - opening configuration files that may be hostile (see file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
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
