/*-------------------------------------------------------------------------
 *
 * tablefilter.c
 *	  Parse table patterns and turn them into SQL conditions.
 *
 * The patterns are parsed by the plugin's parser (plugin/pattern_syntax.c),
 * so both sides agree on every name.  Each pattern becomes a pair of
 * anchored regular expressions, one for the schema and one for the table:
 * `*` becomes `.*`, `?` becomes `.`, every other character is matched
 * literally.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/tablefilter.h"
#include "common/buf.h"
#include "common/log.h"
#include "pg/pg.h"
#include "plugin/pattern_syntax.h"

typedef struct TablePattern
{
	char *schema_regex;
	char *table_regex;
} TablePattern;

typedef struct PatternList
{
	TablePattern *items;
	int count;
} PatternList;

struct TableFilter
{
	PatternList include;
	PatternList exclude;
	char *description;
};

/* Appends one literal character to a regular expression. */
static void
regex_append_literal(Buf *regex, char c)
{
	if (strchr("\\.^$|?*+()[]{}", c))
		buf_append(regex, "\\", 1);
	buf_append(regex, &c, 1);
}

/* The anchored regular expression of one side of a pattern.  malloc'ed. */
static char *
side_regex(const int *tokens)
{
	Buf regex = BUF_INIT;

	buf_append_str(&regex, "^");
	for (; *tokens != PATTERN_TOKEN_END; tokens++)
	{
		if (*tokens == PATTERN_TOKEN_ANY_RUN)
			buf_append_str(&regex, ".*");
		else if (*tokens == PATTERN_TOKEN_ANY_CHAR)
			buf_append_str(&regex, ".");
		else
			regex_append_literal(&regex, (char) *tokens);
	}
	buf_append_str(&regex, "$");
	return regex.data;
}

/*
 * Compiles the item at *cursor into pattern and leaves *cursor at the comma
 * or the end that ends it.  Returns false (after logging) on a bad item.
 */
static bool
parse_item(const char *option, const char **cursor, TablePattern *pattern)
{
	int *tokens = xmalloc(pattern_syntax_tokens_size(*cursor));
	PatternItem item;
	const char *item_start;
	const char *problem;

	problem = pattern_syntax_parse_item(cursor, tokens, &item, &item_start);
	if (problem)
	{
		log_error("invalid table pattern \"%.*s\" in %s",
				  (int) strcspn(item_start, ","), item_start, option);
		log_detail("%s", problem);
		log_hint("Give schema-qualified names, with * and ? as wildcards, "
				 "e.g. 'public.*' or 'sales.order_?'; double-quote names "
				 "that have upper-case letters or special characters.");
		free(tokens);
		return false;
	}
	pattern->schema_regex = side_regex(item.schema);
	pattern->table_regex = side_regex(item.table);
	free(tokens);
	return true;
}

/* Adds the items of every pattern list of values to list. */
static bool
parse_lists(const char *option, const char *const *values, int count,
			PatternList *list)
{
	for (int i = 0; i < count; i++)
	{
		const char *p = values[i];

		for (;;)
		{
			list->items = xrealloc(list->items,
								   (list->count + 1) * sizeof(TablePattern));
			if (!parse_item(option, &p, &list->items[list->count]))
				return false;
			list->count++;
			if (*p == '\0')
				break;
			p++; /* the comma */
		}
	}
	return true;
}

static void
describe_list(Buf *out, const char *what, const char *const *values, int count)
{
	buf_printf(out, "%s%s:", out->len ? "; " : "", what);
	for (int i = 0; i < count; i++)
		buf_printf(out, "%s %s", i ? "," : "", values[i]);
	if (count == 0)
		buf_append_str(out, " (none)");
}

TableFilter *
tablefilter_compile(const char *const *include, int ninclude,
					const char *const *exclude, int nexclude)
{
	TableFilter *filter = xcalloc(1, sizeof(TableFilter));
	Buf description = BUF_INIT;

	if (!parse_lists("--include-tables", include, ninclude,
					 &filter->include) ||
		!parse_lists("--exclude-tables", exclude, nexclude, &filter->exclude))
	{
		tablefilter_free(filter);
		return NULL;
	}
	describe_list(&description, "include", include, ninclude);
	describe_list(&description, "exclude", exclude, nexclude);
	filter->description = description.data;
	return filter;
}

void
tablefilter_free(TableFilter *filter)
{
	PatternList *lists[2];

	if (filter == NULL)
		return;
	lists[0] = &filter->include;
	lists[1] = &filter->exclude;
	for (int l = 0; l < 2; l++)
	{
		for (int i = 0; i < lists[l]->count; i++)
		{
			free(lists[l]->items[i].schema_regex);
			free(lists[l]->items[i].table_regex);
		}
		free(lists[l]->items);
	}
	free(filter->description);
	free(filter);
}

bool
tablefilter_has_include(const TableFilter *filter)
{
	return filter->include.count > 0;
}

const char *
tablefilter_describe(const TableFilter *filter)
{
	return filter->description;
}

/* "(schema ~ '...' AND name ~ '...') OR ..." for every item of list. */
static void
list_condition(Buf *out, const PatternList *list, const char *schema_expr,
			   const char *name_expr)
{
	for (int i = 0; i < list->count; i++)
	{
		char *schema_regex = pg_quote_literal(list->items[i].schema_regex);
		char *table_regex = pg_quote_literal(list->items[i].table_regex);

		buf_printf(out, "%s(%s ~ %s AND %s ~ %s)", i ? " OR " : "",
				   schema_expr, schema_regex, name_expr, table_regex);
		free(schema_regex);
		free(table_regex);
	}
}

/* Whether the table or its partition root matches an item of list. */
static void
name_condition(Buf *out, const PatternList *list, const char *schema_expr,
			   const char *name_expr, const char *root_schema_expr,
			   const char *root_name_expr)
{
	buf_append_str(out, "(");
	list_condition(out, list, schema_expr, name_expr);
	buf_append_str(out, " OR coalesce(");
	list_condition(out, list, root_schema_expr, root_name_expr);
	buf_append_str(out, ", false))");
}

char *
tablefilter_sql(const TableFilter *filter, const char *schema_expr,
				const char *name_expr, const char *root_schema_expr,
				const char *root_name_expr)
{
	Buf sql = BUF_INIT;

	buf_append_str(&sql, "(true");
	if (filter->include.count > 0)
	{
		buf_append_str(&sql, " AND ");
		name_condition(&sql, &filter->include, schema_expr, name_expr,
					   root_schema_expr, root_name_expr);
	}
	if (filter->exclude.count > 0)
	{
		buf_append_str(&sql, " AND NOT ");
		name_condition(&sql, &filter->exclude, schema_expr, name_expr,
					   root_schema_expr, root_name_expr);
	}
	buf_append_str(&sql, ")");
	return sql.data;
}
