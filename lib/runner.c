/* runner.c - `spool run`: tasks from the input files, outcomes to stdout,
 * --failed and the joblog.  See runner.h. */
#define _GNU_SOURCE
#include "runner.h"
#include "jsonscan.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Input handed out per turn of the loop: an endless line (a 20 GB file
 * with no newline, /dev/zero) is read in steps, and signals are seen
 * between them. */
#define READ_STEP ((size_t)4 << 20)
/* Results queued for stdout past this: workers are not read until it
 * drains below OUTPUT_HIGH_WATER. */
#define OUTPUT_HOLD ((size_t)8 << 20)
/* Lines that are not JSON named one by one; the rest are counted. */
#define BAD_JSON_SHOWN 3

static const char *src_name(const struct runner *r, uint32_t src)
{
	const char *name = r->in.src[src].name;
	return strcmp(name, "-") == 0 ? "stdin" : name;
}

/* --- Finishing a task ----------------------------------------------- */

/* A ring whose capacity is a power of two. */
static void marks_push(struct marks *m, uint64_t v)
{
	if (UNLIKELY(m->len == m->cap)) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		uint64_t *nv = xcalloc(cap, sizeof(*nv));
		for (size_t i = 0; i < m->len; i++)
			nv[i] = m->v[(m->head + i) & (m->cap - 1)];
		free(m->v);
		m->v = nv;
		m->cap = cap;
		m->head = 0;
	}
	m->v[(m->head + m->len) & (m->cap - 1)] = v;
	m->len++;
}

static uint64_t marks_pop(struct marks *m)
{
	uint64_t v = m->v[m->head];
	m->head = (m->head + 1) & (m->cap - 1);
	m->len--;
	return v;
}

/* --failed gets a failed task's line as soon as it fails, in the order
 * of failures.  Only an over-long line has no bytes: it was not kept (it
 * is streamed to the file as it is read). */
static void add_failed_line(struct runner *r, const struct task *t)
{
	if (!buf_used(&t->data))
		return;
	buf_add(&r->failed.b, buf_data(&t->data), buf_used(&t->data));
	buf_addc(&r->failed.b, '\n');
}

/* Its output is written (or never will be): it is done for good. */
static void finalize(struct runner *r, uint32_t slot, const char *lost)
{
	struct pool *p = r->p;
	struct task *t = pool_task(p, slot);
	if (lost && (t->flags & TF_OK)) {
		/* A result that never reached stdout is not a success. */
		t->flags &= (uint8_t)~TF_OK;
		free(t->why);
		t->why = xstrdup(lost);
		r->n_lost++;
		if (r->failed_on)
			add_failed_line(r, t);
	}
	bool ok = t->flags & TF_OK;
	const char *status = "ok";
	if (ok) {
		p->n_ok++;
	} else if (t->flags & TF_NOT_STARTED) {
		p->n_not_started++;
		status = "not_started";
	} else {
		p->n_failed++;
		status = "failed";
	}
	if (r->joblog_on) {
		struct worker *w = t->worker >= 0 ? p->w[t->worker] : NULL;
		double start = p->wall0 + (t->first ? t->first : p->now);
		joblog_row(&r->joblog, t->seq, r->in.src[t->src].name, t->line,
			   w ? w->label : NULL, t->attempts, start, t->runtime,
			   status, ok ? NULL : t->why,
			   joblog_hash(buf_data(&t->data), buf_used(&t->data)));
	}
	if (r->progress_on)
		r->progress.dirty = true;
	pool_task_release(p, slot);
}

static bool out_failed(const struct runner *r)
{
	return r->out.broken || r->out.err;
}

/* The output of a task is now queued for stdout: it is done once those
 * bytes are written. */
static void queued_out(struct runner *r, uint32_t slot)
{
	struct pool *p = r->p;
	struct task *t = pool_task(p, slot);
	if (out_failed(r)) {
		buf_reset(&r->out.b);
		finalize(r, slot,
			 r->out.broken ? "stdout closed"
				       : "not written: stdout write error");
		return;
	}
	uint64_t end = r->out.written + buf_used(&r->out.b);
	if (r->keep) {
		t->out_end = end;
		idq_push_back(&r->unconfirmed, slot);
		return;
	}
	/* Nothing needs the task afterwards but its count: it is done
	 * now; a mark of where its output ends (and whether it succeeded)
	 * says how many results were lost if stdout fails. */
	bool ok = t->flags & TF_OK;
	if (ok)
		p->n_ok++;
	else if (t->flags & TF_NOT_STARTED)
		p->n_not_started++;
	else
		p->n_failed++;
	if (r->progress_on)
		r->progress.dirty = true;
	marks_push(&r->marks, end << 1 | ok);
	p->n_unwritten++;
	pool_task_release(p, slot);
}

/* -k: held outputs whose turn has come go out. */
static void release_held(struct runner *r)
{
	uint32_t s;
	while ((s = reorder_pop(&r->order)) != IDQ_HOLE) {
		struct task *h = pool_task(r->p, s);
		size_t n = buf_used(&h->held);
		if (n) {
			buf_add(&r->out.b, buf_data(&h->held), n);
			r->held_bytes -= n;
		}
		if (h->flags & TF_HELD) {
			h->flags &= (uint8_t)~TF_HELD;
			r->nheld--;
		}
		queued_out(r, s);
	}
	if (r->c.paused && r->held_bytes <= r->held_max)
		r->c.paused = false;
}

/* Where a finished task's output goes: straight to stdout, or held in
 * the task until the tasks before it are written (-k). */
static struct buf *out_dst(struct runner *r, uint32_t slot)
{
	if (!r->keep_order || reorder_is_head(&r->order, slot))
		return &r->out.b;
	return &pool_task(r->p, slot)->held;
}

static void retire(struct runner *r, uint32_t slot)
{
	struct task *t = pool_task(r->p, slot);
	t->state = T_DONE;
	if (!r->keep_order) {
		queued_out(r, slot);
		return;
	}
	size_t held = buf_used(&t->held);
	if (!reorder_done(&r->order, slot)) {
		/* Behind a slow head: memory is bounded in bytes too. */
		t->flags |= TF_HELD;
		r->nheld++;
		r->held_bytes += held;
		if (r->held_bytes > r->held_max)
			r->c.paused = true;
		return;
	}
	release_held(r);
}

static void runner_ok(struct client *c, uint32_t slot, const char *res,
		      size_t n, bool is_json)
{
	struct runner *r = (struct runner *)c;
	struct pool *p = r->p;
	struct task *t = pool_task(p, slot);
	t->flags |= TF_OK;
	struct buf *dst = out_dst(r, slot);
	if (is_json && json_has_space(res, n)) {
		/* Results are written as compact JSON, one line each. */
		buf_reset(&p->scratch);
		json_minify(res, n, &p->scratch);
		output_add_result(dst, r->tag, true, t->seq, p->scratch.p,
				  p->scratch.len);
	} else {
		output_add_result(dst, r->tag, is_json, t->seq, res, n);
	}
	retire(r, slot);
}

static void runner_fail(struct client *c, uint32_t slot, const char *why,
			enum fail_kind kind, const struct fail_info *info)
{
	(void)info;
	struct runner *r = (struct runner *)c;
	struct pool *p = r->p;
	struct task *t = pool_task(p, slot);
	t->flags &= (uint8_t)~TF_OK;
	if (kind == FAIL_NOT_STARTED)
		t->flags |= TF_NOT_STARTED;
	struct worker *w = t->worker >= 0 ? p->w[t->worker] : NULL;
	if (kind == FAIL_SAY) {
		/* One line on stderr, whatever a worker put in its message. */
		struct buf msg = BUF_INIT;
		log_escape(&msg, why, strlen(why));
		log_error("%s:%llu: %s", src_name(r, t->src),
			  (unsigned long long)t->line, msg.p);
		buf_release(&msg);
	}
	if (r->failed_on)
		add_failed_line(r, t);
	if (r->tag)
		output_add_error(out_dst(r, slot), t->seq, why, t->attempts,
				 w ? w->label : NULL);
	free(t->why);
	t->why = xstrdup(why);
	retire(r, slot);
	/* --strict: also when all input was read already (the rest of the
	 * window is then not started). */
	if (r->strict && kind != FAIL_NOT_STARTED)
		pool_stop(p, STOP_STRICT);
}

/* --- Reading -------------------------------------------------------- */

/* A line over 64 MiB is never held in memory, yet it must reach --failed
 * whole: its pieces are written straight to the file as they are read,
 * while other failed lines wait in the queue. */
static void long_line_piece(struct runner *r, const struct input_line *l)
{
	if (!r->failed_on)
		return;
	if (!r->failed_streaming) {
		output_drain(&r->failed); /* earlier failures first */
		r->failed_streaming = true;
	}
	if (!r->failed.err &&
	    (write_all(r->failed.fd, l->p, l->n) != 0 ||
	     (!l->more && write_all(r->failed.fd, "\n", 1) != 0)))
		r->failed.err = errno;
	if (!l->more)
		r->failed_streaming = false;
}

static void say_changed(struct runner *r, uint32_t src, uint64_t line,
			uint64_t seq, uint64_t hash, uint64_t logged)
{
	log_error("%s:%llu: this line differs from task %llu in the joblog %s "
		  "(hash %016llx, logged %016llx): the input changed since "
		  "that run; "
		  "resume with the same input, or start a new --joblog",
		  src_name(r, src), (unsigned long long)line,
		  (unsigned long long)seq, r->joblog.path,
		  (unsigned long long)hash, (unsigned long long)logged);
}

/* --resume: true when this task is skipped (logged ok, same line).  A
 * line that differs from the logged one stops the run (exit 2). */
static bool resume_skip(struct runner *r, uint64_t seq,
			const struct input_line *l, bool toolong)
{
	struct pool *p = r->p;
	uint64_t logged = 0;
	uint64_t hash = joblog_hash(toolong ? "" : l->p, toolong ? 0 : l->n);
	switch (joblog_check(&r->joblog, seq, hash, &logged)) {
	case JL_SKIP:
		p->n_skipped++;
		if (r->progress_on)
			r->progress.dirty = true;
		return true;
	case JL_RUN:
		return false;
	case JL_CHANGED:
		break;
	}
	say_changed(r, l->src, l->line, seq, hash, logged);
	p->usage_error = true;
	p->n_read--;
	r->seq--;
	pool_stop(p, STOP_CHANGED);
	return true;
}

static const struct fail_info input_fault = {FR_INPUT, NULL};

/* One task line read: number it, check it, hand it to the engine. */
static void take_line(struct runner *r, const struct input_line *l,
		      bool toolong)
{
	struct pool *p = r->p;
	uint64_t seq = ++r->seq;
	p->n_read++;
	if (r->resume && resume_skip(r, seq, l, toolong))
		return;
	uint32_t slot = pool_task_new(p, &r->c);
	struct task *t = pool_task(p, slot);
	t->seq = seq;
	t->src = l->src;
	t->line = l->line;
	if (r->keep_order)
		reorder_push(&r->order, slot);
	if (toolong) {
		runner_fail(&r->c, slot, "line longer than 64 MiB", FAIL_SAY,
			    &input_fault);
		long_line_piece(r, l);
		return;
	}
	buf_add(&t->data, l->p, l->n);
	struct json_error e;
	if (!r->raw && !json_check(l->p, l->n, &e)) {
		char why[160];
		snprintf(why, sizeof(why), "invalid JSON at column %zu: %s",
			 e.pos + 1, e.why);
		/* Plain text fed by mistake fails every line: name a few,
		 * count the rest. */
		r->n_bad_json++;
		runner_fail(&r->c, slot, why,
			    r->n_bad_json <= BAD_JSON_SHOWN ? FAIL_SAY
							    : FAIL_QUIET,
			    &input_fault);
		if (r->n_bad_json == BAD_JSON_SHOWN)
			log_error("more lines that are not JSON are counted, "
				  "not named; tasks are JSON values, one a "
				  "line: for plain text lines use --raw, or "
				  "quote them with jq -R .");
		return;
	}
	if (p->no_workers) {
		p->n_no_workers++;
		static const struct fail_info none = {FR_NO_WORKERS, NULL};
		runner_fail(&r->c, slot, "no workers left", FAIL_QUIET, &none);
		return;
	}
	pool_submit(p, slot);
}

/* Room for another task.  With -k, results held behind a head whose
 * answer sits in a buffered worker's output buffer do not count against
 * -q (the --order-buffer bound still holds them): the worker flushes it
 * only when it gets more input, which a full -q would never read. */
static bool runner_room(struct runner *r)
{
	struct pool *p = r->p;
	if (pool_has_room(p))
		return true;
	if (!r->keep_order || !r->nheld || !r->order.q.len ||
	    r->held_bytes > r->held_max)
		return false;
	struct task *h = pool_task(p, idq_at(&r->order.q, 0));
	if (h->state != T_INFLIGHT || h->worker < 0 ||
	    !p->w[h->worker]->spec->buffered)
		return false;
	return p->ts.used - p->exempt - r->nheld < (uint32_t)p->queue_size;
}

static void confirm(struct runner *r);

/* The window is full, partly of finished tasks whose results wait for
 * stdout: write them now, so their slots take the next tasks in this
 * turn and the workers are refilled without a round of the loop. */
static bool make_room(struct runner *r)
{
	if (!r->unconfirmed.len || out_failed(r))
		return false;
	(void)output_flush(&r->out);
	if (out_failed(r))
		return false;
	confirm(r);
	return runner_room(r);
}

static bool reading(const struct runner *r)
{
	const struct pool *p = r->p;
	/* An over-long line being copied to --failed is read to its end
	 * even when the run stops reading (--strict), but not past a
	 * signal. */
	if (r->failed_streaming)
		return p->stop != STOP_SIGNAL && !p->check;
	return p->phase == PH_RUN && p->stop == STOP_NONE && !p->check;
}

static void runner_read(struct runner *r)
{
	struct pool *p = r->p;
	size_t step = 0;
	r->read_held = false;
	while (reading(r)) {
		if (!r->failed_streaming) {
			if (buf_used(&r->out.b) > OUTPUT_HIGH_WATER) {
				/* Go on once stdout has caught up. */
				r->read_held = true;
				return;
			}
			if (!runner_room(r) && !make_room(r))
				return;
		}
		if (step >= READ_STEP) {
			/* Back to the loop; go on at once. */
			p->spin = true;
			return;
		}
		struct input_line l;
		enum input_result res = input_next(&r->in, &l);
		step += l.n + 1;
		switch (res) {
		case IN_WAIT:
			return;
		case IN_MORE:
			long_line_piece(r, &l);
			continue;
		case IN_ERROR:
			log_error("%s: read error: %s; the rest of it is not "
				  "read",
				  src_name(r, l.src), strerror(l.err));
			p->usage_error = true;
			if (r->failed_streaming) {
				/* End the cut line where it was cut. */
				l.more = false;
				l.n = 0;
				long_line_piece(r, &l);
			}
			continue;
		case IN_END:
			if (p->stop == STOP_NONE)
				pool_stop(p, STOP_EOF);
			return;
		case IN_LINE:
		case IN_TOOLONG:
			if (p->phase != PH_RUN || p->stop != STOP_NONE)
				return;
			take_line(r, &l, res == IN_TOOLONG);
			continue;
		}
	}
}

static void runner_pump(struct client *c)
{
	runner_read((struct runner *)c);
}

/* --- Writing -------------------------------------------------------- */

/* The tasks whose output is now written are done. */
static void confirm(struct runner *r)
{
	while (r->marks.len && r->marks.v[r->marks.head] >> 1 <= r->out.written) {
		marks_pop(&r->marks);
		r->p->n_unwritten--;
	}
	while (r->unconfirmed.len) {
		uint32_t slot = idq_at(&r->unconfirmed, 0);
		if (pool_task(r->p, slot)->out_end > r->out.written)
			break;
		(void)idq_pop_front(&r->unconfirmed);
		finalize(r, slot, NULL);
	}
}

/* Results counted when queued that will never be written fail. */
static void marks_lost(struct runner *r)
{
	struct pool *p = r->p;
	while (r->marks.len) {
		uint64_t m = marks_pop(&r->marks);
		p->n_unwritten--;
		if ((m >> 1) > r->out.written && (m & 1)) {
			p->n_ok--;
			p->n_failed++;
			r->n_lost++;
		}
	}
}

/* stdout cannot take more: what was not written fails, and the run
 * stops (a reader that went away is not an error: `| head`). */
static void out_lost(struct runner *r)
{
	struct pool *p = r->p;
	const char *why = r->out.broken ? "stdout closed"
					: "not written: stdout write error";
	if (!r->out_said) {
		r->out_said = true;
		if (!r->out.broken) {
			log_error(
				"stdout: write error: %s; stopping (the tasks "
				"whose results were not written fail)",
				strerror(r->out.err));
			p->failed_io = true;
		}
		pool_stop(p, r->out.broken ? STOP_PIPE : STOP_OUTPUT);
	}
	buf_reset(&r->out.b);
	while (r->unconfirmed.len)
		finalize(r, idq_pop_front(&r->unconfirmed), why);
	marks_lost(r);
}

static void say_io_error(struct runner *r, bool *said, const char *what,
			 const char *path, int err)
{
	if (*said)
		return;
	*said = true;
	log_error("%s %s: write error: %s; what it should hold is lost from "
		  "here on",
		  what, path, strerror(err));
	r->p->failed_io = true;
}

static void runner_flush(struct client *c)
{
	struct runner *r = (struct runner *)c;
	struct pool *p = r->p;
	if (p->check)
		return;
	/* Results share the terminal with the progress line. */
	if (r->progress_on && r->out_tty && output_pending(&r->out))
		progress_erase(&r->progress);
	(void)output_flush(&r->out);
	/* A reader slower than the workers: answers wait in the workers'
	 * pipes, not in spool's memory. */
	if (buf_used(&r->out.b) > OUTPUT_HOLD)
		pool_hold_answers(p, true);
	else if (buf_used(&r->out.b) <= OUTPUT_HIGH_WATER)
		pool_hold_answers(p, false);
	if (p->out_abandoned && output_pending(&r->out) && !out_failed(r)) {
		/* Interrupted, and the reader takes no more. */
		buf_reset(&r->out.b);
		while (r->unconfirmed.len)
			finalize(r, idq_pop_front(&r->unconfirmed),
				 "interrupted: its result was not written");
		marks_lost(r);
	}
	if (out_failed(r))
		out_lost(r);
	else
		confirm(r);
	if (r->failed_on && !r->failed_streaming) {
		(void)output_flush(&r->failed);
		if (r->failed.err)
			say_io_error(r, &r->failed_said, "--failed",
				     r->failed.path, r->failed.err);
	}
	if (r->joblog_on) {
		joblog_flush(&r->joblog);
		if (r->joblog.out.err)
			say_io_error(r, &r->joblog_said, "--joblog",
				     r->joblog.path, r->joblog.out.err);
	}
}

static void on_input(void *ctx, int fd, int revents)
{
	struct runner *r = ctx;
	(void)fd;
	(void)revents;
	r->in.readable = true;
}

static void on_output(void *ctx, int fd, int revents)
{
	struct runner *r = ctx;
	(void)fd;
	(void)revents;
	(void)output_flush(&r->out);
}

static bool runner_prepare(struct client *c, double *deadline)
{
	struct runner *r = (struct runner *)c;
	struct pool *p = r->p;
	if (p->check)
		return true;
	/* Reading waited for stdout, and stdout has caught up: no event
	 * would say so (a regular file is never polled). */
	if (r->read_held && buf_used(&r->out.b) <= OUTPUT_HIGH_WATER)
		return false;
	if (r->progress_on) {
		double due = progress_tick(&r->progress, p->now);
		if (*deadline == 0 || due < *deadline)
			*deadline = due;
	}
	int in_fd = input_fd(&r->in);
	bool can_read = reading(r) && runner_room(r) &&
			buf_used(&r->out.b) <= OUTPUT_HIGH_WATER;
	/* Room again (tasks written out this turn) and an input that is
	 * read without waiting (a file, or a pipe known to be readable):
	 * read now, no event would come. */
	if (can_read && !r->in.done && (in_fd < 0 || r->in.readable))
		return false;
	bool want_input = can_read && in_fd >= 0 && !r->in.readable;
	if (r->in_watch >= 0 &&
	    (!want_input || p->loop.w[r->in_watch].fd != in_fd)) {
		loop_del(&p->loop, r->in_watch);
		r->in_watch = -1;
	}
	input_close_done(&r->in);
	if (want_input && r->in_watch < 0)
		r->in_watch = loop_add(&p->loop, in_fd, POLLIN, on_input, r);
	loop_set(&p->loop, r->out_watch,
		 output_pending(&r->out) && !out_failed(r) ? POLLOUT : 0);
	return true;
}

/* -k behind a slow head: the head itself (and retries before it) may
 * still be dispatched, or the run could never go on. */
static bool runner_may_dispatch(struct client *c, uint32_t slot)
{
	struct runner *r = (struct runner *)c;
	if (!r->order.q.len)
		return true;
	uint32_t head = idq_at(&r->order.q, 0);
	return pool_task(r->p, slot)->seq <= pool_task(r->p, head)->seq;
}

static void runner_describe(struct client *c, uint32_t slot, struct buf *out)
{
	struct runner *r = (struct runner *)c;
	struct task *t = pool_task(r->p, slot);
	buf_addf(out, "%s:%llu", src_name(r, t->src),
		 (unsigned long long)t->line);
}

static const struct client_ops runner_ops = {
	.describe = runner_describe,
	.ok = runner_ok,
	.fail = runner_fail,
	.pump = runner_pump,
	.flush = runner_flush,
	.prepare = runner_prepare,
	.may_dispatch = runner_may_dispatch,
};

/* --- Setting up ----------------------------------------------------- */

/* --resume: compare the input files with the joblog before any worker
 * starts.  Stdin, and files after it, are checked as they are read. */
struct precheck {
	struct runner *r;
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
	if (joblog_check(&pc->r->joblog, seq, hash, &logged) != JL_CHANGED)
		return;
	say_changed(pc->r, src, line, seq, hash, logged);
	pc->changed = true;
}

static int resume_precheck(struct runner *r)
{
	struct precheck pc = {r, 0, false};
	input_scan(&r->in, precheck_line, &pc);
	r->joblog.cursor = 0;
	return pc.changed ? -1 : 0;
}

/* --failed and --joblog append to their file: never to an input.
 * Looked at before it is opened for writing (a joblog gets its header
 * at once), through any symbolic link. */
static int not_an_input(struct runner *r, const char *flag, const char *path)
{
	struct stat a, b;
	if (stat(path, &a) != 0 || !S_ISREG(a.st_mode))
		return 0;
	for (size_t i = 0; i < r->in.nsrc; i++) {
		if (r->in.src[i].fd < 0 || fstat(r->in.src[i].fd, &b) != 0)
			continue;
		if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			log_error("%s %s: that is an input file (%s); failed "
				  "lines written to it would be read back as "
				  "tasks: give %s another file",
				  flag, path, src_name(r, (uint32_t)i), flag);
			return -1;
		}
	}
	return 0;
}

int runner_setup(struct runner *r, struct pool *p, const struct spool_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->in_watch = r->out_watch = -1;
	r->out.fd = r->failed.fd = -1;
	r->out.saved_flags = r->failed.saved_flags = -1;
	r->stats_fd = -1;
	client_init(&r->c, p, &runner_ops);
	idq_init(&r->unconfirmed, 64);
	r->keep_order = o->keep_order != SPOOL_UNSET ? o->keep_order == 1
						     : p->cfg.order == 1;
	r->tag = o->tag;
	r->raw = o->raw;
	r->strict = o->strict;
	r->held_max = o->order_buffer > 0       ? (size_t)o->order_buffer
		      : p->cfg.order_buffer > 0 ? (size_t)p->cfg.order_buffer
						: SPOOL_ORDER_BUFFER;
	if (r->keep_order)
		reorder_init(&r->order, 64);
	output_init(&r->out, p->check ? -1 : 1);
	if (p->check)
		return 0;

	struct buf err = BUF_INIT;
	if (input_open(&r->in, o->inputs, o->ninputs, &err) != 0) {
		log_error("%s", err.p);
		buf_release(&err);
		return SPOOL_EXIT_USAGE;
	}
	buf_release(&err);
	for (size_t i = 0; i < r->in.nsrc; i++)
		if (r->in.src[i].fd >= 0 && isatty(r->in.src[i].fd))
			log_info("reading tasks from the terminal (%s): one "
				 "JSON value a line, Ctrl-D to end",
				 src_name(r, (uint32_t)i));

	if (o->failed_path && not_an_input(r, "--failed", o->failed_path) != 0)
		return SPOOL_EXIT_USAGE;
	if (o->joblog_path && not_an_input(r, "--joblog", o->joblog_path) != 0)
		return SPOOL_EXIT_USAGE;
	if (o->failed_path) {
		int fd = open(o->failed_path,
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			log_error("%s: cannot open --failed file: %s",
				  o->failed_path, strerror(errno));
			return SPOOL_EXIT_USAGE;
		}
		output_init(&r->failed, fd);
		r->failed.path = o->failed_path;
		r->failed_on = true;
	}

	/* Tasks kept until their output is written: --failed and --joblog
	 * need them then. */
	r->keep = o->failed_path || o->joblog_path;
	if (o->joblog_path) {
		struct buf jerr = BUF_INIT;
		if (joblog_open(&r->joblog, o->joblog_path, o->resume, &jerr) !=
		    0) {
			log_error("%s", jerr.p);
			buf_release(&jerr);
			return SPOOL_EXIT_USAGE;
		}
		buf_release(&jerr);
		r->joblog_on = true;
		r->resume = o->resume;
		if (r->resume && resume_precheck(r) != 0)
			return SPOOL_EXIT_USAGE;
	}
	r->stats_path = o->stats_path;
	if (o->stats_path) {
		/* Find out now, not after hours of work, that it cannot be
		 * written. */
		r->stats_fd = open(o->stats_path,
				   O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (r->stats_fd < 0) {
			log_error("%s: cannot write --stats: %s", o->stats_path,
				  strerror(errno));
			return SPOOL_EXIT_USAGE;
		}
	}
	r->out_watch = loop_add(&p->loop, 1, 0, on_output, r);
	bool tty = isatty(2);
	r->progress_on = o->progress == 1 || (o->progress == SPOOL_UNSET &&
					      tty && o->verbosity >= 1);
	if (r->progress_on)
		progress_init(&r->progress, p, input_count(&r->in));
	r->out_tty = isatty(1);
	p->recording = p->stats_on || r->progress_on || r->joblog_on;
	p->client = &r->c;
	return 0;
}

void runner_release(struct runner *r)
{
	if (r->failed_on) {
		if (r->failed_streaming) {
			/* Stopped in the middle of an over-long line. */
			(void)write_all(r->failed.fd, "\n", 1);
			log_error("--failed: an over-long line was cut short "
				  "(spool stopped while reading it)");
		}
		output_drain(&r->failed);
		close(r->failed.fd);
		output_release(&r->failed);
	}
	output_release(&r->out);
	if (r->keep_order)
		reorder_release(&r->order);
	idq_release(&r->unconfirmed);
	free(r->marks.v);
	if (!r->p->check)
		input_close(&r->in);
	if (r->joblog_on)
		joblog_close(&r->joblog);
	if (r->stats_fd >= 0)
		close(r->stats_fd);
	client_release(&r->c);
}

/* --- The end -------------------------------------------------------- */

static void summary(struct runner *r)
{
	struct pool *p = r->p;
	if (p->stop == STOP_PIPE)
		return;
	uint64_t done = p->n_ok + p->n_failed + p->n_not_started;
	if (done + p->n_skipped != p->n_read)
		log_error("internal error: %llu tasks read but %llu ok, %llu "
			  "failed, %llu not started, %llu skipped",
			  (unsigned long long)p->n_read,
			  (unsigned long long)p->n_ok,
			  (unsigned long long)p->n_failed,
			  (unsigned long long)p->n_not_started,
			  (unsigned long long)p->n_skipped);
	if (p->signal) {
		log_error("interrupted by SIG%s: %llu tasks finished, %llu not "
			  "started",
			  signal_name(p->signal),
			  (unsigned long long)(p->n_ok + p->n_failed -
					       p->n_interrupted),
			  (unsigned long long)p->n_not_started);
		if (p->n_interrupted)
			log_error("%llu tasks in flight were stopped (failed "
				  "as \"interrupted\")",
				  (unsigned long long)p->n_interrupted);
	} else if (p->stop == STOP_STRICT && p->n_not_started) {
		log_error("--strict: stopped at the first failure; %llu tasks "
			  "not started",
			  (unsigned long long)p->n_not_started);
	} else if ((p->stop == STOP_CHANGED || p->stop == STOP_OUTPUT) &&
		   p->n_not_started) {
		log_error("%llu tasks not started",
			  (unsigned long long)p->n_not_started);
	}
	if (p->n_no_workers)
		log_error("%llu tasks failed with \"no workers left\"",
			  (unsigned long long)p->n_no_workers);
	if (r->n_bad_json > BAD_JSON_SHOWN)
		log_error("%llu input lines were not valid JSON (%d named "
			  "above)%s",
			  (unsigned long long)r->n_bad_json, BAD_JSON_SHOWN,
			  r->failed_on ? "; every one is in --failed" : "");
	if (r->n_lost)
		log_error("%llu tasks failed because their results could not "
			  "be written to stdout",
			  (unsigned long long)r->n_lost);
	if (p->n_failed && !p->stats_on)
		log_info("%llu of %llu tasks failed%s",
			 (unsigned long long)p->n_failed,
			 (unsigned long long)p->n_read,
			 r->failed_on ? "; their lines are in --failed" : "");
	if (r->joblog_on && (p->n_not_started || p->n_failed) &&
	    (p->signal || p->stop == STOP_STRICT))
		log_info("to run what is left, run the same command again "
			 "with --resume (the joblog %s records what is done)",
			 r->joblog.path);
}

void runner_finish(struct runner *r)
{
	struct pool *p = r->p;
	if (r->progress_on)
		progress_clear(&r->progress);
	summary(r);
	if (p->stats_on &&
	    stats_report(p, &p->hist, r->stats_path, r->stats_fd) != 0)
		r->stats_failed = true;
	if (r->stats_failed)
		p->failed_io = true;
}
