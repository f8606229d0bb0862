/*-------------------------------------------------------------------------
 *
 * publication.h
 *	  The publication a pgoutput slot decodes through.
 *
 * pgoutput sends the changes of the tables its publication names, as the
 * publication was when each change was written: it must exist before the
 * slot's first change.  publication_ensure() uses the one named, or
 * creates it for the tables a migration moves (catalog_tables(), the
 * permanent ones: unlogged tables write no changes), and says which.  A
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

/* Uses or creates publication name; false (after reporting) on error. */
extern bool publication_ensure(PgConn *source, const char *name,
							   const TableFilter *filter);

/* Drops publication name if it exists; false (reported) on error. */
extern bool publication_drop(PgConn *source, const char *name);

#endif /* PGFERRY_PUBLICATION_H */
