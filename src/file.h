/*
 * file.h - opening configuration files that may be hostile, and writing
 * the files ostiary keeps for the command (from Consul KV).
 *
 * A path given as a configuration, service or token file may name a
 * directory, a FIFO (open blocks until a writer comes), a socket or a
 * device (/dev/zero never ends).  Each is refused at once, naming the
 * path, before anything reads from it.
 */
#ifndef OSTIARY_FILE_H
#define OSTIARY_FILE_H

#include <stdio.h>

#include <ostiary/consul.h>

/* A stdio stream on the regular file at path, or NULL with err set
 * ("PATH: not a regular file (a FIFO)" or "PATH: cannot read ...: why"). */
FILE *file_open_regular(const char *path, const char *what, consul_error *err);

/*
 * Write data to a new file beside path, with exactly mode, flushed to disk;
 * *tmp gets its name (malloc'd) for the caller to rename onto path (an
 * atomic replacement: readers see the old file or the new, never a part)
 * or to unlink.  -1 with err naming path when it cannot.
 */
int file_write_temp(const char *path, const void *data, size_t len, unsigned mode, char **tmp,
                    consul_error *err);

#endif
