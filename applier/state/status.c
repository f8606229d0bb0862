/*-------------------------------------------------------------------------
 *
 * status.c
 *	  Print the state of the migrations recorded on a target.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/exit.h"
#include "common/log.h"
#include "pg/pg.h"
#include "state/slotwal.h"
#include "state/status.h"
#include "stream/stream.h"

/* Tables still to copy listed at most. */
#define STATUS_TABLES 10

/*
 * With --json, the same fields go into one JSON document instead of the
 * lines: each value is followed by a comma, which a close or the end takes
 * back.
 */
static Buf *json = NULL;

static void
json_key(const char *key)
{
	if (key)
		buf_printf(json, "\"%s\":", key);
}

static void
json_string(const char *key, const char *value)
{
	json_key(key);
	if (value == NULL)
	{
		buf_append_str(json, "null,");
		return;
	}
	buf_append_str(json, "\"");
	for (const unsigned char *c = (const unsigned char *) value; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			buf_printf(json, "\\%c", *c);
		else if (*c < 0x20)
			buf_printf(json, "\\u%04x", *c);
		else
			buf_append(json, c, 1);
	}
	buf_append_str(json, "\",");
}

/* A number (or true, false) as PostgreSQL or printf wrote it; NULL: null. */
static void
json_raw(const char *key, const char *value)
{
	json_key(key);
	buf_printf(json, "%s,", value ? value : "null");
}

static void
json_number(const char *key, double value)
{
	json_key(key);
	buf_printf(json, "%.6g,", value);
}

static void
json_open(const char *key, char bracket)
{
	json_key(key);
	buf_printf(json, "%c", bracket);
}

static void
json_close(char bracket)
{
	if (json->len > 0 && json->data[json->len - 1] == ',')
		json->len--;
	buf_printf(json, "%c,", bracket);
}

static const char *
value_or(const PgResult *res, int row, int column, const char *otherwise)
{
	const char *value = pg_result_value(res, row, column);

	return value ? value : otherwise;
}

static bool
print_copy(PgConn *target, const char *slot)
{
	const char *params[1] = {slot};
	PgResult *res;
	char bytes[16], estimated[16], rate[16];
	double seconds;
	long long tables, rows, ranges, statements;

	/* tables and rows are a table's; the sequences and large objects not */
	res = pg_query_or_report(
		target,
		"SELECT (SELECT count(*) FROM pgferry.table_sync s\n"
		"        WHERE s.slot = $1),\n"
		"  count(DISTINCT (schema_name, table_name))\n"
		"    FILTER (WHERE kind = 'rows'),\n"
		"  count(snapshot_lsn) FILTER (WHERE kind = 'rows'),\n"
		"  count(*) FILTER (WHERE kind = 'rows'),\n"
		"  coalesce(sum(rows) FILTER (WHERE kind = 'rows'), 0),\n"
		"  coalesce(sum(bytes), 0), sum(estimated_bytes),\n"
		"  extract(epoch FROM CASE WHEN count(snapshot_lsn) = count(*)\n"
		"    THEN max(finished_at) ELSE now() END - m.copy_started_at)\n"
		"FROM pgferry.copy_ranges r\n"
		"JOIN pgferry.migration m USING (slot)\n"
		"WHERE slot = $1 GROUP BY m.copy_started_at",
		1, params, "read the copy state");
	if (res == NULL)
		return false;
	if (pg_result_rows(res) == 0)
	{
		if (json)
			json_raw("copy", NULL);
		else
			printf("  copy:       not planned yet\n");
		pg_result_free(res);
		return true;
	}
	tables = atoll(pg_result_value(res, 0, 1));
	ranges = atoll(pg_result_value(res, 0, 3));
	rows = atoll(pg_result_value(res, 0, 4));
	seconds = atof(value_or(res, 0, 7, "0"));
	format_bytes(atof(pg_result_value(res, 0, 5)), bytes, sizeof(bytes));
	format_bytes(atof(pg_result_value(res, 0, 6)), estimated,
				 sizeof(estimated));
	format_bytes(seconds > 0 ? atof(pg_result_value(res, 0, 5)) / seconds : 0,
				 rate, sizeof(rate));
	if (json)
	{
		json_open("copy", '{');
		json_raw("tables_done", pg_result_value(res, 0, 0));
		json_raw("tables", pg_result_value(res, 0, 1));
		json_raw("ranges_done", pg_result_value(res, 0, 2));
		json_raw("ranges", pg_result_value(res, 0, 3));
		json_raw("rows", pg_result_value(res, 0, 4));
		json_raw("bytes", pg_result_value(res, 0, 5));
		json_raw("estimated_bytes", pg_result_value(res, 0, 6));
		json_number("seconds", seconds);
		json_number("bytes_per_second",
					seconds > 0 ? atof(pg_result_value(res, 0, 5)) / seconds
								: 0);
		json_open("to_copy", '[');
	}
	else
		printf("  copy:       %s/%lld %s (%s/%lld %s), %lld %s, %s "
			   "(estimated %s on disk), %.1f s, %s/s\n",
			   pg_result_value(res, 0, 0), tables,
			   plural(tables, "table", "tables"), pg_result_value(res, 0, 2),
			   ranges, plural(ranges, "range", "ranges"), rows,
			   plural(rows, "row", "rows"), bytes, estimated, seconds, rate);
	pg_result_free(res);

	res = pg_query_or_report(
		target,
		"SELECT CASE kind WHEN 'rows'\n"
		"    THEN format('%I.%I', schema_name, table_name)\n"
		"    ELSE format('(%s)', table_name) END,\n"
		"  kind = 'rows', count(snapshot_lsn), count(*),\n"
		"  coalesce(sum(rows), 0), sum(estimated_bytes)\n"
		"FROM pgferry.copy_ranges WHERE slot = $1\n"
		"GROUP BY kind, schema_name, table_name\n"
		"HAVING count(snapshot_lsn) < count(*)\n"
		"ORDER BY sum(estimated_bytes) DESC",
		1, params, "read the tables left to copy");
	if (res == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(res) && (json || i < STATUS_TABLES);
		 i++)
	{
		if (json)
		{
			json_open(NULL, '{');
			json_string("table", pg_result_value(res, i, 0));
			json_raw("ranges_done", pg_result_value(res, i, 2));
			json_raw("ranges", pg_result_value(res, i, 3));
			json_raw("rows", pg_result_value(res, i, 4));
			json_raw("estimated_bytes", pg_result_value(res, i, 5));
			json_close('}');
			continue;
		}
		/* the sequences or the large objects: one range, not copied */
		if (pg_result_value(res, i, 1)[0] != 't')
		{
			printf("    to copy:  %s\n", pg_result_value(res, i, 0));
			continue;
		}
		ranges = atoll(pg_result_value(res, i, 3));
		rows = atoll(pg_result_value(res, i, 4));
		printf("    to copy:  %-40s %s/%lld %s, %lld %s committed, "
			   "%s on disk\n",
			   pg_result_value(res, i, 0), pg_result_value(res, i, 2), ranges,
			   plural(ranges, "range", "ranges"), rows,
			   plural(rows, "row", "rows"),
			   format_bytes(atof(pg_result_value(res, i, 5)), bytes,
							sizeof(bytes)));
	}
	if (json)
		json_close(']');
	else if (pg_result_rows(res) > STATUS_TABLES)
		printf("    ... and %d more to copy\n",
			   pg_result_rows(res) - STATUS_TABLES);
	pg_result_free(res);

	res = pg_query_or_report(
		target,
		"SELECT count(*), count(done_at) FROM pgferry.post_data "
		"WHERE slot = $1",
		1, params, "read the post-data state");
	if (res == NULL)
		return false;
	statements = atoll(pg_result_value(res, 0, 0));
	if (json)
	{
		json_close('}');
		json_open("post_data", '{');
		json_raw("done", pg_result_value(res, 0, 1));
		json_raw("statements", pg_result_value(res, 0, 0));
		json_close('}');
	}
	else
		printf("  post-data:  %s/%lld %s done\n", pg_result_value(res, 0, 1),
			   statements, plural(statements, "statement", "statements"));
	pg_result_free(res);
	return true;
}

static void
print_slot_wal(PgConn *source, const char *slot)
{
	SlotWal wal;
	char line[160];

	if (!slot_wal_read(source, slot, &wal) || !wal.found)
		return;
	if (json)
	{
		json_open("source_wal", '{');
		json_number("retained_bytes", wal.retained);
		json_string("status", wal.status);
		if (wal.safe < 0)
			json_raw("safe_bytes", NULL);
		else
			json_number("safe_bytes", wal.safe);
		if (wal.keep_size < 0)
			json_raw("max_slot_wal_keep_size", NULL);
		else
			json_number("max_slot_wal_keep_size", wal.keep_size);
		json_close('}');
		return;
	}
	printf("  source WAL: %s\n", slot_wal_describe(&wal, line, sizeof(line)));
	if (strcmp(wal.status, "lost") == 0)
	{
		printf("              fix: ");
		printf(STREAM_SLOT_LOST_FIX, slot);
		printf("\n");
	}
}

static bool
print_apply(PgConn *target, PgConn *source, const char *slot)
{
	const char *params[2] = {slot};
	PgResult *res;
	PgResult *lag;

	res = pg_query_or_report(
		target,
		"SELECT commit_lsn, end_lsn, updated_at,\n"
		"  round(extract(epoch FROM now() - updated_at)::numeric, 1)\n"
		"FROM pgferry.progress WHERE slot_name = $1",
		1, params, "read pgferry.progress");
	if (res == NULL)
		return false;
	if (pg_result_rows(res) == 0)
	{
		if (json)
			json_raw("apply", NULL);
		else
			printf("  apply:      nothing applied yet\n");
		if (source)
			print_slot_wal(source, slot);
		pg_result_free(res);
		return true;
	}
	if (json)
	{
		json_open("apply", '{');
		json_string("commit_lsn", pg_result_value(res, 0, 0));
		json_string("end_lsn", pg_result_value(res, 0, 1));
		json_raw("last_commit_seconds_ago", pg_result_value(res, 0, 3));
	}
	else
		printf(
			"  apply:      source transactions applied up to %s (last target "
			"commit %s s ago)\n",
			pg_result_value(res, 0, 0), pg_result_value(res, 0, 3));
	if (source == NULL)
	{
		if (json)
			json_close('}');
		else
			printf("              (give --source for the lag)\n");
		pg_result_free(res);
		return true;
	}
	params[1] = pg_result_value(res, 0, 1);
	/* cutover's read-only state: a setting of the source database */
	lag = pg_query_or_report(
		source,
		"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $2::pg_lsn),\n"
		"  round(coalesce(extract(epoch FROM r.flush_lag), 0)::numeric, 2),\n"
		"  s.active, s.confirmed_flush_lsn,\n"
		"  EXISTS (SELECT 1 FROM pg_db_role_setting d\n"
		"    WHERE d.setdatabase = (SELECT oid FROM pg_database\n"
		"                           WHERE datname = current_database())\n"
		"      AND d.setrole = 0\n"
		"      AND 'default_transaction_read_only=on' = ANY (d.setconfig))\n"
		"FROM pg_replication_slots s\n"
		"LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid\n"
		"WHERE s.slot_name = $1",
		2, params, "read the slot on the source");
	pg_result_free(res);
	if (lag == NULL)
		return false;
	if (json)
	{
		bool found = pg_result_rows(lag) > 0;

		json_raw("slot_exists", found ? "true" : "false");
		json_raw("lag_bytes", found ? pg_result_value(lag, 0, 0) : NULL);
		json_raw("lag_seconds", found ? pg_result_value(lag, 0, 1) : NULL);
		json_raw("slot_active", !found ? NULL
								: pg_result_value(lag, 0, 2)[0] == 't'
									? "true"
									: "false");
		json_string("confirmed_flush_lsn",
					found ? pg_result_value(lag, 0, 3) : NULL);
		json_raw("source_read_only", !found ? NULL
									 : pg_result_value(lag, 0, 4)[0] == 't'
										 ? "true"
										 : "false");
		json_close('}');
		if (found)
			print_slot_wal(source, slot);
	}
	else if (pg_result_rows(lag) == 0)
		printf("              slot \"%s\" is gone from the source\n", slot);
	else
	{
		char bytes[16];

		printf("              lag %s behind the source's WAL, %s s; slot "
			   "%s, confirmed %s\n",
			   format_bytes(atof(pg_result_value(lag, 0, 0)), bytes,
							sizeof(bytes)),
			   pg_result_value(lag, 0, 1),
			   pg_result_value(lag, 0, 2)[0] == 't' ? "active" : "inactive",
			   value_or(lag, 0, 3, "-"));
		print_slot_wal(source, slot);
		if (pg_result_value(lag, 0, 4)[0] == 't')
			printf("  cutover:    the source database is read-only (pgferry "
				   "cutover ran; pgferry cutover --abort gives it writes "
				   "back)\n");
	}
	pg_result_free(lag);
	return true;
}

/* Rows written per second on the target, over one second. */
static bool
print_rate(PgConn *target)
{
	static const char sql[] =
		"SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0), "
		"clock_timestamp() FROM pg_stat_user_tables "
		"WHERE schemaname <> 'pgferry'";
	static const char interval_sql[] =
		"SELECT $2::numeric - $1::numeric, "
		"extract(epoch FROM $4::timestamptz - $3::timestamptz)";
	PgResult *before;
	PgResult *after;
	PgResult *diff;
	const char *params[4];

	if ((before = pg_query_or_report(target, sql, 0, NULL,
									 "read table stats")) == NULL)
		return false;
	pg_exec(target, "SELECT pg_stat_clear_snapshot()");
	sleep(1);
	if ((after = pg_query_or_report(target, sql, 0, NULL,
									"read table stats")) == NULL)
	{
		pg_result_free(before);
		return false;
	}
	params[0] = pg_result_value(before, 0, 0);
	params[1] = pg_result_value(after, 0, 0);
	params[2] = pg_result_value(before, 0, 1);
	params[3] = pg_result_value(after, 0, 1);
	diff = pg_query_or_report(target, interval_sql, 4, params,
							  "compute the rate");
	if (diff)
	{
		double rows = atof(pg_result_value(diff, 0, 0));
		double seconds = atof(pg_result_value(diff, 0, 1));

		if (json)
			json_number("writes_per_second", seconds > 0 ? rows / seconds : 0);
		else
			printf("  writes:     %.0f rows/s on the target (last second)\n",
				   seconds > 0 ? rows / seconds : 0);
	}
	pg_result_free(before);
	pg_result_free(after);
	pg_result_free(diff);
	return diff != NULL;
}

/*
 * The slots `pgferry follow` alone applies (pgferry.progress rows with no
 * migration): their apply state.  *shown counts what was printed.
 */
static bool
print_followers(PgConn *target, PgConn *source, const char *slot,
				bool migrations, int *shown)
{
	const char *params[1] = {slot};
	PgResult *res;
	bool ok = true;

	res = pg_query(
		target,
		migrations ? "SELECT slot_name FROM pgferry.progress p\n"
					 "WHERE ($1::text IS NULL OR slot_name = $1)\n"
					 "  AND NOT EXISTS (SELECT 1 FROM pgferry.migration m\n"
					 "                  WHERE m.slot = p.slot_name)\n"
					 "ORDER BY 1"
				   : "SELECT slot_name FROM pgferry.progress\n"
					 "WHERE $1::text IS NULL OR slot_name = $1 ORDER BY 1",
		1, params);
	if (res == NULL)
	{
		/* no pgferry.progress: nothing was ever applied here */
		if (strcmp(pg_error_sqlstate(target), "42P01") == 0)
			return true;
		pg_report(target, "read pgferry.progress");
		return false;
	}
	for (int i = 0; ok && i < pg_result_rows(res); i++)
	{
		if (json)
		{
			json_open(NULL, '{');
			json_string("slot", pg_result_value(res, i, 0));
		}
		else
			printf("follow \"%s\":\n", pg_result_value(res, i, 0));
		ok = print_apply(target, source, pg_result_value(res, i, 0));
		if (json)
			json_close('}');
		(*shown)++;
	}
	pg_result_free(res);
	return ok;
}

int
status_run(const StatusOptions *options)
{
	PgConn *target = pg_connect(options->target, "target", PG_CONN_SQL, NULL);
	PgConn *source = NULL;
	PgResult *res;
	const char *params[1] = {options->slot};
	bool migrations = true;
	int shown = 0;
	bool ok = true;
	Buf document = BUF_INIT;

	if (target == NULL)
		return EXIT_CONNECTION;
	if (options->source && (source = pg_connect(options->source, "source",
												PG_CONN_SQL, NULL)) == NULL)
	{
		pg_disconnect(target);
		return EXIT_CONNECTION;
	}
	if (options->json)
	{
		json = &document;
		json_open(NULL, '{');
		json_open("migrations", '[');
	}
	res =
		pg_query(target,
				 "SELECT slot, phase, consistent_lsn, source_database,\n"
				 "  source_system_identifier, started_at, stream_started_at\n"
				 "FROM pgferry.migration\n"
				 "WHERE $1::text IS NULL OR slot = $1 ORDER BY slot",
				 1, params);
	if (res == NULL)
	{
		migrations = strcmp(pg_error_sqlstate(target), "42P01") != 0;
		if (migrations)
		{
			pg_report(target, "read pgferry.migration");
			ok = false;
		}
	}
	for (int i = 0; ok && res && i < pg_result_rows(res); i++)
	{
		const char *slot = pg_result_value(res, i, 0);

		if (json)
		{
			json_open(NULL, '{');
			json_string("slot", slot);
			json_string("phase", pg_result_value(res, i, 1));
			json_string("source_database", pg_result_value(res, i, 3));
			json_string("source_system_identifier",
						pg_result_value(res, i, 4));
			json_string("started_at", pg_result_value(res, i, 5));
			json_string("consistent_lsn", pg_result_value(res, i, 2));
		}
		else
			printf(
				"migration \"%s\": phase %s; source database %s (system %s); "
				"started %s; slot consistent at %s\n",
				slot, pg_result_value(res, i, 1), pg_result_value(res, i, 3),
				pg_result_value(res, i, 4), pg_result_value(res, i, 5),
				value_or(res, i, 2, "-"));
		ok = print_copy(target, slot);
		if (ok && strcmp(pg_result_value(res, i, 1), "copied") == 0 && json)
			json_raw("apply", NULL);
		else if (ok && strcmp(pg_result_value(res, i, 1), "copied") == 0)
			printf("  apply:      none: a copy-only task (no slot; cutover "
				   "checks that its tables do not change)\n");
		else if (ok)
			ok = print_apply(target, source, slot);
		if (json)
			json_close('}');
		shown++;
	}
	pg_result_free(res);
	if (json)
	{
		json_close(']');
		json_open("follows", '[');
	}
	if (ok)
		ok =
			print_followers(target, source, options->slot, migrations, &shown);
	if (json)
		json_close(']');
	if (ok && shown == 0 && json)
	{
		log_error("no migration or follow%s%s%s recorded in this database",
				  options->slot ? " of slot \"" : "",
				  options->slot ? options->slot : "",
				  options->slot ? "\"" : "");
		ok = false;
	}
	else if (ok && shown == 0)
	{
		printf("no migration or follow%s%s%s recorded in this database\n",
			   options->slot ? " of slot \"" : "",
			   options->slot ? options->slot : "", options->slot ? "\"" : "");
		ok = false;
	}
	if (ok)
		ok = print_rate(target);
	if (ok && json)
	{
		json_close('}');
		document.len--; /* the last comma */
		printf("%.*s\n", (int) document.len, document.data);
	}
	json = NULL;
	buf_free(&document);
	pg_disconnect(target);
	pg_disconnect(source);
	return ok ? EXIT_DONE : EXIT_OTHER;
}
