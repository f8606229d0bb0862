/*-------------------------------------------------------------------------
 *
 * pattern.h
 *	  Table name patterns of the include_tables / exclude_tables options.
 *
 * The syntax is in pattern_syntax.h; names are matched here, in C, with
 * `?` standing for one character of the server encoding.
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
