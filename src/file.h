/*
 * file.h - opening configuration files that may be hostile.
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

#endif
