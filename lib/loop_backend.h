/* loop_backend.h - what loop.c asks of the code that waits.  Private to
 * loop.c and its backends.
 *
 * The backend is chosen here, when spool is compiled:
 *
 * - epoll, the default on Linux.  spool must run 1000 workers with three
 *   pipes each; poll(2) copies and scans every descriptor on every wake-up,
 *   epoll costs only the ready ones plus a system call when a watch's
 *   interest changes (loop.c makes none when it stays the same).
 * - poll(2) anywhere else, or when built with -DSPOOL_LOOP_POLL
 *   (make CFLAGS='-O2 -g -DSPOOL_LOOP_POLL'): no state in the kernel, so
 *   nothing to keep in sync, at O(watches) per wait.  The unit tests run
 *   against it whatever the build (tests/unit/test_loop_poll.c).
 *
 * Both files are always compiled; the one not chosen compiles to nothing. */
#ifndef SPOOL_LOOP_BACKEND_H
#define SPOOL_LOOP_BACKEND_H

#include "loop.h"

#include <time.h>

#if defined(__linux__) && !defined(SPOOL_LOOP_POLL)
#define LOOP_BACKEND_EPOLL 1
#else
#define LOOP_BACKEND_POLL 1
#endif

/* A ready watch, as the backend saw it when it waited. */
struct loop_fired {
	int id;
	uint32_t gen;
	short revents;
};

struct loop_backend *loop_backend_new(void);
void loop_backend_free(struct loop_backend *b);
/* Make the backend wait for l->w[id].events instead of .kmask (they
 * differ), and set .kmask.  Called with events 0 when the watch is
 * removed, before its descriptor is closed. */
void loop_backend_update(struct loop *l, int id);
/* Wait up to *timeout (NULL: forever) and return the ready watches in
 * *fired, valid until the next call. */
size_t loop_backend_wait(struct loop *l, const struct timespec *timeout,
			 struct loop_fired **fired);
extern const char loop_backend_label[];

/* A timeout in whole milliseconds for the calls that take no finer one:
 * rounded up, so a deadline 0.3 ms away sleeps 1 ms instead of waking
 * early and spinning with timeout 0 until it is due. */
int loop_timeout_ms(const struct timespec *timeout);

#endif
