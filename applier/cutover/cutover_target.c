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

/* --- step 5: sequences ---------------------------------------------------------- */

/* The sequences of the source, with the column owning each, if any. */
static const char sequences_sql[] =
	"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),"
	" CASE WHEN t.oid IS NOT NULL"
	"  THEN pg_catalog.format('%I.%I', tn.nspname, t.relname) END, a.attname"
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
 * Sets the target's sequence for the source's sequence `name` (owned by
 * table.column, both NULL if none): found through the column, else by name.
 * A target sequence that has handed out values beyond the source's is
 * left alone: the target took writes after an earlier cutover, and moving
 * it back would hand out its keys again.  Logs and returns false when
 * there is none or setval fails.
 */
static bool
set_sequence(PgConn *target, const char *name, const char *table,
			 const char *column, const char *last_value, const char *is_called)
{
	const char *params[5] = {table, column, name, last_value, is_called};
	PgResult *res;
	bool ok;

	res = pg_query_or_report(
		target,
		"SELECT CASE WHEN NOT ahead "
		"THEN pg_catalog.setval(s, $4::pg_catalog.int8, $5::pg_catalog.bool) "
		"END, s::pg_catalog.text, ahead, target_last FROM ("
		"SELECT s, pg_catalog.pg_sequence_last_value(s) AS target_last,"
		" COALESCE(CASE WHEN p.seqincrement > 0"
		"  THEN pg_catalog.pg_sequence_last_value(s) > source_last"
		"  ELSE pg_catalog.pg_sequence_last_value(s) < source_last END,"
		" false) AS ahead FROM ("
		"SELECT COALESCE(CASE WHEN pg_catalog.to_regclass($1) "
		"IS NOT NULL THEN pg_catalog.pg_get_serial_sequence($1, $2) "
		"END, pg_catalog.to_regclass($3)::pg_catalog.text)"
		"::pg_catalog.regclass AS s) seq "
		"JOIN pg_catalog.pg_sequence p ON p.seqrelid = seq.s "
		"CROSS JOIN LATERAL (SELECT CASE WHEN $5::pg_catalog.bool "
		"THEN $4::pg_catalog.int8 ELSE $4::pg_catalog.int8 - p.seqincrement "
		"END AS source_last) l) x",
		5, params, "set sequence %s to %s", name, last_value);
	if (res == NULL)
		return false;
	ok = pg_result_rows(res) == 1;
	if (ok && pg_result_value(res, 0, 2)[0] == 't')
		log_warning("target: sequence %s kept at %s, past the source's %s: "
					"the target has taken writes since an earlier cutover",
					pg_result_value(res, 0, 1), pg_result_value(res, 0, 3),
					last_value);
	else if (ok)
		log_verbose("target: sequence %s set to %s (is_called %s)",
					pg_result_value(res, 0, 1), last_value, is_called);
	else
	{
		log_error("target: sequence %s%s%s%s does not exist", name,
				  table ? " (of column " : "", table ? column : "",
				  table ? ")" : "");
		log_hint("create it on the target (pg_dump --section=pre-data has "
				 "it) and run the cutover again; it then continues at %s",
				 last_value);
	}
	pg_result_free(res);
	return ok;
}

/* Reads last_value, is_called of the sequences from first on, a batch. */
static PgResult *
read_sequences(PgConn *source, const PgResult *sequences, int first, int count)
{
	Buf sql = BUF_INIT;
	PgResult *res;

	for (int i = first; i < first + count; i++)
		buf_printf(&sql, "%sSELECT %d, last_value, is_called FROM %s",
				   i > first ? " UNION ALL " : "", i - first,
				   pg_result_value(sequences, i, 0));
	buf_append_str(&sql, " ORDER BY 1");
	res = pg_query_or_report(source, sql.data, 0, NULL,
							 "read the values of sequences");
	if (res == NULL)
		log_hint("the role needs SELECT on every sequence of the database");
	buf_free(&sql);
	return res;
}

bool
cutover_copy_sequences(PgConn *source, PgConn *target)
{
	PgResult *sequences = pg_query_or_report(source, sequences_sql, 0, NULL,
											 "list the sequences");
	const int batch = 200;
	int set = 0;
	int failed = 0;

	if (sequences == NULL)
		return false;
	for (int first = 0; first < pg_result_rows(sequences); first += batch)
	{
		int count = pg_result_rows(sequences) - first;
		PgResult *values;

		count = count < batch ? count : batch;
		values = read_sequences(source, sequences, first, count);
		if (values == NULL)
		{
			pg_result_free(sequences);
			return false;
		}
		for (int i = 0; i < count; i++)
		{
			if (set_sequence(target, pg_result_value(sequences, first + i, 0),
							 pg_result_value(sequences, first + i, 2)
								 ? pg_result_value(sequences, first + i, 1)
								 : NULL,
							 pg_result_value(sequences, first + i, 2),
							 pg_result_value(values, i, 1),
							 pg_result_value(values, i, 2)))
				set++;
			else
				failed++;
		}
		pg_result_free(values);
	}
	pg_result_free(sequences);
	log_info("target: %d %s set to the source's values", set,
			 plural(set, "sequence", "sequences"));
	return failed == 0;
}

/* --- step 6: materialized views --------------------------------------------------- */

static const char populated_sql[] =
	"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
	" FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind = 'm' AND c.relispopulated";

/*
 * The target's materialized views, each with the materialized views it
 * reads, directly or through plain views: (name, dependency or NULL),
 * the rows of one view together.
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
	"  THEN pg_catalog.format('%I.%I', dn.nspname, dc.relname) END"
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
refresh_one(PgConn *target, const char *name)
{
	Buf sql = BUF_INIT;
	double started = clock_seconds();
	bool ok;

	buf_printf(&sql, "REFRESH MATERIALIZED VIEW %s", name);
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

/*
 * Refreshes, on the target, the materialized views populated on the
 * source, each after every view it reads.
 */
bool
cutover_refresh_matviews(PgConn *source, PgConn *target)
{
	PgResult *populated = pg_query_or_report(source, populated_sql, 0, NULL,
											 "list the materialized views");
	PgResult *deps = NULL;
	Matview *views;
	int nviews = 0;
	int refreshed = 0;
	bool ok = true;
	bool progress = true;

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
			if (v->refresh && (ok = refresh_one(target, v->name)))
				refreshed++;
		}
	}
	free(views);
	pg_result_free(deps);
	pg_result_free(populated);
	if (ok)
		log_info("target: %d %s refreshed", refreshed,
				 plural(refreshed, "materialized view", "materialized views"));
	return ok;
}

/* --- settings -------------------------------------------------------------------- */

/*
 * Resets the target database's settings that would keep it from taking
 * writes as the source did; reports the same settings made per role.
 */
bool
cutover_ready_target(PgConn *target)
{
	PgResult *res;
	bool ok = true;

	res = pg_query_or_report(
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
	if (res == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(res); i++)
	{
		const char *reset = pg_result_value(res, i, 1);

		if (pg_result_value(res, i, 0)[0] != 't')
		{
			log_warning("target: %s is set for a role; sessions of that "
						"role will not behave as on the source",
						pg_result_value(res, i, 2));
			log_hint("%s", reset);
		}
		else if (pg_exec(target, reset))
			log_info("target: %s (it was %s)", reset,
					 pg_result_value(res, i, 2));
		else
		{
			pg_report(target, "%s", reset);
			ok = false;
		}
	}
	pg_result_free(res);
	return ok;
}
