/*-------------------------------------------------------------------------
 *
 * cutover.h
 *	  `pgferry cutover`: stop writes on the source, let the applier apply
 *	  the last of them, and hand the target over ready for writes, with a
 *	  read-only window that does not grow with the database.
 *
 * Promises:
 *	- Before anything changes, it checks what would make the switch unsafe
 *	  (post-data not all run, prepared transactions on the source, no
 *	  applier for a slot, a copy-only task unfinished or its tables changed
 *	  since their copy), refreshes the target's materialized views (unless
 *	  refresh_matviews says otherwise), and waits until the apply lag is at
 *	  most max_lag seconds (bounded by timeout); failing any of these it
 *	  stops with the fix and EXIT_BLOCKED (or EXIT_OTHER), having changed
 *	  nothing.
 *	- Inside the read-only window only steps whose cost does not grow with
 *	  the data: the source database made read-only and its sessions ended
 *	  (readonly.h), the copy-only tables' counters compared, the source's
 *	  last LSN noted (a marker), the wait until the target has applied it,
 *	  the sequences set (a few statements whatever their number), the target
 *	  made ready (a snapshot kept for the check, settings that would keep
 *	  it from taking writes reset).  The window runs from read-only on to
 *	  target ready; the hand-over line is printed (and flushed) when it
 *	  ends, and the hand-over recorded on the target (pgferry finish asks
 *	  for it).
 *	- Until the target has applied the last LSN, a failure makes the
 *	  source writable again and changes nothing else.  A failure after that
 *	  leaves the source read-only (the target has every write): run the
 *	  cutover again once fixed, or cutover_abort().
 *	- After the window, against a source that no longer changes and the
 *	  target as it was handed over (its snapshot): row counts (or a row by
 *	  row verify, or nothing, as check says), then, with REFRESH_AFTER, the
 *	  materialized views refreshed again.  A difference returns
 *	  EXIT_DIFFERENT with both databases read-only ("the target left
 *	  read-only": readonly.h's meaning) until the operator decides:
 *	  cutover_release_target() keeps the target, cutover_abort() falls back
 *	  to the source.
 *	- The hand-over report (stdout): each step of the window with its time,
 *	  the last LSN, the rows applied during the window, the sequences set;
 *	  the steps before and after it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CUTOVER_H
#define PGFERRY_CUTOVER_H

#include <stdbool.h>

/* When the target's materialized views are refreshed. */
typedef enum MatviewRefresh
{
	REFRESH_BEFORE, /* before the window */
	REFRESH_AFTER,	/* before, and again after it (CONCURRENTLY where
					 * possible) */
	REFRESH_NONE
} MatviewRefresh;

/* What is compared after the window. */
typedef enum CutoverCheck
{
	CHECK_COUNTS, /* the row count of every table */
	CHECK_ROWS,	  /* every row (pgferry verify's comparison) */
	CHECK_NONE
} CutoverCheck;

typedef struct CutoverOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
	const char *slots;	/* comma-separated; NULL: every pgferry slot
						 * applying this source database into the
						 * target */
	int timeout;		/* seconds to wait for the apply lag, for the
						 * applier (and for sessions, with
						 * wait_sessions) */
	double max_lag;		/* seconds of apply lag under which the source
						 * is made read-only */
	bool wait_sessions; /* wait for open sessions to end rather than
						 * terminate them */
	int jobs;			/* tables compared at once */
	MatviewRefresh refresh_matviews;
	CutoverCheck check;
} CutoverOptions;

#define CUTOVER_DEFAULT_TIMEOUT 300
#define CUTOVER_DEFAULT_MAX_LAG 1.0

extern void cutover_options_init(CutoverOptions *opts);

/*
 * Runs the cutover.  Returns EXIT_DONE, EXIT_BLOCKED (nothing changed),
 * EXIT_DIFFERENT (the check after the window found a difference),
 * EXIT_CONNECTION or EXIT_OTHER.
 */
extern int cutover_run(const CutoverOptions *opts);

/* Makes the source database writable again. */
extern int cutover_abort(const CutoverOptions *opts);

/*
 * Makes the target database writable again after a check that found a
 * difference: the operator keeps it as it is.
 */
extern int cutover_release_target(const CutoverOptions *opts);

#endif /* PGFERRY_CUTOVER_H */
