/*-------------------------------------------------------------------------
 *
 * relcache.c
 *	  The pgferry plugin's per-relation cache and table filters
 *	  (see relcache.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/transam.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/bitmapset.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "pattern.h"
#include "relcache.h"

struct RelCache
{
	HTAB *entries;	   /* RelEntry by relid */
	MemoryContext cxt; /* the hash table and every entry */
	const PgferryOptions *options;
};

/*
 * A relcache callback is registered once per backend (a registration cannot
 * be undone, and the slots for them are few), while caches live as long as a
 * decoding session: the callback finds the session's cache here.  A backend
 * runs one decoding session at a time.  The pointer is cleared when the
 * cache's memory goes away, also when a session ends in an error.
 */
static RelCache *session_cache = NULL;
static bool callback_registered = false;

static void
invalidate_entry(RelEntry *entry)
{
	entry->valid = false;
	entry->invalidations++;
	entry->sent = false;
	entry->nstream_xids = 0;
}

/* Relcache callback: relid is InvalidOid when every relation is affected. */
static void
invalidate_callback(Datum arg, Oid relid)
{
	RelEntry *entry;

	if (session_cache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(session_cache->entries, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			invalidate_entry(entry);
	}
	else
	{
		HASH_SEQ_STATUS status;

		hash_seq_init(&status, session_cache->entries);
		while ((entry = hash_seq_search(&status)) != NULL)
			invalidate_entry(entry);
	}
}

static void
forget_session_cache(void *arg)
{
	if (session_cache == arg)
		session_cache = NULL;
}

RelCache *
rel_cache_create(MemoryContext parent, const PgferryOptions *options)
{
	MemoryContext cxt;
	RelCache *cache;
	HASHCTL hash_ctl;
	MemoryContextCallback *reset_callback;

	cxt = AllocSetContextCreate(parent, "pgferry relation cache",
								ALLOCSET_DEFAULT_SIZES);
	cache = MemoryContextAlloc(cxt, sizeof(RelCache));
	cache->cxt = cxt;
	cache->options = options;

	hash_ctl.keysize = sizeof(Oid);
	hash_ctl.entrysize = sizeof(RelEntry);
	hash_ctl.hcxt = cxt;
	cache->entries = hash_create("pgferry relations", 128, &hash_ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	reset_callback = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	reset_callback->func = forget_session_cache;
	reset_callback->arg = cache;
	MemoryContextRegisterResetCallback(cxt, reset_callback);

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(invalidate_callback, (Datum) 0);
		callback_registered = true;
	}
	session_cache = cache;
	return cache;
}

void
rel_cache_destroy(RelCache *cache)
{
	MemoryContextDelete(cache->cxt);
}

bool
rel_is_decoded(Relation relation)
{
	/*
	 * Plain tables only: a partitioned table has no rows of its own (its
	 * partitions' changes arrive), and a materialized view is refreshed on
	 * the target, not written to.  Tables made by initdb are not user data.
	 */
	return relation->rd_rel->relkind == RELKIND_RELATION &&
		   RelationGetRelid(relation) >= FirstNormalObjectId;
}

static bool
name_matches(const List *patterns, const RelEntry *entry)
{
	return pattern_list_matches(patterns, entry->schema, entry->name) ||
		   (entry->root_name != NULL &&
			pattern_list_matches(patterns, entry->root_schema,
								 entry->root_name));
}

/*
 * A partition passes a filter through its own name or through its root's,
 * so `sales.*` takes in partitions that live in another schema.  An
 * exclusion wins over an inclusion.
 */
static bool
passes_filters(const PgferryOptions *options, const RelEntry *entry)
{
	if (options->include_tables != NIL &&
		!name_matches(options->include_tables, entry))
		return false;
	return !name_matches(options->exclude_tables, entry);
}

/*
 * The reg* types (regclass, regtype, ...) send an object's OID, which means
 * nothing on another server; their text form is the object's name.
 */
static bool
sends_local_oid(Form_pg_type type)
{
	Oid typid = OidIsValid(type->typelem) && type->typlen == -1 ? type->typelem
																: type->oid;

	switch (typid)
	{
		case REGPROCOID:
		case REGPROCEDUREOID:
		case REGOPEROID:
		case REGOPERATOROID:
		case REGCLASSOID:
		case REGCOLLATIONOID:
		case REGTYPEOID:
		case REGROLEOID:
		case REGNAMESPACEOID:
		case REGCONFIGOID:
		case REGDICTIONARYOID:
			return true;
		default:
			return false;
	}
}

static void
describe_columns(const PgferryOptions *options, RelEntry *entry,
				 Relation relation)
{
	TupleDesc desc = RelationGetDescr(relation);
	bool identity_full;
	Bitmapset *key_attrs = NULL;

	identity_full = relation->rd_rel->relreplident == REPLICA_IDENTITY_FULL;
	if (!identity_full)
		key_attrs = RelationGetIdentityKeyBitmap(relation);

	entry->natts = desc->natts;
	entry->columns = palloc(desc->natts * sizeof(RelColumn));
	entry->ncolumns = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		RelColumn *column;
		HeapTuple type_tuple;
		Form_pg_type type;
		Oid function;

		if (attr->attisdropped)
			continue;

		column = &entry->columns[entry->ncolumns++];
		column->attindex = i;
		column->typid = attr->atttypid;
		column->key =
			identity_full ||
			bms_is_member(attr->attnum - FirstLowInvalidHeapAttributeNumber,
						  key_attrs);

		type_tuple =
			SearchSysCache1(TYPEOID, ObjectIdGetDatum(attr->atttypid));
		if (!HeapTupleIsValid(type_tuple))
			elog(ERROR, "cache lookup failed for type %u", attr->atttypid);
		type = (Form_pg_type) GETSTRUCT(type_tuple);

		/*
		 * Binary only for built-in types: their send format is the same on
		 * every server of a major version.  User types (enums, domains,
		 * composites, extension types) go as text, which the target parses
		 * with its own definitions of them.
		 */
		column->binary = options->binary &&
						 attr->atttypid < FirstNormalObjectId &&
						 OidIsValid(type->typsend) && !sends_local_oid(type);
		column->varlena = type->typlen == -1;
		function = column->binary ? type->typsend : type->typoutput;
		ReleaseSysCache(type_tuple);

		fmgr_info_cxt(function, &column->out, entry->cxt);
	}
}

static void
build_entry(RelCache *cache, RelEntry *entry, Relation relation)
{
	MemoryContext old_cxt;
	uint64 invalidations;

	if (entry->cxt != NULL)
		MemoryContextDelete(entry->cxt);
	entry->cxt = AllocSetContextCreate(cache->cxt, "pgferry relation",
									   ALLOCSET_SMALL_SIZES);
	/* an entry left half built by an error is rebuilt on next use */
	entry->valid = false;
	invalidations = entry->invalidations;
	entry->sent = false;
	entry->stream_xids = NULL;
	entry->nstream_xids = 0;
	entry->max_stream_xids = 0;

	old_cxt = MemoryContextSwitchTo(entry->cxt);
	entry->schema = get_namespace_name(RelationGetNamespace(relation));
	entry->name = pstrdup(RelationGetRelationName(relation));
	entry->root_schema = NULL;
	entry->root_name = NULL;
	if (relation->rd_rel->relispartition)
	{
		Oid root =
			llast_oid(get_partition_ancestors(RelationGetRelid(relation)));

		entry->root_schema = get_namespace_name(get_rel_namespace(root));
		entry->root_name = get_rel_name(root);
	}
	describe_columns(cache->options, entry, relation);
	MemoryContextSwitchTo(old_cxt);

	entry->included = passes_filters(cache->options, entry);

	/*
	 * An invalidation that arrived while the catalogs were read leaves the
	 * entry invalid: it serves the change at hand, which the relation as
	 * given describes, and the next change rebuilds it.
	 */
	entry->valid = entry->invalidations == invalidations;
}

RelEntry *
rel_cache_lookup(RelCache *cache, Relation relation)
{
	Oid relid = RelationGetRelid(relation);
	RelEntry *entry;
	bool found;

	entry = hash_search(cache->entries, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(entry, 0, sizeof(RelEntry));
		entry->relid = relid;
	}
	if (!entry->valid)
		build_entry(cache, entry, relation);
	return entry;
}

bool
rel_frame_sent(const RelEntry *entry, TransactionId stream_xid)
{
	if (!TransactionIdIsValid(stream_xid))
		return entry->sent;
	for (int i = 0; i < entry->nstream_xids; i++)
	{
		if (entry->stream_xids[i] == stream_xid)
			return true;
	}
	return false;
}

void
rel_mark_frame_sent(RelEntry *entry, TransactionId stream_xid)
{
	if (!TransactionIdIsValid(stream_xid))
	{
		entry->sent = true;
		return;
	}
	if (entry->nstream_xids == entry->max_stream_xids)
	{
		entry->max_stream_xids = Max(4, entry->max_stream_xids * 2);
		entry->stream_xids =
			entry->stream_xids == NULL
				? MemoryContextAlloc(entry->cxt, entry->max_stream_xids *
													 sizeof(TransactionId))
				: repalloc(entry->stream_xids,
						   entry->max_stream_xids * sizeof(TransactionId));
	}
	entry->stream_xids[entry->nstream_xids++] = stream_xid;
}

void
rel_cache_stream_end(RelCache *cache, TransactionId xid, bool committed)
{
	HASH_SEQ_STATUS status;
	RelEntry *entry;

	hash_seq_init(&status, cache->entries);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		for (int i = 0; i < entry->nstream_xids; i++)
		{
			if (entry->stream_xids[i] != xid)
				continue;
			entry->stream_xids[i] = entry->stream_xids[--entry->nstream_xids];
			if (committed)
				entry->sent = true;
			break;
		}
	}
}
