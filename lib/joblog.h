/* joblog.h - the per-task log (--joblog) and resuming from it (--resume).
 *
 * A TSV file with a header line and a row per finished task:
 *   seq source worker attempts start runtime status message hash
 * A row is queued once the task's output is written to stdout (runner.c
 * keeps the task until then): a row saying ok means the result is out.
 * A crash of spool loses at most the rows of the last loop turn.  With --resume
 * the log is read first: tasks whose latest row says ok are skipped, as
 * long as the input line is the same (same hash) as when it was logged. */
#ifndef SPOOL_JOBLOG_H
#define SPOOL_JOBLOG_H

#include "output.h"

struct joblog_entry {
	uint64_t seq;
	uint64_t hash;
	size_t pos; /* row number in the file: the latest row wins */
	bool ok;
};

struct joblog {
	struct output out;
	char *path;
	/* --resume: the latest row of every logged seq, sorted by seq. */
	struct joblog_entry *done;
	size_t ndone;
	size_t cursor; /* tasks are read in seq order: a moving cursor */
};

enum joblog_verdict {
	JL_RUN,     /* not logged, or logged as failed with the same line */
	JL_SKIP,    /* logged ok with the same line */
	JL_CHANGED, /* logged with a different line */
};

/* Open (append, header if new).  With resume, read the rows first.
 * Returns -1 with a message in err (exit 2). */
int joblog_open(struct joblog *jl, const char *path, bool resume,
		struct buf *err);
/* Write what is queued and close. */
void joblog_close(struct joblog *jl);

/* 64-bit FNV-1a of a task line: the hash column. */
uint64_t joblog_hash(const char *p, size_t n);

/* What to do with the task of this seq and line hash (seqs ascending). */
enum joblog_verdict joblog_check(struct joblog *jl, uint64_t seq, uint64_t hash,
				 uint64_t *logged_hash);

/* Queue a row; status is "ok", "failed" or "not_started"; message may
 * be NULL or hold tabs/newlines (made spaces). */
void joblog_row(struct joblog *jl, uint64_t seq, const char *src, uint64_t line,
		const char *worker, unsigned attempts, double start,
		double runtime, const char *status, const char *message,
		uint64_t hash);

/* Write the queued rows (a write error is kept in jl->out.err). */
void joblog_flush(struct joblog *jl);

#endif
