/*-------------------------------------------------------------------------
 *
 * cutover_checks.h
 *	  What must hold before the source stops taking writes, checked by
 *	  cutover before its window (and, for the prepared transactions and
 *	  the copy-only tables, again inside it).
 *
 * Promises: each check reads only; it logs every problem it finds with the
 * object and the fix, and returns whether all is well (false too when a
 * server could not be read, reported).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CUTOVER_CHECKS_H
#define PGFERRY_CUTOVER_CHECKS_H

#include <stdbool.h>

#include "pg/pg.h"
#include "state/appliers.h"

/*
 * Whether database id of the source has no prepared transaction: COMMIT
 * PREPARED would still write after read-only.
 */
extern bool cutover_no_prepared(PgConn *source, const SourceId *id);

/*
 * Whether the migration's post-data (indexes, constraints, triggers, ...)
 * has all run on the target: a target without them is not ready, and the
 * source should not stop taking writes for it.  A target that pgferry
 * migrate never wrote to (follow alone) has nothing to check.
 */
extern bool cutover_post_data_done(PgConn *target);

/*
 * Finds the slots to wait for (names, comma-separated; NULL: every slot
 * with progress for id on the target), and checks that each exists on the
 * source, in this database, and is active.  A target that only copy-only
 * tasks wrote (copy_only) may have none.
 */
extern bool cutover_find_slots(PgConn *source, PgConn *target,
							   const SourceId *id, const char *names,
							   bool copy_only, Appliers *appliers);

/*
 * The tables of the copy-only tasks of id (*recorded, copyonly.h), and
 * whether those tasks have all finished and their tables not changed since
 * their copy (*ready).
 */
extern bool cutover_copy_only_ready(PgConn *source, PgConn *target,
									const SourceId *id, PgResult **recorded,
									bool *ready);

/*
 * Whether the copy-only tables recorded are as they were copied;
 * *unchanged is false after naming those that are not.
 */
extern bool cutover_copy_only_unchanged(PgConn *source,
										const PgResult *recorded,
										bool *unchanged);

#endif /* PGFERRY_CUTOVER_CHECKS_H */
