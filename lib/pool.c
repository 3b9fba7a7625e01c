/* pool.c - a run: setting up, the loop, signals, timers and phases, and
 * what spool says at the end.  The rest of the engine is split by job:
 * dispatch.c (window and dispatch), answer.c (worker pipes and codecs),
 * complete.c (results, failures, retries), supervise.c (spawns, deaths,
 * restarts). */
#define _GNU_SOURCE
#include "pool.h"
#include "jsonscan.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_QUEUE 1024
#define DEFAULT_RETRIES 2
/* After SIGINT/SIGTERM: seconds in-flight tasks get to finish. */
#define INTERRUPT_GRACE 5.0

const char *pool_src_name(const struct pool *p, uint32_t src)
{
	const char *name = p->in.src[src].name;
	return strcmp(name, "-") == 0 ? "stdin" : name;
}

static void pool_interrupt(struct pool *p, int sig)
{
	p->signal = p->signal ? p->signal : sig;
	if (p->stop == STOP_SIGNAL) {
		/* Second signal: now. */
		log_error("second signal: killing workers");
		for (size_t i = 0; i < p->nw; i++) {
			struct worker *w = &p->w[i];
			if (w->pid > 0) {
				fail_inflight(p, w, "interrupted", true);
				worker_stop(w, WF_SHUTDOWN, NULL, p->now);
				worker_signal(w, SIGKILL);
			}
		}
		p->drain_until = p->now;
		return;
	}
	p->stop = STOP_SIGNAL;
	p->signal_at = p->now;
	if (p->phase == PH_RUN)
		p->phase = PH_DRAIN;
	p->drain_until = p->now + INTERRUPT_GRACE;
	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = &p->w[i];
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
			pool_interrupt(p, (int)si[i].ssi_signo);
	}
	if (chld)
		pool_reap(p);
}

static double pool_timers(struct pool *p)
{
	double next = 0;
#define NEAREST(t)                                                             \
	do {                                                                   \
		double t_ = (t);                                               \
		if (t_ > 0 && (next == 0 || t_ < next))                        \
			next = t_;                                             \
	} while (0)

	if (p->stop == STOP_SIGNAL && p->drain_until &&
	    p->now >= p->drain_until) {
		p->drain_until = 0;
		p->timers_acted = true;
		for (size_t i = 0; i < p->nw; i++) {
			struct worker *w = &p->w[i];
			if (w->pid > 0 && w->state != WS_STOPPING) {
				fail_inflight(p, w, "interrupted", true);
				worker_stop(w, WF_SHUTDOWN, NULL, p->now);
			}
		}
	}
	NEAREST(p->drain_until);

	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = &p->w[i];
		NEAREST(worker_ladder(w, p->now));
		if (w->read_at > 0) {
			if (p->now >= w->read_at || w->w_out < 0) {
				w->read_at = 0;
				if (w->w_out >= 0)
					loop_set(&p->loop, w->w_out, POLLIN);
			} else {
				NEAREST(w->read_at);
			}
		}
		switch (w->state) {
		case WS_BACKOFF:
			if (!pool_wants_workers(p)) {
				if (p->phase >= PH_SHUTDOWN ||
				    p->stop == STOP_SIGNAL ||
				    p->stop == STOP_PIPE)
					w->state = WS_STOPPED;
				break;
			}
			if (p->now >= w->restart_at) {
				spawn_worker(p, w);
				p->timers_acted = true;
			} else
				NEAREST(w->restart_at);
			break;
		case WS_STARTING: {
			double st = w->spec->startup_timeout;
			if (st <= 0)
				break;
			if (p->now >= w->spawned_at + st) {
				char *msg = xasprintf(
					"not ready after %gs (startup_timeout)",
					st);
				worker_stop(w, WF_STARTUP_TIMEOUT, msg, p->now);
				p->timers_acted = true;
			} else {
				NEAREST(w->spawned_at + st);
			}
			break;
		}
		case WS_READY: {
			double to = spec_timeout(p, w);
			if (to <= 0 || !w->nflight)
				break;
			idq_trim(&w->inflight);
			uint32_t slot = idq_at(&w->inflight, 0);
			/* The clock of the oldest task in flight runs from
			 * when it was sent or, if others were ahead of it on
			 * this worker, from when the last of them was
			 * answered: a task waiting behind others (a deep
			 * window, a worker that takes one at a time) is not
			 * charged for the wait. */
			double since =
				MAX(pool_task(p, slot)->sent, w->oldest_since);
			if (p->now >= since + to) {
				struct task *t = pool_task(p, slot);
				char *msg = xasprintf(
					"task %s:%llu timed out after %gs",
					pool_src_name(p, t->src),
					(unsigned long long)t->line, to);
				w->fault_slot = slot;
				worker_stop(w, WF_TIMEOUT, msg, p->now);
				p->timers_acted = true;
			} else {
				NEAREST(since + to);
			}
			break;
		}
		default:
			break;
		}
	}
#undef NEAREST
	return next;
}

static void pool_begin_shutdown(struct pool *p)
{
	p->phase = PH_SHUTDOWN;
	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = &p->w[i];
		if (w->pid > 0) {
			if (p->stop == STOP_PIPE)
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
		const struct worker *w = &p->w[i];
		if (w->state == WS_STARTING || w->state == WS_BACKOFF)
			return false;
		if (w->state == WS_STOPPING && w->pid > 0)
			return false;
	}
	return true;
}

static void pool_step(struct pool *p)
{
	if (p->out.broken && p->stop != STOP_PIPE) {
		p->stop = STOP_PIPE;
		while (p->queue.len) {
			uint32_t slot = idq_pop_front(&p->queue);
			task_fail(p, slot, "stdout closed", FAIL_QUIET);
		}
		pool_begin_shutdown(p);
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
		while (why && p->queue.len) {
			uint32_t slot = idq_pop_front(&p->queue);
			/* Never sent, or queued again after an attempt. */
			bool tried = pool_task(p, slot)->attempts > 0;
			char *msg =
				xasprintf(why, tried ? "run again" : "started");
			p->n_not_started++;
			task_fail(p, slot, msg, FAIL_QUIET);
			free(msg);
		}
		if (task_used(&p->ts) == 0)
			pool_begin_shutdown(p);
	}
	if (p->phase == PH_SHUTDOWN) {
		for (size_t i = 0; i < p->nw; i++)
			if (p->w[i].pid > 0)
				return;
		p->phase = PH_DONE;
	}
}

static void on_input(void *ctx, int fd, int revents)
{
	struct pool *p = ctx;
	(void)fd;
	(void)revents;
	p->in.readable = true;
}

static void on_output(void *ctx, int fd, int revents)
{
	struct pool *p = ctx;
	(void)fd;
	(void)revents;
	output_flush(&p->out);
}

static void pool_loop(struct pool *p)
{
	while (p->phase != PH_DONE) {
		p->now = mono_now();
		(void)pool_timers(p);
		pool_pump(p);
		/* Phase changes may fail tasks (a signal, --strict): their
		 * lines go out in this turn's flush. */
		pool_step(p);
		/* Results share the terminal with the progress line. */
		if (p->progress_on && p->out_tty && output_pending(&p->out))
			progress_erase(&p->progress);
		bool out_done = output_flush(&p->out);
		if (p->failed_on && !p->failed_streaming)
			output_flush(&p->failed);
		if (p->joblog_on)
			joblog_flush(&p->joblog, p->out.written);
		if (p->phase == PH_DONE)
			break;
		/* The deadlines as they stand after this turn's dispatch (a task
		 * just sent starts its timeout clock).  If a timer acted just
		 * now, there may be work to hand out before sleeping. */
		p->timers_acted = false;
		double deadline = pool_timers(p);
		if (p->timers_acted)
			continue;
		/* Reading waited for stdout, and stdout has caught up: no
		 * event would say so (a regular file is never polled). */
		if (p->read_held && buf_used(&p->out.b) <= OUTPUT_HIGH_WATER)
			continue;
		if (p->progress_on) {
			double due = progress_tick(&p->progress, p->now);
			if (deadline == 0 || due < deadline)
				deadline = due;
		}

		/* What to wait for. */
		int in_fd = input_fd(&p->in);
		bool want_input = p->phase == PH_RUN && !p->check &&
				  p->ts.nfree && in_fd >= 0 &&
				  !p->in.readable &&
				  buf_used(&p->out.b) <= OUTPUT_HIGH_WATER;
		if (p->in_watch >= 0 &&
		    (!want_input || p->loop.w[p->in_watch].fd != in_fd)) {
			loop_del(&p->loop, p->in_watch);
			p->in_watch = -1;
		}
		if (want_input && p->in_watch < 0)
			p->in_watch =
				loop_add(&p->loop, in_fd, POLLIN, on_input, p);
		loop_set(&p->loop, p->out_watch, out_done ? 0 : POLLOUT);

		/* pool_read() stopped because the window is full, stdout is
		 * behind, or the input must be waited for: each ends with an
		 * event, so there is nothing to do until one comes. */
		double timeout = -1;
		if (deadline > 0)
			timeout = deadline > p->now ? deadline - p->now : 0;
		loop_wait(&p->loop, timeout, &p->now);
	}
}

static sigset_t saved_mask;

static struct sigaction saved_pipe, saved_chld;

static int pool_signals(struct pool *p)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	/* A SIGINT ignored when spool started (a background job of a
	 * script) stays ignored, as in shells. */
	struct sigaction old_int;
	sigaction(SIGINT, NULL, &old_int);
	if (old_int.sa_handler != SIG_IGN)
		sigaddset(&mask, SIGINT);
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
	if (p->sigfd >= 0)
		close(p->sigfd);
	p->sigfd = -1;
	if (!p->signals_set)
		return;
	p->signals_set = false;
	sigaction(SIGPIPE, &saved_pipe, NULL);
	sigaction(SIGCHLD, &saved_chld, NULL);
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

/* Labels are name#i, i counting the workers that share a name. */
static void pool_make_workers(struct pool *p)
{
	size_t total = 0;
	for (size_t s = 0; s < p->cfg.nspecs; s++)
		total += (size_t)p->cfg.specs[s].replicas;
	p->w = xcalloc(total, sizeof(*p->w));
	p->nw = total;
	p->specs = xcalloc(p->cfg.nspecs, sizeof(*p->specs));
	size_t k = 0;
	for (size_t s = 0; s < p->cfg.nspecs; s++) {
		const struct worker_spec *spec = &p->cfg.specs[s];
		for (long r = 0; r < spec->replicas; r++) {
			int same = 0;
			for (size_t j = 0; j < k; j++)
				if (strcmp(p->w[j].spec->name, spec->name) == 0)
					same++;
			char *label = xasprintf("%s#%d", spec->name, same);
			worker_init(&p->w[k], p, &p->loop, (int)k, (int)r,
				    (int)s, spec, label);
			free(label);
			idq_init(&p->w[k].inflight,
				 (uint32_t)p->queue_size + 1);
			p->w[k].restart_at = 0;
			k++;
		}
	}
}

/* --resume: compare the input files with the joblog before any worker
 * starts.  Stdin, and files after it, are checked as they are read. */
struct precheck {
	struct pool *p;
	uint64_t seq;
	bool changed;
};

static void precheck_line(void *ctx, uint32_t src, uint64_t line, const char *s,
			  size_t n)
{
	struct precheck *pc = ctx;
	if (pc->changed)
		return;
	uint64_t seq = ++pc->seq, logged = 0;
	uint64_t hash = joblog_hash(s ? s : "", s ? n : 0);
	if (joblog_check(&pc->p->joblog, seq, hash, &logged) != JL_CHANGED)
		return;
	log_error("%s:%llu: this line differs from task %llu in the joblog %s "
		  "(hash %016llx, logged %016llx): the input changed since "
		  "that run; "
		  "resume with the same input, or start a new --joblog",
		  pool_src_name(pc->p, src), (unsigned long long)line,
		  (unsigned long long)seq, pc->p->joblog.path,
		  (unsigned long long)hash, (unsigned long long)logged);
	pc->changed = true;
}

static int resume_precheck(struct pool *p)
{
	struct precheck pc = {p, 0, false};
	input_scan(&p->in, precheck_line, &pc);
	p->joblog.cursor = 0;
	return pc.changed ? -1 : 0;
}

static int pool_setup(struct pool *p, const struct spool_opts *o, bool check)
{
	memset(p, 0, sizeof(*p));
	p->sigfd = -1;
	p->stats_fd = -1;
	/* Nothing to restore on a descriptor not yet set up. */
	p->out.fd = p->failed.fd = -1;
	p->out.saved_flags = p->failed.saved_flags = -1;
	p->in_watch = p->out_watch = p->sig_watch = -1;
	p->check = check;
	log_set_level((enum log_level)o->verbosity);
	loop_init(&p->loop);

	struct buf err = BUF_INIT;
	if (o->workers_path) {
		if (config_load(&p->cfg, o->workers_path, &err) != 0) {
			log_error("%s", err.p);
			buf_release(&err);
			return SPOOL_EXIT_USAGE;
		}
	} else {
		long jobs =
			o->jobs > 0 ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
		config_from_command(&p->cfg, o->command, jobs > 0 ? jobs : 1);
	}

	p->keep_order = o->keep_order != SPOOL_UNSET ? o->keep_order == 1
						     : p->cfg.order == 1;
	p->queue_size = o->queue_size > 0       ? o->queue_size
			: p->cfg.queue_size > 0 ? p->cfg.queue_size
						: DEFAULT_QUEUE;
	p->retries = o->retries != SPOOL_UNSET ? o->retries
		     : p->cfg.retries >= 0     ? p->cfg.retries
					       : DEFAULT_RETRIES;
	p->inflight = o->inflight;
	p->timeout = o->timeout;
	p->tag = o->tag;
	p->raw = o->raw;
	p->strict = o->strict;

	if (p->raw) {
		for (size_t s = 0; s < p->cfg.nspecs; s++)
			if (p->cfg.specs[s].protocol == PROTO_SPOOL) {
				log_error("--raw needs the lines protocol, but "
					  "workers[%zu] "
					  "in %s uses \"spool\" (its tasks "
					  "must be JSON)",
					  s, p->cfg.label);
				buf_release(&err);
				return SPOOL_EXIT_USAGE;
			}
	}

	if (!check && input_open(&p->in, o->inputs, o->ninputs, &err) != 0) {
		log_error("%s", err.p);
		buf_release(&err);
		return SPOOL_EXIT_USAGE;
	}
	buf_release(&err);

	if (o->failed_path) {
		int fd = open(o->failed_path,
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			log_error("%s: cannot open --failed file: %s",
				  o->failed_path, strerror(errno));
			return SPOOL_EXIT_USAGE;
		}
		output_init(&p->failed, fd);
		p->failed_on = true;
	}

	if (!check && o->joblog_path) {
		struct buf jerr = BUF_INIT;
		if (joblog_open(&p->joblog, o->joblog_path, o->resume, &jerr) !=
		    0) {
			log_error("%s", jerr.p);
			buf_release(&jerr);
			return SPOOL_EXIT_USAGE;
		}
		buf_release(&jerr);
		p->joblog_on = true;
		p->resume = o->resume;
		if (p->resume && resume_precheck(p) != 0)
			return SPOOL_EXIT_USAGE;
	}
	p->stats_on = o->stats;
	p->stats_path = o->stats_path;
	p->stats_fd = -1;
	if (o->stats_path) {
		/* Find out now, not after hours of work, that it cannot be
		 * written. */
		p->stats_fd = open(o->stats_path,
				   O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (p->stats_fd < 0) {
			log_error("%s: cannot write --stats: %s", o->stats_path,
				  strerror(errno));
			return SPOOL_EXIT_USAGE;
		}
	}

	task_store_init(&p->ts, (uint32_t)p->queue_size);
	idq_init(&p->queue, (uint32_t)p->queue_size);
	p->order_on = p->keep_order;
	if (p->order_on)
		reorder_init(&p->order, (uint32_t)p->queue_size);
	output_init(&p->out, check ? -1 : 1);
	if (!check)
		p->out_watch = loop_add(&p->loop, 1, 0, on_output, p);
	pool_make_workers(p);
	if (pool_signals(p) != 0)
		return SPOOL_EXIT_NOPOOL;
	p->now = p->t_start = mono_now();
	p->wall0 = wall_now() - p->now;
	if (!check) {
		bool tty = isatty(2);
		p->progress_on =
			o->progress == 1 || (o->progress == SPOOL_UNSET &&
					     tty && o->verbosity >= 1);
		if (p->progress_on)
			progress_init(&p->progress, p, input_count(&p->in));
	}
	p->recording = p->joblog_on || p->stats_on || p->progress_on;
	p->out_tty = !check && isatty(1);
	return 0;
}

static void pool_teardown(struct pool *p)
{
	for (size_t i = 0; i < p->nw; i++)
		worker_release(&p->w[i]);
	free(p->w);
	free(p->specs);
	if (p->failed_on) {
		if (p->failed_streaming) {
			/* Stopped in the middle of an over-long line. */
			(void)write_all(p->failed.fd, "\n", 1);
			log_error("--failed: an over-long line was cut short "
				  "(spool stopped while reading it)");
		}
		output_drain(&p->failed);
		close(p->failed.fd);
		output_release(&p->failed);
	}
	output_release(&p->out);
	task_store_release(&p->ts);
	idq_release(&p->queue);
	if (p->order_on)
		reorder_release(&p->order);
	if (!p->check)
		input_close(&p->in);
	if (p->joblog_on)
		joblog_close(&p->joblog, p->out.written);
	if (p->stats_fd >= 0)
		close(p->stats_fd);
	buf_release(&p->scratch);
	pool_restore_signals(p);
	loop_release(&p->loop);
	config_release(&p->cfg);
}

static int pool_exit_status(struct pool *p)
{
	if (p->signal == SIGINT)
		return SPOOL_EXIT_SIGINT;
	if (p->signal == SIGTERM)
		return SPOOL_EXIT_SIGTERM;
	if (p->stop == STOP_PIPE)
		return SPOOL_EXIT_PIPE;
	if (p->usage_error)
		return SPOOL_EXIT_USAGE;
	if (p->no_workers)
		return SPOOL_EXIT_NOPOOL;
	if (p->n_failed || p->out.err || p->stats_failed)
		return SPOOL_EXIT_FAILED;
	return SPOOL_EXIT_OK;
}

/* The end of a run: write what stdout still holds.  A reader that stops
 * reading must not hold spool forever: a signal ends the wait, dropping
 * what was not written. */
static void pool_drain_stdout(struct pool *p)
{
	while (!output_flush(&p->out)) {
		struct pollfd pfd[2] = {{p->out.fd, POLLOUT, 0},
					{p->sigfd, POLLIN, 0}};
		/* Interrupted: the results get what is left of the grace
		 * period, no more. */
		int ms = -1;
		if (p->signal) {
			double left =
				p->signal_at + INTERRUPT_GRACE - mono_now();
			if (left <= 0) {
				buf_reset(&p->out.b);
				return;
			}
			ms = (int)(left * 1000) + 1;
		}
		(void)poll(pfd, 2, ms);
		struct signalfd_siginfo si;
		if ((pfd[1].revents & POLLIN) &&
		    xread(p->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
		    si.ssi_signo != SIGCHLD) {
			if (!p->signal)
				p->signal = (int)si.ssi_signo;
			buf_reset(&p->out.b);
			return;
		}
	}
}

static void pool_summary(struct pool *p)
{
	if (p->stop == STOP_PIPE)
		return;
	if (p->n_ok + p->n_failed + p->n_skipped != p->n_read)
		log_error("internal error: %llu tasks read but %llu ok, %llu "
			  "failed, "
			  "%llu skipped",
			  (unsigned long long)p->n_read,
			  (unsigned long long)p->n_ok,
			  (unsigned long long)p->n_failed,
			  (unsigned long long)p->n_skipped);
	if (p->signal) {
		log_error("interrupted by SIG%s: %llu tasks finished, %llu not "
			  "started%s",
			  signal_name(p->signal),
			  (unsigned long long)(p->n_ok + p->n_failed -
					       p->n_not_started -
					       p->n_interrupted),
			  (unsigned long long)p->n_not_started,
			  p->n_interrupted ? "" : "");
		if (p->n_interrupted)
			log_error("%llu tasks in flight were stopped (failed "
				  "as \"interrupted\")",
				  (unsigned long long)p->n_interrupted);
	} else if (p->stop == STOP_STRICT && p->n_not_started) {
		log_error("--strict: stopped at the first failure; %llu tasks "
			  "not started",
			  (unsigned long long)p->n_not_started);
	} else if (p->stop == STOP_CHANGED && p->n_not_started) {
		log_error("%llu tasks not started",
			  (unsigned long long)p->n_not_started);
	}
	if (p->n_no_workers)
		log_error("%llu tasks failed with \"no workers left\"",
			  (unsigned long long)p->n_no_workers);
	if (p->out.err)
		log_error("stdout: write error: %s", strerror(p->out.err));
}

void spool_opts_init(struct spool_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->keep_order = SPOOL_UNSET;
	o->inflight = SPOOL_UNSET;
	o->retries = SPOOL_UNSET;
	o->timeout = -1;
	o->progress = SPOOL_UNSET;
	o->verbosity = 1;
}

int spool_run(const struct spool_opts *o)
{
	struct pool p;
	int rc = pool_setup(&p, o, false);
	if (rc == 0) {
		for (size_t i = 0; i < p.nw; i++)
			spawn_worker(&p, &p.w[i]);
		pool_loop(&p);
		pool_drain_stdout(&p);
		if (p.progress_on)
			progress_clear(&p.progress);
		pool_summary(&p);
		if (p.stats_on &&
		    stats_report(&p, &p.hist, p.stats_path, p.stats_fd) != 0)
			p.stats_failed = true;
		rc = pool_exit_status(&p);
	}
	pool_teardown(&p);
	return rc;
}

int spool_check(const struct spool_opts *o)
{
	struct pool p;
	int rc = pool_setup(&p, o, true);
	if (rc != 0) {
		pool_teardown(&p);
		return rc;
	}
	for (size_t i = 0; i < p.nw; i++)
		spawn_worker(&p, &p.w[i]);
	pool_loop(&p);
	size_t up = 0;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < p.nw; i++) {
		struct worker *w = &p.w[i];
		bool ok = w->came_up;
		buf_addf(&b, "%s\tpid %d\t", w->label, (int)w->last_pid);
		if (ok) {
			up++;
			buf_adds(&b, "ready in ");
			buf_add_duration(&b, w->spawn_s);
			if (w->spawn_result) {
				buf_addc(&b, '\t');
				buf_adds(&b, w->spawn_result);
			}
		} else {
			buf_addf(&b, "FAILED: %s",
				 w->fault_msg ? w->fault_msg : "did not start");
			if (w->tail_n) {
				buf_adds(&b, "; its last stderr lines:");
				worker_add_tail(w, &b);
			}
		}
		buf_addc(&b, '\n');
	}
	(void)write_all(1, b.p, b.len);
	buf_release(&b);
	rc = up == p.nw ? SPOOL_EXIT_OK
	     : up == 0  ? SPOOL_EXIT_NOPOOL
			: SPOOL_EXIT_FAILED;
	pool_teardown(&p);
	return rc;
}
