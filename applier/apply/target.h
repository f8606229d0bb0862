/*-------------------------------------------------------------------------
 *
 * target.h
 *	  How a source relation maps onto the target: table, columns by name,
 *	  types, keys.
 *
 * Promises: looked up once per relation version (catalog queries per
 * Relation frame), attached to the Rel, freed with it.  A target that
 * cannot take the relation's rows -- table or column missing, a binary
 * value of a user type for a column of another type, or of a type the
 * target server does not know -- is refused with a message that names
 * the object and the fix.
 *
 * Binary values of a built-in type (the same OID on every server) other
 * than the target column's are sent as their own type and converted by
 * the target: assignment casts where they are written, an explicit cast
 * to the column's type where they are compared.  A target without such a
 * cast refuses the statement when it is prepared;
 * target_report_conversions() then says which columns and the fix.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_TARGET_H
#define PGFERRY_TARGET_H

#include <stdbool.h>

#include "pg/pg.h"
#include "stream/rel.h"

/* The target's view of one source column (same index as rel->columns). */
typedef struct TargetColumn
{
	char *name_sql;		 /* quoted name */
	char *type_sql;		 /* its type as SQL, without modifier */
	Oid type_oid;		 /* on the target */
	Oid value_array_oid; /* array type of the binary values' type, or 0 */
	bool converted;		 /* binary values of another type: cast on target */
	bool writable;		 /* not generated on the target */
	bool updatable;		 /* writable, not GENERATED ALWAYS identity */
	bool comparable;	 /* has an equality operator */
	bool conflict_key;	 /* part of the ON CONFLICT target */
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

/*
 * After the target refused a statement of rel for a type mismatch: logs
 * the columns whose binary values the target converts, with the fix.
 * False (nothing logged) when there are none.
 */
extern bool target_report_conversions(const Rel *rel, const TargetRel *target);

#endif /* PGFERRY_TARGET_H */
