/*
 * fuzz_files.h - a private directory for the configuration-file targets,
 * and a fence around it.
 *
 * A fuzzed configuration names files: @include, service_files, token_file.
 * Left alone, the fuzzer would soon read /dev/zero (forever), /dev/stdin
 * (blocking) or whatever happens to be on the machine, and a crash would
 * depend on that machine.  So the input is written into a fresh directory
 * next to a few fixed files it may name ("consul-web.json", "token",
 * "include.conf"), and while the library runs, fopen() and open() refuse
 * any other path.  The fence works by interposing those two functions (and
 * their 64-bit twins) in the fuzzer binary, which the dynamic linker then
 * binds for libconfig and jansson too; outside fuzz_files_confine() they
 * pass straight through, so libFuzzer itself is unaffected.
 */
#ifndef OSTIARY_FUZZ_FILES_H
#define OSTIARY_FUZZ_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* Create the directory under $TMPDIR (default /tmp) and the fixed files;
 * the directory is removed at exit.  Aborts when it cannot. */
void fuzz_files_init(void);

/* (Re)write a file of the directory; returns its full path (static). */
const char *fuzz_files_write(const char *name, const void *data, size_t size);

/* While on, only plain names inside the directory can be opened. */
void fuzz_files_confine(bool on);

#endif
