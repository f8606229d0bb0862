/*-------------------------------------------------------------------------
 *
 * preflight.h
 *	  `pgferry preflight`: what would stop or surprise a migration, found
 *	  before anything changes.
 *
 * Promises: reads only (no slot, no table, no setting is created or
 * changed).  Prints to stdout, one block per check: OK, INFO, WARN (the
 * migration works, with a consequence it states) or BLOCK (the migration
 * would fail); every WARN and BLOCK comes with the exact command or setting
 * that fixes it.  A check that cannot run is a BLOCK (or an error), never
 * an OK.  Checks: server versions; the output plugin (an existing slot's;
 * else pgferry where it is installed there, else the built-in pgoutput,
 * and why), with pgoutput the tables whose updates and deletes a
 * publication would make the source refuse; wal_level, max_replication_slots,
 * max_wal_senders and output_plugin_libraries on the source; the pgferry
 * plugin there; the slot (free, or this target's migration); what each
 * phase needs of the source role (replication; every table, sequence and
 * large object pg_dump and the copy read; what the cutover does: the
 * database's ownership, pg_signal_backend, pg_read_all_stats) and of the
 * target role (schemas it creates or fills, extensions, the roles the
 * schema names and, with the modes migrate will use, acting for owners,
 * grantors, objects only a superuser creates; session_replication_role);
 * objects already on the target; tables without a primary key or usable
 * replica identity, unlogged tables; the database size and its largest
 * tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PREFLIGHT_H
#define PGFERRY_PREFLIGHT_H

#include <stdbool.h>

#include "common/exit.h"

#include "catalog/tablefilter.h"
#include "migrate/schema.h"
#include "pg/pg.h"
#include "stream/change.h"

typedef struct PreflightOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
	const char *slot;	/* the slot migrate would create (preflight_run:
						 * NULL for the default) */
	const TableFilter *filter;
	RestoreModes modes; /* how migrate restores the schema */
	bool resuming;		/* migrate resuming its own work: the
								 * target's tables and the slot are ours */
	bool quiet;			/* print only WARN and BLOCK */
	int jobs;			/* the copy's, for its time (0: migrate's default) */
	const char *plugin; /* --plugin: pgferry, pgoutput; NULL: the default */
	Plugin *chosen;		/* NULL, or where the plugin to use goes */
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
