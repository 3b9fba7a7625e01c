/* complete.c - completion: every task ends here, as a result or as a
 * failure handed to its client, or goes back to the queue for another
 * attempt.  This is where blame is decided when a worker dies: the task
 * it was running is charged an attempt; when that cannot be known (several
 * in flight on a worker that runs them together), none is charged and each
 * becomes a suspect that runs alone, so a poison task never costs an
 * innocent neighbour an attempt. */
#define _GNU_SOURCE
#include "pool.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A task has finished: its latency. */
static void task_measure(struct pool *p, struct task *t)
{
	t->runtime = t->first ? p->now - t->first : 0;
	if (t->first && p->stats_on)
		hist_add(&p->hist, t->runtime);
}

void task_ok(struct pool *p, struct worker *w, uint32_t slot, const char *res,
	     size_t n, bool is_json)
{
	struct task *t = pool_task(p, slot);
	if (w) {
		w->done++;
		w->st_tasks++;
		p->specs[w->spec_index].failures = 0;
		p->specs[w->spec_index].proven = true;
	}
	t->state = T_DONE;
	t->flags &= (uint8_t)~TF_SUSPECT;
	if (p->recording)
		task_measure(p, t);
	t->owner->ops->ok(t->owner, slot, res, n, is_json);
}

void task_fail_info(struct pool *p, uint32_t slot, const char *why,
		    enum fail_kind kind, const struct fail_info *info)
{
	struct task *t = pool_task(p, slot);
	if (t->worker >= 0 && kind != FAIL_NOT_STARTED)
		p->w[t->worker]->st_failed++;
	if (info->reason == FR_DIED || info->reason == FR_NO_WORKERS)
		p->n_lost_to_deaths++;
	t->state = T_DONE;
	if (p->recording)
		task_measure(p, t);
	t->owner->ops->fail(t->owner, slot, why, kind, info);
}

void task_fail(struct pool *p, uint32_t slot, const char *why,
	       enum fail_kind kind, enum fail_reason reason)
{
	struct fail_info info = {reason, NULL};
	task_fail_info(p, slot, why, kind, &info);
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
		task_fail(p, slot, msg.p, FAIL_SAY,
			  p->stop == STOP_SIGNAL ? FR_INTERRUPTED : FR_DIED);
		buf_release(&msg);
		return true;
	}
	if (log_get_level() >= LOG_VERBOSE) {
		struct buf name = BUF_INIT;
		pool_describe(p, slot, &name);
		log_verbose("%s: attempt %u of %u failed (%s); retrying",
			    name.p + 5, t->attempts, allowed, why);
		buf_release(&name);
	}
	p->n_retried++;
	return false;
}

/* Which of the n tasks a dead worker had in flight (oldest first) was it
 * running?  Returns its index, or -1 when that cannot be known. */
static int culprit(const struct pool *p, const struct worker *w,
		   const uint32_t *slots, uint32_t n)
{
	if (w->fault == WF_TIMEOUT) {
		/* A batch is computed as a whole: which of its tasks made it
		 * late cannot be known. */
		if (w->spec->batch_max && n > 1)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			if (slots[i] == w->fault_slot)
				return (int)i;
		return -1;
	}
	if (n == 1)
		return 0;
	/* A lines worker answers in order: it was on the oldest.  One that
	 * buffers its output may have been anywhere. */
	if (!w->codec->by_id && !w->spec->buffered)
		return 0;
	(void)p;
	return -1;
}

/* The tasks a dead worker had: charge the one at fault, requeue the rest
 * as if never sent (as suspects when the one at fault is unknown).
 * Failures are said oldest first; what runs again goes back to the front
 * in its input order. */
void requeue_inflight(struct pool *p, struct worker *w, const char *why)
{
	uint32_t n = 0;
	uint32_t *slots = xcalloc(w->nflight + 1, sizeof(uint32_t));
	while (w->nflight) {
		uint32_t s = inflight_oldest(w);
		inflight_remove(p, w, s);
		slots[n++] = s;
	}
	int guilty = culprit(p, w, slots, n);
	/* What runs again goes back to the front, in input order: a worker
	 * that exits now and then (a leak, a self-recycling worker) then
	 * has the tasks it took down run first on its successor.  But until
	 * the spec has shown it can finish a task, a charged task goes to
	 * the back instead: other tasks get their turn, so two poison tasks
	 * at the start cannot take five fresh workers down in a row and get
	 * a good spec given up as failing to spawn. */
	bool to_back = !p->specs[w->spec_index].proven;
	uint32_t front = 0; /* slots[0..front): back to the front */
	for (uint32_t i = 0; i < n; i++) {
		struct task *t = pool_task(p, slots[i]);
		if ((int)i != guilty) {
			t->attempts--;
			if (guilty < 0) {
				t->flags |= TF_SUSPECT;
				/* A buffered worker answers a suspect only
				 * when its stdin closes, a fresh worker each:
				 * its suspects are halved instead, so one
				 * poison among n costs about 2 log2(n)
				 * workers, not n. */
				t->group = w->spec->buffered
						   ? (uint16_t)MIN((n + 1) / 2,
								   UINT16_MAX)
						   : 1;
			}
			slots[front++] = slots[i];
			continue;
		}
		/* Later deaths with it in flight are its fault, not the
		 * spawn's. */
		t->flags |= TF_BLAMED;
		if (task_charge(p, slots[i], why))
			continue;
		if (to_back) {
			pool_queue(p, slots[i], false);
			continue;
		}
		slots[front++] = slots[i];
	}
	if (guilty < 0 && n > 1)
		log_verbose("worker %s had %u tasks in flight: each runs again "
			    "alone, to find the one at fault",
			    w->label, n);
	for (uint32_t i = front; i-- > 0;)
		pool_queue(p, slots[i], true);
	free(slots);
}

/* A task in flight on w has been in flight at a worker's death before. */
bool inflight_blamed(struct pool *p, const struct worker *w)
{
	for (uint32_t i = 0; i < w->fl.len; i++) {
		uint32_t s = idq_at(&w->fl, i);
		if (s != IDQ_HOLE && (pool_task(p, s)->flags & TF_BLAMED))
			return true;
	}
	return false;
}

/* Fail the tasks in flight on w (interrupts, a closed stdout). */
void fail_inflight(struct pool *p, struct worker *w, const char *why,
		   bool count_interrupted)
{
	while (w->nflight) {
		uint32_t slot = inflight_oldest(w);
		inflight_remove(p, w, slot);
		if (count_interrupted)
			p->n_interrupted++;
		task_fail(p, slot, why, FAIL_QUIET,
			  count_interrupted ? FR_INTERRUPTED : FR_OUTPUT);
	}
}

void fail_queued(struct pool *p, const char *why, enum fail_kind kind,
		 enum fail_reason reason, uint64_t *counter)
{
	uint32_t slot;
	while ((slot = pool_unqueue(p)) != IDQ_HOLE) {
		/* Never sent, or queued again after an attempt. */
		bool tried = pool_task(p, slot)->attempts > 0;
		char *msg = xasprintf(why, tried ? "run again" : "started");
		if (counter)
			(*counter)++;
		task_fail(p, slot, msg, kind, reason);
		free(msg);
	}
}
