/*-------------------------------------------------------------------------
 *
 * fuzz_decode.c
 *	  libFuzzer target: the frame decoder (applier/stream/decode.c) fed
 *	  sequences of frames, as the follow job feeds it.
 *
 * An input is a run of records: one byte that says what the follow job does
 * before the frame (0: nothing, 1: begin a replay of spooled frames, 2: end
 * the replay, 3: forget every relation, as a new session does), two bytes of
 * frame length (little endian, cut to what is left), then the frame.
 *
 * The decoder reads pgferry's frames; fuzz_pgoutput.c compiles this file
 * again with FUZZ_PLUGIN set to PLUGIN_PGOUTPUT, for pgoutput's messages.
 *
 * Like the batch, the target keeps the relation versions of the last few
 * row changes with a reference and reads every field of every change, so
 * that a version freed too early or a value read out of bounds shows under
 * AddressSanitizer.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stream/decode.h"

#define FUZZ_HELD 4

#ifndef FUZZ_PLUGIN
#define FUZZ_PLUGIN PLUGIN_PGFERRY
#endif

/* What the target reads, so that no read is optimised away. */
static volatile size_t fuzz_sink;

static void
fuzz_read_rel(const Rel *rel)
{
	size_t sum = strlen(rel->schema) + strlen(rel->name);

	for (int i = 0; i < rel->ncolumns; i++)
		sum += strlen(rel->columns[i].name) +
			   strlen(rel->columns[i].type_schema) +
			   strlen(rel->columns[i].type_name) + rel->columns[i].key;
	if (rel->root_schema)
		sum += strlen(rel->root_schema) + strlen(rel->root_name);
	fuzz_sink += sum + rel->frame_len + rel->frame[rel->frame_len - 1];
}

static void
fuzz_read_values(const ChangeValue *values, int count)
{
	size_t sum = 0;

	for (int i = 0; i < count; i++)
		for (uint32_t b = 0; b < values[i].len; b++)
			sum += (uint8_t) values[i].data[b];
	fuzz_sink += sum;
}

static void
fuzz_read_change(const Change *change)
{
	if (change->rel)
	{
		fuzz_read_rel(change->rel);
		if (change->new_values)
			fuzz_read_values(change->new_values, change->rel->ncolumns);
		if (change->old_values)
			fuzz_read_values(change->old_values, change->rel->ncolumns);
	}
	for (int i = 0; i < change->nrels; i++)
		fuzz_read_rel(change->rels[i]);
	if (change->prefix)
		fuzz_sink += strlen(change->prefix) + change->content_len;
	if (change->facts)
		fuzz_sink += strlen(change->facts->plugin_version) +
					 strlen(change->facts->server_encoding) +
					 strlen(change->facts->database);
}

/* Keeps rel with a reference, as a queued change does, dropping the oldest. */
static void
fuzz_hold(Rel **held, Rel *rel)
{
	rel_release(held[FUZZ_HELD - 1]);
	memmove(held + 1, held, (FUZZ_HELD - 1) * sizeof(Rel *));
	held[0] = rel_retain(rel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Decoder *decoder = decode_create(FUZZ_PLUGIN);
	Rel *held[FUZZ_HELD] = {NULL};
	Lsn lsn = 0x1000000;

	while (size >= 3)
	{
		uint8_t op = data[0];
		size_t len = data[1] | (size_t) data[2] << 8;
		Change change;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if ((op & 3) == 1)
			decode_replay_begin(decoder);
		else if ((op & 3) == 2)
			decode_replay_end(decoder);
		else if ((op & 3) == 3)
			decode_reset(decoder);
		if (decode_frame(decoder, data, len, lsn, &change))
		{
			fuzz_read_change(&change);
			if (change.kind != CHANGE_RELATION && change.rel)
				fuzz_hold(held, change.rel);
			for (int i = 0; i < change.nrels; i++)
				fuzz_hold(held, change.rels[i]);
		}
		data += len;
		size -= len;
		lsn += 0x100;
	}
	for (int i = 0; i < FUZZ_HELD; i++)
		rel_release(held[i]);
	decode_destroy(decoder);
	return 0;
}
