/* dispatch.c - the window and dispatch: read task lines while the window
 * has room, validate and number them, and hand them to the ready workers
 * with the fewest in flight, each up to its in-flight limit ("inflight
 * auto" sizes it from the worker's measured time per task). */
#define _GNU_SOURCE
#include "pool.h"
#include "log.h"
#include "jsonscan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* inflight auto: keep about this much work queued at each worker. */
#define AUTO_TARGET 0.0005

static void bad_line(struct pool *p, uint32_t slot, const char *why)
{
	task_fail(p, slot, why, FAIL_SAY);
}

/* A line over 64 MiB is never held in memory, yet it must reach --failed
 * whole: its pieces are written straight to the file as they are read,
 * while other failed lines wait in the queue. */
static void long_line_piece(struct pool *p, const struct input_line *l)
{
	if (!p->failed_on)
		return;
	if (!p->failed_streaming) {
		output_drain(&p->failed); /* earlier failures first */
		p->failed_streaming = true;
	}
	if (write_all(p->failed.fd, l->p, l->n) != 0 ||
	    (!l->more && write_all(p->failed.fd, "\n", 1) != 0))
		p->failed.err = errno;
	if (!l->more)
		p->failed_streaming = false;
}

/* --resume: true when this task is skipped (logged ok, same line).  A
 * line that differs from the logged one stops the run (exit 2). */
static bool resume_skip(struct pool *p, uint64_t seq,
			const struct input_line *l, bool toolong)
{
	uint64_t logged = 0;
	uint64_t hash = joblog_hash(toolong ? "" : l->p, toolong ? 0 : l->n);
	switch (joblog_check(&p->joblog, seq, hash, &logged)) {
	case JL_SKIP:
		p->n_skipped++;
		p->progress.dirty = true;
		return true;
	case JL_RUN:
		return false;
	case JL_CHANGED:
		break;
	}
	log_error("%s:%llu: this line differs from task %llu in the joblog %s "
		  "(hash %016llx, logged %016llx): the input changed since "
		  "that run; "
		  "resume with the same input, or start a new --joblog",
		  pool_src_name(p, l->src), (unsigned long long)l->line,
		  (unsigned long long)seq, p->joblog.path,
		  (unsigned long long)hash, (unsigned long long)logged);
	p->usage_error = true;
	p->n_read--;
	p->seq--;
	p->stop = STOP_CHANGED;
	p->phase = PH_DRAIN;
	return true;
}

static void pool_read(struct pool *p)
{
	p->read_held = false;
	/* An over-long line being copied to --failed is read to its end
	 * even when the run stops reading (--strict, a signal). */
	while ((p->phase == PH_RUN || p->failed_streaming) && !p->check) {
		if (!p->failed_streaming) {
			if (buf_used(&p->out.b) > OUTPUT_HIGH_WATER) {
				/* Go on once stdout has caught up. */
				p->read_held = true;
				return;
			}
			if (!p->ts.nfree)
				return;
		}
		struct input_line l;
		enum input_result r = input_next(&p->in, &l);
		if (r == IN_WAIT)
			return;
		if (r == IN_MORE) {
			long_line_piece(p, &l);
			continue;
		}
		if (r == IN_ERROR) {
			log_error("%s: read error: %s; the rest of it is not "
				  "read",
				  pool_src_name(p, l.src), strerror(l.err));
			p->usage_error = true;
			if (p->failed_streaming) {
				/* End the cut line where it was cut. */
				l.more = false;
				l.n = 0;
				long_line_piece(p, &l);
			}
			continue;
		}
		if (p->phase != PH_RUN)
			return;
		if (r == IN_END) {
			p->stop = STOP_EOF;
			p->phase = PH_DRAIN;
			return;
		}
		uint64_t seq = ++p->seq;
		p->n_read++;
		if (p->resume && resume_skip(p, seq, &l, r == IN_TOOLONG))
			continue;
		uint32_t slot = task_alloc(&p->ts);
		struct task *t = pool_task(p, slot);
		t->seq = seq;
		t->src = l.src;
		t->line = l.line;
		if (p->order_on)
			reorder_push(&p->order, slot);
		if (r == IN_TOOLONG) {
			bad_line(p, slot, "line longer than 64 MiB");
			long_line_piece(p, &l);
			continue;
		}
		buf_add(&t->data, l.p, l.n);
		struct json_error e;
		if (!p->raw && !json_check(l.p, l.n, &e)) {
			char why[160];
			snprintf(why, sizeof(why),
				 "invalid JSON at column %zu: %s", e.pos + 1,
				 e.why);
			bad_line(p, slot, why);
			continue;
		}
		if (p->no_workers) {
			p->n_no_workers++;
			task_fail(p, slot, "no workers left", FAIL_QUIET);
			continue;
		}
		t->state = T_QUEUED;
		idq_push_back(&p->queue, slot);
	}
}

static long spec_inflight(const struct pool *p, const struct worker *w)
{
	return p->inflight >= 0 ? p->inflight : w->spec->inflight;
}

double spec_timeout(const struct pool *p, const struct worker *w)
{
	return p->timeout >= 0 ? p->timeout : w->spec->timeout;
}

/* The most tasks this worker may have in flight now. */
long worker_limit(const struct pool *p, const struct worker *w)
{
	long fixed = spec_inflight(p, w);
	long cap = p->queue_size / (long)p->nw;
	if (cap < 1)
		cap = 1;
	if (fixed > 0)
		return fixed;
	if (w->svc <= 0)
		return 1;
	double lim = 1 + AUTO_TARGET / w->svc;
	return lim < (double)cap ? (long)lim : cap;
}

/* Tasks this worker may be given now.  A deep window is topped up only
 * once it is half empty, so tasks go out in batches: one write carries
 * many, and the worker reads them in one go (no silly-window trickle). */
static long worker_room(const struct worker *w)
{
	if (w->state != WS_READY || w->fd_in < 0)
		return 0;
	long room = w->limit - (long)w->nflight;
	if (room <= 0)
		return 0;
	if (w->limit >= 8 && (long)w->nflight > w->limit / 2)
		return 0;
	if (w->spec->max_tasks) {
		long left = w->spec->max_tasks - (long)w->sent;
		if (left < room)
			room = left;
	}
	return room > 0 ? room : 0;
}

static void send_task(struct pool *p, struct worker *w, uint32_t slot)
{
	struct task *t = pool_task(p, slot);
	t->state = T_INFLIGHT;
	t->worker = w->index;
	t->attempts++;
	t->sent = p->now;
	if (!t->first)
		t->first = p->now;
	w->codec->frame_task(&w->wbuf, t->seq, buf_data(&t->data),
			     buf_used(&t->data));
	if (!w->nflight) {
		w->oldest_since = p->now;
		w->busy_mark = p->now;
	}
	idq_push_back(&w->inflight, slot);
	w->nflight++;
	w->sent++;
}

/* Hand queued tasks to the ready workers with the fewest in flight. */
static void pool_dispatch(struct pool *p)
{
	/* Stopping early: no task is started any more (pool_step fails
	 * what is queued). */
	if (p->stop != STOP_NONE && p->stop != STOP_EOF)
		return;
	while (p->queue.len) {
		struct worker *best = NULL;
		long best_room = 0, total_room = 0;
		for (size_t i = 0; i < p->nw; i++) {
			struct worker *w = &p->w[i];
			long room = worker_room(w);
			if (!room)
				continue;
			total_room += room;
			if (!best || w->nflight < best->nflight) {
				best = w;
				best_room = room;
			}
		}
		if (!best)
			return;
		long n = best_room;
		/* Not enough for everyone: level the workers up one step at
		 * a time, so the least loaded always gets the next task. */
		if ((long)p->queue.len < total_room) {
			for (size_t i = 0; i < p->nw && n > 1; i++) {
				struct worker *w = &p->w[i];
				if (w != best && worker_room(w)) {
					long gap = (long)w->nflight -
						   (long)best->nflight + 1;
					if (gap < n)
						n = gap;
				}
			}
		}
		if (n < 1)
			n = 1;
		while (n-- > 0 && p->queue.len)
			send_task(p, best, idq_pop_front(&p->queue));
	}
}

/* Read what the window allows, hand tasks out, send them. */
void pool_pump(struct pool *p)
{
	pool_read(p);
	pool_dispatch(p);
	for (size_t i = 0; i < p->nw; i++)
		if (buf_used(&p->w[i].wbuf))
			worker_flush(p, &p->w[i]);
}

/* inflight auto: learn how long a task takes this worker, per answer,
 * while it is kept busy. */
void learn_service_time(struct pool *p, struct worker *w, unsigned answers)
{
	if (w->busy_mark > 0 && answers) {
		double sample = (p->now - w->busy_mark) / answers;
		w->svc = w->svc > 0 ? 0.8 * w->svc + 0.2 * sample : sample;
	}
	w->busy_mark = w->nflight ? p->now : 0;
	w->limit = worker_limit(p, w);
}
