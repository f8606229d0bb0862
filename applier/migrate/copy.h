/*-------------------------------------------------------------------------
 *
 * copy.h
 *	  The snapshot copy: every table's rows from the source to the target,
 *	  in parallel, inside one exported snapshot, and the post-data
 *	  statements of each table as soon as its rows are in.
 *
 * Promises:
 *	- Every worker reads the source in a REPEATABLE READ transaction that
 *	  imported the snapshot, so all tables are copied as of one instant
 *	  (the snapshot's LSN).  Rows stream from COPY TO STDOUT into COPY FROM
 *	  STDIN one row at a time: no file, no table held in memory (a row is
 *	  the most held).  Binary format when every column allows it.
 *	- A unit of work is a whole table, a range of a big table's blocks
 *	  (ctid ranges: each block read once, no index needed, any table), a
 *	  pack of small tables, the sequences, or the large objects.  Its rows
 *	  and its pgferry.copy_ranges rows commit in one target transaction; a
 *	  whole table is truncated first in that transaction (and loaded with
 *	  COPY FREEZE), so a unit redone after a crash never duplicates rows.
 *	- A table's post-data statements (primary key and other constraints,
 *	  indexes, triggers...) run as soon as its last unit commits, in
 *	  parallel with the copy of other tables; foreign keys and statements
 *	  tied to no copied table run last, in pg_dump's order.
 *	- A failure stops the copy after the units in flight and is reported
 *	  with the table; what committed stays committed for the next run.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_COPY_H
#define PGFERRY_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "state/state.h"

typedef struct CopyOptions
{
	const char *source; /* conninfo */
	const char *target;
	const char *slot;
	const char *snapshot; /* exported snapshot to read in */
	Lsn snapshot_lsn;	  /* the LSN it is consistent with */
	int jobs;
	bool live_progress;		   /* redraw progress on the terminal */
	const TableFilter *filter; /* for the sequences to copy */
	/* the tables copied and their partitioned parents */
	const char *const *covered_schemas;
	const char *const *covered_names;
	int ncovered;
	/*
	 * A session of the main thread on the source, to watch the WAL the
	 * slot holds while the copy runs (slotwal.h); NULL: not watched.
	 */
	PgConn *source_session;
	int64_t max_retained_wal; /* warn past this many bytes */
} CopyOptions;

/*
 * A unit or post-data statement whose connection was lost is tried again
 * after COPY_RETRY_FIRST_WAIT seconds, the wait doubling up to
 * COPY_RETRY_MAX_WAIT, for at most COPY_RETRY_TOTAL_SECONDS.
 */
#define COPY_RETRY_FIRST_WAIT 1
#define COPY_RETRY_MAX_WAIT 30
#define COPY_RETRY_TOTAL_SECONDS 300.0

/* The waits of one thing tried again (COPY_RETRY_INIT, copy_retry_wait()). */
typedef struct CopyRetry
{
	double deadline; /* 0 until the first failure */
	int wait;		 /* seconds before the next try */
} CopyRetry;

#define COPY_RETRY_INIT                                                       \
	{                                                                         \
		0, COPY_RETRY_FIRST_WAIT                                              \
	}

/*
 * After a failure: the seconds to wait before trying again (the next wait
 * doubled, up to COPY_RETRY_MAX_WAIT), or -1 when that try would start past
 * COPY_RETRY_TOTAL_SECONDS after the first failure.
 */
extern int copy_retry_wait(CopyRetry *retry);

/* Default size above which a table is copied in several ranges. */
#define COPY_DEFAULT_SPLIT_BYTES (INT64_C(1) << 30)

/*
 * Plans the copy of tables: a table larger than split_bytes gets a range
 * per split_bytes of its blocks; one unit each for sequences and large
 * objects when asked.
 */
extern void copy_plan(const SourceTables *tables, int64_t split_bytes,
					  bool sequences, bool large_objects, CopyPlan *plan);

/*
 * Copies the ranges of plan not yet copied (updating them in place) and
 * runs the post-data statements not yet done.  Returns an exit code.
 */
extern int copy_run(const CopyOptions *options, const SourceTables *tables,
					CopyPlan *plan, PostDataList *post_data);

#endif /* PGFERRY_COPY_H */
