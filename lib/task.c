/* task.c - the slot array that bounds spool's memory. */
#include "task.h"
#include "idq.h"

#include <stdlib.h>
#include <string.h>

/* A slot keeps its buffers between tasks; one that held a huge line
 * gives the memory back when it is freed. */
#define TASK_KEEP_BYTES ((size_t)64 << 10)

void task_store_init(struct task_store *s, uint32_t cap)
{
	/* Cache-line aligned, as struct task asks. */
	s->t = xaligned_alloc(64, (size_t)cap * sizeof(*s->t));
	memset(s->t, 0, (size_t)cap * sizeof(*s->t));
	s->cap = cap;
	s->free = xcalloc(cap, sizeof(uint32_t));
	s->nfree = cap;
	for (uint32_t i = 0; i < cap; i++)
		s->free[i] = cap - 1 - i;
}

void task_store_release(struct task_store *s)
{
	for (uint32_t i = 0; i < s->cap; i++) {
		buf_release(&s->t[i].data);
		buf_release(&s->t[i].held);
		free(s->t[i].why);
	}
	free(s->t);
	free(s->free);
	memset(s, 0, sizeof(*s));
}

uint32_t task_alloc(struct task_store *s)
{
	if (!s->nfree)
		return IDQ_HOLE;
	uint32_t slot = s->free[--s->nfree];
	struct task *t = &s->t[slot];
	t->attempts = 0;
	t->ok = false;
	t->blamed = false;
	t->worker = -1;
	t->sent = 0;
	t->first = 0;
	t->runtime = 0;
	buf_reset(&t->data);
	buf_reset(&t->held);
	return slot;
}

void task_free(struct task_store *s, uint32_t slot)
{
	struct task *t = &s->t[slot];
	t->state = T_FREE;
	free(t->why);
	t->why = NULL;
	if (t->data.cap > TASK_KEEP_BYTES)
		buf_shrink(&t->data, TASK_KEEP_BYTES);
	if (t->held.cap > TASK_KEEP_BYTES)
		buf_shrink(&t->held, TASK_KEEP_BYTES);
	s->free[s->nfree++] = slot;
}
