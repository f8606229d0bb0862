/*-------------------------------------------------------------------------
 *
 * publication.c
 *	  The publication a pgoutput slot decodes through.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "catalog/catalog.h"
#include "catalog/publication.h"
#include "common/buf.h"
#include "common/log.h"

/* The comment that marks a publication pgferry created, then its slot. */
#define PUBLICATION_COMMENT_PREFIX "pgferry: for slot "

static bool
publication_exists(PgConn *source, const char *name, bool *exists)
{
	PgResult *res = pg_query_or_report(
		source, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
		1, &name, "look up publication \"%s\"", name);

	if (res == NULL)
		return false;
	*exists = pg_result_rows(res) == 1;
	pg_result_free(res);
	return true;
}

/* Marks publication quoted as pgferry's, for slot. */
static bool
publication_mark(PgConn *source, const char *quoted, const char *slot)
{
	Buf comment = BUF_INIT;
	Buf sql = BUF_INIT;
	char *literal;
	bool ok;

	buf_printf(&comment, PUBLICATION_COMMENT_PREFIX "%s", slot);
	literal = pg_quote_literal(comment.data);
	buf_printf(&sql, "COMMENT ON PUBLICATION %s IS %s", quoted, literal);
	ok = pg_exec(source, sql.data);
	if (!ok)
		pg_report(source, "comment on publication %s", quoted);
	free(literal);
	buf_free(&sql);
	buf_free(&comment);
	return ok;
}

bool
publication_ensure(PgConn *source, const char *name, const char *slot,
				   const TableFilter *filter)
{
	SourceTables tables = {0};
	char *quoted = pg_quote_ident(name);
	Buf sql = BUF_INIT;
	int published = 0;
	bool exists;
	bool ok;

	if (!publication_exists(source, name, &exists))
	{
		free(quoted);
		return false;
	}
	if (exists)
	{
		log_info("source: pgoutput decodes through publication \"%s\"", name);
		free(quoted);
		return true;
	}
	if (!catalog_tables(source, filter, &tables))
	{
		free(quoted);
		return false;
	}
	buf_printf(&sql, "CREATE PUBLICATION %s", quoted);
	for (int i = 0; i < tables.count; i++)
	{
		if (tables.tables[i].persistence != 'p')
			continue;
		buf_printf(&sql, "%s%s", published ? ", " : " FOR TABLE ",
				   tables.tables[i].qualified);
		published++;
	}
	ok = pg_exec(source, sql.data);
	if (ok)
	{
		log_info("source: created publication \"%s\" for %d %s", name,
				 published, plural(published, "table", "tables"));
		ok = publication_mark(source, quoted, slot);
	}
	else
	{
		pg_report(source, "create publication \"%s\"", name);
		log_hint("the source role must own the tables (or be a superuser) "
				 "and have CREATE on the database; or create the "
				 "publication as such a role (CREATE PUBLICATION %s FOR "
				 "TABLE ...) and give its name with --publication",
				 quoted);
	}
	buf_free(&sql);
	catalog_free(&tables);
	free(quoted);
	return ok;
}

bool
publication_drop_for_slot(PgConn *source, const char *slot, int *dropped)
{
	PgResult *res = pg_query_or_report(
		source,
		"SELECT quote_ident(pubname) FROM pg_catalog.pg_publication p "
		"WHERE obj_description(p.oid, 'pg_publication') = "
		"'" PUBLICATION_COMMENT_PREFIX "' || $1",
		1, &slot, "look up the publications of slot \"%s\"", slot);
	bool ok = res != NULL;

	*dropped = 0;
	for (int i = 0; ok && i < pg_result_rows(res); i++)
	{
		const char *quoted = pg_result_value(res, i, 0);
		Buf sql = BUF_INIT;

		buf_printf(&sql, "DROP PUBLICATION IF EXISTS %s", quoted);
		ok = pg_exec(source, sql.data);
		if (ok)
			(*dropped)++;
		else
			pg_report(source, "drop publication %s", quoted);
		buf_free(&sql);
	}
	pg_result_free(res);
	return ok;
}
