/*-------------------------------------------------------------------------
 *
 * cutover_checks.c
 *	  What must hold before the source stops taking writes.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "common/log.h"
#include "cutover/cutover_checks.h"
#include "state/copyonly.h"

bool
cutover_no_prepared(PgConn *source, const SourceId *id)
{
	PgResult *res = pg_query_or_report(
		source,
		"SELECT gid FROM pg_catalog.pg_prepared_xacts "
		"WHERE database = pg_catalog.current_database() ORDER BY prepared",
		0, NULL, "list prepared transactions");
	int n;

	if (res == NULL)
		return false;
	n = pg_result_rows(res);
	for (int i = 0; i < n; i++)
		log_error("source: database %s has prepared transaction '%s', "
				  "which could still commit after the database is "
				  "read-only",
				  id->database_sql, pg_result_value(res, i, 0));
	if (n > 0)
	{
		char *gid = pg_quote_literal(pg_result_value(res, 0, 0));

		log_hint("finish %s first: COMMIT PREPARED %s or ROLLBACK PREPARED "
				 "%s%s",
				 n > 1 ? "each" : "it", gid, gid, n > 1 ? ", and so on" : "");
		free(gid);
	}
	pg_result_free(res);
	return n == 0;
}

bool
cutover_find_slots(PgConn *source, PgConn *target, const SourceId *id,
				   const char *names, bool copy_only, Appliers *appliers)
{
	bool ok = true;

	if (!appliers_find(source, target, id, names, appliers))
		return false;
	if (appliers->count == 0 && !copy_only)
	{
		log_error("target: no pgferry applier has recorded progress for "
				  "source database %s (system %s) in pgferry.progress",
				  id->database_sql, id->system_identifier);
		log_hint("run pgferry migrate (or follow) from this source into "
				 "this target first, or name the slot with --slot");
		return false;
	}
	for (int i = 0; i < appliers->count; i++)
	{
		const ApplierSlot *slot = &appliers->slots[i];

		if (!slot->exists)
		{
			log_error("source: replication slot \"%s\" does not exist",
					  slot->name);
			log_hint("if it belonged to a finished task, name the slots to "
					 "wait for with --slot (or delete its row from "
					 "pgferry.progress on the target)");
		}
		else if (!slot->in_database)
			log_error("source: replication slot \"%s\" does not belong to "
					  "database %s",
					  slot->name, id->database_sql);
		else if (!slot->active)
		{
			log_error("source: replication slot \"%s\" is not in use: no "
					  "pgferry follow or migrate is applying it",
					  slot->name);
			log_hint("start pgferry follow --slot %s (or the migrate that "
					 "owns it), wait until pgferry status shows little lag, "
					 "then run the cutover",
					 slot->name);
		}
		else
		{
			log_info("cutover: waiting for slot \"%s\" once the source is "
					 "read-only",
					 slot->name);
			continue;
		}
		ok = false;
	}
	return ok;
}

bool
cutover_post_data_done(PgConn *target)
{
	PgResult *res = pg_query_or_report(
		target, "SELECT pg_catalog.to_regclass('pgferry.post_data')", 0, NULL,
		"look for pgferry.post_data");
	bool migrated;
	long pending;

	if (res == NULL)
		return false;
	migrated = pg_result_value(res, 0, 0) != NULL;
	pg_result_free(res);
	if (!migrated)
		return true;
	res = pg_query_or_report(
		target,
		"SELECT count(*), pg_catalog.string_agg(description, '; ') "
		"FILTER (WHERE n <= 3) FROM (SELECT description, "
		"row_number() OVER (ORDER BY position) AS n FROM pgferry.post_data "
		"WHERE done_at IS NULL) p",
		0, NULL, "read pgferry.post_data");
	if (res == NULL)
		return false;
	pending = atol(pg_result_value(res, 0, 0));
	if (pending > 0)
	{
		log_error("target: %ld post-data %s of the migration %s not run "
				  "yet (%s%s)",
				  pending, plural(pending, "statement", "statements"),
				  plural(pending, "has", "have"), pg_result_value(res, 0, 1),
				  pending > 3 ? "; ..." : "");
		log_hint("a migration task has not finished its copy: wait until "
				 "pgferry status shows every task streaming (run a stopped "
				 "task's pgferry migrate again), then run the cutover");
	}
	pg_result_free(res);
	return pending == 0;
}

bool
cutover_copy_only_unchanged(PgConn *source, const PgResult *recorded,
							bool *unchanged)
{
	PgResult *changed;

	*unchanged = true;
	if (pg_result_rows(recorded) == 0)
		return true;
	if ((changed = copyonly_changed(source, recorded)) == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(changed); i++)
		log_error("source: table %s of copy-only task \"%s\" changed since "
				  "its copy: %s",
				  pg_result_value(changed, i, 3),
				  pg_result_value(changed, i, 0),
				  pg_result_value(changed, i, 4));
	if (pg_result_rows(changed) > 0)
	{
		log_hint("copy them again: run the task's pgferry migrate "
				 "--no-follow again (same --slot and filters), which copies "
				 "the tables that changed; if they keep changing, migrate "
				 "them in a task that follows its slot");
		*unchanged = false;
	}
	pg_result_free(changed);
	return true;
}

bool
cutover_copy_only_ready(PgConn *source, PgConn *target, const SourceId *id,
						PgResult **recorded, bool *ready)
{
	PgResult *unfinished;
	bool ok;

	*ready = false;
	if (!copyonly_load(target, id, NULL, recorded, &unfinished))
	{
		pg_result_free(unfinished);
		return false;
	}
	for (int i = 0; i < pg_result_rows(unfinished); i++)
	{
		log_error("target: copy-only task \"%s\" has not finished its copy "
				  "(phase %s)",
				  pg_result_value(unfinished, i, 0),
				  pg_result_value(unfinished, i, 1));
		log_hint("run its pgferry migrate --no-follow again, then the "
				 "cutover");
	}
	ok = cutover_copy_only_unchanged(source, *recorded, ready);
	*ready = *ready && pg_result_rows(unfinished) == 0;
	pg_result_free(unfinished);
	return ok;
}
