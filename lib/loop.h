/* loop.h - the one place spool blocks: poll(2) over registered
 * descriptors with a deadline.  Watches are cheap to add, change and
 * remove, also from inside a callback; a removed watch is never called. */
#ifndef SPOOL_LOOP_H
#define SPOOL_LOOP_H

#include "util.h"

typedef void (*loop_cb)(void *ctx, int fd, int revents);

struct loop_watch {
	int fd;       /* -1: free */
	short events; /* POLLIN / POLLOUT; 0: registered but not polled */
	loop_cb cb;
	void *ctx;
};

struct loop {
	struct loop_watch *w;
	size_t n, cap;
	struct pollfd *pfd;
	int *pfd_watch; /* watch id of each pollfd entry */
	size_t pfd_cap;
	int *dead; /* ids removed since the last wait, reused after it */
	size_t ndead, dead_cap;
};

void loop_init(struct loop *l);
void loop_release(struct loop *l);
int loop_add(struct loop *l, int fd, short events, loop_cb cb, void *ctx);
void loop_set(struct loop *l, int id, short events);
void loop_del(struct loop *l, int id);
/* Wait until an event or `timeout` seconds (< 0: forever); set *now to
 * the time the wait ended; run the callbacks of ready watches.  Returns
 * the number of callbacks run. */
int loop_wait(struct loop *l, double timeout, double *now);

#endif
