/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  The applier's one clock.
 *
 *-------------------------------------------------------------------------
 */
#include <time.h>

#include "common/clock.h"

/* Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
#define POSTGRES_EPOCH_USEC INT64_C(946684800000000)

int64_t
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_ms(void)
{
	return clock_us() / 1000;
}

double
clock_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t
clock_pg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000 -
		   POSTGRES_EPOCH_USEC;
}

struct timespec
clock_wall_after(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000)
	{
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}
