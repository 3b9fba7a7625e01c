/* proto_lines.c - the lines protocol: a task is its line, an answer is
 * the next line the worker writes. */
#include "proto.h"

#include <string.h>

static void lines_frame_task(struct buf *b, uint64_t id, const char *task,
			     size_t n)
{
	(void)id;
	buf_reserve(b, n + 1);
	memcpy(b->p + b->len, task, n);
	b->p[b->len + n] = '\n';
	b->len += n + 1;
}

static const char *lines_decode(const char *line, size_t n, struct answer *a)
{
	a->kind = ANS_RESULT;
	a->id = 0;
	a->value.p = line;
	a->value.n = n;
	return NULL;
}

const struct codec proto_lines = {
	.name = "lines",
	.frame_spawn = NULL,
	.frame_task = lines_frame_task,
	.decode = lines_decode,
	.by_id = false,
};
