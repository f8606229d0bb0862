/*-------------------------------------------------------------------------
 *
 * file.c
 *	  Files pgferry writes, private to the user it runs as.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

FILE *
file_create_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *file;
	int err;

	if (fd < 0)
		return NULL;
	/* a file left by an earlier run keeps its mode through O_CREAT */
	if (fchmod(fd, 0600) == 0 && (file = fdopen(fd, "w+b")) != NULL)
		return file;
	err = errno;
	close(fd);
	errno = err;
	return NULL;
}
