/* spool.h - the spool engine: run a pool of long-lived workers and stream
 * newline-delimited tasks through them.  The command line (cmd/spool.c)
 * fills a struct spool_opts and calls spool_run() or spool_check(). */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define SPOOL_VERSION "0.1.0"

/* Exit statuses.  When several apply, the first in this order wins:
 * interrupted, stdout closed, usage, no pool, failed, ok. */
enum spool_exit {
	SPOOL_EXIT_OK = 0,        /* every task succeeded */
	SPOOL_EXIT_FAILED = 1,    /* one or more tasks failed */
	SPOOL_EXIT_USAGE = 2,     /* usage or config error, unreadable input */
	SPOOL_EXIT_NOPOOL = 3,    /* no worker could be spawned, or all lost */
	SPOOL_EXIT_SIGHUP = 129,  /* interrupted by SIGHUP */
	SPOOL_EXIT_SIGINT = 130,  /* interrupted by SIGINT */
	SPOOL_EXIT_PIPE = 141,    /* stdout closed by its reader */
	SPOOL_EXIT_SIGTERM = 143, /* interrupted by SIGTERM */
};

#define SPOOL_UNSET (-1)

/* Results held back for -k, at most (bytes; one result over is allowed). */
#define SPOOL_ORDER_BUFFER ((long)64 << 20)

enum { SPOOL_PROTO_LINES = 0, SPOOL_PROTO_SPOOL = 1 };

struct spool_opts {
	const char *workers_path; /* -w: pool config */
	const char *command;      /* -c: one worker spec, sh -c COMMAND */
	long jobs;          /* -j; 0: online CPUs (-c), the config's (-w) */
	int protocol;       /* -p for -c; SPOOL_UNSET: lines */
	bool buffered;      /* --buffered for -c */
	bool dry_run;       /* --dry-run */
	long batch_max;     /* --batch N for -c; 0: none */
	double batch_delay; /* --batch N,DELAY */
	int keep_order;     /* -k: 1; SPOOL_UNSET: from config */
	long queue_size;    /* -q; 0: from config, else 1024 */
	long order_buffer;  /* --order-buffer bytes; 0: config/default */
	long inflight;      /* --inflight; 0 auto, SPOOL_UNSET: config */
	long retries;       /* -r; SPOOL_UNSET: config, else 2 */
	double timeout;     /* -t seconds; < 0: from config */
	const char *failed_path; /* --failed */
	const char *joblog_path; /* --joblog */
	const char *stats_path;  /* --stats=FILE */
	bool stats;              /* --stats */
	bool tag, raw, strict, resume;
	int progress;              /* 1 on, 0 off, SPOOL_UNSET: if a TTY */
	int verbosity;             /* 0 quiet, 1 normal, 2 verbose */
	const char *listen_path;   /* serve --listen PATH */
	const char *const *inputs; /* FILEs; none or "-" is stdin */
	size_t ninputs;

	/* Workers on other machines (SPEC section 10). */
	const char *hosts;       /* -S: the -c workers on these ssh hosts */
	const char *ssh_command; /* --ssh; NULL: $SPOOL_SSH, else ssh */
};

void spool_opts_init(struct spool_opts *o);

/* Run tasks through the pool; returns an exit status (enum spool_exit). */
int spool_run(const struct spool_opts *o);

/* Spawn every worker once, print its spawn result, shut down. */
int spool_check(const struct spool_opts *o);

/* Run the pool as a service (SPEC section 9). */
int spool_serve(const struct spool_opts *o);

/* Print each worker's command, environment and directory; start
 * nothing. */
int spool_dry_run(const struct spool_opts *o);

#endif
