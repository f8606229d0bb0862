/*-------------------------------------------------------------------------
 *
 * spool.c
 *	  Streamed in-progress transactions kept on disk until they end.
 *
 * File format: records of (subxid uint32, length uint32, frame bytes), in
 * host byte order (the file never leaves this process).  Relation
 * descriptions are written with subxid 0, so no subtransaction abort
 * skips them.
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "stream/spool.h"

#define SPOOL_SUFFIX ".spool"
/* The file of the directory lock (spool_lock_dir()) */
#define LOCK_FILE "lock"

typedef struct SpoolTxn
{
	uint32_t xid;
	FILE *file;
	char *path;
	uint64_t bytes;
	uint32_t *aborted; /* aborted subxids */
	int naborted;
	Rel **described; /* relation versions already written */
	int ndescribed;
	struct SpoolTxn *next;
} SpoolTxn;

struct Spool
{
	char *dir;
	int lock_fd;
	SpoolTxn *txns;
	bool full; /* the last failure was a full disk (or quota) */
};

static void
spool_remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	size_t suffix = strlen(SPOOL_SUFFIX);

	if (d == NULL)
		return;
	while ((entry = readdir(d)) != NULL)
	{
		size_t len = strlen(entry->d_name);
		Buf path = BUF_INIT;

		if (len <= suffix ||
			strcmp(entry->d_name + len - suffix, SPOOL_SUFFIX) != 0)
			continue;
		buf_printf(&path, "%s/%s", dir, entry->d_name);
		unlink(path.data);
		buf_free(&path);
	}
	closedir(d);
}

int
spool_lock_dir(const char *dir, const char *option)
{
	Buf path = BUF_INIT;
	struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd;

	buf_printf(&path, "%s/" LOCK_FILE, dir);
	fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
	{
		log_error("could not open \"%s\": %s", path.data, strerror(errno));
		log_hint("choose a writable directory with %s", option);
		buf_free(&path);
		return -1;
	}
	if (fcntl(fd, F_SETLK, &lock) != 0)
	{
		int err = errno;

		if (fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK)
		{
			log_error("directory \"%s\" is in use by another pgferry "
					  "process (pid %d)",
					  dir, (int) lock.l_pid);
			/* the default directory is the slot's */
			log_hint("if it runs this task, stop it first; a different task "
					 "needs its own --slot, and its own %s if one is given",
					 option);
		}
		else
		{
			log_error("could not lock \"%s\": %s", path.data, strerror(err));
			log_hint("choose another directory with %s", option);
		}
		close(fd);
		fd = -1;
	}
	buf_free(&path);
	return fd;
}

void
spool_unlock_dir(const char *dir, int fd)
{
	Buf path = BUF_INIT;

	if (fd < 0)
		return;
	buf_printf(&path, "%s/" LOCK_FILE, dir);
	unlink(path.data);
	close(fd);
	buf_free(&path);
}

/* Whether st (of path, a directory or a link to one) is the user's own. */
static bool
spool_owned(const char *path, const struct stat *st, const char *option)
{
	if (st->st_uid == geteuid())
		return true;
	log_error("directory \"%s\" belongs to user id %u, not to this user "
			  "(id %u): its owner could read or change what pgferry writes "
			  "there",
			  path, (unsigned) st->st_uid, (unsigned) geteuid());
	log_hint("remove it, or choose a directory of your own with %s", option);
	return false;
}

bool
spool_private_dir(const char *dir, const char *option)
{
	struct stat st;
	struct stat link;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		log_error("could not create directory \"%s\": %s", dir,
				  strerror(errno));
		log_hint("choose a writable directory with %s", option);
		return false;
	}
	if (lstat(dir, &link) != 0 || stat(dir, &st) != 0)
	{
		log_error("could not read directory \"%s\": %s", dir, strerror(errno));
		log_hint("choose a readable directory with %s", option);
		return false;
	}
	if (!S_ISDIR(st.st_mode))
	{
		log_error("\"%s\" is not a directory", dir);
		log_hint("choose a directory with %s", option);
		return false;
	}
	/* a link another user planted in a shared directory leads elsewhere */
	if (S_ISLNK(link.st_mode) && link.st_uid != 0 &&
		!spool_owned(dir, &link, option))
		return false;
	if (!spool_owned(dir, &st, option))
		return false;
	if ((st.st_mode & 077) != 0)
	{
		log_error("directory \"%s\" is accessible by other users (mode "
				  "%04o): they could read rows of transactions in progress, "
				  "or change the schema pgferry restores",
				  dir, (unsigned) (st.st_mode & 07777));
		log_hint("run: chmod 700 '%s', or choose another directory with %s",
				 dir, option);
		return false;
	}
	return true;
}

Spool *
spool_open(const char *dir)
{
	Spool *spool;
	int lock_fd;

	if (!spool_private_dir(dir, "--spool-dir"))
		return NULL;
	lock_fd = spool_lock_dir(dir, "--spool-dir");
	if (lock_fd < 0)
		return NULL;
	spool_remove_stale(dir);
	spool = xcalloc(1, sizeof(Spool));
	spool->dir = xstrdup(dir);
	spool->lock_fd = lock_fd;
	return spool;
}

static void
spool_txn_free(SpoolTxn *txn)
{
	if (txn->file)
		fclose(txn->file);
	unlink(txn->path);
	free(txn->path);
	free(txn->aborted);
	for (int i = 0; i < txn->ndescribed; i++)
		rel_release(txn->described[i]);
	free(txn->described);
	free(txn);
}

/* Unlinks xid's entry and frees it (deleting its file). */
static void
spool_drop(Spool *spool, uint32_t xid)
{
	for (SpoolTxn **p = &spool->txns; *p; p = &(*p)->next)
	{
		if ((*p)->xid == xid)
		{
			SpoolTxn *txn = *p;

			*p = txn->next;
			spool_txn_free(txn);
			return;
		}
	}
}

void
spool_discard_all(Spool *spool)
{
	while (spool->txns)
		spool_drop(spool, spool->txns->xid);
}

void
spool_close(Spool *spool)
{
	if (spool == NULL)
		return;
	spool_discard_all(spool);
	spool_unlock_dir(spool->dir, spool->lock_fd);
	free(spool->dir);
	free(spool);
}

static SpoolTxn *
spool_find(const Spool *spool, uint32_t xid)
{
	for (SpoolTxn *txn = spool->txns; txn; txn = txn->next)
		if (txn->xid == xid)
			return txn;
	return NULL;
}

static bool
spool_io_error(Spool *spool, const SpoolTxn *txn, const char *action)
{
	spool->full = errno == ENOSPC || errno == EDQUOT;
	log_error("could not %s spool file \"%s\": %s", action, txn->path,
			  strerror(errno));
	if (spool->full)
		log_hint("free space where the spool directory is, or choose "
				 "another with --spool-dir: pgferry deletes its spool files "
				 "and tries again from the slot's position, which the "
				 "transaction did not pass");
	else
		log_hint("choose another directory with --spool-dir");
	return false;
}

bool
spool_is_full(const Spool *spool)
{
	return spool->full;
}

bool
spool_start(Spool *spool, uint32_t xid, bool first_segment)
{
	SpoolTxn *txn = spool_find(spool, xid);
	Buf path = BUF_INIT;

	if (txn && !first_segment)
		return true;
	if (txn)
		spool_drop(spool, xid);
	txn = xcalloc(1, sizeof(SpoolTxn));
	txn->xid = xid;
	buf_printf(&path, "%s/%u%s", spool->dir, xid, SPOOL_SUFFIX);
	txn->path = path.data;
	txn->file = file_create_private(txn->path);
	txn->next = spool->txns;
	spool->txns = txn;
	if (txn->file == NULL)
		return spool_io_error(spool, txn, "create");
	return true;
}

static bool
spool_append(Spool *spool, SpoolTxn *txn, uint32_t subxid,
			 const uint8_t *frame, size_t len)
{
	uint32_t header[2] = {subxid, (uint32_t) len};

	if (fwrite(header, sizeof(header), 1, txn->file) != 1 ||
		fwrite(frame, 1, len, txn->file) != len)
		return spool_io_error(spool, txn, "write");
	txn->bytes += sizeof(header) + len;
	return true;
}

static SpoolTxn *
spool_expect(const Spool *spool, uint32_t xid)
{
	SpoolTxn *txn = spool_find(spool, xid);

	if (txn == NULL)
		log_error("a streamed change of transaction %u arrived before "
				  "its first block",
				  xid);
	return txn;
}

bool
spool_write(Spool *spool, uint32_t xid, uint32_t subxid, const uint8_t *frame,
			size_t len)
{
	SpoolTxn *txn = spool_expect(spool, xid);

	return txn && spool_append(spool, txn, subxid, frame, len);
}

bool
spool_write_relation(Spool *spool, uint32_t xid, Rel *rel)
{
	SpoolTxn *txn = spool_expect(spool, xid);

	if (txn == NULL)
		return false;
	for (int i = 0; i < txn->ndescribed; i++)
		if (txn->described[i] == rel)
			return true;
	txn->described =
		xrealloc(txn->described, (txn->ndescribed + 1) * sizeof(Rel *));
	txn->described[txn->ndescribed++] = rel_retain(rel);
	return spool_append(spool, txn, 0, rel->frame, rel->frame_len);
}

void
spool_abort(Spool *spool, uint32_t xid, uint32_t subxid)
{
	SpoolTxn *txn = spool_find(spool, xid);

	if (txn == NULL)
		return;
	if (subxid == xid)
	{
		spool_drop(spool, xid);
		return;
	}
	txn->aborted =
		xrealloc(txn->aborted, (txn->naborted + 1) * sizeof(uint32_t));
	txn->aborted[txn->naborted++] = subxid;
}

static bool
spool_is_aborted(const SpoolTxn *txn, uint32_t subxid)
{
	for (int i = 0; i < txn->naborted; i++)
		if (txn->aborted[i] == subxid)
			return true;
	return false;
}

bool
spool_replay(Spool *spool, uint32_t xid, SpoolFrameFn fn, void *arg)
{
	SpoolTxn *txn = spool_find(spool, xid);
	uint8_t *frame = NULL;
	size_t frame_size = 0;
	uint32_t header[2];
	bool ok = true;

	if (txn == NULL)
		return true; /* every change was filtered out */
	if (fflush(txn->file) != 0 || fseek(txn->file, 0, SEEK_SET) != 0)
		ok = spool_io_error(spool, txn, "rewind");
	while (ok && fread(header, sizeof(header), 1, txn->file) == 1)
	{
		if (header[1] > frame_size)
		{
			frame_size = header[1];
			frame = xrealloc(frame, frame_size);
		}
		if (fread(frame, 1, header[1], txn->file) != header[1])
		{
			ok = spool_io_error(spool, txn, "read");
			break;
		}
		if (header[0] != 0 && spool_is_aborted(txn, header[0]))
			continue;
		ok = fn(arg, frame, header[1]);
	}
	if (ok && ferror(txn->file))
		ok = spool_io_error(spool, txn, "read");
	free(frame);
	spool_drop(spool, xid);
	return ok;
}

uint64_t
spool_bytes(const Spool *spool, uint32_t xid)
{
	const SpoolTxn *txn = spool_find(spool, xid);

	return txn ? txn->bytes : 0;
}

uint64_t
spool_total_bytes(const Spool *spool)
{
	uint64_t bytes = 0;

	for (const SpoolTxn *txn = spool->txns; txn; txn = txn->next)
		bytes += txn->bytes;
	return bytes;
}
