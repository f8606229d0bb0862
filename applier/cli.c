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

/* An integer of at least min. */
static bool
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
static bool
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

/* Appends arg to a list of *count strings (repeatable options). */
static const char *const *
cli_append(const char *const *list, int *count, const char *arg)
{
	const char **grown =
		xrealloc((void *) list, (*count + 1) * sizeof(char *));

	cli_own((void *) list, grown);
	grown[(*count)++] = arg;
	return grown;
}

bool
cli_slot_name(const char *arg)
{
	return arg[0] != '\0' &&
		   strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(arg);
}

/* Stores the argument of an option; false if it is not valid. */
static bool
cli_store(const CliOption *option, char *arg)
{
	if (option->valid && !option->valid(arg))
		return false;
	switch (option->kind)
	{
		case CLI_HELP:
			break; /* cli_parse prints the help and stops */
		case CLI_VERBOSE:
			log_set_verbose(true);
			break;
		case CLI_SET:
			*option->to.flag = true;
			break;
		case CLI_CLEAR:
			*option->to.flag = false;
			break;
		case CLI_TEXT:
			*option->to.text = arg;
			break;
		case CLI_CONNINFO:
			*option->to.text = cli_conninfo(arg);
			break;
		case CLI_LIST:
			*option->to.list =
				cli_append(*option->to.list, option->count, arg);
			break;
		case CLI_INT:
			return cli_int(arg, option->min, option->to.integer);
		case CLI_BYTES:
			return cli_bytes(arg, option->to.bytes);
		case CLI_LSN:
			/* 0/0 is no position: it would mean "no --endpos" */
			return pg_lsn_parse(arg, option->to.lsn) &&
				   *option->to.lsn != LSN_INVALID;
	}
	return true;
}

/* The short option of a kind: -h and -v, or none (0). */
static char
cli_short_option(CliKind kind)
{
	return kind == CLI_HELP ? 'h' : kind == CLI_VERBOSE ? 'v' : 0;
}

/*
 * The getopt_long value of row i of a table, unless the row has a short
 * option: values above any character's, so that none is taken for another.
 */
#define CLI_ROW_VALUE(i) (256 + (i))

/* The row a getopt_long value stands for, or NULL ('?': a bad option). */
static const CliOption *
cli_row(const CliOption *options, int value)
{
	for (int i = 0; options[i].name; i++)
		if (value == CLI_ROW_VALUE(i) ||
			value == cli_short_option(options[i].kind))
			return &options[i];
	return NULL;
}

bool
cli_parse(const char *command, const CliOption *options, int argc, char **argv,
		  int *status)
{
	int noptions = 0;
	struct option *long_options;
	char short_options[3] = "";
	int c;

	while (options[noptions].name)
		noptions++;
	long_options = cli_own(NULL, xcalloc(noptions + 1, sizeof(struct option)));
	for (int i = 0; i < noptions; i++)
	{
		char short_option = cli_short_option(options[i].kind);

		long_options[i].name = options[i].name;
		long_options[i].has_arg =
			options[i].kind >= CLI_TEXT ? required_argument : no_argument;
		long_options[i].val = short_option ? short_option : CLI_ROW_VALUE(i);
		if (short_option)
			short_options[strlen(short_options)] = short_option;
	}

	*status = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) !=
		   -1)
	{
		const CliOption *option = cli_row(options, c);

		if (option == NULL)
		{
			/* getopt_long has said what is wrong */
			cli_usage_error(command, "%s", "invalid option");
			return false;
		}
		if (option->kind == CLI_HELP)
		{
			option->to.usage();
			*status = EXIT_DONE;
			return false;
		}
		if (!cli_store(option, optarg))
		{
			cli_usage_error(command, option->bad, optarg);
			return false;
		}
	}
	if (optind < argc)
	{
		cli_usage_error(command, "unexpected argument \"%s\"", argv[optind]);
		return false;
	}
	return true;
}

bool
cli_need(const char *command, const char *source, const char *target,
		 CliNeed need)
{
	if (source && (target || need == CLI_NEED_SOURCE))
		return true;
	cli_usage_error(command, "%s", "--source and --target are required");
	return false;
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
	FollowOptions options;
	const CliOption table[] = {
		CLI_ROW_SOURCE(options),
		CLI_ROW_TARGET(options),
		{.name = "slot", .kind = CLI_TEXT, .to.text = &options.slot},
		{.name = "create-slot",
		 .kind = CLI_SET,
		 .to.flag = &options.create_slot},
		CLI_ROW_ENDPOS(options),
		CLI_ROW_INCLUDE(options),
		CLI_ROW_EXCLUDE(options),
		{.name = "binary", .kind = CLI_SET, .to.flag = &options.binary},
		{.name = "no-binary", .kind = CLI_CLEAR, .to.flag = &options.binary},
		{.name = "fire-triggers",
		 .kind = CLI_SET,
		 .to.flag = &options.fire_triggers},
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
