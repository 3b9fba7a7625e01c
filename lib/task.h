/* task.h - a task read from the input, from the moment it is read until
 * its result or failure is written out.  Tasks live in a fixed array of
 * slots (queue_size of them): that array is the memory bound. */
#ifndef SPOOL_TASK_H
#define SPOOL_TASK_H

#include "util.h"

enum task_state {
	T_FREE,     /* slot unused */
	T_QUEUED,   /* waiting for a worker */
	T_INFLIGHT, /* sent to a worker, no answer yet */
	T_DONE,     /* finished; output held until its turn (-k) */
};

/* What every task touches comes first, in one cache line; the rest is
 * for reports, retries and -k. */
struct task {
	struct buf data;   /* the task line, without '\n' */
	uint64_t seq;      /* from 1, across all inputs */
	double sent;       /* monotonic time of the latest send */
	double first;      /* monotonic time of the first send, 0 before */
	int32_t worker;    /* worker of the latest attempt, -1 before any */
	uint16_t attempts; /* sends that counted */
	uint8_t state;     /* enum task_state */
	bool ok;           /* when T_DONE */

	struct buf held; /* output waiting for earlier tasks (-k) */
	uint64_t line;   /* line number within its input */
	uint32_t src;    /* input index */
	bool blamed;     /* a worker died while it was in flight */
	double runtime;  /* first send to finish, when T_DONE */
	char *why;       /* why it failed, kept for its joblog row */
} __attribute__((aligned(64)));

struct task_store {
	struct task *t;
	uint32_t cap;
	uint32_t *free; /* stack of free slots */
	uint32_t nfree;
};

void task_store_init(struct task_store *s, uint32_t cap);
void task_store_release(struct task_store *s);
/* A free slot, or IDQ_HOLE when all queue_size slots are in use. */
uint32_t task_alloc(struct task_store *s);
void task_free(struct task_store *s, uint32_t slot);
static inline uint32_t task_used(const struct task_store *s)
{
	return s->cap - s->nfree;
}

#endif
