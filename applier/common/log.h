/*-------------------------------------------------------------------------
 *
 * log.h
 *	  Timestamped log lines on stderr.
 *
 * Promises: one line per call, "2025-01-31 12:00:00.123 UTC [pid] LEVEL:
 * message", or with --log-format json one JSON object per line:
 * {"time":"2025-01-31T12:00:00.123Z","pid":N,"level":"LEVEL","message":"..."};
 * log_verbose() lines appear only with -v.  An event may carry fields
 * (log_event()): after the message as key=value in text (the value in
 * double quotes, with \\, \" and \n escaped, when it holds a space, a
 * quote, an equals sign, a control character or nothing), and as members
 * of the object in json (numbers as numbers).  With --log-file, stderr itself
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
 * The fields of an event: log_field*() append one (a key is a string
 * literal; past LOG_MAX_FIELDS, or LOG_FIELD_SIZE bytes of a value, the
 * rest is dropped).
 */
#define LOG_MAX_FIELDS 10
#define LOG_FIELD_SIZE 256

typedef struct LogFields
{
	int count;
	struct
	{
		const char *key;
		char value[LOG_FIELD_SIZE];
		bool number; /* json: unquoted */
	} field[LOG_MAX_FIELDS];
} LogFields;

#define LOG_FIELDS_INIT                                                       \
	{                                                                         \
		0                                                                     \
	}

extern void log_field(LogFields *fields, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
extern void log_field_int(LogFields *fields, const char *key, long long value);
extern void log_field_number(LogFields *fields, const char *key, double value);

typedef enum LogLevel
{
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_VERBOSE /* only with -v */
} LogLevel;

/* A line of level with fields (NULL: none). */
extern void log_event(LogLevel level, const LogFields *fields, const char *fmt,
					  ...) __attribute__((format(printf, 3, 4)));

/*
 * The form of a noun (or verb) that agrees with a count, for messages of
 * the form "%d %s": one when n is 1, many otherwise ("0 tables").
 */
extern const char *plural(long long n, const char *one, const char *many);

/* "1.2 GB" into buf (of size bytes); returns buf. */
extern char *format_bytes(double bytes, char *buf, size_t size);

#endif /* PGFERRY_LOG_H */
