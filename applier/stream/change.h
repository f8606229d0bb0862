/*-------------------------------------------------------------------------
 *
 * change.h
 *	  What an input (the pgferry plugin's frames, or the built-in pgoutput
 *	  plugin's messages) hands the apply engine: plugin-neutral changes.
 *
 * A Change is one event of the decoded stream: a transaction boundary with
 * its LSNs, a relation description, a row change with per-column values,
 * a truncate, a logical message, or a boundary of a streamed (in-progress)
 * transaction.  It borrows its memory from the decoder: it is valid until
 * the decoder's next call, so whoever keeps it copies it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CHANGE_H
#define PGFERRY_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg/pg.h"
#include "stream/rel.h"

/* The output plugin a slot decodes with. */
typedef enum Plugin
{
	PLUGIN_PGFERRY, /* pgferry's own: frames (proto/pgferry.proto) */
	PLUGIN_PGOUTPUT /* the built-in one, where pgferry cannot be loaded */
} Plugin;

/* The plugin's name as the server knows it. */
#define PLUGIN_NAME(plugin)                                                   \
	((plugin) == PLUGIN_PGOUTPUT ? "pgoutput" : "pgferry")

/* One column value: exactly one of null, unchanged TOAST, text, binary. */
typedef enum ValueKind
{
	VALUE_NULL,
	VALUE_UNCHANGED, /* TOASTed and untouched: keep the target's */
	VALUE_TEXT,		 /* output function form, source encoding */
	VALUE_BINARY	 /* send function form */
} ValueKind;

typedef struct ChangeValue
{
	ValueKind kind;
	uint32_t len;
	const char *data; /* TEXT and BINARY only; not NUL-terminated */
} ChangeValue;

/* What the old tuple of an update or delete holds. */
typedef enum OldKind
{
	OLD_NONE, /* nothing: key unchanged, or identity NOTHING */
	OLD_KEY,  /* the replica identity columns */
	OLD_ROW	  /* every column (identity FULL) */
} OldKind;

typedef enum ChangeKind
{
	CHANGE_STARTUP, /* facts about the source (first event) */
	CHANGE_BEGIN,
	CHANGE_COMMIT,
	CHANGE_RELATION, /* a relation (new version) is described */
	CHANGE_INSERT,
	CHANGE_UPDATE,
	CHANGE_DELETE,
	CHANGE_TRUNCATE,
	CHANGE_MESSAGE,
	CHANGE_STREAM_START, /* a block of an in-progress transaction */
	CHANGE_STREAM_STOP,
	CHANGE_STREAM_COMMIT,
	CHANGE_STREAM_ABORT,
	CHANGE_NOTHING /* nothing to apply: pgoutput's Type and Origin */
} ChangeKind;

/* What the source announced when the session started. */
typedef struct SourceFacts
{
	const char *plugin_version;
	uint32_t server_version_num;
	const char *server_encoding;
	const char *database;
	bool integer_datetimes;
	bool binary;
	uint64_t system_identifier;
} SourceFacts;

typedef struct Change
{
	ChangeKind kind;

	/*
	 * BEGIN/COMMIT and STREAM_*: the (top-level) transaction.  A change
	 * inside a stream block: the (sub)transaction it belongs to.
	 */
	uint32_t xid;
	uint32_t subxid;	/* STREAM_ABORT: the (sub)xact aborted */
	bool first_segment; /* STREAM_START */

	/*
	 * BEGIN, COMMIT, STREAM_COMMIT: LSN of the commit record.  STREAM_ABORT:
	 * of the abort record.  MESSAGE: of the message.
	 */
	Lsn lsn;
	Lsn end_lsn;		 /* COMMIT, STREAM_COMMIT: just past commit */
	int64_t commit_time; /* microseconds since 2000-01-01 UTC */

	/* RELATION, INSERT, UPDATE, DELETE */
	Rel *rel;
	OldKind old_kind;			   /* UPDATE, DELETE */
	const ChangeValue *old_values; /* rel->ncolumns of them, or NULL */
	const ChangeValue *new_values; /* INSERT, UPDATE */

	/* TRUNCATE */
	int nrels;
	Rel **rels;
	bool cascade;
	bool restart_identity;

	/* MESSAGE */
	bool transactional;
	const char *prefix;
	const char *content;
	size_t content_len;

	/* STARTUP */
	const SourceFacts *facts;
} Change;

/*
 * A row change as kept after its Change is gone (by the batch, and then by
 * the statements built from it).
 */
typedef struct RowChange
{
	ChangeKind kind; /* CHANGE_INSERT, _UPDATE or _DELETE */
	OldKind old_kind;
	const ChangeValue *old_values; /* NULL when old_kind is OLD_NONE */
	const ChangeValue *new_values; /* NULL for a delete */
} RowChange;

/* Whether two values are the same: same kind, same bytes. */
extern bool change_value_same(const ChangeValue *a, const ChangeValue *b);

/*
 * A hash of the key columns of values (never 0), and whether two rows of
 * rel have the same key (by bytes, see change_value_same).
 */
extern uint32_t change_key_hash(const Rel *rel, const ChangeValue *values);
extern bool change_key_same(const Rel *rel, const ChangeValue *a,
							const ChangeValue *b);

#endif /* PGFERRY_CHANGE_H */
