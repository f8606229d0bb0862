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
#include "migrate/preflight_internal.h"
#include "state/appliers.h"
#include "state/state.h"

void
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

void
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

void
list_rest(Check *c, int count)
{
	if (count > LIST_MAX)
		line(c, "  ... and %d more", count - LIST_MAX);
}

PgResult *
query(Check *c, PgConn *conn, const char *sql, int nparams,
	  const char *const *params, const char *what)
{
	PgResult *res = pg_query_or_report(conn, sql, nparams, params, "%s", what);

	if (res == NULL)
		c->failed = true;
	return res;
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
 * Values travel in the source's encoding, and the target converts them to
 * its own: one that cannot hold every character of the source's stops the
 * copy or the stream at the first it cannot (UTF8 holds them all).
 */
static void
check_encodings(Check *c)
{
	const char *source = pg_parameter(c->source, "server_encoding");
	const char *target = pg_parameter(c->target, "server_encoding");
	char *database;

	if (source == NULL || target == NULL)
		return;
	if (strcmp(source, target) == 0 ||
		(strcmp(target, "UTF8") == 0 && strcmp(source, "SQL_ASCII") != 0))
	{
		verdict(c, VERDICT_OK, "encoding: source %s, target %s", source,
				target);
		return;
	}
	verdict(c, VERDICT_WARN,
			"encoding: the target database's %s may not hold every "
			"character of the source's %s: a value it cannot hold stops "
			"the copy or the stream",
			target, source);
	if (strcmp(source, "SQL_ASCII") == 0)
		line(c,
			 "a SQL_ASCII source stores bytes unchecked: the target "
			 "refuses those that are not valid %s",
			 target);
	database = pg_quote_ident(pg_database(c->target));
	line(c, "fix: create the target database with the source's encoding:");
	line(c, "  CREATE DATABASE %s ENCODING '%s' TEMPLATE template0;", database,
		 source);
	free(database);
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

	if (c->plugin == PLUGIN_PGOUTPUT)
		; /* built in: check_plugin() said why */
	else if (pg_result_bool(res, 0, 5))
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
 * A table published for updates and deletes must have a replica identity:
 * without one, the source refuses them (pgoutput's publication).
 */
static void
check_published_identity(Check *c)
{
	Buf names = BUF_INIT;
	int count = 0;

	for (int i = 0; i < c->tables.count; i++)
	{
		const SourceTable *t = &c->tables.tables[i];

		if (t->persistence != 'p' || t->replica_identity == 'f' ||
			t->has_identity_index ||
			(t->replica_identity == 'd' && t->has_primary_key))
			continue;
		buf_printf(&names, "%s%s", count ? ", " : "", t->qualified);
		count++;
	}
	if (count == 0)
		return;
	verdict(c, VERDICT_BLOCK,
			"%d %s no replica identity: once published for pgoutput, the "
			"source refuses %s updates and deletes: %s",
			count, plural(count, "table has", "tables have"),
			plural(count, "its", "their"), names.data);
	line(c, "fix: ALTER TABLE ... REPLICA IDENTITY FULL on each (or add a "
			"primary key), or leave them out with --exclude-tables, or "
			"install pgferry on the source and give --plugin pgferry");
	buf_free(&names);
}

/*
 * Whether the pgferry plugin is installed on the source.  One installed
 * but not allowed by output_plugin_libraries stays the choice: the BLOCK
 * of check_output_plugins() gives the fix, a setting away.
 */
static bool
pgferry_installed(Check *c)
{
	PgResult *res = query(c, c->source,
						  "SELECT EXISTS (SELECT 1 FROM "
						  "pg_available_extensions WHERE name = 'pgferry')",
						  0, NULL, "read whether pgferry is installed");
	bool installed = res && pg_result_bool(res, 0, 0);

	pg_result_free(res);
	return installed;
}

/*
 * The output plugin: --plugin's, or an existing slot's, or pgferry where
 * it is installed on the source, else pgoutput (managed sources).  With pgoutput,
 * a publication of the tables makes the source refuse updates and deletes
 * on those without a replica identity.
 */
static void
check_plugin(Check *c)
{
	const char *slot = c->options->slot;
	PgResult *res = NULL;

	if (slot)
		res = query(c, c->source,
					"SELECT plugin FROM pg_catalog.pg_replication_slots "
					"WHERE slot_name = $1 AND plugin IN ('pgferry', "
					"'pgoutput')",
					1, &slot, "read the slot's plugin");
	if (c->options->plugin)
	{
		c->plugin = strcmp(c->options->plugin, "pgoutput") == 0
						? PLUGIN_PGOUTPUT
						: PLUGIN_PGFERRY;
		verdict(c, VERDICT_INFO, "output plugin: %s (--plugin)",
				PLUGIN_NAME(c->plugin));
	}
	else if (res && pg_result_rows(res) == 1)
	{
		c->plugin = strcmp(pg_result_value(res, 0, 0), "pgoutput") == 0
						? PLUGIN_PGOUTPUT
						: PLUGIN_PGFERRY;
		verdict(c, VERDICT_INFO, "output plugin: %s (slot \"%s\" uses it)",
				PLUGIN_NAME(c->plugin), slot);
	}
	else if (pgferry_installed(c))
	{
		c->plugin = PLUGIN_PGFERRY;
		verdict(c, VERDICT_INFO,
				"output plugin: pgferry (installed on the source)");
		line(c, "where the source cannot load it (a managed server), "
				"--plugin pgoutput uses the built-in one");
	}
	else
	{
		c->plugin = PLUGIN_PGOUTPUT;
		verdict(c, VERDICT_INFO,
				"output plugin: the built-in pgoutput: the pgferry plugin "
				"is not installed on the source server");
		line(c, "pgoutput sends values as text, and DDL only through the "
				"event triggers of pgferry's SQL script; install pgferry "
				"there and give --plugin pgferry for the faster path");
	}
	pg_result_free(res);
	if (c->options->chosen)
		*c->options->chosen = c->plugin;
	if (c->plugin == PLUGIN_PGOUTPUT)
		check_published_identity(c);
}

/*
 * DDL travels as logical messages of pgferry's event triggers (the
 * extension's, or sql/pgferry_ddl.sql's where the C library cannot be
 * installed); pgoutput carries messages from PostgreSQL 14 on.
 */
static void
check_ddl_capture(Check *c)
{
	PgResult *res = query(c, c->source,
						  "SELECT EXISTS (SELECT 1 FROM "
						  "pg_catalog.pg_event_trigger WHERE evtname = "
						  "'pgferry_ddl_command_end' AND evtenabled <> 'D')",
						  0, NULL, "read whether DDL capture is installed");
	bool installed = res && pg_result_bool(res, 0, 0);
	int version = pg_server_version(c->source);

	pg_result_free(res);
	if (res == NULL)
		return;
	if (c->plugin == PLUGIN_PGOUTPUT && version < 140000)
	{
		verdict(c, VERDICT_WARN,
				"DDL will not travel: pgoutput of PostgreSQL %d sends no "
				"logical messages (from 14 on)",
				version / 10000);
		line(c, "fix: run the same DDL on the target, before the rows "
				"that use it");
	}
	else if (!installed)
	{
		verdict(c, VERDICT_WARN,
				"DDL will not travel: the source database has no pgferry "
				"DDL capture (event trigger pgferry_ddl_command_end)");
		line(c, "a schema change on the source then stops the stream at "
				"the first row that does not fit the target");
		line(c, "fix: CREATE EXTENSION pgferry; or, where the C library "
				"cannot be installed, run sql/pgferry_ddl.sql as a superuser "
				"(psql -f pgferry_ddl.sql)");
	}
	else
		verdict(c, VERDICT_OK,
				"DDL travels: pgferry's event triggers "
				"capture it on the source");
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

/*
 * Whether the target's state has a migration of this slot from this
 * source: *phase gets its phase, or NULL.
 */
static bool
slot_migration(Check *c, const char **phase)
{
	Migration found = {0};
	SourceId id = {0};
	bool exists, ours;

	*phase = NULL;
	if (!state_get_migration(c->target, c->options->slot, &found, &exists) ||
		!source_id_read(c->source, &id))
	{
		c->failed = true;
		state_migration_free(&found);
		source_id_free(&id);
		return false;
	}
	ours = exists &&
		   strcmp(found.source.system_identifier, id.system_identifier) == 0 &&
		   strcmp(found.source.database, id.database) == 0;
	if (ours)
		*phase = state_phase_name(found.phase);
	state_migration_free(&found);
	source_id_free(&id);
	return true;
}

/* An existing slot: this target's migration (phase), or in the way. */
static void
slot_exists(Check *c, const char *phase, const char *wal_kept)
{
	const char *slot = c->options->slot;

	if (phase && strcmp(phase, "init") == 0)
		verdict(c, VERDICT_OK,
				"slot \"%s\" was left by this target's migration, stopped "
				"while it started: migrate drops it and starts again",
				slot);
	else if (phase)
		verdict(c, VERDICT_OK,
				"slot \"%s\" is this target's migration (phase %s): migrate "
				"resumes it",
				slot, phase);
	else
	{
		verdict(c, VERDICT_BLOCK,
				"slot \"%s\" already exists on the source, keeping %s of "
				"WAL, and is not this target's migration",
				slot, wal_kept ? wal_kept : "no");
		line(c, "(another target's, another tool's, or left by a migration "
				"whose target database was emptied since)");
		line(c,
			 "fix: choose another --slot, or drop it: SELECT "
			 "pg_drop_replication_slot('%s');",
			 slot);
	}
}

static void
check_slot(Check *c)
{
	const char *params[1] = {c->options->slot};
	const char *phase;
	PgResult *res;

	if (c->options->resuming || c->options->slot == NULL)
		return;
	res = query(c, c->source,
				"SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), "
				"restart_lsn)) FROM pg_replication_slots WHERE slot_name = $1",
				1, params, "look for the slot");
	if (res == NULL)
		return;
	if (pg_result_rows(res) == 0)
		verdict(c, VERDICT_OK, "slot \"%s\" is free", c->options->slot);
	else if (slot_migration(c, &phase))
		slot_exists(c, phase, pg_result_value(res, 0, 0));
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
	c.source_role = pg_quote_ident(pg_user(source));
	c.target_role = pg_quote_ident(pg_user(target));
	check_versions(&c);
	check_plugin(&c);
	check_ddl_capture(&c);
	check_encodings(&c);
	check_source_settings(&c);
	if (c.plugin == PLUGIN_PGFERRY)
		check_output_plugins(&c);
	check_source_role(&c);
	check_source_reads(&c);
	check_cutover_privileges(&c);
	check_slot(&c);
	check_retained_wal(&c);
	check_prepared_transactions(&c);
	check_target(&c);
	check_extensions(&c);
	check_schema_roles(&c);
	check_tables(&c);
	if (!options->quiet)
		check_sizes(&c);
	fflush(stdout);
	catalog_free(&c.tables);
	free(c.source_role);
	free(c.target_role);
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
