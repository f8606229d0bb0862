/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Many source transactions become one target transaction.
 *
 * Row data is copied into an arena of blocks, freed all at once when the
 * target has acknowledged the statements that use it.  Each open group
 * keeps a hash of its keys to notice a key coming twice.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "apply/batch.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"

#define ARENA_BLOCK_SIZE (256 * 1024)

/*
 * Rows of one statement.  A group is queued when it closes, so the target
 * works on it while the next is read: measured on the apply benchmark
 * (200,000 inserts, 50,000 updates, 20,000 deletes, 20,000 one-row
 * transactions), 1,000 to 2,000 rows per statement applied it in 2.0 s,
 * 5,000 in 2.5-3.5 s, 20,000 in 4.1-6.4 s: large statements leave the
 * target idle while they fill.  Below 1,000, per-statement costs grow.
 */
#define BATCH_STATEMENT_ROWS 2000

typedef struct ArenaBlock
{
	struct ArenaBlock *next;
	size_t used;
	size_t size;
	char data[];
} ArenaBlock;

/* A group and, while it is open, the hash of its keys. */
typedef struct BatchGroup
{
	ApplyGroup group;
	int rows_size;
	uint32_t *key_hashes; /* open addressing; 0 = empty */
	int *key_rows;
	int keys_size;
} BatchGroup;

struct Batch
{
	BatchLimits limits;
	Applier *applier;

	BatchGroup **groups; /* queued or open, not yet acknowledged */
	int ngroups;
	int groups_size;
	bool last_open; /* the last group may take more rows */
	ArenaBlock *arena;
	int64_t pending_bytes; /* row data held */

	/* the target transaction */
	BatchStats stats;
	int64_t started_ms;
	bool started;
};

static void *
arena_alloc(Batch *batch, size_t size)
{
	ArenaBlock *block = batch->arena;

	size = (size + 7) & ~(size_t) 7;
	if (block == NULL || block->size - block->used < size)
	{
		size_t block_size =
			size > ARENA_BLOCK_SIZE / 4 ? size : ARENA_BLOCK_SIZE;

		block = xmalloc(sizeof(ArenaBlock) + block_size);
		block->size = block_size;
		block->used = 0;
		if (size > ARENA_BLOCK_SIZE / 4 && batch->arena)
		{
			/* a big value gets a block of its own, behind the current one */
			block->next = batch->arena->next;
			batch->arena->next = block;
			block->used = size;
			return block->data;
		}
		block->next = batch->arena;
		batch->arena = block;
	}
	block->used += size;
	return block->data + block->used - size;
}

Batch *
batch_create(const BatchLimits *limits, Applier *applier)
{
	Batch *batch = xcalloc(1, sizeof(Batch));

	batch->limits = *limits;
	batch->applier = applier;
	return batch;
}

static void
batch_free_group(BatchGroup *bg)
{
	ApplyGroup *group = &bg->group;

	rel_release(group->rel);
	for (int i = 0; i < group->nrels; i++)
		rel_release(group->rels[i]);
	free(group->rels);
	free(group->rows);
	free(bg->key_hashes);
	free(bg->key_rows);
	free(bg);
}

/* Frees the groups and their row data (acknowledged, or abandoned). */
static void
batch_free_groups(Batch *batch)
{
	for (int i = 0; i < batch->ngroups; i++)
		batch_free_group(batch->groups[i]);
	batch->ngroups = 0;
	batch->last_open = false;
	while (batch->arena)
	{
		ArenaBlock *next = batch->arena->next;

		free(batch->arena);
		batch->arena = next;
	}
	batch->pending_bytes = 0;
}

void
batch_destroy(Batch *batch)
{
	if (batch == NULL)
		return;
	batch_free_groups(batch);
	free(batch->groups);
	free(batch);
}

/* Queues the open group, if any, to the target. */
static bool
batch_close_group(Batch *batch)
{
	BatchGroup *bg;

	if (!batch->last_open)
		return true;
	batch->last_open = false;
	bg = batch->groups[batch->ngroups - 1];
	free(bg->key_hashes);
	free(bg->key_rows);
	bg->key_hashes = NULL;
	bg->key_rows = NULL;
	return apply_group(batch->applier, &bg->group);
}

static BatchGroup *
batch_new_group(Batch *batch, ApplyGroupKind kind, Rel *rel)
{
	BatchGroup *bg = xcalloc(1, sizeof(BatchGroup));

	if (batch->ngroups == batch->groups_size)
	{
		batch->groups_size = batch->groups_size ? 2 * batch->groups_size : 64;
		batch->groups =
			xrealloc(batch->groups, batch->groups_size * sizeof(BatchGroup *));
	}
	batch->groups[batch->ngroups++] = bg;
	bg->group.kind = kind;
	bg->group.rel = rel ? rel_retain(rel) : NULL;
	if (!batch->started)
	{
		batch->started = true;
		batch->started_ms = clock_ms();
	}
	return bg;
}

/* Which kind of group a row change belongs to (see apply.h). */
static ApplyGroupKind
batch_group_kind(const Change *change)
{
	const Rel *rel = change->rel;

	if (change->kind == CHANGE_INSERT)
		return GROUP_UPSERT;
	if (rel->nkeys == 0 ||
		(change->old_kind != OLD_NONE &&
		 (change->kind == CHANGE_UPDATE || change->old_kind == OLD_ROW)))
		return GROUP_ROW;
	if (change->kind == CHANGE_DELETE)
		return GROUP_DELETE;
	for (int i = 0; i < rel->ncolumns; i++)
		if (change->new_values[i].kind == VALUE_UNCHANGED)
			return GROUP_UPDATE;
	return GROUP_UPSERT;
}

/* The values that identify the row a change writes (for the key hash). */
static const ChangeValue *
batch_key_values(const RowChange *row)
{
	return row->kind == CHANGE_DELETE ? row->old_values : row->new_values;
}

static uint32_t
batch_key_hash(const Rel *rel, const ChangeValue *values)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!rel->columns[i].key)
			continue;
		h = (h ^ (uint32_t) values[i].kind) * 16777619u;
		for (uint32_t j = 0; j < values[i].len; j++)
			h = (h ^ (unsigned char) values[i].data[j]) * 16777619u;
		h = (h ^ 0xff) * 16777619u;
	}
	return h ? h : 1;
}

static bool
batch_same_key(const Rel *rel, const ChangeValue *a, const ChangeValue *b)
{
	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!rel->columns[i].key)
			continue;
		if (a[i].kind != b[i].kind || a[i].len != b[i].len ||
			(a[i].len > 0 && memcmp(a[i].data, b[i].data, a[i].len) != 0))
			return false;
	}
	return true;
}

/*
 * Looks the change's key up in the group; adds it unless it is there.
 * Returns false if it was there.
 */
static bool
batch_add_key(BatchGroup *bg, const Change *change)
{
	const Rel *rel = change->rel;
	const ChangeValue *values = change->kind == CHANGE_DELETE
									? change->old_values
									: change->new_values;
	uint32_t hash = batch_key_hash(rel, values);
	int mask;
	int i;

	if (2 * (bg->group.nrows + 1) > bg->keys_size)
	{
		int old_size = bg->keys_size;
		uint32_t *old_hashes = bg->key_hashes;
		int *old_rows = bg->key_rows;

		bg->keys_size = old_size ? 2 * old_size : 64;
		bg->key_hashes = xcalloc(bg->keys_size, sizeof(uint32_t));
		bg->key_rows = xcalloc(bg->keys_size, sizeof(int));
		mask = bg->keys_size - 1;
		for (int j = 0; j < old_size; j++)
		{
			if (old_hashes[j] == 0)
				continue;
			i = old_hashes[j] & mask;
			while (bg->key_hashes[i])
				i = (i + 1) & mask;
			bg->key_hashes[i] = old_hashes[j];
			bg->key_rows[i] = old_rows[j];
		}
		free(old_hashes);
		free(old_rows);
	}
	mask = bg->keys_size - 1;
	for (i = hash & mask; bg->key_hashes[i]; i = (i + 1) & mask)
		if (bg->key_hashes[i] == hash &&
			batch_same_key(rel, values,
						   batch_key_values(&bg->group.rows[bg->key_rows[i]])))
			return false;
	bg->key_hashes[i] = hash;
	bg->key_rows[i] = bg->group.nrows;
	return true;
}

/* Whether change may join the open group bg (and then its key is added). */
static bool
batch_joins(Batch *batch, BatchGroup *bg, ApplyGroupKind kind,
			const Change *change)
{
	const ApplyGroup *group = &bg->group;

	if (group->kind != kind || group->rel != change->rel ||
		kind == GROUP_ROW || group->nrows >= BATCH_STATEMENT_ROWS)
		return false;
	if (kind == GROUP_UPDATE)
	{
		const ChangeValue *first = group->rows[0].new_values;

		for (int i = 0; i < change->rel->ncolumns; i++)
			if ((first[i].kind == VALUE_UNCHANGED) !=
				(change->new_values[i].kind == VALUE_UNCHANGED))
				return false;
	}
	return change->rel->nkeys == 0 || batch_add_key(bg, change);
}

/* A copy of values (ncolumns of them) in the arena; adds up their bytes. */
static const ChangeValue *
batch_copy_values(Batch *batch, const ChangeValue *values, int ncolumns,
				  int64_t *bytes)
{
	ChangeValue *copy;

	if (values == NULL)
		return NULL;
	copy = arena_alloc(batch, ncolumns * sizeof(ChangeValue));
	for (int i = 0; i < ncolumns; i++)
	{
		copy[i] = values[i];
		if (values[i].len > 0)
		{
			char *data = arena_alloc(batch, values[i].len);

			memcpy(data, values[i].data, values[i].len);
			copy[i].data = data;
			*bytes += values[i].len;
		}
	}
	*bytes += ncolumns * sizeof(ChangeValue);
	return copy;
}

static bool
batch_add_row(Batch *batch, const Change *change)
{
	ApplyGroupKind kind = batch_group_kind(change);
	BatchGroup *bg =
		batch->last_open ? batch->groups[batch->ngroups - 1] : NULL;
	RowChange *row;
	int64_t bytes = 0;

	if (bg == NULL || !batch_joins(batch, bg, kind, change))
	{
		if (!batch_close_group(batch))
			return false;
		bg = batch_new_group(batch, kind, change->rel);
		batch->last_open = true;
		if (kind != GROUP_ROW && change->rel->nkeys > 0)
			batch_add_key(bg, change);
	}
	if (bg->group.nrows == bg->rows_size)
	{
		bg->rows_size = bg->rows_size ? 2 * bg->rows_size : 16;
		bg->group.rows =
			xrealloc(bg->group.rows, bg->rows_size * sizeof(RowChange));
	}
	row = &bg->group.rows[bg->group.nrows++];
	row->kind = change->kind;
	row->old_kind = change->old_kind;
	row->old_values = batch_copy_values(batch, change->old_values,
										change->rel->ncolumns, &bytes);
	row->new_values = batch_copy_values(batch, change->new_values,
										change->rel->ncolumns, &bytes);
	batch->pending_bytes += bytes;
	batch->stats.rows++;
	batch->stats.bytes += bytes;

	/* the target takes what is held; memory stays bounded */
	if (batch->pending_bytes >= batch->limits.bytes)
	{
		if (!batch_close_group(batch) || !apply_sync(batch->applier))
			return false;
		batch_free_groups(batch);
	}
	return true;
}

static bool
batch_add_truncate(Batch *batch, const Change *change)
{
	BatchGroup *bg;

	if (!batch_close_group(batch))
		return false;
	bg = batch_new_group(batch, GROUP_TRUNCATE, NULL);
	bg->group.nrels = change->nrels;
	bg->group.rels = xcalloc(change->nrels, sizeof(Rel *));
	for (int i = 0; i < change->nrels; i++)
		bg->group.rels[i] = rel_retain(change->rels[i]);
	bg->group.cascade = change->cascade;
	bg->group.restart_identity = change->restart_identity;
	return apply_group(batch->applier, &bg->group);
}

static bool
batch_add_message(Batch *batch, const Change *change)
{
	BatchGroup *bg;
	char *content;

	if (!batch_close_group(batch))
		return false;
	bg = batch_new_group(batch, GROUP_MESSAGE, NULL);
	bg->group.prefix =
		strcpy(arena_alloc(batch, strlen(change->prefix) + 1), change->prefix);
	content = arena_alloc(batch, change->content_len + 1);
	if (change->content_len > 0)
		memcpy(content, change->content, change->content_len);
	content[change->content_len] = '\0';
	bg->group.content = content;
	bg->group.content_len = change->content_len;
	return apply_group(batch->applier, &bg->group);
}

bool
batch_add(Batch *batch, const Change *change)
{
	switch (change->kind)
	{
		case CHANGE_INSERT:
		case CHANGE_UPDATE:
		case CHANGE_DELETE:
			return batch_add_row(batch, change);
		case CHANGE_TRUNCATE:
			return batch_add_truncate(batch, change);
		case CHANGE_MESSAGE:
			return batch_add_message(batch, change);
		default:
			log_error("internal error: change of kind %d is not a row "
					  "change",
					  change->kind);
			return false;
	}
}

void
batch_end_transaction(Batch *batch, Lsn commit_lsn, Lsn end_lsn,
					  int64_t commit_time)
{
	if (!batch->started)
	{
		batch->started = true;
		batch->started_ms = clock_ms();
	}
	batch->stats.txns++;
	batch->stats.commit_lsn = commit_lsn;
	batch->stats.end_lsn = end_lsn;
	batch->stats.commit_time = commit_time;
}

bool
batch_has_transactions(const Batch *batch)
{
	return batch->stats.txns > 0;
}

bool
batch_should_commit(const Batch *batch)
{
	return batch->stats.txns > 0 &&
		   (batch->stats.rows >= (uint64_t) batch->limits.rows ||
			batch->stats.bytes >= (uint64_t) batch->limits.bytes ||
			clock_ms() - batch->started_ms >= batch->limits.time_ms);
}

bool
batch_commit(Batch *batch, const ProgressKey *key, BatchStats *stats)
{
	if (!batch_close_group(batch) ||
		!apply_commit(batch->applier, key, batch->stats.commit_lsn,
					  batch->stats.end_lsn))
		return false;
	*stats = batch->stats;
	stats->elapsed_ms = clock_ms() - batch->started_ms;
	batch_free_groups(batch);
	memset(&batch->stats, 0, sizeof(BatchStats));
	batch->started = false;
	return true;
}

void
batch_discard(Batch *batch)
{
	batch_free_groups(batch);
	memset(&batch->stats, 0, sizeof(BatchStats));
	batch->started = false;
}
