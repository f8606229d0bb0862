/*-------------------------------------------------------------------------
 *
 * cutover.c
 *	  The command line of `pgferry cutover`.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/exit.h"
#include "cutover/cutover.h"
#include "verify/verify.h"

static const char *const refresh_names[] = {"before", "after", "none", NULL};
static const char *const check_names[] = {"counts", "rows", "none", NULL};

/* The position of arg in names (NULL-terminated), or -1. */
static int
name_index(const char *const *names, const char *arg)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], arg) == 0)
			return i;
	return -1;
}

static bool
valid_refresh(const char *arg)
{
	return name_index(refresh_names, arg) >= 0;
}

static bool
valid_check(const char *arg)
{
	return name_index(check_names, arg) >= 0;
}

static void
cli_cutover_usage(void)
{
	printf(
		"Switch from the source to the target with a read-only window that "
		"does not\ngrow with the database: once the apply lag is under "
		"--max-lag, make the\nsource database read-only, wait until the "
		"target has applied its last write,\nset the target's sequences and "
		"hand the target over; then compare row counts\nagainst the quiet "
		"source and print the hand-over report.\n\n"
		"Usage:\n  pgferry cutover --source CONNINFO --target CONNINFO "
		"[OPTION]...\n  pgferry cutover --abort --source CONNINFO\n"
		"  pgferry cutover --release-target --target CONNINFO\n\n"
		"A pgferry follow (or migrate) must be applying the slot(s) while "
		"the cutover\nruns; it keeps running afterwards (stop it, then "
		"pgferry finish, when done).\n\n"
		"Read-only means ALTER DATABASE ... SET default_transaction_read_only "
		"= on and\nthe end of every session opened before (they are "
		"terminated, or waited for\nwith --wait-sessions).  It is a default, "
		"not a lock: a session that runs\nSET default_transaction_read_only = "
		"off or BEGIN READ WRITE can still write,\nwhatever its role "
		"(superuser or not); stop such applications first.\n\n"
		"If the applier does not reach the last LSN within --timeout, the "
		"source takes\nwrites again and nothing changes on the target.  A "
		"failure after that leaves\nthe source read-only: run the cutover "
		"again once fixed, or --abort.  If the\ncheck after the window finds "
		"a difference (exit 5), the target is left\nread-only too until you "
		"decide: --release-target keeps it, --abort falls\nback to the "
		"source.\n\n"
		"Options:\n"
		"  --source CONNINFO   source database (libpq connection string or "
		"URI)\n"
		"  --target CONNINFO   target database\n"
		"  --slot NAME         a slot to wait for (repeatable; default: every "
		"slot with\n"
		"                      progress recorded on the target for this "
		"source)\n"
		"  --max-lag SECONDS   apply lag under which the source is made "
		"read-only\n"
		"                      (default %.0f; fractions allowed)\n"
		"  --timeout SECONDS   how long to wait for the lag to come under "
		"--max-lag, for\n"
		"                      the applier, and for sessions with "
		"--wait-sessions\n"
		"                      (default %d)\n"
		"  --wait-sessions     wait for open sessions to end instead of "
		"terminating them\n"
		"  --refresh-matviews WHEN\n"
		"                      before: refresh the target's materialized "
		"views before\n"
		"                      the window (default); after: before, and "
		"again after it\n"
		"                      (CONCURRENTLY where a unique index allows); "
		"none\n"
		"  --check WHAT        after the window, compare the source with the "
		"target as\n"
		"                      handed over: counts (row counts, default), "
		"rows (every\n"
		"                      row, as pgferry verify), none\n"
		"  --jobs N            tables compared at once (default %d)\n"
		"  --abort             make the source writable again (and end the "
		"sessions opened\n"
		"                      while it was read-only, unless "
		"--wait-sessions)\n"
		"  --release-target    make the target writable again after a check "
		"that found a\n"
		"                      difference (and end the sessions opened while "
		"it was\n"
		"                      read-only, unless --wait-sessions)\n"
		"  --log-format FORMAT text (default) or json: one object a line "
		"with time, pid,\n"
		"                      level, message and the event's fields\n"
		"  --log-file PATH     append the messages to PATH, not stderr; "
		"SIGHUP opens it\n"
		"                      again (after a log rotation)\n"
		"  -v, --verbose       a line per sequence and per table\n"
		"  -h, --help          print this help and exit\n\n",
		CUTOVER_DEFAULT_MAX_LAG, CUTOVER_DEFAULT_TIMEOUT, VERIFY_DEFAULT_JOBS);
	cli_print_exit_codes(stdout, CLI_CUTOVER);
}

int
cli_cutover(int argc, char **argv)
{
	CutoverOptions options;
	const char *const *slot_names = NULL;
	const char *refresh = "before";
	const char *check = "counts";
	int nslots = 0;
	bool abort_cutover = false;
	bool release_target = false;
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
		{.name = "max-lag",
		 .kind = CLI_SECONDS,
		 .to.seconds = &options.max_lag,
		 .bad = "--max-lag: \"%s\" is not a number of seconds"},
		{.name = "wait-sessions",
		 .kind = CLI_SET,
		 .to.flag = &options.wait_sessions},
		{.name = "refresh-matviews",
		 .kind = CLI_TEXT,
		 .to.text = &refresh,
		 .valid = valid_refresh,
		 .bad = "--refresh-matviews: \"%s\" is not before, after or none"},
		{.name = "check",
		 .kind = CLI_TEXT,
		 .to.text = &check,
		 .valid = valid_check,
		 .bad = "--check: \"%s\" is not counts, rows or none"},
		CLI_ROW_JOBS(options),
		{.name = "abort", .kind = CLI_SET, .to.flag = &abort_cutover},
		{.name = "release-target",
		 .kind = CLI_SET,
		 .to.flag = &release_target},
		CLI_ROWS_LOG,
		{.name = "verbose", .kind = CLI_VERBOSE},
		{.name = "help", .kind = CLI_HELP, .to.usage = cli_cutover_usage},
		{.name = NULL}};
	Buf slots = BUF_INIT;
	int status;

	cutover_options_init(&options);
	if (!cli_parse("cutover", table, argc, argv, &status))
		return status;
	if (abort_cutover && release_target)
		return cli_usage_error("cutover", "%s",
							   "--abort and --release-target exclude each "
							   "other");
	if (!cli_need("cutover", options.source, options.target,
				  abort_cutover	   ? CLI_NEED_SOURCE
				  : release_target ? CLI_NEED_TARGET
								   : CLI_NEED_BOTH))
		return EXIT_USAGE;
	if (abort_cutover)
		return cutover_abort(&options);
	if (release_target)
		return cutover_release_target(&options);
	options.refresh_matviews = name_index(refresh_names, refresh);
	options.check = name_index(check_names, check);
	for (int i = 0; i < nslots; i++)
		buf_printf(&slots, "%s%s", i ? "," : "", slot_names[i]);
	options.slots = slots.data;
	status = cutover_run(&options);
	buf_free(&slots);
	return status;
}
