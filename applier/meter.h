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
#include <stddef.h>
#include <stdint.h>

typedef enum MeterState
{
	METER_WAITING,
	METER_COPYING,
	METER_DONE
} MeterState;

typedef struct MeterTable
{
	char *label; /* schema.name as the user reads it */
	int64_t estimated_bytes;
	/* updated by the workers (atomic) */
	int64_t bytes;
	int64_t rows;
	int state;		/* MeterState */
	int units_left; /* units (ranges, packs) not copied */
	double started; /* seconds, monotonic clock */
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
extern void meter_tick(Meter *meter);
/* Clears the live display and logs the totals. */
extern void meter_finish(Meter *meter);
extern void meter_free(Meter *meter);

extern void meter_add(int64_t *counter, int64_t value);
extern int64_t meter_read(const int64_t *counter);

/* Seconds on the monotonic clock. */
extern double meter_now(void);

/* "1.2 GB" into buf; returns buf. */
extern char *meter_format_bytes(double bytes, char *buf, size_t size);

#endif /* PGFERRY_METER_H */
