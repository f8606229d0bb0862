/*-------------------------------------------------------------------------
 *
 * tablemetrics.h
 *	  A table's row metrics: changes received, rows written, by kind.
 *
 * Called for every row change on the data path: each costs an array
 * index and a store (common/metrics.h); the series are found once per
 * relation version and kept on it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_TABLEMETRICS_H
#define PGFERRY_TABLEMETRICS_H

#include "stream/change.h"
#include "stream/rel.h"

/* A row change of rel (insert, update or delete) came from the source. */
extern void tablemetrics_received(Rel *rel, ChangeKind kind);

/* Statements of rows, all of rel, were sent to the target. */
extern void tablemetrics_written(Rel *rel, const RowChange *rows, int nrows);

#endif /* PGFERRY_TABLEMETRICS_H */
