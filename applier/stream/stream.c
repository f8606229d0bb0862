/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  The source side: a logical replication stream from a slot.
 *
 * The streaming replication protocol, as the applier uses it: XLogData
 * ('w') carries one frame of pgoutput, or a group of pgferry frames, each
 * behind its length (the plugin's group_bytes: one send per group instead
 * of one per frame, on both sides); a primary keepalive ('k') carries the
 * server's WAL end and whether it wants an answer; the answer is a standby
 * status update ('r') with the positions written, flushed and applied.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "stream/stream.h"

/* A status update goes out at least this often. */
#define STREAM_FEEDBACK_INTERVAL_MS 10000

/*
 * The size of the pgferry plugin's groups of frames: a send of 64 kB costs
 * the walsender and us about what a send of one small frame does.  A group
 * also ends with every transaction, so small ones are not held back.
 */
#define STREAM_GROUP_BYTES "65536"

/* The length in front of each frame of a group. */
#define STREAM_FRAME_LENGTH_BYTES 4

/*
 * Session settings of the walsender: text values must be produced in
 * forms any target reads back the same way.
 */
#define STREAM_SESSION_OPTIONS                                                \
	"-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 "     \
	"-c timezone=UTC -c lc_monetary=C"

struct Stream
{
	StreamOptions options;
	PgConn *conn;
	char *system_identifier;
	char *database;
	SourceFacts facts;		 /* stream_source_facts() */
	char *frame;			 /* the last message, owned by libpq */
	const uint8_t *group_at; /* its next frame not handed over yet */
	const uint8_t *group_end;
	StreamMessage group; /* where the message is in the WAL */
	Lsn received;		 /* end of the last frame received */
	Lsn flushed;
	int64_t last_feedback_ms;
	bool transient; /* the last failure may go away */
};

static uint64_t
stream_read_uint64(const char *p)
{
	uint32_t hi;
	uint32_t lo;

	memcpy(&hi, p, 4);
	memcpy(&lo, p + 4, 4);
	return ((uint64_t) ntohl(hi) << 32) | ntohl(lo);
}

static void
stream_write_uint64(char *p, uint64_t value)
{
	uint32_t hi = htonl((uint32_t) (value >> 32));
	uint32_t lo = htonl((uint32_t) value);

	memcpy(p, &hi, 4);
	memcpy(p + 4, &lo, 4);
}

/* Records a failure of the connection and whether it may pass. */
static bool
stream_fail(Stream *stream, const char *what)
{
	stream->transient = pg_error_is_transient(stream->conn);
	pg_report(stream->conn, "%s", what);
	return false;
}

static bool
stream_identify(Stream *stream)
{
	PgResult *res = pg_query(stream->conn, "IDENTIFY_SYSTEM", 0, NULL);

	if (res == NULL)
		return stream_fail(stream, "identify the source system");
	if (pg_result_rows(res) != 1 || pg_result_columns(res) < 4 ||
		pg_result_value(res, 0, 3) == NULL)
	{
		pg_result_free(res);
		log_error("source: IDENTIFY_SYSTEM did not name a database");
		log_hint("connect to the database the slot decodes (dbname=...)");
		return false;
	}
	stream->system_identifier = xstrdup(pg_result_value(res, 0, 0));
	stream->database = xstrdup(pg_result_value(res, 0, 3));
	pg_result_free(res);
	return true;
}

/*
 * Text values must come in the server encoding the Startup frame names
 * (and binary text-like values always do): whatever client_encoding the
 * environment asked for (PGCLIENTENCODING), the session uses the server's.
 */
static bool
stream_use_server_encoding(Stream *stream)
{
	const char *encoding = pg_parameter(stream->conn, "server_encoding");
	char *literal;
	Buf sql = BUF_INIT;
	bool ok;

	if (encoding == NULL)
		return true;
	literal = pg_quote_literal(encoding);
	buf_printf(&sql, "SET client_encoding = %s", literal);
	ok = pg_exec(stream->conn, sql.data);
	buf_free(&sql);
	free(literal);
	return ok || stream_fail(stream, "use the server encoding");
}

/*
 * Explains the server's refusal of the plugin, with the exact fix.  The
 * setting is a list: ALTER SYSTEM wants one literal per library.
 */
static void
stream_explain_plugin_refused(Stream *stream)
{
	PgResult *res =
		pg_query(stream->conn, "SHOW output_plugin_libraries", 0, NULL);
	const char *current = res ? pg_result_value(res, 0, 0) : NULL;
	Buf list = BUF_INIT;

	for (const char *p = current; p && *p;)
	{
		size_t len;
		char *name;
		char *literal;

		while (*p == ' ' || *p == ',' || *p == '"')
			p++;
		len = strcspn(p, ",\"");
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0)
			break;
		name = xstrndup(p, len);
		literal = pg_quote_literal(name);
		buf_printf(&list, "%s, ", literal);
		free(literal);
		free(name);
		p += len;
	}
	log_error("source: the server refuses pgferry as an output plugin: %s",
			  pg_error_message(stream->conn));
	log_hint("as a superuser on the source, run: ALTER SYSTEM SET "
			 "output_plugin_libraries = %s'pgferry'; SELECT "
			 "pg_reload_conf();",
			 list.data ? list.data : "");
	buf_free(&list);
	pg_result_free(res);
}

/*
 * Whether starting failed on a slot that max_slot_wal_keep_size
 * invalidated: its wal_status is "lost" (the server's message varies with
 * its version).
 */
static bool
stream_slot_lost(Stream *stream)
{
	char *slot;
	Buf sql = BUF_INIT;
	PgResult *res;
	bool lost;

	if (strcmp(pg_error_sqlstate(stream->conn), "55000") != 0)
		return false;
	/* a replication session takes no parameters */
	slot = pg_quote_literal(stream->options.slot);
	buf_printf(&sql,
			   "SELECT wal_status = 'lost' FROM pg_replication_slots "
			   "WHERE slot_name = %s",
			   slot);
	res = pg_query(stream->conn, sql.data, 0, NULL);
	lost = res && pg_result_rows(res) == 1 && pg_result_bool(res, 0, 0);
	pg_result_free(res);
	buf_free(&sql);
	free(slot);
	return lost;
}

static bool
stream_create_slot(Stream *stream)
{
	char *slot = pg_quote_ident(stream->options.slot);
	Buf sql = BUF_INIT;
	bool ok;

	/* the pre-15 syntax, which every server since 10 accepts */
	buf_printf(&sql,
			   "CREATE_REPLICATION_SLOT %s LOGICAL %s "
			   "NOEXPORT_SNAPSHOT",
			   slot, PLUGIN_NAME(stream->options.plugin));
	ok = pg_exec(stream->conn, sql.data);
	buf_free(&sql);
	free(slot);
	if (ok)
	{
		log_info("created replication slot \"%s\" with plugin %s",
				 stream->options.slot, PLUGIN_NAME(stream->options.plugin));
		return true;
	}
	if (strcmp(pg_error_sqlstate(stream->conn), "42501") == 0 &&
		strstr(pg_error_message(stream->conn), "output plugin"))
	{
		stream_explain_plugin_refused(stream);
		return false;
	}
	return stream_fail(stream, "create the replication slot");
}

static bool
stream_check_slot(Stream *stream)
{
	char *literal = pg_quote_literal(stream->options.slot);
	Buf sql = BUF_INIT;
	PgResult *res;
	const char *plugin;
	const char *database;
	bool ok = true;

	buf_printf(&sql,
			   "SELECT plugin, database, slot_type "
			   "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
			   literal);
	res = pg_query(stream->conn, sql.data, 0, NULL);
	buf_free(&sql);
	free(literal);
	if (res == NULL)
		return stream_fail(stream, "look up the replication slot");
	if (pg_result_rows(res) == 0)
	{
		pg_result_free(res);
		if (stream->options.create_slot)
			return stream_create_slot(stream);
		log_error("source: replication slot \"%s\" does not exist",
				  stream->options.slot);
		log_hint("add --create-slot to create it with the %s plugin",
				 PLUGIN_NAME(stream->options.plugin));
		return false;
	}
	plugin = pg_result_value(res, 0, 0);
	database = pg_result_value(res, 0, 1);
	if (strcmp(pg_result_value(res, 0, 2), "logical") != 0 || plugin == NULL ||
		strcmp(plugin, PLUGIN_NAME(stream->options.plugin)) != 0)
	{
		log_error("source: replication slot \"%s\" does not use the %s "
				  "plugin (it uses %s)",
				  stream->options.slot, PLUGIN_NAME(stream->options.plugin),
				  plugin ? plugin : "none: physical");
		log_hint("give --plugin %s, or drop the slot, or choose another slot "
				 "name with --slot",
				 plugin ? plugin : "pgferry");
		ok = false;
	}
	else if (database && strcmp(database, stream->database) != 0)
	{
		log_error("source: replication slot \"%s\" decodes database \"%s\", "
				  "not \"%s\"",
				  stream->options.slot, database, stream->database);
		log_hint("connect --source to database \"%s\"", database);
		ok = false;
	}
	pg_result_free(res);
	return ok;
}

void
stream_connect_request(const StreamOptions *options, PgConnRequest *request)
{
	request->conninfo = options->conninfo;
	request->label = "source";
	request->kind = PG_CONN_REPLICATION;
	request->extra_options = STREAM_SESSION_OPTIONS;
	request->conn = NULL;
	request->retried = false;
}

Stream *
stream_open(const StreamOptions *options, PgConn *conn, bool *transient)
{
	Stream *stream = xcalloc(1, sizeof(Stream));

	stream->options = *options;
	stream->conn = conn;
	*transient = true;
	if (!stream_identify(stream) || !stream_use_server_encoding(stream) ||
		!stream_check_slot(stream))
	{
		*transient = stream->transient;
		stream_close(stream);
		return NULL;
	}
	return stream;
}

void
stream_close(Stream *stream)
{
	if (stream == NULL)
		return;
	if (stream->frame)
		pg_free(stream->frame);
	pg_disconnect(stream->conn);
	free(stream->system_identifier);
	free(stream->database);
	free(stream);
}

const char *
stream_system_identifier(const Stream *stream)
{
	return stream->system_identifier;
}

const char *
stream_database(const Stream *stream)
{
	return stream->database;
}

const SourceFacts *
stream_source_facts(Stream *stream)
{
	const char *datetimes = pg_parameter(stream->conn, "integer_datetimes");

	stream->facts.plugin_version = PLUGIN_NAME(stream->options.plugin);
	stream->facts.server_version_num =
		(uint32_t) pg_server_version(stream->conn);
	stream->facts.server_encoding =
		pg_parameter(stream->conn, "server_encoding");
	stream->facts.database = stream->database;
	stream->facts.integer_datetimes =
		datetimes && strcmp(datetimes, "on") == 0;
	stream->facts.binary = false;
	stream->facts.system_identifier =
		strtoull(stream->system_identifier, NULL, 10);
	return &stream->facts;
}

/* pgoutput's protocol: the highest version the server speaks. */
static const char *
stream_pgoutput_version(const Stream *stream)
{
	int version = pg_server_version(stream->conn);

	return version >= 160000   ? "4"
		   : version >= 150000 ? "3"
		   : version >= 140000 ? "2"
							   : "1";
}

/* Appends one plugin option, name and value quoted. */
static void
stream_add_option(Buf *sql, const char *name, const char *value)
{
	char *quoted = pg_quote_literal(value);

	buf_printf(sql, "%s\"%s\" %s", sql->data[sql->len - 1] == '(' ? "" : ", ",
			   name, quoted);
	free(quoted);
}

/*
 * pgoutput's options: text values (binary ones of user types name their
 * source OIDs), streaming of large transactions (from protocol 2) and
 * logical messages (DDL capture) on.
 */
static void
stream_pgoutput_options(const Stream *stream, Buf *sql)
{
	const char *version = stream_pgoutput_version(stream);
	char *names = pg_quote_ident(stream->options.publication);

	stream_add_option(sql, "proto_version", version);
	stream_add_option(sql, "publication_names", names);
	if (pg_server_version(stream->conn) >= 140000)
	{
		stream_add_option(sql, "streaming", "on");
		stream_add_option(sql, "messages", "on");
	}
	free(names);
}

bool
stream_start(Stream *stream)
{
	char *slot = pg_quote_ident(stream->options.slot);
	char start[LSN_TEXT_LEN];
	Buf sql = BUF_INIT;
	bool ok;

	buf_printf(&sql, "START_REPLICATION SLOT %s LOGICAL %s (", slot,
			   pg_lsn_format(stream->flushed, start));
	if (stream->options.plugin == PLUGIN_PGOUTPUT)
		stream_pgoutput_options(stream, &sql);
	else
	{
		stream_add_option(&sql, "proto_version", "1");
		stream_add_option(&sql, "binary",
						  stream->options.binary ? "on" : "off");
		stream_add_option(&sql, "skip_empty_xacts", "on");
		stream_add_option(&sql, "stream", "on");
		stream_add_option(&sql, "group_bytes", STREAM_GROUP_BYTES);
		if (stream->options.include_tables)
			stream_add_option(&sql, "include_tables",
							  stream->options.include_tables);
		if (stream->options.exclude_tables)
			stream_add_option(&sql, "exclude_tables",
							  stream->options.exclude_tables);
	}
	buf_append_str(&sql, ")");
	ok = pg_replication_start(stream->conn, sql.data);
	buf_free(&sql);
	free(slot);
	if (!ok)
	{
		if (strcmp(pg_error_sqlstate(stream->conn), "42501") == 0 &&
			strstr(pg_error_message(stream->conn), "output plugin"))
		{
			stream_explain_plugin_refused(stream);
			stream->transient = false;
			return false;
		}
		if (strcmp(pg_error_sqlstate(stream->conn), "22023") == 0 &&
			strstr(pg_error_message(stream->conn),
				   "unrecognized pgferry option"))
		{
			pg_report(stream->conn, "start replication");
			log_hint("the source's pgferry plugin is older than this "
					 "applier: install the same pgferry version on the "
					 "source (make install there; new walsenders load it)");
			stream->transient = false;
			return false;
		}
		if (stream_slot_lost(stream))
		{
			log_error("source: slot \"%s\" was invalidated: the source "
					  "removed WAL it still held, past "
					  "max_slot_wal_keep_size",
					  stream->options.slot);
			log_hint(STREAM_SLOT_LOST_FIX, stream->options.slot);
			stream->transient = false;
			return false;
		}
		return stream_fail(stream, "start replication");
	}
	stream->last_feedback_ms = clock_ms();
	return true;
}

void
stream_set_flushed(Stream *stream, Lsn flushed)
{
	if (flushed > stream->flushed)
		stream->flushed = flushed;
}

Lsn
stream_flushed(const Stream *stream)
{
	return stream->flushed;
}

bool
stream_send_feedback(Stream *stream)
{
	char reply[1 + 8 + 8 + 8 + 8 + 1];
	Lsn written = stream->received > stream->flushed ? stream->received
													 : stream->flushed;

	reply[0] = 'r';
	stream_write_uint64(reply + 1, written);
	stream_write_uint64(reply + 9, stream->flushed);
	stream_write_uint64(reply + 17, stream->flushed);
	stream_write_uint64(reply + 25, (uint64_t) clock_pg_now());
	reply[33] = 0;
	stream->last_feedback_ms = clock_ms();
	if (!pg_replication_send(stream->conn, reply, sizeof(reply)))
		return stream_fail(stream, "send a status update to the source");
	return true;
}

/* Hands over the next frame of the group in stream->frame. */
static StreamEvent
stream_next_frame(Stream *stream, StreamMessage *msg)
{
	const uint8_t *at = stream->group_at;
	size_t left = (size_t) (stream->group_end - at);
	uint32_t len = 0;

	if (left >= STREAM_FRAME_LENGTH_BYTES)
	{
		memcpy(&len, at, STREAM_FRAME_LENGTH_BYTES);
		len = ntohl(len);
	}
	if (left < STREAM_FRAME_LENGTH_BYTES ||
		len > left - STREAM_FRAME_LENGTH_BYTES)
	{
		char lsn[LSN_TEXT_LEN];

		log_error("source: the replication message at %s ends inside a "
				  "frame (%zu bytes left, the frame says %" PRIu32 ")",
				  pg_lsn_format(stream->group.wal_start, lsn), left, len);
		log_hint("the source's pgferry plugin writes another format than "
				 "this applier reads: install the same pgferry version on "
				 "both sides");
		stream->group_at = stream->group_end = NULL;
		return STREAM_BAD_INPUT;
	}
	*msg = stream->group;
	msg->data = at + STREAM_FRAME_LENGTH_BYTES;
	msg->len = len;
	stream->group_at = msg->data + len;
	return STREAM_FRAME;
}

StreamEvent
stream_receive(Stream *stream, int timeout_ms, StreamMessage *msg,
			   PgConn *pump)
{
	int64_t now;
	int64_t until_feedback;
	int len;

	if (stream->group_at < stream->group_end)
		return stream_next_frame(stream, msg);
	now = clock_ms();
	until_feedback =
		stream->last_feedback_ms + STREAM_FEEDBACK_INTERVAL_MS - now;
	if (stream->frame)
	{
		pg_free(stream->frame);
		stream->frame = NULL;
	}
	if (until_feedback <= 0)
	{
		if (!stream_send_feedback(stream))
			return STREAM_FAILED;
		until_feedback = STREAM_FEEDBACK_INTERVAL_MS;
	}
	if (timeout_ms < 0 || timeout_ms > until_feedback)
		timeout_ms = (int) until_feedback;

	len =
		pg_replication_receive(stream->conn, &stream->frame, timeout_ms, pump);
	if (len == 0)
		return STREAM_IDLE;
	if (len == -1)
	{
		LogFields fields = LOG_FIELDS_INIT;

		stream->transient = true;
		log_event(pg_failure_level(stream->conn, true), &fields,
				  "source: the server ended the replication stream");
		return STREAM_FAILED;
	}
	if (len < 0)
	{
		stream_fail(stream, "receive from the replication stream");
		return STREAM_FAILED;
	}

	if (stream->frame[0] == 'w' && len >= 25)
	{
		msg->wal_start = stream_read_uint64(stream->frame + 1);
		msg->wal_end = stream_read_uint64(stream->frame + 9);
		msg->data = (const uint8_t *) stream->frame + 25;
		msg->len = (uint32_t) (len - 25);
		if (msg->wal_start > stream->received)
			stream->received = msg->wal_start;
		if (stream->options.plugin == PLUGIN_PGOUTPUT)
			return STREAM_FRAME;
		stream->group = *msg;
		stream->group_at = msg->data;
		stream->group_end = msg->data + msg->len;
		return stream_next_frame(stream, msg);
	}
	if (stream->frame[0] == 'k' && len >= 18)
	{
		msg->wal_end = stream_read_uint64(stream->frame + 1);
		msg->data = NULL;
		msg->len = 0;
		if (stream->frame[17] && !stream_send_feedback(stream))
			return STREAM_FAILED;
		return STREAM_KEEPALIVE;
	}
	log_error("source: unexpected replication message of type '%c' "
			  "(%d bytes)",
			  stream->frame[0], len);
	return STREAM_BAD_INPUT;
}

bool
stream_failure_is_transient(const Stream *stream)
{
	return stream->transient;
}
