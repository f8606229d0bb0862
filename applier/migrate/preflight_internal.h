/*-------------------------------------------------------------------------
 *
 * preflight_internal.h
 *	  What the files of preflight share: the state of a run and its
 *	  output, one block per check.  Nothing outside preflight*.c includes
 *	  this.
 *
 * preflight.c checks the servers, their settings, the slot and the
 * tables; preflight_source.c what the source role needs (replication,
 * pg_dump, the copy, the cutover); preflight_target.c what the target
 * role needs (the schema's restore, its roles, the apply).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PREFLIGHT_INTERNAL_H
#define PGFERRY_PREFLIGHT_INTERNAL_H

#include <stdbool.h>

#include "catalog/catalog.h"
#include "migrate/preflight.h"
#include "pg/pg.h"

/* Items (tables, roles, transactions) listed by name in one block at most. */
#define LIST_MAX 10

typedef enum Verdict
{
	VERDICT_OK,
	VERDICT_INFO,
	VERDICT_WARN,
	VERDICT_BLOCK
} Verdict;

typedef struct Check
{
	const PreflightOptions *options;
	PgConn *source;
	PgConn *target;
	SourceTables tables;
	char *source_role; /* the roles of the sessions, quoted */
	char *target_role;
	int blocking;
	int warnings;
	Plugin plugin;		  /* the one the migration uses */
	bool restore_pending; /* the schema is still to restore (no task of
						   * the target database has yet) */
	bool printing;		  /* the current block is printed */
	bool failed;		  /* a query failed */
} Check;

/* Starts a block. */
extern void verdict(Check *c, Verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A line of the current block (what happens, the fix). */
extern void line(Check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* After a list of count items cut at LIST_MAX: how many were left out. */
extern void list_rest(Check *c, int count);

/* A query's result, or NULL (after reporting, c->failed set) on error. */
extern PgResult *query(Check *c, PgConn *conn, const char *sql, int nparams,
					   const char *const *params, const char *what);

/* preflight_source.c */
extern void check_source_role(Check *c);
extern void check_source_reads(Check *c);
extern void check_cutover_privileges(Check *c);

/* preflight_wal.c */
extern void check_retained_wal(Check *c);

/* preflight_target.c */
extern void check_target(Check *c);
extern void check_extensions(Check *c);
extern void check_schema_roles(Check *c);

#endif /* PGFERRY_PREFLIGHT_INTERNAL_H */
