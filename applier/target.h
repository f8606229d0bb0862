/*-------------------------------------------------------------------------
 *
 * target.h
 *	  How a source relation maps onto the target: table, columns by name,
 *	  types, keys.
 *
 * Promises: looked up once per relation version (one catalog query per
 * Relation frame), attached to the Rel, freed with it.  A target that
 * cannot take the relation's rows -- table or column missing, a binary
 * value for a column of another type -- is refused with a message that
 * names the object and the fix.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_TARGET_H
#define PGFERRY_TARGET_H

#include <stdbool.h>

#include "pg.h"
#include "rel.h"

/* The target's view of one source column (same index as rel->columns). */
typedef struct TargetColumn
{
	char *name_sql;	   /* quoted name */
	char *type_sql;	   /* its type as SQL, without modifier */
	Oid type_oid;	   /* on the target */
	Oid array_oid;	   /* its array type, 0 if none */
	bool writable;	   /* not generated on the target */
	bool updatable;	   /* writable, not GENERATED ALWAYS identity */
	bool comparable;   /* has an equality operator */
	bool conflict_key; /* part of the ON CONFLICT target */
} TargetColumn;

typedef struct TargetRel
{
	char *name_sql; /* "schema"."table" on the target */
	char *display;	/* the same, for messages */
	int ncolumns;
	TargetColumn *columns; /* one per source column */
	/* a GENERATED ALWAYS identity column is written: OVERRIDING needed */
	bool overriding;

	/*
	 * ON CONFLICT (...) arbiter: a unique index of the target on exactly
	 * the source's key columns (for identity FULL: the target's primary
	 * key).  NULL when there is none: inserts cannot be made idempotent.
	 */
	char *conflict_sql;
	/* every written column is of an arrayable type (see apply.c) */
	bool arrayable;
} TargetRel;

/* The target mapping of rel, looked up on first use; NULL on error. */
extern TargetRel *target_rel(PgConn *target, Rel *rel);

#endif /* PGFERRY_TARGET_H */
