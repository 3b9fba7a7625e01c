/* pool.c - the engine: window, dispatch, completion, phases. */
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
/* Spawn failures in a row after which a spec is given up. */
#define SPAWN_FAILURES_MAX 5
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 5.0
/* At the end of a run: seconds a worker gets to exit after EOF. */
#define EXIT_GRACE 5.0
/* After SIGINT/SIGTERM: seconds in-flight tasks get to finish. */
#define INTERRUPT_GRACE 5.0
/* A worker that closed stdout gets this long to exit by itself. */
#define CLOSED_GRACE 1.0
/* inflight auto: keep about this much work queued at each worker. */
#define AUTO_TARGET 0.0005
/* Bytes read from a worker's stdout per read. */
#define ANSWER_READ ((size_t)256 << 10)
/* Read coalescing: a worker with a deep window of fast tasks is read at
 * most this often, so its answers come in batches rather than one per
 * wake-up (it has work queued meanwhile). */
#define COALESCE_MIN 0.00002
#define COALESCE_MAX 0.0005

static void pool_begin_shutdown(struct pool *p);
static void fail_inflight(struct pool *p, struct worker *w, const char *why,
			  bool count_interrupted);

const char *pool_src_name(const struct pool *p, uint32_t src)
{
	const char *name = p->in.src[src].name;
	return strcmp(name, "-") == 0 ? "stdin" : name;
}

static inline struct task *T(struct pool *p, uint32_t slot)
{
	return &p->ts.t[slot];
}

/* ------------------------------------------------------------------ */
/* Completion: every task ends here, as a result or as a failure.      */

/* Where a finished task's output goes: straight to stdout, or held in
 * the task until the tasks before it are written (-k). */
static struct buf *out_dst(struct pool *p, uint32_t slot)
{
	if (!p->order_on || reorder_is_head(&p->order, slot))
		return &p->out.b;
	return &T(p, slot)->held;
}

/* Record a finished task: latency, joblog row, progress. */
static void task_record(struct pool *p, uint32_t slot, const char *why)
{
	struct task *t = T(p, slot);
	double runtime = t->first ? p->now - t->first : 0;
	if (t->first && p->stats_on)
		hist_add(&p->hist, runtime);
	if (p->joblog_on) {
		const char *src = p->in.src[t->src].name;
		struct worker *w = t->worker >= 0 ? &p->w[t->worker] : NULL;
		double start = p->wall0 + (t->first ? t->first : p->now);
		joblog_row(&p->joblog, t->seq, src, t->line, w ? w->label : NULL,
			   t->attempts, start, runtime, t->ok, why,
			   joblog_hash(buf_data(&t->data), buf_used(&t->data)));
	}
	p->progress.dirty = true;
}

/* The task's output is queued (or held): retire it, and release any
 * held outputs whose turn has now come. */
static void task_retire(struct pool *p, uint32_t slot)
{
	struct task *t = T(p, slot);
	t->state = T_DONE;
	if (!p->order_on) {
		task_free(&p->ts, slot);
		return;
	}
	if (!reorder_done(&p->order, slot))
		return;
	uint32_t s;
	while ((s = reorder_pop(&p->order)) != IDQ_HOLE) {
		struct task *h = T(p, s);
		if (buf_used(&h->held))
			buf_add(&p->out.b, buf_data(&h->held), buf_used(&h->held));
		task_free(&p->ts, s);
	}
}

static void task_ok(struct pool *p, struct worker *w, uint32_t slot,
		    const char *res, size_t n, bool is_json)
{
	struct task *t = T(p, slot);
	t->ok = true;
	p->n_ok++;
	if (w) {
		w->done++;
		w->st_tasks++;
		p->specs[w->spec_index].failures = 0;
	}
	struct buf *dst = out_dst(p, slot);
	if (is_json && json_has_space(res, n)) {
		/* Results are written as compact JSON, one line each. */
		size_t mark = dst->len;
		json_minify(res, n, dst);
		size_t len = dst->len - mark;
		char *copy = xstrndup(dst->p + mark, len);
		dst->len = mark;
		output_add_result(dst, p->tag, true, t->seq, copy, len);
		free(copy);
	} else {
		output_add_result(dst, p->tag, is_json, t->seq, res, n);
	}
	if (p->recording)
		task_record(p, slot, NULL);
	task_retire(p, slot);
}

/* Messages for failures that are summarised in one line instead. */
enum fail_kind { FAIL_SAY, FAIL_QUIET };

static void task_fail(struct pool *p, uint32_t slot, const char *why,
		      enum fail_kind kind)
{
	struct task *t = T(p, slot);
	t->ok = false;
	p->n_failed++;
	struct worker *w = t->worker >= 0 ? &p->w[t->worker] : NULL;
	if (w)
		w->st_failed++;
	if (kind == FAIL_SAY)
		log_error("%s:%llu: %s", pool_src_name(p, t->src),
			  (unsigned long long)t->line, why);
	/* Only an over-long line has no bytes: it was not kept. */
	if (p->failed_on && buf_used(&t->data)) {
		buf_add(&p->failed.b, buf_data(&t->data), buf_used(&t->data));
		buf_addc(&p->failed.b, '\n');
	}
	if (p->tag)
		output_add_error(out_dst(p, slot), t->seq, why, t->attempts,
				 w ? w->label : NULL);
	if (p->recording)
		task_record(p, slot, why);
	task_retire(p, slot);
	if (p->strict && p->stop == STOP_NONE && p->phase == PH_RUN) {
		p->stop = STOP_STRICT;
		p->phase = PH_DRAIN;
	}
}

/* A task sent to a worker that ended before answering it. */
static void task_charge(struct pool *p, uint32_t slot, const char *why)
{
	struct task *t = T(p, slot);
	unsigned allowed = 1 + (unsigned)p->retries;
	if (t->attempts >= allowed || p->stop == STOP_SIGNAL) {
		struct buf msg = BUF_INIT;
		if (p->stop == STOP_SIGNAL)
			buf_addf(&msg, "interrupted: %s", why);
		else if (t->attempts > 1)
			buf_addf(&msg, "failed after %u attempts: %s", t->attempts, why);
		else
			buf_addf(&msg, "failed: %s", why);
		task_fail(p, slot, msg.p, FAIL_SAY);
		buf_release(&msg);
		return;
	}
	log_verbose("%s:%llu: attempt %u of %u failed (%s); retrying",
		    pool_src_name(p, t->src), (unsigned long long)t->line,
		    t->attempts, allowed, why);
	p->n_retried++;
	t->state = T_QUEUED;
	idq_push_front(&p->queue, slot);
}

/* ------------------------------------------------------------------ */
/* Reading input into the window.                                      */

static void bad_line(struct pool *p, uint32_t slot, const char *why)
{
	task_fail(p, slot, why, FAIL_SAY);
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
		  "(hash %016llx, logged %016llx): the input changed since that run; "
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
	while (p->phase == PH_RUN && !p->check) {
		if (buf_used(&p->out.b) > OUTPUT_HIGH_WATER) {
			p->read_held = true; /* go on once stdout has caught up */
			return;
		}
		if (!p->ts.nfree)
			return;
		struct input_line l;
		enum input_result r = input_next(&p->in, &l);
		if (r == IN_WAIT)
			return;
		if (r == IN_END) {
			if (p->in.read_errno) {
				log_error("%s: read error: %s",
					  pool_src_name(p, (uint32_t)(p->in.nsrc - 1)),
					  strerror(p->in.read_errno));
				p->usage_error = true;
			}
			p->stop = STOP_EOF;
			p->phase = PH_DRAIN;
			return;
		}
		uint64_t seq = ++p->seq;
		p->n_read++;
		if (p->resume && resume_skip(p, seq, &l, r == IN_TOOLONG))
			continue;
		uint32_t slot = task_alloc(&p->ts);
		struct task *t = T(p, slot);
		t->seq = seq;
		t->src = l.src;
		t->line = l.line;
		if (p->order_on)
			reorder_push(&p->order, slot);
		if (r == IN_TOOLONG) {
			bad_line(p, slot, "line longer than 64 MiB (not kept; not in --failed)");
			continue;
		}
		buf_add(&t->data, l.p, l.n);
		struct json_error e;
		if (!p->raw && !json_check(l.p, l.n, &e)) {
			char why[160];
			snprintf(why, sizeof(why), "invalid JSON at column %zu: %s",
				 e.pos + 1, e.why);
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

/* ------------------------------------------------------------------ */
/* Dispatch.                                                           */

static long spec_inflight(const struct pool *p, const struct worker *w)
{
	return p->inflight >= 0 ? p->inflight : w->spec->inflight;
}

static double spec_timeout(const struct pool *p, const struct worker *w)
{
	return p->timeout >= 0 ? p->timeout : w->spec->timeout;
}

/* The most tasks this worker may have in flight now. */
static long worker_limit(const struct pool *p, const struct worker *w)
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
	struct task *t = T(p, slot);
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
					long gap = (long)w->nflight - (long)best->nflight + 1;
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

/* ------------------------------------------------------------------ */
/* Worker I/O.                                                         */

static void watch_worker(struct pool *p, struct worker *w);
static void worker_flush(struct pool *p, struct worker *w);

/* Read what the window allows, hand tasks out, send them. */
static void pool_pump(struct pool *p)
{
	pool_read(p);
	pool_dispatch(p);
	for (size_t i = 0; i < p->nw; i++)
		if (buf_used(&p->w[i].wbuf))
			worker_flush(p, &p->w[i]);
}

static void worker_flush(struct pool *p, struct worker *w)
{
	if (w->fd_in < 0) {
		buf_reset(&w->wbuf);
		return;
	}
	while (buf_used(&w->wbuf)) {
		ssize_t r = xwrite(w->fd_in, buf_data(&w->wbuf), buf_used(&w->wbuf));
		if (r < 0) {
			if (errno == EAGAIN)
				break;
			/* EPIPE: it closed stdin or died; the reap will say
			 * which.  Give it a moment to exit by itself. */
			worker_close_stdin(w);
			if (w->state == WS_READY || w->state == WS_STARTING) {
				w->state = WS_STOPPING;
				w->fault = WF_STDOUT_CLOSED;
				free(w->fault_msg);
				w->fault_msg = xstrdup("closed its stdin while running");
				w->kill_at = p->now + CLOSED_GRACE;
			}
			break;
		}
		buf_consume(&w->wbuf, (size_t)r);
	}
	if (w->w_in >= 0)
		loop_set(&p->loop, w->w_in, buf_used(&w->wbuf) ? POLLOUT : 0);
}

static void worker_ready(struct pool *p, struct worker *w, char *result)
{
	/* A worker told to drain while it was starting stays draining. */
	if (w->state == WS_STARTING || w->state == WS_BACKOFF)
		w->state = WS_READY;
	w->came_up = true;
	w->up = true;
	w->spawn_s = p->now - w->spawned_at;
	free(w->spawn_result);
	w->spawn_result = result;
	w->limit = worker_limit(p, w);
	if (log_get_level() >= LOG_VERBOSE) {
		struct buf b = BUF_INIT;
		buf_add_duration(&b, w->spawn_s);
		log_verbose("worker %s (pid %d) ready in %s%s%s", w->label,
			    (int)w->pid, b.p, result ? ": " : "",
			    result ? result : "");
		buf_release(&b);
	}
}

static void protocol_error(struct pool *p, struct worker *w, const char *why,
			   const char *line, size_t n)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "protocol error: %s; it wrote: ", why);
	buf_add(&b, line, MIN(n, 200));
	if (n > 200)
		buf_addf(&b, "... (%zu bytes)", n);
	buf_addc(&b, '\0');
	worker_stop(w, WF_PROTOCOL, xstrdup(b.p), p->now);
	buf_release(&b);
}

/* Find and remove the in-flight task with this id (spool protocol). */
static uint32_t take_inflight(struct pool *p, struct worker *w, uint64_t id)
{
	for (uint32_t i = 0; i < w->inflight.len; i++) {
		uint32_t slot = idq_at(&w->inflight, i);
		if (slot == IDQ_HOLE || T(p, slot)->seq != id)
			continue;
		idq_set(&w->inflight, i, IDQ_HOLE);
		idq_trim(&w->inflight);
		w->nflight--;
		return slot;
	}
	return IDQ_HOLE;
}

static void answer_spawn(struct pool *p, struct worker *w, const char *line,
			 size_t n)
{
	if (w->codec == &proto_lines) {
		/* ready: "line": the first line is the spawn result. */
		struct json_error e;
		struct buf b = BUF_INIT;
		if (json_check(line, n, &e))
			json_minify(line, n, &b);
		else
			buf_add_json_string(&b, line, n);
		buf_addc(&b, '\0');
		worker_ready(p, w, b.p);
		return;
	}
	struct answer a;
	const char *why = w->codec->decode(line, n, &a);
	if (!why && a.id != 0)
		why = "an answer before the spawn answer (id 0)";
	if (why) {
		protocol_error(p, w, why, line, n);
		return;
	}
	if (a.kind == ANS_ERROR) {
		struct buf b = BUF_INIT;
		buf_adds(&b, "spawn failed: ");
		proto_error_text(&a, &b);
		buf_addc(&b, '\0');
		worker_stop(w, WF_SPAWN_ERROR, xstrdup(b.p), p->now);
		buf_release(&b);
		return;
	}
	struct buf b = BUF_INIT;
	json_minify(a.value.p, a.value.n, &b);
	buf_addc(&b, '\0');
	worker_ready(p, w, b.p);
}

static void answer_line(struct pool *p, struct worker *w, const char *line,
			size_t n)
{
	if (!w->up) {
		answer_spawn(p, w, line, n);
		return;
	}
	if (!w->codec->by_id) {
		if (!w->nflight) {
			protocol_error(p, w, "a line with no task in flight "
					     "(a lines worker writes one line per task)",
				       line, n);
			return;
		}
		uint32_t slot = idq_pop_front(&w->inflight);
		w->nflight--;
		w->oldest_since = p->now;
		task_ok(p, w, slot, line, n, false);
		return;
	}
	struct answer a;
	const char *why = w->codec->decode(line, n, &a);
	if (why) {
		protocol_error(p, w, why, line, n);
		return;
	}
	uint32_t slot = take_inflight(p, w, a.id);
	if (slot == IDQ_HOLE) {
		char msg[64];
		snprintf(msg, sizeof(msg), "unknown id %llu",
			 (unsigned long long)a.id);
		protocol_error(p, w, msg, line, n);
		return;
	}
	if (a.kind == ANS_RESULT) {
		task_ok(p, w, slot, a.value.p, a.value.n, true);
		return;
	}
	w->done++;
	p->specs[w->spec_index].failures = 0;
	struct buf b = BUF_INIT;
	buf_addf(&b, "error from %s: ", w->label);
	proto_error_text(&a, &b);
	buf_addc(&b, '\0');
	task_fail(p, slot, b.p, FAIL_SAY);
	buf_reset(&b);
	proto_error_detail(&a, &b);
	if (b.len) {
		buf_addc(&b, '\0');
		log_verbose("error data: %s", b.p);
	}
	buf_release(&b);
}

/* A lines answer over 64 MiB cannot be written out; the task fails and
 * the worker, still in step, keeps going. */
static void answer_too_long(struct pool *p, struct worker *w, size_t n)
{
	if (w->codec->by_id || !w->up || !w->nflight) {
		char why[96];
		snprintf(why, sizeof(why), "a line longer than 64 MiB (%zu bytes so far)", n);
		protocol_error(p, w, why, "", 0);
		return;
	}
	uint32_t slot = idq_pop_front(&w->inflight);
	w->nflight--;
	w->oldest_since = p->now;
	w->done++;
	task_fail(p, slot, "answer longer than 64 MiB", FAIL_SAY);
}

/* inflight auto: learn how long a task takes this worker, per answer,
 * while it is kept busy. */
static void learn_service_time(struct pool *p, struct worker *w,
			       unsigned answers)
{
	if (w->busy_mark > 0 && answers) {
		double sample = (p->now - w->busy_mark) / answers;
		w->svc = w->svc > 0 ? 0.8 * w->svc + 0.2 * sample : sample;
	}
	w->busy_mark = w->nflight ? p->now : 0;
	w->limit = worker_limit(p, w);
}

static void worker_lines(struct pool *p, struct worker *w)
{
	const char *line;
	size_t n;
	unsigned answers = 0;
	for (;;) {
		if (w->fault == WF_PROTOCOL || w->fault == WF_SPAWN_ERROR)
			return; /* what follows is not trusted */
		enum linebuf_result r = linebuf_next(&w->rbuf, &line, &n);
		if (r == LB_NEED)
			break;
		if (r == LB_TOOLONG) {
			answer_too_long(p, w, n);
			continue;
		}
		bool starting = !w->up;
		answer_line(p, w, line, n);
		if (!starting)
			answers++;
	}
	if (answers)
		learn_service_time(p, w, answers);
	/* max_tasks: once its last task is answered, let it exit on EOF
	 * and put a fresh process in its place. */
	if (w->spec->max_tasks && w->sent >= (uint64_t)w->spec->max_tasks &&
	    !w->nflight && w->state == WS_READY) {
		w->recycle = true;
		worker_drain(w, p->now, EXIT_GRACE);
	}
}

static void stdout_closed(struct pool *p, struct worker *w)
{
	if (w->w_out >= 0)
		loop_del(&p->loop, w->w_out);
	w->w_out = -1;
	if (w->fd_out >= 0)
		close(w->fd_out);
	w->fd_out = -1;
	if (w->state == WS_STARTING || w->state == WS_READY) {
		/* Usually the process is exiting and the reap follows at
		 * once; if it lingers, it closed stdout while running. */
		w->state = WS_STOPPING;
		w->fault = WF_STDOUT_CLOSED;
		free(w->fault_msg);
		w->fault_msg = xstrdup("closed its stdout while running");
		w->kill_at = p->now + CLOSED_GRACE;
		worker_close_stdin(w);
	}
}

static void on_worker_stdout(void *ctx, int fd, int revents)
{
	struct worker *w = ctx;
	struct pool *p = w->pool;
	(void)fd;
	(void)revents;
	for (int round = 0; round < 8 && w->fd_out >= 0; round++) {
		ssize_t r = linebuf_fill(&w->rbuf, w->fd_out, ANSWER_READ);
		if (r < 0 && errno == EAGAIN)
			break;
		worker_lines(p, w);
		if (r <= 0) {
			stdout_closed(p, w);
			break;
		}
		if ((size_t)r < ANSWER_READ / 2)
			break;
	}
	/* Give this worker its next tasks before reading the others'
	 * answers, so it computes while spool works. */
	pool_pump(p);
	/* Deep window, fast tasks, still busy: let answers pile up. */
	if (w->w_out >= 0 && w->limit >= 16 && (long)w->nflight >= w->limit / 4 &&
	    w->svc > 0) {
		double delay = w->svc * (double)w->limit / 4;
		if (delay > COALESCE_MAX)
			delay = COALESCE_MAX;
		if (delay >= COALESCE_MIN) {
			loop_set(&p->loop, w->w_out, 0);
			w->read_at = p->now + delay;
		}
	}
}

static void on_worker_stdin(void *ctx, int fd, int revents)
{
	struct worker *w = ctx;
	(void)fd;
	(void)revents;
	worker_flush(w->pool, w);
}

static void on_worker_stderr(void *ctx, int fd, int revents)
{
	struct worker *w = ctx;
	(void)fd;
	(void)revents;
	worker_read_stderr(w, false);
	if (w->fd_err < 0 && w->w_err >= 0) {
		loop_del(&w->pool->loop, w->w_err);
		w->w_err = -1;
	}
}

static void watch_worker(struct pool *p, struct worker *w)
{
	w->w_in = loop_add(&p->loop, w->fd_in, 0, on_worker_stdin, w);
	w->w_out = loop_add(&p->loop, w->fd_out, POLLIN, on_worker_stdout, w);
	w->w_err = loop_add(&p->loop, w->fd_err, POLLIN, on_worker_stderr, w);
}

static void unwatch_worker(struct pool *p, struct worker *w)
{
	loop_del(&p->loop, w->w_in);
	loop_del(&p->loop, w->w_out);
	loop_del(&p->loop, w->w_err);
	w->w_in = w->w_out = w->w_err = -1;
}

/* ------------------------------------------------------------------ */
/* Spawning, deaths and restarts.                                      */

static bool pool_wants_workers(const struct pool *p)
{
	if (p->check)
		return false;
	if (p->phase == PH_RUN)
		return true;
	return p->phase == PH_DRAIN && p->stop != STOP_SIGNAL &&
	       p->stop != STOP_PIPE && task_used(&p->ts) > 0;
}

static void give_up_spec(struct pool *p, int spec_index, const char *why)
{
	struct spec_state *s = &p->specs[spec_index];
	if (s->given_up)
		return;
	s->given_up = true;
	const struct worker_spec *spec = &p->cfg.specs[spec_index];
	log_error("giving up on worker \"%s\" (workers[%d] in %s): %s",
		  spec->name, spec_index, p->cfg.label, why);
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i].spec_index == spec_index &&
		    p->w[i].state == WS_BACKOFF)
			p->w[i].state = WS_GIVEN_UP;
}

/* When no worker is left and none can come back, fail what remains. */
static void check_workers_left(struct pool *p)
{
	if (p->no_workers || p->check)
		return;
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i].state != WS_GIVEN_UP)
			return;
	p->no_workers = true;
	log_error("no workers left: every worker spec was given up");
	while (p->queue.len) {
		uint32_t slot = idq_pop_front(&p->queue);
		p->n_no_workers++;
		task_fail(p, slot, "no workers left", FAIL_QUIET);
	}
}

static void spawn_worker(struct pool *p, struct worker *w)
{
	struct buf why = BUF_INIT;
	if (w->last_pid)
		w->st_restarts++;
	if (worker_spawn(w, p->now, &why) != 0) {
		buf_addc(&why, '\0');
		log_error("worker %s: %s", w->label, why.p);
		if (p->check) {
			free(w->fault_msg);
			w->fault_msg = xstrdup(why.p);
			w->state = WS_STOPPED;
		} else {
			/* Not something a retry can fix. */
			give_up_spec(p, w->spec_index, why.p);
			w->state = WS_GIVEN_UP;
			check_workers_left(p);
		}
		buf_release(&why);
		return;
	}
	buf_release(&why);
	watch_worker(p, w);
	log_verbose("worker %s spawned (pid %d)", w->label, (int)w->pid);
	if (w->codec->frame_spawn) {
		w->codec->frame_spawn(&w->wbuf, w->spec->spawn_json);
		w->state = WS_STARTING;
	} else if (w->spec->ready == READY_LINE) {
		w->state = WS_STARTING;
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
		log_verbose("worker %s: dropped %zu bytes of an unfinished line",
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

/* The tasks a dead worker had: charge the one(s) at fault, requeue the
 * rest as if never sent.  Oldest first, so order is kept. */
static void requeue_inflight(struct pool *p, struct worker *w,
			     const char *why)
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
	/* Uncharged ones go back to the front first, newest first, so the
	 * queue keeps input order; then the charged ones are decided. */
	bool *charged = xcalloc(n + 1, sizeof(bool));
	for (uint32_t i = 0; i < n; i++) {
		if (w->fault == WF_TIMEOUT)
			charged[i] = slots[i] == w->fault_slot;
		else if (w->codec->by_id)
			charged[i] = true;
		else
			charged[i] = i == 0;
	}
	for (uint32_t i = n; i-- > 0;) {
		if (charged[i])
			continue;
		struct task *t = T(p, slots[i]);
		t->attempts--;
		t->state = T_QUEUED;
		idq_push_front(&p->queue, slots[i]);
	}
	for (uint32_t i = n; i-- > 0;) {
		if (!charged[i])
			continue;
		/* It took down a worker that had been serving fine: later
		 * deaths with it in flight are its fault, not the spawn's. */
		if (w->done > 0)
			T(p, slots[i])->blamed = true;
		task_charge(p, slots[i], why);
	}
	free(charged);
	free(slots);
}

/* A task in flight on w has killed a healthy worker before. */
static bool inflight_blamed(struct pool *p, const struct worker *w)
{
	for (uint32_t i = 0; i < w->inflight.len; i++) {
		uint32_t s = idq_at(&w->inflight, i);
		if (s != IDQ_HOLE && T(p, s)->blamed)
			return true;
	}
	return false;
}

void pool_worker_reaped(struct pool *p, struct worker *w, int wstatus)
{
	drain_dead_worker(p, w);
	pid_t pid = w->pid;
	w->pid = 0;
	w->wstatus = wstatus;
	enum worker_state was = w->state;
	bool planned = (was == WS_DRAINING) ||
		       (was == WS_STOPPING && w->fault == WF_SHUTDOWN);
	bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;

	struct buf why = BUF_INIT;
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

	/* A death before the first finished task is a spawn failure (a
	 * crashing import looks just like this), unless the task being
	 * run is known to kill workers, or spool stopped it for a timeout:
	 * then the task is at fault, not the spawn. */
	bool spawn_failure = !planned && w->done == 0 && w->fault != WF_TIMEOUT &&
			     !inflight_blamed(p, w);
	bool quiet = p->check || p->stop == STOP_PIPE;
	if ((!planned || (!clean && w->nflight)) && !quiet) {
		struct buf msg = BUF_INIT;
		buf_adds(&msg, why.p);
		if (!w->up)
			buf_adds(&msg, " while starting");
		else if (spawn_failure)
			buf_adds(&msg, " before finishing a task (a spawn failure)");
		if (w->tail_n) {
			buf_adds(&msg, "; its last stderr lines:");
			worker_add_tail(w, &msg);
		}
		buf_addc(&msg, '\0');
		log_error("%s", msg.p);
		buf_release(&msg);
	} else {
		log_verbose("%s%s", why.p, w->recycle ? " (recycled)" : "");
	}
	w->up = false;

	if (p->stop == STOP_PIPE)
		fail_inflight(p, w, "stdout closed", false);
	else if (w->nflight)
		requeue_inflight(p, w, why.p);

	struct spec_state *s = &p->specs[w->spec_index];
	if (spawn_failure && !p->check) {
		s->failures++;
		/* It ended by itself (a broken pipe on its stdin is a symptom
		 * of the same exit, not a cause). */
		bool natural = w->fault == WF_NONE ||
			       (w->fault == WF_STDOUT_CLOSED && !w->signalled);
		bool not_found = WIFEXITED(wstatus) && natural &&
				 (WEXITSTATUS(wstatus) == 127 ||
				  WEXITSTATUS(wstatus) == 126);
		if (not_found)
			give_up_spec(p, w->spec_index,
				     "its command cannot be run (exit status 126/127)");
		else if (s->failures >= SPAWN_FAILURES_MAX) {
			char msg[96];
			snprintf(msg, sizeof(msg), "%d failed spawns in a row",
				 s->failures);
			give_up_spec(p, w->spec_index, msg);
		}
	}
	buf_release(&why);

	if (p->check) {
		w->state = WS_STOPPED;
	} else if (s->given_up) {
		w->state = WS_GIVEN_UP;
		log_verbose("worker %s given up", w->label);
	} else if (!pool_wants_workers(p)) {
		w->state = WS_STOPPED;
	} else if (w->recycle) {
		w->state = WS_BACKOFF;
		w->restart_at = p->now;
		log_verbose("worker %s recycled after %llu tasks", w->label,
			    (unsigned long long)w->done);
	} else {
		w->state = WS_BACKOFF;
		w->restart_at = p->now + backoff_delay(spawn_failure ? s->failures : 1);
		log_verbose("worker %s restarting in %.1fs", w->label,
			    w->restart_at - p->now);
	}
	check_workers_left(p);
}

static void pool_reap(struct pool *p)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    si.si_pid == 0)
			return;
		pid_t pid = si.si_pid;
		/* The leader is a zombie, so its group id is still its own:
		 * take down whatever it left running before reaping it. */
		(void)kill(-pid, SIGKILL);
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		for (size_t i = 0; i < p->nw; i++)
			if (p->w[i].pid == pid) {
				pool_worker_reaped(p, &p->w[i], st);
				break;
			}
	}
}

/* ------------------------------------------------------------------ */
/* Signals.                                                            */

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

/* Fail the tasks in flight on w (interrupts). */
static void fail_inflight(struct pool *p, struct worker *w, const char *why,
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

/* ------------------------------------------------------------------ */
/* Timers: backoff, startup and task timeouts, the kill ladder.        */

static double pool_timers(struct pool *p)
{
	double next = 0;
#define NEAREST(t)                                                             \
	do {                                                                   \
		double t_ = (t);                                               \
		if (t_ > 0 && (next == 0 || t_ < next))                        \
			next = t_;                                             \
	} while (0)

	if (p->stop == STOP_SIGNAL && p->drain_until && p->now >= p->drain_until) {
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
				if (p->phase >= PH_SHUTDOWN || p->stop == STOP_SIGNAL ||
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
				char *msg = xasprintf("not ready after %gs (startup_timeout)", st);
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
			double since = w->codec->by_id ? T(p, slot)->sent : w->oldest_since;
			if (p->now >= since + to) {
				struct task *t = T(p, slot);
				char *msg = xasprintf("task %s:%llu timed out after %gs",
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

/* ------------------------------------------------------------------ */
/* Phases.                                                             */

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
			why = "interrupted: not started";
		else if (p->stop == STOP_STRICT)
			why = "not started: --strict stopped the run";
		else if (p->stop == STOP_CHANGED)
			why = "not started: the input changed since the joblog";
		if (why) {
			while (p->queue.len) {
				uint32_t slot = idq_pop_front(&p->queue);
				p->n_not_started++;
				task_fail(p, slot, why, FAIL_QUIET);
			}
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

/* ------------------------------------------------------------------ */
/* The loop.                                                           */

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
		if (p->progress_on && p->out_tty && output_pending(&p->out))
			progress_erase(&p->progress); /* results share the terminal */
		bool out_done = output_flush(&p->out);
		if (p->failed_on)
			output_flush(&p->failed);
		if (p->joblog_on)
			output_flush(&p->joblog.out);
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
		bool want_input = p->phase == PH_RUN && !p->check && p->ts.nfree &&
				  in_fd >= 0 && !p->in.readable &&
				  buf_used(&p->out.b) <= OUTPUT_HIGH_WATER;
		if (p->in_watch >= 0 && (!want_input || p->loop.w[p->in_watch].fd != in_fd)) {
			loop_del(&p->loop, p->in_watch);
			p->in_watch = -1;
		}
		if (want_input && p->in_watch < 0)
			p->in_watch = loop_add(&p->loop, in_fd, POLLIN, on_input, p);
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

/* ------------------------------------------------------------------ */
/* Setting up and tearing down.                                        */

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
			worker_init(&p->w[k], p, (int)k, (int)r, (int)s, spec, label);
			free(label);
			idq_init(&p->w[k].inflight, (uint32_t)p->queue_size + 1);
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

static void precheck_line(void *ctx, uint32_t src, uint64_t line,
			  const char *s, size_t n)
{
	struct precheck *pc = ctx;
	if (pc->changed)
		return;
	uint64_t seq = ++pc->seq, logged = 0;
	uint64_t hash = joblog_hash(s ? s : "", s ? n : 0);
	if (joblog_check(&pc->p->joblog, seq, hash, &logged) != JL_CHANGED)
		return;
	log_error("%s:%llu: this line differs from task %llu in the joblog %s "
		  "(hash %016llx, logged %016llx): the input changed since that run; "
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
		long jobs = o->jobs > 0 ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
		config_from_command(&p->cfg, o->command, jobs > 0 ? jobs : 1);
	}

	p->keep_order = o->keep_order != SPOOL_UNSET ? o->keep_order == 1
						      : p->cfg.order == 1;
	p->queue_size = o->queue_size > 0 ? o->queue_size
		       : p->cfg.queue_size > 0 ? p->cfg.queue_size : DEFAULT_QUEUE;
	p->retries = o->retries != SPOOL_UNSET ? o->retries
		   : p->cfg.retries >= 0 ? p->cfg.retries : DEFAULT_RETRIES;
	p->inflight = o->inflight;
	p->timeout = o->timeout;
	p->tag = o->tag;
	p->raw = o->raw;
	p->strict = o->strict;

	if (p->raw) {
		for (size_t s = 0; s < p->cfg.nspecs; s++)
			if (p->cfg.specs[s].protocol == PROTO_SPOOL) {
				log_error("--raw needs the lines protocol, but workers[%zu] "
					  "in %s uses \"spool\" (its tasks must be JSON)",
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
		if (joblog_open(&p->joblog, o->joblog_path, o->resume, &jerr) != 0) {
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
		p->progress_on = o->progress == 1 ||
				 (o->progress == SPOOL_UNSET && tty && o->verbosity >= 1);
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
		joblog_close(&p->joblog);
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
	if (p->n_failed || p->out.err)
		return SPOOL_EXIT_FAILED;
	return SPOOL_EXIT_OK;
}

static void pool_summary(struct pool *p)
{
	if (p->stop == STOP_PIPE)
		return;
	if (p->n_ok + p->n_failed + p->n_skipped != p->n_read)
		log_error("internal error: %llu tasks read but %llu ok, %llu failed, "
			  "%llu skipped",
			  (unsigned long long)p->n_read, (unsigned long long)p->n_ok,
			  (unsigned long long)p->n_failed,
			  (unsigned long long)p->n_skipped);
	if (p->signal) {
		log_error("interrupted by SIG%s: %llu tasks finished, %llu not started%s",
			  signal_name(p->signal),
			  (unsigned long long)(p->n_ok + p->n_failed -
					       p->n_not_started - p->n_interrupted),
			  (unsigned long long)p->n_not_started,
			  p->n_interrupted ? "" : "");
		if (p->n_interrupted)
			log_error("%llu tasks in flight were stopped (failed as \"interrupted\")",
				  (unsigned long long)p->n_interrupted);
	} else if (p->stop == STOP_STRICT && p->n_not_started) {
		log_error("--strict: stopped at the first failure; %llu tasks not started",
			  (unsigned long long)p->n_not_started);
	} else if (p->stop == STOP_CHANGED && p->n_not_started) {
		log_error("%llu tasks not started", (unsigned long long)p->n_not_started);
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
		output_drain(&p.out);
		if (p.progress_on)
			progress_clear(&p.progress);
		pool_summary(&p);
		if (p.stats_on)
			stats_report(&p, &p.hist, p.stats_path);
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
			buf_addf(&b, "FAILED: %s", w->fault_msg ? w->fault_msg : "did not start");
			if (w->tail_n) {
				buf_adds(&b, "; its last stderr lines:");
				worker_add_tail(w, &b);
			}
		}
		buf_addc(&b, '\n');
	}
	(void)write_all(1, b.p, b.len);
	buf_release(&b);
	rc = up == p.nw ? SPOOL_EXIT_OK : up == 0 ? SPOOL_EXIT_NOPOOL : SPOOL_EXIT_FAILED;
	pool_teardown(&p);
	return rc;
}
