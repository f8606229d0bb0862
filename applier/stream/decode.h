/*-------------------------------------------------------------------------
 *
 * decode.h
 *	  The messages of a slot's plugin read into changes.
 *
 * With the pgferry plugin, the wire format of proto/pgferry.proto (the
 * only module that knows protobuf); with pgoutput, its logical
 * replication protocol (pgoutput.c).  It turns one frame into one
 * plugin-neutral Change (change.h), keeps the relation cache up to date
 * from Relation frames, and refuses what it cannot trust: a frame that
 * does not parse, a protocol version it does not know, a row that refers
 * to an unknown relation or has the wrong number of values.  Each refusal
 * is logged with the WAL position of the frame.
 *
 * Replay of spooled frames (a streamed transaction applied at its commit)
 * runs inside decode_replay_begin/end: Relation frames met there describe
 * the relation as the spooled changes knew it and stay private to the
 * replay, so the live cache is left as the stream left it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_DECODE_H
#define PGFERRY_DECODE_H

#include "stream/change.h"

/* The protocol version this applier reads. */
#define DECODE_PROTO_VERSION 1

typedef struct Decoder Decoder;

/* A decoder of the messages plugin sends. */
extern Decoder *decode_create(Plugin plugin);
extern void decode_destroy(Decoder *decoder);

/*
 * Decodes one frame received at WAL position lsn into *change, valid until
 * the next call.  Returns false (after logging why) for a frame that
 * cannot be trusted.
 */
extern bool decode_frame(Decoder *decoder, const uint8_t *data, size_t len,
						 Lsn lsn, Change *change);

/* The relation version in effect for oid, or NULL. */
extern Rel *decode_relation(const Decoder *decoder, Oid oid);

extern void decode_replay_begin(Decoder *decoder);
extern void decode_replay_end(Decoder *decoder);

/* Forgets every relation (a new decoding session will describe them). */
extern void decode_reset(Decoder *decoder);

#endif /* PGFERRY_DECODE_H */
