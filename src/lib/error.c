/* consul_error: the jansson-style error out-parameter. */
#include <stdarg.h>
#include <stdio.h>

#include "ostiary/consul.h"

int
consul_error_set(consul_error *err, const char *source, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->line = 0;
	err->column = 0;
	snprintf(err->source, sizeof err->source, "%s", source ? source : "");
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof err->text, fmt, ap);
	va_end(ap);
	return -1;
}
