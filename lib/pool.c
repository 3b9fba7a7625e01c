/* pool.c - the engine's run: setting up, the loop, signals, timers and
 * phases, and the edge its clients use.  The rest of the engine is split
 * by job: dispatch.c (queues and dispatch), answer.c (worker pipes and
 * codecs), complete.c (results, failures, retries), supervise.c (spawns,
 * deaths, restarts), guard.c (nothing outlives spool).  The front ends
 * are runner.c (spool run) and serve.c (spool serve). */
#define _GNU_SOURCE
#include "pool.h"
#include "guard.h"
#include "launch.h"
#include "log.h"
#include "remote.h"
#include "runner.h"
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_QUEUE 1024
/* At the end, messages stderr has not taken get this long. */
#define STDERR_GRACE 2.0
/* inflight auto: seconds of work to keep queued at each worker. */
#define AUTO_TARGET 0.0005
/* ... or this many tasks per worker, when that is more. */
#define QUEUE_PER_WORKER 64
#define DEFAULT_RETRIES 2
/* After a signal: seconds in-flight tasks get to finish. */
#define INTERRUPT_GRACE 5.0
/* The same signal again within this is the same signal (GNU timeout
 * signals its child, then the child's whole process group). */
#define SIGNAL_TWICE 0.05

/* --- Clients -------------------------------------------------------- */

void client_init(struct client *c, struct pool *p, const struct client_ops *ops)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->pool = p;
	idq_init(&c->queue, 64);
	c->next = p->clients;
	p->clients = c;
}

void client_release(struct client *c)
{
	struct pool *p = c->pool;
	pool_forget_client(p, c);
	for (struct client **pc = &p->clients; *pc; pc = &(*pc)->next)
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	if (p->client == c)
		p->client = NULL;
	idq_release(&c->queue);
}

void pool_hold_answers(struct pool *p, bool hold)
{
	if (hold == p->answers_held)
		return;
	p->answers_held = hold;
	if (hold)
		return;
	for (size_t i = 0; i < p->held_readers.n; i++) {
		struct worker *w = p->held_readers.v[i];
		w->read_held = false;
		if (w->w_out >= 0 && !w->read_at)
			loop_set(&p->loop, w->w_out, POLLIN);
	}
	p->held_readers.n = 0;
}

void pool_stop(struct pool *p, enum stop_reason why)
{
	if (p->stop != STOP_NONE && p->stop != STOP_EOF)
		return; /* the first reason stands */
	if (p->stop == STOP_EOF && why == STOP_EOF)
		return;
	p->stop = why;
	if (p->phase == PH_RUN)
		p->phase = PH_DRAIN;
	p->eof_dirty = true;
	/* Deadlines that depend on the phase (a stalled worker at the end
	 * of the input) are due sooner. */
	for (size_t i = 0; i < p->nw; i++)
		pool_touch(p, p->w[i]);
}

void pool_describe(struct pool *p, uint32_t slot, struct buf *out)
{
	struct task *t = pool_task(p, slot);
	struct client *c = t->owner;
	buf_adds(out, "task ");
	if (c && c->ops->describe)
		c->ops->describe(c, slot, out);
	else
		buf_addu64(out, t->id);
	buf_reserve(out, 1);
	out->p[out->len] = '\0';
}

/* --- Signals -------------------------------------------------------- */

static void pool_interrupt(struct pool *p, int sig, pid_t from)
{
	/* One signal sent to spool and then to its process group (GNU
	 * timeout does that) arrives twice from the same sender: that is
	 * one signal. */
	double now = mono_now();
	if (sig == p->last_sig && from == p->last_sig_pid &&
	    now - p->last_sig_at < SIGNAL_TWICE)
		return;
	p->last_sig = sig;
	p->last_sig_pid = from;
	p->last_sig_at = now;
	if (p->stop == STOP_SIGNAL) {
		/* Second signal: now. */
		log_error("second signal: killing workers");
		for (size_t i = 0; i < p->nw; i++) {
			struct worker *w = p->w[i];
			if (w->pid > 0) {
				fail_inflight(p, w, "interrupted", true);
				worker_stop(w, WF_SHUTDOWN, NULL, p->now);
				worker_signal(w, SIGKILL);
			}
		}
		p->drain_until = p->now;
		p->out_abandoned = true;
		return;
	}
	p->signal = p->signal ? p->signal : sig;
	/* A signal outranks any earlier reason to stop. */
	p->stop = STOP_SIGNAL;
	p->signal_at = p->now;
	if (p->phase == PH_RUN)
		p->phase = PH_DRAIN;
	p->drain_until = p->now + INTERRUPT_GRACE;
	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = p->w[i];
		if (w->state == WS_BACKOFF)
			w->state = WS_STOPPED;
		else if (w->pid > 0 && !w->nflight &&
			 (w->state == WS_READY || w->state == WS_STARTING))
			worker_drain(w, p->now, EXIT_GRACE);
	}
}

static void on_signal(void *ctx, int fd, int revents)
{
	struct pool *p = ctx;
	(void)revents;
	struct signalfd_siginfo si[16];
	ssize_t r = xread(fd, si, sizeof(si));
	if (r <= 0)
		return;
	bool chld = false;
	for (size_t i = 0; i < (size_t)r / sizeof(si[0]); i++) {
		if (si[i].ssi_signo == SIGCHLD)
			chld = true;
		else
			pool_interrupt(p, (int)si[i].ssi_signo,
				       (pid_t)si[i].ssi_pid);
	}
	if (chld)
		pool_reap(p);
}

static sigset_t saved_mask;
static struct sigaction saved_pipe, saved_chld;

/* A signal ignored when spool started (a background job of a script,
 * nohup) stays ignored, as in shells. */
static void catch_unless_ignored(sigset_t *mask, int sig)
{
	struct sigaction old;
	sigaction(sig, NULL, &old);
	if (old.sa_handler != SIG_IGN)
		sigaddset(mask, sig);
}

static int pool_signals(struct pool *p)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	catch_unless_ignored(&mask, SIGINT);
	catch_unless_ignored(&mask, SIGHUP);
	struct sigaction dfl = {0};
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, &saved_chld);
	sigprocmask(SIG_BLOCK, &mask, &saved_mask);
	p->signals_set = true;
	p->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (p->sigfd < 0) {
		log_error("cannot create a signalfd: %s", strerror(errno));
		return -1;
	}
	struct sigaction ign = {0};
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &saved_pipe);
	worker_save_signals(&saved_mask, &saved_pipe);
	p->sig_watch = loop_add(&p->loop, p->sigfd, POLLIN, on_signal, p);
	return 0;
}

static void pool_restore_signals(struct pool *p)
{
	if (p->sigfd >= 0) {
		loop_del(&p->loop, p->sig_watch);
		close(p->sigfd);
	}
	p->sigfd = -1;
	if (!p->signals_set)
		return;
	p->signals_set = false;
	sigaction(SIGPIPE, &saved_pipe, NULL);
	sigaction(SIGCHLD, &saved_chld, NULL);
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

/* --- Timers and phases ---------------------------------------------- */

/* A lines worker with tasks in flight that has read all its input, is
 * blocked reading more, and answers nothing: it buffers its output and
 * waits for input that may never come.  A buffered worker is made to
 * flush (its stdin closed).  At the end of the input, every lines worker
 * gets what is left and is made to flush, so a batch completes with any
 * stdio filter.  On a live stream, say once how to make it flush.
 * Returns when to look again (0: no need). */
static double lines_stall(struct pool *p, struct worker *w)
{
	struct spec_state *s = &p->specs[w->spec_index];
	bool at_eof = p->stop == STOP_EOF;
	double wait = w->spec->buffered ? BUFFERED_IDLE
		      : at_eof          ? EOF_STALL
					: BUFFERING_HINT;
	if (!w->spec->buffered && !at_eof &&
	    (s->hinted || p->stop != STOP_NONE))
		return 0;
	double due = w->oldest_since + wait;
	if (p->now < due)
		return due;
	/* Still reading its input, or working on a task.  Blocked reading
	 * first, then nothing in either pipe: in the other order, an answer
	 * written between the two looks held. */
	if (!worker_waits_for_input(w) || !worker_input_drained(w))
		return p->now + wait;
	p->timers_acted = true;
	if (w->spec->buffered || at_eof) {
		log_verbose("worker %s holds %u tasks and waits for input: "
			    "closing its stdin so it flushes",
			    w->label, w->nflight);
		if (at_eof && !p->eof_flush) {
			p->eof_flush = true;
			p->eof_dirty = true;
			/* Every lines worker now has room for what is left. */
			for (size_t i = 0; i < p->nw; i++)
				pool_touch(p, p->w[i]);
		} else if (!at_eof) {
			worker_close_input(w);
		}
	}
	if (w->spec->buffered || s->hinted)
		return 0;
	s->hinted = true;
	log_error("worker %s has held %u task%s for %.1fs without an answer, "
		  "waiting for more input: it buffers its output (jq without "
		  "--unbuffered, sed, grep, python without -u)%s; make it "
		  "flush each line (jq --unbuffered, sed -u, grep "
		  "--line-buffered, python3 -u, stdbuf -oL) or declare it "
		  "buffered (--buffered, or \"buffered\": true)",
		  w->label, w->nflight, w->nflight == 1 ? "" : "s", wait,
		  at_eof ? "; spool closes its input to make it flush, which "
			   "ends it"
			 : "");
	return 0;
}

/* What is due for one worker, done; returns its next deadline (0: none). */
static double worker_timers(struct pool *p, struct worker *w)
{
	double next = worker_ladder(w, p->now);
	if (w->read_at > 0) {
		if (p->now >= w->read_at || w->w_out < 0) {
			w->read_at = 0;
			if (w->w_out >= 0) {
				vec_push(&p->read_due, w);
				p->timers_acted = true;
			}
		} else {
			next = deadline_min(next, w->read_at);
		}
	}
	switch (w->state) {
	case WS_BACKOFF:
		/* spool check starts each worker once, also one whose first
		 * spawn waited for its host. */
		if (!pool_wants_workers(p) && !(p->check && w->host_wait)) {
			if (p->phase >= PH_SHUTDOWN || p->stop == STOP_SIGNAL ||
			    p->stop == STOP_PIPE || p->stop == STOP_OUTPUT)
				w->state = WS_STOPPED;
			else /* a task may come back for it: look again */
				next = deadline_min(next,
						    p->now + BACKOFF_POLL);
			break;
		}
		if (p->now >= w->restart_at) {
			spawn_worker(p, w);
			p->timers_acted = true;
		} else
			next = deadline_min(next, w->restart_at);
		break;
	case WS_STARTING: {
		if (w->ready_on_start && w->announced) {
			worker_remote_started(p, w);
			p->timers_acted = true;
			if (w->state != WS_STARTING)
				break;
		}
		if (w->check_until) {
			/* spool check: a lines worker with no ready line is
			 * up once it has lived this long. */
			if (p->now >= w->check_until) {
				w->check_until = 0;
				worker_ready(p, w, NULL);
				p->timers_acted = true;
			} else {
				next = deadline_min(next, w->check_until);
			}
			break;
		}
		double st = w->spec->startup_timeout;
		if (st <= 0)
			break;
		if (p->now >= w->spawned_at + st) {
			char *msg = xasprintf(
				"not ready after %gs (startup_timeout)", st);
			worker_stop(w, WF_STARTUP_TIMEOUT, msg, p->now);
			p->timers_acted = true;
		} else {
			next = deadline_min(next, w->spawned_at + st);
		}
		break;
	}
	case WS_READY:
	case WS_DRAINING: {
		if (!w->nflight)
			break;
		if (!w->codec->by_id)
			next = deadline_min(next, lines_stall(p, w));
		double to = spec_timeout(p, w);
		if (to <= 0)
			break;
		uint32_t slot = inflight_oldest(w);
		/* The clock of the oldest task in flight runs from when it
		 * was sent or, if others were ahead of it on this worker,
		 * from when the last of them was answered: a task waiting
		 * behind others (a deep window, a worker that takes one at
		 * a time) is not charged for the wait. */
		double since = MAX(pool_task(p, slot)->sent, w->oldest_since);
		if (p->now >= since + to) {
			struct buf msg = BUF_INIT;
			pool_describe(p, slot, &msg);
			buf_addf(&msg, " timed out after %gs", to);
			w->fault_slot = slot;
			worker_stop(w, WF_TIMEOUT, xstrdup(msg.p), p->now);
			buf_release(&msg);
			p->timers_acted = true;
		} else {
			next = deadline_min(next, since + to);
		}
		break;
	}
	default:
		break;
	}
	return next;
}

void pool_touch(struct pool *p, struct worker *w)
{
	pool_touch_inline(p, w);
}

/* Act on what is due and return the nearest deadline.  Only workers
 * whose timer is due, or that something happened to (pool_touch), are
 * looked at: the cost is what is ready, not how many workers exist. */
static double pool_timers(struct pool *p)
{
	/* First: a host that came up touches the workers waiting for it. */
	double hosts_next = hosts_timers(p);
	if (p->stop == STOP_SIGNAL && p->drain_until &&
	    p->now >= p->drain_until) {
		p->drain_until = 0;
		p->timers_acted = true;
		p->out_abandoned = true;
		for (size_t i = 0; i < p->nw; i++) {
			struct worker *w = p->w[i];
			if (w->pid > 0 && w->state != WS_STOPPING) {
				fail_inflight(p, w, "interrupted", true);
				worker_stop(w, WF_SHUTDOWN, NULL, p->now);
			}
		}
	}
	struct timer *t;
	while ((t = timer_pop(&p->timers, p->now))) {
		struct worker *w = timer_owner(t, struct worker, tm);
		if (!w->dirty_time) {
			w->dirty_time = true;
			vec_push(&p->dirty_time, w);
		}
	}
	/* Those touched while this runs wait for the next call. */
	size_t n = p->dirty_time.n;
	for (size_t i = 0; i < n; i++) {
		struct worker *w = p->dirty_time.v[i];
		w->dirty_time = false;
		double at = worker_timers(p, w);
		if (at > 0)
			timer_set(&p->timers, &w->tm, at);
		else
			timer_clear(&p->timers, &w->tm);
	}
	vec_drop_front(&p->dirty_time, n);
	/* Workers whose answers were left to pile up: read them now.  Their
	 * touches are looked at before the loop sleeps. */
	for (size_t i = 0; i < p->read_due.n; i++)
		worker_read_answers(p, p->read_due.v[i]);
	p->read_due.n = 0;
	if (p->batch_due && p->now >= p->batch_due) {
		p->batch_due = 0; /* dispatch sends the held batch now */
		p->timers_acted = true;
	}
	double next = timer_next(&p->timers);
	next = deadline_min(next, p->drain_until);
	next = deadline_min(next, hosts_next);
	next = deadline_min(next, p->batch_due);
	if (p->dirty_time.n)
		p->timers_acted = true; /* look again before waiting */
	return next;
}

static void pool_begin_shutdown(struct pool *p)
{
	p->phase = PH_SHUTDOWN;
	bool now = p->stop == STOP_PIPE || p->stop == STOP_OUTPUT;
	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = p->w[i];
		if (w->pid > 0) {
			if (now)
				worker_stop(w, WF_SHUTDOWN, NULL, p->now);
			else
				worker_drain(w, p->now, EXIT_GRACE);
		} else if (w->state == WS_BACKOFF) {
			w->state = WS_STOPPED;
		}
	}
}

static bool check_complete(const struct pool *p)
{
	for (size_t i = 0; i < p->nw; i++) {
		const struct worker *w = p->w[i];
		if (w->state == WS_STARTING || w->state == WS_BACKOFF)
			return false;
		if (w->state == WS_STOPPING && w->pid > 0)
			return false;
	}
	return true;
}

static void pool_step(struct pool *p)
{
	if ((p->stop == STOP_PIPE || p->stop == STOP_OUTPUT) &&
	    p->phase < PH_SHUTDOWN) {
		/* Nothing more can be written: stop everything now. */
		fail_queued(p,
			    p->stop == STOP_PIPE
				    ? "stdout closed"
				    : "not %s: stdout could not be written",
			    FAIL_NOT_STARTED,
			    p->stop == STOP_PIPE ? FR_OUTPUT : FR_NOT_STARTED,
			    NULL);
		p->phase = PH_DRAIN;
		if (p->ts.used == 0 && p->n_unwritten == 0)
			pool_begin_shutdown(p);
		else
			for (size_t i = 0; i < p->nw; i++)
				if (p->w[i]->pid > 0 &&
				    p->w[i]->state != WS_STOPPING)
					worker_stop(p->w[i], WF_SHUTDOWN, NULL,
						    p->now);
	}
	if (p->check && p->phase == PH_RUN && check_complete(p)) {
		p->stop = STOP_CHECK;
		pool_begin_shutdown(p);
	}
	if (p->phase == PH_DRAIN) {
		/* Stopping early: what is queued (also what a dying worker
		 * hands back later) will not be started. */
		const char *why = NULL;
		if (p->stop == STOP_SIGNAL)
			why = "interrupted: not %s";
		else if (p->stop == STOP_STRICT)
			why = "not %s: --strict stopped the run";
		else if (p->stop == STOP_CHANGED)
			why = "not %s: the input changed since the joblog";
		if (why)
			fail_queued(p, why, FAIL_NOT_STARTED, FR_NOT_STARTED,
				    NULL);
		if (p->ts.used == 0 && p->n_unwritten == 0)
			pool_begin_shutdown(p);
	}
	/* The workers are gone: then their connections and allocations. */
	if (p->phase == PH_SHUTDOWN && p->nlive == 0 && hosts_stopped(p))
		p->phase = PH_DONE;
}

/* --- The loop ------------------------------------------------------- */

static void pool_flush_clients(struct pool *p)
{
	for (struct client *c = p->clients; c; c = c->next)
		if (c->ops->flush)
			c->ops->flush(c);
}

static void on_stderr_writable(void *ctx, int fd, int revents)
{
	(void)ctx;
	(void)fd;
	(void)revents;
	log_flush();
}

static void pool_loop(struct pool *p)
{
	while (p->phase != PH_DONE) {
		p->now = mono_now();
		p->spin = false;
		(void)pool_timers(p);
		pool_pump(p);
		/* Phase changes may fail tasks (a signal, --strict): their
		 * lines go out in this turn's flush. */
		pool_step(p);
		pool_flush_clients(p);
		pool_step(p);
		if (p->phase == PH_DONE)
			break;
		/* The deadlines as they stand after this turn's dispatch (a task
		 * just sent starts its timeout clock).  If a timer acted just
		 * now, there may be work to hand out before sleeping. */
		p->timers_acted = false;
		double deadline = pool_timers(p);
		if (p->timers_acted)
			continue;
		bool wait = !p->spin;
		for (struct client *c = p->clients; c; c = c->next)
			if (c->ops->prepare && !c->ops->prepare(c, &deadline))
				wait = false;
		/* Messages stderr could not take yet. */
		if (log_pending() && p->err_watch < 0)
			p->err_watch = loop_add(&p->loop, 2, POLLOUT,
						on_stderr_writable, p);
		if (p->err_watch >= 0)
			loop_set(&p->loop, p->err_watch,
				 log_pending() ? POLLOUT : 0);
		double timeout = -1;
		if (!wait)
			timeout = 0;
		else if (deadline > 0)
			timeout = deadline > p->now ? deadline - p->now : 0;
		loop_wait(&p->loop, timeout, &p->now);
	}
}

/* --- Setting up ----------------------------------------------------- */

/* Labels are name#i, i counting the workers that share a name. */
static void pool_make_workers(struct pool *p)
{
	size_t total = 0;
	for (size_t s = 0; s < p->cfg.nspecs; s++)
		total += (size_t)config_spec_workers(&p->cfg.specs[s]);
	p->w = xcalloc(total ? total : 1, sizeof(*p->w));
	p->nw = total;
	p->specs = xcalloc(p->cfg.nspecs, sizeof(*p->specs));
	size_t k = 0;
	for (size_t s = 0; s < p->cfg.nspecs; s++) {
		const struct worker_spec *spec = &p->cfg.specs[s];
		/* With hosts: each host's workers in turn, slots from 0. */
		size_t nentries = spec->nhosts ? spec->nhosts : 1;
		long r = 0;
		for (size_t e = 0; e < nentries; e++) {
			long n = !spec->nhosts          ? spec->replicas
				 : spec->hosts[e].slots ? spec->hosts[e].slots
							: spec->replicas;
			for (long slot = 0; slot < n; slot++, r++) {
				int same = 0;
				for (size_t j = 0; j < k; j++)
					if (strcmp(p->w[j]->spec->name,
						   spec->name) == 0)
						same++;
				char *label =
					xasprintf("%s#%d", spec->name, same);
				p->w[k] = xcalloc(1, sizeof(struct worker));
				worker_init(p->w[k], p, &p->loop, (int)k,
					    (int)r, (int)s, spec, label);
				free(label);
				hosts_bind(p, p->w[k],
					   spec->nhosts ? (long)e : -1, slot);
				k++;
			}
		}
	}
}

struct worker *pool_add_worker(struct pool *p, struct worker_spec *spec)
{
	size_t nspecs = p->cfg.nspecs + p->nextra;
	p->extra = xrealloc(p->extra, (p->nextra + 1) * sizeof(*p->extra));
	p->extra[p->nextra++] = spec;
	p->specs = xrealloc(p->specs, (nspecs + 1) * sizeof(*p->specs));
	memset(&p->specs[nspecs], 0, sizeof(p->specs[nspecs]));
	int same = 0;
	for (size_t j = 0; j < p->nw; j++)
		if (strcmp(p->w[j]->spec->name, spec->name) == 0)
			same++;
	char *label = xasprintf("%s#%d", spec->name, same);
	struct worker *w = xcalloc(1, sizeof(*w));
	worker_init(w, p, &p->loop, (int)p->nw, 0, (int)nspecs, spec, label);
	free(label);
	w->one_shot = true;
	p->w = xrealloc(p->w, (p->nw + 1) * sizeof(*p->w));
	p->w[p->nw++] = w;
	p->no_workers = false;
	spawn_worker(p, w);
	return w;
}

/* Thousands of workers need thousands of descriptors: take what the
 * hard limit allows (workers get the limit spool started with). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	worker_save_fd_limit(&rl);
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

static int pool_setup(struct pool *p, const struct spool_opts *o, bool check)
{
	memset(p, 0, sizeof(*p));
	p->sigfd = -1;
	p->sig_watch = -1;
	p->err_watch = -1;
	/* Before stdout's flags are saved: they may be the same pipe. */
	log_nonblocking();
	p->guard_fd = -1;
	p->check = check;
	log_set_level((enum log_level)o->verbosity);
	loop_init(&p->loop);
	task_store_init(&p->ts);
	idq_init(&p->suspects, 16);
	idmap_init(&p->byid);
	timer_heap_init(&p->timers);
	timer_heap_init(&p->roomh);

	struct buf err = BUF_INIT;
	if (o->workers_path) {
		if (config_load(&p->cfg, o->workers_path, &err) != 0) {
			log_error("%s", err.p);
			buf_release(&err);
			return SPOOL_EXIT_USAGE;
		}
		if (o->jobs > 0) {
			/* -j scales a one-spec pool without editing it. */
			if (p->cfg.nspecs != 1) {
				log_error("-j sets the replicas of a pool with "
					  "one worker spec, but %s has %zu: "
					  "set \"replicas\" in each spec",
					  p->cfg.label, p->cfg.nspecs);
				buf_release(&err);
				return SPOOL_EXIT_USAGE;
			}
			p->cfg.specs[0].replicas = o->jobs;
		}
	} else {
		long jobs =
			o->jobs > 0 ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
		config_from_command(&p->cfg, o->command, jobs > 0 ? jobs : 1);
		struct worker_spec *spec = &p->cfg.specs[0];
		if (o->protocol == SPOOL_PROTO_SPOOL)
			spec->protocol = PROTO_SPOOL;
		spec->buffered = o->buffered;
		spec->batch_max = o->batch_max;
		spec->batch_delay = o->batch_delay;
	}
	buf_release(&err);

	p->queue_size = o->queue_size > 0       ? o->queue_size
			: p->cfg.queue_size > 0 ? p->cfg.queue_size
						: DEFAULT_QUEUE;
	p->retries = o->retries != SPOOL_UNSET ? o->retries
		     : p->cfg.retries >= 0     ? p->cfg.retries
					       : DEFAULT_RETRIES;
	p->inflight = o->inflight;
	p->timeout = o->timeout;
	p->stats_on = o->stats;

	if (o->raw) {
		for (size_t s = 0; s < p->cfg.nspecs; s++)
			if (p->cfg.specs[s].protocol == PROTO_SPOOL) {
				log_error("--raw needs the lines protocol, but "
					  "workers[%zu] "
					  "in %s uses \"spool\" (its tasks "
					  "must be JSON)",
					  s, p->cfg.label);
				return SPOOL_EXIT_USAGE;
			}
	}
	int hrc = hosts_setup(p, o);
	if (hrc != 0)
		return hrc;
	raise_fd_limit();
	pool_make_workers(p);
	/* inflight auto keeps about half a millisecond of work queued at
	 * each worker, by its measured time per task.  With more workers
	 * than processors that time is stretched by the sharing itself (a
	 * worker runs a fraction of the time), so the target is stretched
	 * the same way: otherwise each of hundreds of fast workers would get
	 * one task per round trip. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double share = cpus > 0 && (long)p->nw > cpus
			       ? (double)p->nw / (double)cpus
			       : 1.0;
	p->auto_target = AUTO_TARGET * share;
	/* The default window grows with the pool, so that each of many
	 * workers still gets tasks in batches (a write carries many). */
	if (o->queue_size <= 0 && p->cfg.queue_size <= 0 &&
	    (long)p->nw * QUEUE_PER_WORKER > p->queue_size)
		p->queue_size = (long)p->nw * QUEUE_PER_WORKER;
	return 0;
}

/* After the front end's own set-up: signals, the guard, the clock. */
static int pool_start(struct pool *p)
{
	if (pool_signals(p) != 0)
		return SPOOL_EXIT_NOPOOL;
	if (guard_start(p) != 0)
		return SPOOL_EXIT_NOPOOL;
	p->now = p->t_start = mono_now();
	p->wall0 = wall_now() - p->now;
	return hosts_start(p);
}

static void pool_teardown(struct pool *p)
{
	for (size_t i = 0; i < p->nw; i++) {
		worker_release(p->w[i]);
		free(p->w[i]);
	}
	free(p->w);
	free(p->specs);
	for (size_t i = 0; i < p->nextra; i++) {
		config_spec_release(p->extra[i]);
		free(p->extra[i]);
	}
	free(p->extra);
	/* Before the guard goes: it ends what is still registered. */
	hosts_release(p);
	guard_stop(p);
	task_store_release(&p->ts);
	idq_release(&p->suspects);
	idmap_release(&p->byid);
	timer_heap_release(&p->timers);
	free(p->dirty_time.v);
	free(p->dirty_room.v);
	free(p->flushq.v);
	free(p->held_readers.v);
	free(p->read_due.v);
	timer_heap_release(&p->roomh);
	buf_release(&p->scratch);
	pool_restore_signals(p);
	if (p->err_watch >= 0)
		loop_del(&p->loop, p->err_watch);
	/* What stderr still owes gets a moment, not forever. */
	log_restore(mono_now() + STDERR_GRACE);
	loop_release(&p->loop);
	config_release(&p->cfg);
}

static bool pool_any_proven(const struct pool *p)
{
	for (size_t i = 0; i < p->cfg.nspecs + p->nextra; i++)
		if (p->specs[i].proven)
			return true;
	return false;
}

static int pool_exit_status(struct pool *p)
{
	if (p->signal == SIGINT)
		return SPOOL_EXIT_SIGINT;
	if (p->signal == SIGTERM)
		return SPOOL_EXIT_SIGTERM;
	if (p->signal == SIGHUP)
		return SPOOL_EXIT_SIGHUP;
	if (p->stop == STOP_PIPE)
		return SPOOL_EXIT_PIPE;
	if (p->usage_error)
		return SPOOL_EXIT_USAGE;
	if (p->no_workers)
		return SPOOL_EXIT_NOPOOL;
	/* The pool never worked: no worker finished a task, and tasks
	 * failed because workers died or could not start. */
	if (p->n_lost_to_deaths && !pool_any_proven(p))
		return SPOOL_EXIT_NOPOOL;
	if (p->n_failed || p->n_not_started || p->failed_io || p->out_of_step)
		return SPOOL_EXIT_FAILED;
	return SPOOL_EXIT_OK;
}

void spool_opts_init(struct spool_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->protocol = SPOOL_UNSET;
	o->keep_order = SPOOL_UNSET;
	o->inflight = SPOOL_UNSET;
	o->retries = SPOOL_UNSET;
	o->timeout = -1;
	o->progress = SPOOL_UNSET;
	o->verbosity = 1;
}

static void spawn_all(struct pool *p)
{
	for (size_t i = 0; i < p->nw; i++)
		spawn_worker(p, p->w[i]);
}

/* run and check need workers; serve may start with none (templates). */
static int need_workers(const struct pool *p)
{
	if (p->nw)
		return 0;
	log_error("%s has no workers: every spec has \"replicas\": 0 (a "
		  "template for spool serve's add_worker); give one at least "
		  "1, or use -j",
		  p->cfg.label);
	return SPOOL_EXIT_USAGE;
}

int spool_run(const struct spool_opts *o)
{
	struct pool p;
	struct runner r;
	bool have_runner = false;
	int rc = pool_setup(&p, o, false);
	if (rc == 0)
		rc = need_workers(&p);
	if (rc == 0) {
		have_runner = true;
		rc = runner_setup(&r, &p, o);
	}
	if (rc == 0)
		rc = pool_start(&p);
	if (rc == 0) {
		spawn_all(&p);
		pool_loop(&p);
		runner_finish(&r);
		hosts_summary(&p);
		rc = pool_exit_status(&p);
	}
	if (have_runner)
		runner_release(&r);
	pool_teardown(&p);
	return rc;
}

int spool_check(const struct spool_opts *o)
{
	struct pool p;
	int rc = pool_setup(&p, o, true);
	if (rc == 0)
		rc = need_workers(&p);
	if (rc == 0)
		rc = pool_start(&p);
	if (rc != 0) {
		pool_teardown(&p);
		return rc;
	}
	spawn_all(&p);
	pool_loop(&p);
	size_t up = 0;
	struct buf b = BUF_INIT;
	bool *said = xcalloc(p.hosts.n + 1, sizeof(bool));
	for (size_t i = 0; i < p.nw; i++) {
		struct worker *w = p.w[i];
		bool ok = w->came_up;
		/* Each host once, before its first worker: could it be
		 * reached, and how fast. */
		if (w->host >= 0 && !said[w->host]) {
			said[w->host] = true;
			hosts_check_line(&p, (size_t)w->host, &b);
		}
		buf_addf(&b, "%s\tpid %d\t", w->label, (int)w->last_pid);
		if (w->host_name)
			buf_addf(&b, "on %s\t", w->host_name);
		if (ok) {
			up++;
			buf_adds(&b, "ready in ");
			buf_add_duration(&b, w->spawn_s);
			if (w->spawn_result) {
				buf_addc(&b, '\t');
				buf_adds(&b, w->spawn_result);
			}
		} else {
			buf_adds(&b, "FAILED: ");
			const char *why =
				w->fault_msg ? w->fault_msg : "did not start";
			log_escape(&b, why, strlen(why));
			if (w->tail_n) {
				buf_adds(&b, "; its last stderr lines:");
				worker_add_tail(w, &b);
			}
		}
		buf_addc(&b, '\n');
	}
	free(said);
	(void)write_all(1, b.p, b.len);
	buf_release(&b);
	rc = up == p.nw ? SPOOL_EXIT_OK
	     : up == 0  ? SPOOL_EXIT_NOPOOL
			: SPOOL_EXIT_FAILED;
	pool_teardown(&p);
	return rc;
}

int spool_dry_run(const struct spool_opts *o)
{
	struct pool p;
	int rc = pool_setup(&p, o, true);
	if (rc != 0) {
		pool_teardown(&p);
		return rc;
	}
	struct buf b = BUF_INIT;
	bool *said = xcalloc(p.hosts.n + 1, sizeof(bool));
	const char *job = getenv("SLURM_JOB_ID");
	for (size_t i = 0; i < p.nw; i++) {
		struct worker *w = p.w[i];
		if (w->host >= 0 && !said[w->host] &&
		    w->spec->launcher == LAUNCH_SLURM && !(job && *job)) {
			/* The allocation spool would hold for the run. */
			const struct host *h = &p.hosts.h[w->host];
			char **av = launch_salloc_argv(
				&w->spec->slurm, (long)h->nworkers, "spool");
			buf_addf(&b, "slurm allocation for workers[%d]\t",
				 w->spec_index);
			shell_quote_argv(&b, av);
			buf_addc(&b, '\n');
			remote_argv_free(av);
		}
		if (w->host >= 0)
			said[w->host] = true;
		char **argv = worker_argv(w);
		char **env = worker_env_extra(w);
		char *cwd = worker_cwd(w);
		buf_addf(&b, "%s\t%s\t", w->label,
			 w->spec->protocol == PROTO_SPOOL ? "spool" : "lines");
		shell_quote_argv(&b, argv);
		buf_adds(&b, "\n");
		for (size_t k = 0; env[k]; k++) {
			char *one[] = {env[k], NULL};
			buf_adds(&b, "\tenv ");
			shell_quote_argv(&b, one);
			buf_addc(&b, '\n');
		}
		if (cwd) {
			char *one[] = {cwd, NULL};
			buf_adds(&b, "\tcwd ");
			shell_quote_argv(&b, one);
			buf_addc(&b, '\n');
		}
		if (w->spec->launcher != LAUNCH_LOCAL) {
			/* What spool itself runs for it, here. */
			struct launch_cmd lc;
			struct buf why = BUF_INIT;
			if (w->host_name)
				buf_addf(&b, "\thost %s\n", w->host_name);
			if (launch_command(w, &lc, &why) == 0) {
				buf_adds(&b, "\tlocal ");
				shell_quote_argv(&b, lc.argv);
				buf_addc(&b, '\n');
				launch_cmd_release(&lc);
			}
			buf_release(&why);
		}
		worker_strv_free(argv);
		worker_strv_free(env);
		free(cwd);
	}
	free(said);
	rc = write_all(1, b.p, b.len) == 0 ? SPOOL_EXIT_OK : SPOOL_EXIT_FAILED;
	buf_release(&b);
	pool_teardown(&p);
	return rc;
}

int spool_serve(const struct spool_opts *o)
{
	struct pool p;
	struct serve_ctx sc = {NULL};
	int rc = pool_setup(&p, o, false);
	if (rc == 0)
		rc = serve_setup(&sc, &p, o);
	if (rc == 0)
		rc = pool_start(&p);
	if (rc == 0) {
		spawn_all(&p);
		pool_loop(&p);
		serve_finish(&sc);
		if (o->stats)
			(void)stats_report(&p, &p.hist, o->stats_path, -1);
		rc = p.signal == SIGINT    ? SPOOL_EXIT_SIGINT
		     : p.signal == SIGTERM ? SPOOL_EXIT_SIGTERM
		     : p.signal == SIGHUP  ? SPOOL_EXIT_SIGHUP
					   : SPOOL_EXIT_OK;
	}
	serve_release(&sc);
	pool_teardown(&p);
	return rc;
}
