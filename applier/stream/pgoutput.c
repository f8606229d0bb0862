/*-------------------------------------------------------------------------
 *
 * pgoutput.c
 *	  The built-in pgoutput plugin's messages read into changes.
 *
 * PostgreSQL's logical replication protocol, versions 1 to 4, as pgoutput
 * sends it with binary off: Begin, Commit, Relation, Type, Origin, Insert,
 * Update, Delete, Truncate, Message, Stream Start/Stop/Commit/Abort.  What
 * third parties trip over:
 *	- a Relation message comes only before a table's first change after a
 *	  (re)connect or a schema change, inside a streamed block too; the
 *	  cache keeps it for the changes after the block;
 *	- inside a stream block every message but Stream Start/Stop carries
 *	  the transaction's xid after its type byte;
 *	- 'u' marks an unchanged TOASTed value, in new rows and in the old row
 *	  of a REPLICA IDENTITY FULL table alike;
 *	- the namespace of a relation in pg_catalog is sent as "".
 *
 * A spooled transaction is replayed from its messages as received (each
 * with its xid); its relations from their description without the xid,
 * as kept in Rel.frame, so that a version reads the same in and out of a
 * stream block.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "stream/decode_internal.h"

/* Type OIDs below this are built in (FirstNormalObjectId). */
#define PGOUTPUT_FIRST_NORMAL_OID 16384

typedef struct TypeName
{
	Oid oid;
	char *schema;
	char *name;
} TypeName;

struct PgoutputState
{
	bool in_stream;	 /* between Stream Start and Stream Stop */
	uint32_t xid;	 /* of the last Begin */
	TypeName *types; /* from Type messages */
	int ntypes;
	int types_size;
	uint8_t *relation; /* a Relation message without its xid */
	size_t relation_size;
};

/* The names of common built-in types, for messages about columns. */
static const struct
{
	Oid oid;
	const char *name;
} builtin_types[] = {
	{16, "bool"},		 {17, "bytea"},			{18, "char"},
	{19, "name"},		 {20, "int8"},			{21, "int2"},
	{23, "int4"},		 {25, "text"},			{26, "oid"},
	{114, "json"},		 {142, "xml"},			{650, "cidr"},
	{700, "float4"},	 {701, "float8"},		{790, "money"},
	{829, "macaddr"},	 {869, "inet"},			{1042, "bpchar"},
	{1043, "varchar"},	 {1082, "date"},		{1083, "time"},
	{1114, "timestamp"}, {1184, "timestamptz"}, {1186, "interval"},
	{1266, "timetz"},	 {1560, "bit"},			{1562, "varbit"},
	{1700, "numeric"},	 {2950, "uuid"},		{3614, "tsvector"},
	{3802, "jsonb"},
};

/* A cursor over one message; bad is set on reading past its end. */
typedef struct Reader
{
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
} Reader;

static const uint8_t *
read_bytes(Reader *r, size_t n)
{
	const uint8_t *at = r->p;

	if (r->bad || (size_t) (r->end - r->p) < n)
	{
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return at;
}

static uint8_t
read_u8(Reader *r)
{
	const uint8_t *p = read_bytes(r, 1);

	return p ? *p : 0;
}

static uint16_t
read_u16(Reader *r)
{
	const uint8_t *p = read_bytes(r, 2);
	uint16_t v = 0;

	if (p)
		memcpy(&v, p, 2);
	return ntohs(v);
}

static uint32_t
read_u32(Reader *r)
{
	const uint8_t *p = read_bytes(r, 4);
	uint32_t v = 0;

	if (p)
		memcpy(&v, p, 4);
	return ntohl(v);
}

static uint64_t
read_u64(Reader *r)
{
	uint64_t hi = read_u32(r);

	return (hi << 32) | read_u32(r);
}

/* A NUL-terminated string inside the message. */
static const char *
read_string(Reader *r)
{
	const uint8_t *nul;

	if (r->bad || (nul = memchr(r->p, 0, r->end - r->p)) == NULL)
	{
		r->bad = true;
		return "";
	}
	return (const char *) read_bytes(r, nul - r->p + 1);
}

static PgoutputState *
pgoutput_state(Decoder *decoder)
{
	if (decoder->pgoutput == NULL)
		decoder->pgoutput = xcalloc(1, sizeof(PgoutputState));
	return decoder->pgoutput;
}

void
decode_pgoutput_reset(Decoder *decoder)
{
	PgoutputState *state = decoder->pgoutput;

	if (state == NULL)
		return;
	state->in_stream = false;
	state->xid = 0;
}

void
decode_pgoutput_free(Decoder *decoder)
{
	PgoutputState *state = decoder->pgoutput;

	if (state == NULL)
		return;
	for (int i = 0; i < state->ntypes; i++)
	{
		free(state->types[i].schema);
		free(state->types[i].name);
	}
	free(state->types);
	free(state->relation);
	free(state);
	decoder->pgoutput = NULL;
}

static TypeName *
pgoutput_find_type(PgoutputState *state, Oid oid)
{
	for (int i = 0; i < state->ntypes; i++)
		if (state->types[i].oid == oid)
			return &state->types[i];
	return NULL;
}

/* A Type message: the name of a user type a Relation will use. */
static bool
pgoutput_type(Decoder *decoder, Reader *r, Lsn lsn, Change *change)
{
	PgoutputState *state = pgoutput_state(decoder);
	Oid oid = read_u32(r);
	const char *schema = read_string(r);
	const char *name = read_string(r);
	TypeName *type;

	if (r->bad)
		return decode_refuse(decoder, lsn, "a Type message is cut short");
	if ((type = pgoutput_find_type(state, oid)) == NULL)
	{
		if (state->ntypes == state->types_size)
		{
			state->types_size = state->types_size ? state->types_size * 2 : 8;
			state->types =
				xrealloc(state->types, state->types_size * sizeof(TypeName));
		}
		type = &state->types[state->ntypes++];
		type->oid = oid;
	}
	else
	{
		free(type->schema);
		free(type->name);
	}
	type->schema = xstrdup(schema[0] ? schema : "pg_catalog");
	type->name = xstrdup(name);
	change->kind = CHANGE_NOTHING;
	return true;
}

/* Names column's type: from a Type message, or a built-in's name. */
static void
pgoutput_name_type(PgoutputState *state, RelColumn *column)
{
	const TypeName *type = pgoutput_find_type(state, column->type_oid);
	char unknown[48];

	if (type)
	{
		column->type_schema = xstrdup(type->schema);
		column->type_name = xstrdup(type->name);
		return;
	}
	column->type_schema = xstrdup("pg_catalog");
	for (size_t i = 0; i < sizeof(builtin_types) / sizeof(builtin_types[0]);
		 i++)
		if (builtin_types[i].oid == column->type_oid)
		{
			column->type_name = xstrdup(builtin_types[i].name);
			return;
		}
	/* pgoutput names only user types: say which built-in it is */
	snprintf(unknown, sizeof(unknown), "type with OID %u", column->type_oid);
	column->type_name = xstrdup(unknown);
}

static const RelIdentity identity_of_char[] = {
	['d'] = REL_IDENTITY_DEFAULT,
	['n'] = REL_IDENTITY_NOTHING,
	['f'] = REL_IDENTITY_FULL,
	['i'] = REL_IDENTITY_INDEX,
};

/*
 * A Relation message, body at r (past any xid).  Its bytes are kept
 * as type byte + body: the same description in and out of a stream block.
 */
static bool
pgoutput_relation(Decoder *decoder, Reader *r, Lsn lsn, Change *change)
{
	PgoutputState *state = pgoutput_state(decoder);
	size_t body_len = r->end - r->p;
	size_t len = 1 + body_len;
	Oid oid = read_u32(r);
	const char *schema = read_string(r);
	const char *name = read_string(r);
	uint8_t identity = read_u8(r);
	int ncolumns = read_u16(r);
	Rel *rel;

	if (r->bad)
		return decode_refuse(decoder, lsn, "a Relation message is cut short");
	if (identity != 'd' && identity != 'n' && identity != 'f' &&
		identity != 'i')
		return decode_refuse(decoder, lsn,
							 "unknown replica identity in a Relation message");
	if (state->relation_size < len)
	{
		state->relation_size = len;
		state->relation = xrealloc(state->relation, len);
	}
	state->relation[0] = 'R';
	memcpy(state->relation + 1, r->end - body_len, body_len);
	change->kind = CHANGE_RELATION;
	if ((change->rel =
			 decode_same_relation(decoder, oid, state->relation, len)) != NULL)
		return true;

	rel = rel_create();
	rel->oid = oid;
	rel->schema = xstrdup(schema[0] ? schema : "pg_catalog");
	rel->name = xstrdup(name);
	rel->identity = identity_of_char[identity];
	rel->ncolumns = ncolumns;
	rel->columns = xcalloc(ncolumns > 0 ? ncolumns : 1, sizeof(RelColumn));
	for (int i = 0; i < ncolumns; i++)
	{
		RelColumn *column = &rel->columns[i];

		column->key = (read_u8(r) & 1) != 0;
		column->name = xstrdup(read_string(r));
		column->type_oid = read_u32(r);
		column->typmod = (int32_t) read_u32(r);
		pgoutput_name_type(state, column);
		if (column->key)
			rel->nkeys++;
	}
	if (r->bad)
	{
		char what[160];

		snprintf(what, sizeof(what),
				 "the Relation message of table \"%s\".\"%s\" is cut short",
				 rel->schema, rel->name);
		rel_release(rel);
		return decode_refuse(decoder, lsn, what);
	}
	decode_keep_relation(decoder, rel, state->relation, len);
	change->rel = rel;
	return true;
}

/* Reads a TupleData of rel into values (rel->ncolumns entries). */
static bool
pgoutput_tuple(const Decoder *decoder, Reader *r, const Rel *rel,
			   ChangeValue *values, Lsn lsn)
{
	int count = read_u16(r);
	char what[256];

	if (!r->bad && count != rel->ncolumns)
	{
		snprintf(what, sizeof(what),
				 "a row of table %s has %d %s; its Relation message has %d "
				 "%s",
				 rel_display(rel), count, plural(count, "value", "values"),
				 rel->ncolumns, plural(rel->ncolumns, "column", "columns"));
		return decode_refuse(decoder, lsn, what);
	}
	for (int i = 0; i < rel->ncolumns && !r->bad; i++)
	{
		ChangeValue *out = &values[i];
		uint8_t kind = read_u8(r);

		out->len = 0;
		out->data = NULL;
		switch (kind)
		{
			case 'n':
				out->kind = VALUE_NULL;
				break;
			case 'u':
				out->kind = VALUE_UNCHANGED;
				break;
			case 't':
				out->kind = VALUE_TEXT;
				out->len = read_u32(r);
				out->data = (const char *) read_bytes(r, out->len);
				break;
			default:
				/* binary is never asked for: 'b' is as wrong as junk */
				snprintf(what, sizeof(what),
						 "value of column \"%s\" of table %s is of kind '%c'",
						 rel->columns[i].name, rel_display(rel), kind);
				return decode_refuse(decoder, lsn, what);
		}
	}
	if (r->bad)
	{
		snprintf(what, sizeof(what), "a row of table %s is cut short",
				 rel_display(rel));
		return decode_refuse(decoder, lsn, what);
	}
	return true;
}

static bool
pgoutput_row(Decoder *decoder, Reader *r, uint8_t type, Lsn lsn,
			 Change *change)
{
	uint8_t part;

	change->kind = type == 'I'	 ? CHANGE_INSERT
				   : type == 'U' ? CHANGE_UPDATE
								 : CHANGE_DELETE;
	if ((change->rel = decode_lookup(decoder, read_u32(r), lsn)) == NULL)
		return false;
	decode_reserve_values(decoder, change->rel->ncolumns);
	part = read_u8(r);
	if (type != 'I' && (part == 'K' || part == 'O'))
	{
		change->old_kind = part == 'K' ? OLD_KEY : OLD_ROW;
		change->old_values = decoder->old_values;
		if (!pgoutput_tuple(decoder, r, change->rel, decoder->old_values, lsn))
			return false;
		if (type == 'D')
			return true;
		part = read_u8(r);
	}
	if (type == 'D' || part != 'N')
		return decode_refuse(decoder, lsn,
							 "a row change without the tuple it needs");
	change->new_values = decoder->new_values;
	return pgoutput_tuple(decoder, r, change->rel, decoder->new_values, lsn);
}

static bool
pgoutput_truncate(Decoder *decoder, Reader *r, Lsn lsn, Change *change)
{
	uint32_t nrels = read_u32(r);
	uint8_t options = read_u8(r);

	if (r->bad || nrels > (size_t) (r->end - r->p) / 4)
		return decode_refuse(decoder, lsn, "a Truncate message is cut short");
	if ((int) nrels > decoder->truncated_size)
	{
		decoder->truncated_size = (int) nrels;
		decoder->truncated =
			xrealloc(decoder->truncated, nrels * sizeof(Rel *));
	}
	for (uint32_t i = 0; i < nrels; i++)
		if ((decoder->truncated[i] =
				 decode_lookup(decoder, read_u32(r), lsn)) == NULL)
			return false;
	change->kind = CHANGE_TRUNCATE;
	change->nrels = (int) nrels;
	change->rels = decoder->truncated;
	change->cascade = (options & 1) != 0;
	change->restart_identity = (options & 2) != 0;
	return true;
}

static bool
pgoutput_message(Decoder *decoder, Reader *r, Lsn lsn, Change *change)
{
	uint8_t flags = read_u8(r);

	change->kind = CHANGE_MESSAGE;
	change->transactional = (flags & 1) != 0;
	change->lsn = read_u64(r);
	change->prefix = read_string(r);
	change->content_len = read_u32(r);
	change->content = (const char *) read_bytes(r, change->content_len);
	return !r->bad ||
		   decode_refuse(decoder, lsn, "a Message message is cut short");
}

/* Whether a message of this type carries an xid inside a stream block. */
static bool
pgoutput_has_xid(uint8_t type)
{
	return strchr("RYIUDTM", type) != NULL;
}

bool
decode_pgoutput(Decoder *decoder, const uint8_t *data, size_t len, Lsn lsn,
				Change *change)
{
	PgoutputState *state = pgoutput_state(decoder);
	Reader reader = {data, data + len, false};
	Reader *r = &reader;
	uint8_t type = read_u8(r);
	char what[96];

	/* in a replay every spooled change has its xid, a relation none */
	if (type != 0 && pgoutput_has_xid(type) &&
		(decoder->replay ? type != 'R' : state->in_stream))
		change->xid = read_u32(r);
	else
		change->xid = state->xid;

	switch (type)
	{
		case 'B':
			change->kind = CHANGE_BEGIN;
			change->lsn = read_u64(r);
			change->commit_time = (int64_t) read_u64(r);
			change->xid = state->xid = read_u32(r);
			break;
		case 'C':
			change->kind = CHANGE_COMMIT;
			read_u8(r); /* flags, unused */
			change->lsn = read_u64(r);
			change->end_lsn = read_u64(r);
			change->commit_time = (int64_t) read_u64(r);
			break;
		case 'O':
			/*
			 * origins are not filtered (origin 'any'): a migration moves
			 * every row, those the source received by replication too
			 */
			change->kind = CHANGE_NOTHING;
			break;
		case 'Y':
			return pgoutput_type(decoder, r, lsn, change);
		case 'R':
			return pgoutput_relation(decoder, r, lsn, change);
		case 'I':
		case 'U':
		case 'D':
			return pgoutput_row(decoder, r, type, lsn, change);
		case 'T':
			return pgoutput_truncate(decoder, r, lsn, change);
		case 'M':
			return pgoutput_message(decoder, r, lsn, change);
		case 'S':
			change->kind = CHANGE_STREAM_START;
			change->xid = read_u32(r);
			change->first_segment = read_u8(r) == 1;
			state->in_stream = true;
			break;
		case 'E':
			change->kind = CHANGE_STREAM_STOP;
			state->in_stream = false;
			break;
		case 'c':
			change->kind = CHANGE_STREAM_COMMIT;
			change->xid = read_u32(r);
			read_u8(r); /* flags, unused */
			change->lsn = read_u64(r);
			change->end_lsn = read_u64(r);
			change->commit_time = (int64_t) read_u64(r);
			break;
		case 'A':
			/* protocol 4's abort LSN and time follow only when parallel */
			change->kind = CHANGE_STREAM_ABORT;
			change->xid = read_u32(r);
			change->subxid = read_u32(r);
			break;
		default:
			snprintf(what, sizeof(what),
					 "a message of type '%c' (two-phase transactions are "
					 "not asked for)",
					 type);
			return decode_refuse(decoder, lsn, what);
	}
	if (r->bad)
	{
		snprintf(what, sizeof(what), "a message of type '%c' is cut short",
				 type);
		return decode_refuse(decoder, lsn, what);
	}
	return true;
}
