/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  pgferry.progress on the target: what has been applied.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "state/progress.h"

/*
 * system_identifier is numeric: it is an unsigned 64-bit value, beyond
 * bigint's range for half of all clusters.
 */
static const char progress_ddl[] =
	"CREATE TABLE IF NOT EXISTS pgferry.progress (\n"
	"    slot_name         text        NOT NULL,\n"
	"    system_identifier numeric(20) NOT NULL,\n"
	"    database          text        NOT NULL,\n"
	"    commit_lsn        pg_lsn      NOT NULL,\n"
	"    end_lsn           pg_lsn      NOT NULL,\n"
	"    rows_applied      bigint      NOT NULL DEFAULT 0,\n"
	"    updated_at        timestamptz NOT NULL DEFAULT now(),\n"
	"    PRIMARY KEY (slot_name, system_identifier, database)\n"
	");\n"
	"COMMENT ON TABLE pgferry.progress IS 'pgferry: last source transaction "
	"applied per slot; written in the same transaction as the data';\n"
	"COMMENT ON COLUMN pgferry.progress.rows_applied IS 'row changes applied "
	"since the slot''s start (cutover reports those of its window)';";

/*
 * Serialises the pgferry processes that create their tables on one target
 * (the tasks of a migration start together): concurrent CREATE TABLE IF
 * NOT EXISTS of one name fails on pg_type's unique index.
 */
#define PGFERRY_DDL_LOCK                                                      \
	"SELECT pg_advisory_xact_lock(hashtext('pgferry ddl'))"

/*
 * Creates schema pgferry unless it exists: CREATE SCHEMA IF NOT EXISTS
 * needs CREATE on the database even then, and an administrator may have
 * created the schema for a role that has CREATE on it alone.
 */
static bool
create_schema(PgConn *target)
{
	PgResult *res =
		pg_query(target, "SELECT to_regnamespace('pgferry') IS NULL", 0, NULL);
	bool missing = res && strcmp(pg_result_value(res, 0, 0), "t") == 0;

	pg_result_free(res);
	return res && (!missing || pg_exec(target, "CREATE SCHEMA pgferry"));
}

bool
progress_run_ddl(PgConn *target, const char *ddl, const char *what)
{
	if (pg_exec(target, "BEGIN") && pg_exec(target, PGFERRY_DDL_LOCK) &&
		create_schema(target) && pg_exec(target, ddl) &&
		pg_exec(target, "COMMIT"))
		return true;
	pg_report(target, "%s", what);
	if (strcmp(pg_error_sqlstate(target), "42501") == 0)
		log_hint("let role \"%s\" create schemas (GRANT CREATE ON "
				 "DATABASE ... TO \"%s\"), or have an administrator "
				 "create schema pgferry owned by it",
				 pg_user(target), pg_user(target));
	pg_exec(target, "ROLLBACK");
	return false;
}

bool
progress_prepare(PgConn *target)
{
	PgResult *res;
	bool exists;

	/* the table may exist already where we may not create anything */
	res = pg_query(
		target, "SELECT to_regclass('pgferry.progress') IS NOT NULL", 0, NULL);
	if (res == NULL)
	{
		pg_report(target, "look for table pgferry.progress");
		return false;
	}
	exists = strcmp(pg_result_value(res, 0, 0), "t") == 0;
	pg_result_free(res);
	return exists || progress_run_ddl(target, progress_ddl,
									  "create table pgferry.progress");
}

bool
progress_read(PgConn *target, const ProgressKey *key, Lsn *commit_lsn,
			  Lsn *end_lsn)
{
	const char *params[3] = {key->slot, key->system_identifier, key->database};
	PgResult *res;
	bool ok = true;

	*commit_lsn = *end_lsn = LSN_INVALID;
	res = pg_query(target,
				   "SELECT commit_lsn, end_lsn FROM pgferry.progress "
				   "WHERE slot_name = $1 AND system_identifier = $2 "
				   "AND database = $3",
				   3, params);
	if (res == NULL)
	{
		pg_report(target, "read pgferry.progress");
		return false;
	}
	if (pg_result_rows(res) == 1)
		ok = pg_lsn_parse(pg_result_value(res, 0, 0), commit_lsn) &&
			 pg_lsn_parse(pg_result_value(res, 0, 1), end_lsn);
	pg_result_free(res);
	return ok;
}

bool
progress_send(PgConn *target, const ProgressKey *key, Lsn commit_lsn,
			  Lsn end_lsn, uint64_t rows)
{
	char commit_text[LSN_TEXT_LEN];
	char end_text[LSN_TEXT_LEN];
	char rows_text[24];
	const char *values[6] = {key->slot,
							 key->system_identifier,
							 key->database,
							 pg_lsn_format(commit_lsn, commit_text),
							 pg_lsn_format(end_lsn, end_text),
							 rows_text};
	PgParams params = {6, NULL, values, NULL, NULL};

	snprintf(rows_text, sizeof(rows_text), "%" PRIu64, rows);
	return pg_send_query(
		target,
		"INSERT INTO pgferry.progress AS p (slot_name, "
		"system_identifier, database, commit_lsn, end_lsn, rows_applied) "
		"VALUES ($1, $2, $3, $4, $5, $6) "
		"ON CONFLICT (slot_name, system_identifier, database) "
		"DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, "
		"end_lsn = EXCLUDED.end_lsn, "
		"rows_applied = p.rows_applied + EXCLUDED.rows_applied, "
		"updated_at = now()",
		&params);
}
