/*-------------------------------------------------------------------------
 *
 * cli_migrate.c
 *	  The command lines of `pgferry migrate`, `pgferry preflight` and
 *	  `pgferry status`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "copy.h"
#include "migrate.h"
#include "pgferry.h"
#include "preflight.h"
#include "status.h"

static const char migrate_exit_codes[] =
	"Exit codes:\n"
	"  0  done: --endpos reached, or stopped by SIGINT/SIGTERM while "
	"following\n"
	"  1  other error\n"
	"  2  bad command line, or a resume with other arguments\n"
	"  3  a server could not be reached\n"
	"  4  copy, schema or apply error (named in the messages)\n"
	"  6  something blocks the migration: a preflight problem, or tables\n"
	"     another task migrates (nothing was changed)\n";

/*
 * The slot migrate creates: a name as PostgreSQL allows it, which adds a
 * length limit (NAMEDATALEN - 1).
 */
static bool
valid_slot_name(const char *name)
{
	return cli_slot_name(name) && strlen(name) <= 63;
}

static void
cli_migrate_usage(void)
{
	printf("Move a live database to the target: check, restore the schema, "
		   "copy every\ntable in one snapshot, build indexes and "
		   "constraints, then keep the target\nequal to the source by "
		   "following the slot until stopped (then: pgferry\nverify, "
		   "pgferry cutover).\n\n"
		   "Usage:\n  pgferry migrate --source CONNINFO --target CONNINFO "
		   "[OPTION]...\n\n"
		   "Interrupted at any point (even kill -9), run it again with the "
		   "same arguments:\nit resumes from its state in the pgferry "
		   "schema of the target.  Tables (or\nsets of tables) may be moved "
		   "by separate tasks, each with its own --slot and\nfilters.\n\n"
		   "Options:\n" CLI_HELP_SOURCE
		   "  --target CONNINFO        target database (empty, or holding "
		   "this migration)\n"
		   "  --slot NAME              replication slot, also the task's "
		   "name (default %s)\n"
		   "  --jobs N                 tables copied and indexed at once "
		   "(default %d)\n" CLI_HELP_TABLES
		   "  --split-tables-larger-than SIZE\n"
		   "                           copy bigger tables in ranges of about "
		   "SIZE in parallel\n"
		   "                           (default 1GB)\n"
		   "  --endpos LSN             stop following once every "
		   "transaction committed at or\n"
		   "                           before LSN is applied (default: "
		   "until SIGINT/SIGTERM)\n"
		   "  --dir PATH               work directory for the schema dump "
		   "(default\n"
		   "                           $TMPDIR/pgferry-UID-SLOT)\n"
		   "  --log-progress           progress as log lines even on a "
		   "terminal\n"
		   "  --fire-triggers          fire the target's triggers while "
		   "following\n"
		   "  -v, --verbose            more messages\n" CLI_HELP_HELP "\n%s",
		   MIGRATE_DEFAULT_SLOT, MIGRATE_DEFAULT_JOBS, migrate_exit_codes);
}

int
cli_migrate(int argc, char **argv)
{
	MigrateOptions options = {.slot = MIGRATE_DEFAULT_SLOT,
							  .jobs = MIGRATE_DEFAULT_JOBS,
							  .split_bytes = COPY_DEFAULT_SPLIT_BYTES};
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		{.name = "slot",
		 .kind = CLI_TEXT,
		 .to.text = &options.slot,
		 .valid = valid_slot_name,
		 .bad = "--slot: \"%s\" is not a slot name (lower-case letters, "
				"digits and _, at most 63)"},
		{.name = "dir", .kind = CLI_TEXT, .to.text = &options.dir},
		CLI_ROW_JOBS(options),
		CLI_ROW_INCLUDE(options),
		CLI_ROW_EXCLUDE(options),
		CLI_ROW_ENDPOS(options),
		{.name = "split-tables-larger-than",
		 .kind = CLI_BYTES,
		 .to.bytes = &options.split_bytes,
		 .bad = "--split-tables-larger-than: \"%s\" is not a size (like "
				"512MB)"},
		{.name = "log-progress",
		 .kind = CLI_SET,
		 .to.flag = &options.log_progress},
		{.name = "fire-triggers",
		 .kind = CLI_SET,
		 .to.flag = &options.fire_triggers},
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_migrate_usage},
		{.name = NULL}};
	int status;

	if (!cli_parse("migrate", table, argc, argv, &status))
		return status;
	if (!cli_need("migrate", options.source, options.target, CLI_NEED_BOTH))
		return EXIT_USAGE;
	return migrate_run(&options);
}

static void
cli_preflight_usage(void)
{
	printf("Check, before anything changes, what would stop or surprise a "
		   "migration:\nserver versions and settings, the plugin, "
		   "privileges, extensions and roles\nthe schema needs, tables "
		   "without a key, unlogged tables, large objects, sizes.\nEvery "
		   "problem is printed with the command or setting that fixes "
		   "it.\n\n"
		   "Usage:\n  pgferry preflight --source CONNINFO --target CONNINFO "
		   "[OPTION]...\n\n"
		   "Options:\n"
		   "  --source CONNINFO        source database\n" CLI_HELP_TARGET
		   "  --slot NAME              the slot migrate would use (default "
		   "%s)\n"
		   "  --include-tables PATTERN only tables matching PATTERN "
		   "(repeatable)\n"
		   "  --exclude-tables PATTERN leave out tables matching PATTERN "
		   "(repeatable)\n" CLI_HELP_HELP "\n"
		   "Exit codes:\n"
		   "  0  nothing blocks the migration (warnings may be printed)\n"
		   "  1  a check could not run\n"
		   "  2  bad command line\n"
		   "  3  a server could not be reached\n"
		   "  6  something blocks the migration (each with its fix)\n",
		   MIGRATE_DEFAULT_SLOT);
}

int
cli_preflight(int argc, char **argv)
{
	PreflightOptions options = {.slot = MIGRATE_DEFAULT_SLOT};
	const char *const *include_tables = NULL;
	const char *const *exclude_tables = NULL;
	int ninclude = 0;
	int nexclude = 0;
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		{.name = "slot", .kind = CLI_TEXT, .to.text = &options.slot},
		{.name = "include-tables",
		 .kind = CLI_LIST,
		 .to.list = &include_tables,
		 .count = &ninclude},
		{.name = "exclude-tables",
		 .kind = CLI_LIST,
		 .to.list = &exclude_tables,
		 .count = &nexclude},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_preflight_usage},
		{.name = NULL}};
	int status;
	TableFilter *filter;

	if (!cli_parse("preflight", table, argc, argv, &status))
		return status;
	if (!cli_need("preflight", options.source, options.target, CLI_NEED_BOTH))
		return EXIT_USAGE;
	filter = tablefilter_compile(include_tables, ninclude, exclude_tables,
								 nexclude);
	if (filter == NULL)
		return EXIT_USAGE;
	options.filter = filter;
	status = preflight_run(&options);
	tablefilter_free(filter);
	return status;
}

static void
cli_status_usage(void)
{
	printf("Show where migrations into the target stand: phase, copy "
		   "progress per table,\npost-data, and how far the apply lags "
		   "behind the source.\n\n"
		   "Usage:\n  pgferry status --target CONNINFO [--source CONNINFO] "
		   "[--slot NAME]\n\n"
		   "Options:\n"
		   "  --target CONNINFO        target database (where the state "
		   "is)\n"
		   "  --source CONNINFO        source database, for the lag in "
		   "bytes and seconds\n"
		   "  --slot NAME              one migration (default: every one "
		   "in the target)\n" CLI_HELP_HELP);
}

int
cli_status(int argc, char **argv)
{
	StatusOptions options = {0};
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		{.name = "slot", .kind = CLI_TEXT, .to.text = &options.slot},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_status_usage},
		{.name = NULL}};
	int status;

	if (!cli_parse("status", table, argc, argv, &status))
		return status;
	if (!options.target)
		return cli_usage_error("status", "%s", "--target is required");
	return status_run(&options);
}
