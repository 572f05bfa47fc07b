/* Test helpers: see util.h. Not used by the product. */
#include "tests/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

int run_argv(struct run_result *r, char *const argv[])
{
	char outp[] = "/tmp/rp-out-XXXXXX", errp[] = "/tmp/rp-err-XXXXXX";
	int ofd = mkstemp(outp), efd = mkstemp(errp), st;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (ofd < 0 || efd < 0)
		return -errno;
	unlink(outp);
	unlink(errp);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(ofd, 0, SEEK_SET);
	lseek(efd, 0, SEEK_SET);
	r->out = slurp_fd(ofd);
	r->err = slurp_fd(efd);
	close(ofd);
	close(efd);
	return 0;
}

int run_sh(struct run_result *r, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	rc = run_argv(r, argv);
	free(cmd);
	return rc;
}

void run_result_fini(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

const char *rp_bin(void) { return env_or("RECONPERF", "build/reconperf"); }
const char *rp_src(void) { return env_or("RP_SRC_DIR", "."); }
const char *rp_build(void) { return env_or("RP_BUILD_DIR", "build"); }

char *tmpdir_new(void)
{
	char *d = strdup("/tmp/rp-test-XXXXXX");
	if (d && !mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	char *buf;
	struct stat st;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	buf = slurp_fd(fd);
	close(fd);
	if (buf && len)
		*len = (size_t)st.st_size;
	return buf;
}

int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int have_cmd(const char *name)
{
	struct run_result r;
	int ok;

	if (run_sh(&r, "command -v %s >/dev/null 2>&1", name) < 0)
		return 0;
	ok = r.status == 0;
	run_result_fini(&r);
	return ok;
}

const cJSON *json_at(const cJSON *root, const char *path)
{
	char buf[256], *save = NULL, *tok;
	const cJSON *o = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		char *end;
		long idx = strtol(tok, &end, 10);

		o = *end || end == tok ? cJSON_GetObjectItemCaseSensitive(o, tok)
				       : cJSON_GetArrayItem(o, (int)idx);
	}
	return o;
}

double json_num(const cJSON *root, const char *path)
{
	const cJSON *v = json_at(root, path);

	cr_assert(v, "missing %s", path);
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	cr_assert(cJSON_IsNumber(v), "%s is not a number", path);
	return v->valuedouble;
}

cJSON *bench_report(int *status, const char *pre, const char *args)
{
	char *d = tmpdir_new();
	char path[512];
	struct run_result r;
	cJSON *j = NULL;
	char *s;

	snprintf(path, sizeof(path), "%s/r.json", d);
	run_sh(&r, "%s bench -q %s %s --format json -o %s", rp_bin(), pre, args, path);
	*status = r.status;
	if (r.status > 1)
		cr_log_error("bench %s: status %d: %s", args, r.status, r.err);
	s = read_file(path, NULL);
	if (s)
		j = cJSON_Parse(s);
	free(s);
	unlink(path);
	rmdir(d);
	run_result_fini(&r);
	free(d);
	return j;
}
