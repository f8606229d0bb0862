/*-------------------------------------------------------------------------
 *
 * pgferry.h
 *	  Facts shared by every pgferry command: its exit codes.
 *
 * Every job returns one of these; `pgferry --help` documents them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_H
#define PGFERRY_H

#define EXIT_DONE 0		  /* finished (or stopped on request) */
#define EXIT_OTHER 1	  /* anything else: out of memory, I/O, ... */
#define EXIT_USAGE 2	  /* bad command line */
#define EXIT_CONNECTION 3 /* a server could not be reached */
#define EXIT_APPLY 4	  /* bad frame, missing object, conflict, permission */
#define EXIT_DIFFERENT 5  /* verify, cutover: source and target differ */
#define EXIT_BLOCKED 6 /* preflight, migrate, cutover: something blocks it */

/*
 * Prefixes of the logical messages pgferry verify and pgferry cutover write
 * on the source to mark a point of the stream; the applier skips them.
 */
#define VERIFY_MARKER_PREFIX "pgferry.verify"
#define CUTOVER_MARKER_PREFIX "pgferry.cutover"

#endif /* PGFERRY_H */
