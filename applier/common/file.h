/*-------------------------------------------------------------------------
 *
 * file.h
 *	  Files pgferry writes, private to the user it runs as.
 *
 * Spooled transactions and schema dumps hold the source's data and DDL:
 * whatever the umask or the directory (--dir and --spool-dir may name one
 * that others can read), only pgferry's user may read them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_FILE_H
#define PGFERRY_FILE_H

#include <stdio.h>

/*
 * Creates path (emptied if it exists) with mode 0600, open for reading and
 * writing; NULL with errno set on failure.
 */
extern FILE *file_create_private(const char *path);

#endif /* PGFERRY_FILE_H */
