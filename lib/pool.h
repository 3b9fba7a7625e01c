/* pool.h - the engine: workers, the tasks its clients submit, dispatch,
 * answers, retries and the phases of a run.
 *
 * The engine's edges are clients (struct client): a client submits tasks
 * and is told how each one ended.  `spool run` is one client whose tasks
 * come from the input files and whose outcomes go to stdout, --failed and
 * the joblog (runner.c); `spool serve` has a client per connection
 * (serve.c).  The engine knows nothing of files, order or formats:
 *
 *     client --pool_task_new/pool_submit--> queue --dispatch--> worker
 *     client <--ops->ok / ops->fail-------- completion <-- answer/death
 *     client --pool_task_release--> (slot free; the window has room)
 *
 * Completion (complete.c) is the one place where a task's fate is
 * decided: a result, a failure, or another attempt. */
#ifndef SPOOL_POOL_H
#define SPOOL_POOL_H

#include "config.h"
#include "hosts.h"
#include "idmap.h"
#include "idq.h"
#include "loop.h"
#include "spool.h"
#include "stats.h"
#include "task.h"
#include "timer.h"
#include "worker.h"

enum fail_kind {
	FAIL_SAY,         /* a line on stderr for this task */
	FAIL_QUIET,       /* counted, and said once in a summary line */
	FAIL_NOT_STARTED, /* never run (the run stopped): quiet too */
};

/* Why a task failed, for clients that report it structured (serve). */
enum fail_reason {
	FR_ERROR,       /* the worker answered with an error */
	FR_DIED,        /* its workers died or timed out, attempts used up */
	FR_INTERRUPTED, /* spool was signalled while it ran */
	FR_NOT_STARTED, /* the run stopped before it started */
	FR_NO_WORKERS,  /* no worker left to run it */
	FR_OUTPUT,      /* its result could not be written */
	FR_INPUT,       /* the task itself was not acceptable */
};

struct answer;
struct fail_info {
	enum fail_reason reason;
	const struct answer *answer; /* FR_ERROR: the worker's error */
};

struct client;

/* A list of workers (dirty sets, the flush queue). */
struct wvec {
	struct worker **v;
	size_t n, cap;
};

static inline void vec_push(struct wvec *a, struct worker *w)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = w;
}

static inline void vec_drop_front(struct wvec *a, size_t k)
{
	if (!k)
		return;
	memmove(a->v, a->v + k, (a->n - k) * sizeof(*a->v));
	a->n -= k;
}

/* What a client does; every hook but ok and fail may be NULL. */
struct client_ops {
	/* A task of this client finished.  The client owns the slot until
	 * it calls pool_task_release(). */
	void (*ok)(struct client *c, uint32_t slot, const char *res, size_t n,
		   bool is_json);
	void (*fail)(struct client *c, uint32_t slot, const char *why,
		     enum fail_kind kind, const struct fail_info *info);
	/* Once per turn, before dispatch: submit what the window allows. */
	void (*pump)(struct client *c);
	/* At the end of a turn: write what is queued. */
	void (*flush)(struct client *c);
	/* Before the loop waits: set up watches, lower *deadline (0: none)
	 * if it must wake up by then.  Returns false when there is work to
	 * do at once (do not wait). */
	bool (*prepare)(struct client *c, double *deadline);
	/* Name a task in messages ("tasks.ndjson:3"). */
	void (*describe)(struct client *c, uint32_t slot, struct buf *out);
	/* A paused client: may this queued task be dispatched anyway? */
	bool (*may_dispatch)(struct client *c, uint32_t slot);
};

struct client {
	const struct client_ops *ops;
	struct pool *pool;
	struct idq queue; /* its tasks waiting for a worker, next first */
	bool paused;      /* dispatch only what may_dispatch allows */
	bool in_ring;     /* in the pool's round-robin of waiting clients */
	struct client *rr_next, *rr_prev; /* that ring */
	struct client *next;              /* every client of the pool */
};

void client_init(struct client *c, struct pool *p,
		 const struct client_ops *ops);
void client_release(struct client *c);

/* Per worker spec, over the whole run. */
struct spec_state {
	int failures; /* spawn failures in a row, across its replicas */
	bool given_up;
	bool proven; /* one of its workers has finished a task */
	bool hinted; /* told that its workers may buffer their output */
};

enum run_phase {
	PH_RUN,      /* taking tasks and dispatching */
	PH_DRAIN,    /* taking no more; finishing the tasks in hand */
	PH_SHUTDOWN, /* every task retired; workers are exiting */
	PH_DONE,
};

/* Why no more tasks are taken. */
enum stop_reason {
	STOP_NONE,
	STOP_EOF,     /* all input read */
	STOP_STRICT,  /* --strict and a task failed */
	STOP_SIGNAL,  /* SIGINT, SIGTERM or SIGHUP */
	STOP_PIPE,    /* stdout's reader went away */
	STOP_OUTPUT,  /* stdout could not be written (a full disk) */
	STOP_CHECK,   /* spool check: every worker reported */
	STOP_CHANGED, /* --resume: an input line differs from the joblog */
	STOP_NOPOOL,  /* no worker could ever run (no Slurm allocation) */
};

struct pool {
	/* Settings, after config and flags are merged. */
	struct pool_config cfg;
	bool check;
	long retries;
	long queue_size;
	long inflight;      /* -1: each spec's own */
	double timeout;     /* < 0: each spec's own */
	double auto_target; /* inflight auto: seconds of work to keep queued
			       at each worker (see pool_setup) */

	struct loop loop;
	struct worker **w;
	size_t nw;
	/* Only what changed is looked at: workers something happened to
	 * (pool_touch), timers in a heap, a heap of workers with room by
	 * tasks in flight, and those with bytes to write. */
	struct timer_heap timers;
	struct wvec dirty_time, dirty_room, flushq;
	struct timer_heap roomh; /* workers with room, by tasks in flight */
	bool eof_dirty;    /* look for lines workers to close at EOF */
	bool answers_held; /* a client cannot take more results */
	double batch_due;  /* a held partial batch goes then */
	struct latency_hist batch_wait; /* queued to sent, batched tasks */
	struct wvec held_readers;       /* workers not read meanwhile */
	struct wvec read_due;           /* coalescing timers that are due */
	size_t nlive;                   /* workers with a process */
	struct spec_state *specs;       /* per spec: the config's, then extra */
	struct worker_spec **extra;     /* specs added by add_worker */
	size_t nextra;
	/* Told when a worker comes up (why NULL) or fails to (serve). */
	void (*on_worker)(void *ctx, struct worker *w, bool up,
			  const char *why);
	void *hook_ctx;
	struct task_store ts;
	uint64_t ids;        /* request ids handed out */
	struct idmap byid;   /* in flight on workers that answer by id */
	struct idq suspects; /* tasks that must run alone, next first */
	struct client *ring; /* clients with queued tasks: the next to serve */
	size_t nqueued;      /* tasks in clients' queues */
	uint32_t exempt;     /* in flight on buffered workers: not in -q */
	struct client *clients; /* every client, newest first */
	struct client *client;  /* the run's client */
	int sigfd, sig_watch;
	int err_watch;    /* stderr, while messages wait for it */
	bool signals_set; /* the signal mask and dispositions were changed */
	int guard_fd;     /* to the guard process; -1 when there is none */
	pid_t guard_pid;
	struct hosts hosts; /* where remote workers run (hosts.h) */

	enum run_phase phase;
	enum stop_reason stop;
	int signal;         /* the first SIGINT/SIGTERM/SIGHUP, 0 if none */
	int last_sig;       /* the latest one, its sender and when it came: */
	pid_t last_sig_pid; /* one signal sent twice is one signal */
	double last_sig_at;
	double drain_until; /* after a signal: in-flight tasks get until then */
	double signal_at;   /* when the first signal came */
	bool no_workers;    /* every spec given up */
	bool usage_error;   /* a run-time usage error (exit 2) */
	bool failed_io;     /* --failed, --joblog or stdout not written */
	bool out_of_step;   /* a lines worker wrote more lines than tasks */
	bool spin;          /* a client has work: do not wait this turn */
	bool out_abandoned; /* interrupted: unwritten results are dropped */
	bool eof_flush;     /* end of input, a worker buffers: lines workers
			       take all that is left, then get EOF */

	struct buf scratch; /* reused for compacting results */

	uint64_t n_read, n_ok, n_failed, n_retried, n_skipped;
	/* Tasks counted and released whose output a client has still to
	 * write: the run is not over while there are any. */
	uint64_t n_unwritten;
	uint64_t n_not_started, n_interrupted, n_no_workers;
	uint64_t n_lost_to_deaths; /* failed: workers died or none left */
	bool serving;              /* spool serve: clients come and go */
	uint64_t n_clients, n_disconnected, n_discarded;
	double now, t_start;
	double wall0; /* wall clock minus monotonic clock, at start */

	/* Watching a run. */
	bool recording; /* record each finished task's latency */
	bool stats_on;
	bool timers_acted; /* pool_timers() did something this call */
	struct latency_hist hist;
};

/* A worker waiting to respawn while none is wanted looks again this
 * often (a task may come back for it). */
#define BACKOFF_POLL 0.2
/* Seconds a worker gets to exit by itself after its stdin closes. */
#define EXIT_GRACE 5.0
/* A buffered worker's window: task bytes in flight (its pipe stays full,
 * its answers come in blocks). */
#define BUFFERED_WINDOW ((size_t)64 << 10)
/* A buffered worker that has read all its input and not answered for
 * this long is holding answers in its buffer: its stdin is closed so it
 * flushes them (a fresh worker takes its place). */
#define BUFFERED_IDLE 0.5
/* A lines worker holding tasks this long, its input all read, may be
 * buffering its output: say how to make it flush (once per spec). */
#define BUFFERING_HINT 5.0
/* The same at the end of the input: it is made to flush. */
#define EOF_STALL 0.2
/* Bytes read from a worker's stdout per read. */
#define ANSWER_READ ((size_t)256 << 10)

static inline struct task *pool_task(const struct pool *p, uint32_t slot)
{
	return task_at(&p->ts, slot);
}

/* pool.c: the engine's side of a client */
/* A new task slot for c (the caller checked pool_has_room). */
static inline uint32_t pool_task_new(struct pool *p, struct client *c)
{
	uint32_t slot = task_alloc(&p->ts);
	struct task *t = pool_task(p, slot);
	t->owner = c;
	t->id = ++p->ids;
	return slot;
}
void pool_queue(struct pool *p, uint32_t slot, bool front);
/* Give a task (its data filled in) to the engine to run.  Inline: it is
 * on every task's path; a client not yet in the dispatch ring, the rare
 * case, takes the full path. */
static inline void pool_submit(struct pool *p, uint32_t slot)
{
	struct task *t = pool_task(p, slot);
	struct client *c = t->owner;
	if (UNLIKELY(!c->in_ring)) {
		pool_queue(p, slot, false);
		return;
	}
	t->state = T_QUEUED;
	t->queued_at = p->now;
	idq_push_back(&c->queue, slot);
	p->nqueued++;
}
/* The client is done with a finished task. */
static inline void pool_task_release(struct pool *p, uint32_t slot)
{
	task_free(&p->ts, slot);
}

/* pool_touch, for the paths every task takes. */
static inline void pool_touch_inline(struct pool *p, struct worker *w)
{
	if (!w->dirty_time) {
		w->dirty_time = true;
		vec_push(&p->dirty_time, w);
	}
	if (!w->dirty_room) {
		w->dirty_room = true;
		vec_push(&p->dirty_room, w);
	}
}
/* A client's output is backed up: stop reading workers' answers (they
 * wait in their pipes) until it catches up. */
void pool_hold_answers(struct pool *p, bool hold);
/* Room in the window for another task. */
static inline bool pool_has_room(const struct pool *p)
{
	/* No task is read while every worker waits for a Slurm allocation:
	 * if none comes, the run ends before reading any. */
	if (UNLIKELY(p->hosts.hold))
		return false;
	/* Tasks in flight on a buffered worker keep its pipe full; they are
	 * bounded by its window, not by -q (or -q would stop the input that
	 * makes it flush). */
	return p->ts.used - p->exempt < (uint32_t)p->queue_size &&
	       p->ts.used < p->ts.max;
}
/* Stop taking tasks (end of input, --strict, ...): drain. */
void pool_stop(struct pool *p, enum stop_reason why);
/* "task tasks.ndjson:3", as its client names it, NUL-terminated. */
void pool_describe(struct pool *p, uint32_t slot, struct buf *out);

/* A worker of one more spec (the pool owns spec from now on), started
 * at once; NULL when it cannot even be set up. */
struct worker *pool_add_worker(struct pool *p, struct worker_spec *spec);

/* complete.c */
void task_ok(struct pool *p, struct worker *w, uint32_t slot, const char *res,
	     size_t n, bool is_json);
void task_fail(struct pool *p, uint32_t slot, const char *why,
	       enum fail_kind kind, enum fail_reason reason);
void task_fail_info(struct pool *p, uint32_t slot, const char *why,
		    enum fail_kind kind, const struct fail_info *info);
void requeue_inflight(struct pool *p, struct worker *w, const char *why);
bool inflight_blamed(struct pool *p, const struct worker *w);
void fail_inflight(struct pool *p, struct worker *w, const char *why,
		   bool count_interrupted);
/* Fail every queued task: why may have one %s ("started" or "run
 * again"); counter, if any, counts them. */
void fail_queued(struct pool *p, const char *why, enum fail_kind kind,
		 enum fail_reason reason, uint64_t *counter);

/* dispatch.c */
void pool_pump(struct pool *p);
/* w has bytes for its stdin: write them at the end of the pump. */
void pool_want_flush(struct pool *p, struct worker *w);
uint32_t pool_unqueue(struct pool *p);
/* A client took slot out of its own queue (it is gone). */
void pool_unqueued(struct pool *p, uint32_t slot);
/* A client is going away: out of the dispatch ring. */
void pool_forget_client(struct pool *p, struct client *c);
long worker_limit(const struct pool *p, const struct worker *w);
double spec_timeout(const struct pool *p, const struct worker *w);
void learn_service_time(struct pool *p, struct worker *w, unsigned answers);
/* A worker's in-flight list (inline: every task goes through it). */
static inline void inflight_push(struct pool *p, struct worker *w, uint32_t slot)
{
	struct task *t = pool_task(p, slot);
	/* Never compacted (places must stay): grown when full. */
	if (UNLIKELY(w->fl.len == w->fl.cap))
		idq_grow(&w->fl);
	t->fl_pos = w->fl_base + w->fl.len;
	uint32_t k = w->fl.head + w->fl.len;
	w->fl.v[k >= w->fl.cap ? k - w->fl.cap : k] = slot;
	w->fl.len++;
	/* A first task in flight starts its clock (timeouts). */
	if (++w->nflight == 1)
		pool_touch_inline(p, w);
	if (LIKELY(!w->kind))
		return;
	if (w->kind & WK_BY_ID)
		idmap_put(&p->byid, t->id, slot);
	if (w->kind & WK_BUFFERED) {
		w->bytes_inflight += buf_used(&t->data) + 1;
		p->exempt++;
	}
}

static inline void inflight_remove(struct pool *p, struct worker *w, uint32_t slot)
{
	struct task *t = pool_task(p, slot);
	uint32_t i = t->fl_pos - w->fl_base;
	if (LIKELY(i == 0)) {
		/* The oldest, as a lines worker always answers. */
		(void)idq_pop_front(&w->fl);
		w->fl_base++;
		/* Holes left by answers out of order go with it. */
		while (w->fl.len && w->fl.v[w->fl.head] == IDQ_HOLE) {
			(void)idq_pop_front(&w->fl);
			w->fl_base++;
		}
	} else {
		idq_set(&w->fl, i, IDQ_HOLE);
		while (w->fl.len && idq_at(&w->fl, w->fl.len - 1) == IDQ_HOLE)
			w->fl.len--;
	}
	w->nflight--;
	pool_touch_inline(p, w);
	if (LIKELY(!w->kind))
		return;
	if (w->kind & WK_BY_ID)
		idmap_del(&p->byid, t->id);
	if (w->kind & WK_BUFFERED) {
		w->bytes_inflight -= buf_used(&t->data) + 1;
		p->exempt--;
	}
	if ((w->kind & WK_BATCH) && t->batch < w->batch_cap &&
	    w->batch_left[t->batch] && !--w->batch_left[t->batch])
		w->nbatches--;
}


/* answer.c */
/* Its stdin is written and read, and what it wrote is read: it may be
 * waiting for more input. */
bool worker_input_drained(const struct worker *w);
/* Some process of it is blocked reading its stdin, none is running. */
bool worker_waits_for_input(const struct worker *w);
void watch_worker(struct pool *p, struct worker *w);
void unwatch_worker(struct pool *p, struct worker *w);
void worker_flush(struct pool *p, struct worker *w);
void worker_ready(struct pool *p, struct worker *w, char *result);
void worker_lines(struct pool *p, struct worker *w);
/* Read what its stdout holds and act on it; called when the pipe is
 * readable, or by its coalescing timer (read_at). */
void worker_read_answers(struct pool *p, struct worker *w);

/* supervise.c */
bool pool_wants_workers(const struct pool *p);
void spawn_worker(struct pool *p, struct worker *w);
void pool_reap(struct pool *p);
void pool_worker_reaped(struct pool *p, struct worker *w, int wstatus);
/* A remote worker's guard said it runs: it may be ready now. */
void worker_remote_started(struct pool *p, struct worker *w);
/* A spec's workers can no longer run (its Slurm allocation is gone). */
void pool_spec_lost(struct pool *p, int spec_index, const char *why);

#endif
