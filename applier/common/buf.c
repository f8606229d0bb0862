/*-------------------------------------------------------------------------
 *
 * buf.c
 *	  Growable byte buffers and allocation that cannot fail.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/exit.h"
#include "common/log.h"

static void
out_of_memory(size_t size)
{
	log_error("out of memory (allocating %zu bytes)", size);
	exit(EXIT_OTHER);
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *
xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory(count * size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		out_of_memory(size);
	return p;
}

char *
xstrdup(const char *str)
{
	return xstrndup(str, strlen(str));
}

char *
xstrndup(const char *str, size_t len)
{
	char *copy = xmalloc(len + 1);

	memcpy(copy, str, len);
	copy[len] = '\0';
	return copy;
}

void
buf_reserve(Buf *buf, size_t more)
{
	size_t need = buf->len + more + 1;

	if (need <= buf->cap)
		return;
	if (buf->cap == 0)
		buf->cap = 256;
	while (buf->cap < need)
		buf->cap *= 2;
	buf->data = xrealloc(buf->data, buf->cap);
}

void
buf_append(Buf *buf, const void *data, size_t len)
{
	buf_reserve(buf, len);
	if (len > 0)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
buf_append_str(Buf *buf, const char *str)
{
	buf_append(buf, str, strlen(str));
}

void
buf_printf(Buf *buf, const char *fmt, ...)
{
	va_list args;
	int n;

	buf_reserve(buf, 64);
	va_start(args, fmt);
	n = vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, args);
	va_end(args);
	if ((size_t) n >= buf->cap - buf->len)
	{
		buf_reserve(buf, n);
		va_start(args, fmt);
		vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, args);
		va_end(args);
	}
	buf->len += n;
}

void
buf_append_int32(Buf *buf, int32_t value)
{
	uint32_t net = htonl((uint32_t) value);

	buf_append(buf, &net, sizeof(net));
}

void
buf_reset(Buf *buf)
{
	buf->len = 0;
	if (buf->data)
		buf->data[0] = '\0';
}

void
buf_free(Buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}
