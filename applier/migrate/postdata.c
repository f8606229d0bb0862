/*-------------------------------------------------------------------------
 *
 * postdata.c
 *	  Cut pg_restore's post-data script into one statement per entry of
 *	  the archive's table of contents, each tied to its table.
 *
 * The script is cut at the comment header pg_dump writes before every
 * entry; that there are exactly as many headers as entries is checked.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "migrate/postdata.h"

/*
 * The session settings in force at a point of the script: pg_dump writes a
 * SET only when a value changes (default_tablespace before an index of
 * another tablespace, ...), so a statement run on its own must carry them.
 */
typedef struct SessionSettings
{
	char *lines[16];
	int count;
} SessionSettings;

static void
settings_record(SessionSettings *settings, const char *line, size_t len)
{
	size_t name_len = strcspn(line, " =(");
	const char *name = line;

	/* SELECT pg_catalog.set_config('search_path', ...) */
	if (strncmp(line, "SELECT pg_catalog.set_config('", 30) == 0)
	{
		name = line + 30;
		name_len = strcspn(name, "'");
	}
	else if (strncmp(line, "SET ", 4) == 0)
	{
		name = line + 4;
		name_len = strcspn(name, " =");
	}
	for (int i = 0; i < settings->count; i++)
	{
		const char *old = settings->lines[i];
		const char *old_name = strchr(old, ' ') + 1;

		if (strncmp(old, "SELECT", 6) == 0)
			old_name = old + 30;
		if (strncmp(old_name, name, name_len) == 0 &&
			strchr(" ='", old_name[name_len]))
		{
			free(settings->lines[i]);
			settings->lines[i] = xstrndup(line, len);
			return;
		}
	}
	if (settings->count < (int) (sizeof(settings->lines) / sizeof(char *)))
		settings->lines[settings->count++] = xstrndup(line, len);
}

static bool
is_setting_line(const char *line)
{
	return strncmp(line, "SET ", 4) == 0 ||
		   strncmp(line, "SELECT pg_catalog.set_config(", 29) == 0;
}

/*
 * Records the settings lines at the end of [start, end) and returns where
 * they begin: they belong to the next entry.
 */
static const char *
take_trailing_settings(SessionSettings *settings, const char *start,
					   const char *end)
{
	const char *cut = end;
	const char *line_end = end;

	/* walk back line by line over blank and settings lines */
	while (line_end > start)
	{
		const char *line = line_end;

		while (line > start && line[-1] != '\n')
			line--;
		if (line == line_end || line[0] == '\n')
		{
			line_end = line > start ? line - 1 : start;
			continue;
		}
		if (!is_setting_line(line))
			break;
		cut = line;
		line_end = line > start ? line - 1 : start;
	}
	/* record them in script order */
	for (const char *p = cut; p < end;)
	{
		size_t len = strcspn(p, "\n");

		if (len > 0 && is_setting_line(p))
			settings_record(settings, p, len);
		p += len + (p[len] == '\n');
	}
	return cut;
}

/*
 * Ties each post-data entry to the table it belongs to, on the source, and
 * describes it as the catalogs do (quoted names, the relation it is on).
 * Only tables are copied: an entry on a view, a materialized view or a
 * foreign table belongs to none, and runs once every table is copied.
 */
static bool
map_entries(PgConn *source, const Toc *toc, PostDataItem *items)
{
	Buf catalogs = BUF_INIT;
	Buf objects = BUF_INIT;
	const char *params[2];
	PgResult *res;

	buf_append_str(&catalogs, "{");
	buf_append_str(&objects, "{");
	for (int i = 0; i < toc->count; i++)
	{
		buf_printf(&catalogs, "%s%u", i ? "," : "", toc->entries[i].catalog);
		buf_printf(&objects, "%s%u", i ? "," : "", toc->entries[i].object);
	}
	buf_append_str(&catalogs, "}");
	buf_append_str(&objects, "}");
	params[0] = catalogs.data;
	params[1] = objects.data;
	res = pg_query(
		source,
		"SELECT n.nspname, c.relname, fn.nspname, fc.relname,\n"
		"  CASE WHEN e.catalog <> 0\n"
		"    THEN pg_describe_object(e.catalog, e.object, 0) END\n"
		"FROM unnest($1::oid[], $2::oid[]) WITH ORDINALITY\n"
		"  AS e(catalog, object, position)\n"
		"LEFT JOIN LATERAL (\n"
		"  SELECT conrelid AS rel, confrelid AS ref FROM pg_constraint\n"
		"    WHERE e.catalog = 'pg_constraint'::regclass AND oid = e.object\n"
		"  UNION ALL SELECT indrelid, 0 FROM pg_index\n"
		"    WHERE e.catalog = 'pg_class'::regclass AND indexrelid = "
		"e.object\n"
		"  UNION ALL SELECT oid, 0 FROM pg_class\n"
		"    WHERE e.catalog = 'pg_class'::regclass AND oid = e.object\n"
		"      AND relkind IN ('r', 'p')\n"
		"  UNION ALL SELECT tgrelid, 0 FROM pg_trigger\n"
		"    WHERE e.catalog = 'pg_trigger'::regclass AND oid = e.object\n"
		"  UNION ALL SELECT ev_class, 0 FROM pg_rewrite\n"
		"    WHERE e.catalog = 'pg_rewrite'::regclass AND oid = e.object\n"
		"  UNION ALL SELECT polrelid, 0 FROM pg_policy\n"
		"    WHERE e.catalog = 'pg_policy'::regclass AND oid = e.object\n"
		"  UNION ALL SELECT stxrelid, 0 FROM pg_statistic_ext\n"
		"    WHERE e.catalog = 'pg_statistic_ext'::regclass AND oid = "
		"e.object\n"
		") m ON true\n"
		"LEFT JOIN pg_class c ON c.oid = m.rel AND c.relkind IN ('r', 'p')\n"
		"LEFT JOIN pg_namespace n ON n.oid = c.relnamespace\n"
		"LEFT JOIN pg_class fc ON fc.oid = m.ref\n"
		"LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace\n"
		"ORDER BY e.position",
		2, params);
	buf_free(&catalogs);
	buf_free(&objects);
	if (res == NULL)
	{
		pg_report(source, "find the tables of the post-data entries");
		return false;
	}
	for (int i = 0; i < toc->count && i < pg_result_rows(res); i++)
	{
		const char *values[5];

		for (int c = 0; c < 5; c++)
			values[c] = pg_result_value(res, i, c);
		if (values[4])
		{
			free(items[i].description);
			items[i].description = xstrdup(values[4]);
		}
		if (values[0] && values[1])
		{
			items[i].schema = xstrdup(values[0]);
			items[i].table = xstrdup(values[1]);
		}
		if (items[i].foreign_key && values[2] && values[3])
		{
			items[i].ref_schema = xstrdup(values[2]);
			items[i].ref_table = xstrdup(values[3]);
		}
	}
	pg_result_free(res);
	return true;
}

/*
 * Reads a possibly qualified, possibly quoted name at *p as pg_dump writes
 * it; returns it malloc'ed (still quoted) and moves *p past it.
 */
static char *
read_name(const char **p)
{
	const char *start = *p;
	const char *q = start;

	for (;;)
	{
		if (*q == '"')
		{
			for (q++; *q && !(q[0] == '"' && q[1] != '"'); q++)
				if (*q == '"')
					q++;
			if (*q == '"')
				q++;
		}
		else
			while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
				   *q == '_' || *q == '$' || (unsigned char) *q >= 0x80)
				q++;
		if (*q != '.')
			break;
		q++;
	}
	*p = q;
	return q > start ? xstrndup(start, q - start) : NULL;
}

/*
 * Entries whose table of contents line names no catalog object (index
 * attachments, comments) still concern one table; the statement says
 * which.  Returns the relation named (an index when *is_index), or NULL.
 */
static char *
statement_relation(const char *statement, bool *is_index)
{
	static const char *const on_prefixes[] = {
		"COMMENT ON CONSTRAINT ", "COMMENT ON TRIGGER ", "COMMENT ON RULE ",
		"COMMENT ON POLICY ", NULL};
	const char *p = statement;

	/* the SQL after the comment header and the session settings */
	while (*p &&
		   (*p == '\n' || strncmp(p, "--", 2) == 0 || is_setting_line(p)))
		p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
	*is_index = true;
	if (strncmp(p, "ALTER INDEX ", 12) == 0)
	{
		/* ALTER INDEX parent ATTACH PARTITION leaf: the parent's table */
		p += 12;
		return read_name(&p);
	}
	if (strncmp(p, "COMMENT ON INDEX ", 17) == 0)
	{
		p += 17;
		return read_name(&p);
	}
	*is_index = false;
	for (int i = 0; on_prefixes[i]; i++)
	{
		char *name;

		if (strncmp(p, on_prefixes[i], strlen(on_prefixes[i])) != 0)
			continue;
		p += strlen(on_prefixes[i]);
		name = read_name(&p);
		free(name);
		if (strncmp(p, " ON ", 4) != 0)
			return NULL;
		p += 4;
		return read_name(&p);
	}
	return NULL;
}

/* Ties the entries the catalogs did not place to the table they name. */
static bool
map_statements(PgConn *source, PostDataList *list)
{
	for (int i = 0; i < list->count; i++)
	{
		PostDataItem *item = &list->items[i];
		bool is_index;
		char *name;
		const char *params[2];
		PgResult *res;

		if (item->table ||
			(name = statement_relation(item->statement, &is_index)) == NULL)
			continue;
		params[0] = name;
		params[1] = is_index ? "true" : "false";
		res = pg_query(source,
					   "SELECT n.nspname, c.relname FROM pg_class c\n"
					   "JOIN pg_namespace n ON n.oid = c.relnamespace\n"
					   "WHERE c.oid = CASE WHEN $2::bool\n"
					   "  THEN (SELECT indrelid FROM pg_index\n"
					   "        WHERE indexrelid = to_regclass($1))\n"
					   "  ELSE to_regclass($1) END\n"
					   "  AND c.relkind IN ('r', 'p')",
					   2, params);
		free(name);
		if (res == NULL)
		{
			pg_report(source, "find the table of %s", item->description);
			return false;
		}
		if (pg_result_rows(res) == 1)
		{
			item->schema = xstrdup(pg_result_value(res, 0, 0));
			item->table = xstrdup(pg_result_value(res, 0, 1));
		}
		pg_result_free(res);
	}
	return true;
}

/* Cuts the rendered post-data script into one statement per entry. */
static bool
split_post_data(char *sql, const Toc *toc, PostDataList *list)
{
	SessionSettings settings = {{0}, 0};
	const char *entry = strstr(sql, ENTRY_HEADER);
	int n = 0;
	bool ok = true;

	list->items = xcalloc(toc->count ? toc->count : 1, sizeof(PostDataItem));
	list->count = toc->count;
	take_trailing_settings(&settings, sql, entry ? entry : sql + strlen(sql));
	while (entry)
	{
		const char *next = strstr(entry + 1, ENTRY_HEADER);
		const char *end = next ? next : entry + strlen(entry);
		const char *cut;
		Buf statement = BUF_INIT;

		if (n == toc->count)
		{
			n++;
			break;
		}
		for (int i = 0; i < settings.count; i++)
			buf_printf(&statement, "%s\n", settings.lines[i]);
		cut = take_trailing_settings(&settings, entry, end);
		buf_append(&statement, entry, cut - entry);
		list->items[n].statement = statement.data;
		entry = next;
		n++;
	}
	if (n != toc->count)
	{
		log_error("could not match pg_restore's post-data script with its "
				  "table of contents (%d entries, %d statements)",
				  toc->count, n);
		log_hint(
			"Report this as a bug, with the files in the --dir directory.");
		ok = false;
	}
	for (int i = 0; i < settings.count; i++)
		free(settings.lines[i]);
	return ok;
}

bool
postdata_build(char *sql, const Toc *toc, PgConn *source, PostDataList *list)
{
	if (!split_post_data(sql, toc, list))
		return false;
	for (int i = 0; i < toc->count; i++)
	{
		PostDataItem *item = &list->items[i];

		item->position = i + 1;
		item->description = xstrdup(toc->entries[i].what);
		item->foreign_key =
			strncmp(toc->entries[i].what, "FK CONSTRAINT ", 14) == 0;
	}
	return map_entries(source, toc, list->items) &&
		   map_statements(source, list);
}
