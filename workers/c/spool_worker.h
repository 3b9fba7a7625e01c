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
 * - sw->user is yours: the pointer given to spool_worker_run(), which spawn
 *   may replace with its state.
 * - stdout stays the protocol's: spool_worker_run() moves it to a private
 *   descriptor and points descriptor 1 at stderr (line buffered), so printf()
 *   in your code, and child processes, write to stderr and cannot corrupt
 *   the answers.
 * - Answers are written as compact one-line JSON, in one write per batch of
 *   requests read together.  Between tasks, answers waiting longer than
 *   SPOOL_WORKER_FLUSH_MS (since the batch came or the last write) go out at
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
#define SPOOL_ERR_METHOD (-32601)
#define SPOOL_ERR_PARAMS (-32602)
#define SPOOL_ERR_TASK (-32000) /* the default for a failed task */

#if defined(__GNUC__)
#define SPOOL_WORKER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SPOOL_WORKER_PRINTF(f, a)
#endif

struct spool_worker {
	void *user; /* yours */

	/* The rest is the SDK's. */
	int out_fd; /* the protocol's copy of stdout */
	char *out;  /* answers not yet written */
	size_t out_len, out_cap;
	bool failed; /* spool_worker_fail() was called for this call */
	int err_code;
	char *err_message;
	cJSON *err_data;
	bool write_error;
};

typedef cJSON *spool_spawn_fn(struct spool_worker *sw, cJSON *params);
typedef cJSON *spool_execute_fn(struct spool_worker *sw, cJSON *task);

/* Fail the current spawn or task: `return spool_worker_fail(sw, ...);`.
 * code 0 means SPOOL_ERR_TASK; data (may be NULL) is taken over by the
 * SDK; the message is printf-formatted. Always returns NULL. */
static inline cJSON *spool_worker_fail(struct spool_worker *sw, int code,
				       cJSON *data, const char *fmt, ...)
	SPOOL_WORKER_PRINTF(4, 5);

static inline cJSON *spool_worker_fail(struct spool_worker *sw, int code,
				       cJSON *data, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	free(sw->err_message);
	sw->err_message = NULL;
	if (n >= (int)sizeof(small)) {
		sw->err_message = malloc((size_t)n + 1);
		if (sw->err_message) {
			va_start(ap, fmt);
			vsnprintf(sw->err_message, (size_t)n + 1, fmt, ap);
			va_end(ap);
		}
	}
	if (!sw->err_message && n >= 0) {
		size_t len = strlen(small);
		sw->err_message = malloc(len + 1);
		if (sw->err_message)
			memcpy(sw->err_message, small, len + 1);
	}
	cJSON_Delete(sw->err_data);
	sw->err_data = data;
	sw->err_code = code ? code : SPOOL_ERR_TASK;
	sw->failed = true;
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

static inline void spool_worker__error(struct spool_worker *sw, const cJSON *id,
				       int code, const char *message,
				       cJSON *data)
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
	spool_worker__adds(sw, "}\n");
	cJSON_Delete(err);
}

/* Answer a callback's outcome: its result, or the error it set. */
static inline void spool_worker__answer(struct spool_worker *sw,
					const cJSON *id, cJSON *result,
					const char *what)
{
	if (sw->failed) {
		cJSON_Delete(result);
		spool_worker__error(sw, id, sw->err_code, sw->err_message,
				    sw->err_data);
		sw->err_data = NULL;
		free(sw->err_message);
		sw->err_message = NULL;
		return;
	}
	if (!result) {
		char msg[96];
		snprintf(msg, sizeof(msg),
			 "%s returned NULL without "
			 "spool_worker_fail()",
			 what);
		spool_worker__error(sw, id, SPOOL_ERR_TASK, msg, NULL);
		return;
	}
	size_t mark = sw->out_len;
	spool_worker__adds(sw, "{\"jsonrpc\":\"2.0\",\"id\":");
	spool_worker__add_id(sw, id);
	spool_worker__adds(sw, ",\"result\":");
	if (!spool_worker__add_json(sw, result)) {
		sw->out_len = mark;
		spool_worker__error(sw, id, SPOOL_ERR_TASK,
				    "the result cannot be printed as JSON",
				    NULL);
	} else {
		spool_worker__adds(sw, "}\n");
	}
	cJSON_Delete(result);
}

/* Handle one request line.  Returns 1 when the worker must stop (its
 * spawn failed), 2 when the first message is not spawn, else 0. */
static inline int spool_worker__line(struct spool_worker *sw,
				     spool_spawn_fn *spawn,
				     spool_execute_fn *execute,
				     const char *line, size_t n, bool *spawned)
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
	/* The spawn request is answered even without an id (with null). */
	if (!req || (!id && *spawned) || !cJSON_IsString(method)) {
		spool_worker__error(sw, NULL, SPOOL_ERR_PARSE,
				    req ? "bad request: no id or method"
					: "bad request: not JSON",
				    NULL);
		cJSON_Delete(req);
		return 0;
	}
	sw->failed = false;
	if (strcmp(method->valuestring, "execute") == 0) {
		if (!cJSON_IsArray(params) || cJSON_GetArraySize(params) != 1) {
			spool_worker__error(sw, id, SPOOL_ERR_PARAMS,
					    "execute takes params [TASK]",
					    NULL);
			cJSON_Delete(req);
			return 0;
		}
		cJSON *task = cJSON_DetachItemFromArray(params, 0);
		cJSON *result = execute(sw, task);
		if (result != task)
			cJSON_Delete(task);
		spool_worker__answer(sw, id, result, "execute");
	} else if (strcmp(method->valuestring, "spawn") == 0 && !*spawned) {
		*spawned = true;
		cJSON *args = params ? cJSON_DetachItemViaPointer(req, params)
				     : cJSON_CreateObject();
		cJSON *result = spawn ? spawn(sw, args) : cJSON_CreateNull();
		if (result != args)
			cJSON_Delete(args);
		bool failed = sw->failed || !result;
		if (failed)
			fprintf(stderr, "spawn failed: %s\n",
				sw->err_message ? sw->err_message
						: "spawn returned NULL");
		spool_worker__answer(sw, id, result, "spawn");
		cJSON_Delete(req);
		spool_worker__flush(sw);
		return failed ? 1 : 0;
	} else {
		char msg[160];
		snprintf(msg, sizeof(msg), "unknown method \"%.100s\"",
			 method->valuestring);
		spool_worker__error(sw, id, SPOOL_ERR_METHOD, msg, NULL);
	}
	cJSON_Delete(req);
	return 0;
}

/* Serve the spool protocol until stdin closes.  Returns the exit status
 * for main(): 0 at end of input, 1 when spawn failed or spool went away,
 * 2 when the first message is not spawn (started as a lines worker). */
static inline int spool_worker_run(spool_spawn_fn *spawn,
				   spool_execute_fn *execute, void *user)
{
	struct spool_worker sw;
	memset(&sw, 0, sizeof(sw));
	sw.user = user;

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
			rc = spool_worker__line(&sw, spawn, execute, in + start,
						len, &spawned);
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
	free(sw.err_message);
	cJSON_Delete(sw.err_data);
	if (sw.write_error)
		rc = 1;
	return rc;
}

#endif
