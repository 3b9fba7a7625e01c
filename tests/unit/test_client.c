/* test_client.c - the C client (lib/spool_client.h) against spool serve.
 *
 * The server is $SPOOL_CLIENT_SERVER, a shell command line, run from the
 * source tree; by default the spool built next to this program (or
 * build/spool) as
 *   SPOOL serve -p spool -j 4 --inflight 1 \
 *       -c 'python3 tests/fixtures/serve/task_worker.py'
 * (one task in flight per worker, so that a task held at a gate holds up
 * no other).  Tasks follow task_worker.py's rules: {"x": N} ->
 * {"x":N,"sq":N*N}, "gate" holds a task until a file exists, "fail" fails
 * it (ValueError), "started" says it started.  Servers that misbehave are
 * sh scripts.  Checks that wait for something poll with a deadline;
 * alarm() ends a run that hangs. */
#define _GNU_SOURCE
#include "spool_client.h"
#include "testhelp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SERVER_ARGS                                                            \
	"serve -p spool -j 4 --inflight 1 -c "                                 \
	"'python3 tests/fixtures/serve/task_worker.py'"
#define NTHREADS 16
#define NTASKS 200

static char tmpdir[] = "/tmp/spool-client-XXXXXX";

static char default_server[4096];

/* The spool built with this program: BUILD/unit/test_client runs
 * BUILD/spool (build/san, build/tsan...), else build/spool. */
static void find_server(const char *argv0)
{
	char spool[2048] = "build/spool";
	const char *slash = strrchr(argv0, '/');
	if (slash) {
		char near[2048];
		snprintf(near, sizeof(near), "%.*s/../spool",
			 (int)(slash - argv0), argv0);
		if (access(near, X_OK) == 0)
			snprintf(spool, sizeof(spool), "%s", near);
	}
	snprintf(default_server, sizeof(default_server), "%s %s", spool,
		 SERVER_ARGS);
}

static const char *server_cmd(void)
{
	const char *s = getenv("SPOOL_CLIENT_SERVER");
	return s && *s ? s : default_server;
}

/* argv for the server, through sh so that the command line may quote;
 * exec keeps the pid the server's.  extra: "--listen PATH" or NULL. */
struct server_argv {
	char script[4096];
	char *argv[8];
};

static char **server_argv(struct server_argv *a, const char *listen_path)
{
	int n = snprintf(a->script, sizeof(a->script), "exec %s \"$@\"",
			 server_cmd());
	if (n < 0 || (size_t)n >= sizeof(a->script)) {
		fprintf(stderr, "test_client: the server command is too long\n");
		exit(2);
	}
	int i = 0;
	a->argv[i++] = "/bin/sh";
	a->argv[i++] = "-c";
	a->argv[i++] = a->script;
	a->argv[i++] = "sh";
	if (listen_path) {
		a->argv[i++] = "--listen";
		a->argv[i++] = (char *)listen_path;
	}
	a->argv[i] = NULL;
	return a->argv;
}

static struct spool_client *open_server(void)
{
	struct server_argv a;
	char *err = NULL;
	struct spool_client *c = spool_client_open(server_argv(&a, NULL), &err);
	if (!c) {
		printf("# cannot start the server: %s\n", err);
		free(err);
		exit(1);
	}
	return c;
}

static struct spool_client *open_argv(const char *script)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	char *err = NULL;
	struct spool_client *c = spool_client_open(argv, &err);
	if (!c) {
		printf("# cannot start sh: %s\n", err);
		exit(1);
	}
	return c;
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void pause_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

static bool contains(const char *s, const char *part)
{
	return s && strstr(s, part);
}

/* Record the first thing a thread found wrong; TEST is not thread-safe. */
static pthread_mutex_t bad_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int bad_count;
static char bad_first[512];

static void bad(const char *what, int x, const char *got)
{
	pthread_mutex_lock(&bad_mu);
	if (atomic_fetch_add(&bad_count, 1) == 0)
		snprintf(bad_first, sizeof(bad_first), "%s (x=%d): %s", what, x,
			 got ? got : "(null)");
	pthread_mutex_unlock(&bad_mu);
}

static void report_bad(const char *name)
{
	int n = atomic_load(&bad_count);
	TEST(n == 0, "%s: every answer right", name);
	if (n)
		printf("#   %d wrong; first: %s\n", n, bad_first);
	atomic_store(&bad_count, 0);
}

static void check_result(int x, int rc, char *res, char *err)
{
	char want[96];
	snprintf(want, sizeof(want), "{\"x\":%d,\"sq\":%lld}", x,
		 (long long)x * x);
	if (rc != 0 || !res || strcmp(res, want) != 0)
		bad(rc == 0 ? "result" : "status", x, rc == 0 ? res : err);
	free(res);
	free(err);
}

static void check_failure(int x, int rc, char *res, char *err)
{
	char want[64];
	snprintf(want, sizeof(want), "\"message\":\"ValueError: f%d\"", x);
	if (rc != 1 || !contains(err, want) ||
	    !contains(err, "\"reason\":\"error\""))
		bad("task error", x, rc == 1 ? err : res);
	free(res);
	free(err);
}

/* Callbacks: they check their answer, and that none overlaps another. */
static atomic_int cb_done, cb_overlap, cb_inside;

struct cb_task {
	int x;
	bool fail;
	int *order; /* where to note the order of arrival, or NULL */
};

static void on_answer(void *ctx, int status, const char *json)
{
	struct cb_task *t = ctx;
	if (atomic_fetch_add(&cb_inside, 1) != 0)
		atomic_fetch_add(&cb_overlap, 1);
	char *copy = json ? strdup(json) : NULL;
	if (t->fail)
		check_failure(t->x, status, NULL, copy);
	else
		check_result(t->x, status, copy, NULL);
	if (t->order)
		*t->order = atomic_load(&cb_done);
	atomic_fetch_sub(&cb_inside, 1);
	atomic_fetch_add(&cb_done, 1);
	free(t);
}

static int submit_x(struct spool_client *c, int x, bool fail, int *order)
{
	char task[96];
	if (fail)
		snprintf(task, sizeof(task), "{\"fail\":\"f%d\"}", x);
	else
		snprintf(task, sizeof(task), "{\"x\":%d}", x);
	struct cb_task *t = calloc(1, sizeof(*t));
	t->x = x;
	t->fail = fail;
	t->order = order;
	int rc = spool_client_submit(c, task, on_answer, t);
	if (rc != 0)
		free(t);
	return rc;
}

static void test_start_errors(void)
{
	char *argv[] = {"/nonexistent/spool", "serve", NULL};
	char *err = NULL;
	struct spool_client *c = spool_client_open(argv, &err);
	if (c) {
		/* posix_spawn could not tell (valgrind runs it as a fork):
		 * the first call says it instead. */
		int rc = spool_client_execute(c, "1", NULL, &err);
		TEST(rc == -1 && contains(err, "exited with status 127"),
		     "open: a missing program fails the first call: %s",
		     err ? err : "");
		spool_client_close(c);
	} else {
		TEST(contains(err, "cannot start /nonexistent/spool"),
		     "open: a missing program is refused: %s", err ? err : "");
	}
	free(err);

	char sock[256];
	path_in_tmp(sock, sizeof(sock), "no.sock");
	err = NULL;
	c = spool_client_connect(sock, &err);
	TEST(!c && contains(err, sock) && contains(err, "--listen"),
	     "connect: no server says where and what to do: %s",
	     err ? err : "");
	free(err);
}

/* Entries in a /proc directory: this process's threads or descriptors. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - (strcmp(dir, "/proc/self/fd") == 0); /* opendir's own */
}

static const int watched_signals[] = {SIGPIPE, SIGCHLD, SIGTERM, SIGINT};

static void save_handlers(struct sigaction *sa)
{
	for (size_t i = 0; i < 4; i++)
		sigaction(watched_signals[i], NULL, &sa[i]);
}

static bool same_handlers(const struct sigaction *a)
{
	struct sigaction now[4];
	save_handlers(now);
	for (size_t i = 0; i < 4; i++)
		if (now[i].sa_handler != a[i].sa_handler ||
		    now[i].sa_flags != a[i].sa_flags)
			return false;
	return true;
}

static void test_basics(void)
{
	int fds = count_entries("/proc/self/fd");
	struct sigaction handlers[4];
	save_handlers(handlers);
	struct spool_client *c = open_server();
	char *res = NULL, *err = NULL;
	TEST(spool_client_pid(c) > 0, "a private server has a pid");

	int rc = spool_client_call(c, "spawn", NULL, &res, &err);
	TEST(rc == 0 && contains(res, "\"worker\""), "spawn: %s",
	     res ? res : err);
	free(res);
	free(err);

	rc = spool_client_execute(c, "{\"x\":1}", &res, &err);
	TEST(rc == 0 && err == NULL, "execute: status 0");
	TEST_STR(res, res ? strlen(res) : 0, "{\"x\":1,\"sq\":1}",
		 "execute: the result");
	free(res);
	free(err);

	rc = spool_client_execute(c, "\n{\n  \"x\" : 7 }\n", &res, &err);
	TEST(rc == 0 && contains(res, "\"sq\":49"),
	     "execute: a task over several lines is sent as one");
	free(res);
	free(err);

	rc = spool_client_execute(c, "{\"x\":", &res, &err);
	TEST(rc == -1 && res == NULL && contains(err, "not valid JSON"),
	     "execute: bad JSON is refused here: %s", err ? err : "");
	free(err);

	rc = spool_client_execute(c, "{\"fail\":\"f5\"}", &res, &err);
	TEST(rc == 1 && res == NULL &&
		     contains(err, "\"message\":\"ValueError: f5\"") &&
		     contains(err, "\"reason\":\"error\""),
	     "execute: a failed task gives the error object: %s",
	     err ? err : "");
	free(err);

	rc = spool_client_call(c, "execute", "[{\"x\":4}]", &res, &err);
	TEST(rc == 0 && contains(res, "\"sq\":16"), "call: execute");
	free(res);
	free(err);

	rc = spool_client_call(c, "no_such_method", NULL, &res, &err);
	TEST(rc == 1 && contains(err, "-32601"), "call: unknown method: %s",
	     err ? err : "");
	free(res);
	free(err);

	rc = spool_client_call(c, "stats", NULL, &res, &err);
	TEST(rc == 0 && res && res[0] == '{' && contains(res, "\"tasks\""),
	     "call: stats: %s", res ? res : err);
	free(res);
	free(err);

	rc = spool_client_call(c, "add_worker",
			       "{\"spawn\": {\"gpu_ids\": [0, 1]}}", &res,
			       &err);
	TEST(rc == 0 && contains(res, "\"worker\"") &&
		     contains(res, "\"gpu_ids\":[0,1]"),
	     "call: add_worker: %s", res ? res : err);
	free(res);
	free(err);

	TEST(spool_client_error(c) == NULL, "no connection error");
	TEST(count_entries("/proc/self/task") == 1,
	     "the client started no thread");
	pid_t pid = spool_client_pid(c);
	TEST(spool_client_close(c) == 0, "close: the server exits 0");
	errno = 0;
	TEST(waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD,
	     "close reaped the server");
	TEST(count_entries("/proc/self/fd") == fds,
	     "close closed every descriptor the client opened (%d, %d)",
	     count_entries("/proc/self/fd"), fds);
	TEST(same_handlers(handlers), "no signal handler was installed");
}

/* The state letter of a process in /proc/PID/stat ('Z': a zombie). */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* Writing to a server that is gone must not raise SIGPIPE (which would
 * end this program) but fail the calls. */
static void test_no_sigpipe(void)
{
	struct spool_client *c = open_server();
	pid_t pid = spool_client_pid(c);
	kill(pid, SIGKILL);
	for (int i = 0; i < 2000 && proc_state(pid) != 'Z'; i++)
		pause_ms(5);
	TEST(proc_state(pid) == 'Z', "sigpipe: the server is dead, unreaped");
	atomic_store(&cb_done, 0);
	TEST(submit_x(c, 5, false, NULL) == 0,
	     "sigpipe: a submit to a dead server returns");
	TEST(spool_client_poll(c, -1) == -1 && atomic_load(&cb_done) == 1,
	     "sigpipe: poll fails, the callback ran");
	TEST(atomic_load(&bad_count) == 1, "sigpipe: with status -1");
	atomic_store(&bad_count, 0);
	TEST(spool_client_close(c) == -1, "sigpipe: close");
}

static void test_close_idle(void)
{
	struct spool_client *c = open_server();
	TEST(spool_client_close(c) == 0, "close while idle");
}

static void test_close_runs_callbacks(void)
{
	struct spool_client *c = open_server();
	atomic_store(&cb_done, 0);
	int ok = 0;
	for (int i = 0; i < 10; i++)
		ok += submit_x(c, 900 + i, false, NULL) == 0;
	TEST(ok == 10, "submit: 10 tasks queued");
	TEST(spool_client_close(c) == 0, "close after submit: exit 0");
	TEST(atomic_load(&cb_done) == 10,
	     "close ran every callback still due (%d)", atomic_load(&cb_done));
	report_bad("close after submit");
}

struct mix_arg {
	struct spool_client *c;
	int t;
	int submitted;
	int poll_rc;
};

/* Blocking executes (both ways), failing tasks, and, on odd threads,
 * callbacks submitted and polled for in between. */
static void *mix_thread(void *p)
{
	struct mix_arg *a = p;
	a->poll_rc = 0;
	for (int i = 0; i < NTASKS; i++) {
		int x = a->t * 100000 + i;
		char *res = NULL, *err = NULL;
		char task[96];
		if (i % 7 == 3) {
			snprintf(task, sizeof(task), "{\"fail\":\"f%d\"}", x);
			int rc = spool_client_execute(a->c, task, &res, &err);
			check_failure(x, rc, res, err);
		} else if (a->t % 2 == 1 && i % 10 == 5) {
			for (int k = 0; k < 3; k++)
				if (submit_x(a->c, x + 50000 + k, k == 2,
					     NULL) == 0)
					a->submitted++;
				else
					bad("submit", x, "refused");
		} else if (i % 5 == 1) {
			snprintf(task, sizeof(task), "[{\"x\":%d}]", x);
			int rc = spool_client_call(a->c, "execute", task, &res,
						   &err);
			check_result(x, rc, res, err);
		} else {
			snprintf(task, sizeof(task), "{\"x\":%d}", x);
			int rc = spool_client_execute(a->c, task, &res, &err);
			check_result(x, rc, res, err);
		}
		if (a->t % 4 == 1 && i % 25 == 0 &&
		    spool_client_poll(a->c, 0) < 0)
			a->poll_rc = -1;
	}
	if (a->t % 2 == 1 && spool_client_poll(a->c, -1) != 0)
		a->poll_rc = -1;
	return NULL;
}

static void test_threads(void)
{
	struct spool_client *c = open_server();
	pthread_t th[NTHREADS];
	struct mix_arg args[NTHREADS];
	atomic_store(&cb_done, 0);
	atomic_store(&cb_overlap, 0);
	for (int t = 0; t < NTHREADS; t++) {
		args[t] = (struct mix_arg){c, t, 0, 0};
		pthread_create(&th[t], NULL, mix_thread, &args[t]);
	}
	int submitted = 0, poll_bad = 0;
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		submitted += args[t].submitted;
		poll_bad += args[t].poll_rc != 0;
	}
	TEST(poll_bad == 0, "threads: poll never failed");
	TEST(spool_client_poll(c, -1) == 0, "threads: nothing left to poll");
	TEST(submitted > 0 && atomic_load(&cb_done) == submitted,
	     "threads: %d of %d callbacks ran", atomic_load(&cb_done),
	     submitted);
	TEST(atomic_load(&cb_overlap) == 0,
	     "threads: callbacks never ran at the same time");
	report_bad("threads: 16 threads, executes, calls, callbacks");
	TEST(spool_client_close(c) == 0, "threads: close");
}

struct held {
	struct spool_client *c;
	const char *task;
	int rc;
	char *res, *err;
	atomic_bool done;
};

static void *held_thread(void *p)
{
	struct held *h = p;
	h->rc = spool_client_execute(h->c, h->task, &h->res, &h->err);
	atomic_store(&h->done, true);
	return NULL;
}

/* Poll until n callbacks have run, for at most 10 s. */
static bool poll_until(struct spool_client *c, int n)
{
	for (int i = 0; i < 100 && atomic_load(&cb_done) < n; i++)
		if (spool_client_poll(c, 100) < 0)
			return false;
	return atomic_load(&cb_done) >= n;
}

static void test_out_of_order(void)
{
	struct spool_client *c = open_server();
	char gate[256], task[512];
	path_in_tmp(gate, sizeof(gate), "gate1");
	snprintf(task, sizeof(task), "{\"x\":11,\"gate\":\"%s\"}", gate);

	struct held h = {c, task, 0, NULL, NULL, false};
	pthread_t th;
	pthread_create(&th, NULL, held_thread, &h);
	char *res = NULL, *err = NULL;
	int rc = spool_client_execute(c, "{\"x\":12}", &res, &err);
	TEST(rc == 0 && contains(res, "\"sq\":144"),
	     "out of order: a later task is answered first");
	free(res);
	free(err);
	TEST(!atomic_load(&h.done), "out of order: the held task still waits");
	touch(gate);
	pthread_join(th, NULL);
	TEST(h.rc == 0 && contains(h.res, "\"sq\":121"),
	     "out of order: the held task gets its own answer");
	free(h.res);
	free(h.err);

	/* The same with callbacks: the first submitted comes last. */
	char gate2[256];
	path_in_tmp(gate2, sizeof(gate2), "gate2");
	snprintf(task, sizeof(task), "{\"x\":21,\"gate\":\"%s\"}", gate2);
	atomic_store(&cb_done, 0);
	int order[4] = {-1, -1, -1, -1};
	struct cb_task *t = calloc(1, sizeof(*t));
	t->x = 21;
	t->order = &order[0];
	TEST(spool_client_submit(c, task, on_answer, t) == 0,
	     "out of order: submit the held task");
	for (int i = 1; i < 4; i++)
		submit_x(c, 21 + i, false, &order[i]);
	TEST(poll_until(c, 3) && order[0] == -1,
	     "out of order: three callbacks ran, the held one not");
	TEST(spool_client_poll(c, 0) == 1 && spool_client_poll(c, 20) == 1,
	     "out of order: poll with a timeout says one is still due");
	touch(gate2);
	TEST(spool_client_poll(c, -1) == 0 && order[0] == 3,
	     "out of order: the held callback ran last");
	report_bad("out of order");
	TEST(spool_client_close(c) == 0, "out of order: close");
}

/* A callback may submit; a blocking call from it is refused. */
static struct spool_client *reentry_client;
static atomic_int reentry_rc, reentry_chain;
static char reentry_err[256];

static void on_chained(void *ctx, int status, const char *json)
{
	(void)ctx;
	atomic_store(&reentry_chain,
		     status == 0 && contains(json, "\"sq\":4") ? 1 : -2);
}

static void on_reentry(void *ctx, int status, const char *json)
{
	(void)ctx;
	(void)json;
	char *res = NULL, *err = NULL;
	if (status != 0)
		return;
	atomic_store(
		&reentry_rc,
		spool_client_execute(reentry_client, "{\"x\":1}", &res, &err));
	snprintf(reentry_err, sizeof(reentry_err), "%s", err ? err : "");
	free(res);
	free(err);
	if (spool_client_close(reentry_client) != -1)
		atomic_store(&reentry_rc, 98);
	if (spool_client_submit(reentry_client, "{\"x\":2}", on_chained,
				NULL) != 0)
		atomic_store(&reentry_chain, -1);
}

static void test_reentry(void)
{
	struct spool_client *c = open_server();
	reentry_client = c;
	atomic_store(&reentry_rc, 99);
	atomic_store(&reentry_chain, 0);
	TEST(spool_client_submit(c, "{\"x\":0}", on_reentry, NULL) == 0,
	     "reentry: submit");
	TEST(spool_client_poll(c, -1) == 0, "reentry: poll until all ran");
	TEST(atomic_load(&reentry_rc) == -1 &&
		     contains(reentry_err, "inside a callback"),
	     "reentry: execute and close from a callback are refused: %s",
	     reentry_err);
	TEST(atomic_load(&reentry_chain) == 1,
	     "reentry: a task submitted from a callback ran its callback");
	TEST(spool_client_close(c) == 0, "reentry: close");
}

struct doomed {
	struct spool_client *c;
	int x;
	char task[512];
	int rc;
	char *err;
};

static void *doomed_thread(void *p)
{
	struct doomed *d = p;
	char *res = NULL;
	d->rc = spool_client_execute(d->c, d->task, &res, &d->err);
	free(res);
	return NULL;
}

static void test_server_dies(void)
{
	struct spool_client *c = open_server();
	char never[128], arrived[128];
	path_in_tmp(never, sizeof(never), "never");
	path_in_tmp(arrived, sizeof(arrived), "arrived");
	struct doomed d[NTHREADS];
	pthread_t th[NTHREADS];
	for (int t = 0; t < NTHREADS; t++) {
		d[t].c = c;
		d[t].rc = 99;
		d[t].err = NULL;
		snprintf(d[t].task, sizeof(d[t].task),
			 "{\"x\":%d,\"gate\":\"%s\",\"started\":\"%s\"}", t,
			 never, arrived);
		pthread_create(&th[t], NULL, doomed_thread, &d[t]);
	}
	atomic_store(&cb_done, 0);
	char task[512];
	snprintf(task, sizeof(task), "{\"x\":99,\"gate\":\"%s\"}", never);
	int *last = calloc(1, sizeof(int));
	struct cb_task *ct = calloc(1, sizeof(*ct));
	ct->x = 99;
	ct->order = last;
	TEST(spool_client_submit(c, task, on_answer, ct) == 0,
	     "dies: a callback task waits too");
	for (int i = 0; i < 2000 && !exists(arrived); i++)
		pause_ms(5);
	TEST(exists(arrived), "dies: the server runs the tasks");
	kill(spool_client_pid(c), SIGKILL);

	int ok = 0;
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		if (d[t].rc == -1 && contains(d[t].err, "lost"))
			ok++;
		else if (ok == t)
			printf("#   thread %d: %d %s\n", t, d[t].rc, d[t].err);
	}
	TEST(ok == NTHREADS, "dies: every waiting execute returned -1 (%d)",
	     ok);
	TEST(contains(d[0].err, "killed by signal 9 (SIGKILL)"),
	     "dies: the message says how the server ended: %s",
	     d[0].err ? d[0].err : "");
	for (int t = 0; t < NTHREADS; t++)
		free(d[t].err);

	/* The callback ran with -1 (on_answer counts it as a wrong answer). */
	TEST(spool_client_poll(c, -1) == -1 && atomic_load(&cb_done) == 1,
	     "dies: poll returns -1 once the callback due has run");
	TEST(atomic_load(&bad_count) == 1,
	     "dies: the callback saw the failure");
	atomic_store(&bad_count, 0);
	free(last);

	char *res = NULL, *err = NULL;
	int rc = spool_client_execute(c, "{\"x\":1}", &res, &err);
	TEST(rc == -1 && contains(err, "lost"),
	     "dies: later calls fail at once");
	free(err);
	errno = 0;
	TEST(spool_client_submit(c, "{\"x\":1}", on_answer, NULL) == -1 &&
		     errno == EPIPE,
	     "dies: later submits fail with EPIPE");
	TEST(contains(spool_client_error(c), "lost"),
	     "dies: spool_client_error says why");
	TEST(spool_client_close(c) == -1, "dies: close reports the failure");
	touch(never); /* frees workers a real server may have left */
}

/* Servers that go wrong in other ways: each call fails, none hangs. */
static void test_bad_servers(void)
{
	char *res = NULL, *err = NULL;
	struct spool_client *c = open_argv("exit 3");
	int rc = spool_client_execute(c, "{\"x\":1}", &res, &err);
	TEST(rc == -1 && contains(err, "exited with status 3"),
	     "a server that exits at once: %s", err ? err : "");
	free(err);
	TEST(spool_client_close(c) == -1, "... and close says so");

	c = open_argv("read l; echo 'not json'; cat >/dev/null");
	err = NULL;
	rc = spool_client_execute(c, "{\"x\":1}", &res, &err);
	TEST(rc == -1 && contains(err, "not a JSON-RPC answer") &&
		     contains(err, "not json"),
	     "a server that sends garbage: %s", err ? err : "");
	free(err);
	TEST(spool_client_close(c) == -1, "... close after garbage");

	c = open_argv("read l; echo '{\"jsonrpc\":\"2.0\",\"id\":null,"
		      "\"error\":{\"code\":-32700,\"message\":\"Parse "
		      "error\"}}'; cat >/dev/null");
	err = NULL;
	rc = spool_client_execute(c, "{\"x\":1}", &res, &err);
	TEST(rc == -1 && contains(err, "refused a request: Parse error"),
	     "a request refused with id null: %s", err ? err : "");
	free(err);
	TEST(spool_client_close(c) == -1, "... close after a refusal");
}

struct listen_arg {
	struct spool_client *c;
	int t;
};

static void *listen_thread(void *p)
{
	struct listen_arg *a = p;
	for (int i = 0; i < 50; i++) {
		int x = 700000 + a->t * 1000 + i;
		char task[64], *res = NULL, *err = NULL;
		snprintf(task, sizeof(task), "{\"x\":%d}", x);
		int rc = spool_client_execute(a->c, task, &res, &err);
		check_result(x, rc, res, err);
	}
	return NULL;
}

static void test_listen(void)
{
	char sock[256];
	path_in_tmp(sock, sizeof(sock), "serve.sock");
	struct server_argv a;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	pid_t pid;
	int e = posix_spawn(&pid, "/bin/sh", &fa, NULL, server_argv(&a, sock),
			    environ);
	posix_spawn_file_actions_destroy(&fa);
	TEST(e == 0, "listen: start the server");
	if (e)
		return;

	struct spool_client *c[3] = {NULL, NULL, NULL};
	char *err = NULL;
	for (int i = 0; i < 1000 && !c[0]; i++) {
		free(err);
		err = NULL;
		c[0] = spool_client_connect(sock, &err);
		if (!c[0])
			pause_ms(10);
	}
	TEST(c[0] != NULL, "listen: connect: %s", err ? err : "ok");
	free(err);
	if (!c[0]) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	c[1] = spool_client_connect(sock, NULL);
	TEST(c[1] != NULL, "listen: a second client");
	TEST(spool_client_pid(c[0]) == -1, "listen: no pid of ours");

	pthread_t th[8];
	struct listen_arg la[8];
	for (int t = 0; t < 8; t++) {
		la[t] = (struct listen_arg){c[t % 2], t};
		pthread_create(&th[t], NULL, listen_thread, &la[t]);
	}
	for (int t = 0; t < 8; t++)
		pthread_join(th[t], NULL);
	report_bad("listen: two clients, 8 threads");
	atomic_store(&cb_done, 0);
	for (int i = 0; i < 10; i++)
		submit_x(c[1], 800 + i, false, NULL);
	TEST(spool_client_close(c[0]) == 0 && spool_client_close(c[1]) == 0,
	     "listen: close both; the server goes on");
	TEST(atomic_load(&cb_done) == 10,
	     "listen: close waited for the callbacks due (%d)",
	     atomic_load(&cb_done));
	report_bad("listen: callbacks before close");

	c[2] = spool_client_connect(sock, &err);
	char *res = NULL;
	int rc = c[2] ? spool_client_call(c[2], "shutdown", NULL, &res, &err)
		      : -1;
	TEST(rc == 0 && res && strcmp(res, "null") == 0,
	     "listen: a third client asks for shutdown: %s", res ? res : err);
	free(res);
	free(err);
	if (c[2])
		TEST(spool_client_close(c[2]) == 0, "listen: close the third");
	int st = -1;
	waitpid(pid, &st, 0);
	TEST(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	     "listen: the server exits 0 after shutdown");
}

static void rm_tmp(void)
{
	const char *names[] = {"gate1", "gate2", "never", "arrived",
			       "serve.sock"};
	char p[256];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in_tmp(p, sizeof(p), names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	(void)argc;
	find_server(argv[0]);
	/* A hang is a failure; an unheard SIGALRM ends the program. */
	alarm(120);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	printf("# server: %s\n", server_cmd());
	test_start_errors();
	test_basics();
	test_close_idle();
	test_close_runs_callbacks();
	test_threads();
	test_out_of_order();
	test_reentry();
	test_server_dies();
	test_no_sigpipe();
	test_bad_servers();
	test_listen();
	rm_tmp();
	return test_done();
}
