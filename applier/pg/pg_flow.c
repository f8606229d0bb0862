/*-------------------------------------------------------------------------
 *
 * pg_flow.c
 *	  The protocol flows beyond one statement and one result: pipeline
 *	  mode, COPY, streaming replication (see pg.h).
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE /* ppoll() */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "pg/pg_internal.h"

/* --- a replication stream read ahead ----------------------------------------- */

#define READ_AHEAD_INTERVAL_US 500

/* Microseconds until a stream last read at last_us is read again (<= 0: now). */
static int64_t
pg_until_next_read(int64_t last_us)
{
	return last_us + READ_AHEAD_INTERVAL_US - clock_us();
}

/* poll() with a timeout in microseconds (< 0: none). */
static int
pg_poll(struct pollfd *pfd, int npfd, int64_t timeout_us)
{
	struct timespec timeout = {timeout_us / 1000000,
							   (timeout_us % 1000000) * 1000};

	return ppoll(pfd, npfd, timeout_us < 0 ? NULL : &timeout, NULL);
}

/* Messages of a stream read ahead, in order, from head to count. */
typedef struct ReadAhead
{
	char **messages;
	int *lengths;
	int head;
	int count;
	int capacity;
	size_t bytes; /* held */
	size_t limit;
	int64_t read_us; /* when its socket was last read ahead */
	int64_t data_us; /* when a read last brought a message */
	int end; /* what PQgetCopyData() last said at the stream's end (-1) or
			  * on an error (-2); 0 while it goes on */
} ReadAhead;

void
pg_set_read_ahead(PgConn *conn, PgConn *stream, size_t limit)
{
	conn->read_ahead = stream;
	if (stream && stream->queue == NULL)
		stream->queue = xcalloc(1, sizeof(ReadAhead));
	if (stream)
		stream->queue->limit = limit;
}

void
pg_read_ahead_free(PgConn *stream)
{
	ReadAhead *queue = stream->queue;

	if (queue == NULL)
		return;
	for (int i = queue->head; i < queue->count; i++)
		PQfreemem(queue->messages[i]);
	free(queue->messages);
	free(queue->lengths);
	free(queue);
	stream->queue = NULL;
}

/* The stream conn reads ahead while it waits, if it holds less than its limit. */
static PgConn *
pg_read_ahead_stream(const PgConn *conn)
{
	PgConn *stream = conn->read_ahead;

	if (stream == NULL || stream->queue->end != 0 ||
		stream->queue->bytes >= stream->queue->limit)
		return NULL;
	return stream;
}

static void
pg_read_ahead_hold(ReadAhead *queue, char *data, int len)
{
	if (queue->head == queue->count)
		queue->head = queue->count = 0;
	if (queue->count == queue->capacity && queue->head > 0)
	{
		queue->count -= queue->head;
		memmove(queue->messages, queue->messages + queue->head,
				queue->count * sizeof(char *));
		memmove(queue->lengths, queue->lengths + queue->head,
				queue->count * sizeof(int));
		queue->head = 0;
	}
	if (queue->count == queue->capacity)
	{
		queue->capacity = queue->capacity ? queue->capacity * 2 : 256;
		queue->messages =
			xrealloc(queue->messages, queue->capacity * sizeof(char *));
		queue->lengths =
			xrealloc(queue->lengths, queue->capacity * sizeof(int));
	}
	queue->messages[queue->count] = data;
	queue->lengths[queue->count++] = len;
	queue->bytes += len;
}

/*
 * Reads what the stream's socket has and takes every whole message, up to
 * the limit.  libpq reads at most the free space of its buffer per call
 * (16 kB for a stream of small messages, less than a millisecond of a busy
 * walsender's output), so this reads until a read brings no whole message.
 * A failure is kept for pg_replication_receive() to hand back after the
 * messages before it.
 */
static void
pg_read_ahead(PgConn *stream)
{
	ReadAhead *queue = stream->queue;
	bool took = true;

	queue->read_us = clock_us();
	while (took && queue->bytes < queue->limit)
	{
		if (PQconsumeInput(stream->conn) != 1)
		{
			queue->end = -2;
			return;
		}
		took = false;
		while (queue->bytes < queue->limit)
		{
			char *data;
			int len = PQgetCopyData(stream->conn, &data, 1);

			if (len == 0)
				break;
			if (len < 0)
			{
				queue->end = len;
				return;
			}
			pg_read_ahead_hold(queue, data, len);
			queue->data_us = queue->read_us;
			took = true;
		}
	}
}

/* --- pipeline mode ------------------------------------------------------------ */

bool
pg_pipeline_begin(PgConn *conn)
{
	if (PQenterPipelineMode(conn->conn) != 1 ||
		PQsetnonblocking(conn->conn, 1) != 0)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	conn->failed_segment = false;
	return true;
}

bool
pg_pipeline_end(PgConn *conn)
{
	if (PQsetnonblocking(conn->conn, 0) != 0 ||
		PQexitPipelineMode(conn->conn) != 1)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	return true;
}

/*
 * Sends what libpq has buffered without blocking; reads whatever results
 * arrived meanwhile, so the server never blocks writing them to us.
 */
bool
pg_pipeline_push(PgConn *conn)
{
	PgConn *stream = pg_read_ahead_stream(conn);
	int pending = PQflush(conn->conn);

	if (pending < 0 || PQconsumeInput(conn->conn) != 1)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	if (pending == 0)
		conn->unsent_bytes = 0;
	if (stream && pg_until_next_read(stream->queue->read_us) <= 0)
		pg_read_ahead(stream);
	return true;
}

bool
pg_pipeline_ready(PgConn *conn)
{
	return !PQisBusy(conn->conn);
}

/*
 * Adds the socket of the stream conn reads ahead to pfd[1] when it is time
 * to read it again, and sets *timeout_us for pg_poll(): returns how many
 * sockets to poll.  Reading it at every message the server sends would
 * cost two context switches each.  A walsender's socket buffer holds about
 * two milliseconds of a busy stream of small messages (each costs the
 * buffer far more than its bytes): read less often, and the walsender
 * sleeps on its full socket while the cores idle.  Measured on 20,000
 * one-row transactions: reading every 2 ms made the run 1.4x slower than
 * every 1 ms, and reading at every message 1.25x; on the bulk apply
 * benchmark, every 0.5 ms beat every 1 ms (see README).
 */
static int
pg_poll_read_ahead(const PgConn *conn, struct pollfd pfd[2],
				   int64_t *timeout_us)
{
	PgConn *stream = pg_read_ahead_stream(conn);
	int64_t wait_us;

	*timeout_us = -1;
	if (stream == NULL)
		return 1;
	wait_us = pg_until_next_read(stream->queue->read_us);
	if (wait_us > 0)
	{
		*timeout_us = wait_us;
		return 1;
	}
	pfd[1] = (struct pollfd){PQsocket(stream->conn), POLLIN, 0};
	return 2;
}

/* Reads the stream ahead if poll() found its socket readable. */
static void
pg_read_ahead_ready(const PgConn *conn, const struct pollfd pfd[2], int npfd)
{
	PgConn *stream = pg_read_ahead_stream(conn);

	if (stream && npfd == 2 && (pfd[1].revents & (POLLIN | POLLERR | POLLHUP)))
		pg_read_ahead(stream);
}

/* Waits until every buffered byte has gone to the server. */
static bool
pg_flush_all(PgConn *conn)
{
	int pending;

	while ((pending = PQflush(conn->conn)) == 1)
	{
		struct pollfd pfd[2] = {{PQsocket(conn->conn), POLLIN | POLLOUT, 0}};
		int64_t timeout_us;
		int npfd = pg_poll_read_ahead(conn, pfd, &timeout_us);

		if (pg_poll(pfd, npfd, timeout_us) < 0 && errno != EINTR)
			break;
		pg_read_ahead_ready(conn, pfd, npfd);
		if ((pfd[0].revents & POLLIN) && PQconsumeInput(conn->conn) != 1)
			break;
	}
	if (pending != 0)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	conn->unsent_bytes = 0;
	return true;
}

/*
 * Waits until PQgetResult() will not block: sends what is buffered, reads
 * what arrives, and lets PQisBusy() parse it.  PQgetResult() itself must
 * not be left to wait: in nonblocking mode it reads the server's results
 * while it flushes our output, then waits on the socket for more although
 * what it waits for is already in its buffer, while the server, having
 * answered, waits for us.
 */
static bool
pg_wait_result(PgConn *conn)
{
	for (;;)
	{
		int pending = PQflush(conn->conn);
		struct pollfd pfd[2] = {{PQsocket(conn->conn), POLLIN, 0}};
		int64_t timeout_us;
		int npfd;

		if (pending < 0)
			break;
		if (!PQisBusy(conn->conn))
			return true;
		if (pending)
			pfd[0].events |= POLLOUT;
		npfd = pg_poll_read_ahead(conn, pfd, &timeout_us);
		if (pg_poll(pfd, npfd, timeout_us) < 0 && errno != EINTR)
			break;
		pg_read_ahead_ready(conn, pfd, npfd);
		if ((pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) &&
			PQconsumeInput(conn->conn) != 1)
			break;
	}
	pg_error_record(conn, NULL);
	return false;
}

/*
 * libpq moves what it could not send yet to the front of its buffer after
 * every partial send, and tries one at the end of every protocol message:
 * with megabytes queued for a busy server, that copying cost more CPU than
 * building the statements.  So at most this much is queued unsent; beyond,
 * a statement waits for the server to take the rest (the stream is read
 * ahead meanwhile).
 */
#define PIPELINE_UNSENT_BYTES (256 * 1024)

/* Pushes a statement of about `bytes` just queued. */
static bool
pg_pipeline_queued(PgConn *conn, size_t bytes)
{
	conn->unsent_bytes += bytes;
	if (conn->unsent_bytes > PIPELINE_UNSENT_BYTES)
		return pg_flush_all(conn);
	return pg_pipeline_push(conn);
}

/* The bytes of params' values. */
static size_t
pg_params_bytes(const PgParams *params)
{
	size_t bytes = 0;

	if (params == NULL)
		return 0;
	for (int i = 0; i < params->count; i++)
		if (params->values[i] != NULL)
			bytes += params->lengths && params->formats && params->formats[i]
						 ? (size_t) params->lengths[i]
						 : strlen(params->values[i]);
	return bytes;
}

bool
pg_send_query(PgConn *conn, const char *sql, const PgParams *params)
{
	int sent;

	if (params)
		sent = PQsendQueryParams(conn->conn, sql, params->count, params->types,
								 params->values, params->lengths,
								 params->formats, 0);
	else
		sent =
			PQsendQueryParams(conn->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (sent != 1)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	return pg_pipeline_queued(conn, strlen(sql) + pg_params_bytes(params));
}

bool
pg_send_prepare(PgConn *conn, const char *name, const char *sql, int nparams,
				const Oid *types)
{
	if (PQsendPrepare(conn->conn, name, sql, nparams, types) != 1)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	return pg_pipeline_queued(conn, strlen(sql));
}

bool
pg_send_prepared(PgConn *conn, const char *name, const PgParams *params)
{
	if (PQsendQueryPrepared(conn->conn, name, params->count, params->values,
							params->lengths, params->formats, 0) != 1)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	return pg_pipeline_queued(conn, pg_params_bytes(params));
}

bool
pg_pipeline_sync(PgConn *conn)
{
	if (PQpipelineSync(conn->conn) != 1)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	return pg_flush_all(conn);
}

PgResult *
pg_pipeline_result(PgConn *conn)
{
	PGresult *res = pg_wait_result(conn) ? PQgetResult(conn->conn) : NULL;
	PGresult *end;

	if (res == NULL)
	{
		pg_error_record(conn, NULL);
		conn->failed_segment = true;
		return NULL;
	}
	switch (PQresultStatus(res))
	{
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			break;
		case PGRES_PIPELINE_ABORTED:
			/* skipped after an earlier failure, whose error we keep */
			PQclear(res);
			res = NULL;
			break;
		default:
			pg_error_record(conn, res);
			conn->failed_segment = true;
			PQclear(res);
			res = NULL;
			break;
	}
	/* each statement's results end with a NULL */
	while (pg_wait_result(conn) && (end = PQgetResult(conn->conn)) != NULL)
	{
		if (PQresultStatus(end) == PGRES_PIPELINE_SYNC)
		{
			/* a statement result missing: should not happen */
			PQclear(end);
			break;
		}
		PQclear(end);
	}
	return res;
}

bool
pg_pipeline_wait_sync(PgConn *conn)
{
	bool ok = !conn->failed_segment;

	for (;;)
	{
		PGresult *res;

		if (!pg_wait_result(conn))
			return false;
		res = PQgetResult(conn->conn);
		if (res == NULL)
			continue; /* end of a statement's results */
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
		{
			PQclear(res);
			break;
		}
		if (PQresultStatus(res) == PGRES_FATAL_ERROR && ok)
		{
			pg_error_record(conn, res);
			ok = false;
		}
		PQclear(res);
	}
	conn->failed_segment = false;
	return ok;
}

/* --- COPY ------------------------------------------------------------------- */

static bool
pg_expect(PgConn *conn, PGresult *res, ExecStatusType expected)
{
	bool ok = (PQresultStatus(res) == expected);

	if (!ok)
		pg_error_record(conn, res);
	PQclear(res);
	return ok;
}

bool
pg_copy_in_begin(PgConn *conn, const char *sql)
{
	return pg_expect(conn, PQexec(conn->conn, sql), PGRES_COPY_IN);
}

bool
pg_copy_in_put(PgConn *conn, const char *data, size_t len)
{
	while (len > 0)
	{
		int chunk = len > (1 << 30) ? (1 << 30) : (int) len;

		if (PQputCopyData(conn->conn, data, chunk) != 1)
		{
			pg_error_record(conn, NULL);
			return false;
		}
		data += chunk;
		len -= chunk;
	}
	return true;
}

bool
pg_copy_in_end(PgConn *conn, long *rows)
{
	PGresult *res;
	bool ok;

	if (PQputCopyEnd(conn->conn, NULL) != 1)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	res = PQgetResult(conn->conn);
	ok = (PQresultStatus(res) == PGRES_COMMAND_OK);
	if (!ok)
		pg_error_record(conn, res);
	else if (rows)
		*rows = pg_result_affected(res);
	PQclear(res);
	while ((res = PQgetResult(conn->conn)) != NULL)
		PQclear(res);
	return ok;
}

bool
pg_copy_out_begin(PgConn *conn, const char *sql)
{
	return pg_expect(conn, PQexec(conn->conn, sql), PGRES_COPY_OUT);
}

int
pg_copy_out_get(PgConn *conn, char **data)
{
	int len = PQgetCopyData(conn->conn, data, 0);
	PGresult *res;

	if (len > 0)
		return len;
	if (len == -2)
	{
		pg_error_record(conn, NULL);
		return -2;
	}
	/* end of data: the COPY's own result says whether it succeeded */
	res = PQgetResult(conn->conn);
	len = (PQresultStatus(res) == PGRES_COMMAND_OK) ? -1 : -2;
	if (len == -2)
		pg_error_record(conn, res);
	PQclear(res);
	while ((res = PQgetResult(conn->conn)) != NULL)
		PQclear(res);
	return len;
}

void
pg_free(void *data)
{
	PQfreemem(data);
}

/* --- streaming replication ------------------------------------------------- */

bool
pg_replication_start(PgConn *conn, const char *command)
{
	return pg_expect(conn, PQexec(conn->conn, command), PGRES_COPY_BOTH);
}

int
pg_replication_receive(PgConn *conn, char **data, int timeout_ms, PgConn *pump)
{
	int64_t deadline = clock_us() + (int64_t) timeout_ms * 1000;
	bool read_socket = false;

	for (;;)
	{
		ReadAhead *queue = conn->queue;
		int len;
		struct pollfd pfd[2] = {{PQsocket(conn->conn), POLLIN, 0}};
		int npfd = 1;
		int64_t wait_us;

		if (queue && queue->head < queue->count)
		{
			*data = queue->messages[queue->head];
			queue->bytes -= queue->lengths[queue->head];
			return queue->lengths[queue->head++];
		}
		len = queue && queue->end ? queue->end
								  : PQgetCopyData(conn->conn, data, 1);

		if (len > 0)
			return len;
		if (len == -1)
		{
			PGresult *res = PQgetResult(conn->conn);

			/* the server ended the stream, maybe with an error */
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
			{
				pg_error_record(conn, res);
				PQclear(res);
				return -2;
			}
			PQclear(res);
			return -1;
		}
		if (len == -2)
		{
			pg_error_record(conn, NULL);
			return -2;
		}

		/*
		 * Nothing buffered: read what the socket has, then wait; meanwhile
		 * keep feeding pump's server the statements queued for it.
		 */
		if (pump && PQflush(pump->conn) == 1)
		{
			pfd[1].fd = PQsocket(pump->conn);
			pfd[1].events = POLLOUT;
			npfd = 2;
		}
		if (read_socket)
		{
			int64_t gather_us = queue ? pg_until_next_read(queue->data_us) : 0;

			wait_us = timeout_ms < 0 ? -1 : deadline - clock_us();
			if (timeout_ms >= 0 && wait_us <= 0)
				return 0;
			if (gather_us > 0 && (wait_us < 0 || gather_us < wait_us))
			{
				/*
				 * A busy stream: what it sends meanwhile comes in one read,
				 * not a wakeup per message (see pg_poll_read_ahead).
				 */
				queue->data_us = 0;
				if (pg_poll(pfd + 1, npfd - 1, gather_us) < 0)
					return 0; /* a signal to look at */
			}
			else if (pg_poll(pfd, npfd, wait_us) <= 0)
				return 0; /* timeout, or a signal to look at */
			else if (!(pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
				continue; /* only pump's socket was ready */
		}
		if (queue)
			pg_read_ahead(conn);
		else if (PQconsumeInput(conn->conn) != 1)
		{
			pg_error_record(conn, NULL);
			return -2;
		}
		read_socket = true;
	}
}

bool
pg_replication_send(PgConn *conn, const char *data, int len)
{
	/*
	 * The stream ended while it was read ahead: pg_replication_receive()
	 * says so once the messages before the end are handed back, and what
	 * this would have said goes to the next connection.
	 */
	if (conn->queue && conn->queue->end != 0)
		return true;
	if (PQputCopyData(conn->conn, data, len) != 1 || PQflush(conn->conn) != 0)
	{
		pg_error_record(conn, NULL);
		return false;
	}
	return true;
}
