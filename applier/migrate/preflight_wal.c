/*-------------------------------------------------------------------------
 *
 * preflight_wal.c
 *	  Check that the source can hold the WAL the slot keeps while the copy
 *	  runs.
 *
 * The slot is created before the copy and holds every WAL segment the
 * source writes until the applier follows: the source's WAL rate times the
 * copy's time.  The rate is the average of pg_stat_wal since its last reset
 * (days of history: a fair forecast for hours), or a sample over two
 * seconds when that history is too short (by the preflight command only:
 * migrate does not wait).  The copy's time is a model:
 * COPY_BYTES_PER_SECOND_PER_JOB for each table copied at once, index and
 * constraint builds included, as `make bench-scale` measured it.  Both are
 * estimates, and the output says so.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "migrate/migrate.h"
#include "migrate/preflight_internal.h"

/*
 * Bytes on disk (tables and TOAST) one copy job moves a second, indexes
 * and constraints built: make bench-scale measured 24-31 MB/s per job on
 * two cores (README, "Planning a large migration").
 */
#define COPY_BYTES_PER_SECOND_PER_JOB (25.0 * 1024 * 1024)

/* Less history than this in pg_stat_wal: sample the rate instead. */
#define WAL_HISTORY_SECONDS 600

/* Above this many bytes held, the source's free space is worth a look. */
#define WAL_WORTH_CHECKING (1024.0 * 1024 * 1024)

/* The source's WAL bytes a second, and where the figure comes from. */
static bool
wal_rate(Check *c, double *rate, char *origin, size_t size)
{
	PgResult *res;
	double lsn_before;

	res = pg_query(c->source,
				   "SELECT wal_bytes, extract(epoch FROM now() - since),\n"
				   "  to_char(since, 'YYYY-MM-DD HH24:MI')\n"
				   "FROM pg_stat_wal,\n"
				   "  coalesce(stats_reset, pg_postmaster_start_time()) since",
				   0, NULL);
	/* migrate (quiet) does not wait for a sample: any history will do */
	if (res && pg_result_rows(res) == 1 &&
		atof(pg_result_value(res, 0, 1)) >=
			(c->options->quiet ? 1 : WAL_HISTORY_SECONDS))
	{
		*rate = atof(pg_result_value(res, 0, 0)) /
				atof(pg_result_value(res, 0, 1));
		snprintf(origin, size, "the average since %s",
				 pg_result_value(res, 0, 2));
		pg_result_free(res);
		return true;
	}
	pg_result_free(res);
	res = query(c, c->source,
				"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')", 0, NULL,
				"read the source's WAL position");
	if (res == NULL)
		return false;
	lsn_before = atof(pg_result_value(res, 0, 0));
	pg_result_free(res);
	sleep(2);
	res = query(c, c->source,
				"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')", 0, NULL,
				"read the source's WAL position");
	if (res == NULL)
		return false;
	*rate = (atof(pg_result_value(res, 0, 0)) - lsn_before) / 2;
	snprintf(origin, size,
			 "sampled over 2 s (pg_stat_wal has too little "
			 "history)");
	pg_result_free(res);
	return true;
}

static void
format_duration(double seconds, char *buf, size_t size)
{
	if (seconds < 90)
		snprintf(buf, size, "%.0f s", seconds);
	else if (seconds < 5400)
		snprintf(buf, size, "%.0f min", seconds / 60);
	else
		snprintf(buf, size, "%.1f h", seconds / 3600);
}

void
check_retained_wal(Check *c)
{
	int jobs = c->options->jobs > 0 ? c->options->jobs : MIGRATE_DEFAULT_JOBS;
	double rate, bytes = 0, seconds, held, keep;
	char origin[96];
	char s_rate[16], s_bytes[16], s_time[16], s_held[16], s_keep[16];
	PgResult *res;

	if (c->options->resuming || c->tables.count == 0 ||
		!wal_rate(c, &rate, origin, sizeof(origin)))
		return;
	res = query(c, c->source,
				"SELECT CASE WHEN current_setting('max_slot_wal_keep_size') "
				"= '-1' THEN -1 ELSE pg_size_bytes(current_setting("
				"'max_slot_wal_keep_size')) END",
				0, NULL, "read max_slot_wal_keep_size");
	if (res == NULL)
		return;
	keep = atof(pg_result_value(res, 0, 0));
	pg_result_free(res);
	for (int i = 0; i < c->tables.count; i++)
		bytes += c->tables.tables[i].bytes;
	if (jobs > c->tables.count)
		jobs = c->tables.count;
	seconds = bytes / (COPY_BYTES_PER_SECOND_PER_JOB * jobs);
	held = rate * seconds;
	format_bytes(rate, s_rate, sizeof(s_rate));
	format_bytes(bytes, s_bytes, sizeof(s_bytes));
	format_bytes(held, s_held, sizeof(s_held));
	format_duration(seconds, s_time, sizeof(s_time));
	format_bytes(keep, s_keep, sizeof(s_keep));

	if (keep >= 0 && held > keep * 0.8)
	{
		verdict(c, VERDICT_WARN,
				"the slot would hold about %s of WAL by the end of the copy; "
				"max_slot_wal_keep_size = %s",
				s_held, s_keep);
		line(c,
			 "the source writes %s/s of WAL (%s); the copy of %s takes "
			 "about %s with --jobs %d (an estimate)",
			 s_rate, origin, s_bytes, s_time, jobs);
		line(c, "past max_slot_wal_keep_size the source invalidates the slot, "
				"and the migration must copy again");
		line(c,
			 "fix: ALTER SYSTEM SET max_slot_wal_keep_size = '%.0fMB'; "
			 "SELECT pg_reload_conf();  (if pg_wal's disk has the room), "
			 "or move the tables in several tasks (--include-tables)",
			 held * 2 / (1024 * 1024));
		return;
	}
	verdict(c, held > WAL_WORTH_CHECKING ? VERDICT_WARN : VERDICT_OK,
			"the slot will hold about %s of the source's WAL by the end of "
			"the copy",
			s_held);
	if (held > WAL_WORTH_CHECKING || !c->options->quiet)
		line(c,
			 "the source writes %s/s of WAL (%s); the copy of %s takes "
			 "about %s with --jobs %d (an estimate)",
			 s_rate, origin, s_bytes, s_time, jobs);
	if (held > WAL_WORTH_CHECKING)
		line(c,
			 "pgferry cannot see the source's free disk: make sure its "
			 "pg_wal has %s free beyond what it holds now (pgferry status "
			 "shows what the slot holds during the copy)",
			 s_held);
}
