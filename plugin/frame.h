/*-------------------------------------------------------------------------
 *
 * frame.h
 *	  Encode pgferry frames (proto/pgferry.proto) into the decoding output.
 *
 * One function per frame kind; each appends exactly one serialised
 * pgferry.Frame to `out`.  This is the only part of the plugin that knows
 * protobuf.  It decides nothing: which changes and which relations are sent,
 * and when, is the caller's policy (pgferry.c).  Allocations are made in the
 * current memory context, which the caller resets after each change.
 *
 * `stream_xid` is the xid of the (sub)transaction inside a stream block and
 * InvalidTransactionId outside; when valid it is written as Frame.xid.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_FRAME_H
#define PGFERRY_FRAME_H

#include "access/htup.h"
#include "lib/stringinfo.h"
#include "replication/reorderbuffer.h"
#include "utils/rel.h"

#include "relcache.h"

extern void frame_write_startup(StringInfo out, const char *database,
								bool binary);
extern void frame_write_begin(StringInfo out, ReorderBufferTXN *txn,
							  const char *origin);
extern void frame_write_commit(StringInfo out, ReorderBufferTXN *txn,
							   XLogRecPtr commit_lsn);
extern void frame_write_relation(StringInfo out, TransactionId stream_xid,
								 Relation relation, const RelEntry *entry);
extern void frame_write_insert(StringInfo out, TransactionId stream_xid,
							   Relation relation, RelEntry *entry,
							   HeapTuple new_tuple);
extern void frame_write_update(StringInfo out, TransactionId stream_xid,
							   Relation relation, RelEntry *entry,
							   HeapTuple old_tuple, HeapTuple new_tuple);
extern void frame_write_delete(StringInfo out, TransactionId stream_xid,
							   Relation relation, RelEntry *entry,
							   HeapTuple old_tuple);
extern void frame_write_truncate(StringInfo out, TransactionId stream_xid,
								 int nrelids, const Oid *relids, bool cascade,
								 bool restart_identity);

/*
 * A non-transactional message opens no transaction, so it carries the
 * protocol version itself.
 */
extern void frame_write_message(StringInfo out, TransactionId stream_xid,
								XLogRecPtr lsn, bool transactional,
								const char *prefix, Size size,
								const char *content);
extern void frame_write_stream_start(StringInfo out, TransactionId xid,
									 bool first_segment);
extern void frame_write_stream_stop(StringInfo out, TransactionId xid);
extern void frame_write_stream_commit(StringInfo out, ReorderBufferTXN *txn,
									  XLogRecPtr commit_lsn);
extern void frame_write_stream_abort(StringInfo out, TransactionId xid,
									 TransactionId subxid,
									 XLogRecPtr abort_lsn);

#endif /* PGFERRY_FRAME_H */
