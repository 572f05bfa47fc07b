/*
 * afl_driver — a main() for the libFuzzer targets in this directory, so the same
 * LLVMFuzzerTestOneInput runs outside libFuzzer:
 *
 * - built with afl-clang-fast (`make fuzz-afl`): AFL++'s persistent mode, the input taken
 *   from AFL++'s shared-memory buffer, 10000 inputs per fork;
 * - built with any compiler: replays the files and directories named on the command line
 *   (or stdin when none), e.g. a crash file or a whole corpus (`make fuzz-replay`).
 *
 * Every input is copied into a buffer of exactly its size, so ASan sees reads past its end.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>	/* read(), which AFL++'s macros use */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

static void run(const unsigned char *data, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);

	if (!copy) {
		perror("afl_driver");
		exit(2);
	}
	memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

static int run_stream(FILE *fp, const char *name)
{
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap ? 2 * cap : 65536);

			if (!nb) {
				free(buf);
				fprintf(stderr, "afl_driver: %s: out of memory\n", name);
				return -1;
			}
			buf = nb;
			cap = cap ? 2 * cap : 65536;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		fprintf(stderr, "afl_driver: %s: read error\n", name);
		free(buf);
		return -1;
	}
	run((const unsigned char *)buf, len);
	free(buf);
	return 0;
}

/* Runs one file, or every regular file of a directory. Returns the inputs run, or -1. */
static long run_path(const char *path)
{
	struct stat st;
	long n = 0;

	if (stat(path, &st)) {
		perror(path);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d) {
			perror(path);
			return -1;
		}
		while ((e = readdir(d))) {
			char sub[4096];
			long k;

			if (e->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			k = run_path(sub);
			if (k < 0) {
				closedir(d);
				return -1;
			}
			n += k;
		}
		closedir(d);
		return n;
	}
	FILE *fp = fopen(path, "rb");

	if (!fp) {
		perror(path);
		return -1;
	}
	n = run_stream(fp, path) ? -1 : 1;
	fclose(fp);
	return n;
}

int main(int argc, char **argv)
{
	long total = 0;

#ifdef __AFL_FUZZ_TESTCASE_LEN
	if (argc < 2) {
		unsigned char *buf;

		__AFL_INIT();
		buf = __AFL_FUZZ_TESTCASE_BUF;
		while (__AFL_LOOP(10000))
			run(buf, (size_t)__AFL_FUZZ_TESTCASE_LEN);
		return 0;
	}
#endif
	if (argc < 2)
		return run_stream(stdin, "stdin") ? 2 : 0;
	for (int i = 1; i < argc; i++) {
		long n = run_path(argv[i]);

		if (n < 0)
			return 2;
		total += n;
	}
	fprintf(stderr, "afl_driver: %ld inputs run, no crash\n", total);
	return 0;
}
