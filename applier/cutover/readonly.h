/*-------------------------------------------------------------------------
 *
 * readonly.h
 *	  A database made read-only the way a cutover does it, on the source
 *	  (for the switch) or on the target (left so when the check after the
 *	  switch finds a difference).
 *
 * Read-only means: ALTER DATABASE ... SET default_transaction_read_only =
 * on, so that every session that starts from then on is read-only, and the
 * end of the client sessions that started before (terminated, or waited
 * for).  It is a default, not a lock: a session may still run SET
 * default_transaction_read_only = off or BEGIN READ WRITE, whatever its
 * role.  pgferry's own sessions (application_name pgferry), which write no
 * application data, and walsenders (the appliers') are left alone.
 *
 * Promises: each function logs what it changes, and reports its own
 * failure with the fix (returning false).  The connection's session must
 * run with default_transaction_read_only = off.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_READONLY_H
#define PGFERRY_READONLY_H

#include <stdbool.h>
#include <stddef.h>

#include "pg/pg.h"

/* The time on conn's server now, as text (size: 64 is enough). */
extern bool readonly_now(PgConn *conn, char *buf, size_t size);

/*
 * Sets (on) or resets default_transaction_read_only for conn's database,
 * database_sql (its quoted name).
 */
extern bool readonly_set(PgConn *conn, const char *database_sql, bool on);

/* Whether conn's database has default_transaction_read_only = on set. */
extern bool readonly_is_set(PgConn *conn, bool *on);

/*
 * Ends the client sessions of conn's database that started before `before`
 * (a time of its server, readonly_now()): terminates them and waits until
 * each is gone, or with wait_sessions waits for them to end; at most
 * timeout seconds either way.  Sessions gone, and the writes of a
 * terminated session's transaction rolled back (or committed, with their
 * statistics reported), before it returns true.  *ended counts them.
 */
extern bool readonly_end_sessions(PgConn *conn, const char *database_sql,
								  const char *before, bool wait_sessions,
								  int timeout, int *ended);

#endif /* PGFERRY_READONLY_H */
