/*-------------------------------------------------------------------------
 *
 * frame_text.c
 *	  pgferry.frame_text(frame bytea, masked boolean): one frame as text;
 *	  pgferry.group_frames(message bytea): the frames of a group.
 *
 * The function decodes the real protobuf bytes, so it shows what any
 * consumer would read.  A frame renders as its kind followed by its fields,
 * on one line:
 *
 *	  begin proto_version=1 xid=741 final_lsn=0/1A2B3C8 commit_time='...'
 *	  relation public.t oid=16391 replica_identity=default
 *		  columns=(id pg_catalog.int4 oid=23 key not_null binary, ...)
 *	  insert public.t new=(\x0000002a, 'some text', NULL, unchanged_toast)
 *	  update public.t old=key(...) new=(...)
 *	  commit xid=741 commit_lsn=0/1A2B3C8 end_lsn=0/1A2B3F8 commit_time='...'
 *
 * A text value is an SQL literal, a binary value its bytes in hex, an
 * unchanged TOASTed value `unchanged_toast`.  Row and truncate frames name
 * their relations by looking the OID up in the current database (current
 * names, so a relation renamed since is shown by its new name).  Frame.xid,
 * set inside stream blocks, is shown as frame_xid.
 *
 * With masked = true the values that change from run to run (xids, LSNs,
 * times, OIDs of user objects, the system identifier and server version)
 * print as `*`, which keeps regression outputs stable.
 *
 * A frame that is not a pgferry.Frame, or of a protocol version this
 * library does not read, is an error.
 *
 * Decoded with the group_bytes option, a message holds a group of frames,
 * each behind its length (4 bytes, most significant first):
 * group_frames() splits it, so that
 *
 *	  SELECT pgferry.frame_text(f) FROM pg_logical_slot_get_binary_changes(
 *		  'slot', NULL, NULL, 'group_bytes', '65536') AS c,
 *		  unnest(pgferry.group_frames(c.data)) AS f;
 *
 * reads such a stream.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "options.h"
#include "pgferry.pb-c.h"

PG_FUNCTION_INFO_V1(pgferry_frame_text);
PG_FUNCTION_INFO_V1(pgferry_group_frames);

typedef struct Renderer
{
	StringInfo out;
	bool masked;
} Renderer;

/* protobuf-c allocates through palloc, so an error frees everything */
static void *
palloc_for_protobuf(void *allocator_data, size_t size)
{
	return palloc(size);
}

static void
pfree_for_protobuf(void *allocator_data, void *pointer)
{
	if (pointer != NULL)
		pfree(pointer);
}

static void
append_xid(Renderer *r, const char *name, uint32 xid)
{
	if (r->masked)
		appendStringInfo(r->out, " %s=*", name);
	else
		appendStringInfo(r->out, " %s=%u", name, xid);
}

static void
append_lsn(Renderer *r, const char *name, uint64 lsn)
{
	if (r->masked)
		appendStringInfo(r->out, " %s=*", name);
	else
		appendStringInfo(r->out, " %s=%X/%X", name, LSN_FORMAT_ARGS(lsn));
}

static void
append_time(Renderer *r, const char *name, int64 time)
{
	if (r->masked)
		appendStringInfo(r->out, " %s=*", name);
	else
		appendStringInfo(r->out, " %s=%s", name,
						 quote_literal_cstr(timestamptz_to_str(time)));
}

static void
append_bool(Renderer *r, const char *name, bool value)
{
	appendStringInfo(r->out, " %s=%s", name, value ? "true" : "false");
}

/* OIDs of objects made by initdb are the same everywhere: never masked. */
static void
append_oid(Renderer *r, const char *name, Oid oid)
{
	if (r->masked && oid >= FirstNormalObjectId)
		appendStringInfo(r->out, " %s=*", name);
	else
		appendStringInfo(r->out, " %s=%u", name, oid);
}

static void
append_hex(StringInfo out, const ProtobufCBinaryData *bytes)
{
	static const char hex[] = "0123456789abcdef";

	appendStringInfoString(out, "\\x");
	enlargeStringInfo(out, bytes->len * 2);
	for (size_t i = 0; i < bytes->len; i++)
	{
		out->data[out->len++] = hex[bytes->data[i] >> 4];
		out->data[out->len++] = hex[bytes->data[i] & 0xf];
	}
	out->data[out->len] = '\0';
}

/* Bytes as an SQL literal when they are text in the server encoding. */
static void
append_bytes_as_text(StringInfo out, const ProtobufCBinaryData *bytes)
{
	if (memchr(bytes->data, '\0', bytes->len) == NULL &&
		pg_verifymbstr((const char *) bytes->data, bytes->len, true))
		appendStringInfoString(
			out, quote_literal_cstr(
					 pnstrdup((const char *) bytes->data, bytes->len)));
	else
		append_hex(out, bytes);
}

static void
append_relation_ref(Renderer *r, Oid relid)
{
	char *name = get_rel_name(relid);

	if (name != NULL)
	{
		char *schema = get_namespace_name(get_rel_namespace(relid));

		appendStringInfoString(r->out,
							   quote_qualified_identifier(schema, name));
		if (!r->masked)
			appendStringInfo(r->out, "(%u)", relid);
	}
	else if (r->masked)
		appendStringInfoString(r->out, "oid=*");
	else
		appendStringInfo(r->out, "oid=%u", relid);
}

static void
corrupt_frame(const char *detail)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					errmsg("invalid pgferry frame"), errdetail("%s", detail)));
}

static void
append_tuple(Renderer *r, const Pgferry__Tuple *tuple)
{
	appendStringInfoChar(r->out, '(');
	for (size_t i = 0; i < tuple->n_values; i++)
	{
		const Pgferry__Value *value = tuple->values[i];

		if (i > 0)
			appendStringInfoString(r->out, ", ");
		switch (value->kind_case)
		{
			case PGFERRY__VALUE__KIND_NULL:
				appendStringInfoString(r->out, "NULL");
				break;
			case PGFERRY__VALUE__KIND_UNCHANGED_TOAST:
				appendStringInfoString(r->out, "unchanged_toast");
				break;
			case PGFERRY__VALUE__KIND_TEXT:
				append_bytes_as_text(r->out, &value->text);
				break;
			case PGFERRY__VALUE__KIND_BINARY:
				append_hex(r->out, &value->binary);
				break;
			default:
				corrupt_frame("A column value has no kind.");
		}
	}
	appendStringInfoChar(r->out, ')');
}

static void
append_old_tuple(Renderer *r, Pgferry__OldKind kind,
				 const Pgferry__Tuple *tuple)
{
	appendStringInfoString(r->out, " old=");
	if (kind == PGFERRY__OLD_KIND__NONE || tuple == NULL)
	{
		appendStringInfoString(r->out, "none");
		return;
	}
	appendStringInfoString(r->out,
						   kind == PGFERRY__OLD_KIND__ROW ? "row" : "key");
	append_tuple(r, tuple);
}

static void
render_startup(Renderer *r, const Pgferry__Startup *startup)
{
	appendStringInfo(r->out, " plugin_version=%s", startup->plugin_version);
	if (r->masked)
		appendStringInfoString(r->out, " server_version_num=*");
	else
		appendStringInfo(r->out, " server_version_num=%u",
						 startup->server_version_num);
	appendStringInfo(r->out, " server_encoding=%s database=%s",
					 startup->server_encoding,
					 quote_identifier(startup->database));
	append_bool(r, "integer_datetimes", startup->integer_datetimes);
	append_bool(r, "float8_byval", startup->float8_byval);
	append_bool(r, "big_endian", startup->big_endian);
	appendStringInfo(r->out, " sizeof_datum=%u", startup->sizeof_datum);
	append_bool(r, "binary", startup->binary);
	if (r->masked)
		appendStringInfoString(r->out, " system_identifier=*");
	else
		appendStringInfo(r->out, " system_identifier=" UINT64_FORMAT,
						 startup->system_identifier);
}

static void
render_begin(Renderer *r, const Pgferry__Begin *begin)
{
	append_xid(r, "xid", begin->xid);
	append_lsn(r, "final_lsn", begin->final_lsn);
	append_time(r, "commit_time", begin->commit_time);
	if (begin->origin != NULL)
		appendStringInfo(r->out, " origin=%s",
						 quote_literal_cstr(begin->origin));
	/* the origin's LSN is the value its applier recorded: never masked */
	if (begin->has_origin_lsn)
		appendStringInfo(r->out, " origin_lsn=%X/%X",
						 LSN_FORMAT_ARGS(begin->origin_lsn));
}

static void
render_commit(Renderer *r, const Pgferry__Commit *commit)
{
	append_xid(r, "xid", commit->xid);
	append_lsn(r, "commit_lsn", commit->commit_lsn);
	append_lsn(r, "end_lsn", commit->end_lsn);
	append_time(r, "commit_time", commit->commit_time);
}

static const char *
replica_identity_name(Pgferry__ReplicaIdentity identity)
{
	switch (identity)
	{
		case PGFERRY__REPLICA_IDENTITY__DEFAULT:
			return "default";
		case PGFERRY__REPLICA_IDENTITY__NOTHING:
			return "nothing";
		case PGFERRY__REPLICA_IDENTITY__FULL:
			return "full";
		case PGFERRY__REPLICA_IDENTITY__INDEX:
			return "index";
		default:
			break;
	}
	corrupt_frame("A Relation frame has an unknown replica identity.");
	return NULL; /* keep compiler quiet */
}

static void
render_relation(Renderer *r, const Pgferry__Relation *rel)
{
	appendStringInfo(r->out, " %s",
					 quote_qualified_identifier(rel->schema, rel->name));
	append_oid(r, "oid", rel->oid);
	appendStringInfo(r->out, " replica_identity=%s",
					 replica_identity_name(rel->replica_identity));
	if (rel->root_name != NULL)
		appendStringInfo(
			r->out, " root=%s",
			quote_qualified_identifier(rel->root_schema, rel->root_name));
	appendStringInfoString(r->out, " columns=(");
	for (size_t i = 0; i < rel->n_columns; i++)
	{
		const Pgferry__Column *column = rel->columns[i];

		if (i > 0)
			appendStringInfoString(r->out, ", ");
		appendStringInfo(r->out, "%s %s", quote_identifier(column->name),
						 quote_qualified_identifier(column->type_schema,
													column->type_name));
		append_oid(r, "oid", column->type_oid);
		if (column->typmod != -1)
			appendStringInfo(r->out, " typmod=%d", column->typmod);
		if (column->key)
			appendStringInfoString(r->out, " key");
		if (column->not_null)
			appendStringInfoString(r->out, " not_null");
		if (column->generated)
			appendStringInfoString(r->out, " generated");
		if (column->identity)
			appendStringInfoString(r->out, " identity");
		if (column->binary)
			appendStringInfoString(r->out, " binary");
	}
	appendStringInfoChar(r->out, ')');
}

static void
render_truncate(Renderer *r, const Pgferry__Truncate *truncate)
{
	appendStringInfoString(r->out, " relations=(");
	for (size_t i = 0; i < truncate->n_relation_oids; i++)
	{
		if (i > 0)
			appendStringInfoString(r->out, ", ");
		append_relation_ref(r, truncate->relation_oids[i]);
	}
	appendStringInfoChar(r->out, ')');
	append_bool(r, "cascade", truncate->cascade);
	append_bool(r, "restart_identity", truncate->restart_identity);
}

static void
render_message(Renderer *r, const Pgferry__Message *message)
{
	append_bool(r, "transactional", message->transactional);
	append_lsn(r, "lsn", message->lsn);
	appendStringInfo(
		r->out, " prefix=%s content=", quote_literal_cstr(message->prefix));
	append_bytes_as_text(r->out, &message->content);
}

static void
render_kind(Renderer *r, const Pgferry__Frame *frame)
{
	switch (frame->kind_case)
	{
		case PGFERRY__FRAME__KIND_STARTUP:
			render_startup(r, frame->startup);
			break;
		case PGFERRY__FRAME__KIND_BEGIN:
			render_begin(r, frame->begin);
			break;
		case PGFERRY__FRAME__KIND_COMMIT:
			render_commit(r, frame->commit);
			break;
		case PGFERRY__FRAME__KIND_RELATION:
			render_relation(r, frame->relation);
			break;
		case PGFERRY__FRAME__KIND_INSERT:
			appendStringInfoChar(r->out, ' ');
			append_relation_ref(r, frame->insert->relation_oid);
			appendStringInfoString(r->out, " new=");
			append_tuple(r, frame->insert->new_tuple);
			break;
		case PGFERRY__FRAME__KIND_UPDATE:
			appendStringInfoChar(r->out, ' ');
			append_relation_ref(r, frame->update->relation_oid);
			append_old_tuple(r, frame->update->old_kind,
							 frame->update->old_tuple);
			appendStringInfoString(r->out, " new=");
			append_tuple(r, frame->update->new_tuple);
			break;
		case PGFERRY__FRAME__KIND_DELETE:
			appendStringInfoChar(r->out, ' ');
			append_relation_ref(r, frame->delete_->relation_oid);
			append_old_tuple(r, frame->delete_->old_kind,
							 frame->delete_->old_tuple);
			break;
		case PGFERRY__FRAME__KIND_TRUNCATE:
			render_truncate(r, frame->truncate);
			break;
		case PGFERRY__FRAME__KIND_MESSAGE:
			render_message(r, frame->message);
			break;
		case PGFERRY__FRAME__KIND_STREAM_START:
			append_xid(r, "xid", frame->stream_start->xid);
			append_bool(r, "first_segment",
						frame->stream_start->first_segment);
			break;
		case PGFERRY__FRAME__KIND_STREAM_STOP:
			break;
		case PGFERRY__FRAME__KIND_STREAM_COMMIT:
			append_xid(r, "xid", frame->stream_commit->xid);
			append_lsn(r, "commit_lsn", frame->stream_commit->commit_lsn);
			append_lsn(r, "end_lsn", frame->stream_commit->end_lsn);
			append_time(r, "commit_time", frame->stream_commit->commit_time);
			break;
		case PGFERRY__FRAME__KIND_STREAM_ABORT:
			append_xid(r, "xid", frame->stream_abort->xid);
			append_xid(r, "subxid", frame->stream_abort->subxid);
			append_lsn(r, "abort_lsn", frame->stream_abort->abort_lsn);
			break;
		default:
			corrupt_frame("The frame has no kind.");
	}
}

static const char *
kind_name(const Pgferry__Frame *frame)
{
	const ProtobufCFieldDescriptor *field;

	field = protobuf_c_message_descriptor_get_field(
		&pgferry__frame__descriptor, frame->kind_case);
	return field != NULL ? field->name : "unknown";
}

Datum
pgferry_frame_text(PG_FUNCTION_ARGS)
{
	bytea *raw = PG_GETARG_BYTEA_PP(0);
	ProtobufCAllocator allocator = {palloc_for_protobuf, pfree_for_protobuf,
									NULL};
	Pgferry__Frame *frame;
	StringInfoData out;
	Renderer r;

	frame = pgferry__frame__unpack(&allocator, VARSIZE_ANY_EXHDR(raw),
								   (const uint8_t *) VARDATA_ANY(raw));
	if (frame == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid pgferry frame"),
				 errdetail("The %zu bytes are not a pgferry.Frame message "
						   "of proto/pgferry.proto.",
						   VARSIZE_ANY_EXHDR(raw))));
	if (frame->has_proto_version &&
		frame->proto_version != PGFERRY_PROTO_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pgferry frame of protocol version %u is not "
						"supported",
						frame->proto_version),
				 errdetail("This pgferry library reads protocol version %d.",
						   PGFERRY_PROTO_VERSION),
				 errhint("Read the stream with the pgferry version that "
						 "wrote it.")));

	initStringInfo(&out);
	r.out = &out;
	r.masked = PG_GETARG_BOOL(1);
	appendStringInfoString(&out, kind_name(frame));
	if (frame->has_proto_version)
		appendStringInfo(&out, " proto_version=%u", frame->proto_version);
	if (frame->has_xid)
		append_xid(&r, "frame_xid", frame->xid);
	render_kind(&r, frame);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

Datum
pgferry_group_frames(PG_FUNCTION_ARGS)
{
	bytea *raw = PG_GETARG_BYTEA_PP(0);
	const char *start = VARDATA_ANY(raw);
	const char *at = start;
	const char *end = start + VARSIZE_ANY_EXHDR(raw);
	ArrayBuildState *frames =
		initArrayResult(BYTEAOID, CurrentMemoryContext, false);
	int count = 0;

	while (at < end)
	{
		uint32 length = 0;
		bytea *frame;

		if (end - at >= PGFERRY_FRAME_LENGTH_BYTES)
		{
			memcpy(&length, at, PGFERRY_FRAME_LENGTH_BYTES);
			length = pg_ntoh32(length);
		}
		if (end - at < PGFERRY_FRAME_LENGTH_BYTES ||
			length > (size_t) (end - at - PGFERRY_FRAME_LENGTH_BYTES))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid pgferry group of frames"),
					 errdetail("The group ends inside its frame %d, at byte "
							   "%zu of %zu.",
							   count + 1, (size_t) (at - start),
							   (size_t) (end - start)),
					 errhint("Give the data of one message decoded with "
							 "the group_bytes option.")));
		at += PGFERRY_FRAME_LENGTH_BYTES;
		frame = palloc(VARHDRSZ + length);
		SET_VARSIZE(frame, VARHDRSZ + length);
		memcpy(VARDATA(frame), at, length);
		frames = accumArrayResult(frames, PointerGetDatum(frame), false,
								  BYTEAOID, CurrentMemoryContext);
		count++;
		at += length;
	}
	PG_RETURN_DATUM(makeArrayResult(frames, CurrentMemoryContext));
}
