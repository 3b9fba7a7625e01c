/* spool_worker.h - write a stateful spool worker in C, on libcjson.
 *
 * Header only: include it (first, before any system header, so that the
 * POSIX functions it uses are declared) in the one file that has main():
 *
 *	#include "spool_worker.h"
 *
 *	static cJSON *spawn(struct spool_worker *sw, cJSON *params)
 *	{
 *		// once: load the model, open the database...
 *		return cJSON_CreateString("ready");     // the spawn result
 *	}
 *
 *	static cJSON *execute(struct spool_worker *sw, cJSON *task)
 *	{
 *		cJSON *x = cJSON_GetObjectItemCaseSensitive(task, "x");
 *		if (!cJSON_IsNumber(x))
 *			return spool_worker_fail(sw, -32602, NULL, "x must be a number");
 *		return cJSON_CreateNumber(x->valuedouble * x->valuedouble);
 *	}
 *
 *	int main(void)
 *	{
 *		return spool_worker_run(spawn, execute, NULL);
 *	}
 *
 * Build: cc -std=c11 -Iworkers/c $(pkg-config --cflags libcjson) w.c -lcjson
 *
 * The worker speaks spool's protocol (JSON-RPC 2.0, one message a line, see
 * spool-protocol(7)) on stdin and stdout, like workers/python/spool_worker.py:
 *
 * - spawn(sw, params) runs once, with the config's "spawn" value (an object
 *   or an array; {} when the config has none).  It returns the spawn result,
 *   which spool reports (spool check, -v, --stats); a NULL spawn callback
 *   answers null.  To refuse to start, return spool_worker_fail(...): the
 *   error is answered, and spool_worker_run() returns 1.
 * - execute(sw, task) runs per task.  It returns the result (a new cJSON
 *   value, freed by the SDK; returning `task` itself, or a part of it
 *   detached with cJSON_Detach*, is fine too), or spool_worker_fail(...) to
 *   fail this task only: an error answer with code, message and data.  The
 *   task is freed after execute returns.
 * - execute_batch(sw, tasks, results, n), optional, runs a JSON-RPC batch
 *   (spool's "batch" option: many tasks in one call, as a model's forward
 *   pass wants).  Give it to spool_worker_run_batch(spawn, execute,
 *   execute_batch, user).  It sets results[i] for each of the n tasks[i],
 *   as execute returns one (results[i] may be tasks[i] itself), or
 *   `results[i] = spool_worker_fail_item(sw, i, ...)` to fail that task
 *   alone.  spool_worker_fail(sw, ...) fails every task of the batch.  The
 *   tasks are freed after it returns.  Without it, a batch runs execute for
 *   each task, so a worker answers the same batched or not; without
 *   execute (NULL), single requests come to execute_batch as batches of
 *   one.  Malformed batches get the errors JSON-RPC 2.0 prescribes.
 * - sw->user is yours: the pointer given to spool_worker_run(), which spawn
 *   may replace with its state.
 * - stdout stays the protocol's: spool_worker_run() moves it to a private
 *   descriptor and points descriptor 1 at stderr (line buffered), so printf()
 *   in your code, and child processes, write to stderr and cannot corrupt
 *   the answers.
 * - Answers are written as compact one-line JSON, in one write for all the
 *   requests read together.  Between requests, answers waiting longer than
 *   SPOOL_WORKER_FLUSH_MS (since the read or the last write) go out at
 *   once: a slow task holds back the answers before it no longer than it
 *   runs.
 *
 * The first message must be the spawn request.  When it is anything else,
 * the worker was started with spool's lines protocol, which would take its
 * JSON-RPC answers for task results: spool_worker_run() says so on stderr
 * and returns 2.
 *
 * spool_worker_run() returns 0 when stdin closes, 1 when the spawn failed
 * or the answers cannot be written (spool went away), 2 when started as a
 * lines worker: return it from main().
 */
#ifndef SPOOL_WORKER_H
#define SPOOL_WORKER_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) &&                      \
	!defined(_XOPEN_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<cjson/cJSON.h>)
#include <cjson/cJSON.h>
#else
#include <cJSON.h>
#endif
#else
#include <cjson/cJSON.h>
#endif

#ifndef SPOOL_WORKER_FLUSH_MS
#define SPOOL_WORKER_FLUSH_MS 5
#endif
#define SPOOL_WORKER_READ (1 << 20)

#define SPOOL_WORKER_LINES_MESSAGE                                             \
	"spool_worker: the first message is not a spawn request, so this "     \
	"worker was started as a lines worker; it speaks the spool "           \
	"protocol: set \"protocol\": \"spool\" in its pool config (or use "    \
	"-p spool with -c)\n"

/* JSON-RPC error codes. */
#define SPOOL_ERR_PARSE (-32700)
#define SPOOL_ERR_INVALID (-32600)
#define SPOOL_ERR_METHOD (-32601)
#define SPOOL_ERR_PARAMS (-32602)
#define SPOOL_ERR_TASK (-32000) /* the default for a failed task */

#if defined(__GNUC__)
#define SPOOL_WORKER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SPOOL_WORKER_PRINTF(f, a)
#endif

/* A failure set by spool_worker_fail() or spool_worker_fail_item(). */
struct spool_worker_failure {
	bool failed;
	int code;
	char *message;
	cJSON *data;
};

struct spool_worker {
	void *user; /* yours */

	/* The rest is the SDK's. */
	int out_fd; /* the protocol's copy of stdout */
	char *out;  /* answers not yet written */
	size_t out_len, out_cap;
	struct spool_worker_failure err; /* this call's, spool_worker_fail() */
	struct spool_worker_failure *item_errs; /* during execute_batch */
	size_t batch_n;
	struct spool_worker_calls *calls;
	bool write_error;
};

typedef cJSON *spool_spawn_fn(struct spool_worker *sw, cJSON *params);
typedef cJSON *spool_execute_fn(struct spool_worker *sw, cJSON *task);
typedef void spool_execute_batch_fn(struct spool_worker *sw,
				    cJSON *const *tasks, cJSON **results,
				    size_t n);

struct spool_worker_calls {
	spool_spawn_fn *spawn;
	spool_execute_fn *execute;
	spool_execute_batch_fn *execute_batch;
};

static inline void spool_worker__failure_release(struct spool_worker_failure *f)
{
	free(f->message);
	cJSON_Delete(f->data);
	memset(f, 0, sizeof(*f));
}

static inline void spool_worker__failure_set(struct spool_worker_failure *f,
					     int code, cJSON *data,
					     const char *fmt, va_list ap)
{
	char small[256];
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	spool_worker__failure_release(f);
	if (n >= (int)sizeof(small)) {
		f->message = malloc((size_t)n + 1);
		if (f->message)
			vsnprintf(f->message, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	if (!f->message && n >= 0) {
		size_t len = strlen(small);
		f->message = malloc(len + 1);
		if (f->message)
			memcpy(f->message, small, len + 1);
	}
	f->data = data;
	f->code = code ? code : SPOOL_ERR_TASK;
	f->failed = true;
}

/* Fail the current spawn or task: `return spool_worker_fail(sw, ...);`.
 * code 0 means SPOOL_ERR_TASK; data (may be NULL) is taken over by the
 * SDK; the message is printf-formatted. Always returns NULL.  Called
 * from execute_batch, it fails every task of the batch. */
static inline cJSON *spool_worker_fail(struct spool_worker *sw, int code,
				       cJSON *data, const char *fmt, ...)
	SPOOL_WORKER_PRINTF(4, 5);

static inline cJSON *spool_worker_fail(struct spool_worker *sw, int code,
				       cJSON *data, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	spool_worker__failure_set(&sw->err, code, data, fmt, ap);
	va_end(ap);
	return NULL;
}

/* Fail task i of the batch alone, from execute_batch:
 * `results[i] = spool_worker_fail_item(sw, i, ...);`.  The arguments are
 * spool_worker_fail()'s.  Outside execute_batch, or with i out of range,
 * it fails the whole call, as spool_worker_fail() does. */
static inline cJSON *spool_worker_fail_item(struct spool_worker *sw, size_t i,
					    int code, cJSON *data,
					    const char *fmt, ...)
	SPOOL_WORKER_PRINTF(5, 6);

static inline cJSON *spool_worker_fail_item(struct spool_worker *sw, size_t i,
					    int code, cJSON *data,
					    const char *fmt, ...)
{
	struct spool_worker_failure *f =
		sw->item_errs && i < sw->batch_n ? &sw->item_errs[i] : &sw->err;
	va_list ap;
	va_start(ap, fmt);
	spool_worker__failure_set(f, code, data, fmt, ap);
	va_end(ap);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Internals.                                                          */

static inline double spool_worker__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline bool spool_worker__reserve(struct spool_worker *sw, size_t n)
{
	if (sw->out_cap - sw->out_len >= n)
		return true;
	size_t cap = sw->out_cap ? sw->out_cap : 65536;
	while (cap - sw->out_len < n)
		cap *= 2;
	char *p = realloc(sw->out, cap);
	if (!p)
		return false;
	sw->out = p;
	sw->out_cap = cap;
	return true;
}

static inline void spool_worker__add(struct spool_worker *sw, const char *s,
				     size_t n)
{
	if (!spool_worker__reserve(sw, n))
		return;
	memcpy(sw->out + sw->out_len, s, n);
	sw->out_len += n;
}

static inline void spool_worker__adds(struct spool_worker *sw, const char *s)
{
	spool_worker__add(sw, s, strlen(s));
}

static inline void spool_worker__flush(struct spool_worker *sw)
{
	size_t off = 0;
	while (off < sw->out_len && !sw->write_error) {
		ssize_t r = write(sw->out_fd, sw->out + off, sw->out_len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			sw->write_error = true;
			break;
		}
		off += (size_t)r;
	}
	sw->out_len = 0;
}

/* Append a value as compact JSON; false when it cannot be printed. */
static inline bool spool_worker__add_json(struct spool_worker *sw,
					  const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s)
		return false;
	spool_worker__adds(sw, s);
	cJSON_free(s);
	return true;
}

/* The request id as JSON text: integers exactly (cJSON would write large
 * ones with an exponent), anything else as cJSON prints it. */
static inline void spool_worker__add_id(struct spool_worker *sw,
					const cJSON *id)
{
	if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
	    fabs(id->valuedouble) < 9007199254740992.0) {
		char num[32];
		int n = snprintf(num, sizeof(num), "%.0f", id->valuedouble);
		spool_worker__add(sw, num, (size_t)n);
	} else if (!id || !spool_worker__add_json(sw, id)) {
		spool_worker__adds(sw, "null");
	}
}

/* An error response, without its newline (a batch's answers share one
 * line).  data is taken over. */
static inline void spool_worker__error_msg(struct spool_worker *sw,
					   const cJSON *id, int code,
					   const char *message, cJSON *data)
{
	cJSON *err = cJSON_CreateObject();
	if (err) {
		cJSON_AddNumberToObject(err, "code", code);
		cJSON_AddStringToObject(err, "message", message ? message : "");
		if (data)
			cJSON_AddItemToObject(err, "data", data);
		data = NULL;
	}
	cJSON_Delete(data);
	spool_worker__adds(sw, "{\"jsonrpc\":\"2.0\",\"id\":");
	spool_worker__add_id(sw, id);
	spool_worker__adds(sw, ",\"error\":");
	if (!err || !spool_worker__add_json(sw, err))
		spool_worker__adds(
			sw, "{\"code\":-32000,\"message\":\"out of memory\"}");
	spool_worker__adds(sw, "}");
	cJSON_Delete(err);
}

static inline void spool_worker__error(struct spool_worker *sw, const cJSON *id,
				       int code, const char *message,
				       cJSON *data)
{
	spool_worker__error_msg(sw, id, code, message, data);
	spool_worker__adds(sw, "\n");
}

/* The response to one call, without its newline: the failure f when set
 * (then cleared), else the result (taken over), or an error when it is
 * NULL (null_message) or cannot be printed. */
static inline void spool_worker__answer_msg(struct spool_worker *sw,
					    const cJSON *id, cJSON *result,
					    struct spool_worker_failure *f,
					    const char *null_message)
{
	if (f->failed) {
		cJSON_Delete(result);
		spool_worker__error_msg(sw, id, f->code, f->message, f->data);
		f->data = NULL;
		spool_worker__failure_release(f);
		return;
	}
	if (!result) {
		spool_worker__error_msg(sw, id, SPOOL_ERR_TASK, null_message,
					NULL);
		return;
	}
	size_t mark = sw->out_len;
	spool_worker__adds(sw, "{\"jsonrpc\":\"2.0\",\"id\":");
	spool_worker__add_id(sw, id);
	spool_worker__adds(sw, ",\"result\":");
	if (!spool_worker__add_json(sw, result)) {
		sw->out_len = mark;
		spool_worker__error_msg(sw, id, SPOOL_ERR_TASK,
					"the result cannot be printed as JSON",
					NULL);
	} else {
		spool_worker__adds(sw, "}");
	}
	cJSON_Delete(result);
}

/* Answer a callback's outcome on its own line: its result, or the error
 * it set with spool_worker_fail(). */
static inline void spool_worker__answer(struct spool_worker *sw,
					const cJSON *id, cJSON *result,
					const char *what)
{
	char msg[96] = "";
	if (!result && !sw->err.failed)
		snprintf(msg, sizeof(msg),
			 "%s returned NULL without spool_worker_fail()", what);
	spool_worker__answer_msg(sw, id, result, &sw->err, msg);
	spool_worker__adds(sw, "\n");
}

/* Run m tasks: execute_batch, or execute for each.  Fills results[] and
 * errs[] (zeroed by the caller).  Returns true when execute_batch failed
 * as a whole: sw->err then holds the error of every task, and results[]
 * are left to the caller. */
static inline bool spool_worker__run_tasks(struct spool_worker *sw,
					   cJSON *const *tasks, cJSON **results,
					   struct spool_worker_failure *errs,
					   size_t m)
{
	spool_worker__failure_release(&sw->err);
	if (sw->calls->execute_batch) {
		sw->item_errs = errs;
		sw->batch_n = m;
		sw->calls->execute_batch(sw, tasks, results, m);
		sw->item_errs = NULL;
		sw->batch_n = 0;
		return sw->err.failed;
	}
	for (size_t i = 0; i < m; i++) {
		results[i] = sw->calls->execute(sw, tasks[i]);
		if (sw->err.failed) {
			errs[i] = sw->err;
			memset(&sw->err, 0, sizeof(sw->err));
		}
	}
	return false;
}

/* Answer task i of a run: its result or failure, or the whole batch's
 * failure; frees the task and its result. */
static inline void spool_worker__task_msg(struct spool_worker *sw,
					  const cJSON *id, cJSON *task,
					  cJSON *result,
					  struct spool_worker_failure *err,
					  bool whole_failed, size_t i)
{
	bool same = result == task;
	if (whole_failed) {
		if (!same)
			cJSON_Delete(result);
		same = false;
		spool_worker__error_msg(
			sw, id, sw->err.code, sw->err.message,
			sw->err.data ? cJSON_Duplicate(sw->err.data, true)
				     : NULL);
	} else {
		char msg[128] = "";
		if (!result && !err->failed && sw->calls->execute_batch)
			snprintf(msg, sizeof(msg),
				 "execute_batch left results[%zu] NULL "
				 "without spool_worker_fail_item()",
				 i);
		else if (!result && !err->failed)
			snprintf(msg, sizeof(msg),
				 "execute returned NULL without "
				 "spool_worker_fail()");
		spool_worker__answer_msg(sw, id, result, err, msg);
	}
	if (!same)
		cJSON_Delete(task);
}

/* The kinds of item in a batch, for its answers in request order. */
enum {
	SPOOL_WORKER__NOTIFICATION, /* no id: no answer */
	SPOOL_WORKER__INVALID,
	SPOOL_WORKER__METHOD,
	SPOOL_WORKER__PARAMS,
	SPOOL_WORKER__TASK,
};

/* Answer a JSON-RPC batch (req, an array) on one line: an array of
 * responses in request order, nothing when every item is a notification. */
static inline void spool_worker__batch(struct spool_worker *sw, cJSON *req)
{
	size_t n = (size_t)cJSON_GetArraySize(req);
	if (n == 0) {
		spool_worker__error(sw, NULL, SPOOL_ERR_INVALID,
				    "invalid request: an empty batch", NULL);
		return;
	}
	unsigned char *kind = calloc(n, 1);
	cJSON **tasks = calloc(n, sizeof(*tasks));
	cJSON **results = calloc(n, sizeof(*results));
	struct spool_worker_failure *errs = calloc(n, sizeof(*errs));
	if (!kind || !tasks || !results || !errs) {
		spool_worker__error(sw, NULL, SPOOL_ERR_TASK,
				    "out of memory for a batch", NULL);
		goto out;
	}

	size_t i = 0, m = 0;
	cJSON *item;
	cJSON_ArrayForEach(item, req)
	{
		const cJSON *method =
			cJSON_GetObjectItemCaseSensitive(item, "method");
		cJSON *params =
			cJSON_GetObjectItemCaseSensitive(item, "params");
		if (!cJSON_IsObject(item) || !cJSON_IsString(method))
			kind[i] = SPOOL_WORKER__INVALID;
		else if (!cJSON_GetObjectItemCaseSensitive(item, "id"))
			kind[i] = SPOOL_WORKER__NOTIFICATION;
		else if (strcmp(method->valuestring, "execute") != 0)
			kind[i] = SPOOL_WORKER__METHOD;
		else if (!cJSON_IsArray(params) ||
			 cJSON_GetArraySize(params) != 1)
			kind[i] = SPOOL_WORKER__PARAMS;
		else {
			kind[i] = SPOOL_WORKER__TASK;
			tasks[m++] = cJSON_DetachItemFromArray(params, 0);
		}
		i++;
	}

	bool whole_failed =
		m > 0 && spool_worker__run_tasks(sw, tasks, results, errs, m);

	size_t mark = sw->out_len, t = 0;
	i = 0;
	spool_worker__adds(sw, "[");
	cJSON_ArrayForEach(item, req)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
		const cJSON *method =
			cJSON_GetObjectItemCaseSensitive(item, "method");
		bool first = sw->out_len == mark + 1;
		if (kind[i] != SPOOL_WORKER__NOTIFICATION && !first)
			spool_worker__adds(sw, ",");
		switch (kind[i]) {
		case SPOOL_WORKER__NOTIFICATION:
			break;
		case SPOOL_WORKER__INVALID: {
			char msg[96];
			snprintf(msg, sizeof(msg),
				 "invalid request: item [%zu] of the batch is "
				 "not a request object",
				 i);
			spool_worker__error_msg(sw, NULL, SPOOL_ERR_INVALID,
						msg, NULL);
			break;
		}
		case SPOOL_WORKER__METHOD: {
			char msg[160];
			snprintf(msg, sizeof(msg), "unknown method \"%.100s\"",
				 method->valuestring);
			spool_worker__error_msg(sw, id, SPOOL_ERR_METHOD, msg,
						NULL);
			break;
		}
		case SPOOL_WORKER__PARAMS:
			spool_worker__error_msg(sw, id, SPOOL_ERR_PARAMS,
						"execute takes params [TASK]",
						NULL);
			break;
		default:
			spool_worker__task_msg(sw, id, tasks[t], results[t],
					       &errs[t], whole_failed, t);
			tasks[t] = results[t] = NULL;
			t++;
		}
		i++;
	}
	if (sw->out_len == mark + 1)
		sw->out_len = mark; /* only notifications: no answer at all */
	else
		spool_worker__adds(sw, "]\n");
	spool_worker__failure_release(&sw->err);
out:
	if (errs)
		for (i = 0; i < n; i++)
			spool_worker__failure_release(&errs[i]);
	free(kind);
	free(tasks);
	free(results);
	free(errs);
}

/* Handle one request line.  Returns 1 when the worker must stop (its
 * spawn failed), 2 when the first message is not spawn, else 0. */
static inline int spool_worker__line(struct spool_worker *sw, const char *line,
				     size_t n, bool *spawned)
{
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == n)
		return 0;
	cJSON *req = cJSON_ParseWithLength(line, n);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(req, "method");
	cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	if (!*spawned && !(cJSON_IsObject(req) && cJSON_IsString(method) &&
			   strcmp(method->valuestring, "spawn") == 0)) {
		/* A lines worker's task: answering it with a JSON-RPC error
		 * would pass for its result, so refuse to run at all. */
		fputs(SPOOL_WORKER_LINES_MESSAGE, stderr);
		cJSON_Delete(req);
		return 2;
	}
	if (cJSON_IsArray(req)) {
		spool_worker__batch(sw, req);
		cJSON_Delete(req);
		return 0;
	}
	/* The spawn request is answered even without an id (with null). */
	if (!req || (!id && *spawned) || !cJSON_IsString(method)) {
		spool_worker__error(sw, NULL, SPOOL_ERR_PARSE,
				    req ? "bad request: no id or method"
					: "bad request: not JSON",
				    NULL);
		cJSON_Delete(req);
		return 0;
	}
	spool_worker__failure_release(&sw->err);
	if (strcmp(method->valuestring, "execute") == 0) {
		if (!cJSON_IsArray(params) || cJSON_GetArraySize(params) != 1) {
			spool_worker__error(sw, id, SPOOL_ERR_PARAMS,
					    "execute takes params [TASK]",
					    NULL);
			cJSON_Delete(req);
			return 0;
		}
		cJSON *task = cJSON_DetachItemFromArray(params, 0);
		if (sw->calls->execute) {
			cJSON *result = sw->calls->execute(sw, task);
			if (result != task)
				cJSON_Delete(task);
			spool_worker__answer(sw, id, result, "execute");
		} else {
			/* Only execute_batch: a batch of one. */
			cJSON *result = NULL;
			struct spool_worker_failure err = {0};
			bool whole = spool_worker__run_tasks(sw, &task, &result,
							     &err, 1);
			spool_worker__task_msg(sw, id, task, result, &err,
					       whole, 0);
			spool_worker__failure_release(&sw->err);
			spool_worker__adds(sw, "\n");
		}
	} else if (strcmp(method->valuestring, "spawn") == 0 && !*spawned) {
		*spawned = true;
		cJSON *args = params ? cJSON_DetachItemViaPointer(req, params)
				     : cJSON_CreateObject();
		cJSON *result = sw->calls->spawn ? sw->calls->spawn(sw, args)
						 : cJSON_CreateNull();
		if (result != args)
			cJSON_Delete(args);
		bool failed = sw->err.failed || !result;
		if (failed)
			fprintf(stderr, "spawn failed: %s\n",
				sw->err.message ? sw->err.message
						: "spawn returned NULL");
		spool_worker__answer(sw, id, result, "spawn");
		cJSON_Delete(req);
		spool_worker__flush(sw);
		return failed ? 1 : 0;
	} else {
		/* spawn included: it comes once, first. */
		char msg[160];
		snprintf(msg, sizeof(msg), "unknown method \"%.100s\"",
			 method->valuestring);
		spool_worker__error(sw, id, SPOOL_ERR_METHOD, msg, NULL);
	}
	cJSON_Delete(req);
	return 0;
}

/* Serve the spool protocol until stdin closes, with execute_batch for
 * JSON-RPC batches (NULL: execute for each task; execute NULL: single
 * requests come to execute_batch as batches of one).  Returns the exit
 * status for main(): 0 at end of input, 1 when spawn failed or spool went
 * away, 2 when the first message is not spawn (started as a lines
 * worker). */
static inline int spool_worker_run_batch(spool_spawn_fn *spawn,
					 spool_execute_fn *execute,
					 spool_execute_batch_fn *execute_batch,
					 void *user)
{
	struct spool_worker_calls calls = {spawn, execute, execute_batch};
	struct spool_worker sw;
	memset(&sw, 0, sizeof(sw));
	sw.user = user;
	sw.calls = &calls;
	if (!execute && !execute_batch) {
		fputs("spool_worker: give spool_worker_run() an execute or "
		      "execute_batch callback\n",
		      stderr);
		return 1;
	}
	/* fd 1 becomes stderr for everything but the protocol. */
	fflush(stdout);
	sw.out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
	if (sw.out_fd < 0 || dup2(2, 1) < 0) {
		perror("spool_worker: cannot set up stdout");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	size_t cap = SPOOL_WORKER_READ, start = 0, end = 0;
	char *in = malloc(cap);
	if (!in) {
		perror("spool_worker");
		return 1;
	}
	bool spawned = false, eof = false;
	int rc = 0;
	while (!eof && !rc && !sw.write_error) {
		if (start > 0 && start == end) {
			start = end = 0;
		} else if (start > 0 && end == cap) {
			memmove(in, in + start, end - start);
			end -= start;
			start = 0;
		}
		if (end == cap) { /* a line longer than the buffer */
			char *p = realloc(in, cap * 2);
			if (!p) {
				perror("spool_worker: a request too long");
				rc = 1;
				break;
			}
			in = p;
			cap *= 2;
		}
		ssize_t r = read(0, in + end, cap - end);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("spool_worker: read");
			rc = 1;
			break;
		}
		if (r == 0) {
			eof = true;
			if (end == start)
				break;
			/* A last line without its newline. */
			if (end == cap) {
				char *p = realloc(in, cap + 1);
				if (!p)
					break;
				in = p;
				cap++;
			}
			in[end++] = '\n';
		} else {
			end += (size_t)r;
		}
		double mark = spool_worker__now();
		for (;;) {
			char *nl = memchr(in + start, '\n', end - start);
			if (!nl)
				break;
			size_t len = (size_t)(nl - (in + start));
			rc = spool_worker__line(&sw, in + start, len, &spawned);
			start += len + 1;
			if (rc || sw.write_error)
				break;
			double now = spool_worker__now();
			if (sw.out_len &&
			    now - mark >= SPOOL_WORKER_FLUSH_MS / 1000.0) {
				spool_worker__flush(&sw);
				mark = now;
			}
		}
		spool_worker__flush(&sw);
	}
	free(in);
	free(sw.out);
	spool_worker__failure_release(&sw.err);
	if (sw.write_error)
		rc = 1;
	return rc;
}

/* Serve the spool protocol until stdin closes: spool_worker_run_batch()
 * with execute for every task, batched or not. */
static inline int spool_worker_run(spool_spawn_fn *spawn,
				   spool_execute_fn *execute, void *user)
{
	return spool_worker_run_batch(spawn, execute, NULL, user);
}

#endif
