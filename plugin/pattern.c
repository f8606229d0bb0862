/*-------------------------------------------------------------------------
 *
 * pattern.c
 *	  Parse and match the table name patterns of include_tables and
 *	  exclude_tables.
 *
 * The syntax is parsed by pattern_syntax.c, which the applier shares; this
 * file raises its problems as errors and matches names against the
 * compiled tokens.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "pattern.h"
#include "pattern_syntax.h"

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

List *
pattern_list_parse(const char *option_name, const char *value)
{
	List *patterns = NIL;
	const char *p = value;

	for (;;)
	{
		PatternItem *pattern = palloc(sizeof(PatternItem));
		int *tokens = palloc(pattern_syntax_tokens_size(p));
		const char *item_start;
		const char *problem;

		problem = pattern_syntax_parse_item(&p, tokens, pattern, &item_start);
		if (problem)
			pattern_error(option_name, item_start, problem);
		patterns = lappend(patterns, pattern);
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
		if (*pattern == PATTERN_TOKEN_ANY_RUN)
		{
			run_pattern = ++pattern;
			run_name = name;
			continue;
		}
		if (*name != '\0' && *pattern == PATTERN_TOKEN_ANY_CHAR)
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
		if (*pattern == PATTERN_TOKEN_END && *name == '\0')
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
		const PatternItem *pattern = lfirst(lc);

		if (glob_matches(pattern->schema, schema) &&
			glob_matches(pattern->table, name))
			return true;
	}
	return false;
}
