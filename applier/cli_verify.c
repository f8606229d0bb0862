/*-------------------------------------------------------------------------
 *
 * cli_verify.c
 *	  The command lines of `pgferry verify` and `pgferry cutover`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "buf.h"
#include "cli.h"
#include "cutover.h"
#include "pgferry.h"
#include "verify.h"

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
		"Tables that never settled do not make the exit code non-zero.\n\n"
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
		"  --counts-only            compare row counts only\n"
		"  -v, --verbose            a line per table compared\n" CLI_HELP_HELP
		"\n"
		"Exit codes:\n"
		"  0  every table is equal\n"
		"  1  other error (a table could not be compared, ...)\n"
		"  2  bad command line\n"
		"  3  a server could not be reached\n"
		"  5  a table differs (see the report on stdout)\n",
		VERIFY_DEFAULT_JOBS, VERIFY_DEFAULT_RANGE_ROWS,
		VERIFY_DEFAULT_MAX_KEYS, VERIFY_DEFAULT_PASSES,
		VERIFY_DEFAULT_LAG_TIMEOUT);
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

static void
cli_cutover_usage(void)
{
	printf("Switch from the source to the target: make the source database "
		   "read-only,\nwait until the target has applied its last write, "
		   "set the target's sequences,\nrefresh its materialized views, "
		   "compare row counts, and report the read-only\nwindow.\n\n"
		   "Usage:\n  pgferry cutover --source CONNINFO --target CONNINFO "
		   "[OPTION]...\n  pgferry cutover --abort --source CONNINFO\n\n"
		   "A pgferry follow (or migrate) must be applying the slot(s) "
		   "while the cutover\nruns; it keeps running afterwards (stop it "
		   "and drop the slot when done).\n\n"
		   "Read-only means ALTER DATABASE ... SET "
		   "default_transaction_read_only = on and\nthe end of every session "
		   "opened before (they are terminated, or waited for\nwith "
		   "--wait-sessions).  It is a default, not a lock: a session that "
		   "runs\nSET default_transaction_read_only = off or BEGIN READ "
		   "WRITE can still write,\nwhatever its role (superuser or not); "
		   "stop such applications first.\n\n"
		   "If the applier does not reach the last LSN within --timeout, "
		   "the source takes\nwrites again and nothing changes on the "
		   "target.  A failure after that leaves\nthe source read-only: run "
		   "the cutover again once fixed, or --abort.\n\n"
		   "Options:\n"
		   "  --source CONNINFO   source database (libpq connection string "
		   "or URI)\n"
		   "  --target CONNINFO   target database\n"
		   "  --slot NAME         a slot to wait for (repeatable; default: "
		   "every slot with\n"
		   "                      progress recorded on the target for this "
		   "source)\n"
		   "  --timeout SECONDS   how long to wait for the applier (and for "
		   "sessions with\n"
		   "                      --wait-sessions) (default %d)\n"
		   "  --wait-sessions     wait for open sessions to end instead of "
		   "terminating them\n"
		   "  --jobs N            tables counted at once (default %d)\n"
		   "  --abort             make the source writable again (and end "
		   "the sessions opened\n"
		   "                      while it was read-only, unless "
		   "--wait-sessions)\n"
		   "  -v, --verbose       a line per sequence and per table\n"
		   "  -h, --help          print this help and exit\n\n"
		   "Exit codes:\n"
		   "  0  done: the target is ready for writes (or --abort done)\n"
		   "  1  other error (see the log; it says whether the source is "
		   "still read-only)\n"
		   "  2  bad command line\n"
		   "  3  a server could not be reached\n"
		   "  5  row counts differ after the switch (the source stays "
		   "read-only)\n"
		   "  6  not ready: post-data not all run, or a slot without its "
		   "applier\n"
		   "     (nothing was changed)\n",
		   CUTOVER_DEFAULT_TIMEOUT, VERIFY_DEFAULT_JOBS);
}

int
cli_cutover(int argc, char **argv)
{
	CutoverOptions options;
	const char *const *slot_names = NULL;
	int nslots = 0;
	bool abort_cutover = false;
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		{.name = "slot",
		 .kind = CLI_LIST,
		 .to.list = &slot_names,
		 .count = &nslots,
		 .valid = cli_slot_name,
		 .bad = "--slot: \"%s\" is not a slot name (lower case letters, "
				"digits and underscores)"},
		{.name = "timeout",
		 .kind = CLI_INT,
		 .to.integer = &options.timeout,
		 .min = 1,
		 .bad = "--timeout: \"%s\" is not a number of seconds"},
		{.name = "wait-sessions",
		 .kind = CLI_SET,
		 .to.flag = &options.wait_sessions},
		CLI_ROW_JOBS(options),
		{.name = "abort", .kind = CLI_SET, .to.flag = &abort_cutover},
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_cutover_usage},
		{.name = NULL}};
	Buf slots = BUF_INIT;
	int status;

	cutover_options_init(&options);
	if (!cli_parse("cutover", table, argc, argv, &status))
		return status;
	if (!cli_need("cutover", options.source, options.target,
				  abort_cutover ? CLI_NEED_SOURCE : CLI_NEED_BOTH))
		return EXIT_USAGE;
	if (abort_cutover)
		return cutover_abort(&options);
	for (int i = 0; i < nslots; i++)
		buf_printf(&slots, "%s%s", i ? "," : "", slot_names[i]);
	options.slots = slots.data;
	status = cutover_run(&options);
	buf_free(&slots);
	return status;
}
