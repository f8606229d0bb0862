/*-------------------------------------------------------------------------
 *
 * cutover.c
 *	  The command line of `pgferry cutover`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/exit.h"
#include "cutover/cutover.h"
#include "verify/verify.h"

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
		   "  -h, --help          print this help and exit\n\n",
		   CUTOVER_DEFAULT_TIMEOUT, VERIFY_DEFAULT_JOBS);
	cli_print_exit_codes(stdout, CLI_CUTOVER);
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
