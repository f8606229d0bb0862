/*-------------------------------------------------------------------------
 *
 * sequences.h
 *	  Sequences' values follow the stream, not only at cutover.
 *
 * Promises:
 *	- Every --sequences-interval, pgferry follow asks the source to send its
 *	  sequences' last values into the stream (pgferry.send_sequences(),
 *	  sql/pgferry_ddl.sql): a transactional 'pgferry.sequences' message,
 *	  in order with the rows.
 *	- The target's sequences take those values where the message stands,
 *	  and never go backwards (a value already past stays).  A sequence the
 *	  target lacks is left out (a new one arrives with its DDL first).
 *	- A source without the function sends nothing: said once (--verbose);
 *	  cutover still sets every sequence.  A source made read-only (a
 *	  cutover's window) sends nothing meanwhile, silently.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_SEQUENCES_H
#define PGFERRY_SEQUENCES_H

#include <stdbool.h>
#include <stddef.h>

#include "pg/pg.h"

#define SEQUENCES_MESSAGE_PREFIX "pgferry.sequences"
#define SEQUENCES_DEFAULT_INTERVAL_S 10

/*
 * Asks the source to send its sequences' values.  False when it cannot
 * and will not (the function missing, or not granted): logged, the caller
 * asks no more.  A transient failure is logged and returns true.
 */
extern bool sequences_request(PgConn *source);

/*
 * Sets the target's sequences to the values of a message (content, len
 * bytes, at lsn), inside the open transaction.  False on failure (logged).
 */
extern bool sequences_apply(PgConn *target, const char *content, size_t len,
							Lsn lsn);

#endif /* PGFERRY_SEQUENCES_H */
