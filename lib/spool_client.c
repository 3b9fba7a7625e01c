/* spool_client.c - the C client of `spool serve` (see spool_client.h).
 *
 * No thread of ours reads in the background (leader/follower).  Of the
 * threads blocked in a call, one at a time leads: it polls the socket,
 * writes what is queued, reads answers and hands each to its waiting
 * thread (a condition variable per thread) or runs its callback.  When
 * the leader's own wait is over it wakes one follower, which leads next.
 * One mutex guards the client, except the read buffer, which only the
 * leader touches; the leader lets go of the mutex only to poll, to read
 * and to run callbacks. */
#define _GNU_SOURCE
#include "spool_client.h"
#include "idmap.h"
#include "jsonscan.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CLIENT_READ_CHUNK ((size_t)64 << 10)
/* An answer is a worker's result (at most SPOOL_LINE_MAX) in an envelope:
 * anything far longer is a broken server, not a result. */
#define CLIENT_LINE_MAX (2 * SPOOL_LINE_MAX)
/* How long a private server that lost its connection has to exit before
 * the message about it is written without its exit status. */
#define CLIENT_LOST_WAIT_MS 2000
/* At close: how long the server has to exit, then again after SIGTERM
 * (it drains its tasks in flight for 5 s), before SIGKILL. */
#define CLIENT_EXIT_WAIT_MS 10000

/* A thread blocked in a call. */
struct waiter {
	pthread_cond_t cv;
	struct waiter *prev, *next; /* in the sleeping list */
	bool polling; /* waits for callbacks, not for one answer */
};

/* A request sent and not yet answered (or answered, callback not yet run). */
struct pending {
	uint64_t id;
	int status; /* 0, 1 or -1, once answered */
	char *json; /* the result, the error object or a message */
	bool done;  /* a blocking call's answer has come */
	struct waiter *w;
	spool_client_cb cb; /* NULL for a blocking call */
	void *ctx;
	struct pending *next; /* in the ready list */
};

struct spool_client {
	pthread_mutex_t mu;
	int fd;
	int wakefd; /* eventfd: the leader has more to send, or must stop */
	pid_t pid;  /* the private server, or -1 */
	int pidfd;  /* the private server's, or -1 */
	bool reaped;
	int exit_status; /* waitpid's, once reaped; -1 if someone else reaped */

	uint64_t next_id;
	struct idmap ids; /* request id -> index in slots */
	struct pending **slots;
	uint32_t *free_slots;
	uint32_t nslots, nfree, cap;

	struct buf out; /* requests not yet written */
	int write_err;  /* errno of a failed write, for the leader to report */
	struct buf in;  /* answers read and not yet handled: the leader's */
	size_t in_scan; /* bytes of in already searched for a newline */
	struct pending *ready, **ready_tail; /* callbacks due, in order */
	size_t cb_outstanding; /* submitted, callback not yet run */

	bool leading;
	pthread_t leader;
	struct waiter *sleep_head, *sleep_tail;
	char *dead; /* why the connection failed; NULL while it works */
};

static void set_err(char **err, char *msg)
{
	if (err)
		*err = msg;
	else
		free(msg);
}

/* pidfd_open(2) without needing a libc that wraps it: a private server's
 * exit becomes something to poll with a timeout. */
static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0); /* close-on-exec */
	if (fd >= 0)
		return (int)fd;
#else
	(void)pid;
#endif
	return -1;
}

static struct spool_client *client_new(int fd, char **err)
{
	int wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wakefd < 0) {
		set_err(err, xasprintf("spool client: eventfd: %s",
				       strerror(errno)));
		return NULL;
	}
	struct spool_client *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->fd = fd;
	c->wakefd = wakefd;
	c->pid = -1;
	c->pidfd = -1;
	idmap_init(&c->ids);
	c->cap = 64;
	c->slots = xcalloc(c->cap, sizeof(*c->slots));
	c->free_slots = xcalloc(c->cap, sizeof(*c->free_slots));
	c->ready_tail = &c->ready;
	return c;
}

static void client_free(struct spool_client *c)
{
	/* Nothing is left in normal use; free what a failure left behind. */
	for (uint32_t s = 0; s < c->nslots; s++)
		if (c->slots[s] && c->slots[s]->cb)
			free(c->slots[s]);
	while (c->ready) {
		struct pending *p = c->ready;
		c->ready = p->next;
		free(p->json);
		free(p);
	}
	idmap_release(&c->ids);
	free(c->slots);
	free(c->free_slots);
	buf_release(&c->out);
	buf_release(&c->in);
	free(c->dead);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void pending_add(struct spool_client *c, struct pending *p)
{
	uint32_t s;
	if (c->nfree) {
		s = c->free_slots[--c->nfree];
	} else {
		if (c->nslots == c->cap) {
			c->cap *= 2;
			c->slots =
				xrealloc(c->slots, c->cap * sizeof(*c->slots));
			c->free_slots = xrealloc(
				c->free_slots, c->cap * sizeof(*c->free_slots));
		}
		s = c->nslots++;
	}
	p->id = ++c->next_id;
	c->slots[s] = p;
	idmap_put(&c->ids, p->id, s);
}

static struct pending *pending_take(struct spool_client *c, uint64_t id)
{
	uint32_t s = idmap_get(&c->ids, id);
	if (s == IDMAP_NONE)
		return NULL;
	idmap_del(&c->ids, id);
	struct pending *p = c->slots[s];
	c->slots[s] = NULL;
	c->free_slots[c->nfree++] = s;
	return p;
}

static void wake_leader(struct spool_client *c)
{
	uint64_t one = 1;
	(void)!write(c->wakefd, &one, sizeof(one));
}

static bool is_leader(struct spool_client *c)
{
	return c->leading && pthread_equal(c->leader, pthread_self());
}

/* An answer has come (or never will): wake its thread or queue its
 * callback for the leader to run. */
static void pending_finish(struct spool_client *c, struct pending *p)
{
	if (p->cb) {
		p->next = NULL;
		*c->ready_tail = p;
		c->ready_tail = &p->next;
		return;
	}
	p->done = true;
	pthread_cond_signal(&p->w->cv);
}

/* The connection is lost for good: fail every request, wake everyone.
 * Only the leader calls it (others leave a write error for it). */
static void client_fail(struct spool_client *c, char *msg)
{
	if (c->dead) {
		free(msg);
		return;
	}
	c->dead = msg;
	buf_reset(&c->out);
	for (uint32_t s = 0; s < c->nslots; s++) {
		struct pending *p = c->slots[s];
		if (!p)
			continue;
		pending_take(c, p->id);
		p->status = -1;
		p->json = xstrdup(msg);
		pending_finish(c, p);
	}
	for (struct waiter *w = c->sleep_head; w; w = w->next)
		pthread_cond_signal(&w->cv);
}

/* Milliseconds to the deadline (seconds on the monotonic clock; < 0:
 * none), rounded up; -1 for none. */
static int ms_left(double deadline)
{
	if (deadline < 0)
		return -1;
	double left = (deadline - mono_now()) * 1e3;
	if (left <= 0)
		return 0;
	return left >= INT_MAX ? INT_MAX : (int)left + 1;
}

/* Wait up to ms for the private server to exit and reap it.  Called
 * without the mutex, by the leader or by close. */
static bool child_wait(struct spool_client *c, int ms, int *status)
{
	double end = mono_now() + ms / 1e3;
	for (;;) {
		if (c->pidfd >= 0) {
			struct pollfd pf = {c->pidfd, POLLIN, 0};
			(void)poll(&pf, 1, MAX(0, ms_left(end)));
		}
		pid_t r = waitpid(c->pid, status, WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* The host reaps children itself (or ignores
			 * SIGCHLD): the server is gone, its status unknown. */
			*status = -1;
			return true;
		}
		if (r == c->pid)
			return true;
		if (ms_left(end) == 0)
			return false;
		if (c->pidfd < 0) {
			/* No pidfd (Linux < 5.3, valgrind): look again soon. */
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
}

static void describe_status(struct buf *b, pid_t pid, int st)
{
	buf_addf(b, "spool serve (pid %ld) ", (long)pid);
	if (st == -1)
		buf_adds(b, "has exited");
	else if (WIFSIGNALED(st))
		buf_addf(b, "was killed by signal %d (SIG%s)", WTERMSIG(st),
			 signal_name(WTERMSIG(st)));
	else
		buf_addf(b, "exited with status %d", WEXITSTATUS(st));
}

/* The socket broke (what: why): for a private server, say how it ended. */
static void client_lost(struct spool_client *c, const char *what)
{
	if (c->pid > 0 && !c->reaped) {
		int st;
		pthread_mutex_unlock(&c->mu);
		bool gone = child_wait(c, CLIENT_LOST_WAIT_MS, &st);
		pthread_mutex_lock(&c->mu);
		if (gone) {
			c->reaped = true;
			c->exit_status = st;
		}
	}
	struct buf b = BUF_INIT;
	buf_adds(&b, "connection to spool serve lost: ");
	if (c->pid > 0 && c->reaped)
		describe_status(&b, c->pid, c->exit_status);
	else
		buf_adds(&b, what);
	buf_addc(&b, '\0');
	client_fail(c, b.p);
}

/* Write what is queued, as far as the socket takes it now.  Never
 * blocks, so any thread may call it under the mutex. */
static void client_flush(struct spool_client *c)
{
	while (!c->dead && !c->write_err && buf_used(&c->out)) {
		ssize_t r = send(c->fd, buf_data(&c->out), buf_used(&c->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0) {
			/* The leader reports it: it can wait to learn how
			 * the server ended without holding others up. */
			c->write_err = errno;
			buf_reset(&c->out);
			if (c->leading && !is_leader(c))
				wake_leader(c);
			return;
		}
		buf_consume(&c->out, (size_t)r);
	}
}

static void add_snippet(struct buf *b, const char *s, size_t n)
{
	size_t show = MIN(n, 200);
	buf_add_json_string(b, s, show);
	if (show < n)
		buf_addf(b, " (%zu bytes in all)", n);
}

static void handle_answer(struct spool_client *c, const char *s, size_t n)
{
	struct rpc_msg m;
	const char *why = rpc_parse(s, n, &m);
	if (why) {
		struct buf b = BUF_INIT;
		buf_addf(&b,
			 "spool serve sent a line that is not a JSON-RPC "
			 "answer (%s): ",
			 why);
		add_snippet(&b, s, n);
		buf_addc(&b, '\0');
		client_fail(c, b.p);
		return;
	}
	struct pending *p = m.id != UINT64_MAX ? pending_take(c, m.id) : NULL;
	if (!p) {
		/* Our ids are numbers: an error with another id (null) is
		 * about a line of ours the server could not read, and we
		 * cannot tell whose. */
		if (m.has_error && m.id == UINT64_MAX) {
			struct buf b = BUF_INIT;
			buf_adds(&b, "spool serve refused a request: ");
			if (m.err_message.n && m.err_message.p[0] == '"')
				json_string_decode(m.err_message.p,
						   m.err_message.n, &b);
			else
				add_snippet(&b, m.error.p, m.error.n);
			buf_addc(&b, '\0');
			client_fail(c, b.p);
		}
		return;
	}
	if (m.has_result) {
		p->status = 0;
		p->json = xstrndup(m.result.p, m.result.n);
	} else {
		p->status = 1;
		p->json = xstrndup(m.error.p, m.error.n);
	}
	pending_finish(c, p);
}

static void handle_lines(struct spool_client *c)
{
	const char *s = buf_data(&c->in);
	size_t n = buf_used(&c->in), start = 0;
	while (!c->dead) {
		const char *nl = memchr(s + c->in_scan, '\n', n - c->in_scan);
		if (!nl) {
			c->in_scan = n - start;
			break;
		}
		size_t end = (size_t)(nl - s);
		handle_answer(c, s + start, end - start);
		start = end + 1;
		c->in_scan = start;
	}
	buf_consume(&c->in, start);
	if (c->dead) {
		c->in_scan = 0;
		return;
	}
	if (buf_used(&c->in) > CLIENT_LINE_MAX)
		client_fail(c, xasprintf("spool serve sent a line over %zu "
					 "bytes",
					 CLIENT_LINE_MAX));
}

/* One turn of the leader: write, wait for the socket, read, hand out the
 * answers.  Called and returns with the mutex held. */
static void lead_round(struct spool_client *c, int timeout_ms)
{
	client_flush(c);
	if (c->dead)
		return;
	if (c->write_err) {
		client_lost(c, strerror(c->write_err));
		return;
	}
	struct pollfd pf[2] = {
		{c->fd, (short)(POLLIN | (buf_used(&c->out) ? POLLOUT : 0)), 0},
		{c->wakefd, POLLIN, 0},
	};
	buf_reserve(&c->in, CLIENT_READ_CHUNK);
	pthread_mutex_unlock(&c->mu);

	int r = poll(pf, 2, timeout_ms);
	int poll_err = errno;
	bool readable = r > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR));
	ssize_t got = 0;
	int read_err = 0;
	if (r > 0 && pf[1].revents) {
		uint64_t v;
		(void)!read(c->wakefd, &v, sizeof(v));
	}
	if (readable) {
		do
			got = recv(c->fd, c->in.p + c->in.len,
				   c->in.cap - c->in.len, MSG_DONTWAIT);
		while (got < 0 && errno == EINTR);
		read_err = errno;
		if (got > 0)
			c->in.len += (size_t)got;
	}

	pthread_mutex_lock(&c->mu);
	if (r < 0 && poll_err != EINTR) {
		client_fail(c, xasprintf("spool client: poll: %s",
					 strerror(poll_err)));
		return;
	}
	if (got > 0)
		handle_lines(c);
	if (c->dead || !readable)
		return;
	if (got == 0)
		client_lost(c, "it closed the connection");
	else if (got < 0 && read_err != EAGAIN && read_err != EWOULDBLOCK)
		client_lost(c, strerror(read_err));
}

/* The leader runs callbacks with the mutex let go, one at a time. */
static void run_ready(struct spool_client *c)
{
	while (c->ready) {
		struct pending *p = c->ready;
		c->ready = p->next;
		if (!c->ready)
			c->ready_tail = &c->ready;
		pthread_mutex_unlock(&c->mu);
		p->cb(p->ctx, p->status, p->json);
		free(p->json);
		free(p);
		pthread_mutex_lock(&c->mu);
		if (--c->cb_outstanding == 0)
			for (struct waiter *w = c->sleep_head; w; w = w->next)
				if (w->polling)
					pthread_cond_signal(&w->cv);
	}
}

typedef bool (*done_fn)(struct spool_client *c, const void *arg);

static bool pending_done(struct spool_client *c, const void *arg)
{
	(void)c;
	return ((const struct pending *)arg)->done;
}

static bool callbacks_done(struct spool_client *c, const void *arg)
{
	(void)arg;
	return c->cb_outstanding == 0;
}

static void lead(struct spool_client *c, done_fn done, const void *arg,
		 double deadline)
{
	c->leading = true;
	c->leader = pthread_self();
	for (bool turned = false;; turned = true) {
		run_ready(c);
		if (done(c, arg) || c->dead)
			break;
		int ms = ms_left(deadline);
		if (ms == 0 && turned)
			break;
		lead_round(c, ms);
	}
	run_ready(c);
	c->leading = false;
}

static void waiter_init(struct waiter *w, bool polling)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &a);
	pthread_condattr_destroy(&a);
	w->prev = w->next = NULL;
	w->polling = polling;
}

static void waiter_sleep(struct spool_client *c, struct waiter *w,
			 double deadline)
{
	w->next = NULL;
	w->prev = c->sleep_tail;
	if (c->sleep_tail)
		c->sleep_tail->next = w;
	else
		c->sleep_head = w;
	c->sleep_tail = w;
	if (deadline < 0) {
		pthread_cond_wait(&w->cv, &c->mu);
	} else {
		struct timespec ts;
		ts.tv_sec = (time_t)deadline;
		ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_nsec = 999999999L;
		pthread_cond_timedwait(&w->cv, &c->mu, &ts);
	}
	if (w->prev)
		w->prev->next = w->next;
	else
		c->sleep_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		c->sleep_tail = w->prev;
}

/* Wait, with the mutex held, until done(arg) or the deadline; lead
 * whenever nobody does.  Returns done(arg). */
static bool client_wait(struct spool_client *c, struct waiter *w, done_fn done,
			const void *arg, double deadline)
{
	bool ok;
	for (;;) {
		if (done(c, arg)) {
			ok = true;
			break;
		}
		if (!c->leading) {
			lead(c, done, arg, deadline);
			ok = done(c, arg);
			break;
		}
		if (ms_left(deadline) == 0) {
			ok = false;
			break;
		}
		waiter_sleep(c, w, deadline);
	}
	/* Hand the reading on.  A thread woken for this may find its own
	 * wait over: it then passes the turn on in the same way. */
	if (!c->leading && c->sleep_head)
		pthread_cond_signal(&c->sleep_head->cv);
	return ok;
}

static const char *const callback_refusal =
	"spool client: a blocking call from inside a callback would wait "
	"for itself";

/* The request line up to its id, which is given under the mutex. */
static char *request_begin(struct buf *b, const char *method, const char *json,
			   bool wrap)
{
	buf_adds(b, "{\"jsonrpc\":\"2.0\",\"method\":");
	buf_add_json_string(b, method, strlen(method));
	if (json) {
		struct json_error e;
		size_t n = strlen(json);
		if (!json_check(json, n, &e))
			return xasprintf("spool client: %s is not valid JSON: "
					 "%s at byte %zu",
					 wrap ? "the task" : "params", e.why,
					 e.pos);
		buf_adds(b, wrap ? ",\"params\":[" : ",\"params\":");
		json_minify(json, n, b);
		if (wrap)
			buf_addc(b, ']');
	} else if (wrap) {
		return xstrdup("spool client: no task (NULL)");
	}
	buf_adds(b, ",\"id\":");
	return NULL;
}

static void request_send(struct spool_client *c, const struct buf *line,
			 uint64_t id)
{
	buf_add(&c->out, buf_data(line), buf_used(line));
	buf_addu64(&c->out, id);
	buf_add(&c->out, "}\n", 2);
	client_flush(c);
	if (buf_used(&c->out) && c->leading && !is_leader(c))
		wake_leader(c);
}

static int client_request(struct spool_client *c, const char *method,
			  const char *json, bool wrap, char **result,
			  char **error)
{
	if (result)
		*result = NULL;
	if (error)
		*error = NULL;
	if (!c || !method) {
		set_err(error, xstrdup("spool client: no client or method"));
		return -1;
	}
	struct buf line = BUF_INIT;
	char *why = request_begin(&line, method, json, wrap);
	if (why) {
		buf_release(&line);
		set_err(error, why);
		return -1;
	}
	struct pending p = {0};
	struct waiter w;
	waiter_init(&w, false);
	p.w = &w;

	pthread_mutex_lock(&c->mu);
	if (is_leader(c)) {
		p.status = -1;
		p.json = xstrdup(callback_refusal);
	} else if (c->dead) {
		p.status = -1;
		p.json = xstrdup(c->dead);
	} else {
		pending_add(c, &p);
		request_send(c, &line, p.id);
		client_wait(c, &w, pending_done, &p, -1);
	}
	pthread_mutex_unlock(&c->mu);

	pthread_cond_destroy(&w.cv);
	buf_release(&line);
	if (p.status == 0)
		set_err(result, p.json);
	else
		set_err(error, p.json);
	return p.status;
}

int spool_client_execute(struct spool_client *c, const char *task_json,
			 char **result, char **error)
{
	return client_request(c, "execute", task_json, true, result, error);
}

int spool_client_call(struct spool_client *c, const char *method,
		      const char *params_json, char **result, char **error)
{
	return client_request(c, method, params_json, false, result, error);
}

int spool_client_submit(struct spool_client *c, const char *task_json,
			spool_client_cb cb, void *ctx)
{
	if (!c || !cb) {
		errno = EINVAL;
		return -1;
	}
	struct buf line = BUF_INIT;
	char *why = request_begin(&line, "execute", task_json, true);
	if (why) {
		free(why);
		buf_release(&line);
		errno = EINVAL;
		return -1;
	}
	struct pending *p = xcalloc(1, sizeof(*p));
	p->cb = cb;
	p->ctx = ctx;

	pthread_mutex_lock(&c->mu);
	bool dead = c->dead != NULL;
	if (!dead) {
		pending_add(c, p);
		c->cb_outstanding++;
		request_send(c, &line, p->id);
	}
	pthread_mutex_unlock(&c->mu);

	buf_release(&line);
	if (dead) {
		free(p);
		errno = EPIPE;
		return -1;
	}
	return 0;
}

int spool_client_poll(struct spool_client *c, int timeout_ms)
{
	if (!c)
		return -1;
	struct waiter w;
	waiter_init(&w, true);
	double deadline = timeout_ms < 0 ? -1 : mono_now() + timeout_ms / 1e3;
	int r = -1;
	pthread_mutex_lock(&c->mu);
	if (!is_leader(c)) {
		client_wait(c, &w, callbacks_done, NULL, deadline);
		if (!c->dead)
			r = c->cb_outstanding > INT_MAX
				    ? INT_MAX
				    : (int)c->cb_outstanding;
	}
	pthread_mutex_unlock(&c->mu);
	pthread_cond_destroy(&w.cv);
	return r;
}

const char *spool_client_error(struct spool_client *c)
{
	pthread_mutex_lock(&c->mu);
	const char *why = c->dead;
	pthread_mutex_unlock(&c->mu);
	return why;
}

pid_t spool_client_pid(const struct spool_client *c)
{
	return c->pid;
}

struct spool_client *spool_client_open(char *const argv[], char **err)
{
	if (err)
		*err = NULL;
	if (!argv || !argv[0]) {
		set_err(err, xstrdup("spool client: no command to start"));
		return NULL;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		set_err(err, xasprintf("spool client: socketpair: %s",
				       strerror(errno)));
		return NULL;
	}
	/* dup2 onto itself would keep close-on-exec: keep the child's end
	 * clear of 0 and 1 (a host may have closed its stdin). */
	if (sv[1] < 3) {
		int fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);
		int e = errno;
		close(sv[1]);
		if (fd < 0) {
			close(sv[0]);
			set_err(err, xasprintf("spool client: fcntl: %s",
					       strerror(e)));
			return NULL;
		}
		sv[1] = fd;
	}
	struct spool_client *c = client_new(sv[0], err);
	if (!c) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawnattr_init(&at);
	/* The host's mask and ignored signals are its own: the server
	 * needs SIGTERM, SIGINT, SIGCHLD and SIGPIPE as a shell gives them. */
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (e) {
		set_err(err, xasprintf("spool client: cannot start %s: %s",
				       argv[0], strerror(e)));
		close(c->fd);
		close(c->wakefd);
		client_free(c);
		return NULL;
	}
	c->pid = pid;
	c->pidfd = pidfd_of(pid);
	return c;
}

struct spool_client *spool_client_connect(const char *path, char **err)
{
	if (err)
		*err = NULL;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = path ? strlen(path) : 0;
	if (!n || n >= sizeof(a.sun_path)) {
		set_err(err, xasprintf("spool client: socket path %s (%zu "
				       "bytes; 1 to %zu)",
				       n ? "too long" : "empty", n,
				       sizeof(a.sun_path) - 1));
		return NULL;
	}
	memcpy(a.sun_path, path, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err,
			xasprintf("spool client: socket: %s", strerror(errno)));
		return NULL;
	}
	int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (r < 0 && errno == EINTR) {
		/* The connection goes on: wait for it to settle. */
		struct pollfd pf = {fd, POLLOUT, 0};
		int so = 0;
		socklen_t len = sizeof(so);
		while (poll(&pf, 1, -1) < 0 && errno == EINTR)
			;
		r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
		if (r == 0 && so) {
			errno = so;
			r = -1;
		}
	}
	if (r < 0) {
		int e = errno;
		close(fd);
		set_err(err, xasprintf("spool client: cannot connect to %s: "
				       "%s%s",
				       path, strerror(e),
				       e == ENOENT || e == ECONNREFUSED
					       ? " (is `spool serve --listen` "
						 "running there?)"
					       : ""));
		return NULL;
	}
	struct spool_client *c = client_new(fd, err);
	if (!c)
		close(fd);
	return c;
}

/* Reap the private server, more and more firmly. */
static int child_reap(struct spool_client *c)
{
	int st;
	if (c->reaped)
		return c->exit_status;
	if (!child_wait(c, CLIENT_EXIT_WAIT_MS, &st)) {
		kill(c->pid, SIGTERM);
		if (!child_wait(c, CLIENT_EXIT_WAIT_MS, &st)) {
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
				;
		}
	}
	c->reaped = true;
	c->exit_status = st;
	return st;
}

int spool_client_close(struct spool_client *c)
{
	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	bool refused = is_leader(c);
	pthread_mutex_unlock(&c->mu);
	if (refused)
		return -1;

	int rc = 0;
	if (c->pid > 0) {
		if (spool_client_call(c, "shutdown", NULL, NULL, NULL) != 0)
			rc = -1;
	}
	if (spool_client_poll(c, -1) != 0)
		rc = -1;
	close(c->fd);
	close(c->wakefd);
	if (c->pid > 0) {
		int st = child_reap(c);
		if (st != -1 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			rc = -1;
		if (c->pidfd >= 0)
			close(c->pidfd);
	}
	client_free(c);
	return rc;
}
