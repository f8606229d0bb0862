/*-------------------------------------------------------------------------
 *
 * pg.c
 *	  The applier's only door to libpq: connections, errors, one-statement
 *	  queries, quoting, LSNs.  Pipeline mode, COPY and streaming
 *	  replication are in pg_flow.c.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/thread.h"
#include "pg/pg_internal.h"

/* --- errors ---------------------------------------------------------------- */

static void
pg_error_reset(PgConn *conn)
{
	conn->sqlstate[0] = '\0';
	free(conn->message);
	free(conn->detail);
	free(conn->hint);
	free(conn->context);
	conn->message = conn->detail = conn->hint = conn->context = NULL;
}

/* A copy of s without its trailing newlines, or NULL for NULL. */
static char *
pg_strdup_chomp(const char *s)
{
	char *copy;
	size_t len;

	if (s == NULL)
		return NULL;
	copy = xstrdup(s);
	len = strlen(copy);
	while (len > 0 && (copy[len - 1] == '\n' || copy[len - 1] == '\r'))
		copy[--len] = '\0';
	return copy;
}

/*
 * Records the error of res, or the connection's error message when res
 * carries none (lost connection, protocol trouble).
 */
void
pg_error_record(PgConn *conn, const PGresult *res)
{
	const char *sqlstate = NULL;
	const char *message = NULL;

	pg_error_reset(conn);
	if (res != NULL)
	{
		sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		conn->detail =
			pg_strdup_chomp(PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
		conn->hint =
			pg_strdup_chomp(PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
		conn->context =
			pg_strdup_chomp(PQresultErrorField(res, PG_DIAG_CONTEXT));
	}
	if (message == NULL)
		message = PQerrorMessage(conn->conn);
	if (message == NULL || message[0] == '\0')
		message = "unknown error";
	conn->message = pg_strdup_chomp(message);
	if (sqlstate == NULL && PQstatus(conn->conn) == CONNECTION_BAD)
		sqlstate = "08006";
	if (sqlstate != NULL)
		snprintf(conn->sqlstate, sizeof(conn->sqlstate), "%s", sqlstate);
}

const char *
pg_error_sqlstate(const PgConn *conn)
{
	return conn->sqlstate;
}

const char *
pg_error_message(const PgConn *conn)
{
	return conn->message ? conn->message : "no error";
}

const char *
pg_error_context(const PgConn *conn)
{
	return conn->context;
}

const char *
pg_error_detail(const PgConn *conn)
{
	return conn->detail;
}

const char *
pg_error_hint(const PgConn *conn)
{
	return conn->hint;
}

bool
pg_conn_lost(const PgConn *conn)
{
	return conn->conn == NULL || PQstatus(conn->conn) == CONNECTION_BAD;
}

bool
pg_error_is_transient(const PgConn *conn)
{
	static const char *const transient[] = {
		"08",	 /* connection exception */
		"40",	 /* serialization failure, deadlock */
		"53",	 /* insufficient resources */
		"57P01", /* admin shutdown */
		"57P02", /* crash shutdown */
		"57P03", /* cannot connect now */
		"55006", /* object in use: slot still active */
	};

	if (pg_conn_lost(conn))
		return true;
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strncmp(conn->sqlstate, transient[i], strlen(transient[i])) == 0)
			return true;
	return false;
}

bool
pg_error_is_encoding(const PgConn *conn)
{
	/* untranslatable character, character not in repertoire */
	return strcmp(conn->sqlstate, "22P05") == 0 ||
		   strcmp(conn->sqlstate, "22021") == 0;
}

void
pg_hint_encoding(const PgConn *target)
{
	const char *source = pg_parameter(target, "client_encoding");
	const char *own = pg_parameter(target, "server_encoding");

	if (source == NULL || own == NULL)
		return;

	log_hint("the target database's encoding %s cannot hold every character "
			 "of the source's %s: create the target database with ENCODING "
			 "'%s' (CREATE DATABASE ... ENCODING '%s' TEMPLATE template0) "
			 "and migrate again, or change the value on the source",
			 own, source, source, source);
}

void
pg_set_retried(PgConn *conn)
{
	conn->retried = true;
}

LogLevel
pg_failure_level(const PgConn *conn, bool transient)
{
	return conn->retried && transient ? LOG_LEVEL_WARNING : LOG_LEVEL_ERROR;
}

static void
pg_report_v(const PgConn *conn, LogLevel level, const char *what_fmt,
			va_list args)
{
	char what[1024];
	LogFields fields = LOG_FIELDS_INIT;

	vsnprintf(what, sizeof(what), what_fmt, args);
	log_event(level, &fields, "%s: could not %s: %s", conn->label, what,
			  pg_error_message(conn));
	if (conn->detail)
		log_detail("%s", conn->detail);
	if (conn->hint)
		log_hint("%s", conn->hint);
}

void
pg_report(const PgConn *conn, const char *what_fmt, ...)
{
	va_list args;

	va_start(args, what_fmt);
	pg_report_v(conn, pg_failure_level(conn, pg_error_is_transient(conn)),
				what_fmt, args);
	va_end(args);
}

void
pg_report_at(const PgConn *conn, LogLevel level, const char *what_fmt, ...)
{
	va_list args;

	va_start(args, what_fmt);
	pg_report_v(conn, level, what_fmt, args);
	va_end(args);
}

/* --- connections ------------------------------------------------------------ */

/* Whether libpq reads s as a connection string rather than a bare dbname. */
static bool
pg_is_conninfo(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 ||
		   strncmp(s, "postgres://", 11) == 0 || strchr(s, '=') != NULL;
}

/* Appends "key=value" (value quoted as libpq wants) to buf. */
static void
pg_append_keyword(char *buf, size_t size, const char *key, const char *value)
{
	size_t len = strlen(buf);

	len += snprintf(buf + len, size > len ? size - len : 0, "%s%s='",
					len > 0 ? " " : "", key);
	for (const char *p = value; *p && len + 3 < size; p++)
	{
		if (*p == '\'' || *p == '\\')
			buf[len++] = '\\';
		buf[len++] = *p;
	}
	if (len + 2 <= size)
	{
		buf[len++] = '\'';
		buf[len] = '\0';
	}
}

char *
pg_conninfo_redact(const char *conninfo)
{
	PQconninfoOption *options;
	char *errmsg = NULL;
	char *redacted;
	size_t size = strlen(conninfo) + 256;

	if (!pg_is_conninfo(conninfo))
		return xstrdup(conninfo);
	options = PQconninfoParse(conninfo, &errmsg);
	if (options == NULL)
	{
		PQfreemem(errmsg);
		return xstrdup("(unparsable connection string)");
	}
	for (PQconninfoOption *o = options; o->keyword; o++)
		if (o->val)
			size += strlen(o->keyword) + 2 * strlen(o->val) + 4;
	redacted = xcalloc(1, size);
	for (PQconninfoOption *o = options; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' ||
			strcmp(o->keyword, "password") == 0)
			continue;
		pg_append_keyword(redacted, size, o->keyword, o->val);
	}
	PQconninfoFree(options);
	return redacted;
}

/* Overwrites the value starting at p (up to an end character) with '*'. */
static void
pg_mask_value(char *p, const char *ends)
{
	bool quoted = (*p == '\'');

	if (quoted)
		p++;
	for (; *p; p++)
	{
		if (quoted && *p == '\\' && p[1])
		{
			*p++ = '*';
			*p = '*';
			continue;
		}
		if (quoted ? *p == '\'' : strchr(ends, *p) != NULL)
			break;
		*p = '*';
	}
}

/*
 * Masks passwords in place, leaving the rest readable in `ps`: the
 * password of a URI's user info, and the value of any password keyword
 * (key=value form, or a URI query parameter).
 */
void
pg_conninfo_hide(char *conninfo)
{
	char *p;

	if (strncmp(conninfo, "postgresql://", 13) == 0 ||
		strncmp(conninfo, "postgres://", 11) == 0)
	{
		char *start = strstr(conninfo, "://") + 3;
		size_t len = strcspn(start, "/?");
		char *at = memchr(start, '@', len);
		char *colon = at ? memchr(start, ':', at - start) : NULL;

		if (colon)
			memset(colon + 1, '*', at - colon - 1);
	}
	for (p = strstr(conninfo, "password"); p; p = strstr(p + 1, "password"))
	{
		char *q = p + 8;

		while (*q == ' ')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ')
			q++;
		pg_mask_value(q, " &");
	}
}

/* The `options` the session should start with: the user's, then ours. */
static char *
pg_merge_options(const char *conninfo, const char *extra_options)
{
	const char *user_options = getenv("PGOPTIONS");
	PQconninfoOption *options = NULL;
	char *merged;

	if (pg_is_conninfo(conninfo))
	{
		char *errmsg = NULL;

		options = PQconninfoParse(conninfo, &errmsg);
		PQfreemem(errmsg);
		for (PQconninfoOption *o = options; o && o->keyword; o++)
			if (strcmp(o->keyword, "options") == 0 && o->val)
				user_options = o->val;
	}
	merged = xmalloc((user_options ? strlen(user_options) : 0) +
					 strlen(extra_options) + 2);
	sprintf(merged, "%s%s%s", user_options ? user_options : "",
			user_options ? " " : "", extra_options);
	if (options)
		PQconninfoFree(options);
	return merged;
}

/* pg_connect(), its failure logged at level. */
static PgConn *
pg_connect_logged(const char *conninfo, const char *label, PgConnKind kind,
				  const char *extra_options, LogLevel level)
{
	const char *keywords[5];
	const char *values[5];
	char *options = NULL;
	int n = 0;
	PgConn *conn = xcalloc(1, sizeof(PgConn));

	conn->label = xstrdup(label);
	conn->display = pg_conninfo_redact(conninfo);

	keywords[n] = "dbname";
	values[n++] = conninfo;
	keywords[n] = "fallback_application_name";
	values[n++] = "pgferry";
	if (kind == PG_CONN_REPLICATION)
	{
		keywords[n] = "replication";
		values[n++] = "database";
	}
	if (extra_options)
	{
		options = pg_merge_options(conninfo, extra_options);
		keywords[n] = "options";
		values[n++] = options;
	}
	keywords[n] = NULL;
	values[n] = NULL;

	conn->conn = PQconnectdbParams(keywords, values, 1);
	free(options);
	if (PQstatus(conn->conn) != CONNECTION_OK)
	{
		char *reason = pg_strdup_chomp(PQerrorMessage(conn->conn));
		LogFields fields = LOG_FIELDS_INIT;

		/* one log line: libpq's continuation lines joined */
		for (char *p = reason; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		log_field(&fields, "server", "%s", label);
		log_event(level, &fields,
				  "could not connect to the %s server (%s): %s", label,
				  conn->display, reason);
		if (PQconnectionNeedsPassword(conn->conn) ||
			strstr(reason, "authentication failed") != NULL)
			log_hint("authentication failed for role \"%s\" on the %s "
					 "server: give its password with password= in the "
					 "connection string, PGPASSWORD, or a line of the "
					 "password file ~/.pgpass (PGPASSFILE), and check the "
					 "server's pg_hba.conf",
					 PQuser(conn->conn), label);
		free(reason);
		pg_disconnect(conn);
		return NULL;
	}
	return conn;
}

PgConn *
pg_connect(const char *conninfo, const char *label, PgConnKind kind,
		   const char *extra_options)
{
	return pg_connect_logged(conninfo, label, kind, extra_options,
							 LOG_LEVEL_ERROR);
}

static void *
pg_connect_request(void *arg)
{
	PgConnRequest *request = arg;

	request->conn = pg_connect_logged(request->conninfo, request->label,
									  request->kind, request->extra_options,
									  request->retried ? LOG_LEVEL_WARNING
													   : LOG_LEVEL_ERROR);
	if (request->conn && request->retried)
		pg_set_retried(request->conn);
	return NULL;
}

void
pg_connect_all(PgConnRequest *requests, int n)
{
	pthread_t *threads = xcalloc(n, sizeof(pthread_t));
	bool *started = xcalloc(n, sizeof(bool));

	/* the last one in this thread; one a thread refused too */
	for (int i = 0; i < n - 1; i++)
		started[i] =
			thread_start(&threads[i], pg_connect_request, &requests[i]);
	for (int i = 0; i < n; i++)
		if (!started[i])
			pg_connect_request(&requests[i]);
	for (int i = 0; i < n - 1; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
	free(started);
	free(threads);
}

bool
pg_connect_both(const char *source_conninfo, const char *target_conninfo,
				const char *extra_options, PgConn **source, PgConn **target)
{
	*source =
		pg_connect(source_conninfo, "source", PG_CONN_SQL, extra_options);
	*target = *source ? pg_connect(target_conninfo, "target", PG_CONN_SQL,
								   extra_options)
					  : NULL;
	if (*target == NULL)
	{
		pg_disconnect(*source);
		*source = NULL;
	}
	return *target != NULL;
}

void
pg_disconnect(PgConn *conn)
{
	if (conn == NULL)
		return;
	if (conn->conn)
		PQfinish(conn->conn);
	pg_read_ahead_free(conn);
	pg_error_reset(conn);
	free(conn->label);
	free(conn->display);
	free(conn);
}

const char *
pg_label(const PgConn *conn)
{
	return conn->label;
}

const char *
pg_conn_display(const PgConn *conn)
{
	return conn->display;
}

int
pg_server_version(const PgConn *conn)
{
	return PQserverVersion(conn->conn);
}

const char *
pg_parameter(const PgConn *conn, const char *name)
{
	return PQparameterStatus(conn->conn, name);
}

const char *
pg_user(const PgConn *conn)
{
	return PQuser(conn->conn);
}

const char *
pg_database(const PgConn *conn)
{
	return PQdb(conn->conn);
}

/* --- simple statements -------------------------------------------------------- */

bool
pg_exec(PgConn *conn, const char *sql)
{
	PgResult *res = pg_query(conn, sql, 0, NULL);
	bool ok;

	ok = res != NULL;
	pg_result_free(res);
	return ok;
}

PgResult *
pg_query(PgConn *conn, const char *sql, int nparams, const char *const *values)
{
	PGresult *res;
	ExecStatusType status;

	if (PQpipelineStatus(conn->conn) != PQ_PIPELINE_OFF)
	{
		/* in pipeline mode, a segment of its own */
		PgParams params = {nparams, NULL, values, NULL, NULL};

		if (!pg_send_query(conn, sql, &params) || !pg_pipeline_sync(conn))
			return NULL;
		res = pg_pipeline_result(conn);
		if (!pg_pipeline_wait_sync(conn))
		{
			pg_result_free(res);
			return NULL;
		}
		return res;
	}

	/* a replication connection speaks only the simple query protocol */
	if (nparams == 0)
		res = PQexec(conn->conn, sql);
	else
		res = PQexecParams(conn->conn, sql, nparams, NULL, values, NULL, NULL,
						   0);
	status = PQresultStatus(res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
	{
		pg_error_record(conn, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

PgResult *
pg_query_or_report(PgConn *conn, const char *sql, int nparams,
				   const char *const *values, const char *what_fmt, ...)
{
	PgResult *res = pg_query(conn, sql, nparams, values);
	char what[1024];
	va_list args;

	if (res != NULL)
		return res;
	va_start(args, what_fmt);
	vsnprintf(what, sizeof(what), what_fmt, args);
	va_end(args);
	pg_report(conn, "%s", what);
	return NULL;
}

bool
pg_exec_literal(PgConn *conn, const char *command, const char *value)
{
	char *literal = pg_quote_literal(value);
	Buf sql = BUF_INIT;
	bool ok;

	buf_printf(&sql, "%s %s", command, literal);
	ok = pg_exec(conn, sql.data);
	free(literal);
	buf_free(&sql);
	return ok;
}

/* Two statements: in pipeline mode a query string holds only one. */
bool
pg_begin_in_snapshot(PgConn *conn, const char *name)
{
	return pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") &&
		   pg_exec_literal(conn, "SET TRANSACTION SNAPSHOT", name);
}

bool
pg_export_snapshot(PgConn *conn, char *name, size_t size, Lsn *insert_lsn)
{
	PgResult *res;
	bool ok;

	if ((PQtransactionStatus(conn->conn) != PQTRANS_INTRANS &&
		 !pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")) ||
		(res = pg_query(conn,
						insert_lsn ? "SELECT pg_catalog.pg_export_snapshot(), "
									 "pg_catalog.pg_current_wal_insert_lsn()"
								   : "SELECT pg_catalog.pg_export_snapshot()",
						0, NULL)) == NULL)
		return false;
	snprintf(name, size, "%s", pg_result_value(res, 0, 0));
	ok = insert_lsn == NULL ||
		 pg_lsn_parse(pg_result_value(res, 0, 1), insert_lsn);
	pg_result_free(res);
	return ok;
}

int
pg_result_rows(const PgResult *res)
{
	return PQntuples(res);
}

int
pg_result_columns(const PgResult *res)
{
	return PQnfields(res);
}

const char *
pg_result_value(const PgResult *res, int row, int column)
{
	if (PQgetisnull(res, row, column))
		return NULL;
	return PQgetvalue(res, row, column);
}

bool
pg_result_bool(const PgResult *res, int row, int column)
{
	const char *value = pg_result_value(res, row, column);

	return value && value[0] == 't';
}

long
pg_result_affected(const PgResult *res)
{
	const char *tuples = PQcmdTuples((PGresult *) res);

	return tuples[0] ? atol(tuples) : -1;
}

void
pg_result_free(PgResult *res)
{
	PQclear(res);
}

/* --- quoting ---------------------------------------------------------------- */

/*
 * Always quoted, embedded double quotes doubled: safe in every server
 * encoding, and names in messages then read the same as in SQL.
 */
char *
pg_quote_ident(const char *name)
{
	char *quoted = xmalloc(2 * strlen(name) + 3);
	char *q = quoted;

	*q++ = '"';
	for (const char *p = name; *p; p++)
	{
		if (*p == '"')
			*q++ = '"';
		*q++ = *p;
	}
	*q++ = '"';
	*q = '\0';
	return quoted;
}

/*
 * E'' form when the value holds a backslash, so the literal means the
 * same whatever standard_conforming_strings is.
 */
char *
pg_quote_literal(const char *value)
{
	char *quoted = xmalloc(2 * strlen(value) + 4);
	char *q = quoted;

	if (strchr(value, '\\'))
		*q++ = 'E';
	*q++ = '\'';
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			*q++ = *p;
		*q++ = *p;
	}
	*q++ = '\'';
	*q = '\0';
	return quoted;
}

void
pg_array_add(Buf *array, const char *value)
{
	buf_append_str(array, array->len == 0 ? "{" : ",");
	if (value == NULL)
	{
		buf_append_str(array, "NULL");
		return;
	}
	buf_append_str(array, "\"");
	for (const char *p = value; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			buf_append_str(array, "\\");
		buf_append(array, p, 1);
	}
	buf_append_str(array, "\"");
}

const char *
pg_array_close(Buf *array)
{
	buf_append_str(array, array->len == 0 ? "{}" : "}");
	return array->data;
}

char *
pg_text_array(const char *const *values, int count)
{
	Buf array = BUF_INIT;

	for (int i = 0; i < count; i++)
		pg_array_add(&array, values[i]);
	pg_array_close(&array);
	return array.data;
}

/* --- LSNs --------------------------------------------------------------------- */

bool
pg_lsn_parse(const char *text, Lsn *lsn)
{
	unsigned int hi;
	unsigned int lo;
	int consumed = 0;

	if (sscanf(text, "%X/%X%n", &hi, &lo, &consumed) != 2 ||
		text[consumed] != '\0')
		return false;
	*lsn = ((Lsn) hi << 32) | lo;
	return true;
}

char *
pg_lsn_format(Lsn lsn, char *buf)
{
	snprintf(buf, LSN_TEXT_LEN, "%X/%X", (unsigned int) (lsn >> 32),
			 (unsigned int) lsn);
	return buf;
}

/* --- for child programs ------------------------------------------------------ */

char *
pg_conninfo_password(const char *conninfo)
{
	PQconninfoOption *options;
	char *errmsg = NULL;
	char *password = NULL;

	if (!pg_is_conninfo(conninfo))
		return NULL;
	options = PQconninfoParse(conninfo, &errmsg);
	PQfreemem(errmsg);
	for (PQconninfoOption *o = options; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			password = xstrdup(o->val);
	if (options)
		PQconninfoFree(options);
	return password;
}
