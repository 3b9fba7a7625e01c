/* reorder.c - releasing outputs in input order. */
#include "reorder.h"

#include <stdlib.h>
#include <string.h>

void reorder_init(struct reorder *r, uint32_t nslots)
{
	idq_init(&r->q, nslots);
	r->ndone = nslots ? nslots : 1;
	r->done = xcalloc(r->ndone, 1);
}

void reorder_release(struct reorder *r)
{
	idq_release(&r->q);
	free(r->done);
	memset(r, 0, sizeof(*r));
}

void reorder_push(struct reorder *r, uint32_t slot)
{
	if (slot >= r->ndone) {
		uint32_t n = r->ndone;
		while (n <= slot)
			n *= 2;
		r->done = xrealloc(r->done, n);
		memset(r->done + r->ndone, 0, n - r->ndone);
		r->ndone = n;
	}
	r->done[slot] = 0;
	idq_push_back(&r->q, slot);
}

bool reorder_done(struct reorder *r, uint32_t slot)
{
	r->done[slot] = 1;
	return reorder_is_head(r, slot);
}

uint32_t reorder_pop(struct reorder *r)
{
	if (!r->q.len)
		return IDQ_HOLE;
	uint32_t slot = r->q.v[r->q.head];
	if (!r->done[slot])
		return IDQ_HOLE;
	r->done[slot] = 0;
	(void)idq_pop_front(&r->q);
	return slot;
}
