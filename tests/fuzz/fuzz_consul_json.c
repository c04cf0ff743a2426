/*
 * fuzz_consul_json.c - Consul JSON service definitions: conf_consul_load,
 * then conf_finish (see fuzz_conf.c for what is checked).  The file is
 * fenced like the libconfig one, though JSON cannot name other files: the
 * loader opens only its own.
 */
#include "fuzz_conf.h"
#include "fuzz_files.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_files_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_conf_run(conf_consul_load, "service.json", data, size);
	return 0;
}
