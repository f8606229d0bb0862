/*-------------------------------------------------------------------------
 *
 * state.h
 *	  A migration's state, kept in tables of the pgferry schema on the
 *	  target, so that an interrupted `pgferry migrate` resumes where it
 *	  stopped whatever killed it.
 *
 *	pgferry.migration	one row per task (keyed by slot): phase, the slot's
 *						consistent point, the source it reads, its filters.
 *	pgferry.copy_ranges	the copy plan: one row per unit of a table (the
 *						whole table or a range of its blocks), plus one for
 *						sequences and one for large objects.  A row gets
 *						snapshot_lsn, rows and bytes in the same target
 *						transaction as the COPY that filled its range, so
 *						a range is either copied and recorded, or neither.
 *	pgferry.table_sync	(view) each fully copied table with the LSN its
 *						copy is consistent with: `pgferry follow` skips the
 *						table's changes that committed before that LSN.
 *	pgferry.post_data	indexes, constraints, triggers... from pg_dump's
 *						post-data section, one statement each, marked done
 *						in the transaction that ran it.
 *	pgferry.schema_restore	when and by which task the pre-data section
 *						was restored (once per target database).
 *	pgferry.copy_only	the tables of copy-only tasks with their source
 *						modification counters at their copy (copyonly.h).
 *
 * Promises: every function runs in the caller's connection and, unless it
 * says otherwise, in the caller's transaction; it returns false after
 * reporting the failure.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_STATE_H
#define PGFERRY_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pg/pg.h"
#include "state/appliers.h"

typedef enum MigrationPhase
{
	PHASE_INIT,	  /* slot and schema not yet in place */
	PHASE_COPY,	  /* copying data and building post-data */
	PHASE_STREAM, /* applying the slot's changes */
	PHASE_COPIED  /* a copy-only task: copied, nothing to follow */
} MigrationPhase;

typedef struct Migration
{
	MigrationPhase phase;
	Lsn consistent_lsn; /* the slot's; LSN_INVALID before */
	SourceId source;	/* the source it reads */
	char *table_filters;
	bool follow; /* false: a copy-only task (migrate --no-follow) */
} Migration;

typedef enum CopyKind
{
	COPY_ROWS, /* rows of a table, or of a range of it */
	COPY_SEQUENCES,
	COPY_LARGE_OBJECTS
} CopyKind;

/* One row of pgferry.copy_ranges. */
typedef struct CopyRange
{
	CopyKind kind;
	char *schema; /* "" for sequences and large objects */
	char *table;
	int range_no;		 /* 0 .. nranges - 1 */
	int nranges;		 /* ranges of this table */
	int64_t first_block; /* ranges only: [first_block, end_block) */
	int64_t end_block;	 /* -1: to the end of the table */
	int64_t estimated_bytes;
	Lsn snapshot_lsn; /* LSN_INVALID until copied */
	int64_t rows;
	int64_t bytes;
} CopyRange;

typedef struct CopyPlan
{
	CopyRange *ranges;
	int count;
} CopyPlan;

/* A post-data statement and what it waits for. */
typedef struct PostDataItem
{
	int position;	   /* in pg_dump's post-data order; unique */
	char *description; /* "INDEX public.t_v_idx" */
	char *schema;	   /* the table whose copy it waits for, */
	char *table;	   /* or NULL: after every copy */
	bool foreign_key;
	char *ref_schema; /* a foreign key's referenced table */
	char *ref_table;
	char *statement;
	bool done;
} PostDataItem;

typedef struct PostDataList
{
	PostDataItem *items;
	int count;
} PostDataList;

/* Creates the pgferry schema and tables if missing (own transaction). */
extern bool state_create(PgConn *target);

/*
 * Opens a target session (its own, unlike the other functions) that holds,
 * until it is closed, the lock that lets one process at a time run slot's
 * task (a session-level advisory lock): two processes of one task would
 * copy and apply its tables twice.  A process that just ended may hold it
 * a moment longer (until its server session ends), so the lock is waited
 * for a few seconds.  Returns NULL after reporting; *busy then says that
 * another process holds the lock (else the target failed).
 */
extern PgConn *state_lock_task(const char *target_conninfo, const char *slot,
							   bool *busy);

/* Reads the task's row; *found is false when there is none (or no table). */
extern bool state_get_migration(PgConn *target, const char *slot,
								Migration *migration, bool *found);
extern bool state_insert_migration(PgConn *target, const char *slot,
								   const Migration *migration);
extern bool state_set_phase(PgConn *target, const char *slot,
							MigrationPhase phase, Lsn consistent_lsn);
extern const char *state_phase_name(MigrationPhase phase);
extern void state_migration_free(Migration *migration);
/* Deletes the task's row, and its copy plan with it. */
extern bool state_delete_migration(PgConn *target, const char *slot);

/*
 * Takes the lock that serialises schema restores of tasks sharing the
 * target database (released at commit) and says whether the pre-data
 * section is already there.
 */
extern bool state_lock_schema(PgConn *target, bool *restored);
extern bool state_mark_schema_restored(PgConn *target, const char *slot);

extern bool state_insert_plan(PgConn *target, const char *slot,
							  const CopyPlan *plan);

/*
 * The tables whose rows the plans of the other tasks copy: one row of
 * (slot, schema, name) each, ordered by slot, schema and name; *held is
 * NULL when there are no state tables yet.
 */
extern bool state_tables_of_other_slots(PgConn *target, const char *slot,
										PgResult **held);
extern bool state_load_plan(PgConn *target, const char *slot, CopyPlan *plan);
/* Forgets the copy of one table of the task: it is copied again. */
extern bool state_reset_table(PgConn *target, const char *slot,
							  const char *schema, const char *table);
/* Forgets the copied ranges of the tables not completely copied. */
extern bool state_reset_unfinished(PgConn *target, const char *slot);
extern bool state_range_done(PgConn *target, const char *slot,
							 const CopyRange *range);
extern void state_plan_free(CopyPlan *plan);

extern bool state_insert_post_data(PgConn *target, const PostDataList *list);

/*
 * Claims for slot the unclaimed post-data items of its tables (relations
 * given as "schema.name" pairs) and the items tied to no table when
 * take_global, then loads every item the task owns.
 */
extern bool state_claim_post_data(PgConn *target, const char *slot,
								  const char **schemas, const char **names,
								  int count, bool take_global,
								  PostDataList *list);
extern bool state_post_data_done(PgConn *target, int position);
/* Whether any task has finished copying schema.name. */
extern bool state_table_synced(PgConn *target, const char *schema,
							   const char *name, bool *synced);
extern void state_post_data_free(PostDataList *list);

#endif /* PGFERRY_STATE_H */
