/*-------------------------------------------------------------------------
 *
 * verify_table.h
 *	  Comparing one table on two servers, for verify.c.
 *
 * Promises:
 *	- The caller hands the sessions of one worker, each inside the pass's
 *	  snapshot and in pipeline mode, and a VerifyTable saying what to
 *	  compare; the functions fill in the table's counts and report lines.
 *	- Statements run on two servers at once; none reads more than one key
 *	  range of a keyed table; rows never reach the client, except the keys
 *	  (or, without a key, the text) of differing rows.
 *	- Both sides hash the same text, ROW(columns by name)::text, so every
 *	  session must have the same output settings (verify.c sets them).
 *	- A difference is reported only once confirmed: the source held the
 *	  same rows (count and hash sum) in `later`, a snapshot taken after the
 *	  target's, as in `source`, taken before it -- so the source did not
 *	  change them while the target's applier moved between the two.  What
 *	  is not confirmed is kept (a key range; for a keyless table, the whole
 *	  table) to be compared again in the next pass.  Without `later` (no
 *	  applier moves the target) every difference counts.
 *	- A failing statement is logged with the table's name; the function
 *	  returns false and the table is marked failed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_VERIFY_TABLE_H
#define PGFERRY_VERIFY_TABLE_H

#include <stdbool.h>

#include "common/buf.h"
#include "pg/pg.h"

/* The sessions of one worker, each in the pass's snapshot of its server. */
typedef struct VerifySessions
{
	PgConn *source;		/* the source, before the target */
	PgConn *target;		/* the target, once it has applied past
								 * the source's snapshot */
	PgConn *later;		/* the source again, after the target; NULL
								 * when nothing needs confirming */
	bool target_behind; /* the target had not applied past the
								 * source's snapshot: confirm nothing */
} VerifySessions;

/*
 * A range of keys: lo < key <= hi, each bound one text value per key
 * column; a NULL bound is open.
 */
typedef struct KeyRange
{
	char **lo;
	char **hi;
} KeyRange;

/* A differing key named by a leaf's listing, before reconciliation. */
typedef enum KeyDifference
{
	KEY_CHANGED,
	KEY_MISSING, /* on the source only */
	KEY_EXTRA	 /* on the target only */
} KeyDifference;

typedef struct ListedKey
{
	KeyDifference kind;
	char **key; /* one text value per key column */
	char *hash; /* the row hash of its side (the source's if changed) */
} ListedKey;

typedef struct VerifyTable
{
	/* what to compare, from the catalogs */
	char *schema;
	char *name;
	char *display; /* "schema"."name", quoted as in SQL */
	int ncolumns;
	char **columns;			 /* quoted names, compared in this order */
	int nkeys;				 /* 0: no usable key */
	char **keys;			 /* quoted key column names */
	char *key_names;		 /* "id, b": the key columns for messages */
	bool key_collated;		 /* a key column sorts by a collation, which
							  * the target may not share */
	char *whole_rows_reason; /* without a key: why, for the report */
	Buf notes;				 /* what the catalogs showed */
	int nproblems;			 /* how many of the notes are differences */
	bool on_target;			 /* the table exists on both sides */

	/* rows counted by the first pass */
	long source_rows;
	long target_rows;

	/* confirmed differences, from every pass */
	Buf report;		   /* one line per difference named */
	int nlisted;	   /* differing rows named in report */
	ListedKey *listed; /* keyed tables: those rows, matched as
							  * listed, into report after each pass
							  * (keyless ones print theirs at once) */
	int listed_cap;
	long nunlisted;			 /* differing rows found beyond max_keys */
	long nunnarrowed;		 /* differing key ranges not narrowed
								 * (beyond max_keys), and their rows: */
	long unnarrowed_rows[2]; /* [0] source, [1] target */
	bool failed;			 /* a statement failed: result unknown */

	/* differences not confirmed in the last pass, compared again next */
	long nunsettled;   /* key ranges, or hash buckets */
	KeyRange *recheck; /* keyed tables: those key ranges */
	int nrecheck;
	int recheck_cap;
} VerifyTable;

typedef struct VerifyLimits
{
	long range_rows; /* rows per range of the first level */
	int max_keys;	 /* differing rows named per table */
} VerifyLimits;

/* --- verify_table.c -------------------------------------------------------- */

/*
 * Compares a keyed table: with recheck_only, only the key ranges left
 * unsettled by the previous pass; otherwise the whole key space.
 */
extern bool verify_table_by_key(VerifySessions *sessions, VerifyTable *table,
								const VerifyLimits *limits, bool recheck_only);

/* Compares row counts only (no confirmation: for a quiet source). */
extern bool verify_table_counts(VerifySessions *sessions, VerifyTable *table);

/* Whether a confirmed difference (or a schema difference) was found. */
extern bool verify_table_differs(const VerifyTable *table);

/* Forgets the findings of earlier passes. */
extern void verify_table_reset(VerifyTable *table);
extern void verify_table_free(VerifyTable *table);

/* --- verify_catalog.c ------------------------------------------------------ */

/*
 * The tables to compare: the source's tables as the copy selects them
 * (catalog.h), each matched by name with the target's (columns by name,
 * the source's key if the target has an index to range over it), then the
 * target's tables the source does not have.  Differences seen in the
 * catalogs are noted in each table.
 */
extern bool verify_catalog_tables(PgConn *source, PgConn *target,
								  const char *const *include, int ninclude,
								  const char *const *exclude, int nexclude,
								  VerifyTable **tables, int *ntables);

/* --- verify_rows.c --------------------------------------------------------- */

/* Compares a table without a usable key as a multiset of rows. */
extern bool verify_table_by_rows(VerifySessions *sessions, VerifyTable *table,
								 const VerifyLimits *limits);

/* --- statements, shared by both (verify_table.c) ---------------------------- */

/* Key columns are at most INDEX_MAX_KEYS (32): three tuples and a count. */
#define VQUERY_MAX_PARAMS 100

/* A statement being built, with its text parameters. */
typedef struct VerifyQuery
{
	Buf sql;
	int nparams;
	const char *values[VQUERY_MAX_PARAMS];
} VerifyQuery;

#define VQUERY_INIT                                                           \
	{                                                                         \
		BUF_INIT, 0,                                                          \
		{                                                                     \
			0                                                                 \
		}                                                                     \
	}

/* Count and sum of the row hashes of a set of rows, on one server. */
typedef struct Summary
{
	long rows;
	char sum[48]; /* numeric, as text */
} Summary;

/* Appends "$n" for value. */
extern void vquery_param(VerifyQuery *query, const char *value);

/* ROW(columns)::text, the text a row's hash is computed from. */
extern void vquery_row_text(VerifyQuery *query, const VerifyTable *table);

/* The 64-bit hash of that text. */
extern void vquery_row_hash(VerifyQuery *query, const VerifyTable *table);

/*
 * Runs query on two sessions at once, results in res[0] and res[1]; on
 * failure logs "could not <what> of table T", marks the table failed and
 * returns false.
 */
extern bool vquery_run_two(PgConn *const conn[2], VerifyTable *table,
						   const VerifyQuery *query, const char *what,
						   PgResult *res[2]);

/* The same on one session; NULL on failure. */
extern PgResult *vquery_run(PgConn *conn, VerifyTable *table,
							const VerifyQuery *query, const char *what);

/* Reads (count, sum) from two columns of a result. */
extern void summary_read(const PgResult *res, int row, int first_column,
						 Summary *summary);
extern bool summaries_equal(const Summary *a, const Summary *b);

#endif /* PGFERRY_VERIFY_TABLE_H */
