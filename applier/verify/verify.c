/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  `pgferry verify`: the passes, their snapshots, the jobs, the report.
 *
 * One consistent point.  While an applier follows the source, "source
 * equals target" only means something at one source position, and no
 * snapshot of the target is exactly at a snapshot of the source: the
 * applier commits batches of source transactions.  So each pass reads:
 *
 *	S	the source, in an exported snapshot; P = pg_current_wal_insert_lsn()
 *		read inside it is past the commit of every transaction S sees.
 *	T	the target, in an exported snapshot taken once the appliers have
 *		applied the source past P (their pgferry.progress rows; a
 *		transactional logical message written on the source after P gives
 *		them a commit to get there even when the source is idle).  T holds
 *		every transaction S sees, and maybe some later ones.
 *	S'	the source again, in a snapshot taken after T: it sees everything
 *		T holds.
 *
 * Tables are compared S against T.  Where they differ, a set of rows
 * (key range, or hash bucket) that the source held alike in S and S' was
 * not written by any transaction between them, T among them: the
 * difference is real, and reported.  A set the source changed between S
 * and S' may differ only because T is ahead of S: it is compared again in
 * the next pass, at new points, up to --passes; what is still unsettled
 * after the last pass is reported as such (not as a difference).  A row
 * rewritten on the source in every interval stays unsettled; after cutover,
 * or on an idle source, every set is settled.  (A row changed and changed
 * back between S and S' would look settled: rare, and a later pass or the
 * cutover's check sees through it.)  When no applier runs into the target,
 * nothing moves it: one pass, every difference counts.
 *
 * Text forms: every session, on both servers, runs with the same DateStyle,
 * IntervalStyle, extra_float_digits, TimeZone, bytea_output, lc_monetary
 * and search_path, so a value prints the same on any version.
 *
 * Tables are compared by `jobs` threads, each with its own sessions (S, T
 * and S'); a statement runs on both servers at once (pipeline mode).
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/exit.h"
#include "common/log.h"
#include "pg/pg.h"
#include "state/appliers.h"
#include "verify/verify.h"
#include "verify/verify_table.h"

/* Every verify session, on both servers, prints values alike. */
static const char session_options[] =
	"-c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3 "
	"-c TimeZone=UTC -c bytea_output=hex -c lc_monetary=C "
	"-c search_path=pg_catalog -c statement_timeout=0 "
	"-c idle_in_transaction_session_timeout=0";

/* The state of one run of verify. */
typedef struct Verify
{
	const VerifyOptions *opts;
	PgConn *source; /* catalogs, snapshots, markers */
	PgConn *target; /* catalogs, progress, snapshots */
	VerifyTable *tables;
	int ntables;
	int nworkers;
	VerifySessions *sessions; /* one per worker */

	/* the appliers following this source into the target, if any run */
	SourceId source_id;
	Appliers appliers; /* the running ones */
	bool applier_running;
	bool marker_failed; /* warned once */

	/* the current pass */
	int pass;		/* 1, 2, ... */
	Lsn point;		/* P */
	int next_table; /* the work queue */
	pthread_mutex_t lock;
} Verify;

void
verify_options_init(VerifyOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->jobs = VERIFY_DEFAULT_JOBS;
	opts->range_rows = VERIFY_DEFAULT_RANGE_ROWS;
	opts->max_keys = VERIFY_DEFAULT_MAX_KEYS;
	opts->passes = VERIFY_DEFAULT_PASSES;
	opts->lag_timeout = VERIFY_DEFAULT_LAG_TIMEOUT;
}

/* --- the appliers ------------------------------------------------------------ */

/* The appliers that follow this source into the target and are running. */
static bool
find_appliers(Verify *v)
{
	if (!source_id_read(v->source, &v->source_id) ||
		!appliers_find(v->source, v->target, &v->source_id, NULL,
					   &v->appliers))
		return false;
	appliers_keep_active(&v->appliers);
	v->applier_running = v->appliers.count > 0;
	return true;
}

/*
 * Gives the source a commit after P, then waits until the target has
 * applied past P.  *reached says whether it did within lag_timeout.
 */
static bool
wait_for_applier(Verify *v, bool *reached)
{
	if (!v->marker_failed &&
		!appliers_mark(v->source, VERIFY_MARKER_PREFIX, "", NULL))
	{
		log_hint("without it, on an idle source verify waits --lag-timeout "
				 "seconds and then confirms nothing");
		v->marker_failed = true;
	}
	if (!appliers_wait(v->source, v->target, &v->source_id, &v->appliers,
					   v->point, v->opts->lag_timeout, reached))
		return false;
	if (!*reached)
		log_warning("what differs in this pass cannot be confirmed");
	return true;
}

/* --- snapshots ------------------------------------------------------------------- */

/* The sessions of a worker, each in its own snapshot. */
typedef enum SessionRole
{
	IN_SOURCE, /* S */
	IN_TARGET, /* T */
	IN_LATER   /* S' */
} SessionRole;

static PgConn *
session_of(const VerifySessions *s, SessionRole role)
{
	return role == IN_SOURCE   ? s->source
		   : role == IN_TARGET ? s->target
							   : s->later;
}

/* Imports snapshot name into the session of every worker that plays role. */
static bool
import_snapshot(Verify *v, const char *name, SessionRole role)
{
	for (int i = 0; i < v->nworkers; i++)
	{
		PgConn *session = session_of(&v->sessions[i], role);

		if (!pg_begin_in_snapshot(session, name))
		{
			pg_report(session, "import snapshot %s", name);
			return false;
		}
	}
	return true;
}

/*
 * Exports a snapshot of exporter's server (with point: the WAL position
 * past every commit it sees) and imports it into the session of every
 * worker that plays role.
 */
static bool
share_snapshot(Verify *v, PgConn *exporter, SessionRole role, Lsn *point)
{
	char name[128];
	bool ok;

	if (!pg_export_snapshot(exporter, name, sizeof(name), point))
	{
		pg_report(exporter, "export a snapshot");
		pg_exec(exporter, "ROLLBACK");
		return false;
	}
	ok = import_snapshot(v, name, role);
	pg_exec(exporter, "COMMIT");
	return ok;
}

/* Puts every worker's sessions in the pass's snapshots S, T and S'. */
static bool
enter_snapshots(Verify *v)
{
	bool reached = true;

	if (!share_snapshot(v, v->source, IN_SOURCE, &v->point))
		return false;
	if (v->applier_running && !wait_for_applier(v, &reached))
		return false;
	if (v->opts->target_snapshot
			? !import_snapshot(v, v->opts->target_snapshot, IN_TARGET)
			: !share_snapshot(v, v->target, IN_TARGET, NULL))
		return false;
	for (int i = 0; i < v->nworkers; i++)
		v->sessions[i].target_behind = !reached;
	return !v->applier_running || share_snapshot(v, v->source, IN_LATER, NULL);
}

static void
leave_snapshots(Verify *v)
{
	for (int i = 0; i < v->nworkers; i++)
	{
		pg_exec(v->sessions[i].source, "COMMIT");
		pg_exec(v->sessions[i].target, "COMMIT");
		if (v->sessions[i].later)
			pg_exec(v->sessions[i].later, "COMMIT");
	}
}

/* --- workers ------------------------------------------------------------------------ */

static PgConn *
worker_session(const char *conninfo, const char *label, bool *ok)
{
	PgConn *conn =
		*ok ? pg_connect(conninfo, label, PG_CONN_SQL, session_options) : NULL;

	*ok = conn != NULL && pg_pipeline_begin(conn);
	return conn;
}

static bool
open_sessions(Verify *v)
{
	bool ok = true;

	v->sessions = xcalloc(v->nworkers, sizeof(VerifySessions));
	for (int i = 0; i < v->nworkers && ok; i++)
	{
		VerifySessions *s = &v->sessions[i];

		s->source = worker_session(v->opts->source, "source", &ok);
		s->target = worker_session(v->opts->target, "target", &ok);
		if (v->applier_running)
			s->later = worker_session(v->opts->source, "source", &ok);
	}
	return ok;
}

static void
close_sessions(Verify *v)
{
	for (int i = 0; v->sessions && i < v->nworkers; i++)
	{
		pg_disconnect(v->sessions[i].source);
		pg_disconnect(v->sessions[i].target);
		pg_disconnect(v->sessions[i].later);
	}
	free(v->sessions);
	v->sessions = NULL;
}

/* Whether the current pass compares the table. */
static bool
needs_pass(const Verify *v, const VerifyTable *table)
{
	if (!table->on_target)
		return false;
	return v->pass == 1 || (!table->failed && table->nunsettled > 0);
}

static bool
on_sessions(VerifySessions *s, const char *command)
{
	bool ok = pg_exec(s->source, command) && pg_exec(s->target, command);

	return ok && (s->later == NULL || pg_exec(s->later, command));
}

/* Compares one table inside a savepoint, so a failure spares the rest. */
static void
compare_table(Verify *v, VerifySessions *sessions, VerifyTable *table)
{
	VerifyLimits limits = {v->opts->range_rows, v->opts->max_keys};
	double started = clock_seconds();
	bool ok;

	if (!on_sessions(sessions, "SAVEPOINT verify_table"))
	{
		log_error("could not compare table %s: a session was lost",
				  table->display);
		table->failed = true;
		return;
	}
	if (v->pass == 1)
		verify_table_reset(table);
	if (v->opts->counts_only)
		ok = verify_table_counts(sessions, table);
	else if (table->nkeys > 0)
		ok = verify_table_by_key(sessions, table, &limits, v->pass > 1);
	else
		ok = verify_table_by_rows(sessions, table, &limits);
	on_sessions(sessions, ok ? "RELEASE SAVEPOINT verify_table"
							 : "ROLLBACK TO SAVEPOINT verify_table");
	log_verbose("table %s: %s after %.1f s", table->display,
				table->failed				  ? "failed"
				: verify_table_differs(table) ? "different"
				: table->nunsettled			  ? "unsettled"
											  : "equal",
				clock_seconds() - started);
}

typedef struct WorkerArg
{
	Verify *verify;
	VerifySessions *sessions;
} WorkerArg;

static void *
worker_main(void *arg)
{
	WorkerArg *w = arg;
	Verify *v = w->verify;

	for (;;)
	{
		int i;

		pthread_mutex_lock(&v->lock);
		while (v->next_table < v->ntables &&
			   !needs_pass(v, &v->tables[v->next_table]))
			v->next_table++;
		i = v->next_table++;
		pthread_mutex_unlock(&v->lock);
		if (i >= v->ntables)
			break;
		compare_table(v, w->sessions, &v->tables[i]);
	}
	return NULL;
}

/* One pass over the tables that need it, with nworkers threads. */
static void
run_pass(Verify *v)
{
	pthread_t *threads = xcalloc(v->nworkers, sizeof(pthread_t));
	WorkerArg *args = xcalloc(v->nworkers, sizeof(WorkerArg));
	int started = 0;

	v->next_table = 0;
	for (; started < v->nworkers; started++)
	{
		args[started].verify = v;
		args[started].sessions = &v->sessions[started];
		if (pthread_create(&threads[started], NULL, worker_main,
						   &args[started]) != 0)
			break;
	}
	if (started == 0)
		worker_main(&args[0]); /* no thread to be had: do it here */
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	free(args);
}

static int
tables_needing_pass(const Verify *v)
{
	int n = 0;

	for (int i = 0; i < v->ntables; i++)
		n += needs_pass(v, &v->tables[i]);
	return n;
}

/* --- the report ------------------------------------------------------------------------ */

static int
compare_by_name(const void *a, const void *b)
{
	const VerifyTable *x = *(const VerifyTable *const *) a;
	const VerifyTable *y = *(const VerifyTable *const *) b;
	int c = strcmp(x->schema, y->schema);

	return c != 0 ? c : strcmp(x->name, y->name);
}

static void
print_table(const Verify *v, const VerifyTable *table)
{
	char method[256] = "";

	if (v->opts->counts_only)
		snprintf(method, sizeof(method), " (row counts only)");
	else if (table->whole_rows_reason)
		snprintf(method, sizeof(method),
				 " (%s: compared as a multiset of whole rows)",
				 table->whole_rows_reason);

	if (!table->on_target)
		printf("table %s: DIFFERENT\n", table->display);
	else if (table->failed)
		printf("table %s: FAILED (see the errors above)\n", table->display);
	else if (verify_table_differs(table))
		printf("table %s: DIFFERENT, source %ld %s, target %ld %s%s\n",
			   table->display, table->source_rows,
			   plural(table->source_rows, "row", "rows"), table->target_rows,
			   plural(table->target_rows, "row", "rows"), method);
	else if (table->nunsettled > 0)
		printf("table %s: NOT SETTLED, source %ld %s, target %ld %s%s\n",
			   table->display, table->source_rows,
			   plural(table->source_rows, "row", "rows"), table->target_rows,
			   plural(table->target_rows, "row", "rows"), method);
	else
		printf("table %s: equal, %ld %s%s\n", table->display,
			   table->source_rows, plural(table->source_rows, "row", "rows"),
			   method);
	fputs(table->notes.data ? table->notes.data : "", stdout);
	fputs(table->report.data ? table->report.data : "", stdout);
	if (table->nunlisted > 0)
		printf("  and %ld more differing %s not named (--max-keys %d)\n",
			   table->nunlisted, plural(table->nunlisted, "row", "rows"),
			   v->opts->max_keys);
	if (table->nunnarrowed > 0)
		printf("  and more differences in %ld key %s not narrowed "
			   "(source %ld %s, target %ld %s in them; --max-keys %d)\n",
			   table->nunnarrowed,
			   plural(table->nunnarrowed, "range", "ranges"),
			   table->unnarrowed_rows[0],
			   plural(table->unnarrowed_rows[0], "row", "rows"),
			   table->unnarrowed_rows[1],
			   plural(table->unnarrowed_rows[1], "row", "rows"),
			   v->opts->max_keys);
	if (table->nunsettled > 0 && !table->failed)
		printf("  %ld %s that differed kept changing on the source through "
			   "%d %s: not compared (verify again when the source is "
			   "quieter; cutover's check is exact)\n",
			   table->nunsettled,
			   table->nkeys == 0
				   ? plural(table->nunsettled, "hash bucket of rows",
							"hash buckets of rows")
				   : plural(table->nunsettled, "key range", "key ranges"),
			   v->pass, plural(v->pass, "pass", "passes"));
}

/* Prints the report; returns the exit status. */
static int
print_report(const Verify *v, double seconds)
{
	const VerifyTable **sorted =
		xmalloc((v->ntables + 1) * sizeof(VerifyTable *));
	int different = 0;
	int unsettled = 0;
	int failed = 0;

	for (int i = 0; i < v->ntables; i++)
		sorted[i] = &v->tables[i];
	qsort(sorted, v->ntables, sizeof(VerifyTable *), compare_by_name);
	for (int i = 0; i < v->ntables; i++)
	{
		print_table(v, sorted[i]);
		if (sorted[i]->failed)
			failed++;
		else if (verify_table_differs(sorted[i]))
			different++;
		else if (sorted[i]->nunsettled > 0)
			unsettled++;
	}
	printf("verify: %d %s, %d equal, %d different, %d not settled, "
		   "%d failed (%d %s, %.1f s)\n",
		   v->ntables, plural(v->ntables, "table", "tables"),
		   v->ntables - different - unsettled - failed, different, unsettled,
		   failed, v->pass, plural(v->pass, "pass", "passes"), seconds);
	if (unsettled > 0)
		printf("verify: the %d %s not settled %s not compared: %s kept "
			   "changing on the source through every pass; run verify "
			   "again once the writes stop, or run cutover, whose check is "
			   "exact\n",
			   unsettled, plural(unsettled, "table", "tables"),
			   plural(unsettled, "was", "were"),
			   plural(unsettled, "it", "they"));
	fflush(stdout);
	free(sorted);
	if (different > 0)
		return EXIT_DIFFERENT;
	return failed > 0 ? EXIT_OTHER : EXIT_DONE;
}

/* --- the command ------------------------------------------------------------------------ */

int
verify_run(const VerifyOptions *opts)
{
	Verify v;
	double started = clock_seconds();
	int status = EXIT_CONNECTION;
	char point[LSN_TEXT_LEN];

	memset(&v, 0, sizeof(v));
	v.opts = opts;
	pthread_mutex_init(&v.lock, NULL);
	if (!pg_connect_both(opts->source, opts->target, session_options,
						 &v.source, &v.target))
		goto done;
	status = EXIT_OTHER;
	if (!verify_catalog_tables(v.source, v.target, opts->include_tables,
							   opts->ninclude, opts->exclude_tables,
							   opts->nexclude, &v.tables, &v.ntables) ||
		(!opts->source_quiet && !find_appliers(&v)))
		goto done;
	v.nworkers = opts->jobs < v.ntables ? opts->jobs : v.ntables;
	if (v.nworkers < 1)
		v.nworkers = 1;
	if (!open_sessions(&v))
	{
		status = EXIT_CONNECTION;
		goto done;
	}

	/* without an applier nothing moves the target: one pass is all */
	for (v.pass = 1; v.pass <= (v.applier_running ? opts->passes : 1);
		 v.pass++)
	{
		int n = tables_needing_pass(&v);

		if (n == 0)
			break;
		if (!enter_snapshots(&v))
			goto done;
		log_info("verify: pass %d: comparing %d %s with %d %s, the "
				 "source at %s%s",
				 v.pass, n, plural(n, "table", "tables"), v.nworkers,
				 plural(v.nworkers, "job", "jobs"),
				 pg_lsn_format(v.point, point),
				 v.applier_running ? ", the target past it" : "");
		run_pass(&v);
		leave_snapshots(&v);
	}
	v.pass--;
	status = print_report(&v, clock_seconds() - started);

done:
	close_sessions(&v);
	pg_disconnect(v.source);
	pg_disconnect(v.target);
	for (int i = 0; i < v.ntables; i++)
		verify_table_free(&v.tables[i]);
	free(v.tables);
	source_id_free(&v.source_id);
	appliers_free(&v.appliers);
	pthread_mutex_destroy(&v.lock);
	return status;
}
