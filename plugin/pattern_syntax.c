/*-------------------------------------------------------------------------
 *
 * pattern_syntax.c
 *	  Parse table name patterns (syntax in pattern_syntax.h), for the
 *	  plugin and the applier alike.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <string.h>

#include "pattern_syntax.h"

/*
 * SQL's white space, as PostgreSQL 15's scanner_isspace() has it (written
 * out, since the applier cannot call the server's).
 */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

size_t
pattern_syntax_tokens_size(const char *cursor)
{
	/* every character makes at most one token; the end makes one more */
	return (strlen(cursor) + 1) * sizeof(int);
}

const char *
pattern_syntax_parse_item(const char **cursor, int *tokens, PatternItem *item,
						  const char **item_start)
{
	const char *start = *cursor;
	const char *p;
	int ntokens = 0;
	int table_start = -1;
	bool quoted = false;

	while (is_space(*start))
		start++;
	*item_start = start;
	p = start;
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
		if (is_space(c))
		{
			/* spaces may only trail an item */
			while (is_space(*p))
				p++;
			if (*p != '\0' && *p != ',')
				return "Spaces inside a name must be double-quoted.";
			break;
		}
		if (c == '.')
		{
			if (table_start >= 0)
				return "A pattern has exactly one dot, between the schema and "
					   "the table.";
			tokens[ntokens++] = PATTERN_TOKEN_END;
			table_start = ntokens;
		}
		else if (c == '*')
			tokens[ntokens++] = PATTERN_TOKEN_ANY_RUN;
		else if (c == '?')
			tokens[ntokens++] = PATTERN_TOKEN_ANY_CHAR;
		else if (c >= 'A' && c <= 'Z')
			tokens[ntokens++] = c + ('a' - 'A');
		else
			tokens[ntokens++] = (unsigned char) c;
		p++;
	}
	tokens[ntokens] = PATTERN_TOKEN_END;

	if (quoted)
		return "A double quote is not closed.";
	if (p == start)
		return "The pattern is empty.";
	if (table_start < 0)
		return "The pattern has no schema: write schema.table.";
	if (table_start == 1 || tokens[table_start] == PATTERN_TOKEN_END)
		return "The schema or the table part is empty.";

	item->schema = tokens;
	item->table = tokens + table_start;
	*cursor = p;
	return NULL;
}
