/* The library version: OSTIARY_VERSION of the header it was built with. */
#include "ostiary/consul.h"

const char *
consul_library_version(void)
{
	return OSTIARY_VERSION;
}
