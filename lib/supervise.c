/* supervise.c - the pool's side of worker lifecycles: spawning, reaping,
 * reporting deaths, telling spawn failures from task faults, restarting
 * after a backoff kept as a deadline, giving a spec up, and failing what
 * is left when no worker can come back. */
#define _GNU_SOURCE
#include "pool.h"
#include "guard.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Spawn failures in a row after which a spec is given up. */
#define SPAWN_FAILURES_MAX 5
/* spool check: a lines worker without a ready line is up when it is
 * still running this long after its start. */
#define CHECK_GRACE 1.0
/* Restart delays: from 0.1 s, doubling per spawn failure, up to 5 s. */
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 5.0

bool pool_wants_workers(const struct pool *p)
{
	if (p->check)
		return false;
	if (p->phase == PH_RUN)
		return true;
	/* Draining: a worker for a task that must run again. */
	return p->phase == PH_DRAIN && p->stop != STOP_SIGNAL &&
	       p->stop != STOP_PIPE && p->stop != STOP_OUTPUT &&
	       (p->nqueued || p->suspects.len);
}

static void give_up_spec(struct pool *p, int spec_index, const char *why)
{
	struct spec_state *s = &p->specs[spec_index];
	if (s->given_up)
		return;
	s->given_up = true;
	if ((size_t)spec_index < p->cfg.nspecs)
		log_error("giving up on worker \"%s\" (workers[%d] in %s): %s",
			  p->cfg.specs[spec_index].name, spec_index,
			  p->cfg.label, why);
	else
		log_error("giving up on worker \"%s\" (added by add_worker): "
			  "%s",
			  p->extra[spec_index - p->cfg.nspecs]->name, why);
	/* Slots waiting to respawn after a failed spawn go with it; one
	 * whose last process served tasks will be tried again. */
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i]->spec_index == spec_index &&
		    p->w[i]->state == WS_BACKOFF && p->w[i]->done == 0)
			p->w[i]->state = WS_GIVEN_UP;
}

/* A host gives up for a spec: its slots waiting to respawn go; the
 * spec goes when every one of its hosts has. */
static void give_up_host(struct pool *p, int hsi, const char *why)
{
	struct host_spec *hs = &p->hosts.hs[hsi];
	if (hs->given_up)
		return;
	hs->given_up = true;
	hs->why = xstrdup(why);
	const struct worker_spec *spec =
		(size_t)hs->spec_index < p->cfg.nspecs
			? &p->cfg.specs[hs->spec_index]
			: p->extra[hs->spec_index - (int)p->cfg.nspecs];
	log_error("giving up on host %s for worker \"%s\" (workers[%d] in "
		  "%s): %s",
		  p->hosts.h[hs->host_index].name, spec->name, hs->spec_index,
		  p->cfg.label, why);
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i]->hs == hsi && p->w[i]->state == WS_BACKOFF &&
		    p->w[i]->done == 0)
			p->w[i]->state = WS_GIVEN_UP;
	for (size_t k = 0; k < p->hosts.nhs; k++)
		if (p->hosts.hs[k].spec_index == hs->spec_index &&
		    !p->hosts.hs[k].given_up)
			return;
	give_up_spec(p, hs->spec_index, "every one of its hosts was given up");
}

/* When no worker is left and none can come back, fail what remains. */
static void check_workers_left(struct pool *p)
{
	if (p->no_workers || p->check)
		return;
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i]->state != WS_GIVEN_UP)
			return;
	p->no_workers = true;
	log_error("no workers left: every worker spec was given up");
	fail_queued(p, "no workers left", FAIL_QUIET, FR_NO_WORKERS,
		    &p->n_no_workers);
}

void pool_spec_lost(struct pool *p, int spec_index, const char *why)
{
	give_up_spec(p, spec_index, why);
	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = p->w[i];
		if (w->spec_index != spec_index || w->pid > 0)
			continue;
		if (w->state == WS_BACKOFF)
			w->state = WS_GIVEN_UP;
		if (!w->fault_msg)
			w->fault_msg = xstrdup(why);
	}
	check_workers_left(p);
}

void worker_remote_started(struct pool *p, struct worker *w)
{
	w->ready_on_start = false;
	if (w->state != WS_STARTING)
		return;
	if (p->check) {
		/* Up if it still runs a moment after it started there. */
		w->check_until = p->now + CHECK_GRACE;
		return;
	}
	worker_ready(p, w, NULL);
}

/* Tasks came back while draining: workers that ended for want of work
 * (their input closed at the end) start again for them, one per task at
 * most, or the tasks would wait for a single worker. */
static void revive_stopped(struct pool *p, const struct worker *dead)
{
	if (p->check || !pool_wants_workers(p))
		return;
	size_t want = p->nqueued + p->suspects.len;
	for (size_t i = 0; i < p->nw && want > 1; i++) {
		struct worker *o = p->w[i];
		if (o == dead || o->state != WS_STOPPED ||
		    p->specs[o->spec_index].given_up ||
		    (o->hs >= 0 && p->hosts.hs[o->hs].given_up))
			continue;
		o->state = WS_BACKOFF;
		o->restart_at = p->now;
		pool_touch(p, o);
		want--;
	}
}

void spawn_worker(struct pool *p, struct worker *w)
{
	struct buf why = BUF_INIT;
	int may = hosts_may_spawn(p, w);
	if (may == 0)
		return; /* its host is connecting */
	if (may < 0) {
		w->state = WS_GIVEN_UP;
		log_verbose("worker %s given up: its host is gone", w->label);
		check_workers_left(p);
		return;
	}
	if (w->last_pid)
		w->st_restarts++;
	if (worker_spawn(w, p->now, p->guard_fd, &why) != 0) {
		buf_addc(&why, '\0');
		log_error("worker %s: %s", w->label, why.p);
		free(w->fault_msg);
		w->fault_msg = xstrdup(why.p);
		if (p->check) {
			w->state = WS_STOPPED;
		} else {
			/* Not something a retry can fix. */
			give_up_spec(p, w->spec_index, why.p);
			w->state = WS_GIVEN_UP;
			check_workers_left(p);
		}
		if (p->on_worker)
			p->on_worker(p->hook_ctx, w, false, why.p);
		buf_release(&why);
		return;
	}
	buf_release(&why);
	p->nlive++;
	pool_touch(p, w);
	watch_worker(p, w);
	log_verbose("worker %s spawned (pid %d)", w->label, (int)w->pid);
	if (w->codec->frame_spawn) {
		pool_want_flush(p, w);
		w->codec->frame_spawn(&w->wbuf, w->spec->spawn_json);
		w->state = WS_STARTING;
	} else if (w->spec->ready == READY_LINE) {
		w->state = WS_STARTING;
	} else if (w->announce) {
		/* Over ssh: ready once it runs there, so a host that cannot
		 * be reached is never sent a task. */
		w->state = WS_STARTING;
		w->ready_on_start = true;
	} else if (p->check) {
		/* Nothing says it is ready: it is up if it is still running
		 * a moment later (a failed import exits at once). */
		w->state = WS_STARTING;
		w->check_until = p->now + CHECK_GRACE;
	} else {
		worker_ready(p, w, NULL);
	}
}

static double backoff_delay(int failures)
{
	double d = BACKOFF_MIN;
	for (int i = 1; i < failures && d < BACKOFF_MAX; i++)
		d *= 2;
	return d < BACKOFF_MAX ? d : BACKOFF_MAX;
}

/* Read what the dead process left in its pipes. */
static void drain_dead_worker(struct pool *p, struct worker *w)
{
	while (w->fd_out >= 0) {
		ssize_t r = linebuf_fill(&w->rbuf, w->fd_out, ANSWER_READ);
		if (r < 0 && errno == EAGAIN)
			break;
		worker_lines(p, w);
		if (r <= 0)
			break;
	}
	if (linebuf_pending(&w->rbuf) && w->fault != WF_PROTOCOL)
		log_verbose(
			"worker %s: dropped %zu bytes of an unfinished line",
			w->label, linebuf_pending(&w->rbuf));
	worker_read_stderr(w, true);
	unwatch_worker(p, w);
	worker_close_fds(w);
	buf_reset(&w->wbuf);
	w->rbuf.start = w->rbuf.end = w->rbuf.scan = 0;
	w->rbuf.skipping = false;
}

/* Why the process ended, in words. */
static void death_reason(struct pool *p, struct worker *w, int wstatus,
			 struct buf *why)
{
	switch (w->fault) {
	case WF_TIMEOUT:
	case WF_PROTOCOL:
	case WF_STARTUP_TIMEOUT:
		buf_adds(why, "stopped: ");
		buf_adds(why, w->fault_msg ? w->fault_msg : "?");
		return;
	case WF_SPAWN_ERROR:
		buf_adds(why, w->fault_msg ? w->fault_msg : "spawn failed");
		return;
	case WF_STDOUT_CLOSED:
		if (w->signalled) {
			buf_adds(why, "stopped: ");
			buf_adds(why, w->fault_msg);
			return;
		}
		break;
	case WF_SHUTDOWN:
	case WF_NONE:
		break;
	}
	(void)p;
	worker_add_status(wstatus, why);
}

void pool_worker_reaped(struct pool *p, struct worker *w, int wstatus)
{
	drain_dead_worker(p, w);
	pid_t pid = w->pid;
	w->pid = 0;
	w->check_until = 0;
	p->nlive--;
	pool_touch(p, w);
	enum worker_state was = w->state;
	/* Told to exit (its input closed, the run over).  One whose input
	 * was closed while it still had tasks, and that exits without
	 * answering them, died like any other. */
	bool planned = (was == WS_DRAINING && !w->nflight) ||
		       (was == WS_STOPPING && w->fault == WF_SHUTDOWN);
	bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;

	struct buf why = BUF_INIT;
	if (w->host_name)
		buf_addf(&why, "worker %s on %s (pid %d) ", w->label,
			 w->host_name, (int)pid);
	else
		buf_addf(&why, "worker %s (pid %d) ", w->label, (int)pid);
	size_t head = why.len;
	death_reason(p, w, wstatus, &why);
	buf_addc(&why, '\0');
	const char *reason = why.p + head; /* without "worker X (pid N) " */

	if (p->check && !w->up) {
		char *r = xstrdup(reason);
		free(w->fault_msg);
		w->fault_msg = r;
	}
	/* Said once its state is decided (given up, or to try again). */
	char *failed_start = !w->up && !planned ? xstrdup(reason) : NULL;

	/* A death before the first finished task is a spawn failure (a
	 * crashing import looks just like this), unless spool stopped it
	 * for a timeout, or the spec has shown it can work (a worker of it
	 * finished a task) and the task in flight has been at a death
	 * before: then the task is at fault, not the spawn. */
	bool spawn_failure =
		!planned && w->done == 0 &&
		(pool_wants_workers(p) || w->nflight) &&
		w->fault != WF_TIMEOUT &&
		!(p->specs[w->spec_index].proven && inflight_blamed(p, w));
	/* Its stderr lines were shown as they came: the report names the
	 * last one (a traceback's verdict), and so does the reason a task
	 * fails for, when the worker ended by itself. */
	struct buf last = BUF_INIT;
	bool natural = w->fault == WF_NONE || w->fault == WF_SHUTDOWN ||
		       (w->fault == WF_STDOUT_CLOSED && !w->signalled);
	if (w->tail_n && natural && !(planned && clean)) {
		const char *line =
			w->tail[(w->tail_next + WORKER_TAIL_LINES - 1) %
				WORKER_TAIL_LINES];
		buf_adds(&last, " (its last stderr line: ");
		log_escape(&last, line, strlen(line));
		buf_adds(&last, ")");
	}
	buf_addc(&last, '\0');
	/* stdout gone or full: that was said once, with its cause; the
	 * workers stopped for it are not news. */
	bool quiet = p->check || p->stop == STOP_PIPE || p->stop == STOP_OUTPUT;
	if ((!planned || (!clean && w->nflight)) && !quiet) {
		struct buf msg = BUF_INIT;
		buf_adds(&msg, why.p);
		if (!w->up)
			buf_adds(&msg, " while starting");
		else if (spawn_failure)
			buf_adds(&msg, "; it had not finished a task yet (a "
				       "spawn failure)");
		buf_adds(&msg, last.p);
		buf_addc(&msg, '\0');
		log_error("%s", msg.p);
		buf_release(&msg);
	} else {
		log_verbose("%s%s", why.p, w->recycle ? " (recycled)" : "");
	}
	/* why: what the tasks it had fail with, if they run out of
	 * attempts. */
	why.len--; /* its NUL */
	buf_adds(&why, last.p);
	buf_addc(&why, '\0');
	buf_release(&last);
	w->up = false;

	if (p->stop == STOP_PIPE) {
		fail_inflight(p, w, "stdout closed", false);
	} else if (w->nflight) {
		requeue_inflight(p, w, why.p);
		revive_stopped(p, w);
	}

	struct spec_state *s = &p->specs[w->spec_index];
	/* Spawn failures of a remote worker count on its host, for its
	 * spec: an unreachable host is given up, the others go on. */
	struct host_spec *hs = w->hs >= 0 ? &p->hosts.hs[w->hs] : NULL;
	int *failures = hs ? &hs->failures : &s->failures;
	if (spawn_failure && !p->check) {
		if (hs) {
			/* A task finished there since: a fresh count. */
			uint64_t done = hosts_done(p, w->hs);
			if (done != hs->mark)
				hs->failures = 0;
			hs->mark = done;
		}
		(*failures)++;
		/* It ended by itself (a broken pipe on its stdin is a symptom
		 * of the same exit, not a cause). */
		bool by_itself =
			w->fault == WF_NONE ||
			(w->fault == WF_STDOUT_CLOSED && !w->signalled);
		bool not_found = WIFEXITED(wstatus) && by_itself &&
				 (WEXITSTATUS(wstatus) == 127 ||
				  WEXITSTATUS(wstatus) == 126);
		if (not_found && hs)
			give_up_host(p, w->hs,
				     "its command cannot be run there (exit "
				     "status 126/127)");
		else if (not_found)
			give_up_spec(p, w->spec_index,
				     "its command cannot be run (exit status "
				     "126/127)");
		else if (*failures >= SPAWN_FAILURES_MAX && hs) {
			/* With ssh's own words: why the host failed. */
			char *msg = xasprintf("%d failed spawns in a row; the "
					      "last: %s",
					      *failures, why.p + head);
			give_up_host(p, w->hs, msg);
			free(msg);
		} else if (*failures >= SPAWN_FAILURES_MAX) {
			char msg[96];
			snprintf(msg, sizeof(msg), "%d failed spawns in a row",
				 s->failures);
			give_up_spec(p, w->spec_index, msg);
		}
	}
	buf_release(&why);

	/* A given-up spec keeps the replicas that work: only a slot whose
	 * own spawn just failed is given up with it. */
	if (w->one_shot && !w->came_up) {
		/* add_worker got its answer: no second try. */
		w->state = WS_GIVEN_UP;
	} else if (p->check || !pool_wants_workers(p)) {
		w->state = WS_STOPPED;
	} else if ((s->given_up || (hs && hs->given_up)) && !w->recycle &&
		   w->done == 0) {
		w->state = WS_GIVEN_UP;
		log_verbose("worker %s given up", w->label);
	} else if (w->recycle) {
		w->state = WS_BACKOFF;
		w->restart_at = p->now;
		log_verbose("worker %s recycled after %llu tasks", w->label,
			    (unsigned long long)w->done);
	} else if (planned && clean) {
		/* It was told to end (its input closed) and did: no fault,
		 * no backoff. */
		w->state = WS_BACKOFF;
		w->restart_at = p->now;
	} else {
		w->state = WS_BACKOFF;
		w->restart_at =
			p->now + backoff_delay(spawn_failure ? *failures : 1);
		log_verbose("worker %s restarting in %.1fs", w->label,
			    w->restart_at - p->now);
	}
	check_workers_left(p);
	if (failed_start && p->on_worker)
		p->on_worker(p->hook_ctx, w, false, failed_start);
	free(failed_start);
}

void pool_reap(struct pool *p)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    si.si_pid == 0)
			return;
		pid_t pid = si.si_pid;
		int st;
		if (pid == p->guard_pid) {
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			guard_died(p);
			continue;
		}
		struct worker *w = NULL;
		for (size_t i = 0; i < p->nw && !w; i++)
			if (p->w[i]->pid == pid)
				w = p->w[i];
		/* The leader is a zombie, so its group id is still its own:
		 * take down whatever it left running before reaping it (and
		 * tell the guard first: once reaped, the id may be reused).
		 * Not srun's: its group holds the shepherd that cancels the
		 * step when srun is gone. */
		guard_tell(p, '-', pid);
		if (!w || w->spec->launcher != LAUNCH_SLURM)
			(void)kill(-pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (w)
			pool_worker_reaped(p, w, st);
		else
			(void)hosts_reaped(p, pid, st);
	}
}
