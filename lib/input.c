/* input.c - reading task lines from the inputs. */
#define _GNU_SOURCE
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define INPUT_READ ((size_t)256 << 10)

int input_open(struct input *in, const char *const *paths, size_t n,
	       struct buf *err)
{
	static const char *const stdin_only[] = {"-"};
	memset(in, 0, sizeof(*in));
	if (n == 0) {
		paths = stdin_only;
		n = 1;
	}
	in->done_fd = -1;
	in->src = xcalloc(n, sizeof(*in->src));
	in->nsrc = n;
	for (size_t i = 0; i < n; i++)
		in->src[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		struct input_src *s = &in->src[i];
		s->name = xstrdup(paths[i]);
		if (strcmp(paths[i], "-") == 0) {
			s->fd = 0;
		} else {
			s->fd = open(paths[i], O_RDONLY | O_CLOEXEC);
			if (s->fd < 0) {
				buf_addf(err, "%s: cannot read input: %s",
					 paths[i], strerror(errno));
				return -1;
			}
		}
		struct stat st;
		if (fstat(s->fd, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				buf_addf(
					err,
					"%s: cannot read input: Is a directory",
					paths[i]);
				return -1;
			}
			s->regular = S_ISREG(st.st_mode);
			s->pollable = S_ISFIFO(st.st_mode) ||
				      S_ISSOCK(st.st_mode) ||
				      S_ISCHR(st.st_mode);
			/* /dev/null and friends never block. */
			if (S_ISCHR(st.st_mode) && !isatty(s->fd))
				s->pollable = false;
		}
	}
	linebuf_init(&in->lb, SPOOL_LINE_MAX);
	in->lb.keep_tail = true; /* an over-long line still goes to --failed */
	return 0;
}

void input_close_done(struct input *in)
{
	if (in->done_fd > 0)
		close(in->done_fd);
	in->done_fd = -1;
}

void input_close(struct input *in)
{
	input_close_done(in);
	for (size_t i = 0; i < in->nsrc; i++) {
		if (in->src[i].fd > 0)
			close(in->src[i].fd);
		free(in->src[i].name);
	}
	free(in->src);
	linebuf_release(&in->lb);
	memset(in, 0, sizeof(*in));
}

static bool is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

static void next_source(struct input *in)
{
	struct input_src *s = &in->src[in->cur];
	/* A pollable input may be watched by the loop: the watch goes
	 * first, then the descriptor (input_close_done). */
	if (s->fd > 0 && s->pollable)
		in->done_fd = s->fd;
	else if (s->fd > 0)
		close(s->fd);
	s->fd = -1;
	in->cur++;
	in->readable = false;
	in->lb.start = in->lb.end = in->lb.scan = 0;
	in->lb.eof = false;
	in->lb.skipping = false;
	if (in->cur >= in->nsrc)
		in->done = true;
}

enum input_result input_next(struct input *in, struct input_line *out)
{
	for (;;) {
		if (in->cur >= in->nsrc) {
			in->done = true;
			return IN_END;
		}
		struct input_src *s = &in->src[in->cur];
		const char *line;
		size_t n;
		enum linebuf_result r = linebuf_next(&in->lb, &line, &n);
		if (r == LB_LINE) {
			s->line++;
			if (is_blank(line, n))
				continue;
			*out = (struct input_line){
				line, n, (uint32_t)in->cur, s->line, false, 0};
			return IN_LINE;
		}
		if (r == LB_TOOLONG || r == LB_MORE) {
			if (r == LB_TOOLONG)
				s->line++;
			*out = (struct input_line){line,
						   n,
						   (uint32_t)in->cur,
						   s->line,
						   in->lb.skipping,
						   0};
			return r == LB_TOOLONG ? IN_TOOLONG : IN_MORE;
		}
		if (in->lb.eof) {
			next_source(in);
			continue;
		}
		if (s->pollable && !in->readable)
			return IN_WAIT;
		in->readable = false;
		ssize_t got = linebuf_fill(&in->lb, s->fd, INPUT_READ);
		if (got < 0) {
			if (errno == EAGAIN)
				return IN_WAIT;
			*out = (struct input_line){
				NULL,    0,     (uint32_t)in->cur,
				s->line, false, errno};
			next_source(in);
			return IN_ERROR;
		}
	}
}

int input_fd(const struct input *in)
{
	if (in->cur >= in->nsrc)
		return -1;
	const struct input_src *s = &in->src[in->cur];
	return s->pollable ? s->fd : -1;
}

/* Call fn for every task line of a regular file, from its current
 * offset, without moving it; the same rules as input_next() (CR cut,
 * blank lines skipped, lines over 64 MiB passed with n = 0 and p = NULL).
 * Returns -1 if the file cannot be mapped. */
static int scan_file(int fd, uint32_t src, input_scan_fn fn, void *ctx)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	off_t pos = lseek(fd, 0, SEEK_CUR);
	if (pos < 0 || pos > st.st_size)
		return -1;
	size_t len = (size_t)(st.st_size - pos);
	if (len == 0)
		return 0;
	long page = sysconf(_SC_PAGESIZE);
	size_t skew = (size_t)(pos % page);
	void *map = mmap(NULL, len + skew, PROT_READ, MAP_PRIVATE, fd,
			 pos - (off_t)skew);
	if (map == MAP_FAILED)
		return -1;
	const char *p = (const char *)map + skew;
	uint64_t line = 0;
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - p) : len;
		size_t n = end - i;
		line++;
		if (n && p[i + n - 1] == '\r')
			n--;
		if (n > SPOOL_LINE_MAX)
			fn(ctx, src, line, NULL, 0);
		else if (!is_blank(p + i, n))
			fn(ctx, src, line, p + i, n);
		i = end + 1;
	}
	munmap(map, len + skew);
	return 0;
}

size_t input_scan(const struct input *in, input_scan_fn fn, void *ctx)
{
	size_t i;
	for (i = in->cur; i < in->nsrc; i++) {
		if (!in->src[i].regular ||
		    scan_file(in->src[i].fd, (uint32_t)i, fn, ctx) != 0)
			break;
	}
	return i - in->cur;
}

static void count_one(void *ctx, uint32_t src, uint64_t line, const char *p,
		      size_t n)
{
	(void)src;
	(void)line;
	(void)p;
	(void)n;
	(*(int64_t *)ctx)++;
}

int64_t input_count(const struct input *in)
{
	int64_t total = 0;
	if (input_scan(in, count_one, &total) != in->nsrc - in->cur)
		return -1;
	return total;
}
