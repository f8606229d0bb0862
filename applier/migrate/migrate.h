/*-------------------------------------------------------------------------
 *
 * migrate.h
 *	  `pgferry migrate`: the whole move of a database, resumable.
 *
 * Promises:
 *	- In order: preflight (nothing changes if it finds a blocking
 *	  problem); a slot with an exported snapshot; the schema's pre-data
 *	  section from pg_dump in that snapshot; the parallel copy of every
 *	  table in that snapshot, each table's post-data as soon as its rows are
 *	  in, foreign keys last; then `pgferry follow` on the slot until
 *	  stopped or --endpos.
 *	- A start that fails (phase init: slot, schema dump, roles, pre-data,
 *	  plan) drops the slot it created and forgets its task, so that
 *	  nothing holds the source's WAL; one killed before it could (kill -9)
 *	  left its task's row on the target, by which the next run, and
 *	  preflight, know the slot as this target's migration.
 *	- With --roles, the roles the schema names that the target lacks are
 *	  created (roles.h) in the transaction that restores pre-data.
 *	- Run again with the same arguments after an interruption of any kind
 *	  (kill -9 included), it resumes from the state on the target (see
 *	  state.h): what committed is kept, tables left unfinished are copied
 *	  again whole, in a new snapshot (from a temporary slot) whose LSN is
 *	  recorded for them in pgferry.table_sync, and the stream continues from
 *	  the target's recorded LSN.  The follow job skips a re-copied table's
 *	  changes that committed before its snapshot, as native logical
 *	  replication's table synchronisation does, so every table is exact.
 *	- A copy-only task (no_follow) copies its tables in the snapshot of a
 *	  temporary slot, which ends with it, and records each table's
 *	  modification counters on the source (copyonly.h) for the cutover to
 *	  check; run again, it copies again the tables that changed since.
 *	- The default slot (and task name) is pgferry_<database>, so that two
 *	  databases of one server can be migrated with the defaults.
 *	- Tasks: several migrate processes may move disjoint table sets of one
 *	  database into one target, each with its own --slot and filters; the
 *	  schema is restored once, by the first.  A task that would take a
 *	  table another task's plan holds is refused (EXIT_BLOCKED) before it
 *	  changes anything (or, started at the same time as that task, undoes
 *	  its start).  One process at a time runs a task: a second one exits
 *	  with EXIT_OTHER, whatever its --dir.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_MIGRATE_H
#define PGFERRY_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "migrate/schema.h"
#include "pg/pg.h"

typedef struct MigrateOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
	const char *slot;	/* NULL: pgferry_<database> (appliers_default_slot) */
	const char *dir;	/* work directory (schema dump, spool); NULL: a
								 * default under $TMPDIR */
	int jobs;
	const char *const *include_tables;
	int ninclude;
	const char *const *exclude_tables;
	int nexclude;
	Lsn endpos;				  /* LSN_INVALID: follow until stopped */
	int64_t split_bytes;	  /* tables above this are split */
	bool log_progress;		  /* log lines even on a terminal */
	bool fire_triggers;		  /* passed on to follow */
	bool ordered;			  /* passed on to follow */
	Lsn skip_ddl;			  /* passed on to follow (apply/ddl.h) */
	int sequences_interval_s; /* passed on to follow (apply/sequences.h) */
	RestoreModes modes;		  /* owners, privileges, roles of the schema */
	bool no_follow;			  /* a copy-only task: copy, then stop */
	int64_t max_retained_wal; /* warn when the slot holds more WAL */
	const char *plugin;		  /* pgferry, pgoutput; NULL: preflight's */
	const char *publication;  /* pgoutput; NULL: named as the slot */
} MigrateOptions;

#define MIGRATE_DEFAULT_JOBS 4
#define MIGRATE_DEFAULT_MAX_RETAINED_WAL (INT64_C(32) << 30)

/* Runs the migration; returns an exit code (pgferry.h, preflight.h). */
extern int migrate_run(const MigrateOptions *options);

#endif /* PGFERRY_MIGRATE_H */
