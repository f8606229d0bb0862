/*-------------------------------------------------------------------------
 *
 * cutover_target.h
 *	  The target's last steps of a cutover, once it has every write of the
 *	  source.
 *
 * Promises: each step logs what it does and every failure with the object
 * and the fix, goes on past a failing object, and returns false if any
 * object failed.  Run on sessions with search_path = pg_catalog.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CUTOVER_TARGET_H
#define PGFERRY_CUTOVER_TARGET_H

#include <stdbool.h>

#include "pg/pg.h"

/*
 * Sets every sequence of the target to the source's last_value and
 * is_called.  An identity or serial sequence is found through its table
 * and column (pg_get_serial_sequence), whatever its name on the target;
 * others by name.
 */
extern bool cutover_copy_sequences(PgConn *source, PgConn *target);

/*
 * Refreshes the target's materialized views that are populated on the
 * source, each after the materialized views it reads (through plain views
 * too).
 */
extern bool cutover_refresh_matviews(PgConn *source, PgConn *target);

/*
 * Resets the target database's default_transaction_read_only and
 * session_replication_role; reports the same set for roles.
 */
extern bool cutover_ready_target(PgConn *target);

#endif /* PGFERRY_CUTOVER_TARGET_H */
