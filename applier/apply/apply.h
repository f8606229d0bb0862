/*-------------------------------------------------------------------------
 *
 * apply.h
 *	  The target side: statements that make the target equal the source.
 *
 * Promises:
 *	- A group of row changes (of one relation, one kind and one shape, no
 *	  key twice: see batch.h) becomes as few statements as the target's
 *	  constraints allow, each of a bounded number of rows and bytes, queued
 *	  in libpq's pipeline mode: one round trip per apply_sync(), not per
 *	  statement.
 *	- Upserts: an insert of a key that exists updates it; an update of a
 *	  missing row inserts it when the whole row is known and is otherwise
 *	  a conflict, reported with table and key; a delete of a missing row
 *	  is a no-op, counted.  A key change moves the row.
 *	- A target transaction defers the constraints that can be deferred, as
 *	  the source's transactions were checked at their commit.
 *	- apply_commit() records the source position in pgferry.progress and
 *	  queues the commit, in the same target transaction as the data, and
 *	  returns without waiting: the target works on it while the next batch
 *	  is read.  Whatever waits for results next (apply_finish_commit(),
 *	  apply_sync(), a relation's first use) checks the commit's first; a
 *	  commit whose statements failed never commits.
 *	- A failure is logged naming the table and the fix; the open target
 *	  transaction is then abandoned (never committed).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_APPLY_H
#define PGFERRY_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "apply/ddl.h"
#include "pg/pg.h"
#include "state/progress.h"
#include "stream/change.h"

typedef enum ApplyGroupKind
{
	GROUP_UPSERT, /* inserts, and updates of whole rows whose
								 * key did not change */
	GROUP_INSERT, /* inserts of keys a batch's net effect wrote
								 * nowhere else: plain, since a key already on
								 * the target fails, and the batch is then
								 * written again in source order */
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
	bool absent_ok; /* GROUP_DELETE: its rows may be missing on the target
					 * (the batch inserted them): not a conflict */

	/* GROUP_TRUNCATE */
	int nrels;
	Rel **rels;
	bool cascade;
	bool restart_identity;

	/* GROUP_MESSAGE */
	Lsn lsn;
	const char *prefix;
	const char *content;
	size_t content_len;
} ApplyGroup;

typedef struct ApplyCounters
{
	uint64_t rows; /* rows written (after a batch's net effect) */
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

/* How DDL messages are replayed (ddl.h); by default every one is. */
extern void apply_set_ddl(Applier *applier, const DdlSettings *settings);

/* Source text arrives in this encoding (Startup frame). */
extern bool apply_set_encoding(Applier *applier, const char *encoding);

/*
 * Queues the statements of a group; the group must stay valid until the
 * next apply_sync() or apply_commit().
 */
extern bool apply_group(Applier *applier, const ApplyGroup *group);

/*
 * Whether pgferry acts on logical messages of prefix (DDL): such a message
 * is applied where it stands in the stream.  The others are noted by
 * apply_message_ignored() (markers of verify and cutover, which only need
 * their commit applied, and other software's messages).
 */
extern bool apply_message_handled(const char *prefix);
/* Whether prefix is a marker (verify, cutover): its writer waits for it. */
extern bool apply_message_awaited(const char *prefix);
extern void apply_message_ignored(Applier *applier, const char *prefix);

/*
 * Sends queued statements on to the target without waiting, and reads
 * what it answered: a commit in flight whose results have all come is
 * finished.
 */
extern bool apply_push(Applier *applier);

/* Waits for every queued statement and checks its result. */
extern bool apply_sync(Applier *applier);

/*
 * Queues the record of the position and the commit, after the commit in
 * flight has finished (at most one is).
 */
extern bool apply_commit(Applier *applier, const ProgressKey *key,
						 Lsn commit_lsn, Lsn end_lsn);

/* Whether a commit is queued whose result has not been read yet. */
extern bool apply_commit_pending(const Applier *applier);

/*
 * Whether the last commit whose result was read failed (its statements or
 * the commit itself): that target transaction never committed.
 */
extern bool apply_commit_failed(const Applier *applier);

/* Waits for the commit in flight, if any, and checks its statements. */
extern bool apply_finish_commit(Applier *applier);

/* Why the last failure happened, for the caller's way on. */
typedef enum ApplyFailure
{
	APPLY_FAILED,	 /* the data or the target: stop */
	APPLY_TRANSIENT, /* a connection, a deadlock...: reconnect, retry */
	APPLY_ORDER		 /* a constraint that writing in source order may
					  * pass (a unique value moved between rows) */
} ApplyFailure;

extern ApplyFailure apply_failure(const Applier *applier);

/*
 * Whether the target's triggers and foreign keys fire on what is applied
 * (asked for, or session_replication_role could not be set): changes must
 * then be written in source order.
 */
extern bool apply_fires_triggers(const Applier *applier);
/*
 * Whether the groups written are a batch's net effect: a constraint that
 * fails them is then no error yet (logged below ERROR), since the batch is
 * written again in source order.
 */
extern void apply_set_net_effect(Applier *applier, bool net_effect);

extern const ApplyCounters *apply_counters(const Applier *applier);

#endif /* PGFERRY_APPLY_H */
