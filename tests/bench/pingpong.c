/* pingpong - the floor for one task at a time through a worker: start a
 * command once with two pipes, then for each input line write it to the
 * command's stdin and read one line back, and write that to stdout.
 *
 *   pingpong COMMAND [ARG...] < tasks > results
 *
 * With cat as the command, (spool's time - this program's time) / tasks
 * is what spool adds per round trip with one task in flight.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += w;
		n -= (size_t)w;
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: pingpong COMMAND [ARG...] < tasks\n");
		return 2;
	}
	int to[2], from[2];
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0)
			_exit(126);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "pingpong: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	signal(SIGPIPE, SIG_IGN);

	/* Answer buffer: whatever one read brings, up to a newline. */
	size_t cap = 1 << 16, have = 0;
	char *buf = malloc(cap);
	char *line = NULL;
	size_t lcap = 0;
	ssize_t n;
	if (!buf)
		die("malloc");
	while ((n = getline(&line, &lcap, stdin)) > 0) {
		if (line[n - 1] != '\n')
			line[n++] = '\n'; /* getline leaves room for the NUL */
		write_all(to[1], line, (size_t)n);
		char *nl;
		while (!(nl = memchr(buf, '\n', have))) {
			if (have == cap) {
				cap *= 2;
				buf = realloc(buf, cap);
				if (!buf)
					die("realloc");
			}
			ssize_t r = read(from[0], buf + have, cap - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				die("read");
			if (r == 0) {
				fprintf(stderr, "pingpong: %s closed its output\n", argv[1]);
				return 1;
			}
			have += (size_t)r;
		}
		size_t len = (size_t)(nl - buf) + 1;
		if (fwrite(buf, 1, len, stdout) != len)
			die("stdout");
		memmove(buf, buf + len, have - len);
		have -= len;
	}
	close(to[1]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (fclose(stdout) != 0)
		die("stdout");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
