/* serve.c - `spool serve`: the pool as a service (SPEC section 9).
 *
 * spool speaks to its clients the protocol it speaks to its workers:
 * JSON-RPC 2.0, one message a line.  Without --listen one client talks on
 * stdin and stdout (so a `spool serve` is itself a spool-protocol worker,
 * and a pool can be one worker of another); with --listen PATH any number
 * connect to a Unix socket.  Each connection is a client of the engine
 * (struct conn): its execute requests are tasks, answered by id as they
 * complete.  The methods: spawn (the handshake), execute, add_worker,
 * stats, shutdown. */
#define _GNU_SOURCE
#include "serve.h"
#include "joblog.h"
#include "jsonscan.h"
#include "log.h"
#include "output.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* JSON-RPC error codes: the standard ones, and spool's own. */
#define E_PARSE (-32700)
#define E_INVALID (-32600)
#define E_METHOD (-32601)
#define E_PARAMS (-32602)
#define E_NO_WORKER (-32001)
#define E_TASK (-32002)
#define E_SPAWN (-32003)
#define E_SHUTDOWN (-32004)

/* Requests read from one client per turn at most: others get a turn. */
#define READS_PER_TURN 256
/* A client whose answers pile up unread is not read from. */
#define CONN_OUT_HIGH ((size_t)1 << 20)
/* At the end, answers not yet written get this long. */
#define CONN_DRAIN 5.0

struct serve;

struct conn {
	struct client c; /* first: the engine hands this back */
	struct serve *s;
	int num; /* for messages: client N */
	int rfd, wfd;
	int r_watch, w_watch;
	bool readable; /* rfd reported readable since the last read */
	bool eof;      /* no more requests from it */
	bool dead;     /* gone: its answers are dropped */
	bool closing;  /* close once what it is owed is written */
	bool hup;
	struct linebuf in;
	struct output out;
	struct idmap ids;  /* hash of each id in flight -> slot */
	uint64_t inflight; /* execute requests accepted, not answered */
	struct conn *next;
};

/* A request waiting for something other than a task. */
struct waiter {
	struct conn *conn;
	char *id;         /* its id, as written */
	struct worker *w; /* add_worker: the worker it waits for */
};

struct serve {
	struct client c; /* the listener: accepts, reads, writes */
	struct pool *p;
	const struct spool_opts *o;
	const char *path; /* --listen */
	int lfd, l_watch;
	bool made_socket;
	struct conn *conns;
	int nconns_ever;
	struct conn *turn; /* whose requests are read first this turn */
	size_t initial;    /* workers of the config: the handshake's */
	bool started;      /* each of them came up or failed */
	struct waiter *spawn_wait, *add_wait;
	size_t nspawn_wait, nadd_wait;
	struct waiter shutdown;
	bool shutting_down;
	char **spawn_err; /* per initial worker: why it did not come up */
};

/* --- Writing answers ------------------------------------------------ */

static void conn_send(struct conn *c, const struct buf *msg)
{
	if (c->dead)
		return;
	buf_add(&c->out.b, buf_data(msg), buf_used(msg));
}

static void add_head(struct buf *b, const char *id)
{
	buf_adds(b, "{\"jsonrpc\":\"2.0\",\"id\":");
	buf_adds(b, id && *id ? id : "null");
}

static void send_result(struct conn *c, const char *id, const char *json,
			size_t n)
{
	struct buf b = BUF_INIT;
	add_head(&b, id);
	buf_adds(&b, ",\"result\":");
	buf_add(&b, json, n);
	buf_adds(&b, "}\n");
	conn_send(c, &b);
	buf_release(&b);
}

/* data: JSON text, or NULL. */
static void send_error(struct conn *c, const char *id, int code,
		       const char *msg, const char *data)
{
	struct buf b = BUF_INIT;
	add_head(&b, id);
	buf_addf(&b, ",\"error\":{\"code\":%d,\"message\":", code);
	buf_add_json_string(&b, msg, strlen(msg));
	if (data) {
		buf_adds(&b, ",\"data\":");
		buf_adds(&b, data);
	}
	buf_adds(&b, "}}\n");
	conn_send(c, &b);
	buf_release(&b);
}

/* --- Tasks: the engine's answers ------------------------------------ */

/* An integer written in JSON (an error code), or def. */
static int atoi_span(const char *p, size_t n, int def)
{
	char tmp[32];
	if (!n || n >= sizeof(tmp))
		return def;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	char *end;
	long v = strtol(tmp, &end, 10);
	if (*end || v < -2147483647L || v > 2147483647L)
		return def;
	return (int)v;
}

/* The key of a request id in a client's map of ids in flight (0 is not
 * a key). */
static uint64_t id_key(const char *p, size_t n)
{
	uint64_t h = joblog_hash(p, n);
	return h ? h : 1;
}

/* A task of this client is answered: forget its id, free its slot. */
static void task_done(struct conn *c, uint32_t slot)
{
	struct pool *p = c->s->p;
	struct task *t = pool_task(p, slot);
	if (buf_used(&t->held)) {
		uint64_t k = id_key(buf_data(&t->held), buf_used(&t->held));
		if (idmap_get(&c->ids, k) == slot)
			idmap_del(&c->ids, k);
	}
	c->inflight--;
	pool_task_release(p, slot);
}

/* The request id of a task, NUL-terminated in its held buffer (or NULL
 * for a notification). */
static const char *task_id(struct task *t)
{
	if (!buf_used(&t->held))
		return NULL;
	buf_reserve(&t->held, 1);
	t->held.p[t->held.len] = '\0';
	return buf_data(&t->held);
}

static void conn_ok(struct client *cl, uint32_t slot, const char *res, size_t n,
		    bool is_json)
{
	struct conn *c = (struct conn *)cl;
	struct pool *p = c->s->p;
	struct task *t = pool_task(p, slot);
	p->n_ok++;
	const char *id = task_id(t);
	if (c->dead) {
		p->n_discarded++;
	} else if (id) {
		struct buf b = BUF_INIT;
		struct json_error e;
		/* A lines worker's answer: JSON when it is JSON. */
		if (is_json || json_check(res, n, &e))
			json_minify(res, n, &b);
		else
			buf_add_json_string(&b, res, n);
		send_result(c, id, b.p, b.len);
		buf_release(&b);
	}
	task_done(c, slot);
}

static const char *reason_name(enum fail_reason r)
{
	switch (r) {
	case FR_ERROR:
		return "error";
	case FR_DIED:
		return "died";
	case FR_INTERRUPTED:
		return "interrupted";
	case FR_NO_WORKERS:
		return "no_workers";
	case FR_NOT_STARTED:
	case FR_OUTPUT:
		return "not_started";
	case FR_INPUT:
		return "invalid";
	}
	return "error";
}

static void conn_fail(struct client *cl, uint32_t slot, const char *why,
		      enum fail_kind kind, const struct fail_info *info)
{
	struct conn *c = (struct conn *)cl;
	struct pool *p = c->s->p;
	struct task *t = pool_task(p, slot);
	if (kind == FAIL_NOT_STARTED)
		p->n_not_started++;
	else
		p->n_failed++;
	const char *id = task_id(t);
	if (c->dead) {
		p->n_discarded++;
		task_done(c, slot);
		return;
	}
	if (!id) {
		task_done(c, slot);
		return;
	}
	struct worker *w = t->worker >= 0 ? p->w[t->worker] : NULL;
	struct buf data = BUF_INIT, msg = BUF_INIT;
	buf_addf(&data, "{\"reason\":\"%s\",\"attempts\":%u,\"worker\":",
		 reason_name(info->reason), (unsigned)t->attempts);
	if (w)
		buf_add_json_string(&data, w->label, strlen(w->label));
	else
		buf_adds(&data, "null");
	buf_adds(&data, ",\"error\":");
	int code = E_TASK;
	const struct answer *a = info->answer;
	if (info->reason == FR_ERROR && a) {
		/* The worker's own error: its code, message and data. */
		const struct rpc_msg *m = &a->msg;
		if (m->err_code.n)
			code = atoi_span(m->err_code.p, m->err_code.n, E_TASK);
		if (m->err_message.n && m->err_message.p[0] == '"')
			json_string_decode(m->err_message.p, m->err_message.n,
					   &msg);
		else
			buf_adds(&msg, why);
		if (m->err_data.n)
			json_minify(m->err_data.p, m->err_data.n, &data);
		else
			buf_adds(&data, "null");
	} else {
		buf_adds(&msg, why);
		buf_adds(&data, "null");
	}
	buf_addc(&data, '}');
	buf_addc(&data, '\0');
	buf_addc(&msg, '\0');
	send_error(c, id, code, msg.p, data.p);
	buf_release(&data);
	buf_release(&msg);
	task_done(c, slot);
}

/* --- The spawn handshake and add_worker ----------------------------- */

static void waiter_free(struct waiter *wt)
{
	free(wt->id);
	wt->id = NULL;
}

static bool startup_over(struct serve *s)
{
	struct pool *p = s->p;
	for (size_t i = 0; i < s->initial; i++) {
		struct worker *w = p->w[i];
		if (!w->came_up && w->state != WS_GIVEN_UP &&
		    w->state != WS_STOPPED)
			return false;
	}
	return true;
}

static void answer_spawn(struct serve *s, struct waiter *wt)
{
	struct pool *p = s->p;
	struct buf b = BUF_INIT;
	size_t up = 0;
	buf_addc(&b, '[');
	for (size_t i = 0; i < s->initial; i++) {
		struct worker *w = p->w[i];
		if (!w->came_up)
			continue;
		buf_adds(&b, up++ ? ",{\"worker\":" : "{\"worker\":");
		buf_add_json_string(&b, w->label, strlen(w->label));
		buf_adds(&b, ",\"result\":");
		buf_adds(&b, w->spawn_result ? w->spawn_result : "null");
		buf_addc(&b, '}');
	}
	buf_addc(&b, ']');
	if (up || !s->initial) {
		send_result(wt->conn, wt->id, b.p, b.len);
	} else {
		buf_reset(&b);
		buf_adds(&b, "{\"workers\":[");
		for (size_t i = 0; i < s->initial; i++) {
			struct worker *w = p->w[i];
			const char *why = s->spawn_err[i] ? s->spawn_err[i]
							  : "did not start";
			buf_adds(&b, i ? ",{\"worker\":" : "{\"worker\":");
			buf_add_json_string(&b, w->label, strlen(w->label));
			buf_adds(&b, ",\"error\":");
			buf_add_json_string(&b, why, strlen(why));
			buf_addc(&b, '}');
		}
		buf_adds(&b, "]}");
		buf_addc(&b, '\0');
		send_error(wt->conn, wt->id, E_NO_WORKER, "no worker came up",
			   b.p);
	}
	buf_release(&b);
}

static void on_worker(void *ctx, struct worker *w, bool up, const char *why)
{
	struct serve *s = ctx;
	if ((size_t)w->index < s->initial && !up && why) {
		free(s->spawn_err[w->index]);
		s->spawn_err[w->index] = xstrdup(why);
	}
	for (size_t i = 0; i < s->nadd_wait; i++) {
		struct waiter *wt = &s->add_wait[i];
		if (wt->w != w)
			continue;
		struct buf b = BUF_INIT;
		buf_adds(&b, "{\"worker\":");
		buf_add_json_string(&b, w->label, strlen(w->label));
		if (up) {
			buf_adds(&b, ",\"result\":");
			buf_adds(&b,
				 w->spawn_result ? w->spawn_result : "null");
			buf_addc(&b, '}');
			send_result(wt->conn, wt->id, b.p, b.len);
		} else {
			buf_adds(&b, ",\"reason\":");
			const char *r = why ? why : "did not start";
			buf_add_json_string(&b, r, strlen(r));
			buf_addc(&b, '}');
			buf_addc(&b, '\0');
			char *m = strncmp(r, "spawn failed: ", 14) == 0
					  ? xstrdup(r)
					  : xasprintf("spawn failed: %s", r);
			send_error(wt->conn, wt->id, E_SPAWN, m, b.p);
			free(m);
		}
		buf_release(&b);
		waiter_free(wt);
		s->add_wait[i] = s->add_wait[--s->nadd_wait];
		break;
	}
	if (!s->started && startup_over(s)) {
		s->started = true;
		for (size_t i = 0; i < s->nspawn_wait; i++) {
			answer_spawn(s, &s->spawn_wait[i]);
			waiter_free(&s->spawn_wait[i]);
		}
		s->nspawn_wait = 0;
	}
}

static void waiter_add(struct waiter **v, size_t *n, struct conn *c,
		       const char *id, struct worker *w)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = (struct waiter){c, xstrdup(id ? id : "null"), w};
	(*n)++;
}

/* --- Requests ------------------------------------------------------- */

struct req {
	struct span jsonrpc, id, method, params;
	bool has_jsonrpc, has_id, has_method, has_params;
};

static bool key_is(struct span k, const char *name)
{
	return k.n == strlen(name) && memcmp(k.p, name, k.n) == 0;
}

static void req_member(void *ctx, struct span key, struct span val)
{
	struct req *r = ctx;
	if (key_is(key, "jsonrpc")) {
		r->jsonrpc = val;
		r->has_jsonrpc = true;
	} else if (key_is(key, "id")) {
		r->id = val;
		r->has_id = true;
	} else if (key_is(key, "method")) {
		r->method = val;
		r->has_method = true;
	} else if (key_is(key, "params")) {
		r->params = val;
		r->has_params = true;
	}
}

static bool span_is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static void do_execute(struct conn *c, const char *id, size_t id_n,
		       const struct req *r)
{
	struct serve *s = c->s;
	struct pool *p = s->p;
	struct span task, more;
	if (!r->has_params || r->params.p[0] != '[' ||
	    !json_element(r->params.p, r->params.n, 0, &task) ||
	    json_element(r->params.p, r->params.n, 1, &more)) {
		send_error(c, id, E_PARAMS,
			   "execute takes one task: \"params\": [TASK]", NULL);
		return;
	}
	if (s->shutting_down || p->stop == STOP_SIGNAL) {
		send_error(c, id, E_SHUTDOWN, "shutting down", NULL);
		return;
	}
	uint64_t key = id ? id_key(id, id_n) : 0;
	if (id && idmap_get(&c->ids, key) != IDMAP_NONE) {
		send_error(c, id, E_INVALID,
			   "duplicate id: a request with this id is still in "
			   "flight",
			   NULL);
		return;
	}
	uint32_t slot = pool_task_new(p, &c->c);
	struct task *t = pool_task(p, slot);
	t->seq = ++p->n_read;
	buf_add(&t->data, task.p, task.n);
	if (id) {
		buf_add(&t->held, id, id_n);
		idmap_put(&c->ids, key, slot);
	}
	c->inflight++;
	bool none = true;
	for (size_t i = 0; i < p->nw && none; i++)
		if (p->w[i]->state != WS_GIVEN_UP)
			none = false;
	if (none) {
		/* A template pool before its first spawn, or every worker
		 * given up. */
		struct fail_info info = {FR_NO_WORKERS, NULL};
		p->n_no_workers++;
		t->state = T_DONE;
		conn_fail(&c->c, slot,
			  "no workers (add one with add_worker, or spawn)",
			  FAIL_QUIET, &info);
		return;
	}
	pool_submit(p, slot);
}

/* A notification is never answered, not even with an error: the server's
 * log says what was wrong with it. */
static void refuse_worker(struct conn *c, const char *id, int code,
			  const char *msg, const char *data)
{
	if (id)
		send_error(c, id, code, msg, data);
	else
		log_error("client %d: add_worker (a notification, not "
			  "answered): %s",
			  c->num, msg);
}

static void do_add_worker(struct conn *c, const char *id, const struct req *r)
{
	struct serve *s = c->s;
	struct pool *p = s->p;
	if (!r->has_params || r->params.p[0] != '{') {
		refuse_worker(c, id, E_PARAMS,
			   "add_worker takes a worker spec object (as in a "
			   "pool config)",
			   NULL);
		return;
	}
	if (s->shutting_down || p->stop != STOP_NONE) {
		refuse_worker(c, id, E_SHUTDOWN, "shutting down", NULL);
		return;
	}
	const struct worker_spec *tmpl =
		p->cfg.nspecs == 1 ? &p->cfg.specs[0] : NULL;
	struct worker_spec *spec = xcalloc(1, sizeof(*spec));
	struct buf err = BUF_INIT;
	if (config_spec_from_json(&p->cfg, tmpl, r->params.p, r->params.n, spec,
				  &err) != 0) {
		buf_addc(&err, '\0');
		refuse_worker(c, id, E_PARAMS, err.p, NULL);
		buf_release(&err);
		free(spec);
		return;
	}
	buf_release(&err);
	struct worker *w = pool_add_worker(p, spec);
	if (!id)
		return;
	if (w->came_up || w->state == WS_GIVEN_UP) {
		/* Decided at once (a program that cannot be run): the hook
		 * had no waiter yet. */
		waiter_add(&s->add_wait, &s->nadd_wait, c, id, w);
		on_worker(s, w, w->came_up,
			  w->fault_msg ? w->fault_msg : "cannot be started");
		return;
	}
	waiter_add(&s->add_wait, &s->nadd_wait, c, id, w);
}

static void do_stats(struct conn *c, const char *id)
{
	struct pool *p = c->s->p;
	struct buf b = BUF_INIT;
	stats_json(p, &p->hist, mono_now() - p->t_start, &b);
	send_result(c, id, b.p, b.len);
	buf_release(&b);
}

/* One request (valid JSON). */
static void handle_request(struct conn *c, const char *line, size_t n)
{
	struct serve *s = c->s;
	struct req r;
	memset(&r, 0, sizeof(r));
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == n || line[i] != '{' ||
	    json_object_each(line, n, req_member, &r)) {
		send_error(c, NULL, E_INVALID,
			   "Invalid Request: not a request object", NULL);
		return;
	}
	/* The id as written (compact), or NULL for a notification. */
	struct buf idb = BUF_INIT;
	const char *id = NULL;
	if (r.has_id) {
		char c0 = r.id.p[0];
		if (c0 == '{' || c0 == '[' || c0 == 't' || c0 == 'f') {
			send_error(c, NULL, E_INVALID,
				   "Invalid Request: an id is a number, a "
				   "string or null",
				   NULL);
			return;
		}
		json_minify(r.id.p, r.id.n, &idb);
		buf_addc(&idb, '\0');
		id = idb.p;
	}
	if (!r.has_jsonrpc || !span_is(r.jsonrpc, "\"2.0\"") || !r.has_method ||
	    r.method.p[0] != '"') {
		send_error(c, id, E_INVALID,
			   "Invalid Request: \"jsonrpc\": \"2.0\" and a "
			   "\"method\" string are required",
			   NULL);
		goto out;
	}
	if (span_is(r.method, "\"execute\"")) {
		do_execute(c, id, id ? idb.len - 1 : 0, &r);
	} else if (!id && span_is(r.method, "\"shutdown\"")) {
		if (!s->shutting_down) {
			s->shutting_down = true;
			pool_stop(s->p, STOP_EOF);
		}
	} else if (!id && span_is(r.method, "\"add_worker\"")) {
		do_add_worker(c, NULL, &r);
	} else if (!id) {
	} else if (span_is(r.method, "\"spawn\"")) {
		/* params: what a parent spool sends (its spec's spawn
		 * value, {} by default) is not looked at: workers get their
		 * own spawn values from this pool's config. */
		if (s->started) {
			struct waiter wt = {c, (char *)id, NULL};
			answer_spawn(s, &wt);
		} else {
			waiter_add(&s->spawn_wait, &s->nspawn_wait, c, id,
				   NULL);
		}
	} else if (span_is(r.method, "\"add_worker\"")) {
		do_add_worker(c, id, &r);
	} else if (span_is(r.method, "\"stats\"")) {
		do_stats(c, id);
	} else if (span_is(r.method, "\"shutdown\"")) {
		if (s->shutting_down) {
			send_result(c, id, "null", 4);
		} else {
			s->shutting_down = true;
			s->shutdown = (struct waiter){c, xstrdup(id), NULL};
			pool_stop(s->p, STOP_EOF);
		}
	} else {
		struct buf m = BUF_INIT;
		buf_adds(&m, "Method not found: ");
		buf_add(&m, r.method.p, MIN(r.method.n, 80));
		buf_addc(&m, '\0');
		send_error(c, id, E_METHOD, m.p, NULL);
		buf_release(&m);
	}
out:
	buf_release(&idb);
}

/* One line from a client: a request, or a JSON-RPC batch of them (what a
 * batching parent spool sends).  A batch's answers come one a line, as
 * each completes (SPEC 11 lets a worker answer a batch so). */
static void handle_line(struct conn *c, const char *line, size_t n)
{
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == n)
		return; /* a blank line */
	struct json_error je;
	if (!json_check(line, n, &je)) {
		send_error(c, NULL, E_PARSE, "Parse error", NULL);
		return;
	}
	if (line[i] != '[') {
		handle_request(c, line, n);
		return;
	}
	size_t max = n / 2 + 1;
	struct span *el = xcalloc(max, sizeof(*el));
	long k = json_elements(line, n, el, max);
	if (k <= 0)
		send_error(c, NULL, E_INVALID,
			   "Invalid Request: an empty batch", NULL);
	for (long j = 0; j < k; j++)
		handle_request(c, el[j].p, el[j].n);
	free(el);
}

/* --- Connections ---------------------------------------------------- */

static void on_conn_read(void *ctx, int fd, int revents)
{
	struct conn *c = ctx;
	(void)fd;
	if (revents & POLLHUP && c->rfd == c->wfd)
		c->hup = true;
	c->readable = true;
}

static void on_conn_write(void *ctx, int fd, int revents)
{
	struct conn *c = ctx;
	(void)fd;
	(void)revents;
	(void)output_flush(&c->out);
}

static bool conn_may_dispatch(struct client *cl, uint32_t slot)
{
	(void)cl;
	(void)slot;
	return true;
}

static void conn_describe(struct client *cl, uint32_t slot, struct buf *out)
{
	struct conn *c = (struct conn *)cl;
	struct task *t = pool_task(c->s->p, slot);
	const char *id = task_id(t);
	buf_addf(out, "of client %d (id %s)", c->num, id ? id : "none");
}

static const struct client_ops conn_ops = {
	.ok = conn_ok,
	.fail = conn_fail,
	.describe = conn_describe,
	.may_dispatch = conn_may_dispatch,
};

static struct conn *conn_new(struct serve *s, int rfd, int wfd)
{
	struct pool *p = s->p;
	struct conn *c = xcalloc(1, sizeof(*c));
	client_init(&c->c, p, &conn_ops);
	c->s = s;
	c->num = ++s->nconns_ever;
	c->rfd = rfd;
	c->wfd = wfd;
	fd_set_nonblock(rfd, true);
	linebuf_init(&c->in, SPOOL_LINE_MAX);
	c->in.final_partial = true;
	output_init(&c->out, wfd);
	idmap_init(&c->ids);
	c->r_watch = loop_add(&p->loop, rfd, POLLIN, on_conn_read, c);
	c->w_watch =
		rfd == wfd ? -1 : loop_add(&p->loop, wfd, 0, on_conn_write, c);
	c->next = s->conns;
	s->conns = c;
	p->n_clients++;
	log_verbose("client %d connected", c->num);
	return c;
}

/* The peer is gone: its queued tasks are dropped, its tasks in flight
 * finish and their answers are dropped. */
static void conn_lost(struct conn *c, const char *why)
{
	struct pool *p = c->s->p;
	if (c->dead)
		return;
	c->dead = true;
	c->eof = true;
	p->n_disconnected++;
	buf_reset(&c->out.b);
	uint32_t slot;
	while (c->c.queue.len) {
		slot = idq_pop_front(&c->c.queue);
		p->n_discarded++;
		pool_unqueued(p, slot);
		task_done(c, slot);
	}
	log_verbose("client %d %s", c->num, why);
}

static void conn_free(struct serve *s, struct conn *c)
{
	struct pool *p = s->p;
	for (struct conn **pc = &s->conns; *pc; pc = &(*pc)->next)
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	if (s->turn == c)
		s->turn = NULL;
	/* Waiters of a client that is gone answer nobody. */
	for (size_t i = s->nspawn_wait; i-- > 0;)
		if (s->spawn_wait[i].conn == c) {
			waiter_free(&s->spawn_wait[i]);
			s->spawn_wait[i] = s->spawn_wait[--s->nspawn_wait];
		}
	for (size_t i = s->nadd_wait; i-- > 0;)
		if (s->add_wait[i].conn == c) {
			waiter_free(&s->add_wait[i]);
			s->add_wait[i] = s->add_wait[--s->nadd_wait];
		}
	if (s->shutdown.conn == c)
		s->shutdown.conn = NULL;
	if (c->r_watch >= 0)
		loop_del(&p->loop, c->r_watch);
	if (c->w_watch >= 0)
		loop_del(&p->loop, c->w_watch);
	output_release(&c->out);
	if (c->rfd > 2)
		close(c->rfd);
	if (c->wfd > 2 && c->wfd != c->rfd)
		close(c->wfd);
	linebuf_release(&c->in);
	idmap_release(&c->ids);
	client_release(&c->c);
	log_verbose("client %d closed", c->num);
	free(c);
}

/* Read this client's requests, as far as the window and its turn go. */
static void conn_read(struct conn *c)
{
	struct pool *p = c->s->p;
	if (c->hup && !c->dead) {
		/* Gone for good (not a half-close): what it sent is moot. */
		conn_lost(c, "disconnected");
		return;
	}
	for (int k = 0; k < READS_PER_TURN && !c->dead && !c->closing; k++) {
		if (!pool_has_room(p) || buf_used(&c->out.b) > CONN_OUT_HIGH)
			return;
		const char *line;
		size_t n;
		enum linebuf_result r = linebuf_next(&c->in, &line, &n);
		if (r == LB_LINE) {
			handle_line(c, line, n);
			continue;
		}
		if (r == LB_TOOLONG) {
			send_error(c, NULL, E_INVALID,
				   "Invalid Request: a line longer than 64 "
				   "MiB; closing the connection",
				   NULL);
			c->closing = true;
			c->eof = true;
			return;
		}
		if (c->eof || !c->readable)
			return;
		c->readable = false;
		ssize_t got = linebuf_fill(&c->in, c->rfd, 0);
		if (got == 0 && c->hup) {
			conn_lost(c, "disconnected");
		} else if (got == 0) {
			c->eof = true;
			log_verbose("client %d: end of its requests", c->num);
		} else if (got < 0 && errno != EAGAIN) {
			conn_lost(c, "read error");
		} else if (got > 0) {
			c->readable = true; /* there may be more */
		}
	}
}

/* --- The listener: the serve's own client --------------------------- */

static void on_accept(void *ctx, int fd, int revents)
{
	struct serve *s = ctx;
	(void)revents;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		if (s->shutting_down || s->p->phase != PH_RUN) {
			close(cfd);
			continue;
		}
		(void)conn_new(s, cfd, cfd);
	}
}

static void serve_pump(struct client *cl)
{
	struct serve *s = (struct serve *)cl;
	/* Take turns: the first read this time is the next one's. */
	struct conn *start =
		s->turn && s->turn->next ? s->turn->next : s->conns;
	s->turn = start;
	for (struct conn *c = start; c; c = c->next)
		conn_read(c);
	for (struct conn *c = s->conns; c && c != start; c = c->next)
		conn_read(c);
}

static void serve_flush(struct client *cl)
{
	struct serve *s = (struct serve *)cl;
	struct pool *p = s->p;
	if (s->shutting_down && s->shutdown.id && p->ts.used == 0) {
		if (s->shutdown.conn)
			send_result(s->shutdown.conn, s->shutdown.id, "null",
				    4);
		waiter_free(&s->shutdown);
	}
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (!c->dead && output_pending(&c->out)) {
			(void)output_flush(&c->out);
			if (c->out.broken || c->out.err)
				conn_lost(c, "went away (its answers could "
					     "not be written)");
		}
		bool owed = output_pending(&c->out);
		if ((c->dead || c->eof) && !c->inflight && !c->c.queue.len &&
		    (!owed || c->dead)) {
			/* The stdin client: its end is spool's end. */
			if (c->rfd == 0 && !s->shutting_down) {
				s->shutting_down = true;
				pool_stop(p, STOP_EOF);
			}
			conn_free(s, c);
		}
	}
}

static bool serve_prepare(struct client *cl, double *deadline)
{
	struct serve *s = (struct serve *)cl;
	struct pool *p = s->p;
	(void)deadline;
	bool room = pool_has_room(p);
	bool busy = false;
	for (struct conn *c = s->conns; c; c = c->next) {
		bool open = !c->dead && !c->eof && !c->closing;
		bool want = room && open &&
			    buf_used(&c->out.b) <= CONN_OUT_HIGH;
		short ev = open && !c->readable ? POLLIN : 0;
		bool owed = !c->dead && output_pending(&c->out);
		if (c->w_watch >= 0) {
			loop_set(&p->loop, c->w_watch, owed ? POLLOUT : 0);
		} else if (owed) {
			ev |= POLLOUT;
		}
		loop_set(&p->loop, c->r_watch, ev);
		/* Lines already read, or readable: go on now. */
		if (want && (c->readable || linebuf_pending(&c->in)))
			busy = true;
	}
	if (s->l_watch >= 0)
		loop_set(&p->loop, s->l_watch,
			 s->shutting_down || p->phase != PH_RUN ? 0 : POLLIN);
	return !busy;
}

static const struct client_ops serve_ops = {
	.pump = serve_pump,
	.flush = serve_flush,
	.prepare = serve_prepare,
};

/* --- The socket ----------------------------------------------------- */

static int listen_on(struct serve *s, const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("--listen %s: the path is too long for a Unix "
			  "socket (at most %zu bytes)",
			  path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("--listen %s: it exists and is not a socket; "
				  "give another path",
				  path);
			return -1;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			log_error("--listen %s: a server is listening there "
				  "already; stop it, or give another path",
				  path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		/* Stale: left by a server that is gone. */
		if (unlink(path) != 0) {
			log_error("--listen %s: cannot remove the stale "
				  "socket: %s",
				  path, strerror(errno));
			return -1;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("--listen %s: %s", path, strerror(errno));
		return -1;
	}
	/* Owner only, from the moment it exists. */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(fd, 128) != 0) {
		log_error("--listen %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	(void)chmod(path, 0600);
	s->lfd = fd;
	s->made_socket = true;
	s->l_watch = loop_add(&s->p->loop, fd, POLLIN, on_accept, s);
	return 0;
}

/* --- The run -------------------------------------------------------- */

int serve_setup(struct serve_ctx *sc, struct pool *p,
		const struct spool_opts *o)
{
	struct serve *s = xcalloc(1, sizeof(*s));
	sc->s = s;
	s->p = p;
	s->o = o;
	s->lfd = s->l_watch = -1;
	client_init(&s->c, p, &serve_ops);
	s->initial = p->nw;
	s->spawn_err = xcalloc(p->nw ? p->nw : 1, sizeof(char *));
	s->started = p->nw == 0;
	p->serving = true;
	p->stats_on = true; /* the stats method reports latencies */
	p->recording = true;
	p->on_worker = on_worker;
	p->hook_ctx = s;
	if (o->listen_path) {
		s->path = o->listen_path;
		if (listen_on(s, o->listen_path) != 0)
			return SPOOL_EXIT_USAGE;
	} else {
		(void)conn_new(s, 0, 1);
	}
	return 0;
}

/* After the loop: answers still owed get a moment. */
void serve_finish(struct serve_ctx *sc)
{
	struct serve *s = sc->s;
	double until = mono_now() + CONN_DRAIN;
	for (struct conn *c = s->conns; c; c = c->next) {
		while (!c->dead && !output_flush(&c->out) && !c->out.broken &&
		       !c->out.err) {
			double left = until - mono_now();
			if (left <= 0)
				break;
			struct pollfd pfd = {c->wfd, POLLOUT, 0};
			(void)poll(&pfd, 1, (int)(left * 1000) + 1);
		}
	}
}

void serve_release(struct serve_ctx *sc)
{
	struct serve *s = sc->s;
	if (!s)
		return;
	struct pool *p = s->p;
	while (s->conns) {
		s->conns->inflight = 0;
		conn_free(s, s->conns);
	}
	if (s->l_watch >= 0)
		loop_del(&p->loop, s->l_watch);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->made_socket)
		(void)unlink(s->path);
	for (size_t i = 0; i < s->nspawn_wait; i++)
		waiter_free(&s->spawn_wait[i]);
	for (size_t i = 0; i < s->nadd_wait; i++)
		waiter_free(&s->add_wait[i]);
	free(s->spawn_wait);
	free(s->add_wait);
	waiter_free(&s->shutdown);
	for (size_t i = 0; i < s->initial; i++)
		free(s->spawn_err[i]);
	free(s->spawn_err);
	client_release(&s->c);
	free(s);
	sc->s = NULL;
}
