/*-------------------------------------------------------------------------
 *
 * copydata.h
 *	  What one copy unit moves, between a source session in the snapshot
 *	  and a target session in the unit's transaction (copy.c owns both).
 *
 * Promises:
 *	- copydata_rows(): the rows of a whole table (emptied first, loaded
 *	  with COPY FREEZE) or of a range of its blocks (ctid bounds), as one
 *	  COPY TO STDOUT streamed row by row into one COPY FROM STDIN: binary
 *	  when the table allows, text otherwise; only live, not generated
 *	  columns, by name; an inheritance parent's own rows only.
 *	- copydata_sequences(): the current value of every sequence the table
 *	  filter keeps (owned by a kept table, or unowned without
 *	  --include-tables).
 *	- copydata_large_objects(): the large objects of the snapshot, with
 *	  their data, LO_CHUNK bytes at a time; those the target holds that the
 *	  snapshot has not are removed.
 *	- Each fills range->rows and range->bytes and adds to the meter as it
 *	  goes; on failure it reports and returns false.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_COPYDATA_H
#define PGFERRY_COPYDATA_H

#include <stdbool.h>

#include "catalog/catalog.h"
#include "catalog/tablefilter.h"
#include "migrate/meter.h"
#include "pg/pg.h"
#include "state/state.h"

extern bool copydata_rows(PgConn *source, PgConn *target,
						  const SourceTable *table, CopyRange *range,
						  MeterTable *meter);

/*
 * After copydata_rows() failed on a character the target cannot hold: names
 * the row of the range that holds it (its key, and the column when the
 * target said which), from source, a session in the copy's snapshot; false
 * when it cannot be told.
 */
extern bool copydata_refused_row(PgConn *source, const PgConn *target,
								 const SourceTable *table,
								 const CopyRange *range);
extern bool copydata_sequences(PgConn *source, PgConn *target,
							   const TableFilter *filter, CopyRange *range,
							   MeterTable *meter);
extern bool copydata_large_objects(PgConn *source, PgConn *target,
								   CopyRange *range, MeterTable *meter);

#endif /* PGFERRY_COPYDATA_H */
