/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  pgferry.progress on the target: what has been applied.
 *
 * One row per (slot, source system identifier, source database) holds the
 * commit LSN and end LSN of the last source transaction applied.  The row
 * is written by a statement queued in the same target transaction as the
 * data it accounts for, so the two commit (or vanish) together: on start,
 * every transaction at or below the recorded commit LSN is already on the
 * target, and nothing above it is.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PROGRESS_H
#define PGFERRY_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "pg/pg.h"

typedef struct ProgressKey
{
	const char *slot;
	const char *system_identifier; /* decimal text */
	const char *database;
} ProgressKey;

/*
 * Runs ddl creating pgferry's own objects in schema pgferry (created first
 * if missing) in a transaction that holds the lock every pgferry process
 * takes for it; what names it in the error.
 */
extern bool progress_run_ddl(PgConn *target, const char *ddl,
							 const char *what);

/* Creates schema pgferry and the table if missing (not in pipeline mode). */
extern bool progress_prepare(PgConn *target);

/*
 * Reads the recorded position; both stay LSN_INVALID when nothing was
 * recorded yet.
 */
extern bool progress_read(PgConn *target, const ProgressKey *key,
						  Lsn *commit_lsn, Lsn *end_lsn);

/*
 * Queues (pipeline mode) the statement recording commit_lsn / end_lsn, and
 * adding rows (the row changes of the transaction) to the slot's count;
 * its result is the next one to read with pg_pipeline_result().
 */
extern bool progress_send(PgConn *target, const ProgressKey *key,
						  Lsn commit_lsn, Lsn end_lsn, uint64_t rows);

#endif /* PGFERRY_PROGRESS_H */
