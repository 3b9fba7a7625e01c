/* worker.c - worker processes: spawn, signals, stderr, the kill ladder. */
#define _GNU_SOURCE
#include "worker.h"
#include "guard.h"
#include "launch.h"
#include "log.h"
#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The longest stderr line passed on whole; longer ones are cut. */
#define STDERR_LINE_MAX ((size_t)1 << 20)
#define TAIL_LINE_MAX 300
/* A bigger pipe means fewer wake-ups per batch of small tasks. */
#define PIPE_SIZE (1 << 20)

extern char **environ;

/* The sanitizers do not follow a vfork child; valgrind turns vfork into
 * fork by itself. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPAWN_FORK fork
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SPAWN_FORK fork
#endif
#endif
#ifndef SPAWN_FORK
#define SPAWN_FORK vfork
#endif

/* What the child does before exec, reported through the exec pipe. */
enum spawn_stage { STAGE_CHDIR = 1, STAGE_EXEC = 2, STAGE_SETUP = 3 };
struct spawn_report {
	int stage;
	int err;
};

void worker_init(struct worker *w, struct pool *p, struct loop *loop, int index,
		 int replica, int spec_index, const struct worker_spec *spec,
		 const char *label)
{
	memset(w, 0, sizeof(*w));
	w->pool = p;
	w->loop = loop;
	w->index = index;
	w->replica = replica;
	w->spec_index = spec_index;
	w->spec = spec;
	w->codec = spec->protocol == PROTO_SPOOL ? &proto_spool : &proto_lines;
	w->kind = (uint8_t)((w->codec->by_id ? WK_BY_ID : 0) |
			    (spec->buffered ? WK_BUFFERED : 0) |
			    (spec->batch_max ? WK_BATCH : 0));
	w->label = xstrdup(label);
	w->state = WS_BACKOFF;
	w->fd_in = w->fd_out = w->fd_err = -1;
	w->w_in = w->w_out = w->w_err = -1;
	idq_init(&w->fl, 64);
	w->host = w->hs = -1;
	linebuf_init(&w->rbuf, SPOOL_LINE_MAX);
	w->rbuf.final_partial = false;
	linebuf_init(&w->ebuf, STDERR_LINE_MAX);
}

void worker_release(struct worker *w)
{
	worker_close_fds(w);
	free(w->label);
	buf_release(&w->wbuf);
	linebuf_release(&w->rbuf);
	linebuf_release(&w->ebuf);
	free(w->fault_msg);
	free(w->spawn_result);
	free(w->remote_pid);
	free(w->batch_left);
	idq_release(&w->fl);
	for (unsigned i = 0; i < WORKER_TAIL_LINES; i++)
		free(w->tail[i]);
	memset(w, 0, sizeof(*w));
}

/* Its placeholders' values. */
static struct expand_at expand_vars(const struct worker *w)
{
	struct expand_at at = {w->index, w->replica, w->spec->name,
			       w->host_name, w->slot};
	return at;
}

char **worker_env_extra(const struct worker *w)
{
	const struct worker_spec *s = w->spec;
	struct expand_at at = expand_vars(w);
	char **extra = xcalloc(s->nenv + 8, sizeof(char *));
	size_t k = 0;
	bool py_set = false;
	for (size_t i = 0; i < s->nenv; i++) {
		char *val = config_expand_at(s->env[i].val, &at);
		extra[k++] = xasprintf("%s=%s", s->env[i].key, val);
		free(val);
		if (strcmp(s->env[i].key, "PYTHONUNBUFFERED") == 0)
			py_set = true;
	}
	extra[k++] = xasprintf("SPOOL_WORKER=%d", w->index);
	extra[k++] = xasprintf("SPOOL_REPLICA=%d", w->replica);
	extra[k++] = xasprintf("SPOOL_NAME=%s", s->name);
	extra[k++] = xasprintf("SPOOL_SPAWN=%s", s->spawn_json);
	if (w->host_name) {
		/* A -c command is never rewritten: it reads these. */
		extra[k++] = xasprintf("SPOOL_HOST=%s", w->host_name);
		extra[k++] = xasprintf("SPOOL_SLOT=%ld", w->slot);
	}
	if (!py_set)
		extra[k++] = xstrdup("PYTHONUNBUFFERED=1");
	return extra;
}

char **worker_argv(const struct worker *w)
{
	const struct worker_spec *s = w->spec;
	struct expand_at at = expand_vars(w);
	char **argv = xcalloc(s->ncmd + 1, sizeof(char *));
	for (size_t i = 0; i < s->ncmd; i++)
		argv[i] = s->literal ? xstrdup(s->cmd[i])
				     : config_expand_at(s->cmd[i], &at);
	return argv;
}

char *worker_cwd(const struct worker *w)
{
	const struct worker_spec *s = w->spec;
	struct expand_at at = expand_vars(w);
	return s->cwd ? config_expand_at(s->cwd, &at) : NULL;
}

char **worker_env(const struct worker *w)
{
	char **extra = worker_env_extra(w);
	size_t k = 0;
	while (extra[k])
		k++;
	size_t nenv = 0;
	while (environ && environ[nenv])
		nenv++;
	char **env = xcalloc(nenv + k + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < nenv; i++) {
		bool overridden = false;
		for (size_t j = 0; j < k && !overridden; j++) {
			size_t klen =
				(size_t)(strchr(extra[j], '=') - extra[j]);
			if (strncmp(environ[i], extra[j], klen + 1) == 0)
				overridden = true;
		}
		if (!overridden)
			env[n++] = xstrdup(environ[i]);
	}
	for (size_t j = 0; j < k; j++)
		env[n++] = extra[j];
	free(extra);
	return env;
}

void worker_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static sigset_t child_mask;
static struct sigaction child_sigpipe;
static bool child_signals_saved;
static struct rlimit child_nofile;
static bool child_nofile_saved;

void worker_save_fd_limit(const struct rlimit *rl)
{
	child_nofile = *rl;
	child_nofile_saved = true;
}

void worker_save_signals(const sigset_t *mask, const struct sigaction *pipe_act)
{
	child_mask = *mask;
	child_sigpipe = *pipe_act;
	child_signals_saved = true;
}

static void mark_fds_cloexec(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	struct rlimit rl;
	long max = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
		max = (long)rl.rlim_cur;
	for (int fd = 3; fd < max; fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

static NORETURN void child_fail(int fd, int stage, int err)
{
	struct spawn_report r = {stage, err};
	(void)!write(fd, &r, sizeof(r));
	_exit(err == ENOENT ? 127 : 126);
}

/* What the child runs: the program's path (looked up on the worker's own
 * PATH by the parent, before the child exists) and, for a script with
 * no #! line, the same through /bin/sh, as execvp does. */
struct exec_plan {
	const char *path;
	char **argv;
	char **sh_argv;
	char **envp;
	const char *cwd;
	char guard_op; /* as it is registered with the guard */
	int deathsig;  /* sent to it when spool dies */
};

/* In the child, between vfork and exec: it shares spool's memory, so it
 * only makes system calls (no allocation, no stdio, no globals written). */
static NORETURN void child_exec(const struct exec_plan *x, pid_t parent, int in,
				int out, int err, int report, int guard)
{
	if (child_signals_saved)
		(void)sigaction(SIGPIPE, &child_sigpipe, NULL);
	/* Its own process group: a terminal's Ctrl-C reaches spool only,
	 * and spool can signal the worker with all it started. */
	(void)setpgid(0, 0);
	/* Never outlive spool. */
	if (prctl(PR_SET_PDEATHSIG, x->deathsig) != 0 || getppid() != parent)
		_exit(1);
	/* The guard ends this group if spool dies: told before anything
	 * the worker starts can exist. */
	if (guard >= 0 && x->guard_op)
		guard_tell_fd(guard, x->guard_op, getpid());
	if (child_nofile_saved)
		(void)setrlimit(RLIMIT_NOFILE, &child_nofile);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		child_fail(report, STAGE_SETUP, errno);
	mark_fds_cloexec();
	if (child_signals_saved)
		(void)sigprocmask(SIG_SETMASK, &child_mask, NULL);
	if (x->cwd && chdir(x->cwd) != 0)
		child_fail(report, STAGE_CHDIR, errno);
	execve(x->path, x->argv, x->envp);
	if (errno == ENOEXEC)
		execve("/bin/sh", x->sh_argv, x->envp);
	child_fail(report, STAGE_EXEC, errno);
}

/* vfork: no copy of spool's page tables per worker, so a thousand
 * workers start in a fraction of a second; spool waits only until the
 * child has exec'd.  A function of its own, so that nothing of the
 * caller's frame lives across the vfork. */
static NOINLINE pid_t spawn_child(const struct exec_plan *x, const int fds[4],
				  int guard)
{
	pid_t parent = getpid();
	pid_t pid = SPAWN_FORK();
	if (pid == 0)
		child_exec(x, parent, fds[0], fds[1], fds[2], fds[3], guard);
	return pid;
}

/* The value of PATH in envp, or the usual default. */
static const char *env_path(char **envp)
{
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	return "/usr/local/bin:/usr/bin:/bin";
}

/* Find argv0 as execvp would, on the worker's own PATH (a spec's
 * "env": {"PATH": ...} is obeyed).  Returns a malloc'd path, or NULL with
 * *err set (ENOENT, EACCES). */
static char *find_program(const char *argv0, char **envp, int *err)
{
	if (strchr(argv0, '/'))
		return xstrdup(argv0);
	const char *path = env_path(envp);
	*err = ENOENT;
	while (*path) {
		size_t n = strcspn(path, ":");
		char *cand = n ? xasprintf("%.*s/%s", (int)n, path, argv0)
			       : xstrdup(argv0);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0)
				return cand;
			*err = EACCES;
		}
		free(cand);
		path += n;
		if (*path == ':')
			path++;
	}
	return NULL;
}

bool program_found(const char *prog)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	int err = 0;
	char *path = find_program(prog, environ, &err);
	free(path);
	return path != NULL;
}

/* What exec needs: the program's path (on envp's PATH), and the argv
 * that runs it through sh when exec says ENOEXEC (a script without #!).
 * NULL, why said, when the program is not there; free both. */
static char **exec_argv(char **argv, char **envp, char **path,
			struct buf *why)
{
	int err = 0;
	*path = find_program(argv[0], envp, &err);
	if (!*path) {
		buf_addf(why, "cannot run %s: %s", argv[0], strerror(err));
		return NULL;
	}
	size_t argc = 0;
	while (argv[argc])
		argc++;
	char **sh_argv = xcalloc(argc + 2, sizeof(char *));
	sh_argv[0] = "sh";
	sh_argv[1] = *path;
	for (size_t i = 1; i < argc; i++)
		sh_argv[i + 1] = argv[i];
	return sh_argv;
}

static void set_pipe_size(int fd)
{
	(void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
}

int worker_spawn(struct worker *w, double now, int guard_fd, struct buf *why)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
	int prep[2] = {-1, -1};
	struct launch_cmd lc;
	if (launch_command(w, &lc, why) != 0)
		return -1;
	char **argv = lc.argv;
	char **envp = lc.envp;
	char *cwd = lc.cwd;
	int ret = -1;
	char *path;
	char **sh_argv = exec_argv(argv, envp, &path, why);
	if (!sh_argv)
		goto out;

	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) ||
	    pipe2(perr, O_CLOEXEC) || pipe2(prep, O_CLOEXEC)) {
		buf_addf(why, "cannot make pipes: %s", strerror(errno));
		goto out;
	}
	set_pipe_size(pin[1]);
	set_pipe_size(pout[1]);

	struct exec_plan x = {path, argv,        sh_argv, envp,
			      cwd,  lc.guard_op, SIGKILL};
	int fds[4] = {pin[0], pout[1], perr[1], prep[1]};
	pid_t pid = spawn_child(&x, fds, guard_fd);
	if (pid < 0) {
		buf_addf(why, "cannot fork: %s", strerror(errno));
		goto out;
	}

	/* Both sides set the group, so a signal sent right after fork
	 * cannot miss it. */
	(void)setpgid(pid, pid);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	close(prep[1]);
	pin[0] = pout[1] = perr[1] = prep[1] = -1;

	/* End of file: it exec'd (the report pipe is close-on-exec). */
	struct spawn_report rep;
	ssize_t r;
	do
		r = read(prep[0], &rep, sizeof(rep));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(rep)) {
		int st;
		if (guard_fd >= 0)
			guard_tell_fd(guard_fd, '-', pid);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (rep.stage == STAGE_CHDIR)
			buf_addf(why, "cannot change to directory %s: %s", cwd,
				 strerror(rep.err));
		else if (rep.stage == STAGE_EXEC)
			buf_addf(why, "cannot run %s: %s", argv[0],
				 strerror(rep.err));
		else
			buf_addf(why, "cannot set up the process: %s",
				 strerror(rep.err));
		goto out;
	}

	w->pid = pid;
	w->last_pid = pid;
	w->fd_in = pin[1];
	w->fd_out = pout[0];
	w->fd_err = perr[0];
	pin[1] = pout[0] = perr[0] = -1;
	fd_set_nonblock(w->fd_in, true);
	fd_set_nonblock(w->fd_out, true);
	fd_set_nonblock(w->fd_err, true);
	w->spawned_at = now;
	w->done_before += w->done;
	w->sent = w->done = 0;
	w->nflight = 0;
	w->fl.head = w->fl.len = 0;
	w->nbatches = 0;
	if (w->batch_left)
		memset(w->batch_left, 0, w->batch_cap * sizeof(uint32_t));
	w->fault = WF_NONE;
	free(w->fault_msg);
	w->fault_msg = NULL;
	w->signalled = false;
	w->term_at = w->kill_at = 0;
	w->recycle = false;
	w->rbuf.eof = w->ebuf.eof = false;
	w->rbuf.start = w->rbuf.end = w->rbuf.scan = 0;
	w->rbuf.skipping = false;
	w->ebuf.start = w->ebuf.end = w->ebuf.scan = 0;
	w->ebuf.skipping = false;
	buf_reset(&w->wbuf);
	free(w->spawn_result);
	w->spawn_result = NULL;
	w->tail_n = 0;
	w->svc = 0;
	w->busy_mark = 0;
	w->bytes_inflight = 0;
	w->last_answer = now;
	w->close_when_sent = false;
	/* Over ssh the process runs before its worker does: the guard
	 * says when it does. */
	w->announce = w->spec->launcher == LAUNCH_SSH;
	w->announced = false;
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
		if (prep[i] >= 0)
			close(prep[i]);
	}
	launch_cmd_release(&lc);
	free(sh_argv);
	free(path);
	return ret;
}

pid_t proc_spawn(char **argv, const int fds[3], int guard_fd, char guard_op,
		 int deathsig, struct buf *why)
{
	int prep[2] = {-1, -1};
	pid_t pid = -1;
	char *path;
	char **sh_argv = exec_argv(argv, environ, &path, why);
	if (!sh_argv)
		goto out;
	if (pipe2(prep, O_CLOEXEC)) {
		buf_addf(why, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	struct exec_plan x = {path, argv,     sh_argv, environ,
			      NULL, guard_op, deathsig};
	int all[4] = {fds[0], fds[1], fds[2], prep[1]};
	pid = spawn_child(&x, all, guard_fd);
	if (pid < 0) {
		buf_addf(why, "cannot fork: %s", strerror(errno));
		goto out;
	}
	(void)setpgid(pid, pid);
	close(prep[1]);
	prep[1] = -1;
	struct spawn_report rep;
	ssize_t r;
	do
		r = read(prep[0], &rep, sizeof(rep));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(rep)) {
		if (guard_fd >= 0 && guard_op)
			guard_tell_fd(guard_fd, '-', pid);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		buf_addf(why, "cannot run %s: %s", argv[0], strerror(rep.err));
		pid = -1;
	}
out:
	if (prep[0] >= 0)
		close(prep[0]);
	if (prep[1] >= 0)
		close(prep[1]);
	free(sh_argv);
	free(path);
	return pid;
}

void worker_signal(struct worker *w, int sig)
{
	if (w->pid <= 0)
		return;
	w->signalled = true;
	/* srun alone: a signal to its group reaches the shepherd that
	 * would cancel the step, which then runs on (REMOTE.md). */
	if (w->spec->launcher == LAUNCH_SLURM) {
		(void)kill(w->pid, sig);
		return;
	}
	if (kill(-w->pid, sig) != 0)
		(void)kill(w->pid, sig);
}

void worker_close_stdin(struct worker *w)
{
	/* Unwatch before closing: a closed fd left in the poll set reports
	 * POLLNVAL on every turn (a spin), and its number may be reused. */
	if (w->w_in >= 0 && w->loop) {
		loop_del(w->loop, w->w_in);
		w->w_in = -1;
	}
	if (w->fd_in >= 0) {
		close(w->fd_in);
		w->fd_in = -1;
	}
	buf_reset(&w->wbuf);
}

void worker_stop(struct worker *w, enum worker_fault fault, char *msg,
		 double now)
{
	if (w->fault == WF_NONE) {
		w->fault = fault;
		free(w->fault_msg);
		w->fault_msg = msg;
	} else {
		free(msg);
	}
	w->state = WS_STOPPING;
	worker_close_stdin(w);
	worker_signal(w, SIGTERM);
	pool_touch(w->pool, w);
	w->term_at = 0;
	if (!w->kill_at || w->kill_at > now + 2)
		w->kill_at = now + 2;
}

void worker_drain(struct worker *w, double now, double grace)
{
	worker_close_stdin(w);
	if (w->state != WS_STOPPING)
		w->state = WS_DRAINING;
	if (!w->term_at && !w->kill_at)
		w->term_at = now + grace;
	pool_touch(w->pool, w);
}

void worker_close_input(struct worker *w)
{
	worker_close_stdin(w);
	if (w->state == WS_READY || w->state == WS_STARTING)
		w->state = WS_DRAINING;
	pool_touch(w->pool, w);
}

double worker_ladder(struct worker *w, double now)
{
	if (w->pid <= 0)
		return 0;
	if (w->term_at && now >= w->term_at) {
		w->term_at = 0;
		worker_signal(w, SIGTERM);
		w->kill_at = now + 2;
	}
	if (w->kill_at && now >= w->kill_at) {
		w->kill_at = 0;
		worker_signal(w, SIGKILL);
	}
	if (w->term_at)
		return w->term_at;
	return w->kill_at;
}

static void add_tail(struct worker *w, const char *line, size_t n)
{
	if (n > TAIL_LINE_MAX)
		n = TAIL_LINE_MAX;
	free(w->tail[w->tail_next]);
	w->tail[w->tail_next] = xstrndup(line, n);
	w->tail_next = (w->tail_next + 1) % WORKER_TAIL_LINES;
	if (w->tail_n < WORKER_TAIL_LINES)
		w->tail_n++;
}

/* The remote guard's word that the worker runs: taken out of its
 * stderr, and the pool looks at it again (it may now be ready). */
static bool remote_started(struct worker *w, const char *line, size_t n)
{
	size_t k = strlen(REMOTE_STARTED);
	if (n < k || memcmp(line, REMOTE_STARTED, k) != 0)
		return false;
	w->announce = false;
	w->announced = true;
	w->started_s = mono_now() - w->spawned_at;
	free(w->remote_pid);
	w->remote_pid = xstrndup(line + k, strcspn(line + k, " \n"));
	log_verbose("worker %s runs on %s as pid %s, %.0f ms after its spawn",
		    w->label, w->host_name, w->remote_pid, w->started_s * 1e3);
	pool_touch(w->pool, w);
	return true;
}

void worker_read_stderr(struct worker *w, bool until_eof)
{
	if (w->fd_err < 0)
		return;
	for (;;) {
		ssize_t r = linebuf_fill(&w->ebuf, w->fd_err, 0);
		const char *line;
		size_t n;
		enum linebuf_result lr;
		while ((lr = linebuf_next(&w->ebuf, &line, &n)) != LB_NEED) {
			if (w->announce && lr == LB_LINE &&
			    remote_started(w, line, n))
				continue;
			if (lr == LB_TOOLONG) {
				struct buf b = BUF_INIT;
				buf_add(&b, line, MIN(n, STDERR_LINE_MAX));
				buf_adds(&b, " [line cut at 1 MiB]");
				log_worker_line(w->label, b.p, b.len);
				add_tail(w, b.p, b.len);
				buf_release(&b);
				continue;
			}
			log_worker_line(w->label, line, n);
			add_tail(w, line, n);
		}
		if (r == 0 || (r < 0 && errno != EAGAIN)) {
			/* Unwatch before closing, as for stdin. */
			if (w->w_err >= 0 && w->loop) {
				loop_del(w->loop, w->w_err);
				w->w_err = -1;
			}
			close(w->fd_err);
			w->fd_err = -1;
			return;
		}
		if (r < 0 || !until_eof)
			return;
	}
}

void worker_add_tail(const struct worker *w, struct buf *out)
{
	unsigned first = (w->tail_next + WORKER_TAIL_LINES - w->tail_n) %
			 WORKER_TAIL_LINES;
	for (unsigned i = 0; i < w->tail_n; i++) {
		const char *line = w->tail[(first + i) % WORKER_TAIL_LINES];
		buf_adds(out, "\n  | ");
		buf_adds(out, line);
	}
}

void worker_add_status(int st, struct buf *out)
{
	if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);
		buf_addf(out, "exited with status %d", code);
		if (code == 127)
			buf_adds(out, " (command not found)");
		else if (code == 126)
			buf_adds(out, " (command not executable)");
		else if (code > 128 && code < 128 + 32)
			/* A shell reports its command's death this way. */
			buf_addf(out, " (128+%d: killed by SIG%s?)", code - 128,
				 signal_name(code - 128));
	} else if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		buf_addf(out, "killed by signal %d (SIG%s)", sig,
			 signal_name(sig));
	} else {
		buf_addf(out, "ended with wait status %d", st);
	}
}

void worker_close_fds(struct worker *w)
{
	if (w->fd_in >= 0)
		close(w->fd_in);
	if (w->fd_out >= 0)
		close(w->fd_out);
	if (w->fd_err >= 0)
		close(w->fd_err);
	w->fd_in = w->fd_out = w->fd_err = -1;
}
