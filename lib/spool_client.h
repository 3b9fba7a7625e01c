/* spool_client.h - call a `spool serve` pool from C, from any thread.
 *
 * A client talks JSON-RPC 2.0, one message a line, to a `spool serve`:
 * either a private one it starts itself (spool_client_open) or a shared
 * one listening on a Unix socket (spool_client_connect).  Tasks, results
 * and errors are JSON text; the library never builds a tree of them.
 *
 *	char *argv[] = {"spool", "serve", "-w", "pool.json", NULL};
 *	char *err = NULL, *res = NULL;
 *	struct spool_client *c = spool_client_open(argv, &err);
 *	if (!c)
 *		die("%s", err);
 *	if (spool_client_execute(c, "{\"x\": 1}", &res, &err) == 0)
 *		puts(res);
 *	free(res);
 *	free(err);
 *	spool_client_close(c);
 *
 * Threads.  Every call but spool_client_close may be made from any number
 * of threads at once.  The library starts no thread and installs no signal
 * handler: the threads that wait in spool_client_execute, _call and _poll
 * take turns reading the answers (the one whose answer has come hands the
 * reading on to another that still waits), and callbacks run on whichever
 * of them reads.  Writes never raise SIGPIPE (MSG_NOSIGNAL), so a server
 * that dies only makes calls fail.
 *
 * Failure.  Once the connection fails (the server died, closed the
 * socket or broke the protocol), every call waiting returns -1 with the
 * reason, every callback still due runs with status -1, and every later
 * call returns -1 at once: nothing waits forever on a dead server.
 *
 * Memory.  Strings handed back (results, errors, *err) are malloc'd and
 * the caller frees them with free().  As elsewhere in libspool, running
 * out of memory ends the program.
 *
 * Link with libspool.a, libcjson and -pthread (pkg-config spool). */
#ifndef SPOOL_CLIENT_H
#define SPOOL_CLIENT_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct spool_client;

/* Start argv as a private server, e.g. {"spool", "serve", "-w",
 * "pool.json", NULL} (argv[0] is looked up in PATH), and talk to it over
 * a socketpair on its stdin and stdout; its stderr is the caller's.  The
 * server starts with posix_spawn, every signal at its default and none
 * blocked.  Returns NULL with *err (malloc'd) when it cannot start; a
 * server that starts and then fails (a bad pool config, say) makes the
 * first call fail with its exit status.  err may be NULL. */
struct spool_client *spool_client_open(char *const argv[], char **err);

/* Join a `spool serve --listen PATH`.  NULL with *err when that fails. */
struct spool_client *spool_client_connect(const char *path, char **err);

/* Run one task (JSON text, any value; whitespace and newlines are fine)
 * through the pool and wait for its answer.  Returns
 *    0  the task succeeded: *result is its result (JSON text);
 *    1  the task failed: *error is the JSON-RPC error object, e.g.
 *       {"code":-32000,"message":"...","data":{"reason":"error",...}};
 *       see spool-protocol(7) for the reasons;
 *   -1  the call failed: *error is a message (not JSON) saying why (the
 *       connection is lost, task_json is not valid JSON, or this is a
 *       blocking call from inside a callback).
 * The one of *result and *error not set is NULL.  Either pointer may be
 * NULL to ignore that answer. */
int spool_client_execute(struct spool_client *c, const char *task_json,
			 char **result, char **error);

/* The callback form: status and json as spool_client_execute's return
 * value and answer (json is the result, the error object, or a message
 * for -1).  json belongs to the library and is freed when cb returns. */
typedef void (*spool_client_cb)(void *ctx, int status, const char *json);

/* Send a task and return at once; cb(ctx, ...) runs once its answer has
 * come, on a thread inside spool_client_execute, _call or _poll for this
 * client, never concurrently with another callback of this client.  A
 * callback may call spool_client_submit; a blocking call (execute, call,
 * poll, close) from a callback is refused with -1.  What the socket does
 * not take at once is sent by the next of those calls.  Returns 0, or -1
 * (errno EINVAL: task_json is not valid JSON; EPIPE: the connection has
 * failed, spool_client_error says why), and then cb never runs. */
int spool_client_submit(struct spool_client *c, const char *task_json,
			spool_client_cb cb, void *ctx);

/* Read answers and run callbacks until every task submitted so far has
 * had its callback, or for at most timeout_ms (0: what is there now; -1:
 * no limit).  Returns how many submitted tasks still wait for their
 * callback (0: none), or -1 when the connection has failed (with
 * timeout_ms -1: once every callback due has run, with status -1) or
 * when called from a callback. */
int spool_client_poll(struct spool_client *c, int timeout_ms);

/* Call any method and wait for its answer: "spawn" (the handshake:
 * waits for the configured workers; params NULL), "add_worker" (params a
 * worker spec object, e.g. {"spawn":{"gpu_ids":[0,1]}}), "stats" (the
 * --stats object so far), or "execute" (params "[TASK]").  params_json is
 * JSON text or NULL for none.  Returns as spool_client_execute does. */
int spool_client_call(struct spool_client *c, const char *method,
		      const char *params_json, char **result, char **error);

/* NULL while the connection is fine, else why it failed (a string that
 * stays valid until spool_client_close). */
const char *spool_client_error(struct spool_client *c);

/* The private server's process id; -1 for a connected client. */
pid_t spool_client_pid(const struct spool_client *c);

/* Finish and free the client.  A private server is asked to shut down:
 * it finishes every task already sent, and the client runs their
 * callbacks, waits for it to exit (SIGTERM after 10 s, SIGKILL 10 s
 * later if it does not) and reaps it.  A connected client waits for the
 * answers to its tasks, then closes its socket; the server goes on.
 * Returns 0, or -1 when the connection had failed or the private server
 * exited with a status other than 0.  No other thread may use c during
 * or after this call; from a callback it returns -1 and does nothing. */
int spool_client_close(struct spool_client *c);

#ifdef __cplusplus
}
#endif

#endif
