/* loop.c - poll(2) event loop.
 *
 * The watch table is rebuilt into a pollfd array on every wait: spool
 * watches a few descriptors per worker, and a rebuild costs less than the
 * bookkeeping an epoll set would need when interest changes every turn.
 * POLLHUP and POLLERR are reported to callbacks as readable, so the normal
 * read sees the end of file or the error. */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
}

void loop_release(struct loop *l)
{
	free(l->w);
	free(l->pfd);
	free(l->pfd_watch);
	free(l->dead);
	memset(l, 0, sizeof(*l));
}

int loop_add(struct loop *l, int fd, short events, loop_cb cb, void *ctx)
{
	int id = -1;
	for (size_t i = 0; i < l->n; i++) {
		if (l->w[i].fd >= 0)
			continue;
		bool pending = false;
		for (size_t k = 0; k < l->ndead; k++)
			if (l->dead[k] == (int)i)
				pending = true;
		if (!pending) {
			id = (int)i;
			break;
		}
	}
	if (id < 0) {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 16;
			l->w = xrealloc(l->w, l->cap * sizeof(*l->w));
		}
		id = (int)l->n++;
	}
	l->w[id] = (struct loop_watch){fd, events, cb, ctx};
	return id;
}

void loop_set(struct loop *l, int id, short events)
{
	if (id >= 0 && (size_t)id < l->n)
		l->w[id].events = events;
}

void loop_del(struct loop *l, int id)
{
	if (id < 0 || (size_t)id >= l->n || l->w[id].fd < 0)
		return;
	l->w[id].fd = -1;
	l->w[id].events = 0;
	if (l->ndead == l->dead_cap) {
		l->dead_cap = l->dead_cap ? l->dead_cap * 2 : 16;
		l->dead = xrealloc(l->dead, l->dead_cap * sizeof(int));
	}
	l->dead[l->ndead++] = id;
}

int loop_wait(struct loop *l, double timeout, double *now)
{
	l->ndead = 0;
	if (l->pfd_cap < l->n) {
		l->pfd_cap = l->n;
		l->pfd = xrealloc(l->pfd, l->pfd_cap * sizeof(*l->pfd));
		l->pfd_watch = xrealloc(l->pfd_watch, l->pfd_cap * sizeof(int));
	}
	nfds_t np = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->w[i].fd < 0 || !l->w[i].events)
			continue;
		l->pfd[np].fd = l->w[i].fd;
		l->pfd[np].events = l->w[i].events;
		l->pfd[np].revents = 0;
		l->pfd_watch[np] = (int)i;
		np++;
	}
	/* ppoll: deadlines finer than a millisecond (read coalescing). */
	struct timespec ts, *tsp = NULL;
	if (timeout >= 0) {
		if (timeout > 3600)
			timeout = 3600;
		ts.tv_sec = (time_t)timeout;
		ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
		tsp = &ts;
	}
	int r = ppoll(l->pfd, np, tsp, NULL);
	if (now)
		*now = mono_now();
	if (r <= 0)
		return 0;
	int ran = 0;
	for (nfds_t i = 0; i < np; i++) {
		short re = l->pfd[i].revents;
		if (!re)
			continue;
		struct loop_watch *w = &l->w[l->pfd_watch[i]];
		/* Removed or replaced by an earlier callback this turn. */
		if (w->fd != l->pfd[i].fd || !w->events)
			continue;
		if (re & (POLLHUP | POLLERR | POLLNVAL))
			re |= (w->events & (POLLIN | POLLOUT));
		w->cb(w->ctx, w->fd, re);
		ran++;
	}
	return ran;
}
