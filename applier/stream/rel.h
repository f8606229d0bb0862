/*-------------------------------------------------------------------------
 *
 * rel.h
 *	  The relation cache: what the source said about each relation.
 *
 * A Rel is one version of a relation's metadata as a Relation frame (or
 * any other input) described it.  Versions are immutable and reference
 * counted: a newer Relation for the same OID replaces the cache entry,
 * while changes still queued keep the version they were decoded with.
 *
 * The target module attaches its own facts (column mapping on the target,
 * statements) to a version through `target`, freed with it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_REL_H
#define PGFERRY_REL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <postgres_ext.h>

#include "common/metrics.h"

typedef enum RelIdentity
{
	REL_IDENTITY_DEFAULT, /* primary key */
	REL_IDENTITY_NOTHING,
	REL_IDENTITY_FULL,
	REL_IDENTITY_INDEX
} RelIdentity;

typedef struct RelColumn
{
	char *name;
	Oid type_oid;
	char *type_schema;
	char *type_name;
	int32_t typmod;
	bool key;		/* part of the replica identity */
	bool generated; /* stored generated column */
	bool identity;	/* identity column */
	bool binary;	/* values come in binary (send/recv) form */
	bool not_null;
} RelColumn;

typedef struct Rel
{
	Oid oid; /* on the source */
	char *schema;
	char *name;
	char *root_schema; /* for a partition, its root; else NULL */
	char *root_name;
	RelIdentity identity;
	int ncolumns;
	RelColumn *columns;
	int nkeys; /* columns with key set */

	/* the frame that described this version, for the spool */
	uint8_t *frame;
	size_t frame_len;

	/*
	 * Set by the follow job: the table is outside the task's tables (a
	 * wider publication sends it), its changes are dropped.
	 */
	bool outside_task;

	/* filled by the target module on first use */
	void *target;
	void (*target_free)(void *target);

	/*
	 * Its rows' metrics (apply/tablemetrics.h), by kind (insert, update,
	 * delete): made on first use, kept by the registry.
	 */
	MetricSeries *received[3];
	MetricSeries *written[3];

	int refcount;
} Rel;

typedef struct RelCache RelCache;

/* A new version with refcount 1; the caller fills the fields. */
extern Rel *rel_create(void);
extern Rel *rel_retain(Rel *rel);
extern void rel_release(Rel *rel);

extern RelCache *rel_cache_create(void);
extern void rel_cache_destroy(RelCache *cache);
/* Makes rel the current version of its OID (the cache takes a reference). */
extern void rel_cache_put(RelCache *cache, Rel *rel);
/* The current version for oid, or NULL; no reference is taken. */
extern Rel *rel_cache_get(const RelCache *cache, Oid oid);

/* "schema"."name" for messages (static buffer, valid until next call). */
extern const char *rel_display(const Rel *rel);

#endif /* PGFERRY_REL_H */
