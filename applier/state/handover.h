/*-------------------------------------------------------------------------
 *
 * handover.h
 *	  pgferry.handover on the target: the cutovers that handed the target
 *	  over, one row per source database, which `pgferry finish` asks for
 *	  before it removes anything.
 *
 * Promises: every function reports its own failure and returns false.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_HANDOVER_H
#define PGFERRY_HANDOVER_H

#include <stdbool.h>

#include "pg/pg.h"
#include "state/appliers.h"

/* Creates the table if missing (its own transaction). */
extern bool handover_prepare(PgConn *target);

/*
 * Records that the target was handed over from source id: the slots the
 * cutover waited for, the source's last LSN, the read-only window.
 */
extern bool handover_record(PgConn *target, const SourceId *id,
							const Appliers *appliers, Lsn last_lsn,
							double window_seconds);

/*
 * The hand-over from source id, if any: *slots (comma-separated, malloc'ed)
 * and *when (malloc'ed) are set when *found.
 */
extern bool handover_find(PgConn *target, const SourceId *id, bool *found,
						  char **slots, char **when);

#endif /* PGFERRY_HANDOVER_H */
