/*-------------------------------------------------------------------------
 *
 * ddl.h
 *	  The source's schema changes, replayed on the target where they stand
 *	  in the stream.
 *
 * Promises:
 *	- A 'pgferry.ddl' message (sent by the extension's event triggers, see
 *	  sql/pgferry_ddl.sql) is a barrier: the rows before it are written,
 *	  then its command runs in the same target transaction, under the
 *	  search_path and role it ran under on the source (the role when the
 *	  target has it and the applier may take it), and commits with the
 *	  position: exactly once.
 *	- A change whose every object is a table the table filters leave out
 *	  is not replayed (its rows do not travel either); one that touches a
 *	  table they keep is, even when it names one they leave out too (a
 *	  foreign key to it), and the target may refuse it.
 *	- A rename of a table the filters leave out to a name they keep stops
 *	  the applier: the rows it had were never copied.  The way on keeps it
 *	  out (--exclude-tables, --skip-ddl).
 *	- A command the source marked as not replayable, or one the target
 *	  refuses, stops the applier with the command, its LSN and the ways
 *	  on: fix the target and resume, or apply it by hand and resume with
 *	  --skip-ddl LSN, which skips that one message.  Nothing after it is
 *	  applied, so the slot never moves past it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_DDL_H
#define PGFERRY_DDL_H

#include <stdbool.h>

#include "catalog/tablefilter.h"
#include "pg/pg.h"

#define DDL_MESSAGE_PREFIX "pgferry.ddl"

typedef struct DdlSettings
{
	Lsn skip_lsn;			   /* --skip-ddl: LSN_INVALID for none */
	const TableFilter *filter; /* NULL: every table */
} DdlSettings;

/*
 * Replays the DDL message content (len bytes) at lsn on target, inside its
 * open transaction, after everything queued before it has been read.
 * False on failure (logged with the ways on); *transient then says whether
 * it may pass on a new connection (the connection lost, a deadlock...).
 */
extern bool ddl_replay(PgConn *target, const DdlSettings *settings,
					   const char *content, size_t len, Lsn lsn,
					   bool *transient);

#endif /* PGFERRY_DDL_H */
