/*-------------------------------------------------------------------------
 *
 * net.h
 *	  The net effect of a batch's row changes: per table and key, only the
 *	  final state is written.
 *
 * A table whose source identifies rows by a key (a primary key, or
 * REPLICA IDENTITY USING INDEX) keeps one entry per key, composed as its
 * changes come:
 *
 *	insert, then updates			one insert of the final row
 *	updates							one update of every column that changed
 *									(later values win; a column whose
 *									unchanged TOASTed value never arrived is
 *									left as the target has it)
 *	update or insert, then delete	the key's delete (nothing to delete is
 *									fine: the row was new)
 *	delete, then insert				the key's delete, then the insert
 *	a key change					the old key's delete and the new key's
 *									insert, when the whole row is known
 *
 * A change that cannot be composed with what the table holds (a key change
 * whose unchanged TOASTed values only the target has; a change the source
 * could not have made, such as an insert of a key that is there) is the
 * caller's to apply in source order after the table's entries are written:
 * net_add() says so.
 *
 * Written out (net_flush), a table's entries become, in this order: one
 * delete of the keys to delete, updates of the rows with columns that did
 * not arrive (one statement per set of columns), updates of whole rows,
 * inserts (plain: no conflict check); each set-wise, rows in the order of
 * their last change.  A unique value passed from one row to another by the
 * source, or an inserted key the target already has, can make such a
 * statement fail where source order would not: the batch is then written
 * again in source order (batch.h), whose inserts update a row that is
 * there.
 *
 * Memory: an entry holds its latest row only (a hundred updates of a large
 * value hold one); the rows stay until net_destroy(), after the target
 * has acknowledged what net_flush() queued.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_NET_H
#define PGFERRY_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "apply/apply.h"
#include "stream/change.h"

typedef struct NetState NetState;

typedef enum NetAdd
{
	NET_ADDED,
	NET_FLUSH_FIRST, /* a new version of the relation: write its table out
					  * (net_flush_table), then add the change again */
	NET_IN_ORDER	 /* write its table out, then apply the change in
					  * source order */
} NetAdd;

/* Whether a relation's changes can be composed: its rows have a key. */
extern bool net_keyed(const Rel *rel);

extern NetState *net_create(Applier *applier);
extern void net_destroy(NetState *net);

/*
 * A row change of a keyed relation; *bytes gets how many bytes of row data
 * the state holds more (or fewer) now.
 */
extern NetAdd net_add(NetState *net, const Change *change, int64_t *bytes);

/* Queues the net effect of the table of rel's OID, then of every table. */
extern bool net_flush_table(NetState *net, Oid oid);
extern bool net_flush(NetState *net);

#endif /* PGFERRY_NET_H */
