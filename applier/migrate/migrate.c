/*-------------------------------------------------------------------------
 *
 * migrate.c
 *	  Orchestrate a migration: preflight, slot and snapshot, schema, copy,
 *	  post-data, stream; and resume any of them after an interruption.
 *
 * The phases, as recorded in pgferry.migration on the target:
 *
 *	init	Nothing of the task is on the target but its row.  A slot left by
 *			an interrupted init is dropped and the phase starts over: create
 *			the slot with an exported snapshot, dump the schema in it, and
 *			in ONE target transaction restore pre-data, record the post-data
 *			statements and the copy plan, and move to `copy`.
 *	copy	Copy what the plan has not recorded as copied.  In the run that
 *			created the slot, in its snapshot; in a later run that snapshot
 *			is gone, so unfinished tables are copied again, whole, in the
 *			snapshot of a temporary slot created for the purpose, and
 *			pgferry.table_sync gives their new LSN to the follow job.
 *	stream	Follow the slot.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply/follow.h"
#include "catalog/catalog.h"
#include "catalog/publication.h"
#include "common/buf.h"
#include "common/exit.h"
#include "common/log.h"
#include "common/metrics.h"
#include "migrate/copy.h"
#include "migrate/migrate.h"
#include "migrate/preflight.h"
#include "migrate/roles.h"
#include "migrate/schema.h"
#include "state/appliers.h"
#include "state/copyonly.h"
#include "state/progress.h"
#include "state/state.h"
#include "stream/spool.h"

/* How long a slot left by a killed run may stay in use by its walsender. */
#define SLOT_BUSY_SECONDS 60

/* Tables named when refusing those another task holds (then a count). */
#define HELD_TABLES_NAMED 5

typedef struct Migrate
{
	const MigrateOptions *options;
	TableFilter *filter;
	PgConn *task_lock; /* holds the slot's task lock, all phases long */
	PgConn *source;	   /* SQL session */
	PgConn *target;
	PgConn *replication; /* holds the exported snapshot */
	char *snapshot;
	Lsn snapshot_lsn;
	char *dir;
	int dir_lock; /* see spool_lock_dir() */
	Migration state;
	Plugin plugin; /* the slot's, as preflight chose it */
	/* the relations whose post-data is this task's (find_covered) */
	PgResult *covered;
	const char **covered_schemas;
	const char **covered_names;
	int ncovered;
} Migrate;

/* --- the source ------------------------------------------------------------ */

static bool
slot_exists(PgConn *source, const char *slot, bool *exists)
{
	const char *params[1] = {slot};
	PgResult *res = pg_query_or_report(
		source, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", 1,
		params, "look for slot \"%s\"", slot);

	if (res == NULL)
		return false;
	*exists = pg_result_rows(res) > 0;
	pg_result_free(res);
	return true;
}

/*
 * Creates a slot on a replication connection, with an exported snapshot
 * that stays valid as long as that connection is left alone.
 */
static bool
create_slot_with_snapshot(Migrate *m, const char *slot, bool temporary)
{
	Buf sql = BUF_INIT;
	PgResult *res;

	m->replication =
		pg_connect(m->options->source, "source", PG_CONN_REPLICATION, NULL);
	if (m->replication == NULL)
		return false;
	buf_printf(&sql,
			   "CREATE_REPLICATION_SLOT %s%s LOGICAL %s "
			   "(SNAPSHOT 'export')",
			   slot, temporary ? " TEMPORARY" : "", PLUGIN_NAME(m->plugin));
	log_info("creating %sslot \"%s\" (waits for the transactions running on "
			 "the source to end)",
			 temporary ? "temporary " : "", slot);
	res = pg_query_or_report(m->replication, sql.data, 0, NULL,
							 "create replication slot \"%s\"", slot);
	buf_free(&sql);
	if (res == NULL)
		return false;
	pg_lsn_parse(pg_result_value(res, 0, 1), &m->snapshot_lsn);
	m->snapshot = xstrdup(pg_result_value(res, 0, 2));
	pg_result_free(res);
	log_info("slot \"%s\" consistent at %s, snapshot %s", slot,
			 pg_lsn_format(m->snapshot_lsn, (char[LSN_TEXT_LEN]){0}),
			 m->snapshot);
	return true;
}

static void
release_snapshot(Migrate *m)
{
	pg_disconnect(m->replication);
	m->replication = NULL;
	free(m->snapshot);
	m->snapshot = NULL;
}

/* A SQL session on the source inside the exported snapshot. */
static PgConn *
snapshot_session(Migrate *m)
{
	PgConn *conn = pg_connect(m->options->source, "source", PG_CONN_SQL, NULL);

	if (conn && !pg_begin_in_snapshot(conn, m->snapshot))
	{
		pg_report(conn, "read in snapshot %s", m->snapshot);
		pg_disconnect(conn);
		conn = NULL;
	}
	return conn;
}

/* --- phases ------------------------------------------------------------------ */

/* A phase begins: logged, and shown by the metrics (pgferry_phase). */
static void
enter_phase(const Migrate *m, MigrationPhase phase)
{
	LogFields fields = LOG_FIELDS_INIT;

	log_field(&fields, "slot", "%s", m->options->slot);
	log_field(&fields, "phase", "%s", state_phase_name(phase));
	log_event(LOG_LEVEL_INFO, &fields, "phase %s", state_phase_name(phase));
	metrics_set_state(METRIC_PHASE, state_phase_name(phase));
	metrics_heartbeat();
}

static bool
make_dir(Migrate *m)
{
	Buf dir = BUF_INIT;

	if (m->options->dir)
		buf_append_str(&dir, m->options->dir);
	else
	{
		char *spool_dir = follow_default_spool_dir(m->options->slot);

		buf_append_str(&dir, spool_dir);
		free(spool_dir);
	}
	if (!spool_private_dir(dir.data, "--dir"))
	{
		buf_free(&dir);
		return false;
	}
	m->dir_lock = spool_lock_dir(dir.data, "--dir");
	if (m->dir_lock < 0)
	{
		buf_free(&dir);
		return false;
	}
	m->dir = dir.data;
	return true;
}

/*
 * The tables and their partition ancestors: the relations whose post-data
 * statements are this task's (kept in m->covered).
 */
static bool
find_covered(Migrate *m, const SourceTables *tables)
{
	Buf oids = BUF_INIT;
	const char *params[1];
	PgResult *res;

	buf_append_str(&oids, "{");
	for (int i = 0; i < tables->count; i++)
		buf_printf(&oids, "%s%u", i ? "," : "", tables->tables[i].oid);
	buf_append_str(&oids, "}");
	params[0] = oids.data;
	res = pg_query_or_report(
		m->source,
		"SELECT DISTINCT n.nspname, c.relname\n"
		"FROM unnest($1::regclass[]) AS t(rel)\n"
		"CROSS JOIN LATERAL (SELECT t.rel UNION\n"
		"  SELECT relid FROM pg_partition_ancestors(t.rel)) a(relid)\n"
		"JOIN pg_class c ON c.oid = a.relid\n"
		"JOIN pg_namespace n ON n.oid = c.relnamespace",
		1, params, "list the tables and their partitioned parents");
	buf_free(&oids);
	if (res == NULL)
		return false;
	m->ncovered = pg_result_rows(res);
	m->covered_schemas = xcalloc(m->ncovered + 1, sizeof(char *));
	m->covered_names = xcalloc(m->ncovered + 1, sizeof(char *));
	for (int i = 0; i < m->ncovered; i++)
	{
		m->covered_schemas[i] = pg_result_value(res, i, 0);
		m->covered_names[i] = pg_result_value(res, i, 1);
	}
	m->covered = res;
	return true;
}

/*
 * Refuses tables that another task's plan holds: that task has copied them
 * and applies their changes; this one would empty them, copy them again and
 * apply every change a second time.  Returns EXIT_BLOCKED after naming
 * them, each other task apart.
 */
static int
check_tables_free(Migrate *m, const SourceTables *tables)
{
	PgResult *held;
	int nheld;
	int exit_code = EXIT_DONE;

	if (!state_tables_of_other_slots(m->target, m->options->slot, &held))
		return EXIT_OTHER;
	nheld = held ? pg_result_rows(held) : 0;
	for (int i = 0; i < nheld;)
	{
		const char *slot = pg_result_value(held, i, 0);
		Buf names = BUF_INIT;
		int taken = 0;

		for (; i < nheld && strcmp(pg_result_value(held, i, 0), slot) == 0;
			 i++)
		{
			const SourceTable *t =
				catalog_find(tables, pg_result_value(held, i, 1),
							 pg_result_value(held, i, 2));

			if (t && taken++ < HELD_TABLES_NAMED)
				buf_printf(&names, "%s%s", taken > 1 ? ", " : "",
						   t->qualified);
		}
		if (taken > HELD_TABLES_NAMED)
			buf_printf(&names, " and %d more", taken - HELD_TABLES_NAMED);
		if (taken > 0)
		{
			log_error("%d of this task's tables %s already migrated by slot "
					  "\"%s\": %s",
					  taken, plural(taken, "is", "are"), slot, names.data);
			exit_code = EXIT_BLOCKED;
		}
		buf_free(&names);
	}
	pg_result_free(held);
	if (exit_code == EXIT_BLOCKED)
		log_hint(
			"Narrow this task's --include-tables/--exclude-tables so that "
			"no two tasks share a table.  To migrate them again, stop "
			"every task, drop their slots on the source and start over "
			"with an empty target database.");
	return exit_code;
}

/*
 * Undoes the start of a task that failed or was refused in phase init:
 * nothing of it is on the target but its row, and its slot would keep the
 * source's WAL for nobody.  The row goes only with the slot: while it
 * stays, the next run knows the slot as its own.
 */
static void
abandon_start(Migrate *m)
{
	release_snapshot(m);
	if (!m->state.follow)
	{
		/* a copy-only task's slot is temporary: its session took it along */
		state_delete_migration(m->target, m->options->slot);
		return;
	}
	log_info("dropping slot \"%s\" and the state of its task",
			 m->options->slot);
	if (appliers_drop_slot(m->source, m->options->slot, SLOT_BUSY_SECONDS))
		state_delete_migration(m->target, m->options->slot);
	else
		log_hint("Running migrate again drops it (its task stays recorded "
				 "on the target), or drop it on the source: SELECT "
				 "pg_drop_replication_slot('%s');",
				 m->options->slot);
}

static bool
has_large_objects(PgConn *source, bool *any)
{
	PgResult *res = pg_query_or_report(
		source,
		"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata)", 0,
		NULL, "look for large objects");

	if (res == NULL)
		return false;
	*any = pg_result_value(res, 0, 0)[0] == 't';
	pg_result_free(res);
	return true;
}

/*
 * The roles the target lacks (--roles), created in the caller's
 * transaction on the target.
 */
static bool
create_roles(Migrate *m, PgConn *in_snapshot)
{
	SchemaRoles roles;
	bool ok;

	if (!schema_roles_read(in_snapshot, m->target, &roles))
		return false;
	ok = schema_roles_create(m->target, &roles, &m->options->modes);
	schema_roles_free(&roles);
	return ok;
}

/*
 * A copy-only task: records the counters (read before the snapshot) of the
 * tables the plan has still to copy, against which cutover compares.
 */
static bool
save_copy_only(Migrate *m, const PgResult *counters, const CopyPlan *plan)
{
	const char **schemas = xcalloc(plan->count + 1, sizeof(char *));
	const char **names = xcalloc(plan->count + 1, sizeof(char *));
	int n = 0;
	bool ok;

	/* a table's ranges are copied again all together: its first stands */
	for (int i = 0; i < plan->count; i++)
		if (plan->ranges[i].kind == COPY_ROWS &&
			plan->ranges[i].range_no == 0 &&
			plan->ranges[i].snapshot_lsn == LSN_INVALID)
		{
			schemas[n] = plan->ranges[i].schema;
			names[n++] = plan->ranges[i].table;
		}
	ok = copyonly_save(m->target, m->options->slot, counters, schemas, names,
					   n);
	free(schemas);
	free(names);
	return ok;
}

/*
 * A copy-only task run again once copied: the tables that changed on the
 * source since their copy are copied again, the others stay.
 */
static bool
recopy_changed(Migrate *m)
{
	PgResult *recorded;
	PgResult *unfinished;
	PgResult *changed = NULL;
	bool ok;

	if (!copyonly_load(m->target, &m->state.source, m->options->slot,
					   &recorded, &unfinished))
	{
		pg_result_free(recorded);
		return false;
	}
	ok = pg_result_rows(recorded) == 0 ||
		 (changed = copyonly_changed(m->source, recorded)) != NULL;
	for (int i = 0; ok && changed && i < pg_result_rows(changed); i++)
	{
		log_info("table %s changed on the source since its copy (%s): "
				 "copying it again",
				 pg_result_value(changed, i, 3),
				 pg_result_value(changed, i, 4));
		ok = state_reset_table(m->target, m->options->slot,
							   pg_result_value(changed, i, 1),
							   pg_result_value(changed, i, 2));
	}
	if (ok && (changed == NULL || pg_result_rows(changed) == 0))
		log_info("copy-only task \"%s\": none of its %d %s changed on the "
				 "source since its copy",
				 m->options->slot, pg_result_rows(recorded),
				 plural(pg_result_rows(recorded), "table", "tables"));
	else if (ok)
		ok = state_set_phase(m->target, m->options->slot, PHASE_COPY,
							 LSN_INVALID);
	pg_result_free(changed);
	pg_result_free(recorded);
	pg_result_free(unfinished);
	return ok;
}

/*
 * init: slot, snapshot, schema and plan.  On success the snapshot is still
 * exported (m->replication) for the copy; on failure the slot is dropped.
 */
static int
phase_init(Migrate *m, SourceTables *tables, CopyPlan *plan)
{
	const char *slot = m->options->slot;
	SchemaScript script = {0};
	PgConn *in_snapshot = NULL;
	PgResult *counters = NULL;
	bool exists, restored, large_objects = false;
	int free_code;
	int exit_code = EXIT_OTHER;

	if (!slot_exists(m->source, slot, &exists))
		return EXIT_CONNECTION;
	if (exists)
	{
		/* ours: an earlier run stopped before recording its snapshot */
		log_info("dropping slot \"%s\" left by an interrupted start", slot);
		if (!appliers_drop_slot(m->source, slot, SLOT_BUSY_SECONDS))
			return EXIT_CONNECTION;
	}
	/* a copy-only task's counters are read before its snapshot */
	if (!m->state.follow && (counters = copyonly_read(m->source)) == NULL)
		return EXIT_CONNECTION;
	/* pgoutput reads the publication as of each change: it comes first */
	if (m->plugin == PLUGIN_PGOUTPUT && m->state.follow &&
		!publication_ensure(m->source,
							m->options->publication ? m->options->publication
													: slot,
							slot, m->filter))
	{
		pg_result_free(counters);
		return EXIT_OTHER;
	}
	if (!create_slot_with_snapshot(m, slot, !m->state.follow))
	{
		pg_result_free(counters);
		return EXIT_CONNECTION;
	}
	if ((in_snapshot = snapshot_session(m)) == NULL)
	{
		exit_code = EXIT_CONNECTION;
		goto done;
	}
	if (!catalog_tables(in_snapshot, m->filter, tables) ||
		!schema_dump(m->options->source, m->snapshot, m->dir, in_snapshot,
					 &m->options->modes, &script))
		goto done;
	if (!tablefilter_has_include(m->filter) &&
		!has_large_objects(in_snapshot, &large_objects))
		goto done;
	copy_plan(tables, m->options->split_bytes, true, large_objects, plan);

	/* schema, post-data statements, plan and phase: all or nothing */
	if (!pg_exec(m->target, "BEGIN") ||
		!state_lock_schema(m->target, &restored))
		goto done;
	/* a task started at the same time may have taken some of the tables */
	free_code = check_tables_free(m, tables);
	if (free_code != EXIT_DONE)
	{
		exit_code = free_code;
		goto done;
	}
	if (restored)
		log_info("schema already restored by another task: not restoring it");
	else
	{
		log_info("restoring the schema on the target (pre-data)");
		if ((m->options->modes.create_roles &&
			 !create_roles(m, in_snapshot)) ||
			!schema_restore_pre_data(m->target, &script) ||
			!schema_relax_identity(m->target) ||
			!state_insert_post_data(m->target, &script.post_data) ||
			!state_mark_schema_restored(m->target, slot))
			goto done;
	}
	if (!state_insert_plan(m->target, slot, plan) ||
		(counters && !save_copy_only(m, counters, plan)) ||
		!state_set_phase(m->target, slot, PHASE_COPY, m->snapshot_lsn) ||
		!pg_exec(m->target, "COMMIT"))
		goto done;
	m->state.phase = PHASE_COPY;
	m->state.consistent_lsn = m->snapshot_lsn;
	exit_code = EXIT_DONE;

done:
	if (exit_code != EXIT_DONE)
		pg_exec(m->target, "ROLLBACK");
	pg_disconnect(in_snapshot);
	pg_result_free(counters);
	schema_script_free(&script);
	if (exit_code != EXIT_DONE)
		abandon_start(m);
	return exit_code;
}

static bool
plan_complete(const CopyPlan *plan)
{
	for (int i = 0; i < plan->count; i++)
		if (plan->ranges[i].snapshot_lsn == LSN_INVALID)
			return false;
	return true;
}

static bool
post_data_pending(const PostDataList *post_data)
{
	for (int i = 0; i < post_data->count; i++)
		if (!post_data->items[i].done)
			return true;
	return false;
}

/*
 * A target restart during the copy ends migrate's own two sessions there
 * too, which the copy's workers, reconnecting by themselves, leave alone:
 * after the copy both are opened again, with the waits and the bound of a
 * copy unit.  The task lock died with its session, so it is taken again
 * before anything is written; a migrate of the same slot that took it in
 * between makes this one stop.
 */
static bool
target_sessions_alive(Migrate *m)
{
	CopyRetry retry = COPY_RETRY_INIT;
	PgConn *lost = !pg_exec(m->task_lock, "SELECT 1") ? m->task_lock
				   : !pg_exec(m->target, "SELECT 1")  ? m->target
													  : NULL;

	if (lost == NULL)
		return true;
	/* opened again below: a lost connection is a warning */
	pg_set_retried(lost);
	pg_report(lost, "reach migrate's session after the copy");
	for (;;)
	{
		PgConnRequest requests[2] = {
			{m->options->target, "target", PG_CONN_SQL, NULL, NULL, true},
			{m->options->target, "target", PG_CONN_SQL,
			 STATE_TASK_LOCK_OPTIONS, NULL, true}};
		bool busy = false;
		bool locked;
		int wait = copy_retry_wait(&retry);

		pg_disconnect(m->target);
		pg_disconnect(m->task_lock);
		m->target = m->task_lock = NULL;
		if (wait < 0)
		{
			log_error("gave up connecting to the target again after the copy "
					  "of slot \"%s\": it stayed unreachable for %.0f s",
					  m->options->slot, COPY_RETRY_TOTAL_SECONDS);
			log_hint("Run migrate again once the target is back: it resumes "
					 "where the copy ended.");
			return false;
		}
		log_warning("migrate's sessions on the target were lost during the "
					"copy (a restart of the target?): connecting again in "
					"%d s",
					wait);
		sleep((unsigned) wait);
		pg_connect_all(requests, 2);
		m->target = requests[0].conn;
		m->task_lock = requests[1].conn;
		locked = m->task_lock &&
				 state_take_task_lock(m->task_lock, m->options->slot, &busy);
		if (busy)
			return false;
		if (locked && m->target &&
			pg_exec(m->target, "SET client_min_messages = warning"))
			return true;
	}
}

/*
 * copy: the tables, sequences, large objects and post-data not yet done.
 * Also run on a resumed stream: a foreign key that waited for another
 * task's table may be created now.
 */
static int
phase_copy(Migrate *m, SourceTables *tables, CopyPlan *plan, bool fresh)
{
	PostDataList post_data = {0};
	CopyOptions copy = {0};
	PgConn *in_snapshot = NULL;
	bool restored_by_us = false;
	int exit_code;
	PgResult *res;
	const char *params[1] = {m->options->slot};

	if (!fresh)
	{
		if ((m->state.phase == PHASE_COPIED && !recopy_changed(m)) ||
			!state_reset_unfinished(m->target, m->options->slot) ||
			!state_load_plan(m->target, m->options->slot, plan))
			return EXIT_OTHER;
		if (!plan_complete(plan))
		{
			char temporary[64];
			PgResult *counters = NULL;
			bool ok;

			/* the first snapshot died with the run that exported it */
			snprintf(temporary, sizeof(temporary), "pgferry_resync_%d",
					 (int) getpid());
			log_info("resuming the copy: tables left unfinished are copied "
					 "again in a new snapshot");
			if (!m->state.follow &&
				(counters = copyonly_read(m->source)) == NULL)
				return EXIT_CONNECTION;
			ok = create_slot_with_snapshot(m, temporary, true);
			if (ok && counters && !save_copy_only(m, counters, plan))
			{
				pg_result_free(counters);
				return EXIT_OTHER;
			}
			pg_result_free(counters);
			if (!ok)
				return EXIT_CONNECTION;
		}
	}
	/* the tables as the snapshot sees them (or as now, all being copied) */
	if (m->snapshot)
	{
		if ((in_snapshot = snapshot_session(m)) == NULL)
			return EXIT_CONNECTION;
	}
	if (tables->count == 0 &&
		!catalog_tables(in_snapshot ? in_snapshot : m->source, m->filter,
						tables))
	{
		pg_disconnect(in_snapshot);
		return EXIT_CONNECTION;
	}
	pg_disconnect(in_snapshot);

	res = pg_query_or_report(
		m->target,
		"SELECT EXISTS (SELECT 1 FROM pgferry.schema_restore "
		"WHERE restored_by = $1)",
		1, params, "read pgferry.schema_restore");
	if (res == NULL)
		return EXIT_OTHER;
	restored_by_us = pg_result_value(res, 0, 0)[0] == 't';
	pg_result_free(res);
	if (!find_covered(m, tables) ||
		!state_claim_post_data(m->target, m->options->slot, m->covered_schemas,
							   m->covered_names, m->ncovered, restored_by_us,
							   &post_data))
		return EXIT_OTHER;

	copy.source = m->options->source;
	copy.target = m->options->target;
	copy.slot = m->options->slot;
	copy.snapshot = m->snapshot;
	copy.snapshot_lsn = m->snapshot_lsn;
	copy.jobs = m->options->jobs;
	copy.live_progress = !m->options->log_progress && isatty(STDERR_FILENO);
	copy.filter = m->filter;
	copy.covered_schemas = m->covered_schemas;
	copy.covered_names = m->covered_names;
	copy.ncovered = m->ncovered;
	copy.source_session = m->state.follow ? m->source : NULL;
	copy.max_retained_wal = m->options->max_retained_wal;
	exit_code = EXIT_DONE;
	if (!plan_complete(plan) || post_data_pending(&post_data))
		exit_code = copy_run(&copy, tables, plan, &post_data);
	state_post_data_free(&post_data);
	release_snapshot(m);
	if (exit_code == EXIT_DONE && !target_sessions_alive(m))
		exit_code = EXIT_CONNECTION;
	if (exit_code == EXIT_DONE &&
		!state_set_phase(m->target, m->options->slot,
						 m->state.follow ? PHASE_STREAM : PHASE_COPIED,
						 LSN_INVALID))
		exit_code = EXIT_OTHER;
	return exit_code;
}

static int
phase_stream(Migrate *m)
{
	FollowOptions follow;

	follow_options_init(&follow);
	follow.source = m->options->source;
	follow.target = m->options->target;
	follow.slot = m->options->slot;
	follow.plugin = m->plugin;
	follow.publication = m->options->publication;
	follow.endpos = m->options->endpos;
	follow.include_tables = m->options->include_tables;
	follow.ninclude = m->options->ninclude;
	follow.exclude_tables = m->options->exclude_tables;
	follow.nexclude = m->options->nexclude;
	follow.fire_triggers = m->options->fire_triggers;
	follow.ordered = m->options->ordered;
	follow.skip_ddl = m->options->skip_ddl;
	follow.sequences_interval_s = m->options->sequences_interval_s;
	follow.spool_dir = m->dir;
	follow.log_lag = true;
	follow.task_lock = m->task_lock; /* held on, by follow now */
	m->task_lock = NULL;
	log_info("copy complete: following slot \"%s\"%s", m->options->slot,
			 m->options->endpos != LSN_INVALID ? " up to --endpos"
											   : " until stopped");
	return follow_run(&follow);
}

/* --- the command ------------------------------------------------------------- */

/* Checks that a resumed run is the same migration, with the same tables. */
static bool
same_migration(const Migrate *m, const Migration *found)
{
	if (strcmp(found->source.system_identifier,
			   m->state.source.system_identifier) != 0 ||
		strcmp(found->source.database, m->state.source.database) != 0)
	{
		log_error("slot \"%s\" on the target belongs to the migration of "
				  "another source (system %s, database %s)",
				  m->options->slot, found->source.system_identifier,
				  found->source.database);
		log_hint("Use another --slot, or another target database.");
		return false;
	}
	if (strcmp(found->table_filters, m->state.table_filters) != 0)
	{
		log_error("the migration of slot \"%s\" was started with other "
				  "table filters (%s)",
				  m->options->slot, found->table_filters);
		log_hint("Run it again with the same --include-tables and "
				 "--exclude-tables, or use another --slot.");
		return false;
	}
	if (found->follow != m->state.follow)
	{
		log_error("the migration of slot \"%s\" was started %s --no-follow",
				  m->options->slot, found->follow ? "without" : "with");
		log_hint("Run it again %s --no-follow, or use another --slot.",
				 found->follow ? "without" : "with");
		return false;
	}
	return true;
}

static int
start_or_resume(Migrate *m, bool *resuming)
{
	Migration found = {0};
	bool busy, exists;
	PreflightOptions preflight = {0};
	int blocking;

	m->task_lock =
		state_lock_task(m->options->target, m->options->slot, &busy);
	if (m->task_lock == NULL)
		return busy ? EXIT_OTHER : EXIT_CONNECTION;

	/* IF NOT EXISTS notices on a resumed run say nothing useful */
	if (!pg_exec(m->target, "SET client_min_messages = warning"))
	{
		pg_report(m->target, "set up the session");
		return EXIT_OTHER;
	}
	if (!source_id_read(m->source, &m->state.source) ||
		!state_get_migration(m->target, m->options->slot, &found, &exists))
		return EXIT_OTHER;
	m->state.table_filters = xstrdup(tablefilter_describe(m->filter));
	m->state.follow = !m->options->no_follow;
	*resuming = exists;
	if (exists)
	{
		bool same = same_migration(m, &found);

		m->state.phase = found.phase;
		m->state.consistent_lsn = found.consistent_lsn;
		state_migration_free(&found);
		if (!same)
			return EXIT_USAGE;
		log_info("resuming the migration of slot \"%s\" (phase %s)",
				 m->options->slot, state_phase_name(m->state.phase));
	}
	/* before changing anything (phase_init checks again, under its lock) */
	if (!exists || m->state.phase == PHASE_INIT)
	{
		SourceTables tables = {0};
		int free_code = EXIT_OTHER;

		if (catalog_tables(m->source, m->filter, &tables))
			free_code = check_tables_free(m, &tables);
		catalog_free(&tables);
		if (free_code != EXIT_DONE)
			return free_code;
	}

	preflight.source = m->options->source;
	preflight.target = m->options->target;
	preflight.slot = m->options->slot;
	preflight.filter = m->filter;
	preflight.modes = m->options->modes;
	preflight.resuming = exists;
	preflight.quiet = true;
	preflight.jobs = m->options->jobs;
	preflight.plugin = m->options->plugin;
	preflight.chosen = &m->plugin;
	blocking = preflight_check(m->source, m->target, &preflight);
	if (blocking < 0)
		return EXIT_OTHER;
	if (blocking > 0)
	{
		log_error("preflight found %d problem%s that block%s the migration "
				  "(above, each with its fix)",
				  blocking, blocking > 1 ? "s" : "", blocking > 1 ? "" : "s");
		return EXIT_BLOCKED;
	}
	/* the follow job's table too, so that it has nothing to create */
	if (!state_create(m->target) || !progress_prepare(m->target))
		return EXIT_OTHER;
	if (!exists)
	{
		m->state.phase = PHASE_INIT;
		if (!state_insert_migration(m->target, m->options->slot, &m->state))
			return EXIT_OTHER;
	}
	return EXIT_DONE;
}

int
migrate_run(const MigrateOptions *options)
{
	Migrate m = {0};
	MigrateOptions resolved = *options;
	char *default_slot = NULL;
	SourceTables tables = {0};
	CopyPlan plan = {0};
	bool resuming = false;
	int exit_code;

	m.options = &resolved;
	m.dir_lock = -1;
	m.filter = tablefilter_compile(options->include_tables, options->ninclude,
								   options->exclude_tables, options->nexclude);
	if (m.filter == NULL)
		return EXIT_USAGE;
	if (!pg_connect_both(options->source, options->target, NULL, &m.source,
						 &m.target))
		exit_code = EXIT_CONNECTION;
	else
	{
		/* slot names are per server: the default names the database */
		if (options->slot == NULL)
		{
			default_slot = appliers_default_slot(pg_database(m.source));
			resolved.slot = default_slot;
			log_info("task \"%s\" (the default --slot for database \"%s\")",
					 resolved.slot, pg_database(m.source));
		}
		exit_code = make_dir(&m) ? start_or_resume(&m, &resuming) : EXIT_OTHER;
	}

	if (exit_code == EXIT_DONE && m.state.phase == PHASE_INIT)
	{
		enter_phase(&m, PHASE_INIT);
		exit_code = phase_init(&m, &tables, &plan);
	}
	if (exit_code == EXIT_DONE)
	{
		if (m.state.phase != PHASE_STREAM)
			enter_phase(&m, m.state.phase);
		exit_code = phase_copy(&m, &tables, &plan, m.snapshot != NULL);
	}
	release_snapshot(&m);
	pg_disconnect(m.source);
	pg_disconnect(m.target);
	m.source = m.target = NULL;
	if (exit_code == EXIT_DONE && m.state.follow)
	{
		enter_phase(&m, PHASE_STREAM);
		exit_code = phase_stream(&m);
	}
	else if (exit_code == EXIT_DONE)
	{
		enter_phase(&m, PHASE_COPIED);
		log_info("copy-only task \"%s\" done: its tables are copied, no slot "
				 "is left on the source, and pgferry cutover refuses to "
				 "switch if they change on the source",
				 resolved.slot);
	}
	if (exit_code != EXIT_DONE && exit_code != EXIT_USAGE && m.state.follow &&
		m.state.phase != PHASE_INIT)
		log_info("slot \"%s\" stays on the source, keeping its WAL, so that "
				 "running migrate again resumes; to give the migration up "
				 "instead: SELECT pg_drop_replication_slot('%s'); on the "
				 "source",
				 resolved.slot, resolved.slot);

	catalog_free(&tables);
	state_plan_free(&plan);
	state_migration_free(&m.state);
	tablefilter_free(m.filter);
	pg_result_free(m.covered);
	free(m.covered_schemas);
	free(m.covered_names);
	pg_disconnect(m.task_lock);
	spool_unlock_dir(m.dir, m.dir_lock);
	free(m.dir);
	free(default_slot);
	return exit_code;
}
