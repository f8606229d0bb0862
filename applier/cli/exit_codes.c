/*-------------------------------------------------------------------------
 *
 * exit_codes.c
 *	  What each exit code means to each command: the one table every
 *	  --help prints from (the README's table is checked against it).
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/exit.h"

/*
 * A meaning of a code for the commands of a mask: for one command and code,
 * the first row that names the command.  `pgferry --help` shows, for each
 * code, its row marked CLI_GENERIC, or else every row of the code, each
 * after the names of its commands.
 */
typedef struct ExitCodeRow
{
	int code;
	unsigned commands;
	const char *meaning;
} ExitCodeRow;

#define CLI_ALL                                                               \
	(CLI_FOLLOW | CLI_MIGRATE | CLI_PREFLIGHT | CLI_STATUS | CLI_VERIFY |     \
	 CLI_CUTOVER | CLI_FINISH)

static const ExitCodeRow rows[] = {
	{EXIT_DONE, CLI_GENERIC, "done"},
	{EXIT_DONE, CLI_FOLLOW | CLI_MIGRATE,
	 "done: --endpos reached, or stopped by SIGINT/SIGTERM after committing "
	 "the batch in flight"},
	{EXIT_DONE, CLI_PREFLIGHT,
	 "nothing blocks the migration (warnings may be printed)"},
	{EXIT_DONE, CLI_STATUS, "the state was shown"},
	{EXIT_DONE, CLI_VERIFY, "every table is equal"},
	{EXIT_DONE, CLI_CUTOVER,
	 "the target is ready for writes (with --abort: the source takes "
	 "writes again; with --release-target: the target does)"},
	{EXIT_DONE, CLI_FINISH,
	 "the slots and the pgferry schema are removed (each is printed)"},
	{EXIT_OTHER, CLI_CUTOVER,
	 "other error (the messages name it and the fix, and say whether the "
	 "source is still read-only)"},
	{EXIT_OTHER, CLI_ALL | CLI_GENERIC,
	 "other error (the messages name it and the fix)"},
	{EXIT_USAGE, CLI_MIGRATE,
	 "bad command line, a resume with other arguments, or a --metrics-addr "
	 "that cannot be listened on"},
	{EXIT_USAGE, CLI_FOLLOW,
	 "bad command line, or a --metrics-addr that cannot be listened on"},
	{EXIT_USAGE, CLI_ALL | CLI_GENERIC, "bad command line"},
	{EXIT_CONNECTION, CLI_ALL | CLI_GENERIC,
	 "a server could not be reached, or refused the connection (a wrong "
	 "password: the message says authentication failed)"},
	{EXIT_APPLY, CLI_FOLLOW | CLI_MIGRATE,
	 "apply or data error (bad frame, missing table or column, conflict, "
	 "permission denied): the slot is not advanced past the failing "
	 "transaction, and the message names the object and the fix"},
	{EXIT_DIFFERENT, CLI_VERIFY,
	 "a table differs between the source and the target (see the report)"},
	{EXIT_DIFFERENT, CLI_CUTOVER,
	 "the check after the switch found a difference: the source stays "
	 "read-only and the target is left read-only until --release-target "
	 "(or --abort)"},
	{EXIT_BLOCKED, CLI_PREFLIGHT | CLI_MIGRATE | CLI_FINISH,
	 "something blocks it, and nothing was changed (each problem is "
	 "printed with its fix)"},
	{EXIT_BLOCKED, CLI_CUTOVER,
	 "something blocks it (the apply lag above --max-lag, a copy-only "
	 "table changed since its copy...), and nothing was changed (each "
	 "problem is printed with its fix)"},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const struct
{
	unsigned command;
	const char *name;
} command_names[] = {
	{CLI_FOLLOW, "follow"},		  {CLI_MIGRATE, "migrate"},
	{CLI_PREFLIGHT, "preflight"}, {CLI_STATUS, "status"},
	{CLI_VERIFY, "verify"},		  {CLI_CUTOVER, "cutover"},
	{CLI_FINISH, "finish"},
};

/*
 * Prints "  N  [commands: ]meaning", wrapped at 79 columns under the
 * meaning's first column.
 */
static void
print_row(FILE *out, const ExitCodeRow *row, bool with_commands)
{
	char text[1024] = "";
	const char *rest = text;
	const int width = 79 - 5;

	for (size_t i = 0;
		 with_commands && i < sizeof(command_names) / sizeof(command_names[0]);
		 i++)
		if (row->commands & command_names[i].command)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
					 text[0] ? ", " : "", command_names[i].name);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
			 text[0] ? ": " : "", row->meaning);
	fprintf(out, "  %d  ", row->code);
	while (strlen(rest) > (size_t) width)
	{
		int cut = width;

		while (cut > 0 && rest[cut] != ' ')
			cut--;
		fprintf(out, "%.*s\n     ", cut, rest);
		rest += cut + 1;
	}
	fprintf(out, "%s\n", rest);
}

/* Whether the code has a row for `pgferry --help` as it is. */
static bool
has_generic(int code)
{
	for (size_t i = 0; i < NROWS; i++)
		if (rows[i].code == code && (rows[i].commands & CLI_GENERIC))
			return true;
	return false;
}

void
cli_print_exit_codes(FILE *out, unsigned command)
{
	int last_code = -1;

	fprintf(out, "Exit codes:\n");
	for (size_t i = 0; i < NROWS; i++)
	{
		const ExitCodeRow *row = &rows[i];

		if (command != CLI_GENERIC)
		{
			if ((row->commands & command) && row->code != last_code)
			{
				print_row(out, row, false);
				last_code = row->code;
			}
		}
		else if (row->commands & CLI_GENERIC)
			print_row(out, row, false);
		else if (!has_generic(row->code))
			print_row(out, row, true);
	}
	/* after the codes, as every help ends with them */
	fprintf(out,
			"\nPasswords: as for psql, from password= in CONNINFO (hidden "
			"from ps), PGPASSWORD,\nor the password file ~/.pgpass "
			"(PGPASSFILE names another).\n");
}
