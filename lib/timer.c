/* timer.c - the deadline heap.
 *
 * An array heap of pointers; each timer remembers its slot so that
 * moving or clearing one needs no search.  Ties on the deadline are
 * broken by a sequence number: equal deadlines come out in the order they
 * were set, so runs behave the same from one time to the next. */
#include "timer.h"

#include <stdlib.h>

void timer_heap_init(struct timer_heap *h)
{
	memset(h, 0, sizeof(*h));
}

void timer_heap_release(struct timer_heap *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}

static bool earlier(const struct timer *a, const struct timer *b)
{
	if (a->at != b->at)
		return a->at < b->at;
	return a->seq < b->seq;
}

static void place(struct timer_heap *h, uint32_t i, struct timer *t)
{
	h->v[i] = t;
	t->slot = i + 1;
}

/* Move the timer at i towards the root while it is earlier than its
 * parent; returns where it stopped. */
static uint32_t sift_up(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->v[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!earlier(t, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
	return i;
}

static void sift_down(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->v[i];
	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= h->n)
			break;
		if (child + 1 < h->n && earlier(h->v[child + 1], h->v[child]))
			child++;
		if (!earlier(h->v[child], t))
			break;
		place(h, i, h->v[child]);
		i = child;
	}
	place(h, i, t);
}

/* After the timer at i changed its key: restore the heap order. */
static void fix(struct timer_heap *h, uint32_t i)
{
	if (sift_up(h, i) == i)
		sift_down(h, i);
}

void timer_set(struct timer_heap *h, struct timer *t, double at)
{
	t->at = at;
	t->seq = h->seq++;
	if (timer_armed(t)) {
		fix(h, t->slot - 1);
		return;
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	place(h, h->n++, t);
	sift_up(h, h->n - 1);
}

void timer_clear(struct timer_heap *h, struct timer *t)
{
	if (!timer_armed(t))
		return;
	uint32_t i = t->slot - 1;
	t->slot = 0;
	struct timer *last = h->v[--h->n];
	if (i == h->n)
		return;
	place(h, i, last);
	fix(h, i);
}

struct timer *timer_pop(struct timer_heap *h, double now)
{
	if (!h->n || h->v[0]->at > now)
		return NULL;
	struct timer *t = h->v[0];
	timer_clear(h, t);
	return t;
}
