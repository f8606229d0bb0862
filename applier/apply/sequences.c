/*-------------------------------------------------------------------------
 *
 * sequences.c
 *	  Sequences' values follow the stream, not only at cutover.
 *
 * The message is JSON, read by the target (jsonb); a target sequence is
 * found by schema and name.  setval() is not transactional: a target
 * transaction that fails later leaves the value set, which is harmless as
 * it is one the source had handed out already.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "apply/sequences.h"
#include "common/log.h"

static const char set_sql[] =
	"SELECT pg_catalog.count(pg_catalog.setval(t.oid, s.value, true)) "
	"FROM pg_catalog.jsonb_to_recordset($1::pg_catalog.jsonb) "
	" AS s(schema text, name text, value bigint) "
	"JOIN pg_catalog.pg_namespace n ON n.nspname = s.schema "
	"JOIN pg_catalog.pg_class t ON t.relnamespace = n.oid "
	" AND t.relname = s.name AND t.relkind = 'S' "
	"JOIN pg_catalog.pg_sequence q ON q.seqrelid = t.oid "
	"WHERE COALESCE(CASE WHEN q.seqincrement > 0 "
	" THEN pg_catalog.pg_sequence_last_value(t.oid) < s.value "
	" ELSE pg_catalog.pg_sequence_last_value(t.oid) > s.value END, true)";

bool
sequences_request(PgConn *source)
{
	const char *state;

	if (pg_exec(source, "SELECT pgferry.send_sequences()"))
		return true;
	state = pg_error_sqlstate(source);
	if (strcmp(state, "25006") == 0)
		return true; /* read-only: a cutover's window, which sets them */
	if (strcmp(state, "42883") == 0 || strcmp(state, "3F000") == 0)
	{
		log_verbose(
			"source: no function pgferry.send_sequences() (install the "
			"pgferry extension or sql/pgferry_ddl.sql there): sequences "
			"are set at cutover only");
		return false;
	}
	pg_report(source, "send the values of its sequences");
	if (strcmp(state, "42501") == 0)
	{
		log_hint("a superuser can run on the source: GRANT EXECUTE ON "
				 "FUNCTION pgferry.send_sequences() TO \"%s\"; meanwhile "
				 "sequences are set at cutover only",
				 pg_user(source));
		return false;
	}
	return true;
}

bool
sequences_apply(PgConn *target, const char *content, size_t len, Lsn lsn)
{
	char position[LSN_TEXT_LEN];
	PgResult *res;

	(void) len; /* the content ends in '\0' */
	res = pg_query(target, set_sql, 1, &content);
	if (res == NULL)
	{
		pg_report(target, "set the sequences to the source's values at %s",
				  pg_lsn_format(lsn, position));
		return false;
	}
	log_verbose("set %s %s to the source's values at %s",
				pg_result_value(res, 0, 0),
				strcmp(pg_result_value(res, 0, 0), "1") == 0 ? "sequence"
															 : "sequences",
				pg_lsn_format(lsn, position));
	pg_result_free(res);
	return true;
}
