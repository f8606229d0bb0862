/*-------------------------------------------------------------------------
 *
 * cli.h
 *	  The command line: one table of subcommands, argument parsing only.
 *
 * Each subcommand's function parses its options into the options struct
 * of its job and returns what the job returns (pgferry.h exit codes).
 * Connection strings are copied, then overwritten in argv with their
 * password removed, so `ps` never shows a password.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CLI_H
#define PGFERRY_CLI_H

#include <stdbool.h>
#include <stdint.h>

typedef struct CliCommand
{
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* one line */
} CliCommand;

/* Helpers of every subcommand's parser. */

/* Reports a usage error ("pgferry COMMAND: " fmt); returns EXIT_USAGE. */
extern int cli_usage_error(const char *command, const char *fmt,
						   const char *arg);

/* An integer option of at least min. */
extern bool cli_int(const char *arg, int min, int *value);

/* A byte count with an optional unit: 16MB, 512kB, 1GB. */
extern bool cli_bytes(const char *arg, int64_t *value);

/*
 * The options several subcommands share, as getopt_long values; a
 * subcommand lists those it takes in its own table, and numbers its own
 * options from CLI_OPT_OWN.
 */
enum
{
	CLI_OPT_SOURCE = 256,
	CLI_OPT_TARGET,
	CLI_OPT_INCLUDE,
	CLI_OPT_EXCLUDE,
	CLI_OPT_JOBS,
	CLI_OPT_OWN
};

/*
 * What the shared options say.  Connection strings are copies: the argv
 * strings are overwritten with their password removed.  The copies and the
 * pattern lists are freed when the subcommand returns.
 */
typedef struct CliCommon
{
	const char *command; /* "verify": named in usage errors */
	const char *source;	 /* conninfo, or NULL */
	const char *target;	 /* conninfo, or NULL */
	const char **include_tables;
	int ninclude;
	const char **exclude_tables;
	int nexclude;
	int jobs; /* set to the subcommand's default before parsing */
} CliCommon;

/*
 * Parses an option (a getopt_long value) that the subcommand does not parse
 * itself: a shared option, or -v.  Returns false after reporting a bad
 * value or an invalid option as a usage error.
 */
extern bool cli_common_option(CliCommon *common, int option, char *arg);

/* Which databases a subcommand cannot do without. */
typedef enum CliNeed
{
	CLI_NEED_NOTHING,
	CLI_NEED_SOURCE,
	CLI_NEED_BOTH
} CliNeed;

/*
 * Checks what is left once the options are parsed: no operands, and the
 * databases of need.  Returns false after reporting a usage error.
 */
extern bool cli_common_check(const CliCommon *common, int argc, char **argv,
							 CliNeed need);

/* --help lines of the shared options, for a printf format. */
#define CLI_HELP_SOURCE                                                       \
	"  --source CONNINFO        source database (libpq connection string or " \
	"URI)\n"
#define CLI_HELP_TARGET "  --target CONNINFO        target database\n"
#define CLI_HELP_TABLES                                                       \
	"  --include-tables PATTERN only tables matching PATTERN (schema.table, " \
	"* and ?\n"                                                               \
	"                           wildcards; repeatable)\n"                     \
	"  --exclude-tables PATTERN leave out tables matching PATTERN "           \
	"(repeatable)\n"
#define CLI_HELP_HELP "  -h, --help               print this help and exit\n"

/* The subcommands of cli_migrate.c. */
extern int cli_migrate(int argc, char **argv);
extern int cli_preflight(int argc, char **argv);
extern int cli_status(int argc, char **argv);

/* The subcommands of cli_verify.c. */
extern int cli_verify(int argc, char **argv);
extern int cli_cutover(int argc, char **argv);

#endif /* PGFERRY_CLI_H */
