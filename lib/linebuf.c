/* linebuf.c - bounded line reader. */
#define _GNU_SOURCE
#include "linebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINEBUF_MIN_READ ((size_t)64 << 10)

void linebuf_init(struct linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max;
	lb->final_partial = true;
}

void linebuf_release(struct linebuf *lb)
{
	free(lb->p);
	memset(lb, 0, sizeof(*lb));
}

/* Make room for at least `want` more bytes at the end. */
static void make_room(struct linebuf *lb, size_t want)
{
	if (lb->start > 0 &&
	    (lb->cap - lb->end < want || lb->start == lb->end)) {
		size_t n = lb->end - lb->start;
		memmove(lb->p, lb->p + lb->start, n);
		lb->scan -= lb->start;
		lb->end = n;
		lb->start = 0;
	}
	if (lb->cap - lb->end >= want)
		return;
	size_t cap = lb->cap ? lb->cap : LINEBUF_MIN_READ;
	while (cap - lb->end < want)
		cap *= 2;
	/* A line is cut off at max: never hold much more than that. */
	size_t enough = lb->max + 2 * want;
	if (cap > enough)
		cap = MAX(enough, lb->end + want);
	lb->p = xrealloc(lb->p, cap);
	lb->cap = cap;
}

ssize_t linebuf_fill(struct linebuf *lb, int fd, size_t want)
{
	if (want < LINEBUF_MIN_READ)
		want = LINEBUF_MIN_READ;
	/* While skipping an over-long line, nothing before the scan point
	 * is kept. */
	if (lb->skipping)
		lb->start = lb->scan = lb->end;
	/* Give back the memory a huge line needed once it has gone. */
	if (lb->start == lb->end && lb->cap > ((size_t)4 << 20)) {
		free(lb->p);
		lb->p = NULL;
		lb->cap = lb->start = lb->scan = lb->end = 0;
	}
	make_room(lb, want);
	size_t room = lb->cap - lb->end;
	ssize_t r = xread(fd, lb->p + lb->end, room);
	if (r > 0)
		lb->end += (size_t)r;
	else if (r == 0)
		lb->eof = true;
	return r;
}

/* Everything but a plain complete line: partial lines, the end of the
 * input, over-long lines. */
static enum linebuf_result next_slow(struct linebuf *lb, const char **line,
				     size_t *len)
{
	for (;;) {
		char *base = lb->p;
		char *nl = NULL;
		if (lb->scan < lb->end)
			nl = memchr(base + lb->scan, '\n', lb->end - lb->scan);
		if (lb->skipping) {
			/* The rest of an over-long line: dropped, or handed
			 * out in pieces (keep_tail) for whoever keeps it. */
			const char *piece = base + lb->scan;
			size_t pos = nl ? (size_t)(nl - base) : lb->end;
			size_t k = pos - lb->scan;
			lb->skipped += k;
			lb->start = lb->scan = nl ? pos + 1 : lb->end;
			if (nl || lb->eof)
				lb->skipping = false;
			if (lb->keep_tail && (k || !lb->skipping)) {
				*line = piece;
				*len = k;
				return LB_MORE;
			}
			if (!nl)
				return LB_NEED;
			continue;
		}
		size_t n;
		if (nl) {
			n = (size_t)(nl - (base + lb->start));
		} else {
			n = lb->end - lb->start;
			/* A CR at the end may belong to a CRLF whose LF has
			 * not arrived: it does not count against max yet. */
			size_t counted = n;
			if (n && base[lb->end - 1] == '\r')
				counted--;
			if (counted > lb->max) {
				/* The bytes stay readable until the next fill. */
				*line = base + lb->start;
				*len = n;
				lb->skipping = true;
				lb->skipped = n;
				lb->start = lb->scan = lb->end;
				return LB_TOOLONG;
			}
			lb->scan = lb->end;
			if (!lb->eof || n == 0 || !lb->final_partial)
				return LB_NEED;
		}
		const char *s = base + lb->start;
		size_t next = lb->start + n + (nl ? 1 : 0);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > lb->max) {
			lb->start = lb->scan = next;
			*line = s;
			*len = n;
			return LB_TOOLONG;
		}
		lb->start = lb->scan = next;
		*line = s;
		*len = n;
		return LB_LINE;
	}
}

enum linebuf_result linebuf_next(struct linebuf *lb, const char **line,
				 size_t *len)
{
	/* The common case, kept short: a complete line of a sane length. */
	if (LIKELY(!lb->skipping && lb->scan < lb->end)) {
		char *s = lb->p + lb->start;
		char *nl = memchr(lb->p + lb->scan, '\n', lb->end - lb->scan);
		if (LIKELY(nl != NULL)) {
			size_t n = (size_t)(nl - s);
			if (n && s[n - 1] == '\r')
				n--;
			if (LIKELY(n <= lb->max)) {
				lb->start = lb->scan = (size_t)(nl - lb->p) + 1;
				*line = s;
				*len = n;
				return LB_LINE;
			}
		}
	}
	return next_slow(lb, line, len);
}
