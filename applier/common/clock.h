/*-------------------------------------------------------------------------
 *
 * clock.h
 *	  The applier's one clock: elapsed time, and wall time as PostgreSQL
 *	  counts it.
 *
 * Durations and deadlines use the monotonic clock, which no change of the
 * system time moves.  Times exchanged with a server (commit times, the
 * standby status update) are microseconds since PostgreSQL's epoch,
 * 2000-01-01 00:00 UTC.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_CLOCK_H
#define PGFERRY_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
extern int64_t clock_ms(void);

/* Microseconds on the monotonic clock. */
extern int64_t clock_us(void);

/* Seconds on the monotonic clock. */
extern double clock_seconds(void);

/* The wall time now, in microseconds since 2000-01-01 00:00 UTC. */
extern int64_t clock_pg_now(void);

/*
 * The wall time ms milliseconds from now: a deadline for
 * pthread_cond_timedwait(), which counts on the wall clock.
 */
extern struct timespec clock_wall_after(int ms);

#endif /* PGFERRY_CLOCK_H */
