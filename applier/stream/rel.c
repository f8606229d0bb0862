/*-------------------------------------------------------------------------
 *
 * rel.c
 *	  The relation cache: versions of source relation metadata by OID.
 *
 * An open-addressing hash table keyed by OID; a workload touches at most a
 * few thousand relations, so the table only grows.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "stream/rel.h"

struct RelCache
{
	Rel **slots;
	size_t size; /* a power of two */
	size_t used;
};

Rel *
rel_create(void)
{
	Rel *rel = xcalloc(1, sizeof(Rel));

	rel->refcount = 1;
	return rel;
}

Rel *
rel_retain(Rel *rel)
{
	rel->refcount++;
	return rel;
}

void
rel_release(Rel *rel)
{
	if (rel == NULL || --rel->refcount > 0)
		return;
	if (rel->target && rel->target_free)
		rel->target_free(rel->target);
	for (int i = 0; i < rel->ncolumns; i++)
	{
		free(rel->columns[i].name);
		free(rel->columns[i].type_schema);
		free(rel->columns[i].type_name);
	}
	free(rel->columns);
	free(rel->schema);
	free(rel->name);
	free(rel->root_schema);
	free(rel->root_name);
	free(rel->frame);
	free(rel);
}

RelCache *
rel_cache_create(void)
{
	RelCache *cache = xcalloc(1, sizeof(RelCache));

	cache->size = 64;
	cache->slots = xcalloc(cache->size, sizeof(Rel *));
	return cache;
}

void
rel_cache_destroy(RelCache *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < cache->size; i++)
		rel_release(cache->slots[i]);
	free(cache->slots);
	free(cache);
}

static size_t
rel_cache_slot(const RelCache *cache, Oid oid)
{
	size_t i = ((size_t) oid * 2654435761u) & (cache->size - 1);

	while (cache->slots[i] && cache->slots[i]->oid != oid)
		i = (i + 1) & (cache->size - 1);
	return i;
}

static void
rel_cache_grow(RelCache *cache)
{
	Rel **old = cache->slots;
	size_t old_size = cache->size;

	cache->size *= 2;
	cache->slots = xcalloc(cache->size, sizeof(Rel *));
	for (size_t i = 0; i < old_size; i++)
		if (old[i])
			cache->slots[rel_cache_slot(cache, old[i]->oid)] = old[i];
	free(old);
}

void
rel_cache_put(RelCache *cache, Rel *rel)
{
	size_t i;

	if (2 * (cache->used + 1) > cache->size)
		rel_cache_grow(cache);
	i = rel_cache_slot(cache, rel->oid);
	/*
	 * Retain before releasing: rel may be the entry it replaces (a replay
	 * meeting the same description twice), held by the cache alone.
	 */
	rel_retain(rel);
	if (cache->slots[i])
		rel_release(cache->slots[i]);
	else
		cache->used++;
	cache->slots[i] = rel;
}

Rel *
rel_cache_get(const RelCache *cache, Oid oid)
{
	return cache->slots[rel_cache_slot(cache, oid)];
}

const char *
rel_display(const Rel *rel)
{
	static char display[2 * 64 * 2 + 8];

	snprintf(display, sizeof(display), "\"%s\".\"%s\"", rel->schema,
			 rel->name);
	return display;
}
