/*-------------------------------------------------------------------------
 *
 * prepared.c
 *	  The statements a target session has prepared, by SQL and types.
 *
 * An open-addressing hash table keyed by the SQL and the parameter type
 * OIDs.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/prepared.h"
#include "common/buf.h"

typedef struct Prepared
{
	char *key; /* the SQL, a newline, the type OIDs */
	int id;
} Prepared;

struct PreparedSet
{
	Prepared *slots;
	int size; /* a power of two */
	int count;
	int next_id;
};

PreparedSet *
prepared_create(void)
{
	PreparedSet *set = xcalloc(1, sizeof(PreparedSet));

	set->size = 64;
	set->slots = xcalloc(set->size, sizeof(Prepared));
	return set;
}

void
prepared_forget(PreparedSet *set)
{
	for (int i = 0; i < set->size; i++)
	{
		free(set->slots[i].key);
		set->slots[i].key = NULL;
	}
	set->count = 0;
}

void
prepared_destroy(PreparedSet *set)
{
	if (set == NULL)
		return;
	prepared_forget(set);
	free(set->slots);
	free(set);
}

bool
prepared_full(const PreparedSet *set)
{
	return set->count >= PREPARED_MAX;
}

static uint32_t
prepared_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

/* The slot of key: where it is, or the empty one where it would go. */
static int
prepared_slot(const PreparedSet *set, const char *key)
{
	int mask = set->size - 1;
	int i = prepared_hash(key) & mask;

	while (set->slots[i].key && strcmp(set->slots[i].key, key) != 0)
		i = (i + 1) & mask;
	return i;
}

static void
prepared_grow(PreparedSet *set)
{
	Prepared *old = set->slots;
	int old_size = set->size;

	set->size *= 2;
	set->slots = xcalloc(set->size, sizeof(Prepared));
	for (int j = 0; j < old_size; j++)
		if (old[j].key)
			set->slots[prepared_slot(set, old[j].key)] = old[j];
	free(old);
}

bool
prepared_lookup(PreparedSet *set, const Stmt *stmt, char *name)
{
	Buf key = BUF_INIT;
	Prepared *slot;
	bool is_new;

	buf_printf(&key, "%s\n", stmt->sql.data);
	for (int i = 0; i < stmt->nparams; i++)
		buf_printf(&key, "%u,", stmt->types[i]);
	if (2 * (set->count + 1) > set->size)
		prepared_grow(set);
	slot = &set->slots[prepared_slot(set, key.data)];
	is_new = (slot->key == NULL);
	if (is_new)
	{
		slot->key = key.data;
		slot->id = ++set->next_id;
		set->count++;
	}
	else
		buf_free(&key);
	snprintf(name, PREPARED_NAME_LEN, "pgferry_%d", slot->id);
	return is_new;
}
