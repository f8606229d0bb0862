/*-------------------------------------------------------------------------
 *
 * exit.h
 *	  The exit codes of every pgferry command.
 *
 * Every job returns one of these.  What each means to each command is
 * written once, in cli/exit_codes.c, from which every --help, and the
 * README's table (checked by the suite), take it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_EXIT_H
#define PGFERRY_EXIT_H

#define EXIT_DONE 0		  /* finished (or stopped on request) */
#define EXIT_OTHER 1	  /* anything else: out of memory, I/O, ... */
#define EXIT_USAGE 2	  /* bad command line */
#define EXIT_CONNECTION 3 /* a server unreachable, or the login refused */
#define EXIT_APPLY 4	  /* bad frame, missing object, conflict, permission */
#define EXIT_DIFFERENT 5  /* source and target differ */
#define EXIT_BLOCKED 6	  /* something blocks it; nothing was changed */

#endif /* PGFERRY_EXIT_H */
