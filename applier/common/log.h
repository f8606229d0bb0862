/*-------------------------------------------------------------------------
 *
 * log.h
 *	  Timestamped log lines on stderr.
 *
 * Promises: one line per call, "2025-01-31 12:00:00.123 UTC [pid] LEVEL:
 * message", or with --log-format json one JSON object per line:
 * {"time":"2025-01-31T12:00:00.123Z","pid":N,"level":"LEVEL","message":"..."};
 * log_verbose() lines appear only with -v.  With --log-file, stderr itself
 * goes to the file (so do the progress lines and pg_dump's messages), and
 * SIGHUP opens the file again (after a logrotate).  Callers never print a
 * password (see pg_conninfo_redact).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_LOG_H
#define PGFERRY_LOG_H

#include <stdbool.h>
#include <stddef.h>

extern void log_set_verbose(bool verbose);
extern bool log_is_verbose(void);

/* Whether "text" or "json" is a log format; sets it if so. */
extern bool log_set_format(const char *format);

/*
 * Appends stderr to path from now on, and on each SIGHUP opens path again;
 * false (errno set) if it cannot be opened.
 */
extern bool log_set_file(const char *path);

extern void log_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* DETAIL and HINT lines that follow an error or warning. */
extern void log_detail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
extern void log_hint(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
extern void log_warning(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
extern void log_info(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
extern void log_verbose(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * The form of a noun (or verb) that agrees with a count, for messages of
 * the form "%d %s": one when n is 1, many otherwise ("0 tables").
 */
extern const char *plural(long long n, const char *one, const char *many);

/* "1.2 GB" into buf (of size bytes); returns buf. */
extern char *format_bytes(double bytes, char *buf, size_t size);

#endif /* PGFERRY_LOG_H */
