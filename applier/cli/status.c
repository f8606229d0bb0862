/*-------------------------------------------------------------------------
 *
 * status.c
 *	  The command line of `pgferry status`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "cli/cli.h"
#include "common/exit.h"
#include "state/status.h"

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
		   "in the target)\n"
		   "  --json                   the same fields as one JSON document "
		   "(for scripts)\n" CLI_HELP_LOG
		   "  -v, --verbose            more messages\n" CLI_HELP_HELP "\n");
	cli_print_exit_codes(stdout, CLI_STATUS);
}

int
cli_status(int argc, char **argv)
{
	StatusOptions options = {0};
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		{.name = "slot", .kind = CLI_TEXT, .to.text = &options.slot},
		{.name = "json", .kind = CLI_SET, .to.flag = &options.json},
		CLI_ROWS_LOG,
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_status_usage},
		{.name = NULL}};
	int status;

	if (!cli_parse("status", table, argc, argv, &status))
		return status;
	if (!options.target)
		return cli_usage_error("status", "%s", "--target is required");
	return status_run(&options);
}
