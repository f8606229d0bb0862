/*-------------------------------------------------------------------------
 *
 * thread.h
 *	  Threads that do one job beside the main one.
 *
 * Such a thread blocks every signal: SIGINT and SIGTERM reach the main
 * thread, whose waits (poll, nanosleep) they interrupt, so that a stop is
 * seen at once and not after the wait's timeout.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_THREAD_H
#define PGFERRY_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/*
 * Starts fn(arg) in a thread with every signal blocked; false when the
 * system refuses a thread (the caller then runs fn itself).
 */
extern bool thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif /* PGFERRY_THREAD_H */
