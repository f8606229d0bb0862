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
 * renders the SQL, which postdata.c cuts into statements.
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
#include "common/file.h"
#include "common/log.h"
#include "migrate/postdata.h"
#include "migrate/schema.h"

#define SCRIPT_END "\n--\n-- PostgreSQL database dump complete\n"

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
		/* the dump and the scripts it writes are the source's schema */
		umask(077);
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
		log_hint(
			"Its own messages are above.  On \"permission denied\", the "
			"role lacks a privilege: `pgferry preflight` names each, with "
			"its GRANT.  On \"server version mismatch\", the PostgreSQL "
			"client programs must be of the source server's major "
			"version or newer.");
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
	FILE *f = file_create_private(path);

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

/*
 * Whether an entry is pgferry's own on the source: its extension and the
 * extension's comment, or the event triggers of its DDL capture installed
 * without the extension (sql/pgferry_ddl.sql), whose functions live in
 * schema pgferry, which the dump leaves out.
 */
static bool
is_pgferry_own(const TocEntry *e)
{
	static const char *const ours[] = {
		"EXTENSION - pgferry",
		"COMMENT - EXTENSION pgferry",
		"EVENT TRIGGER - pgferry_ddl_command_end",
		"EVENT TRIGGER - pgferry_ddl_command_start",
		"EVENT TRIGGER - pgferry_ddl_sql_drop",
		"EVENT TRIGGER - pgferry_ddl_table_rewrite"};

	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
	{
		size_t len = strlen(ours[i]);

		if (strncmp(e->what, ours[i], len) == 0 &&
			(e->what[len] == ' ' || e->what[len] == '\0'))
			return true;
	}
	return false;
}

/* Leaves pgferry's own entries out of toc. */
static void
toc_drop_pgferry_own(Toc *toc)
{
	int kept = 0;

	for (int i = 0; i < toc->count; i++)
		if (!is_pgferry_own(&toc->entries[i]))
			toc->entries[kept++] = toc->entries[i];
	toc->count = kept;
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

/*
 * Renders the entries of toc as SQL, with what modes leave out; the files
 * are named after part.
 */
static char *
toc_render(const char *archive, const char *dir, const char *part,
		   const Toc *toc, const RestoreModes *modes)
{
	char list_path[PATH_MAX];
	char sql_path[PATH_MAX];
	char file_option[PATH_MAX + 16];
	char list_option[PATH_MAX + 16];
	const char *argv[7] = {"pg_restore", list_option, file_option};
	int argc = 3;
	Buf list = BUF_INIT;
	bool ok;

	if (modes->no_owner)
		argv[argc++] = "--no-owner";
	if (modes->no_privileges)
		argv[argc++] = "--no-privileges";
	argv[argc++] = archive;
	argv[argc] = NULL;
	snprintf(list_path, sizeof(list_path), "%s/%s.list", dir, part);
	snprintf(sql_path, sizeof(sql_path), "%s/%s.sql", dir, part);
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

/* --- the whole schema --------------------------------------------------------- */

/*
 * Deletes the archive and what toc_list() and toc_render() wrote next to
 * it: once the script is in memory nothing reads them again (a run that
 * stops before the pre-data is restored dumps the schema anew).
 */
static void
remove_dump_files(const char *archive, const char *dir)
{
	static const char *const sections[] = {"schemas", "pre-data", "post-data"};
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

/* Whether an entry creates a schema or sets its privileges. */
static bool
is_schema_entry(const TocEntry *e)
{
	return strncmp(e->what, "SCHEMA - ", 9) == 0 ||
		   strncmp(e->what, "ACL - SCHEMA ", 13) == 0;
}

/* Appends the SQL of toc's entries to script (nothing for none). */
static bool
append_rendered(Buf *script, const char *archive, const char *dir,
				const char *part, const Toc *toc, const RestoreModes *modes)
{
	char *sql;

	if (toc->count == 0)
		return true;
	sql = toc_render(archive, dir, part, toc, modes);
	if (sql == NULL)
		return false;
	script_strip_meta(sql);
	buf_append_str(script, sql);
	free(sql);
	return true;
}

/*
 * The pre-data script: the schemas and their privileges, then the rest.  pg_restore puts every privilege after
 * every object, but ALTER ... OWNER TO by a non-superuser needs the new
 * owner's CREATE on the schema, which a GRANT of the source may give.
 */
static char *
render_pre_data(const char *archive, const char *dir, const Toc *pre,
				const RestoreModes *modes, int *count)
{
	Toc schemas = {0}, rest = {0};
	Buf script = BUF_INIT;
	bool ok;

	schemas.entries = xcalloc(pre->count + 1, sizeof(TocEntry));
	rest.entries = xcalloc(pre->count + 1, sizeof(TocEntry));
	for (int i = 0; i < pre->count; i++)
	{
		if (is_schema_entry(&pre->entries[i]))
			schemas.entries[schemas.count++] = pre->entries[i];
		else
			rest.entries[rest.count++] = pre->entries[i];
	}
	buf_append(&script, "", 0);
	ok = append_rendered(&script, archive, dir, "schemas", &schemas, modes) &&
		 append_rendered(&script, archive, dir, "pre-data", &rest, modes);
	*count = schemas.count + rest.count;
	free(schemas.entries);
	free(rest.entries);
	if (ok)
		return script.data;
	buf_free(&script);
	return NULL;
}

bool
schema_dump(const char *conninfo, const char *snapshot, const char *dir,
			PgConn *source, const RestoreModes *modes, SchemaScript *script)
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
	int restored = 0;
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

	toc_drop_pgferry_own(&pre);
	toc_drop_pgferry_own(&post);
	script->pre_data = render_pre_data(archive, dir, &pre, modes, &restored);
	if (script->pre_data == NULL)
		goto done;

	if (post.count > 0)
	{
		post_sql = toc_render(archive, dir, "post-data", &post, modes);
		if (post_sql == NULL)
			goto done;
		script_strip_meta(post_sql);
		if (!postdata_build(post_sql, &post, source, &script->post_data))
			goto done;
	}
	log_info("schema dumped: %d pre-data %s, %d post-data %s", restored,
			 plural(restored, "object", "objects"), script->post_data.count,
			 plural(script->post_data.count, "statement", "statements"));
	ok = true;
	/* a failed dump keeps them, for its report */
	remove_dump_files(archive, dir);

done:
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
schema_restore_identity(PgConn *target, int *count)
{
	PgResult *res = pg_query_or_report(
		target, "SELECT pg_catalog.to_regclass('pgferry.identity_always')", 0,
		NULL, "look for pgferry.identity_always");
	bool ok;

	*count = 0;
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
		"SET GENERATED ALWAYS', schema_name, table_name, column_name) "
		"FROM pgferry.identity_always ORDER BY 1",
		0, NULL, "read pgferry.identity_always");
	ok = schema_run_each(target, res, "restore an identity column");
	if (ok)
		*count = pg_result_rows(res);
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
