/* hosts.h - where remote workers run: one shared ssh connection per host,
 * one Slurm allocation per Slurm spec, and spawn failures counted per
 * (spec, host) (SPEC section 10).
 *
 * A host is what a worker's process depends on besides itself:
 *
 *   ssh	a ControlMaster that spool starts at the beginning (its
 *		socket in a private directory), through which every worker
 *		of that host opens its session: one login per host, and a
 *		worker starts in tens of milliseconds instead of hundreds.
 *		Its workers are spawned once the master is up (its socket
 *		exists) or has failed; then they connect on their own, and
 *		ssh's own message says why they fail.  A master that dies
 *		mid-run (a dropped connection) is started again.
 *   slurm	the allocation the spec's workers run in: $SLURM_JOB_ID when
 *		spool runs inside one, else one that spool requests with
 *		salloc, holding it through a pipe: when spool ends or dies,
 *		the pipe closes and the allocation is released.  No task is
 *		read while only workers waiting for an allocation exist.
 *
 *   CONNECTING --socket / job id--> UP --master dies--> RETRY --> CONNECTING
 *        |                                                 (ssh)
 *        +--fails--> DOWN      and at the end: STOPPING --> STOPPED
 *
 * A remote worker over ssh is ready (lines, no ready line) once the
 * remote guard says it runs (REMOTE_STARTED on its stderr): before that
 * it gets no task, so a host that cannot be reached costs no task an
 * attempt.  Its deaths before a finished task count against its (spec,
 * host) as spawn failures; five in a row give that host up for the spec,
 * and the spec is given up when all its hosts are. */
#ifndef SPOOL_HOSTS_H
#define SPOOL_HOSTS_H

#include "remote.h"
#include "util.h"

#include <sys/types.h>

struct pool;
struct worker;
struct spool_opts;

enum host_kind { HOST_SSH, HOST_SLURM };

enum host_state {
	HS_IDLE,       /* not started (dry run) */
	HS_CONNECTING, /* master or salloc started, not up yet */
	HS_UP,         /* socket there, or job id known */
	HS_RETRY,      /* ssh: the master died; another starts at retry_at */
	HS_DOWN,       /* could not connect, or the allocation failed */
	HS_STOPPING,   /* told to end */
	HS_STOPPED,
};

struct host {
	enum host_kind kind;
	enum host_state state;
	char *name;     /* ssh: the destination; slurm: "slurm job J" */
	int spec_index; /* slurm: its spec */
	size_t nworkers;
	pid_t pid;         /* master or salloc; 0 when none */
	int fd_err;        /* its stderr, for messages */
	int w_err;         /* loop watch */
	struct buf err;    /* the end of what it wrote on stderr */
	int fd_out, w_out; /* salloc: the job id line */
	struct buf out;
	int fd_hold;    /* salloc: its stdin; closing it ends the allocation */
	char *sock;     /* ssh: the master's control socket */
	char *jobid;    /* slurm */
	bool own_alloc; /* spool requested the allocation */
	bool ever_up;
	bool waiters; /* workers wait for it */
	double started_at, connect_s;
	double wait_until; /* workers wait for it until then (0: always) */
	double retry_at;   /* RETRY: start a master then */
	double kill_at;    /* STOPPING: the next signal then */
	double term_again; /* STOPPING, ssh: SIGTERM again then */
	bool term_sent;    /* STOPPING, slurm: salloc was sent SIGTERM */
	char *down_why;    /* why it is DOWN, or why its master last ended */
	unsigned masters;  /* masters started */
};

/* Spawn failures of one spec on one host. */
struct host_spec {
	int spec_index, host_index;
	int failures;  /* spawn failures in a row */
	uint64_t mark; /* tasks finished there at the last failure */
	bool given_up;
	char *why;
};

struct hosts {
	struct host *h;
	size_t n;
	struct host_spec *hs;
	size_t nhs;
	struct remote_ssh ssh; /* the ssh client, when any host uses it */
	char *dir;             /* private directory of the control sockets */
	size_t busy;     /* hosts with deadlines (connecting, retry, stop) */
	size_t nw_total; /* workers, remote or not */
	bool hold;       /* no task may be read yet */
	bool stopping;   /* hosts_stopped() began */
};

/* After the config is read: -S, the ssh client (--ssh, SPOOL_SSH), the
 * table of hosts.  Returns 0 or an exit status (message said). */
int hosts_setup(struct pool *p, const struct spool_opts *o);
/* A new worker of spec spec_index runs on that spec's host entry
 * entry (-1: none) as slot slot there. */
void hosts_bind(struct pool *p, struct worker *w, long entry, long slot);
/* Start masters and allocations.  Returns 0 or an exit status. */
int hosts_start(struct pool *p);
/* May w be spawned now?  1: yes.  0: not yet; it is left waiting
 * (WS_BACKOFF) and touched when its host is up, or could not be reached.
 * -1: never (its Slurm allocation is gone). */
int hosts_may_spawn(struct pool *p, struct worker *w);
/* Act on what is due; returns the next deadline (0: none). */
double hosts_timers(struct pool *p);
/* pid was a master or salloc: it is reaped (status st). */
bool hosts_reaped(struct pool *p, pid_t pid, int st);
/* The workers are gone: end every master and allocation.  True once
 * none is left. */
bool hosts_stopped(struct pool *p);
void hosts_release(struct pool *p);

/* A worker's host for people ("gpu1", "slurm job 42"), NULL if local. */
const char *hosts_name(const struct pool *p, const struct worker *w);
/* Its host's control socket (ssh), and its allocation (slurm). */
const char *hosts_sock(const struct pool *p, const struct worker *w);
const char *hosts_jobid(const struct pool *p, const struct worker *w);
/* Tasks finished so far by the workers of one (spec, host). */
uint64_t hosts_done(const struct pool *p, int hs);

/* spool check: a line per host before its workers. */
void hosts_check_line(const struct pool *p, size_t host, struct buf *out);
/* --stats: a line per host. */
void hosts_stats_text(const struct pool *p, struct buf *out);
/* The end of a run: name the hosts given up. */
void hosts_summary(const struct pool *p);

#endif
