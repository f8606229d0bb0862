/*-------------------------------------------------------------------------
 *
 * state.c
 *	  The migration's state tables on the target (see state.h), their
 *	  creation, and the statements migrate and copy run on them.
 *
 * Other modules read them too: status.c shows them, tablesync.c reads
 * pgferry.table_sync for the follow job, cutover checks pgferry.post_data.
 * pgferry.progress is progress.c's.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "state/progress.h"
#include "state/state.h"

/* Serialises the tasks that restore pre-data. */
#define STATE_LOCK_KEY "hashtext('pgferry migrate schema')"

/* One process per task: a pair of keys, apart from STATE_LOCK_KEY's. */
#define TASK_LOCK_KEY "hashtext('pgferry task'), hashtext($1)"

/*
 * The task lock's session waits 5 s for the lock (see state_lock_task()),
 * and has its server probe the connection while idle, so that the lock of
 * a process whose machine went away is released within a minute or so,
 * not after the system's two hours.
 */
#define TASK_LOCK_SESSION_OPTIONS                                             \
	"-c lock_timeout=5s -c statement_timeout=0 "                              \
	"-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 "                \
	"-c tcp_keepalives_count=3"

static const char *const state_ddl =
	"CREATE SCHEMA IF NOT EXISTS pgferry;\n"
	"CREATE TABLE IF NOT EXISTS pgferry.migration (\n"
	"  slot text PRIMARY KEY,\n"
	"  phase text NOT NULL CHECK (phase IN ('init', 'copy', 'stream', "
	"'copied')),\n"
	"  follow boolean NOT NULL DEFAULT true,\n"
	"  consistent_lsn pg_lsn,\n"
	"  source_system_identifier text NOT NULL,\n"
	"  source_database text NOT NULL,\n"
	"  table_filters text NOT NULL,\n"
	"  started_at timestamptz NOT NULL DEFAULT now(),\n"
	"  copy_started_at timestamptz,\n"
	"  stream_started_at timestamptz);\n"
	"CREATE TABLE IF NOT EXISTS pgferry.schema_restore (\n"
	"  restored_by text NOT NULL,\n"
	"  restored_at timestamptz NOT NULL DEFAULT now());\n"
	"CREATE TABLE IF NOT EXISTS pgferry.copy_ranges (\n"
	"  slot text NOT NULL REFERENCES pgferry.migration ON DELETE CASCADE,\n"
	"  kind text NOT NULL CHECK (kind IN ('rows', 'sequences', 'large "
	"objects')),\n"
	"  schema_name text NOT NULL,\n"
	"  table_name text NOT NULL,\n"
	"  range_no int NOT NULL,\n"
	"  ranges int NOT NULL,\n"
	"  first_block bigint,\n"
	"  end_block bigint,\n"
	"  estimated_bytes bigint NOT NULL,\n"
	"  snapshot_lsn pg_lsn,\n"
	"  rows bigint,\n"
	"  bytes bigint,\n"
	"  finished_at timestamptz,\n"
	"  PRIMARY KEY (slot, schema_name, table_name, range_no));\n"
	"CREATE OR REPLACE VIEW pgferry.table_sync AS\n"
	"  SELECT slot, schema_name, table_name, max(snapshot_lsn) AS lsn\n"
	"  FROM pgferry.copy_ranges WHERE kind = 'rows'\n"
	"  GROUP BY slot, schema_name, table_name\n"
	"  HAVING count(*) = count(snapshot_lsn);\n"
	"COMMENT ON VIEW pgferry.table_sync IS\n"
	"  'Tables whose copy is complete, with the LSN the copy is consistent "
	"with: "
	"pgferry follow skips their changes committed before it';\n"
	"CREATE TABLE IF NOT EXISTS pgferry.post_data (\n"
	"  position int PRIMARY KEY,\n"
	"  slot text,\n"
	"  description text NOT NULL,\n"
	"  schema_name text,\n"
	"  table_name text,\n"
	"  foreign_key bool NOT NULL,\n"
	"  ref_schema text,\n"
	"  ref_table text,\n"
	"  statement text NOT NULL,\n"
	"  done_at timestamptz);\n"
	"CREATE TABLE IF NOT EXISTS pgferry.copy_only (\n"
	"  slot text NOT NULL REFERENCES pgferry.migration ON DELETE CASCADE,\n"
	"  schema_name text NOT NULL,\n"
	"  table_name text NOT NULL,\n"
	"  relid oid NOT NULL,\n"
	"  filenode oid,\n"
	"  n_tup_ins bigint NOT NULL,\n"
	"  n_tup_upd bigint NOT NULL,\n"
	"  n_tup_del bigint NOT NULL,\n"
	"  captured_at timestamptz NOT NULL DEFAULT now(),\n"
	"  PRIMARY KEY (slot, schema_name, table_name));\n"
	"COMMENT ON TABLE pgferry.copy_only IS\n"
	"  'The tables of copy-only tasks, with their modification counters "
	"on the source when their snapshot was taken: cutover refuses if they "
	"moved';\n";

static const char *const phase_names[] = {"init", "copy", "stream", "copied"};

const char *
state_phase_name(MigrationPhase phase)
{
	return phase_names[phase];
}

static bool
state_exec(PgConn *target, const char *sql, int nparams,
		   const char *const *values, const char *what)
{
	PgResult *res =
		pg_query_or_report(target, sql, nparams, values, "%s", what);
	bool ok;

	ok = res != NULL;
	pg_result_free(res);
	return ok;
}

bool
state_create(PgConn *target)
{
	return progress_run_ddl(target, state_ddl,
							"create the pgferry schema and its state tables");
}

PgConn *
state_lock_task(const char *target_conninfo, const char *slot, bool *busy)
{
	const char *params[1] = {slot};
	PgConn *conn = pg_connect(target_conninfo, "target", PG_CONN_SQL,
							  TASK_LOCK_SESSION_OPTIONS);
	PgResult *res;

	*busy = false;
	if (conn == NULL)
		return NULL;
	res = pg_query(conn, "SELECT pg_advisory_lock(" TASK_LOCK_KEY ")", 1,
				   params);
	if (res)
	{
		pg_result_free(res);
		return conn;
	}
	/* lock_not_available: lock_timeout ran out */
	*busy = strcmp(pg_error_sqlstate(conn), "55P03") == 0;
	if (*busy)
	{
		log_error("another pgferry process is running slot \"%s\" on this "
				  "target",
				  slot);
		log_hint("stop it first; a different task needs its own --slot");
	}
	else
		pg_report(conn, "lock slot \"%s\" for this process", slot);
	pg_disconnect(conn);
	return NULL;
}

static char *
lsn_text(Lsn lsn, char *buf)
{
	return lsn == LSN_INVALID ? NULL : pg_lsn_format(lsn, buf);
}

bool
state_get_migration(PgConn *target, const char *slot, Migration *migration,
					bool *found)
{
	const char *params[1] = {slot};
	PgResult *res;
	const char *lsn;

	res = pg_query(target,
				   "SELECT phase, consistent_lsn, source_system_identifier, "
				   "source_database, table_filters, follow "
				   "FROM pgferry.migration WHERE slot = $1",
				   1, params);
	if (res == NULL)
	{
		/* no state tables yet: no migration either */
		*found = false;
		if (strcmp(pg_error_sqlstate(target), "42P01") == 0)
			return true;
		pg_report(target, "read the state of the migration of slot \"%s\"",
				  slot);
		return false;
	}
	*found = pg_result_rows(res) == 1;
	if (*found)
	{
		const char *phase = pg_result_value(res, 0, 0);

		migration->phase = PHASE_INIT;
		for (int p = PHASE_INIT; p <= PHASE_COPIED; p++)
			if (strcmp(phase, phase_names[p]) == 0)
				migration->phase = p;
		lsn = pg_result_value(res, 0, 1);
		migration->consistent_lsn = LSN_INVALID;
		if (lsn)
			pg_lsn_parse(lsn, &migration->consistent_lsn);
		migration->source.system_identifier =
			xstrdup(pg_result_value(res, 0, 2));
		migration->source.database = xstrdup(pg_result_value(res, 0, 3));
		migration->source.database_sql =
			pg_quote_ident(migration->source.database);
		migration->table_filters = xstrdup(pg_result_value(res, 0, 4));
		migration->follow = pg_result_value(res, 0, 5)[0] == 't';
	}
	pg_result_free(res);
	return true;
}

bool
state_insert_migration(PgConn *target, const char *slot,
					   const Migration *migration)
{
	const char *params[6] = {slot,
							 phase_names[migration->phase],
							 migration->source.system_identifier,
							 migration->source.database,
							 migration->table_filters,
							 migration->follow ? "true" : "false"};

	return state_exec(target,
					  "INSERT INTO pgferry.migration (slot, phase, "
					  "source_system_identifier, source_database, "
					  "table_filters, follow) VALUES ($1, $2, $3, $4, $5, $6)",
					  6, params, "record the new migration");
}

bool
state_set_phase(PgConn *target, const char *slot, MigrationPhase phase,
				Lsn consistent_lsn)
{
	char lsn[LSN_TEXT_LEN];
	const char *params[3] = {slot, phase_names[phase],
							 lsn_text(consistent_lsn, lsn)};

	return state_exec(target,
					  "UPDATE pgferry.migration SET phase = $2, "
					  "consistent_lsn = coalesce($3::pg_lsn, consistent_lsn), "
					  "copy_started_at = CASE WHEN $2 = 'copy' "
					  "  THEN coalesce(copy_started_at, now()) "
					  "  ELSE copy_started_at END, "
					  "stream_started_at = CASE WHEN $2 = 'stream' "
					  "  THEN coalesce(stream_started_at, now()) "
					  "  ELSE stream_started_at END "
					  "WHERE slot = $1",
					  3, params, "record the phase of the migration");
}

void
state_migration_free(Migration *migration)
{
	source_id_free(&migration->source);
	free(migration->table_filters);
	memset(migration, 0, sizeof(Migration));
}

bool
state_delete_migration(PgConn *target, const char *slot)
{
	const char *params[1] = {slot};

	return state_exec(target, "DELETE FROM pgferry.migration WHERE slot = $1",
					  1, params, "delete the state of the migration");
}

bool
state_lock_schema(PgConn *target, bool *restored)
{
	PgResult *res;

	if (!state_exec(target, "SELECT pg_advisory_xact_lock(" STATE_LOCK_KEY ")",
					0, NULL, "lock the pgferry schema"))
		return false;
	res = pg_query(target, "SELECT count(*) FROM pgferry.schema_restore", 0,
				   NULL);
	if (res == NULL)
	{
		pg_report(target, "read pgferry.schema_restore");
		return false;
	}
	*restored = atoi(pg_result_value(res, 0, 0)) > 0;
	pg_result_free(res);
	return true;
}

bool
state_mark_schema_restored(PgConn *target, const char *slot)
{
	const char *params[1] = {slot};

	return state_exec(target,
					  "INSERT INTO pgferry.schema_restore (restored_by) "
					  "VALUES ($1)",
					  1, params, "record the restore of the schema");
}

static const char *const copy_kind_names[] = {"rows", "sequences",
											  "large objects"};

bool
state_insert_plan(PgConn *target, const char *slot, const CopyPlan *plan)
{
	for (int i = 0; i < plan->count; i++)
	{
		const CopyRange *r = &plan->ranges[i];
		char range_no[16], nranges[16], first[24], end[24], estimated[24];
		const char *params[9] = {slot,		copy_kind_names[r->kind],
								 r->schema, r->table,
								 range_no,	nranges,
								 NULL,		NULL,
								 estimated};

		snprintf(range_no, sizeof(range_no), "%d", r->range_no);
		snprintf(nranges, sizeof(nranges), "%d", r->nranges);
		snprintf(estimated, sizeof(estimated), "%" PRId64, r->estimated_bytes);
		if (r->nranges > 1)
		{
			snprintf(first, sizeof(first), "%" PRId64, r->first_block);
			params[6] = first;
			if (r->end_block >= 0)
			{
				snprintf(end, sizeof(end), "%" PRId64, r->end_block);
				params[7] = end;
			}
		}
		if (!state_exec(target,
						"INSERT INTO pgferry.copy_ranges (slot, kind, "
						"schema_name, table_name, range_no, ranges, "
						"first_block, end_block, estimated_bytes) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
						9, params, "record the copy plan"))
			return false;
	}
	return true;
}

bool
state_tables_of_other_slots(PgConn *target, const char *slot, PgResult **held)
{
	const char *params[1] = {slot};

	*held = pg_query(target,
					 "SELECT DISTINCT slot, schema_name, table_name "
					 "FROM pgferry.copy_ranges "
					 "WHERE kind = 'rows' AND slot <> $1 ORDER BY 1, 2, 3",
					 1, params);
	if (*held)
		return true;
	/* no state tables yet: no other task either */
	if (strcmp(pg_error_sqlstate(target), "42P01") == 0)
		return true;
	pg_report(target, "read the tables of the other tasks");
	return false;
}

bool
state_load_plan(PgConn *target, const char *slot, CopyPlan *plan)
{
	const char *params[1] = {slot};
	PgResult *res;

	res = pg_query(target,
				   "SELECT kind, schema_name, table_name, range_no, ranges, "
				   "first_block, end_block, estimated_bytes, snapshot_lsn, "
				   "coalesce(rows, 0), coalesce(bytes, 0) "
				   "FROM pgferry.copy_ranges WHERE slot = $1 "
				   "ORDER BY estimated_bytes DESC, schema_name, table_name, "
				   "range_no",
				   1, params);
	if (res == NULL)
	{
		pg_report(target, "read the copy plan of slot \"%s\"", slot);
		return false;
	}
	plan->count = pg_result_rows(res);
	plan->ranges = xcalloc(plan->count ? plan->count : 1, sizeof(CopyRange));
	for (int i = 0; i < plan->count; i++)
	{
		CopyRange *r = &plan->ranges[i];
		const char *value;

		for (int k = COPY_ROWS; k <= COPY_LARGE_OBJECTS; k++)
			if (strcmp(pg_result_value(res, i, 0), copy_kind_names[k]) == 0)
				r->kind = k;
		r->schema = xstrdup(pg_result_value(res, i, 1));
		r->table = xstrdup(pg_result_value(res, i, 2));
		r->range_no = atoi(pg_result_value(res, i, 3));
		r->nranges = atoi(pg_result_value(res, i, 4));
		value = pg_result_value(res, i, 5);
		r->first_block = value ? strtoll(value, NULL, 10) : 0;
		value = pg_result_value(res, i, 6);
		r->end_block = value ? strtoll(value, NULL, 10) : -1;
		r->estimated_bytes = strtoll(pg_result_value(res, i, 7), NULL, 10);
		value = pg_result_value(res, i, 8);
		r->snapshot_lsn = LSN_INVALID;
		if (value)
			pg_lsn_parse(value, &r->snapshot_lsn);
		r->rows = strtoll(pg_result_value(res, i, 9), NULL, 10);
		r->bytes = strtoll(pg_result_value(res, i, 10), NULL, 10);
	}
	pg_result_free(res);
	return true;
}

/*
 * A table is consistent at one LSN only if all its ranges were copied in
 * one snapshot; the snapshot of an interrupted run is gone, so the ranges
 * of a table it left unfinished must all be copied again, in a new one.
 */
bool
state_reset_unfinished(PgConn *target, const char *slot)
{
	const char *params[1] = {slot};

	return state_exec(target,
					  "UPDATE pgferry.copy_ranges r SET snapshot_lsn = NULL, "
					  "rows = NULL, bytes = NULL, finished_at = NULL "
					  "WHERE slot = $1 AND snapshot_lsn IS NOT NULL "
					  "AND EXISTS (SELECT 1 FROM pgferry.copy_ranges o "
					  "  WHERE o.slot = r.slot AND o.kind = r.kind "
					  "  AND o.schema_name = r.schema_name "
					  "  AND o.table_name = r.table_name "
					  "  AND o.snapshot_lsn IS NULL)",
					  1, params, "forget the ranges of unfinished tables");
}

bool
state_reset_table(PgConn *target, const char *slot, const char *schema,
				  const char *table)
{
	const char *params[3] = {slot, schema, table};

	return state_exec(target,
					  "UPDATE pgferry.copy_ranges SET snapshot_lsn = NULL, "
					  "rows = NULL, bytes = NULL, finished_at = NULL "
					  "WHERE slot = $1 AND kind = 'rows' "
					  "AND schema_name = $2 AND table_name = $3",
					  3, params, "forget the copy of a table");
}

bool
state_range_done(PgConn *target, const char *slot, const CopyRange *range)
{
	char lsn[LSN_TEXT_LEN], range_no[16], rows[24], bytes[24];
	const char *params[7] = {slot,
							 range->schema,
							 range->table,
							 range_no,
							 pg_lsn_format(range->snapshot_lsn, lsn),
							 rows,
							 bytes};

	snprintf(range_no, sizeof(range_no), "%d", range->range_no);
	snprintf(rows, sizeof(rows), "%" PRId64, range->rows);
	snprintf(bytes, sizeof(bytes), "%" PRId64, range->bytes);
	return state_exec(target,
					  "UPDATE pgferry.copy_ranges SET snapshot_lsn = $5, "
					  "rows = $6, bytes = $7, finished_at = clock_timestamp() "
					  "WHERE slot = $1 AND schema_name = $2 "
					  "AND table_name = $3 AND range_no = $4",
					  7, params, "record the copied range");
}

void
state_plan_free(CopyPlan *plan)
{
	for (int i = 0; i < plan->count; i++)
	{
		free(plan->ranges[i].schema);
		free(plan->ranges[i].table);
	}
	free(plan->ranges);
	plan->ranges = NULL;
	plan->count = 0;
}

bool
state_insert_post_data(PgConn *target, const PostDataList *list)
{
	for (int i = 0; i < list->count; i++)
	{
		const PostDataItem *item = &list->items[i];
		char position[16];
		const char *params[8] = {position,
								 item->description,
								 item->schema,
								 item->table,
								 item->foreign_key ? "true" : "false",
								 item->ref_schema,
								 item->ref_table,
								 item->statement};

		snprintf(position, sizeof(position), "%d", item->position);
		if (!state_exec(
				target,
				"INSERT INTO pgferry.post_data (position, description, "
				"schema_name, table_name, foreign_key, ref_schema, "
				"ref_table, statement) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				8, params, "record the post-data statements"))
			return false;
	}
	return true;
}

bool
state_claim_post_data(PgConn *target, const char *slot, const char **schemas,
					  const char **names, int count, bool take_global,
					  PostDataList *list)
{
	const char *params[3] = {slot};
	PgResult *res;

	for (int i = 0; i < count; i++)
	{
		params[1] = schemas[i];
		params[2] = names[i];
		if (!state_exec(target,
						"UPDATE pgferry.post_data SET slot = $1 "
						"WHERE slot IS NULL AND schema_name = $2 "
						"AND table_name = $3",
						3, params,
						"claim the post-data statements of a table"))
			return false;
	}
	if (take_global &&
		!state_exec(target,
					"UPDATE pgferry.post_data SET slot = $1 "
					"WHERE slot IS NULL AND table_name IS NULL",
					1, params,
					"claim the post-data statements tied to no table"))
		return false;

	res = pg_query(target,
				   "SELECT position, description, schema_name, table_name, "
				   "foreign_key, ref_schema, ref_table, statement, "
				   "done_at IS NOT NULL FROM pgferry.post_data "
				   "WHERE slot = $1 ORDER BY position",
				   1, params);
	if (res == NULL)
	{
		pg_report(target, "read the post-data statements");
		return false;
	}
	list->count = pg_result_rows(res);
	list->items = xcalloc(list->count ? list->count : 1, sizeof(PostDataItem));
	for (int i = 0; i < list->count; i++)
	{
		PostDataItem *item = &list->items[i];
		const char *value;

		item->position = atoi(pg_result_value(res, i, 0));
		item->description = xstrdup(pg_result_value(res, i, 1));
		value = pg_result_value(res, i, 2);
		item->schema = value ? xstrdup(value) : NULL;
		value = pg_result_value(res, i, 3);
		item->table = value ? xstrdup(value) : NULL;
		item->foreign_key = pg_result_value(res, i, 4)[0] == 't';
		value = pg_result_value(res, i, 5);
		item->ref_schema = value ? xstrdup(value) : NULL;
		value = pg_result_value(res, i, 6);
		item->ref_table = value ? xstrdup(value) : NULL;
		item->statement = xstrdup(pg_result_value(res, i, 7));
		item->done = pg_result_value(res, i, 8)[0] == 't';
	}
	pg_result_free(res);
	return true;
}

bool
state_post_data_done(PgConn *target, int position)
{
	char id[16];
	const char *params[1] = {id};

	snprintf(id, sizeof(id), "%d", position);
	return state_exec(target,
					  "UPDATE pgferry.post_data SET done_at = now() "
					  "WHERE position = $1",
					  1, params, "record the post-data statement as done");
}

bool
state_table_synced(PgConn *target, const char *schema, const char *name,
				   bool *synced)
{
	const char *params[2] = {schema, name};
	PgResult *res;

	res = pg_query(target,
				   "SELECT 1 FROM pgferry.table_sync "
				   "WHERE schema_name = $1 AND table_name = $2",
				   2, params);
	if (res == NULL)
	{
		pg_report(target, "read pgferry.table_sync");
		return false;
	}
	*synced = pg_result_rows(res) > 0;
	pg_result_free(res);
	return true;
}

void
state_post_data_free(PostDataList *list)
{
	for (int i = 0; i < list->count; i++)
	{
		PostDataItem *item = &list->items[i];

		free(item->description);
		free(item->schema);
		free(item->table);
		free(item->ref_schema);
		free(item->ref_table);
		free(item->statement);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}
