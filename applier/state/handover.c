/*-------------------------------------------------------------------------
 *
 * handover.c
 *	  pgferry.handover on the target: the cutovers that handed it over.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "state/handover.h"
#include "state/progress.h"

static const char handover_ddl[] =
	"CREATE SCHEMA IF NOT EXISTS pgferry;\n"
	"CREATE TABLE IF NOT EXISTS pgferry.handover (\n"
	"    system_identifier numeric(20) NOT NULL,\n"
	"    database          text        NOT NULL,\n"
	"    slots             text[]      NOT NULL,\n"
	"    last_lsn          pg_lsn      NOT NULL,\n"
	"    window_seconds    float8      NOT NULL,\n"
	"    handed_over_at    timestamptz NOT NULL DEFAULT now(),\n"
	"    PRIMARY KEY (system_identifier, database)\n"
	");\n"
	"COMMENT ON TABLE pgferry.handover IS 'pgferry: the cutovers that "
	"handed this database over, which pgferry finish asks for';";

bool
handover_prepare(PgConn *target)
{
	return progress_run_ddl(target, handover_ddl,
							"create table pgferry.handover");
}

bool
handover_record(PgConn *target, const SourceId *id, const Appliers *appliers,
				Lsn last_lsn, double window_seconds)
{
	Buf slots = BUF_INIT;
	char lsn[LSN_TEXT_LEN];
	char seconds[32];
	const char *params[5];
	PgResult *res;

	for (int i = 0; i < appliers->count; i++)
		pg_array_add(&slots, appliers->slots[i].name);
	snprintf(seconds, sizeof(seconds), "%.6f", window_seconds);
	params[0] = id->system_identifier;
	params[1] = id->database;
	params[2] = pg_array_close(&slots);
	params[3] = pg_lsn_format(last_lsn, lsn);
	params[4] = seconds;
	res = pg_query_or_report(
		target,
		"INSERT INTO pgferry.handover AS h (system_identifier, database, "
		"slots, last_lsn, window_seconds) VALUES ($1, $2, $3, $4, $5) "
		"ON CONFLICT (system_identifier, database) DO UPDATE SET "
		"slots = EXCLUDED.slots, last_lsn = EXCLUDED.last_lsn, "
		"window_seconds = EXCLUDED.window_seconds, handed_over_at = now()",
		5, params, "record the hand-over in pgferry.handover");
	buf_free(&slots);
	pg_result_free(res);
	return res != NULL;
}

bool
handover_find(PgConn *target, const SourceId *id, bool *found, char **slots,
			  char **when)
{
	const char *params[2] = {id->system_identifier, id->database};
	PgResult *res;

	*found = false;
	*slots = *when = NULL;
	res = pg_query(target,
				   "SELECT pg_catalog.array_to_string(slots, ','), "
				   "handed_over_at FROM pgferry.handover "
				   "WHERE system_identifier = $1 AND database = $2",
				   2, params);
	if (res == NULL)
	{
		/* no such table: no cutover ever ran here */
		if (strcmp(pg_error_sqlstate(target), "42P01") == 0)
			return true;
		pg_report(target, "read pgferry.handover");
		return false;
	}
	*found = pg_result_rows(res) == 1;
	if (*found)
	{
		*slots = xstrdup(pg_result_value(res, 0, 0));
		*when = xstrdup(pg_result_value(res, 0, 1));
	}
	pg_result_free(res);
	return true;
}
