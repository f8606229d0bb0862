/*-------------------------------------------------------------------------
 *
 * schema.h
 *	  The source's schema on the target, from pg_dump: the pre-data section
 *	  (types, functions, tables...) before the copy, and the post-data
 *	  section (indexes, constraints, triggers...) statement by statement
 *	  after it.
 *
 * Promises:
 *	- schema_dump() runs pg_dump in the slot's exported snapshot, so the
 *	  schema is exactly the one the copied rows have, and turns its output
 *	  into a pre-data script and a list of post-data statements.  The
 *	  pgferry extension and schema of the source are left out (the target
 *	  keeps its own pgferry schema for state); so are subscriptions.
 *	- Each post-data statement is self-contained (it carries the session
 *	  settings pg_dump's script would have had at that point) and knows the
 *	  table whose data it waits for; a foreign key also knows the table it
 *	  references.  Statements tied to no copied table run after every copy,
 *	  in pg_dump's order (which puts foreign keys after the indexes they
 *	  need).
 *	- Owners and privileges are restored as pg_dump wrote them, or left
 *	  out as pg_restore --no-owner and --no-privileges leave them out.
 *	- pg_dump and pg_restore are the ones installed next to pgferry (the
 *	  PostgreSQL bin directory), else found on PATH.  A password never
 *	  appears on their command line.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_SCHEMA_H
#define PGFERRY_SCHEMA_H

#include <stdbool.h>

#include "pg/pg.h"
#include "state/state.h"

/*
 * What the restored schema keeps of the source's roles (pgferry migrate
 * --no-owner, --no-privileges, --roles; preflight checks the same).
 */
typedef struct RestoreModes
{
	bool no_owner;		/* objects belong to the target role */
	bool no_privileges; /* no GRANT, REVOKE or default privileges */
	bool create_roles;	/* missing roles created first (roles.h) */
} RestoreModes;

typedef struct SchemaScript
{
	char *pre_data; /* SQL, to run in one transaction */
	PostDataList post_data;
} SchemaScript;

/*
 * Dumps the schema of the source database (conninfo) in snapshot into dir,
 * and ties the post-data statements to tables with the catalogs seen by
 * source (a session in the same snapshot).  The pre-data script restores
 * the schemas and their privileges first: an owner's CREATE on a schema
 * must be there before a non-superuser can give it objects in it.
 */
extern bool schema_dump(const char *conninfo, const char *snapshot,
						const char *dir, PgConn *source,
						const RestoreModes *modes, SchemaScript *script);
extern void schema_script_free(SchemaScript *script);

/* Runs the pre-data script in the caller's transaction on target. */
extern bool schema_restore_pre_data(PgConn *target,
									const SchemaScript *script);

/*
 * Runs one post-data statement in its own transaction, which also marks it
 * done in pgferry.post_data.
 */
extern bool schema_run_post_data(PgConn *target, const PostDataItem *item);

#endif /* PGFERRY_SCHEMA_H */
