/*-------------------------------------------------------------------------
 *
 * appliers.h
 *	  Which pgferry appliers follow a source into a target, and how far
 *	  they have got: what verify and cutover ask before they compare or
 *	  switch.
 *
 * A source database is known to the target by its system identifier and
 * name (the key of pgferry.progress, with the slot).  An applier of it is
 * a slot with a pgferry.progress row for it on the target; the applier
 * runs while the slot is active on the source.  To learn that the target
 * has every change the source committed up to a point, a caller writes a
 * marker after that point (a transactional logical message, so that even
 * an idle source gives the applier a commit to apply and record), then
 * waits until every applier's recorded end LSN passes the point.
 *
 * Promises: every function reports its own failure (server error with the
 * object and the fix) and returns false.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_APPLIERS_H
#define PGFERRY_APPLIERS_H

#include <stdbool.h>
#include <stdint.h>

#include "pg/pg.h"

/*
 * Prefixes of the markers pgferry verify and pgferry cutover write on the
 * source; an applier moves past them by applying their commit.
 */
#define VERIFY_MARKER_PREFIX "pgferry.verify"
#define CUTOVER_MARKER_PREFIX "pgferry.cutover"

/* The source database, as pgferry.progress keys it. */
typedef struct SourceId
{
	char *system_identifier; /* decimal text */
	char *database;
	char *database_sql; /* the database's name, quoted */
} SourceId;

/* One slot that applies the source into the target. */
typedef struct ApplierSlot
{
	char *name;
	bool exists;	  /* on the source */
	bool in_database; /* decodes the source database */
	bool active;	  /* a walsender streams it: its applier runs */
} ApplierSlot;

typedef struct Appliers
{
	ApplierSlot *slots;
	int count;
} Appliers;

/* Reads the system identifier and name of the source database. */
extern bool source_id_read(PgConn *source, SourceId *id);
extern void source_id_free(SourceId *id);

/*
 * The slots named in names (comma-separated), or with names NULL every slot
 * with a pgferry.progress row for source on the target, or of a migration
 * from source in its stream phase (none when the target has no
 * pgferry.progress), each as the source sees it.
 */
extern bool appliers_find(PgConn *source, PgConn *target, const SourceId *id,
						  const char *names, Appliers *appliers);
/* Leaves out the slots that are not active. */
extern void appliers_keep_active(Appliers *appliers);
extern void appliers_free(Appliers *appliers);

/*
 * Writes a marker (prefix, content) on the source: a transactional logical
 * message, committed after everything the source committed before it.
 * *at (unless NULL) gets the position past the message: once an applier
 * has applied the source up to it, it has every write the source
 * committed before the marker.
 */
extern bool appliers_mark(PgConn *source, const char *prefix,
						  const char *content, Lsn *at);

/*
 * The lowest end LSN the appliers have recorded on the target: every
 * change the source committed before it is on the target.  LSN_INVALID
 * when one of them has recorded nothing yet.
 */
extern bool appliers_applied(PgConn *target, const SourceId *id,
							 const Appliers *appliers, Lsn *applied);

/*
 * Waits until every applier has applied the source up to point, at most
 * timeout_s seconds.  Every few seconds it logs the slots it still waits
 * for, and warns of those that are no longer active on the source (their
 * applier stopped).  *reached says whether they got there.  Returns false
 * only when a server could not be read.
 */
extern bool appliers_wait(PgConn *source, PgConn *target, const SourceId *id,
						  const Appliers *appliers, Lsn point,
						  double timeout_s, bool *reached);

/*
 * The row changes the appliers have applied, as recorded with their
 * progress (pgferry.progress.rows_applied), summed.
 */
extern bool appliers_rows_applied(PgConn *target, const SourceId *id,
								  const Appliers *appliers, int64_t *rows);

/*
 * The slot a task of database uses unless told otherwise, malloc'ed:
 * pgferry_<database>, lower case, other characters than letters, digits
 * and _ made _, and then (or when too long for a slot name) a hash of the
 * database's name added, so that two databases of one server never share
 * it (slot names are per server).
 */
extern char *appliers_default_slot(const char *database);

/*
 * Drops a slot, waiting up to wait_seconds while it is still in use (the
 * walsender of an applier that has just stopped); false after reporting.
 */
extern bool appliers_drop_slot(PgConn *source, const char *slot,
							   int wait_seconds);

#endif /* PGFERRY_APPLIERS_H */
