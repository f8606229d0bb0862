/*-------------------------------------------------------------------------
 *
 * copy.c
 *	  Parallel snapshot copy of tables, sequences and large objects, with
 *	  each table's post-data statements run once its rows are in.
 *
 * Workers are threads, each with one source session (a REPEATABLE READ
 * transaction that imported the snapshot and lives as long as the worker)
 * and one target session.  They share a queue under one mutex: tables whose
 * post-data statements are ready come first (their indexes build while
 * other tables copy), then copy units, largest first.  The main thread
 * draws the progress meter meanwhile, and at the end runs the statements
 * that wait for every table: foreign keys and the like.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/exit.h"
#include "common/log.h"
#include "migrate/copy.h"
#include "migrate/copydata.h"
#include "migrate/meter.h"
#include "migrate/schema.h"
#include "state/slotwal.h"

/* Tables smaller than this are packed together into one unit. */
#define PACK_TABLE_BYTES (INT64_C(4) << 20)
#define PACK_MAX_BYTES (INT64_C(32) << 20)
#define PACK_MAX_TABLES 64

/* A table (or the sequences, or the large objects) and its ranges. */
typedef struct TableWork
{
	const SourceTable *source; /* NULL for sequences and large objects */
	CopyRange **ranges;
	int nranges;
	int left; /* ranges not yet copied */
	MeterTable *meter;
	PostDataItem **items; /* statements waiting for its rows */
	int nitems;
} TableWork;

typedef struct Unit
{
	CopyRange **ranges; /* one, or several for a pack */
	TableWork **works;
	int count;
	int64_t bytes;
} Unit;

typedef struct Copy
{
	const CopyOptions *options;
	TableWork *works;
	int nworks;
	Unit *units;
	int nunits;
	PostDataItem **final_items; /* after every table */
	int nfinal;
	char *encoding; /* the source's, for both sessions */
	Meter meter;

	pthread_mutex_t lock;
	pthread_cond_t changed;
	/* under lock */
	int next_unit;
	int units_running;
	TableWork **ready; /* tables whose post-data can run */
	int nready;
	int exit_code; /* EXIT_DONE until something fails */
	int workers_running;
} Copy;

typedef struct Worker
{
	Copy *copy;
	PgConn *source;
	PgConn *target;
	bool commit_sent; /* the unit's COMMIT went out: its fate is the state's */
} Worker;

/* --- the plan ------------------------------------------------------------ */

static void
plan_add(CopyPlan *plan, CopyKind kind, const char *schema, const char *table,
		 int range_no, int nranges, int64_t first, int64_t end, int64_t bytes)
{
	CopyRange *r;

	plan->ranges =
		xrealloc(plan->ranges, (plan->count + 1) * sizeof(CopyRange));
	r = &plan->ranges[plan->count++];
	memset(r, 0, sizeof(CopyRange));
	r->kind = kind;
	r->schema = xstrdup(schema);
	r->table = xstrdup(table);
	r->range_no = range_no;
	r->nranges = nranges;
	r->first_block = first;
	r->end_block = end;
	r->estimated_bytes = bytes;
}

void
copy_plan(const SourceTables *tables, int64_t split_bytes, bool sequences,
		  bool large_objects, CopyPlan *plan)
{
	memset(plan, 0, sizeof(CopyPlan));
	for (int i = 0; i < tables->count; i++)
	{
		const SourceTable *t = &tables->tables[i];
		int64_t heap_bytes = t->heap_blocks * tables->block_size;
		int n = 1;

		if (split_bytes > 0 && heap_bytes > split_bytes)
			n = (int) ((heap_bytes + split_bytes - 1) / split_bytes);
		if (n > 1000)
			n = 1000;
		for (int r = 0; r < n; r++)
		{
			/* the last range is open: blocks added since are read too */
			int64_t first = t->heap_blocks * r / n;
			int64_t end = r == n - 1 ? -1 : t->heap_blocks * (r + 1) / n;

			plan_add(plan, COPY_ROWS, t->schema, t->name, r, n, first, end,
					 t->bytes / n);
		}
	}
	if (sequences)
		plan_add(plan, COPY_SEQUENCES, "", "sequences", 0, 1, 0, -1, 0);
	if (large_objects)
		plan_add(plan, COPY_LARGE_OBJECTS, "", "large objects", 0, 1, 0, -1,
				 0);
}

/* --- sessions -------------------------------------------------------------- */

/* Settings under which text values read back as they were written. */
static bool
set_formats(PgConn *conn, const char *encoding)
{
	Buf sql = BUF_INIT;
	char *quoted = pg_quote_literal(encoding);
	bool ok;

	buf_printf(&sql,
			   "SET client_encoding = %s; SET DateStyle = 'ISO'; "
			   "SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; "
			   "SET statement_timeout = 0; SET lock_timeout = 0; "
			   "SET idle_in_transaction_session_timeout = 0",
			   quoted);
	ok = pg_exec(conn, sql.data);
	if (!ok)
		pg_report(conn, "set up the session");
	free(quoted);
	buf_free(&sql);
	return ok;
}

/*
 * A session of a copy worker.  One that is opened again after a failure
 * (retried) logs a failure to connect as a WARNING, and is marked so that
 * its transient failures are warnings too: the unit or statement is tried
 * again, and only its giving up is an ERROR.
 */
static PgConn *
connect_session(const char *conninfo, const char *label, bool retried)
{
	PgConnRequest request = {.conninfo = conninfo,
							 .label = label,
							 .kind = PG_CONN_SQL,
							 .retried = retried};

	pg_connect_all(&request, 1);
	return request.conn;
}

/*
 * A source session in the exported snapshot (retried: see
 * connect_session()).  On failure *transient says whether trying again may
 * work: not once the snapshot is gone.
 */
static PgConn *
open_source(Copy *copy, bool retried, bool *transient)
{
	PgConn *conn = connect_session(copy->options->source, "source", retried);

	*transient = conn == NULL;
	if (conn && (!set_formats(conn, copy->encoding) ||
				 !pg_begin_in_snapshot(conn, copy->options->snapshot)))
	{
		pg_report(conn, "read in the exported snapshot %s",
				  copy->options->snapshot);
		*transient = pg_error_is_transient(conn);
		pg_disconnect(conn);
		conn = NULL;
	}
	return conn;
}

/* A target session (retried: see connect_session()). */
static PgConn *
open_target(Copy *copy, bool retried)
{
	PgConn *conn = connect_session(copy->options->target, "target", retried);

	/*
	 * A unit's rows and its state row commit together, so a commit lost in
	 * a crash loses both: the unit is simply copied again.
	 */
	if (conn && (!set_formats(conn, copy->encoding) ||
				 !pg_exec(conn, "SET synchronous_commit = off; "
								"SET maintenance_work_mem = '256MB'")))
	{
		pg_report(conn, "set up the session");
		pg_disconnect(conn);
		conn = NULL;
	}
	return conn;
}

/* Fields of a range's event: table=schema.name, range=N/M. */
static void
range_fields(LogFields *fields, const CopyRange *range)
{
	log_field(fields, "table", "%s%s%s", range->schema,
			  range->schema[0] ? "." : "", range->table);
	log_field(fields, "range", "%d/%d", range->range_no + 1, range->nranges);
}

/*
 * The target refused a character of range's rows: the row that holds it,
 * looked up in a source session of its own (the worker's is in its COPY),
 * then the way on.
 */
static void
name_refused_row(Copy *copy, const SourceTable *table, const CopyRange *range,
				 const PgConn *target)
{
	bool transient;
	PgConn *source = open_source(copy, false, &transient);

	if (source)
		copydata_refused_row(source, target, table, range);
	pg_disconnect(source);
	pg_hint_encoding(target);
}

/* Copies a unit in one target transaction with its state rows. */
static bool
copy_unit(Worker *w, Unit *unit)
{
	Copy *copy = w->copy;

	w->commit_sent = false;
	if (!pg_exec(w->target, "BEGIN"))
	{
		pg_report(w->target, "begin a transaction");
		return false;
	}
	for (int i = 0; i < unit->count; i++)
	{
		CopyRange *range = unit->ranges[i];
		TableWork *work = unit->works[i];
		bool ok;

		__atomic_store_n(&work->meter->state, METER_COPYING, __ATOMIC_RELAXED);
		if (work->meter->started == 0)
			work->meter->started = clock_seconds();
		range->rows = range->bytes = 0;
		if (range->kind == COPY_ROWS)
		{
			ok = copydata_rows(w->source, w->target, work->source, range,
							   work->meter);
			if (!ok && pg_error_is_encoding(w->target))
				name_refused_row(copy, work->source, range, w->target);
		}
		else if (range->kind == COPY_SEQUENCES)
			ok = copydata_sequences(w->source, w->target,
									copy->options->filter, range, work->meter);
		else
			ok = copydata_large_objects(w->source, w->target, range,
										work->meter);
		range->snapshot_lsn = copy->options->snapshot_lsn;
		if (!ok || !state_range_done(w->target, copy->options->slot, range))
		{
			LogFields fields = LOG_FIELDS_INIT;
			bool transient = pg_error_is_transient(w->source) ||
							 pg_error_is_transient(w->target);

			range_fields(&fields, range);
			log_event(pg_failure_level(w->target, transient), &fields,
					  "could not copy %s (range %d of %d)",
					  fields.field[0].value, range->range_no + 1,
					  range->nranges);
			range->snapshot_lsn = LSN_INVALID;
			/* the meter counts what commits: this unit's rows are gone */
			for (int j = 0; j <= i; j++)
			{
				meter_add(&unit->works[j]->meter->rows,
						  -unit->ranges[j]->rows);
				meter_add(&unit->works[j]->meter->bytes,
						  -unit->ranges[j]->bytes);
			}
			return false;
		}
	}
	w->commit_sent = true;
	if (!pg_exec(w->target, "COMMIT"))
	{
		pg_report(w->target, "commit the copy of %s.%s",
				  unit->ranges[0]->schema, unit->ranges[0]->table);
		return false;
	}
	return true;
}

/* --- workers --------------------------------------------------------------- */

static void
fail(Copy *copy, int exit_code)
{
	pthread_mutex_lock(&copy->lock);
	if (copy->exit_code == EXIT_DONE)
		copy->exit_code = exit_code;
	pthread_cond_broadcast(&copy->changed);
	pthread_mutex_unlock(&copy->lock);
}

static int
error_exit_code(const PgConn *conn)
{
	return conn == NULL || pg_conn_lost(conn) ? EXIT_CONNECTION : EXIT_APPLY;
}

int
copy_retry_wait(CopyRetry *retry)
{
	int wait = retry->wait;

	if (retry->deadline == 0)
		retry->deadline = clock_seconds() + COPY_RETRY_TOTAL_SECONDS;
	if (clock_seconds() + wait > retry->deadline)
		return -1;
	retry->wait =
		wait * 2 < COPY_RETRY_MAX_WAIT ? wait * 2 : COPY_RETRY_MAX_WAIT;
	return wait;
}

/* Whether another worker's failure stops the copy. */
static bool
copy_stopped(Copy *copy)
{
	bool stopped;

	pthread_mutex_lock(&copy->lock);
	stopped = copy->exit_code != EXIT_DONE;
	pthread_mutex_unlock(&copy->lock);
	return stopped;
}

/*
 * Copies a unit, and again while its failures are transient (a connection
 * lost, a server restarting) within COPY_RETRY_TOTAL_SECONDS.  Both sessions are
 * closed first: the target's rolls the unit's rows back with it, and the
 * new source session imports the same exported snapshot, which stays valid
 * while migrate's own session that exported it lives; once that one is
 * lost, the import fails and the run ends (running migrate again resumes).
 * A COMMIT whose answer was lost is not tried again: whether it committed
 * is known from the state, which the next run reads.  The exit code.
 */
static int
copy_unit_retrying(Worker *w, Unit *unit)
{
	Copy *copy = w->copy;
	const CopyRange *first = unit->ranges[0];
	CopyRetry retry = COPY_RETRY_INIT;

	for (;;)
	{
		bool transient = true;
		int wait;
		LogFields fields = LOG_FIELDS_INIT;

		if (w->source == NULL)
			w->source = open_source(copy, true, &transient);
		if (w->source && w->target == NULL &&
			(w->target = open_target(copy, true)) == NULL)
			transient = true;
		if (w->source && w->target)
		{
			/* what fails from here on and may pass is copied again */
			pg_set_retried(w->source);
			pg_set_retried(w->target);
			if (copy_unit(w, unit))
				return EXIT_DONE;
			if (w->commit_sent && pg_error_is_transient(w->target))
			{
				/* the COMMIT's failure was a warning: this one stops */
				range_fields(&fields, first);
				log_event(LOG_LEVEL_ERROR, &fields,
						  "the copy of %s (range %d of %d) may have "
						  "committed: the answer to its COMMIT was lost",
						  fields.field[0].value, first->range_no + 1,
						  first->nranges);
				log_hint("Run migrate again: it reads from the state "
						 "whether the copy committed, and copies it again "
						 "if not.");
			}
			transient = !w->commit_sent && (pg_error_is_transient(w->source) ||
											pg_error_is_transient(w->target));
			if (!transient)
				return pg_conn_lost(w->source) ? EXIT_CONNECTION
											   : error_exit_code(w->target);
		}
		if (!transient)
			return EXIT_CONNECTION;
		if ((wait = copy_retry_wait(&retry)) < 0)
		{
			range_fields(&fields, first);
			log_event(LOG_LEVEL_ERROR, &fields,
					  "gave up copying %s (range %d of %d) again after "
					  "%.0f s of lost connections",
					  fields.field[0].value, first->range_no + 1,
					  first->nranges, COPY_RETRY_TOTAL_SECONDS);
			return EXIT_CONNECTION;
		}
		if (copy_stopped(copy))
			return EXIT_CONNECTION;
		range_fields(&fields, first);
		log_field_int(&fields, "seconds", wait);
		log_event(LOG_LEVEL_WARNING, &fields,
				  "copying %s (range %d of %d) again in %d s, in the same "
				  "snapshot: its rows so far were rolled back",
				  fields.field[0].value, first->range_no + 1, first->nranges,
				  wait);
		pg_disconnect(w->source);
		pg_disconnect(w->target);
		w->source = w->target = NULL;
		sleep((unsigned) wait);
	}
}

/* A table is copied, its indexes and keys built. */
static void
table_done(TableWork *work)
{
	MeterTable *m = work->meter;
	LogFields fields = LOG_FIELDS_INIT;

	__atomic_store_n(&m->state, METER_DONE, __ATOMIC_RELAXED);
	if (m->what != METER_TABLE)
		return;
	log_field(&fields, "table", "%s", m->label);
	log_field_int(&fields, "rows", (long long) meter_read(&m->rows));
	log_field_int(&fields, "bytes", (long long) meter_read(&m->bytes));
	log_field_number(&fields, "seconds", clock_seconds() - m->started);
	log_event(LOG_LEVEL_INFO, &fields, "copied table %s", m->label);
}

/*
 * Runs a post-data statement on *target, and again on a new target session
 * while its failures are transient, with the waits and the bound of a copy
 * unit: an index build outlives many a network blip.  The statement and its
 * state row commit together, so a statement whose COMMIT answer was lost
 * is found done in the state and not run again (CREATE INDEX would fail on
 * the index it made).  False with *target NULL when no session could be
 * opened.
 */
static bool
run_item_retrying(Copy *copy, PgConn **target, PostDataItem *item)
{
	CopyRetry retry = COPY_RETRY_INIT;
	bool done = false;

	/* what fails from here on and may pass is run again */
	pg_set_retried(*target);
	if (schema_run_post_data(*target, item))
		return true;
	for (;;)
	{
		int wait;
		LogFields fields = LOG_FIELDS_INIT;

		if (*target && !pg_error_is_transient(*target))
			return false;
		log_field(&fields, "object", "%s", item->description);
		if ((wait = copy_retry_wait(&retry)) < 0)
		{
			log_event(LOG_LEVEL_ERROR, &fields,
					  "gave up creating %s again after %.0f s of lost "
					  "connections",
					  item->description, COPY_RETRY_TOTAL_SECONDS);
			return false;
		}
		if (copy_stopped(copy))
			return false;
		log_field_int(&fields, "seconds", wait);
		log_event(LOG_LEVEL_WARNING, &fields,
				  "creating %s again in %d s, on a new target session: the "
				  "lost one rolled it back unless it committed",
				  item->description, wait);
		pg_disconnect(*target);
		sleep((unsigned) wait);
		if ((*target = open_target(copy, true)) == NULL)
			continue;
		if (state_post_data_committed(*target, item->position, &done) &&
			(done || schema_run_post_data(*target, item)))
			return true;
	}
}

/* Runs the post-data statements of a table whose rows are all in. */
static bool
run_table_items(Worker *w, TableWork *work)
{
	for (int i = 0; i < work->nitems; i++)
	{
		if (!run_item_retrying(w->copy, &w->target, work->items[i]))
			return false;
		work->items[i]->done = true;
		__atomic_add_fetch(&w->copy->meter.post_data_done, 1,
						   __ATOMIC_RELAXED);
	}
	table_done(work);
	return true;
}

/* A unit is over: copied (committed), or not (failed or never started). */
static void
unit_finished(Copy *copy, Unit *unit, bool copied)
{
	pthread_mutex_lock(&copy->lock);
	for (int i = 0; copied && i < unit->count; i++)
	{
		TableWork *work = unit->works[i];

		if (--work->left == 0 && work->nitems > 0)
		{
			__atomic_store_n(&work->meter->state, METER_BUILDING,
							 __ATOMIC_RELAXED);
			copy->ready[copy->nready++] = work;
		}
		else if (work->left == 0)
			table_done(work);
	}
	copy->units_running--;
	pthread_cond_broadcast(&copy->changed);
	pthread_mutex_unlock(&copy->lock);
}

static void *
worker_main(void *arg)
{
	Worker *w = arg;
	Copy *copy = w->copy;

	for (;;)
	{
		TableWork *ready = NULL;
		Unit *unit = NULL;
		int exit_code;

		pthread_mutex_lock(&copy->lock);
		for (;;)
		{
			if (copy->exit_code != EXIT_DONE)
				break;
			if (copy->nready > 0)
			{
				ready = copy->ready[--copy->nready];
				break;
			}
			if (copy->next_unit < copy->nunits)
			{
				unit = &copy->units[copy->next_unit++];
				copy->units_running++;
				break;
			}
			if (copy->units_running == 0)
				break;
			pthread_cond_wait(&copy->changed, &copy->lock);
		}
		pthread_mutex_unlock(&copy->lock);
		if (ready == NULL && unit == NULL)
			break;

		if (w->target == NULL &&
			(w->target = open_target(copy, false)) == NULL)
		{
			fail(copy, EXIT_CONNECTION);
			if (unit)
				unit_finished(copy, unit, false);
			break;
		}
		if (ready)
		{
			if (!run_table_items(w, ready))
			{
				fail(copy, error_exit_code(w->target));
				break;
			}
			continue;
		}
		if ((exit_code = copy_unit_retrying(w, unit)) != EXIT_DONE)
		{
			fail(copy, exit_code);
			unit_finished(copy, unit, false);
			break;
		}
		unit_finished(copy, unit, true);
	}
	pg_disconnect(w->source);
	pg_disconnect(w->target);
	w->source = w->target = NULL;
	pthread_mutex_lock(&copy->lock);
	copy->workers_running--;
	pthread_cond_broadcast(&copy->changed);
	pthread_mutex_unlock(&copy->lock);
	return NULL;
}

/* --- setting up ------------------------------------------------------------ */

static TableWork *
find_work(Copy *copy, const char *schema, const char *table)
{
	for (int i = 0; i < copy->nworks; i++)
	{
		CopyRange *r = copy->works[i].ranges[0];

		if (r->kind == COPY_ROWS && strcmp(r->schema, schema) == 0 &&
			strcmp(r->table, table) == 0)
			return &copy->works[i];
	}
	return NULL;
}

/* Groups the plan's ranges by table, and checks each table still exists. */
static bool
build_works(Copy *copy, const SourceTables *tables, CopyPlan *plan)
{
	copy->works = xcalloc(plan->count ? plan->count : 1, sizeof(TableWork));
	for (int i = 0; i < plan->count; i++)
	{
		CopyRange *r = &plan->ranges[i];
		TableWork *work = NULL;

		for (int w = 0; w < copy->nworks && work == NULL; w++)
		{
			CopyRange *first = copy->works[w].ranges[0];

			if (first->kind == r->kind &&
				strcmp(first->schema, r->schema) == 0 &&
				strcmp(first->table, r->table) == 0)
				work = &copy->works[w];
		}
		if (work == NULL)
		{
			work = &copy->works[copy->nworks++];
			work->ranges = xcalloc(r->nranges, sizeof(CopyRange *));
			if (r->kind == COPY_ROWS)
			{
				work->source = catalog_find(tables, r->schema, r->table);
				if (work->source == NULL)
				{
					log_error("table \"%s\".\"%s\" of the copy plan is gone "
							  "from the source",
							  r->schema, r->table);
					log_hint("Tables must not be dropped or renamed during a "
							 "migration; start it again with a new --slot.");
					return false;
				}
			}
		}
		if (work->nranges < r->nranges)
			work->ranges[work->nranges++] = r;
		if (r->snapshot_lsn == LSN_INVALID)
			work->left++;
	}
	return true;
}

static int
compare_units(const void *a, const void *b)
{
	const Unit *ua = a, *ub = b;

	return ua->bytes < ub->bytes ? 1 : ua->bytes > ub->bytes ? -1 : 0;
}

static void
unit_add(Unit *unit, CopyRange *range, TableWork *work)
{
	unit->ranges =
		xrealloc(unit->ranges, (unit->count + 1) * sizeof(CopyRange *));
	unit->works =
		xrealloc(unit->works, (unit->count + 1) * sizeof(TableWork *));
	unit->ranges[unit->count] = range;
	unit->works[unit->count] = work;
	unit->count++;
	unit->bytes += range->estimated_bytes;
}

/* Units of the ranges left to copy: small whole tables packed together. */
static void
build_units(Copy *copy)
{
	Unit *pack = NULL;
	int nranges = 0;

	/* at most a unit per range: a table split in ranges has many */
	for (int w = 0; w < copy->nworks; w++)
		nranges += copy->works[w].nranges;
	copy->units = xcalloc(nranges + 1, sizeof(Unit));
	for (int w = 0; w < copy->nworks; w++)
	{
		TableWork *work = &copy->works[w];

		for (int r = 0; r < work->nranges; r++)
		{
			CopyRange *range = work->ranges[r];
			bool small = range->kind == COPY_ROWS && range->nranges == 1 &&
						 range->estimated_bytes < PACK_TABLE_BYTES;

			if (range->snapshot_lsn != LSN_INVALID)
				continue;
			if (!small)
			{
				unit_add(&copy->units[copy->nunits++], range, work);
				continue;
			}
			if (pack == NULL || pack->count >= PACK_MAX_TABLES ||
				pack->bytes + range->estimated_bytes > PACK_MAX_BYTES)
				pack = &copy->units[copy->nunits++];
			unit_add(pack, range, work);
		}
	}
	qsort(copy->units, copy->nunits, sizeof(Unit), compare_units);
}

/*
 * Statements wait for their table's rows, unless they are foreign keys or
 * tied to no table this task copies: those run after every table.
 */
static void
assign_items(Copy *copy, PostDataList *post_data)
{
	copy->final_items = xcalloc(post_data->count + 1, sizeof(PostDataItem *));
	for (int i = 0; i < post_data->count; i++)
	{
		PostDataItem *item = &post_data->items[i];
		TableWork *work = NULL;

		if (item->done)
			continue;
		copy->meter.post_data_total++;
		if (!item->foreign_key && item->table)
			work = find_work(copy, item->schema, item->table);
		if (work == NULL)
		{
			copy->final_items[copy->nfinal++] = item;
			continue;
		}
		work->items =
			xrealloc(work->items, (work->nitems + 1) * sizeof(PostDataItem *));
		work->items[work->nitems++] = item;
	}
	for (int i = 0; i < post_data->count; i++)
		copy->meter.post_data_done += post_data->items[i].done;
	copy->meter.post_data_total += copy->meter.post_data_done;
}

/*
 * The ranges of a split table left unfinished by an earlier run are
 * committed rows of another snapshot: empty the table before copying its
 * ranges again.  (A whole-table unit truncates in its own transaction.)
 */
static bool
empty_split_tables(Copy *copy)
{
	PgConn *target = NULL;
	bool ok = true;

	for (int w = 0; ok && w < copy->nworks; w++)
	{
		TableWork *work = &copy->works[w];
		Buf sql = BUF_INIT;

		if (work->source == NULL || work->nranges < 2 || work->left == 0)
			continue;
		if (target == NULL && (target = open_target(copy, false)) == NULL)
			return false;
		buf_printf(&sql, "TRUNCATE ONLY %s", work->source->qualified);
		ok = pg_exec(target, sql.data);
		if (!ok)
			pg_report(target, "empty table %s before its copy",
					  work->source->qualified);
		buf_free(&sql);
	}
	pg_disconnect(target);
	return ok;
}

static void
init_meter(Copy *copy)
{
	meter_init(&copy->meter, copy->nworks, copy->options->live_progress);
	for (int w = 0; w < copy->nworks; w++)
	{
		TableWork *work = &copy->works[w];
		MeterTable *m = &copy->meter.tables[w];
		CopyRange *first = work->ranges[0];
		Buf label = BUF_INIT;

		if (first->kind == COPY_ROWS)
			buf_printf(&label, "%s.%s", first->schema, first->table);
		else
			buf_printf(&label, "(%s)", first->table);
		m->what = first->kind == COPY_SEQUENCES		  ? METER_SEQUENCES
				  : first->kind == COPY_LARGE_OBJECTS ? METER_LARGE_OBJECTS
													  : METER_TABLE;
		m->label = label.data;
		for (int r = 0; r < work->nranges; r++)
		{
			m->estimated_bytes += work->ranges[r]->estimated_bytes;
			if (work->ranges[r]->snapshot_lsn != LSN_INVALID)
			{
				m->rows += work->ranges[r]->rows;
				m->bytes += work->ranges[r]->bytes;
			}
		}
		m->state = work->left == 0 ? METER_DONE : METER_WAITING;
		work->meter = m;
	}
}

/* Whether this task copies schema.name (or all of a partitioned one). */
static bool
covered(const CopyOptions *options, const char *schema, const char *name)
{
	for (int i = 0; i < options->ncovered; i++)
		if (strcmp(options->covered_schemas[i], schema) == 0 &&
			strcmp(options->covered_names[i], name) == 0)
			return true;
	return false;
}

/* Foreign keys and statements tied to no table of this task, in order. */
static int
run_final_items(Copy *copy)
{
	PgConn *target;
	int exit_code = EXIT_DONE;

	if (copy->nfinal == 0)
		return EXIT_DONE;
	if ((target = open_target(copy, false)) == NULL)
		return EXIT_CONNECTION;
	log_info("creating foreign keys and the remaining post-data objects (%d)",
			 copy->nfinal);
	for (int i = 0; i < copy->nfinal && exit_code == EXIT_DONE; i++)
	{
		PostDataItem *item = copy->final_items[i];

		if (item->foreign_key && item->ref_table &&
			!covered(copy->options, item->ref_schema, item->ref_table))
		{
			bool synced = false;

			if (!state_table_synced(target, item->ref_schema, item->ref_table,
									&synced))
				exit_code = error_exit_code(target);
			else if (!synced)
			{
				log_warning("not creating %s yet: it references table "
							"\"%s\".\"%s\", which no task has copied",
							item->description, item->ref_schema,
							item->ref_table);
				log_hint("It is created by the next `pgferry migrate` of "
						 "this task once the task that copies \"%s\".\"%s\" "
						 "has done so.",
						 item->ref_schema, item->ref_table);
				continue;
			}
		}
		if (exit_code != EXIT_DONE)
			break;
		if (!run_item_retrying(copy, &target, item))
			exit_code = error_exit_code(target);
		else
			item->done = true;
	}
	pg_disconnect(target);
	return exit_code;
}

static void
copy_free(Copy *copy)
{
	for (int w = 0; w < copy->nworks; w++)
	{
		free(copy->works[w].ranges);
		free(copy->works[w].items);
	}
	for (int u = 0; u < copy->nunits; u++)
	{
		free(copy->units[u].ranges);
		free(copy->units[u].works);
	}
	free(copy->works);
	free(copy->units);
	free(copy->final_items);
	free(copy->ready);
	free(copy->encoding);
	meter_free(&copy->meter);
	pthread_mutex_destroy(&copy->lock);
	pthread_cond_destroy(&copy->changed);
}

/*
 * What is left to copy, in the words of the status: tables, their ranges
 * (pgferry.copy_ranges), and the sequences and large objects on their own.
 */
static void
log_start(const Copy *copy, int jobs)
{
	char items[3][64]; /* the tables, the sequences, the large objects */
	int nitems = 0;
	int tables = 0, ranges = 0;
	Buf what = BUF_INIT;

	for (int w = 0; w < copy->nworks; w++)
		if (copy->works[w].source && copy->works[w].left > 0)
		{
			tables++;
			ranges += copy->works[w].left;
		}
	if (tables > 0)
		snprintf(items[nitems++], sizeof(items[0]), "%d %s (%d %s)", tables,
				 plural(tables, "table", "tables"), ranges,
				 plural(ranges, "range", "ranges"));
	for (int w = 0; w < copy->nworks; w++)
		if (copy->works[w].source == NULL && copy->works[w].left > 0)
			snprintf(items[nitems++], sizeof(items[0]), "the %s",
					 copy->works[w].ranges[0]->table);
	for (int i = 0; i < nitems; i++)
		buf_printf(&what, "%s%s",
				   i == 0			 ? ""
				   : i == nitems - 1 ? " and "
									 : ", ",
				   items[i]);
	if (nitems == 0)
		log_info("nothing left to copy: running the post-data statements "
				 "left with %d %s",
				 jobs, plural(jobs, "worker", "workers"));
	else
		log_info("copying %s with %d %s, snapshot %s", what.data, jobs,
				 plural(jobs, "worker", "workers"), copy->options->snapshot);
	buf_free(&what);
}

/* The source's server encoding, that both sessions then speak. */
static char *
source_encoding(const CopyOptions *options)
{
	PgConn *conn = pg_connect(options->source, "source", PG_CONN_SQL, NULL);
	char *encoding;

	if (conn == NULL)
		return NULL;
	encoding = xstrdup(pg_parameter(conn, "server_encoding"));
	pg_disconnect(conn);
	return encoding;
}

int
copy_run(const CopyOptions *options, const SourceTables *tables,
		 CopyPlan *plan, PostDataList *post_data)
{
	Copy copy;
	Worker *workers;
	pthread_t *threads;
	SlotWalWatch watch;
	int jobs = options->jobs > 0 ? options->jobs : 1;
	int exit_code;

	memset(&copy, 0, sizeof(Copy));
	copy.options = options;
	pthread_mutex_init(&copy.lock, NULL);
	pthread_cond_init(&copy.changed, NULL);
	if (!build_works(&copy, tables, plan))
	{
		copy_free(&copy);
		return EXIT_OTHER;
	}
	build_units(&copy);
	init_meter(&copy);
	assign_items(&copy, post_data);
	copy.ready = xcalloc(copy.nworks + 1, sizeof(TableWork *));
	for (int w = 0; w < copy.nworks; w++)
		if (copy.works[w].left == 0 && copy.works[w].nitems > 0)
		{
			TableWork *work = &copy.works[w];
			bool pending = false;

			for (int i = 0; i < work->nitems; i++)
				pending |= !work->items[i]->done;
			if (pending)
			{
				work->meter->state = METER_BUILDING;
				copy.ready[copy.nready++] = work;
			}
		}
	if ((copy.encoding = source_encoding(options)) == NULL)
	{
		copy_free(&copy);
		return EXIT_CONNECTION;
	}
	if (!empty_split_tables(&copy))
	{
		copy_free(&copy);
		return EXIT_APPLY;
	}

	slot_wal_watch_init(&watch, options->source_session, options->slot,
						(double) options->max_retained_wal);
	log_start(&copy, jobs);
	workers = xcalloc(jobs, sizeof(Worker));
	threads = xcalloc(jobs, sizeof(pthread_t));
	copy.workers_running = jobs;
	for (int j = 0; j < jobs; j++)
	{
		workers[j].copy = &copy;
		if (pthread_create(&threads[j], NULL, worker_main, &workers[j]) != 0)
		{
			log_error("could not start copy worker %d", j + 1);
			fail(&copy, EXIT_OTHER);
			copy.workers_running--;
			threads[j] = 0;
		}
	}
	/* draw progress until the workers are done */
	pthread_mutex_lock(&copy.lock);
	while (copy.workers_running > 0)
	{
		struct timespec until;

		pthread_mutex_unlock(&copy.lock);
		meter_tick(&copy.meter);
		slot_wal_watch(&watch, false);
		pthread_mutex_lock(&copy.lock);
		until = clock_wall_after(500);
		pthread_cond_timedwait(&copy.changed, &copy.lock, &until);
	}
	pthread_mutex_unlock(&copy.lock);
	for (int j = 0; j < jobs; j++)
		if (threads[j])
			pthread_join(threads[j], NULL);
	meter_finish(&copy.meter, copy.exit_code == EXIT_DONE);
	/* the most the slot holds: the stream drains it from now on */
	slot_wal_watch(&watch, true);

	exit_code = copy.exit_code;
	if (exit_code == EXIT_DONE)
		exit_code = run_final_items(&copy);
	free(workers);
	free(threads);
	copy_free(&copy);
	return exit_code;
}
