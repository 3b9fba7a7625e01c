/* worker.h - one worker slot ("name#i") and the process that currently
 * fills it: spawn, signal, stderr, reaping and the kill ladder.  Nothing
 * else in spool forks.  What the worker's answers mean is the pool's
 * business (pool.c); this file only moves the process through its states:
 *
 *   BACKOFF --spawn--> STARTING --ready--> READY --drain--> DRAINING
 *      ^                  |                  |                 |
 *      |                  +------stop--------+------stop-------+--> STOPPING
 *      +------- reaped (restart) <------------------------------------+
 *   GIVEN_UP and STOPPED are final: the spec failed too often, or the run
 *   is over for this slot. */
#ifndef SPOOL_WORKER_H
#define SPOOL_WORKER_H

#include <signal.h>
#include <sys/types.h>

#include "config.h"
#include "idq.h"
#include "linebuf.h"
#include "loop.h"
#include "proto.h"
#include "timer.h"

enum worker_state {
	WS_BACKOFF,  /* no process; spawn at restart_at */
	WS_STARTING, /* process up, waiting for its ready line or spawn answer */
	WS_READY,    /* taking tasks */
	WS_DRAINING, /* stdin closed on purpose (recycle, end of run) */
	WS_STOPPING, /* being killed; waiting to reap it */
	WS_GIVEN_UP, /* its spec failed to spawn too often */
	WS_STOPPED,  /* done for this run */
};

/* Why spool ended a process, when it did. */
enum worker_fault {
	WF_NONE,
	WF_TIMEOUT,         /* a task ran past its timeout */
	WF_PROTOCOL,        /* it wrote something that is not an answer */
	WF_STDOUT_CLOSED,   /* it closed stdout but kept running */
	WF_SPAWN_ERROR,     /* it answered spawn with an error */
	WF_STARTUP_TIMEOUT, /* it was not ready in time */
	WF_SHUTDOWN,        /* the run ended or was interrupted */
};

#define WORKER_TAIL_LINES 5

/* What a worker's in-flight bookkeeping must do beyond the list. */
enum worker_kind {
	WK_BY_ID = 1,    /* answers name their task: an id map */
	WK_BUFFERED = 2, /* a window in bytes */
	WK_BATCH = 4,    /* batches in flight */
};

struct pool;

struct worker {
	struct pool *pool;
	struct loop *loop; /* where its pipes are watched */
	int index;         /* in the whole pool, from 0 */
	int replica;       /* within its spec, from 0 */
	int spec_index;
	const struct worker_spec *spec;
	const struct codec *codec;
	uint8_t kind; /* enum worker_kind: what its in-flight list keeps */
	char *label; /* name#i */
	enum worker_state state;

	/* The current process; pid 0 when there is none. */
	pid_t pid;
	int fd_in, fd_out, fd_err;
	int w_in, w_out, w_err; /* loop watches, -1 when none */
	struct buf wbuf;        /* bytes for its stdin */
	struct linebuf rbuf;    /* its stdout */
	struct linebuf ebuf;    /* its stderr */
	double spawned_at;
	uint64_t sent; /* tasks sent to this process */
	uint64_t done; /* tasks this process finished (ok or error answer) */

	/* Tasks in flight, oldest first, with holes where answers came out
	 * of order (never at the front); fl_base is the place of the first,
	 * counted from the start (each task knows its place). */
	struct idq fl;
	uint32_t fl_base;
	uint32_t nflight;
	long limit;          /* most in flight now */
	double oldest_since; /* when the oldest in flight became oldest */

	/* Ending a process. */
	enum worker_fault fault;
	char *fault_msg;
	uint32_t fault_slot; /* the task that timed out */
	bool signalled;      /* spool sent it a signal */
	double term_at;      /* send SIGTERM at (0: not planned) */
	double kill_at;      /* send SIGKILL at */
	double restart_at;   /* BACKOFF: spawn at */
	bool recycle;        /* DRAINING to be replaced (max_tasks) */

	/* The last lines it wrote on stderr, for death reports. */
	char *tail[WORKER_TAIL_LINES];
	unsigned tail_next, tail_n;

	/* Per slot, over the whole run (--stats). */
	uint64_t st_tasks, st_failed, st_restarts;
	bool came_up;       /* some process of this slot became ready */
	bool up;            /* the current process became ready */
	double spawn_s;     /* spawn to ready, latest process */
	char *spawn_result; /* JSON text, latest process */
	pid_t last_pid;

	/* inflight auto: smoothed seconds per task while busy. */
	double svc;
	double busy_mark;
	double read_at;        /* stdout not watched until then (coalescing) */
	size_t bytes_inflight; /* buffered: task bytes sent, not answered */
	double last_answer;    /* when it last answered a task */
	unsigned last_answers; /* answers its last read held */
	bool close_when_sent;  /* close stdin once wbuf is written (a
				  suspect on a buffered worker) */
	double check_until;    /* spool check: a lines worker is up if alive */

	/* The pool's bookkeeping (see struct pool). */
	struct timer tm;   /* its nearest deadline */
	bool dirty_time;   /* its deadlines must be looked at again */
	bool dirty_room;   /* its place among workers with room, too */
	bool in_flushq;    /* it has bytes to write */
	struct timer room; /* in the pool's heap of workers with room */
	bool one_shot;     /* added by add_worker: no retry if it fails */
	bool read_held;    /* in the pool's held_readers */

	/* Where it runs (SPEC section 10; hosts.h). */
	int host;              /* in the pool's hosts; -1: here */
	int hs;                /* its (spec, host) failure count; -1: none */
	const char *host_name; /* ssh: its destination, for {host} */
	long slot;             /* index among its spec's workers there */
	bool host_wait;        /* its spawn waits for its host */
	bool announce;         /* over ssh: the guard has not said it runs */
	bool announced;        /* ... and now it has */
	bool ready_on_start;   /* ready (or watched, check) once it runs */
	char *remote_pid;      /* its pid there, as the guard said */
	double started_s;      /* spawn to the guard's word */
	uint64_t done_before;  /* tasks its earlier processes finished */
	/* Batches in flight: tasks not yet answered, per place. */
	uint32_t *batch_left;
	uint32_t batch_cap, nbatches;
	uint64_t st_batches, st_batch_tasks; /* --stats */
	uint32_t st_batch_max;
};

/* The oldest task in flight on w, or IDQ_HOLE. */
static inline uint32_t inflight_oldest(const struct worker *w)
{
	return w->fl.len ? w->fl.v[w->fl.head] : IDQ_HOLE;
}

/* Something happened to w: look at its deadlines and room again. */
void pool_touch(struct pool *p, struct worker *w);

void worker_init(struct worker *w, struct pool *p, struct loop *loop, int index,
		 int replica, int spec_index, const struct worker_spec *spec,
		 const char *label);
void worker_release(struct worker *w);

/* The signal mask and SIGPIPE disposition spool started with: children
 * get them back before exec. */
void worker_save_signals(const sigset_t *mask,
			 const struct sigaction *pipe_act);
/* The descriptor limit spool started with: children get it back. */
struct rlimit;
void worker_save_fd_limit(const struct rlimit *rl);

/* The worker's argv, its additions to the environment (the spec's env
 * and SPOOL_*, as NAME=VALUE) and its working directory (NULL: spool's),
 * placeholders replaced.  Free with worker_strv_free() and free(). */
char **worker_argv(const struct worker *w);
char **worker_env_extra(const struct worker *w);
/* Its whole environment: spool's, then the spec's env, then SPOOL_*. */
char **worker_env(const struct worker *w);
char *worker_cwd(const struct worker *w);
void worker_strv_free(char **v);

/* Fork and exec the worker.  Returns 0 when it runs; -1 when it could not
 * be started, with the reason in *why (the child, if any, is reaped). */
int worker_spawn(struct worker *w, double now, int guard_fd, struct buf *why);

/* Start a helper process (an ssh master, salloc) with fds as its stdin,
 * stdout and stderr, in its own process group, registered with the
 * guard as guard_op (0: not at all), sent deathsig when spool dies.
 * Returns its pid, or -1 with the reason in why. */
/* Would exec find prog: a path that can be run, or a name on PATH? */
bool program_found(const char *prog);
pid_t proc_spawn(char **argv, const int fds[3], int guard_fd, char guard_op,
		 int deathsig, struct buf *why);

/* Signal the worker's process group (a Slurm step's srun alone). */
void worker_signal(struct worker *w, int sig);

/* Stop sending; close its stdin so it sees end of file. */
void worker_close_stdin(struct worker *w);

/* End the process because of fault: SIGTERM now, SIGKILL after grace. */
void worker_stop(struct worker *w, enum worker_fault fault, char *msg,
		 double now);

/* Close stdin and give the worker `grace` seconds to exit by itself,
 * then SIGTERM, then SIGKILL 2 s later. */
void worker_drain(struct worker *w, double now, double grace);

/* Close stdin so it flushes and answers what it holds (a lines worker
 * at the end of the input): no deadline while it has tasks in flight. */
void worker_close_input(struct worker *w);

/* Read what its stderr has, passing whole lines on with its label. */
void worker_read_stderr(struct worker *w, bool until_eof);

/* Append its last stderr lines, for a death report. */
void worker_add_tail(const struct worker *w, struct buf *out);

/* "exited with status 1", "killed by signal 9 (KILL)" */
void worker_add_status(int wstatus, struct buf *out);

/* Close every descriptor of the dead process. */
void worker_close_fds(struct worker *w);

/* Run the signal ladder; returns the next deadline of this worker's
 * ladder (0 if none). */
double worker_ladder(struct worker *w, double now);

#endif
