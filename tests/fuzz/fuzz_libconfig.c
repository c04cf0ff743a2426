/* fuzz_libconfig.c - see fuzz_libconfig.h. */
#include "fuzz_libconfig.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libconfig.h>
#include <sanitizer/allocator_interface.h>

/*
 * The bookkeeping below runs on every malloc and free: kept out of the
 * coverage instrumentation, it neither slows the target nor feeds libFuzzer
 * pointer comparisons that have nothing to do with the input.
 */
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))

/*
 * Blocks allocated during config_read(): an open-addressing set of their
 * addresses (freed ones become tombstones), plus the slots in recording
 * order so that reclaiming visits only those.  A parse of a few KB makes a
 * few thousand blocks; past RECORD_MAX nothing more is recorded, and a leak
 * among the rest goes to LSan's suppression (fuzz_conf_file.c): slow, but
 * still right.
 */
#define SLOTS 16384 /* a power of two, twice RECORD_MAX */
#define RECORD_MAX 8192
#define TOMBSTONE ((uintptr_t)1)

static uintptr_t slots[SLOTS];
static uint32_t order[RECORD_MAX];
static size_t nrecorded;
static bool recording, draining;

typedef int (*config_read_fn)(config_t *, FILE *);
static config_read_fn real_config_read;

NO_COVERAGE static size_t
slot_of(uintptr_t p)
{
	return (size_t)((p >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 40) & (SLOTS - 1);
}

NO_COVERAGE static void
on_malloc(const volatile void *ptr, size_t size)
{
	size_t i = slot_of((uintptr_t)ptr);

	if (!recording || nrecorded == RECORD_MAX)
		return;
	while (slots[i] != 0)
		i = (i + 1) & (SLOTS - 1);
	slots[i] = (uintptr_t)ptr;
	order[nrecorded++] = (uint32_t)i;
}

/* Called for every free in the process: at once back when nothing is recorded. */
NO_COVERAGE static void
on_free(const volatile void *ptr)
{
	if (nrecorded == 0 || draining)
		return;
	for (size_t i = slot_of((uintptr_t)ptr); slots[i] != 0; i = (i + 1) & (SLOTS - 1)) {
		if (slots[i] == (uintptr_t)ptr) {
			slots[i] = TOMBSTONE;
			return;
		}
	}
}

int config_read(config_t *config, FILE *stream);

int
config_read(config_t *config, FILE *stream)
{
	int ok;

	recording = true;
	ok = real_config_read(config, stream);
	recording = false;
	return ok;
}

NO_COVERAGE int
fuzz_libconfig_reclaim(void)
{
	int freed = 0;

	draining = true;
	for (size_t k = 0; k < nrecorded; k++) {
		uintptr_t p = slots[order[k]];

		slots[order[k]] = 0;
		if (p != TOMBSTONE) {
			free((void *)p);
			freed++;
		}
	}
	nrecorded = 0;
	draining = false;
	return freed;
}

void
fuzz_libconfig_init(void)
{
	/* Looked up now: dlsym may allocate, and must not do it while recording. */
	*(void **)&real_config_read = dlsym(RTLD_NEXT, "config_read");
	if (real_config_read == NULL ||
	    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) == 0) {
		fprintf(stderr, "fuzz_libconfig: cannot wrap config_read\n");
		abort();
	}
}
