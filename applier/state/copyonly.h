/*-------------------------------------------------------------------------
 *
 * copyonly.h
 *	  The tables of copy-only tasks (pgferry migrate --no-follow), and
 *	  whether they changed on the source since their copy.
 *
 * A copy-only task copies its tables in a snapshot and follows no slot:
 * its copy stays right only while the source does not write to them.  What
 * tells is each table's modification counters on the source
 * (pg_stat_all_tables: n_tup_ins, n_tup_upd, n_tup_del) and its file
 * (pg_relation_filenode: TRUNCATE, VACUUM FULL, CLUSTER and rewriting ALTER
 * TABLEs give the table a new one, and are not counted as row changes).
 * They are read just before the task's snapshot is taken and compared
 * later; reading them costs the same whatever the tables hold, so the
 * cutover compares them inside its read-only window.
 *
 * The counters err on the safe side: a write the source made shortly
 * before the snapshot may be counted after it (a session reports its
 * counts about once a second), rolled back writes count too, and a reset
 * of the statistics (pg_stat_reset(), a crash) makes a change impossible
 * to rule out; each is reported as a change.  A session reports what it
 * has counted when it ends, so once the cutover has ended the sessions of
 * the source, no write is missing from them.
 *
 * Promises: every function reports its own failure and returns false (or
 * NULL).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_COPYONLY_H
#define PGFERRY_COPYONLY_H

#include <stdbool.h>

#include "pg/pg.h"
#include "state/appliers.h"

/*
 * The counters and file of every table of the source database, now: rows
 * (schema, name, relid, filenode, inserted, updated, deleted).
 */
extern PgResult *copyonly_read(PgConn *source);

/*
 * Records, for copy-only task slot, the counters (copyonly_read()'s rows)
 * of the tables named (count schema.name pairs).
 */
extern bool copyonly_save(PgConn *target, const char *slot,
						  const PgResult *counters, const char *const *schemas,
						  const char *const *names, int count);

/*
 * The recorded tables of the copy-only tasks of source database id (only
 * slot's, unless NULL): rows (slot, schema, name, relid, filenode,
 * inserted, updated, deleted).  *unfinished gets the copy-only tasks of id
 * that have not finished their copy: rows (slot, phase).  Both are empty
 * on a target without migration state.
 */
extern bool copyonly_load(PgConn *target, const SourceId *id, const char *slot,
						  PgResult **recorded, PgResult **unfinished);

/*
 * The recorded tables (copyonly_load()'s rows) that changed on the source
 * since: rows (slot, schema, name, the table's quoted name, what changed),
 * or NULL after reporting.
 */
extern PgResult *copyonly_changed(PgConn *source, const PgResult *recorded);

#endif /* PGFERRY_COPYONLY_H */
