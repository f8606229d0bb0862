/*-------------------------------------------------------------------------
 *
 * stmt.c
 *	  The SQL and parameters of the statements that apply row changes.
 *
 * A statement reads its rows from a row source "v" with columns p1..pn
 * (one per value column) and ord (the row's position in the batch):
 *
 *	arrays:  SELECT u.p1, u.p2::type, u.ord
 *			 FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))
 *			 WITH ORDINALITY AS u(p1, p2, ord)
 *	VALUES:  VALUES ($1, $2::type, 1), ($3, $4::type, 2)
 *
 * Rows without value columns (a table without columns) have nothing to
 * unnest: their count is the parameter,
 *
 *	count:	 SELECT u.ord FROM pg_catalog.generate_series(1, $1) AS u(ord)
 *
 * Binary values are parameters of their own type; text values are text,
 * cast to the target column's type on the target.  Binary values of
 * another type than the target column's (int4 for a bigint column) reach
 * the column through its assignment cast where they are written, and an
 * explicit cast to its type where they are compared, so that its indexes
 * serve.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "apply/stmt.h"

#define INT8OID 20
#define TEXTOID 25
#define TEXTARRAYOID 1009

/* One value column of a row source: which column, of which tuple. */
typedef struct ValueColumn
{
	int column;
	bool old;
} ValueColumn;

void
stmt_init(Stmt *stmt)
{
	memset(stmt, 0, sizeof(Stmt));
}

void
stmt_reset(Stmt *stmt)
{
	buf_reset(&stmt->sql);
	for (int i = 0; i < stmt->nparams; i++)
		buf_reset(&stmt->storage[i]);
	stmt->nparams = 0;
	stmt->reusable = false;
	stmt->result_ords = 0;
}

void
stmt_free(Stmt *stmt)
{
	buf_free(&stmt->sql);
	for (int i = 0; i < stmt->params_size; i++)
		buf_free(&stmt->storage[i]);
	free(stmt->storage);
	free(stmt->types);
	free(stmt->values);
	free(stmt->lengths);
	free(stmt->formats);
	memset(stmt, 0, sizeof(Stmt));
}

/* Adds a parameter; returns its number ($n).  Its bytes go in storage. */
static int
stmt_add_param(Stmt *stmt, Oid type, int format)
{
	int n = stmt->nparams;

	if (n == stmt->params_size)
	{
		int size = stmt->params_size ? 2 * stmt->params_size : 16;

		stmt->types = xrealloc(stmt->types, size * sizeof(Oid));
		stmt->values = xrealloc(stmt->values, size * sizeof(char *));
		stmt->lengths = xrealloc(stmt->lengths, size * sizeof(int));
		stmt->formats = xrealloc(stmt->formats, size * sizeof(int));
		stmt->storage = xrealloc(stmt->storage, size * sizeof(Buf));
		memset(stmt->storage + stmt->params_size, 0,
			   (size - stmt->params_size) * sizeof(Buf));
		stmt->params_size = size;
	}
	stmt->types[n] = type;
	stmt->formats[n] = format;
	stmt->lengths[n] = 0;
	buf_reset(&stmt->storage[n]);
	stmt->nparams++;
	return n + 1;
}

/* Points values at the storage, once no more bytes will be added. */
static void
stmt_finish(Stmt *stmt)
{
	for (int i = 0; i < stmt->nparams; i++)
	{
		if (stmt->lengths[i] < 0)
			stmt->values[i] = NULL;
		else
		{
			buf_reserve(&stmt->storage[i], 0);
			stmt->values[i] = stmt->storage[i].data;
			stmt->lengths[i] = (int) stmt->storage[i].len;
		}
	}
}

static const ChangeValue *
value_of(const RowChange *row, const ValueColumn *vc)
{
	return vc->old ? &row->old_values[vc->column]
				   : &row->new_values[vc->column];
}

/* Adds one scalar parameter holding value; appends its SQL expression. */
static void
stmt_scalar(Stmt *stmt, const Rel *rel, const TargetRel *target, int column,
			const ChangeValue *value, Buf *sql)
{
	bool binary = rel->columns[column].binary;
	int n = stmt_add_param(stmt, binary ? rel->columns[column].type_oid : 0,
						   binary ? 1 : 0);

	if (value->kind == VALUE_NULL)
		stmt->lengths[n - 1] = -1;
	else
		buf_append(&stmt->storage[n - 1], value->data, value->len);
	if (binary)
		buf_printf(sql, "$%d", n);
	else
		buf_printf(sql, "$%d::%s", n, target->columns[column].type_sql);
}

/*
 * Adds one array parameter holding column vc of every row (binary array
 * format: dimensions, null flag, element type, then length-prefixed
 * elements).
 */
static int
stmt_array(Stmt *stmt, const Rel *rel, const TargetRel *target,
		   const RowChange *rows, int nrows, const ValueColumn *vc)
{
	bool binary = rel->columns[vc->column].binary;
	int n = stmt_add_param(stmt,
						   binary ? target->columns[vc->column].value_array_oid
								  : TEXTARRAYOID,
						   1);
	Buf *array = &stmt->storage[n - 1];
	size_t has_null_at;

	buf_append_int32(array, 1);
	has_null_at = array->len;
	buf_append_int32(array, 0);
	buf_append_int32(
		array, binary ? (int32_t) rel->columns[vc->column].type_oid : TEXTOID);
	buf_append_int32(array, nrows);
	buf_append_int32(array, 1);
	for (int r = 0; r < nrows; r++)
	{
		const ChangeValue *value = value_of(&rows[r], vc);

		if (value->kind == VALUE_NULL)
		{
			buf_append_int32(array, -1);
			array->data[has_null_at + 3] = 1;
			continue;
		}
		buf_append_int32(array, (int32_t) value->len);
		buf_append(array, value->data, value->len);
	}
	return n;
}

/*
 * Appends the row source's query (see the file header) for the value
 * columns vcs of rows.
 */
static void
stmt_row_source(Stmt *stmt, const Rel *rel, const TargetRel *target,
				const RowChange *rows, int nrows, const ValueColumn *vcs,
				int nvcs)
{
	Buf *sql = &stmt->sql;

	if (nvcs == 0)
	{
		int n = stmt_add_param(stmt, INT8OID, 0);

		buf_printf(&stmt->storage[n - 1], "%d", nrows);
		buf_printf(sql,
				   "SELECT u.ord FROM pg_catalog.generate_series(1, $%d) "
				   "AS u(ord)",
				   n);
		stmt->reusable = true;
		return;
	}
	if (target->arrayable)
	{
		int first = stmt->nparams + 1;

		for (int k = 0; k < nvcs; k++)
			stmt_array(stmt, rel, target, rows, nrows, &vcs[k]);
		buf_append_str(sql, "SELECT ");
		for (int k = 0; k < nvcs; k++)
		{
			buf_printf(sql, "u.p%d", k + 1);
			if (!rel->columns[vcs[k].column].binary)
				buf_printf(sql, "::%s",
						   target->columns[vcs[k].column].type_sql);
			buf_append_str(sql, ", ");
		}
		buf_append_str(sql, "u.ord FROM ROWS FROM (");
		for (int k = 0; k < nvcs; k++)
			buf_printf(sql, "%spg_catalog.unnest($%d)", k ? ", " : "",
					   first + k);
		buf_append_str(sql, ") WITH ORDINALITY AS u(");
		for (int k = 0; k < nvcs; k++)
			buf_printf(sql, "p%d, ", k + 1);
		buf_append_str(sql, "ord)");
		stmt->reusable = true;
		return;
	}

	buf_append_str(sql, "VALUES ");
	for (int r = 0; r < nrows; r++)
	{
		buf_append_str(sql, r ? ", (" : "(");
		for (int k = 0; k < nvcs; k++)
		{
			stmt_scalar(stmt, rel, target, vcs[k].column,
						value_of(&rows[r], &vcs[k]), sql);
			buf_append_str(sql, ", ");
		}
		buf_printf(sql, "%d)", r + 1);
	}
}

/* " AS v(p1, ..., pn, ord)" */
static void
stmt_row_alias(Buf *sql, int nvcs)
{
	buf_append_str(sql, " AS v(");
	for (int k = 0; k < nvcs; k++)
		buf_printf(sql, "p%d, ", k + 1);
	buf_append_str(sql, "ord)");
}

int
stmt_rows_per_statement(const Rel *rel, const TargetRel *target, int nrows)
{
	int per_row = rel->ncolumns + 1;

	if (target->arrayable)
		return nrows;
	/* old key and new row at most: twice the columns */
	per_row = 2 * per_row;
	return STMT_MAX_PARAMS / per_row < nrows ? STMT_MAX_PARAMS / per_row
											 : nrows;
}

/* Whether the first row carries column i in its new tuple. */
static bool
stmt_present(const RowChange *row, int i)
{
	return row->new_values && row->new_values[i].kind != VALUE_UNCHANGED;
}

/*
 * "INSERT INTO T (cols) [OVERRIDING SYSTEM VALUE] SELECT v.p.. FROM ";
 * with no column to write, "INSERT INTO T SELECT FROM ": one row of
 * defaults per row of the source.
 */
static void
stmt_insert_head(Stmt *stmt, const Rel *rel, const TargetRel *target,
				 const int *pnum)
{
	Buf *sql = &stmt->sql;
	bool first = true;

	buf_printf(sql, "INSERT INTO %s", target->name_sql);
	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (pnum[i] == 0)
			continue;
		buf_printf(sql, "%s%s", first ? " (" : ", ",
				   target->columns[i].name_sql);
		first = false;
	}
	buf_printf(sql, "%s%s SELECT ", first ? "" : ")",
			   target->overriding ? " OVERRIDING SYSTEM VALUE" : "");
	first = true;
	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (pnum[i] == 0)
			continue;
		buf_printf(sql, "%sv.p%d", first ? "" : ", ", pnum[i]);
		first = false;
	}
	buf_append_str(sql, " FROM ");
}

void
stmt_upsert(Stmt *stmt, const Rel *rel, const TargetRel *target,
			const RowChange *rows, int nrows, bool on_conflict)
{
	ValueColumn *vcs = xcalloc(rel->ncolumns, sizeof(ValueColumn));
	int *pnum = xcalloc(rel->ncolumns, sizeof(int));
	int nvcs = 0;
	bool first = true;
	Buf *sql = &stmt->sql;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!target->columns[i].writable)
			continue;
		vcs[nvcs].column = i;
		pnum[i] = ++nvcs;
	}
	stmt_insert_head(stmt, rel, target, pnum);
	buf_append_str(sql, "(");
	stmt_row_source(stmt, rel, target, rows, nrows, vcs, nvcs);
	buf_append_str(sql, ")");
	stmt_row_alias(sql, nvcs);
	if (on_conflict && target->conflict_sql)
	{
		buf_printf(sql, " ON CONFLICT %s DO ", target->conflict_sql);
		for (int i = 0; i < rel->ncolumns; i++)
		{
			const TargetColumn *col = &target->columns[i];

			if (pnum[i] == 0 || col->conflict_key || !col->updatable)
				continue;
			buf_printf(sql, "%s%s = EXCLUDED.%s", first ? "UPDATE SET " : ", ",
					   col->name_sql, col->name_sql);
			first = false;
		}
		if (first)
			buf_append_str(sql, "NOTHING");
	}
	free(vcs);
	free(pnum);
	stmt_finish(stmt);
}

/*
 * A SET item that changes nothing, for an update with nothing to write:
 * the row is still found, and so counted.
 */
static void
stmt_touch(Buf *sql, const Rel *rel, const TargetRel *target)
{
	for (int i = 0; i < rel->ncolumns; i++)
		if (target->columns[i].updatable)
		{
			buf_printf(sql, "%s = t.%s", target->columns[i].name_sql,
					   target->columns[i].name_sql);
			return;
		}
}

/*
 * Appends the cast that makes a value of col comparable with the column:
 * binary values of another type are converted to the column's.
 */
static void
stmt_compare_cast(Buf *sql, const TargetColumn *col)
{
	if (col->converted)
		buf_printf(sql, "::%s", col->type_sql);
}

/* "t.k1 = v.p1 AND ..." over the key columns */
static void
stmt_key_match(Buf *sql, const Rel *rel, const TargetRel *target,
			   const int *key_pnum)
{
	bool first = true;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!rel->columns[i].key)
			continue;
		buf_printf(sql, "%st.%s = v.p%d", first ? "" : " AND ",
				   target->columns[i].name_sql, key_pnum[i]);
		stmt_compare_cast(sql, &target->columns[i]);
		first = false;
	}
}

/*
 * Whether column i is written by an INSERT but by no UPDATE (a GENERATED
 * ALWAYS identity): a row whose value there changed (SET id = DEFAULT on
 * the source) is moved, deleted and inserted again with OVERRIDING SYSTEM
 * VALUE.
 */
static bool
stmt_column_fixed(const TargetRel *target, int i)
{
	return target->columns[i].writable && !target->columns[i].updatable;
}

/*
 * The end of a move: d (the deleted rows, columns p1..pn in the order of
 * the writable columns) is inserted again.  Appends ", i AS (INSERT ...)".
 */
static void
stmt_move_insert(Stmt *stmt, const Rel *rel, const TargetRel *target)
{
	int *pnum = xcalloc(rel->ncolumns, sizeof(int));
	int n = 0;

	for (int i = 0; i < rel->ncolumns; i++)
		if (target->columns[i].writable)
			pnum[i] = ++n;
	buf_append_str(&stmt->sql, "), i AS (");
	stmt_insert_head(stmt, rel, target, pnum);
	buf_append_str(&stmt->sql, "d AS v) ");
	free(pnum);
}

/*
 * Appends the RETURNING list of a move's DELETE: ord, then the row as it
 * is to be, p1..pn: each writable column's new value (new_expr[i]) or,
 * where none arrived, the target's.
 */
static void
stmt_move_returning(Buf *sql, const Rel *rel, const TargetRel *target,
					const char *ord, char *const *new_expr)
{
	int n = 0;

	buf_printf(sql, " RETURNING %s", ord);
	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!target->columns[i].writable)
			continue;
		if (new_expr[i])
			buf_printf(sql, ", %s AS p%d", new_expr[i], ++n);
		else
			buf_printf(sql, ", t.%s AS p%d", target->columns[i].name_sql, ++n);
	}
}

/* "WITH v(p1, ..., pn, ord) AS (<row source>)" */
static void
stmt_with_rows(Stmt *stmt, const Rel *rel, const TargetRel *target,
			   const RowChange *rows, int nrows, const ValueColumn *vcs,
			   int nvcs)
{
	buf_append_str(&stmt->sql, "WITH v(");
	for (int k = 0; k < nvcs; k++)
		buf_printf(&stmt->sql, "p%d, ", k + 1);
	buf_append_str(&stmt->sql, "ord) AS (");
	stmt_row_source(stmt, rel, target, rows, nrows, vcs, nvcs);
	buf_append_str(&stmt->sql, ")");
}

/*
 * "INSERT INTO T (columns) SELECT values WHERE NOT EXISTS (SELECT FROM
 * cte)": the row of a one-row update that cte did not find.
 */
static void
stmt_insert_unless(Buf *sql, const TargetRel *target, const Buf *columns,
				   const Buf *values, const char *cte)
{
	buf_printf(sql,
			   "INSERT INTO %s (%s)%s SELECT %s "
			   "WHERE NOT EXISTS (SELECT FROM %s)",
			   target->name_sql, columns->data ? columns->data : "",
			   target->overriding ? " OVERRIDING SYSTEM VALUE" : "",
			   values->data ? values->data : "", cte);
}

/*
 * Appends the SET list of an update by key: every column that arrived and
 * an UPDATE may write (the key's when it changed).
 */
static void
stmt_set_list(Buf *sql, const Rel *rel, const TargetRel *target,
			  const int *new_pnum, bool key_changed)
{
	bool first = true;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		const TargetColumn *col = &target->columns[i];

		if (new_pnum[i] == 0 || !col->updatable ||
			(!key_changed && rel->columns[i].key))
			continue;
		buf_printf(sql, "%s%s = v.p%d", first ? "" : ", ", col->name_sql,
				   new_pnum[i]);
		first = false;
	}
	if (first)
		stmt_touch(sql, rel, target);
}

/*
 * Appends "t.c IS NOT DISTINCT FROM v.pN AND ..." over the columns no
 * UPDATE writes that have a value to write: the rows where it holds keep
 * their values there and are updated, not moved.
 */
static void
stmt_fixed_same(Buf *sql, const Rel *rel, const TargetRel *target,
				const int *new_pnum, bool key_changed)
{
	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (new_pnum[i] == 0 || !stmt_column_fixed(target, i) ||
			(!key_changed && rel->columns[i].key))
			continue;
		buf_printf(sql, " AND t.%s IS NOT DISTINCT FROM v.p%d",
				   target->columns[i].name_sql, new_pnum[i]);
		stmt_compare_cast(sql, &target->columns[i]);
	}
}

/*
 * stmt_update_by_key for rows with a value for a column that no UPDATE
 * writes (stmt_column_fixed): the rows whose value there is the target's
 * are updated (u); the others are moved (d, i), so that an update that
 * leaves such a column alone stays an update for the target's triggers
 * and foreign keys.  vcs, key_pnum and new_pnum as there.
 */
static void
stmt_move_by_key(Stmt *stmt, const Rel *rel, const TargetRel *target,
				 const RowChange *rows, int nrows, const ValueColumn *vcs,
				 int nvcs, const int *key_pnum, const int *new_pnum,
				 bool insert_missing)
{
	Buf *sql = &stmt->sql;
	char **new_expr = xcalloc(rel->ncolumns, sizeof(char *));
	bool key_changed = rows[0].old_kind == OLD_KEY;
	Buf same = BUF_INIT;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		Buf expr = BUF_INIT;

		if (new_pnum[i] == 0)
			continue;
		buf_printf(&expr, "v.p%d", new_pnum[i]);
		new_expr[i] = expr.data;
	}
	stmt_fixed_same(&same, rel, target, new_pnum, key_changed);
	stmt_with_rows(stmt, rel, target, rows, nrows, vcs, nvcs);
	buf_printf(sql, ", u AS (UPDATE %s AS t SET ", target->name_sql);
	stmt_set_list(sql, rel, target, new_pnum, key_changed);
	buf_append_str(sql, " FROM v WHERE ");
	stmt_key_match(sql, rel, target, key_pnum);
	buf_printf(sql, "%s RETURNING v.ord)", same.data);
	buf_printf(sql, ", d AS (DELETE FROM %s AS t USING v WHERE ",
			   target->name_sql);
	stmt_key_match(sql, rel, target, key_pnum);
	buf_printf(sql, " AND NOT (true%s)", same.data);
	stmt_move_returning(sql, rel, target, "v.ord", new_expr);
	stmt_move_insert(stmt, rel, target);
	if (insert_missing)
	{
		stmt_insert_head(stmt, rel, target, new_pnum);
		buf_append_str(sql, "v WHERE v.ord NOT IN (SELECT d.ord FROM d "
							"UNION ALL SELECT u.ord FROM u)");
	}
	else
	{
		buf_append_str(sql,
					   "SELECT d.ord FROM d UNION ALL SELECT u.ord FROM u");
		stmt->result_ords = nrows;
	}
	buf_free(&same);
	for (int i = 0; i < rel->ncolumns; i++)
		free(new_expr[i]);
	free(new_expr);
}

/*
 * stmt_update_by_key's UPDATE (and, with insert_missing, INSERT of the rows
 * it did not find).  vcs, key_pnum and new_pnum as there.
 */
static void
stmt_update_rows(Stmt *stmt, const Rel *rel, const TargetRel *target,
				 const RowChange *rows, int nrows, const ValueColumn *vcs,
				 int nvcs, const int *key_pnum, const int *new_pnum,
				 bool insert_missing)
{
	bool key_changed = rows[0].old_kind == OLD_KEY;
	Buf *sql = &stmt->sql;

	if (insert_missing)
	{
		stmt_with_rows(stmt, rel, target, rows, nrows, vcs, nvcs);
		buf_append_str(sql, ", u AS (");
	}
	buf_printf(sql, "UPDATE %s AS t SET ", target->name_sql);
	stmt_set_list(sql, rel, target, new_pnum, key_changed);
	buf_append_str(sql, " FROM ");
	if (insert_missing)
		buf_append_str(sql, "v");
	else
	{
		buf_append_str(sql, "(");
		stmt_row_source(stmt, rel, target, rows, nrows, vcs, nvcs);
		buf_append_str(sql, ")");
		stmt_row_alias(sql, nvcs);
	}
	buf_append_str(sql, " WHERE ");
	stmt_key_match(sql, rel, target, key_pnum);
	buf_append_str(sql, " RETURNING v.ord");
	if (insert_missing)
	{
		buf_append_str(sql, ") ");
		stmt_insert_head(stmt, rel, target, new_pnum);
		buf_append_str(sql, "v WHERE v.ord NOT IN (SELECT u.ord FROM u)");
	}
	else
		stmt->result_ords = nrows;
}

void
stmt_update_by_key(Stmt *stmt, const Rel *rel, const TargetRel *target,
				   const RowChange *rows, int nrows, bool insert_missing)
{
	ValueColumn *vcs = xcalloc(2 * rel->ncolumns, sizeof(ValueColumn));
	int *key_pnum = xcalloc(rel->ncolumns, sizeof(int));
	int *new_pnum = xcalloc(rel->ncolumns, sizeof(int));
	bool key_changed = rows[0].old_kind == OLD_KEY;
	int nvcs = 0;
	bool move = false;

	/* the key that finds the row: the old one if it changed */
	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!rel->columns[i].key)
			continue;
		vcs[nvcs].column = i;
		vcs[nvcs].old = key_changed;
		key_pnum[i] = ++nvcs;
		if (!key_changed)
			new_pnum[i] = key_pnum[i];
	}
	/* the new values that arrived */
	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (new_pnum[i] || !target->columns[i].writable ||
			!stmt_present(&rows[0], i))
			continue;
		vcs[nvcs].column = i;
		new_pnum[i] = ++nvcs;
	}

	/*
	 * A column no UPDATE writes, with a value to write (a key column that
	 * changed, or any other: whether its value changed is not known): the
	 * rows are moved.
	 */
	for (int i = 0; i < rel->ncolumns; i++)
		move |= new_pnum[i] != 0 && stmt_column_fixed(target, i) &&
				(key_changed || !rel->columns[i].key);
	if (move)
		stmt_move_by_key(stmt, rel, target, rows, nrows, vcs, nvcs, key_pnum,
						 new_pnum, insert_missing);
	else
		stmt_update_rows(stmt, rel, target, rows, nrows, vcs, nvcs, key_pnum,
						 new_pnum, insert_missing);
	free(vcs);
	free(key_pnum);
	free(new_pnum);
	stmt_finish(stmt);
}

void
stmt_delete_by_key(Stmt *stmt, const Rel *rel, const TargetRel *target,
				   const RowChange *rows, int nrows)
{
	ValueColumn *vcs = xcalloc(rel->ncolumns, sizeof(ValueColumn));
	int *key_pnum = xcalloc(rel->ncolumns, sizeof(int));
	int nvcs = 0;
	Buf *sql = &stmt->sql;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!rel->columns[i].key)
			continue;
		vcs[nvcs].column = i;
		vcs[nvcs].old = true;
		key_pnum[i] = ++nvcs;
	}
	buf_printf(sql, "DELETE FROM %s AS t USING (", target->name_sql);
	stmt_row_source(stmt, rel, target, rows, nrows, vcs, nvcs);
	buf_append_str(sql, ")");
	stmt_row_alias(sql, nvcs);
	buf_append_str(sql, " WHERE ");
	stmt_key_match(sql, rel, target, key_pnum);
	free(vcs);
	free(key_pnum);
	stmt_finish(stmt);
}

/*
 * "WITH m AS (SELECT tableoid, ctid of the first row that is the old
 * row)": NULL-safe.  A value matches by its text form too: the type's
 * equality (where it has one, so that an index serves) takes numeric 1.0
 * for 1.00 and float8 0 for -0, and the row found must be the one the
 * source changed, not one equal to it.  The text forms compare byte for
 * byte (collation "C"): under a non-deterministic collation 'A' = 'a'.
 * Columns whose old value was not sent are not compared.
 */
static void
stmt_row_match(Stmt *stmt, const Rel *rel, const TargetRel *target,
			   const RowChange *row)
{
	Buf *sql = &stmt->sql;
	bool first = true;

	buf_printf(sql,
			   "WITH m AS (SELECT tableoid AS r, ctid AS c FROM %s "
			   "WHERE ",
			   target->name_sql);
	for (int i = 0; i < rel->ncolumns; i++)
	{
		const ChangeValue *value = &row->old_values[i];
		const TargetColumn *col = &target->columns[i];
		Buf expr = BUF_INIT;

		if (value->kind == VALUE_UNCHANGED)
			continue;
		buf_append_str(sql, first ? "" : " AND ");
		first = false;
		if (value->kind == VALUE_NULL)
		{
			buf_printf(sql, "%s IS NULL", col->name_sql);
			continue;
		}
		stmt_scalar(stmt, rel, target, i, value, &expr);
		stmt_compare_cast(&expr, col);
		if (col->comparable)
			buf_printf(sql, "%s = %s AND ", col->name_sql, expr.data);
		buf_printf(sql,
				   "%s::pg_catalog.text COLLATE pg_catalog.\"C\" = "
				   "(%s)::pg_catalog.text",
				   col->name_sql, expr.data);
		buf_free(&expr);
	}
	if (first)
		buf_append_str(sql, "true");
	buf_append_str(sql, " LIMIT 1)");
	stmt->reusable = true;
}

void
stmt_row_update(Stmt *stmt, const Rel *rel, const TargetRel *target,
				const RowChange *row, bool insert_missing)
{
	Buf *sql = &stmt->sql;
	Buf set = BUF_INIT;
	Buf columns = BUF_INIT;
	Buf values = BUF_INIT;
	char **new_expr = xcalloc(rel->ncolumns, sizeof(char *));
	bool move = false;

	stmt_row_match(stmt, rel, target, row);
	for (int i = 0; i < rel->ncolumns; i++)
	{
		const TargetColumn *col = &target->columns[i];
		Buf expr = BUF_INIT;

		if (!col->writable || !stmt_present(row, i))
			continue;
		/* one parameter serves SET, the INSERT and a move */
		stmt_scalar(stmt, rel, target, i, &row->new_values[i], &expr);
		buf_printf(&columns, "%s%s", columns.len ? ", " : "", col->name_sql);
		buf_printf(&values, "%s%s", values.len ? ", " : "", expr.data);
		if (col->updatable)
			buf_printf(&set, "%s%s = %s", set.len ? ", " : "", col->name_sql,
					   expr.data);
		else if (!change_value_same(&row->old_values[i], &row->new_values[i]))
			move = true;
		new_expr[i] = expr.data;
	}

	if (move)
	{
		buf_printf(sql,
				   ", d AS (DELETE FROM %s AS t USING m "
				   "WHERE t.tableoid = m.r AND t.ctid = m.c",
				   target->name_sql);
		stmt_move_returning(sql, rel, target, "1 AS ord", new_expr);
		stmt_move_insert(stmt, rel, target);
	}
	else
	{
		if (set.len == 0)
			stmt_touch(&set, rel, target);
		buf_printf(sql,
				   "%sUPDATE %s AS t SET %s FROM m "
				   "WHERE t.tableoid = m.r AND t.ctid = m.c RETURNING 1",
				   insert_missing ? ", u AS (" : " ", target->name_sql,
				   set.data ? set.data : "");
		if (insert_missing)
			buf_append_str(sql, ") ");
	}
	if (insert_missing)
		stmt_insert_unless(sql, target, &columns, &values, move ? "d" : "u");
	else
	{
		if (move)
			buf_append_str(sql, "SELECT d.ord FROM d");
		stmt->result_ords = 1;
	}
	for (int i = 0; i < rel->ncolumns; i++)
		free(new_expr[i]);
	free(new_expr);
	buf_free(&set);
	buf_free(&columns);
	buf_free(&values);
	stmt_finish(stmt);
}

void
stmt_row_delete(Stmt *stmt, const Rel *rel, const TargetRel *target,
				const RowChange *row)
{
	stmt_row_match(stmt, rel, target, row);
	buf_printf(&stmt->sql,
			   " DELETE FROM %s AS t USING m "
			   "WHERE t.tableoid = m.r AND t.ctid = m.c",
			   target->name_sql);
	stmt_finish(stmt);
}

void
stmt_key_text(Stmt *stmt, const Rel *rel, const TargetRel *target,
			  const RowChange *row)
{
	Buf *sql = &stmt->sql;
	bool first = true;
	bool old = row->old_kind != OLD_NONE;

	buf_append_str(sql, "SELECT ");
	for (int i = 0; i < rel->ncolumns; i++)
	{
		const ChangeValue *value =
			old ? &row->old_values[i] : &row->new_values[i];
		char *name;

		if (!rel->columns[i].key || value->kind == VALUE_UNCHANGED)
			continue;
		name = pg_quote_literal(rel->columns[i].name);
		buf_printf(sql, "%s%s || '=' || coalesce((",
				   first ? "" : " || ', ' || ", name);
		free(name);
		stmt_scalar(stmt, rel, target, i, value, sql);
		buf_append_str(sql, ")::pg_catalog.text, 'NULL')");
		first = false;
	}
	if (first)
		buf_append_str(sql, "'(no key)'");
	stmt_finish(stmt);
}

void
stmt_value_probe(Stmt *stmt, const Rel *rel, const TargetRel *target,
				 int column, const ChangeValue *value)
{
	buf_append_str(&stmt->sql, "SELECT ");
	stmt_scalar(stmt, rel, target, column, value, &stmt->sql);
	buf_append_str(&stmt->sql, " IS NULL");
	stmt_finish(stmt);
}
