/* task.c - task slots, in one reserved array touched as it is used. */
#define _GNU_SOURCE
#include "task.h"
#include "idq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>


/* Slots reserved: more than the largest window (-q 10000000) with room
 * for buffered workers' tasks; fewer when the address space is short. */
#define TASK_RESERVE ((uint32_t)1 << 24)
#define TASK_RESERVE_MIN ((uint32_t)1 << 12)
/* Slots made ready at a time. */
#define TASK_GROW 256

void task_store_init(struct task_store *s)
{
	memset(s, 0, sizeof(*s));
	for (uint32_t n = TASK_RESERVE; n >= TASK_RESERVE_MIN; n /= 2) {
		void *m = mmap(NULL, (size_t)n * sizeof(struct task),
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			       0);
		if (m != MAP_FAILED) {
			s->t = m;
			s->max = n;
			return;
		}
	}
	fputs("spool: out of memory (cannot reserve the task slots)\n",
	      stderr);
	exit(1);
}

void task_store_release(struct task_store *s)
{
	for (uint32_t i = 0; i < s->cap; i++) {
		struct task *t = &s->t[i];
		buf_release(&t->data);
		buf_release(&t->held);
		free(t->why);
	}
	if (s->t)
		munmap(s->t, (size_t)s->max * sizeof(struct task));
	free(s->free);
	memset(s, 0, sizeof(*s));
}

/* More slots, from the reserved (zero-filled) memory. */
void task_store_grow(struct task_store *s)
{
	uint32_t n = MIN(TASK_GROW, s->max - s->cap);
	if (!n) {
		fputs("spool: out of task slots\n", stderr);
		exit(1);
	}
	if (s->free_cap < s->cap + n) {
		s->free_cap = s->cap + n;
		s->free = xrealloc(s->free, s->free_cap * sizeof(uint32_t));
	}
	/* Lowest slots on top: a small run stays in the first pages. */
	for (uint32_t i = n; i-- > 0;)
		s->free[s->nfree++] = s->cap + i;
	s->cap += n;
}

void task_free_slow(struct task *t)
{
	free(t->why);
	t->why = NULL;
	if (t->data.cap > TASK_KEEP_BYTES)
		buf_shrink(&t->data, TASK_KEEP_BYTES);
	if (t->held.cap > TASK_KEEP_BYTES)
		buf_shrink(&t->held, TASK_KEEP_BYTES);
}
