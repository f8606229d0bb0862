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

/*
 * A connection string option: a copy for the job, and the argv string
 * overwritten with the password removed.  The copy, like the lists of
 * cli_append_pattern, is freed when the subcommand returns.
 */
extern char *cli_conninfo(char *arg);

/* An integer option of at least min. */
extern bool cli_int(const char *arg, int min, int *value);

/* A byte count with an optional unit: 16MB, 512kB, 1GB. */
extern bool cli_bytes(const char *arg, int64_t *value);

/* Appends pattern to a list of *count patterns (repeatable options). */
extern const char **cli_append_pattern(const char **list, int *count,
									   const char *pattern);

/* The subcommands of cli_migrate.c. */
extern int cli_migrate(int argc, char **argv);
extern int cli_preflight(int argc, char **argv);
extern int cli_status(int argc, char **argv);

/* The subcommands of cli_verify.c. */
extern int cli_verify(int argc, char **argv);
extern int cli_cutover(int argc, char **argv);

#endif /* PGFERRY_CLI_H */
