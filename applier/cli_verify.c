/*-------------------------------------------------------------------------
 *
 * cli_verify.c
 *	  The command lines of `pgferry verify` and `pgferry cutover`.
 *
 *-------------------------------------------------------------------------
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	enum
	{
		OPT_RANGE_ROWS = CLI_OPT_OWN,
		OPT_MAX_KEYS,
		OPT_PASSES,
		OPT_LAG_TIMEOUT,
		OPT_COUNTS_ONLY
	};
	static const struct option long_options[] = {
		{"source", required_argument, NULL, CLI_OPT_SOURCE},
		{"target", required_argument, NULL, CLI_OPT_TARGET},
		{"include-tables", required_argument, NULL, CLI_OPT_INCLUDE},
		{"exclude-tables", required_argument, NULL, CLI_OPT_EXCLUDE},
		{"jobs", required_argument, NULL, CLI_OPT_JOBS},
		{"range-rows", required_argument, NULL, OPT_RANGE_ROWS},
		{"max-keys", required_argument, NULL, OPT_MAX_KEYS},
		{"passes", required_argument, NULL, OPT_PASSES},
		{"lag-timeout", required_argument, NULL, OPT_LAG_TIMEOUT},
		{"counts-only", no_argument, NULL, OPT_COUNTS_ONLY},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	VerifyOptions options;
	CliCommon common = {.command = "verify"};
	int range_rows = VERIFY_DEFAULT_RANGE_ROWS;
	int c;

	verify_options_init(&options);
	common.jobs = options.jobs;
	while ((c = getopt_long(argc, argv, "vh", long_options, NULL)) != -1)
	{
		const char *bad = NULL;

		switch (c)
		{
			case OPT_RANGE_ROWS:
				if (!cli_int(optarg, 2, &range_rows))
					bad =
						"--range-rows: \"%s\" is not an integer of 2 or more";
				options.range_rows = range_rows;
				break;
			case OPT_MAX_KEYS:
				if (!cli_int(optarg, 0, &options.max_keys))
					bad = "--max-keys: \"%s\" is not a number of keys";
				break;
			case OPT_PASSES:
				if (!cli_int(optarg, 1, &options.passes))
					bad = "--passes: \"%s\" is not a positive integer";
				break;
			case OPT_LAG_TIMEOUT:
				if (!cli_int(optarg, 0, &options.lag_timeout))
					bad = "--lag-timeout: \"%s\" is not a number of seconds";
				break;
			case OPT_COUNTS_ONLY:
				options.counts_only = true;
				break;
			case 'h':
				cli_verify_usage();
				return EXIT_DONE;
			default:
				if (!cli_common_option(&common, c, optarg))
					return EXIT_USAGE;
		}
		if (bad)
			return cli_usage_error("verify", bad, optarg);
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
		   "read-only)\n",
		   CUTOVER_DEFAULT_TIMEOUT, VERIFY_DEFAULT_JOBS);
}

int
cli_cutover(int argc, char **argv)
{
	enum
	{
		OPT_SLOT = CLI_OPT_OWN,
		OPT_TIMEOUT,
		OPT_WAIT_SESSIONS,
		OPT_ABORT
	};
	static const struct option long_options[] = {
		{"source", required_argument, NULL, CLI_OPT_SOURCE},
		{"target", required_argument, NULL, CLI_OPT_TARGET},
		{"slot", required_argument, NULL, OPT_SLOT},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"wait-sessions", no_argument, NULL, OPT_WAIT_SESSIONS},
		{"jobs", required_argument, NULL, CLI_OPT_JOBS},
		{"abort", no_argument, NULL, OPT_ABORT},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	CutoverOptions options;
	CliCommon common = {.command = "cutover"};
	Buf slots = BUF_INIT;
	bool abort_cutover = false;
	int c;
	int status = EXIT_USAGE;

	cutover_options_init(&options);
	common.jobs = options.jobs;
	while ((c = getopt_long(argc, argv, "vh", long_options, NULL)) != -1)
	{
		const char *bad = NULL;

		switch (c)
		{
			case OPT_SLOT:
				if (strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
						strlen(optarg) ||
					optarg[0] == '\0')
					bad = "--slot: \"%s\" is not a slot name (lower case "
						  "letters, digits and underscores)";
				buf_printf(&slots, "%s%s", slots.len ? "," : "", optarg);
				break;
			case OPT_TIMEOUT:
				if (!cli_int(optarg, 1, &options.timeout))
					bad = "--timeout: \"%s\" is not a number of seconds";
				break;
			case OPT_WAIT_SESSIONS:
				options.wait_sessions = true;
				break;
			case OPT_ABORT:
				abort_cutover = true;
				break;
			case 'h':
				cli_cutover_usage();
				status = EXIT_DONE;
				goto done;
			default:
				if (!cli_common_option(&common, c, optarg))
					goto done;
		}
		if (bad)
		{
			status = cli_usage_error("cutover", bad, optarg);
			goto done;
		}
	}
	if (!cli_common_check(&common, argc, argv,
						  abort_cutover ? CLI_NEED_SOURCE : CLI_NEED_BOTH))
		goto done;
	options.source = common.source;
	options.target = common.target;
	options.jobs = common.jobs;
	if (abort_cutover)
		status = cutover_abort(&options);
	else
	{
		options.slots = slots.data;
		status = cutover_run(&options);
	}

done:
	buf_free(&slots);
	return status;
}
