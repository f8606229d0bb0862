/*-------------------------------------------------------------------------
 *
 * follow.c
 *	  The command line of `pgferry follow`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "apply/follow.h"
#include "apply/sequences.h"
#include "cli/cli.h"
#include "common/exit.h"
#include "common/metrics_http.h"

static void
cli_follow_usage(void)
{
	printf("Stream a pgferry replication slot into the target and keep it "
		   "equal to the\nsource: changes are applied in batches, each "
		   "together with its position in\npgferry.progress on the "
		   "target, so nothing is lost or applied twice.\n\n"
		   "Usage:\n  pgferry follow --source CONNINFO --target CONNINFO "
		   "--slot NAME [OPTION]...\n\n"
		   "Options:\n" CLI_HELP_SOURCE CLI_HELP_TARGET
		   "  --slot NAME              logical replication slot\n"
		   "  --create-slot            create the slot if it does not "
		   "exist\n" CLI_HELP_PLUGIN
		   "  --endpos LSN             apply every transaction committed at "
		   "or before LSN,\n"
		   "                           then exit (default: run until "
		   "SIGINT/SIGTERM)\n" CLI_HELP_TABLES
		   "  --binary, --no-binary    values in binary form when the types "
		   "allow (default)\n"
		   "                           or always as text\n"
		   "  --fire-triggers          fire the target's triggers and "
		   "foreign key checks\n"
		   "                           (default: session_replication_role "
		   "= replica); changes\n"
		   "                           are then written in source order\n"
		   "  --ordered                write every change in source order "
		   "(default: each\n"
		   "                           batch's net effect, per table and "
		   "key)\n" CLI_HELP_DDL
		   "  --skip-lsn LSN           leave out the source transaction "
		   "committed at LSN\n"
		   "                           (one the target refuses, named by "
		   "its error)\n"
		   "  --batch-rows N           commit the target after about N "
		   "rows (default %d)\n"
		   "  --batch-bytes SIZE       ... or SIZE bytes of row data, which "
		   "also bounds memory\n"
		   "                           (default %dMB)\n"
		   "  --batch-time-ms MS       ... or MS milliseconds (default %d)\n"
		   "  --spool-dir DIR          where large in-progress transactions "
		   "wait for their\n"
		   "                           commit (default "
		   "$TMPDIR/pgferry-UID-SLOT; made mode\n"
		   "                           0700, refused if another user owns it "
		   "or others\n"
		   "                           may open it)\n" CLI_HELP_METRICS
			   CLI_HELP_LOG "  -v, --verbose            a line per target "
		   "transaction\n" CLI_HELP_HELP "\n",
		   SEQUENCES_DEFAULT_INTERVAL_S, FOLLOW_DEFAULT_BATCH_ROWS,
		   FOLLOW_DEFAULT_BATCH_BYTES >> 20, FOLLOW_DEFAULT_BATCH_TIME_MS);
	cli_print_exit_codes(stdout, CLI_FOLLOW);
}

int
cli_follow(int argc, char **argv)
{
	FollowOptions options;
	const char *plugin = NULL;
	const char *metrics_addr = NULL;
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		{.name = "slot", .kind = CLI_TEXT, .to.text = &options.slot},
		{.name = "create-slot",
		 .kind = CLI_SET,
		 .to.flag = &options.create_slot},
		CLI_ROW_PLUGIN(plugin),
		CLI_ROW_PUBLICATION(options),
		CLI_ROW_ENDPOS(options),
		CLI_ROW_INCLUDE(options),
		CLI_ROW_EXCLUDE(options),
		{.name = "binary", .kind = CLI_SET, .to.flag = &options.binary},
		{.name = "no-binary", .kind = CLI_CLEAR, .to.flag = &options.binary},
		{.name = "fire-triggers",
		 .kind = CLI_SET,
		 .to.flag = &options.fire_triggers},
		{.name = "ordered", .kind = CLI_SET, .to.flag = &options.ordered},
		CLI_ROW_SEQUENCES_INTERVAL(options),
		CLI_ROW_SKIP_DDL(options),
		{.name = "skip-lsn",
		 .kind = CLI_LSN,
		 .to.lsn = &options.skip_lsn,
		 .bad = "--skip-lsn: \"%s\" is not a WAL position (like 0/16B3748)"},
		{.name = "batch-rows",
		 .kind = CLI_INT,
		 .to.integer = &options.limits.rows,
		 .min = 1,
		 .bad = "--batch-rows: \"%s\" is not a positive integer"},
		{.name = "batch-bytes",
		 .kind = CLI_BYTES,
		 .to.bytes = &options.limits.bytes,
		 .bad = "--batch-bytes: \"%s\" is not a size (like 16MB)"},
		{.name = "batch-time-ms",
		 .kind = CLI_INT,
		 .to.integer = &options.limits.time_ms,
		 .min = 0,
		 .bad = "--batch-time-ms: \"%s\" is not a number of milliseconds"},
		{.name = "spool-dir", .kind = CLI_TEXT, .to.text = &options.spool_dir},
		CLI_ROW_METRICS(metrics_addr),
		CLI_ROWS_LOG,
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_follow_usage},
		{.name = NULL}};
	int status;

	follow_options_init(&options);
	if (!cli_parse("follow", table, argc, argv, &status))
		return status;
	if (!options.source || !options.target || !options.slot)
		return cli_usage_error("follow", "%s",
							   "--source, --target and "
							   "--slot are required");
	options.plugin = cli_plugin(plugin);
	if (options.publication && options.plugin != PLUGIN_PGOUTPUT)
		return cli_usage_error("follow", "%s",
							   "--publication goes with --plugin pgoutput");
	if (metrics_addr && !metrics_http_start(metrics_addr))
		return EXIT_USAGE;
	status = follow_run(&options);
	metrics_http_stop();
	return status;
}
