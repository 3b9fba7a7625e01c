/* task.h - a task, from the moment a client submits it until the client
 * releases it (its result or failure written out).  Tasks live in one
 * array whose address space is reserved at the start but whose memory is
 * only touched as slots come into use: nothing is allocated in proportion
 * to the window, a slot's address never moves, and finding a slot is an
 * index. */
#ifndef SPOOL_TASK_H
#define SPOOL_TASK_H

#include "util.h"

enum task_state {
	T_FREE,     /* slot unused */
	T_NEW,      /* held by its client, not given to the engine */
	T_QUEUED,   /* waiting for a worker */
	T_INFLIGHT, /* sent to a worker, no answer yet */
	T_DONE,     /* finished; its client has it until released */
};

enum task_flag {
	TF_OK = 1,          /* T_DONE: it succeeded */
	TF_SUSPECT = 2,     /* at a death with others in flight: runs alone */
	TF_BLAMED = 4,      /* charged for a worker's death before */
	TF_NOT_STARTED = 8, /* failed because the run stopped first */
	TF_HELD = 16,       /* -k: its output waits for earlier tasks */
};

struct client;

/* What every task touches comes first, in one cache line; the rest is
 * for clients, reports and retries. */
struct task {
	struct buf data; /* the task line, without '\n' */
	uint64_t id;     /* unique in the run: the request id for workers */
	double sent;     /* monotonic time of the latest send */
	double first;    /* monotonic time of the first send, 0 before */
	int32_t worker;  /* worker of the latest attempt, -1 before any */
	uint32_t fl_pos; /* its place in its worker's in-flight list */
	uint16_t attempts; /* sends that counted */
	uint8_t state;     /* enum task_state */
	uint8_t flags;     /* enum task_flag */

	struct client *owner;
	uint64_t seq;     /* the client's number for it (run: from 1) */
	struct buf held;  /* run: output held for its turn (-k);
			    serve: the client's request id */
	uint64_t line;    /* run: line number within its input */
	uint64_t out_end; /* run: stdout offset where its output ends */
	double queued_at; /* when it was last queued (batch delays) */
	uint16_t batch;   /* its batch's place in its worker's table */
	uint16_t group;   /* a suspect: how many may run with it (a buffered
			     worker's suspects are halved, not run alone) */
	uint32_t src;     /* run: input index */
	double runtime;   /* first send to finish, when T_DONE */
	char *why;        /* why it failed, kept for its joblog row */
} __attribute__((aligned(64)));

struct task_store {
	struct task *t;    /* max slots reserved, cap of them touched */
	uint32_t max, cap;
	uint32_t *free;    /* stack of free slots */
	uint32_t nfree, free_cap;
	uint32_t used;
};

void task_store_init(struct task_store *s);
void task_store_release(struct task_store *s);
/* A slot keeps its buffers between tasks; one that held a huge line
 * gives the memory back when it is freed. */
#define TASK_KEEP_BYTES ((size_t)64 << 10)

void task_store_grow(struct task_store *s);
void task_free_slow(struct task *t);

static inline struct task *task_at(const struct task_store *s, uint32_t slot)
{
	return &s->t[slot];
}

/* A free slot; the caller keeps used below max (pool_has_room).  Inline:
 * every task takes one. */
static inline uint32_t task_alloc(struct task_store *s)
{
	if (UNLIKELY(!s->nfree))
		task_store_grow(s);
	uint32_t slot = s->free[--s->nfree];
	struct task *t = task_at(s, slot);
	t->attempts = 0;
	t->flags = 0;
	t->worker = -1;
	t->sent = 0;
	t->first = 0;
	t->runtime = 0;
	t->state = T_NEW;
	t->owner = NULL;
	t->out_end = 0;
	t->data.off = t->data.len = 0;
	t->held.off = t->held.len = 0;
	s->used++;
	return slot;
}

static inline void task_free(struct task_store *s, uint32_t slot)
{
	struct task *t = task_at(s, slot);
	t->state = T_FREE;
	if (UNLIKELY(t->why || t->data.cap > TASK_KEEP_BYTES ||
		     t->held.cap > TASK_KEEP_BYTES))
		task_free_slow(t);
	s->free[s->nfree++] = slot;
	s->used--;
}

#endif
