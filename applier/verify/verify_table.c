/*-------------------------------------------------------------------------
 *
 * verify_table.c
 *	  Compare one keyed table on two servers by counts and row hashes.
 *
 * The hash of a row is hashtextextended() of ROW(columns)::text: 64 bits,
 * computed by the server, the same on every PostgreSQL version (hash
 * partitioning depends on it not changing) and on every machine of the
 * same byte order.  A set of rows is summarised by its count and the sum of
 * its row hashes, which is independent of row order and physical layout,
 * so two servers agree on it exactly when they hold the same rows (up to a
 * 2^-64 chance per differing set).
 *
 * A keyed table is walked in key ranges of about range_rows rows, with
 * bounds taken from the source's index (an index-only scan with OFFSET).
 * When a range's summaries differ, the larger side's median key splits it
 * in two, and both halves are summarised by one GROUP BY statement per
 * server; halves that differ are split again until neither side holds more
 * than LEAF_ROWS rows.  Then both servers list the range's keys with their
 * row hashes, and the lists are merged: a key on both sides with another
 * hash was changed, a key on the source only is missing on the target, and
 * a key on the target only is extra.  A range with rows on one side only
 * is listed straight away (its first max_keys keys).  Before a leaf is
 * listed it is confirmed (see verify_table.h): summarised again in the
 * later source snapshot.
 *
 * Range bounds are passed as untyped parameters: each takes its key
 * column's type and collation, so a range means the same as in the index.
 * Two servers whose collations sort text differently (another collation,
 * or the same one from another glibc or ICU) may put a key in one range on
 * the source and in another on the target, where it shows as missing in
 * one and extra in the other.  So the keys of a table are collected and
 * reconciled (list_key), and reported once its ranges are compared: a key
 * both missing and extra is on both sides, equal or changed as its two row
 * hashes say.  That is exact only if the ranges split the keys of each side
 * into disjoint sets: on the source they do (the bounds come in its
 * order); on the target only if the bounds come in its order as well, so a
 * bound that does not sort after the previous one on the target is passed
 * over (its range joins the next).  Only keys with a collatable column are
 * checked so: others sort alike on both servers.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "pg/pg.h"
#include "verify/verify_table.h"

/* A differing range is narrowed until neither side holds more rows. */
#define LEAF_ROWS 32

#define SOURCE 0
#define TARGET 1

/* --- statements ------------------------------------------------------------- */

void
vquery_param(VerifyQuery *query, const char *value)
{
	query->values[query->nparams++] = value;
	buf_printf(&query->sql, "$%d", query->nparams);
}

void
vquery_row_text(VerifyQuery *query, const VerifyTable *table)
{
	buf_append_str(&query->sql, "ROW(");
	for (int i = 0; i < table->ncolumns; i++)
		buf_printf(&query->sql, "%s%s", i ? ", " : "", table->columns[i]);
	buf_append_str(&query->sql, ")::pg_catalog.text");
}

void
vquery_row_hash(VerifyQuery *query, const VerifyTable *table)
{
	buf_append_str(&query->sql, "pg_catalog.hashtextextended(");
	vquery_row_text(query, table);
	buf_append_str(&query->sql, ", 0)");
}

bool
vquery_run_two(PgConn *const conn[2], VerifyTable *table,
			   const VerifyQuery *query, const char *what, PgResult *res[2])
{
	PgParams params = {query->nparams, NULL, query->values, NULL, NULL};
	bool sent[2];
	bool ok = true;

	for (int i = 0; i < 2; i++)
		sent[i] = pg_send_query(conn[i], query->sql.data, &params) &&
				  pg_pipeline_sync(conn[i]);
	for (int i = 0; i < 2; i++)
	{
		res[i] = NULL;
		if (sent[i])
		{
			res[i] = pg_pipeline_result(conn[i]);
			if (!pg_pipeline_wait_sync(conn[i]))
			{
				pg_result_free(res[i]);
				res[i] = NULL;
			}
		}
		if (res[i] == NULL)
		{
			pg_report(conn[i], "%s of table %s", what, table->display);
			ok = false;
		}
	}
	if (!ok)
	{
		pg_result_free(res[0]);
		pg_result_free(res[1]);
		table->failed = true;
	}
	return ok;
}

PgResult *
vquery_run(PgConn *conn, VerifyTable *table, const VerifyQuery *query,
		   const char *what)
{
	PgResult *res =
		pg_query(conn, query->sql.data, query->nparams, query->values);

	if (res == NULL)
	{
		pg_report(conn, "%s of table %s", what, table->display);
		table->failed = true;
	}
	return res;
}

void
summary_read(const PgResult *res, int row, int first_column, Summary *summary)
{
	summary->rows = atol(pg_result_value(res, row, first_column));
	snprintf(summary->sum, sizeof(summary->sum), "%s",
			 pg_result_value(res, row, first_column + 1));
}

bool
summaries_equal(const Summary *a, const Summary *b)
{
	return a->rows == b->rows && strcmp(a->sum, b->sum) == 0;
}

/* "k" for one key column, "(k1, k2)" for several. */
static void
vquery_key_tuple(VerifyQuery *query, const VerifyTable *table)
{
	if (table->nkeys > 1)
		buf_append_str(&query->sql, "(");
	for (int i = 0; i < table->nkeys; i++)
		buf_printf(&query->sql, "%s%s", i ? ", " : "", table->keys[i]);
	if (table->nkeys > 1)
		buf_append_str(&query->sql, ")");
}

/* The same shape as vquery_key_tuple, with values as parameters. */
static void
vquery_value_tuple(VerifyQuery *query, const VerifyTable *table,
				   char *const *values)
{
	if (table->nkeys > 1)
		buf_append_str(&query->sql, "(");
	for (int i = 0; i < table->nkeys; i++)
	{
		if (i)
			buf_append_str(&query->sql, ", ");
		vquery_param(query, values[i]);
	}
	if (table->nkeys > 1)
		buf_append_str(&query->sql, ")");
}

/* " FROM ONLY t WHERE key > lo AND key <= hi" */
static void
vquery_from_range(VerifyQuery *query, const VerifyTable *table,
				  const KeyRange *range)
{
	buf_printf(&query->sql, " FROM ONLY %s", table->display);
	if (range->lo)
	{
		buf_append_str(&query->sql, " WHERE ");
		vquery_key_tuple(query, table);
		buf_append_str(&query->sql, " > ");
		vquery_value_tuple(query, table, range->lo);
	}
	if (range->hi)
	{
		buf_append_str(&query->sql, range->lo ? " AND " : " WHERE ");
		vquery_key_tuple(query, table);
		buf_append_str(&query->sql, " <= ");
		vquery_value_tuple(query, table, range->hi);
	}
}

static void
vquery_key_list(VerifyQuery *query, const VerifyTable *table)
{
	for (int i = 0; i < table->nkeys; i++)
		buf_printf(&query->sql, "%s%s", i ? ", " : "", table->keys[i]);
}

/* "SELECT count(*), sum(hash) FROM ONLY t WHERE <range>" */
static void
vquery_summarise_range(VerifyQuery *query, const VerifyTable *table,
					   const KeyRange *range)
{
	buf_append_str(&query->sql, "SELECT pg_catalog.count(*), "
								"COALESCE(pg_catalog.sum(");
	vquery_row_hash(query, table);
	buf_append_str(&query->sql, "), 0)");
	vquery_from_range(query, table, range);
}

/* --- keys ------------------------------------------------------------------------ */

static char **
copy_key(const PgResult *res, int row, int nkeys)
{
	char **key = xmalloc(nkeys * sizeof(char *));

	for (int i = 0; i < nkeys; i++)
		key[i] = xstrdup(pg_result_value(res, row, i));
	return key;
}

static char **
dup_key(char *const *key, int nkeys)
{
	char **copy;

	if (key == NULL)
		return NULL;
	copy = xmalloc(nkeys * sizeof(char *));
	for (int i = 0; i < nkeys; i++)
		copy[i] = xstrdup(key[i]);
	return copy;
}

static void
free_key(char **key, int nkeys)
{
	if (key == NULL)
		return;
	for (int i = 0; i < nkeys; i++)
		free(key[i]);
	free(key);
}

static bool
same_key(const PgResult *a, int row_a, const PgResult *b, int row_b, int nkeys)
{
	for (int i = 0; i < nkeys; i++)
		if (strcmp(pg_result_value(a, row_a, i),
				   pg_result_value(b, row_b, i)) != 0)
			return false;
	return true;
}

static bool
same_listed_key(const VerifyTable *table, const ListedKey *listed,
				const PgResult *res, int row)
{
	for (int i = 0; i < table->nkeys; i++)
		if (strcmp(listed->key[i], pg_result_value(res, row, i)) != 0)
			return false;
	return true;
}

static void
free_listed_key(const VerifyTable *table, ListedKey *listed)
{
	free_key(listed->key, table->nkeys);
	free(listed->hash);
}

/*
 * Collects the key of row of res (keys, then the row hash: a listing) as
 * differing by kind.  A key missing that was listed extra before (or the
 * reverse) is on both sides, in other ranges: it is dropped if its row
 * hashes are equal, else named changed where it was first listed.  Other
 * keys are kept in the order found, max_keys at most; beyond, only
 * counted.  A key counted so is never matched: when more than max_keys
 * halves wait for their other half, a key may be named missing (or extra)
 * although its other half, counted as not named, is on the other side.
 */
static void
list_key(VerifyTable *table, const VerifyLimits *limits, KeyDifference kind,
		 const PgResult *res, int row)
{
	KeyDifference other_half = kind == KEY_MISSING ? KEY_EXTRA : KEY_MISSING;
	const char *hash = pg_result_value(res, row, table->nkeys);
	ListedKey *listed;

	for (int i = 0; kind != KEY_CHANGED && i < table->nlisted; i++)
	{
		listed = &table->listed[i];
		if (listed->kind != other_half ||
			!same_listed_key(table, listed, res, row))
			continue;
		if (strcmp(listed->hash, hash) != 0)
			listed->kind = KEY_CHANGED;
		else
		{
			free_listed_key(table, listed);
			table->nlisted--;
			memmove(listed, listed + 1,
					(table->nlisted - i) * sizeof(ListedKey));
		}
		return;
	}
	if (table->nlisted >= limits->max_keys)
	{
		table->nunlisted++;
		return;
	}
	if (table->nlisted == table->listed_cap)
	{
		table->listed_cap = table->listed_cap ? 2 * table->listed_cap : 8;
		table->listed =
			xrealloc(table->listed, table->listed_cap * sizeof(ListedKey));
	}
	listed = &table->listed[table->nlisted++];
	listed->kind = kind;
	listed->key = copy_key(res, row, table->nkeys);
	listed->hash = xstrdup(hash);
}

/* Writes the report of the listed keys, "  what: (id, b)=(1, x)" each. */
static void
report_listed(VerifyTable *table)
{
	static const char *const what[] = {
		[KEY_CHANGED] = "changed",
		[KEY_MISSING] = "missing on target",
		[KEY_EXTRA] = "extra on target",
	};

	buf_reset(&table->report);
	for (int i = 0; i < table->nlisted; i++)
	{
		const ListedKey *listed = &table->listed[i];

		buf_printf(&table->report, "  %s: (%s)=(", what[listed->kind],
				   table->key_names);
		for (int k = 0; k < table->nkeys; k++)
			buf_printf(&table->report, "%s%s", k ? ", " : "", listed->key[k]);
		buf_append_str(&table->report, ")\n");
	}
}

/* Keeps range to be compared again in the next pass. */
static void
unsettled(VerifyTable *table, const KeyRange *range)
{
	if (table->nrecheck == table->recheck_cap)
	{
		table->recheck_cap = table->recheck_cap ? 2 * table->recheck_cap : 8;
		table->recheck =
			xrealloc(table->recheck, table->recheck_cap * sizeof(KeyRange));
	}
	table->recheck[table->nrecheck].lo = dup_key(range->lo, table->nkeys);
	table->recheck[table->nrecheck].hi = dup_key(range->hi, table->nkeys);
	table->nrecheck++;
	table->nunsettled++;
}

/* --- narrowing -------------------------------------------------------------------- */

/*
 * Whether the source held the same rows in range before and after the
 * target's snapshot (true when there is nothing to confirm against).
 */
static bool
range_settled(VerifySessions *sessions, VerifyTable *table,
			  const KeyRange *range, const Summary *before, bool *settled)
{
	VerifyQuery query = VQUERY_INIT;
	PgResult *res;
	Summary after;

	*settled = !sessions->target_behind;
	if (sessions->later == NULL || sessions->target_behind)
		return true;
	vquery_summarise_range(&query, table, range);
	res = vquery_run(sessions->later, table, &query, "confirm a key range");
	buf_free(&query.sql);
	if (res == NULL)
		return false;
	summary_read(res, 0, 0, &after);
	pg_result_free(res);
	*settled = summaries_equal(before, &after);
	return true;
}

/*
 * The key of the row at offset (0-based) in range on one server, or NULL
 * in *key when the range holds no more rows.
 */
static bool
key_at_offset(PgConn *conn, VerifyTable *table, const KeyRange *range,
			  long offset, char ***key)
{
	VerifyQuery query = VQUERY_INIT;
	char offset_text[32];
	PgResult *res;

	*key = NULL;
	snprintf(offset_text, sizeof(offset_text), "%ld", offset);
	buf_append_str(&query.sql, "SELECT ");
	vquery_key_list(&query, table);
	vquery_from_range(&query, table, range);
	buf_append_str(&query.sql, " ORDER BY ");
	vquery_key_list(&query, table);
	buf_append_str(&query.sql, " OFFSET ");
	vquery_param(&query, offset_text);
	buf_append_str(&query.sql, " LIMIT 1");
	res = vquery_run(conn, table, &query, "find a key range's bound");
	buf_free(&query.sql);
	if (res == NULL)
		return false;
	if (pg_result_rows(res) == 1)
		*key = copy_key(res, 0, table->nkeys);
	pg_result_free(res);
	return true;
}

/* "SELECT keys, hash FROM ONLY t WHERE <range> ORDER BY keys LIMIT n" */
static void
vquery_list_range(VerifyQuery *query, const VerifyTable *table,
				  const KeyRange *range, const char *limit)
{
	buf_append_str(&query->sql, "SELECT ");
	vquery_key_list(query, table);
	buf_append_str(&query->sql, ", ");
	vquery_row_hash(query, table);
	vquery_from_range(query, table, range);
	buf_append_str(&query->sql, " ORDER BY ");
	vquery_key_list(query, table);
	buf_append_str(&query->sql, " LIMIT ");
	vquery_param(query, limit);
}

/* A range with rows on one side only: names its first keys. */
static bool
list_one_side(VerifySessions *sessions, VerifyTable *table,
			  const VerifyLimits *limits, const KeyRange *range,
			  const Summary s[2])
{
	int side = s[SOURCE].rows == 0 ? TARGET : SOURCE;
	long room = limits->max_keys - table->nlisted;
	long listed = 0;

	if (room > 0)
	{
		VerifyQuery query = VQUERY_INIT;
		char limit[32];
		PgResult *res;

		snprintf(limit, sizeof(limit), "%ld", room);
		vquery_list_range(&query, table, range, limit);
		res = vquery_run(side == SOURCE ? sessions->source : sessions->target,
						 table, &query, "list the keys of a key range");
		buf_free(&query.sql);
		if (res == NULL)
			return false;
		listed = pg_result_rows(res);
		for (int row = 0; row < listed; row++)
			list_key(table, limits, side == SOURCE ? KEY_MISSING : KEY_EXTRA,
					 res, row);
		pg_result_free(res);
	}
	table->nunlisted += s[side].rows - listed;
	return true;
}

/* A small range on both sides: matches the keys of both listings. */
static bool
list_both_sides(VerifySessions *sessions, VerifyTable *table,
				const VerifyLimits *limits, const KeyRange *range)
{
	PgConn *const conn[2] = {sessions->source, sessions->target};
	VerifyQuery query = VQUERY_INIT;
	char limit[32];
	PgResult *res[2];
	bool *matched;
	int ntarget;
	bool ok;

	snprintf(limit, sizeof(limit), "%d", LEAF_ROWS);
	vquery_list_range(&query, table, range, limit);
	ok = vquery_run_two(conn, table, &query, "list the keys of a key range",
						res);
	buf_free(&query.sql);
	if (!ok)
		return false;

	/* at most LEAF_ROWS a side: matching by scanning is cheapest */
	ntarget = pg_result_rows(res[TARGET]);
	matched = xcalloc(ntarget + 1, sizeof(bool));
	for (int i = 0; i < pg_result_rows(res[SOURCE]); i++)
	{
		int j = 0;

		while (j < ntarget &&
			   !same_key(res[SOURCE], i, res[TARGET], j, table->nkeys))
			j++;
		if (j == ntarget)
		{
			list_key(table, limits, KEY_MISSING, res[SOURCE], i);
			continue;
		}
		matched[j] = true;
		if (strcmp(pg_result_value(res[SOURCE], i, table->nkeys),
				   pg_result_value(res[TARGET], j, table->nkeys)) != 0)
			list_key(table, limits, KEY_CHANGED, res[SOURCE], i);
	}
	for (int j = 0; j < ntarget; j++)
		if (!matched[j])
			list_key(table, limits, KEY_EXTRA, res[TARGET], j);
	free(matched);
	pg_result_free(res[SOURCE]);
	pg_result_free(res[TARGET]);
	return true;
}

/* Summaries of (lo, mid] (half 0) and (mid, hi] (half 1) on both sides. */
static bool
summarise_halves(VerifySessions *sessions, VerifyTable *table,
				 const KeyRange *range, char *const *mid, Summary half[2][2])
{
	PgConn *const conn[2] = {sessions->source, sessions->target};
	VerifyQuery query = VQUERY_INIT;
	PgResult *res[2];
	bool ok;

	buf_append_str(&query.sql, "SELECT ");
	vquery_key_tuple(&query, table);
	buf_append_str(&query.sql, " > ");
	vquery_value_tuple(&query, table, mid);
	buf_append_str(&query.sql, ", pg_catalog.count(*), "
							   "COALESCE(pg_catalog.sum(");
	vquery_row_hash(&query, table);
	buf_append_str(&query.sql, "), 0)");
	vquery_from_range(&query, table, range);
	buf_append_str(&query.sql, " GROUP BY 1");
	ok = vquery_run_two(conn, table, &query, "hash two halves of a key range",
						res);
	buf_free(&query.sql);
	if (!ok)
		return false;
	for (int side = 0; side < 2; side++)
	{
		for (int h = 0; h < 2; h++)
		{
			half[h][side].rows = 0;
			strcpy(half[h][side].sum, "0");
		}
		for (int row = 0; row < pg_result_rows(res[side]); row++)
		{
			int h = strcmp(pg_result_value(res[side], row, 0), "t") == 0;

			summary_read(res[side], row, 1, &half[h][side]);
		}
		pg_result_free(res[side]);
	}
	return true;
}

/*
 * A range whose summaries s differ: split at the median key of its larger
 * side, recursively, down to leaves whose keys are named once confirmed.
 */
static bool
narrow(VerifySessions *sessions, VerifyTable *table,
	   const VerifyLimits *limits, const KeyRange *range, const Summary s[2])
{
	int side = s[SOURCE].rows >= s[TARGET].rows ? SOURCE : TARGET;
	long most = s[side].rows;
	bool one_sided = s[SOURCE].rows == 0 || s[TARGET].rows == 0;
	bool full = table->nlisted >= limits->max_keys;
	bool settled;
	char **mid;
	Summary half[2][2];
	bool ok = true;

	if (full || one_sided || most <= LEAF_ROWS)
	{
		if (!range_settled(sessions, table, range, &s[SOURCE], &settled))
			return false;
		if (!settled)
			unsettled(table, range);
		else if (!full)
			return one_sided ? list_one_side(sessions, table, limits, range, s)
							 : list_both_sides(sessions, table, limits, range);
		else
		{
			/* enough keys named: count the range and its rows */
			table->nunnarrowed++;
			table->unnarrowed_rows[SOURCE] += s[SOURCE].rows;
			table->unnarrowed_rows[TARGET] += s[TARGET].rows;
		}
		return true;
	}

	if (!key_at_offset(side == SOURCE ? sessions->source : sessions->target,
					   table, range, most / 2 - 1, &mid))
		return false;
	if (!summarise_halves(sessions, table, range, mid, half))
	{
		free_key(mid, table->nkeys);
		return false;
	}
	for (int h = 0; h < 2 && ok; h++)
	{
		KeyRange sub = {h == 0 ? range->lo : mid, h == 0 ? mid : range->hi};

		if (!summaries_equal(&half[h][SOURCE], &half[h][TARGET]))
			ok = narrow(sessions, table, limits, &sub, half[h]);
	}
	free_key(mid, table->nkeys);
	return ok;
}

static bool
compare_range(VerifySessions *sessions, VerifyTable *table,
			  const VerifyLimits *limits, const KeyRange *range,
			  bool count_rows)
{
	PgConn *const conn[2] = {sessions->source, sessions->target};
	VerifyQuery query = VQUERY_INIT;
	PgResult *res[2];
	Summary s[2];
	bool ok;

	vquery_summarise_range(&query, table, range);
	ok = vquery_run_two(conn, table, &query, "hash a key range", res);
	buf_free(&query.sql);
	if (!ok)
		return false;
	for (int side = 0; side < 2; side++)
	{
		summary_read(res[side], 0, 0, &s[side]);
		pg_result_free(res[side]);
	}
	if (count_rows)
	{
		table->source_rows += s[SOURCE].rows;
		table->target_rows += s[TARGET].rows;
	}
	if (summaries_equal(&s[SOURCE], &s[TARGET]))
		return true;
	return narrow(sessions, table, limits, range, s);
}

/* The ranges the previous pass left unsettled. */
static bool
recheck_ranges(VerifySessions *sessions, VerifyTable *table,
			   const VerifyLimits *limits)
{
	KeyRange *ranges = table->recheck;
	int nranges = table->nrecheck;
	bool ok = true;

	table->recheck = NULL;
	table->nrecheck = table->recheck_cap = 0;
	table->nunsettled = 0;
	for (int i = 0; i < nranges; i++)
	{
		if (ok)
			ok = compare_range(sessions, table, limits, &ranges[i], false);
		free_key(ranges[i].lo, table->nkeys);
		free_key(ranges[i].hi, table->nkeys);
	}
	free(ranges);
	return ok;
}

/* Whether key sorts after lo on the target, in its key columns' order. */
static bool
sorts_after_on_target(VerifySessions *sessions, VerifyTable *table,
					  char *const *lo, char *const *key, bool *after)
{
	VerifyQuery query = VQUERY_INIT;
	PgResult *res;

	/* a UNION with the table's key columns gives key their types */
	buf_append_str(&query.sql, "SELECT ");
	vquery_key_tuple(&query, table);
	buf_append_str(&query.sql, " > ");
	vquery_value_tuple(&query, table, lo);
	buf_append_str(&query.sql, " FROM (SELECT ");
	vquery_key_list(&query, table);
	buf_printf(&query.sql, " FROM ONLY %s WHERE false UNION ALL SELECT ",
			   table->display);
	for (int i = 0; i < table->nkeys; i++)
	{
		if (i)
			buf_append_str(&query.sql, ", ");
		vquery_param(&query, key[i]);
	}
	buf_append_str(&query.sql, ") bound");
	res = vquery_run(sessions->target, table, &query,
					 "order a key range's bounds");
	buf_free(&query.sql);
	if (res == NULL)
		return false;
	*after = strcmp(pg_result_value(res, 0, 0), "t") == 0;
	pg_result_free(res);
	return true;
}

/*
 * The upper bound of the range after lo: range_rows rows on in the
 * source's order, and further on while the target sorts it before lo (see
 * the top of the file); NULL for the last range.
 */
static bool
next_bound(VerifySessions *sessions, VerifyTable *table,
		   const VerifyLimits *limits, char *const *lo, char ***hi)
{
	char **passed_over = NULL;
	bool after = false;
	bool ok = true;

	*hi = NULL;
	while (ok && !after)
	{
		KeyRange rest = {passed_over ? passed_over : (char **) lo, NULL};

		ok = key_at_offset(sessions->source, table, &rest,
						   limits->range_rows - 1, hi);
		free_key(passed_over, table->nkeys);
		passed_over = NULL;
		/* without a collation, both servers sort the key alike */
		if (!ok || *hi == NULL || lo == NULL || !table->key_collated)
			break;
		ok = sorts_after_on_target(sessions, table, lo, *hi, &after);
		if (!after)
		{
			passed_over = *hi;
			*hi = NULL;
		}
	}
	free_key(passed_over, table->nkeys);
	return ok;
}

/* The whole key space, in ranges of about range_rows rows. */
static bool
walk_ranges(VerifySessions *sessions, VerifyTable *table,
			const VerifyLimits *limits)
{
	char **lo = NULL;
	bool ok = true;

	for (;;)
	{
		KeyRange range;
		char **hi;

		if (!next_bound(sessions, table, limits, lo, &hi))
		{
			ok = false;
			break;
		}
		range.lo = lo;
		range.hi = hi;
		ok = compare_range(sessions, table, limits, &range, true);
		free_key(lo, table->nkeys);
		lo = hi;
		if (!ok || hi == NULL)
			break;
	}
	free_key(lo, table->nkeys);
	return ok;
}

bool
verify_table_by_key(VerifySessions *sessions, VerifyTable *table,
					const VerifyLimits *limits, bool recheck_only)
{
	bool ok = recheck_only ? recheck_ranges(sessions, table, limits)
						   : walk_ranges(sessions, table, limits);

	report_listed(table);
	return ok;
}

/* --- counts only, and results --------------------------------------------------- */

bool
verify_table_counts(VerifySessions *sessions, VerifyTable *table)
{
	PgConn *const conn[2] = {sessions->source, sessions->target};
	VerifyQuery query = VQUERY_INIT;
	PgResult *res[2];
	bool ok;

	buf_printf(&query.sql, "SELECT pg_catalog.count(*) FROM ONLY %s",
			   table->display);
	ok = vquery_run_two(conn, table, &query, "count the rows", res);
	buf_free(&query.sql);
	if (!ok)
		return false;
	table->source_rows = atol(pg_result_value(res[SOURCE], 0, 0));
	table->target_rows = atol(pg_result_value(res[TARGET], 0, 0));
	table->nunlisted = labs(table->source_rows - table->target_rows);
	pg_result_free(res[SOURCE]);
	pg_result_free(res[TARGET]);
	return true;
}

bool
verify_table_differs(const VerifyTable *table)
{
	return table->nproblems > 0 || table->nlisted > 0 ||
		   table->nunlisted > 0 || table->nunnarrowed > 0;
}

static void
forget_listed(VerifyTable *table)
{
	/* a keyless table counts in nlisted the rows it printed, unlisted */
	for (int i = 0; table->listed && i < table->nlisted; i++)
		free_listed_key(table, &table->listed[i]);
	free(table->listed);
	table->listed = NULL;
	table->nlisted = table->listed_cap = 0;
}

static void
forget_recheck(VerifyTable *table)
{
	for (int i = 0; i < table->nrecheck; i++)
	{
		free_key(table->recheck[i].lo, table->nkeys);
		free_key(table->recheck[i].hi, table->nkeys);
	}
	free(table->recheck);
	table->recheck = NULL;
	table->nrecheck = table->recheck_cap = 0;
}

void
verify_table_reset(VerifyTable *table)
{
	table->source_rows = table->target_rows = 0;
	buf_reset(&table->report);
	forget_listed(table);
	table->nunlisted = 0;
	table->nunnarrowed = 0;
	table->unnarrowed_rows[SOURCE] = table->unnarrowed_rows[TARGET] = 0;
	table->failed = false;
	table->nunsettled = 0;
	forget_recheck(table);
}

void
verify_table_free(VerifyTable *table)
{
	forget_listed(table);
	forget_recheck(table);
	free(table->schema);
	free(table->name);
	free(table->display);
	free(table->key_names);
	free(table->whole_rows_reason);
	for (int i = 0; i < table->ncolumns; i++)
		free(table->columns[i]);
	free(table->columns);
	for (int i = 0; i < table->nkeys; i++)
		free(table->keys[i]);
	free(table->keys);
	buf_free(&table->notes);
	buf_free(&table->report);
}
