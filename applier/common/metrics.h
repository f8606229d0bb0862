/*-------------------------------------------------------------------------
 *
 * metrics.h
 *	  The metrics --metrics-addr serves, in Prometheus' text format.
 *
 * Every metric pgferry has is a row of one catalogue (metrics.c), with its
 * name, type, help and label names; the jobs only move its values.  The
 * data path stays single-threaded and free of locks: a series' value is a
 * relaxed atomic that one thread writes (the main thread: the copy's
 * workers count in the meter, which the main thread copies here at each
 * tick), so bumping it costs a load and a store.  Creating a series,
 * observing a histogram and rendering take the registry's mutex; the HTTP
 * server's thread renders (metrics_http.h).  Values may be set whether or
 * not anything serves them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_METRICS_H
#define PGFERRY_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

typedef enum MetricName
{
	METRIC_PHASE,			 /* gauge {phase}: 1 for the current one */
	METRIC_LAG_BYTES,		 /* gauge */
	METRIC_LAG_SECONDS,		 /* gauge */
	METRIC_CHANGES_RECEIVED, /* counter {table, kind} */
	METRIC_ROWS_WRITTEN,	 /* counter {table, kind} */
	METRIC_BATCHES,			 /* counter */
	METRIC_BATCH_SECONDS,	 /* histogram */
	METRIC_FALLBACKS,		 /* counter */
	METRIC_CONFLICTS,		 /* counter {kind} */
	METRIC_RECONNECTS,		 /* counter {server} */
	METRIC_COPY_ROWS,		 /* counter {table} */
	METRIC_COPY_BYTES,		 /* counter {table} */
	METRIC_COPY_TABLES,		 /* gauge */
	METRIC_COPY_TABLES_DONE, /* gauge */
	METRIC_SPOOL_BYTES,		 /* gauge */
	METRIC_RETAINED_WAL,	 /* gauge */
	METRIC_SLOT_WAL_STATUS,	 /* gauge {status}: 1 for the current one */
	METRIC_COUNT
} MetricName;

typedef struct MetricSeries MetricSeries;

/*
 * The series of name with these label values (as many as its labels,
 * NULL for the others), made on first use; it lives as long as the
 * process, so a caller may keep the pointer.
 */
extern MetricSeries *metrics_series(MetricName name, const char *label1,
									const char *label2);

/* By the one thread that writes the series. */
extern void metrics_add(MetricSeries *series, double value);
extern void metrics_set(MetricSeries *series, double value);

/* A gauge without labels. */
extern void metrics_set_gauge(MetricName name, double value);

/*
 * For a gauge of one label that says which of its values holds (phase,
 * wal_status): 1 for value, 0 for the others seen before.
 */
extern void metrics_set_state(MetricName name, const char *value);

/* A histogram's observation. */
extern void metrics_observe(MetricName name, double value);

/* Every metric in the text format, version 0.0.4. */
extern void metrics_render(Buf *out);

/*
 * /healthz: the job calls metrics_heartbeat() while it makes progress or
 * waits, connected, for work; metrics_trouble() when it cannot (reason,
 * e.g. "reconnecting to the target"), and metrics_trouble(NULL) once it
 * can again.  metrics_healthy() is false, with the reason, when the
 * trouble has lasted METRICS_TROUBLE_S or no heartbeat came for
 * METRICS_STALL_S.
 */
#define METRICS_TROUBLE_S 30.0
#define METRICS_STALL_S 300.0

extern void metrics_heartbeat(void);
extern void metrics_trouble(const char *reason);
extern bool metrics_healthy(char *reason, size_t size);

#endif /* PGFERRY_METRICS_H */
