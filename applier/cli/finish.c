/*-------------------------------------------------------------------------
 *
 * finish.c
 *	  The command line of `pgferry finish`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "cli/cli.h"
#include "common/exit.h"
#include "cutover/finish.h"

static void
cli_finish_usage(void)
{
	printf("After a successful cutover, remove what pgferry left: the "
		   "replication slots\non the source and the pgferry schema, with "
		   "all its state, on the target.\nPrints each thing it removes.  "
		   "Afterwards there is no falling back to the\nsource with "
		   "pgferry cutover --abort.\n\n"
		   "Usage:\n  pgferry finish --source CONNINFO --target CONNINFO\n\n"
		   "Stop pgferry migrate (or follow) first.  Nothing is removed "
		   "unless a cutover\nhanded the target over, the source is still "
		   "read-only, and the target is not\nleft read-only by a check "
		   "that found a difference.  The source database stays\nread-only; "
		   "the pgferry extension, if you installed it, stays too.\n\n"
		   "Options:\n" CLI_HELP_SOURCE CLI_HELP_TARGET CLI_HELP_LOG
		   "  -v, --verbose            more messages\n" CLI_HELP_HELP "\n");
	cli_print_exit_codes(stdout, CLI_FINISH);
}

int
cli_finish(int argc, char **argv)
{
	FinishOptions options = {0};
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		CLI_ROWS_LOG,
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_finish_usage},
		{.name = NULL}};
	int status;

	if (!cli_parse("finish", table, argc, argv, &status))
		return status;
	if (!cli_need("finish", options.source, options.target, CLI_NEED_BOTH))
		return EXIT_USAGE;
	return finish_run(&options);
}
