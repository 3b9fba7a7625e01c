/* joblog.h - the per-task log (--joblog) and resuming from it (--resume).
 *
 * A TSV file with a header line and a row per finished task:
 *   seq source worker attempts start runtime status message hash
 * Rows are queued as tasks' outputs are queued for stdout, and written
 * once those stdout bytes are: a row saying ok means the result is out.
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

/* A queued row may be written once `need` bytes of stdout are. */
struct joblog_mark {
	uint64_t end;  /* bytes queued up to the end of this row */
	uint64_t need; /* stdout bytes that must be written first */
};

struct joblog {
	struct output out;
	char *path;
	struct joblog_mark *marks; /* rows not yet written, oldest first */
	size_t mhead, mlen, mcap;
	uint64_t queued; /* bytes ever queued (header included) */
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
/* Write what may be written (rows of results never written are left
 * out: their tasks run again on --resume) and close. */
void joblog_close(struct joblog *jl, uint64_t stdout_written);

/* 64-bit FNV-1a of a task line: the hash column. */
uint64_t joblog_hash(const char *p, size_t n);

/* What to do with the task of this seq and line hash (seqs ascending). */
enum joblog_verdict joblog_check(struct joblog *jl, uint64_t seq, uint64_t hash,
				 uint64_t *logged_hash);

/* Queue a row; message may be NULL or hold tabs/newlines (escaped).  The
 * row is written once stdout has written `need` bytes: the task's result
 * (or error envelope) is out before the log says the task is done. */
void joblog_row(struct joblog *jl, uint64_t seq, const char *src, uint64_t line,
		const char *worker, unsigned attempts, double start,
		double runtime, bool ok, const char *message, uint64_t hash,
		uint64_t need);

/* Write the rows whose stdout bytes are written (stdout_written). */
void joblog_flush(struct joblog *jl, uint64_t stdout_written);

#endif
