/*-------------------------------------------------------------------------
 *
 * pattern.h
 *	  Table name patterns of the include_tables / exclude_tables options.
 *
 * A pattern list is a comma-separated list of schema-qualified names in
 * which `*` matches any run of characters and `?` exactly one character,
 * e.g. `public.*, sales.order_?`.  As in SQL, unquoted parts are folded to
 * lower case and double-quoted parts are taken literally (wildcards
 * included), so `"Sales".*` matches the schema Sales and `app."a*b"` the
 * table a*b.  The schema and the table side are matched separately: a `*`
 * never crosses the dot.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PATTERN_H
#define PGFERRY_PATTERN_H

#include "nodes/pg_list.h"

/*
 * Parse a pattern list given as the value of option `option_name`; raises an
 * error naming the option and the bad item.  Returns a List of compiled
 * patterns allocated in the current memory context.
 */
extern List *pattern_list_parse(const char *option_name, const char *value);

/* Does any pattern of the list match schema.name? */
extern bool pattern_list_matches(const List *patterns, const char *schema,
								 const char *name);

#endif /* PGFERRY_PATTERN_H */
