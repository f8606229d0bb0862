/*-------------------------------------------------------------------------
 *
 * migrate.c
 *	  The command line of `pgferry migrate`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "apply/sequences.h"
#include "cli/cli.h"
#include "common/exit.h"
#include "common/metrics_http.h"
#include "migrate/copy.h"
#include "migrate/migrate.h"

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
		   "name (default\n"
		   "                           pgferry_DATABASE, made a valid slot "
		   "name)\n"
		   "  --jobs N                 tables copied and indexed at once "
		   "(default %d)\n" CLI_HELP_TABLES CLI_HELP_PLUGIN
		   "  --split-tables-larger-than SIZE\n"
		   "                           copy bigger tables in ranges of about "
		   "SIZE in parallel\n"
		   "                           (default 1GB)\n"
		   "  --max-retained-wal SIZE  warn when the slot holds more of the "
		   "source's WAL\n"
		   "                           during the copy (default 32GB; again "
		   "at twice as much)\n"
		   "  --endpos LSN             stop following once every "
		   "transaction committed at or\n"
		   "                           before LSN is applied (default: "
		   "until SIGINT/SIGTERM)\n"
		   "  --dir PATH               work directory for the schema dump "
		   "(default\n"
		   "                           $TMPDIR/pgferry-UID-SLOT; made mode "
		   "0700, refused\n"
		   "                           if another user owns it or others may "
		   "open it)\n"
		   "  --log-progress           progress as log lines even on a "
		   "terminal\n"
		   "  --fire-triggers          fire the target's triggers while "
		   "following (changes\n"
		   "                           then go in source order)\n"
		   "  --ordered                follow in source order, not each "
		   "batch's net effect\n" CLI_HELP_DDL CLI_HELP_RESTORE
		   "  --no-follow              a copy-only task, for tables the "
		   "source no longer\n"
		   "                           changes: copy them in a snapshot and "
		   "stop, leaving no\n"
		   "                           slot (cutover refuses if they change "
		   "on the source;\n"
		   "                           run again, it copies those that "
		   "did)\n" CLI_HELP_METRICS CLI_HELP_LOG
		   "  -v, --verbose            more messages\n" CLI_HELP_HELP "\n",
		   MIGRATE_DEFAULT_JOBS, SEQUENCES_DEFAULT_INTERVAL_S);
	cli_print_exit_codes(stdout, CLI_MIGRATE);
}

int
cli_migrate(int argc, char **argv)
{
	MigrateOptions options = {
		.jobs = MIGRATE_DEFAULT_JOBS,
		.split_bytes = COPY_DEFAULT_SPLIT_BYTES,
		.max_retained_wal = MIGRATE_DEFAULT_MAX_RETAINED_WAL,
		.sequences_interval_s = SEQUENCES_DEFAULT_INTERVAL_S};
	const char *metrics_addr = NULL;
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
		CLI_ROW_PLUGIN(options.plugin),
		CLI_ROW_PUBLICATION(options),
		{.name = "split-tables-larger-than",
		 .kind = CLI_BYTES,
		 .to.bytes = &options.split_bytes,
		 .bad = "--split-tables-larger-than: \"%s\" is not a size (like "
				"512MB)"},
		{.name = "max-retained-wal",
		 .kind = CLI_BYTES,
		 .to.bytes = &options.max_retained_wal,
		 .bad = "--max-retained-wal: \"%s\" is not a size (like 32GB)"},
		{.name = "log-progress",
		 .kind = CLI_SET,
		 .to.flag = &options.log_progress},
		{.name = "fire-triggers",
		 .kind = CLI_SET,
		 .to.flag = &options.fire_triggers},
		{.name = "ordered", .kind = CLI_SET, .to.flag = &options.ordered},
		CLI_ROW_SEQUENCES_INTERVAL(options),
		CLI_ROW_SKIP_DDL(options),
		CLI_ROW_NO_OWNER(options.modes),
		CLI_ROW_NO_PRIVILEGES(options.modes),
		CLI_ROW_ROLES(options.modes),
		{.name = "no-follow", .kind = CLI_SET, .to.flag = &options.no_follow},
		CLI_ROW_METRICS(metrics_addr),
		CLI_ROWS_LOG,
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_migrate_usage},
		{.name = NULL}};
	int status;

	if (!cli_parse("migrate", table, argc, argv, &status))
		return status;
	if (!cli_need("migrate", options.source, options.target, CLI_NEED_BOTH))
		return EXIT_USAGE;
	if (options.no_follow && options.endpos != LSN_INVALID)
		return cli_usage_error(
			"migrate", "%s", "--endpos has nothing to stop with --no-follow");
	if (options.no_follow && options.skip_ddl != LSN_INVALID)
		return cli_usage_error(
			"migrate", "%s",
			"--skip-ddl has no stream to skip in with --no-follow");
	if (metrics_addr && !metrics_http_start(metrics_addr))
		return EXIT_USAGE;
	status = migrate_run(&options);
	metrics_http_stop();
	return status;
}
