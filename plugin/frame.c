/*-------------------------------------------------------------------------
 *
 * frame.c
 *	  Encode pgferry frames with protobuf-c (see frame.h).
 *
 * Each frame is built from protobuf-c's generated structs, allocated in the
 * caller's per-change memory context, and packed straight into the output
 * buffer: no intermediate copy of the message is made.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "port/pg_bswap.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "frame.h"
#include "options.h"
#include "pgferry.pb-c.h"

static const Pgferry__Value value_init = PGFERRY__VALUE__INIT;

/*
 * Start a frame: proto_version on the first frame of a transaction (and on
 * Startup), Frame.xid inside a stream block.
 */
static void
frame_init(Pgferry__Frame *frame, bool versioned, TransactionId stream_xid)
{
	pgferry__frame__init(frame);
	if (versioned)
	{
		frame->has_proto_version = true;
		frame->proto_version = PGFERRY_PROTO_VERSION;
	}
	if (TransactionIdIsValid(stream_xid))
	{
		frame->has_xid = true;
		frame->xid = stream_xid;
	}
}

/*
 * Most a Value adds to its Frame besides its bytes: the tags and lengths of
 * the Value and of its place in the Tuple.  A row frame's size is bounded
 * by its values' bytes plus this per value plus ROW_FRAME_OVERHEAD, which
 * lets it be packed without first walking the whole message to size it.
 */
#define VALUE_OVERHEAD (2 * (1 + 10))
#define ROW_FRAME_OVERHEAD 128

/*
 * Pack `frame` at the end of `out`.  `size_bound`, when not zero, is an upper
 * bound of the packed size; otherwise the exact size is computed first.
 */
static void
frame_pack(StringInfo out, const Pgferry__Frame *frame, size_t size_bound)
{
	size_t size = size_bound;

	if (size == 0 || size >= MaxAllocSize - out->len)
		size = pgferry__frame__get_packed_size(frame);
	if (size >= MaxAllocSize - out->len)
		ereport(
			ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("pgferry frame of %zu bytes is too large", size),
			 errdetail("One logical decoding message holds at most 1 GB.")));
	enlargeStringInfo(out, (int) size);
	out->len +=
		(int) pgferry__frame__pack(frame, (uint8_t *) out->data + out->len);
	out->data[out->len] = '\0';
}

/*
 * The send format of the commonest built-in types, made without calling the
 * send function, which builds a StringInfo for every value.  The bytes are
 * the same: network-order integers and IEEE floats for the fixed-size types,
 * the stored bytes for bytea and for the text types (whose send functions
 * would convert to client_encoding, but pgferry.c refuses binary sessions
 * where that is not a no-op).  `scratch` has room for 8 bytes.  Returns
 * false for the other types.
 */
static bool
send_directly(Oid typid, Datum datum, uint8 *scratch,
			  ProtobufCBinaryData *result)
{
	union
	{
		float4 f;
		uint32 i;
	} float4_bits;
	union
	{
		float8 f;
		uint64 i;
	} float8_bits;
	uint16 u16;
	uint32 u32;
	uint64 u64;

	switch (typid)
	{
		case BOOLOID:
			scratch[0] = DatumGetBool(datum) ? 1 : 0;
			result->len = 1;
			break;
		case INT2OID:
			u16 = pg_hton16((uint16) DatumGetInt16(datum));
			memcpy(scratch, &u16, sizeof(u16));
			result->len = sizeof(u16);
			break;
		case INT4OID:
		case OIDOID:
		case DATEOID:
			u32 = pg_hton32(DatumGetUInt32(datum));
			memcpy(scratch, &u32, sizeof(u32));
			result->len = sizeof(u32);
			break;
		case INT8OID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case TIMEOID:
		case CASHOID:
			u64 = pg_hton64((uint64) DatumGetInt64(datum));
			memcpy(scratch, &u64, sizeof(u64));
			result->len = sizeof(u64);
			break;
		case FLOAT4OID:
			float4_bits.f = DatumGetFloat4(datum);
			u32 = pg_hton32(float4_bits.i);
			memcpy(scratch, &u32, sizeof(u32));
			result->len = sizeof(u32);
			break;
		case FLOAT8OID:
			float8_bits.f = DatumGetFloat8(datum);
			u64 = pg_hton64(float8_bits.i);
			memcpy(scratch, &u64, sizeof(u64));
			result->len = sizeof(u64);
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case BYTEAOID:
		{
			struct varlena *bytes;

			bytes = pg_detoast_datum_packed(
				(struct varlena *) DatumGetPointer(datum));
			result->data = (uint8_t *) VARDATA_ANY(bytes);
			result->len = VARSIZE_ANY_EXHDR(bytes);
			return true;
		}
		default:
			return false;
	}
	result->data = scratch;
	return true;
}

/*
 * One Value per live column.  A TOAST pointer to disk in a tuple means the
 * change did not touch the value: it is marked, never fetched.  Any other
 * value goes through the column's send or output function, which detoasts
 * a changed TOASTed value (the reorder buffer has it in memory).
 */
static Pgferry__Tuple *
encode_tuple(RelEntry *entry, TupleDesc desc, HeapTuple tuple,
			 size_t *size_bound)
{
	Datum *datums;
	bool *nulls;
	Pgferry__Tuple *result;
	Pgferry__Value *values;
	uint8 *scratch;

	if (desc->natts != entry->natts)
		elog(ERROR,
			 "pgferry relation cache entry of \"%s\" has %d attributes, tuple "
			 "descriptor %d",
			 entry->name, entry->natts, desc->natts);

	datums = palloc(desc->natts * sizeof(Datum));
	nulls = palloc(desc->natts * sizeof(bool));
	heap_deform_tuple(tuple, desc, datums, nulls);

	result = palloc(sizeof(Pgferry__Tuple));
	pgferry__tuple__init(result);
	result->n_values = entry->ncolumns;
	result->values = palloc(entry->ncolumns * sizeof(Pgferry__Value *));
	values = palloc(entry->ncolumns * sizeof(Pgferry__Value));
	scratch = palloc(entry->ncolumns * sizeof(uint64));

	for (int i = 0; i < entry->ncolumns; i++)
	{
		RelColumn *column = &entry->columns[i];
		Datum datum = datums[column->attindex];
		Pgferry__Value *value = &values[i];

		*value = value_init;
		result->values[i] = value;
		if (nulls[column->attindex])
		{
			value->kind_case = PGFERRY__VALUE__KIND_NULL;
			value->null = true;
		}
		else if (column->varlena &&
				 VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(datum)))
		{
			value->kind_case = PGFERRY__VALUE__KIND_UNCHANGED_TOAST;
			value->unchanged_toast = true;
		}
		else if (column->binary)
		{
			value->kind_case = PGFERRY__VALUE__KIND_BINARY;
			if (!send_directly(column->typid, datum,
							   &scratch[i * sizeof(uint64)], &value->binary))
			{
				bytea *sent = SendFunctionCall(&column->out, datum);

				value->binary.data = (uint8_t *) VARDATA(sent);
				value->binary.len = VARSIZE(sent) - VARHDRSZ;
			}
		}
		else
		{
			char *text = OutputFunctionCall(&column->out, datum);

			value->kind_case = PGFERRY__VALUE__KIND_TEXT;
			value->text.data = (uint8_t *) text;
			value->text.len = strlen(text);
		}
		/* the text and binary members share their place in the union */
		if (value->kind_case == PGFERRY__VALUE__KIND_TEXT ||
			value->kind_case == PGFERRY__VALUE__KIND_BINARY)
			*size_bound += value->binary.len;
		*size_bound += VALUE_OVERHEAD;
	}
	return result;
}

void
frame_write_startup(StringInfo out, const char *database, bool binary)
{
	Pgferry__Frame frame;
	Pgferry__Startup startup = PGFERRY__STARTUP__INIT;

	frame_init(&frame, true, InvalidTransactionId);
	startup.plugin_version = PGFERRY_VERSION;
	/* the running server's, which may be a later minor than the headers */
	startup.server_version_num =
		(uint32) atoi(GetConfigOption("server_version_num", false, false));
	startup.server_encoding = (char *) GetDatabaseEncodingName();
	startup.database = (char *) database;
	startup.integer_datetimes = true;
	startup.float8_byval = FLOAT8PASSBYVAL;
#ifdef WORDS_BIGENDIAN
	startup.big_endian = true;
#else
	startup.big_endian = false;
#endif
	startup.sizeof_datum = sizeof(Datum);
	startup.binary = binary;
	startup.system_identifier = GetSystemIdentifier();

	frame.kind_case = PGFERRY__FRAME__KIND_STARTUP;
	frame.startup = &startup;
	frame_pack(out, &frame, 0);
}

void
frame_write_begin(StringInfo out, ReorderBufferTXN *txn, const char *origin)
{
	Pgferry__Frame frame;
	Pgferry__Begin begin = PGFERRY__BEGIN__INIT;

	frame_init(&frame, true, InvalidTransactionId);
	begin.xid = txn->xid;
	begin.final_lsn = txn->final_lsn;
	begin.commit_time = txn->xact_time.commit_time;
	if (origin != NULL)
	{
		begin.origin = (char *) origin;
		begin.has_origin_lsn = true;
		begin.origin_lsn = txn->origin_lsn;
	}

	frame.kind_case = PGFERRY__FRAME__KIND_BEGIN;
	frame.begin = &begin;
	frame_pack(out, &frame, 0);
}

void
frame_write_commit(StringInfo out, ReorderBufferTXN *txn,
				   XLogRecPtr commit_lsn)
{
	Pgferry__Frame frame;
	Pgferry__Commit commit = PGFERRY__COMMIT__INIT;

	frame_init(&frame, false, InvalidTransactionId);
	commit.xid = txn->xid;
	commit.commit_lsn = commit_lsn;
	commit.end_lsn = txn->end_lsn;
	commit.commit_time = txn->xact_time.commit_time;

	frame.kind_case = PGFERRY__FRAME__KIND_COMMIT;
	frame.commit = &commit;
	frame_pack(out, &frame, 0);
}

static Pgferry__ReplicaIdentity
replica_identity(char relreplident)
{
	switch (relreplident)
	{
		case REPLICA_IDENTITY_DEFAULT:
			return PGFERRY__REPLICA_IDENTITY__DEFAULT;
		case REPLICA_IDENTITY_NOTHING:
			return PGFERRY__REPLICA_IDENTITY__NOTHING;
		case REPLICA_IDENTITY_FULL:
			return PGFERRY__REPLICA_IDENTITY__FULL;
		case REPLICA_IDENTITY_INDEX:
			return PGFERRY__REPLICA_IDENTITY__INDEX;
	}
	elog(ERROR, "unexpected replica identity \"%c\"", relreplident);
	return PGFERRY__REPLICA_IDENTITY__DEFAULT; /* keep compiler quiet */
}

static void
describe_column(Pgferry__Column *result, Form_pg_attribute attr,
				const RelColumn *column)
{
	HeapTuple type_tuple;
	Form_pg_type type;

	pgferry__column__init(result);
	type_tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(attr->atttypid));
	if (!HeapTupleIsValid(type_tuple))
		elog(ERROR, "cache lookup failed for type %u", attr->atttypid);
	type = (Form_pg_type) GETSTRUCT(type_tuple);
	result->type_schema = get_namespace_name(type->typnamespace);
	result->type_name = pstrdup(NameStr(type->typname));
	ReleaseSysCache(type_tuple);

	result->name = NameStr(attr->attname);
	result->type_oid = attr->atttypid;
	result->typmod = attr->atttypmod;
	result->key = column->key;
	result->generated = attr->attgenerated == ATTRIBUTE_GENERATED_STORED;
	result->identity = attr->attidentity != '\0';
	result->binary = column->binary;
	result->not_null = attr->attnotnull;
}

void
frame_write_relation(StringInfo out, TransactionId stream_xid,
					 Relation relation, const RelEntry *entry)
{
	TupleDesc desc = RelationGetDescr(relation);
	Pgferry__Frame frame;
	Pgferry__Relation rel = PGFERRY__RELATION__INIT;
	Pgferry__Column *columns;

	frame_init(&frame, false, stream_xid);
	rel.oid = RelationGetRelid(relation);
	rel.schema = entry->schema;
	rel.name = entry->name;
	rel.replica_identity = replica_identity(relation->rd_rel->relreplident);
	rel.root_schema = entry->root_schema;
	rel.root_name = entry->root_name;

	rel.n_columns = entry->ncolumns;
	rel.columns = palloc(entry->ncolumns * sizeof(Pgferry__Column *));
	columns = palloc(entry->ncolumns * sizeof(Pgferry__Column));
	for (int i = 0; i < entry->ncolumns; i++)
	{
		const RelColumn *column = &entry->columns[i];

		describe_column(&columns[i], TupleDescAttr(desc, column->attindex),
						column);
		rel.columns[i] = &columns[i];
	}

	frame.kind_case = PGFERRY__FRAME__KIND_RELATION;
	frame.relation = &rel;
	frame_pack(out, &frame, 0);
}

void
frame_write_insert(StringInfo out, TransactionId stream_xid, Relation relation,
				   RelEntry *entry, HeapTuple new_tuple)
{
	Pgferry__Frame frame;
	Pgferry__Insert insert = PGFERRY__INSERT__INIT;
	size_t size_bound = ROW_FRAME_OVERHEAD;

	frame_init(&frame, false, stream_xid);
	insert.relation_oid = RelationGetRelid(relation);
	insert.new_tuple = encode_tuple(entry, RelationGetDescr(relation),
									new_tuple, &size_bound);

	frame.kind_case = PGFERRY__FRAME__KIND_INSERT;
	frame.insert = &insert;
	frame_pack(out, &frame, size_bound);
}

/*
 * What an old tuple holds: the whole row under REPLICA IDENTITY FULL, the
 * key columns otherwise; none when the change logged no old tuple.
 */
static Pgferry__OldKind
old_kind(Relation relation, HeapTuple old_tuple)
{
	if (old_tuple == NULL)
		return PGFERRY__OLD_KIND__NONE;
	if (relation->rd_rel->relreplident == REPLICA_IDENTITY_FULL)
		return PGFERRY__OLD_KIND__ROW;
	return PGFERRY__OLD_KIND__KEY;
}

void
frame_write_update(StringInfo out, TransactionId stream_xid, Relation relation,
				   RelEntry *entry, HeapTuple old_tuple, HeapTuple new_tuple)
{
	TupleDesc desc = RelationGetDescr(relation);
	Pgferry__Frame frame;
	Pgferry__Update update = PGFERRY__UPDATE__INIT;
	size_t size_bound = ROW_FRAME_OVERHEAD;

	frame_init(&frame, false, stream_xid);
	update.relation_oid = RelationGetRelid(relation);
	update.old_kind = old_kind(relation, old_tuple);
	if (old_tuple != NULL)
		update.old_tuple = encode_tuple(entry, desc, old_tuple, &size_bound);
	update.new_tuple = encode_tuple(entry, desc, new_tuple, &size_bound);

	frame.kind_case = PGFERRY__FRAME__KIND_UPDATE;
	frame.update = &update;
	frame_pack(out, &frame, size_bound);
}

void
frame_write_delete(StringInfo out, TransactionId stream_xid, Relation relation,
				   RelEntry *entry, HeapTuple old_tuple)
{
	Pgferry__Frame frame;
	Pgferry__Delete delete = PGFERRY__DELETE__INIT;
	size_t size_bound = ROW_FRAME_OVERHEAD;

	frame_init(&frame, false, stream_xid);
	delete.relation_oid = RelationGetRelid(relation);
	delete.old_kind = old_kind(relation, old_tuple);
	if (old_tuple != NULL)
		delete.old_tuple = encode_tuple(entry, RelationGetDescr(relation),
										old_tuple, &size_bound);

	frame.kind_case = PGFERRY__FRAME__KIND_DELETE;
	frame.delete_ = &delete;
	frame_pack(out, &frame, size_bound);
}

void
frame_write_truncate(StringInfo out, TransactionId stream_xid, int nrelids,
					 const Oid *relids, bool cascade, bool restart_identity)
{
	Pgferry__Frame frame;
	Pgferry__Truncate truncate = PGFERRY__TRUNCATE__INIT;

	frame_init(&frame, false, stream_xid);
	truncate.n_relation_oids = nrelids;
	truncate.relation_oids = (uint32_t *) relids;
	truncate.cascade = cascade;
	truncate.restart_identity = restart_identity;

	frame.kind_case = PGFERRY__FRAME__KIND_TRUNCATE;
	frame.truncate = &truncate;
	frame_pack(out, &frame, 0);
}

void
frame_write_message(StringInfo out, TransactionId stream_xid, XLogRecPtr lsn,
					bool transactional, const char *prefix, Size size,
					const char *content)
{
	Pgferry__Frame frame;
	Pgferry__Message message = PGFERRY__MESSAGE__INIT;

	frame_init(&frame, !transactional, stream_xid);
	message.transactional = transactional;
	message.lsn = lsn;
	message.prefix = (char *) prefix;
	message.content.data = (uint8_t *) content;
	message.content.len = size;

	frame.kind_case = PGFERRY__FRAME__KIND_MESSAGE;
	frame.message = &message;
	frame_pack(out, &frame, 0);
}

void
frame_write_stream_start(StringInfo out, TransactionId xid, bool first_segment)
{
	Pgferry__Frame frame;
	Pgferry__StreamStart start = PGFERRY__STREAM_START__INIT;

	frame_init(&frame, true, xid);
	start.xid = xid;
	start.first_segment = first_segment;

	frame.kind_case = PGFERRY__FRAME__KIND_STREAM_START;
	frame.stream_start = &start;
	frame_pack(out, &frame, 0);
}

void
frame_write_stream_stop(StringInfo out, TransactionId xid)
{
	Pgferry__Frame frame;
	Pgferry__StreamStop stop = PGFERRY__STREAM_STOP__INIT;

	frame_init(&frame, false, xid);
	frame.kind_case = PGFERRY__FRAME__KIND_STREAM_STOP;
	frame.stream_stop = &stop;
	frame_pack(out, &frame, 0);
}

void
frame_write_stream_commit(StringInfo out, ReorderBufferTXN *txn,
						  XLogRecPtr commit_lsn)
{
	Pgferry__Frame frame;
	Pgferry__StreamCommit commit = PGFERRY__STREAM_COMMIT__INIT;

	frame_init(&frame, false, InvalidTransactionId);
	commit.xid = txn->xid;
	commit.commit_lsn = commit_lsn;
	commit.end_lsn = txn->end_lsn;
	commit.commit_time = txn->xact_time.commit_time;

	frame.kind_case = PGFERRY__FRAME__KIND_STREAM_COMMIT;
	frame.stream_commit = &commit;
	frame_pack(out, &frame, 0);
}

void
frame_write_stream_abort(StringInfo out, TransactionId xid,
						 TransactionId subxid, XLogRecPtr abort_lsn)
{
	Pgferry__Frame frame;
	Pgferry__StreamAbort stream_abort = PGFERRY__STREAM_ABORT__INIT;

	frame_init(&frame, false, InvalidTransactionId);
	stream_abort.xid = xid;
	stream_abort.subxid = subxid;
	stream_abort.abort_lsn = abort_lsn;

	frame.kind_case = PGFERRY__FRAME__KIND_STREAM_ABORT;
	frame.stream_abort = &stream_abort;
	frame_pack(out, &frame, 0);
}
