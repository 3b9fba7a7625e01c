/* reorder.h - input order for -k.  Slots are pushed in the order their
 * tasks were read; a finished task's output is written only when every
 * task before it has been written.  In completion order nothing waits. */
#ifndef SPOOL_REORDER_H
#define SPOOL_REORDER_H

#include "idq.h"

struct reorder {
	struct idq q;   /* slots in read order, not yet written out */
	uint8_t *done;  /* per slot: finished, output held */
	uint32_t ndone; /* slots done[] covers; it grows with them */
};

/* nslots: a first guess; slots beyond it are fine. */
void reorder_init(struct reorder *r, uint32_t nslots);
void reorder_release(struct reorder *r);
void reorder_push(struct reorder *r, uint32_t slot);
/* True when slot's output may be written now (all before it are out). */
static inline bool reorder_is_head(const struct reorder *r, uint32_t slot)
{
	return r->q.len && r->q.v[r->q.head] == slot;
}
/* Mark slot finished.  Returns true when it is the head: the caller
 * writes it, then calls reorder_pop() until it returns IDQ_HOLE. */
bool reorder_done(struct reorder *r, uint32_t slot);
/* The next slot whose turn has come (the head, once finished), removed
 * from the order; IDQ_HOLE when the head is still running. */
uint32_t reorder_pop(struct reorder *r);

#endif
