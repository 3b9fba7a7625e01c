/* guard.h - nothing spool starts outlives it, however spool ends.
 *
 * PR_SET_PDEATHSIG reaches only a worker's direct child: the program
 * behind a `/bin/sh -c` wrapper, and whatever a worker starts itself,
 * would live on after a SIGKILL of spool.  So spool forks one small guard
 * process at the start.  The guard is in its own process group (a signal
 * to spool's group does not reach it) and holds the read end of a pipe
 * whose only write end is spool's.  Each worker registers its process
 * group on that pipe before it execs; spool unregisters it before reaping
 * the worker.  When spool is gone the pipe reads end of file, and the
 * guard sends SIGTERM to every group still registered, SIGKILL a second
 * later to what is left, and exits.
 *
 * Not covered: a process that leaves its worker's process group
 * (setsid, setpgid), and the guard itself killed with SIGKILL together
 * with spool. */
#ifndef SPOOL_GUARD_H
#define SPOOL_GUARD_H

#include <stdbool.h>
#include <sys/types.h>

struct pool;

/* Messages on the guard's pipe: one write each, so they never mix. */
struct guard_msg {
	char op; /* '+' a group to end, '=' a process alone, '-' forget */
	pid_t pid;
};

int guard_start(struct pool *p);
/* Close the pipe and wait for the guard (spool's normal end). */
void guard_stop(struct pool *p);
/* The guard died (it is reaped): start another, register the living. */
void guard_died(struct pool *p);
/* Tell the guard; op as in struct guard_msg. */
void guard_tell(struct pool *p, char op, pid_t pid);
/* In a worker's child before exec (async-signal-safe). */
void guard_tell_fd(int fd, char op, pid_t pid);

#endif
