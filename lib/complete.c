/* complete.c - completion: every task ends here, as a result or as a
 * recorded failure.  This is the one place where "nothing lost" is
 * decided: a result is written (or held for its turn); a failure is said,
 * and written to --failed, the joblog and --tag; a task whose worker died
 * is charged an attempt and requeued, or failed when none is left. */
#define _GNU_SOURCE
#include "pool.h"
#include "log.h"
#include "jsonscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a finished task's output goes: straight to stdout, or held in
 * the task until the tasks before it are written (-k). */
static struct buf *out_dst(struct pool *p, uint32_t slot)
{
	if (!p->order_on || reorder_is_head(&p->order, slot))
		return &p->out.b;
	return &pool_task(p, slot)->held;
}

/* A task has finished: its latency, and the progress line. */
static void task_measure(struct pool *p, struct task *t)
{
	t->runtime = t->first ? p->now - t->first : 0;
	if (t->first && p->stats_on)
		hist_add(&p->hist, t->runtime);
	p->progress.dirty = true;
}

/* Its output is now queued for stdout: queue its joblog row, which goes
 * out only once those stdout bytes are written, so that --resume never
 * skips a task whose result was not written. */
static void task_log(struct pool *p, struct task *t)
{
	const char *src = p->in.src[t->src].name;
	struct worker *w = t->worker >= 0 ? &p->w[t->worker] : NULL;
	double start = p->wall0 + (t->first ? t->first : p->now);
	joblog_row(&p->joblog, t->seq, src, t->line, w ? w->label : NULL,
		   t->attempts, start, t->runtime, t->ok, t->why,
		   joblog_hash(buf_data(&t->data), buf_used(&t->data)),
		   p->out.written + buf_used(&p->out.b));
}

/* The task's output is queued (or held): retire it, and release any
 * held outputs whose turn has now come. */
static void task_retire(struct pool *p, uint32_t slot)
{
	struct task *t = pool_task(p, slot);
	t->state = T_DONE;
	if (!p->order_on) {
		if (p->joblog_on)
			task_log(p, t);
		task_free(&p->ts, slot);
		return;
	}
	if (!reorder_done(&p->order, slot))
		return;
	uint32_t s;
	while ((s = reorder_pop(&p->order)) != IDQ_HOLE) {
		struct task *h = pool_task(p, s);
		if (buf_used(&h->held))
			buf_add(&p->out.b, buf_data(&h->held),
				buf_used(&h->held));
		if (p->joblog_on)
			task_log(p, h);
		task_free(&p->ts, s);
	}
}

void task_ok(struct pool *p, struct worker *w, uint32_t slot, const char *res,
	     size_t n, bool is_json)
{
	struct task *t = pool_task(p, slot);
	t->ok = true;
	p->n_ok++;
	if (w) {
		w->done++;
		w->st_tasks++;
		p->specs[w->spec_index].failures = 0;
		p->specs[w->spec_index].proven = true;
	}
	struct buf *dst = out_dst(p, slot);
	if (is_json && json_has_space(res, n)) {
		/* Results are written as compact JSON, one line each. */
		buf_reset(&p->scratch);
		json_minify(res, n, &p->scratch);
		output_add_result(dst, p->tag, true, t->seq, p->scratch.p,
				  p->scratch.len);
	} else {
		output_add_result(dst, p->tag, is_json, t->seq, res, n);
	}
	if (p->recording)
		task_measure(p, t);
	task_retire(p, slot);
}

void task_fail(struct pool *p, uint32_t slot, const char *why,
	       enum fail_kind kind)
{
	struct task *t = pool_task(p, slot);
	t->ok = false;
	p->n_failed++;
	struct worker *w = t->worker >= 0 ? &p->w[t->worker] : NULL;
	if (w)
		w->st_failed++;
	if (kind == FAIL_SAY) {
		/* One line on stderr, whatever a worker put in its message. */
		char *flat = xstrdup(why);
		for (char *c = flat; *c; c++)
			if (*c == '\n' || *c == '\r' || *c == '\t')
				*c = ' ';
		log_error("%s:%llu: %s", pool_src_name(p, t->src),
			  (unsigned long long)t->line, flat);
		free(flat);
	}
	/* Only an over-long line has no bytes: it was not kept. */
	if (p->failed_on && buf_used(&t->data)) {
		buf_add(&p->failed.b, buf_data(&t->data), buf_used(&t->data));
		buf_addc(&p->failed.b, '\n');
	}
	if (p->tag)
		output_add_error(out_dst(p, slot), t->seq, why, t->attempts,
				 w ? w->label : NULL);
	if (p->recording)
		task_measure(p, t);
	if (p->joblog_on)
		t->why = xstrdup(why);
	task_retire(p, slot);
	/* --strict: also when all input was read already (the rest of the
	 * window is then not started). */
	if (p->strict && (p->stop == STOP_NONE || p->stop == STOP_EOF) &&
	    (p->phase == PH_RUN || p->phase == PH_DRAIN)) {
		p->stop = STOP_STRICT;
		p->phase = PH_DRAIN;
	}
}

/* A task sent to a worker that ended before answering it, charged with
 * that attempt: true when it has none left (it is failed here); false
 * when it may run again (the caller requeues it). */
static bool task_charge(struct pool *p, uint32_t slot, const char *why)
{
	struct task *t = pool_task(p, slot);
	unsigned allowed = 1 + (unsigned)p->retries;
	if (t->attempts >= allowed || p->stop == STOP_SIGNAL) {
		struct buf msg = BUF_INIT;
		if (p->stop == STOP_SIGNAL) {
			buf_addf(&msg, "interrupted: %s", why);
			p->n_interrupted++;
		} else if (t->attempts > 1)
			buf_addf(&msg, "failed after %u attempts: %s",
				 t->attempts, why);
		else
			buf_addf(&msg, "failed: %s", why);
		task_fail(p, slot, msg.p, FAIL_SAY);
		buf_release(&msg);
		return true;
	}
	log_verbose("%s:%llu: attempt %u of %u failed (%s); retrying",
		    pool_src_name(p, t->src), (unsigned long long)t->line,
		    t->attempts, allowed, why);
	p->n_retried++;
	return false;
}

/* The tasks a dead worker had: charge the one(s) at fault, requeue the
 * rest as if never sent.  Failures are said oldest first; what runs again
 * goes back to the front of the queue in its input order. */
void requeue_inflight(struct pool *p, struct worker *w, const char *why)
{
	uint32_t n = 0;
	uint32_t *slots = xcalloc(w->nflight + 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < w->inflight.len; i++) {
		uint32_t s = idq_at(&w->inflight, i);
		if (s != IDQ_HOLE)
			slots[n++] = s;
	}
	w->inflight.head = w->inflight.len = 0;
	w->nflight = 0;
	/* What runs again goes back to the front, in input order: a
	 * worker that exits now and then (a leak, a self-recycling worker)
	 * then has the tasks it took down run first on its successor.  But
	 * until the spec has shown it can finish a task, a charged task
	 * goes to the back instead: other tasks get their turn, so two
	 * poison tasks at the start cannot take five fresh workers down in
	 * a row and get a good spec given up as failing to spawn. */
	bool to_back = !p->specs[w->spec_index].proven;
	uint32_t front = 0; /* slots[0..front): back to the front */
	for (uint32_t i = 0; i < n; i++) {
		struct task *t = pool_task(p, slots[i]);
		bool charged;
		if (w->fault == WF_TIMEOUT)
			charged = slots[i] == w->fault_slot;
		else if (w->codec->by_id)
			charged = true; /* any of them may have been running */
		else
			charged = i == 0; /* a lines worker runs the oldest */
		if (!charged) {
			t->attempts--;
			slots[front++] = slots[i];
			continue;
		}
		/* Later deaths with it in flight are its fault, not the
		 * spawn's. */
		t->blamed = true;
		if (task_charge(p, slots[i], why))
			continue;
		if (to_back) {
			t->state = T_QUEUED;
			idq_push_back(&p->queue, slots[i]);
			continue;
		}
		slots[front++] = slots[i];
	}
	for (uint32_t i = front; i-- > 0;) {
		pool_task(p, slots[i])->state = T_QUEUED;
		idq_push_front(&p->queue, slots[i]);
	}
	free(slots);
}

/* A task in flight on w has been in flight at a worker's death before. */
bool inflight_blamed(struct pool *p, const struct worker *w)
{
	for (uint32_t i = 0; i < w->inflight.len; i++) {
		uint32_t s = idq_at(&w->inflight, i);
		if (s != IDQ_HOLE && pool_task(p, s)->blamed)
			return true;
	}
	return false;
}

/* Fail the tasks in flight on w (interrupts). */
void fail_inflight(struct pool *p, struct worker *w, const char *why,
		   bool count_interrupted)
{
	while (w->inflight.len) {
		uint32_t slot = idq_pop_front(&w->inflight);
		if (slot == IDQ_HOLE)
			continue;
		if (count_interrupted)
			p->n_interrupted++;
		task_fail(p, slot, why, FAIL_QUIET);
	}
	w->nflight = 0;
}
