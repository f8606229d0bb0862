/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  The command line of `pgferry verify`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "cli/cli.h"
#include "common/exit.h"
#include "verify/verify.h"

static void
cli_verify_usage(void)
{
	printf(
		"Compare every table of the source with the target, row for row, "
		"at one\nconsistent point, and name the rows that differ.\n\n"
		"Usage:\n  pgferry verify --source CONNINFO --target CONNINFO "
		"[OPTION]...\n\n"
		"Each server hashes its own rows (hashtextextended of the row's "
		"text, columns\nmatched by name, output settings fixed), so rows "
		"never cross the network: a\ntable with a primary key (or a "
		"unique index on NOT NULL columns) is compared\nin key ranges, "
		"and a range that differs is split until its differing keys are\n"
		"named (changed, missing on target, extra on target); a table "
		"without one is\ncompared as a multiset of whole rows, and its "
		"differing rows are printed.\n\n"
		"One consistent point: the source is read in a snapshot whose WAL "
		"position is\nknown; when a pgferry applier is running into the "
		"target, verify waits until\nit has applied past that position, "
		"then reads the target, then the source\nagain.  A difference "
		"counts only if the source held those rows alike in both\nof its "
		"snapshots; rows it was changing meanwhile are compared again in "
		"a\nlater pass (--passes), and reported as not settled if they "
		"never settle.  So\nrows the applier had not applied yet are "
		"not differences, and on a read-only\nor idle source the "
		"comparison is exact.\n\n"
		"Tables that never settled were not compared and do not make the "
		"exit code\nnon-zero: verify them again once the writes stop, or "
		"at cutover.\n\n"
		"Options:\n" CLI_HELP_SOURCE CLI_HELP_TARGET CLI_HELP_TABLES
		"  --jobs N                 tables compared at once (default %d)\n"
		"  --range-rows N           rows per key range (default %d)\n"
		"  --max-keys N             differing rows named per table "
		"(default %d)\n"
		"  --passes N               passes at most: the first and the "
		"re-checks of what\n"
		"                           differed (default %d)\n"
		"  --lag-timeout SECONDS    how long to wait for the applier to "
		"reach the source's\n"
		"                           point (default %d)\n"
		"  --counts-only            compare row counts only\n" CLI_HELP_LOG
		"  -v, --verbose            a line per table compared\n" CLI_HELP_HELP
		"\n",
		VERIFY_DEFAULT_JOBS, VERIFY_DEFAULT_RANGE_ROWS,
		VERIFY_DEFAULT_MAX_KEYS, VERIFY_DEFAULT_PASSES,
		VERIFY_DEFAULT_LAG_TIMEOUT);
	cli_print_exit_codes(stdout, CLI_VERIFY);
}

int
cli_verify(int argc, char **argv)
{
	VerifyOptions options;
	int range_rows = VERIFY_DEFAULT_RANGE_ROWS; /* options' is a long */
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		CLI_ROW_INCLUDE(options),
		CLI_ROW_EXCLUDE(options),
		CLI_ROW_JOBS(options),
		{.name = "range-rows",
		 .kind = CLI_INT,
		 .to.integer = &range_rows,
		 .min = 2,
		 .bad = "--range-rows: \"%s\" is not an integer of 2 or more"},
		{.name = "max-keys",
		 .kind = CLI_INT,
		 .to.integer = &options.max_keys,
		 .min = 0,
		 .bad = "--max-keys: \"%s\" is not a number of keys"},
		{.name = "passes",
		 .kind = CLI_INT,
		 .to.integer = &options.passes,
		 .min = 1,
		 .bad = "--passes: \"%s\" is not a positive integer"},
		{.name = "lag-timeout",
		 .kind = CLI_INT,
		 .to.integer = &options.lag_timeout,
		 .min = 0,
		 .bad = "--lag-timeout: \"%s\" is not a number of seconds"},
		{.name = "counts-only",
		 .kind = CLI_SET,
		 .to.flag = &options.counts_only},
		CLI_ROWS_LOG,
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_verify_usage},
		{.name = NULL}};
	int status;

	verify_options_init(&options);
	if (!cli_parse("verify", table, argc, argv, &status))
		return status;
	if (!cli_need("verify", options.source, options.target, CLI_NEED_BOTH))
		return EXIT_USAGE;
	options.range_rows = range_rows;
	return verify_run(&options);
}
