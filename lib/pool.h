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
	int failures; /* spawn failures in a row, across its replicas */
	bool given_up;
	bool proven; /* one of its workers has finished a task */
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
	STOP_EOF,     /* all input read */
	STOP_STRICT,  /* --strict and a task failed */
	STOP_SIGNAL,  /* SIGINT or SIGTERM */
	STOP_PIPE,    /* stdout's reader went away */
	STOP_CHECK,   /* spool check: every worker reported */
	STOP_CHANGED, /* --resume: an input line differs from the joblog */
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
	struct idq queue; /* tasks waiting for a worker, next first */
	struct reorder order;
	bool order_on;
	struct input in;
	int in_watch;
	struct output out;
	int out_watch;
	struct output failed;
	bool failed_on;
	bool failed_streaming; /* an over-long line is being written to it */
	int sigfd, sig_watch;
	bool signals_set; /* the signal mask and dispositions were changed */

	enum run_phase phase;
	enum stop_reason stop;
	int signal;         /* the first SIGINT/SIGTERM, 0 if none */
	double drain_until; /* after a signal: in-flight tasks get until then */
	double signal_at;   /* when the first signal came */
	bool no_workers;    /* every spec given up */
	bool usage_error;   /* a run-time usage error (exit 2) */

	struct buf scratch; /* reused for compacting results */

	uint64_t seq;
	uint64_t n_read, n_ok, n_failed, n_retried, n_skipped;
	uint64_t n_not_started, n_interrupted, n_no_workers;
	double now, t_start;
	double wall0; /* wall clock minus monotonic clock, at start */

	/* Watching a run. */
	bool joblog_on, resume, progress_on, stats_on;
	bool recording; /* any of them: record each finished task */
	bool out_tty; /* stdout is a terminal (the progress line steps aside) */
	bool timers_acted; /* pool_timers() did something this call */
	bool read_held;    /* pool_read() stopped for stdout's backlog */
	const char *stats_path;
	int stats_fd;      /* --stats=FILE, opened at the start */
	bool stats_failed; /* it could not be written */
	struct joblog joblog;
	struct progress progress;
	struct latency_hist hist;
};

/* Seconds a worker gets to exit by itself after its stdin closes. */
#define EXIT_GRACE 5.0
/* Bytes read from a worker's stdout per read. */
#define ANSWER_READ ((size_t)256 << 10)

static inline struct task *pool_task(struct pool *p, uint32_t slot)
{
	return &p->ts.t[slot];
}

/* The name of input src for messages ("stdin" for -). */
const char *pool_src_name(const struct pool *p, uint32_t src);

/* complete.c */
enum fail_kind {
	FAIL_SAY,   /* a line on stderr for this task */
	FAIL_QUIET, /* counted, and said once in a summary line */
};
void task_ok(struct pool *p, struct worker *w, uint32_t slot, const char *res,
	     size_t n, bool is_json);
void task_fail(struct pool *p, uint32_t slot, const char *why,
	       enum fail_kind kind);
void requeue_inflight(struct pool *p, struct worker *w, const char *why);
bool inflight_blamed(struct pool *p, const struct worker *w);
void fail_inflight(struct pool *p, struct worker *w, const char *why,
		   bool count_interrupted);

/* dispatch.c */
void pool_pump(struct pool *p);
long worker_limit(const struct pool *p, const struct worker *w);
double spec_timeout(const struct pool *p, const struct worker *w);
void learn_service_time(struct pool *p, struct worker *w, unsigned answers);

/* answer.c */
void watch_worker(struct pool *p, struct worker *w);
void unwatch_worker(struct pool *p, struct worker *w);
void worker_flush(struct pool *p, struct worker *w);
void worker_ready(struct pool *p, struct worker *w, char *result);
void worker_lines(struct pool *p, struct worker *w);

/* supervise.c */
bool pool_wants_workers(const struct pool *p);
void spawn_worker(struct pool *p, struct worker *w);
void pool_reap(struct pool *p);
void pool_worker_reaped(struct pool *p, struct worker *w, int wstatus);

#endif
