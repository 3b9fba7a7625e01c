/* launch.h - the local process that runs a worker (SPEC section 10).
 *
 * A worker is always a local process with three pipes; what that process
 * is depends on its spec's launcher:
 *
 *   local	the worker itself: its argv, spool's environment with the
 *		spec's env and SPOOL_* added, its cwd.
 *   ssh	ssh to its host through the host's shared connection,
 *		running the worker under the remote guard (remote.h): the
 *		spec's env, SPOOL_* and cwd apply on the remote side; the
 *		local ssh gets spool's own environment.
 *   slurm	srun starting the worker as a job step of the allocation:
 *		srun --jobid=J -Q --exact -N1 -n1 [--gres=G] [-c C] [-p P]
 *		-J LABEL [args...] [--chdir=CWD] ARGV...; the worker's
 *		environment is srun's, which srun passes on to the step.
 *
 * Everything after the spawn (pipes, protocol, retries, timeouts) is the
 * same for all three. */
#ifndef SPOOL_LAUNCH_H
#define SPOOL_LAUNCH_H

#include "config.h"

struct worker;

struct launch_cmd {
	char **argv; /* what spool runs; argv[0] looked up on PATH */
	char **envp; /* its whole environment */
	char *cwd;   /* the local directory, NULL: spool's */
	/* How the guard ends it if spool dies: '+' its process group; '='
	 * the process alone (srun: its group holds the step's shepherd,
	 * which must live to cancel the step). */
	char guard_op;
};

/* The local command for w's next process.  Returns -1 with the reason
 * in why when it cannot be built (a remote environment entry that is
 * not NAME=VALUE). */
int launch_command(const struct worker *w, struct launch_cmd *lc,
		   struct buf *why);
void launch_cmd_release(struct launch_cmd *lc);

/* srun's argv for one worker step (NULL-terminated, free with
 * remote_argv_free): jobid the allocation, name the step's name, cwd the
 * directory (NULL: srun's own), argv the worker's. */
char **launch_srun_argv(const struct slurm_opts *s, const char *jobid,
			const char *name, const char *cwd, char *const argv[]);

/* salloc's argv for an allocation of ntasks workers of spec s, held
 * while its stdin stays open: it prints the job id on its stdout, then
 * waits for end of file.  A GRES of "gpu" is asked per task
 * (--gpus-per-task); any other is asked as ntasks times the count on one
 * node (-N1), as --gres counts per node. */
char **launch_salloc_argv(const struct slurm_opts *s, long ntasks,
			  const char *name);

#endif
