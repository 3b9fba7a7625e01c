/* reorder.c - releasing outputs in input order. */
#include "reorder.h"

#include <stdlib.h>
#include <string.h>

void reorder_init(struct reorder *r, uint32_t nslots)
{
	idq_init(&r->q, nslots);
	r->done = xcalloc(nslots, 1);
}

void reorder_release(struct reorder *r)
{
	idq_release(&r->q);
	free(r->done);
	memset(r, 0, sizeof(*r));
}

void reorder_push(struct reorder *r, uint32_t slot)
{
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
