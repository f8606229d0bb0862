/*-------------------------------------------------------------------------
 *
 * change.c
 *	  Comparing the values of changes, and the keys they identify rows by.
 *
 * Values are compared by their bytes as the source sent them: two values
 * that the type's equality calls equal (numeric 1.0 and 1.00, float8 0
 * and -0) are different values, because the target must end up with the
 * one the source has.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "stream/change.h"

bool
change_value_same(const ChangeValue *a, const ChangeValue *b)
{
	return a->kind == b->kind && a->len == b->len &&
		   (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

uint32_t
change_key_hash(const Rel *rel, const ChangeValue *values)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < rel->ncolumns; i++)
	{
		if (!rel->columns[i].key)
			continue;
		h = (h ^ (uint32_t) values[i].kind) * 16777619u;
		for (uint32_t j = 0; j < values[i].len; j++)
			h = (h ^ (unsigned char) values[i].data[j]) * 16777619u;
		h = (h ^ 0xff) * 16777619u;
	}
	return h ? h : 1;
}

bool
change_key_same(const Rel *rel, const ChangeValue *a, const ChangeValue *b)
{
	for (int i = 0; i < rel->ncolumns; i++)
		if (rel->columns[i].key && !change_value_same(&a[i], &b[i]))
			return false;
	return true;
}
