/* jsonscan.h - JSON without trees.
 *
 * Tasks and answers pass through spool as bytes.  These scanners check that
 * bytes are one valid JSON value (RFC 8259, UTF-8), find the members of a
 * JSON-RPC message, and compact a value, without allocating. */
#ifndef SPOOL_JSONSCAN_H
#define SPOOL_JSONSCAN_H

#include "util.h"

#define JSON_MAX_DEPTH 1000

/* A span of bytes inside a message. */
struct span {
	const char *p;
	size_t n;
};

struct json_error {
	size_t pos;      /* byte offset of the problem */
	const char *why; /* static text */
};

/* Scan one value starting at s[pos] (no leading whitespace skipped).
 * Returns the offset just past it, or (size_t)-1 with *err set. */
size_t json_scan_value(const char *s, size_t n, size_t pos,
		       struct json_error *err);

/* True when s[0..n) is exactly one JSON value, whitespace around allowed. */
bool json_check(const char *s, size_t n, struct json_error *err);

/* Append s[0..n) (valid JSON) with insignificant whitespace removed. */
void json_minify(const char *s, size_t n, struct buf *out);

/* True when s[0..n) (valid JSON) holds insignificant whitespace. */
bool json_has_space(const char *s, size_t n);

/* Append the decoded text of a JSON string literal (quotes included in s). */
void json_string_decode(const char *s, size_t n, struct buf *out);

/* In valid JSON: the value of the first member `key` of the object s,
 * or the idx-th element of the array s.  Keys are compared as written
 * (a key spelled with escapes does not match). */
bool json_member(const char *s, size_t n, const char *key, struct span *out);
/* Scan s[0..n) as one JSON object (whitespace around it allowed), calling
 * member() for each key (without its quotes, escapes left as written) and
 * value.  Returns NULL, or why it is not a valid JSON object. */
const char *json_object_each(const char *s, size_t n,
			     void (*member)(void *ctx, struct span key,
					    struct span val),
			     void *ctx);
bool json_element(const char *s, size_t n, size_t idx, struct span *out);
/* The elements of the JSON array s[0..n) (whitespace around it allowed),
 * at most max of them, in one pass: how many, -1 when it is not a valid
 * array, -2 when it has more than max. */
long json_elements(const char *s, size_t n, struct span *out, size_t max);

/* A decoded JSON-RPC 2.0 response line. */
struct rpc_msg {
	bool has_id, has_result, has_error, has_method;
	uint64_t id;                                 /* valid when has_id */
	struct span result;                          /* the result value */
	struct span error;                           /* the error value */
	struct span err_message, err_code, err_data; /* members of error */
};

/* Parse one message line.  Returns NULL on success, else why it is not a
 * JSON-RPC response (static text). */
const char *rpc_parse(const char *s, size_t n, struct rpc_msg *m);

#endif
