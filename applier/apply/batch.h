/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  Many source transactions become one target transaction.
 *
 * Promises:
 *	- Changes are applied in the order they came.  Consecutive row changes
 *	  of one relation and one shape are merged into one group (one
 *	  statement); a group never holds the same key twice (a repeated key
 *	  starts a new group), so merging cannot reorder two changes of a row.
 *	- A group is queued to the target as soon as it is closed, so the
 *	  target works while the stream is read; row data waiting for its
 *	  results is bounded by the bytes limit: past it the batch waits for
 *	  the target and frees it.  A single huge source transaction thus
 *	  goes in one target transaction with bounded memory.
 *	- batch_should_commit() says when the target transaction holds enough
 *	  (rows, bytes, time since it began); the caller commits only at a
 *	  source commit, so a target transaction holds whole source
 *	  transactions.
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

/* What one target transaction held. */
typedef struct BatchStats
{
	uint64_t txns;
	uint64_t rows;
	uint64_t bytes;
	int64_t elapsed_ms; /* from its first change to its commit */
	Lsn commit_lsn;		/* of the last source transaction */
	Lsn end_lsn;
	int64_t commit_time;
} BatchStats;

typedef struct Batch Batch;

extern Batch *batch_create(const BatchLimits *limits, Applier *applier);
extern void batch_destroy(Batch *batch);

/* A row change, truncate or message of the current source transaction. */
extern bool batch_add(Batch *batch, const Change *change);

/* The current source transaction committed at commit_lsn. */
extern void batch_end_transaction(Batch *batch, Lsn commit_lsn, Lsn end_lsn,
								  int64_t commit_time);

/* Whether whole source transactions are waiting to be committed. */
extern bool batch_has_transactions(const Batch *batch);
extern bool batch_should_commit(const Batch *batch);

/* Commits every whole source transaction; fills *stats. */
extern bool batch_commit(Batch *batch, const ProgressKey *key,
						 BatchStats *stats);

/* Drops everything (the target transaction is lost with its session). */
extern void batch_discard(Batch *batch);

#endif /* PGFERRY_BATCH_H */
