/*-------------------------------------------------------------------------
 *
 * net.c
 *	  The net effect of a batch's row changes, per table and key.
 *
 * A table's entries (NetRow) sit in an open-addressing hash by key.  An
 * entry is one allocation: its values, then their bytes; composing a
 * change makes a new one and frees the old.  A table written out moves to
 * the list of written tables with the groups that point into its rows,
 * and a later change of it starts a new table.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "apply/net.h"
#include "common/buf.h"

typedef enum NetKind
{
	NET_DELETE, /* the key is to be deleted */
	NET_INSERT, /* the row is new: the whole of it is known */
	NET_UPDATE	/* the row changed: the columns that arrived */
} NetKind;

typedef struct NetRow
{
	uint32_t hash; /* of the key */
	NetKind kind;
	bool deleted_first;	  /* NET_INSERT: a delete of the key came before */
	bool new_in_batch;	  /* the key had no row when the batch began: a
						   * delete of it may find none on the target */
	uint64_t seq;		  /* when its last change came */
	int64_t bytes;		  /* its allocation */
	ChangeValue values[]; /* ncolumns; NET_DELETE: the key's columns */
} NetRow;

typedef struct NetTable
{
	Rel *rel;
	NetRow **slots; /* open addressing; NULL = empty */
	int size;		/* a power of two */
	int count;

	/* once written out: the groups queued, and what they point to */
	ApplyGroup *groups;
	int ngroups;
	RowChange *changes;
	struct NetTable *next; /* in the list of written tables */
} NetTable;

struct NetState
{
	Applier *applier;
	NetTable **tables; /* open addressing by OID; NULL = empty */
	int size;
	int count;
	NetTable *written; /* written out, not yet acknowledged */
	uint64_t seq;
};

bool
net_keyed(const Rel *rel)
{
	return rel->nkeys > 0 && (rel->identity == REL_IDENTITY_DEFAULT ||
							  rel->identity == REL_IDENTITY_INDEX);
}

NetState *
net_create(Applier *applier)
{
	NetState *net = xcalloc(1, sizeof(NetState));

	net->applier = applier;
	net->size = 16;
	net->tables = xcalloc(net->size, sizeof(NetTable *));
	return net;
}

static void
net_table_free(NetTable *table)
{
	for (int i = 0; i < table->size; i++)
		free(table->slots[i]);
	free(table->slots);
	free(table->groups);
	free(table->changes);
	rel_release(table->rel);
	free(table);
}

void
net_destroy(NetState *net)
{
	if (net == NULL)
		return;
	for (int i = 0; i < net->size; i++)
		if (net->tables[i])
			net_table_free(net->tables[i]);
	while (net->written)
	{
		NetTable *next = net->written->next;

		net_table_free(net->written);
		net->written = next;
	}
	free(net->tables);
	free(net);
}

/* --- tables by OID --------------------------------------------------------- */

static int
net_table_slot(const NetState *net, Oid oid)
{
	int mask = net->size - 1;
	int i = (int) ((oid * 2654435761u) & mask);

	while (net->tables[i] && net->tables[i]->rel->oid != oid)
		i = (i + 1) & mask;
	return i;
}

static NetTable *
net_table(NetState *net, Rel *rel)
{
	int i = net_table_slot(net, rel->oid);
	NetTable *table;

	if (net->tables[i])
		return net->tables[i];
	if (2 * (net->count + 1) > net->size)
	{
		NetTable **old = net->tables;
		int old_size = net->size;

		net->size *= 2;
		net->tables = xcalloc(net->size, sizeof(NetTable *));
		for (int j = 0; j < old_size; j++)
			if (old[j])
				net->tables[net_table_slot(net, old[j]->rel->oid)] = old[j];
		free(old);
		i = net_table_slot(net, rel->oid);
	}
	table = xcalloc(1, sizeof(NetTable));
	table->rel = rel_retain(rel);
	table->size = 64;
	table->slots = xcalloc(table->size, sizeof(NetRow *));
	net->tables[i] = table;
	net->count++;
	return table;
}

/* Takes the table out of the hash (keeping the others findable). */
static void
net_table_remove(NetState *net, Oid oid)
{
	int mask = net->size - 1;
	int i = net_table_slot(net, oid);

	net->tables[i] = NULL;
	net->count--;
	for (int j = (i + 1) & mask; net->tables[j]; j = (j + 1) & mask)
	{
		NetTable *moved = net->tables[j];

		net->tables[j] = NULL;
		net->tables[net_table_slot(net, moved->rel->oid)] = moved;
	}
}

/* --- rows by key ------------------------------------------------------------ */

/* The slot of the row whose key is key (hash), or the empty slot for it. */
static int
net_row_slot(const NetTable *table, const ChangeValue *key, uint32_t hash)
{
	int mask = table->size - 1;
	int i = hash & mask;

	while (table->slots[i] &&
		   !(table->slots[i]->hash == hash &&
			 change_key_same(table->rel, table->slots[i]->values, key)))
		i = (i + 1) & mask;
	return i;
}

static void
net_grow_rows(NetTable *table)
{
	NetRow **old = table->slots;
	int old_size = table->size;

	table->size *= 2;
	table->slots = xcalloc(table->size, sizeof(NetRow *));
	for (int j = 0; j < old_size; j++)
	{
		int i;

		if (old[j] == NULL)
			continue;
		for (i = old[j]->hash & (table->size - 1); table->slots[i];
			 i = (i + 1) & (table->size - 1))
			;
		table->slots[i] = old[j];
	}
	free(old);
}

/*
 * A new entry of kind for the row whose key is key (hash): its key columns
 * are key's, its other columns over's where over has them (not unchanged),
 * else base's (base may be NULL); a delete has only the key's.
 */
static NetRow *
net_row_make(const Rel *rel, NetKind kind, const ChangeValue *key,
			 const ChangeValue *base, const ChangeValue *over, uint32_t hash)
{
	size_t size = sizeof(NetRow) + rel->ncolumns * sizeof(ChangeValue);
	ChangeValue *picked = xmalloc(rel->ncolumns * sizeof(ChangeValue));
	NetRow *row;
	char *data;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (rel->columns[i].key)
			picked[i] = key[i];
		else if (kind == NET_DELETE)
			picked[i] = (ChangeValue){VALUE_NULL, 0, NULL};
		else if (base && over[i].kind == VALUE_UNCHANGED)
			picked[i] = base[i];
		else
			picked[i] = over[i];
		size += picked[i].len;
	}
	row = xmalloc(size);
	row->hash = hash;
	row->kind = kind;
	row->deleted_first = false;
	row->new_in_batch = false;
	row->bytes = (int64_t) size;
	data = (char *) &row->values[rel->ncolumns];
	for (int i = 0; i < rel->ncolumns; i++)
	{
		row->values[i] = picked[i];
		if (picked[i].len > 0)
		{
			memcpy(data, picked[i].data, picked[i].len);
			row->values[i].data = data;
			data += picked[i].len;
		}
	}
	free(picked);
	return row;
}

/*
 * Puts row in slot i of table (in place of what was there); returns the
 * change in bytes held.
 */
static int64_t
net_row_put(NetState *net, NetTable *table, int i, NetRow *row)
{
	int64_t bytes = row->bytes;

	row->seq = ++net->seq;
	if (table->slots[i])
	{
		bytes -= table->slots[i]->bytes;
		free(table->slots[i]);
	}
	else
		table->count++;
	table->slots[i] = row;
	return bytes;
}

/* Whether values have a column whose unchanged TOASTed value did not come. */
static bool
net_partial(const Rel *rel, const ChangeValue *values)
{
	for (int i = 0; i < rel->ncolumns; i++)
		if (values[i].kind == VALUE_UNCHANGED)
			return true;
	return false;
}

/*
 * The key an update's new row has: its new values' key columns, or the old
 * key's where the new value did not come (unchanged TOAST).
 */
static ChangeValue *
net_new_key(const Rel *rel, const ChangeValue *old_key,
			const ChangeValue *new_values)
{
	ChangeValue *key = xmalloc(rel->ncolumns * sizeof(ChangeValue));

	for (int i = 0; i < rel->ncolumns; i++)
		key[i] =
			new_values[i].kind == VALUE_UNCHANGED ? old_key[i] : new_values[i];
	return key;
}

/* An update that moves the row from the old key to a new one. */
static NetAdd
net_add_move(NetState *net, NetTable *table, const Change *change,
			 const ChangeValue *new_key, int64_t *bytes)
{
	const Rel *rel = table->rel;
	uint32_t old_hash = change_key_hash(rel, change->old_values);
	uint32_t new_hash = change_key_hash(rel, new_key);
	int from = net_row_slot(table, change->old_values, old_hash);
	int to = net_row_slot(table, new_key, new_hash);
	NetRow *was = table->slots[from];
	NetRow *moved;
	NetRow *gone;
	bool deleted_first;
	bool was_new;

	if ((was && was->kind == NET_DELETE) ||
		(table->slots[to] && table->slots[to]->kind != NET_DELETE))
		return NET_IN_ORDER; /* not what the source can do */
	deleted_first = table->slots[to] != NULL;
	moved = net_row_make(rel, NET_INSERT, new_key, was ? was->values : NULL,
						 change->new_values, new_hash);
	if (net_partial(rel, moved->values))
	{
		/* only the target has the rest of the row */
		free(moved);
		return NET_IN_ORDER;
	}
	moved->deleted_first = deleted_first;
	moved->new_in_batch = !deleted_first || table->slots[to]->new_in_batch;
	was_new = was && was->new_in_batch;
	*bytes += net_row_put(net, table, to, moved);
	/* the new key's row may have taken the slot where the old key's goes */
	from = net_row_slot(table, change->old_values, old_hash);
	gone = net_row_make(rel, NET_DELETE, change->old_values, NULL, NULL,
						old_hash);
	gone->new_in_batch = was_new;
	*bytes += net_row_put(net, table, from, gone);
	return NET_ADDED;
}

NetAdd
net_add(NetState *net, const Change *change, int64_t *bytes)
{
	const Rel *rel = change->rel;
	NetTable *table;
	const ChangeValue *key;
	ChangeValue *new_key = NULL;
	uint32_t hash;
	NetRow *was;
	NetRow *row;
	int slot;

	*bytes = 0;
	table = net_table(net, change->rel);
	if (table->rel != change->rel)
		return NET_FLUSH_FIRST;
	if (2 * (table->count + 2) > table->size)
		net_grow_rows(table);

	/* the key the change finds its row by */
	if (change->kind == CHANGE_INSERT)
		key = change->new_values;
	else if (change->old_kind == OLD_KEY)
		key = change->old_values;
	else if (change->kind == CHANGE_UPDATE)
		key = change->new_values;
	else
		return NET_IN_ORDER; /* a delete without its key: refused there */

	if (change->kind == CHANGE_UPDATE && change->old_kind == OLD_KEY)
	{
		new_key = net_new_key(rel, change->old_values, change->new_values);
		if (!change_key_same(rel, new_key, change->old_values))
		{
			NetAdd added = net_add_move(net, table, change, new_key, bytes);

			free(new_key);
			return added;
		}
		free(new_key);
	}

	hash = change_key_hash(rel, key);
	slot = net_row_slot(table, key, hash);
	was = table->slots[slot];
	switch (change->kind)
	{
		case CHANGE_INSERT:
			if (was && was->kind != NET_DELETE)
				return NET_IN_ORDER; /* an insert of a key that is there */
			row = net_row_make(rel, NET_INSERT, key, NULL, change->new_values,
							   hash);
			row->deleted_first = was != NULL;
			row->new_in_batch = was == NULL || was->new_in_batch;
			break;
		case CHANGE_UPDATE:
			if (was && was->kind == NET_DELETE)
				return NET_IN_ORDER; /* an update of a deleted row */
			row = net_row_make(rel, was ? was->kind : NET_UPDATE, key,
							   was ? was->values : NULL, change->new_values,
							   hash);
			row->deleted_first = was && was->deleted_first;
			row->new_in_batch = was && was->new_in_batch;
			break;
		default:
			row = net_row_make(rel, NET_DELETE, key, NULL, NULL, hash);
			row->new_in_batch = was && was->new_in_batch;
			break;
	}
	*bytes += net_row_put(net, table, slot, row);
	return NET_ADDED;
}

/* --- writing out -------------------------------------------------------- */

static int
net_by_seq(const void *a, const void *b)
{
	const NetRow *x = *(const NetRow *const *) a;
	const NetRow *y = *(const NetRow *const *) b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Whether two partial updates write the same columns. */
static bool
net_same_shape(const Rel *rel, const NetRow *a, const NetRow *b)
{
	for (int i = 0; i < rel->ncolumns; i++)
		if ((a->values[i].kind == VALUE_UNCHANGED) !=
			(b->values[i].kind == VALUE_UNCHANGED))
			return false;
	return true;
}

/*
 * Appends a group of kind over the next n changes of table (from *used),
 * unless n is 0.
 */
static void
net_add_group(NetTable *table, ApplyGroupKind kind, int n, int *used)
{
	ApplyGroup *group;

	if (n == 0)
		return;
	group = &table->groups[table->ngroups++];
	memset(group, 0, sizeof(ApplyGroup));
	group->kind = kind;
	group->rel = table->rel;
	group->rows = &table->changes[*used];
	group->nrows = n;
	*used += n;
}

static RowChange
net_change(const NetRow *row, ChangeKind kind)
{
	RowChange change = {kind, OLD_NONE, NULL, NULL};

	if (kind == CHANGE_DELETE)
	{
		change.old_kind = OLD_KEY;
		change.old_values = row->values;
	}
	else
		change.new_values = row->values;
	return change;
}

/* Builds the groups of a table's entries (see net.h for their order). */
static void
net_build_groups(NetTable *table)
{
	const Rel *rel = table->rel;
	NetRow **rows = xmalloc((table->count + 1) * sizeof(NetRow *));
	int nrows = 0;
	int used = 0;
	int n;

	for (int i = 0; i < table->size; i++)
		if (table->slots[i])
			rows[nrows++] = table->slots[i];
	qsort(rows, nrows, sizeof(NetRow *), net_by_seq);
	/*
	 * A delete per key deleted (those of keys the batch made, which the
	 * target may well lack, apart), then at most one group per update
	 * shape.
	 */
	table->changes = xmalloc((2 * nrows + 1) * sizeof(RowChange));
	table->groups = xmalloc((nrows + 4) * sizeof(ApplyGroup));

	for (int pass = 0; pass < 2; pass++)
	{
		bool made_here = pass == 1;

		n = 0;
		for (int i = 0; i < nrows; i++)
			if ((rows[i]->kind == NET_DELETE || rows[i]->deleted_first) &&
				rows[i]->new_in_batch == made_here)
				table->changes[used + n++] =
					net_change(rows[i], CHANGE_DELETE);
		net_add_group(table, GROUP_DELETE, n, &used);
		if (n > 0)
			table->groups[table->ngroups - 1].absent_ok = made_here;
	}

	/* partial updates, one group per set of columns, in order of first */
	for (int i = 0; i < nrows; i++)
	{
		if (rows[i] == NULL || rows[i]->kind != NET_UPDATE ||
			!net_partial(rel, rows[i]->values))
			continue;
		n = 0;
		for (int j = i; j < nrows; j++)
		{
			if (rows[j] == NULL || rows[j]->kind != NET_UPDATE ||
				!net_same_shape(rel, rows[i], rows[j]))
				continue;
			table->changes[used + n++] = net_change(rows[j], CHANGE_UPDATE);
			if (j > i)
				rows[j] = NULL;
		}
		net_add_group(table, GROUP_UPDATE, n, &used);
		rows[i] = NULL;
	}

	n = 0;
	for (int i = 0; i < nrows; i++)
		if (rows[i] && rows[i]->kind == NET_UPDATE)
			table->changes[used + n++] = net_change(rows[i], CHANGE_UPDATE);
	net_add_group(table, GROUP_UPSERT, n, &used);

	n = 0;
	for (int i = 0; i < nrows; i++)
		if (rows[i] && rows[i]->kind == NET_INSERT)
			table->changes[used + n++] = net_change(rows[i], CHANGE_INSERT);
	net_add_group(table, GROUP_INSERT, n, &used);
	free(rows);
}

bool
net_flush_table(NetState *net, Oid oid)
{
	int i = net_table_slot(net, oid);
	NetTable *table = net->tables[i];

	if (table == NULL)
		return true;
	net_table_remove(net, oid);
	table->next = net->written;
	net->written = table;
	net_build_groups(table);
	for (int g = 0; g < table->ngroups; g++)
		if (!apply_group(net->applier, &table->groups[g]))
			return false;
	return true;
}

bool
net_flush(NetState *net)
{
	while (net->count > 0)
	{
		Oid oid = InvalidOid;

		for (int i = 0; i < net->size && oid == InvalidOid; i++)
			if (net->tables[i])
				oid = net->tables[i]->rel->oid;
		if (!net_flush_table(net, oid))
			return false;
	}
	return true;
}
