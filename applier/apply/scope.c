/*-------------------------------------------------------------------------
 *
 * scope.c
 *	  The task's tables, when the source sends more.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "apply/scope.h"
#include "common/buf.h"
#include "common/log.h"

struct Scope
{
	char *sql;				 /* whether $1.$2 is one of the task's tables */
	const char *publication; /* for the message */
	Oid *told;				 /* tables outside, said already */
	int ntold;
	int told_size;
};

Scope *
scope_create(const TableFilter *filter, const char *publication)
{
	Scope *scope = xcalloc(1, sizeof(Scope));
	char *kept = tablefilter_sql(filter, "t.s", "t.n", "root.s", "root.n");
	Buf sql = BUF_INIT;

	/* a partition matches through its root's name too, as in the copy */
	buf_printf(&sql,
			   "SELECT %s FROM (SELECT $1::pg_catalog.text AS s, "
			   "$2::pg_catalog.text AS n) AS t LEFT JOIN LATERAL ("
			   "SELECT ns.nspname::pg_catalog.text AS s, "
			   "c.relname::pg_catalog.text AS n "
			   "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns "
			   "ON ns.oid = c.relnamespace "
			   "WHERE c.oid = pg_catalog.pg_partition_root("
			   "pg_catalog.to_regclass(pg_catalog.quote_ident(t.s) || '.' || "
			   "pg_catalog.quote_ident(t.n)))) AS root ON true",
			   kept);
	free(kept);
	scope->sql = sql.data;
	scope->publication = publication;
	return scope;
}

void
scope_free(Scope *scope)
{
	if (scope == NULL)
		return;
	free(scope->sql);
	free(scope->told);
	free(scope);
}

/* Says once per table that its changes are dropped. */
static void
scope_tell(Scope *scope, const Rel *rel)
{
	for (int i = 0; i < scope->ntold; i++)
		if (scope->told[i] == rel->oid)
			return;
	if (scope->ntold == scope->told_size)
	{
		scope->told_size = scope->told_size ? scope->told_size * 2 : 8;
		scope->told = xrealloc(scope->told, scope->told_size * sizeof(Oid));
	}
	scope->told[scope->ntold++] = rel->oid;
	log_info("source: publication \"%s\" sends table %s, outside this "
			 "task's tables (--include-tables, --exclude-tables): its "
			 "changes are dropped",
			 scope->publication, rel_display(rel));
}

bool
scope_describe(Scope *scope, PgConn *conn, Rel *rel)
{
	const char *params[2] = {rel->schema, rel->name};
	PgResult *res;

	if (scope == NULL)
		return true;
	res = pg_query_or_report(conn, scope->sql, 2, params,
							 "match table %s against the task's tables",
							 rel_display(rel));
	if (res == NULL)
		return false;
	rel->outside_task = !pg_result_bool(res, 0, 0);
	pg_result_free(res);
	if (rel->outside_task)
		scope_tell(scope, rel);
	return true;
}

bool
scope_skip(const Scope *scope, Change *change)
{
	int kept = 0;

	if (scope == NULL)
		return false;
	if (change->kind != CHANGE_TRUNCATE)
		return change->rel != NULL && change->rel->outside_task;
	for (int i = 0; i < change->nrels; i++)
		if (!change->rels[i]->outside_task)
			change->rels[kept++] = change->rels[i];
	change->nrels = kept;
	return kept == 0;
}
