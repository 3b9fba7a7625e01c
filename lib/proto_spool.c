/* proto_spool.c - the spool protocol: JSON-RPC 2.0, one message a line.
 * Tasks are spliced into the request as they were read; no JSON tree is
 * built on either side of the hot path. */
#include "proto.h"

#include <string.h>

static void spool_frame_spawn(struct buf *b, const char *spawn_json)
{
	buf_adds(b, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"spawn\","
		    "\"params\":");
	buf_adds(b, spawn_json);
	buf_adds(b, "}\n");
}

void proto_spool_request(struct buf *b, uint64_t id, const char *task, size_t n)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
	static const char mid[] = ",\"method\":\"execute\",\"params\":[";
	buf_reserve(b, sizeof(head) + sizeof(mid) + 24 + n + 3);
	buf_add(b, head, sizeof(head) - 1);
	buf_addu64(b, id);
	buf_add(b, mid, sizeof(mid) - 1);
	buf_add(b, task, n);
	buf_add(b, "]}", 2);
}

static void spool_frame_task(struct buf *b, uint64_t id, const char *task,
			     size_t n)
{
	proto_spool_request(b, id, task, n);
	buf_addc(b, '\n');
}

static const char *spool_decode(const char *line, size_t n, struct answer *a)
{
	const char *why = rpc_parse(line, n, &a->msg);
	if (why)
		return why;
	if (a->msg.id == UINT64_MAX)
		return "\"id\" is not a request id spool sent";
	a->id = a->msg.id;
	if (a->msg.has_result) {
		a->kind = ANS_RESULT;
		a->value = a->msg.result;
	} else {
		a->kind = ANS_ERROR;
		a->value = a->msg.error;
	}
	return NULL;
}

const struct codec proto_spool = {
	.name = "spool",
	.frame_spawn = spool_frame_spawn,
	.frame_task = spool_frame_task,
	.decode = spool_decode,
	.by_id = true,
};

void proto_error_text(const struct answer *a, struct buf *out)
{
	const struct rpc_msg *m = &a->msg;
	if (m->err_message.n && m->err_message.p[0] == '"')
		json_string_decode(m->err_message.p, m->err_message.n, out);
	else if (m->err_message.n)
		buf_add(out, m->err_message.p, m->err_message.n);
	else
		buf_add(out, m->error.p, m->error.n);
	/* A string in data is part of the message; structured data (such
	 * as a traceback) is shown by proto_error_detail(). */
	if (m->err_data.n && m->err_data.p[0] == '"') {
		buf_adds(out, ": ");
		json_string_decode(m->err_data.p, m->err_data.n, out);
	}
}

void proto_error_detail(const struct answer *a, struct buf *out)
{
	const struct rpc_msg *m = &a->msg;
	if (!m->err_data.n || m->err_data.p[0] == '"')
		return;
	buf_add(out, m->err_data.p, m->err_data.n);
}
