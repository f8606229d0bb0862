/*-------------------------------------------------------------------------
 *
 * status.h
 *	  `pgferry status`: where the migrations into a target stand.
 *
 * Promises: reads only.  For each migration recorded in the target's
 * pgferry schema (or the one of --slot): its phase; the copy (tables and
 * ranges done, rows, bytes, time, rate, and the tables still to copy);
 * post-data statements done; the apply position, and with --source the
 * lag in bytes (source WAL position against the applied one) and seconds
 * (the slot's walsender flush lag), and the rows written per second on the
 * target (sampled over a second).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_STATUS_H
#define PGFERRY_STATUS_H

#include <stdbool.h>

typedef struct StatusOptions
{
	const char *target; /* conninfo */
	const char *source; /* conninfo, or NULL */
	const char *slot;	/* NULL: every migration */
	bool json;			/* one JSON document of the same fields */
} StatusOptions;

extern int status_run(const StatusOptions *options);

#endif /* PGFERRY_STATUS_H */
