/*
 * benchfile_files — the file side of benchfile (see benchfile.h): reading a file whole,
 * expanding a directory to its result files, and a comma-separated list of both. The
 * parsing is in benchfile.c; this file only uses its public bf_load_buf().
 */
#include "common/benchfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BF_MAX_FILE (256u << 20)	/* a results file larger than this is not a results file */

static int read_all(const char *path, char **out, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (st.st_size > (off_t)BF_MAX_FILE) {
		rc = -EFBIG;
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {	/* the file grew, or it is a pipe */
			char *nb = cap < BF_MAX_FILE ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				rc = cap < BF_MAX_FILE ? -ENOMEM : -EFBIG;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			free(buf);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
out:
	close(fd);
	return rc;
}

int bf_load_file(struct bf_set *s, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = read_all(path, &buf, &len);

	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = bf_load_buf(s, path, buf, len, err, errlen);
	free(buf);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct bf_set *s, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((e = readdir(d))) {
		struct stat st;
		char *p;

		if (e->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (stat(p, &st) || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*nn));

			if (!nn) {
				free(p);
				rc = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n++] = p;
	}
	closedir(d);
	if (!rc && !n) {
		snprintf(err, errlen, "%s: directory holds no result files", dir);
		rc = -ENOENT;
	} else if (rc) {
		snprintf(err, errlen, "%s: out of memory", dir);
	}
	if (!rc)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = bf_load_file(s, names[i], err, errlen);
		free(names[i]);
	}
	free(names);
	return rc;
}

int bf_load_spec(struct bf_set *s, const char *spec, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	if (!spec[0] || spec[0] == ',' || spec[strlen(spec) - 1] == ',' || strstr(spec, ",,")) {
		snprintf(err, errlen, "'%s': empty file name in the list", spec);
		free(copy);
		return -EINVAL;
	}
	for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		struct stat st;

		if (stat(t, &st) == 0 && S_ISDIR(st.st_mode))
			rc = load_dir(s, t, err, errlen);
		else
			rc = bf_load_file(s, t, err, errlen);
	}
	free(copy);
	return rc;
}
