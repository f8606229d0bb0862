/*-------------------------------------------------------------------------
 *
 * copyonly.c
 *	  The tables of copy-only tasks and their modification counters.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "state/copyonly.h"

/* The counters' columns, as copyonly_read() and copyonly_load() give them. */
#define COUNTER_COLUMNS 5

/* Column column of every row of res, as an array literal (free array). */
static const char *
column_array(Buf *array, const PgResult *res, int column)
{
	for (int i = 0; i < pg_result_rows(res); i++)
		pg_array_add(array, pg_result_value(res, i, column));
	return pg_array_close(array);
}

PgResult *
copyonly_read(PgConn *source)
{
	return pg_query_or_report(
		source,
		"SELECT n.nspname, c.relname, c.oid, "
		"pg_catalog.pg_relation_filenode(c.oid), "
		"pg_catalog.pg_stat_get_tuples_inserted(c.oid), "
		"pg_catalog.pg_stat_get_tuples_updated(c.oid), "
		"pg_catalog.pg_stat_get_tuples_deleted(c.oid) "
		"FROM pg_catalog.pg_class c "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' "
		"AND n.nspname NOT LIKE 'pg\\_%'",
		0, NULL, "read the modification counters of the tables");
}

bool
copyonly_save(PgConn *target, const char *slot, const PgResult *counters,
			  const char *const *schemas, const char *const *names, int count)
{
	Buf arrays[COUNTER_COLUMNS + 4];
	const char *params[COUNTER_COLUMNS + 5] = {slot};
	PgResult *res;

	memset(arrays, 0, sizeof(arrays));
	for (int column = 0; column < COUNTER_COLUMNS + 2; column++)
		params[column + 1] = column_array(&arrays[column], counters, column);
	for (int i = 0; i < count; i++)
	{
		pg_array_add(&arrays[COUNTER_COLUMNS + 2], schemas[i]);
		pg_array_add(&arrays[COUNTER_COLUMNS + 3], names[i]);
	}
	params[COUNTER_COLUMNS + 3] = pg_array_close(&arrays[COUNTER_COLUMNS + 2]);
	params[COUNTER_COLUMNS + 4] = pg_array_close(&arrays[COUNTER_COLUMNS + 3]);
	res = pg_query_or_report(
		target,
		"INSERT INTO pgferry.copy_only AS o (slot, schema_name, table_name, "
		"relid, filenode, n_tup_ins, n_tup_upd, n_tup_del) "
		"SELECT $1, c.* FROM unnest($2::pg_catalog.text[], "
		"$3::pg_catalog.text[], $4::pg_catalog.oid[], $5::pg_catalog.oid[], "
		"$6::pg_catalog.int8[], $7::pg_catalog.int8[], $8::pg_catalog.int8[]) "
		"c(s, n, relid, filenode, ins, upd, del) "
		"JOIN unnest($9::pg_catalog.text[], "
		"$10::pg_catalog.text[]) "
		"w(s, n) ON w.s = c.s AND w.n = c.n "
		"ON CONFLICT (slot, schema_name, table_name) DO UPDATE SET "
		"relid = EXCLUDED.relid, filenode = EXCLUDED.filenode, "
		"n_tup_ins = EXCLUDED.n_tup_ins, n_tup_upd = EXCLUDED.n_tup_upd, "
		"n_tup_del = EXCLUDED.n_tup_del, captured_at = now()",
		COUNTER_COLUMNS + 5, params,
		"record the modification counters of the copy-only tables");
	for (int i = 0; i < COUNTER_COLUMNS + 4; i++)
		buf_free(&arrays[i]);
	pg_result_free(res);
	return res != NULL;
}

bool
copyonly_load(PgConn *target, const SourceId *id, const char *slot,
			  PgResult **recorded, PgResult **unfinished)
{
	const char *params[3] = {id->system_identifier, id->database, slot};
	bool migrated;

	*recorded = *unfinished = NULL;
	*recorded = pg_query_or_report(
		target, "SELECT pg_catalog.to_regclass('pgferry.copy_only')", 0, NULL,
		"look for pgferry.copy_only");
	if (*recorded == NULL)
		return false;
	migrated = pg_result_value(*recorded, 0, 0) != NULL;
	pg_result_free(*recorded);
	/* an empty result of the same shape, for a target never migrated */
	*recorded = pg_query_or_report(
		target,
		migrated ? "SELECT o.slot, o.schema_name, o.table_name, o.relid, "
				   "o.filenode, o.n_tup_ins, o.n_tup_upd, o.n_tup_del "
				   "FROM pgferry.copy_only o "
				   "JOIN pgferry.migration m ON m.slot = o.slot "
				   "WHERE m.source_system_identifier = $1 "
				   "AND m.source_database = $2 "
				   "AND ($3::pg_catalog.text IS NULL OR o.slot = $3) "
				   "ORDER BY 1, 2, 3"
				 : "SELECT $1::pg_catalog.text, $2::pg_catalog.text, "
				   "$3::pg_catalog.text WHERE false",
		3, params, "read pgferry.copy_only");
	*unfinished = pg_query_or_report(
		target,
		migrated ? "SELECT slot, phase FROM pgferry.migration "
				   "WHERE NOT follow AND phase <> 'copied' "
				   "AND source_system_identifier = $1 "
				   "AND source_database = $2 "
				   "AND ($3::pg_catalog.text IS NULL OR slot = $3) "
				   "ORDER BY 1"
				 : "SELECT $1::pg_catalog.text, $2::pg_catalog.text, "
				   "$3::pg_catalog.text WHERE false",
		3, params, "read pgferry.migration");
	return *recorded != NULL && *unfinished != NULL;
}

PgResult *
copyonly_changed(PgConn *source, const PgResult *recorded)
{
	Buf arrays[COUNTER_COLUMNS + 3];
	const char *params[COUNTER_COLUMNS + 3];
	PgResult *res;

	memset(arrays, 0, sizeof(arrays));
	for (int column = 0; column < COUNTER_COLUMNS + 3; column++)
		params[column] = column_array(&arrays[column], recorded, column);
	res = pg_query_or_report(
		source,
		"SELECT slot, schema_name, table_name, "
		"pg_catalog.format('%I.%I', schema_name, table_name), what FROM ("
		" SELECT b.*, CASE"
		"  WHEN c.oid IS NULL THEN 'it is gone (dropped or renamed)'"
		"  WHEN c.oid <> b.relid THEN 'it was dropped and created again'"
		"  WHEN pg_catalog.pg_relation_filenode(c.oid)"
		"   IS DISTINCT FROM b.filenode"
		"  THEN 'it was truncated or rewritten (TRUNCATE, VACUUM FULL, "
		"CLUSTER, ALTER TABLE)'"
		"  WHEN s.ins < b.ins OR s.upd < b.upd OR s.del < b.del"
		"  THEN 'its statistics were reset (pg_stat_reset() or a crash), "
		"so a change cannot be ruled out'"
		"  WHEN s.ins > b.ins OR s.upd > b.upd OR s.del > b.del"
		"  THEN pg_catalog.format('%s rows inserted, %s updated, %s deleted "
		"(rolled back writes count too)', s.ins - b.ins, s.upd - b.upd, "
		"s.del - b.del)"
		"  END AS what"
		" FROM unnest($1::pg_catalog.text[], "
		"$2::pg_catalog.text[], $3::pg_catalog.text[], $4::pg_catalog.oid[], "
		"$5::pg_catalog.oid[], $6::pg_catalog.int8[], $7::pg_catalog.int8[], "
		"$8::pg_catalog.int8[]) "
		"b(slot, schema_name, table_name, relid, filenode, ins, upd, del)"
		" LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = b.schema_name"
		" LEFT JOIN pg_catalog.pg_class c"
		"  ON c.relnamespace = n.oid AND c.relname = b.table_name"
		" LEFT JOIN LATERAL (SELECT"
		"  pg_catalog.pg_stat_get_tuples_inserted(c.oid) AS ins,"
		"  pg_catalog.pg_stat_get_tuples_updated(c.oid) AS upd,"
		"  pg_catalog.pg_stat_get_tuples_deleted(c.oid) AS del) s ON true"
		") x WHERE what IS NOT NULL ORDER BY 1, 2, 3",
		COUNTER_COLUMNS + 3, params,
		"read the modification counters of the copy-only tables");
	for (int i = 0; i < COUNTER_COLUMNS + 3; i++)
		buf_free(&arrays[i]);
	return res;
}
