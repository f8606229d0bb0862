/*-------------------------------------------------------------------------
 *
 * target.c
 *	  How a source relation maps onto the target: table, columns by name,
 *	  types, keys.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/target.h"
#include "common/buf.h"
#include "common/log.h"

/* OIDs below this are built in, the same on every server. */
#define FIRST_NORMAL_OBJECT_ID 16384

/*
 * The target's columns of table $1.$2, with what the statements need to
 * know about each type.
 *
 * The type is named without its modifier (typmod -1: "bpchar", "bit" of
 * any length): a value cast to it then meets the column's modifier as an
 * assignment, which refuses what does not fit instead of truncating it as
 * an explicit cast to char(n) would.
 *
 * A column is "comparable" when its type (through domains and array
 * elements) has a default btree or hash operator class, directly, through
 * a polymorphic class, or through a binary-coercible cast (varchar uses
 * text's); the others (json, point, xml, ...) are compared by their text
 * forms.
 *
 * A table without columns (CREATE TABLE t ()) is one row whose attname is
 * NULL: it exists, unlike a table of no rows at all.
 */
static const char columns_sql[] =
	"SELECT c.oid, a.attname, a.atttypid, "
	"  pg_catalog.format_type(a.atttypid, -1), t.typarray, "
	"  a.attgenerated <> '', a.attidentity = 'a', "
	"  EXISTS (SELECT FROM pg_catalog.pg_opclass oc "
	"    JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod "
	"    WHERE am.amname IN ('btree', 'hash') AND oc.opcdefault "
	"      AND (oc.opcintype = e.oid "
	"        OR oc.opcintype = CASE e.typtype "
	"          WHEN 'e' THEN pg_catalog.to_regtype('anyenum') "
	"          WHEN 'r' THEN pg_catalog.to_regtype('anyrange') "
	"          WHEN 'c' THEN pg_catalog.to_regtype('record') "
	"          WHEN 'm' THEN pg_catalog.to_regtype('anymultirange') END "
	"        OR oc.opcintype IN (SELECT k.casttarget "
	"          FROM pg_catalog.pg_cast k "
	"          WHERE k.castsource = e.oid AND k.castmethod = 'b'))) "
	"FROM pg_catalog.pg_class c "
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"LEFT JOIN (pg_catalog.pg_attribute a "
	"  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
	"  JOIN pg_catalog.pg_type b ON b.oid = "
	"    CASE t.typtype WHEN 'd' THEN t.typbasetype ELSE t.oid END "
	"  JOIN pg_catalog.pg_type e ON e.oid = CASE WHEN b.typcategory = 'A' "
	"    AND b.typelem <> 0 THEN b.typelem ELSE b.oid END) "
	"  ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"WHERE n.nspname = $1 AND c.relname = $2 "
	"  AND c.relkind IN ('r', 'p', 'f') "
	"ORDER BY a.attnum";

/* The array types of built-in types ($1: their OIDs, as an array). */
static const char value_types_sql[] =
	"SELECT t.oid, t.typarray FROM pg_catalog.pg_type t "
	"WHERE t.oid = ANY ($1::pg_catalog.oid[])";

/* Key columns of every unique index usable as an ON CONFLICT arbiter. */
static const char indexes_sql[] =
	"SELECT i.indexrelid, i.indisprimary, a.attname "
	"FROM pg_catalog.pg_index i "
	"JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
	"  AND a.attnum = ANY ((i.indkey::pg_catalog.int2[])[0:i.indnkeyatts - "
	"1]) "
	"WHERE i.indrelid = $1 AND i.indisunique AND i.indimmediate "
	"  AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
	"ORDER BY i.indisprimary DESC, i.indexrelid";

static void
target_rel_free(void *ptr)
{
	TargetRel *target = ptr;

	for (int i = 0; i < target->ncolumns; i++)
	{
		free(target->columns[i].name_sql);
		free(target->columns[i].type_sql);
	}
	free(target->columns);
	free(target->name_sql);
	free(target->display);
	free(target->conflict_sql);
	free(target);
}

static int
target_find_column(const Rel *rel, const char *name)
{
	for (int i = 0; i < rel->ncolumns; i++)
		if (strcmp(rel->columns[i].name, name) == 0)
			return i;
	return -1;
}

static bool
target_missing_table(const Rel *rel, const char *schema, const char *name)
{
	log_error("table \"%s\".\"%s\" does not exist on the target", schema,
			  name);
	log_detail("the source sent changes of table %s", rel_display(rel));
	log_hint("create it on the target, then restart pgferry; or leave it "
			 "out: pgferry follow on this slot with --exclude-tables '%s' "
			 "added to its table filters (pgferry migrate takes no new "
			 "table filters)",
			 rel_display(rel));
	return false;
}

/* Fills target->columns from the catalog; false (logged) on a mismatch. */
static bool
target_read_columns(Rel *rel, TargetRel *target, const PgResult *res)
{
	bool *seen = xcalloc(rel->ncolumns, sizeof(bool));
	bool ok = true;

	for (int row = 0; row < pg_result_rows(res); row++)
	{
		const char *name = pg_result_value(res, row, 1);
		int i;
		TargetColumn *col;
		const RelColumn *src;

		if (name == NULL)
			continue; /* the table has no columns */
		i = target_find_column(rel, name);
		if (i < 0)
			continue; /* a column only the target has */
		col = &target->columns[i];
		src = &rel->columns[i];
		seen[i] = true;
		col->name_sql = pg_quote_ident(src->name);
		col->type_oid = (Oid) strtoul(pg_result_value(res, row, 2), NULL, 10);
		col->type_sql = xstrdup(pg_result_value(res, row, 3));
		col->value_array_oid =
			(Oid) strtoul(pg_result_value(res, row, 4), NULL, 10);
		col->writable = strcmp(pg_result_value(res, row, 5), "f") == 0;
		col->updatable =
			col->writable && strcmp(pg_result_value(res, row, 6), "f") == 0;
		col->comparable = strcmp(pg_result_value(res, row, 7), "t") == 0;
		if (col->writable && !col->updatable)
			target->overriding = true;

		if (!src->binary || src->type_oid == col->type_oid)
			continue;
		if (src->type_oid >= FIRST_NORMAL_OBJECT_ID)
		{
			/* its OID means another type, or none, on the target */
			log_error("column \"%s\" of table %s comes in binary form as type "
					  "%s.%s, which the target column (type %s) cannot "
					  "read",
					  src->name, target->display, src->type_schema,
					  src->type_name, col->type_sql);
			log_hint("give the target column the source's type, or follow "
					 "this slot with pgferry follow --no-binary (values then "
					 "go as text; pgferry migrate has no such option)");
			ok = false;
			continue;
		}
		/* a built-in type: the target converts; its array type comes next */
		col->converted = true;
		col->value_array_oid = 0;
	}
	for (int i = 0; ok && i < rel->ncolumns; i++)
	{
		const RelColumn *src = &rel->columns[i];
		char *column;
		char *type_schema;
		char *type_name;

		if (seen[i])
			continue;
		column = pg_quote_ident(src->name);
		type_schema = pg_quote_ident(src->type_schema);
		type_name = pg_quote_ident(src->type_name);
		log_error("column %s of table %s does not exist on the target", column,
				  target->display);
		log_hint("add it on the target (ALTER TABLE %s ADD COLUMN %s %s.%s), "
				 "then restart pgferry; or leave the table out: pgferry "
				 "follow on this slot with --exclude-tables '%s' added to its "
				 "table filters (pgferry migrate takes no new table filters)",
				 target->display, column, type_schema, type_name,
				 rel_display(rel));
		free(column);
		free(type_schema);
		free(type_name);
		ok = false;
	}
	free(seen);
	return ok;
}

/*
 * Reads the array types of the built-in types whose binary values the
 * target converts (the same on every server, but a type newer than the
 * target server is not there at all), then whether every binary column
 * can go in an array.
 */
static bool
target_read_value_types(PgConn *conn, Rel *rel, TargetRel *target)
{
	Buf oids = BUF_INIT;
	const char *param;
	PgResult *res;
	bool ok = true;

	for (int i = 0; i < rel->ncolumns; i++)
		if (target->columns[i].converted)
			buf_printf(&oids, "%s%u", oids.len ? "," : "{",
					   rel->columns[i].type_oid);
	if (oids.len > 0)
	{
		buf_append_str(&oids, "}");
		param = oids.data;
		res = pg_query(conn, value_types_sql, 1, &param);
		if (res == NULL)
		{
			buf_free(&oids);
			pg_report(conn, "read the types of table %s's values",
					  target->display);
			return false;
		}
		for (int i = 0; i < rel->ncolumns; i++)
		{
			const RelColumn *src = &rel->columns[i];
			TargetColumn *col = &target->columns[i];
			bool known = false;

			if (!col->converted)
				continue;
			for (int row = 0; row < pg_result_rows(res) && !known; row++)
			{
				if ((Oid) strtoul(pg_result_value(res, row, 0), NULL, 10) !=
					src->type_oid)
					continue;
				known = true;
				col->value_array_oid =
					(Oid) strtoul(pg_result_value(res, row, 1), NULL, 10);
			}
			if (known)
				continue;
			log_error("column \"%s\" of table %s comes in binary form as type "
					  "%s.%s, which the target server does not have",
					  src->name, target->display, src->type_schema,
					  src->type_name);
			log_hint("follow this slot with pgferry follow --no-binary "
					 "(values then go as text and are cast to the target "
					 "column's type %s; pgferry migrate has no such option)",
					 col->type_sql);
			ok = false;
		}
		pg_result_free(res);
	}
	buf_free(&oids);

	target->arrayable = true;
	for (int i = 0; i < rel->ncolumns; i++)
		if (rel->columns[i].binary && target->columns[i].value_array_oid == 0)
			target->arrayable = false;
	return ok;
}

/*
 * Whether the index whose key columns are names[first..last) is on exactly
 * the columns with want[] set.
 */
static bool
target_index_matches(const Rel *rel, const bool *want, PgResult *res,
					 int first, int last)
{
	int count = 0;

	for (int i = 0; i < rel->ncolumns; i++)
		count += want[i];
	if (count != last - first)
		return false;
	for (int row = first; row < last; row++)
	{
		int i = target_find_column(rel, pg_result_value(res, row, 2));

		if (i < 0 || !want[i])
			return false;
	}
	return true;
}

/*
 * Picks the ON CONFLICT arbiter: a unique index on exactly the source's
 * key; for a relation without one (identity FULL or NOTHING), the
 * target's primary key if the source has all its columns.
 */
static bool
target_read_arbiter(PgConn *conn, Rel *rel, TargetRel *target,
					const char *table_oid)
{
	PgResult *res = pg_query(conn, indexes_sql, 1, &table_oid);
	bool use_key = rel->nkeys > 0 && (rel->identity == REL_IDENTITY_DEFAULT ||
									  rel->identity == REL_IDENTITY_INDEX);
	bool *want = xcalloc(rel->ncolumns, sizeof(bool));
	int rows;
	int first = 0;

	if (res == NULL)
	{
		free(want);
		pg_report(conn, "read the indexes of table %s", target->display);
		return false;
	}
	rows = pg_result_rows(res);
	for (int i = 0; i < rel->ncolumns; i++)
		want[i] = use_key && rel->columns[i].key;
	while (first < rows)
	{
		const char *index = pg_result_value(res, first, 0);
		bool primary = strcmp(pg_result_value(res, first, 1), "t") == 0;
		int last = first;

		while (last < rows &&
			   strcmp(pg_result_value(res, last, 0), index) == 0)
			last++;
		if (!use_key && primary)
		{
			/* the primary key, if every column of it comes from the source */
			for (int row = first; row < last; row++)
			{
				int i = target_find_column(rel, pg_result_value(res, row, 2));

				if (i >= 0)
					want[i] = true;
			}
		}
		if (!use_key && !primary)
			break; /* only a primary key will do */
		if (target_index_matches(rel, want, res, first, last))
		{
			Buf sql = BUF_INIT;

			buf_append_str(&sql, "(");
			for (int i = 0; i < rel->ncolumns; i++)
			{
				if (!want[i])
					continue;
				target->columns[i].conflict_key = true;
				buf_printf(&sql, "%s%s", sql.len > 1 ? ", " : "",
						   target->columns[i].name_sql);
			}
			buf_append_str(&sql, ")");
			target->conflict_sql = sql.data;
			break;
		}
		if (!use_key)
			break;
		first = last;
	}
	pg_result_free(res);
	free(want);
	if (target->conflict_sql == NULL && use_key)
		log_warning("table %s on the target has no unique index on the "
					"source's key columns: inserts cannot be made idempotent "
					"and a row copied twice would be duplicated",
					target->display);
	return true;
}

TargetRel *
target_rel(PgConn *conn, Rel *rel)
{
	TargetRel *target;
	const char *schema = rel->schema;
	const char *name = rel->name;
	const char *params[2];
	PgResult *res;
	char *table_oid;
	bool ok;

	if (rel->target)
		return rel->target;

	params[0] = schema;
	params[1] = name;
	res = pg_query(conn, columns_sql, 2, params);
	if (res && pg_result_rows(res) == 0 && rel->root_schema)
	{
		/* the leaf partition may not exist there: go through the root */
		pg_result_free(res);
		schema = params[0] = rel->root_schema;
		name = params[1] = rel->root_name;
		res = pg_query(conn, columns_sql, 2, params);
	}
	if (res == NULL)
	{
		pg_report(conn, "read the columns of table %s", rel_display(rel));
		return NULL;
	}
	if (pg_result_rows(res) == 0)
	{
		pg_result_free(res);
		target_missing_table(rel, rel->schema, rel->name);
		return NULL;
	}

	target = xcalloc(1, sizeof(TargetRel));
	{
		char *qschema = pg_quote_ident(schema);
		char *qname = pg_quote_ident(name);
		Buf sql = BUF_INIT;

		buf_printf(&sql, "%s.%s", qschema, qname);
		target->name_sql = sql.data;
		target->display = xstrdup(sql.data);
		free(qschema);
		free(qname);
	}
	target->columns = xcalloc(rel->ncolumns, sizeof(TargetColumn));
	target->ncolumns = rel->ncolumns;
	table_oid = xstrdup(pg_result_value(res, 0, 0));
	ok = target_read_columns(rel, target, res);
	pg_result_free(res);
	ok = ok && target_read_value_types(conn, rel, target);
	ok = ok && target_read_arbiter(conn, rel, target, table_oid);
	free(table_oid);
	if (!ok)
	{
		target_rel_free(target);
		return NULL;
	}
	rel->target = target;
	rel->target_free = target_rel_free;
	return target;
}

bool
target_report_conversions(const Rel *rel, const TargetRel *target)
{
	const RelColumn *last = NULL;
	char *type_schema;
	char *type_name;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		const RelColumn *src = &rel->columns[i];

		if (!target->columns[i].converted)
			continue;
		log_detail("column \"%s\" of table %s comes in binary form as type "
				   "%s.%s, to be converted to the column's type %s",
				   src->name, target->display, src->type_schema,
				   src->type_name, target->columns[i].type_sql);
		last = src;
	}
	if (last == NULL)
		return false;
	type_schema = pg_quote_ident(last->type_schema);
	type_name = pg_quote_ident(last->type_name);
	log_hint("on the target, give such a column a type the source's type "
			 "casts to on assignment (for instance ALTER TABLE %s ALTER "
			 "COLUMN %s TYPE %s.%s), or follow this slot with pgferry follow "
			 "--no-binary (values then go as text, cast to the column's "
			 "type; pgferry migrate has no such option)",
			 target->display, target->columns[last - rel->columns].name_sql,
			 type_schema, type_name);
	free(type_schema);
	free(type_name);
	return true;
}
