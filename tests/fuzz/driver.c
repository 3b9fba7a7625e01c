/* driver.c - run a fuzz target over saved inputs, without libFuzzer.
 *
 *   build/fuzz/fuzz_json FILE...     each file (or each file of a
 *                                    directory) is one input
 *   build/fuzz/fuzz_json < crash-1   stdin is one input
 *
 * Built with clang -fsanitize=fuzzer -DSPOOL_LIBFUZZER, the target file
 * alone is a real fuzzer and this main() steps aside. */
#ifndef SPOOL_LIBFUZZER
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count;

/* Read all of fd into an exact-size allocation, so that a target reading
 * one byte too far is caught by the address sanitizer. */
static int run_fd(int fd, const char *name)
{
	size_t len = 0, cap = 4096;
	char *p = malloc(cap);
	for (;;) {
		if (!p) {
			fprintf(stderr, "%s: out of memory\n", name);
			return -1;
		}
		if (len == cap) {
			cap *= 2;
			p = realloc(p, cap);
			continue;
		}
		ssize_t r = read(fd, p + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", name, strerror(errno));
			free(p);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(p);
		return -1;
	}
	memcpy(exact, p, len);
	free(p);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	count++;
	return 0;
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			return -1;
		}
		int rc = 0;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			size_t n = strlen(path) + strlen(e->d_name) + 2;
			char *sub = malloc(n);
			if (!sub)
				return -1;
			snprintf(sub, n, "%s/%s", path, e->d_name);
			struct stat sst;
			if (stat(sub, &sst) == 0 && S_ISREG(sst.st_mode) &&
			    run_path(sub) != 0)
				rc = -1;
			free(sub);
		}
		closedir(d);
		return rc;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = run_fd(fd, path);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;
	if (argc < 2)
		rc = run_fd(0, "stdin");
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i]) != 0)
			rc = 1;
	const char *self = strrchr(argv[0], '/');
	printf("# %s: %d input(s) ran clean\n", self ? self + 1 : argv[0],
	       count);
	return rc ? 1 : 0;
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int spool_fuzz_driver_unused;
#endif
