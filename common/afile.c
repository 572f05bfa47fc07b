/* afile — atomic output files. See afile.h. */
#include "common/afile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct afile {
	FILE *fp;
	char *path;
	char *tmp;	/* NULL for stdout and for devices */
	int direct;	/* a device or FIFO (/dev/null, /dev/stdout): written in place */
};

static mode_t current_umask(void)
{
	mode_t m = umask(022);	/* the only way to read it; restored at once */

	umask(m);
	return m;
}

int afile_open(const char *path, struct afile **out)
{
	struct afile *af = calloc(1, sizeof(*af));
	struct stat st;
	int fd, err;

	*out = NULL;
	if (!af)
		return -ENOMEM;
	if (strcmp(path, "-") == 0) {
		af->fp = stdout;
		*out = af;
		return 0;
	}
	/* Renaming a temporary onto /dev/null would replace the device with a plain file for
	 * the whole machine: what is not a regular file is written in place. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		af->fp = fopen(path, "w");
		if (!af->fp) {
			err = -errno;
			free(af);
			return err;
		}
		af->direct = 1;
		*out = af;
		return 0;
	}
	af->path = strdup(path);
	if (!af->path || asprintf(&af->tmp, "%s.tmp.XXXXXX", path) < 0) {
		af->tmp = NULL;
		err = -ENOMEM;
		goto err_free;
	}
	fd = mkstemp(af->tmp);
	if (fd < 0) {
		err = -errno;
		goto err_free;
	}
	fchmod(fd, 0666 & ~current_umask());	/* mkstemp makes 0600; a plain open would not */
	af->fp = fdopen(fd, "w");
	if (!af->fp) {
		err = -errno;
		close(fd);
		unlink(af->tmp);
		goto err_free;
	}
	*out = af;
	return 0;
err_free:
	free(af->tmp);
	free(af->path);
	free(af);
	return err;
}

FILE *afile_fp(struct afile *af)
{
	return af->fp;
}

static void afile_free(struct afile *af)
{
	free(af->tmp);
	free(af->path);
	free(af);
}

int afile_commit(struct afile *af)
{
	int err = 0;

	if (!af)
		return -EINVAL;
	if (!af->tmp) {
		if (fflush(af->fp) != 0 || ferror(af->fp))
			err = -EIO;
		if (af->direct && fclose(af->fp) != 0 && !err)
			err = -EIO;
		afile_free(af);
		return err;
	}
	if (fflush(af->fp) != 0 || ferror(af->fp))
		err = errno ? -errno : -EIO;
	if (!err && fsync(fileno(af->fp)) != 0 && errno != EINVAL)
		err = -errno;
	if (fclose(af->fp) != 0 && !err)
		err = errno ? -errno : -EIO;
	if (!err && rename(af->tmp, af->path) != 0)
		err = -errno;
	if (err)
		unlink(af->tmp);
	afile_free(af);
	return err;
}

void afile_abort(struct afile *af)
{
	if (!af)
		return;
	if (af->tmp) {
		fclose(af->fp);
		unlink(af->tmp);
	} else if (af->direct) {
		fclose(af->fp);
	}
	afile_free(af);
}

int afile_write_all(const char *path, const void *buf, size_t len)
{
	struct afile *af;
	int err = afile_open(path, &af);

	if (err)
		return err;
	if (len && fwrite(buf, 1, len, afile_fp(af)) != len) {
		afile_abort(af);
		return -EIO;
	}
	return afile_commit(af);
}
