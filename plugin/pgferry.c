/*-------------------------------------------------------------------------
 *
 * pgferry.c
 *	  The pgferry logical decoding output plugin: its callbacks, in the order
 *	  of a decoding session's life.
 *
 * This file is the policy: which changes, relations and transactions reach
 * the consumer, and in which frames.  The encoding of frames is frame.c's,
 * the relation cache and table filters relcache.c's, the options
 * options.c's.
 *
 * A Startup frame opens every decoding session: it is written just before
 * the session's first other frame, since the startup callback cannot write.
 * When empty transactions are skipped or tables are filtered, a
 * transaction's Begin (or a stream block's StreamStart) waits for its first
 * change that is sent, so a transaction with nothing to send sends nothing.
 *
 * With group_bytes, frames are gathered in ctx->out, each behind its length,
 * and written as one message once the group holds that many bytes, and at
 * every frame that ends what a consumer acts on (a Commit, a stream block's
 * StreamStop, StreamCommit or StreamAbort, a Message outside a
 * transaction).  A group is thus never left open between two WAL records:
 * the walsender's keepalives and its progress never pass a frame it holds.
 * One send per group instead of one per frame is most of what the walsender
 * spends on a stream of small changes beside decoding them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/output_plugin.h"
#include "utils/memutils.h"

#include "frame.h"
#include "options.h"
#include "relcache.h"

PG_MODULE_MAGIC;

/*
 * Keep a walsender's progress reports going through long runs of changes
 * that are filtered out, as pgoutput does.
 */
#define SKIPPED_CHANGES_PER_PROGRESS_UPDATE 100

/* State of a decoding session, in ctx->output_plugin_private. */
typedef struct PgferrySession
{
	PgferryOptions options;
	RelCache *relations;
	MemoryContext change_cxt; /* reset after every callback */
	char *database;
	bool skip_any_origin;		/* skip_origin '*' */
	RepOriginId skip_origin_id; /* skip_origin naming one origin */
	bool defer_begin;			/* Begin waits for the first change sent */
	bool startup_sent;
	bool group_open;	 /* ctx->out holds a group not yet written */
	int length_at;		 /* where the current frame's length goes */
	int skipped_changes; /* since the last progress update */
} PgferrySession;

/*
 * State of a top-level transaction, in its txn->output_plugin_private, from
 * its first callback to its commit or abort.
 */
typedef struct PgferryTxn
{
	bool begin_sent; /* Begin sent (not streamed) */
	bool block_open; /* StreamStart of the current block sent */
	bool streamed;	 /* some stream block of it was sent */
} PgferryTxn;

extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static void
resolve_catalog_names(PgferrySession *session)
{
	MemoryContext session_cxt = CurrentMemoryContext;
	bool own_transaction = !IsTransactionState();

	/* a walsender starts decoding outside any transaction */
	if (own_transaction)
		StartTransactionCommand();

	session->database =
		MemoryContextStrdup(session_cxt, get_database_name(MyDatabaseId));
	if (session->options.skip_origin != NULL)
	{
		session->skip_any_origin =
			strcmp(session->options.skip_origin, "*") == 0;
		if (!session->skip_any_origin)
		{
			session->skip_origin_id =
				replorigin_by_name(session->options.skip_origin, true);
			if (session->skip_origin_id == InvalidRepOriginId)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("replication origin \"%s\" of pgferry option "
								"\"skip_origin\" does not exist",
								session->options.skip_origin),
						 errhint("Create it with "
								 "pg_replication_origin_create(), or give "
								 "'*' to skip changes from every origin.")));
		}
	}

	if (own_transaction)
		CommitTransactionCommand();
	MemoryContextSwitchTo(session_cxt);
}

/*
 * Binary values of text types go out as stored (frame.c), and the send
 * functions of the other types that hold text convert it to the session's
 * client_encoding: the two agree, and match Startup.server_encoding, only
 * when that conversion does nothing.
 */
static void
check_client_encoding(void)
{
	int client = pg_get_client_encoding();
	int server = GetDatabaseEncoding();

	if (client == server || client == PG_SQL_ASCII || server == PG_SQL_ASCII)
		return;
	ereport(
		ERROR,
		(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		 errmsg("pgferry binary mode needs client_encoding to be the "
				"server encoding"),
		 errdetail("The session's client_encoding is \"%s\"; values are "
				   "sent in the server encoding \"%s\".",
				   pg_encoding_to_char(client), pg_encoding_to_char(server)),
		 errhint("Connect with client_encoding=%s, or decode with binary "
				 "off.",
				 pg_encoding_to_char(server))));
}

static void
pgferry_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
				bool is_init)
{
	MemoryContext old_cxt = MemoryContextSwitchTo(ctx->context);
	PgferrySession *session = palloc0(sizeof(PgferrySession));

	options_parse(&session->options, ctx->output_plugin_options);
	session->change_cxt = AllocSetContextCreate(ctx->context, "pgferry change",
												ALLOCSET_DEFAULT_SIZES);
	session->relations = rel_cache_create(ctx->context, &session->options);
	session->defer_begin = session->options.skip_empty_xacts ||
						   session->options.include_tables != NIL ||
						   session->options.exclude_tables != NIL;
	/* creating a slot decodes nothing */
	if (!is_init)
	{
		if (session->options.binary)
			check_client_encoding();
		resolve_catalog_names(session);
	}
	ctx->output_plugin_private = session;
	MemoryContextSwitchTo(old_cxt);

	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;
	ctx->streaming &= session->options.stream;
}

static void end_frame(LogicalDecodingContext *ctx, bool last_write,
					  bool ends_unit);

/*
 * Starts one frame in ctx->out, writing the session's Startup frame first if
 * it is still due.  The caller encodes the frame into ctx->out and calls
 * end_frame().
 */
static void
begin_frame(LogicalDecodingContext *ctx, bool last_write)
{
	PgferrySession *session = ctx->output_plugin_private;

	if (!session->startup_sent)
	{
		session->startup_sent = true;
		begin_frame(ctx, false);
		frame_write_startup(ctx->out, session->database,
							session->options.binary);
		end_frame(ctx, false, false);
	}
	if (session->options.group_bytes == 0)
	{
		OutputPluginPrepareWrite(ctx, last_write);
		return;
	}
	if (!session->group_open)
	{
		OutputPluginPrepareWrite(ctx, true);
		session->group_open = true;
	}
	session->length_at = ctx->out->len;
	appendBinaryStringInfo(ctx->out, "\0\0\0\0", PGFERRY_FRAME_LENGTH_BYTES);
}

/*
 * Ends the frame begin_frame() started.  ends_unit: the frame ends a
 * transaction, a stream block or a message outside any, which the consumer
 * must have now.
 */
static void
end_frame(LogicalDecodingContext *ctx, bool last_write, bool ends_unit)
{
	PgferrySession *session = ctx->output_plugin_private;
	uint32 length;

	if (session->options.group_bytes == 0)
	{
		OutputPluginWrite(ctx, last_write);
		return;
	}
	length = pg_hton32(ctx->out->len - session->length_at -
					   PGFERRY_FRAME_LENGTH_BYTES);
	memcpy(ctx->out->data + session->length_at, &length,
		   PGFERRY_FRAME_LENGTH_BYTES);
	if (ends_unit || ctx->out->len >= (int) session->options.group_bytes)
	{
		OutputPluginWrite(ctx, true);
		session->group_open = false;
	}
}

static PgferryTxn *
txn_state(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;

	if (top->output_plugin_private == NULL)
		top->output_plugin_private =
			MemoryContextAllocZero(ctx->context, sizeof(PgferryTxn));
	return top->output_plugin_private;
}

/* End a top-level transaction's state, returning it (zeroed if none). */
static PgferryTxn
txn_state_take(ReorderBufferTXN *txn)
{
	PgferryTxn state = {0};

	if (txn->output_plugin_private != NULL)
	{
		state = *(PgferryTxn *) txn->output_plugin_private;
		pfree(txn->output_plugin_private);
		txn->output_plugin_private = NULL;
	}
	return state;
}

/*
 * Send the frame that opens the transaction (Begin) or the current stream
 * block (StreamStart), unless it was sent already.
 */
static void
open_transaction(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 bool streaming)
{
	PgferrySession *session = ctx->output_plugin_private;
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;
	PgferryTxn *state = txn_state(ctx, top);

	if (streaming)
	{
		if (state->block_open)
			return;
		begin_frame(ctx, false);
		frame_write_stream_start(ctx->out, top->xid, !state->streamed);
		end_frame(ctx, false, false);
		state->block_open = true;
		state->streamed = true;
	}
	else
	{
		char *origin = NULL;

		if (state->begin_sent)
			return;
		if (session->options.include_origin &&
			top->origin_id != InvalidRepOriginId)
			(void) replorigin_by_oid(top->origin_id, true, &origin);
		begin_frame(ctx, false);
		frame_write_begin(ctx->out, top, origin);
		end_frame(ctx, false, false);
		state->begin_sent = true;
	}
}

/*
 * Send the Relation frame of `relation` unless the consumer has it: once
 * per session, again after an invalidation, and once in the stream of each
 * streamed transaction.  Inside a stream it is tagged with the top-level
 * xid, so the abort of a subtransaction never takes it away.
 */
static void
send_relation(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  Relation relation, RelEntry *entry, bool streaming)
{
	TransactionId stream_xid = InvalidTransactionId;

	if (streaming)
		stream_xid = txn->toptxn != NULL ? txn->toptxn->xid : txn->xid;
	if (rel_frame_sent(entry, stream_xid))
		return;
	begin_frame(ctx, false);
	frame_write_relation(ctx->out, stream_xid, relation, entry);
	end_frame(ctx, false, false);
	rel_mark_frame_sent(entry, stream_xid);
}

static void
note_skipped_change(LogicalDecodingContext *ctx)
{
	PgferrySession *session = ctx->output_plugin_private;

	if (++session->skipped_changes >= SKIPPED_CHANGES_PER_PROGRESS_UPDATE)
	{
		OutputPluginUpdateProgress(ctx, false);
		session->skipped_changes = 0;
	}
}

static void
pgferry_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PgferrySession *session = ctx->output_plugin_private;
	MemoryContext old_cxt;

	if (session->defer_begin)
		return;
	old_cxt = MemoryContextSwitchTo(session->change_cxt);
	open_transaction(ctx, txn, false);
	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

static void
decode_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  Relation relation, ReorderBufferChange *change, bool streaming)
{
	PgferrySession *session = ctx->output_plugin_private;
	TransactionId stream_xid =
		streaming ? change->txn->xid : InvalidTransactionId;
	HeapTuple old_tuple = NULL;
	HeapTuple new_tuple = NULL;
	RelEntry *entry;
	MemoryContext old_cxt;

	if (!rel_is_decoded(relation))
	{
		note_skipped_change(ctx);
		return;
	}

	old_cxt = MemoryContextSwitchTo(session->change_cxt);
	entry = rel_cache_lookup(session->relations, relation);
	if (!entry->included)
	{
		note_skipped_change(ctx);
		goto done;
	}

	if (change->data.tp.oldtuple != NULL)
		old_tuple = &change->data.tp.oldtuple->tuple;
	if (change->data.tp.newtuple != NULL)
		new_tuple = &change->data.tp.newtuple->tuple;

	open_transaction(ctx, txn, streaming);
	send_relation(ctx, txn, relation, entry, streaming);
	begin_frame(ctx, true);
	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			if (new_tuple == NULL)
				elog(ERROR, "insert into \"%s\" without new tuple",
					 entry->name);
			frame_write_insert(ctx->out, stream_xid, relation, entry,
							   new_tuple);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			if (new_tuple == NULL)
				elog(ERROR, "update of \"%s\" without new tuple", entry->name);
			frame_write_update(ctx->out, stream_xid, relation, entry,
							   old_tuple, new_tuple);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			frame_write_delete(ctx->out, stream_xid, relation, entry,
							   old_tuple);
			break;
		default:
			elog(ERROR, "unexpected change action %d", change->action);
	}
	end_frame(ctx, true, false);

done:
	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

static void
pgferry_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   Relation relation, ReorderBufferChange *change)
{
	decode_change(ctx, txn, relation, change, false);
}

/*
 * Only the decoded, included relations of a TRUNCATE are listed; partitioned
 * tables are left out since their partitions are listed themselves.
 */
static void
decode_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				int nrelations, Relation relations[],
				ReorderBufferChange *change, bool streaming)
{
	PgferrySession *session = ctx->output_plugin_private;
	MemoryContext old_cxt = MemoryContextSwitchTo(session->change_cxt);
	Oid *relids = palloc(nrelations * sizeof(Oid));
	RelEntry **entries = palloc(nrelations * sizeof(RelEntry *));
	Relation *included = palloc(nrelations * sizeof(Relation));
	int nincluded = 0;

	for (int i = 0; i < nrelations; i++)
	{
		RelEntry *entry;

		if (!rel_is_decoded(relations[i]))
			continue;
		entry = rel_cache_lookup(session->relations, relations[i]);
		if (!entry->included)
			continue;
		relids[nincluded] = RelationGetRelid(relations[i]);
		entries[nincluded] = entry;
		included[nincluded] = relations[i];
		nincluded++;
	}

	if (nincluded == 0)
		note_skipped_change(ctx);
	else
	{
		open_transaction(ctx, txn, streaming);
		for (int i = 0; i < nincluded; i++)
			send_relation(ctx, txn, included[i], entries[i], streaming);
		begin_frame(ctx, true);
		frame_write_truncate(
			ctx->out, streaming ? change->txn->xid : InvalidTransactionId,
			nincluded, relids, change->data.truncate.cascade,
			change->data.truncate.restart_seqs);
		end_frame(ctx, true, false);
	}

	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

static void
pgferry_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 int nrelations, Relation relations[],
				 ReorderBufferChange *change)
{
	decode_truncate(ctx, txn, nrelations, relations, change, false);
}

/*
 * Messages are never filtered by table: a transactional one opens its
 * transaction like a change; a non-transactional one stands alone.
 */
static void
decode_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   XLogRecPtr message_lsn, bool transactional, const char *prefix,
			   Size message_size, const char *message, bool streaming)
{
	PgferrySession *session = ctx->output_plugin_private;
	MemoryContext old_cxt = MemoryContextSwitchTo(session->change_cxt);

	if (transactional)
		open_transaction(ctx, txn, streaming);
	begin_frame(ctx, true);
	frame_write_message(ctx->out, streaming ? txn->xid : InvalidTransactionId,
						message_lsn, transactional, prefix, message_size,
						message);
	end_frame(ctx, true, !transactional);

	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

static void
pgferry_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				XLogRecPtr message_lsn, bool transactional, const char *prefix,
				Size message_size, const char *message)
{
	decode_message(ctx, txn, message_lsn, transactional, prefix, message_size,
				   message, false);
}

static void
pgferry_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   XLogRecPtr commit_lsn)
{
	PgferrySession *session = ctx->output_plugin_private;
	bool begin_sent = txn_state_take(txn).begin_sent;
	MemoryContext old_cxt;

	/* a skipped transaction still moves the walsender's progress on */
	OutputPluginUpdateProgress(ctx, !begin_sent);
	session->skipped_changes = 0;
	if (!begin_sent)
		return;

	old_cxt = MemoryContextSwitchTo(session->change_cxt);
	begin_frame(ctx, true);
	frame_write_commit(ctx->out, txn, commit_lsn);
	end_frame(ctx, true, true);
	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

static bool
pgferry_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	PgferrySession *session = ctx->output_plugin_private;

	if (session->skip_any_origin)
		return origin_id != InvalidRepOriginId;
	return session->options.skip_origin != NULL &&
		   origin_id == session->skip_origin_id;
}

static void
pgferry_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PgferrySession *session = ctx->output_plugin_private;
	MemoryContext old_cxt = MemoryContextSwitchTo(session->change_cxt);

	txn_state(ctx, txn)->block_open = false;
	if (!session->defer_begin)
		open_transaction(ctx, txn, true);

	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

static void
pgferry_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PgferrySession *session = ctx->output_plugin_private;
	PgferryTxn *state = txn_state(ctx, txn);
	MemoryContext old_cxt;

	if (!state->block_open)
		return;
	old_cxt = MemoryContextSwitchTo(session->change_cxt);
	begin_frame(ctx, true);
	frame_write_stream_stop(ctx->out, txn->xid);
	end_frame(ctx, true, true);
	state->block_open = false;
	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

/*
 * `txn` is the top-level transaction or one of its subtransactions; only
 * the top-level abort ends the transaction's state.
 */
static void
pgferry_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 XLogRecPtr abort_lsn)
{
	PgferrySession *session = ctx->output_plugin_private;
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;
	PgferryTxn *state = top->output_plugin_private;

	if (state != NULL && state->streamed)
	{
		MemoryContext old_cxt = MemoryContextSwitchTo(session->change_cxt);

		begin_frame(ctx, true);
		frame_write_stream_abort(ctx->out, top->xid, txn->xid, abort_lsn);
		end_frame(ctx, true, true);
		MemoryContextSwitchTo(old_cxt);
		MemoryContextReset(session->change_cxt);
	}
	if (txn == top)
	{
		rel_cache_stream_end(session->relations, top->xid, false);
		(void) txn_state_take(top);
	}
}

static void
pgferry_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  XLogRecPtr commit_lsn)
{
	PgferrySession *session = ctx->output_plugin_private;
	bool streamed = txn_state_take(txn).streamed;
	MemoryContext old_cxt;

	rel_cache_stream_end(session->relations, txn->xid, true);
	OutputPluginUpdateProgress(ctx, !streamed);
	session->skipped_changes = 0;
	if (!streamed)
		return;

	old_cxt = MemoryContextSwitchTo(session->change_cxt);
	begin_frame(ctx, true);
	frame_write_stream_commit(ctx->out, txn, commit_lsn);
	end_frame(ctx, true, true);
	MemoryContextSwitchTo(old_cxt);
	MemoryContextReset(session->change_cxt);
}

static void
pgferry_stream_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  Relation relation, ReorderBufferChange *change)
{
	decode_change(ctx, txn, relation, change, true);
}

static void
pgferry_stream_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   XLogRecPtr message_lsn, bool transactional,
					   const char *prefix, Size message_size,
					   const char *message)
{
	decode_message(ctx, txn, message_lsn, transactional, prefix, message_size,
				   message, true);
}

static void
pgferry_stream_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						int nrelations, Relation relations[],
						ReorderBufferChange *change)
{
	decode_truncate(ctx, txn, nrelations, relations, change, true);
}

static void
pgferry_shutdown(LogicalDecodingContext *ctx)
{
	PgferrySession *session = ctx->output_plugin_private;

	rel_cache_destroy(session->relations);
	session->relations = NULL;
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = pgferry_startup;
	cb->begin_cb = pgferry_begin;
	cb->change_cb = pgferry_change;
	cb->truncate_cb = pgferry_truncate;
	cb->message_cb = pgferry_message;
	cb->commit_cb = pgferry_commit;
	cb->filter_by_origin_cb = pgferry_filter_by_origin;
	cb->stream_start_cb = pgferry_stream_start;
	cb->stream_stop_cb = pgferry_stream_stop;
	cb->stream_abort_cb = pgferry_stream_abort;
	cb->stream_commit_cb = pgferry_stream_commit;
	cb->stream_change_cb = pgferry_stream_change;
	cb->stream_message_cb = pgferry_stream_message;
	cb->stream_truncate_cb = pgferry_stream_truncate;
	cb->shutdown_cb = pgferry_shutdown;
}
