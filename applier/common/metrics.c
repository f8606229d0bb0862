/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  The metrics --metrics-addr serves, in Prometheus' text format.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/metrics.h"

typedef enum MetricType
{
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM
} MetricType;

typedef struct MetricDef
{
	const char *name;
	MetricType type;
	const char *help;
	const char *labels[2]; /* NULL: no such label */
} MetricDef;

/* The catalogue, in MetricName's order; the README explains each. */
static const MetricDef defs[METRIC_COUNT] = {
	{"pgferry_phase",
	 METRIC_GAUGE,
	 "The job's phase: 1 for the current one (init, copy, copied, stream)",
	 {"phase"}},
	{"pgferry_apply_lag_bytes", METRIC_GAUGE,
	 "WAL between the source's last reported position and the last "
	 "transaction committed on the target"},
	{"pgferry_apply_lag_seconds", METRIC_GAUGE,
	 "Time between the source's commit of the last transaction committed on "
	 "the target and its commit there"},
	{"pgferry_changes_received_total",
	 METRIC_COUNTER,
	 "Row changes received from the source, per table and kind (sent again "
	 "after a reconnect: counted again)",
	 {"table", "kind"}},
	{"pgferry_rows_written_total",
	 METRIC_COUNTER,
	 "Rows written to the target (after each batch's net effect), per table "
	 "and kind (written again after a failure: counted again)",
	 {"table", "kind"}},
	{"pgferry_batches_total", METRIC_COUNTER,
	 "Target transactions committed by the stream"},
	{"pgferry_batch_duration_seconds", METRIC_HISTOGRAM,
	 "Time from a batch's first change to its commit on the target"},
	{"pgferry_ordered_fallbacks_total", METRIC_COUNTER,
	 "Batches written again in source order after their net effect failed "
	 "on a constraint"},
	{"pgferry_conflicts_total",
	 METRIC_COUNTER,
	 "Changes that found the target other than the source had it: "
	 "delete_missing (no row to delete), update_missing (no row to update; "
	 "inserted)",
	 {"kind"}},
	{"pgferry_reconnects_total",
	 METRIC_COUNTER,
	 "Sessions started again after a connection to a server failed",
	 {"server"}},
	{"pgferry_copy_rows_total",
	 METRIC_COUNTER,
	 "Rows copied in the snapshot copy, per table",
	 {"table"}},
	{"pgferry_copy_bytes_total",
	 METRIC_COUNTER,
	 "Bytes of row data copied in the snapshot copy, per table",
	 {"table"}},
	{"pgferry_copy_tables", METRIC_GAUGE,
	 "Tables (and sequences, large objects) the snapshot copy moves"},
	{"pgferry_copy_tables_done", METRIC_GAUGE,
	 "Of those, the ones copied with their indexes built"},
	{"pgferry_spool_bytes", METRIC_GAUGE,
	 "Bytes of streamed transactions spooled to disk until their commit"},
	{"pgferry_slot_retained_wal_bytes", METRIC_GAUGE,
	 "WAL the slot holds on the source (from its restart_lsn)"},
	{"pgferry_slot_wal_status",
	 METRIC_GAUGE,
	 "The slot's wal_status: 1 for the current one (reserved, extended, "
	 "unreserved, lost)",
	 {"status"}},
};

/* Upper bounds of the batch duration's buckets, in seconds (+Inf after). */
static const double bucket_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

struct MetricSeries
{
	MetricName name;
	char *labels[2];
	_Atomic double value;
	MetricSeries *next; /* of the same metric, in order of creation */
};

typedef struct Histogram
{
	unsigned long long buckets[NBUCKETS]; /* not cumulative */
	unsigned long long count;
	double sum;
} Histogram;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static MetricSeries *first[METRIC_COUNT];
static MetricSeries *last[METRIC_COUNT];
static Histogram histograms[METRIC_COUNT];

static _Atomic double heartbeat_at;
static double trouble_since; /* under lock; 0: none */
static char trouble_reason[200];

static bool
label_equal(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

MetricSeries *
metrics_series(MetricName name, const char *label1, const char *label2)
{
	MetricSeries *series;

	pthread_mutex_lock(&lock);
	for (series = first[name]; series; series = series->next)
		if (label_equal(series->labels[0], label1) &&
			label_equal(series->labels[1], label2))
			break;
	if (series == NULL)
	{
		series = xcalloc(1, sizeof(MetricSeries));
		series->name = name;
		series->labels[0] = label1 ? xstrdup(label1) : NULL;
		series->labels[1] = label2 ? xstrdup(label2) : NULL;
		if (last[name])
			last[name]->next = series;
		else
			first[name] = series;
		last[name] = series;
	}
	pthread_mutex_unlock(&lock);
	return series;
}

void
metrics_add(MetricSeries *series, double value)
{
	double old = atomic_load_explicit(&series->value, memory_order_relaxed);

	atomic_store_explicit(&series->value, old + value, memory_order_relaxed);
}

void
metrics_set(MetricSeries *series, double value)
{
	atomic_store_explicit(&series->value, value, memory_order_relaxed);
}

void
metrics_set_gauge(MetricName name, double value)
{
	static MetricSeries *unlabelled[METRIC_COUNT];

	if (unlabelled[name] == NULL)
		unlabelled[name] = metrics_series(name, NULL, NULL);
	metrics_set(unlabelled[name], value);
}

void
metrics_set_state(MetricName name, const char *value)
{
	metrics_set(metrics_series(name, value, NULL), 1);
	pthread_mutex_lock(&lock);
	for (MetricSeries *s = first[name]; s; s = s->next)
		if (strcmp(s->labels[0], value) != 0)
			atomic_store_explicit(&s->value, 0, memory_order_relaxed);
	pthread_mutex_unlock(&lock);
}

void
metrics_observe(MetricName name, double value)
{
	Histogram *h = &histograms[name];
	size_t b = 0;

	while (b < NBUCKETS && value > bucket_bounds[b])
		b++;
	pthread_mutex_lock(&lock);
	if (b < NBUCKETS)
		h->buckets[b]++;
	h->count++;
	h->sum += value;
	pthread_mutex_unlock(&lock);
}

/* A label's value as the format wants it: \, " and newline escaped. */
static void
render_label_value(Buf *out, const char *value)
{
	for (const char *c = value; *c; c++)
		if (*c == '\\')
			buf_append_str(out, "\\\\");
		else if (*c == '"')
			buf_append_str(out, "\\\"");
		else if (*c == '\n')
			buf_append_str(out, "\\n");
		else
			buf_append(out, c, 1);
}

static void
render_value(Buf *out, double value)
{
	if (isinf(value))
		buf_append_str(out, value > 0 ? "+Inf" : "-Inf");
	else if (value == floor(value) && fabs(value) < 1e15)
		buf_printf(out, "%.0f", value);
	else
		buf_printf(out, "%.17g", value);
}

static void
render_series(Buf *out, const MetricDef *def, const MetricSeries *series)
{
	buf_append_str(out, def->name);
	if (series->labels[0])
	{
		for (int l = 0; l < 2 && series->labels[l]; l++)
		{
			buf_printf(out, "%s%s=\"", l ? "," : "{", def->labels[l]);
			render_label_value(out, series->labels[l]);
			buf_append_str(out, "\"");
		}
		buf_append_str(out, "}");
	}
	buf_append_str(out, " ");
	render_value(out,
				 atomic_load_explicit(&series->value, memory_order_relaxed));
	buf_append_str(out, "\n");
}

static void
render_histogram(Buf *out, const MetricDef *def, const Histogram *h)
{
	unsigned long long cumulative = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
	{
		cumulative += h->buckets[b];
		buf_printf(out, "%s_bucket{le=\"", def->name);
		render_value(out, bucket_bounds[b]);
		buf_printf(out, "\"} %llu\n", cumulative);
	}
	buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", def->name, h->count);
	buf_printf(out, "%s_sum ", def->name);
	render_value(out, h->sum);
	buf_printf(out, "\n%s_count %llu\n", def->name, h->count);
}

void
metrics_render(Buf *out)
{
	pthread_mutex_lock(&lock);
	for (int m = 0; m < METRIC_COUNT; m++)
	{
		const MetricDef *def = &defs[m];
		static const char *const types[] = {"counter", "gauge", "histogram"};

		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", def->name, def->help,
				   def->name, types[def->type]);
		if (def->type == METRIC_HISTOGRAM)
			render_histogram(out, def, &histograms[m]);
		else if (def->labels[0] == NULL && first[m] == NULL)
			buf_printf(out, "%s 0\n", def->name);
		else
			for (const MetricSeries *s = first[m]; s; s = s->next)
				render_series(out, def, s);
	}
	pthread_mutex_unlock(&lock);
}

void
metrics_heartbeat(void)
{
	atomic_store_explicit(&heartbeat_at, clock_seconds(),
						  memory_order_relaxed);
}

void
metrics_trouble(const char *reason)
{
	pthread_mutex_lock(&lock);
	if (reason == NULL)
		trouble_since = 0;
	else
	{
		if (trouble_since == 0)
			trouble_since = clock_seconds();
		snprintf(trouble_reason, sizeof(trouble_reason), "%s", reason);
	}
	pthread_mutex_unlock(&lock);
	if (reason == NULL)
		metrics_heartbeat();
}

bool
metrics_healthy(char *reason, size_t size)
{
	double now = clock_seconds();
	double beat = atomic_load_explicit(&heartbeat_at, memory_order_relaxed);
	bool healthy = true;

	pthread_mutex_lock(&lock);
	if (trouble_since != 0 && now - trouble_since >= METRICS_TROUBLE_S)
	{
		snprintf(reason, size, "%s for %.0f s", trouble_reason,
				 now - trouble_since);
		healthy = false;
	}
	pthread_mutex_unlock(&lock);
	if (healthy && beat != 0 && now - beat >= METRICS_STALL_S)
	{
		snprintf(reason, size, "no progress for %.0f s", now - beat);
		healthy = false;
	}
	return healthy;
}
