/* remote.h - command lines for workers on other machines (SPEC section 10).
 *
 * Pure helpers: nothing here forks, connects or touches a file.  A remote
 * worker is started as
 *
 *	ssh [--ssh words] -T -o BatchMode=yes [-o ControlMaster=no
 *	    -o ControlPath=P] -e none DEST 'exec perl -e ... -- [-C DIR]
 *	    [-E K=V]... -- ARGV...'
 *
 * where the perl program is lib/remote_guard.pl, carried hex-encoded in the
 * command line (nothing is installed remotely; perl-base is enough).  The
 * guard runs ARGV in its own process group with the session's stdin,
 * stdout and stderr, in DIR with the K=V pairs added to its environment,
 * exits with its status (128 + signal when killed), and kills the group
 * (TERM, KILL 2 s later) as soon as the ssh session is gone.  It exits 126
 * when DIR cannot be entered, 127 when ARGV[0] is not found, 126 when it
 * cannot be run, with a message on stderr naming the remote host.
 *
 * A caller with a resolved worker (argv, env pairs, cwd) and a host:
 *
 *	struct remote_ssh ssh;
 *	if (remote_ssh_init(&ssh, getenv("SPOOL_SSH"), &err) < 0) ...
 *	struct remote_host h;
 *	if (remote_host_parse(&h, "4/alice@gpu2", replicas, &err) < 0) ...
 *	struct buf cmd = BUF_INIT;
 *	if (remote_command(&cmd, argv, env, cwd, 0, &err) < 0) ...
 *	char **av = remote_ssh_argv(&ssh, sock, h.dest, cmd.p);
 *	... execvp(av[0], av) ...
 *	remote_argv_free(av);
 *
 * env holds only what the remote side should get (the spec's env and the
 * SPOOL_* variables), not spool's own environment; cwd is the spec's cwd
 * as written, a path on the remote host, not resolved against the config
 * directory.
 *
 * One master per host, started before the workers and stopped after:
 *	remote_ssh_master_argv(&ssh, sock, h.dest)	runs until stopped
 *	remote_ssh_control_argv(&ssh, sock, h.dest, "check")	0 once it is up
 *	remote_ssh_control_argv(&ssh, sock, h.dest, "exit")	stops it
 * sock is a socket path that spool makes up, one per host (a private
 * directory of its own; sockaddr_un allows about 100 bytes).  Killing the
 * master ends every session through it, and the guards then kill their
 * workers.  A worker whose master is not (or no longer) there connects on
 * its own, silently.
 */
#ifndef SPOOL_REMOTE_H
#define SPOOL_REMOTE_H

#include "util.h"

/* Append s quoted for a POSIX shell: inside single quotes, with each '
 * written as '\''; the empty string is ''.  Every byte arrives as is. */
void shell_quote(struct buf *b, const char *s);

/* Append argv (NULL-terminated), each word quoted as by shell_quote only
 * when it needs it, separated by spaces: for people (--dry-run). */
void shell_quote_argv(struct buf *b, char *const argv[]);

/* One entry of "hosts": "[N/]DEST", DEST an ssh destination
 * ([user@]host, or ssh://[user@]host[:port]). */
struct remote_host {
	char *dest;
	long slots; /* N, or the caller's default */
};

/* Parse entry.  default_slots is used when there is no "N/".  On error
 * returns -1 and puts the reason in err (without a location: the caller
 * names the place, e.g. "pool.json: workers[0].hosts[2]"), leaving h
 * empty; else 0, and remote_host_release frees h->dest. */
int remote_host_parse(struct remote_host *h, const char *entry,
		      long default_slots, struct buf *err);
void remote_host_release(struct remote_host *h);

/* The most slots one host entry may ask for. */
#define REMOTE_SLOTS_MAX 100000L

/* remote_command flags: REMOTE_ANNOUNCE makes the guard write one line
 * on stderr once the worker runs (its exec worked):
 * REMOTE_STARTED "PID on HOST", PID the worker's (its process group's)
 * on that host.  A worker that never says so never started there: the
 * connection failed, or its command could not be run. */
#define REMOTE_ANNOUNCE 1u
#define REMOTE_STARTED "spool-guard: started "

/* Append the remote command line that runs argv (NULL-terminated, at
 * least one word) under the guard, in cwd (NULL: the login directory)
 * with env (NULL-terminated "NAME=VALUE" strings, or NULL) added to the
 * remote environment.  Every word arrives byte for byte.  Returns -1 with
 * a message in err when argv is empty or an env entry has no NAME=.
 * b->p is NUL-terminated after the command (the NUL not in b->len). */
int remote_command(struct buf *b, char *const argv[], char *const env[],
		   const char *cwd, unsigned flags, struct buf *err);

/* The ssh client: --ssh COMMAND / SPOOL_SSH split into words (default
 * "ssh"), e.g. "ssh -F ./ssh_config -i 'my key'".  No shell runs it:
 * words split at blanks, quotes and backslashes work as in sh, and
 * unquoted $ ` ; | & < > ( ) are refused. */
struct remote_ssh {
	char **words; /* NULL-terminated */
	size_t nwords;
};

/* command NULL means "ssh".  On error returns -1 with the reason in err
 * (the caller names the place: "--ssh" or "SPOOL_SSH"). */
int remote_ssh_init(struct remote_ssh *s, const char *command, struct buf *err);
void remote_ssh_release(struct remote_ssh *s);

/* NULL-terminated argv to run a worker: the ssh words, then -T, BatchMode,
 * ControlMaster=no and ControlPath=control_path (omitted when NULL: one
 * connection of its own), -e none, dest, command.  The user's own
 * options come first, so they win where they say otherwise.  Free with
 * remote_argv_free. */
char **remote_ssh_argv(const struct remote_ssh *s, const char *control_path,
		       const char *dest, const char *command);

/* argv of the connection master for dest: -M -N -T, BatchMode,
 * ControlPersist=no and ControlPath; it stays in the foreground until
 * killed or told to exit.  Give it /dev/null as stdin. */
char **remote_ssh_master_argv(const struct remote_ssh *s,
			      const char *control_path, const char *dest);

/* argv of `ssh -O op` for the master at control_path: "exit" stops it,
 * "check" exits 0 while it runs. */
char **remote_ssh_control_argv(const struct remote_ssh *s,
			       const char *control_path, const char *dest,
			       const char *op);

void remote_argv_free(char **argv);

#endif
