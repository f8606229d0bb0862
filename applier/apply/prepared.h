/*-------------------------------------------------------------------------
 *
 * prepared.h
 *	  The statements a target session has prepared, by SQL and types.
 *
 * Promises: the same SQL with the same parameter types gets the same name
 * for the life of the set; other types (a column's type changed) get
 * another, since a binary parameter is only read right as the type it was
 * prepared with.  The set only remembers names: preparing and dropping
 * them on the server is the caller's job.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_PREPARED_H
#define PGFERRY_PREPARED_H

#include <stdbool.h>

#include "apply/stmt.h"

/* Names handed out before the set asks to start afresh. */
#define PREPARED_MAX 4096

/* Room for a statement name ("pgferry_" and a number). */
#define PREPARED_NAME_LEN 32

typedef struct PreparedSet PreparedSet;

extern PreparedSet *prepared_create(void);
extern void prepared_destroy(PreparedSet *set);

/*
 * Puts in name the name of stmt's prepared statement; returns true when
 * the name is new: the caller prepares it before use.
 */
extern bool prepared_lookup(PreparedSet *set, const Stmt *stmt, char *name);

/* Whether PREPARED_MAX names are out (the caller drops them all). */
extern bool prepared_full(const PreparedSet *set);
/* Forgets every name (after DEALLOCATE ALL, or in a new session). */
extern void prepared_forget(PreparedSet *set);

#endif /* PGFERRY_PREPARED_H */
