/*-------------------------------------------------------------------------
 *
 * cli.c
 *	  The command line: one table of subcommands, argument parsing only.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cli.h"
#include "follow.h"
#include "log.h"
#include "pgferry.h"

static int cli_follow(int argc, char **argv);

static const CliCommand commands[] = {
	{"follow", cli_follow,
	 "stream a replication slot into the target, keeping it equal"},
	{"verify", cli_verify,
	 "compare every table of the source and the target, row for row"},
	{"cutover", cli_cutover,
	 "make the source read-only and hand over to the target"},
	{"migrate", cli_migrate,
	 "move a database: schema, snapshot copy, then follow the slot"},
	{"preflight", cli_preflight,
	 "check what would stop or surprise a migration, changing nothing"},
	{"status", cli_status,
	 "show a migration's phase, copy progress and apply lag"},
	{NULL, NULL, NULL}};

static const char exit_codes_help[] =
	"Exit codes:\n"
	"  0  done: --endpos reached, or stopped by SIGINT/SIGTERM\n"
	"  1  other error (spool directory, slot missing or of another plugin, "
	"...)\n"
	"  2  bad command line\n"
	"  3  a server could not be reached\n"
	"  4  apply or data error (bad frame, missing table or column, conflict,\n"
	"     permission denied); the slot is not advanced past the failing\n"
	"     transaction\n"
	"  5  verify, cutover: a table differs between the source and the "
	"target\n"
	"  6  preflight, migrate: something blocks the migration (each problem\n"
	"     is printed with its fix)\n";

static void
cli_usage(FILE *out)
{
	fprintf(out,
			"pgferry moves a live PostgreSQL database to another server.\n\n"
			"Usage:\n  pgferry COMMAND [OPTION]...\n\nCommands:\n");
	for (int i = 0; commands[i].name; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(out,
			"\nOptions:\n"
			"  -V, --version  print the version and exit\n"
			"  -h, --help     print this help and exit\n\n"
			"Run \"pgferry COMMAND --help\" for a command's options.\n\n%s",
			exit_codes_help);
}

/* Reports a usage error; returns EXIT_USAGE. */
int
cli_usage_error(const char *command, const char *fmt, const char *arg)
{
	fprintf(stderr, "pgferry%s%s: ", command ? " " : "",
			command ? command : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"pgferry%s%s --help\".\n", command ? " " : "",
			command ? command : "");
	return EXIT_USAGE;
}

/*
 * What the parsers allocate (connection strings, pattern lists) lives until
 * the command returns, and main frees it all in one place, whichever way a
 * parser or its job left.
 */
static struct
{
	void **blocks;
	int count;
} parsed;

/* Owns block, which replaces old (NULL: a new block). */
static void *
cli_own(void *old, void *block)
{
	for (int i = 0; old != NULL && i < parsed.count; i++)
		if (parsed.blocks[i] == old)
		{
			parsed.blocks[i] = block;
			return block;
		}
	parsed.blocks =
		xrealloc(parsed.blocks, (parsed.count + 1) * sizeof(void *));
	parsed.blocks[parsed.count++] = block;
	return block;
}

static void
cli_free_parsed(void)
{
	for (int i = 0; i < parsed.count; i++)
		free(parsed.blocks[i]);
	free(parsed.blocks);
	parsed.blocks = NULL;
	parsed.count = 0;
}

bool
cli_int(const char *arg, int min, int *value)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || end == arg || *end || n < min || n > INT_MAX)
		return false;
	*value = (int) n;
	return true;
}

/* A byte count with an optional unit: 16MB, 512kB, 1GB. */
bool
cli_bytes(const char *arg, int64_t *value)
{
	static const struct
	{
		const char *unit;
		int64_t factor;
	} units[] = {{"", 1},
				 {"B", 1},
				 {"kB", 1024},
				 {"MB", 1024 * 1024},
				 {"GB", 1024 * 1024 * 1024}};
	char *end;
	long long n;

	errno = 0;
	n = strtoll(arg, &end, 10);
	if (errno || end == arg || n < 1)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(end, units[i].unit) == 0)
		{
			*value = n * units[i].factor;
			return true;
		}
	return false;
}

/*
 * A connection string option: a copy for the job, and the argv string
 * overwritten with the password removed, so `ps` never shows it.
 */
static const char *
cli_conninfo(char *arg)
{
	char *copy = cli_own(NULL, xstrdup(arg));

	pg_conninfo_hide(arg);
	return copy;
}

/* Appends pattern to a list of *count patterns (repeatable options). */
static const char **
cli_append_pattern(const char **list, int *count, const char *pattern)
{
	const char **grown = xrealloc(list, (*count + 1) * sizeof(char *));

	cli_own(list, grown);
	grown[(*count)++] = pattern;
	return grown;
}

bool
cli_common_option(CliCommon *common, int option, char *arg)
{
	switch (option)
	{
		case CLI_OPT_SOURCE:
			common->source = cli_conninfo(arg);
			return true;
		case CLI_OPT_TARGET:
			common->target = cli_conninfo(arg);
			return true;
		case CLI_OPT_INCLUDE:
			common->include_tables = cli_append_pattern(
				common->include_tables, &common->ninclude, arg);
			return true;
		case CLI_OPT_EXCLUDE:
			common->exclude_tables = cli_append_pattern(
				common->exclude_tables, &common->nexclude, arg);
			return true;
		case CLI_OPT_JOBS:
			if (cli_int(arg, 1, &common->jobs))
				return true;
			cli_usage_error(common->command,
							"--jobs: \"%s\" is not a positive integer", arg);
			return false;
		case 'v':
			log_set_verbose(true);
			return true;
		default:
			cli_usage_error(common->command, "%s", "invalid option");
			return false;
	}
}

bool
cli_common_check(const CliCommon *common, int argc, char **argv, CliNeed need)
{
	if (optind < argc)
	{
		cli_usage_error(common->command, "unexpected argument \"%s\"",
						argv[optind]);
		return false;
	}
	if ((need >= CLI_NEED_SOURCE && !common->source) ||
		(need == CLI_NEED_BOTH && !common->target))
	{
		cli_usage_error(common->command, "%s",
						"--source and --target are required");
		return false;
	}
	return true;
}

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
		   "  --slot NAME              logical replication slot (plugin "
		   "pgferry)\n"
		   "  --create-slot            create the slot if it does not "
		   "exist\n"
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
		   "= replica)\n"
		   "  --batch-rows N           commit the target after about N "
		   "rows (default %d)\n"
		   "  --batch-bytes SIZE       ... or SIZE bytes of row data, which "
		   "also bounds memory\n"
		   "                           (default %dMB)\n"
		   "  --batch-time-ms MS       ... or MS milliseconds (default %d)\n"
		   "  --spool-dir DIR          where large in-progress transactions "
		   "wait for their\n"
		   "                           commit (default "
		   "$TMPDIR/pgferry-UID-SLOT)\n"
		   "  -v, --verbose            a line per target "
		   "transaction\n" CLI_HELP_HELP "\n%s",
		   FOLLOW_DEFAULT_BATCH_ROWS, FOLLOW_DEFAULT_BATCH_BYTES >> 20,
		   FOLLOW_DEFAULT_BATCH_TIME_MS, exit_codes_help);
}

static int
cli_follow(int argc, char **argv)
{
	enum
	{
		OPT_SLOT = CLI_OPT_OWN,
		OPT_CREATE_SLOT,
		OPT_ENDPOS,
		OPT_BINARY,
		OPT_NO_BINARY,
		OPT_FIRE_TRIGGERS,
		OPT_BATCH_ROWS,
		OPT_BATCH_BYTES,
		OPT_BATCH_TIME,
		OPT_SPOOL_DIR
	};
	static const struct option long_options[] = {
		{"source", required_argument, NULL, CLI_OPT_SOURCE},
		{"target", required_argument, NULL, CLI_OPT_TARGET},
		{"slot", required_argument, NULL, OPT_SLOT},
		{"create-slot", no_argument, NULL, OPT_CREATE_SLOT},
		{"endpos", required_argument, NULL, OPT_ENDPOS},
		{"include-tables", required_argument, NULL, CLI_OPT_INCLUDE},
		{"exclude-tables", required_argument, NULL, CLI_OPT_EXCLUDE},
		{"binary", no_argument, NULL, OPT_BINARY},
		{"no-binary", no_argument, NULL, OPT_NO_BINARY},
		{"fire-triggers", no_argument, NULL, OPT_FIRE_TRIGGERS},
		{"batch-rows", required_argument, NULL, OPT_BATCH_ROWS},
		{"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
		{"batch-time-ms", required_argument, NULL, OPT_BATCH_TIME},
		{"spool-dir", required_argument, NULL, OPT_SPOOL_DIR},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	FollowOptions options;
	CliCommon common = {.command = "follow"};
	int c;

	follow_options_init(&options);

	while ((c = getopt_long(argc, argv, "vh", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case OPT_SLOT:
				options.slot = optarg;
				break;
			case OPT_CREATE_SLOT:
				options.create_slot = true;
				break;
			case OPT_ENDPOS:
				if (!pg_lsn_parse(optarg, &options.endpos))
					return cli_usage_error("follow",
										   "--endpos: \"%s\" is not "
										   "an LSN (like 0/16B3748)",
										   optarg);
				break;
			case OPT_BINARY:
				options.binary = true;
				break;
			case OPT_NO_BINARY:
				options.binary = false;
				break;
			case OPT_FIRE_TRIGGERS:
				options.fire_triggers = true;
				break;
			case OPT_BATCH_ROWS:
				if (!cli_int(optarg, 1, &options.limits.rows))
					return cli_usage_error("follow",
										   "--batch-rows: \"%s\" is "
										   "not a positive integer",
										   optarg);
				break;
			case OPT_BATCH_BYTES:
				if (!cli_bytes(optarg, &options.limits.bytes))
					return cli_usage_error("follow",
										   "--batch-bytes: \"%s\" is "
										   "not a size (like 16MB)",
										   optarg);
				break;
			case OPT_BATCH_TIME:
				if (!cli_int(optarg, 0, &options.limits.time_ms))
					return cli_usage_error("follow",
										   "--batch-time-ms: \"%s\" "
										   "is not a number of milliseconds",
										   optarg);
				break;
			case OPT_SPOOL_DIR:
				options.spool_dir = optarg;
				break;
			case 'h':
				cli_follow_usage();
				return EXIT_DONE;
			default:
				if (!cli_common_option(&common, c, optarg))
					return EXIT_USAGE;
		}
	}
	if (!cli_common_check(&common, argc, argv, CLI_NEED_NOTHING))
		return EXIT_USAGE;
	if (!common.source || !common.target || !options.slot)
		return cli_usage_error("follow", "%s",
							   "--source, --target and "
							   "--slot are required");
	options.source = common.source;
	options.target = common.target;
	options.include_tables = common.include_tables;
	options.ninclude = common.ninclude;
	options.exclude_tables = common.exclude_tables;
	options.nexclude = common.nexclude;

	return follow_run(&options);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		cli_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
	{
		cli_usage(stdout);
		return EXIT_DONE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
	{
		printf("pgferry %s\n", PGFERRY_VERSION);
		return EXIT_DONE;
	}
	for (int i = 0; commands[i].name; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
		{
			int status = commands[i].run(argc - 1, argv + 1);

			cli_free_parsed();
			return status;
		}
	return cli_usage_error(NULL, "unknown command \"%s\"", argv[1]);
}
