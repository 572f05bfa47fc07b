/*
 * Helpers shared by the Criterion tests: run the real reconperf binary (or any command)
 * and capture its exit status, stdout and stderr; make scratch directories; read files.
 *
 * RECONPERF names the binary under test (tests/run.sh sets it); RP_SRC_DIR the source tree.
 */
#ifndef RECONPERF_TESTS_UTIL_H
#define RECONPERF_TESTS_UTIL_H

#include <stddef.h>

struct run_result {
	int status;	/* exit status, or 128+signal */
	char *out;	/* stdout, NUL-terminated */
	char *err;	/* stderr, NUL-terminated */
};

/* Runs argv (argv[0] searched in PATH) with stdin from /dev/null. */
int run_argv(struct run_result *r, char *const argv[]);
/* Runs a shell command line through /bin/sh -c. */
int run_sh(struct run_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void run_result_fini(struct run_result *r);

const char *rp_bin(void);	/* path of the reconperf binary under test */
const char *rp_src(void);	/* the source tree */
const char *rp_build(void);	/* the build directory */
char *tmpdir_new(void);		/* a fresh scratch directory (caller frees the string) */
char *read_file(const char *path, size_t *len);	/* whole file, NUL-terminated, or NULL */
int file_exists(const char *path);
int have_cmd(const char *name);	/* is `name` on PATH */

/* JSON reports. json_at walks a dotted path ("a.b.0.c"; numbers index arrays) and returns
 * NULL when a step is missing; json_num asserts the value exists and is a number or a
 * boolean (1/0). bench_report runs `reconperf bench -q PRE ARGS --format json -o FILE` and
 * returns the parsed report (NULL when none was written), its exit status in *status. */
struct cJSON;
const struct cJSON *json_at(const struct cJSON *root, const char *path);
double json_num(const struct cJSON *root, const char *path);
struct cJSON *bench_report(int *status, const char *pre, const char *args);

#endif
