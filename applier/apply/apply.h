/*-------------------------------------------------------------------------
 *
 * apply.h
 *	  The target side: statements that make the target equal the source.
 *
 * Promises:
 *	- A group of row changes (consecutive changes of one relation, of one
 *	  shape, no key twice: see batch.h) becomes as few statements as the
 *	  target's constraints allow, queued in libpq's pipeline mode: one round
 *	  trip per apply_sync(), not per statement.
 *	- Upserts: an insert of a key that exists updates it; an update of a
 *	  missing row inserts it when the whole row is known and is otherwise
 *	  a conflict, reported with table and key; a delete of a missing row
 *	  is a no-op, counted.  A key change moves the row.
 *	- apply_commit() checks every result first, then records the source
 *	  position in pgferry.progress and commits, in one target transaction.
 *	- A failure is logged naming the table and the fix; the open target
 *	  transaction is then abandoned (never committed).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_APPLY_H
#define PGFERRY_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "pg/pg.h"
#include "state/progress.h"
#include "stream/change.h"

typedef enum ApplyGroupKind
{
	GROUP_UPSERT, /* inserts, and updates of whole rows whose
								 * key did not change */
	GROUP_UPDATE, /* updates by unchanged key, the same columns
								 * present in each (unchanged TOAST not) */
	GROUP_DELETE, /* deletes by key */
	GROUP_ROW,	  /* one update found by its old key (the key
								 * changed), or one update or delete found by
								 * its old row (identity FULL); or one the
								 * source cannot identify (refused) */
	GROUP_TRUNCATE,
	GROUP_MESSAGE
} ApplyGroupKind;

typedef struct ApplyGroup
{
	ApplyGroupKind kind;
	Rel *rel; /* row groups */
	int nrows;
	RowChange *rows;

	/* GROUP_TRUNCATE */
	int nrels;
	Rel **rels;
	bool cascade;
	bool restart_identity;

	/* GROUP_MESSAGE */
	const char *prefix;
	const char *content;
	size_t content_len;
} ApplyGroup;

typedef struct ApplyCounters
{
	uint64_t rows; /* row changes applied */
	uint64_t statements;
	uint64_t missing_deletes; /* deletes of rows the target lacked */
	uint64_t missing_updates; /* updates of missing rows, inserted */
	uint64_t messages_ignored;
} ApplyCounters;

typedef struct Applier Applier;

/*
 * Prepares the target session (session_replication_role = replica unless
 * fire_triggers, timeouts off, text formats fixed) and enters pipeline
 * mode.  NULL on failure (logged).
 */
extern Applier *apply_create(PgConn *target, bool fire_triggers);
extern void apply_destroy(Applier *applier);

/* Source text arrives in this encoding (Startup frame). */
extern bool apply_set_encoding(Applier *applier, const char *encoding);

/*
 * Queues the statements of a group; the group must stay valid until the
 * next apply_sync() or apply_commit().
 */
extern bool apply_group(Applier *applier, const ApplyGroup *group);

/* Sends queued statements on to the target without waiting. */
extern bool apply_push(Applier *applier);

/* Waits for every queued statement and checks its result. */
extern bool apply_sync(Applier *applier);

/* apply_sync(), then records the position and commits. */
extern bool apply_commit(Applier *applier, const ProgressKey *key,
						 Lsn commit_lsn, Lsn end_lsn);

/* Whether the last failure may go away by reconnecting. */
extern bool apply_failure_is_transient(const Applier *applier);

extern const ApplyCounters *apply_counters(const Applier *applier);

#endif /* PGFERRY_APPLY_H */
