/*-------------------------------------------------------------------------
 *
 * preflight.h
 *	  `pgferry preflight`: what would stop or surprise a migration, found
 *	  before anything changes.
 *
 * Promises: reads only (no slot, no table, no setting is created or
 * changed).  Prints to stdout, one block per check: OK, WARN (the
 * migration works, with a consequence it states) or BLOCK (the migration
 * would fail); every WARN and BLOCK comes with the exact command or setting
 * that fixes it.  Checks: server versions; wal_level,
 * max_replication_slots, max_wal_senders and output_plugin_libraries on
 * the source; the pgferry plugin there; the roles' privileges on both
 * sides (replication, reading the tables, creating in the target database,
 * session_replication_role); extensions and roles the schema needs on the
 * target; objects already on the target; tables without a primary key or
 * usable replica identity, unlogged tables, large objects; the database
 * size and its largest tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PREFLIGHT_H
#define PGFERRY_PREFLIGHT_H

#include <stdbool.h>

#include "common/exit.h"

#include "catalog/tablefilter.h"
#include "pg/pg.h"

typedef struct PreflightOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
	const char *slot;	/* the slot migrate would create (preflight_run:
						 * NULL for the default) */
	const TableFilter *filter;
	bool resuming; /* migrate resuming its own work: the
								 * target's tables and the slot are ours */
	bool quiet;	   /* print only WARN and BLOCK */
} PreflightOptions;

/*
 * Runs every check on open sessions; returns the number of blocking
 * problems, or -1 when a check could not run (reported).
 */
extern int preflight_check(PgConn *source, PgConn *target,
						   const PreflightOptions *options);

/* The command: connects, checks, returns an exit code. */
extern int preflight_run(const PreflightOptions *options);

#endif /* PGFERRY_PREFLIGHT_H */
