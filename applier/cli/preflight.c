/*-------------------------------------------------------------------------
 *
 * preflight.c
 *	  The command line of `pgferry preflight`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "catalog/tablefilter.h"
#include "cli/cli.h"
#include "common/exit.h"
#include "migrate/migrate.h"
#include "migrate/preflight.h"

static void
cli_preflight_usage(void)
{
	printf("Check, before anything changes, what would stop or surprise a "
		   "migration:\nserver versions and settings, the plugin, "
		   "privileges, extensions and roles\nthe schema needs, tables "
		   "without a key, unlogged tables, large objects, sizes.\nEvery "
		   "problem is printed with the command or setting that fixes "
		   "it.\nGive it the --slot, table filters, --no-owner, "
		   "--no-privileges and --roles that\npgferry migrate will get: it "
		   "checks what each phase of that migration needs.\n\n"
		   "Usage:\n  pgferry preflight --source CONNINFO --target CONNINFO "
		   "[OPTION]...\n\n"
		   "Options:\n"
		   "  --source CONNINFO        source database\n" CLI_HELP_TARGET
		   "  --slot NAME              the slot migrate would use (default "
		   "pgferry_DATABASE)\n"
		   "  --include-tables PATTERN only tables matching PATTERN "
		   "(repeatable)\n"
		   "  --exclude-tables PATTERN leave out tables matching PATTERN "
		   "(repeatable)\n"
		   "  --jobs N                 the copy's jobs, for its time and the "
		   "WAL the slot\n"
		   "                           holds meanwhile (default "
		   "4)\n" CLI_HELP_RESTORE
		   "  --plugin NAME            the output plugin migrate would use: "
		   "pgferry or\n"
		   "                           pgoutput (default: pgferry where the "
		   "source has it)\n" CLI_HELP_LOG
		   "  -v, --verbose            more messages\n" CLI_HELP_HELP "\n");
	cli_print_exit_codes(stdout, CLI_PREFLIGHT);
}

int
cli_preflight(int argc, char **argv)
{
	PreflightOptions options = {0};
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
		CLI_ROW_JOBS(options),
		CLI_ROW_PLUGIN(options.plugin),
		CLI_ROW_NO_OWNER(options.modes),
		CLI_ROW_NO_PRIVILEGES(options.modes),
		CLI_ROW_ROLES(options.modes),
		CLI_ROWS_LOG,
		{.name = "verbose", .kind = CLI_VERBOSE},
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
