/* hosts.c - ssh connection masters, Slurm allocations, and what each
 * host did: see hosts.h. */
#define _GNU_SOURCE
#include "hosts.h"
#include "guard.h"
#include "launch.h"
#include "log.h"
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How often a connecting master's socket is looked for. */
#define SOCKET_POLL 0.005
/* Workers wait this long for their host's master; then they connect on
 * their own (a host that neither answers nor refuses). */
#define HOST_WAIT 10.0
/* A master that died is started again, but not sooner than this after
 * the last one started. */
#define MASTER_RETRY 1.0
/* At the end: a master gets SIGKILL this long after SIGTERM. */
#define MASTER_GRACE 2.0
/* ...and SIGTERM again this often meanwhile: a SIGTERM that reaches ssh
 * (OpenSSH 9.2) between its loop's check and its poll is only noticed at
 * the next wake-up, which an idle master never has (1 run in 40 took the
 * whole grace). */
#define MASTER_TERM_AGAIN 0.05
/* At the end: salloc gets SIGTERM this long after its pipe closed, and
 * SIGKILL as long again after that. */
#define ALLOC_GRACE 5.0
/* What is kept of a helper's stderr, for messages. */
#define ERR_KEEP 2048

static struct host *host_of(struct pool *p, const struct worker *w)
{
	return w->host >= 0 ? &p->hosts.h[w->host] : NULL;
}

static void recount(struct hosts *H)
{
	H->busy = 0;
	for (size_t i = 0; i < H->n; i++) {
		struct host *h = &H->h[i];
		if ((h->state == HS_CONNECTING && h->kind == HOST_SSH) ||
		    h->state == HS_RETRY ||
		    (h->state == HS_STOPPING && h->kill_at))
			H->busy++;
	}
	/* Tasks are read once some worker can run them. */
	size_t waiting = 0;
	for (size_t i = 0; i < H->n; i++)
		if (H->h[i].kind == HOST_SLURM &&
		    H->h[i].state == HS_CONNECTING)
			waiting += H->h[i].nworkers;
	H->hold = waiting && waiting >= H->nw_total;
}

/* --- Setting up ----------------------------------------------------- */

static size_t add_host(struct hosts *H, enum host_kind kind, const char *name,
		       int spec_index)
{
	if (kind == HOST_SSH)
		for (size_t i = 0; i < H->n; i++)
			if (H->h[i].kind == HOST_SSH &&
			    strcmp(H->h[i].name, name) == 0)
				return i;
	H->h = xrealloc(H->h, (H->n + 1) * sizeof(*H->h));
	struct host *h = &H->h[H->n];
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->name = xstrdup(name);
	h->spec_index = spec_index;
	h->fd_err = h->fd_out = h->fd_hold = -1;
	h->w_err = h->w_out = -1;
	return H->n++;
}

static const struct worker_spec *spec_at(const struct pool *p, int i)
{
	return (size_t)i < p->cfg.nspecs ? &p->cfg.specs[i]
					 : p->extra[(size_t)i - p->cfg.nspecs];
}

int hosts_setup(struct pool *p, const struct spool_opts *o)
{
	struct hosts *H = &p->hosts;
	struct buf err = BUF_INIT;
	int rc = 0;
	if (o->hosts &&
	    config_set_hosts(&p->cfg.specs[0], o->hosts, &err) < 0) {
		log_error("%s", err.p);
		rc = SPOOL_EXIT_USAGE;
		goto out;
	}
	bool ssh = false;
	for (size_t s = 0; s < p->cfg.nspecs; s++) {
		const struct worker_spec *spec = &p->cfg.specs[s];
		if (spec->launcher == LAUNCH_SLURM) {
			add_host(H, HOST_SLURM, "slurm", (int)s);
			continue;
		}
		for (size_t k = 0; k < spec->nhosts; k++) {
			size_t hi =
				add_host(H, HOST_SSH, spec->hosts[k].dest, -1);
			H->hs = xrealloc(H->hs, (H->nhs + 1) * sizeof(*H->hs));
			struct host_spec *hs = &H->hs[H->nhs++];
			memset(hs, 0, sizeof(*hs));
			hs->spec_index = (int)s;
			hs->host_index = (int)hi;
			ssh = true;
		}
	}
	if (ssh) {
		const char *cmd =
			o->ssh_command ? o->ssh_command : getenv("SPOOL_SSH");
		if (remote_ssh_init(&H->ssh, cmd, &err) < 0) {
			buf_addc(&err, '\0');
			log_error("%s: %s",
				  o->ssh_command ? "--ssh" : "SPOOL_SSH",
				  err.p);
			rc = SPOOL_EXIT_USAGE;
		}
	}
out:
	buf_release(&err);
	return rc;
}

void hosts_bind(struct pool *p, struct worker *w, long entry, long slot)
{
	struct hosts *H = &p->hosts;
	const struct worker_spec *spec = w->spec;
	H->nw_total++;
	if (spec->launcher == LAUNCH_SLURM) {
		for (size_t i = 0; i < H->n; i++)
			if (H->h[i].kind == HOST_SLURM &&
			    H->h[i].spec_index == w->spec_index) {
				w->host = (int)i;
				H->h[i].nworkers++;
			}
		w->slot = slot;
		return;
	}
	if (spec->launcher != LAUNCH_SSH || entry < 0)
		return;
	w->host_name = spec->hosts[entry].dest;
	w->slot = slot;
	for (size_t i = 0; i < H->nhs; i++) {
		struct host_spec *hs = &H->hs[i];
		if (hs->spec_index == w->spec_index &&
		    strcmp(H->h[hs->host_index].name, w->host_name) == 0) {
			w->hs = (int)i;
			w->host = hs->host_index;
			H->h[w->host].nworkers++;
			return;
		}
	}
}

/* --- Helper processes ----------------------------------------------- */

/* Keep the end of what a helper writes on stderr. */
static void keep_err(struct host *h, const char *s, size_t n)
{
	buf_add(&h->err, s, n);
	if (h->err.len > ERR_KEEP) {
		size_t drop = h->err.len - ERR_KEEP;
		memmove(h->err.p, h->err.p + drop, ERR_KEEP);
		h->err.len = ERR_KEEP;
	}
}

/* Its last non-empty stderr line, escaped, or its exit status. */
static char *last_words(struct host *h, int st)
{
	struct buf b = BUF_INIT;
	size_t end = h->err.len;
	while (end && (h->err.p[end - 1] == '\n' || h->err.p[end - 1] == '\r'))
		end--;
	size_t start = end;
	while (start && h->err.p[start - 1] != '\n')
		start--;
	if (end > start)
		log_escape(&b, h->err.p + start, end - start);
	else if (st >= 0)
		worker_add_status(st, &b);
	else
		buf_adds(&b, "no message");
	buf_addc(&b, '\0');
	return b.p;
}

static void close_watch(struct pool *p, int *fd, int *watch)
{
	if (*watch >= 0)
		loop_del(&p->loop, *watch);
	*watch = -1;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read what fd has; false at end of file (or an error). */
static bool drain_fd(int fd, struct host *h, bool to_err)
{
	char tmp[4096];
	for (;;) {
		ssize_t r = xread(fd, tmp, sizeof(tmp));
		if (r > 0) {
			if (to_err)
				keep_err(h, tmp, (size_t)r);
			else if (h->out.len < 4096)
				buf_add(&h->out, tmp, (size_t)r);
			continue;
		}
		return r < 0 && errno == EAGAIN;
	}
}

static void on_err(void *ctx, int fd, int revents)
{
	struct pool *p = ctx;
	(void)revents;
	for (size_t i = 0; i < p->hosts.n; i++) {
		struct host *h = &p->hosts.h[i];
		if (h->fd_err == fd && !drain_fd(fd, h, true))
			close_watch(p, &h->fd_err, &h->w_err);
	}
}

static void host_up(struct pool *p, struct host *h);
static void host_down(struct pool *p, struct host *h, char *why);

/* salloc's stdout: the job id, one line. */
static void on_out(void *ctx, int fd, int revents)
{
	struct pool *p = ctx;
	(void)revents;
	for (size_t i = 0; i < p->hosts.n; i++) {
		struct host *h = &p->hosts.h[i];
		if (h->fd_out != fd)
			continue;
		bool open = drain_fd(fd, h, false);
		char *nl =
			h->out.len ? memchr(h->out.p, '\n', h->out.len) : NULL;
		if (!nl && open)
			return;
		close_watch(p, &h->fd_out, &h->w_out);
		if (h->state != HS_CONNECTING)
			return;
		size_t n = nl ? (size_t)(nl - h->out.p) : h->out.len;
		char *id = xstrndup(h->out.p ? h->out.p : "", n);
		long num;
		if (parse_long(id, 1, 0x7fffffffL, &num)) {
			h->jobid = id;
			host_up(p, h);
		} else {
			free(id);
			/* Its stderr says why: it is read when it exits. */
		}
		return;
	}
}

static void watch_err(struct pool *p, struct host *h, int fd)
{
	h->fd_err = fd;
	fd_set_nonblock(fd, true);
	h->w_err = loop_add(&p->loop, fd, POLLIN, on_err, p);
}

static void start_master(struct pool *p, struct host *h)
{
	struct buf why = BUF_INIT;
	int errp[2];
	if (pipe2(errp, O_CLOEXEC) != 0) {
		buf_addf(&why, "cannot make a pipe: %s", strerror(errno));
		buf_addc(&why, '\0');
		host_down(p, h, why.p);
		return;
	}
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int fds[3] = {null, null, errp[1]};
	/* A socket left by a master that was killed would be taken for the
	 * new one's. */
	(void)unlink(h->sock);
	char **av = remote_ssh_master_argv(&p->hosts.ssh, h->sock, h->name);
	pid_t pid = proc_spawn(av, fds, p->guard_fd, '+', SIGTERM, &why);
	remote_argv_free(av);
	if (null >= 0)
		close(null);
	close(errp[1]);
	buf_reset(&h->err);
	h->masters++;
	h->started_at = p->now;
	if (pid < 0) {
		close(errp[0]);
		buf_addc(&why, '\0');
		host_down(p, h, why.p);
		return;
	}
	buf_release(&why);
	h->pid = pid;
	h->state = HS_CONNECTING;
	h->wait_until = p->now + HOST_WAIT;
	watch_err(p, h, errp[0]);
	log_verbose("host %s: connecting (ssh master, pid %d)", h->name,
		    (int)pid);
}

static void start_alloc(struct pool *p, struct host *h)
{
	struct buf why = BUF_INIT;
	/* pipe2 leaves the pair as it was when it fails. */
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		buf_addf(&why, "cannot make a pipe: %s", strerror(errno));
		buf_addc(&why, '\0');
		int *ends[] = {in, out, err};
		for (size_t k = 0; k < ARRAY_SIZE(ends); k++)
			for (int e = 0; e < 2; e++)
				if (ends[k][e] >= 0)
					close(ends[k][e]);
		host_down(p, h, why.p);
		return;
	}
	const struct worker_spec *spec = spec_at(p, h->spec_index);
	char **av =
		launch_salloc_argv(&spec->slurm, (long)h->nworkers, "spool");
	int fds[3] = {in[0], out[1], err[1]};
	/* If spool dies, its end of the pipe closes, cat ends, and salloc
	 * gives the allocation back, as when spool ends it.  No signal: a
	 * SIGTERM at that moment could leave salloc spinning, and the
	 * guard's SIGKILL could come before salloc has told the
	 * controller, which would keep the allocation. */
	pid_t pid = proc_spawn(av, fds, p->guard_fd, 0, 0, &why);
	remote_argv_free(av);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	h->own_alloc = true;
	h->started_at = p->now;
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		close(err[0]);
		buf_addc(&why, '\0');
		host_down(p, h, why.p);
		return;
	}
	buf_release(&why);
	h->pid = pid;
	h->state = HS_CONNECTING;
	h->wait_until = 0;
	h->fd_hold = in[1];
	h->fd_out = out[0];
	fd_set_nonblock(h->fd_out, true);
	h->w_out = loop_add(&p->loop, h->fd_out, POLLIN, on_out, p);
	watch_err(p, h, err[0]);
	log_verbose("requesting a Slurm allocation for %zu worker%s of "
		    "workers[%d] (salloc, pid %d)",
		    h->nworkers, h->nworkers == 1 ? "" : "s", h->spec_index,
		    (int)pid);
}

/* A private directory for the control sockets: short, as a socket's
 * path must fit in about 100 bytes, ssh's temporary name included. */
static int make_dir(struct hosts *H)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 40)
		tmp = "/tmp";
	char *templ = xasprintf("%s/spool-XXXXXX", tmp);
	if (!mkdtemp(templ)) {
		log_error("cannot make a directory for the ssh connections in "
			  "%s: %s",
			  tmp, strerror(errno));
		free(templ);
		return -1;
	}
	H->dir = templ;
	for (size_t i = 0; i < H->n; i++)
		if (H->h[i].kind == HOST_SSH)
			H->h[i].sock = xasprintf("%s/h%zu", H->dir, i);
	return 0;
}

int hosts_start(struct pool *p)
{
	struct hosts *H = &p->hosts;
	if (!H->n)
		return 0;
	const char *job = getenv("SLURM_JOB_ID");
	bool inside = job && *job;
	bool ssh = false;
	for (size_t i = 0; i < H->n; i++) {
		struct host *h = &H->h[i];
		if (h->kind == HOST_SSH) {
			ssh = true;
			continue;
		}
		const char *need = !program_found("srun")                ? "srun"
				   : !inside && !program_found("salloc") ? "salloc"
								   : NULL;
		if (need) {
			log_error("%s: workers[%d] has \"launcher\": "
				  "\"slurm\", but %s is not on PATH: install "
				  "Slurm's client commands (Debian: "
				  "slurm-client), or run this pool where "
				  "Slurm is",
				  p->cfg.label, h->spec_index, need);
			return SPOOL_EXIT_NOPOOL;
		}
	}
	if (ssh && make_dir(H) != 0)
		return SPOOL_EXIT_NOPOOL;
	for (size_t i = 0; i < H->n; i++) {
		struct host *h = &H->h[i];
		if (h->kind == HOST_SSH) {
			start_master(p, h);
		} else if (inside) {
			/* Inside an allocation: its steps are ours. */
			h->jobid = xstrdup(job);
			h->started_at = p->now;
			host_up(p, h);
		} else {
			start_alloc(p, h);
		}
	}
	recount(H);
	return 0;
}

/* --- State changes -------------------------------------------------- */

/* Workers waiting for h may go now. */
static void release_waiters(struct pool *p, struct host *h)
{
	if (!h->waiters)
		return;
	h->waiters = false;
	size_t hi = (size_t)(h - p->hosts.h);
	for (size_t i = 0; i < p->nw; i++) {
		struct worker *w = p->w[i];
		if (w->host == (int)hi && w->host_wait &&
		    w->state == WS_BACKOFF) {
			w->restart_at = p->now;
			pool_touch(p, w);
		}
	}
	p->timers_acted = true;
}

static void host_up(struct pool *p, struct host *h)
{
	h->state = HS_UP;
	h->ever_up = true;
	h->connect_s = p->now - h->started_at;
	if (h->kind == HOST_SLURM) {
		free(h->name);
		h->name = xasprintf("slurm job %s", h->jobid);
		log_verbose("%s: %s for workers[%d] (%zu worker%s)%s", h->name,
			    h->own_alloc ? "allocated" : "running inside it",
			    h->spec_index, h->nworkers,
			    h->nworkers == 1 ? "" : "s",
			    h->own_alloc ? "; released when spool ends" : "");
	} else {
		log_verbose("host %s: connected in %.0f ms", h->name,
			    h->connect_s * 1e3);
	}
	release_waiters(p, h);
	recount(&p->hosts);
}

/* h cannot be used (why is taken). */
static void host_down(struct pool *p, struct host *h, char *why)
{
	free(h->down_why);
	h->down_why = why;
	h->state = HS_DOWN;
	if (h->kind == HOST_SSH) {
		log_error("host %s: cannot connect: %s; its workers try on "
			  "their own",
			  h->name, why);
		release_waiters(p, h);
	} else {
		bool held = p->hosts.hold;
		char *msg = h->ever_up
				    ? xasprintf("its Slurm allocation (%s) "
						"ended: %s",
						h->name, why)
				    : xasprintf("no Slurm allocation: %s", why);
		log_error("workers[%d] in %s: %s", h->spec_index, p->cfg.label,
			  msg);
		pool_spec_lost(p, h->spec_index, msg);
		free(msg);
		recount(&p->hosts);
		/* Nothing was read, and nothing can run it: say so now. */
		if (held && p->no_workers)
			pool_stop(p, STOP_NOPOOL);
	}
	recount(&p->hosts);
}

int hosts_may_spawn(struct pool *p, struct worker *w)
{
	struct host *h = host_of(p, w);
	if (!h)
		return 1;
	switch (h->state) {
	case HS_CONNECTING:
		if (h->wait_until && p->now >= h->wait_until)
			break;
		goto wait;
	case HS_RETRY:
		goto wait;
	case HS_DOWN:
		if (h->kind == HOST_SLURM)
			return -1;
		/* ssh: on its own; ssh says why it fails. */
		break;
	case HS_IDLE:
	case HS_UP:
	case HS_STOPPING:
	case HS_STOPPED:
		break;
	}
	w->host_wait = false;
	return 1;
wait:
	w->host_wait = true;
	h->waiters = true;
	w->state = WS_BACKOFF;
	w->restart_at = h->state == HS_RETRY ? h->retry_at + HOST_WAIT
			: h->wait_until      ? h->wait_until
					     : p->now + 3600;
	pool_touch(p, w);
	return 0;
}

double hosts_timers(struct pool *p)
{
	struct hosts *H = &p->hosts;
	if (!H->busy)
		return 0;
	double next = 0;
	for (size_t i = 0; i < H->n; i++) {
		struct host *h = &H->h[i];
		switch (h->state) {
		case HS_CONNECTING: {
			if (h->kind != HOST_SSH)
				break;
			struct stat st;
			if (stat(h->sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
				host_up(p, h);
				break;
			}
			if (h->waiters && p->now >= h->wait_until) {
				log_error("host %s: not connected after %.0fs; "
					  "its workers try on their own",
					  h->name, HOST_WAIT);
				release_waiters(p, h);
			}
			next = deadline_min(next, p->now + SOCKET_POLL);
			break;
		}
		case HS_RETRY:
			if (p->now >= h->retry_at)
				start_master(p, h);
			else
				next = deadline_min(next, h->retry_at);
			break;
		case HS_STOPPING:
			if (!h->kill_at || !h->pid)
				break;
			if (p->now < h->kill_at) {
				if (h->kind == HOST_SSH &&
				    p->now >= h->term_again) {
					(void)kill(h->pid, SIGTERM);
					h->term_again =
						p->now + MASTER_TERM_AGAIN;
				}
				double due =
					h->kind == HOST_SSH
						? MIN(h->term_again, h->kill_at)
						: h->kill_at;
				next = deadline_min(next, due);
				break;
			}
			if (h->kind == HOST_SLURM && !h->term_sent) {
				/* The pipe closed and salloc stays: ask it
				 * to give the allocation back. */
				(void)kill(h->pid, SIGTERM);
				h->term_sent = true;
				h->kill_at = p->now + ALLOC_GRACE;
				next = deadline_min(next, h->kill_at);
			} else {
				(void)kill(h->kind == HOST_SSH ? -h->pid
							       : h->pid,
					   SIGKILL);
				h->kill_at = 0;
			}
			break;
		default:
			break;
		}
	}
	recount(H);
	return next;
}

bool hosts_reaped(struct pool *p, pid_t pid, int st)
{
	struct hosts *H = &p->hosts;
	struct host *h = NULL;
	for (size_t i = 0; i < H->n && !h; i++)
		if (H->h[i].pid == pid)
			h = &H->h[i];
	if (!h)
		return false;
	h->pid = 0;
	if (h->fd_err >= 0)
		(void)drain_fd(h->fd_err, h, true);
	close_watch(p, &h->fd_err, &h->w_err);
	if (h->fd_out >= 0)
		on_out(p, h->fd_out, POLLIN);
	close_watch(p, &h->fd_out, &h->w_out);
	if (h->fd_hold >= 0)
		close(h->fd_hold);
	h->fd_hold = -1;
	/* At the end, an ending connection is no news. */
	if (h->state == HS_STOPPING || h->state == HS_STOPPED ||
	    (h->state == HS_UP && p->phase >= PH_SHUTDOWN)) {
		h->state = HS_STOPPED;
		log_verbose("%s%s: %s", h->kind == HOST_SSH ? "host " : "",
			    h->name,
			    h->kind == HOST_SSH ? "connection closed"
						: "allocation released");
		recount(H);
		return true;
	}
	char *why = last_words(h, st);
	if (h->kind == HOST_SSH && h->state == HS_UP) {
		/* A dropped connection: its workers' sessions went with it
		 * (they die, and their tasks run again); connect again. */
		log_error("host %s: the connection was lost (%s); connecting "
			  "again",
			  h->name, why);
		free(h->down_why);
		h->down_why = why;
		h->state = HS_RETRY;
		h->retry_at = MAX(p->now, h->started_at + MASTER_RETRY);
		recount(H);
		return true;
	}
	host_down(p, h, why);
	return true;
}

bool hosts_stopped(struct pool *p)
{
	struct hosts *H = &p->hosts;
	bool left = false;
	if (!H->stopping) {
		H->stopping = true;
		for (size_t i = 0; i < H->n; i++) {
			struct host *h = &H->h[i];
			if (!h->pid) {
				h->state = HS_STOPPED;
				continue;
			}
			h->state = HS_STOPPING;
			if (h->kind == HOST_SSH) {
				(void)kill(h->pid, SIGTERM);
				h->kill_at = p->now + MASTER_GRACE;
				h->term_again = p->now + MASTER_TERM_AGAIN;
			} else {
				/* cat sees end of file, salloc's command
				 * ends, and salloc gives the allocation
				 * back. */
				if (h->fd_hold >= 0)
					close(h->fd_hold);
				h->fd_hold = -1;
				h->kill_at = p->now + ALLOC_GRACE;
			}
		}
		recount(H);
	}
	for (size_t i = 0; i < H->n; i++)
		if (H->h[i].pid)
			left = true;
	return !left;
}

void hosts_release(struct pool *p)
{
	struct hosts *H = &p->hosts;
	for (size_t i = 0; i < H->n; i++) {
		struct host *h = &H->h[i];
		if (h->fd_hold >= 0)
			close(h->fd_hold);
		if (h->pid > 0) {
			/* An early end (set-up failed): no loop to wait in. */
			(void)kill(h->pid, SIGTERM);
			guard_tell(p, '-', h->pid);
			while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		close_watch(p, &h->fd_err, &h->w_err);
		close_watch(p, &h->fd_out, &h->w_out);
		if (h->sock)
			(void)unlink(h->sock);
		free(h->sock);
		free(h->name);
		free(h->jobid);
		free(h->down_why);
		buf_release(&h->err);
		buf_release(&h->out);
	}
	free(H->h);
	for (size_t i = 0; i < H->nhs; i++)
		free(H->hs[i].why);
	free(H->hs);
	if (H->dir)
		(void)rmdir(H->dir);
	free(H->dir);
	remote_ssh_release(&H->ssh);
	memset(H, 0, sizeof(*H));
}

/* --- What they did -------------------------------------------------- */

const char *hosts_name(const struct pool *p, const struct worker *w)
{
	return w->host >= 0 ? p->hosts.h[w->host].name : NULL;
}

const char *hosts_sock(const struct pool *p, const struct worker *w)
{
	if (w->host < 0)
		return NULL;
	const struct host *h = &p->hosts.h[w->host];
	/* --dry-run makes no directory: show where it would be. */
	if (!h->sock) {
		static char shown[64];
		const char *tmp = getenv("TMPDIR");
		if (!tmp || !*tmp || strlen(tmp) > 40)
			tmp = "/tmp";
		snprintf(shown, sizeof(shown), "%s/spool-XXXXXX/h%d", tmp,
			 w->host);
		return shown;
	}
	return h->sock;
}

const char *hosts_jobid(const struct pool *p, const struct worker *w)
{
	return w->host >= 0 ? p->hosts.h[w->host].jobid : NULL;
}

uint64_t hosts_done(const struct pool *p, int hs)
{
	uint64_t n = 0;
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i]->hs == hs)
			n += p->w[i]->done_before + p->w[i]->done;
	return n;
}

void hosts_check_line(const struct pool *p, size_t i, struct buf *out)
{
	const struct host *h = &p->hosts.h[i];
	if (h->kind == HOST_SSH)
		buf_addf(out, "host %s\t", h->name);
	else
		buf_addf(out, "%s\t", h->name);
	if (h->ever_up) {
		buf_adds(out, h->kind == HOST_SSH ? "reachable, connected in "
			      : h->own_alloc      ? "allocated in "
						  : "inside it: ");
		buf_add_duration(out, h->connect_s);
	} else {
		buf_adds(out, h->kind == HOST_SSH ? "UNREACHABLE: "
						  : "NO ALLOCATION: ");
		const char *why = h->down_why ? h->down_why : "no answer";
		buf_adds(out, why);
	}
	buf_addc(out, '\n');
}

void hosts_stats_text(const struct pool *p, struct buf *out)
{
	const struct hosts *H = &p->hosts;
	for (size_t i = 0; i < H->n; i++) {
		const struct host *h = &H->h[i];
		uint64_t tasks = 0, restarts = 0;
		size_t up = 0;
		for (size_t k = 0; k < p->nw; k++) {
			const struct worker *w = p->w[k];
			if (w->host != (int)i)
				continue;
			tasks += w->st_tasks;
			restarts += w->st_restarts;
			up += w->came_up;
		}
		buf_addf(out,
			 "spool: %s%s: %zu of %zu workers came up, %llu "
			 "tasks, %llu restarts",
			 h->kind == HOST_SSH ? "host " : "", h->name, up,
			 h->nworkers, (unsigned long long)tasks,
			 (unsigned long long)restarts);
		if (h->ever_up) {
			buf_adds(out, h->kind == HOST_SSH ? ", connected in "
							  : ", allocated in ");
			buf_add_duration(out, h->connect_s);
			if (h->masters > 1 && h->kind == HOST_SSH)
				buf_addf(out, " (%u connections)", h->masters);
		} else if (h->down_why) {
			buf_addf(out, ", unreachable: %s", h->down_why);
		}
		for (size_t k = 0; k < H->nhs; k++)
			if (H->hs[k].host_index == (int)i && H->hs[k].given_up)
				buf_addf(out, "; given up for \"%s\"",
					 spec_at(p, H->hs[k].spec_index)->name);
		buf_addc(out, '\n');
	}
}

void hosts_summary(const struct pool *p)
{
	const struct hosts *H = &p->hosts;
	for (size_t k = 0; k < H->nhs; k++) {
		const struct host_spec *hs = &H->hs[k];
		if (!hs->given_up)
			continue;
		log_error("host %s was given up for worker \"%s\": %s",
			  H->h[hs->host_index].name,
			  spec_at(p, hs->spec_index)->name,
			  hs->why ? hs->why : "its workers could not start");
	}
}
