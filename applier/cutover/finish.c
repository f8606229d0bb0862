/*-------------------------------------------------------------------------
 *
 * finish.c
 *	  `pgferry finish`: drop the slots (and the publications pgferry made
 *	  for pgoutput slots) on the source and the pgferry schema on the
 *	  target once a cutover has handed the target over.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/publication.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/exit.h"
#include "common/log.h"
#include "cutover/finish.h"
#include "cutover/readonly.h"
#include "pg/pg.h"
#include "state/appliers.h"
#include "state/handover.h"

/* How long the walsender of an applier stopped just before may linger. */
#define APPLIER_GONE_SECONDS 5

static const char session_options[] =
	"-c default_transaction_read_only=off -c search_path=pg_catalog "
	"-c client_min_messages=warning";

typedef struct Finish
{
	PgConn *source;
	PgConn *target;
	SourceId id;
	Appliers appliers; /* the slots the cutover waited for */
	PgResult *objects; /* the pgferry schema's relations on the target */
} Finish;

/*
 * Refuses (*ok false) when table, a pgferry state table of the target
 * (maybe missing), records a source database other than f's.
 */
static bool
other_source(Finish *f, const char *table, const char *system_column,
			 const char *database_column, bool *ok)
{
	const char *params[2] = {f->id.system_identifier, f->id.database};
	Buf sql = BUF_INIT;
	PgResult *res;

	buf_printf(&sql,
			   "SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format("
			   "'%%I (system %%s)', %s, %s), ', ') FROM %s "
			   "WHERE (%s::pg_catalog.text, %s) <> ($1, $2)",
			   database_column, system_column, table, system_column,
			   database_column);
	res = pg_query(f->target, sql.data, 2, params);
	buf_free(&sql);
	if (res == NULL)
	{
		/* 42P01: no such table, so no other source in it */
		if (strcmp(pg_error_sqlstate(f->target), "42P01") == 0)
			return true;
		pg_report(f->target, "read %s", table);
		return false;
	}
	if (pg_result_value(res, 0, 0) != NULL)
	{
		log_error("target: the pgferry schema also holds the migration of "
				  "source database %s",
				  pg_result_value(res, 0, 0));
		log_hint("finish the migration of each source before removing the "
				 "schema they share");
		*ok = false;
	}
	pg_result_free(res);
	return true;
}

/*
 * Whether both databases are as a successful cutover leaves them, and the
 * pgferry schema holds only this source's state.  Reports what is not.
 */
static bool
handed_over(Finish *f, char **slots)
{
	bool found, source_read_only, target_read_only;
	char *when = NULL;
	bool ok = true;

	if (!handover_find(f->target, &f->id, &found, slots, &when))
		return false;
	if (!found)
	{
		log_error("target: no cutover from source database %s (system %s) "
				  "is recorded here (pgferry.handover): nothing to finish",
				  f->id.database_sql, f->id.system_identifier);
		log_hint("run pgferry cutover first: finish removes the slots a fall "
				 "back to the source needs");
		return false;
	}
	log_info("finish: the cutover handed the target over at %s", when);
	free(when);
	if (!readonly_is_set(f->source, &source_read_only) ||
		!readonly_is_set(f->target, &target_read_only))
		return false;
	if (!source_read_only)
	{
		log_error("source: database %s takes writes again since the cutover "
				  "(pgferry cutover --abort?): what it wrote since is not on "
				  "the target",
				  f->id.database_sql);
		log_hint("run pgferry cutover again, then pgferry finish");
		ok = false;
	}
	if (target_read_only)
	{
		log_error("target: the database is left read-only: the check after "
				  "the cutover found a difference");
		log_hint("decide first: pgferry cutover --release-target keeps the "
				 "target, pgferry cutover --abort falls back to the source");
		ok = false;
	}
	if (!other_source(f, "pgferry.progress", "system_identifier", "database",
					  &ok) ||
		!other_source(f, "pgferry.migration", "source_system_identifier",
					  "source_database", &ok))
		return false;
	return ok;
}

/*
 * Whether no applier runs on the slots, waiting a little for the
 * walsenders of appliers stopped just before.
 */
static bool
appliers_stopped(Finish *f, const char *slots, bool *stopped)
{
	double deadline = clock_seconds() + APPLIER_GONE_SECONDS;

	for (;;)
	{
		appliers_free(&f->appliers);
		if (!appliers_find(f->source, f->target, &f->id, slots, &f->appliers))
			return false;
		*stopped = true;
		for (int i = 0; i < f->appliers.count; i++)
			*stopped = *stopped && !f->appliers.slots[i].active;
		if (*stopped || clock_seconds() > deadline)
			break;
		sleep(1);
	}
	for (int i = 0; i < f->appliers.count && !*stopped; i++)
		if (f->appliers.slots[i].active)
		{
			log_error("source: replication slot \"%s\" is in use: a pgferry "
					  "follow or migrate still applies it",
					  f->appliers.slots[i].name);
			log_hint("stop it (it has applied everything: the source is "
					 "read-only), then run pgferry finish again");
		}
	return true;
}

/* The relations of schema pgferry on the target, listed for the report. */
static bool
list_objects(Finish *f, Buf *list)
{
	f->objects = pg_query_or_report(
		f->target,
		"SELECT CASE c.relkind WHEN 'v' THEN 'view ' "
		"WHEN 'S' THEN 'sequence ' ELSE 'table ' END || "
		"pg_catalog.format('%I.%I', n.nspname, c.relname) "
		"FROM pg_catalog.pg_class c "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE n.nspname = 'pgferry' AND c.relkind IN ('r', 'p', 'v', 'S', "
		"'m') ORDER BY 1",
		0, NULL, "list the pgferry schema");
	if (f->objects == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(f->objects); i++)
		buf_printf(list, "%s%s", i ? ", " : "",
				   pg_result_value(f->objects, i, 0));
	return true;
}

/* Notes the pgferry extension an operator installed on the source. */
static void
note_extension(Finish *f)
{
	PgResult *res = pg_query(f->source,
							 "SELECT 1 FROM pg_catalog.pg_extension "
							 "WHERE extname = 'pgferry'",
							 0, NULL);

	if (res && pg_result_rows(res) > 0)
		printf("finish: extension pgferry stays installed on the source "
			   "(pgferry never installs it): DROP EXTENSION pgferry; removes "
			   "it\n");
	pg_result_free(res);
}

int
finish_run(const FinishOptions *opts)
{
	Finish f;
	char *slots = NULL;
	Buf objects = BUF_INIT;
	bool stopped = false;
	int status = EXIT_BLOCKED;

	memset(&f, 0, sizeof(f));
	if (!pg_connect_both(opts->source, opts->target, session_options,
						 &f.source, &f.target))
		return EXIT_CONNECTION;
	if (!source_id_read(f.source, &f.id))
	{
		status = EXIT_OTHER;
		goto done;
	}
	if (!handed_over(&f, &slots) || !appliers_stopped(&f, slots, &stopped) ||
		!stopped)
		goto done;
	status = EXIT_OTHER;
	if (!list_objects(&f, &objects))
		goto done;

	/* nothing was changed up to here */
	for (int i = 0; i < f.appliers.count; i++)
	{
		if (!f.appliers.slots[i].exists)
			continue;
		if (!appliers_drop_slot(f.source, f.appliers.slots[i].name, 0))
			goto done;
		printf("finish: dropped replication slot \"%s\" on the source\n",
			   f.appliers.slots[i].name);
	}
	for (int i = 0; i < f.appliers.count; i++)
	{
		int dropped;

		if (!publication_drop_for_slot(f.source, f.appliers.slots[i].name,
									   &dropped))
			goto done;
		if (dropped)
			printf("finish: dropped the publication pgferry made for slot "
				   "\"%s\" on the source\n",
				   f.appliers.slots[i].name);
	}
	if (!pg_exec(f.target, "DROP SCHEMA pgferry CASCADE"))
	{
		pg_report(f.target, "drop schema pgferry");
		log_hint("run it as the owner of schema pgferry (the role pgferry "
				 "migrate ran as), or as a superuser");
		goto done;
	}
	printf("finish: dropped schema pgferry from the target, with its "
		   "state: %s\n",
		   objects.len ? objects.data : "nothing else");
	note_extension(&f);
	printf("finish: done; database %s of the source stays read-only (ALTER "
		   "DATABASE %s RESET default_transaction_read_only makes it "
		   "writable)\n",
		   f.id.database_sql, f.id.database_sql);
	fflush(stdout);
	status = EXIT_DONE;

done:
	free(slots);
	buf_free(&objects);
	pg_result_free(f.objects);
	appliers_free(&f.appliers);
	source_id_free(&f.id);
	pg_disconnect(f.source);
	pg_disconnect(f.target);
	return status;
}
