/*-------------------------------------------------------------------------
 *
 * cutover.h
 *	  `pgferry cutover`: stop writes on the source, let the applier apply
 *	  the last of them, and hand the target over ready for writes.
 *
 * Promises:
 *	- Before anything changes, it checks what would make the switch unsafe
 *	  (prepared transactions on the source, no applier for a slot) and
 *	  stops with the fix.
 *	- The source database is made read-only for every new session (ALTER
 *	  DATABASE ... SET default_transaction_read_only = on) and the sessions
 *	  that were open are ended (terminated, or waited for with
 *	  wait_sessions), so no application write commits after the LSN it
 *	  then records.  This is a default, not a lock: a session that runs
 *	  SET default_transaction_read_only = off or BEGIN READ WRITE can still
 *	  write, whatever its role; applications that do so must be stopped by
 *	  other means.
 *	- It waits until the target has applied that LSN (a running pgferry
 *	  follow or migrate does the applying), sets every sequence of the
 *	  target to the source's value (identity and serial sequences found
 *	  through their column), refreshes the target's materialized views
 *	  that are populated on the source (a REFRESH is not in the WAL
 *	  stream), compares the row counts of every table, clears settings that
 *	  would keep the target from taking writes, and prints the read-only
 *	  window: from read-only on to target ready.
 *	- If the applier does not get there in time, the source is made
 *	  writable again and nothing else changes.  A failure after that
 *	  leaves the source read-only (the target has every write): run the
 *	  cutover again once fixed, or cutover_abort().
 *	- cutover_abort() makes the source writable again.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CUTOVER_H
#define PGFERRY_CUTOVER_H

#include <stdbool.h>

typedef struct CutoverOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
	const char *slots;	/* comma-separated; NULL: every pgferry slot
						* applying this source database into the
						* target */
	int timeout;		/* seconds to wait for the applier (and for
								 * sessions, with wait_sessions) */
	bool wait_sessions; /* wait for open sessions to end rather
								 * than terminate them */
	int jobs;			/* tables counted at once */
} CutoverOptions;

#define CUTOVER_DEFAULT_TIMEOUT 300

extern void cutover_options_init(CutoverOptions *opts);

/*
 * Runs the cutover.  Returns EXIT_DONE, EXIT_DIFFERENT (row counts differ
 * at the end), EXIT_CONNECTION or EXIT_OTHER.
 */
extern int cutover_run(const CutoverOptions *opts);

/* Makes the source database writable again. */
extern int cutover_abort(const CutoverOptions *opts);

#endif /* PGFERRY_CUTOVER_H */
