/*-------------------------------------------------------------------------
 *
 * postdata.h
 *	  pg_dump's post-data section as statements that run one at a time,
 *	  each as soon as the table it belongs to is copied.
 *
 * Promises: each statement is self-contained (it carries the session
 * settings pg_dump's script would have had at that point) and knows the
 * table whose data it waits for; a foreign key also knows the table it
 * references.  Entries on no copied table (views, materialized views,
 * foreign tables, or none) are tied to no table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_POSTDATA_H
#define PGFERRY_POSTDATA_H

#include <stdbool.h>

#include "pg/pg.h"
#include "state/state.h"

/* The comment header pg_dump writes before every entry of its script. */
#define ENTRY_HEADER "\n--\n-- Name: "

/* One entry of an archive's table of contents. */
typedef struct TocEntry
{
	char *line;	 /* as pg_restore --list prints it */
	Oid catalog; /* catalog of the object, 0 if none */
	Oid object;
	const char *what; /* the line after the OIDs: "INDEX ..." */
} TocEntry;

typedef struct Toc
{
	TocEntry *entries;
	int count;
} Toc;

/*
 * Cuts sql, pg_restore's rendering of toc's entries (psql meta-commands
 * removed), into list, tying each statement to its table through the
 * catalogs of source (a session in the dump's snapshot).
 */
extern bool postdata_build(char *sql, const Toc *toc, PgConn *source,
						   PostDataList *list);

#endif /* PGFERRY_POSTDATA_H */
