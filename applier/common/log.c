/*-------------------------------------------------------------------------
 *
 * log.c
 *	  Timestamped log lines on stderr.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static bool verbose_enabled = false;
static bool json_format = false;

/* --log-file, for SIGHUP to open again */
static char log_path[PATH_MAX];

void
log_set_verbose(bool verbose)
{
	verbose_enabled = verbose;
}

bool
log_is_verbose(void)
{
	return verbose_enabled;
}

bool
log_set_format(const char *format)
{
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
		return false;
	json_format = strcmp(format, "json") == 0;
	return true;
}

/* Points stderr at the log file; false if it cannot be opened. */
static bool
log_open_file(void)
{
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return false;
	if (fd != STDERR_FILENO)
	{
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	return true;
}

/*
 * open, dup2 and close are async-signal-safe: the handler switches stderr
 * to the new file at once, whatever the threads are doing; a line being
 * written goes whole to one file or the other.  If the file cannot be
 * opened, stderr stays on the old one.
 */
static void
log_reopen_signal(int signo)
{
	int saved_errno = errno;

	(void) signo;
	log_open_file();
	errno = saved_errno;
}

bool
log_set_file(const char *path)
{
	struct sigaction action = {0};

	if (strlen(path) >= sizeof(log_path))
	{
		errno = ENAMETOOLONG;
		return false;
	}
	strcpy(log_path, path);
	if (!log_open_file())
		return false;
	action.sa_handler = log_reopen_signal;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	sigaction(SIGHUP, &action, NULL);
	return true;
}

/* Appends text to line (of size bytes, len used) as a JSON string's body. */
static size_t
log_json_escape(char *line, size_t size, size_t len, const char *text)
{
	for (const unsigned char *c = (const unsigned char *) text;
		 *c && len + 7 < size; c++)
	{
		if (*c == '"' || *c == '\\')
		{
			line[len++] = '\\';
			line[len++] = (char) *c;
		}
		else if (*c < 0x20)
			len += snprintf(line + len, size - len, "\\u%04x", *c);
		else
			line[len++] = (char) *c;
	}
	return len;
}

/* Whether a field's value must be quoted in text. */
static bool
log_needs_quotes(const char *value)
{
	if (value[0] == '\0')
		return true;
	for (const unsigned char *c = (const unsigned char *) value; *c; c++)
		if (*c <= ' ' || *c == '"' || *c == '=' || *c == '\\' || *c == 0x7f)
			return true;
	return false;
}

/* Appends " key=value" (text) or ,"key":value (json) for each field. */
static size_t
log_append_fields(char *line, size_t size, size_t len, const LogFields *fields)
{
	for (int i = 0; fields && i < fields->count && len + 8 < size; i++)
	{
		const char *value = fields->field[i].value;

		if (json_format)
		{
			len += snprintf(line + len, size - len, ",\"%s\":%s",
							fields->field[i].key,
							fields->field[i].number ? "" : "\"");
			if (len >= size - 4)
				return size - 4;
			len = log_json_escape(line, size - 4, len, value);
			if (!fields->field[i].number)
				line[len++] = '"';
		}
		else if (!log_needs_quotes(value))
			len += snprintf(line + len, size - len, " %s=%s",
							fields->field[i].key, value);
		else
		{
			len += snprintf(line + len, size - len, " %s=\"",
							fields->field[i].key);
			for (const char *c = value; *c && len + 4 < size; c++)
			{
				if (*c == '"' || *c == '\\')
					line[len++] = '\\';
				if (*c == '\n')
				{
					line[len++] = '\\';
					line[len++] = 'n';
				}
				else
					line[len++] = *c;
			}
			line[len++] = '"';
		}
		if (len > size - 4)
			return size - 4;
	}
	return len;
}

/*
 * Writes one line.  The line is formatted into one buffer and written with
 * a single call, so lines of concurrent processes do not interleave.
 */
static void
log_line(const char *level, const LogFields *fields, const char *fmt,
		 va_list args)
{
	char line[8192];
	char message[8192];
	struct timeval now;
	struct tm tm;
	size_t len;
	int n;

	gettimeofday(&now, NULL);
	gmtime_r(&now.tv_sec, &tm);
	if (vsnprintf(message, sizeof(message), fmt, args) < 0)
		message[0] = '\0';
	if (json_format)
	{
		len =
			strftime(line, sizeof(line), "{\"time\":\"%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + len, sizeof(line) - len,
					 ".%03dZ\",\"pid\":%d,\"level\":\"%s\",\"message\":\"",
					 (int) (now.tv_usec / 1000), (int) getpid(), level);
		len = log_json_escape(line, sizeof(line) - 4, len + n, message);
		line[len++] = '"';
		len = log_append_fields(line, sizeof(line) - 2, len, fields);
		line[len++] = '}';
	}
	else
	{
		len = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
		n = snprintf(line + len, sizeof(line) - len, ".%03d UTC [%d] %s:  %s",
					 (int) (now.tv_usec / 1000), (int) getpid(), level,
					 message);
		len += n;
		if (len > sizeof(line) - 6)
			len = sizeof(line) - 6;
		len = log_append_fields(line, sizeof(line) - 2, len, fields);
	}
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

void
log_error(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("ERROR", NULL, fmt, args);
	va_end(args);
}

void
log_detail(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("DETAIL", NULL, fmt, args);
	va_end(args);
}

void
log_hint(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("HINT", NULL, fmt, args);
	va_end(args);
}

void
log_warning(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("WARNING", NULL, fmt, args);
	va_end(args);
}

void
log_info(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("LOG", NULL, fmt, args);
	va_end(args);
}

void
log_verbose(const char *fmt, ...)
{
	va_list args;

	if (!verbose_enabled)
		return;
	va_start(args, fmt);
	log_line("LOG", NULL, fmt, args);
	va_end(args);
}

static void
log_field_add(LogFields *fields, const char *key, bool number, const char *fmt,
			  va_list args)
{
	if (fields->count >= LOG_MAX_FIELDS)
		return;
	fields->field[fields->count].key = key;
	fields->field[fields->count].number = number;
	if (vsnprintf(fields->field[fields->count].value, LOG_FIELD_SIZE, fmt,
				  args) < 0)
		fields->field[fields->count].value[0] = '\0';
	fields->count++;
}

void
log_field(LogFields *fields, const char *key, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_field_add(fields, key, false, fmt, args);
	va_end(args);
}

/* A field whose value is a number (json: unquoted). */
static void
log_field_numeric(LogFields *fields, const char *key, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_field_add(fields, key, true, fmt, args);
	va_end(args);
}

void
log_field_int(LogFields *fields, const char *key, long long value)
{
	log_field_numeric(fields, key, "%lld", value);
}

void
log_field_number(LogFields *fields, const char *key, double value)
{
	/* JSON has no NaN nor infinity */
	if (isfinite(value))
		log_field_numeric(fields, key, "%.3f", value);
	else
		log_field(fields, key, "%g", value);
}

void
log_event(LogLevel level, const LogFields *fields, const char *fmt, ...)
{
	static const char *const names[] = {"ERROR", "WARNING", "LOG", "LOG"};
	va_list args;

	if (level == LOG_LEVEL_VERBOSE && !verbose_enabled)
		return;
	va_start(args, fmt);
	log_line(names[level], fields, fmt, args);
	va_end(args);
}

const char *
plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

char *
format_bytes(double bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	int u = 0;

	while (bytes >= 1024 && u < 4)
	{
		bytes /= 1024;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
	return buf;
}
