/* Growable string buffer used to build URLs, descriptions and bodies. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Room for extra more bytes and the NUL, never more than limit bytes in
 * all (doubling stops there: a capped body never costs twice its cap). */
static int
strbuf_reserve_max(struct strbuf *buf, size_t extra, size_t limit)
{
	size_t need, cap;
	char *data;

	if (extra >= SIZE_MAX - buf->len)
		return -1;
	need = buf->len + extra + 1;
	if (need <= buf->cap)
		return 0;
	if (need > limit)
		return -1;
	cap = buf->cap ? buf->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > limit)
		cap = limit;
	data = realloc(buf->data, cap);
	if (!data)
		return -1;
	buf->data = data;
	buf->cap = cap;
	return 0;
}

static int
strbuf_reserve(struct strbuf *buf, size_t extra)
{
	return strbuf_reserve_max(buf, extra, SIZE_MAX);
}

int
ostiary_strbuf_append_max(struct strbuf *buf, const void *data, size_t len, size_t max)
{
	if (strbuf_reserve_max(buf, len, max + 1) < 0)
		return -1;
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

int
ostiary_strbuf_append(struct strbuf *buf, const void *data, size_t len)
{
	if (strbuf_reserve(buf, len) < 0)
		return -1;
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

static int strbuf_vprintf(struct strbuf *buf, const char *fmt, va_list ap) LIB_PRINTF(2, 0);

static int
strbuf_vprintf(struct strbuf *buf, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0 || strbuf_reserve(buf, (size_t)n) < 0)
		return -1;
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
	return 0;
}

int
ostiary_strbuf_printf(struct strbuf *buf, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = strbuf_vprintf(buf, fmt, ap);
	va_end(ap);
	return rc;
}

char *
ostiary_strbuf_format(const char *fmt, ...)
{
	struct strbuf buf = { 0 };
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = strbuf_vprintf(&buf, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		ostiary_strbuf_free(&buf);
		return NULL;
	}
	return buf.data;
}

void
ostiary_strbuf_free(struct strbuf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}
