/* linebuf.h - reading newline-terminated lines from a descriptor, with a
 * bound on how much one line may buffer.
 *
 * Bytes are read in large chunks into one buffer; linebuf_next() hands out
 * complete lines in place (no copy) until only a partial tail is left, which
 * the next fill moves to the front.  A line longer than the bound is reported
 * once and then skipped up to its newline without being kept. */
#ifndef SPOOL_LINEBUF_H
#define SPOOL_LINEBUF_H

#include "util.h"

struct linebuf {
	char *p;
	size_t start; /* first byte not yet handed out */
	size_t scan;  /* where the search for '\n' resumes */
	size_t end;   /* bytes held */
	size_t cap;
	size_t max;         /* longest line accepted, without its '\n' */
	size_t skipped;     /* bytes of an over-long line dropped so far */
	bool skipping;      /* inside an over-long line */
	bool eof;           /* the descriptor reached end of file */
	bool final_partial; /* at EOF, hand out a last line without '\n' */
	bool keep_tail;     /* hand out the rest of an over-long line (LB_MORE)
			       instead of dropping it */
};

enum linebuf_result {
	LB_LINE = 1,     /* *line, *len: a complete line, '\n' and '\r' cut */
	LB_NEED = 0,     /* no complete line buffered: fill and try again */
	LB_TOOLONG = -1, /* a line exceeded max: *len is its length so far */
	LB_MORE = 2,     /* keep_tail: the next piece of that line; it is the
			    last piece once skipping is false again */
};

void linebuf_init(struct linebuf *lb, size_t max);
void linebuf_release(struct linebuf *lb);

/* Read once from fd.  Returns bytes read, 0 at end of file, -1 on error
 * (errno set; EAGAIN when a non-blocking fd has nothing). */
ssize_t linebuf_fill(struct linebuf *lb, int fd, size_t want);

/* The next complete line.  At end of file a final line without '\n' is
 * returned as a line too, when final_partial is set (the default).
 * LB_TOOLONG hands out the bytes buffered so far in *line, *len; they stay
 * valid until the next fill, and the rest of that line is skipped. */
enum linebuf_result linebuf_next(struct linebuf *lb, const char **line,
				 size_t *len);

/* Bytes buffered but not yet returned as lines. */
static inline size_t linebuf_pending(const struct linebuf *lb)
{
	return lb->end - lb->start;
}

#endif
