/*-------------------------------------------------------------------------
 *
 * main.c
 *	  pgferry's entry point: one table of subcommands.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/exit.h"

static const CliCommand commands[] = {
	{"follow", cli_follow,
	 "stream a replication slot into the target, keeping it equal"},
	{"verify", cli_verify,
	 "compare every table of the source and the target, row for row"},
	{"cutover", cli_cutover,
	 "make the source read-only and hand over to the target"},
	{"finish", cli_finish,
	 "after a cutover, drop pgferry's slots and its state on the target"},
	{"migrate", cli_migrate,
	 "move a database: schema, snapshot copy, then follow the slot"},
	{"preflight", cli_preflight,
	 "check what would stop or surprise a migration, changing nothing"},
	{"status", cli_status,
	 "show a migration's phase, copy progress and apply lag"},
	{NULL, NULL, NULL}};

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
			"Run \"pgferry COMMAND --help\" for a command's options.\n\n");
	cli_print_exit_codes(out, CLI_GENERIC);
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
