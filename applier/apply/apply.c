/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  The target side: statements that make the target equal the source.
 *
 * Every statement is queued in pipeline mode with what its result must
 * show (an "expectation"); the results are read in order and checked:
 * rows an update did not find are a conflict, deletes that found nothing
 * are counted.  Statements whose SQL serves other rows (arrays of any
 * length, see stmt.c) are prepared once per session.
 *
 * The expectations of a commit in flight are the first commit_expects of
 * the queue, ending at its sync point; what is queued after them belongs
 * to the next target transaction and is read at the next sync point.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "apply/prepared.h"
#include "apply/sequences.h"
#include "apply/stmt.h"
#include "apply/tablemetrics.h"
#include "apply/target.h"
#include "common/buf.h"
#include "common/exit.h"
#include "common/log.h"
#include "common/metrics.h"
#include "state/appliers.h"

typedef enum ExpectKind
{
	EXPECT_NOTHING,
	EXPECT_ORDS,	/* returns the ord of each row updated; a row
								 * not found is a conflict */
	EXPECT_DELETED, /* count of rows deleted */
	EXPECT_INSERTED /* count of missing rows inserted */
} ExpectKind;

typedef struct Expect
{
	ExpectKind kind;
	const ApplyGroup *group;
	int first_row; /* the statement's rows in the group */
	int nrows;
	char what[200]; /* "insert 12 rows into table ..." */
} Expect;

typedef bool (*MessageHandler)(Applier *applier, const ApplyGroup *group);

static bool apply_ddl(Applier *applier, const ApplyGroup *group);
static bool apply_sequences(Applier *applier, const ApplyGroup *group);

/*
 * Handlers of logical messages with a "pgferry" prefix, by prefix.  DDL
 * replication registers its handler here; messages of other prefixes are
 * not pgferry's business and are ignored.  A NULL handler: a marker that
 * pgferry verify and cutover write on the source (state/appliers.h) so that the
 * applier moves past a point, which it does by applying the marker's
 * commit: there is nothing else to do.
 */
static const struct
{
	const char *prefix;
	MessageHandler handler;
} message_handlers[] = {{DDL_MESSAGE_PREFIX, apply_ddl},
						{SEQUENCES_MESSAGE_PREFIX, apply_sequences},
						{VERIFY_MARKER_PREFIX, NULL},
						{CUTOVER_MARKER_PREFIX, NULL},
						{NULL, NULL}};

/*
 * Bounds of one statement: rows, and bytes of values (a statement is built
 * in memory, then sent; the target starts on it while the next is built).
 */
#define APPLY_STATEMENT_ROWS 1000
#define APPLY_STATEMENT_BYTES (4 * 1024 * 1024)

struct Applier
{
	PgConn *conn;
	bool in_transaction;
	bool fires_triggers;
	bool net_effect;	  /* writes net effects (apply_set_net_effect) */
	ApplyFailure failure; /* why the last failure happened */

	Expect *expects;
	int nexpects;
	int expects_size;
	int commit_expects; /* of the commit in flight; 0: none */
	bool commit_failed; /* the last commit read did not commit */

	PreparedSet *prepared;

	Stmt stmt; /* reused from statement to statement */
	ApplyCounters counters;
	uint64_t rows_recorded; /* counters.rows at the last commit */
	DdlSettings ddl;
};

static const char session_setup[] =
	"SET statement_timeout = 0; SET lock_timeout = 0; "
	"SET idle_in_transaction_session_timeout = 0; "
	"SET datestyle = ISO; SET intervalstyle = postgres; "
	"SET extra_float_digits = 3; SET timezone = 'UTC'; SET lc_monetary = 'C'; "
	"SET search_path = pg_catalog";

/* Sets *fires: whether triggers and foreign keys fire on what is applied. */
static bool
apply_session_role(PgConn *conn, bool *fires)
{
	*fires = false;
	if (pg_exec(conn, "SET session_replication_role = replica"))
		return true;
	if (strcmp(pg_error_sqlstate(conn), "42501") != 0)
	{
		pg_report(conn, "set session_replication_role");
		return false;
	}
	*fires = true;
	log_warning("target: role \"%s\" may not set session_replication_role: "
				"triggers and foreign key checks of the target fire while "
				"changes are applied",
				pg_user(conn));
	log_hint("connect as a superuser, or have one run: GRANT SET ON "
			 "PARAMETER session_replication_role TO \"%s\" (PostgreSQL 15 "
			 "and later); --fire-triggers asks for this behaviour and "
			 "silences this warning.  Changes are then written in source "
			 "order, one by one, as triggers must see them",
			 pg_user(conn));
	return true;
}

Applier *
apply_create(PgConn *conn, bool fire_triggers)
{
	Applier *applier;
	bool fires = true;

	if (!fire_triggers && !apply_session_role(conn, &fires))
		return NULL;
	if (!pg_exec(conn, session_setup))
	{
		pg_report(conn, "prepare the target session");
		return NULL;
	}

	/*
	 * A statement's rows come as arrays whose length the planner would see
	 * on each custom plan: for a few thousand keys it may then pick a hash
	 * join over the whole table, where the generic plan probes the key's
	 * index.  Servers before 12 lack the setting.
	 */
	if (!pg_exec(conn, "SET plan_cache_mode = force_generic_plan") &&
		strcmp(pg_error_sqlstate(conn), "42704") != 0)
	{
		pg_report(conn, "prepare the target session");
		return NULL;
	}
	if (!pg_pipeline_begin(conn))
	{
		pg_report(conn, "enter pipeline mode");
		return NULL;
	}
	applier = xcalloc(1, sizeof(Applier));
	applier->conn = conn;
	applier->fires_triggers = fires;
	applier->prepared = prepared_create();
	stmt_init(&applier->stmt);
	return applier;
}

void
apply_destroy(Applier *applier)
{
	if (applier == NULL)
		return;
	prepared_destroy(applier->prepared);
	free(applier->expects);
	stmt_free(&applier->stmt);
	free(applier);
}

bool
apply_set_encoding(Applier *applier, const char *encoding)
{
	bool ok =
		pg_exec_literal(applier->conn, "SET client_encoding =", encoding);

	if (!ok)
		pg_report(applier->conn, "use the source's encoding %s", encoding);
	return ok;
}

const ApplyCounters *
apply_counters(const Applier *applier)
{
	return &applier->counters;
}

ApplyFailure
apply_failure(const Applier *applier)
{
	return applier->failure;
}

void
apply_set_net_effect(Applier *applier, bool net_effect)
{
	applier->net_effect = net_effect;
}

bool
apply_fires_triggers(const Applier *applier)
{
	return applier->fires_triggers;
}

bool
apply_commit_pending(const Applier *applier)
{
	return applier->commit_expects > 0;
}

bool
apply_commit_failed(const Applier *applier)
{
	return applier->commit_failed;
}

/* Records why the connection's last error happened. */
static void
apply_classify_failure(Applier *applier)
{
	const char *state = pg_error_sqlstate(applier->conn);

	if (pg_error_is_transient(applier->conn))
		applier->failure = APPLY_TRANSIENT;
	else if (strncmp(state, "23", 2) == 0 || strcmp(state, "21000") == 0)
		applier->failure = APPLY_ORDER; /* integrity; a row twice */
	else
		applier->failure = APPLY_FAILED;
}

/* --- sending ------------------------------------------------------------ */

static Expect *
apply_expect(Applier *applier, ExpectKind kind, const ApplyGroup *group,
			 int first_row, int nrows)
{
	Expect *expect;

	if (applier->nexpects == applier->expects_size)
	{
		applier->expects_size =
			applier->expects_size ? 2 * applier->expects_size : 64;
		applier->expects =
			xrealloc(applier->expects, applier->expects_size * sizeof(Expect));
	}
	expect = &applier->expects[applier->nexpects++];
	expect->kind = kind;
	expect->group = group;
	expect->first_row = first_row;
	expect->nrows = nrows;
	expect->what[0] = '\0';
	return expect;
}

static bool
apply_send_failed(Applier *applier, const char *what)
{
	apply_classify_failure(applier);
	pg_report(applier->conn, "send the statement to %s", what);
	return false;
}

/* Queues a statement without parameters. */
static bool
apply_send_command(Applier *applier, const char *sql, const char *what)
{
	Expect *expect = apply_expect(applier, EXPECT_NOTHING, NULL, 0, 0);

	snprintf(expect->what, sizeof(expect->what), "%s", what);
	if (!pg_send_query(applier->conn, sql, NULL))
		return apply_send_failed(applier, what);
	return true;
}

/*
 * The source checked its deferrable constraints at each commit, after a
 * statement had moved a unique value from one row to another: so does
 * the target, or a statement it applies row by row could fail where the
 * source's did not.
 */
static bool
apply_begin(Applier *applier)
{
	if (applier->in_transaction)
		return true;
	applier->in_transaction = true;
	return apply_send_command(applier, "BEGIN", "begin a transaction") &&
		   apply_send_command(applier, "SET CONSTRAINTS ALL DEFERRED",
							  "defer the constraints");
}

/*
 * Puts in name the prepared statement for stmt, queuing its PREPARE if
 * the session does not have it yet.
 */
static bool
apply_prepare(Applier *applier, const Stmt *stmt, const ApplyGroup *group,
			  char *name)
{
	Expect *expect;

	if (prepared_full(applier->prepared))
	{
		/* many relation versions came and went: start afresh */
		if (!apply_send_command(applier, "DEALLOCATE ALL",
								"drop prepared statements"))
			return false;
		prepared_forget(applier->prepared);
	}
	if (!prepared_lookup(applier->prepared, stmt, name))
		return true;
	expect = apply_expect(applier, EXPECT_NOTHING, group, 0, 0);
	snprintf(expect->what, sizeof(expect->what),
			 "prepare a statement for table %s",
			 ((const TargetRel *) group->rel->target)->display);
	if (!pg_send_prepare(applier->conn, name, stmt->sql.data, stmt->nparams,
						 stmt->types))
		return apply_send_failed(applier, "prepare a statement");
	return true;
}

/* Queues the statement built in applier->stmt, with its expectation. */
static bool
apply_send(Applier *applier, ExpectKind kind, const ApplyGroup *group,
		   int first_row, int nrows, const char *verb)
{
	Stmt *stmt = &applier->stmt;
	PgParams params = {stmt->nparams, stmt->types, stmt->values, stmt->lengths,
					   stmt->formats};
	Expect *expect;
	bool sent;

	if (!apply_begin(applier))
		return false;
	if (stmt->reusable)
	{
		char name[PREPARED_NAME_LEN];

		if (!apply_prepare(applier, stmt, group, name))
			return false;
		expect = apply_expect(applier, kind, group, first_row, nrows);
		sent = pg_send_prepared(applier->conn, name, &params);
	}
	else
	{
		expect = apply_expect(applier, kind, group, first_row, nrows);
		sent = pg_send_query(applier->conn, stmt->sql.data, &params);
	}
	snprintf(expect->what, sizeof(expect->what), "%s %d %s of table %s", verb,
			 nrows, plural(nrows, "row", "rows"),
			 ((const TargetRel *) group->rel->target)->display);
	applier->counters.statements++;
	if (!sent)
		return apply_send_failed(applier, expect->what);
	return true;
}

bool
apply_push(Applier *applier)
{
	if (!pg_pipeline_push(applier->conn))
	{
		apply_classify_failure(applier);
		pg_report(applier->conn, "send statements");
		return false;
	}
	/* the server answers a segment at its sync: all of it, or nothing yet */
	if (applier->commit_expects > 0 && pg_pipeline_ready(applier->conn))
		return apply_finish_commit(applier);
	return true;
}

/*
 * How many rows from rows[0] (n of them) the next statement takes: at
 * most what one statement may carry (stmt_rows_per_statement), and
 * within APPLY_STATEMENT_ROWS and APPLY_STATEMENT_BYTES.
 */
static int
apply_chunk(const Rel *rel, const TargetRel *target, const RowChange *rows,
			int n)
{
	int limit = stmt_rows_per_statement(rel, target, n);
	int64_t bytes = 0;
	int taken = 0;

	if (limit > APPLY_STATEMENT_ROWS)
		limit = APPLY_STATEMENT_ROWS;
	while (taken < limit && (taken == 0 || bytes < APPLY_STATEMENT_BYTES))
	{
		const RowChange *row = &rows[taken++];

		for (int i = 0; i < rel->ncolumns; i++)
		{
			if (row->new_values)
				bytes += row->new_values[i].len;
			if (row->old_values)
				bytes += row->old_values[i].len;
		}
	}
	return taken;
}

/* --- groups ------------------------------------------------------------- */

/* Whether a row change carries the whole new row (no unchanged TOAST). */
static bool
apply_whole_row(const Rel *rel, const RowChange *row)
{
	for (int i = 0; i < rel->ncolumns; i++)
		if (row->new_values[i].kind == VALUE_UNCHANGED)
			return false;
	return true;
}

/*
 * The target mapping of rel.  Its catalog lookup is a pipeline segment of
 * its own, so whatever was queued is synced (and checked) first.
 */
static TargetRel *
apply_target(Applier *applier, Rel *rel)
{
	TargetRel *target;

	if (rel->target)
		return rel->target;
	if (!apply_sync(applier))
		return NULL;
	target = target_rel(applier->conn, rel);
	if (target == NULL)
		apply_classify_failure(applier);
	return target;
}

/*
 * Updates and deletes need a way to find the row: a key, or the whole old
 * row (identity FULL, whose key is every column: none in a table without
 * columns).
 */
static bool
apply_check_identity(const Rel *rel, const RowChange *row)
{
	LogFields fields = LOG_FIELDS_INIT;

	if (row->kind == CHANGE_INSERT)
		return true;
	if (rel->identity == REL_IDENTITY_FULL && row->old_kind == OLD_ROW)
		return true;
	if (rel->nkeys > 0 && rel->identity != REL_IDENTITY_NOTHING &&
		(row->kind == CHANGE_UPDATE || row->old_kind != OLD_NONE))
		return true;
	log_field(&fields, "table", "%s", rel_display(rel));
	log_event(LOG_LEVEL_ERROR, &fields,
			  "cannot apply %s of table %s: the source identifies its rows "
			  "by nothing (replica identity %s)",
			  row->kind == CHANGE_UPDATE ? "an update" : "a delete",
			  fields.field[0].value,
			  rel->identity == REL_IDENTITY_NOTHING
				  ? "NOTHING"
				  : "DEFAULT without a primary key");
	log_detail("the change is in the WAL without a key, and no later ALTER "
			   "TABLE gives it one: it can never be applied, so the table "
			   "must be migrated again");
	log_hint("on the source, give the table a primary key or run ALTER "
			 "TABLE %s REPLICA IDENTITY FULL (or USING INDEX) so that its "
			 "later changes carry one; the other tables can go on without "
			 "it with pgferry follow on this slot and --exclude-tables '%s' "
			 "added to its table filters (pgferry migrate takes no new "
			 "table filters); the table is then no longer kept equal on "
			 "the target, and only a new migration brings it back",
			 rel_display(rel), rel_display(rel));
	return false;
}

/*
 * Inserts, and updates of whole rows.  With an arbiter, both are one
 * statement (INSERT ... ON CONFLICT DO UPDATE), but for a GROUP_INSERT,
 * whose plain INSERT costs the target half as much as one that checks for
 * a conflict first (speculative insertion).  Without an arbiter, inserts are
 * plain and updates find rows by key; so too when a column is written by
 * an INSERT but by no UPDATE (GENERATED ALWAYS identity), which ON
 * CONFLICT DO UPDATE would leave as it was: the update then moves the row
 * (stmt_update_by_key).
 */
static bool
apply_upsert(Applier *applier, const ApplyGroup *group, TargetRel *target)
{
	const Rel *rel = group->rel;
	bool one_statement = target->conflict_sql && !target->overriding;
	int start = 0;

	while (start < group->nrows)
	{
		const RowChange *rows = &group->rows[start];
		bool updates = rows[0].kind == CHANGE_UPDATE;
		int limit = apply_chunk(rel, target, rows, group->nrows - start);
		int n = 1;
		bool ok;

		while (n < limit &&
			   (one_statement || (rows[n].kind == CHANGE_UPDATE) == updates))
			n++;
		stmt_reset(&applier->stmt);
		if (one_statement || !updates)
		{
			bool on_conflict =
				group->kind == GROUP_UPSERT && target->conflict_sql;

			stmt_upsert(&applier->stmt, rel, target, rows, n, on_conflict);
			ok = apply_send(applier, EXPECT_NOTHING, group, start, n,
							on_conflict ? "insert or update" : "insert");
		}
		else
		{
			if (!apply_check_identity(rel, &rows[0]))
				return false;
			stmt_update_by_key(&applier->stmt, rel, target, rows, n, true);
			ok = apply_send(applier, EXPECT_INSERTED, group, start, n,
							"update");
		}
		if (!ok)
			return false;
		start += n;
	}
	return true;
}

static bool
apply_by_key(Applier *applier, const ApplyGroup *group, TargetRel *target)
{
	const Rel *rel = group->rel;

	if (!apply_check_identity(rel, &group->rows[0]))
		return false;
	for (int start = 0; start < group->nrows;)
	{
		int n = apply_chunk(rel, target, &group->rows[start],
							group->nrows - start);
		bool ok;

		stmt_reset(&applier->stmt);
		if (group->kind == GROUP_DELETE)
		{
			stmt_delete_by_key(&applier->stmt, rel, target,
							   &group->rows[start], n);
			ok = apply_send(applier,
							group->absent_ok ? EXPECT_NOTHING : EXPECT_DELETED,
							group, start, n, "delete");
		}
		else
		{
			stmt_update_by_key(&applier->stmt, rel, target,
							   &group->rows[start], n, false);
			ok = apply_send(applier, EXPECT_ORDS, group, start, n, "update");
		}
		if (!ok)
			return false;
		start += n;
	}
	return true;
}

/* One update or delete found by its old key or its whole old row. */
static bool
apply_row(Applier *applier, const ApplyGroup *group, TargetRel *target)
{
	const Rel *rel = group->rel;
	const RowChange *row = &group->rows[0];
	bool whole;

	if (!apply_check_identity(rel, row))
		return false;
	stmt_reset(&applier->stmt);
	if (row->kind == CHANGE_DELETE)
	{
		stmt_row_delete(&applier->stmt, rel, target, row);
		return apply_send(applier, EXPECT_DELETED, group, 0, 1, "delete");
	}
	whole = apply_whole_row(rel, row);
	if (row->old_kind == OLD_KEY)
		stmt_update_by_key(&applier->stmt, rel, target, row, 1, whole);
	else
		stmt_row_update(&applier->stmt, rel, target, row, whole);
	return apply_send(applier, whole ? EXPECT_INSERTED : EXPECT_ORDS, group, 0,
					  1, "update");
}

static bool
apply_truncate(Applier *applier, const ApplyGroup *group)
{
	Buf sql = BUF_INIT;
	bool ok;

	buf_append_str(&sql, "TRUNCATE ");
	for (int i = 0; i < group->nrels; i++)
	{
		const TargetRel *target = apply_target(applier, group->rels[i]);

		if (target == NULL)
		{
			buf_free(&sql);
			return false;
		}
		buf_printf(&sql, "%s%s", i ? ", " : "", target->name_sql);
	}
	if (group->restart_identity)
		buf_append_str(&sql, " RESTART IDENTITY");
	if (group->cascade)
		buf_append_str(&sql, " CASCADE");
	ok = apply_begin(applier) &&
		 apply_send_command(applier, sql.data, "truncate");
	if (ok)
		snprintf(applier->expects[applier->nexpects - 1].what,
				 sizeof(applier->expects[0].what), "%s", sql.data);
	buf_free(&sql);
	return ok;
}

/* The handler of prefix's messages, or NULL. */
static MessageHandler
apply_message_handler(const char *prefix)
{
	for (int i = 0; message_handlers[i].prefix; i++)
		if (strcmp(message_handlers[i].prefix, prefix) == 0)
			return message_handlers[i].handler;
	return NULL;
}

bool
apply_message_handled(const char *prefix)
{
	return apply_message_handler(prefix) != NULL;
}

bool
apply_message_awaited(const char *prefix)
{
	for (int i = 0; message_handlers[i].prefix; i++)
		if (strcmp(message_handlers[i].prefix, prefix) == 0)
			return message_handlers[i].handler == NULL;
	return false;
}

void
apply_message_ignored(Applier *applier, const char *prefix)
{
	for (int i = 0; message_handlers[i].prefix; i++)
		if (strcmp(message_handlers[i].prefix, prefix) == 0)
			return; /* a marker: its commit is what counts */
	if (strncmp(prefix, "pgferry", 7) == 0)
	{
		applier->counters.messages_ignored++;
		log_verbose("ignored a logical message with prefix \"%s\": no "
					"handler for it in this version",
					prefix);
	}
}

static bool
apply_message(Applier *applier, const ApplyGroup *group)
{
	MessageHandler handler = apply_message_handler(group->prefix);

	if (handler == NULL)
	{
		apply_message_ignored(applier, group->prefix);
		return true;
	}
	return handler(applier, group);
}

void
apply_set_ddl(Applier *applier, const DdlSettings *settings)
{
	applier->ddl = *settings;
}

/*
 * A schema change: a pipeline segment of its own, in the open target
 * transaction, after every result queued before it has been read.
 */
static bool
apply_ddl(Applier *applier, const ApplyGroup *group)
{
	bool transient;

	if (!apply_begin(applier) || !apply_sync(applier))
		return false;
	if (ddl_replay(applier->conn, &applier->ddl, group->content,
				   group->content_len, group->lsn, &transient))
		return true;
	applier->failure = transient ? APPLY_TRANSIENT : APPLY_FAILED;
	return false;
}

/* The source's sequences' values: like DDL, a segment of its own. */
static bool
apply_sequences(Applier *applier, const ApplyGroup *group)
{
	if (!apply_begin(applier) || !apply_sync(applier))
		return false;
	if (sequences_apply(applier->conn, group->content, group->content_len,
						group->lsn))
		return true;
	apply_classify_failure(applier);
	return false;
}

bool
apply_group(Applier *applier, const ApplyGroup *group)
{
	TargetRel *target;

	switch (group->kind)
	{
		case GROUP_TRUNCATE:
			return apply_truncate(applier, group);
		case GROUP_MESSAGE:
			return apply_message(applier, group);
		default:
			break;
	}
	if ((target = apply_target(applier, group->rel)) == NULL)
		return false;
	applier->counters.rows += group->nrows;
	tablemetrics_written(group->rel, group->rows, group->nrows);
	switch (group->kind)
	{
		case GROUP_UPSERT:
		case GROUP_INSERT:
			return apply_upsert(applier, group, target);
		case GROUP_UPDATE:
		case GROUP_DELETE:
			return apply_by_key(applier, group, target);
		default:
			return apply_row(applier, group, target);
	}
}

/* --- results ------------------------------------------------------------ */

/* Logs a failed statement with a hint chosen by its SQLSTATE. */
static void
apply_report_failure(Applier *applier, const Expect *expect)
{
	PgConn *conn = applier->conn;
	const char *state = pg_error_sqlstate(conn);

	apply_classify_failure(applier);
	if (applier->failure == APPLY_ORDER && applier->net_effect)
	{
		/* the batch is written again in source order, which may pass */
		pg_report_at(conn, LOG_LEVEL_INFO, "%s", expect->what);
		return;
	}
	pg_report(conn, "%s", expect->what);
	if (applier->failure == APPLY_TRANSIENT)
		return;
	/* no cast for a binary value of another type, or no operator for it */
	if ((strcmp(state, "42804") == 0 || strcmp(state, "42846") == 0 ||
		 strcmp(state, "42883") == 0) &&
		expect->group &&
		target_report_conversions(expect->group->rel,
								  expect->group->rel->target))
		return;
	if (strcmp(state, "42501") == 0)
		log_hint("grant role \"%s\" SELECT, INSERT, UPDATE, DELETE and "
				 "TRUNCATE on the table (and USAGE on its schema) on the "
				 "target",
				 pg_user(conn));
	else if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0)
		log_hint("the target's table differs from the source's: make them "
				 "match, then restart pgferry");
	else if (pg_error_is_encoding(conn))
		return; /* apply_report_encoding(), once the segment is read */
	else if (strncmp(state, "22", 2) == 0 || strcmp(state, "42804") == 0)
		log_hint("the target column's type cannot take the source's value: "
				 "give it the source's type, then restart pgferry");
	else if (strncmp(state, "23", 2) == 0)
		log_hint("a constraint of the target rejects the source's row: the "
				 "target must not be written to by anything but pgferry, and "
				 "its constraints must match the source's");
}

static char *apply_key_text(Applier *applier, const ApplyGroup *group,
							int row);

/* Whether the target refuses value of column of group's table. */
static bool
apply_value_refused(Applier *applier, const ApplyGroup *group, int column,
					const ChangeValue *value)
{
	Stmt stmt;
	PgParams params;
	PgResult *res;
	bool refused = false;

	if (value->kind != VALUE_TEXT && value->kind != VALUE_BINARY)
		return false;
	stmt_init(&stmt);
	stmt_value_probe(&stmt, group->rel, group->rel->target, column, value);
	params = (PgParams){stmt.nparams, stmt.types, stmt.values, stmt.lengths,
						stmt.formats};
	if (pg_send_query(applier->conn, stmt.sql.data, &params) &&
		pg_pipeline_sync(applier->conn))
	{
		res = pg_pipeline_result(applier->conn);
		refused = res == NULL && pg_error_is_encoding(applier->conn);
		pg_result_free(res);
		pg_pipeline_wait_sync(applier->conn);
	}
	stmt_free(&stmt);
	return refused;
}

/*
 * After the target refused a character of a statement's rows: names the
 * row (by its key) and the column that hold it, and the way on.
 */
static void
apply_report_encoding(Applier *applier, const Expect *expect)
{
	const ApplyGroup *group = expect->group;
	const Rel *rel = group->rel;

	/* the failed transaction is over; each probe runs on its own */
	if (pg_send_query(applier->conn, "ROLLBACK", NULL) &&
		pg_pipeline_sync(applier->conn))
	{
		pg_result_free(pg_pipeline_result(applier->conn));
		pg_pipeline_wait_sync(applier->conn);
	}
	applier->in_transaction = false;
	for (int r = expect->first_row; r < expect->first_row + expect->nrows; r++)
	{
		const RowChange *row = &group->rows[r];

		for (int i = 0; i < rel->ncolumns; i++)
		{
			char *key;

			if (!(row->new_values &&
				  apply_value_refused(applier, group, i,
									  &row->new_values[i])) &&
				!(row->old_values &&
				  apply_value_refused(applier, group, i, &row->old_values[i])))
				continue;
			key = apply_key_text(applier, group, r);
			log_detail("the value of column \"%s\" of the row with key (%s) "
					   "of table %s",
					   rel->columns[i].name, key ? key : "?",
					   ((const TargetRel *) rel->target)->display);
			free(key);
			pg_hint_encoding(applier->conn);
			return;
		}
	}
	pg_hint_encoding(applier->conn);
}

/* The text of the key of row (for a conflict message), or NULL. */
static char *
apply_key_text(Applier *applier, const ApplyGroup *group, int row)
{
	Stmt stmt;
	PgParams params;
	PgResult *res;
	char *text = NULL;

	stmt_init(&stmt);
	stmt_key_text(&stmt, group->rel, group->rel->target, &group->rows[row]);
	params = (PgParams){stmt.nparams, stmt.types, stmt.values, stmt.lengths,
						stmt.formats};
	if (pg_send_query(applier->conn, stmt.sql.data, &params) &&
		pg_pipeline_sync(applier->conn))
	{
		res = pg_pipeline_result(applier->conn);
		if (res && pg_result_rows(res) == 1)
			text = xstrdup(pg_result_value(res, 0, 0));
		pg_result_free(res);
		pg_pipeline_wait_sync(applier->conn);
	}
	stmt_free(&stmt);
	return text;
}

static void
apply_report_conflict(Applier *applier, const Expect *expect, int row)
{
	char *key = apply_key_text(applier, expect->group, row);
	LogFields fields = LOG_FIELDS_INIT;

	log_field(&fields, "table", "%s",
			  ((const TargetRel *) expect->group->rel->target)->display);
	log_field(&fields, "key", "%s", key ? key : "?");
	log_event(LOG_LEVEL_ERROR, &fields,
			  "conflict: an update of table %s finds no row with key (%s) "
			  "on the target, and the source did not send the whole row "
			  "(unchanged TOASTed columns) to insert it",
			  fields.field[0].value, key ? key : "?");
	log_hint("the target lacks a row the source has: insert that row on "
			 "the target (from the source), then restart pgferry; a table "
			 "that lacks more rows must be migrated again");
	free(key);
}

/*
 * Checks an EXPECT_ORDS result; returns the first row (in the group) it
 * did not find, or -1.
 */
static int
apply_missing_ord(const Expect *expect, const PgResult *res)
{
	bool *found;
	int missing = -1;

	if (pg_result_rows(res) >= expect->nrows)
		return -1;
	found = xcalloc(expect->nrows, sizeof(bool));
	for (int i = 0; i < pg_result_rows(res); i++)
	{
		long ord = atol(pg_result_value(res, i, 0));

		if (ord >= 1 && ord <= expect->nrows)
			found[ord - 1] = true;
	}
	for (int i = 0; i < expect->nrows && missing < 0; i++)
		if (!found[i])
			missing = expect->first_row + i;
	free(found);
	return missing;
}

/*
 * Reads and drops the results of what is queued after the first count
 * expectations (the next target transaction's statements), so that a
 * query of its own can follow: the session is failing, and what it had
 * queued will never commit.
 */
static void
apply_discard_after(Applier *applier, int count)
{
	if (applier->nexpects == count || !pg_pipeline_sync(applier->conn))
		return;
	for (int i = count; i < applier->nexpects; i++)
		pg_result_free(pg_pipeline_result(applier->conn));
	pg_pipeline_wait_sync(applier->conn);
	applier->nexpects = count;
}

/* kind: delete_missing or update_missing (pgferry_conflicts_total) */
static void
apply_count_conflicts(const char *kind, long count)
{
	metrics_add(metrics_series(METRIC_CONFLICTS, kind, NULL), count);
}

/*
 * Reads the results of the first count expectations, up to the sync point
 * that ends them, checks them, and drops them from the queue.
 */
static bool
apply_read_segment(Applier *applier, int count)
{
	const Expect *conflict = NULL;
	const Expect *refused = NULL; /* a character the target cannot hold */
	int conflict_row = -1;
	bool ok = true;

	for (int i = 0; i < count && ok; i++)
	{
		const Expect *expect = &applier->expects[i];
		PgResult *res = pg_pipeline_result(applier->conn);
		long affected;

		if (res == NULL)
		{
			apply_report_failure(applier, expect);
			if (expect->group && pg_error_is_encoding(applier->conn))
				refused = expect;
			ok = false;
			break;
		}
		affected = pg_result_affected(res);
		switch (expect->kind)
		{
			case EXPECT_NOTHING:
				break;
			case EXPECT_ORDS:
				conflict_row = apply_missing_ord(expect, res);
				if (conflict_row >= 0)
				{
					conflict = expect;
					ok = false;
				}
				break;
			case EXPECT_DELETED:
				if (affected < expect->nrows)
				{
					applier->counters.missing_deletes +=
						expect->nrows - affected;
					apply_count_conflicts("delete_missing",
										  expect->nrows - affected);
				}
				break;
			case EXPECT_INSERTED:
				if (affected > 0)
				{
					applier->counters.missing_updates += affected;
					apply_count_conflicts("update_missing", affected);
				}
				break;
		}
		pg_result_free(res);
	}
	if (!pg_pipeline_wait_sync(applier->conn) && ok)
	{
		/* a failure only the sync point reveals (the connection) */
		apply_classify_failure(applier);
		pg_report(applier->conn, "apply changes");
		ok = false;
	}
	if (refused)
	{
		apply_discard_after(applier, count);
		apply_report_encoding(applier, refused);
	}
	if (conflict)
	{
		applier->failure = APPLY_FAILED;
		apply_discard_after(applier, count);
		apply_report_conflict(applier, conflict, conflict_row);
	}
	applier->nexpects -= count;
	memmove(applier->expects, applier->expects + count,
			applier->nexpects * sizeof(Expect));
	return ok;
}

bool
apply_finish_commit(Applier *applier)
{
	int count = applier->commit_expects;

	if (count == 0)
		return true;
	applier->commit_expects = 0;
	applier->commit_failed = !apply_read_segment(applier, count);
	return !applier->commit_failed;
}

bool
apply_sync(Applier *applier)
{
	if (!apply_finish_commit(applier))
		return false;
	if (applier->nexpects == 0)
		return true;
	if (!pg_pipeline_sync(applier->conn))
		return apply_send_failed(applier, "the target");
	return apply_read_segment(applier, applier->nexpects);
}

/* Whether a statement of the open transaction may find rows missing. */
static bool
apply_expects_rows(const Applier *applier)
{
	for (int i = applier->commit_expects; i < applier->nexpects; i++)
		if (applier->expects[i].kind == EXPECT_ORDS)
			return true;
	return false;
}

bool
apply_commit(Applier *applier, const ProgressKey *key, Lsn commit_lsn,
			 Lsn end_lsn)
{
	Expect *expect;

	/*
	 * An update that finds no row is no error to the server: a COMMIT sent
	 * behind it would record the position past a change the target never
	 * took, and a restart would skip it.  Such statements are read first.
	 */
	if (!(apply_expects_rows(applier) ? apply_sync(applier)
									  : apply_finish_commit(applier)) ||
		!apply_begin(applier))
		return false;
	expect = apply_expect(applier, EXPECT_NOTHING, NULL, 0, 0);
	snprintf(expect->what, sizeof(expect->what),
			 "record the position in pgferry.progress");
	if (!progress_send(applier->conn, key, commit_lsn, end_lsn,
					   applier->counters.rows - applier->rows_recorded))
		return apply_send_failed(applier, "pgferry.progress");
	if (!apply_send_command(applier, "COMMIT", "commit"))
		return false;
	applier->in_transaction = false;
	if (!pg_pipeline_sync(applier->conn))
		return apply_send_failed(applier, "the target");
	applier->commit_expects = applier->nexpects;
	applier->rows_recorded = applier->counters.rows;
	return true;
}
