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

bool
publication_ensure(PgConn *source, const char *name, const TableFilter *filter)
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
		log_info("source: created publication \"%s\" for %d %s", name,
				 published, plural(published, "table", "tables"));
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
publication_drop(PgConn *source, const char *name)
{
	char *quoted = pg_quote_ident(name);
	Buf sql = BUF_INIT;
	bool ok;

	buf_printf(&sql, "DROP PUBLICATION IF EXISTS %s", quoted);
	ok = pg_exec(source, sql.data);
	if (ok)
		log_info("source: dropped publication \"%s\"", name);
	else
		pg_report(source, "drop publication \"%s\"", name);
	buf_free(&sql);
	free(quoted);
	return ok;
}
