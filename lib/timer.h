/* timer.h - deadlines kept in a binary min-heap, so the loop finds the
 * nearest one, and every one that is due, without visiting each worker.
 *
 * A timer lives inside its owner (a worker's kill deadline, its respawn
 * backoff, ...); the heap only holds pointers to it.  A zeroed timer is
 * disarmed, so owners allocated with xcalloc or memset need no setup.
 * An armed timer must stay where it is: clear it before its owner is
 * moved (an array that grows) or freed.
 *
 *	struct worker { ...; struct timer kill; ... };
 *	timer_set(&heap, &w->kill, now + grace);
 *	for (struct timer *t = timer_pop(&heap, now); t;
 *	     t = timer_pop(&heap, now)) {
 *		struct worker *w = timer_owner(t, struct worker, kill);
 *		...
 *	}
 *
 * Deadlines are seconds on the monotonic clock (mono_now()), so always
 * above 0: timer_next() says "none" with 0, as the pool's deadlines do.
 * Timers due at the same instant come out in the order they were set. */
#ifndef SPOOL_TIMER_H
#define SPOOL_TIMER_H

#include "util.h"

struct timer {
	double at;     /* the deadline, when armed */
	uint64_t seq;  /* when it was set: orders equal deadlines */
	uint32_t slot; /* its place in the heap + 1; 0: disarmed */
};

struct timer_heap {
	struct timer **v; /* v[0] is the earliest */
	uint32_t n, cap;
	uint64_t seq;
};

/* The owner of timer t, a struct of type `type` holding it as `member`. */
#define timer_owner(t, type, member)                                           \
	((type *)(void *)((char *)(t)-offsetof(type, member)))

void timer_heap_init(struct timer_heap *h);
/* Forgets every timer; armed ones are left marked armed, so release the
 * heap only with its owners. */
void timer_heap_release(struct timer_heap *h);

/* Arm t for `at`, or move it there if it is armed already: O(log n). */
void timer_set(struct timer_heap *h, struct timer *t, double at);
/* Disarm t; nothing happens if it is not armed.  O(log n). */
void timer_clear(struct timer_heap *h, struct timer *t);

static inline bool timer_armed(const struct timer *t)
{
	return t->slot != 0;
}

/* The earliest deadline, 0 when no timer is armed. */
static inline double timer_next(const struct timer_heap *h)
{
	return h->n ? h->v[0]->at : 0;
}

static inline uint32_t timer_count(const struct timer_heap *h)
{
	return h->n;
}

/* Disarm and return the earliest timer due at `now` (at <= now), or NULL
 * when none is.  Call it until NULL to take every due timer, earliest
 * first; one set again for a deadline <= now comes out again. */
struct timer *timer_pop(struct timer_heap *h, double now);

#endif
