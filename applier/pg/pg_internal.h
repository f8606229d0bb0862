/*-------------------------------------------------------------------------
 *
 * pg_internal.h
 *	  What pg.c and pg_flow.c share: the connection struct and error
 *	  recording.  Nothing outside those two files includes this.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PG_INTERNAL_H
#define PGFERRY_PG_INTERNAL_H

#include <libpq-fe.h>

#include "pg/pg.h"

struct PgConn
{
	PGconn *conn;
	char *label;		 /* "source", "target", ... */
	char *display;		 /* redacted conninfo */
	bool retried;		 /* see pg_set_retried() */
	bool failed_segment; /* a statement of the current pipeline segment
						  * failed */
	/* the last error */
	char sqlstate[6];
	char *message;
	char *detail;
	char *hint;
	char *context; /* where it happened: "COPY t, line 2, column v" */

	size_t unsent_bytes; /* pipeline mode: queued since all was sent */

	/* a replication stream read ahead (pg_set_read_ahead) */
	PgConn *read_ahead;		 /* the stream this connection's waits read */
	struct ReadAhead *queue; /* of a stream: messages read ahead */
};

/*
 * Records the error of res, or the connection's error message when res
 * carries none (lost connection, protocol trouble).
 */
extern void pg_error_record(PgConn *conn, const PGresult *res);

/* Frees the messages of conn's stream read ahead (pg_set_read_ahead). */
extern void pg_read_ahead_free(PgConn *stream);

#endif /* PGFERRY_PG_INTERNAL_H */
