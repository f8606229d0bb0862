/*-------------------------------------------------------------------------
 *
 * ordered.h
 *	  Changes written in source order: what the target sees is each
 *	  change, one after the other, as the source made them.
 *
 * Used where the net effect of a batch will not do (batch.h): triggers
 * must see every change, a batch that failed out of source order is
 * applied again, a table without a key has no net effect to compute.
 *
 * Promises:
 *	- Consecutive inserts of one relation go in one statement, and so do
 *	  consecutive deletes by key, as long as no key comes twice: such a
 *	  statement does what its changes did one by one.  Each update is a
 *	  statement of its own: updates of several rows in one statement can
 *	  pass a unique value from row to row in another order than the
 *	  source did, and fail where the source did not.
 *	- A group is queued to the target as soon as it closes (the next change
 *	  does not join it), so the target works while the stream is read.
 *	- Row data is copied into blocks that live until ordered_free(), which
 *	  the caller calls once the target has acknowledged the statements.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_ORDERED_H
#define PGFERRY_ORDERED_H

#include <stdbool.h>
#include <stdint.h>

#include "apply/apply.h"
#include "stream/change.h"

typedef struct Ordered Ordered;

extern Ordered *ordered_create(Applier *applier);
extern void ordered_destroy(Ordered *ordered);

/*
 * A row change; *bytes gets the bytes of row data it holds from now on.
 * Queues the group it closes, if any.
 */
extern bool ordered_add_row(Ordered *ordered, const Change *change,
							int64_t *bytes);
/* A truncate or a logical message, queued at once after the open group. */
extern bool ordered_add_truncate(Ordered *ordered, const Change *change);
extern bool ordered_add_message(Ordered *ordered, const Change *change);

/* Queues the open group, if any. */
extern bool ordered_close(Ordered *ordered);

/* Frees every group and its row data (acknowledged, or abandoned). */
extern void ordered_free(Ordered *ordered);

#endif /* PGFERRY_ORDERED_H */
