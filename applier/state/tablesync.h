/*-------------------------------------------------------------------------
 *
 * tablesync.h
 *	  Per-table consistent points of a migration, for the follow job.
 *
 * A table that `pgferry migrate` copied again after an interruption was
 * copied in a later snapshot than the slot's consistent point: its changes
 * that committed before that snapshot's LSN are already in its rows, and
 * must not be applied again (native logical replication's table
 * synchronisation does the same).  pgferry.table_sync on the target records
 * that LSN per table; this module reads it when a follow session starts
 * and tells which changes to skip.
 *
 * Promises: without a migration (no pgferry.table_sync, or no table copied
 * after the slot's consistent point) nothing is ever skipped.  A change is
 * skipped when its transaction committed before the table's LSN (a commit
 * record starting exactly at the LSN is not in the snapshot).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_TABLESYNC_H
#define PGFERRY_TABLESYNC_H

#include <stdbool.h>

#include "pg/pg.h"
#include "stream/change.h"

typedef struct TableSync TableSync;

/* Reads the tables of slot; NULL (after reporting) on error. */
extern TableSync *tablesync_load(PgConn *target, const char *slot);
extern void tablesync_free(TableSync *sync);

/*
 * Whether change (of a transaction committed at commit_lsn) is already in
 * its table's copy.  A TRUNCATE loses the relations whose copy has it; it
 * is skipped when none is left.
 */
extern bool tablesync_skip(const TableSync *sync, Change *change,
						   Lsn commit_lsn);

#endif /* PGFERRY_TABLESYNC_H */
