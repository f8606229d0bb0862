/*-------------------------------------------------------------------------
 *
 * tablesync.c
 *	  Read pgferry.table_sync; say which changes a table's copy already has.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "state/tablesync.h"
#include "stream/rel.h"

typedef struct TableLsn
{
	char *schema;
	char *name;
	Lsn lsn;
} TableLsn;

struct TableSync
{
	TableLsn *tables;
	int count;
};

TableSync *
tablesync_load(PgConn *target, const char *slot)
{
	const char *params[1] = {slot};
	TableSync *sync = xcalloc(1, sizeof(TableSync));
	PgResult *res;
	bool migration;

	/* without a migration (`pgferry follow` on its own) nothing to skip */
	res = pg_query(target,
				   "SELECT to_regclass('pgferry.table_sync') IS NOT NULL", 0,
				   NULL);
	if (res == NULL)
	{
		pg_report(target, "look for pgferry.table_sync");
		free(sync);
		return NULL;
	}
	migration = pg_result_value(res, 0, 0)[0] == 't';
	pg_result_free(res);
	if (!migration)
		return sync;

	/* only tables copied after the slot's start can have changes to skip */
	res = pg_query(target,
				   "SELECT s.schema_name, s.table_name, s.lsn\n"
				   "FROM pgferry.table_sync s\n"
				   "JOIN pgferry.migration m USING (slot)\n"
				   "WHERE s.slot = $1 AND s.lsn > m.consistent_lsn",
				   1, params);
	if (res == NULL)
	{
		pg_report(target, "read pgferry.table_sync");
		free(sync);
		return NULL;
	}
	sync->count = pg_result_rows(res);
	sync->tables = xcalloc(sync->count ? sync->count : 1, sizeof(TableLsn));
	for (int i = 0; i < sync->count; i++)
	{
		sync->tables[i].schema = xstrdup(pg_result_value(res, i, 0));
		sync->tables[i].name = xstrdup(pg_result_value(res, i, 1));
		pg_lsn_parse(pg_result_value(res, i, 2), &sync->tables[i].lsn);
	}
	pg_result_free(res);
	if (sync->count > 0)
		log_info("%d %s copied after the slot's start: their changes "
				 "before their copy's LSN are skipped",
				 sync->count, plural(sync->count, "table was", "tables were"));
	return sync;
}

void
tablesync_free(TableSync *sync)
{
	if (sync == NULL)
		return;
	for (int i = 0; i < sync->count; i++)
	{
		free(sync->tables[i].schema);
		free(sync->tables[i].name);
	}
	free(sync->tables);
	free(sync);
}

static bool
copied_after(const TableSync *sync, const Rel *rel, Lsn commit_lsn)
{
	for (int i = 0; i < sync->count; i++)
		if (commit_lsn < sync->tables[i].lsn &&
			strcmp(sync->tables[i].name, rel->name) == 0 &&
			strcmp(sync->tables[i].schema, rel->schema) == 0)
			return true;
	return false;
}

bool
tablesync_skip(const TableSync *sync, Change *change, Lsn commit_lsn)
{
	int kept = 0;

	if (sync == NULL || sync->count == 0)
		return false;
	if (change->kind != CHANGE_TRUNCATE)
		return change->rel != NULL &&
			   copied_after(sync, change->rel, commit_lsn);
	for (int i = 0; i < change->nrels; i++)
		if (!copied_after(sync, change->rels[i], commit_lsn))
			change->rels[kept++] = change->rels[i];
	change->nrels = kept;
	return kept == 0;
}
