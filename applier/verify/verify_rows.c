/*-------------------------------------------------------------------------
 *
 * verify_rows.c
 *	  Compare a table without a usable key: as a multiset of rows.
 *
 * A table without a primary key (or unique index on NOT NULL columns) has
 * nothing to range over that both servers share: ctid ranges select other
 * rows on each side.  So both sides are compared as multisets of row
 * hashes.  One sequential scan per side sums the rows into 4096 buckets by
 * the top 12 bits of their hash; buckets that differ are confirmed (the
 * same buckets summed in the later source snapshot), then split by the
 * next 12 bits -- another scan, restricted to them -- while they hold too
 * many rows to list; then the hashes of their rows are listed with their
 * multiplicities, and the text of the rows whose count differs is printed
 * (each row is its own key: a changed row shows as one missing and one
 * extra).  An equal table costs one scan on each side.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "pg/pg.h"
#include "verify/verify_table.h"

/* Bits of the row hash per level of buckets. */
#define BUCKET_BITS 12

/* Rows in differing buckets listed by hash at most (else: finer buckets). */
#define ROWS_LISTED_AT_ONCE 100000

/* The text of a row printed, in characters. */
#define ROW_TEXT_SHOWN 200

/* A group of rows: a hash bucket, or the rows of one hash value. */
typedef struct RowGroup
{
	int64_t id;
	Summary s[2];
} RowGroup;

typedef struct RowGroups
{
	RowGroup *items;
	int count;
} RowGroups;

/* " FROM (SELECT <hash> AS h[, <text> AS r] FROM ONLY t) hashed" */
static void
vquery_from_hashed_rows(VerifyQuery *query, const VerifyTable *table,
						bool with_text)
{
	buf_append_str(&query->sql, " FROM (SELECT ");
	vquery_row_hash(query, table);
	buf_append_str(&query->sql, " AS h");
	if (with_text)
	{
		buf_append_str(&query->sql, ", ");
		vquery_row_text(query, table);
		buf_append_str(&query->sql, " AS r");
	}
	buf_printf(&query->sql, " FROM ONLY %s) hashed", table->display);
}

/* "{1,-2,3}": the ids of groups, as an int8[] parameter. */
static char *
group_ids(const RowGroups *groups)
{
	Buf array = BUF_INIT;

	buf_append_str(&array, "{");
	for (int i = 0; i < groups->count; i++)
		buf_printf(&array, "%s%" PRId64, i ? "," : "", groups->items[i].id);
	buf_append_str(&array, "}");
	return array.data;
}

/*
 * Merges two results of (id, count[, sum]) ordered by id into the groups
 * whose summaries differ.
 */
static void
differing_groups(PgResult *res[2], bool with_sum, RowGroups *out)
{
	int row[2] = {0, 0};
	int nrows[2] = {pg_result_rows(res[0]), pg_result_rows(res[1])};

	out->items = xmalloc((nrows[0] + nrows[1] + 1) * sizeof(RowGroup));
	out->count = 0;
	while (row[0] < nrows[0] || row[1] < nrows[1])
	{
		int64_t id[2];
		RowGroup group;

		for (int i = 0; i < 2; i++)
			id[i] = row[i] < nrows[i]
						? strtoll(pg_result_value(res[i], row[i], 0), NULL, 10)
						: INT64_MAX;
		group.id = id[0] < id[1] ? id[0] : id[1];
		for (int i = 0; i < 2; i++)
		{
			group.s[i].rows = 0;
			strcpy(group.s[i].sum, "0");
			if (row[i] < nrows[i] && id[i] == group.id)
			{
				if (with_sum)
					summary_read(res[i], row[i], 1, &group.s[i]);
				else
					group.s[i].rows = atol(pg_result_value(res[i], row[i], 1));
				row[i]++;
			}
		}
		if (!summaries_equal(&group.s[0], &group.s[1]))
			out->items[out->count++] = group;
	}
}

/*
 * Sums the rows of two sessions into buckets by the bits of their hash
 * above shift, restricted (unless within is NULL) to the buckets of within,
 * found at within_shift.  *differing gets the buckets that differ.
 */
static bool
compare_buckets(PgConn *const conn[2], VerifyTable *table, int shift,
				const RowGroups *within, int within_shift,
				RowGroups *differing, long rows[2])
{
	VerifyQuery query = VQUERY_INIT;
	char *ids = within ? group_ids(within) : NULL;
	PgResult *res[2];
	bool ok;

	buf_printf(&query.sql,
			   "SELECT h >> %d, pg_catalog.count(*), "
			   "pg_catalog.sum(h)",
			   shift);
	vquery_from_hashed_rows(&query, table, false);
	if (within)
	{
		buf_printf(&query.sql, " WHERE h >> %d = ANY (", within_shift);
		vquery_param(&query, ids);
		buf_append_str(&query.sql, "::pg_catalog.int8[])");
	}
	buf_append_str(&query.sql, " GROUP BY 1 ORDER BY 1");
	ok = vquery_run_two(conn, table, &query, "hash rows into buckets", res);
	buf_free(&query.sql);
	free(ids);
	if (!ok)
		return false;
	for (int i = 0; rows && i < 2; i++)
	{
		rows[i] = 0;
		for (int row = 0; row < pg_result_rows(res[i]); row++)
			rows[i] += atol(pg_result_value(res[i], row, 1));
	}
	differing_groups(res, true, differing);
	pg_result_free(res[0]);
	pg_result_free(res[1]);
	return true;
}

/*
 * Keeps in *buckets those the source held alike before and after the
 * target's snapshot; counts the others as unsettled.
 */
static bool
keep_settled(VerifySessions *sessions, VerifyTable *table, int shift,
			 RowGroups *buckets)
{
	PgConn *const conn[2] = {sessions->source, sessions->later};
	RowGroups changed;
	int kept = 0;

	if (sessions->target_behind)
	{
		table->nunsettled += buckets->count;
		buckets->count = 0;
		return true;
	}
	if (sessions->later == NULL || buckets->count == 0)
		return true;
	if (!compare_buckets(conn, table, shift, buckets, shift, &changed, NULL))
		return false;
	for (int i = 0; i < buckets->count; i++)
	{
		bool moved = false;

		for (int j = 0; j < changed.count && !moved; j++)
			moved = changed.items[j].id == buckets->items[i].id;
		if (moved)
			table->nunsettled++;
		else
			buckets->items[kept++] = buckets->items[i];
	}
	buckets->count = kept;
	free(changed.items);
	return true;
}

/* The rows of the buckets, as hash values with their counts. */
static bool
compare_hashes(VerifySessions *sessions, VerifyTable *table,
			   const RowGroups *buckets, int shift, RowGroups *hashes)
{
	PgConn *const conn[2] = {sessions->source, sessions->target};
	VerifyQuery query = VQUERY_INIT;
	char *ids = group_ids(buckets);
	PgResult *res[2];
	bool ok;

	buf_append_str(&query.sql, "SELECT h, pg_catalog.count(*)");
	vquery_from_hashed_rows(&query, table, false);
	buf_printf(&query.sql, " WHERE h >> %d = ANY (", shift);
	vquery_param(&query, ids);
	buf_append_str(&query.sql, "::pg_catalog.int8[]) GROUP BY 1 ORDER BY 1");
	ok = vquery_run_two(conn, table, &query, "list row hashes", res);
	buf_free(&query.sql);
	free(ids);
	if (!ok)
		return false;
	differing_groups(res, false, hashes);
	pg_result_free(res[0]);
	pg_result_free(res[1]);
	return true;
}

/* Prints the text of the rows whose hashes occur more often on one side. */
static bool
report_rows(VerifySessions *sessions, VerifyTable *table,
			const VerifyLimits *limits, const RowGroups *hashes)
{
	PgConn *const conn[2] = {sessions->source, sessions->target};
	VerifyQuery query = VQUERY_INIT;
	RowGroups shown = *hashes;
	char *ids;
	PgResult *res[2];
	bool ok;

	if (shown.count > limits->max_keys - table->nlisted)
		shown.count = limits->max_keys - table->nlisted;
	for (int i = shown.count; i < hashes->count; i++)
		table->nunlisted +=
			labs(hashes->items[i].s[0].rows - hashes->items[i].s[1].rows);
	if (shown.count <= 0)
		return true;

	ids = group_ids(&shown);
	buf_printf(&query.sql,
			   "SELECT DISTINCT ON (h) h, pg_catalog.left(r, %d), "
			   "pg_catalog.length(r)",
			   ROW_TEXT_SHOWN);
	vquery_from_hashed_rows(&query, table, true);
	buf_append_str(&query.sql, " WHERE h = ANY (");
	vquery_param(&query, ids);
	buf_append_str(&query.sql, "::pg_catalog.int8[]) ORDER BY h");
	ok = vquery_run_two(conn, table, &query, "read differing rows", res);
	buf_free(&query.sql);
	free(ids);
	if (!ok)
		return false;
	for (int i = 0; i < shown.count; i++)
	{
		const RowGroup *g = &shown.items[i];
		long surplus = g->s[0].rows - g->s[1].rows;
		const PgResult *r = res[surplus > 0 ? 0 : 1];
		int row = 0;

		while (row < pg_result_rows(r) &&
			   strtoll(pg_result_value(r, row, 0), NULL, 10) != g->id)
			row++;
		if (row == pg_result_rows(r))
			continue; /* cannot be: the same snapshot counted it */
		buf_printf(&table->report, "  %s",
				   surplus > 0 ? "missing on target" : "extra on target");
		if (labs(surplus) > 1)
			buf_printf(&table->report, " (%ld copies)", labs(surplus));
		buf_printf(&table->report, ": %s", pg_result_value(r, row, 1));
		if (atol(pg_result_value(r, row, 2)) > ROW_TEXT_SHOWN)
			buf_printf(&table->report, "... (%s characters)",
					   pg_result_value(r, row, 2));
		buf_append_str(&table->report, "\n");
		table->nlisted++;
	}
	pg_result_free(res[0]);
	pg_result_free(res[1]);
	return true;
}

/* The rows in groups, counting each group's larger side. */
static long
rows_in(const RowGroups *groups)
{
	long rows = 0;

	for (int i = 0; i < groups->count; i++)
		rows += groups->items[i].s[0].rows > groups->items[i].s[1].rows
					? groups->items[i].s[0].rows
					: groups->items[i].s[1].rows;
	return rows;
}

bool
verify_table_by_rows(VerifySessions *sessions, VerifyTable *table,
					 const VerifyLimits *limits)
{
	PgConn *const conn[2] = {sessions->source, sessions->target};
	int shift = 64 - BUCKET_BITS;
	long rows[2];
	RowGroups buckets;
	RowGroups hashes;
	bool ok;

	/* each pass compares the whole table again */
	verify_table_reset(table);
	if (!compare_buckets(conn, table, shift, NULL, 0, &buckets, rows))
		return false;
	table->source_rows = rows[0];
	table->target_rows = rows[1];
	ok = keep_settled(sessions, table, shift, &buckets);

	/* split the differing buckets while they hold too many rows to list */
	while (ok && buckets.count > 0 &&
		   rows_in(&buckets) > ROWS_LISTED_AT_ONCE && shift > 0)
	{
		int finer = shift > BUCKET_BITS ? shift - BUCKET_BITS : 0;
		RowGroups split = {NULL, 0};

		ok =
			compare_buckets(conn, table, finer, &buckets, shift, &split, NULL);
		free(buckets.items);
		buckets = split;
		shift = finer;
	}
	if (ok && buckets.count > 0)
	{
		ok = compare_hashes(sessions, table, &buckets, shift, &hashes);
		if (ok)
		{
			ok = report_rows(sessions, table, limits, &hashes);
			free(hashes.items);
		}
	}
	free(buckets.items);
	return ok;
}
