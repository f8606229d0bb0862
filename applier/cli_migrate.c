/*-------------------------------------------------------------------------
 *
 * cli_migrate.c
 *	  The command lines of `pgferry migrate`, `pgferry preflight` and
 *	  `pgferry status`.
 *
 *-------------------------------------------------------------------------
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "copy.h"
#include "migrate.h"
#include "pgferry.h"
#include "preflight.h"
#include "status.h"

enum
{
	OPT_SLOT = CLI_OPT_OWN,
	OPT_DIR,
	OPT_ENDPOS,
	OPT_SPLIT,
	OPT_LOG_PROGRESS,
	OPT_FIRE_TRIGGERS
};

static const char migrate_exit_codes[] =
	"Exit codes:\n"
	"  0  done: --endpos reached, or stopped by SIGINT/SIGTERM while "
	"following\n"
	"  1  other error\n"
	"  2  bad command line, or a resume with other arguments\n"
	"  3  a server could not be reached\n"
	"  4  copy, schema or apply error (named in the messages)\n"
	"  6  preflight found a problem that blocks the migration (nothing was\n"
	"     changed)\n";

/* Slot names as PostgreSQL allows them. */
static bool
valid_slot_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			  *p == '_'))
			return false;
	return true;
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
	static const struct option long_options[] = {
		{"source", required_argument, NULL, CLI_OPT_SOURCE},
		{"target", required_argument, NULL, CLI_OPT_TARGET},
		{"slot", required_argument, NULL, OPT_SLOT},
		{"dir", required_argument, NULL, OPT_DIR},
		{"jobs", required_argument, NULL, CLI_OPT_JOBS},
		{"include-tables", required_argument, NULL, CLI_OPT_INCLUDE},
		{"exclude-tables", required_argument, NULL, CLI_OPT_EXCLUDE},
		{"endpos", required_argument, NULL, OPT_ENDPOS},
		{"split-tables-larger-than", required_argument, NULL, OPT_SPLIT},
		{"log-progress", no_argument, NULL, OPT_LOG_PROGRESS},
		{"fire-triggers", no_argument, NULL, OPT_FIRE_TRIGGERS},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	MigrateOptions options = {0};
	CliCommon common = {.command = "migrate", .jobs = MIGRATE_DEFAULT_JOBS};
	int c;

	options.slot = MIGRATE_DEFAULT_SLOT;
	options.split_bytes = COPY_DEFAULT_SPLIT_BYTES;
	while ((c = getopt_long(argc, argv, "vh", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case OPT_SLOT:
				if (!valid_slot_name(optarg))
					return cli_usage_error("migrate",
										   "--slot: \"%s\" is not "
										   "a slot name (lower-case letters, "
										   "digits and _, at most 63)",
										   optarg);
				options.slot = optarg;
				break;
			case OPT_DIR:
				options.dir = optarg;
				break;
			case OPT_ENDPOS:
				if (!pg_lsn_parse(optarg, &options.endpos))
					return cli_usage_error("migrate",
										   "--endpos: \"%s\" is "
										   "not an LSN (like 0/16B3748)",
										   optarg);
				break;
			case OPT_SPLIT:
				if (!cli_bytes(optarg, &options.split_bytes))
					return cli_usage_error(
						"migrate",
						"--split-tables-larger-than: \"%s\" "
						"is not a size (like 512MB)",
						optarg);
				break;
			case OPT_LOG_PROGRESS:
				options.log_progress = true;
				break;
			case OPT_FIRE_TRIGGERS:
				options.fire_triggers = true;
				break;
			case 'h':
				cli_migrate_usage();
				return EXIT_DONE;
			default:
				if (!cli_common_option(&common, c, optarg))
					return EXIT_USAGE;
		}
	}
	if (!cli_common_check(&common, argc, argv, CLI_NEED_BOTH))
		return EXIT_USAGE;
	options.source = common.source;
	options.target = common.target;
	options.jobs = common.jobs;
	options.include_tables = common.include_tables;
	options.ninclude = common.ninclude;
	options.exclude_tables = common.exclude_tables;
	options.nexclude = common.nexclude;
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
	static const struct option long_options[] = {
		{"source", required_argument, NULL, CLI_OPT_SOURCE},
		{"target", required_argument, NULL, CLI_OPT_TARGET},
		{"slot", required_argument, NULL, OPT_SLOT},
		{"include-tables", required_argument, NULL, CLI_OPT_INCLUDE},
		{"exclude-tables", required_argument, NULL, CLI_OPT_EXCLUDE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	PreflightOptions options = {0};
	CliCommon common = {.command = "preflight"};
	int c;
	int status;
	TableFilter *filter;

	options.slot = MIGRATE_DEFAULT_SLOT;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case OPT_SLOT:
				options.slot = optarg;
				break;
			case 'h':
				cli_preflight_usage();
				return EXIT_DONE;
			default:
				if (!cli_common_option(&common, c, optarg))
					return EXIT_USAGE;
		}
	}
	if (!cli_common_check(&common, argc, argv, CLI_NEED_BOTH))
		return EXIT_USAGE;
	filter = tablefilter_compile(common.include_tables, common.ninclude,
								 common.exclude_tables, common.nexclude);
	if (filter == NULL)
		return EXIT_USAGE;
	options.source = common.source;
	options.target = common.target;
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
	static const struct option long_options[] = {
		{"source", required_argument, NULL, CLI_OPT_SOURCE},
		{"target", required_argument, NULL, CLI_OPT_TARGET},
		{"slot", required_argument, NULL, OPT_SLOT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	StatusOptions options = {0};
	CliCommon common = {.command = "status"};
	int c;

	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case OPT_SLOT:
				options.slot = optarg;
				break;
			case 'h':
				cli_status_usage();
				return EXIT_DONE;
			default:
				if (!cli_common_option(&common, c, optarg))
					return EXIT_USAGE;
		}
	}
	if (!cli_common_check(&common, argc, argv, CLI_NEED_NOTHING))
		return EXIT_USAGE;
	if (!common.target)
		return cli_usage_error("status", "%s", "--target is required");
	options.source = common.source;
	options.target = common.target;
	return status_run(&options);
}
