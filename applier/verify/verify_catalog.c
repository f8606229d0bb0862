/*-------------------------------------------------------------------------
 *
 * verify_catalog.c
 *	  Which tables verify compares, with which columns and which key.
 *
 * The tables are those the copy moves (catalog_tables(): ordinary tables
 * and leaf partitions, each compared ONLY itself), listed on both sides.
 * Columns are matched by name and compared in the source's order, so a
 * target whose columns sit in another order (or around dropped columns)
 * compares equal; generated columns are compared by value.  The key is the
 * source's primary key, else its narrowest unique, immediate, valid,
 * non-partial index on plain NOT NULL columns -- provided the target has an
 * index leading with the same columns, without which every key range would
 * scan the whole target table; such a table is compared as whole rows.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/tablefilter.h"
#include "common/buf.h"
#include "pg/pg.h"
#include "verify/verify_table.h"

/* Every column of the tables, in attnum order. */
static const char columns_sql[] =
	"SELECT a.attrelid, a.attname FROM pg_catalog.pg_attribute a "
	"WHERE a.attrelid = ANY ($1::pg_catalog.oid[]) AND a.attnum > 0 "
	"AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum";

/*
 * The key of each table: its primary key, else its narrowest unique,
 * immediate, valid, non-partial index on plain NOT NULL columns; and
 * whether each key column sorts by a collation.
 */
static const char keys_sql[] =
	"WITH best AS ("
	" SELECT DISTINCT ON (x.indrelid) x.indrelid, x.indkey, x.indnkeyatts"
	" FROM pg_catalog.pg_index x"
	" WHERE x.indrelid = ANY ($1::pg_catalog.oid[]) AND x.indisunique"
	"  AND x.indisvalid AND x.indimmediate AND x.indpred IS NULL"
	"  AND x.indexprs IS NULL AND NOT EXISTS ("
	"   SELECT 1 FROM pg_catalog.unnest(x.indkey::pg_catalog.int2[])"
	"     WITH ORDINALITY k(attnum, ord)"
	"   JOIN pg_catalog.pg_attribute a"
	"     ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
	"   WHERE k.ord <= x.indnkeyatts AND NOT a.attnotnull)"
	" ORDER BY x.indrelid, x.indisprimary DESC, x.indnkeyatts, x.indexrelid)"
	"SELECT b.indrelid, a.attname, a.attcollation <> 0"
	" FROM best b CROSS JOIN LATERAL pg_catalog.unnest("
	"   b.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, ord)"
	" JOIN pg_catalog.pg_attribute a"
	"   ON a.attrelid = b.indrelid AND a.attnum = k.attnum"
	" WHERE k.ord <= b.indnkeyatts ORDER BY b.indrelid, k.ord";

/* Leading key columns of every plain btree index of the tables. */
static const char index_columns_sql[] =
	"SELECT x.indrelid, x.indexrelid, a.attname"
	" FROM pg_catalog.pg_index x"
	" JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid"
	" JOIN pg_catalog.pg_am am ON am.oid = i.relam AND am.amname = 'btree'"
	" CROSS JOIN LATERAL pg_catalog.unnest(x.indkey::pg_catalog.int2[])"
	"   WITH ORDINALITY k(attnum, ord)"
	" JOIN pg_catalog.pg_attribute a"
	"   ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
	" WHERE x.indrelid = ANY ($1::pg_catalog.oid[])"
	"  AND x.indisvalid AND x.indpred IS NULL AND x.indexprs IS NULL"
	"  AND k.ord <= x.indnkeyatts"
	" ORDER BY x.indrelid, x.indexrelid, k.ord";

/* "{1,2,3}": the OIDs of tables, as an oid[] parameter. */
static char *
oid_array(const SourceTables *tables)
{
	Buf array = BUF_INIT;

	buf_append_str(&array, "{");
	for (int i = 0; i < tables->count; i++)
		buf_printf(&array, "%s%u", i ? "," : "", tables->tables[i].oid);
	buf_append_str(&array, "}");
	return array.data;
}

/* Rows of (oid, ...) for the tables, from one of the queries above. */
static PgResult *
query_by_oids(PgConn *conn, const char *sql, const SourceTables *tables,
			  const char *what)
{
	char *oids = oid_array(tables);
	const char *params[1] = {oids};
	PgResult *res = pg_query(conn, sql, 1, params);

	if (res == NULL)
		pg_report(conn, "%s", what);
	free(oids);
	return res;
}

/*
 * The first row of res (ordered by the OID in its column 0) for oid, or
 * the number of rows when there is none: a binary search.
 */
static int
first_row_of(const PgResult *res, Oid oid)
{
	int lo = 0;
	int hi = pg_result_rows(res);

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (strtoul(pg_result_value(res, mid, 0), NULL, 10) < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
row_is_of(const PgResult *res, int row, Oid oid)
{
	return row < pg_result_rows(res) &&
		   strtoul(pg_result_value(res, row, 0), NULL, 10) == oid;
}

/* The names in column 1 of the rows of res for oid; returns how many. */
static int
names_of(const PgResult *res, Oid oid, const char **names)
{
	int n = 0;

	for (int row = first_row_of(res, oid); row_is_of(res, row, oid); row++)
		names[n++] = pg_result_value(res, row, 1);
	return n;
}

static bool
name_in(const char *name, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* Whether an index of the target table leads with the key columns. */
static bool
target_has_index(const PgResult *indexes, Oid oid, char *const *key_names,
				 int nkeys)
{
	int row = first_row_of(indexes, oid);

	while (row_is_of(indexes, row, oid))
	{
		const char *index = pg_result_value(indexes, row, 1);
		int ncolumns = 0;
		bool leads = true;

		for (; row_is_of(indexes, row, oid) &&
			   strcmp(pg_result_value(indexes, row, 1), index) == 0;
			 row++)
		{
			if (ncolumns < nkeys && strcmp(pg_result_value(indexes, row, 2),
										   key_names[ncolumns]) != 0)
				leads = false;
			ncolumns++;
		}
		if (leads && ncolumns >= nkeys)
			return true;
	}
	return false;
}

/* Fills table's columns (those on both sides) and notes the others. */
static void
match_columns(VerifyTable *table, const char *const *source_columns,
			  int nsource, const char *const *target_columns, int ntarget)
{
	table->columns = xmalloc((nsource + 1) * sizeof(char *));
	for (int i = 0; i < nsource; i++)
	{
		if (name_in(source_columns[i], target_columns, ntarget))
			table->columns[table->ncolumns++] =
				pg_quote_ident(source_columns[i]);
		else
		{
			buf_printf(&table->notes,
					   "  column \"%s\" is missing on the "
					   "target\n",
					   source_columns[i]);
			table->nproblems++;
		}
	}
	for (int i = 0; i < ntarget; i++)
		if (!name_in(target_columns[i], source_columns, nsource))
		{
			buf_printf(&table->notes,
					   "  column \"%s\" exists only on the "
					   "target\n",
					   target_columns[i]);
			table->nproblems++;
		}
}

/*
 * Whether a name reads the same unquoted, as PostgreSQL's own messages
 * show it (key words aside): lower case letters, digits, underscores.
 */
static bool
is_plain_name(const char *name)
{
	if (name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			  *p == '_'))
			return false;
	return true;
}

/*
 * Sets the table's key from the source's, when every key column is
 * compared and the target can range over it with an index; otherwise says
 * why the table is compared as whole rows.
 */
static void
choose_key(VerifyTable *table, const char *const *key_names, int nkeys,
		   const PgResult *target_indexes, Oid target_oid)
{
	Buf names = BUF_INIT;
	char **quoted = xmalloc((nkeys + 1) * sizeof(char *));
	bool usable = nkeys > 0;

	for (int i = 0; i < nkeys; i++)
	{
		quoted[i] = pg_quote_ident(key_names[i]);
		buf_printf(&names, "%s%s", i ? ", " : "",
				   is_plain_name(key_names[i]) ? key_names[i] : quoted[i]);
		usable =
			usable && name_in(quoted[i], (const char *const *) table->columns,
							  table->ncolumns);
	}
	if (nkeys == 0)
		table->whole_rows_reason = xstrdup("no primary key or unique index "
										   "over NOT NULL columns");
	else if (!usable)
		table->whole_rows_reason =
			xstrdup("a key column is not on the target");
	else if (!target_has_index(target_indexes, target_oid,
							   (char *const *) key_names, nkeys))
	{
		Buf reason = BUF_INIT;

		buf_printf(&reason, "no index on (%s) on the target", names.data);
		table->whole_rows_reason = reason.data;
		usable = false;
	}
	if (!usable)
	{
		for (int i = 0; i < nkeys; i++)
			free(quoted[i]);
		free(quoted);
		buf_free(&names);
		return;
	}
	table->keys = quoted;
	table->nkeys = nkeys;
	table->key_names = names.data;
}

/* A table on one side only: a difference, nothing to compare. */
static void
add_lone_table(VerifyTable *table, const SourceTable *t, const char *where)
{
	table->schema = xstrdup(t->schema);
	table->name = xstrdup(t->name);
	table->display = xstrdup(t->qualified);
	buf_printf(&table->notes, "  the table exists only on the %s\n", where);
	table->nproblems = 1;
}

/* Describes the table s of the source, t of the target. */
static void
describe_table(VerifyTable *table, const SourceTable *s, const SourceTable *t,
			   PgResult *const columns[2], const PgResult *keys,
			   const PgResult *indexes)
{
	const char **source_columns;
	const char **target_columns;
	const char **key_names;
	int nsource;
	int ntarget;
	int nkeys;

	table->schema = xstrdup(s->schema);
	table->name = xstrdup(s->name);
	table->display = xstrdup(s->qualified);
	table->on_target = true;
	source_columns =
		xmalloc((pg_result_rows(columns[0]) + 1) * sizeof(char *));
	target_columns =
		xmalloc((pg_result_rows(columns[1]) + 1) * sizeof(char *));
	key_names = xmalloc((pg_result_rows(keys) + 1) * sizeof(char *));
	nsource = names_of(columns[0], s->oid, source_columns);
	ntarget = names_of(columns[1], t->oid, target_columns);
	nkeys = names_of(keys, s->oid, key_names);
	match_columns(table, source_columns, nsource, target_columns, ntarget);
	choose_key(table, key_names, nkeys, indexes, t->oid);
	for (int row = first_row_of(keys, s->oid); row_is_of(keys, row, s->oid);
		 row++)
		table->key_collated |= pg_result_value(keys, row, 2)[0] == 't';
	free(source_columns);
	free(target_columns);
	free(key_names);
}

bool
verify_catalog_tables(PgConn *source, PgConn *target,
					  const char *const *include, int ninclude,
					  const char *const *exclude, int nexclude,
					  VerifyTable **tables, int *ntables)
{
	TableFilter *filter;
	SourceTables on[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
	PgResult *columns[2] = {NULL, NULL};
	PgResult *keys = NULL;
	PgResult *indexes = NULL;
	VerifyTable *list;
	int n = 0;
	bool ok = false;

	filter = tablefilter_compile(include, ninclude, exclude, nexclude);
	if (filter == NULL)
		return false;
	if (!catalog_tables(source, filter, &on[0]) ||
		!catalog_tables(target, filter, &on[1]))
		goto done;
	columns[0] = query_by_oids(source, columns_sql, &on[0],
							   "list the columns of the tables");
	columns[1] = query_by_oids(target, columns_sql, &on[1],
							   "list the columns of the tables");
	keys = query_by_oids(source, keys_sql, &on[0],
						 "find the primary keys of the tables");
	indexes = query_by_oids(target, index_columns_sql, &on[1],
							"list the indexes of the tables");
	if (!columns[0] || !columns[1] || !keys || !indexes)
		goto done;

	list = xcalloc(on[0].count + on[1].count + 1, sizeof(VerifyTable));
	for (int i = 0; i < on[0].count; i++)
	{
		const SourceTable *s = &on[0].tables[i];
		const SourceTable *t = catalog_find(&on[1], s->schema, s->name);

		if (t == NULL)
			add_lone_table(&list[n++], s, "source");
		else
			describe_table(&list[n++], s, t, columns, keys, indexes);
	}
	for (int i = 0; i < on[1].count; i++)
		if (catalog_find(&on[0], on[1].tables[i].schema,
						 on[1].tables[i].name) == NULL)
			add_lone_table(&list[n++], &on[1].tables[i], "target");
	*tables = list;
	*ntables = n;
	ok = true;

done:
	pg_result_free(columns[0]);
	pg_result_free(columns[1]);
	pg_result_free(keys);
	pg_result_free(indexes);
	catalog_free(&on[0]);
	catalog_free(&on[1]);
	tablefilter_free(filter);
	return ok;
}
