/*-------------------------------------------------------------------------
 *
 * schema.c
 *	  Dump the source's schema with pg_dump, restore its pre-data section
 *	  on the target, and cut its post-data section into statements.
 *
 * pg_dump writes one custom-format archive (both sections, in the slot's
 * snapshot); `pg_restore --list` gives its table of contents, which says
 * for each post-data entry the catalog and OID of the object, from which
 * the source's catalogs give the table it belongs to; `pg_restore --file`
 * renders the SQL.  The rendered post-data script is cut at the comment
 * header pg_dump writes before every entry; that there are exactly as many
 * headers as entries is checked.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "migrate/schema.h"

#define ENTRY_HEADER "\n--\n-- Name: "
#define SCRIPT_END "\n--\n-- PostgreSQL database dump complete\n"

/* One entry of an archive's table of contents. */
typedef struct TocEntry
{
	char *line;	 /* as pg_restore --list prints it */
	Oid catalog; /* catalog of the object, 0 if none */
	Oid object;
	const char *what; /* the line after the OIDs: "INDEX ..." */
} TocEntry;

typedef struct Toc
{
	TocEntry *entries;
	int count;
} Toc;

/* --- child programs ---------------------------------------------------- */

/* pg_dump next to our own binary (the PostgreSQL bin directory), or PATH's. */
static char *
program_path(const char *name)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	Buf path = BUF_INIT;

	if (len > 0)
	{
		char *slash;

		self[len] = '\0';
		slash = strrchr(self, '/');
		if (slash)
		{
			buf_printf(&path, "%.*s/%s", (int) (slash - self), self, name);
			if (access(path.data, X_OK) == 0)
				return path.data;
		}
	}
	buf_free(&path);
	return xstrdup(name);
}

/*
 * Runs argv[0] (found by program_path) with stdout to stdout_path (NULL:
 * ours); its stderr is ours, so its messages reach the user.  password, if
 * any, goes in PGPASSWORD.
 */
static bool
run_program(const char **argv, const char *password, const char *stdout_path)
{
	char *program = program_path(argv[0]);
	pid_t pid;
	int status;

	log_verbose("running %s", program);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
	{
		log_error("could not start %s: %s", program, strerror(errno));
		free(program);
		return false;
	}
	if (pid == 0)
	{
		if (password)
			setenv("PGPASSWORD", password, 1);
		if (stdout_path)
		{
			int fd = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
				_exit(127);
			close(fd);
		}
		execvp(program, (char *const *) argv);
		fprintf(stderr, "pgferry: could not run %s: %s\n", program,
				strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			log_error("could not wait for %s: %s", program, strerror(errno));
			free(program);
			return false;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
	{
		log_error("%s failed (%s %d)", program,
				  WIFEXITED(status) ? "exit code" : "signal",
				  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		log_hint("Its own messages are above; the PostgreSQL client programs "
				 "must be of the source server's major version or newer.");
		free(program);
		return false;
	}
	free(program);
	return true;
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	Buf content = BUF_INIT;
	char chunk[65536];
	size_t n;

	if (f == NULL)
	{
		log_error("could not read \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	buf_append(&content, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&content, chunk, n);
	fclose(f);
	return content.data;
}

static bool
write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0)
	{
		log_error("could not write \"%s\": %s", path, strerror(errno));
		return false;
	}
	return true;
}

/* --- the table of contents ------------------------------------------------ */

/* Parses pg_restore --list output: "id; catalog oid DESC schema tag owner". */
static void
toc_parse(char *listing, Toc *toc)
{
	char *line = listing;

	memset(toc, 0, sizeof(Toc));
	while (line && *line)
	{
		char *next = strchr(line, '\n');
		unsigned int id, catalog, object;
		int consumed = 0;

		if (next)
			*next++ = '\0';
		if (line[0] != ';' &&
			sscanf(line, "%u; %u %u %n", &id, &catalog, &object, &consumed) ==
				3 &&
			consumed > 0)
		{
			TocEntry *e;

			toc->entries =
				xrealloc(toc->entries, (toc->count + 1) * sizeof(TocEntry));
			e = &toc->entries[toc->count++];
			e->line = line;
			e->catalog = catalog;
			e->object = object;
			e->what = line + consumed;
		}
		line = next;
	}
}

/* Whether an entry is the source's pgferry extension or its comment. */
static bool
is_pgferry_extension(const TocEntry *e)
{
	static const char *const ours[] = {"EXTENSION - pgferry",
									   "COMMENT - EXTENSION pgferry"};

	for (int i = 0; i < 2; i++)
	{
		size_t len = strlen(ours[i]);

		if (strncmp(e->what, ours[i], len) == 0 &&
			(e->what[len] == ' ' || e->what[len] == '\0'))
			return true;
	}
	return false;
}

/* Lists the entries of one section of archive in dir/<section>.list. */
static bool
toc_list(const char *archive, const char *dir, const char *section, Toc *toc,
		 char **listing)
{
	char section_option[64];
	char path[PATH_MAX];
	const char *argv[] = {"pg_restore", "--list", section_option, archive,
						  NULL};

	snprintf(section_option, sizeof(section_option), "--section=%s", section);
	snprintf(path, sizeof(path), "%s/%s.toc", dir, section);
	if (!run_program(argv, NULL, path) || (*listing = read_file(path)) == NULL)
		return false;
	toc_parse(*listing, toc);
	return true;
}

/* Renders the entries of toc (but excluded ones) as SQL. */
static char *
toc_render(const char *archive, const char *dir, const char *section,
		   const Toc *toc)
{
	char list_path[PATH_MAX];
	char sql_path[PATH_MAX];
	char file_option[PATH_MAX + 16];
	char list_option[PATH_MAX + 16];
	const char *argv[] = {"pg_restore", list_option, file_option, archive,
						  NULL};
	Buf list = BUF_INIT;
	bool ok;

	snprintf(list_path, sizeof(list_path), "%s/%s.list", dir, section);
	snprintf(sql_path, sizeof(sql_path), "%s/%s.sql", dir, section);
	snprintf(list_option, sizeof(list_option), "--use-list=%s", list_path);
	snprintf(file_option, sizeof(file_option), "--file=%s", sql_path);
	buf_append(&list, "", 0);
	for (int i = 0; i < toc->count; i++)
		buf_printf(&list, "%s\n", toc->entries[i].line);
	ok = write_file(list_path, list.data) && run_program(argv, NULL, NULL);
	buf_free(&list);
	return ok ? read_file(sql_path) : NULL;
}

/*
 * Cuts the script's tail (from "dump complete", which holds the closing
 * \unrestrict) and blanks the \restrict line of its head: psql
 * meta-commands the server would not understand.
 */
static void
script_strip_meta(char *sql)
{
	char *end = strstr(sql, SCRIPT_END);
	char *first_entry = strstr(sql, ENTRY_HEADER);
	char *restrict_line = strstr(sql, "\n\\restrict ");

	if (end)
		end[1] = '\0';
	if (restrict_line && (first_entry == NULL || restrict_line < first_entry))
	{
		for (char *p = restrict_line + 1; *p && *p != '\n'; p++)
			*p = ' ';
	}
}

/* --- post-data statements ------------------------------------------------ */

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

static bool
build_post_data(char *sql, const Toc *toc, PgConn *source, PostDataList *list)
{
	script_strip_meta(sql);
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

/* --- the whole schema --------------------------------------------------------- */

/*
 * Deletes the archive and what toc_list() and toc_render() wrote next to
 * it: once the script is in memory nothing reads them again (a run that
 * stops before the pre-data is restored dumps the schema anew).
 */
static void
remove_dump_files(const char *archive, const char *dir)
{
	static const char *const sections[] = {"pre-data", "post-data"};
	static const char *const suffixes[] = {"toc", "list", "sql"};
	char path[PATH_MAX];

	unlink(archive);
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++)
		for (size_t f = 0; f < sizeof(suffixes) / sizeof(suffixes[0]); f++)
		{
			snprintf(path, sizeof(path), "%s/%s.%s", dir, sections[s],
					 suffixes[f]);
			unlink(path);
		}
}

bool
schema_dump(const char *conninfo, const char *snapshot, const char *dir,
			PgConn *source, SchemaScript *script)
{
	char archive[PATH_MAX];
	char file_option[PATH_MAX + 16];
	char snapshot_option[128];
	char *redacted = pg_conninfo_redact(conninfo);
	char *password = pg_conninfo_password(conninfo);
	const char *dump_argv[] = {"pg_dump",
							   "--format=custom",
							   file_option,
							   "--section=pre-data",
							   "--section=post-data",
							   snapshot_option,
							   "--exclude-schema=pgferry",
							   "--no-subscriptions",
							   "--dbname",
							   redacted,
							   NULL};
	Toc pre = {0}, post = {0};
	char *pre_listing = NULL, *post_listing = NULL, *post_sql = NULL;
	Toc kept = {0};
	bool ok = false;

	memset(script, 0, sizeof(SchemaScript));
	snprintf(archive, sizeof(archive), "%s/schema.dump", dir);
	snprintf(file_option, sizeof(file_option), "--file=%s", archive);
	snprintf(snapshot_option, sizeof(snapshot_option), "--snapshot=%s",
			 snapshot);
	log_info("dumping the schema of the source with pg_dump into %s", archive);
	if (!run_program(dump_argv, password, NULL) ||
		!toc_list(archive, dir, "pre-data", &pre, &pre_listing) ||
		!toc_list(archive, dir, "post-data", &post, &post_listing))
		goto done;

	kept.entries = xcalloc(pre.count ? pre.count : 1, sizeof(TocEntry));
	for (int i = 0; i < pre.count; i++)
		if (!is_pgferry_extension(&pre.entries[i]))
			kept.entries[kept.count++] = pre.entries[i];
	script->pre_data = toc_render(archive, dir, "pre-data", &kept);
	if (script->pre_data == NULL)
		goto done;
	script_strip_meta(script->pre_data);

	if (post.count > 0)
	{
		post_sql = toc_render(archive, dir, "post-data", &post);
		if (post_sql == NULL ||
			!build_post_data(post_sql, &post, source, &script->post_data))
			goto done;
	}
	log_info("schema dumped: %d pre-data %s, %d post-data %s", kept.count,
			 plural(kept.count, "object", "objects"), script->post_data.count,
			 plural(script->post_data.count, "statement", "statements"));
	ok = true;
	/* a failed dump keeps them, for its report */
	remove_dump_files(archive, dir);

done:
	free(kept.entries);
	free(pre.entries);
	free(post.entries);
	free(pre_listing);
	free(post_listing);
	free(post_sql);
	free(redacted);
	free(password);
	return ok;
}

void
schema_script_free(SchemaScript *script)
{
	free(script->pre_data);
	state_post_data_free(&script->post_data);
	memset(script, 0, sizeof(SchemaScript));
}

bool
schema_restore_pre_data(PgConn *target, const SchemaScript *script)
{
	if (!pg_exec(target, script->pre_data))
	{
		pg_report(target, "restore the schema (pg_dump's pre-data section)");
		log_hint("The target database must not have these objects yet, and "
				 "the extensions the source uses must be installed on the "
				 "target server; `pgferry preflight` checks both.");
		return false;
	}
	return true;
}

/* Runs each statement of the first column of res; false at the first error. */
static bool
schema_run_each(PgConn *target, PgResult *res, const char *what)
{
	bool ok = true;

	for (int i = 0; res && i < pg_result_rows(res) && ok; i++)
	{
		const char *sql = pg_result_value(res, i, 0);

		ok = pg_exec(target, sql);
		if (ok)
			log_verbose("target: %s", sql);
		else
			pg_report(target, "%s: %s", what, sql);
	}
	return res != NULL && ok;
}

bool
schema_relax_identity(PgConn *target)
{
	PgResult *res = pg_query_or_report(
		target,
		"INSERT INTO pgferry.identity_always "
		"SELECT n.nspname, c.relname, a.attname "
		"FROM pg_catalog.pg_attribute a "
		"JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE a.attidentity = 'a' AND NOT a.attisdropped "
		"AND c.relkind IN ('r', 'p') "
		"AND n.nspname <> 'pgferry' ON CONFLICT DO NOTHING "
		"RETURNING pg_catalog.format('ALTER TABLE %I.%I ALTER COLUMN %I "
		"SET GENERATED BY DEFAULT', schema_name, table_name, column_name)",
		0, NULL, "record the GENERATED ALWAYS identity columns");
	bool ok = schema_run_each(target, res, "relax an identity column");

	if (ok && pg_result_rows(res) > 0)
		log_info("%d GENERATED ALWAYS identity %s GENERATED BY DEFAULT "
				 "while pgferry follows (cutover restores them)",
				 pg_result_rows(res),
				 plural(pg_result_rows(res), "column is", "columns are"));
	pg_result_free(res);
	return ok;
}

bool
schema_restore_identity(PgConn *target, bool always)
{
	const char *params[1] = {always ? "ALWAYS" : "BY DEFAULT"};
	PgResult *res = pg_query_or_report(
		target, "SELECT pg_catalog.to_regclass('pgferry.identity_always')", 0,
		NULL, "look for pgferry.identity_always");
	bool ok;

	if (res == NULL)
		return false;
	if (pg_result_value(res, 0, 0) == NULL)
	{
		pg_result_free(res);
		return true;
	}
	pg_result_free(res);
	res = pg_query_or_report(
		target,
		"SELECT pg_catalog.format('ALTER TABLE %I.%I ALTER COLUMN %I "
		"SET GENERATED %s', schema_name, table_name, column_name, "
		"$1::pg_catalog.text) "
		"FROM pgferry.identity_always ORDER BY 1",
		1, params, "read pgferry.identity_always");
	ok = schema_run_each(target, res, "restore an identity column");
	if (!ok)
		log_hint("run the statement on the target as the table's owner");
	pg_result_free(res);
	return ok;
}

bool
schema_run_post_data(PgConn *target, const PostDataItem *item)
{
	log_verbose("post-data: %s", item->description);
	if (!pg_exec(target, "BEGIN"))
	{
		pg_report(target, "begin a transaction");
		return false;
	}
	if (!pg_exec(target, item->statement))
	{
		pg_report(target, "create %s", item->description);
		pg_exec(target, "ROLLBACK");
		return false;
	}
	if (!state_post_data_done(target, item->position) ||
		!pg_exec(target, "COMMIT"))
	{
		pg_report(target, "commit %s", item->description);
		pg_exec(target, "ROLLBACK");
		return false;
	}
	return true;
}
