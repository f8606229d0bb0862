/*-------------------------------------------------------------------------
 *
 * copydata.c
 *	  What one copy unit moves: rows of a table (or of a range of its
 *	  blocks), the sequences' values, the large objects.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "migrate/copydata.h"

/* Bytes of a large object read and written at a time. */
#define LO_CHUNK (1 << 20)

/*
 * A write of range's rows failed: says so, and for a character the target
 * cannot hold, where it was (line, column); copy.c then names the row
 * (copydata_refused_row()) and the way on.
 */
static void
report_write(PgConn *target, const CopyRange *range)
{
	pg_report(target, "write rows of %s.%s", range->schema, range->table);
	if (pg_error_is_encoding(target) && pg_error_context(target))
		log_detail("at %s (of range %d of %d of the table)",
				   pg_error_context(target), range->range_no + 1,
				   range->nranges);
}

/* The ctid bounds of range's blocks, as " AND ..." conditions. */
static void
range_condition(Buf *sql, const CopyRange *range)
{
	if (range->first_block > 0)
		buf_printf(sql, " AND ctid >= '(%" PRId64 ",0)'::tid",
				   range->first_block);
	if (range->end_block >= 0)
		buf_printf(sql, " AND ctid < '(%" PRId64 ",0)'::tid",
				   range->end_block);
}

/* Streams one COPY from source to target, a row at a time. */
static bool
stream_rows(PgConn *source, PgConn *target, const char *copy_out,
			const char *copy_in, MeterTable *meter, CopyRange *range)
{
	int64_t messages = 0;
	long rows = 0;

	if (!pg_copy_in_begin(target, copy_in))
	{
		pg_report(target, "start %s", copy_in);
		return false;
	}
	if (!pg_copy_out_begin(source, copy_out))
	{
		pg_report(source, "start %s", copy_out);
		return false;
	}
	for (;;)
	{
		char *data;
		int len = pg_copy_out_get(source, &data);

		if (len == -1)
			break;
		if (len < 0)
		{
			pg_report(source, "read rows of %s.%s", range->schema,
					  range->table);
			return false;
		}
		if (!pg_copy_in_put(target, data, len))
		{
			pg_free(data);
			report_write(target, range);
			return false;
		}
		pg_free(data);
		range->bytes += len;
		range->rows++;
		messages++;
		meter_add(&meter->bytes, len);
		meter_add(&meter->rows, 1);
	}
	if (!pg_copy_in_end(target, &rows))
	{
		report_write(target, range);
		return false;
	}
	/* binary COPY sends its trailer as one more message */
	meter_add(&meter->rows, rows - messages);
	range->rows += rows - messages;
	return true;
}

bool
copydata_rows(PgConn *source, PgConn *target, const SourceTable *t,
			  CopyRange *range, MeterTable *meter)
{
	const char *format = t->binary ? "binary" : "text";
	bool whole = range->nranges == 1;
	Buf out = BUF_INIT;
	Buf in = BUF_INIT;
	bool ok;

	range->rows = range->bytes = 0;
	if (whole)
	{
		/* COPY TO reads the table alone, never its inheritance children */
		buf_printf(&out, "COPY %s%s%s%s TO STDOUT WITH (FORMAT %s)",
				   t->qualified, t->ncolumns ? " (" : "", t->columns,
				   t->ncolumns ? ")" : "", format);
	}
	else
	{
		buf_printf(&out, "COPY (SELECT %s FROM ONLY %s WHERE true", t->columns,
				   t->qualified);
		range_condition(&out, range);
		buf_printf(&out, ") TO STDOUT WITH (FORMAT %s)", format);
	}
	buf_printf(&in, "COPY %s%s%s%s FROM STDIN WITH (FORMAT %s%s)",
			   t->qualified, t->ncolumns ? " (" : "", t->columns,
			   t->ncolumns ? ")" : "", format, whole ? ", FREEZE" : "");

	if (whole)
	{
		Buf truncate = BUF_INIT;

		buf_printf(&truncate, "TRUNCATE ONLY %s", t->qualified);
		ok = pg_exec(target, truncate.data);
		if (!ok)
			pg_report(target, "empty table %s before its copy", t->qualified);
		buf_free(&truncate);
		if (!ok)
			goto done;
	}
	ok = stream_rows(source, target, out.data, in.data, meter, range);
done:
	buf_free(&out);
	buf_free(&in);
	return ok;
}

/*
 * The key of a row, "id=2, k=x", by its primary key or replica identity
 * index ($2); NULL for a table with neither.
 */
static const char row_key_sql[] =
	"SELECT (SELECT string_agg(format('%%s=%%s', quote_ident(a.attname), "
	"j.value), ', ' ORDER BY k.ord)\n"
	"  FROM (SELECT indkey FROM pg_index WHERE indrelid = $2::oid\n"
	"        AND (indisprimary OR indisreplident)\n"
	"        ORDER BY indisprimary DESC LIMIT 1) i,\n"
	"    unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord),\n"
	"    pg_attribute a, jsonb_each_text(to_jsonb(r)) j\n"
	"  WHERE a.attrelid = $2::oid AND a.attnum = k.attnum\n"
	"    AND j.key = a.attname)\n"
	"FROM ONLY %s r WHERE r.ctid = $1::tid";

/*
 * The row of COPY line N is the Nth of the range in block order, as COPY
 * read it; a scan that started elsewhere (synchronized) read another, so
 * the row counts only once the source too cannot convert it.
 */
bool
copydata_refused_row(PgConn *source, const PgConn *target,
					 const SourceTable *t, const CopyRange *range)
{
	const char *context = pg_error_context(target);
	const char *line_at = context ? strstr(context, ", line ") : NULL;
	const char *column_at = context ? strstr(context, ", column ") : NULL;
	char *column =
		column_at ? pg_quote_ident(column_at + strlen(", column ")) : NULL;
	char offset[32], oid[16];
	const char *params[2] = {offset, oid};
	Buf sql = BUF_INIT;
	PgResult *res = NULL;
	char *ctid = NULL, *key = NULL;
	bool found = false;

	if (line_at == NULL || t->ncolumns == 0)
		goto done;
	snprintf(offset, sizeof(offset), "%lld",
			 strtoll(line_at + strlen(", line "), NULL, 10) - 1);
	buf_printf(&sql, "SELECT ctid FROM ONLY %s WHERE true", t->qualified);
	range_condition(&sql, range);
	buf_append_str(&sql, " ORDER BY ctid OFFSET $1 LIMIT 1");
	res = pg_query(source, sql.data, 1, params);
	if (res == NULL || pg_result_rows(res) != 1)
		goto done;
	ctid = xstrdup(pg_result_value(res, 0, 0));
	pg_result_free(res);

	params[0] = ctid;
	snprintf(oid, sizeof(oid), "%u", t->oid);
	buf_reset(&sql);
	buf_printf(&sql, row_key_sql, t->qualified);
	res = pg_query(source, sql.data, 2, params);
	if (res == NULL || pg_result_rows(res) != 1)
		goto done;
	if (pg_result_value(res, 0, 0))
		key = xstrdup(pg_result_value(res, 0, 0));
	pg_result_free(res);

	/* fails (untranslatable) for the row the target refused */
	params[1] = pg_parameter(target, "server_encoding");
	buf_reset(&sql);
	if (column)
		buf_printf(&sql,
				   "SELECT convert_to(%s::text, $2) FROM ONLY %s "
				   "WHERE ctid = $1::tid",
				   column, t->qualified);
	else
		buf_printf(&sql,
				   "SELECT convert_to(ROW(%s)::text, $2) FROM ONLY %s "
				   "WHERE ctid = $1::tid",
				   t->columns, t->qualified);
	res = pg_query(source, sql.data, 2, params);
	found = res == NULL && pg_error_is_encoding(source);
	if (found)
		log_detail("the value %s%s%sof the row %s%s%s%s of table %s",
				   column ? "of column " : "", column ? column : "",
				   column ? " " : "", key ? "with key (" : "at ctid ",
				   key ? key : ctid, key ? ")" : "",
				   key ? "" : " (it has no key)", t->qualified);
done:
	pg_result_free(res);
	buf_free(&sql);
	free(column);
	free(ctid);
	free(key);
	return found;
}

/* Sequences: their current values (not transactional, so not snapshot). */
bool
copydata_sequences(PgConn *source, PgConn *target, const TableFilter *filter,
				   CopyRange *range, MeterTable *meter)
{
	char *condition = tablefilter_sql(filter, "tn.nspname", "t.relname",
									  "rn.nspname", "r.relname");
	Buf sql = BUF_INIT;
	PgResult *res;
	bool ok = true;

	buf_printf(&sql,
			   "SELECT format('%%I.%%I', s.schemaname, s.sequencename), "
			   "s.last_value, has_sequence_privilege(c.oid, 'SELECT')\n"
			   "FROM pg_sequences s\n"
			   "JOIN pg_namespace n ON n.nspname = s.schemaname\n"
			   "JOIN pg_class c ON c.relnamespace = n.oid "
			   "AND c.relname = s.sequencename\n"
			   "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass "
			   "AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass "
			   "AND d.deptype IN ('a', 'i')\n"
			   "LEFT JOIN pg_class t ON t.oid = d.refobjid\n"
			   "LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace\n"
			   "LEFT JOIN pg_class r ON t.relispartition "
			   "AND r.oid = pg_partition_root(t.oid)\n"
			   "LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace\n"
			   "WHERE s.schemaname NOT IN ('pgferry', 'information_schema')\n"
			   "  AND NOT EXISTS (SELECT 1 FROM pg_depend e "
			   "WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid "
			   "AND e.deptype = 'e')\n"
			   "  AND CASE WHEN t.oid IS NULL THEN %s ELSE %s END",
			   tablefilter_has_include(filter) ? "false" : "true", condition);
	free(condition);
	res = pg_query(source, sql.data, 0, NULL);
	buf_free(&sql);
	if (res == NULL)
	{
		pg_report(source, "read the sequences");
		return false;
	}
	for (int i = 0; ok && i < pg_result_rows(res); i++)
	{
		const char *params[2] = {pg_result_value(res, i, 0),
								 pg_result_value(res, i, 1)};
		PgResult *set;

		/* pg_sequences hides the value of a sequence the role cannot read */
		if (!pg_result_bool(res, i, 2))
		{
			char *role = pg_quote_ident(pg_user(source));

			log_error("source: role %s may not read sequence %s: its value "
					  "cannot be copied",
					  role, params[0]);
			log_hint("on the source: GRANT SELECT ON SEQUENCE %s TO %s; then "
					 "run migrate again",
					 params[0], role);
			free(role);
			ok = false;
			break;
		}
		if (params[1] == NULL)
			continue; /* never called: the target's is fresh too */
		set = pg_query(
			target, "SELECT pg_catalog.setval($1::regclass, $2::bigint, true)",
			2, params);

		if (set == NULL)
		{
			pg_report(target, "set sequence %s", params[0]);
			ok = false;
		}
		pg_result_free(set);
		range->rows++;
		meter_add(&meter->rows, 1);
	}
	pg_result_free(res);
	return ok;
}

/* The OIDs a query returns, in a Buf of Oid. */
static bool
query_oids(PgConn *conn, const char *sql, Buf *oids)
{
	PgResult *res = pg_query(conn, sql, 0, NULL);

	if (res == NULL)
	{
		pg_report(conn, "list the large objects");
		return false;
	}
	for (int i = 0; i < pg_result_rows(res); i++)
	{
		Oid oid = (Oid) strtoul(pg_result_value(res, i, 0), NULL, 10);

		buf_append(oids, &oid, sizeof(Oid));
	}
	pg_result_free(res);
	return true;
}

static bool
oid_listed(const Buf *oids, Oid oid)
{
	const Oid *list = (const Oid *) oids->data;

	for (size_t i = 0; i < oids->len / sizeof(Oid); i++)
		if (list[i] == oid)
			return true;
	return false;
}

/* Copies one large object, LO_CHUNK bytes at a time. */
static bool
copy_large_object(PgConn *source, PgConn *target, Oid oid, bool exists,
				  CopyRange *range, MeterTable *meter)
{
	char oid_text[16], offset_text[24], chunk_text[16];
	int64_t offset = 0;
	const char *params[3] = {oid_text, offset_text, chunk_text};

	snprintf(oid_text, sizeof(oid_text), "%u", oid);
	snprintf(chunk_text, sizeof(chunk_text), "%d", LO_CHUNK);
	if (!exists)
	{
		PgResult *res = pg_query(
			target, "SELECT pg_catalog.lo_create($1::oid)", 1, params);

		if (res == NULL)
		{
			pg_report(target, "create large object %u", oid);
			return false;
		}
		pg_result_free(res);
	}
	for (;;)
	{
		PgResult *data;
		PgResult *put;
		const char *hex;
		size_t len;

		snprintf(offset_text, sizeof(offset_text), "%" PRId64, offset);
		data = pg_query(
			source, "SELECT pg_catalog.lo_get($1::oid, $2::bigint, $3::int)",
			3, params);
		if (data == NULL)
		{
			pg_report(source, "read large object %u", oid);
			return false;
		}
		hex = pg_result_value(data, 0, 0);
		len = (strlen(hex) - 2) / 2; /* "\x..." */
		if (len > 0)
		{
			const char *put_params[3] = {oid_text, offset_text, hex};

			put = pg_query(
				target,
				"SELECT pg_catalog.lo_put($1::oid, $2::bigint, $3::bytea)", 3,
				put_params);
			if (put == NULL)
			{
				pg_result_free(data);
				pg_report(target, "write large object %u", oid);
				return false;
			}
			pg_result_free(put);
		}
		pg_result_free(data);
		offset += len;
		range->bytes += len;
		meter_add(&meter->bytes, len);
		if (len < LO_CHUNK)
			break;
	}
	/* an object that existed may have been longer (131072: INV_WRITE) */
	snprintf(offset_text, sizeof(offset_text), "%" PRId64, offset);
	{
		const char *params2[2] = {oid_text, offset_text};
		PgResult *res =
			pg_query(target,
					 "SELECT pg_catalog.lo_truncate64("
					 "pg_catalog.lo_open($1::oid, 131072), $2::bigint)",
					 2, params2);

		if (res == NULL)
		{
			pg_report(target, "truncate large object %u", oid);
			return false;
		}
		pg_result_free(res);
	}
	return true;
}

/*
 * The large objects of the snapshot; those the target has that the
 * snapshot has not (an earlier run's) are removed.
 */
bool
copydata_large_objects(PgConn *source, PgConn *target, CopyRange *range,
					   MeterTable *meter)
{
	static const char *const list_sql =
		"SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid";
	Buf source_oids = BUF_INIT;
	Buf target_oids = BUF_INIT;
	bool ok;

	ok = query_oids(source, list_sql, &source_oids) &&
		 query_oids(target, list_sql, &target_oids);
	for (size_t i = 0; ok && i < target_oids.len / sizeof(Oid); i++)
	{
		Oid oid = ((Oid *) target_oids.data)[i];
		char oid_text[16];
		const char *params[1] = {oid_text};
		PgResult *res;

		if (oid_listed(&source_oids, oid))
			continue;
		snprintf(oid_text, sizeof(oid_text), "%u", oid);
		res = pg_query(target, "SELECT pg_catalog.lo_unlink($1::oid)", 1,
					   params);
		if (res == NULL)
		{
			pg_report(target, "remove large object %u", oid);
			ok = false;
		}
		pg_result_free(res);
	}
	for (size_t i = 0; ok && i < source_oids.len / sizeof(Oid); i++)
	{
		Oid oid = ((Oid *) source_oids.data)[i];

		ok = copy_large_object(source, target, oid,
							   oid_listed(&target_oids, oid), range, meter);
		range->rows++;
		meter_add(&meter->rows, 1);
	}
	buf_free(&source_oids);
	buf_free(&target_oids);
	return ok;
}
