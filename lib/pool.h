/* pool.h - the engine that ties the parts together: it reads tasks into
 * the window, dispatches them to workers, turns answers and deaths into
 * results, retries and failures, and decides when the run is over.
 * Completion (task_ok, task_fail, requeue) is the one place where
 * "nothing lost" is decided. */
#ifndef SPOOL_POOL_H
#define SPOOL_POOL_H

#include "config.h"
#include "input.h"
#include "joblog.h"
#include "loop.h"
#include "output.h"
#include "progress.h"
#include "reorder.h"
#include "spool.h"
#include "stats.h"
#include "task.h"
#include "worker.h"

/* Per worker spec, over the whole run. */
struct spec_state {
	int failures;  /* spawn failures in a row, across its replicas */
	bool given_up;
};

enum run_phase {
	PH_RUN,      /* reading input and dispatching */
	PH_DRAIN,    /* reading no more; finishing the tasks in hand */
	PH_SHUTDOWN, /* every task retired; workers are exiting */
	PH_DONE,
};

/* Why no more input is read. */
enum stop_reason {
	STOP_NONE,
	STOP_EOF,        /* all input read */
	STOP_STRICT,     /* --strict and a task failed */
	STOP_SIGNAL,     /* SIGINT or SIGTERM */
	STOP_PIPE,       /* stdout's reader went away */
	STOP_CHECK,      /* spool check: every worker reported */
	STOP_CHANGED,    /* --resume: an input line differs from the joblog */
};

struct pool {
	/* Settings, after config and flags are merged. */
	struct pool_config cfg;
	bool keep_order, tag, raw, strict, check;
	long retries;
	long queue_size;
	long inflight;  /* -1: each spec's own */
	double timeout; /* < 0: each spec's own */

	struct loop loop;
	struct worker *w;
	size_t nw;
	struct spec_state *specs;
	struct task_store ts;
	struct idq queue;   /* tasks waiting for a worker, next first */
	struct reorder order;
	bool order_on;
	struct input in;
	int in_watch;
	struct output out;
	int out_watch;
	struct output failed;
	bool failed_on;
	int sigfd, sig_watch;

	enum run_phase phase;
	enum stop_reason stop;
	int signal;          /* the first SIGINT/SIGTERM, 0 if none */
	double drain_until;  /* after a signal: in-flight tasks get until then */
	bool no_workers;     /* every spec given up */
	bool usage_error;    /* a run-time usage error (exit 2) */

	uint64_t seq;
	uint64_t n_read, n_ok, n_failed, n_retried, n_skipped;
	uint64_t n_not_started, n_interrupted, n_no_workers;
	double now, t_start;
	double wall0; /* wall clock minus monotonic clock, at start */

	/* Watching a run. */
	bool joblog_on, resume, progress_on, stats_on;
	bool recording; /* any of them: record each finished task */
	bool out_tty;   /* stdout is a terminal (the progress line steps aside) */
	bool timers_acted; /* pool_timers() did something this call */
	bool read_held;    /* pool_read() stopped for stdout's backlog */
	const char *stats_path;
	struct joblog joblog;
	struct progress progress;
	struct latency_hist hist;
};

/* Called from the loop when a worker's process was reaped. */
void pool_worker_reaped(struct pool *p, struct worker *w, int wstatus);

/* The name of input src for messages ("stdin" for -). */
const char *pool_src_name(const struct pool *p, uint32_t src);

#endif
