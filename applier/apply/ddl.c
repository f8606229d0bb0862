/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  The source's schema changes, replayed on the target where they stand
 *	  in the stream.
 *
 * The message is JSON; the target reads it (jsonb), so the applier needs
 * no JSON parser of its own, and the table filter is the SQL expression
 * the catalog module builds for it.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "apply/ddl.h"
#include "common/buf.h"
#include "common/log.h"

/* The message's fields, and what the target makes of them. */
enum
{
	DDL_TAG,
	DDL_COMMAND,
	DDL_SEARCH_PATH,
	DDL_ROLE,
	DDL_REFUSED,
	DDL_FILTERED_OUT,
	DDL_RENAMED_IN,
	DDL_FIELDS
};

/*
 * The name an ALTER TABLE ... RENAME TO gave its table before, as its
 * command wrote it (a name the source parsed, maybe qualified or quoted).
 */
#define DDL_OLD_NAME                                                          \
	"pg_catalog.parse_ident(pg_catalog.substring(m->>'command', "             \
	"'(?i)^ALTER\\s+TABLE\\s+(?:IF\\s+EXISTS\\s+)?(?:ONLY\\s+)?(.+?)"         \
	"\\s+RENAME\\s+TO\\s'))"

static char *
ddl_read_sql(const DdlSettings *settings)
{
	Buf sql = BUF_INIT;
	char *kept = settings->filter
					 ? tablefilter_sql(settings->filter, "o.t->>0", "o.t->>1",
									   "NULL", "NULL")
					 : NULL;
	char *kept_before =
		settings->filter
			? tablefilter_sql(settings->filter, "o.t->>0",
							  "o.old[pg_catalog.array_length(o.old, 1)]",
							  "NULL", "NULL")
			: NULL;

	buf_append_str(
		&sql, "SELECT m->>'tag', m->>'command', m->>'search_path', "
			  "(SELECT rolname FROM pg_catalog.pg_roles "
			  " WHERE rolname = m->>'role' "
			  " AND pg_catalog.pg_has_role(CURRENT_USER, oid, 'MEMBER')), "
			  "m->>'refused', ");
	if (kept)
		buf_printf(&sql,
				   "pg_catalog.jsonb_array_length(m->'objects') > 0 AND NOT "
				   "EXISTS (SELECT FROM pg_catalog.jsonb_array_elements("
				   "m->'objects') AS e, LATERAL (SELECT e->'table' AS t) AS o "
				   "WHERE pg_catalog.jsonb_typeof(o.t) IS DISTINCT FROM "
				   "'array' OR %s) ",
				   kept);
	else
		buf_append_str(&sql, "false ");

	/* a table renamed from a name the filters leave out to one they keep */
	if (kept)
		buf_printf(&sql,
				   ", (SELECT pg_catalog.format('%%I.%%I', o.t->>0, o.t->>1) "
				   "FROM pg_catalog.jsonb_array_elements(m->'objects') AS e, "
				   "LATERAL (SELECT e->'table' AS t, " DDL_OLD_NAME
				   " AS old) AS o "
				   "WHERE m->>'tag' = 'ALTER TABLE' AND o.old IS NOT NULL "
				   "AND pg_catalog.jsonb_typeof(o.t) = 'array' AND %s AND NOT "
				   "%s LIMIT 1) ",
				   kept, kept_before);
	else
		buf_append_str(&sql, ", NULL ");
	buf_append_str(&sql, "FROM (SELECT $1::pg_catalog.jsonb AS m) AS message");
	free(kept);
	free(kept_before);
	return sql.data;
}

static void
ddl_ways_on(const char *position)
{
	log_hint("either make the target able to run it and resume pgferry, "
			 "which replays it; or bring the target's schema to what the "
			 "source's became (by hand) and resume with --skip-ddl %s, "
			 "which skips this command alone.  Nothing from this source "
			 "transaction on has been applied, and the slot keeps it",
			 position);
}

/* Sets the search_path and role of the replay, and back. */
static bool
ddl_settings(PgConn *target, const char *search_path, const char *role)
{
	const char *values[2] = {search_path, role};
	PgResult *res = pg_query(target,
							 "SELECT pg_catalog.set_config('search_path', $1, "
							 "true), pg_catalog.set_config('role', $2, true)",
							 2, values);

	bool ok = res != NULL;

	pg_result_free(res);
	return ok;
}

/* Runs the command under the source's search_path and role. */
static bool
ddl_run(PgConn *target, const char *const *field, const char *position)
{
	/* deferred checks pending on a table would refuse an ALTER TABLE */
	if (!pg_exec(target, "SET CONSTRAINTS ALL IMMEDIATE") ||
		!ddl_settings(target,
					  field[DDL_SEARCH_PATH] ? field[DDL_SEARCH_PATH]
											 : "pg_catalog",
					  field[DDL_ROLE] ? field[DDL_ROLE] : "none"))
	{
		pg_report(target, "prepare the replay of the source's %s at %s",
				  field[DDL_TAG], position);
		return false;
	}
	if (!pg_exec(target, field[DDL_COMMAND]))
	{
		pg_report(target, "replay the source's %s at %s", field[DDL_TAG],
				  position);
		log_detail("the command: %s", field[DDL_COMMAND]);
		if (!pg_error_is_transient(target))
			ddl_ways_on(position);
		return false;
	}
	if (!ddl_settings(target, "pg_catalog", "none") ||
		!pg_exec(target, "SET CONSTRAINTS ALL DEFERRED"))
	{
		pg_report(target, "restore the session after the source's %s at %s",
				  field[DDL_TAG], position);
		return false;
	}
	return true;
}

bool
ddl_replay(PgConn *target, const DdlSettings *settings, const char *content,
		   size_t len, Lsn lsn, bool *transient)
{
	char position[LSN_TEXT_LEN];
	char *sql = ddl_read_sql(settings);
	const char *field[DDL_FIELDS];
	PgResult *res;
	bool ok = false;

	(void) len; /* the content ends in '\0' */
	*transient = false;
	pg_lsn_format(lsn, position);
	res = pg_query(target, sql, 1, &content);
	free(sql);
	if (res == NULL)
	{
		pg_report(target, "read the source's DDL message at %s", position);
		*transient = pg_error_is_transient(target);
		return false;
	}
	for (int i = 0; i < DDL_FIELDS; i++)
		field[i] = pg_result_value(res, 0, i);

	if (lsn == settings->skip_lsn)
	{
		log_info("skipped the source's %s at %s (--skip-ddl): %s",
				 field[DDL_TAG], position, field[DDL_COMMAND]);
		ok = true;
	}
	else if (strcmp(field[DDL_FILTERED_OUT], "t") == 0)
	{
		log_verbose("the source's %s at %s touches only tables the table "
					"filters leave out: not replayed",
					field[DDL_TAG], position);
		ok = true;
	}
	else if (field[DDL_RENAMED_IN] != NULL)
	{
		log_error("cannot replay the source's %s at %s: it renames a table "
				  "the table filters leave out to %s, which they keep, and "
				  "the rows it had were never copied to the target",
				  field[DDL_TAG], position, field[DDL_RENAMED_IN]);
		log_detail("the command: %s", field[DDL_COMMAND]);
		log_hint("keep it out: add --exclude-tables '%s' to pgferry follow "
				 "and resume with --skip-ddl %s; then move the table with a "
				 "task of its own (pgferry migrate --slot NAME "
				 "--include-tables '%s')",
				 field[DDL_RENAMED_IN], position, field[DDL_RENAMED_IN]);
	}
	else if (field[DDL_REFUSED] != NULL)
	{
		log_error("cannot replay the source's %s at %s on the target: %s",
				  field[DDL_TAG], position, field[DDL_REFUSED]);
		log_detail("the command: %s", field[DDL_COMMAND]);
		ddl_ways_on(position);
	}
	else if ((ok = ddl_run(target, field, position)))
		log_info("replayed the source's %s at %s", field[DDL_TAG], position);
	else
		*transient = pg_error_is_transient(target);
	pg_result_free(res);
	return ok;
}
