/*-------------------------------------------------------------------------
 *
 * thread.c
 *	  Threads that do one job beside the main one (thread.h).
 *
 *-------------------------------------------------------------------------
 */
#include <signal.h>

#include "common/thread.h"

bool
thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all;
	sigset_t old;
	bool started;

	/* a new thread inherits the mask of the one that starts it */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	started = pthread_create(thread, NULL, fn, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started;
}
