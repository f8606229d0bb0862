/*-------------------------------------------------------------------------
 *
 * cutover.c
 *	  `pgferry cutover`: the switch from the source to the target.
 *
 * Before the window (the source takes writes, nothing is changed yet):
 *	- checks: every post-data statement of the migration has run on the
 *	  target; every copy-only task has finished, and none of its tables
 *	  changed on the source since its copy; the source database has no
 *	  prepared transaction (COMMIT PREPARED would still write after
 *	  read-only); the slots to wait for (--slot, or every slot with a
 *	  pgferry.progress row for this source on the target) exist and are
 *	  active, i.e. a `pgferry follow` or `migrate` is applying them.
 *	- The target's materialized views populated on the source are
 *	  refreshed (a REFRESH is not in the WAL stream, and inside the window
 *	  its time would grow with the data).
 *	- The gate: a marker written on the source now, and the time until
 *	  every applier has applied it, is the apply lag.  It is measured again
 *	  until it is at most --max-lag (for at most --timeout): the window's
 *	  wait for the applier then takes about as long.
 *
 * The window, each step timed for the report:
 *	1. read-only: the source database (readonly.h).
 *	2. sessions: those that started before are ended (readonly.h).
 *	3. copy-only tables: their counters compared again, now exact (the
 *	   sessions ended have reported theirs).
 *	4. last LSN: prepared transactions checked again (one may have been
 *	   prepared meanwhile), then a marker: once an applier has applied past
 *	   it, it has every write the source committed.
 *	5. applied: waits until every slot's pgferry.progress end LSN passes
 *	   it.  The cutover does not apply the slot itself: the running follow
 *	   (or migrate) knows the task's table filters and options, and a
 *	   second consumer could not take an active slot anyway.
 *	6. sequences (cutover_target.h).
 *	7. target ready: a snapshot of the target exported and held open for
 *	   the check, database settings that would keep the target from taking
 *	   writes reset.
 *	Each reads or writes a few rows, whatever the size of the database;
 *	what can be looked up before (the sequences' names and their match on
 *	the target, the settings to reset) is.
 *
 * After the window (the target takes writes): the hand-over recorded
 * (pgferry.handover, which pgferry finish asks for), the check, the
 * materialized views again with --refresh-matviews=after, the report.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/exit.h"
#include "common/log.h"
#include "cutover/cutover.h"
#include "cutover/cutover_checks.h"
#include "cutover/cutover_target.h"
#include "cutover/readonly.h"
#include "pg/pg.h"
#include "state/appliers.h"
#include "state/handover.h"
#include "verify/verify.h"

/* How long terminated sessions get to go away. */
#define SESSION_EXIT_SECONDS 30

/* The gate: how often it says the lag is still above, the pause between
 * two measurements. */
#define GATE_LOG_SECONDS 5.0
#define GATE_PAUSE_MS 100

/* Steps of each part of the report, at most. */
#define MAX_STEPS 8

/*
 * Our sessions write (ALTER DATABASE, the marker) even once the database
 * is read-only: default_transaction_read_only is only a default.
 * pg_terminate_backend() warns of a session gone meanwhile, which says
 * nothing we do not check.
 */
static const char session_options[] =
	"-c default_transaction_read_only=off -c search_path=pg_catalog "
	"-c statement_timeout=0 -c lock_timeout=0 "
	"-c idle_in_transaction_session_timeout=0 -c client_min_messages=error";

typedef struct Step
{
	const char *name;
	double seconds;
	char detail[256];
} Step;

typedef struct Steps
{
	Step step[MAX_STEPS];
	int count;
} Steps;

typedef struct Cutover
{
	const CutoverOptions *opts;
	PgConn *source;
	PgConn *target;
	PgConn *holder; /* target: holds the snapshot the check reads */
	char *target_database_sql;
	SourceId id;		 /* the source database */
	Appliers appliers;	 /* the slots to wait for */
	PgResult *copy_only; /* the copy-only tasks' tables, as recorded */
	char read_only_since[64];
	char snapshot[128];
	Lsn last_lsn;
	int64_t rows_before; /* the appliers' rows before the window */
	double read_only_at; /* monotonic seconds */
	double window;		 /* seconds, once over */
	Steps before;
	Steps during;
	Steps after;
	Step *applied; /* its rows are counted after the window */
	SequenceMap sequences;
	PgResult *settings; /* the target's that keep it from taking writes */
} Cutover;

void
cutover_options_init(CutoverOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout = CUTOVER_DEFAULT_TIMEOUT;
	opts->max_lag = CUTOVER_DEFAULT_MAX_LAG;
	opts->jobs = VERIFY_DEFAULT_JOBS;
	opts->refresh_matviews = REFRESH_BEFORE;
	opts->check = CHECK_COUNTS;
}

/* Records a step that began at started and ends now, and logs it. */
static Step *step_add(Steps *steps, const char *name, double started,
					  const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static Step *
step_add(Steps *steps, const char *name, double started, const char *fmt, ...)
{
	Step *step = &steps->step[steps->count++];
	va_list args;

	step->name = name;
	step->seconds = clock_seconds() - started;
	va_start(args, fmt);
	vsnprintf(step->detail, sizeof(step->detail), fmt, args);
	va_end(args);
	log_info("cutover: %s: %s (%.3f s)", name, step->detail, step->seconds);
	return step;
}

/* --- before the window ---------------------------------------------------------- */

/*
 * The gate: measures the apply lag until it is at most --max-lag, for at
 * most --timeout.  *under says whether it got there (else it says why).
 */
static bool
gate_lag(Cutover *c, bool *under)
{
	double started = clock_seconds();
	double deadline = started + c->opts->timeout;
	double next_log = started;
	double lag = -1; /* none measured yet */

	*under = c->appliers.count == 0;
	while (!*under && clock_seconds() < deadline)
	{
		double marked = clock_seconds();
		bool reached;
		Lsn mark;

		if (!appliers_mark(c->source, CUTOVER_MARKER_PREFIX, "lag", &mark) ||
			!appliers_wait(c->source, c->target, &c->id, &c->appliers, mark,
						   deadline - marked, &reached))
			return false;
		if (!reached)
			break; /* the lag of this write is more than the time left */
		lag = clock_seconds() - marked;
		*under = lag <= c->opts->max_lag;
		if (!*under && clock_seconds() >= next_log)
		{
			log_info("cutover: apply lag %.3f s, above --max-lag %.2f s: "
					 "measuring it again",
					 lag, c->opts->max_lag);
			next_log = clock_seconds() + GATE_LOG_SECONDS;
		}
		if (!*under)
			usleep(GATE_PAUSE_MS * 1000);
	}
	if (*under)
	{
		if (c->appliers.count > 0)
			step_add(&c->before, "apply lag", started,
					 "%.3f s, at most --max-lag %.2f s", lag,
					 c->opts->max_lag);
		return true;
	}
	if (lag >= 0)
		log_error("target: the apply lag stayed above --max-lag %.2f s for "
				  "--timeout %d s (last measured: %.3f s); nothing was "
				  "changed",
				  c->opts->max_lag, c->opts->timeout, lag);
	else
		log_error("target: the appliers did not apply a write of the source "
				  "within --timeout %d s: the apply lag is above --max-lag "
				  "%.2f s; nothing was changed",
				  c->opts->timeout, c->opts->max_lag);
	log_hint("let the applier catch up (pgferry status shows its lag; "
			 "lighten the write load, or look at the log of pgferry follow "
			 "or migrate), then run the cutover again; or raise --max-lag, "
			 "which lengthens the read-only window by as much");
	return true;
}

/* --- the window ---------------------------------------------------------------- */

/* A step of the window failed before the target had every write. */
static void
give_writes_back(Cutover *c)
{
	if (readonly_set(c->source, c->id.database_sql, false))
		log_info("cutover: stopped; the source takes writes again "
				 "(sessions opened since %s stay read-only until they "
				 "reconnect)",
				 c->read_only_since);
}

/* Waits until every slot's applier has applied the source up to lsn. */
static bool
wait_applied(Cutover *c)
{
	char lsn_text[LSN_TEXT_LEN];
	bool reached;

	pg_lsn_format(c->last_lsn, lsn_text);
	if (!appliers_wait(c->source, c->target, &c->id, &c->appliers, c->last_lsn,
					   c->opts->timeout, &reached))
		return false;
	if (!reached)
	{
		log_error("target: the source's last LSN %s was not applied within "
				  "--timeout %d s",
				  lsn_text, c->opts->timeout);
		log_hint("look at the log of pgferry follow (or migrate) for "
				 "that slot; run the cutover again once pgferry status "
				 "shows little lag, or with a longer --timeout");
	}
	return reached;
}

/*
 * The source made read-only up to the target having applied its last
 * write: on failure the source takes writes again and the status says
 * why (EXIT_BLOCKED: a copy-only table changed).
 */
static int
switch_source(Cutover *c)
{
	double started = clock_seconds();
	char lsn[LSN_TEXT_LEN];
	int ended;
	bool unchanged = true;

	if (!readonly_set(c->source, c->id.database_sql, true))
		return EXIT_OTHER;
	c->read_only_at = started;
	step_add(&c->during, "read-only", started,
			 "ALTER DATABASE %s SET default_transaction_read_only = on",
			 c->id.database_sql);
	started = clock_seconds();
	if (!readonly_now(c->source, c->read_only_since,
					  sizeof(c->read_only_since)) ||
		!readonly_end_sessions(c->source, c->id.database_sql,
							   c->read_only_since, c->opts->wait_sessions,
							   c->opts->wait_sessions ? c->opts->timeout
													  : SESSION_EXIT_SECONDS,
							   &ended))
		goto give_back;
	step_add(&c->during, "sessions", started, "%d %s %s", ended,
			 plural(ended, "session", "sessions"),
			 c->opts->wait_sessions ? "waited for" : "ended");
	if (pg_result_rows(c->copy_only) > 0)
	{
		started = clock_seconds();
		if (!cutover_copy_only_unchanged(c->source, c->copy_only,
										 &unchanged) ||
			!unchanged)
			goto give_back;
		step_add(&c->during, "copy-only tables", started, "%d unchanged",
				 pg_result_rows(c->copy_only));
	}
	started = clock_seconds();
	if (!cutover_no_prepared(c->source, &c->id) ||
		!appliers_mark(c->source, CUTOVER_MARKER_PREFIX, "read-only",
					   &c->last_lsn))
		goto give_back;
	step_add(&c->during, "last LSN", started, "%s",
			 pg_lsn_format(c->last_lsn, lsn));
	started = clock_seconds();
	if (!wait_applied(c))
		goto give_back;
	c->applied = step_add(&c->during, "applied", started,
						  "the target has applied the source up to %s", lsn);
	return EXIT_DONE;

give_back:
	give_writes_back(c);
	return unchanged ? EXIT_OTHER : EXIT_BLOCKED;
}

/*
 * The target, which has every write, made ready: sequences, the snapshot
 * for the check, settings.  A failure leaves the source read-only.
 */
static bool
ready_target(Cutover *c)
{
	double started = clock_seconds();
	int sequences;

	if (!cutover_copy_sequences(c->source, c->target, &c->sequences,
								&sequences))
		return false;
	step_add(&c->during, "sequences", started, "%d %s set", sequences,
			 plural(sequences, "sequence", "sequences"));
	started = clock_seconds();
	if (c->opts->check != CHECK_NONE &&
		!pg_export_snapshot(c->holder, c->snapshot, sizeof(c->snapshot), NULL))
	{
		pg_report(c->holder, "export a snapshot of the target for the check");
		return false;
	}
	if (!cutover_reset_settings(c->target, c->settings))
		return false;
	c->window = clock_seconds() - c->read_only_at;
	step_add(&c->during, "target ready", started, "%s%d %s reset",
			 c->opts->check != CHECK_NONE ? "snapshot held for the check; "
										  : "",
			 pg_result_rows(c->settings),
			 plural(pg_result_rows(c->settings), "setting", "settings"));
	return true;
}

/* --- after the window ------------------------------------------------------------ */

/*
 * Compares the quiet source with the target as handed over (its held
 * snapshot).  On a difference both databases are left read-only.
 */
static int
check_after(Cutover *c)
{
	VerifyOptions vopts;
	double started = clock_seconds();
	int status;
	int ended;
	char now[64];

	if (c->opts->check == CHECK_NONE)
		return EXIT_DONE;
	verify_options_init(&vopts);
	vopts.source = c->opts->source;
	vopts.target = c->opts->target;
	vopts.jobs = c->opts->jobs;
	vopts.counts_only = c->opts->check == CHECK_COUNTS;
	vopts.source_quiet = true;
	vopts.target_snapshot = c->snapshot;
	status = verify_run(&vopts);
	pg_exec(c->holder, "COMMIT");
	step_add(&c->after,
			 c->opts->check == CHECK_COUNTS ? "row counts" : "rows compared",
			 started, "%s",
			 status == EXIT_DONE		? "equal"
			 : status == EXIT_DIFFERENT ? "DIFFERENT (see above)"
										: "failed (see above)");
	if (status != EXIT_DIFFERENT)
		return status;
	log_error("cutover: the target differs from the source (see the "
			  "report): the target database %s is left read-only, and the "
			  "source stays read-only",
			  c->target_database_sql);
	if (readonly_set(c->target, c->target_database_sql, true) &&
		readonly_now(c->target, now, sizeof(now)))
		readonly_end_sessions(c->target, c->target_database_sql, now, false,
							  SESSION_EXIT_SECONDS, &ended);
	log_hint("decide: keep the target as it is with pgferry cutover "
			 "--release-target --target ..., or fall back to the source with "
			 "pgferry cutover --abort --source ... (pgferry verify names the "
			 "rows that differ)");
	return status;
}

/* --- the report ------------------------------------------------------------------ */

static void
print_steps(const Steps *steps)
{
	for (int i = 0; i < steps->count; i++)
		printf("    %-20s %8.3f s  %s\n", steps->step[i].name,
			   steps->step[i].seconds, steps->step[i].detail);
}

static void
print_report(const Cutover *c)
{
	char lsn[LSN_TEXT_LEN];

	printf("\ncutover: hand-over report\n"
		   "  source database %s (system %s), read-only since %s; last LSN "
		   "%s\n",
		   c->id.database_sql, c->id.system_identifier, c->read_only_since,
		   pg_lsn_format(c->last_lsn, lsn));
	printf("  before the window (the source takes writes):\n");
	print_steps(&c->before);
	printf("  read-only window %8.3f s\n", c->window);
	print_steps(&c->during);
	printf("  after the window (the target takes writes):\n");
	print_steps(&c->after);
	fflush(stdout);
}

/* --- the commands ---------------------------------------------------------------- */

static void
cutover_free(Cutover *c)
{
	pg_disconnect(c->source);
	pg_disconnect(c->target);
	pg_disconnect(c->holder);
	free(c->target_database_sql);
	source_id_free(&c->id);
	appliers_free(&c->appliers);
	pg_result_free(c->copy_only);
	pg_result_free(c->settings);
	cutover_sequences_free(&c->sequences);
}

/* Everything before the window; EXIT_DONE when the window may begin. */
static int
prepare(Cutover *c)
{
	double started;
	bool ok;
	int refreshed;

	if (!source_id_read(c->source, &c->id))
		return EXIT_OTHER;
	c->target_database_sql = pg_quote_ident(pg_database(c->target));
	log_info("cutover: from database %s of the source (%s) to the target "
			 "(%s)",
			 c->id.database_sql, pg_conn_display(c->source),
			 pg_conn_display(c->target));
	if (!cutover_post_data_done(c->target) ||
		!cutover_copy_only_ready(c->source, c->target, &c->id, &c->copy_only,
								 &ok))
		return EXIT_BLOCKED;
	if (!ok || !cutover_no_prepared(c->source, &c->id) ||
		!cutover_find_slots(c->source, c->target, &c->id, c->opts->slots,
							pg_result_rows(c->copy_only) > 0, &c->appliers) ||
		!cutover_map_sequences(c->source, c->target, &c->sequences))
		return EXIT_BLOCKED;
	if (!handover_prepare(c->target) ||
		(c->settings = cutover_target_settings(c->target)) == NULL)
		return EXIT_OTHER;
	if (c->opts->refresh_matviews != REFRESH_NONE)
	{
		started = clock_seconds();
		if (!cutover_refresh_matviews(c->source, c->target, false, &refreshed))
			return EXIT_OTHER;
		step_add(&c->before, "materialized views", started, "%d refreshed",
				 refreshed);
	}
	if (!gate_lag(c, &ok))
		return EXIT_OTHER;
	if (!ok)
		return EXIT_BLOCKED;
	if (c->appliers.count > 0 &&
		!appliers_rows_applied(c->target, &c->id, &c->appliers,
							   &c->rows_before))
		return EXIT_OTHER;
	/* its snapshot is taken in the window, at its first query */
	if (c->holder &&
		!pg_exec(c->holder,
				 "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
	{
		pg_report(c->holder, "begin the transaction of the check");
		return EXIT_OTHER;
	}
	return EXIT_DONE;
}

/*
 * After the window: the hand-over recorded (for pgferry finish), the
 * check, the views again, the rows of the window.
 */
static int
after_window(Cutover *c)
{
	int status = handover_record(c->target, &c->id, &c->appliers, c->last_lsn,
								 c->window)
					 ? check_after(c)
					 : EXIT_OTHER;
	double started = clock_seconds();
	int64_t rows_after = c->rows_before;
	int refreshed;

	if (status == EXIT_DONE && c->opts->refresh_matviews == REFRESH_AFTER)
		step_add(
			&c->after, "materialized views", started, "%s",
			cutover_refresh_matviews(c->source, c->target, true, &refreshed)
				? "refreshed again (CONCURRENTLY where possible)"
				: "not all refreshed (see above)");
	if (c->appliers.count > 0 &&
		appliers_rows_applied(c->target, &c->id, &c->appliers, &rows_after))
		snprintf(c->applied->detail + strlen(c->applied->detail),
				 sizeof(c->applied->detail) - strlen(c->applied->detail),
				 "; %" PRId64 " row %s applied during the window",
				 rows_after - c->rows_before,
				 plural(rows_after - c->rows_before, "change", "changes"));
	return status;
}

int
cutover_run(const CutoverOptions *opts)
{
	Cutover c;
	int status;

	memset(&c, 0, sizeof(c));
	c.opts = opts;
	snprintf(c.read_only_since, sizeof(c.read_only_since), "-");
	if (!pg_connect_both(opts->source, opts->target, session_options,
						 &c.source, &c.target) ||
		(opts->check != CHECK_NONE &&
		 (c.holder = pg_connect(opts->target, "target", PG_CONN_SQL,
								session_options)) == NULL))
	{
		cutover_free(&c);
		return EXIT_CONNECTION;
	}
	status = prepare(&c);
	if (status == EXIT_DONE)
		status = switch_source(&c);
	if (status == EXIT_DONE && !ready_target(&c))
	{
		/* the target has every write: the source stays read-only */
		log_error("cutover: a step failed (see above); the source stays "
				  "read-only");
		log_hint("fix it and run the cutover again, or give the writes "
				 "back to the source with pgferry cutover --abort");
		status = EXIT_OTHER;
	}
	else if (status == EXIT_DONE)
	{
		printf("cutover: the target is ready for writes; read-only window "
			   "%.3f s (source read-only since %s)\n",
			   c.window, c.read_only_since);
		fflush(stdout);
		status = after_window(&c);
		print_report(&c);
	}
	if (status == EXIT_DONE)
	{
		Buf slots = BUF_INIT;

		for (int i = 0; i < c.appliers.count; i++)
			buf_printf(&slots, "%s%s", i ? ", " : "",
					   c.appliers.slots[i].name);
		printf("cutover: done; next: point the applications at the target; "
			   "once you no longer need to fall back (pgferry cutover "
			   "--abort), stop pgferry (migrate or follow) and run pgferry "
			   "finish, which drops %s%s on the source and the pgferry "
			   "schema on the target\n",
			   c.appliers.count ? "slot " : "no slot",
			   c.appliers.count ? slots.data : "");
		fflush(stdout);
		buf_free(&slots);
	}
	cutover_free(&c);
	return status;
}

/*
 * Resets the read-only setting of the database of conninfo, and ends the
 * sessions opened while it was set (they keep it until they reconnect)
 * unless wait_sessions.  Then prints done, a format naming the database.
 */
static int
give_back(const char *conninfo, const char *label, bool wait_sessions,
		  const char *done)
{
	PgConn *conn = pg_connect(conninfo, label, PG_CONN_SQL, session_options);
	char *database_sql;
	char reset_at[64];
	int ended;
	int status = EXIT_OTHER;

	if (conn == NULL)
		return EXIT_CONNECTION;
	database_sql = pg_quote_ident(pg_database(conn));
	if (readonly_set(conn, database_sql, false) &&
		readonly_now(conn, reset_at, sizeof(reset_at)) &&
		(wait_sessions ||
		 readonly_end_sessions(conn, database_sql, reset_at, false,
							   SESSION_EXIT_SECONDS, &ended)))
	{
		printf(done, database_sql);
		status = EXIT_DONE;
	}
	free(database_sql);
	pg_disconnect(conn);
	return status;
}

int
cutover_abort(const CutoverOptions *opts)
{
	return give_back(opts->source, "source", opts->wait_sessions,
					 "cutover: aborted; database %s of the source takes "
					 "writes again\n");
}

int
cutover_release_target(const CutoverOptions *opts)
{
	return give_back(opts->target, "target", opts->wait_sessions,
					 "cutover: released; database %s of the target takes "
					 "writes (the source stays read-only)\n");
}
