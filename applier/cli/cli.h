/*-------------------------------------------------------------------------
 *
 * cli.h
 *	  The command line: one table of subcommands, argument parsing only.
 *
 * Each subcommand's function (one file each) parses its options into the
 * options struct of its job and returns what the job returns (the exit
 * codes of common/exit.h).
 * Connection strings are copied, then overwritten in argv with their
 * password removed, so `ps` never shows a password.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CLI_H
#define PGFERRY_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pg/pg.h"
#include "stream/change.h"

typedef struct CliCommand
{
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* one line */
} CliCommand;

/*
 * How an option's argument is read, and which member of CliOption.to
 * receives it.  The kinds from CLI_TEXT on take an argument.
 */
typedef enum CliKind
{
	CLI_HELP,		/* -h, --help: to.usage prints the help, exit 0 */
	CLI_VERBOSE,	/* -v, --verbose: more messages */
	CLI_SET,		/* *to.flag = true */
	CLI_CLEAR,		/* *to.flag = false */
	CLI_TEXT,		/* *to.text: the argument itself */
	CLI_CONNINFO,	/* *to.text: a copy; argv's shows no password */
	CLI_LIST,		/* repeatable: appended to *to.list, *count strings long */
	CLI_INT,		/* *to.integer, at least min */
	CLI_BYTES,		/* *to.bytes, with an optional unit: 16MB, 512kB, 1GB */
	CLI_SECONDS,	/* *to.seconds: a number of seconds, 0 or more (0.5) */
	CLI_LSN,		/* *to.lsn */
	CLI_LOG_FORMAT, /* --log-format text|json */
	CLI_LOG_FILE	/* --log-file PATH: stderr appended to it */
} CliKind;

/*
 * An option a subcommand takes: a row of its table, which ends with a row
 * of NULL name.  The values go straight into the options of the job.
 */
typedef struct CliOption
{
	const char *name; /* the long option, without "--" */
	CliKind kind;
	union
	{
		void (*usage)(void);
		bool *flag;
		const char **text;
		const char *const **list;
		int *integer;
		int64_t *bytes;
		double *seconds;
		Lsn *lsn;
	} to;
	int *count; /* CLI_LIST */
	int min;	/* CLI_INT */
	/* CLI_TEXT, CLI_LIST: NULL, or whether an argument is valid */
	bool (*valid)(const char *arg);
	/* where an argument can be refused: its usage error ("%s": it) */
	const char *bad;
} CliOption;

/*
 * Parses argv (argv[0]: the subcommand) by the table of options, and refuses
 * operands.  Returns false when the subcommand is to return *status at once:
 * EXIT_DONE after --help, EXIT_USAGE after reporting a usage error.
 */
extern bool cli_parse(const char *command, const CliOption *options, int argc,
					  char **argv, int *status);

/* Which databases a subcommand cannot do without. */
typedef enum CliNeed
{
	CLI_NEED_SOURCE,
	CLI_NEED_TARGET,
	CLI_NEED_BOTH
} CliNeed;

/*
 * Whether the databases of need were given (--source, --target); reports
 * the usage error if not.
 */
extern bool cli_need(const char *command, const char *source,
					 const char *target, CliNeed need);

/* Reports a usage error ("pgferry COMMAND: " fmt); returns EXIT_USAGE. */
extern int cli_usage_error(const char *command, const char *fmt,
						   const char *arg);

/* Whether arg is a slot name: lower case letters, digits and _ (not none). */
extern bool cli_slot_name(const char *arg);

/*
 * Whether arg names an output plugin pgferry decodes with: "pgferry" or
 * "pgoutput"; and which.
 */
extern bool cli_plugin_name(const char *arg);
extern Plugin cli_plugin(const char *arg);

/*
 * Rows of the options several subcommands share, for a job's options
 * struct (job) whose members bear these names.
 */
#define CLI_ROW_SOURCE(job)                                                   \
	{                                                                         \
		.name = "source", .kind = CLI_CONNINFO, .to.text = &(job).source      \
	}
#define CLI_ROW_TARGET(job)                                                   \
	{                                                                         \
		.name = "target", .kind = CLI_CONNINFO, .to.text = &(job).target      \
	}
#define CLI_ROW_INCLUDE(job)                                                  \
	{                                                                         \
		.name = "include-tables", .kind = CLI_LIST,                           \
		.to.list = &(job).include_tables, .count = &(job).ninclude            \
	}
#define CLI_ROW_EXCLUDE(job)                                                  \
	{                                                                         \
		.name = "exclude-tables", .kind = CLI_LIST,                           \
		.to.list = &(job).exclude_tables, .count = &(job).nexclude            \
	}
#define CLI_ROW_ENDPOS(job)                                                   \
	{                                                                         \
		.name = "endpos", .kind = CLI_LSN, .to.lsn = &(job).endpos,           \
		.bad = "--endpos: \"%s\" is not a WAL position (like 0/16B3748)"      \
	}
#define CLI_ROW_JOBS(job)                                                     \
	{                                                                         \
		.name = "jobs", .kind = CLI_INT, .to.integer = &(job).jobs, .min = 1, \
		.bad = "--jobs: \"%s\" is not a positive integer"                     \
	}

/* --log-format and --log-file (common/log.h), for the commands that log. */
#define CLI_ROWS_LOG                                                          \
	{.name = "log-format",                                                    \
	 .kind = CLI_LOG_FORMAT,                                                  \
	 .bad = "--log-format: \"%s\" is not a log format (text or json)"},       \
	{                                                                         \
		.name = "log-file", .kind = CLI_LOG_FILE,                             \
		.bad = "--log-file: could not open \"%s\" for appending"              \
	}

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
#define CLI_HELP_PLUGIN                                                       \
	"  --plugin NAME            the slot's output plugin: pgferry, or the "   \
	"built-in\n"                                                              \
	"                           pgoutput where the source cannot load "       \
	"pgferry\n"                                                               \
	"  --publication NAME       pgoutput's publication, created for the "     \
	"tables when\n"                                                           \
	"                           absent (default: the slot's name)\n"
#define CLI_ROW_PLUGIN(name_var)                                              \
	{                                                                         \
		.name = "plugin", .kind = CLI_TEXT, .to.text = &(name_var),           \
		.valid = cli_plugin_name,                                             \
		.bad = "--plugin: \"%s\" is not pgferry or pgoutput"                  \
	}
#define CLI_ROW_PUBLICATION(job)                                              \
	{                                                                         \
		.name = "publication", .kind = CLI_TEXT,                              \
		.to.text = &(job).publication                                         \
	}
#define CLI_HELP_LOG                                                          \
	"  --log-format FORMAT      text (default) or json: one object a line "   \
	"with\n"                                                                  \
	"                           time, pid, level, message and the event's "   \
	"fields\n"                                                                \
	"  --log-file PATH          append the messages to PATH, not stderr; "    \
	"SIGHUP\n"                                                                \
	"                           opens it again (after a log rotation)\n"

/* The stream's schema changes and sequences, for follow and migrate. */
#define CLI_ROW_SEQUENCES_INTERVAL(job)                                       \
	{                                                                         \
		.name = "sequences-interval", .kind = CLI_INT,                        \
		.to.integer = &(job).sequences_interval_s, .min = 0,                  \
		.bad = "--sequences-interval: \"%s\" is not a number of seconds"      \
	}
#define CLI_ROW_SKIP_DDL(job)                                                 \
	{                                                                         \
		.name = "skip-ddl", .kind = CLI_LSN, .to.lsn = &(job).skip_ddl,       \
		.bad = "--skip-ddl: \"%s\" is not a WAL position (like 0/16B3748)"    \
	}
/* a printf format: its argument is SEQUENCES_DEFAULT_INTERVAL_S */
#define CLI_HELP_DDL                                                          \
	"  --sequences-interval S   the source sends its sequences' values "      \
	"every S seconds\n"                                                       \
	"                           (default %d; 0: only at cutover)\n"           \
	"  --skip-ddl LSN           do not replay the source's schema change at " \
	"LSN (one\n"                                                              \
	"                           the target refused, applied there by "        \
	"hand)\n"
/* --metrics-addr (common/metrics_http.h), for follow and migrate. */
#define CLI_ROW_METRICS(addr_var)                                             \
	{                                                                         \
		.name = "metrics-addr", .kind = CLI_TEXT, .to.text = &(addr_var)      \
	}
#define CLI_HELP_METRICS                                                      \
	"  --metrics-addr HOST:PORT serve Prometheus metrics on /metrics and "    \
	"health on\n"                                                             \
	"                           /healthz (the README: \"Reading the "         \
	"metrics\")\n"

/* The restore's modes (RestoreModes), for migrate and preflight. */
#define CLI_ROW_NO_OWNER(modes)                                               \
	{                                                                         \
		.name = "no-owner", .kind = CLI_SET, .to.flag = &(modes).no_owner     \
	}
#define CLI_ROW_NO_PRIVILEGES(modes)                                          \
	{                                                                         \
		.name = "no-privileges", .kind = CLI_SET,                             \
		.to.flag = &(modes).no_privileges                                     \
	}
#define CLI_ROW_ROLES(modes)                                                  \
	{                                                                         \
		.name = "roles", .kind = CLI_SET, .to.flag = &(modes).create_roles    \
	}
#define CLI_HELP_RESTORE                                                      \
	"  --no-owner               the restored objects belong to the target "   \
	"role (the\n"                                                             \
	"                           source's owners are not kept)\n"              \
	"  --no-privileges          restore no GRANT, REVOKE or default "         \
	"privileges\n"                                                            \
	"  --roles                  create the roles the schema names that the "  \
	"target\n"                                                                \
	"                           lacks, from the source's catalog (no "        \
	"passwords)\n"

/* Frees what the parsers allocated (main calls it once a command ends). */
extern void cli_free_parsed(void);

/* The commands, as the exit code table names them. */
typedef enum CliCommandFlag
{
	CLI_FOLLOW = 1 << 0,
	CLI_MIGRATE = 1 << 1,
	CLI_PREFLIGHT = 1 << 2,
	CLI_STATUS = 1 << 3,
	CLI_VERIFY = 1 << 4,
	CLI_CUTOVER = 1 << 5,
	CLI_FINISH = 1 << 6,
	CLI_GENERIC = 1 << 7 /* `pgferry --help` */
} CliCommandFlag;

/*
 * Prints "Exit codes:" and what each code command returns means to it
 * (CLI_GENERIC: to pgferry as a whole).
 */
extern void cli_print_exit_codes(FILE *out, unsigned command);

/* The subcommands, one file each. */
extern int cli_follow(int argc, char **argv);
extern int cli_migrate(int argc, char **argv);
extern int cli_preflight(int argc, char **argv);
extern int cli_status(int argc, char **argv);
extern int cli_verify(int argc, char **argv);
extern int cli_cutover(int argc, char **argv);
extern int cli_finish(int argc, char **argv);

#endif /* PGFERRY_CLI_H */
