/*-------------------------------------------------------------------------
 *
 * finish.h
 *	  `pgferry finish`: after a successful cutover, remove what pgferry
 *	  left on both servers.
 *
 * Promises:
 *	- It removes nothing unless a cutover from this source handed the
 *	  target over (pgferry.handover), the source is still read-only (no
 *	  cutover --abort since), the target is not left read-only by a check
 *	  that found a difference, no applier still runs on the slots, and the
 *	  target's pgferry schema holds no other source's migration; each
 *	  refusal (EXIT_BLOCKED) says what to do.
 *	- It then drops the slots the cutover waited for on the source (pgferry
 *	  creates no publication: its plugin needs none) and the pgferry schema
 *	  with all its state on the target, and prints each thing it removed.
 *	  The pgferry extension, where an operator installed it, stays.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_FINISH_H
#define PGFERRY_FINISH_H

typedef struct FinishOptions
{
	const char *source; /* conninfo */
	const char *target; /* conninfo */
} FinishOptions;

/* Returns EXIT_DONE, EXIT_BLOCKED, EXIT_CONNECTION or EXIT_OTHER. */
extern int finish_run(const FinishOptions *opts);

#endif /* PGFERRY_FINISH_H */
