/* output.h - the writer: results to stdout (plain, or --tag envelopes),
 * and input lines of failed tasks to --failed.  Bytes are queued and
 * written in large batches, once per loop turn or when a batch is full. */
#ifndef SPOOL_OUTPUT_H
#define SPOOL_OUTPUT_H

#include "util.h"

struct output {
	int fd;
	const char *path; /* for messages (--failed FILE), or NULL */
	struct buf b;
	int saved_flags;  /* fd flags to restore at exit, -1 if untouched */
	bool pollable;    /* non-blocking: wait for POLLOUT when full */
	bool broken;      /* the reader went away (EPIPE) */
	int err;          /* another write error */
	uint64_t written; /* bytes written so far (joblog rows wait on it) */
};

/* Queue at most this much before making the reader wait. */
#define OUTPUT_HIGH_WATER ((size_t)1 << 20)

void output_init(struct output *o, int fd);
/* Restore the fd's flags and drop anything unwritten. */
void output_release(struct output *o);
/* Write what is queued.  Returns true when everything was written. */
bool output_flush(struct output *o);
/* Write everything, waiting as needed (the end of a run). */
void output_drain(struct output *o);
static inline bool output_pending(const struct output *o)
{
	return buf_used(&o->b) > 0;
}

/* Formatting into any buffer (stdout's queue, or a task's held output). */
void output_add_result(struct buf *dst, bool tag, bool raw_is_json,
		       uint64_t seq, const char *p, size_t n);
void output_add_error(struct buf *dst, uint64_t seq, const char *msg,
		      unsigned attempts, const char *worker);

#endif
