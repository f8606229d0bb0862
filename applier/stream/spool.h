/*-------------------------------------------------------------------------
 *
 * spool.h
 *	  Streamed in-progress transactions kept on disk until they end.
 *
 * A transaction larger than the source's logical_decoding_work_mem comes
 * in blocks before it commits.  Its frames are appended, as received, to
 * one file per top-level xid under the spool directory; an aborted
 * subtransaction's frames are skipped at replay; the file is replayed in
 * order at the stream commit and deleted then or at the stream abort.
 * Memory use is one frame at a time, whatever the transaction's size.
 *
 * A spooled frame that names a relation must be read with the relation
 * as it was described when the frame arrived: spool_write_relation() puts
 * that description in the file first (once per version).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_SPOOL_H
#define PGFERRY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/rel.h"

typedef struct Spool Spool;

/* Called for each frame at replay; returning false stops the replay. */
typedef bool (*SpoolFrameFn)(void *arg, const uint8_t *frame, size_t len);

/*
 * Locks dir for this process, or says which process holds it (and, option
 * being how a directory is given, when another one is needed); returns the
 * descriptor that holds the lock, or -1.  Two runs sharing a directory
 * would delete each other's files (a second run of one task is refused by
 * state_lock_task() too, whatever its directory).  The lock is a POSIX record lock, so the same process may take it
 * again (migrate holds its directory, then its follow phase opens the
 * spool there), and closing any descriptor of the file releases it.
 */
extern int spool_lock_dir(const char *dir, const char *option);
/*
 * Removes the lock file (a clean exit leaves nothing behind) and releases
 * the lock; fd -1 does nothing.
 */
extern void spool_unlock_dir(const char *dir, int fd);

/*
 * Creates dir (mode 0700) if it is missing, and makes sure it is private:
 * a directory of another user, or one others may read or write (the
 * default ones are in the shared TMPDIR, under a name anyone can guess),
 * is refused, saying why and what to do; option is how a directory is
 * given.  Files in it are created mode 0600.
 */
extern bool spool_private_dir(const char *dir, const char *option);

/*
 * Opens (creating it, mode 0700; spool_private_dir()) the spool directory and deletes files a
 * previous run left there: the source sends those transactions again.
 */
extern Spool *spool_open(const char *dir);
/* Deletes every file and closes. */
extern void spool_close(Spool *spool);

/* A block of xid starts; the first one starts its file afresh. */
extern bool spool_start(Spool *spool, uint32_t xid, bool first_segment);
extern bool spool_write(Spool *spool, uint32_t xid, uint32_t subxid,
						const uint8_t *frame, size_t len);
extern bool spool_write_relation(Spool *spool, uint32_t xid, Rel *rel);

/* subxid == xid: the whole transaction aborted; else one subtransaction. */
extern void spool_abort(Spool *spool, uint32_t xid, uint32_t subxid);

/* Hands every live frame of xid to fn in order, then deletes its file. */
extern bool spool_replay(Spool *spool, uint32_t xid, SpoolFrameFn fn,
						 void *arg);

/* Drops every transaction (their frames will be sent again). */
extern void spool_discard_all(Spool *spool);

/*
 * Whether the last failure was a full disk: it passes once space returns,
 * and the source sends the transactions again.
 */
extern bool spool_is_full(const Spool *spool);

/* Bytes spooled for xid so far. */
extern uint64_t spool_bytes(const Spool *spool, uint32_t xid);
/* ... and for every transaction in it. */
extern uint64_t spool_total_bytes(const Spool *spool);

#endif /* PGFERRY_SPOOL_H */
