/*-------------------------------------------------------------------------
 *
 * verify.h
 *	  `pgferry verify`: compare every table of the source with the target.
 *
 * Promises:
 *	- Every selected table (ordinary tables and leaf partitions, the pgferry
 *	  schema and extension members excluded) is compared row for row, with
 *	  columns matched by name, without moving rows to the client: each server
 *	  counts and hashes its own rows, only counts, sums of 64-bit hashes and
 *	  the keys of differing rows cross the network.
 *	- A table with a primary key (or a unique index over NOT NULL columns) is
 *	  compared in key ranges of about range_rows rows; a range that differs
 *	  is split in two until it is small, and then its differing keys are
 *	  named: changed, missing on the target, extra on the target.  A table
 *	  without such a key is compared as a multiset of rows (hash buckets,
 *	  narrowed to the differing rows, which are printed).
 *	- Both sides are read at consistent points: the source in a snapshot
 *	  whose WAL position is known, the target once its appliers have applied
 *	  past it.  A difference is reported only when the source held the same
 *	  rows before and after the target's snapshot; a set of rows the source
 *	  kept changing is compared again in a later pass, and reported as not
 *	  settled (not as a difference) if it never settles.  A row the applier
 *	  had not applied yet is therefore never a difference.  See verify.c.
 *	- The report goes to stdout, one block per table; the exit status is
 *	  EXIT_DIFFERENT when anything differs, EXIT_DONE when nothing does.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_VERIFY_H
#define PGFERRY_VERIFY_H

#include <stdbool.h>

#include "common/exit.h"

typedef struct VerifyOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
	const char *const *include_tables;
	int ninclude;
	const char *const *exclude_tables;
	int nexclude;
	int jobs;		 /* tables compared at once */
	long range_rows; /* rows per key range of the first pass */
	int max_keys;	 /* differing keys named per table */
	int passes;		 /* passes at most (the first, then those of
								 * what did not settle) */
	int lag_timeout; /* seconds to wait for the appliers to reach
								 * the source's point */

	/*
	 * Counts only (cutover's final check): row counts per table, no hashes.
	 */
	bool counts_only;

	/*
	 * The source takes no more writes and the target has applied its last
	 * LSN (cutover): any snapshot is exact, so no wait, one pass.
	 */
	bool source_quiet;

	/*
	 * With source_quiet: a snapshot the target exported, held open by the
	 * caller, to read the target in rather than in a new one (cutover:
	 * the target as it was handed over, whatever it has taken since).
	 */
	const char *target_snapshot;
} VerifyOptions;

/* Defaults of the command line. */
#define VERIFY_DEFAULT_JOBS 4
#define VERIFY_DEFAULT_RANGE_ROWS 100000
#define VERIFY_DEFAULT_MAX_KEYS 20
#define VERIFY_DEFAULT_PASSES 3
#define VERIFY_DEFAULT_LAG_TIMEOUT 60

extern void verify_options_init(VerifyOptions *opts);

/*
 * Compares the tables and prints the report.  Returns EXIT_DONE (equal),
 * EXIT_DIFFERENT, EXIT_CONNECTION or EXIT_OTHER.
 */
extern int verify_run(const VerifyOptions *opts);

#endif /* PGFERRY_VERIFY_H */
