/*-------------------------------------------------------------------------
 *
 * publication.h
 *	  The publication a pgoutput slot decodes through.
 *
 * pgoutput sends the changes of the tables its publication names, as the
 * publication was when each change was written: it must exist before the
 * slot's first change.  publication_ensure() uses the one named, or
 * creates it for the tables a migration moves (catalog_tables(), the
 * permanent ones: unlogged tables write no changes), and says which.  One
 * it creates bears a comment naming its slot, so that pgferry finish drops
 * it with the slot, and only it: a publication of the user's stays.  A
 * table created later is not in it (pgferry's plugin would follow it):
 * ALTER PUBLICATION ... ADD TABLE adds it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PUBLICATION_H
#define PGFERRY_PUBLICATION_H

#include <stdbool.h>

#include "catalog/tablefilter.h"
#include "pg/pg.h"

/*
 * Uses or creates publication name for slot's changes; false (after
 * reporting) on error.
 */
extern bool publication_ensure(PgConn *source, const char *name,
							   const char *slot, const TableFilter *filter);

/*
 * Drops the publications pgferry created for slot; false (reported) on
 * error.  *dropped: how many.
 */
extern bool publication_drop_for_slot(PgConn *source, const char *slot,
									  int *dropped);

#endif /* PGFERRY_PUBLICATION_H */
