/*-------------------------------------------------------------------------
 *
 * readonly.c
 *	  A database made read-only: the setting, and the sessions that
 *	  started before it.
 *
 * Ending sessions is inside the cutover's read-only window: one statement
 * lists the sessions and signals them all at once, and the same statement
 * run again every few milliseconds (pg_terminate_backend's own wait looks
 * every 100 ms) sees them go.  A session is gone from pg_stat_activity
 * only once its transaction is rolled back and its statistics reported
 * (copyonly.h counts on them).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "cutover/readonly.h"

/* How often the sessions terminated, or waited for, are looked at. */
#define TERMINATED_POLL_MS 2
#define WAIT_SESSIONS_POLL_MS 20

bool
readonly_now(PgConn *conn, char *buf, size_t size)
{
	PgResult *res = pg_query_or_report(
		conn, "SELECT pg_catalog.clock_timestamp()", 0, NULL, "read the time");

	if (res == NULL)
		return false;
	snprintf(buf, size, "%s", pg_result_value(res, 0, 0));
	pg_result_free(res);
	return true;
}

bool
readonly_set(PgConn *conn, const char *database_sql, bool on)
{
	Buf sql = BUF_INIT;
	bool ok;

	buf_printf(&sql, "ALTER DATABASE %s %s", database_sql,
			   on ? "SET default_transaction_read_only = on"
				  : "RESET default_transaction_read_only");
	ok = pg_exec(conn, sql.data);
	if (ok)
		log_info("%s: %s", pg_label(conn), sql.data);
	else
	{
		pg_report(conn, "%s", sql.data);
		log_hint("run it as the owner of database %s or as a superuser",
				 database_sql);
	}
	buf_free(&sql);
	return ok;
}

bool
readonly_is_set(PgConn *conn, bool *on)
{
	PgResult *res = pg_query_or_report(
		conn,
		"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting d "
		"JOIN pg_catalog.pg_database b ON b.oid = d.setdatabase "
		"WHERE b.datname = pg_catalog.current_database() AND d.setrole = 0 "
		"AND 'default_transaction_read_only=on' = ANY (d.setconfig))",
		0, NULL, "read the settings of the database");

	if (res == NULL)
		return false;
	*on = pg_result_value(res, 0, 0)[0] == 't';
	pg_result_free(res);
	return true;
}

static bool
pid_in(int pid, const int *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

bool
readonly_end_sessions(PgConn *conn, const char *database_sql,
					  const char *before, bool wait_sessions, int timeout,
					  int *ended)
{
	const char *params[2] = {before, wait_sessions ? "false" : "true"};
	double deadline = clock_seconds() + timeout;
	int *seen = NULL;
	bool ok = true;

	*ended = 0;
	for (;;)
	{
		PgResult *res;
		int n;

		/*
		 * Terminated here, all at once, unless waited for.  A role without
		 * pg_read_all_stats sees other roles' sessions with their type,
		 * start and application NULL: such a session counts as an old
		 * client session, unless it streams a slot (an applier's walsender).
		 */
		res = pg_query_or_report(
			conn,
			"SELECT pid, usename, application_name, state, "
			"CASE WHEN $2::pg_catalog.bool "
			"THEN pg_catalog.pg_terminate_backend(pid) END "
			"FROM pg_catalog.pg_stat_activity "
			"WHERE datname = pg_catalog.current_database() "
			"AND pid <> pg_catalog.pg_backend_pid() "
			"AND coalesce(backend_type = 'client backend', "
			"  pid NOT IN (SELECT active_pid "
			"    FROM pg_catalog.pg_replication_slots "
			"    WHERE active_pid IS NOT NULL)) "
			"AND coalesce(application_name <> 'pgferry', true) "
			"AND coalesce(backend_start < $1::pg_catalog.timestamptz, true) "
			"ORDER BY pid",
			2, params, "end the sessions of database %s", database_sql);
		if (res == NULL)
		{
			if (!wait_sessions)
				log_hint("run the cutover as a superuser or as a member of "
						 "pg_signal_backend, or end the sessions yourself "
						 "and use --wait-sessions");
			ok = false;
			break;
		}
		n = pg_result_rows(res);
		seen = xrealloc(seen, (*ended + n + 1) * sizeof(int));
		for (int i = 0; i < n; i++)
		{
			const char *state = pg_result_value(res, i, 3);
			int pid = atoi(pg_result_value(res, i, 0));

			if (pid_in(pid, seen, *ended))
				continue;
			seen[(*ended)++] = pid;
			log_info("%s: %s session %d (user %s, application \"%s\", %s)",
					 pg_label(conn), wait_sessions ? "waiting for" : "ended",
					 pid, pg_result_value(res, i, 1),
					 pg_result_value(res, i, 2), state ? state : "unknown");
		}
		if (n > 0 && clock_seconds() > deadline)
		{
			log_error("%s: %d %s of database %s opened before read-only %s "
					  "still open after %d s",
					  pg_label(conn), n, plural(n, "session", "sessions"),
					  database_sql, plural(n, "is", "are"), timeout);
			log_hint(wait_sessions
						 ? "close them (or run the cutover without "
						   "--wait-sessions, which terminates them)"
						 : "look at pg_stat_activity for what keeps them");
			ok = false;
		}
		else if (n > 0)
			usleep(
				(wait_sessions ? WAIT_SESSIONS_POLL_MS : TERMINATED_POLL_MS) *
				1000);
		pg_result_free(res);
		if (!ok || n == 0)
			break;
	}
	free(seen);
	return ok;
}
