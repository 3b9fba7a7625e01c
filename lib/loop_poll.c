/* loop_poll.c - the portable backend: ppoll(2) over every wanted watch.
 *
 * Nothing lives in the kernel between waits, so a change of interest
 * costs nothing and the pollfd array is rebuilt on every wait: O(watches)
 * per wake-up, which is why Linux builds use loop_epoll.c.  ppoll keeps
 * deadlines finer than a millisecond. */
#define _GNU_SOURCE
#include "loop_backend.h"

#ifdef LOOP_BACKEND_POLL

#include <poll.h>
#include <stdlib.h>

const char loop_backend_label[] = "poll";

struct loop_backend {
	struct pollfd *pfd;
	struct loop_fired *fired; /* id and generation of each pfd entry */
	size_t cap;
};

struct loop_backend *loop_backend_new(void)
{
	return xcalloc(1, sizeof(struct loop_backend));
}

void loop_backend_free(struct loop_backend *b)
{
	free(b->pfd);
	free(b->fired);
	free(b);
}

void loop_backend_update(struct loop *l, int id)
{
	l->w[id].kmask = l->w[id].events;
}

size_t loop_backend_wait(struct loop *l, const struct timespec *timeout,
			 struct loop_fired **fired)
{
	struct loop_backend *b = l->b;
	if (b->cap < l->n) {
		b->cap = l->n;
		b->pfd = xrealloc(b->pfd, b->cap * sizeof(*b->pfd));
		b->fired = xrealloc(b->fired, b->cap * sizeof(*b->fired));
	}
	nfds_t np = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct loop_watch *w = &l->w[i];
		if (w->fd < 0 || !w->events)
			continue;
		b->pfd[np] = (struct pollfd){w->fd, w->events, 0};
		b->fired[np] = (struct loop_fired){(int)i, w->gen, 0};
		np++;
	}
	int r = ppoll(b->pfd, np, timeout, NULL);
	size_t n = 0;
	for (nfds_t i = 0; r > 0 && i < np; i++) {
		if (!b->pfd[i].revents)
			continue;
		b->fired[n] = b->fired[i];
		b->fired[n++].revents = b->pfd[i].revents;
	}
	*fired = b->fired;
	return n;
}

#endif
