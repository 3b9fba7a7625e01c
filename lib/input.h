/* input.h - the reader: task lines from the FILEs in order (or stdin),
 * numbered, blank lines skipped.  It reads only when asked, so the window
 * of tasks in memory is what bounds it. */
#ifndef SPOOL_INPUT_H
#define SPOOL_INPUT_H

#include "linebuf.h"

struct input_src {
	char *name; /* as given; "-" for stdin */
	int fd;
	bool pollable; /* a pipe, socket or terminal: wait for readability */
	bool regular;  /* a regular file (its size and lines can be counted) */
	uint64_t line; /* lines read so far */
};

struct input {
	struct input_src *src;
	size_t nsrc, cur;
	struct linebuf lb;
	bool readable; /* the current pollable fd was reported readable */
	bool done;     /* every input read to its end */
	int done_fd;   /* a finished pollable input, closed by
			  input_close_done() once it is not watched */
};

enum input_result {
	IN_LINE,    /* a task line */
	IN_TOOLONG, /* a line over 64 MiB: its first piece (not a task) */
	IN_MORE,    /* the next piece of that line */
	IN_WAIT,    /* nothing yet: wait for the fd to be readable */
	IN_ERROR,   /* reading src failed (err); the next input follows */
	IN_END,     /* no more input */
};

struct input_line {
	const char *p; /* valid until the next input_next() */
	size_t n;
	uint32_t src;
	uint64_t line;
	bool more; /* IN_TOOLONG, IN_MORE: more pieces of the line follow */
	int err;   /* IN_ERROR: errno */
};

/* Open every input before any worker starts.  On failure returns -1 with
 * the message in err (exit 2). */
int input_open(struct input *in, const char *const *paths, size_t n,
	       struct buf *err);
void input_close(struct input *in);
/* Close a finished input's descriptor (after its loop watch is gone). */
void input_close_done(struct input *in);
enum input_result input_next(struct input *in, struct input_line *out);
/* The fd to poll for IN_WAIT, or -1. */
int input_fd(const struct input *in);
/* Count the task lines left in regular-file inputs, or -1 when some input
 * is not a regular file. */
int64_t input_count(const struct input *in);

/* Visit the task lines of the leading inputs that are regular files, as
 * input_next() would read them (a line over 64 MiB comes with p NULL),
 * without consuming them.  Returns how many inputs were visited. */
typedef void (*input_scan_fn)(void *ctx, uint32_t src, uint64_t line,
			      const char *p, size_t n);
size_t input_scan(const struct input *in, input_scan_fn fn, void *ctx);

#endif
