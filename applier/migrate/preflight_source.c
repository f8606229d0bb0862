/*-------------------------------------------------------------------------
 *
 * preflight_source.c
 *	  What the source role needs: replication; reading every table and
 *	  sequence (pg_dump locks every table and reads every sequence of the
 *	  database, whatever the task's tables; the copy reads them too) and
 *	  the large objects; and what the cutover does on the source.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "migrate/preflight_internal.h"

void
check_source_role(Check *c)
{
	PgResult *res;
	PgConn *replication;
	const char *role = c->source_role;

	res = query(c, c->source,
				"SELECT rolsuper, rolreplication FROM pg_roles "
				"WHERE rolname = current_user",
				0, NULL, "read the source role");
	if (res == NULL)
		return;
	if (pg_result_bool(res, 0, 0) || pg_result_bool(res, 0, 1))
		verdict(c, VERDICT_OK, "source role %s may replicate (%s)", role,
				pg_result_bool(res, 0, 0) ? "superuser" : "REPLICATION");
	else
	{
		verdict(c, VERDICT_BLOCK,
				"source role %s may not create or read "
				"replication slots",
				role);
		line(c, "fix: ALTER ROLE %s REPLICATION;", role);
	}
	pg_result_free(res);

	/* what the slot's connection will meet: pg_hba.conf, the attribute */
	replication =
		pg_connect(c->options->source, "source", PG_CONN_REPLICATION, NULL);
	if (replication == NULL)
	{
		verdict(c, VERDICT_BLOCK,
				"a replication connection to the source "
				"is refused (the reason is logged above)");
		line(c, "fix: give the role REPLICATION, and let it connect to the "
				"database in pg_hba.conf (a replication=database connection "
				"matches the database name, not \"replication\")");
	}
	pg_disconnect(replication);
}

/*
 * The tables pg_dump locks (ordinary and partitioned: LOCK TABLE needs
 * SELECT, and USAGE on the schema) and the sequences it reads, that the
 * role may not read; by schema.
 */
static const char unreadable_sql[] =
	"SELECT quote_ident(n.nspname), format('%I.%I', n.nspname, c.relname),\n"
	"  c.relkind = 'S', has_schema_privilege(n.oid, 'USAGE')\n"
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE c.relkind IN ('r', 'p', 'S') AND c.relpersistence <> 't'\n"
	"  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry')\n"
	"  AND n.nspname NOT LIKE 'pg\\_%'\n"
	"  AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"
	"    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid\n"
	"      AND d.deptype = 'e')\n"
	"  AND NOT (has_schema_privilege(n.oid, 'USAGE')\n"
	"           AND has_table_privilege(c.oid, 'SELECT'))\n"
	"ORDER BY 1, 3, 2";

/* One schema's fixes: USAGE, then SELECT on its tables and sequences. */
static void
schema_fixes(Check *c, PgResult *res, int first, int end, const char *role)
{
	const char *schema = pg_result_value(res, first, 0);
	int tables = 0, sequences = 0;
	const char *table = NULL, *sequence = NULL;

	for (int i = first; i < end; i++)
	{
		const char *name = pg_result_value(res, i, 1);

		if (pg_result_bool(res, i, 2) && sequences++ == 0)
			sequence = name;
		else if (!pg_result_bool(res, i, 2) && tables++ == 0)
			table = name;
	}
	if (!pg_result_bool(res, first, 3))
		line(c, "fix: GRANT USAGE ON SCHEMA %s TO %s;", schema, role);
	if (tables > 0)
		line(c,
			 "fix: GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s;  -- %d "
			 "%s, e.g. %s",
			 schema, role, tables, plural(tables, "table", "tables"), table);
	if (sequences > 0)
		line(c,
			 "fix: GRANT SELECT ON ALL SEQUENCES IN SCHEMA %s TO %s;  -- %d "
			 "%s, e.g. %s",
			 schema, role, sequences,
			 plural(sequences, "sequence", "sequences"), sequence);
}

static void
check_tables_readable(Check *c)
{
	PgResult *res = query(c, c->source, unreadable_sql, 0, NULL,
						  "check the privileges on tables and sequences");
	int count, sequences = 0;
	char what[64];

	if (res == NULL)
		return;
	count = pg_result_rows(res);
	if (count == 0)
	{
		verdict(c, VERDICT_OK,
				"source role may read every table and sequence (pg_dump, "
				"the copy)");
		pg_result_free(res);
		return;
	}
	for (int i = 0; i < count; i++)
		sequences += pg_result_bool(res, i, 2);
	if (sequences == 0 || sequences == count)
		snprintf(what, sizeof(what), "%d %s", count,
				 sequences ? plural(count, "sequence", "sequences")
						   : plural(count, "table", "tables"));
	else
		snprintf(what, sizeof(what), "%d %s and %d %s", count - sequences,
				 plural(count - sequences, "table", "tables"), sequences,
				 plural(sequences, "sequence", "sequences"));
	verdict(c, VERDICT_BLOCK,
			"source role %s may not read %s: pg_dump locks every table and "
			"reads every sequence of the database, the copy reads them",
			c->source_role, what);
	for (int first = 0, end = 0; first < count; first = end)
	{
		const char *schema = pg_result_value(res, first, 0);

		while (end < count &&
			   strcmp(pg_result_value(res, end, 0), schema) == 0)
			end++;
		schema_fixes(c, res, first, end, c->source_role);
	}
	pg_result_free(res);
}

/*
 * The large objects: copied in the snapshot (by a task without
 * --include-tables), so each must be readable; their size only when
 * pg_largeobject is (superusers).  A check that cannot run is a problem
 * of its own, never "none".
 */
static const char large_objects_sql[] =
	"SELECT count(*),\n"
	"  has_table_privilege('pg_largeobject', 'SELECT'),\n"
	"  count(*) FILTER (WHERE NOT readable),\n"
	"  (array_agg(oid ORDER BY oid) FILTER (WHERE NOT readable))[1:$1]\n"
	"FROM (SELECT m.oid,\n"
	"    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)\n"
	"    OR current_setting('lo_compat_privileges')::bool\n"
	"    OR pg_has_role(m.lomowner, 'USAGE')\n"
	"    OR EXISTS (SELECT 1 FROM aclexplode(m.lomacl) a\n"
	"      WHERE a.privilege_type = 'SELECT'\n"
	"        AND (a.grantee = 0 OR pg_has_role(a.grantee, 'USAGE')))\n"
	"      AS readable\n"
	"  FROM pg_largeobject_metadata m) lo";

/* Their size, from pg_largeobject (which only superusers may read). */
static void
large_objects_size(Check *c, char *size, size_t len)
{
	PgResult *res = query(c, c->source,
						  "SELECT coalesce(sum(octet_length(data)), 0) FROM "
						  "pg_largeobject",
						  0, NULL, "measure the large objects");

	if (res)
		format_bytes(atof(pg_result_value(res, 0, 0)), size, len);
	pg_result_free(res);
}

static void
check_large_objects(Check *c)
{
	char limit[16];
	const char *params[1] = {limit};
	PgResult *res;
	long count, unreadable;
	char size[64] = "size unknown: pg_largeobject is for superusers";

	snprintf(limit, sizeof(limit), "%d", LIST_MAX);
	res = query(c, c->source, large_objects_sql, 1, params,
				"count the large objects");
	if (res == NULL)
	{
		verdict(c, VERDICT_BLOCK,
				"the large objects of the source could not be counted (the "
				"error is above)");
		return;
	}
	count = atol(pg_result_value(res, 0, 0));
	unreadable = atol(pg_result_value(res, 0, 2));
	if (count > 0 && pg_result_bool(res, 0, 1))
		large_objects_size(c, size, sizeof(size));
	if (count == 0)
		verdict(c, VERDICT_OK, "no large objects");
	else
	{
		verdict(c, VERDICT_WARN,
				"%ld %s (%s): copied in the "
				"snapshot, but %s later changes (lo_put, lo_unlink...) "
				"are not in the logical stream",
				count, plural(count, "large object", "large objects"), size,
				plural(count, "its", "their"));
		line(c, "fix: do not change large objects during the migration "
				"(or store such data in bytea columns, which stream)");
	}
	if (unreadable > 0 && !tablefilter_has_include(c->options->filter))
	{
		const char *role = c->source_role;
		char *oids = xstrdup(pg_result_value(res, 0, 3));

		verdict(c, VERDICT_BLOCK,
				"source role %s may not read %ld %s, which the copy reads",
				role, unreadable,
				plural(unreadable, "large object", "large objects"));
		/* "{16390,16391}" */
		for (char *oid = strtok(oids + 1, ",}"); oid; oid = strtok(NULL, ",}"))
			line(c, "fix: GRANT SELECT ON LARGE OBJECT %s TO %s;", oid, role);
		list_rest(c, (int) unreadable);
		if (unreadable > LIST_MAX)
			line(c,
				 "     all of them, as a superuser in psql: SELECT "
				 "format('GRANT SELECT ON LARGE OBJECT %%s TO %s;', oid) "
				 "FROM pg_largeobject_metadata \\gexec",
				 role);
		free(oids);
	}
	pg_result_free(res);
}

void
check_source_reads(Check *c)
{
	check_tables_readable(c);
	check_large_objects(c);
}

/* --- the cutover ------------------------------------------------------------ */

static const char cutover_sql[] =
	"SELECT r.rolsuper, pg_has_role(d.datdba, 'USAGE'),\n"
	"  quote_ident(d.datname), quote_ident(o.rolname), o.rolsuper,\n"
	"  pg_has_role('pg_signal_backend', 'USAGE'),\n"
	"  pg_has_role('pg_read_all_stats', 'USAGE'),\n"
	"  (SELECT count(*) FROM pg_stat_activity a\n"
	"   JOIN pg_roles s ON s.oid = a.usesysid\n"
	"   WHERE a.datname = d.datname AND s.rolsuper\n"
	"     AND a.pid <> pg_backend_pid())\n"
	"FROM pg_database d JOIN pg_roles o ON o.oid = d.datdba,\n"
	"  pg_roles r\n"
	"WHERE d.datname = current_database() AND r.rolname = current_user";

/* Starts the block of the cutover's problems with the first of them. */
static void
cutover_problem(Check *c, int *problems, const char *role,
				const char *database)
{
	if ((*problems)++ == 0)
		verdict(c, VERDICT_WARN,
				"pgferry cutover as role %s lacks privileges on the source: "
				"it makes database %s read-only and ends the sessions opened "
				"before",
				role, database);
}

/*
 * What `pgferry cutover` does on the source with the same role: ALTER
 * DATABASE ... SET default_transaction_read_only (the owner), find the
 * sessions of other roles (pg_read_all_stats: without it their rows in
 * pg_stat_activity hide what they are) and terminate them
 * (pg_signal_backend, which cannot end a superuser's).  A warning, not a
 * block: the cutover may run as another role.
 */
void
check_cutover_privileges(Check *c)
{
	PgResult *res = query(c, c->source, cutover_sql, 0, NULL,
						  "check the privileges the cutover needs");
	const char *database, *owner;
	const char *role = c->source_role;
	int problems = 0;
	long superuser_sessions;

	if (res == NULL)
		return;
	if (pg_result_bool(res, 0, 0))
	{
		verdict(c, VERDICT_OK,
				"source role may make the database read-only and end its "
				"sessions at cutover (superuser)");
		pg_result_free(res);
		return;
	}
	database = pg_result_value(res, 0, 2);
	owner = pg_result_value(res, 0, 3);
	superuser_sessions = atol(pg_result_value(res, 0, 7));
	if (!pg_result_bool(res, 0, 1))
	{
		cutover_problem(c, &problems, role, database);
		if (pg_result_bool(res, 0, 4))
			line(c,
				 "ALTER DATABASE %s SET default_transaction_read_only needs "
				 "its owner %s, a superuser: run the cutover as a superuser "
				 "(--source '... user=...')",
				 database, owner);
		else
			line(c,
				 "ALTER DATABASE %s SET default_transaction_read_only needs "
				 "its owner: GRANT %s TO %s;  (or run the cutover as %s)",
				 database, owner, role, owner);
	}
	if (!pg_result_bool(res, 0, 5))
	{
		cutover_problem(c, &problems, role, database);
		line(c,
			 "ending sessions needs pg_signal_backend: GRANT "
			 "pg_signal_backend TO %s;  (or cutover --wait-sessions)",
			 role);
	}
	if (!pg_result_bool(res, 0, 6))
	{
		cutover_problem(c, &problems, role, database);
		line(c,
			 "seeing other roles' sessions needs pg_read_all_stats: GRANT "
			 "pg_read_all_stats TO %s;",
			 role);
	}
	if (superuser_sessions > 0)
	{
		cutover_problem(c, &problems, role, database);
		line(c,
			 "%ld %s of superusers %s open now: only a superuser ends them "
			 "(or cutover --wait-sessions, once they close)",
			 superuser_sessions,
			 plural(superuser_sessions, "session", "sessions"),
			 plural(superuser_sessions, "is", "are"));
	}
	if (problems == 0)
		verdict(c, VERDICT_OK,
				"source role may make the database read-only and end its "
				"sessions at cutover");
	pg_result_free(res);
}
