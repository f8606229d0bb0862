/*-------------------------------------------------------------------------
 *
 * log.c
 *	  Timestamped log lines on stderr.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static bool verbose_enabled = false;

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

/*
 * Writes one line.  The line is formatted into one buffer and written with
 * a single call, so lines of concurrent processes do not interleave.
 */
static void
log_line(const char *level, const char *fmt, va_list args)
{
	char line[8192];
	struct timeval now;
	struct tm tm;
	size_t len;
	int n;

	gettimeofday(&now, NULL);
	gmtime_r(&now.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len,
				 ".%03d UTC [%d] %s:  ", (int) (now.tv_usec / 1000),
				 (int) getpid(), level);
	len += n;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
	if (n < 0)
		n = 0;
	len += n;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
	fflush(stderr);
}

void
log_error(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("ERROR", fmt, args);
	va_end(args);
}

void
log_detail(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("DETAIL", fmt, args);
	va_end(args);
}

void
log_hint(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("HINT", fmt, args);
	va_end(args);
}

void
log_warning(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("WARNING", fmt, args);
	va_end(args);
}

void
log_info(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_line("LOG", fmt, args);
	va_end(args);
}

void
log_verbose(const char *fmt, ...)
{
	va_list args;

	if (!verbose_enabled)
		return;
	va_start(args, fmt);
	log_line("LOG", fmt, args);
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
