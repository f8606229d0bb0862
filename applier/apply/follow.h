/*-------------------------------------------------------------------------
 *
 * follow.h
 *	  The follow job: keep the target equal to the source, from a slot.
 *
 * follow_run() streams the slot into the target until --endpos is reached
 * or SIGINT/SIGTERM asks it to stop (then it finishes the source
 * transaction in flight, commits, reports the position and returns
 * EXIT_DONE; a second signal abandons the open target transaction, which
 * a restart applies again).  A dropped connection to either server makes
 * it reconnect both with backoff and resume from pgferry.progress.  While
 * another process runs the slot into the same target database it refuses
 * to start (EXIT_OTHER).  It returns one of the exit codes of common/exit.h;
 * other jobs (migrate) call it after their own steps.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_FOLLOW_H
#define PGFERRY_FOLLOW_H

#include <stdbool.h>

#include "apply/batch.h"
#include "pg/pg.h"
#include "stream/change.h"

#define FOLLOW_LAG_LOG_S 30.0

typedef struct FollowOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
	const char *slot;
	bool create_slot;
	Plugin plugin;			 /* the slot's */
	const char *publication; /* pgoutput; NULL: named as the slot */
	Lsn endpos;				 /* LSN_INVALID: run until stopped */
	/* table patterns: schema.table with * and ? wildcards */
	const char *const *include_tables;
	int ninclude;
	const char *const *exclude_tables;
	int nexclude;
	bool binary;
	bool fire_triggers;
	bool ordered;			  /* every change in source order (batch.h) */
	Lsn skip_ddl;			  /* the DDL message not to replay (ddl.h) */
	Lsn skip_lsn;			  /* the commit of a transaction left out */
	int sequences_interval_s; /* sequences.h; 0: only at cutover */
	const char *spool_dir;	  /* NULL: follow_default_spool_dir() */
	BatchLimits limits;
	bool log_lag; /* a lag line every FOLLOW_LAG_LOG_S s (migrate's) */

	/*
	 * A target session holding the slot's task lock (state_lock_task()),
	 * which follow_run() takes over and closes: migrate's, so that the
	 * lock is never free between its phases.  NULL: follow_run() takes
	 * the lock itself, and refuses to run when another process holds it.
	 */
	PgConn *task_lock;
} FollowOptions;

/*
 * Defaults of the batch limits (a target transaction commits at the first
 * source commit past any of them), measured on the apply benchmark: 200
 * transactions of 1,000 inserts, an update of 50,000 rows, a delete of
 * 20,000, 20,000 one-row update transactions, on a 2-core machine shared
 * with other work.  Commits every 5,000 rows took 2.7-3.2 s, every 20,000
 * rows 2.0 s, every 100,000 rows 1.9 s: past 20,000 rows a commit costs
 * little, and bigger transactions only hold locks longer.  16 MB of row
 * data also bounds memory: the batch holds at most that before it waits
 * for the target (peak RSS 57 MB applying one 1 GB transaction).  One
 * second bounds how stale the target gets while the source streams
 * without pause.
 */
#define FOLLOW_DEFAULT_BATCH_ROWS 50000
#define FOLLOW_DEFAULT_BATCH_BYTES (16 * 1024 * 1024)
#define FOLLOW_DEFAULT_BATCH_TIME_MS 1000

/*
 * The stream read ahead while the target works (pg_set_read_ahead): the
 * walsender decodes on while pgferry waits to send a batch's statements or
 * for their results.  A second of the fastest stream measured (36 MB/s of
 * frames, bulk inserts on a 2-core machine) is about this; it adds at most
 * this much to the batch's bytes limit in memory.
 */
#define FOLLOW_READ_AHEAD_BYTES (32 * 1024 * 1024)

/*
 * Fills options with the defaults (plugin pgferry, binary on, batch
 * limits).
 */
extern void follow_options_init(FollowOptions *options);
extern int follow_run(const FollowOptions *options);

/* The spool directory when none is given (malloc'ed). */
extern char *follow_default_spool_dir(const char *slot);

#endif /* PGFERRY_FOLLOW_H */
