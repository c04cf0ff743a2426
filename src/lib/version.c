/* The library version; the Makefile defines OSTIARY_VERSION. */
#include "ostiary/consul.h"

#ifndef OSTIARY_VERSION
#define OSTIARY_VERSION "0.0.0"
#endif

const char *
consul_library_version(void)
{
	return OSTIARY_VERSION;
}
