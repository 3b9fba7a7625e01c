/* answer.c - a worker's pipes: tasks written to its stdin, answers read
 * from its stdout and decoded by its codec (the spawn answer, then one per
 * task), stderr passed on.  A line that is not a valid answer is a
 * protocol error: the worker is stopped and its tasks requeued. */
#define _GNU_SOURCE
#include "pool.h"
#include "log.h"
#include "jsonscan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A worker that closed stdout (or stdin) gets this long to exit. */
#define CLOSED_GRACE 1.0
/* Read coalescing: a worker with a deep window of fast tasks is read at
 * most this often, so its answers come in batches rather than one per
 * wake-up (it has work queued meanwhile); a timer reads it. */
#define COALESCE_MIN 0.00002
#define COALESCE_MAX 0.0005
#define COALESCE_FEW 64

void worker_flush(struct pool *p, struct worker *w)
{
	if (w->fd_in < 0) {
		buf_reset(&w->wbuf);
		return;
	}
	while (buf_used(&w->wbuf)) {
		ssize_t r = xwrite(w->fd_in, buf_data(&w->wbuf),
				   buf_used(&w->wbuf));
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
				w->fault_msg = xstrdup(
					"closed its stdin while running");
				w->kill_at = p->now + CLOSED_GRACE;
			}
			break;
		}
		buf_consume(&w->wbuf, (size_t)r);
	}
	if (!buf_used(&w->wbuf) && w->close_when_sent && w->fd_in >= 0) {
		w->close_when_sent = false;
		worker_close_input(w);
	}
	if (w->w_in >= 0)
		loop_set(&p->loop, w->w_in, buf_used(&w->wbuf) ? POLLOUT : 0);
}

bool worker_input_drained(const struct worker *w)
{
	if (buf_used(&w->wbuf))
		return false;
	int queued = 0;
	/* Answers it wrote that spool has not read yet (read coalescing,
	 * a busy turn): it is not holding them. */
	if (w->fd_out >= 0 && ioctl(w->fd_out, FIONREAD, &queued) == 0 &&
	    queued > 0)
		return false;
	/* FIONREAD on a pipe's write end counts what is in the pipe. */
	if (w->fd_in >= 0 && ioctl(w->fd_in, FIONREAD, &queued) == 0)
		return queued == 0;
	return w->fd_in < 0;
}

/* Read a small /proc file into out, NUL-terminated. */
static bool read_proc(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t r = read(fd, out, n - 1);
	close(fd);
	if (r < 0)
		return false;
	out[r] = '\0';
	return true;
}

/* Walk the process tree under the worker (/proc/PID/task/TID/children):
 * some process blocked reading the worker's stdin pipe, and none running
 * or in disk wait.  Linux only; elsewhere it never says so. */
bool worker_waits_for_input(const struct worker *w)
{
	struct stat st;
	if (w->pid <= 0 || w->fd_in < 0 || fstat(w->fd_in, &st) != 0)
		return false;
	char want[64];
	snprintf(want, sizeof(want), "pipe:[%llu]",
		 (unsigned long long)st.st_ino);
	pid_t todo[64];
	size_t n = 0, seen = 0;
	bool reader = false;
	todo[n++] = w->pid;
	while (seen < n) {
		pid_t pid = todo[seen++];
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (!read_proc(path, buf, sizeof(buf)))
			continue;
		const char *rp = strrchr(buf, ')');
		if (!rp || !rp[1] || !rp[2])
			continue;
		char state = rp[2];
		if (state == 'R' || state == 'D')
			return false;
		snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
		if (read_proc(path, buf, sizeof(buf)) &&
		    (strstr(buf, "pipe_read") || strstr(buf, "pipe_wait"))) {
			char link[64];
			snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
			ssize_t k = readlink(path, link, sizeof(link) - 1);
			if (k > 0) {
				link[k] = '\0';
				if (strcmp(link, want) == 0)
					reader = true;
			}
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
			 (int)pid, (int)pid);
		if (!read_proc(path, buf, sizeof(buf)))
			continue;
		for (char *c = buf; *c && n < ARRAY_SIZE(todo);) {
			char *end;
			long child = strtol(c, &end, 10);
			if (end == c)
				break;
			todo[n++] = (pid_t)child;
			c = end;
		}
	}
	return reader;
}

void worker_ready(struct pool *p, struct worker *w, char *result)
{
	/* Too late: spool is already stopping it (startup timeout). */
	if (w->state == WS_STOPPING || w->fault != WF_NONE) {
		free(result);
		return;
	}
	/* A worker told to drain while it was starting stays draining. */
	if (w->state == WS_STARTING || w->state == WS_BACKOFF)
		w->state = WS_READY;
	w->came_up = true;
	w->up = true;
	pool_touch(p, w);
	p->eof_dirty = true;
	w->spawn_s = p->now - w->spawned_at;
	free(w->spawn_result);
	w->spawn_result = result;
	w->limit = worker_limit(p, w);
	if (p->on_worker)
		p->on_worker(p->hook_ctx, w, true, NULL);
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
	/* What a worker wrote may hold anything (NUL, escapes, broken
	 * UTF-8): shown escaped, on one line. */
	log_escape(&b, line, MIN(n, 200));
	if (n > 200)
		buf_addf(&b, "... (%zu bytes)", n);
	buf_addc(&b, '\0');
	worker_stop(w, WF_PROTOCOL, xstrdup(b.p), p->now);
	buf_release(&b);
}

/* Find and remove the in-flight task with this id (spool protocol). */
static uint32_t take_inflight(struct pool *p, struct worker *w, uint64_t id)
{
	uint32_t slot = idmap_get(&p->byid, id);
	if (slot == IDMAP_NONE || pool_task(p, slot)->worker != w->index)
		return IDQ_HOLE;
	if (slot == inflight_oldest(w))
		w->oldest_since = p->now; /* a new oldest */
	inflight_remove(p, w, slot);
	return slot;
}

/* A lines worker answers in order: the oldest in flight. */
static uint32_t take_oldest(struct pool *p, struct worker *w)
{
	uint32_t slot = inflight_oldest(w);
	inflight_remove(p, w, slot);
	w->oldest_since = p->now;
	return slot;
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

static void answer_one(struct pool *p, struct worker *w, uint32_t slot,
		       const struct answer *ap);

/* A JSON-RPC batch of answers: one line holding an array, one answer for
 * each task of one batch sent to this worker, in any order.  Anything
 * else (an unknown id, tasks of several batches, too few or too many)
 * breaks the protocol: what it answered cannot be trusted. */
static void answer_batch(struct pool *p, struct worker *w, const char *line,
			 size_t n)
{
	size_t max = w->nflight;
	struct span *el = xcalloc(max + 1, sizeof(*el));
	struct answer *a = xcalloc(max + 1, sizeof(*a));
	uint32_t *slots = xcalloc(max + 1, sizeof(uint32_t));
	long k = json_elements(line, n, el, max);
	const char *why = NULL;
	char msg[128];
	if (k == -1)
		why = "not valid JSON";
	else if (k == -2)
		why = "a batch answer with more answers than tasks in flight";
	else if (k == 0)
		why = "an empty batch answer";
	for (long i = 0; !why && i < k; i++) {
		why = w->codec->decode(el[i].p, el[i].n, &a[i]);
		if (why)
			break;
		uint32_t slot = idmap_get(&p->byid, a[i].id);
		if (slot == IDMAP_NONE ||
		    pool_task(p, slot)->worker != w->index ||
		    pool_task(p, slot)->state != T_INFLIGHT) {
			snprintf(msg, sizeof(msg), "unknown id %llu in a batch",
				 (unsigned long long)a[i].id);
			why = msg;
			break;
		}
		for (long j = 0; j < i; j++)
			if (slots[j] == slot) {
				snprintf(msg, sizeof(msg),
					 "id %llu twice in a batch",
					 (unsigned long long)a[i].id);
				why = msg;
			}
		slots[i] = slot;
	}
	if (!why) {
		/* All of one batch, and all of it. */
		uint16_t b = pool_task(p, slots[0])->batch;
		for (long i = 1; i < k && !why; i++)
			if (pool_task(p, slots[i])->batch != b)
				why = "answers to several batches in one line";
		if (!why && b < w->batch_cap &&
		    w->batch_left[b] != (uint32_t)k) {
			snprintf(msg, sizeof(msg),
				 "%ld answers for a batch of %u tasks", k,
				 w->batch_left[b]);
			why = msg;
		}
	}
	if (why) {
		protocol_error(p, w, why, line, n);
	} else {
		for (long i = 0; i < k; i++) {
			if (slots[i] == inflight_oldest(w))
				w->oldest_since = p->now;
			inflight_remove(p, w, slots[i]);
		}
		for (long i = 0; i < k; i++)
			answer_one(p, w, slots[i], &a[i]);
	}
	free(el);
	free(a);
	free(slots);
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
			/* Its answers and tasks no longer pair up: the
			 * results it gave may belong to other tasks. */
			p->out_of_step = true;
			protocol_error(
				p, w,
				"a line with no task in flight (a lines worker "
				"writes exactly one line per task; its earlier "
				"answers may have been given to the wrong "
				"tasks)",
				line, n);
			return;
		}
		task_ok(p, w, take_oldest(p, w), line, n, false);
		return;
	}
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < n && line[i] == '[') {
		answer_batch(p, w, line, n);
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
	answer_one(p, w, slot, &a);
}

/* The answer for one task, taken out of w's in-flight list. */
static void answer_one(struct pool *p, struct worker *w, uint32_t slot,
		       const struct answer *ap)
{
	const struct answer a = *ap;
	if (a.kind == ANS_RESULT) {
		task_ok(p, w, slot, a.value.p, a.value.n, true);
		return;
	}
	w->done++;
	p->specs[w->spec_index].failures = 0;
	p->specs[w->spec_index].proven = true;
	struct buf b = BUF_INIT;
	buf_addf(&b, "error from %s: ", w->label);
	proto_error_text(&a, &b);
	buf_addc(&b, '\0');
	struct fail_info info = {FR_ERROR, &a};
	task_fail_info(p, slot, b.p, FAIL_SAY, &info);
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
		snprintf(why, sizeof(why),
			 "a line longer than 64 MiB (%zu bytes so far)", n);
		protocol_error(p, w, why, "", 0);
		return;
	}
	w->done++;
	task_fail(p, take_oldest(p, w), "answer longer than 64 MiB", FAIL_SAY,
		  FR_ERROR);
}

void worker_lines(struct pool *p, struct worker *w)
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
	w->last_answers = answers;
	if (answers) {
		w->last_answer = p->now;
		learn_service_time(p, w, answers);
	}
	/* Its input closed: once it has answered everything it should
	 * exit by itself. */
	if (w->state == WS_DRAINING && !w->nflight && !w->term_at &&
	    !w->kill_at && w->pid > 0)
		w->term_at = p->now + EXIT_GRACE;
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

void worker_read_answers(struct pool *p, struct worker *w)
{
	pool_touch(p, w);
	if (p->answers_held && w->fd_out >= 0) {
		/* Its answers wait in its pipe until the output drains: the
		 * memory bound holds with a slow reader. */
		loop_set(&p->loop, w->w_out, 0);
		if (!w->read_held) {
			w->read_held = true;
			vec_push(&p->held_readers, w);
		}
		return;
	}
	bool got = false;
	for (int round = 0; round < 8 && w->fd_out >= 0; round++) {
		ssize_t r = linebuf_fill(&w->rbuf, w->fd_out, ANSWER_READ);
		if (r < 0 && errno == EAGAIN)
			break;
		got = true;
		worker_lines(p, w);
		if (r <= 0) {
			stdout_closed(p, w);
			break;
		}
		if ((size_t)r < ANSWER_READ / 2)
			break;
	}
	/* What it still had to do after this read. */
	long left = (long)w->nflight;
	/* Give this worker its next tasks before reading the others'
	 * answers, so it computes while spool works. */
	pool_pump(p);
	if (w->w_out < 0)
		return;
	/* Deep window, fast tasks, still busy: let its answers pile up and
	 * read them when the timer says, not as each one comes.  Not when
	 * it answered all it had in one large read (cat): it is waiting for
	 * spool, and a pause would leave it idle.  Meanwhile its stdout is
	 * out of the loop's set and the timer reads it, so the steady state
	 * costs no system call to turn the watch off and on.  A read that
	 * found nothing goes back to waiting on the pipe: a worker on a
	 * long task is not polled. */
	double delay = 0;
	if (got && w->limit >= 16 && w->svc > 0 &&
	    (long)w->nflight >= w->limit / 4 &&
	    (left >= w->limit / 4 || w->last_answers < COALESCE_FEW)) {
		delay = w->svc * (double)w->limit / 4;
		if (delay > COALESCE_MAX)
			delay = COALESCE_MAX;
	}
	if (delay >= COALESCE_MIN) {
		loop_set(&p->loop, w->w_out, 0);
		w->read_at = p->now + delay;
	} else {
		loop_set(&p->loop, w->w_out, POLLIN);
	}
}

static void on_worker_stdout(void *ctx, int fd, int revents)
{
	(void)fd;
	(void)revents;
	struct worker *w = ctx;
	worker_read_answers(w->pool, w);
}

static void on_worker_stdin(void *ctx, int fd, int revents)
{
	struct worker *w = ctx;
	(void)fd;
	(void)revents;
	pool_touch(w->pool, w);
	worker_flush(w->pool, w);
}

static void on_worker_stderr(void *ctx, int fd, int revents)
{
	struct worker *w = ctx;
	(void)fd;
	(void)revents;
	pool_touch(w->pool, w);
	worker_read_stderr(w, false);
	if (w->fd_err < 0 && w->w_err >= 0) {
		loop_del(&w->pool->loop, w->w_err);
		w->w_err = -1;
	}
}

void watch_worker(struct pool *p, struct worker *w)
{
	w->w_in = loop_add(&p->loop, w->fd_in, 0, on_worker_stdin, w);
	w->w_out = loop_add(&p->loop, w->fd_out, POLLIN, on_worker_stdout, w);
	w->w_err = loop_add(&p->loop, w->fd_err, POLLIN, on_worker_stderr, w);
}

void unwatch_worker(struct pool *p, struct worker *w)
{
	loop_del(&p->loop, w->w_in);
	loop_del(&p->loop, w->w_out);
	loop_del(&p->loop, w->w_err);
	w->w_in = w->w_out = w->w_err = -1;
}
