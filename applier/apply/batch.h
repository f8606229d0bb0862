/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  Many source transactions become one target transaction.
 *
 * Promises:
 *	- BATCH_NET (the default): the batch's row changes of tables with a key
 *	  are written as their net effect (net.h), set-wise per table, when the
 *	  target transaction commits, or sooner while the target has no commit
 *	  to work on (a large source transaction is written while the rest of
 *	  it is still decoded); the changes of tables without a key, and
 *	  those that cannot be composed, keep their source order (ordered.h).
 *	  Barriers keep order across the whole batch: a TRUNCATE, a logical
 *	  message pgferry acts on (DDL), a new version of a relation.
 *	- BATCH_ORDERED: every change in source order (--ordered, triggers that
 *	  must fire, and the batch written again after BATCH_NET failed where
 *	  source order may not).
 *	- Memory stays bounded: past the bytes limit the batch writes what it
 *	  holds, waits for the target and frees it, even inside one huge
 *	  source transaction.
 *	- batch_should_commit() says when the target transaction holds enough
 *	  (rows, bytes, time since it began), or has waited long enough while
 *	  the target has nothing to do, or holds a schema change or a marker
 *	  (verify, cutover: its writer waits for it); the caller
 *	  commits only at a source commit, so a target transaction holds whole
 *	  source transactions.  batch_commit() queues the commit and returns: the
 *	  target works on it while the next batch is read.  When the target has
 *	  committed it (known at the next commit, at batch_finish(), or when
 *	  the batch waits for the target for another reason) the batch calls
 *	  the committed callback with what that target transaction held; only
 *	  then may the position be reported to the source.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_BATCH_H
#define PGFERRY_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "apply/apply.h"
#include "stream/change.h"

typedef struct BatchLimits
{
	int rows;
	int64_t bytes;
	int time_ms;
} BatchLimits;

typedef enum BatchMode
{
	BATCH_NET,
	BATCH_ORDERED
} BatchMode;

/* What one target transaction held. */
typedef struct BatchStats
{
	uint64_t txns;
	uint64_t changes;	 /* row changes received */
	uint64_t rows;		 /* rows written */
	uint64_t statements; /* statements sent */
	uint64_t bytes;		 /* of row data received */
	int64_t elapsed_ms;	 /* from its first change to its commit */
	Lsn commit_lsn;		 /* of the last source transaction */
	Lsn end_lsn;
	int64_t commit_time;
} BatchStats;

typedef void (*BatchCommitted)(void *arg, const BatchStats *stats);

typedef struct Batch Batch;

extern Batch *batch_create(const BatchLimits *limits, Applier *applier,
						   BatchMode mode, BatchCommitted committed,
						   void *arg);
extern void batch_destroy(Batch *batch);

/* Between target transactions (nothing held): how changes are written. */
extern void batch_set_mode(Batch *batch, BatchMode mode);
extern BatchMode batch_mode(const Batch *batch);

/* A row change, truncate or message of the current source transaction. */
extern bool batch_add(Batch *batch, const Change *change);

/* The current source transaction committed at commit_lsn. */
extern void batch_end_transaction(Batch *batch, Lsn commit_lsn, Lsn end_lsn,
								  int64_t commit_time);

/* Whether whole source transactions are waiting to be committed. */
extern bool batch_has_transactions(const Batch *batch);
extern bool batch_should_commit(const Batch *batch);

/* Whether the target has committed everything (nothing held or in flight). */
extern bool batch_idle(const Batch *batch);

/* Writes and queues the commit of every whole source transaction. */
extern bool batch_commit(Batch *batch, const ProgressKey *key);

/* Waits until the target has committed what was queued. */
extern bool batch_finish(Batch *batch);

/*
 * Sends what is queued on to the target without waiting, and learns of a
 * commit the target has finished (apply_push).
 */
extern bool batch_push(Batch *batch);

#endif /* PGFERRY_BATCH_H */
