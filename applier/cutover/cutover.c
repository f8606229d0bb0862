/*-------------------------------------------------------------------------
 *
 * cutover.c
 *	  `pgferry cutover`: the switch from the source to the target.
 *
 * The steps, each logged as it happens:
 *
 *	1. Checks, nothing changed yet: the source database has no prepared
 *	   transactions (COMMIT PREPARED would still write after read-only);
 *	   the slots to wait for (--slot, or every slot with a pgferry.progress
 *	   row for this source on the target) exist and are active, i.e. a
 *	   `pgferry follow` or `migrate` is applying them.
 *	2. ALTER DATABASE ... SET default_transaction_read_only = on: sessions
 *	   that start from now on are read-only.  The sessions of the database
 *	   that started before are terminated, or with --wait-sessions waited
 *	   for; their open transactions roll back.  (Client backends only: the
 *	   appliers' walsenders stay, and so do pgferry's own sessions, by
 *	   application_name, which write no data.)  Prepared transactions are
 *	   checked again: one may have been prepared meanwhile.
 *	3. The source's pg_current_wal_insert_lsn() is then past every write
 *	   that committed, even asynchronously: the last LSN.  A transactional
 *	   logical message follows it, so that even when the last write was
 *	   long ago there is a commit after the last LSN for the applier to
 *	   apply and record.
 *	4. Wait until every slot's pgferry.progress row on the target has an
 *	   end LSN at or past the last LSN.  Not in time: the source is made
 *	   writable again and the cutover stops, the target untouched.  The
 *	   cutover does not apply the slot itself: the running follow (or
 *	   migrate) knows the task's table filters and options, and a second
 *	   consumer could not take an active slot anyway.
 *	5. Sequences: each sequence of the source (last_value, is_called, read
 *	   from the sequence itself) is set on the target with setval(); an
 *	   identity or serial sequence is found on the target through its
 *	   table and column (pg_get_serial_sequence), others by name.
 *	6. Materialized views populated on the source are refreshed on the
 *	   target, in dependency order (through plain views too).
 *	7. Row counts of every table are compared (verify, counts only: the
 *	   source takes no writes, so any snapshot is exact).
 *	8. Database-level settings of the target that would keep it from
 *	   taking writes like the source (default_transaction_read_only,
 *	   session_replication_role) are reset; role-level ones are reported.
 *	The read-only window runs from step 2 to the end of step 8.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/exit.h"
#include "common/log.h"
#include "cutover/cutover.h"
#include "cutover/cutover_target.h"
#include "migrate/schema.h"
#include "pg/pg.h"
#include "state/appliers.h"
#include "verify/verify.h"

/* How long terminated sessions get to go away. */
#define SESSION_EXIT_SECONDS 30

/*
 * Our sessions write (ALTER DATABASE, the marker) even once the source
 * database is read-only: default_transaction_read_only is only a default.
 */
static const char session_options[] =
	"-c default_transaction_read_only=off -c search_path=pg_catalog "
	"-c statement_timeout=0 -c lock_timeout=0 "
	"-c idle_in_transaction_session_timeout=0";

typedef struct Cutover
{
	const CutoverOptions *opts;
	PgConn *source;
	PgConn *target;
	SourceId id;		 /* the source database */
	Appliers appliers;	 /* the slots to wait for */
	double read_only_at; /* monotonic seconds */
	int problems;		 /* steps after the wait that failed */
} Cutover;

void
cutover_options_init(CutoverOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout = CUTOVER_DEFAULT_TIMEOUT;
	opts->jobs = VERIFY_DEFAULT_JOBS;
}

/* Seconds since read-only went on, for the log lines of the window. */
static double
window(const Cutover *c)
{
	return clock_seconds() - c->read_only_at;
}

/* Runs a statement with one text parameter; false on error (unlogged). */
static bool
run_with(PgConn *conn, const char *sql, const char *value)
{
	const char *params[1] = {value};
	PgResult *res = pg_query(conn, sql, 1, params);
	bool ok = res != NULL;

	pg_result_free(res);
	return ok;
}

/* --- step 1: checks ------------------------------------------------------------ */

static bool
check_prepared_transactions(Cutover *c)
{
	PgResult *res = pg_query_or_report(
		c->source,
		"SELECT gid FROM pg_catalog.pg_prepared_xacts "
		"WHERE database = pg_catalog.current_database() ORDER BY prepared",
		0, NULL, "list prepared transactions");
	int n;

	if (res == NULL)
		return false;
	n = pg_result_rows(res);
	for (int i = 0; i < n; i++)
		log_error("source: database %s has prepared transaction '%s', "
				  "which could still commit after the database is "
				  "read-only",
				  c->id.database_sql, pg_result_value(res, i, 0));
	if (n > 0)
		log_hint("finish it first: COMMIT PREPARED 'gid' or ROLLBACK "
				 "PREPARED 'gid'");
	pg_result_free(res);
	return n == 0;
}

/*
 * Finds the slots to wait for, and checks that each exists on the source,
 * in this database, and is active.
 */
static bool
find_slots(Cutover *c)
{
	bool ok = true;

	if (!appliers_find(c->source, c->target, &c->id, c->opts->slots,
					   &c->appliers))
		return false;
	if (c->appliers.count == 0)
	{
		log_error("target: no pgferry applier has recorded progress for "
				  "source database %s (system %s) in pgferry.progress",
				  c->id.database_sql, c->id.system_identifier);
		log_hint("run pgferry migrate (or follow) from this source into "
				 "this target first, or name the slot with --slot");
		return false;
	}
	for (int i = 0; i < c->appliers.count; i++)
	{
		const ApplierSlot *slot = &c->appliers.slots[i];

		if (!slot->exists)
		{
			log_error("source: replication slot \"%s\" does not exist",
					  slot->name);
			log_hint("if it belonged to a finished task, name the slots to "
					 "wait for with --slot (or delete its row from "
					 "pgferry.progress on the target)");
		}
		else if (!slot->in_database)
			log_error("source: replication slot \"%s\" does not belong to "
					  "database %s",
					  slot->name, c->id.database_sql);
		else if (!slot->active)
		{
			log_error("source: replication slot \"%s\" is not in use: no "
					  "pgferry follow or migrate is applying it",
					  slot->name);
			log_hint("start pgferry follow --slot %s (or the migrate that "
					 "owns it), wait until pgferry status shows little lag, "
					 "then run the cutover",
					 slot->name);
		}
		else
		{
			log_info("cutover: waiting for slot \"%s\" once the source is "
					 "read-only",
					 slot->name);
			continue;
		}
		ok = false;
	}
	return ok;
}

/*
 * Whether the migration's post-data (indexes, constraints, triggers, ...)
 * has all run on the target: a target without them is not ready, and the
 * source should not stop taking writes for it.  A target that pgferry
 * migrate never wrote to (follow alone) has nothing to check.
 */
static bool
check_post_data(Cutover *c)
{
	PgResult *res = pg_query_or_report(
		c->target, "SELECT pg_catalog.to_regclass('pgferry.post_data')", 0,
		NULL, "look for pgferry.post_data");
	bool migrated;
	long pending;

	if (res == NULL)
		return false;
	migrated = pg_result_value(res, 0, 0) != NULL;
	pg_result_free(res);
	if (!migrated)
		return true;
	res = pg_query_or_report(
		c->target,
		"SELECT count(*), pg_catalog.string_agg(description, '; ') "
		"FILTER (WHERE n <= 3) FROM (SELECT description, "
		"row_number() OVER (ORDER BY position) AS n FROM pgferry.post_data "
		"WHERE done_at IS NULL) p",
		0, NULL, "read pgferry.post_data");
	if (res == NULL)
		return false;
	pending = atol(pg_result_value(res, 0, 0));
	if (pending > 0)
	{
		log_error("target: %ld post-data %s of the migration %s not run "
				  "yet (%s%s)",
				  pending, plural(pending, "statement", "statements"),
				  plural(pending, "has", "have"), pg_result_value(res, 0, 1),
				  pending > 3 ? "; ..." : "");
		log_hint("a migration task has not finished its copy: wait until "
				 "pgferry status shows every task streaming (run a stopped "
				 "task's pgferry migrate again), then run the cutover");
	}
	pg_result_free(res);
	return pending == 0;
}

/* --- step 2: read-only ----------------------------------------------------------- */

static bool
set_read_only(Cutover *c, bool on)
{
	Buf sql = BUF_INIT;
	bool ok;

	buf_printf(&sql, "ALTER DATABASE %s %s", c->id.database_sql,
			   on ? "SET default_transaction_read_only = on"
				  : "RESET default_transaction_read_only");
	ok = pg_exec(c->source, sql.data);
	if (ok)
		log_info("source: %s", sql.data);
	else
	{
		pg_report(c->source, "%s", sql.data);
		log_hint("run the cutover as the owner of database %s or as a "
				 "superuser",
				 c->id.database_sql);
	}
	buf_free(&sql);
	return ok;
}

static bool
pid_in(int pid, const int *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/*
 * Ends the client sessions of the database that started before `before`
 * (a timestamptz): terminates them, or with wait_sessions waits for them.
 * pgferry's own sessions (application_name pgferry: a migrate's, a
 * verify's) write no data and stay, as do walsenders (the appliers').
 */
static bool
end_sessions(Cutover *c, const char *before, bool wait_sessions, int timeout)
{
	const char *params[1] = {before};
	double deadline = clock_seconds() + timeout;
	int *seen = NULL;
	int nseen = 0;
	bool ok = true;

	for (;;)
	{
		PgResult *res;
		int n;

		res = pg_query_or_report(
			c->source,
			"SELECT pid, usename, application_name, state "
			"FROM pg_catalog.pg_stat_activity "
			"WHERE datname = pg_catalog.current_database() "
			"AND pid <> pg_catalog.pg_backend_pid() "
			"AND backend_type = 'client backend' "
			"AND application_name <> 'pgferry' "
			"AND backend_start < $1::pg_catalog.timestamptz ORDER BY pid",
			1, params, "list the sessions of database %s", c->id.database_sql);
		if (res == NULL)
		{
			ok = false;
			break;
		}
		n = pg_result_rows(res);
		seen = xrealloc(seen, (nseen + n + 1) * sizeof(int));
		for (int i = 0; i < n && ok; i++)
		{
			const char *pid = pg_result_value(res, i, 0);
			const char *state = pg_result_value(res, i, 3);

			if (pid_in(atoi(pid), seen, nseen))
				continue;
			seen[nseen++] = atoi(pid);
			log_info("source: %s session %s (user %s, application \"%s\", "
					 "%s)",
					 wait_sessions ? "waiting for" : "terminating", pid,
					 pg_result_value(res, i, 1), pg_result_value(res, i, 2),
					 state ? state : "unknown");
			if (!wait_sessions && !run_with(c->source,
											"SELECT pg_catalog."
											"pg_terminate_backend("
											"$1::pg_catalog.int4)",
											pid))
			{
				pg_report(c->source, "terminate session %s", pid);
				log_hint("run the cutover as a superuser or as a member of "
						 "pg_signal_backend, or end the sessions yourself "
						 "and use --wait-sessions");
				ok = false;
			}
		}
		pg_result_free(res);
		if (!ok || n == 0)
			break;
		if (clock_seconds() > deadline)
		{
			log_error("source: %d %s of database %s opened before "
					  "read-only %s still open after %d s",
					  n, plural(n, "session", "sessions"), c->id.database_sql,
					  plural(n, "is", "are"), timeout);
			log_hint(wait_sessions
						 ? "close them (or run the cutover without "
						   "--wait-sessions, which terminates them)"
						 : "look at pg_stat_activity for what keeps them");
			ok = false;
			break;
		}
		usleep(100 * 1000);
	}
	free(seen);
	return ok;
}

/* --- steps 3 and 4: the last LSN, applied ---------------------------------------- */

/*
 * The LSN past every write of the source; then a commit after it, so that
 * an applier that records progress per transaction gets past it even when
 * nothing else is written.
 */
static bool
last_lsn(Cutover *c, Lsn *lsn)
{
	PgResult *res;
	char text[LSN_TEXT_LEN];
	bool ok;

	/* the insert position: past even an asynchronous commit not yet written */
	res = pg_query_or_report(c->source,
							 "SELECT pg_catalog.pg_current_wal_insert_lsn()",
							 0, NULL, "read the current WAL position");
	if (res == NULL)
		return false;
	ok = pg_lsn_parse(pg_result_value(res, 0, 0), lsn);
	pg_result_free(res);
	if (!ok)
		return false;
	pg_lsn_format(*lsn, text);
	log_info("source: last LSN %s (+%.1f s)", text, window(c));

	return appliers_mark(c->source, CUTOVER_MARKER_PREFIX, text);
}

/* Waits until every slot's applier has applied the source up to lsn. */
static bool
wait_applied(Cutover *c, Lsn lsn)
{
	char lsn_text[LSN_TEXT_LEN];
	bool reached;

	pg_lsn_format(lsn, lsn_text);
	if (!appliers_wait(c->source, c->target, &c->id, &c->appliers, lsn,
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
		return false;
	}
	log_info("target: has applied the source up to %s (+%.1f s)", lsn_text,
			 window(c));
	return true;
}

/* --- step 7: counts --------------------------------------------- */

static int
verify_counts(Cutover *c)
{
	VerifyOptions vopts;
	int status;

	verify_options_init(&vopts);
	vopts.source = c->opts->source;
	vopts.target = c->opts->target;
	vopts.jobs = c->opts->jobs;
	vopts.counts_only = true;
	vopts.source_quiet = true;
	status = verify_run(&vopts);
	if (status == EXIT_DONE)
		log_info("cutover: every table has as many rows on the target as on "
				 "the source (+%.1f s)",
				 window(c));
	return status;
}

/* --- the commands ---------------------------------------------------------------- */

static void
cutover_free(Cutover *c)
{
	pg_disconnect(c->source);
	pg_disconnect(c->target);
	source_id_free(&c->id);
	appliers_free(&c->appliers);
}

/* The time on the source now, as text: sessions older than it are old. */
static bool
source_now(Cutover *c, char *buf, size_t size)
{
	PgResult *res =
		pg_query_or_report(c->source, "SELECT pg_catalog.clock_timestamp()", 0,
						   NULL, "read the time");

	if (res == NULL)
		return false;
	snprintf(buf, size, "%s", pg_result_value(res, 0, 0));
	pg_result_free(res);
	return true;
}

int
cutover_run(const CutoverOptions *opts)
{
	Cutover c;
	int status = EXIT_OTHER;
	int verify_status;
	char read_only_since[64] = "the start";
	Buf slot_names = BUF_INIT;
	Lsn lsn;

	memset(&c, 0, sizeof(c));
	c.opts = opts;
	if (!pg_connect_both(opts->source, opts->target, session_options,
						 &c.source, &c.target))
	{
		status = EXIT_CONNECTION;
		goto done;
	}
	if (!source_id_read(c.source, &c.id))
		goto done;
	log_info("cutover: from database %s of the source (%s) to the target "
			 "(%s)",
			 c.id.database_sql, pg_conn_display(c.source),
			 pg_conn_display(c.target));
	if (!check_post_data(&c))
	{
		status = EXIT_BLOCKED;
		goto done;
	}
	if (!check_prepared_transactions(&c))
		goto done;
	if (!find_slots(&c))
	{
		/* no applier to wait for: nothing was changed */
		status = EXIT_BLOCKED;
		goto done;
	}

	if (!set_read_only(&c, true))
		goto done;
	c.read_only_at = clock_seconds();
	if (!source_now(&c, read_only_since, sizeof(read_only_since)) ||
		!end_sessions(&c, read_only_since, opts->wait_sessions,
					  opts->wait_sessions ? opts->timeout
										  : SESSION_EXIT_SECONDS) ||
		!check_prepared_transactions(&c) || !last_lsn(&c, &lsn) ||
		!wait_applied(&c, lsn))
	{
		/* nothing changed on the target: give the writes back */
		if (set_read_only(&c, false))
			log_info("cutover: stopped; the source takes writes again "
					 "(sessions opened since %s stay read-only until they "
					 "reconnect)",
					 read_only_since);
		goto done;
	}

	/* the target has every write: from here on, report and go on */
	if (!cutover_copy_sequences(c.source, c.target))
		c.problems++;
	if (!schema_restore_identity(c.target, true))
		c.problems++;
	log_info("cutover: sequences and identity columns done (+%.1f s)",
			 window(&c));
	if (!cutover_refresh_matviews(c.source, c.target))
		c.problems++;
	log_info("cutover: materialized views done (+%.1f s)", window(&c));
	verify_status = verify_counts(&c);
	if (!cutover_ready_target(c.target))
		c.problems++;

	if (c.problems > 0 || verify_status != EXIT_DONE)
	{
		log_error("cutover: %s; the source stays read-only",
				  verify_status == EXIT_DIFFERENT
					  ? "row counts differ (see the report)"
					  : "a step failed (see above)");
		log_hint("fix it and run the cutover again, or give the writes "
				 "back to the source with pgferry cutover --abort");
		status = verify_status == EXIT_DIFFERENT ? EXIT_DIFFERENT
				 : verify_status != EXIT_DONE	 ? verify_status
												 : EXIT_OTHER;
		goto done;
	}
	printf("cutover: done; read-only window %.1f s (source read-only since "
		   "%s); the target is ready for writes\n",
		   window(&c), read_only_since);
	for (int i = 0; i < c.appliers.count; i++)
		buf_printf(&slot_names, "%s%s", i ? "," : "",
				   c.appliers.slots[i].name);
	printf("cutover: next: point the applications at the target, stop "
		   "pgferry (migrate or follow), and drop slot %s on the source "
		   "when you no "
		   "longer need to fall back (pg_drop_replication_slot)\n",
		   slot_names.data);
	buf_free(&slot_names);
	fflush(stdout);
	status = EXIT_DONE;

done:
	cutover_free(&c);
	return status;
}

int
cutover_abort(const CutoverOptions *opts)
{
	Cutover c;
	char reset_at[64];
	int status = EXIT_OTHER;

	memset(&c, 0, sizeof(c));
	c.opts = opts;
	c.source =
		pg_connect(opts->source, "source", PG_CONN_SQL, session_options);
	if (c.source == NULL)
		return EXIT_CONNECTION;
	if (source_id_read(c.source, &c.id) && set_read_only(&c, false) &&
		source_now(&c, reset_at, sizeof(reset_at)))
	{
		/* sessions opened while read-only keep it until they reconnect */
		if (opts->wait_sessions ||
			end_sessions(&c, reset_at, false, SESSION_EXIT_SECONDS))
			status = EXIT_DONE;
	}
	if (status == EXIT_DONE)
		printf("cutover: aborted; database %s of the source takes writes "
			   "again\n",
			   c.id.database_sql);
	cutover_free(&c);
	return status;
}
