/*-------------------------------------------------------------------------
 *
 * ordered.c
 *	  Changes written in source order, consecutive ones of one kind
 *	  together where that changes nothing.
 *
 * Row data is copied into an arena of blocks, freed all at once.  The open
 * group keeps a hash of its keys to notice a key coming twice.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "apply/ordered.h"
#include "common/buf.h"

#define ARENA_BLOCK_SIZE (256 * 1024)

/*
 * Rows of one statement.  A group is queued when it closes, so the target
 * works on it while the next is read: measured on the apply benchmark
 * (200,000 inserts, 50,000 updates, 20,000 deletes, 20,000 one-row
 * transactions), 1,000 to 2,000 rows per statement applied it in 2.0 s,
 * 5,000 in 2.5-3.5 s, 20,000 in 4.1-6.4 s: large statements leave the
 * target idle while they fill.  Below 1,000, per-statement costs grow.
 */
#define ORDERED_GROUP_ROWS 2000

typedef struct ArenaBlock
{
	struct ArenaBlock *next;
	size_t used;
	size_t size;
	char data[];
} ArenaBlock;

/* A group and, while it is open, the hash of its keys. */
typedef struct OrderedGroup
{
	ApplyGroup group;
	int rows_size;
	uint32_t *key_hashes; /* open addressing; 0 = empty */
	int *key_rows;
	int keys_size;
} OrderedGroup;

struct Ordered
{
	Applier *applier;
	OrderedGroup **groups; /* queued or open, not yet acknowledged */
	int ngroups;
	int groups_size;
	bool last_open; /* the last group may take more rows */
	ArenaBlock *arena;
};

static void *
arena_alloc(Ordered *ordered, size_t size)
{
	ArenaBlock *block = ordered->arena;

	size = (size + 7) & ~(size_t) 7;
	if (block == NULL || block->size - block->used < size)
	{
		size_t block_size =
			size > ARENA_BLOCK_SIZE / 4 ? size : ARENA_BLOCK_SIZE;

		block = xmalloc(sizeof(ArenaBlock) + block_size);
		block->size = block_size;
		block->used = 0;
		if (size > ARENA_BLOCK_SIZE / 4 && ordered->arena)
		{
			/* a big value gets a block of its own, behind the current one */
			block->next = ordered->arena->next;
			ordered->arena->next = block;
			block->used = size;
			return block->data;
		}
		block->next = ordered->arena;
		ordered->arena = block;
	}
	block->used += size;
	return block->data + block->used - size;
}

Ordered *
ordered_create(Applier *applier)
{
	Ordered *ordered = xcalloc(1, sizeof(Ordered));

	ordered->applier = applier;
	return ordered;
}

static void
ordered_free_group(OrderedGroup *og)
{
	ApplyGroup *group = &og->group;

	rel_release(group->rel);
	for (int i = 0; i < group->nrels; i++)
		rel_release(group->rels[i]);
	free(group->rels);
	free(group->rows);
	free(og->key_hashes);
	free(og->key_rows);
	free(og);
}

void
ordered_free(Ordered *ordered)
{
	for (int i = 0; i < ordered->ngroups; i++)
		ordered_free_group(ordered->groups[i]);
	ordered->ngroups = 0;
	ordered->last_open = false;
	while (ordered->arena)
	{
		ArenaBlock *next = ordered->arena->next;

		free(ordered->arena);
		ordered->arena = next;
	}
}

void
ordered_destroy(Ordered *ordered)
{
	if (ordered == NULL)
		return;
	ordered_free(ordered);
	free(ordered->groups);
	free(ordered);
}

bool
ordered_close(Ordered *ordered)
{
	OrderedGroup *og;

	if (!ordered->last_open)
		return true;
	ordered->last_open = false;
	og = ordered->groups[ordered->ngroups - 1];
	free(og->key_hashes);
	free(og->key_rows);
	og->key_hashes = NULL;
	og->key_rows = NULL;
	return apply_group(ordered->applier, &og->group);
}

static OrderedGroup *
ordered_new_group(Ordered *ordered, ApplyGroupKind kind, Rel *rel)
{
	OrderedGroup *og = xcalloc(1, sizeof(OrderedGroup));

	if (ordered->ngroups == ordered->groups_size)
	{
		ordered->groups_size =
			ordered->groups_size ? 2 * ordered->groups_size : 64;
		ordered->groups = xrealloc(
			ordered->groups, ordered->groups_size * sizeof(OrderedGroup *));
	}
	ordered->groups[ordered->ngroups++] = og;
	og->group.kind = kind;
	og->group.rel = rel ? rel_retain(rel) : NULL;
	return og;
}

/* Which kind of group a row change belongs to (see apply.h). */
static ApplyGroupKind
ordered_group_kind(const Change *change)
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
ordered_key_values(ChangeKind kind, const ChangeValue *old_values,
				   const ChangeValue *new_values)
{
	return kind == CHANGE_DELETE ? old_values : new_values;
}

/*
 * Looks the change's key up in the group; adds it unless it is there.
 * Returns false if it was there.
 */
static bool
ordered_add_key(OrderedGroup *og, const Change *change)
{
	const Rel *rel = change->rel;
	const ChangeValue *values = ordered_key_values(
		change->kind, change->old_values, change->new_values);
	uint32_t hash = change_key_hash(rel, values);
	int mask;
	int i;

	if (2 * (og->group.nrows + 1) > og->keys_size)
	{
		int old_size = og->keys_size;
		uint32_t *old_hashes = og->key_hashes;
		int *old_rows = og->key_rows;

		og->keys_size = old_size ? 2 * old_size : 64;
		og->key_hashes = xcalloc(og->keys_size, sizeof(uint32_t));
		og->key_rows = xcalloc(og->keys_size, sizeof(int));
		mask = og->keys_size - 1;
		for (int j = 0; j < old_size; j++)
		{
			if (old_hashes[j] == 0)
				continue;
			i = old_hashes[j] & mask;
			while (og->key_hashes[i])
				i = (i + 1) & mask;
			og->key_hashes[i] = old_hashes[j];
			og->key_rows[i] = old_rows[j];
		}
		free(old_hashes);
		free(old_rows);
	}
	mask = og->keys_size - 1;
	for (i = hash & mask; og->key_hashes[i]; i = (i + 1) & mask)
	{
		const RowChange *row = &og->group.rows[og->key_rows[i]];

		if (og->key_hashes[i] == hash &&
			change_key_same(rel, values,
							ordered_key_values(row->kind, row->old_values,
											   row->new_values)))
			return false;
	}
	og->key_hashes[i] = hash;
	og->key_rows[i] = og->group.nrows;
	return true;
}

/*
 * Whether change may join the open group og (and then its key is added):
 * an insert joins inserts, a delete by key joins deletes; an update is a
 * group of its own.
 */
static bool
ordered_joins(OrderedGroup *og, ApplyGroupKind kind, const Change *change)
{
	const ApplyGroup *group = &og->group;

	if (group->kind != kind || group->rel != change->rel ||
		(kind != GROUP_UPSERT && kind != GROUP_DELETE) ||
		change->kind == CHANGE_UPDATE ||
		group->rows[0].kind == CHANGE_UPDATE ||
		group->nrows >= ORDERED_GROUP_ROWS)
		return false;
	return change->rel->nkeys == 0 || ordered_add_key(og, change);
}

/* A copy of values (ncolumns of them) in the arena; adds up their bytes. */
static const ChangeValue *
ordered_copy_values(Ordered *ordered, const ChangeValue *values, int ncolumns,
					int64_t *bytes)
{
	ChangeValue *copy;

	if (values == NULL)
		return NULL;
	copy = arena_alloc(ordered, ncolumns * sizeof(ChangeValue));
	for (int i = 0; i < ncolumns; i++)
	{
		copy[i] = values[i];
		if (values[i].len > 0)
		{
			char *data = arena_alloc(ordered, values[i].len);

			memcpy(data, values[i].data, values[i].len);
			copy[i].data = data;
			*bytes += values[i].len;
		}
	}
	*bytes += ncolumns * sizeof(ChangeValue);
	return copy;
}

bool
ordered_add_row(Ordered *ordered, const Change *change, int64_t *bytes)
{
	ApplyGroupKind kind = ordered_group_kind(change);
	OrderedGroup *og =
		ordered->last_open ? ordered->groups[ordered->ngroups - 1] : NULL;
	RowChange *row;

	*bytes = 0;
	if (og == NULL || !ordered_joins(og, kind, change))
	{
		if (!ordered_close(ordered))
			return false;
		og = ordered_new_group(ordered, kind, change->rel);
		ordered->last_open = true;
		if (kind != GROUP_ROW && change->rel->nkeys > 0)
			ordered_add_key(og, change);
	}
	if (og->group.nrows == og->rows_size)
	{
		og->rows_size = og->rows_size ? 2 * og->rows_size : 16;
		og->group.rows =
			xrealloc(og->group.rows, og->rows_size * sizeof(RowChange));
	}
	row = &og->group.rows[og->group.nrows++];
	row->kind = change->kind;
	row->old_kind = change->old_kind;
	row->old_values = ordered_copy_values(ordered, change->old_values,
										  change->rel->ncolumns, bytes);
	row->new_values = ordered_copy_values(ordered, change->new_values,
										  change->rel->ncolumns, bytes);
	return true;
}

bool
ordered_add_truncate(Ordered *ordered, const Change *change)
{
	OrderedGroup *og;

	if (!ordered_close(ordered))
		return false;
	og = ordered_new_group(ordered, GROUP_TRUNCATE, NULL);
	og->group.nrels = change->nrels;
	og->group.rels = xcalloc(change->nrels, sizeof(Rel *));
	for (int i = 0; i < change->nrels; i++)
		og->group.rels[i] = rel_retain(change->rels[i]);
	og->group.cascade = change->cascade;
	og->group.restart_identity = change->restart_identity;
	return apply_group(ordered->applier, &og->group);
}

bool
ordered_add_message(Ordered *ordered, const Change *change)
{
	OrderedGroup *og;
	char *content;

	if (!ordered_close(ordered))
		return false;
	og = ordered_new_group(ordered, GROUP_MESSAGE, NULL);
	og->group.prefix = strcpy(arena_alloc(ordered, strlen(change->prefix) + 1),
							  change->prefix);
	content = arena_alloc(ordered, change->content_len + 1);
	if (change->content_len > 0)
		memcpy(content, change->content, change->content_len);
	content[change->content_len] = '\0';
	og->group.content = content;
	og->group.content_len = change->content_len;
	og->group.lsn = change->lsn;
	return apply_group(ordered->applier, &og->group);
}
