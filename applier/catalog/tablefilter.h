/*-------------------------------------------------------------------------
 *
 * tablefilter.h
 *	  The --include-tables / --exclude-tables patterns, for the jobs that
 *	  choose tables on the client side (copy, preflight, status).
 *
 * Promises: the same syntax and meaning as the plugin's include_tables and
 * exclude_tables options, read by the plugin's own parser
 * (plugin/pattern_syntax.h), so a table is copied exactly when its changes
 * are streamed: schema-qualified names with `*` and `?` as wildcards,
 * unquoted parts folded to lower case, double-quoted parts literal; a
 * partition matches through its own name or its root's; an exclusion wins
 * over an inclusion.  Matching itself runs on the source server, as a SQL
 * condition (regular expressions), so that `?` steps over whole characters
 * in any server encoding.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_TABLEFILTER_H
#define PGFERRY_TABLEFILTER_H

#include <stdbool.h>

typedef struct TableFilter TableFilter;

/*
 * Compiles the patterns (each element may itself be a comma-separated
 * list).  On a bad pattern logs an error naming it and returns NULL.
 */
extern TableFilter *tablefilter_compile(const char *const *include,
										int ninclude,
										const char *const *exclude,
										int nexclude);
extern void tablefilter_free(TableFilter *filter);

/* Whether any --include-tables pattern was given. */
extern bool tablefilter_has_include(const TableFilter *filter);

/*
 * A SQL boolean expression that is true for the tables the filter keeps,
 * given expressions for a table's schema and name and for its partition
 * root's (NULL when the table is not a partition).  malloc'ed.
 */
extern char *tablefilter_sql(const TableFilter *filter,
							 const char *schema_expr, const char *name_expr,
							 const char *root_schema_expr,
							 const char *root_name_expr);

/* The patterns as given, "include: ...; exclude: ..." (for state, logs). */
extern const char *tablefilter_describe(const TableFilter *filter);

#endif /* PGFERRY_TABLEFILTER_H */
