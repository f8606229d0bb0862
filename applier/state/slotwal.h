/*-------------------------------------------------------------------------
 *
 * slotwal.h
 *	  The WAL a replication slot holds on the source.
 *
 * From the start of the copy until the applier confirms the stream, the
 * slot keeps every WAL segment the source writes: hours of a busy source
 * are tens of GB in pg_wal.  A source with max_slot_wal_keep_size set
 * removes them anyway past that size and invalidates the slot, which ends
 * the migration.  These functions read where a slot stands and warn before
 * either happens.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_SLOTWAL_H
#define PGFERRY_SLOTWAL_H

#include <stdbool.h>

#include "pg/pg.h"

typedef struct SlotWal
{
	bool found;		  /* the slot exists on the source */
	double retained;  /* bytes from its restart_lsn to the WAL insert
						 * position */
	char status[16];  /* pg_replication_slots.wal_status: reserved,
						 * extended, unreserved or lost */
	double safe;	  /* bytes the source may still write before it
						 * invalidates the slot; -1: no limit */
	double keep_size; /* max_slot_wal_keep_size in bytes; -1: no limit */
} SlotWal;

/* Reads slot's state on the source (a SQL session). */
extern bool slot_wal_read(PgConn *source, const char *slot, SlotWal *wal);

/*
 * One line for people: "3.2 GB of WAL held (reserved; 6.8 GB more before
 * max_slot_wal_keep_size invalidates the slot)".
 */
extern char *slot_wal_describe(const SlotWal *wal, char *line, size_t size);

/*
 * Warns, through log_warning(), when the WAL held passes threshold bytes
 * (then at twice as much, and so on) and when the source is about to
 * invalidate the slot.  Reads the source at most every interval.
 */
typedef struct SlotWalWatch
{
	PgConn *source;
	const char *slot;
	double threshold; /* bytes; 0: only the invalidation warnings */
	double next_warning;
	double checked_at; /* clock_seconds() of the last read */
	bool warned_unreserved;
} SlotWalWatch;

#define SLOT_WAL_WATCH_INTERVAL 30.0

extern void slot_wal_watch_init(SlotWalWatch *watch, PgConn *source,
								const char *slot, double threshold);
/* now: read the source even if the interval has not passed */
extern void slot_wal_watch(SlotWalWatch *watch, bool now);

#endif /* PGFERRY_SLOTWAL_H */
