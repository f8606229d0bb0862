/*-------------------------------------------------------------------------
 *
 * appliers.c
 *	  Which pgferry appliers follow a source into a target, and how far
 *	  they have got.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "state/appliers.h"

/* How often appliers_wait() says what it waits for. */
#define WAIT_LOG_SECONDS 5.0

/*
 * How often appliers_wait() reads the target's progress: often in its
 * first second (the cutover waits inside its read-only window, which a
 * coarser poll would lengthen), then less.
 */
#define WAIT_POLL_FIRST_MS 2
#define WAIT_POLL_MS 20

/* The slot name's room: NAMEDATALEN - 1. */
#define SLOT_NAME_MAX 63

bool
source_id_read(PgConn *source, SourceId *id)
{
	PgResult *res =
		pg_query_or_report(source,
						   "SELECT s.system_identifier::pg_catalog.text, "
						   "pg_catalog.current_database() "
						   "FROM pg_catalog.pg_control_system() s",
						   0, NULL, "identify the source database");

	memset(id, 0, sizeof(SourceId));
	if (res == NULL)
		return false;
	id->system_identifier = xstrdup(pg_result_value(res, 0, 0));
	id->database = xstrdup(pg_result_value(res, 0, 1));
	id->database_sql = pg_quote_ident(id->database);
	pg_result_free(res);
	return true;
}

void
source_id_free(SourceId *id)
{
	free(id->system_identifier);
	free(id->database);
	free(id->database_sql);
	memset(id, 0, sizeof(SourceId));
}

/* The slots as a text[] literal (free it). */
static char *
appliers_array(const Appliers *appliers)
{
	Buf array = BUF_INIT;

	for (int i = 0; i < appliers->count; i++)
		pg_array_add(&array, appliers->slots[i].name);
	pg_array_close(&array);
	return array.data;
}

/*
 * The names of the slots with progress for the source, and of its
 * migrations in the stream phase (comma-separated): a migration with no
 * write on the source since its copy has recorded no progress yet, and is
 * caught up all the same; the marker a wait writes gives it its row.
 */
static char *
appliers_recorded(PgConn *target, const SourceId *id)
{
	const char *params[2] = {id->system_identifier, id->database};
	PgResult *res;
	Buf sql = BUF_INIT;
	char *names;

	res = pg_query_or_report(
		target,
		"SELECT pg_catalog.to_regclass('pgferry.progress') IS NOT NULL, "
		"pg_catalog.to_regclass('pgferry.migration') IS NOT NULL",
		0, NULL, "look for pgferry.progress");
	if (res == NULL)
		return NULL;
	if (pg_result_value(res, 0, 0)[0] != 't')
	{
		pg_result_free(res);
		return xstrdup("");
	}
	buf_printf(&sql, "SELECT COALESCE(pg_catalog.string_agg(name, ',' "
					 "ORDER BY name), '') FROM (SELECT slot_name "
					 "FROM pgferry.progress "
					 "WHERE system_identifier = $1 AND database = $2");
	if (pg_result_value(res, 0, 1)[0] == 't')
		buf_printf(&sql,
				   " UNION SELECT slot FROM pgferry.migration "
				   "WHERE source_system_identifier = $1::pg_catalog.text "
				   "AND source_database = $2::pg_catalog.text "
				   "AND phase = 'stream'");
	buf_printf(&sql, ") s(name)");
	pg_result_free(res);
	res = pg_query_or_report(target, sql.data, 2, params,
							 "read pgferry.progress");
	buf_free(&sql);
	if (res == NULL)
		return NULL;
	names = xstrdup(pg_result_value(res, 0, 0));
	pg_result_free(res);
	return names;
}

bool
appliers_find(PgConn *source, PgConn *target, const SourceId *id,
			  const char *names, Appliers *appliers)
{
	char *recorded = names ? NULL : appliers_recorded(target, id);
	Buf array = BUF_INIT;
	const char *params[1];
	PgResult *res;

	memset(appliers, 0, sizeof(Appliers));
	if (names == NULL && recorded == NULL)
		return false;
	buf_printf(&array, "{%s}", names ? names : recorded);
	free(recorded);
	params[0] = array.data;
	res = pg_query_or_report(
		source,
		"SELECT s.name, r.slot_name IS NOT NULL, "
		"COALESCE(r.database = pg_catalog.current_database(), false), "
		"COALESCE(r.active, false) "
		"FROM pg_catalog.unnest($1::pg_catalog.text[]) s(name) "
		"LEFT JOIN pg_catalog.pg_replication_slots r "
		"ON r.slot_name = s.name ORDER BY 1",
		1, params, "look up replication slots");
	buf_free(&array);
	if (res == NULL)
		return false;
	appliers->count = pg_result_rows(res);
	appliers->slots = xcalloc(appliers->count + 1, sizeof(ApplierSlot));
	for (int i = 0; i < appliers->count; i++)
	{
		ApplierSlot *slot = &appliers->slots[i];

		slot->name = xstrdup(pg_result_value(res, i, 0));
		slot->exists = pg_result_value(res, i, 1)[0] == 't';
		slot->in_database = pg_result_value(res, i, 2)[0] == 't';
		slot->active = pg_result_value(res, i, 3)[0] == 't';
	}
	pg_result_free(res);
	return true;
}

void
appliers_keep_active(Appliers *appliers)
{
	int kept = 0;

	for (int i = 0; i < appliers->count; i++)
	{
		if (appliers->slots[i].active)
			appliers->slots[kept++] = appliers->slots[i];
		else
			free(appliers->slots[i].name);
	}
	appliers->count = kept;
}

void
appliers_free(Appliers *appliers)
{
	for (int i = 0; i < appliers->count; i++)
		free(appliers->slots[i].name);
	free(appliers->slots);
	memset(appliers, 0, sizeof(Appliers));
}

bool
appliers_mark(PgConn *source, const char *prefix, const char *content, Lsn *at)
{
	const char *params[2] = {prefix, content};
	PgResult *res = pg_query(
		source, "SELECT pg_catalog.pg_logical_emit_message(true, $1, $2)", 2,
		params);
	bool ok;

	if (res == NULL)
	{
		pg_report(source, "write a logical message (%s) for the appliers",
				  prefix);
		log_hint("the role needs REPLICATION, as pgferry follow's does");
		return false;
	}
	ok = at == NULL || pg_lsn_parse(pg_result_value(res, 0, 0), at);
	pg_result_free(res);
	return ok;
}

/*
 * The slots that have not applied the source up to point: (name, end LSN
 * or NULL when nothing is recorded), by name.
 */
static PgResult *
appliers_behind(PgConn *target, const SourceId *id, const Appliers *appliers,
				Lsn point)
{
	char point_text[LSN_TEXT_LEN];
	char *array = appliers_array(appliers);
	const char *params[4] = {id->system_identifier, id->database, array,
							 pg_lsn_format(point, point_text)};
	PgResult *res;

	res = pg_query_or_report(
		target,
		"SELECT s.name, p.end_lsn FROM "
		"pg_catalog.unnest($3::pg_catalog.text[]) s(name) "
		"LEFT JOIN pgferry.progress p ON p.slot_name = s.name "
		"AND p.system_identifier = $1 AND p.database = $2 "
		"WHERE p.end_lsn IS NULL OR p.end_lsn < $4::pg_catalog.pg_lsn "
		"ORDER BY 1",
		4, params, "read pgferry.progress");
	free(array);
	return res;
}

bool
appliers_applied(PgConn *target, const SourceId *id, const Appliers *appliers,
				 Lsn *applied)
{
	char *array = appliers_array(appliers);
	const char *params[3] = {id->system_identifier, id->database, array};
	PgResult *res;
	const char *value;
	bool ok;

	*applied = LSN_INVALID;
	res = pg_query_or_report(
		target,
		"SELECT CASE WHEN pg_catalog.count(p.end_lsn) = "
		"pg_catalog.count(*) THEN pg_catalog.min(p.end_lsn) END "
		"FROM pg_catalog.unnest($3::pg_catalog.text[]) s(name) "
		"LEFT JOIN pgferry.progress p ON p.slot_name = s.name "
		"AND p.system_identifier = $1 AND p.database = $2",
		3, params, "read pgferry.progress");
	free(array);
	if (res == NULL)
		return false;
	value = pg_result_value(res, 0, 0);
	ok = value == NULL || pg_lsn_parse(value, applied);
	pg_result_free(res);
	return ok;
}

/* Warns of the slots behind (rows of appliers_behind) no longer active. */
static bool
appliers_warn_inactive(PgConn *source, const PgResult *behind)
{
	Buf array = BUF_INIT;
	const char *params[1];
	PgResult *res;

	for (int i = 0; i < pg_result_rows(behind); i++)
		pg_array_add(&array, pg_result_value(behind, i, 0));
	params[0] = pg_array_close(&array);
	res = pg_query_or_report(
		source,
		"SELECT slot_name FROM pg_catalog.pg_replication_slots "
		"WHERE NOT active AND slot_name = ANY ($1::pg_catalog.text[]) "
		"ORDER BY 1",
		1, params, "look up replication slots");
	buf_free(&array);
	if (res == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(res); i++)
		log_warning("source: replication slot \"%s\" is no longer in use: "
					"has its pgferry follow (or migrate) stopped?",
					pg_result_value(res, i, 0));
	pg_result_free(res);
	return true;
}

bool
appliers_wait(PgConn *source, PgConn *target, const SourceId *id,
			  const Appliers *appliers, Lsn point, double timeout_s,
			  bool *reached)
{
	double started = clock_seconds();
	double next_log = started + WAIT_LOG_SECONDS;
	char point_text[LSN_TEXT_LEN];

	pg_lsn_format(point, point_text);
	for (;;)
	{
		PgResult *behind = appliers_behind(target, id, appliers, point);
		bool timed_out = clock_seconds() - started >= timeout_s;
		bool say = timed_out || clock_seconds() >= next_log;

		if (behind == NULL)
			return false;
		*reached = pg_result_rows(behind) == 0;
		for (int i = 0; i < pg_result_rows(behind) && say; i++)
		{
			const char *applied = pg_result_value(behind, i, 1);

			if (timed_out)
				log_warning("target: slot \"%s\" has applied the source up "
							"to %s, not %s, after %.0f s",
							pg_result_value(behind, i, 0),
							applied ? applied : "nothing", point_text,
							timeout_s);
			else
				log_info("target: waiting for slot \"%s\": applied up to "
						 "%s of %s",
						 pg_result_value(behind, i, 0),
						 applied ? applied : "nothing", point_text);
		}
		if (say && !*reached && !appliers_warn_inactive(source, behind))
		{
			pg_result_free(behind);
			return false;
		}
		pg_result_free(behind);
		if (*reached || timed_out)
			break;
		if (say)
			next_log = clock_seconds() + WAIT_LOG_SECONDS;
		usleep((clock_seconds() - started < 1.0 ? WAIT_POLL_FIRST_MS
												: WAIT_POLL_MS) *
			   1000);
	}
	if (*reached)
		log_verbose("target: every applier has applied the source past %s "
					"after %.1f s",
					point_text, clock_seconds() - started);
	return true;
}

bool
appliers_rows_applied(PgConn *target, const SourceId *id,
					  const Appliers *appliers, int64_t *rows)
{
	char *array = appliers_array(appliers);
	const char *params[3] = {id->system_identifier, id->database, array};
	PgResult *res;

	res = pg_query_or_report(
		target,
		"SELECT COALESCE(pg_catalog.sum(rows_applied), 0) "
		"FROM pgferry.progress WHERE system_identifier = $1 "
		"AND database = $2 AND slot_name = ANY ($3::pg_catalog.text[])",
		3, params, "read pgferry.progress");
	free(array);
	if (res == NULL)
		return false;
	*rows = strtoll(pg_result_value(res, 0, 0), NULL, 10);
	pg_result_free(res);
	return true;
}

char *
appliers_default_slot(const char *database)
{
	static const char prefix[] = "pgferry_";
	Buf slot = BUF_INIT;
	bool altered = false;
	uint32_t hash = 2166136261u; /* FNV-1a */

	buf_append_str(&slot, prefix);
	for (const char *p = database; *p; p++)
	{
		char c = *p;

		hash = (hash ^ (unsigned char) c) * 16777619u;
		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				   c == '_'))
			c = '_';
		altered |= c != *p;
		buf_append(&slot, &c, 1);
	}
	if (altered || slot.len > SLOT_NAME_MAX)
	{
		char suffix[16];

		/* names that map to the same letters stay apart */
		snprintf(suffix, sizeof(suffix), "_%08" PRIx32, hash);
		if (slot.len > SLOT_NAME_MAX - strlen(suffix))
			slot.len = SLOT_NAME_MAX - strlen(suffix);
		slot.data[slot.len] = '\0';
		buf_append_str(&slot, suffix);
	}
	return slot.data;
}

bool
appliers_drop_slot(PgConn *source, const char *slot, int wait_seconds)
{
	const char *params[1] = {slot};
	PgResult *res;

	for (int attempt = 0;; attempt++)
	{
		res =
			pg_query(source, "SELECT pg_drop_replication_slot($1)", 1, params);
		/* 55006: still in use, by the walsender of a process just ended */
		if (res || attempt >= wait_seconds ||
			strcmp(pg_error_sqlstate(source), "55006") != 0)
			break;
		sleep(1);
	}
	if (res == NULL)
	{
		pg_report(source, "drop slot \"%s\"", slot);
		return false;
	}
	pg_result_free(res);
	return true;
}
