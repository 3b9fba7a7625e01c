/* config.h - the pool config (SPEC section 3): worker specs and run
 * settings, validated strictly, every error naming its place. */
#ifndef SPOOL_CONFIG_H
#define SPOOL_CONFIG_H

#include "remote.h"
#include "util.h"

enum protocol { PROTO_LINES, PROTO_SPOOL };

/* How a spec's workers are started (SPEC section 10): as local processes,
 * over ssh on its "hosts", or as Slurm job steps. */
enum launcher { LAUNCH_LOCAL, LAUNCH_SSH, LAUNCH_SLURM };

/* "slurm": what each worker's job step asks for.  Every key optional. */
struct slurm_opts {
	char *gres;         /* "gpu:1"; NULL: none */
	long cpus_per_task; /* 0: Slurm's default */
	char *partition;    /* NULL: the cluster's default */
	char *time;         /* the allocation spool requests; NULL: none */
	char **args;        /* more srun arguments; NULL-terminated */
	size_t nargs;
};
enum ready_mode { READY_START, READY_LINE };

struct env_pair {
	char *key;
	char *val; /* may hold placeholders */
};

struct worker_spec {
	char *name;
	char **cmd; /* NULL-terminated; may hold placeholders */
	size_t ncmd;
	enum protocol protocol;
	char *spawn_json; /* compact JSON; "{}" when absent */
	struct env_pair *env;
	size_t nenv;
	char *cwd; /* NULL: spool's own; else resolved against the config dir */
	long replicas;
	long inflight;          /* 0 means auto */
	double timeout;         /* 0: none */
	double startup_timeout; /* 0: none */
	long max_tasks;         /* 0: never recycle */
	enum ready_mode ready;
	bool buffered;      /* lines worker that buffers its output (§4.1) */
	long batch_max;     /* spool protocol: most tasks a batch; 0: none */
	double batch_delay; /* hold a partial batch at most this long */
	bool literal;       /* -c: the command is used as typed (no {name}) */
	bool timeout_set, inflight_set;
	enum launcher launcher;
	/* LAUNCH_SSH: where its workers run, slots 0 meaning "replicas".
	 * cmd[0] and cwd are then kept as written: paths on those hosts. */
	struct remote_host *hosts;
	size_t nhosts;
	struct slurm_opts slurm; /* LAUNCH_SLURM */
};

struct pool_config {
	char *label; /* the config path as given, for messages */
	char *dir;   /* where relative paths are resolved */
	struct worker_spec *specs;
	size_t nspecs;
	int order;         /* -1 unset, 0 completion, 1 input */
	long queue_size;   /* 0 unset */
	long order_buffer; /* 0 unset */
	long retries;      /* -1 unset */
};

/* Parse config text.  label names it in messages; dir is where relative
 * paths are resolved.  On error returns -1 and puts the message (without
 * "spool: ") in err. */
int config_parse(struct pool_config *cfg, const char *text, size_t len,
		 const char *label, const char *dir, struct buf *err);

/* Read and parse a config file; errors as for config_parse. */
int config_load(struct pool_config *cfg, const char *path, struct buf *err);

/* The one-spec pool of `-c COMMAND -j N`: /bin/sh -c COMMAND. */
void config_from_command(struct pool_config *cfg, const char *command,
			 long jobs);

void config_release(struct pool_config *cfg);

/* One more spec: the object json (keys as in a config's spec), over the
 * template tmpl when there is one (its keys stand unless json sets them;
 * then "cmd" is optional).  Paths resolve as in cfg.  On error returns -1
 * with the message in err. */
int config_spec_from_json(const struct pool_config *cfg,
			  const struct worker_spec *tmpl, const char *json,
			  size_t n, struct worker_spec *out, struct buf *err);
void config_spec_release(struct worker_spec *w);

/* Replace {worker}, {replica} and {name} in s. */
char *config_expand(const char *s, long worker, long replica, const char *name);

/* What placeholders stand for in one worker; host NULL for a local
 * worker, whose {host} and {slot} are left alone. */
struct expand_at {
	long worker, replica;
	const char *name;
	const char *host; /* the ssh destination, as in "hosts" */
	long slot;        /* index on its host */
};
char *config_expand_at(const char *s, const struct expand_at *at);

/* How many workers a spec starts: its replicas, or with hosts the sum of
 * their slots (a host without N/ gets replicas). */
long config_spec_workers(const struct worker_spec *w);

/* Parse the comma-separated host list of -S into spec's hosts (slots 0
 * where no N/ is given).  On error returns -1 with the message in err,
 * naming where as "-S/--hosts". */
int config_set_hosts(struct worker_spec *spec, const char *list,
		     struct buf *err);

#endif
