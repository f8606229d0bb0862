/*-------------------------------------------------------------------------
 *
 * decode_internal.h
 *	  What the decoders of the two inputs share (decode.c, pgoutput.c).
 *
 * The Decoder keeps the relation caches, the storage a change points
 * into and the facts of the session; each input reads its own messages
 * into changes with these helpers, so that a refusal, a relation version
 * and a replay behave the same whichever plugin the slot uses.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_DECODE_INTERNAL_H
#define PGFERRY_DECODE_INTERNAL_H

#include "stream/decode.h"

typedef struct PgoutputState PgoutputState;

/*
 * Where a frame's parts are unpacked: protobuf-c allocates them one by one
 * and they all live until the next frame, so they come from one block,
 * reused frame after frame, instead of a malloc and a free each; a part
 * that does not fit gets its own allocation, freed with the frame.
 */
typedef struct FrameArena
{
	char *block;
	size_t size;
	size_t used;
	void **large;
	int nlarge;
	int large_size;
} FrameArena;

struct Decoder
{
	Plugin plugin;
	RelCache *relations;	 /* the live stream's relations */
	RelCache *replay;		 /* during a replay: the spooled ones */
	void *frame;			 /* pgferry: the Frame the last change borrows */
	FrameArena arena;		 /* pgferry: where frame lives */
	PgoutputState *pgoutput; /* pgoutput: what its stream told so far */

	/* storage the last change points into, reused from call to call */
	ChangeValue *old_values;
	ChangeValue *new_values;
	int values_size;
	Rel **truncated;
	int truncated_size;

	/* the last Startup frame's facts, with copies of its strings */
	SourceFacts facts;
	char *plugin_version;
	char *server_encoding;
	char *database;
};

/*
 * Logs why the message at lsn cannot be used (LSN_INVALID: the start of
 * the session); returns false.
 */
extern bool decode_refuse(const Decoder *decoder, Lsn lsn, const char *what);

/* The relation version in effect for oid; NULL (refused) if none. */
extern Rel *decode_lookup(const Decoder *decoder, Oid oid, Lsn lsn);

/* Makes room for count values in old_values and new_values. */
extern void decode_reserve_values(Decoder *decoder, int count);

/*
 * The version of oid already described by exactly these bytes (a replay, a
 * new session), made current in the cache in use; or NULL.
 */
extern Rel *decode_same_relation(Decoder *decoder, Oid oid,
								 const uint8_t *data, size_t len);

/*
 * Makes rel, just filled in, current in the cache in use, keeping a copy
 * of the bytes that described it (for the spool); the cache holds it.
 */
extern void decode_keep_relation(Decoder *decoder, Rel *rel,
								 const uint8_t *data, size_t len);

/* pgoutput.c: one pgoutput message into *change (already zeroed). */
extern bool decode_pgoutput(Decoder *decoder, const uint8_t *data, size_t len,
							Lsn lsn, Change *change);
extern void decode_pgoutput_reset(Decoder *decoder);
extern void decode_pgoutput_free(Decoder *decoder);

#endif /* PGFERRY_DECODE_INTERNAL_H */
