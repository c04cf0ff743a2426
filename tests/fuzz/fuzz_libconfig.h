/*
 * fuzz_libconfig.h - give back what libconfig leaks on a syntax error.
 *
 * libconfig leaks the string token it was looking at when it meets a
 * syntax error (grammar.y declares no %destructor, in 1.5 as upstream
 * today): a file holding just "w" loses 64 bytes.  libFuzzer answers every
 * leaking run with a full leak check, and after 1000 of them turns leak
 * detection off for good; left alone, this one leak would slow the
 * conf_file target more than tenfold and then blind it to ostiary's own
 * leaks.
 *
 * So the fuzzer binary defines config_read(), which conf_file.c's call
 * binds to ahead of libconfig.so's: it records every block allocated while
 * the real one runs (through the sanitizers' malloc hooks).  Once
 * conf_file_load() has returned, config_destroy() has freed all of them
 * that libconfig still knew about; whatever is left is the leak, and
 * fuzz_libconfig_reclaim() frees it.
 */
#ifndef OSTIARY_FUZZ_LIBCONFIG_H
#define OSTIARY_FUZZ_LIBCONFIG_H

/* Install the hooks; call once, before the first config_read(). */
void fuzz_libconfig_init(void);

/* Free what config_read() allocated and nobody freed; returns how many
 * blocks that was (0 unless the input had a syntax error). */
int fuzz_libconfig_reclaim(void);

#endif
