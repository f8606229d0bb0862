/*-------------------------------------------------------------------------
 *
 * stmt.h
 *	  The SQL and parameters of the statements that apply row changes.
 *
 * Promises:
 *	- Many rows go in one statement through one parameter per column: a
 *	  binary array (binary values as an array of their own type, or text
 *	  values as text[] cast on the target), unnested WITH ORDINALITY.  The
 *	  SQL then depends only on the relation and the columns present, so it
 *	  is prepared once and reused.  A relation with a binary column whose
 *	  type has no array type (arrays themselves) uses VALUES rows of
 *	  scalar parameters instead.  Rows with no column to write (a table
 *	  without columns) go as their count: one row of defaults each.
 *	- Only columns that arrived are written; generated columns of the
 *	  target never are; GENERATED ALWAYS identity columns are inserted with
 *	  OVERRIDING SYSTEM VALUE, and a row to be updated with a value for one
 *	  is moved instead (deleted, then inserted with its new values and the
 *	  target's values of the columns that did not arrive), since no UPDATE
 *	  can write it.
 *	- Binary values of a built-in type other than the target column's are
 *	  converted by the target: assignment casts where written, an explicit
 *	  cast to the column's type where compared (its indexes serve).
 *	- Every identifier is quoted; every value is a parameter.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_STMT_H
#define PGFERRY_STMT_H

#include "apply/target.h"
#include "common/buf.h"
#include "stream/change.h"

typedef struct Stmt
{
	Buf sql;
	int nparams;
	int params_size;
	Oid *types;
	const char **values;
	int *lengths;
	int *formats;
	Buf *storage;	 /* one per parameter: what values point to */
	bool reusable;	 /* the SQL fits other rows: prepare it */
	int result_ords; /* rows RETURNING their ord, 0 if none */
} Stmt;

/* The most parameters one statement may have (the protocol's limit). */
#define STMT_MAX_PARAMS 65535

extern void stmt_init(Stmt *stmt);
extern void stmt_reset(Stmt *stmt);
extern void stmt_free(Stmt *stmt);

/*
 * How many of rows (all of one relation) one statement of VALUES rows may
 * carry; unlimited (nrows) when arrays are used.
 */
extern int stmt_rows_per_statement(const Rel *rel, const TargetRel *target,
								   int nrows);

/*
 * INSERT of whole new rows; with an arbiter (target->conflict_sql), ON
 * CONFLICT DO UPDATE of the columns that are not part of it.
 */
extern void stmt_upsert(Stmt *stmt, const Rel *rel, const TargetRel *target,
						const RowChange *rows, int nrows, bool on_conflict);

/*
 * UPDATE of rows found by key (the old key when it changed), writing the
 * columns present in the first row (every row has the same ones).
 * insert_missing (whole rows only): rows not found are inserted and the
 * statement's count is of those; otherwise it returns the ord of each row
 * found (result_ords).
 */
extern void stmt_update_by_key(Stmt *stmt, const Rel *rel,
							   const TargetRel *target, const RowChange *rows,
							   int nrows, bool insert_missing);

/* DELETE of rows found by key; its count is of rows deleted. */
extern void stmt_delete_by_key(Stmt *stmt, const Rel *rel,
							   const TargetRel *target, const RowChange *rows,
							   int nrows);

/*
 * One update or delete of a row found by all the old row's values (replica
 * identity FULL), NULL-safe and exact (by text form as well as equality),
 * one row at most.  Counts as the *_by_key ones (an update returns 1 when
 * found).
 */
extern void stmt_row_update(Stmt *stmt, const Rel *rel,
							const TargetRel *target, const RowChange *row,
							bool insert_missing);
extern void stmt_row_delete(Stmt *stmt, const Rel *rel,
							const TargetRel *target, const RowChange *row);

/* SELECT of the text forms of a row's key columns (for messages). */
extern void stmt_key_text(Stmt *stmt, const Rel *rel, const TargetRel *target,
						  const RowChange *row);

/*
 * SELECT of one value of column as the statements pass it: the target
 * reads it as it would in them (to find the value it refused).
 */
extern void stmt_value_probe(Stmt *stmt, const Rel *rel,
							 const TargetRel *target, int column,
							 const ChangeValue *value);

#endif /* PGFERRY_STMT_H */
