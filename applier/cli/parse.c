/*-------------------------------------------------------------------------
 *
 * parse.c
 *	  The command line's options, parsed by each subcommand's table.
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

#include "cli/cli.h"
#include "common/buf.h"
#include "common/exit.h"
#include "common/log.h"

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

void
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

/* A number of seconds, 0 or more, fractions allowed. */
static bool
cli_seconds(const char *arg, double *value)
{
	char *end;

	errno = 0;
	*value = strtod(arg, &end);
	return errno == 0 && end != arg && *end == '\0' && *value >= 0 &&
		   *value < 1e9;
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

bool
cli_plugin_name(const char *arg)
{
	return strcmp(arg, "pgferry") == 0 || strcmp(arg, "pgoutput") == 0;
}

Plugin
cli_plugin(const char *arg)
{
	return arg && strcmp(arg, "pgoutput") == 0 ? PLUGIN_PGOUTPUT
											   : PLUGIN_PGFERRY;
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
		case CLI_SECONDS:
			return cli_seconds(arg, option->to.seconds);
		case CLI_LOG_FORMAT:
			return log_set_format(arg);
		case CLI_LOG_FILE:
			return log_set_file(arg);
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
	if ((source || need == CLI_NEED_TARGET) &&
		(target || need == CLI_NEED_SOURCE))
		return true;
	cli_usage_error(command, "%s",
					need == CLI_NEED_SOURCE	  ? "--source is required"
					: need == CLI_NEED_TARGET ? "--target is required"
											  : "--source and --target are "
												"required");
	return false;
}
