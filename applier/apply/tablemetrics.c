/*-------------------------------------------------------------------------
 *
 * tablemetrics.c
 *	  A table's row metrics: changes received, rows written, by kind.
 *
 *-------------------------------------------------------------------------
 */
#include "apply/tablemetrics.h"
#include "common/buf.h"
#include "common/metrics.h"

static const char *const kind_names[3] = {"insert", "update", "delete"};

/* 0, 1, 2 for an insert, update, delete */
static int
kind_index(ChangeKind kind)
{
	return kind == CHANGE_INSERT ? 0 : kind == CHANGE_UPDATE ? 1 : 2;
}

static MetricSeries *
table_series(Rel *rel, MetricName name, int kind)
{
	Buf table = BUF_INIT;
	MetricSeries *series;

	buf_printf(&table, "%s.%s", rel->schema, rel->name);
	series = metrics_series(name, table.data, kind_names[kind]);
	buf_free(&table);
	return series;
}

void
tablemetrics_received(Rel *rel, ChangeKind kind)
{
	int k = kind_index(kind);

	if (rel->received[k] == NULL)
		rel->received[k] = table_series(rel, METRIC_CHANGES_RECEIVED, k);
	metrics_add(rel->received[k], 1);
}

void
tablemetrics_written(Rel *rel, const RowChange *rows, int nrows)
{
	int count[3] = {0, 0, 0};

	for (int i = 0; i < nrows; i++)
		count[kind_index(rows[i].kind)]++;
	for (int k = 0; k < 3; k++)
		if (count[k])
		{
			if (rel->written[k] == NULL)
				rel->written[k] = table_series(rel, METRIC_ROWS_WRITTEN, k);
			metrics_add(rel->written[k], count[k]);
		}
}
