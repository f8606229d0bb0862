/*-------------------------------------------------------------------------
 *
 * meter.c
 *	  The copy's progress: live on a terminal, log lines elsewhere.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "migrate/meter.h"

#define LOG_INTERVAL 10.0 /* seconds between log lines */
#define LIVE_TABLES 8	  /* tables shown on the live display */

void
meter_add(int64_t *counter, int64_t value)
{
	__atomic_add_fetch(counter, value, __ATOMIC_RELAXED);
}

int64_t
meter_read(const int64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static int
state_of(const MeterTable *t)
{
	return __atomic_load_n(&t->state, __ATOMIC_RELAXED);
}

static void
format_duration(double seconds, char *buf, size_t size)
{
	long s = (long) (seconds + 0.5);

	if (s >= 3600)
		snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void
meter_init(Meter *meter, int ntables, bool live)
{
	memset(meter, 0, sizeof(Meter));
	meter->tables = xcalloc(ntables ? ntables : 1, sizeof(MeterTable));
	meter->count = ntables;
	meter->live = live;
	meter->started = meter->last_log = clock_seconds();
}

/* What the rows of m count, in the form that agrees with n. */
static const char *
rows_noun(const MeterTable *m, int64_t n)
{
	switch (m->what)
	{
		case METER_SEQUENCES:
			return plural(n, "sequence", "sequences");
		case METER_LARGE_OBJECTS:
			return plural(n, "large object", "large objects");
		default:
			return plural(n, "row", "rows");
	}
}

/* The share of a table copied: bytes against the on-disk estimate. */
static double
table_fraction(const MeterTable *t)
{
	double f;

	if (state_of(t) >= METER_BUILDING)
		return 1.0;
	if (t->estimated_bytes <= 0)
		return 0.0;
	f = (double) meter_read(&t->bytes) / t->estimated_bytes;
	return f > 0.99 ? 0.99 : f;
}

typedef struct Totals
{
	int tables;
	int tables_done;
	int tables_copied; /* their rows all in: building, or done */
	int64_t bytes;
	int64_t rows;		  /* of the tables */
	double fraction;	  /* of the estimated total */
	double rate;		  /* bytes per second */
	double eta;			  /* seconds, < 0 when unknown */
	const char *building; /* a table whose indexes are being built */
} Totals;

static Totals
meter_totals(const Meter *meter, double now)
{
	Totals t = {0};
	double estimated = 0, weighted = 0;
	double elapsed = now - meter->started;

	for (int i = 0; i < meter->count; i++)
	{
		const MeterTable *m = &meter->tables[i];
		double weight = m->estimated_bytes > 0 ? m->estimated_bytes : 1;

		t.bytes += meter_read(&m->bytes);
		if (m->what == METER_TABLE)
		{
			t.tables++;
			t.tables_done += state_of(m) == METER_DONE;
			t.tables_copied += state_of(m) >= METER_BUILDING;
			t.rows += meter_read(&m->rows);
			if (state_of(m) == METER_BUILDING && t.building == NULL)
				t.building = m->label;
		}
		estimated += weight;
		weighted += weight * table_fraction(m);
	}
	t.fraction = estimated > 0 ? weighted / estimated : 1.0;
	t.rate = elapsed > 0 ? t.bytes / elapsed : 0;
	t.eta = t.fraction > 0.01 ? elapsed * (1 - t.fraction) / t.fraction : -1;
	return t;
}

static void
summary_line(const Meter *meter, const Totals *t, char *line, size_t size)
{
	char bytes[16], rate[16], eta[32] = "?", doing[128];
	int post_data_done =
		__atomic_load_n(&meter->post_data_done, __ATOMIC_RELAXED);

	format_bytes(t->bytes, bytes, sizeof(bytes));
	format_bytes(t->rate, rate, sizeof(rate));
	if (t->eta >= 0)
		format_duration(t->eta, eta, sizeof(eta));
	/*
	 * First, so that a narrow terminal keeps it; once the rows are in, an
	 * ETA of 0:00 would hide what takes the time.  The tables' states tell,
	 * not the fraction: the sequences' unit, which a worker may take after
	 * it builds a table's indexes, keeps that below 1.
	 */
	if (t->tables_copied == t->tables && t->building != NULL)
		snprintf(doing, sizeof(doing), "rows copied, building indexes of %s",
				 t->building);
	else if (t->tables_copied == t->tables &&
			 post_data_done < meter->post_data_total)
		snprintf(doing, sizeof(doing),
				 "rows copied, building indexes and constraints");
	else
		snprintf(doing, sizeof(doing), "%.0f%%, ETA %s", 100 * t->fraction,
				 eta);
	snprintf(line, size,
			 "copy: %s; %d/%d %s, %lld %s, %s, %s/s; post-data %d/%d", doing,
			 t->tables_done, t->tables, plural(t->tables, "table", "tables"),
			 (long long) t->rows, plural(t->rows, "row", "rows"), bytes, rate,
			 post_data_done, meter->post_data_total);
}

/* Columns of the terminal on stderr; 80 when it does not say. */
static int
terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/*
 * The bytes of s that fit in max columns, never splitting a UTF-8 character
 * (a character takes a column at most per byte, so bytes bound columns).
 */
static int
fit_length(const char *s, int max)
{
	int len = (int) strlen(s);

	if (len <= max)
		return len;
	len = max < 0 ? 0 : max;
	while (len > 0 && (s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

static void
draw_live(Meter *meter, const Totals *totals, double now)
{
	Buf out = BUF_INIT;
	char line[512];
	int lines = 1;
	/* a line as wide as the terminal wraps, and the redraw breaks apart */
	int fit = terminal_width() - 1;

	if (meter->lines_drawn > 0)
		buf_printf(&out, "\r\033[%dA", meter->lines_drawn);
	summary_line(meter, totals, line, sizeof(line));
	buf_printf(&out, "\r\033[K%.*s\n", fit_length(line, fit), line);
	for (int i = 0; i < meter->count && lines <= LIVE_TABLES; i++)
	{
		const MeterTable *m = &meter->tables[i];
		char bytes[16], rate[16], tail[128];
		double elapsed = now - m->started;
		int64_t copied = meter_read(&m->bytes);
		int64_t rows = meter_read(&m->rows);
		int label_width, label_length;

		if (state_of(m) == METER_BUILDING)
			snprintf(tail, sizeof(tail), "%10lld %s, building indexes",
					 (long long) rows, rows_noun(m, rows));
		else if (state_of(m) == METER_COPYING)
		{
			format_bytes(copied, bytes, sizeof(bytes));
			format_bytes(elapsed > 0 ? copied / elapsed : 0, rate,
						 sizeof(rate));
			snprintf(tail, sizeof(tail), "%10lld %s %9s %9s/s %3.0f%%",
					 (long long) rows, rows_noun(m, rows), bytes, rate,
					 100 * table_fraction(m));
		}
		else
			continue;
		/* the label gives way first: the figures are what is watched */
		label_width = fit - 3 - (int) strlen(tail);
		if (label_width > 40)
			label_width = 40;
		if (label_width < 8)
			label_width = 8;
		label_length = fit_length(m->label, label_width);
		snprintf(line, sizeof(line), "  %.*s%*s %s", label_length, m->label,
				 label_width - label_length, "", tail);
		buf_printf(&out, "\033[K%.*s\n", fit_length(line, fit), line);
		lines++;
	}
	/* blank what the previous drawing had below */
	for (int i = lines; i < meter->lines_drawn; i++)
		buf_append_str(&out, "\033[K\n");
	if (meter->lines_drawn > lines)
		buf_printf(&out, "\033[%dA", meter->lines_drawn - lines);
	fwrite(out.data, 1, out.len, stderr);
	fflush(stderr);
	meter->lines_drawn = lines;
	buf_free(&out);
}

static void
log_progress(const Meter *meter, const Totals *totals)
{
	char line[512];
	Buf copying = BUF_INIT;
	int shown = 0;

	summary_line(meter, totals, line, sizeof(line));
	for (int i = 0; i < meter->count && shown < 3; i++)
	{
		const MeterTable *m = &meter->tables[i];

		if (state_of(m) != METER_COPYING)
			continue;
		buf_printf(&copying, "%s%s %.0f%%", shown ? ", " : "; copying ",
				   m->label, 100 * table_fraction(m));
		shown++;
	}
	log_info("%s%s", line, copying.len ? copying.data : "");
	buf_free(&copying);
}

/* The copy's metrics: the workers count in the meter, read here. */
static void
meter_publish(Meter *meter, const Totals *totals)
{
	for (int i = 0; i < meter->count; i++)
	{
		MeterTable *m = &meter->tables[i];

		if (m->what != METER_TABLE)
			continue;
		if (m->rows_copied == NULL)
		{
			m->rows_copied = metrics_series(METRIC_COPY_ROWS, m->label, NULL);
			m->bytes_copied =
				metrics_series(METRIC_COPY_BYTES, m->label, NULL);
		}
		metrics_set(m->rows_copied, (double) meter_read(&m->rows));
		metrics_set(m->bytes_copied, (double) meter_read(&m->bytes));
	}
	metrics_set_gauge(METRIC_COPY_TABLES, totals->tables);
	metrics_set_gauge(METRIC_COPY_TABLES_DONE, totals->tables_done);
	metrics_heartbeat();
}

void
meter_tick(Meter *meter)
{
	double now = clock_seconds();
	Totals totals = meter_totals(meter, now);

	meter_publish(meter, &totals);
	if (meter->live)
		draw_live(meter, &totals, now);
	else if (now - meter->last_log >= LOG_INTERVAL)
	{
		log_progress(meter, &totals);
		meter->last_log = now;
	}
}

void
meter_finish(Meter *meter, bool complete)
{
	double now = clock_seconds();
	Totals totals = meter_totals(meter, now);
	char bytes[16], rate[16];
	Buf line = BUF_INIT;

	meter_publish(meter, &totals);
	if (meter->live && meter->lines_drawn > 0)
	{
		fprintf(stderr, "\r\033[%dA\033[J", meter->lines_drawn);
		meter->lines_drawn = 0;
	}
	if (!complete)
	{
		log_info("copy stopped: %d of %d %s copied", totals.tables_done,
				 totals.tables, plural(totals.tables, "table", "tables"));
		return;
	}
	buf_printf(&line, "copy done: %d %s, %lld %s", totals.tables,
			   plural(totals.tables, "table", "tables"),
			   (long long) totals.rows, plural(totals.rows, "row", "rows"));
	/* the sequences and the large objects, counted on their own */
	for (int i = 0; i < meter->count; i++)
	{
		const MeterTable *m = &meter->tables[i];
		int64_t n = meter_read(&m->rows);

		if (m->what != METER_TABLE)
			buf_printf(&line, ", %lld %s", (long long) n, rows_noun(m, n));
	}
	buf_printf(&line, ", %s in %.1f s (%s/s)",
			   format_bytes(totals.bytes, bytes, sizeof(bytes)),
			   now - meter->started,
			   format_bytes(totals.rate, rate, sizeof(rate)));
	log_info("%s", line.data);
	buf_free(&line);
}

void
meter_free(Meter *meter)
{
	for (int i = 0; i < meter->count; i++)
		free(meter->tables[i].label);
	free(meter->tables);
	meter->tables = NULL;
	meter->count = 0;
}
