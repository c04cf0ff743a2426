/*
 * fuzz_conf.h - the part the two configuration-file targets share: write
 * the input into the fenced directory, load it, finish it, and hold the
 * result to what conf_finish() promises the engine (conf.c).
 */
#ifndef OSTIARY_FUZZ_CONF_H
#define OSTIARY_FUZZ_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

typedef int (*fuzz_conf_loader)(struct conf *conf, const char *path, consul_error *err);

/* One input as the file `name` of the fenced directory, through `load`. */
void fuzz_conf_run(fuzz_conf_loader load, const char *name, const uint8_t *data, size_t size);

#endif
