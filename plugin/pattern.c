/*-------------------------------------------------------------------------
 *
 * pattern.c
 *	  Parse and match the table name patterns of include_tables and
 *	  exclude_tables (syntax in pattern.h).
 *
 * A pattern side (schema or table) is compiled into a zero-terminated array
 * of tokens: a byte of the name (1..255) or one of the two wildcards.
 * Keeping wildcards out of the byte range is what lets a quoted "*" be a
 * plain character.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "parser/scansup.h"

#include "pattern.h"

#define TOKEN_END 0
#define TOKEN_ANY_RUN (-1)	/* `*` */
#define TOKEN_ANY_CHAR (-2) /* `?` */

typedef struct TablePattern
{
	int *schema;
	int *table;
} TablePattern;

/* Report a bad item; the message shows it up to the next comma. */
static void
pattern_error(const char *option_name, const char *item, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid table pattern \"%s\" in pgferry option \"%s\"",
					pnstrdup(item, strcspn(item, ",")), option_name),
			 errdetail("%s", detail),
			 errhint("Give schema-qualified names separated by commas, with * "
					 "and ? as wildcards, e.g. 'public.*, sales.order_?'; "
					 "double-quote names that have upper-case letters or "
					 "special characters.")));
}

/*
 * Compile the item starting at *cursor (leading spaces already skipped) and
 * leave *cursor at the comma or the end that ends it.
 */
static TablePattern *
parse_item(const char *option_name, const char **cursor)
{
	const char *start = *cursor;
	const char *p = start;
	int *tokens = palloc((strlen(start) + 2) * sizeof(int));
	int ntokens = 0;
	int table_start = -1;
	bool quoted = false;
	TablePattern *pattern;

	while (*p != '\0' && (quoted || *p != ','))
	{
		char c = *p;

		if (c == '"')
		{
			if (quoted && p[1] == '"')
			{
				tokens[ntokens++] = '"';
				p++;
			}
			else
				quoted = !quoted;
			p++;
			continue;
		}
		if (quoted)
		{
			tokens[ntokens++] = (unsigned char) c;
			p++;
			continue;
		}
		if (scanner_isspace(c))
		{
			/* spaces may only trail an item */
			while (scanner_isspace(*p))
				p++;
			if (*p != '\0' && *p != ',')
				pattern_error(option_name, start,
							  "Spaces inside a name must be double-quoted.");
			break;
		}
		if (c == '.')
		{
			if (table_start >= 0)
				pattern_error(option_name, start,
							  "A pattern has exactly one dot, between the "
							  "schema and the table.");
			tokens[ntokens++] = TOKEN_END;
			table_start = ntokens;
		}
		else if (c == '*')
			tokens[ntokens++] = TOKEN_ANY_RUN;
		else if (c == '?')
			tokens[ntokens++] = TOKEN_ANY_CHAR;
		else if (c >= 'A' && c <= 'Z')
			tokens[ntokens++] = c + ('a' - 'A');
		else
			tokens[ntokens++] = (unsigned char) c;
		p++;
	}
	tokens[ntokens] = TOKEN_END;

	if (quoted)
		pattern_error(option_name, start, "A double quote is not closed.");
	if (p == start)
		pattern_error(option_name, start, "The pattern is empty.");
	if (table_start < 0)
		pattern_error(option_name, start,
					  "The pattern has no schema: write schema.table.");
	if (table_start == 1 || tokens[table_start] == TOKEN_END)
		pattern_error(option_name, start,
					  "The schema or the table part is empty.");

	pattern = palloc(sizeof(TablePattern));
	pattern->schema = tokens;
	pattern->table = tokens + table_start;
	*cursor = p;
	return pattern;
}

List *
pattern_list_parse(const char *option_name, const char *value)
{
	List *patterns = NIL;
	const char *p = value;

	for (;;)
	{
		while (scanner_isspace(*p))
			p++;
		patterns = lappend(patterns, parse_item(option_name, &p));
		if (*p == '\0')
			break;
		p++; /* the comma */
	}
	return patterns;
}

/*
 * Glob matching with backtracking to the last `*` only, which is enough for
 * globs (a later `*` can always absorb what an earlier one would have).
 * `?` and the `*` backtrack step move by whole characters of the server
 * encoding.
 */
static bool
glob_matches(const int *pattern, const char *name)
{
	const int *run_pattern = NULL;
	const char *run_name = NULL;

	for (;;)
	{
		if (*pattern == TOKEN_ANY_RUN)
		{
			run_pattern = ++pattern;
			run_name = name;
			continue;
		}
		if (*name != '\0' && *pattern == TOKEN_ANY_CHAR)
		{
			name += pg_mblen(name);
			pattern++;
			continue;
		}
		if (*name != '\0' && *pattern == (unsigned char) *name)
		{
			name++;
			pattern++;
			continue;
		}
		if (*pattern == TOKEN_END && *name == '\0')
			return true;
		if (run_pattern == NULL || *run_name == '\0')
			return false;
		run_name += pg_mblen(run_name);
		name = run_name;
		pattern = run_pattern;
	}
}

bool
pattern_list_matches(const List *patterns, const char *schema,
					 const char *name)
{
	ListCell *lc;

	foreach (lc, patterns)
	{
		const TablePattern *pattern = lfirst(lc);

		if (glob_matches(pattern->schema, schema) &&
			glob_matches(pattern->table, name))
			return true;
	}
	return false;
}
