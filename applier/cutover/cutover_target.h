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
 * The source's sequences, each with the target's that takes its value,
 * found before the read-only window: setting them inside it then costs a
 * few small statements whatever their number.
 */
typedef struct SequenceMap
{
	PgResult *source; /* (name, owning table, column, OID) */
	PgResult *target; /* per row of source: (name, OID, increment) */
	long count;		  /* the sequences of the source database then */
} SequenceMap;

/*
 * Makes the map.  An identity or serial sequence is found on the target
 * through its table and column, whatever its name there; others by name.
 * False (after naming them) when the target lacks some.
 */
extern bool cutover_map_sequences(PgConn *source, PgConn *target,
								  SequenceMap *map);

/*
 * Sets every sequence of the map to the source's last_value and
 * is_called: two statements on the source (three when some sequence was
 * never called), one on the target.  A sequence created or dropped on the
 * source since the map was made makes it again.  A target sequence
 * already past the source's value is kept (with a warning).  *set counts
 * the sequences set or kept.
 */
extern bool cutover_copy_sequences(PgConn *source, PgConn *target,
								   SequenceMap *map, int *set);
extern void cutover_sequences_free(SequenceMap *map);

/*
 * Refreshes the target's materialized views that are populated on the
 * source, each after the materialized views it reads (through plain views
 * too); with concurrently, those that allow it with REFRESH ...
 * CONCURRENTLY, which lets readers read them meanwhile.  *refreshed counts
 * them.
 */
extern bool cutover_refresh_matviews(PgConn *source, PgConn *target,
									 bool concurrently, int *refreshed);

/*
 * The settings that would keep the target from taking writes as the source
 * does (default_transaction_read_only, session_replication_role): rows
 * (set for the database, the statement resetting it, the setting).  Those
 * set for a role are reported (warning and fix) and left alone.
 */
extern PgResult *cutover_target_settings(PgConn *target);

/* Resets those of the settings set for the target database. */
extern bool cutover_reset_settings(PgConn *target, const PgResult *settings);

#endif /* PGFERRY_CUTOVER_TARGET_H */
