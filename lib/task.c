/* task.c - task slots, allocated a chunk at a time. */
#include "task.h"
#include "idq.h"

#include <stdlib.h>
#include <string.h>

/* A slot keeps its buffers between tasks; one that held a huge line
 * gives the memory back when it is freed. */
#define TASK_KEEP_BYTES ((size_t)64 << 10)

void task_store_init(struct task_store *s)
{
	memset(s, 0, sizeof(*s));
}

void task_store_release(struct task_store *s)
{
	for (uint32_t c = 0; c < s->nchunk; c++) {
		for (uint32_t i = 0; i < TASK_CHUNK; i++) {
			struct task *t = &s->chunk[c][i];
			buf_release(&t->data);
			buf_release(&t->held);
			free(t->why);
		}
		free(s->chunk[c]);
	}
	free(s->chunk);
	free(s->free);
	memset(s, 0, sizeof(*s));
}

static void add_chunk(struct task_store *s)
{
	size_t bytes = (size_t)TASK_CHUNK * sizeof(struct task);
	struct task *c = xaligned_alloc(64, bytes);
	memset(c, 0, bytes);
	s->chunk = xrealloc(s->chunk, (s->nchunk + 1) * sizeof(*s->chunk));
	s->chunk[s->nchunk++] = c;
	s->free = xrealloc(s->free,
			   (size_t)(s->cap + TASK_CHUNK) * sizeof(uint32_t));
	/* Lowest slots on top: a small run stays in the first chunk. */
	for (uint32_t i = TASK_CHUNK; i-- > 0;)
		s->free[s->nfree++] = s->cap + i;
	s->cap += TASK_CHUNK;
}

uint32_t task_alloc(struct task_store *s)
{
	if (!s->nfree)
		add_chunk(s);
	uint32_t slot = s->free[--s->nfree];
	struct task *t = task_at(s, slot);
	t->attempts = 0;
	t->flags = 0;
	t->worker = -1;
	t->sent = 0;
	t->first = 0;
	t->runtime = 0;
	t->next = t->prev = IDQ_HOLE;
	t->state = T_NEW;
	t->owner = NULL;
	t->out_end = 0;
	buf_reset(&t->data);
	buf_reset(&t->held);
	s->used++;
	return slot;
}

void task_free(struct task_store *s, uint32_t slot)
{
	struct task *t = task_at(s, slot);
	t->state = T_FREE;
	free(t->why);
	t->why = NULL;
	if (t->data.cap > TASK_KEEP_BYTES)
		buf_shrink(&t->data, TASK_KEEP_BYTES);
	if (t->held.cap > TASK_KEEP_BYTES)
		buf_shrink(&t->held, TASK_KEEP_BYTES);
	s->free[s->nfree++] = slot;
	s->used--;
}
