/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  What the source's catalogs say about the tables a migration moves.
 *
 * Promises: catalog_tables() lists, as the session's snapshot sees them,
 * the tables whose rows a migration copies: ordinary tables and leaf
 * partitions (never a partitioned parent, which holds no rows), unlogged
 * ones included, temporary ones, system schemas, the pgferry schema and
 * extension member tables excluded, filtered as the plugin filters
 * changes.  For each: the columns COPY moves (live, not generated, by
 * name), whether all of them have a binary format both servers read alike,
 * sizes, and what preflight reports (key, replica identity, persistence).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CATALOG_H
#define PGFERRY_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog/tablefilter.h"
#include "pg/pg.h"

typedef struct SourceTable
{
	Oid oid;
	char *schema;
	char *name;
	char *qualified;	  /* "schema"."name", quoted */
	char *root_qualified; /* a partition's root, quoted; else NULL */
	/* the columns COPY moves, quoted and comma-separated ("" for none) */
	char *columns;
	int ncolumns;
	bool binary;		   /* COPY may use FORMAT binary */
	bool has_children;	   /* inheritance parent: copy ONLY it */
	char persistence;	   /* 'p' permanent, 'u' unlogged */
	char replica_identity; /* 'd', 'n', 'f', 'i' */
	bool has_primary_key;
	bool has_identity_index; /* REPLICA IDENTITY USING INDEX set */
	int64_t heap_blocks;	 /* main fork, in blocks */
	int64_t bytes;			 /* main fork + TOAST */
	double estimated_rows;	 /* pg_class.reltuples, -1 if unknown */
} SourceTable;

typedef struct SourceTables
{
	SourceTable *tables;
	int count;
	int block_size;
} SourceTables;

/* Lists the tables; false (after reporting) on error. */
extern bool catalog_tables(PgConn *source, const TableFilter *filter,
						   SourceTables *out);
extern const SourceTable *catalog_find(const SourceTables *tables,
									   const char *schema, const char *name);
extern void catalog_free(SourceTables *tables);

#endif /* PGFERRY_CATALOG_H */
