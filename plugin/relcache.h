/*-------------------------------------------------------------------------
 *
 * relcache.h
 *	  What the pgferry plugin knows about each decoded relation.
 *
 * An entry holds everything a row frame needs (which columns are live, how
 * each value is converted) and the policy decisions about the relation
 * (does it pass the table filters, does the consumer already know its
 * Relation frame).  It is built on the first change to the relation and
 * kept until a relcache invalidation of the relation, so nothing is looked
 * up per row.  After an invalidation the next lookup rebuilds it and the
 * Relation frame is sent again.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_RELCACHE_H
#define PGFERRY_RELCACHE_H

#include "fmgr.h"
#include "utils/rel.h"

#include "options.h"

typedef struct RelColumn
{
	int attindex; /* index in the relation's TupleDesc */
	Oid typid;
	bool key;	  /* part of the replica identity */
	bool binary;  /* sent with the type's send function */
	bool varlena; /* values may be TOAST pointers */
	FmgrInfo out; /* the send or the output function */
} RelColumn;

typedef struct RelEntry
{
	Oid relid;			  /* hash key */
	bool valid;			  /* false after a relcache invalidation */
	uint64 invalidations; /* relcache invalidations seen */
	bool included;		  /* passes include_tables / exclude_tables */
	char *schema;
	char *name;
	char *root_schema; /* root partitioned table, for a partition */
	char *root_name;
	int natts;	  /* attributes of the TupleDesc, dropped too */
	int ncolumns; /* live columns, in attribute order */
	RelColumn *columns;

	/*
	 * Whether the consumer has the current Relation frame: `sent` for
	 * frames outside streams; `stream_xids` lists the streamed transactions
	 * (top-level xids) whose stream carried it, since a stream is applied
	 * when it commits and must therefore describe its own relations.
	 */
	bool sent;
	TransactionId *stream_xids;
	int nstream_xids;
	int max_stream_xids;

	MemoryContext cxt; /* everything the entry allocated */
} RelEntry;

typedef struct RelCache RelCache;

/*
 * Create the session's cache under `parent`; it reads the binary and table
 * filter settings of `options`, which must live as long as the cache.
 */
extern RelCache *rel_cache_create(MemoryContext parent,
								  const PgferryOptions *options);
extern void rel_cache_destroy(RelCache *cache);

/* Is this a relation whose changes pgferry decodes (a user table)? */
extern bool rel_is_decoded(Relation relation);

/* The valid entry of `relation`, built if needed. */
extern RelEntry *rel_cache_lookup(RelCache *cache, Relation relation);

/*
 * Does the consumer have the entry's Relation frame?  `stream_xid` is the
 * top-level xid inside a stream block, InvalidTransactionId outside.
 */
extern bool rel_frame_sent(const RelEntry *entry, TransactionId stream_xid);
extern void rel_mark_frame_sent(RelEntry *entry, TransactionId stream_xid);

/*
 * A streamed transaction ended: if it committed, the Relation frames its
 * stream carried are now known to the consumer outside streams too.
 */
extern void rel_cache_stream_end(RelCache *cache, TransactionId xid,
								 bool committed);

#endif /* PGFERRY_RELCACHE_H */
