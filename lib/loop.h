/* loop.h - the one place spool blocks: waiting on registered descriptors
 * with a deadline.  Watches are cheap to add, change and remove, also
 * from inside a callback.
 *
 * The guarantees, whichever backend waits (see loop_backend.h):
 * - a watch removed, or set to events 0, by an earlier callback of the
 *   same turn is not called in that turn;
 * - a watch id is reused only after the next loop_wait() began, so an id
 *   kept by a callback never names a newer watch in the same turn;
 * - hang-up and error (POLLHUP, POLLERR, POLLNVAL) are reported with the
 *   POLLIN / POLLOUT the watch asked for, so the normal read or write sees
 *   the end of file or the error;
 * - a descriptor that cannot be waited on (a regular file) is always
 *   ready, as poll(2) says;
 * - events 0 means registered but not polled: nothing is reported, not
 *   even a hang-up.
 *
 * The rules for callers:
 * - loop_del() a watch BEFORE closing its descriptor.  The epoll backend
 *   forgets a descriptor by its number; once closed, the number may name
 *   another file, and a copy held elsewhere (a child between fork and
 *   exec) keeps the old one reporting.  After loop_del() the number may
 *   be closed, reused and loop_add()ed again in the same turn.  (A late
 *   loop_del, after the number went to a new watch, is survived: the
 *   new watch keeps its events.)
 * - one watch per descriptor: watch it for POLLIN | POLLOUT rather than
 *   twice. */
#ifndef SPOOL_LOOP_H
#define SPOOL_LOOP_H

#include "util.h"

#include <poll.h>

typedef void (*loop_cb)(void *ctx, int fd, int revents);

struct loop_watch {
	int fd;        /* -1: free */
	short events;  /* POLLIN / POLLOUT; 0: registered but not polled */
	short kmask;   /* the events the backend waits for now */
	short always;  /* epoll cannot wait on it: revents when asked */
	bool detached; /* closed without loop_del, number watched again */
	uint32_t gen;  /* changed by loop_del: tells stale events apart */
	int next;      /* link in the free or the removed list */
	loop_cb cb;
	void *ctx;
};

struct loop_backend;

struct loop {
	struct loop_watch *w;
	size_t n, cap;
	int free;               /* ids loop_add may take; -1: none */
	int dead, dead_tail;    /* ids removed since the last wait */
	uint64_t changes;       /* interest changes the backend was told of */
	struct loop_backend *b; /* loop_epoll.c or loop_poll.c */
};

void loop_init(struct loop *l);
void loop_release(struct loop *l);
/* Watch fd for `events`; returns the watch id (-1 if fd < 0).  O(1). */
int loop_add(struct loop *l, int fd, short events, loop_cb cb, void *ctx);
/* Change what watch id waits for; costs nothing when it is the same. */
void loop_set(struct loop *l, int id, short events);
/* Stop watching; ids < 0 and removed ids are ignored.  O(1). */
void loop_del(struct loop *l, int id);
/* Wait until an event or `timeout` seconds (< 0: forever; deadlines
 * finer than a millisecond are kept); set *now to the time the wait
 * ended; run the callbacks of ready watches.  Returns the number of
 * callbacks run. */
int loop_wait(struct loop *l, double timeout, double *now);
/* "epoll" or "poll": which backend this build waits with. */
const char *loop_backend_name(void);

#endif
