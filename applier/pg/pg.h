/*-------------------------------------------------------------------------
 *
 * pg.h
 *	  The applier's only door to libpq.
 *
 * Promises:
 *	- A PgConn is one server session with a label ("source", "target") that
 *	  every message about it starts with.
 *	- A password never reaches a log line, an error message or `ps`:
 *	  messages name a server by label and by pg_conninfo_redact(), and
 *	  pg_conninfo_hide() masks the password of an argv string in place.
 *	- A failing call returns false (or NULL / a negative count) after
 *	  recording the server's error (SQLSTATE, message, detail, hint) in the
 *	  PgConn.  It logs nothing itself: the caller knows what it was doing
 *	  and calls pg_report("apply 120 rows to table \"s\".\"t\"") to log
 *	  "target: could not apply ...: <message>" with DETAIL and HINT lines,
 *	  or reads the fields to build its own message (pg_query_or_report()
 *	  makes that pg_report() call for it).  pg_error_is_transient()
 *	  says whether reconnecting and retrying may help (connection lost,
 *	  server shutting down, serialization failure, deadlock, ...).
 *	- Pipeline mode: statements are queued with pg_send_*(), then
 *	  pg_pipeline_sync(); pg_pipeline_result() hands back their results in
 *	  order.  The socket is drained while sending, so a long pipeline cannot
 *	  deadlock on full socket buffers.
 *	- Replication: pg_replication_receive() waits at most timeout_ms for one
 *	  CopyData message and returns early when a signal arrives; while it
 *	  waits it keeps another connection's pipeline flowing, and while that
 *	  connection waits for its server the stream is read ahead
 *	  (pg_set_read_ahead), so neither server waits for the other.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PG_H
#define PGFERRY_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <postgres_ext.h> /* Oid */

#include "common/buf.h"
#include "common/log.h"

typedef struct PgConn PgConn;

/* libpq's result; only pg.c looks inside. */
typedef struct pg_result PgResult;

/* A WAL position. */
typedef uint64_t Lsn;

#define LSN_INVALID ((Lsn) 0)
#define LSN_TEXT_LEN 32 /* "XXXXXXXX/XXXXXXXX" and its NUL */

typedef enum PgConnKind
{
	PG_CONN_SQL,		/* an ordinary session */
	PG_CONN_REPLICATION /* replication=database: walsender commands
								 * and simple SQL */
} PgConnKind;

/*
 * Parameters of one statement.  types may be NULL (the server infers every
 * type); lengths and formats may be NULL when every value is text.  A NULL
 * entry of values is SQL NULL.
 */
typedef struct PgParams
{
	int count;
	const Oid *types;
	const char *const *values;
	const int *lengths;
	const int *formats; /* 0 text, 1 binary */
} PgParams;

/* --- connections --------------------------------------------------------- */

/*
 * Connects; on failure logs "could not connect to the <label> server
 * (<redacted conninfo>): <reason>" and returns NULL.  application_name
 * defaults to "pgferry" unless the conninfo sets one.  extra_options, when
 * not NULL, is appended to the conninfo's `options` (e.g. "-c datestyle=ISO").
 */
extern PgConn *pg_connect(const char *conninfo, const char *label,
						  PgConnKind kind, const char *extra_options);

/* One connection of pg_connect_all(): pg_connect()'s arguments, and conn. */
typedef struct PgConnRequest
{
	const char *conninfo;
	const char *label;
	PgConnKind kind;
	const char *extra_options;
	PgConn *conn; /* set: the connection, or NULL (the failure logged) */
	bool retried; /* a failure is connected again after: logged as a
				   * WARNING, and conn marked (pg_set_retried()) */
} PgConnRequest;

/*
 * Opens every request's connection at once, each as pg_connect() does: a
 * connection costs a server process's start and the authentication, which
 * overlap instead of adding up (a thread each, so that libpq keeps every
 * rule of its own, connect_timeout and multiple hosts included).
 */
extern void pg_connect_all(PgConnRequest *requests, int n);

/*
 * Connects SQL sessions to the "source" server, then (if that worked) to
 * the "target", both with extra_options.  Returns true with both open, or
 * false with neither (the failure logged by pg_connect()).
 */
extern bool pg_connect_both(const char *source_conninfo,
							const char *target_conninfo,
							const char *extra_options, PgConn **source,
							PgConn **target);
extern void pg_disconnect(PgConn *conn);
extern const char *pg_label(const PgConn *conn);
/* The conninfo as given, password removed (for messages). */
extern const char *pg_conn_display(const PgConn *conn);
/* PG_VERSION_NUM of the server, e.g. 150020. */
extern int pg_server_version(const PgConn *conn);
/* A parameter the server reported (server_encoding, ...), or NULL. */
extern const char *pg_parameter(const PgConn *conn, const char *name);
/* The role the session runs as. */
extern const char *pg_user(const PgConn *conn);
/* The database the session is connected to. */
extern const char *pg_database(const PgConn *conn);

/* malloc'ed copy of conninfo with any password removed; never NULL. */
extern char *pg_conninfo_redact(const char *conninfo);
/* Overwrites the passwords of conninfo (an argv string) with '*'. */
extern void pg_conninfo_hide(char *conninfo);

/* --- simple statements --------------------------------------------------- */

/*
 * Runs a command, or several separated by semicolons when not in pipeline
 * mode; any rows they return are dropped.
 */
extern bool pg_exec(PgConn *conn, const char *sql);

/*
 * Runs one statement with text parameters (nparams may be 0) and returns
 * its result (rows or command status), or NULL on error.  In pipeline mode
 * it is a segment of its own: every earlier result must have been read.
 */
extern PgResult *pg_query(PgConn *conn, const char *sql, int nparams,
						  const char *const *values);

/*
 * pg_query(); on error pg_report(conn, what_fmt, ...) and NULL: for the
 * caller whose only word on a failure is what it was doing.
 */
extern PgResult *pg_query_or_report(PgConn *conn, const char *sql, int nparams,
									const char *const *values,
									const char *what_fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Runs command followed by value as a quoted literal, for the utility
 * statements that take no parameters (SET ... = 'value').
 */
extern bool pg_exec_literal(PgConn *conn, const char *command,
							const char *value);

/*
 * Starts a REPEATABLE READ, READ ONLY transaction in the exported snapshot
 * name (pg_export_snapshot()'s, or a new slot's); works in pipeline mode.
 */
extern bool pg_begin_in_snapshot(PgConn *conn, const char *name);

/*
 * Starts a REPEATABLE READ, READ ONLY transaction (unless the caller has
 * begun one, which then takes its snapshot here) and exports its snapshot,
 * whose name goes to name (size bytes; 64 are enough); it can be imported
 * until the transaction ends.  With insert_lsn, the server's WAL insert
 * position read inside it: past every commit the snapshot sees (even an
 * asynchronous one not yet written out).  On failure the transaction may
 * be left open (the caller rolls back).
 */
extern bool pg_export_snapshot(PgConn *conn, char *name, size_t size,
							   Lsn *insert_lsn);

extern int pg_result_rows(const PgResult *res);
extern int pg_result_columns(const PgResult *res);
/* The text of a field, or NULL for SQL NULL. */
extern const char *pg_result_value(const PgResult *res, int row, int column);
/* Whether a boolean field is true (false for SQL NULL). */
extern bool pg_result_bool(const PgResult *res, int row, int column);
/* Rows the command affected (INSERT/UPDATE/DELETE/COPY), or -1. */
extern long pg_result_affected(const PgResult *res);
extern void pg_result_free(PgResult *res);

/* --- errors --------------------------------------------------------------- */

/* SQLSTATE of the last error ("" if none or unknown). */
extern const char *pg_error_sqlstate(const PgConn *conn);
/* Primary message of the last error (never NULL). */
extern const char *pg_error_message(const PgConn *conn);
extern const char *pg_error_detail(const PgConn *conn); /* or NULL */
/* Where the server was (PL/pgSQL line, COPY line and column), or NULL. */
extern const char *pg_error_context(const PgConn *conn);
extern const char *pg_error_hint(const PgConn *conn); /* or NULL */
extern bool pg_conn_lost(const PgConn *conn);
extern bool pg_error_is_transient(const PgConn *conn);
/* Whether the server could not hold a character in its encoding. */
extern bool pg_error_is_encoding(const PgConn *conn);
/*
 * The way on after target refused a character: its session speaks the
 * source's encoding (client_encoding), the database has its own.
 */
extern void pg_hint_encoding(const PgConn *target);

/*
 * Marks conn as one whose owner reconnects and tries again after a
 * transient error: pg_report() logs such an error as a WARNING, and the
 * owner logs the ERROR if it gives up.  An operator's alerting on ERROR
 * lines then fires on what stops a job, not on every network blip.
 */
extern void pg_set_retried(PgConn *conn);
/*
 * The level of a failure of conn: WARNING when it is transient (as the
 * caller judges it) and conn is marked retried, else ERROR.
 */
extern LogLevel pg_failure_level(const PgConn *conn, bool transient);

/*
 * Logs the last error: "<label>: could not <what>: <message>", then the
 * server's DETAIL and HINT, if any; at pg_failure_level() of
 * pg_error_is_transient().
 */
extern void pg_report(const PgConn *conn, const char *what_fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same at level: a failure the caller goes on from in another way. */
extern void pg_report_at(const PgConn *conn, LogLevel level,
						 const char *what_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --- quoting (results are malloc'ed) ------------------------------------ */

extern char *pg_quote_ident(const char *name);
extern char *pg_quote_literal(const char *value);
/*
 * A text array literal, built one element at a time into an empty Buf:
 * pg_array_add() quotes value (NULL: SQL NULL), pg_array_close() ends the
 * literal ("{}" when nothing was added) and returns it, for a parameter
 * cast to an array type ($1::pg_catalog.text[], ::oid[], ::int8[]...).
 */
extern void pg_array_add(Buf *array, const char *value);
extern const char *pg_array_close(Buf *array);
/* The same of count values at once (malloc'ed). */
extern char *pg_text_array(const char *const *values, int count);

/* --- pipeline mode ------------------------------------------------------ */

extern bool pg_pipeline_begin(PgConn *conn);
extern bool pg_pipeline_end(PgConn *conn);
extern bool pg_send_query(PgConn *conn, const char *sql,
						  const PgParams *params);
extern bool pg_send_prepare(PgConn *conn, const char *name, const char *sql,
							int nparams, const Oid *types);
extern bool pg_send_prepared(PgConn *conn, const char *name,
							 const PgParams *params);
/*
 * Sends what it can of the queued statements without waiting (libpq
 * otherwise holds a statement's tail until more is queued).
 */
extern bool pg_pipeline_push(PgConn *conn);
/*
 * Whether the next result of the pipeline has arrived, so that reading it
 * will not wait (what pg_pipeline_push() read is looked at, nothing more).
 */
extern bool pg_pipeline_ready(PgConn *conn);
/* Ends the current pipeline segment and flushes it to the server. */
extern bool pg_pipeline_sync(PgConn *conn);

/*
 * The result of the next statement queued (a prepare counts as one), or
 * NULL if it failed or was skipped because an earlier one failed (the
 * first error is kept).  pg_pipeline_wait_sync() skips what is left up to
 * the next sync point; it fails if any statement of the segment failed.
 */
extern PgResult *pg_pipeline_result(PgConn *conn);
extern bool pg_pipeline_wait_sync(PgConn *conn);

/* --- COPY ----------------------------------------------------------------- */

extern bool pg_copy_in_begin(PgConn *conn, const char *sql);
extern bool pg_copy_in_put(PgConn *conn, const char *data, size_t len);
/* Ends COPY FROM STDIN; *rows gets the rows copied (rows may be NULL). */
extern bool pg_copy_in_end(PgConn *conn, long *rows);
extern bool pg_copy_out_begin(PgConn *conn, const char *sql);

/*
 * One row of COPY TO STDOUT: returns its length and sets *data (release
 * with pg_free), or -1 at the end, -2 on error.
 */
extern int pg_copy_out_get(PgConn *conn, char **data);
extern void pg_free(void *data);

/* --- streaming replication ----------------------------------------------- */

/* Sends START_REPLICATION (or another command that enters COPY BOTH). */
extern bool pg_replication_start(PgConn *conn, const char *command);

/*
 * Waits up to timeout_ms (-1: no limit) for one CopyData message.  Returns
 * its length and sets *data (release with pg_free); 0 when nothing came in
 * time or a signal interrupted the wait; -1 when the server ended the
 * stream; -2 on error.  While it waits, it sends pump's buffered pipeline
 * output (pump may be NULL), so that server never idles for want of a
 * statement queued here.
 */
extern int pg_replication_receive(PgConn *conn, char **data, int timeout_ms,
								  PgConn *pump);
/*
 * Sends a CopyData message (feedback); nothing once the stream has ended
 * while read ahead: the receive that hands back that end fails instead.
 */
extern bool pg_replication_send(PgConn *conn, const char *data, int len);

/*
 * While conn waits for its server (sending statements, waiting for their
 * results) or queues a statement, the replication stream of stream is
 * read ahead, up to limit bytes of messages held, which
 * pg_replication_receive() hands back first: the server decoding the
 * stream never stops for want of a reader while the target works.
 * stream must outlive the link; NULL ends it.
 */
extern void pg_set_read_ahead(PgConn *conn, PgConn *stream, size_t limit);

/* --- LSNs ---------------------------------------------------------------- */

extern bool pg_lsn_parse(const char *text, Lsn *lsn);
/* Formats lsn as "X/X" into buf (LSN_TEXT_LEN bytes); returns buf. */
extern char *pg_lsn_format(Lsn lsn, char *buf);

/* --- for child programs (pg_dump, pg_restore) -------------------------- */

/*
 * The password conninfo sets, malloc'ed, or NULL: a child program gets it
 * in its environment (PGPASSWORD) and the conninfo without it on its
 * command line, so that `ps` never shows it.
 */
extern char *pg_conninfo_password(const char *conninfo);

#endif /* PGFERRY_PG_H */
