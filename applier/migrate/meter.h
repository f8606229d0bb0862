/*-------------------------------------------------------------------------
 *
 * meter.h
 *	  Progress of the copy, shown to whoever watches: on a terminal, a live
 *	  display redrawn in place (per table and in total: rows, bytes, rate,
 *	  ETA); anywhere else, a log line every few seconds.  Never both.
 *
 * The copy workers update the counters of a MeterTable with atomic adds;
 * one thread calls meter_tick() now and then to show them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_METER_H
#define PGFERRY_METER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/metrics.h"

typedef enum MeterState
{
	METER_WAITING,
	METER_COPYING,
	METER_BUILDING, /* rows all in; its indexes and keys being built */
	METER_DONE
} MeterState;

/*
 * What a MeterTable follows, and so what its rows count: only a table's
 * rows are rows, and only tables are tables, in what the user reads.
 */
typedef enum MeterWhat
{
	METER_TABLE,		/* a table: rows */
	METER_SEQUENCES,	/* the sequences: one per sequence */
	METER_LARGE_OBJECTS /* the large objects: one per object */
} MeterWhat;

typedef struct MeterTable
{
	char *label; /* schema.name as the user reads it */
	MeterWhat what;
	int64_t estimated_bytes;
	/* updated by the workers (atomic) */
	int64_t bytes;
	int64_t rows;
	int state;		/* MeterState */
	double started; /* seconds, monotonic clock */
	/* a table's copy metrics (common/metrics.h), made on first use */
	MetricSeries *rows_copied;
	MetricSeries *bytes_copied;
} MeterTable;

typedef struct Meter
{
	MeterTable *tables;
	int count;
	int post_data_total;
	int post_data_done; /* atomic */
	bool live;			/* redraw on a terminal */
	double started;
	double last_log;
	int lines_drawn;
} Meter;

/* live: stderr is a terminal and the user did not ask for log lines. */
extern void meter_init(Meter *meter, int ntables, bool live);
/* Shows the progress, and copies it into the metrics. */
extern void meter_tick(Meter *meter);
/*
 * Clears the live display; logs the totals of a complete copy, or what was
 * copied of one that failed (its error is logged already).
 */
extern void meter_finish(Meter *meter, bool complete);
extern void meter_free(Meter *meter);

extern void meter_add(int64_t *counter, int64_t value);
extern int64_t meter_read(const int64_t *counter);

#endif /* PGFERRY_METER_H */
