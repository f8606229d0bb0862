/*-------------------------------------------------------------------------
 *
 * scope.h
 *	  The task's tables, when the source sends more: a publication named
 *	  with --publication that is wider than --include-tables and
 *	  --exclude-tables (FOR ALL TABLES, say).
 *
 * The pgferry plugin filters on the source; pgoutput sends every table of
 * the publication.  Each relation the stream describes is matched against
 * the task's patterns as the copy matched them (tablefilter.h: a partition
 * also through its root's name, read on the target, which has the same
 * partitions); the changes of a table outside the task are dropped, and
 * that is said once per table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_SCOPE_H
#define PGFERRY_SCOPE_H

#include <stdbool.h>

#include "catalog/tablefilter.h"
#include "pg/pg.h"
#include "stream/change.h"

typedef struct Scope Scope;

/* NULL when nothing needs filtering (no patterns). */
extern Scope *scope_create(const TableFilter *filter, const char *publication);
extern void scope_free(Scope *scope);

/*
 * Matches rel (just described by the stream) against the patterns, with
 * conn (an idle SQL connection to the target), and marks it.  False (after
 * reporting) when the query fails.
 */
extern bool scope_describe(Scope *scope, PgConn *conn, Rel *rel);

/*
 * Whether change is outside the task.  A TRUNCATE loses its relations
 * outside; it is dropped when none is left.
 */
extern bool scope_skip(const Scope *scope, Change *change);

#endif /* PGFERRY_SCOPE_H */
