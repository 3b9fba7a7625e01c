/* runner.h - `spool run`: the client whose tasks come from the input files
 * (or stdin) and whose outcomes go to stdout, --failed and the joblog.
 *
 * A task is done only once its output is written: a result (or --tag
 * envelope) queued for stdout keeps its task until those bytes are out;
 * then its joblog row is written and it counts as ok.  If stdout cannot
 * be written, the tasks whose output was not written fail instead. */
#ifndef SPOOL_RUNNER_H
#define SPOOL_RUNNER_H

#include "input.h"
#include "joblog.h"
#include "output.h"
#include "pool.h"
#include "progress.h"
#include "reorder.h"

/* Where finished tasks' outputs end in stdout, oldest first, each
 * (offset << 1 | succeeded). */
struct marks {
	uint64_t *v;
	size_t head, len, cap;
};

struct runner {
	struct client c;
	struct pool *p;
	bool keep_order, tag, raw, strict;

	struct input in;
	int in_watch;
	bool read_held;    /* reading waits for stdout's backlog */
	uint64_t seq;      /* tasks numbered so far */
	struct output out; /* stdout */
	int out_watch;
	bool out_said;       /* a write error on stdout was reported */
	uint64_t n_lost;     /* tasks failed because stdout failed */
	uint64_t n_bad_json; /* input lines that were not JSON */
	struct output failed;
	bool failed_on;
	bool failed_streaming; /* an over-long line is being written to it */
	bool failed_said;
	struct joblog joblog;
	bool joblog_on, resume;
	bool joblog_said;

	struct reorder order;   /* -k */
	size_t held_bytes;      /* output held behind the head (-k) */
	size_t held_max;        /* dispatch pauses beyond this */
	uint32_t nheld;         /* tasks whose output is held (-k) */
	struct idq unconfirmed; /* done, output queued, not yet written */
	struct marks marks;     /* the same, when the tasks are not kept */
	bool keep; /* keep them until written (--failed, --joblog need them) */

	bool progress_on, out_tty;
	struct progress progress;
	const char *stats_path;
	int stats_fd; /* --stats=FILE, opened at the start */
	bool stats_failed;
};

/* Open the inputs and outputs (exit status on failure, 0 when ready). */
int runner_setup(struct runner *r, struct pool *p, const struct spool_opts *o);
void runner_release(struct runner *r);
/* After the loop: write what is left, say what happened. */
void runner_finish(struct runner *r);

#endif
