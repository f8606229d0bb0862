/*-------------------------------------------------------------------------
 *
 * decode.c
 *	  The pgferry wire format read into plugin-neutral changes.
 *
 * The mirror of the plugin's frame encoder: one function per frame kind,
 * each checking what the format promises before anything downstream relies
 * on it.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "pgferry.pb-c.h"
#include "stream/decode_internal.h"

/* Larger than a row of most tables, frames, small enough to keep. */
#define FRAME_ARENA_BLOCK (64 * 1024)

static void *
frame_arena_alloc(void *data, size_t size)
{
	FrameArena *arena = data;
	void *part;

	size = (size + 15) & ~(size_t) 15;
	if (arena->used + size <= arena->size)
	{
		part = arena->block + arena->used;
		arena->used += size;
		return part;
	}
	if (arena->nlarge == arena->large_size)
	{
		arena->large_size = arena->large_size ? arena->large_size * 2 : 16;
		arena->large =
			xrealloc(arena->large, arena->large_size * sizeof(void *));
	}
	part = xmalloc(size);
	arena->large[arena->nlarge++] = part;
	return part;
}

/* Parts go all at once, with their frame (frame_arena_empty). */
static void
frame_arena_free(void *data, void *part)
{
	(void) data;
	(void) part;
}

static void
frame_arena_empty(FrameArena *arena)
{
	for (int i = 0; i < arena->nlarge; i++)
		free(arena->large[i]);
	arena->nlarge = 0;
	arena->used = 0;
}

Decoder *
decode_create(Plugin plugin)
{
	Decoder *decoder = xcalloc(1, sizeof(Decoder));

	decoder->plugin = plugin;
	decoder->relations = rel_cache_create();
	decoder->arena.size = FRAME_ARENA_BLOCK;
	decoder->arena.block = xmalloc(FRAME_ARENA_BLOCK);
	return decoder;
}

static void
decode_release_frame(Decoder *decoder)
{
	frame_arena_empty(&decoder->arena);
	decoder->frame = NULL;
}

void
decode_destroy(Decoder *decoder)
{
	if (decoder == NULL)
		return;
	decode_release_frame(decoder);
	free(decoder->arena.block);
	free(decoder->arena.large);
	decode_pgoutput_free(decoder);
	rel_cache_destroy(decoder->relations);
	rel_cache_destroy(decoder->replay);
	free(decoder->old_values);
	free(decoder->new_values);
	free(decoder->truncated);
	free(decoder->plugin_version);
	free(decoder->server_encoding);
	free(decoder->database);
	free(decoder);
}

void
decode_reset(Decoder *decoder)
{
	decode_release_frame(decoder);
	decode_pgoutput_reset(decoder);
	rel_cache_destroy(decoder->relations);
	decoder->relations = rel_cache_create();
	rel_cache_destroy(decoder->replay);
	decoder->replay = NULL;
}

void
decode_replay_begin(Decoder *decoder)
{
	rel_cache_destroy(decoder->replay);
	decoder->replay = rel_cache_create();
}

void
decode_replay_end(Decoder *decoder)
{
	rel_cache_destroy(decoder->replay);
	decoder->replay = NULL;
}

Rel *
decode_relation(const Decoder *decoder, Oid oid)
{
	Rel *rel = NULL;

	if (decoder->replay)
		rel = rel_cache_get(decoder->replay, oid);
	if (rel == NULL)
		rel = rel_cache_get(decoder->relations, oid);
	return rel;
}

bool
decode_refuse(const Decoder *decoder, Lsn lsn, const char *what)
{
	const char *kind =
		decoder->plugin == PLUGIN_PGOUTPUT ? "pgoutput message" : "frame";
	char at[LSN_TEXT_LEN];

	if (lsn == LSN_INVALID)
		log_error("bad %s at the start of the decoding session: %s", kind,
				  what);
	else
		log_error("bad %s at WAL position %s: %s", kind,
				  pg_lsn_format(lsn, at), what);
	if (decoder->plugin == PLUGIN_PGOUTPUT)
		log_hint("the source's pgoutput sent what this applier does not "
				 "read; report it to pgferry with the source's version, or "
				 "follow with --plugin pgferry where the source can load "
				 "it");
	else
		log_hint("the source's pgferry plugin and this applier must speak "
				 "the same protocol; install the same pgferry version on "
				 "both sides");
	return false;
}

static bool
decode_version(const Decoder *decoder, const Pgferry__Frame *frame,
			   bool required, Lsn lsn)
{
	char what[128];

	if (!frame->has_proto_version)
		return !required || decode_refuse(decoder, lsn,
										  "Startup frame without "
										  "a protocol version");
	if (frame->proto_version == DECODE_PROTO_VERSION)
		return true;
	snprintf(what, sizeof(what),
			 "the source speaks pgferry protocol version %u; this applier "
			 "reads version %d",
			 frame->proto_version, DECODE_PROTO_VERSION);
	return decode_refuse(decoder, lsn, what);
}

static bool
decode_startup(Decoder *decoder, const Pgferry__Frame *frame, Lsn lsn,
			   Change *change)
{
	const Pgferry__Startup *startup = frame->startup;

	if (!decode_version(decoder, frame, true, lsn))
		return false;
	free(decoder->plugin_version);
	free(decoder->server_encoding);
	free(decoder->database);
	decoder->plugin_version = xstrdup(startup->plugin_version);
	decoder->server_encoding = xstrdup(startup->server_encoding);
	decoder->database = xstrdup(startup->database);
	decoder->facts.plugin_version = decoder->plugin_version;
	decoder->facts.server_version_num = startup->server_version_num;
	decoder->facts.server_encoding = decoder->server_encoding;
	decoder->facts.database = decoder->database;
	decoder->facts.integer_datetimes = startup->integer_datetimes;
	decoder->facts.binary = startup->binary;
	decoder->facts.system_identifier = startup->system_identifier;
	change->facts = &decoder->facts;
	return true;
}

Rel *
decode_same_relation(Decoder *decoder, Oid oid, const uint8_t *data,
					 size_t len)
{
	Rel *current = decode_relation(decoder, oid);

	if (current == NULL || current->frame_len != len ||
		memcmp(current->frame, data, len) != 0)
		return NULL;
	if (decoder->replay)
		rel_cache_put(decoder->replay, current);
	return current;
}

void
decode_keep_relation(Decoder *decoder, Rel *rel, const uint8_t *data,
					 size_t len)
{
	rel->frame = xmalloc(len);
	memcpy(rel->frame, data, len);
	rel->frame_len = len;
	rel_cache_put(decoder->replay ? decoder->replay : decoder->relations, rel);
	rel_release(rel); /* the cache holds it now */
}

static const RelIdentity identity_of[] = {
	[PGFERRY__REPLICA_IDENTITY__DEFAULT] = REL_IDENTITY_DEFAULT,
	[PGFERRY__REPLICA_IDENTITY__NOTHING] = REL_IDENTITY_NOTHING,
	[PGFERRY__REPLICA_IDENTITY__FULL] = REL_IDENTITY_FULL,
	[PGFERRY__REPLICA_IDENTITY__INDEX] = REL_IDENTITY_INDEX,
};

static bool
decode_relation_frame(Decoder *decoder, const Pgferry__Relation *relation,
					  const uint8_t *data, size_t len, Lsn lsn, Change *change)
{
	Rel *rel;

	if ((unsigned) relation->replica_identity >=
		sizeof(identity_of) / sizeof(identity_of[0]))
		return decode_refuse(decoder, lsn,
							 "unknown replica identity in a Relation "
							 "frame");

	if ((change->rel =
			 decode_same_relation(decoder, relation->oid, data, len)) != NULL)
		return true;

	rel = rel_create();
	rel->oid = relation->oid;
	rel->schema = xstrdup(relation->schema);
	rel->name = xstrdup(relation->name);
	if (relation->root_schema && relation->root_name)
	{
		rel->root_schema = xstrdup(relation->root_schema);
		rel->root_name = xstrdup(relation->root_name);
	}
	rel->identity = identity_of[relation->replica_identity];
	rel->ncolumns = (int) relation->n_columns;
	rel->columns = xcalloc(relation->n_columns, sizeof(RelColumn));
	for (size_t i = 0; i < relation->n_columns; i++)
	{
		const Pgferry__Column *in = relation->columns[i];
		RelColumn *out = &rel->columns[i];

		out->name = xstrdup(in->name);
		out->type_oid = in->type_oid;
		out->type_schema = xstrdup(in->type_schema);
		out->type_name = xstrdup(in->type_name);
		out->typmod = in->typmod;
		out->key = in->key;
		out->generated = in->generated;
		out->identity = in->identity;
		out->binary = in->binary;
		out->not_null = in->not_null;
		if (out->key)
			rel->nkeys++;
	}
	decode_keep_relation(decoder, rel, data, len);
	change->rel = rel;
	return true;
}

/* A value must come in the form its Relation frame announced. */
static bool
decode_refuse_form(const Decoder *decoder, const Rel *rel, int column,
				   const char *form, Lsn lsn)
{
	char what[256];

	snprintf(what, sizeof(what),
			 "a %s value for column \"%s\" of table %s, announced as %s", form,
			 rel->columns[column].name, rel_display(rel),
			 rel->columns[column].binary ? "binary" : "text");
	return decode_refuse(decoder, lsn, what);
}

/* Reads a tuple of rel into values (rel->ncolumns entries). */
static bool
decode_tuple(const Decoder *decoder, const Pgferry__Tuple *tuple,
			 const Rel *rel, ChangeValue *values, Lsn lsn)
{
	char what[256];

	if (tuple == NULL || (int) tuple->n_values != rel->ncolumns)
	{
		snprintf(
			what, sizeof(what),
			"a row of table %s has %zu %s; its Relation frame has %d %s",
			rel_display(rel), tuple ? tuple->n_values : 0,
			plural(tuple ? (long long) tuple->n_values : 0, "value", "values"),
			rel->ncolumns, plural(rel->ncolumns, "column", "columns"));
		return decode_refuse(decoder, lsn, what);
	}
	for (int i = 0; i < rel->ncolumns; i++)
	{
		const Pgferry__Value *in = tuple->values[i];
		ChangeValue *out = &values[i];

		out->len = 0;
		out->data = NULL;
		switch (in->kind_case)
		{
			case PGFERRY__VALUE__KIND_NULL:
				out->kind = VALUE_NULL;
				break;
			case PGFERRY__VALUE__KIND_UNCHANGED_TOAST:
				out->kind = VALUE_UNCHANGED;
				break;
			case PGFERRY__VALUE__KIND_TEXT:
				if (rel->columns[i].binary)
					return decode_refuse_form(decoder, rel, i, "text", lsn);
				out->kind = VALUE_TEXT;
				out->len = (uint32_t) in->text.len;
				out->data = (const char *) in->text.data;
				break;
			case PGFERRY__VALUE__KIND_BINARY:
				if (!rel->columns[i].binary)
					return decode_refuse_form(decoder, rel, i, "binary", lsn);
				out->kind = VALUE_BINARY;
				out->len = (uint32_t) in->binary.len;
				out->data = (const char *) in->binary.data;
				break;
			default:
				snprintf(what, sizeof(what),
						 "value of column \"%s\" of table %s has no kind",
						 rel->columns[i].name, rel_display(rel));
				return decode_refuse(decoder, lsn, what);
		}
	}
	return true;
}

Rel *
decode_lookup(const Decoder *decoder, Oid oid, Lsn lsn)
{
	Rel *rel = decode_relation(decoder, oid);
	char what[128];

	if (rel == NULL)
	{
		snprintf(what, sizeof(what),
				 "a change refers to relation OID %u, not described by a "
				 "Relation %s before it",
				 oid,
				 decoder->plugin == PLUGIN_PGOUTPUT ? "message" : "frame");
		decode_refuse(decoder, lsn, what);
	}
	return rel;
}

void
decode_reserve_values(Decoder *decoder, int count)
{
	if (count <= decoder->values_size)
		return;
	decoder->values_size = count;
	decoder->old_values =
		xrealloc(decoder->old_values, count * sizeof(ChangeValue));
	decoder->new_values =
		xrealloc(decoder->new_values, count * sizeof(ChangeValue));
}

static const OldKind old_kind_of[] = {
	[PGFERRY__OLD_KIND__NONE] = OLD_NONE,
	[PGFERRY__OLD_KIND__KEY] = OLD_KEY,
	[PGFERRY__OLD_KIND__ROW] = OLD_ROW,
};

/* The old tuple of an update or delete, as the format describes it. */
static bool
decode_old(Decoder *decoder, Pgferry__OldKind kind,
		   const Pgferry__Tuple *tuple, Lsn lsn, Change *change)
{
	if ((unsigned) kind >= sizeof(old_kind_of) / sizeof(old_kind_of[0]))
		return decode_refuse(decoder, lsn, "unknown kind of old tuple");
	change->old_kind = old_kind_of[kind];
	if (change->old_kind == OLD_NONE)
		return true;
	if (!decode_tuple(decoder, tuple, change->rel, decoder->old_values, lsn))
		return false;
	change->old_values = decoder->old_values;
	return true;
}

static bool
decode_row(Decoder *decoder, const Pgferry__Frame *frame, Lsn lsn,
		   Change *change)
{
	Oid oid;

	switch (frame->kind_case)
	{
		case PGFERRY__FRAME__KIND_INSERT:
			oid = frame->insert->relation_oid;
			break;
		case PGFERRY__FRAME__KIND_UPDATE:
			oid = frame->update->relation_oid;
			break;
		default:
			oid = frame->delete_->relation_oid;
			break;
	}
	if ((change->rel = decode_lookup(decoder, oid, lsn)) == NULL)
		return false;
	decode_reserve_values(decoder, change->rel->ncolumns);

	switch (frame->kind_case)
	{
		case PGFERRY__FRAME__KIND_INSERT:
			change->new_values = decoder->new_values;
			return decode_tuple(decoder, frame->insert->new_tuple, change->rel,
								decoder->new_values, lsn);
		case PGFERRY__FRAME__KIND_UPDATE:
			change->new_values = decoder->new_values;
			return decode_old(decoder, frame->update->old_kind,
							  frame->update->old_tuple, lsn, change) &&
				   decode_tuple(decoder, frame->update->new_tuple, change->rel,
								decoder->new_values, lsn);
		default:
			return decode_old(decoder, frame->delete_->old_kind,
							  frame->delete_->old_tuple, lsn, change);
	}
}

static bool
decode_truncate(Decoder *decoder, const Pgferry__Truncate *truncate, Lsn lsn,
				Change *change)
{
	if ((int) truncate->n_relation_oids > decoder->truncated_size)
	{
		decoder->truncated_size = (int) truncate->n_relation_oids;
		decoder->truncated = xrealloc(
			decoder->truncated, truncate->n_relation_oids * sizeof(Rel *));
	}
	for (size_t i = 0; i < truncate->n_relation_oids; i++)
		if ((decoder->truncated[i] = decode_lookup(
				 decoder, truncate->relation_oids[i], lsn)) == NULL)
			return false;
	change->nrels = (int) truncate->n_relation_oids;
	change->rels = decoder->truncated;
	change->cascade = truncate->cascade;
	change->restart_identity = truncate->restart_identity;
	return true;
}

bool
decode_frame(Decoder *decoder, const uint8_t *data, size_t len, Lsn lsn,
			 Change *change)
{
	Pgferry__Frame *frame;

	decode_release_frame(decoder);
	memset(change, 0, sizeof(Change));
	if (decoder->plugin == PLUGIN_PGOUTPUT)
		return decode_pgoutput(decoder, data, len, lsn, change);
	frame = pgferry__frame__unpack(&(ProtobufCAllocator){frame_arena_alloc,
														 frame_arena_free,
														 &decoder->arena},
								   len, data);
	if (frame == NULL)
		return decode_refuse(decoder, lsn,
							 "the frame does not parse as a "
							 "pgferry.Frame");
	decoder->frame = frame;
	change->xid = frame->has_xid ? frame->xid : 0;

	switch (frame->kind_case)
	{
		case PGFERRY__FRAME__KIND_STARTUP:
			change->kind = CHANGE_STARTUP;
			return decode_startup(decoder, frame, lsn, change);
		case PGFERRY__FRAME__KIND_BEGIN:
			change->kind = CHANGE_BEGIN;
			change->xid = frame->begin->xid;
			change->lsn = frame->begin->final_lsn;
			change->commit_time = frame->begin->commit_time;
			return decode_version(decoder, frame, false, lsn);
		case PGFERRY__FRAME__KIND_COMMIT:
			change->kind = CHANGE_COMMIT;
			change->xid = frame->commit->xid;
			change->lsn = frame->commit->commit_lsn;
			change->end_lsn = frame->commit->end_lsn;
			change->commit_time = frame->commit->commit_time;
			return true;
		case PGFERRY__FRAME__KIND_RELATION:
			change->kind = CHANGE_RELATION;
			return decode_relation_frame(decoder, frame->relation, data, len,
										 lsn, change);
		case PGFERRY__FRAME__KIND_INSERT:
			change->kind = CHANGE_INSERT;
			return decode_row(decoder, frame, lsn, change);
		case PGFERRY__FRAME__KIND_UPDATE:
			change->kind = CHANGE_UPDATE;
			return decode_row(decoder, frame, lsn, change);
		case PGFERRY__FRAME__KIND_DELETE:
			change->kind = CHANGE_DELETE;
			return decode_row(decoder, frame, lsn, change);
		case PGFERRY__FRAME__KIND_TRUNCATE:
			change->kind = CHANGE_TRUNCATE;
			return decode_truncate(decoder, frame->truncate, lsn, change);
		case PGFERRY__FRAME__KIND_MESSAGE:
			change->kind = CHANGE_MESSAGE;
			change->transactional = frame->message->transactional;
			change->lsn = frame->message->lsn;
			change->prefix = frame->message->prefix;
			change->content = (const char *) frame->message->content.data;
			change->content_len = frame->message->content.len;
			return decode_version(decoder, frame, false, lsn);
		case PGFERRY__FRAME__KIND_STREAM_START:
			change->kind = CHANGE_STREAM_START;
			change->xid = frame->stream_start->xid;
			change->first_segment = frame->stream_start->first_segment;
			return decode_version(decoder, frame, false, lsn);
		case PGFERRY__FRAME__KIND_STREAM_STOP:
			change->kind = CHANGE_STREAM_STOP;
			return true;
		case PGFERRY__FRAME__KIND_STREAM_COMMIT:
			change->kind = CHANGE_STREAM_COMMIT;
			change->xid = frame->stream_commit->xid;
			change->lsn = frame->stream_commit->commit_lsn;
			change->end_lsn = frame->stream_commit->end_lsn;
			change->commit_time = frame->stream_commit->commit_time;
			return true;
		case PGFERRY__FRAME__KIND_STREAM_ABORT:
			change->kind = CHANGE_STREAM_ABORT;
			change->xid = frame->stream_abort->xid;
			change->subxid = frame->stream_abort->subxid;
			change->lsn = frame->stream_abort->abort_lsn;
			return true;
		default:
			return decode_refuse(decoder, lsn,
								 "a frame of unknown kind (a newer "
								 "protocol?)");
	}
}
