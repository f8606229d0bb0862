/*-------------------------------------------------------------------------
 *
 * buf.h
 *	  Growable byte buffers (the applier's StringInfo).
 *
 * Promises: data is always NUL-terminated after len bytes, so a buffer
 * holding text can be used as a C string; running out of memory ends the
 * process with a message (there is nothing sensible to do without it).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_BUF_H
#define PGFERRY_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct Buf
{
	char *data;
	size_t len;
	size_t cap;
} Buf;

#define BUF_INIT                                                              \
	{                                                                         \
		NULL, 0, 0                                                            \
	}

extern void buf_reserve(Buf *buf, size_t more);
extern void buf_append(Buf *buf, const void *data, size_t len);
extern void buf_append_str(Buf *buf, const char *str);
extern void buf_printf(Buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Network byte order, as the binary formats of PostgreSQL want. */
extern void buf_append_int32(Buf *buf, int32_t value);
extern void buf_reset(Buf *buf);
extern void buf_free(Buf *buf);

/* Allocation that cannot fail (it exits with a message instead). */
extern void *xmalloc(size_t size);
extern void *xcalloc(size_t count, size_t size);
extern void *xrealloc(void *ptr, size_t size);
extern char *xstrdup(const char *str);
extern char *xstrndup(const char *str, size_t len);

#endif /* PGFERRY_BUF_H */
