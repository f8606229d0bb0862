/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  The source side: a logical replication stream from a slot of the
 *	  pgferry plugin or of pgoutput.
 *
 * Promises:
 *	- stream_open() takes a connection with replication=database,
 *	  identifies the source (system identifier, database), checks the slot
 *	  (the plugin asked for, this database) and creates it when asked.  A server that
 *	  refuses the plugin gets the exact setting to change.
 *	- stream_start() sends START_REPLICATION with the plugin's options;
 *	  pgoutput gets the highest protocol version the server speaks (1 on
 *	  13, 2 on 14, 3 on 15, 4 from 16), streaming and messages on.
 *	- stream_receive() hands over one frame at a time (pgferry's come
 *	  several to an XLogData message) and answers keepalives itself; it
 *	  sends a standby status update at least every 10 seconds and whenever
 *	  the server asks for one.
 *	- The flush position reported is only ever what stream_set_flushed()
 *	  was told: the end of the last source transaction committed on the
 *	  target.  The slot never releases WAL the target does not have.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_STREAM_H
#define PGFERRY_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "pg/pg.h"
#include "stream/change.h"

typedef struct StreamOptions
{
	const char *conninfo;
	const char *slot;
	Plugin plugin;
	const char *publication; /* pgoutput: the publication to decode */
	bool create_slot;
	bool binary;
	const char *include_tables; /* comma-separated patterns, or NULL */
	const char *exclude_tables;
} StreamOptions;

typedef enum StreamEvent
{
	STREAM_FRAME,	  /* msg->data holds one frame */
	STREAM_KEEPALIVE, /* msg->wal_end is the server's position */
	STREAM_IDLE,	  /* nothing arrived in time */
	STREAM_FAILED,	  /* the error is logged */
	STREAM_BAD_INPUT  /* a message the applier cannot read (logged) */
} StreamEvent;

typedef struct StreamMessage
{
	const uint8_t *data; /* STREAM_FRAME; valid until next receive */
	uint32_t len;
	Lsn wal_start; /* STREAM_FRAME: where the message holding it starts */
	Lsn wal_end;   /* the server's end of WAL */
} StreamMessage;

typedef struct Stream Stream;

/*
 * The connection stream_open() needs (replication=database, the session
 * settings of the walsender), for pg_connect_all().
 */
extern void stream_connect_request(const StreamOptions *options,
								   PgConnRequest *request);

/*
 * Takes conn, opened as stream_connect_request() says (stream_close()
 * closes it, or this on failure), and checks the slot.  On failure returns
 * NULL and sets *transient: whether trying again later may work.
 */
extern Stream *stream_open(const StreamOptions *options, PgConn *conn,
						   bool *transient);
extern void stream_close(Stream *stream);

/* The source's system identifier (decimal text) and database name. */
extern const char *stream_system_identifier(const Stream *stream);
extern const char *stream_database(const Stream *stream);

/*
 * What a pgferry slot tells in its Startup frame, for a pgoutput slot,
 * which tells nothing: from the connection (text values).
 */
extern const SourceFacts *stream_source_facts(Stream *stream);

/* Starts streaming from the slot's confirmed position. */
extern bool stream_start(Stream *stream);

/*
 * Waits up to timeout_ms (0: only what is there) for a message, meanwhile
 * sending pump's queued statements (see pg_replication_receive).
 */
extern StreamEvent stream_receive(Stream *stream, int timeout_ms,
								  StreamMessage *msg, PgConn *pump);

/* What may be reported as flushed from now on (only ever grows). */
extern void stream_set_flushed(Stream *stream, Lsn flushed);
extern Lsn stream_flushed(const Stream *stream);
/* Sends a standby status update now. */
extern bool stream_send_feedback(Stream *stream);

/* Whether the last failure may go away by reconnecting. */
extern bool stream_failure_is_transient(const Stream *stream);

/*
 * The way on from a slot the source invalidated (max_slot_wal_keep_size):
 * the changes it lost are gone, so the target can only be copied again.
 * A format for the slot's name.
 */
#define STREAM_SLOT_LOST_FIX                                                  \
	"the changes since the target's last commit are gone from the source: "   \
	"copy again. Drop the slot on the source (SELECT "                        \
	"pg_drop_replication_slot('%s');), then run pgferry migrate into an "     \
	"empty target database (or drop the migrated tables and the pgferry "     \
	"schema there first); raise max_slot_wal_keep_size, or copy in smaller "  \
	"table-set tasks, so that it does not happen again"

#endif /* PGFERRY_STREAM_H */
