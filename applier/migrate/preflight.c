/*-------------------------------------------------------------------------
 *
 * preflight.c
 *	  Check the source, the target and the tables before a migration.
 *
 * Each check prints a block: a verdict line (OK, WARN or BLOCK) and, for
 * WARN and BLOCK, what will happen and the exact fix.  Nothing is changed
 * on either server.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/exit.h"
#include "common/log.h"
#include "migrate/preflight.h"
#include "state/appliers.h"

/* Items (tables, transactions) listed by name in one block at most. */
#define LIST_MAX 10

typedef enum Verdict
{
	VERDICT_OK,
	VERDICT_INFO,
	VERDICT_WARN,
	VERDICT_BLOCK
} Verdict;

typedef struct Check
{
	const PreflightOptions *options;
	PgConn *source;
	PgConn *target;
	SourceTables tables;
	int blocking;
	int warnings;
	bool printing; /* the current block is printed */
	bool failed;   /* a query failed */
} Check;

static void verdict(Check *c, Verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void line(Check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Starts a block. */
static void
verdict(Check *c, Verdict v, const char *fmt, ...)
{
	static const char *const labels[] = {"OK   ", "     ", "WARN ", "BLOCK"};
	va_list args;

	c->blocking += v == VERDICT_BLOCK;
	c->warnings += v == VERDICT_WARN;
	c->printing = v >= VERDICT_WARN || !c->options->quiet;
	if (!c->printing)
		return;
	printf("%s ", labels[v]);
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
}

/* A line of the current block (what happens, the fix). */
static void
line(Check *c, const char *fmt, ...)
{
	va_list args;

	if (!c->printing)
		return;
	printf("      ");
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	putchar('\n');
}

/* After a list of count items cut at LIST_MAX: how many were left out. */
static void
list_rest(Check *c, int count)
{
	if (count > LIST_MAX)
		line(c, "  ... and %d more", count - LIST_MAX);
}

/* One row of a query's result, or NULL (after reporting) on error. */
static PgResult *
query(Check *c, PgConn *conn, const char *sql, int nparams,
	  const char *const *params, const char *what)
{
	PgResult *res = pg_query_or_report(conn, sql, nparams, params, "%s", what);

	if (res == NULL)
		c->failed = true;
	return res;
}

static bool
is_true(const char *value)
{
	return value && value[0] == 't';
}

/* --- servers --------------------------------------------------------------- */

static void
check_versions(Check *c)
{
	int source = pg_server_version(c->source);
	int target = pg_server_version(c->target);

	verdict(c, VERDICT_OK, "source: PostgreSQL %s (%s)",
			pg_parameter(c->source, "server_version"),
			pg_conn_display(c->source));
	verdict(c, target / 10000 < source / 10000 ? VERDICT_BLOCK : VERDICT_OK,
			"target: PostgreSQL %s (%s)",
			pg_parameter(c->target, "server_version"),
			pg_conn_display(c->target));
	if (target / 10000 < source / 10000)
	{
		line(c,
			 "the schema dump of a PostgreSQL %d source does not restore "
			 "on an older server",
			 source / 10000);
		line(c, "fix: migrate to a server of version %d or newer",
			 source / 10000);
	}
}

/*
 * The elements of a list setting as SHOW prints it: separated by commas,
 * an element with special characters double-quoted ("" for a quote).
 * Returns their count; elements[i] are malloc'ed.
 */
static int
split_list(const char *list, char ***elements)
{
	int count = 0;
	const char *p = list;

	*elements = NULL;
	while (*p)
	{
		Buf element = BUF_INIT;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		buf_append(&element, "", 0);
		if (*p == '"')
		{
			for (p++; *p && !(p[0] == '"' && p[1] != '"'); p++)
			{
				if (*p == '"')
					p++; /* "" */
				buf_append(&element, p, 1);
			}
			if (*p == '"')
				p++;
		}
		else
		{
			size_t n = strcspn(p, ",");

			while (n > 0 && p[n - 1] == ' ')
				n--;
			buf_append(&element, p, n);
			p += n;
		}
		while (*p && *p != ',')
			p++;
		*elements = xrealloc(*elements, (count + 1) * sizeof(char *));
		(*elements)[count++] = element.data;
	}
	return count;
}

static void
check_source_settings(Check *c)
{
	PgResult *res;
	int slots, slots_used, senders, senders_used;

	res = query(c, c->source,
				"SELECT current_setting('wal_level'),\n"
				"  current_setting('max_replication_slots')::int,\n"
				"  (SELECT count(*) FROM pg_replication_slots),\n"
				"  current_setting('max_wal_senders')::int,\n"
				"  (SELECT count(*) FROM pg_stat_activity\n"
				"   WHERE backend_type = 'walsender'),\n"
				"  EXISTS (SELECT 1 FROM pg_available_extensions\n"
				"          WHERE name = 'pgferry')",
				0, NULL, "read the source's settings");
	if (res == NULL)
		return;

	if (strcmp(pg_result_value(res, 0, 0), "logical") == 0)
		verdict(c, VERDICT_OK, "wal_level = logical");
	else
	{
		verdict(c, VERDICT_BLOCK, "wal_level = %s: changes cannot be decoded",
				pg_result_value(res, 0, 0));
		line(c, "fix: ALTER SYSTEM SET wal_level = logical; then restart "
				"the source server");
	}

	slots = atoi(pg_result_value(res, 0, 1));
	slots_used = atoi(pg_result_value(res, 0, 2));
	verdict(c,
			slots - slots_used < 1	 ? VERDICT_BLOCK
			: slots - slots_used < 2 ? VERDICT_WARN
									 : VERDICT_OK,
			"max_replication_slots = %d (%d in use)", slots, slots_used);
	if (slots - slots_used < 2)
	{
		line(c, "migrate needs one slot, and one more (temporary) to resume "
				"an interrupted copy");
		line(c,
			 "fix: ALTER SYSTEM SET max_replication_slots = %d; then "
			 "restart the source server",
			 slots_used + 4);
	}

	senders = atoi(pg_result_value(res, 0, 3));
	senders_used = atoi(pg_result_value(res, 0, 4));
	verdict(c, senders - senders_used < 1 ? VERDICT_BLOCK : VERDICT_OK,
			"max_wal_senders = %d (%d in use)", senders, senders_used);
	if (senders - senders_used < 1)
		line(c,
			 "fix: ALTER SYSTEM SET max_wal_senders = %d; then restart "
			 "the source server",
			 senders_used + 4);

	if (is_true(pg_result_value(res, 0, 5)))
		verdict(c, VERDICT_OK,
				"the pgferry plugin is installed on the "
				"source server");
	else
	{
		verdict(c, VERDICT_BLOCK,
				"the pgferry plugin is not installed on "
				"the source server");
		line(c,
			 "fix: on the source host, as root: make install (in the "
			 "pgferry sources), or install the pgferry package built for "
			 "PostgreSQL %d",
			 pg_server_version(c->source) / 10000);
	}
	pg_result_free(res);
}

/*
 * Servers from 15.19 on name the output plugins they load; servers before
 * have no such setting.  Only superusers may read it.
 */
static void
check_output_plugins(Check *c)
{
	PgResult *res = pg_query(
		c->source, "SELECT current_setting('output_plugin_libraries', true)",
		0, NULL);
	const char *plugins;

	if (res == NULL && strcmp(pg_error_sqlstate(c->source), "42501") == 0)
	{
		verdict(c, VERDICT_WARN,
				"output_plugin_libraries cannot be read by "
				"role %s: it must list pgferry",
				pg_user(c->source));
		line(c, "check as a superuser: SHOW output_plugin_libraries;");
		line(c,
			 "fix if pgferry is missing: ALTER SYSTEM SET "
			 "output_plugin_libraries = '<each element shown>', 'pgferry';");
		line(c, "     SELECT pg_reload_conf();");
		return;
	}
	if (res == NULL)
	{
		pg_report(c->source, "read output_plugin_libraries");
		c->failed = true;
		return;
	}
	plugins = pg_result_value(res, 0, 0);
	if (plugins == NULL)
		verdict(c, VERDICT_OK,
				"output_plugin_libraries: not needed (this "
				"server has no such setting: it loads any output plugin)");
	else
	{
		char **elements;
		int count = split_list(plugins, &elements);
		bool allowed = false;
		Buf fix = BUF_INIT;

		/* a list setting: ALTER SYSTEM takes one literal per element */
		buf_append_str(&fix,
					   "fix: ALTER SYSTEM SET output_plugin_libraries = ");
		for (int i = 0; i < count; i++)
		{
			char *quoted = pg_quote_literal(elements[i]);

			allowed |= strcmp(elements[i], "pgferry") == 0;
			buf_printf(&fix, "%s, ", quoted);
			free(quoted);
			free(elements[i]);
		}
		free(elements);
		buf_append_str(&fix, "'pgferry';");
		if (allowed)
			verdict(c, VERDICT_OK, "output_plugin_libraries = '%s'", plugins);
		else
		{
			verdict(c, VERDICT_BLOCK,
					"output_plugin_libraries = '%s' does "
					"not allow the pgferry plugin",
					plugins);
			line(c, "%s", fix.data);
			line(c, "     SELECT pg_reload_conf();");
		}
		buf_free(&fix);
	}
	pg_result_free(res);
}

static void
check_source_role(Check *c)
{
	PgResult *res;
	PgConn *replication;
	char *role;

	res = query(c, c->source,
				"SELECT rolsuper, rolreplication FROM pg_roles "
				"WHERE rolname = current_user",
				0, NULL, "read the source role");
	if (res == NULL)
		return;
	role = pg_quote_ident(pg_user(c->source));
	if (is_true(pg_result_value(res, 0, 0)) ||
		is_true(pg_result_value(res, 0, 1)))
		verdict(c, VERDICT_OK, "source role %s may replicate (%s)", role,
				is_true(pg_result_value(res, 0, 0)) ? "superuser"
													: "REPLICATION");
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
	free(role);
}

/* Whether another task of a migration restored the schema already. */
static bool
schema_restored(Check *c, bool table_exists)
{
	PgResult *res;
	bool restored;

	if (!table_exists)
		return false;
	res =
		query(c, c->target, "SELECT count(*) > 0 FROM pgferry.schema_restore",
			  0, NULL, "read pgferry.schema_restore");
	if (res == NULL)
		return false;
	restored = is_true(pg_result_value(res, 0, 0));
	pg_result_free(res);
	return restored;
}

static void
check_target(Check *c)
{
	PgResult *res;
	char *role;
	int relations;

	res = query(
		c, c->target,
		"SELECT has_database_privilege(current_database(), 'CREATE'),\n"
		"  r.rolsuper OR has_parameter_privilege("
		"'session_replication_role', 'SET'),\n"
		"  quote_ident(current_database()),\n"
		"  to_regclass('pgferry.schema_restore') IS NOT NULL,\n"
		"  (SELECT count(*) FROM pg_class c\n"
		"   JOIN pg_namespace n ON n.oid = c.relnamespace\n"
		"   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')\n"
		"   AND n.nspname NOT IN ('pg_catalog', 'information_schema',\n"
		"     'pgferry') AND n.nspname NOT LIKE 'pg\\_%'),\n"
		"  (SELECT min(format('%I.%I', n.nspname, c.relname))\n"
		"   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
		"   WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN\n"
		"     ('pg_catalog', 'information_schema', 'pgferry')\n"
		"   AND n.nspname NOT LIKE 'pg\\_%')\n"
		"FROM pg_roles r WHERE r.rolname = current_user",
		0, NULL, "read the target's privileges");
	if (res == NULL)
		return;
	role = pg_quote_ident(pg_user(c->target));
	if (is_true(pg_result_value(res, 0, 0)))
		verdict(c, VERDICT_OK,
				"target role %s may create schemas and "
				"objects",
				role);
	else
	{
		verdict(c, VERDICT_BLOCK,
				"target role %s may not create schemas in "
				"database %s",
				role, pg_result_value(res, 0, 2));
		line(c, "fix: GRANT CREATE ON DATABASE %s TO %s;",
			 pg_result_value(res, 0, 2), role);
	}
	if (is_true(pg_result_value(res, 0, 1)))
		verdict(c, VERDICT_OK,
				"target role %s may set "
				"session_replication_role",
				role);
	else
	{
		verdict(c, VERDICT_WARN,
				"target role %s may not set "
				"session_replication_role: the target's triggers and "
				"foreign key checks fire while changes are applied",
				role);
		line(c,
			 "fix (as a superuser of the target): GRANT SET ON PARAMETER "
			 "session_replication_role TO %s;",
			 role);
	}

	/* pgferry restores the schema: into an empty database, or a task's */
	relations = atoi(pg_result_value(res, 0, 4));
	if (!c->options->resuming && relations > 0 &&
		!schema_restored(c, is_true(pg_result_value(res, 0, 3))))
	{
		verdict(c, VERDICT_BLOCK,
				"the target database already has %d %s (e.g. %s): pgferry "
				"restores the schema itself",
				relations, plural(relations, "relation", "relations"),
				pg_result_value(res, 0, 5) ? pg_result_value(res, 0, 5) : "-");
		line(c, "fix: migrate into an empty database (createdb -T template0 "
				"NAME on the target server), or drop those objects");
	}
	pg_result_free(res);
	free(role);
}

/* Quotes values as the elements of a text[] literal. */
static char *
array_literal(PgResult *res, int column)
{
	Buf array = BUF_INIT;

	buf_append_str(&array, "{");
	for (int i = 0; i < pg_result_rows(res); i++)
	{
		buf_append_str(&array, i ? ",\"" : "\"");
		for (const char *p = pg_result_value(res, i, column); *p; p++)
		{
			if (*p == '"' || *p == '\\')
				buf_append(&array, "\\", 1);
			buf_append(&array, p, 1);
		}
		buf_append_str(&array, "\"");
	}
	buf_append_str(&array, "}");
	return array.data;
}

/* Names the source has that the target lacks, reported as one block. */
static void
check_present_on_target(Check *c, const char *source_sql,
						const char *target_sql, const char *what,
						const char *fix_fmt)
{
	PgResult *wanted = query(c, c->source, source_sql, 0, NULL, what);
	PgResult *present;
	const char *params[1];
	char *array;
	int missing = 0;

	if (wanted == NULL)
		return;
	array = array_literal(wanted, 0);
	params[0] = array;
	present = query(c, c->target, target_sql, 1, params, what);
	free(array);
	if (present == NULL)
	{
		pg_result_free(wanted);
		return;
	}
	for (int i = 0; i < pg_result_rows(wanted); i++)
	{
		const char *name = pg_result_value(wanted, i, 0);
		bool found = false;

		for (int j = 0; j < pg_result_rows(present) && !found; j++)
			found = strcmp(name, pg_result_value(present, j, 0)) == 0;
		if (found)
			continue;
		if (missing++ == 0)
			verdict(c, VERDICT_BLOCK, "the schema needs %s the target lacks",
					what);
		line(c, fix_fmt, pg_result_value(wanted, i, 1), name);
	}
	if (missing == 0)
		verdict(c, VERDICT_OK, "the target has the %s the schema needs", what);
	pg_result_free(wanted);
	pg_result_free(present);
}

static void
check_extensions_and_roles(Check *c)
{
	check_present_on_target(c,
							"SELECT extname, quote_ident(extname) "
							"FROM pg_extension "
							"WHERE extname NOT IN ('plpgsql', 'pgferry') "
							"ORDER BY 1",
							"SELECT name FROM pg_available_extensions "
							"WHERE name = ANY($1::text[])",
							"extensions",
							"fix: install extension %s on the target server "
							"(its package, e.g. postgresql-NN-%s, or "
							"contrib)");
	check_present_on_target(
		c,
		"SELECT DISTINCT r.rolname, quote_ident(r.rolname)\n"
		"FROM (SELECT relowner AS role FROM pg_class\n"
		"  UNION SELECT nspowner FROM pg_namespace\n"
		"  UNION SELECT proowner FROM pg_proc\n"
		"  UNION SELECT typowner FROM pg_type\n"
		"  UNION SELECT (aclexplode(relacl)).grantee\n"
		"    FROM pg_class WHERE relacl IS NOT NULL\n"
		"  UNION SELECT (aclexplode(nspacl)).grantee\n"
		"    FROM pg_namespace WHERE nspacl IS NOT NULL) o\n"
		"JOIN pg_roles r ON r.oid = o.role\n"
		"WHERE r.rolname NOT LIKE 'pg\\_%' ORDER BY 1",
		"SELECT rolname FROM pg_roles "
		"WHERE rolname = ANY($1::text[])",
		"roles (owners and grantees)",
		"fix: CREATE ROLE %s; (or all roles: pg_dumpall "
		"--roles-only -d SOURCE | psql TARGET), for %s");
}

static void
check_slot(Check *c)
{
	const char *params[1] = {c->options->slot};
	PgResult *res;

	if (c->options->resuming || c->options->slot == NULL)
		return;
	res = query(c, c->source,
				"SELECT active FROM pg_replication_slots WHERE slot_name = $1",
				1, params, "look for the slot");
	if (res == NULL)
		return;
	if (pg_result_rows(res) == 0)
		verdict(c, VERDICT_OK, "slot \"%s\" is free", c->options->slot);
	else
	{
		verdict(c, VERDICT_BLOCK,
				"slot \"%s\" already exists on the source "
				"and is not this target's migration",
				c->options->slot);
		line(c,
			 "fix: choose another --slot, or drop it: SELECT "
			 "pg_drop_replication_slot('%s');",
			 c->options->slot);
	}
	pg_result_free(res);
}

/*
 * Prepared transactions of the source: creating a slot waits until every
 * transaction running then has ended, and a prepared one ends only when
 * someone commits or rolls it back.
 */
static void
check_prepared_transactions(Check *c)
{
	PgResult *res;
	int count;

	if (c->options->resuming)
		return;
	res = query(c, c->source,
				"SELECT pg_catalog.quote_literal(gid), database, "
				"prepared::text FROM pg_catalog.pg_prepared_xacts "
				"ORDER BY prepared",
				0, NULL, "list the prepared transactions");
	if (res == NULL)
		return;
	count = pg_result_rows(res);
	if (count == 0)
		verdict(c, VERDICT_OK, "no prepared transactions on the source");
	else
	{
		verdict(c, VERDICT_WARN,
				"%d prepared %s on the source: creating the slot waits "
				"until %s committed or rolled back",
				count, plural(count, "transaction", "transactions"),
				plural(count, "it is", "they are"));
		line(c, "fix: end %s (in %s database), e.g.:",
			 plural(count, "it", "them"), plural(count, "its", "their"));
		for (int i = 0; i < count && i < LIST_MAX; i++)
			line(c,
				 "  COMMIT PREPARED %s;  -- or ROLLBACK PREPARED (database "
				 "%s, prepared %s)",
				 pg_result_value(res, i, 0), pg_result_value(res, i, 1),
				 pg_result_value(res, i, 2));
		list_rest(c, count);
	}
	pg_result_free(res);
}

/* --- tables ------------------------------------------------------------------ */

static void
check_tables(Check *c)
{
	const SourceTables *t = &c->tables;
	int no_key = 0, full = 0, unlogged = 0;

	for (int i = 0; i < t->count; i++)
	{
		const SourceTable *s = &t->tables[i];

		if (s->replica_identity == 'n' ||
			(s->replica_identity == 'd' && !s->has_primary_key) ||
			(s->replica_identity == 'i' && !s->has_identity_index))
		{
			if (no_key++ == 0)
			{
				verdict(c, VERDICT_WARN,
						"tables without a primary key or "
						"usable replica identity: copied, and their inserts "
						"streamed, but an update or delete of one of their "
						"rows stops the stream (the source sends no key)");
				line(c, "fix: add a primary key, or:");
			}
			if (no_key <= LIST_MAX)
				line(c, "  ALTER TABLE %s REPLICA IDENTITY FULL;",
					 s->qualified);
		}
		else if (s->replica_identity == 'f' && !s->has_primary_key)
			full++;
	}
	list_rest(c, no_key);
	if (no_key == 0)
		verdict(c, VERDICT_OK,
				"every table has a primary key or a usable "
				"replica identity");
	if (full > 0)
	{
		verdict(c, VERDICT_INFO,
				"%d %s without a primary key %s "
				"REPLICA IDENTITY FULL: rows are matched on all their "
				"columns (an index on the target speeds that up)",
				full, plural(full, "table", "tables"),
				plural(full, "uses", "use"));
	}

	for (int i = 0; i < t->count; i++)
	{
		const SourceTable *s = &t->tables[i];

		if (s->persistence != 'u')
			continue;
		if (unlogged++ == 0)
		{
			verdict(c, VERDICT_WARN,
					"unlogged tables: copied once, but "
					"their later changes are not in the WAL, so not "
					"streamed");
			line(c, "fix:");
		}
		if (unlogged <= LIST_MAX)
			line(c, "  ALTER TABLE %s SET LOGGED;", s->qualified);
	}
	list_rest(c, unlogged);
}

static void
check_large_objects(Check *c)
{
	PgResult *res = query(c, c->source,
						  "SELECT count(*), coalesce(sum(octet_length("
						  "data)), 0) FROM pg_largeobject_metadata m "
						  "LEFT JOIN pg_largeobject l ON l.loid = m.oid",
						  0, NULL, "count the large objects");
	long count;

	if (res == NULL)
	{
		/* pg_largeobject needs superuser: count without sizes */
		c->failed = false;
		res = query(c, c->source,
					"SELECT count(*), NULL FROM pg_largeobject_metadata", 0,
					NULL, "count the large objects");
		if (res == NULL)
			return;
	}
	count = atol(pg_result_value(res, 0, 0));
	if (count == 0)
		verdict(c, VERDICT_OK, "no large objects");
	else
	{
		char size[16] = "?";

		if (pg_result_value(res, 0, 1))
			format_bytes(atof(pg_result_value(res, 0, 1)), size, sizeof(size));
		verdict(c, VERDICT_WARN,
				"%ld %s (%s): copied in the "
				"snapshot, but %s later changes (lo_put, lo_unlink...) "
				"are not in the logical stream",
				count, plural(count, "large object", "large objects"), size,
				plural(count, "its", "their"));
		line(c, "fix: do not change large objects during the migration "
				"(or store such data in bytea columns, which stream)");
	}
	pg_result_free(res);
}

static void
check_sizes(Check *c)
{
	PgResult *res =
		query(c, c->source, "SELECT pg_database_size(current_database())", 0,
			  NULL, "read the database size");
	char size[16];
	int64_t copied = 0;

	if (res == NULL)
		return;
	for (int i = 0; i < c->tables.count; i++)
		copied += c->tables.tables[i].bytes;
	verdict(c, VERDICT_INFO, "database size %s; %d %s to copy, %s",
			format_bytes(atof(pg_result_value(res, 0, 0)), size, sizeof(size)),
			c->tables.count, plural(c->tables.count, "table", "tables"),
			format_bytes(copied, (char[16]){0}, 16));
	pg_result_free(res);
	for (int i = 0; i < c->tables.count && i < 5; i++)
		line(c, "%-50s %10s", c->tables.tables[i].qualified,
			 format_bytes(c->tables.tables[i].bytes, size, sizeof(size)));
}

static void
check_readable(Check *c)
{
	int unreadable = 0;
	Buf oids = BUF_INIT;
	const char *params[1];
	PgResult *res;

	buf_append_str(&oids, "{");
	for (int i = 0; i < c->tables.count; i++)
		buf_printf(&oids, "%s%u", i ? "," : "", c->tables.tables[i].oid);
	buf_append_str(&oids, "}");
	params[0] = oids.data;
	res =
		query(c, c->source,
			  "SELECT format('%I.%I', n.nspname, c.relname), "
			  "quote_ident(n.nspname)\n"
			  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
			  "WHERE c.oid = ANY($1::oid[])\n"
			  "  AND NOT has_table_privilege(c.oid, 'SELECT') ORDER BY 1",
			  1, params, "check the privileges on the tables");
	buf_free(&oids);
	if (res == NULL)
		return;
	unreadable = pg_result_rows(res);
	if (unreadable == 0)
		verdict(c, VERDICT_OK, "source role may read every table");
	else
	{
		char *role = pg_quote_ident(pg_user(c->source));

		verdict(c, VERDICT_BLOCK, "source role %s may not read %d %s", role,
				unreadable, plural(unreadable, "table", "tables"));
		for (int i = 0; i < unreadable && i < LIST_MAX; i++)
			line(c,
				 "fix: GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s;  "
				 "-- for %s",
				 pg_result_value(res, i, 1), role, pg_result_value(res, i, 0));
		free(role);
	}
	pg_result_free(res);
}

int
preflight_check(PgConn *source, PgConn *target,
				const PreflightOptions *options)
{
	Check c = {0};

	c.options = options;
	c.source = source;
	c.target = target;
	if (!catalog_tables(source, options->filter, &c.tables))
		return -1;
	check_versions(&c);
	check_source_settings(&c);
	check_output_plugins(&c);
	check_source_role(&c);
	check_readable(&c);
	check_slot(&c);
	check_prepared_transactions(&c);
	check_target(&c);
	if (!options->resuming)
		check_extensions_and_roles(&c);
	check_tables(&c);
	check_large_objects(&c);
	if (!options->quiet)
		check_sizes(&c);
	fflush(stdout);
	catalog_free(&c.tables);
	return c.failed ? -1 : c.blocking;
}

int
preflight_run(const PreflightOptions *options)
{
	PgConn *source;
	PgConn *target;
	PreflightOptions resolved = *options;
	char *default_slot = NULL;
	int blocking;

	if (!pg_connect_both(options->source, options->target, NULL, &source,
						 &target))
		return EXIT_CONNECTION;
	if (options->slot == NULL)
		resolved.slot = default_slot =
			appliers_default_slot(pg_database(source));
	blocking = preflight_check(source, target, &resolved);
	free(default_slot);
	pg_disconnect(source);
	pg_disconnect(target);
	if (blocking < 0)
		return EXIT_OTHER;
	if (blocking > 0)
	{
		printf("\n%d %s the migration: fix %s and run "
			   "pgferry preflight again.\n",
			   blocking, plural(blocking, "problem blocks", "problems block"),
			   plural(blocking, "it", "them"));
		return EXIT_BLOCKED;
	}
	printf("\nNothing blocks the migration.\n");
	return EXIT_DONE;
}
