/* idq.h - a deque of task slot numbers that grows as needed (nothing is
 * reserved up front in proportion to the window).  Dispatch queues and
 * the output order are idqs. */
#ifndef SPOOL_IDQ_H
#define SPOOL_IDQ_H

#include "util.h"

#include <stdlib.h>

#define IDQ_HOLE UINT32_MAX

struct idq {
	uint32_t *v;
	uint32_t cap, head, len;
};

static inline void idq_init(struct idq *q, uint32_t cap)
{
	q->v = xcalloc(cap ? cap : 1, sizeof(uint32_t));
	q->cap = cap ? cap : 1;
	q->head = q->len = 0;
}

static inline void idq_release(struct idq *q)
{
	free(q->v);
	q->v = NULL;
	q->cap = q->head = q->len = 0;
}

static inline uint32_t idq_at(const struct idq *q, uint32_t i)
{
	uint32_t k = q->head + i;
	if (k >= q->cap)
		k -= q->cap;
	return q->v[k];
}

static inline void idq_set(struct idq *q, uint32_t i, uint32_t val)
{
	uint32_t k = q->head + i;
	if (k >= q->cap)
		k -= q->cap;
	q->v[k] = val;
}

/* Remove every hole, keeping order. */
static inline void idq_compact(struct idq *q)
{
	uint32_t out = 0;
	for (uint32_t i = 0; i < q->len; i++) {
		uint32_t val = idq_at(q, i);
		if (val != IDQ_HOLE)
			idq_set(q, out++, val);
	}
	q->len = out;
}

/* Double the capacity, the contents moved to the front. */
static inline void idq_grow(struct idq *q)
{
	uint32_t cap = q->cap * 2;
	uint32_t *v = xcalloc(cap, sizeof(uint32_t));
	for (uint32_t i = 0; i < q->len; i++)
		v[i] = idq_at(q, i);
	free(q->v);
	q->v = v;
	q->cap = cap;
	q->head = 0;
}

static inline void idq_push_back(struct idq *q, uint32_t val)
{
	if (q->len == q->cap)
		idq_compact(q);
	if (q->len == q->cap)
		idq_grow(q);
	uint32_t k = q->head + q->len;
	if (k >= q->cap)
		k -= q->cap;
	q->v[k] = val;
	q->len++;
}

static inline void idq_push_front(struct idq *q, uint32_t val)
{
	if (q->len == q->cap)
		idq_grow(q);
	q->head = q->head ? q->head - 1 : q->cap - 1;
	q->v[q->head] = val;
	q->len++;
}

static inline uint32_t idq_pop_front(struct idq *q)
{
	uint32_t val = q->v[q->head];
	q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
	q->len--;
	return val;
}

static inline uint32_t idq_pop_back(struct idq *q)
{
	q->len--;
	return idq_at(q, q->len);
}

/* Drop holes left at the front by removals from the middle. */
static inline void idq_trim(struct idq *q)
{
	while (q->len && q->v[q->head] == IDQ_HOLE)
		(void)idq_pop_front(q);
	while (q->len && idq_at(q, q->len - 1) == IDQ_HOLE)
		q->len--;
}

#endif
