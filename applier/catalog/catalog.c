/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  List the tables a migration copies, from the source's catalogs.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/buf.h"

/*
 * Binary COPY is safe for a column when its values carry no type OID that
 * could differ on the target: built-in scalar types and arrays of them
 * (OIDs below FirstNormalObjectId are the same on every server), and
 * domains over built-in scalars.  Records and arrays of user types embed
 * their OIDs; everything else goes as text.
 */
#define BINARY_COLUMN_SQL                                                     \
	"((t.oid < 16384 AND t.typsend <> 0 AND t.typreceive <> 0) OR "           \
	" (t.typtype = 'd' AND t.typbasetype < 16384 AND "                        \
	"  EXISTS (SELECT 1 FROM pg_type b WHERE b.oid = t.typbasetype "          \
	"          AND b.typsend <> 0 AND b.typreceive <> 0)))"

#define COPIED_COLUMN_SQL                                                     \
	"a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "             \
	"AND a.attgenerated = ''"

static const char *const tables_sql_head =
	"SELECT c.oid, n.nspname, c.relname, format('%I.%I', n.nspname, "
	"c.relname),\n"
	"  CASE WHEN c.relispartition THEN format('%I.%I', rn.nspname, r.relname) "
	"END,\n"
	"  coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY "
	"a.attnum)\n"
	"            FROM pg_attribute a WHERE " COPIED_COLUMN_SQL "), ''),\n"
	"  (SELECT count(*) FROM pg_attribute a WHERE " COPIED_COLUMN_SQL "),\n"
	"  coalesce((SELECT bool_and(" BINARY_COLUMN_SQL ")\n"
	"            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid\n"
	"            WHERE " COPIED_COLUMN_SQL "), true),\n"
	"  EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid),\n"
	"  c.relpersistence, c.relreplident,\n"
	"  EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND "
	"x.indisprimary),\n"
	"  EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND "
	"x.indisreplident),\n"
	"  pg_relation_size(c.oid) / current_setting('block_size')::int,\n"
	"  pg_table_size(c.oid), c.reltuples, current_setting('block_size')::int\n"
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"LEFT JOIN pg_class r ON c.relispartition AND r.oid = "
	"pg_partition_root(c.oid)\n"
	"LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace\n"
	"WHERE c.relkind = 'r' AND c.relpersistence IN ('p', 'u')\n"
	"  AND n.nspname NOT IN ('information_schema', 'pgferry')\n"
	"  AND n.nspname NOT LIKE 'pg\\_%'\n"
	"  AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"
	"                  WHERE d.classid = 'pg_class'::regclass\n"
	"                    AND d.objid = c.oid AND d.deptype = 'e')\n"
	"  AND ";

static char *
dup_value(const PgResult *res, int row, int column)
{
	const char *value = pg_result_value(res, row, column);

	return value ? xstrdup(value) : NULL;
}

static bool
is_true(const PgResult *res, int row, int column)
{
	const char *value = pg_result_value(res, row, column);

	return value && value[0] == 't';
}

bool
catalog_tables(PgConn *source, const TableFilter *filter, SourceTables *out)
{
	char *condition = tablefilter_sql(filter, "n.nspname", "c.relname",
									  "rn.nspname", "r.relname");
	Buf sql = BUF_INIT;
	PgResult *res;

	buf_append_str(&sql, tables_sql_head);
	buf_append_str(&sql, condition);
	buf_append_str(&sql, "\nORDER BY pg_table_size(c.oid) DESC, 2, 3");
	free(condition);
	res = pg_query(source, sql.data, 0, NULL);
	buf_free(&sql);
	if (res == NULL)
	{
		pg_report(source, "list the tables to migrate");
		return false;
	}

	out->count = pg_result_rows(res);
	out->tables = xcalloc(out->count ? out->count : 1, sizeof(SourceTable));
	out->block_size = 8192;
	for (int i = 0; i < out->count; i++)
	{
		SourceTable *t = &out->tables[i];

		t->oid = (Oid) strtoul(pg_result_value(res, i, 0), NULL, 10);
		t->schema = dup_value(res, i, 1);
		t->name = dup_value(res, i, 2);
		t->qualified = dup_value(res, i, 3);
		t->root_qualified = dup_value(res, i, 4);
		t->columns = dup_value(res, i, 5);
		t->ncolumns = atoi(pg_result_value(res, i, 6));
		t->binary = is_true(res, i, 7) && t->ncolumns > 0;
		t->has_children = is_true(res, i, 8);
		t->persistence = pg_result_value(res, i, 9)[0];
		t->replica_identity = pg_result_value(res, i, 10)[0];
		t->has_primary_key = is_true(res, i, 11);
		t->has_identity_index = is_true(res, i, 12);
		t->heap_blocks = strtoll(pg_result_value(res, i, 13), NULL, 10);
		t->bytes = strtoll(pg_result_value(res, i, 14), NULL, 10);
		t->estimated_rows = strtod(pg_result_value(res, i, 15), NULL);
		out->block_size = atoi(pg_result_value(res, i, 16));
	}
	pg_result_free(res);
	return true;
}

const SourceTable *
catalog_find(const SourceTables *tables, const char *schema, const char *name)
{
	for (int i = 0; i < tables->count; i++)
		if (strcmp(tables->tables[i].schema, schema) == 0 &&
			strcmp(tables->tables[i].name, name) == 0)
			return &tables->tables[i];
	return NULL;
}

void
catalog_free(SourceTables *tables)
{
	for (int i = 0; i < tables->count; i++)
	{
		SourceTable *t = &tables->tables[i];

		free(t->schema);
		free(t->name);
		free(t->qualified);
		free(t->root_qualified);
		free(t->columns);
	}
	free(tables->tables);
	tables->tables = NULL;
	tables->count = 0;
}
