/*-------------------------------------------------------------------------
 *
 * cutover_target.c
 *	  What the target needs once it has every write of the source: the
 *	  sequences' values, fresh materialized views, settings for writes.
 *
 * Sequences and REFRESH MATERIALIZED VIEW are not in the logical
 * decoding stream, so the applier never carried them over.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "cutover/cutover_target.h"
#include "pg/pg.h"

/* --- sequences ----------------------------------------------------------------- */

/*
 * How many sequences the database has, all of them: what tells whether one
 * was created or dropped since they were listed.
 */
#define COUNT_SEQUENCES                                                       \
	"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_class WHERE relkind = "   \
	"'S')"

/* The sequences of the source, with the column owning each, if any. */
static const char list_sequences_sql[] =
	"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),"
	" CASE WHEN t.oid IS NOT NULL"
	"  THEN pg_catalog.format('%I.%I', tn.nspname, t.relname) END, a.attname,"
	" c.oid"
	" FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN pg_catalog.pg_depend d ON d.classid = "
	"'pg_catalog.pg_class'::pg_catalog.regclass"
	"  AND d.objid = c.oid AND d.refclassid = "
	"'pg_catalog.pg_class'::pg_catalog.regclass"
	"  AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')"
	" LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid"
	" LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace"
	" LEFT JOIN pg_catalog.pg_attribute a"
	"  ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	" WHERE c.relkind = 'S' AND n.nspname <> 'information_schema'"
	"  AND n.nspname <> 'pgferry' AND n.nspname NOT LIKE 'pg\\_%'"
	"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e"
	"   WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND e.objid = c.oid AND e.deptype = 'e')"
	" ORDER BY 1";

/*
 * The target's sequence for each of the source's ($1..$3: arrays of the
 * name, the owning table and column, NULL if none): found through the
 * column (so an identity or serial sequence is found whatever its name),
 * else by name.  Rows in the order of the arrays: its name, OID and
 * increment, all NULL when there is none.
 */
static const char map_sequences_sql[] =
	"SELECT q.seq::pg_catalog.regclass::pg_catalog.text, q.seq,"
	" p.seqincrement"
	" FROM unnest($1::pg_catalog.text[], $2::pg_catalog.text[],"
	"  $3::pg_catalog.text[]) WITH ORDINALITY u(name, tbl, col, position)"
	" CROSS JOIN LATERAL (SELECT COALESCE("
	"  (SELECT d.objid FROM pg_catalog.pg_depend d"
	"   JOIN pg_catalog.pg_attribute a"
	"    ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	"   JOIN pg_catalog.pg_class c ON c.oid = d.objid AND c.relkind = 'S'"
	"   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND d.deptype IN ('a', 'i')"
	"   AND d.refobjid = pg_catalog.to_regclass(u.tbl) AND a.attname = u.col"
	"   LIMIT 1),"
	"  pg_catalog.to_regclass(u.name)::pg_catalog.oid) AS seq) q"
	" LEFT JOIN pg_catalog.pg_sequence p ON p.seqrelid = q.seq"
	" ORDER BY u.position";

/*
 * Inside the window: the last value handed out by each sequence listed
 * ($1: their OIDs; NULL for one not called, or gone), and how many
 * sequences the database has now; one row at least.
 */
static const char read_sequences_sql[] =
	"SELECT n.sequences, v.value FROM (SELECT " COUNT_SEQUENCES
	") n(sequences)"
	" LEFT JOIN (SELECT u.position, CASE WHEN c.oid IS NOT NULL"
	"  THEN pg_catalog.pg_sequence_last_value(c.oid) END"
	"  FROM pg_catalog.unnest($1::pg_catalog.oid[])"
	"   WITH ORDINALITY u(seq, position)"
	"  LEFT JOIN pg_catalog.pg_class c ON c.oid = u.seq) v(position, value)"
	" ON true ORDER BY v.position";

/*
 * Inside the window: sets the target's sequences ($1: OIDs, $2: values,
 * $3: is_called, $4: increments), except one that has handed out values
 * beyond the source's: the target took writes after an earlier cutover,
 * and moving it back would hand out their keys again.  Rows in the order
 * of the arrays: whether it was ahead, its last value.
 */
static const char set_sequences_sql[] =
	"SELECT ahead, target_last, CASE WHEN NOT ahead"
	"  THEN pg_catalog.setval(seq, value, called) END"
	" FROM (SELECT u.*,"
	"  pg_catalog.pg_sequence_last_value(u.seq) AS target_last,"
	"  COALESCE(CASE WHEN u.increment > 0"
	"   THEN pg_catalog.pg_sequence_last_value(u.seq) > l.source_last"
	"   ELSE pg_catalog.pg_sequence_last_value(u.seq) < l.source_last END,"
	"   false) AS ahead"
	"  FROM unnest($1::pg_catalog.oid[], $2::pg_catalog.int8[],"
	"   $3::pg_catalog.bool[], $4::pg_catalog.int8[])"
	"   WITH ORDINALITY u(seq, value, called, increment, position)"
	"  CROSS JOIN LATERAL (SELECT CASE WHEN u.called THEN u.value"
	"   ELSE u.value - u.increment END AS source_last) l) k"
	" ORDER BY position";

/* Column column of every row of res, as an array literal (free array). */
static const char *
column_array(Buf *array, const PgResult *res, int column)
{
	for (int i = 0; i < pg_result_rows(res); i++)
		pg_array_add(array, pg_result_value(res, i, column));
	return pg_array_close(array);
}

void
cutover_sequences_free(SequenceMap *map)
{
	pg_result_free(map->source);
	pg_result_free(map->target);
	memset(map, 0, sizeof(SequenceMap));
}

bool
cutover_map_sequences(PgConn *source, PgConn *target, SequenceMap *map)
{
	Buf arrays[3];
	const char *params[3];
	bool ok = true;

	PgResult *count;

	cutover_sequences_free(map);
	count = pg_query_or_report(source, "SELECT " COUNT_SEQUENCES, 0, NULL,
							   "count the sequences");
	if (count == NULL)
		return false;
	map->count = atol(pg_result_value(count, 0, 0));
	pg_result_free(count);
	map->source = pg_query_or_report(source, list_sequences_sql, 0, NULL,
									 "list the sequences");
	if (map->source == NULL)
		return false;
	memset(arrays, 0, sizeof(arrays));
	for (int i = 0; i < 3; i++)
		params[i] = column_array(&arrays[i], map->source, i);
	map->target = pg_query_or_report(target, map_sequences_sql, 3, params,
									 "find the sequences");
	for (int i = 0; i < 3; i++)
		buf_free(&arrays[i]);
	if (map->target == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(map->target); i++)
	{
		const char *table = pg_result_value(map->source, i, 1);

		if (pg_result_value(map->target, i, 2) != NULL)
			continue;
		log_error(
			"target: sequence %s%s%s%s does not exist",
			pg_result_value(map->source, i, 0), table ? " (of column " : "",
			table ? pg_result_value(map->source, i, 2) : "", table ? ")" : "");
		log_hint("create it on the target (pg_dump --section=pre-data has "
				 "it) and run the cutover again");
		ok = false;
	}
	return ok;
}

/*
 * The last_value of the sequences not called (rows of values whose value
 * is NULL), read from each by name: (row, last_value) by row.
 */
static PgResult *
read_not_called(PgConn *source, const SequenceMap *map, const PgResult *values)
{
	Buf sql = BUF_INIT;
	PgResult *res;
	int n = 0;

	for (int i = 0; i < pg_result_rows(values); i++)
		if (pg_result_value(values, i, 1) == NULL)
			buf_printf(&sql, "%sSELECT %d, last_value FROM %s",
					   n++ ? " UNION ALL " : "", i,
					   pg_result_value(map->source, i, 0));
	if (n == 0)
		buf_append_str(&sql, "SELECT 0, 0 WHERE false");
	buf_append_str(&sql, " ORDER BY 1");
	res = pg_query_or_report(source, sql.data, 0, NULL,
							 "read the values of sequences");
	buf_free(&sql);
	return res;
}

/*
 * Reads the source's values of the mapped sequences (values, and
 * not_called for those not called); a sequence created or dropped since the
 * map was made makes it again (once: unless remapped).
 */
static bool
read_values(PgConn *source, PgConn *target, SequenceMap *map, bool remapped,
			PgResult **values, PgResult **not_called)
{
	Buf oids = BUF_INIT;
	const char *params[1];

	*values = *not_called = NULL;
	params[0] = column_array(&oids, map->source, 3);
	*values = pg_query_or_report(source, read_sequences_sql, 1, params,
								 "read the values of sequences");
	buf_free(&oids);
	if (*values == NULL)
		return false;
	if (atol(pg_result_value(*values, 0, 0)) != map->count && !remapped)
	{
		log_info("source: sequences were created or dropped since they were "
				 "listed: listing them again");
		pg_result_free(*values);
		*values = NULL;
		return cutover_map_sequences(source, target, map) &&
			   read_values(source, target, map, true, values, not_called);
	}
	if (pg_result_rows(map->source) == 0)
		return true;
	*not_called = read_not_called(source, map, *values);
	return *not_called != NULL;
}

bool
cutover_copy_sequences(PgConn *source, PgConn *target, SequenceMap *map,
					   int *set)
{
	PgResult *values;
	PgResult *not_called;
	PgResult *res = NULL;
	Buf arrays[4];
	const char *params[4];
	const char **source_values;
	int nsequences;

	*set = 0;
	if (!read_values(source, target, map, false, &values, &not_called))
	{
		pg_result_free(values);
		log_hint("the role needs SELECT on every sequence of the database");
		return false;
	}
	nsequences = pg_result_rows(map->source);
	source_values = xcalloc(nsequences + 1, sizeof(char *));
	memset(arrays, 0, sizeof(arrays));
	for (int i = 0, next = 0; i < nsequences; i++)
	{
		const char *value = pg_result_value(values, i, 1);

		source_values[i] =
			value ? value : pg_result_value(not_called, next++, 1);
		pg_array_add(&arrays[0], pg_result_value(map->target, i, 1));
		pg_array_add(&arrays[1], source_values[i]);
		pg_array_add(&arrays[2], value ? "t" : "f");
		pg_array_add(&arrays[3], pg_result_value(map->target, i, 2));
	}
	for (int i = 0; i < 4; i++)
		params[i] = pg_array_close(&arrays[i]);
	if (nsequences > 0)
		res = pg_query_or_report(target, set_sequences_sql, 4, params,
								 "set the sequences");
	for (int i = 0; res && i < pg_result_rows(res); i++)
	{
		if (pg_result_value(res, i, 0)[0] == 't')
			log_warning("target: sequence %s kept at %s, past the source's "
						"%s: the target has taken writes since an earlier "
						"cutover",
						pg_result_value(map->target, i, 0),
						pg_result_value(res, i, 1), source_values[i]);
		else
			log_verbose("target: sequence %s set to %s",
						pg_result_value(map->target, i, 0), source_values[i]);
		(*set)++;
	}
	free(source_values);
	for (int i = 0; i < 4; i++)
		buf_free(&arrays[i]);
	pg_result_free(res);
	pg_result_free(values);
	pg_result_free(not_called);
	if (nsequences > 0 && res == NULL)
		return false;
	log_info("target: %d %s set to the source's values", *set,
			 plural(*set, "sequence", "sequences"));
	return true;
}

/* --- materialized views ---------------------------------------------------------- */

static const char populated_sql[] =
	"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
	" FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind = 'm' AND c.relispopulated";

/*
 * The target's materialized views, each with the materialized views it
 * reads, directly or through plain views: (name, dependency or NULL,
 * whether REFRESH ... CONCURRENTLY can refresh it: populated, with a
 * unique index on columns only), the rows of one view together.
 */
static const char matview_deps_sql[] =
	"WITH RECURSIVE uses(mv, rel) AS ("
	" SELECT r.ev_class, d.refobjid"
	" FROM pg_catalog.pg_rewrite r"
	" JOIN pg_catalog.pg_class m ON m.oid = r.ev_class AND m.relkind = 'm'"
	" JOIN pg_catalog.pg_depend d"
	"  ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"  AND d.objid = r.oid AND d.refobjid <> r.ev_class"
	"  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	" UNION"
	" SELECT u.mv, d.refobjid FROM uses u"
	" JOIN pg_catalog.pg_class v ON v.oid = u.rel AND v.relkind = 'v'"
	" JOIN pg_catalog.pg_rewrite r ON r.ev_class = v.oid"
	" JOIN pg_catalog.pg_depend d"
	"  ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	"  AND d.objid = r.oid AND d.refobjid <> v.oid"
	"  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass)"
	"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),"
	" CASE WHEN dc.oid IS NOT NULL"
	"  THEN pg_catalog.format('%I.%I', dn.nspname, dc.relname) END,"
	" c.relispopulated AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
	"  WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid"
	"  AND i.indpred IS NULL AND i.indexprs IS NULL)"
	" FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN (uses u JOIN pg_catalog.pg_class dc"
	"  ON dc.oid = u.rel AND dc.relkind = 'm'"
	"  JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace)"
	"  ON u.mv = c.oid"
	" WHERE c.relkind = 'm' ORDER BY 1, 2";

/* A materialized view of the target, and the rows of its dependencies. */
typedef struct Matview
{
	const char *name;
	int first_row;
	int end_row;
	bool refresh; /* populated on the source */
	bool concurrently;
	bool done;
} Matview;

static Matview *
find_matview(Matview *views, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(views[i].name, name) == 0)
			return &views[i];
	return NULL;
}

static bool
refresh_one(PgConn *target, const Matview *view)
{
	Buf sql = BUF_INIT;
	double started = clock_seconds();
	const char *name = view->name;
	bool ok;

	buf_printf(&sql, "REFRESH MATERIALIZED VIEW %s%s",
			   view->concurrently ? "CONCURRENTLY " : "", name);
	ok = pg_exec(target, sql.data);
	if (ok)
		log_info("target: %s (%.1f s)", sql.data, clock_seconds() - started);
	else
	{
		pg_report(target, "refresh materialized view %s", name);
		log_hint("run the cutover as the owner of the view, or refresh it "
				 "yourself: %s",
				 sql.data);
	}
	buf_free(&sql);
	return ok;
}

bool
cutover_refresh_matviews(PgConn *source, PgConn *target, bool concurrently,
						 int *refreshed)
{
	PgResult *populated = pg_query_or_report(source, populated_sql, 0, NULL,
											 "list the materialized views");
	PgResult *deps = NULL;
	Matview *views;
	int nviews = 0;
	bool ok = true;
	bool progress = true;

	*refreshed = 0;
	if (populated == NULL ||
		(deps = pg_query_or_report(target, matview_deps_sql, 0, NULL,
								   "list the materialized views")) == NULL)
	{
		pg_result_free(populated);
		return false;
	}
	views = xcalloc(pg_result_rows(deps) + 1, sizeof(Matview));
	for (int row = 0; row < pg_result_rows(deps); row++)
	{
		const char *name = pg_result_value(deps, row, 0);

		if (nviews == 0 || strcmp(views[nviews - 1].name, name) != 0)
		{
			views[nviews].name = name;
			views[nviews].first_row = row;
			views[nviews].concurrently =
				concurrently && pg_result_value(deps, row, 2)[0] == 't';
			for (int p = 0; p < pg_result_rows(populated); p++)
				if (strcmp(pg_result_value(populated, p, 0), name) == 0)
					views[nviews].refresh = true;
			nviews++;
		}
		views[nviews - 1].end_row = row + 1;
	}

	/* rounds: each refreshes the views whose dependencies are done */
	while (ok && progress)
	{
		progress = false;
		for (Matview *v = views; v < views + nviews && ok; v++)
		{
			bool ready = !v->done;

			for (int row = v->first_row; row < v->end_row && ready; row++)
			{
				const char *dep = pg_result_value(deps, row, 1);
				Matview *d = dep ? find_matview(views, nviews, dep) : NULL;

				ready = d == NULL || d->done;
			}
			if (!ready)
				continue;
			v->done = progress = true;
			if (v->refresh && (ok = refresh_one(target, v)))
				(*refreshed)++;
		}
	}
	free(views);
	pg_result_free(deps);
	pg_result_free(populated);
	if (ok)
		log_info(
			"target: %d %s refreshed", *refreshed,
			plural(*refreshed, "materialized view", "materialized views"));
	return ok;
}

/* --- settings -------------------------------------------------------------------- */

PgResult *
cutover_target_settings(PgConn *target)
{
	PgResult *res = pg_query_or_report(
		target,
		"SELECT s.setrole = 0 AND s.setdatabase <> 0,"
		" pg_catalog.format(CASE"
		"  WHEN s.setrole = 0 THEN 'ALTER DATABASE %1$I RESET %3$s'"
		"  WHEN s.setdatabase = 0 THEN 'ALTER ROLE %2$I RESET %3$s'"
		"  ELSE 'ALTER ROLE %2$I IN DATABASE %1$I RESET %3$s' END,"
		"  pg_catalog.current_database(), r.rolname,"
		"  pg_catalog.split_part(cfg, '=', 1)), cfg"
		" FROM pg_catalog.pg_db_role_setting s"
		" LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole,"
		" pg_catalog.unnest(s.setconfig) cfg"
		" WHERE s.setdatabase IN (0, (SELECT oid FROM"
		"  pg_catalog.pg_database WHERE datname ="
		"  pg_catalog.current_database()))"
		" AND (cfg LIKE 'session\\_replication\\_role=%'"
		"  AND cfg <> 'session_replication_role=origin'"
		"  OR cfg LIKE 'default\\_transaction\\_read\\_only=%'"
		"  AND cfg <> 'default_transaction_read_only=off')",
		0, NULL, "read the database's settings");

	for (int i = 0; res && i < pg_result_rows(res); i++)
		if (pg_result_value(res, i, 0)[0] != 't')
		{
			log_warning("target: %s is set for a role; sessions of that "
						"role will not behave as on the source",
						pg_result_value(res, i, 2));
			log_hint("%s", pg_result_value(res, i, 1));
		}
	return res;
}

bool
cutover_reset_settings(PgConn *target, const PgResult *settings)
{
	bool ok = true;

	for (int i = 0; i < pg_result_rows(settings); i++)
	{
		const char *reset = pg_result_value(settings, i, 1);

		if (pg_result_value(settings, i, 0)[0] != 't')
			continue;
		if (pg_exec(target, reset))
			log_info("target: %s (it was %s)", reset,
					 pg_result_value(settings, i, 2));
		else
		{
			pg_report(target, "%s", reset);
			ok = false;
		}
	}
	return ok;
}
