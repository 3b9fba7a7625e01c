/* proto.h - the worker wire formats.  Nothing outside proto_*.c knows how
 * a task is framed for a worker or how an answer line is read. */
#ifndef SPOOL_PROTO_H
#define SPOOL_PROTO_H

#include "jsonscan.h"
#include "util.h"

enum answer_kind { ANS_RESULT, ANS_ERROR };

struct answer {
	enum answer_kind kind;
	uint64_t id;        /* spool protocol: the request id (0 = spawn) */
	struct span value;  /* the result (lines: the whole line) */
	struct rpc_msg msg; /* spool protocol: the parsed message */
};

struct codec {
	const char *name;
	/* Appends the spawn request; NULL when the protocol has none. */
	void (*frame_spawn)(struct buf *b, const char *spawn_json);
	void (*frame_task)(struct buf *b, uint64_t id, const char *task,
			   size_t n);
	/* Returns NULL, or why the line is a protocol error. */
	const char *(*decode)(const char *line, size_t n, struct answer *a);
	bool by_id; /* answers name their task; else they come in order */
};

extern const struct codec proto_lines;
extern const struct codec proto_spool;

/* One execute request of the spool protocol, without its newline: a
 * batch is "[" requests joined by "," "]\n". */
void proto_spool_request(struct buf *b, uint64_t id, const char *task,
			 size_t n);

/* A one-line form of an error answer: its message, and its data when
 * that is a string. */
void proto_error_text(const struct answer *a, struct buf *out);
/* Structured error data (JSON), for -v; nothing when there is none. */
void proto_error_detail(const struct answer *a, struct buf *out);

#endif
