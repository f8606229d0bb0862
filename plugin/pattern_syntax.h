/*-------------------------------------------------------------------------
 *
 * pattern_syntax.h
 *	  The syntax of the table name patterns of include_tables and
 *	  exclude_tables (the plugin's options) and of --include-tables and
 *	  --exclude-tables (the applier's), parsed by one parser for both.
 *
 * A pattern list is a comma-separated list of schema-qualified names in
 * which `*` matches any run of characters and `?` exactly one character,
 * e.g. `public.*, sales.order_?`.  As in SQL, unquoted parts are folded to
 * lower case and double-quoted parts are taken literally (wildcards, dots,
 * commas and spaces included; `""` is a double quote), so `"Sales".*`
 * matches the schema Sales and `app."a*b"` the table a*b.  An item has
 * exactly one unquoted dot, and neither side may be empty; spaces may lead
 * or trail an item, never stand inside it unquoted.  The schema and the
 * table side are matched separately: a `*` never crosses the dot.
 *
 * Plain C without PostgreSQL headers: the plugin and the applier both
 * compile it, and each turns a problem into its own error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PATTERN_SYNTAX_H
#define PGFERRY_PATTERN_SYNTAX_H

#include <stddef.h>

/*
 * A side of a compiled pattern is an array of tokens, each a byte of the
 * name (1..255) or a wildcard, ended by PATTERN_TOKEN_END.  Keeping the
 * wildcards out of the byte range is what lets a quoted "*" be a plain
 * character.
 */
#define PATTERN_TOKEN_END 0
#define PATTERN_TOKEN_ANY_RUN (-1)	/* `*` */
#define PATTERN_TOKEN_ANY_CHAR (-2) /* `?` */

/* One item of a pattern list; both sides point into one token array. */
typedef struct PatternItem
{
	const int *schema;
	const int *table;
} PatternItem;

/*
 * The size in bytes of the token array that pattern_syntax_parse_item needs
 * for the next item of the list at cursor.
 */
extern size_t pattern_syntax_tokens_size(const char *cursor);

/*
 * Parses the next item of a pattern list, at *cursor (spaces before it are
 * skipped), into tokens (pattern_syntax_tokens_size(*cursor) bytes) and
 * points item's sides into them.  *item_start is set to where the item
 * starts; a message about the item shows it up to the next comma.
 *
 * Returns NULL when the item is good, and leaves *cursor at the comma that
 * ends it or at the end of the list.  On a bad item returns the problem, a
 * sentence for an error's detail, and leaves *cursor alone.
 */
extern const char *pattern_syntax_parse_item(const char **cursor, int *tokens,
											 PatternItem *item,
											 const char **item_start);

#endif /* PGFERRY_PATTERN_SYNTAX_H */
