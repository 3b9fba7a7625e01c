/* loop.c - the watch table and the dispatch of a turn, shared by the
 * backends (loop_backend.h says which one waits, and why).
 *
 * Ids are handed out from a free list, so adding and removing is O(1).
 * A removed id first waits on the "dead" list until the next wait begins:
 * a callback may still hold it during its turn.  Each removal changes the
 * watch's generation; the backend reports (id, generation) pairs, and an
 * event whose generation is old belongs to a watch that is gone. */
#define _GNU_SOURCE
#include "loop.h"
#include "loop_backend.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

void loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
	l->free = l->dead = l->dead_tail = -1;
	l->b = loop_backend_new();
}

void loop_release(struct loop *l)
{
	if (l->b)
		loop_backend_free(l->b);
	free(l->w);
	memset(l, 0, sizeof(*l));
	l->free = l->dead = l->dead_tail = -1;
}

const char *loop_backend_name(void)
{
	return loop_backend_label;
}

static void tell_backend(struct loop *l, int id)
{
	l->changes++;
	loop_backend_update(l, id);
}

int loop_add(struct loop *l, int fd, short events, loop_cb cb, void *ctx)
{
	if (fd < 0)
		return -1;
	int id = l->free;
	if (id >= 0) {
		l->free = l->w[id].next;
	} else {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 16;
			l->w = xrealloc(l->w, l->cap * sizeof(*l->w));
		}
		id = (int)l->n++;
		l->w[id].gen = 0;
	}
	struct loop_watch *w = &l->w[id];
	w->fd = fd;
	w->events = events;
	w->kmask = 0;
	w->always = 0;
	w->detached = false;
	w->next = -1;
	w->cb = cb;
	w->ctx = ctx;
	if (events)
		tell_backend(l, id);
	return id;
}

static struct loop_watch *live(struct loop *l, int id)
{
	if (id < 0 || (size_t)id >= l->n || l->w[id].fd < 0)
		return NULL;
	return &l->w[id];
}

void loop_set(struct loop *l, int id, short events)
{
	struct loop_watch *w = live(l, id);
	if (!w)
		return;
	w->events = events;
	/* The engine sets most watches every turn, mostly to what they
	 * already are: only a real change reaches the kernel. */
	if (w->kmask != events)
		tell_backend(l, id);
}

void loop_del(struct loop *l, int id)
{
	struct loop_watch *w = live(l, id);
	if (!w)
		return;
	w->events = 0;
	if (w->kmask)
		tell_backend(l, id);
	w->fd = -1;
	w->gen++;
	w->cb = NULL;
	w->ctx = NULL;
	w->next = -1;
	if (l->dead_tail >= 0)
		l->w[l->dead_tail].next = id;
	else
		l->dead = id;
	l->dead_tail = id;
}

int loop_timeout_ms(const struct timespec *timeout)
{
	if (!timeout)
		return -1;
	/* In long long: seconds * 1000 overflow an int past 24 days. */
	long long ms = (long long)timeout->tv_sec * 1000;
	ms += (timeout->tv_nsec + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int loop_wait(struct loop *l, double timeout, double *now)
{
	/* Ids removed before this wait cannot be among its events. */
	if (l->dead >= 0) {
		l->w[l->dead_tail].next = l->free;
		l->free = l->dead;
		l->dead = l->dead_tail = -1;
	}
	struct timespec ts, *tsp = NULL;
	if (timeout >= 0) {
		if (timeout > 3600)
			timeout = 3600;
		ts.tv_sec = (time_t)timeout;
		ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
		if (ts.tv_nsec > 999999999)
			ts.tv_nsec = 999999999;
		tsp = &ts;
	}
	struct loop_fired *fired;
	size_t nf = loop_backend_wait(l, tsp, &fired);
	if (now)
		*now = mono_now();
	int ran = 0;
	for (size_t i = 0; i < nf; i++) {
		struct loop_watch *w = &l->w[fired[i].id];
		/* Removed by an earlier callback this turn. */
		if (w->gen != fired[i].gen || w->fd < 0)
			continue;
		short re = fired[i].revents;
		if (re & (POLLHUP | POLLERR | POLLNVAL))
			re |= w->events & (POLLIN | POLLOUT);
		/* Only what the watch asks for now (an earlier callback may
		 * have changed it), or the reason it cannot be read. */
		re &= w->events | POLLHUP | POLLERR | POLLNVAL;
		if (!w->events || !re)
			continue;
		w->cb(w->ctx, w->fd, re);
		ran++;
	}
	return ran;
}
