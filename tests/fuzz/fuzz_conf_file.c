/*
 * fuzz_conf_file.c - ostiary's libconfig configuration file: conf_file_load,
 * then conf_finish (see fuzz_conf.c for what is checked).  The input may
 * @include "include.conf", list "consul-web.json" in service_files and
 * name "token" as token_file; every other file is out of reach.
 */
#include "fuzz_conf.h"
#include "fuzz_files.h"
#include "fuzz_libconfig.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * The safety net behind fuzz_libconfig.c, for a parse too large for its
 * record.  Ostiary's own allocations never have libconfig below them, so
 * naming the module hides nothing of ours.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_files_init();
	fuzz_libconfig_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_conf_run(conf_file_load, "ostiary.conf", data, size);
	fuzz_libconfig_reclaim();
	return 0;
}
