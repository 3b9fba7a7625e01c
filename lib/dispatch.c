/* dispatch.c - queues and dispatch: the tasks clients submitted wait in
 * their client's queue; clients take turns (round robin), so a client
 * submitting a million tasks does not starve one submitting one.  Tasks
 * go to the ready workers with the fewest in flight, each up to its
 * in-flight limit ("inflight auto" sizes it from the worker's measured
 * time per task).  A suspect (a task that was in flight at a death whose
 * cause is unknown) runs alone on a worker. */
#define _GNU_SOURCE
#include "pool.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* --- A worker's in-flight list -------------------------------------- */

/* --- Queues --------------------------------------------------------- */

static void ring_add(struct pool *p, struct client *c)
{
	if (c->in_ring)
		return;
	c->in_ring = true;
	if (!p->ring) {
		c->rr_next = c->rr_prev = c;
		p->ring = c;
		return;
	}
	/* Last in turn: just before the one whose turn it is. */
	c->rr_next = p->ring;
	c->rr_prev = p->ring->rr_prev;
	c->rr_prev->rr_next = c;
	p->ring->rr_prev = c;
}

static void ring_remove(struct pool *p, struct client *c)
{
	if (!c->in_ring)
		return;
	c->in_ring = false;
	if (c->rr_next == c) {
		p->ring = NULL;
	} else {
		c->rr_prev->rr_next = c->rr_next;
		c->rr_next->rr_prev = c->rr_prev;
		if (p->ring == c)
			p->ring = c->rr_next;
	}
	c->rr_next = c->rr_prev = NULL;
}

void pool_queue(struct pool *p, uint32_t slot, bool front)
{
	struct task *t = pool_task(p, slot);
	t->state = T_QUEUED;
	t->queued_at = p->now;
	if (t->flags & TF_SUSPECT) {
		if (front)
			idq_push_front(&p->suspects, slot);
		else
			idq_push_back(&p->suspects, slot);
		return;
	}
	struct client *c = t->owner;
	if (front)
		idq_push_front(&c->queue, slot);
	else
		idq_push_back(&c->queue, slot);
	p->nqueued++;
	if (!c->in_ring)
		ring_add(p, c);
}

/* The next task to dispatch, clients taking turns; IDQ_HOLE when none
 * may go now. */
static uint32_t next_task(struct pool *p)
{
	size_t tries = 0;
	while (p->ring) {
		struct client *c = p->ring;
		if (!c->queue.len) {
			ring_remove(p, c);
			continue;
		}
		uint32_t slot = idq_at(&c->queue, 0);
		if (c->paused && !c->ops->may_dispatch(c, slot)) {
			/* Every waiting client is paused: nothing goes. */
			if (++tries > p->nqueued)
				return IDQ_HOLE;
			p->ring = c->rr_next;
			continue;
		}
		(void)idq_pop_front(&c->queue);
		if (!--p->nqueued)
			p->eof_dirty = true;
		if (!c->queue.len)
			ring_remove(p, c);
		else
			p->ring = c->rr_next;
		return slot;
	}
	return IDQ_HOLE;
}

void pool_unqueued(struct pool *p, uint32_t slot)
{
	(void)slot;
	p->nqueued--;
}

void pool_forget_client(struct pool *p, struct client *c)
{
	ring_remove(p, c);
}

uint32_t pool_unqueue(struct pool *p)
{
	if (p->suspects.len)
		return idq_pop_front(&p->suspects);
	while (p->ring) {
		struct client *c = p->ring;
		if (!c->queue.len) {
			ring_remove(p, c);
			continue;
		}
		p->nqueued--;
		return idq_pop_front(&c->queue);
	}
	return IDQ_HOLE;
}

/* --- Dispatch ------------------------------------------------------- */

static long spec_inflight(const struct pool *p, const struct worker *w)
{
	return p->inflight >= 0 ? p->inflight : w->spec->inflight;
}

double spec_timeout(const struct pool *p, const struct worker *w)
{
	return p->timeout >= 0 ? p->timeout : w->spec->timeout;
}

/* A batching worker may have this many batches in flight by default:
 * one it computes, one waiting. */
#define BATCH_INFLIGHT 2

static long batch_limit(const struct pool *p, const struct worker *w)
{
	long fixed = spec_inflight(p, w);
	return fixed > 0 ? fixed : BATCH_INFLIGHT;
}

/* The most tasks this worker may have in flight now. */
long worker_limit(const struct pool *p, const struct worker *w)
{
	long fixed = spec_inflight(p, w);
	long cap = p->queue_size / (long)(p->nw ? p->nw : 1);
	if (cap < 1)
		cap = 1;
	if (fixed > 0)
		return fixed;
	if (w->svc <= 0)
		return 1;
	double lim = 1 + p->auto_target / w->svc;
	return lim < (double)cap ? (long)lim : cap;
}

/* Tasks this worker may be given now.  A deep window is topped up only
 * once it is half empty, so tasks go out in batches: one write carries
 * many, and the worker reads them in one go (no silly-window trickle). */
static long worker_room(const struct pool *p, const struct worker *w)
{
	if (w->state != WS_READY || w->fd_in < 0)
		return 0;
	/* A suspect runs alone. */
	if (w->nflight &&
	    (pool_task(p, inflight_oldest(w))->flags & TF_SUSPECT))
		return 0;
	/* End of input and a worker that buffers its output: what is left
	 * goes out now, and every lines worker is made to flush. */
	if (p->eof_flush && !w->codec->by_id)
		return p->queue_size;
	long room;
	if (w->spec->batch_max) {
		/* Batches in flight, each up to max_size tasks. */
		if ((long)w->nbatches >= batch_limit(p, w))
			return 0;
		room = w->spec->batch_max;
	} else if (w->spec->buffered) {
		/* A window in bytes, topped up once half empty. */
		if (w->bytes_inflight > BUFFERED_WINDOW / 2)
			return 0;
		room = p->queue_size;
	} else {
		room = w->limit - (long)w->nflight;
		if (room <= 0)
			return 0;
		if (w->limit >= 8 && (long)w->nflight > w->limit / 2)
			return 0;
	}
	if (w->spec->max_tasks) {
		long left = w->spec->max_tasks - (long)w->sent;
		if (left < room)
			room = left;
	}
	return room > 0 ? room : 0;
}

/* A task goes to w (its bytes are framed by the caller). */
static void task_sent(struct pool *p, struct worker *w, uint32_t slot)
{
	struct task *t = pool_task(p, slot);
	t->state = T_INFLIGHT;
	t->worker = w->index;
	t->attempts++;
	t->sent = p->now;
	if (!t->first)
		t->first = p->now;
	if (!w->nflight) {
		w->oldest_since = p->now;
		w->busy_mark = p->now;
	}
	inflight_push(p, w, slot);
	w->sent++;
}

static void send_task(struct pool *p, struct worker *w, uint32_t slot)
{
	struct task *t = pool_task(p, slot);
	pool_want_flush(p, w);
	w->codec->frame_task(&w->wbuf, t->id, buf_data(&t->data),
			     buf_used(&t->data));
	task_sent(p, w, slot);
}

/* The hot path of a run: up to n tasks of the one waiting client to w, in
 * a tight loop (what next_task and send_task do, one task at a time). */
static void send_run(struct pool *p, struct worker *w, struct client *c,
		     long n)
{
	double now = p->now;
	uint32_t k = 0;
	pool_want_flush(p, w);
	if (!w->nflight) {
		w->oldest_since = now;
		w->busy_mark = now;
	}
	while ((long)k < n && c->queue.len) {
		uint32_t slot = idq_pop_front(&c->queue);
		struct task *t = pool_task(p, slot);
		w->codec->frame_task(&w->wbuf, t->id, buf_data(&t->data),
				     buf_used(&t->data));
		t->state = T_INFLIGHT;
		t->worker = w->index;
		t->attempts++;
		t->sent = now;
		if (!t->first)
			t->first = now;
		inflight_push(p, w, slot);
		k++;
	}
	w->sent += k;
	p->nqueued -= k;
	if (!p->nqueued)
		p->eof_dirty = true;
	if (!c->queue.len)
		ring_remove(p, c);
}

/* --- Batches (SPEC 11) ---------------------------------------------- */

/* A free place in w's table of batches in flight. */
static uint16_t batch_slot(struct worker *w, long limit)
{
	if (w->batch_cap < (uint32_t)limit) {
		w->batch_left = xrealloc(w->batch_left,
					 (size_t)limit * sizeof(uint32_t));
		memset(w->batch_left + w->batch_cap, 0,
		       (size_t)(limit - (long)w->batch_cap) * sizeof(uint32_t));
		w->batch_cap = (uint32_t)limit;
	}
	for (uint32_t i = 0; i < w->batch_cap; i++)
		if (!w->batch_left[i])
			return (uint16_t)i;
	return 0; /* not reached: nbatches < limit */
}

/* Up to n queued tasks as one JSON-RPC batch line. */
static void send_batch(struct pool *p, struct worker *w, long n)
{
	uint16_t b = batch_slot(w, batch_limit(p, w));
	pool_want_flush(p, w);
	size_t mark = w->wbuf.len;
	buf_addc(&w->wbuf, '[');
	uint32_t k = 0;
	for (; k < (uint32_t)n; k++) {
		uint32_t slot = next_task(p);
		if (slot == IDQ_HOLE)
			break;
		struct task *t = pool_task(p, slot);
		if (k)
			buf_addc(&w->wbuf, ',');
		proto_spool_request(&w->wbuf, t->id, buf_data(&t->data),
				    buf_used(&t->data));
		t->batch = b;
		if (p->stats_on)
			hist_add(&p->batch_wait, p->now - t->queued_at);
		task_sent(p, w, slot);
	}
	if (!k) {
		w->wbuf.len = mark;
		return;
	}
	buf_adds(&w->wbuf, "]\n");
	w->batch_left[b] = k;
	w->nbatches++;
	w->st_batches++;
	w->st_batch_tasks += k;
	if (k > w->st_batch_max)
		w->st_batch_max = k;
}

/* May a batch smaller than max_size go to w now?  When fewer are
 * waiting it is held at most max_delay from when the oldest of them was
 * queued (Triton's max_queue_delay); at the end of the input it goes at
 * once.  max_delay bounds what batching adds to a task's latency, so the
 * hold ends a tenth early: the loop's wake-up and the batch's framing fit
 * in the rest (W9 at light load measured 0.25 ms of them). */
#define BATCH_EARLY 0.1

static bool batch_ready(struct pool *p, const struct worker *w)
{
	double delay = w->spec->batch_delay;
	if (delay <= 0 || p->stop != STOP_NONE || !p->ring)
		return true;
	const struct client *c = p->ring;
	if (!c->queue.len)
		return true;
	double due = pool_task(p, idq_at(&c->queue, 0))->queued_at +
		     delay * (1 - BATCH_EARLY);
	if (p->now >= due)
		return true;
	if (!p->batch_due || due < p->batch_due)
		p->batch_due = due;
	return false;
}

/* --- Workers with room ----------------------------------------------- *
 *
 * A min-heap keyed by tasks in flight: the deadline heap (timer.h) serves,
 * a worker's key being its load instead of a time.  Equal loads come out
 * in the order they were last set, so ties take turns. */

static struct worker *room_at(const struct pool *p, uint32_t i)
{
	return timer_owner(p->roomh.v[i], struct worker, room);
}

/* The least loaded after the first (a child of the root). */
static struct worker *room_second(const struct pool *p)
{
	if (p->roomh.n < 2)
		return NULL;
	uint32_t i = 1;
	if (p->roomh.n > 2) {
		const struct timer *a = p->roomh.v[1], *b = p->roomh.v[2];
		if (b->at < a->at || (b->at == a->at && b->seq < a->seq))
			i = 2;
	}
	return room_at(p, i);
}

/* Put w where its room and load say: in the heap at its place, or out. */
static void room_update(struct pool *p, struct worker *w)
{
	if (worker_room(p, w) > 0)
		timer_set(&p->roomh, &w->room, (double)w->nflight);
	else
		timer_clear(&p->roomh, &w->room);
}

/* The workers something happened to: their place in the heap. */
static void room_refresh(struct pool *p)
{
	for (size_t i = 0; i < p->dirty_room.n; i++) {
		struct worker *w = p->dirty_room.v[i];
		w->dirty_room = false;
		room_update(p, w);
	}
	p->dirty_room.n = 0;
}

void pool_want_flush(struct pool *p, struct worker *w)
{
	if (!w->in_flushq) {
		w->in_flushq = true;
		vec_push(&p->flushq, w);
	}
}

/* Suspects first, each alone on an idle worker. */
static bool dispatch_suspects(struct pool *p)
{
	while (p->suspects.len) {
		struct worker *idle = p->roomh.n ? room_at(p, 0) : NULL;
		if (!idle || idle->nflight)
			break;
		uint32_t first = idq_pop_front(&p->suspects);
		uint16_t group = pool_task(p, first)->group;
		send_task(p, idle, first);
		if (idle->spec->buffered) {
			/* Its half of the suspects, then end of file: a
			 * buffered worker answers only when its stdin
			 * closes. */
			for (uint16_t k = 1; k < group && p->suspects.len; k++)
				send_task(p, idle,
					  idq_pop_front(&p->suspects));
			idle->close_when_sent = true;
		}
		room_update(p, idle);
		if (!p->suspects.len)
			p->eof_dirty = true;
	}
	/* While suspects wait, workers are not topped up: the first to
	 * empty takes the next suspect. */
	return p->suspects.len == 0;
}

/* Hand queued tasks to the ready workers with the fewest in flight. */
static void pool_dispatch(struct pool *p)
{
	room_refresh(p);
	/* Stopping early: no task is started any more (pool_step fails
	 * what is queued). */
	if (p->stop != STOP_NONE && p->stop != STOP_EOF)
		return;
	if (!dispatch_suspects(p))
		return;
	while (p->nqueued && p->roomh.n) {
		struct worker *best = room_at(p, 0);
		long n = worker_room(p, best);
		if (best->spec->batch_max) {
			if ((long)p->nqueued < n && !batch_ready(p, best))
				return; /* held for more, or until due */
			send_batch(p, best, n);
			room_update(p, best);
			continue;
		}
		/* Not enough for everyone: level the workers up, so the
		 * least loaded always gets the next task. */
		struct worker *second = room_second(p);
		if (second && (long)p->nqueued < n * (long)p->roomh.n) {
			long gap =
				(long)second->nflight - (long)best->nflight + 1;
			if (gap < n)
				n = gap;
		}
		if (n < 1)
			n = 1;
		struct client *only = p->ring;
		if (only && only->rr_next == only && !only->paused &&
		    !(best->kind & WK_BUFFERED)) {
			send_run(p, best, only, n);
			room_update(p, best);
			continue;
		}
		while (n-- > 0) {
			uint32_t slot = next_task(p);
			if (slot == IDQ_HOLE) {
				room_update(p, best);
				return;
			}
			send_task(p, best, slot);
			if (best->bytes_inflight >= BUFFERED_WINDOW)
				break;
		}
		room_update(p, best);
	}
}

/* All input is read and handed out: lines workers get end of file, so
 * one that buffers its output (jq, sed, grep) flushes it and exits.  A
 * task run again later gets a fresh worker. */
static void close_at_eof(struct pool *p)
{
	if (p->stop != STOP_EOF || p->nqueued || p->suspects.len ||
	    !p->eof_dirty)
		return;
	p->eof_dirty = false;
	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = p->w[i];
		if (!w->codec->by_id && w->state == WS_READY && w->fd_in >= 0) {
			if (buf_used(&w->wbuf))
				w->close_when_sent = true;
			else
				worker_close_input(w);
		}
	}
}

/* Take what clients submit, hand tasks out, send them. */
void pool_pump(struct pool *p)
{
	for (struct client *c = p->clients; c; c = c->next)
		if (c->ops->pump)
			c->ops->pump(c);
	pool_dispatch(p);
	close_at_eof(p);
	for (size_t i = 0; i < p->flushq.n; i++) {
		struct worker *w = p->flushq.v[i];
		w->in_flushq = false;
		if (buf_used(&w->wbuf))
			worker_flush(p, w);
	}
	p->flushq.n = 0;
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
