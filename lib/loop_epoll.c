/* loop_epoll.c - the Linux backend: an epoll set that mirrors what the
 * watches want.
 *
 * loop.c calls in only when a watch's events really change.  Events 0
 * takes the descriptor out of the set rather than leaving it with an
 * empty mask: the kernel reports hang-up and errors whatever the mask,
 * and a dead worker's idle stdin would wake every turn.  Each entry
 * carries its watch's id and generation, so an event for a watch removed
 * earlier is recognised and dropped.
 *
 * epoll refuses descriptors that cannot block (EPERM: regular files,
 * /dev/null); poll(2) calls them always ready, and so do we: they sit on
 * a short list, and a wait that wants any of them does not sleep.
 *
 * The kernel knows an entry by descriptor number, and a number closed
 * without loop_del can come back at once for another watch.  A table of
 * which watch holds each number keeps the old watch's late loop_del from
 * removing the new watch's entry. */
#define _GNU_SOURCE
#include "loop_backend.h"

#ifdef LOOP_BACKEND_EPOLL

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

/* epoll_pwait2 (Linux 5.11) takes a timespec; epoll_wait only whole
 * milliseconds.  Call it through glibc when it has it (2.35), or
 * directly; an older kernel says ENOSYS once and is not asked again. */
#if defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 35)
#define HAVE_GLIBC_PWAIT2 1
#endif
#endif

const char loop_backend_label[] = "epoll";

/* Wait for at most this many events at once; more ready descriptors
 * come out of the next wait, which then does not sleep. */
#define MAX_EVENTS 1024

struct loop_backend {
	int epfd;
	size_t nset; /* descriptors in the epoll set */
	struct epoll_event *ev;
	size_t ev_cap;
	struct loop_fired *fired;
	size_t fired_cap;
	int *always; /* ids of wanted watches epoll cannot wait on */
	int *owner;
	size_t owner_cap;
	size_t nalways, always_cap;
	bool no_pwait2;
};

static NORETURN void die(const char *what, int fd, int err)
{
	log_error("internal error: epoll_ctl(%s) on descriptor %d: %s%s", what,
		  fd, strerror(err),
		  err == ENOSPC ? " (raise /proc/sys/fs/epoll/max_user_watches)"
				: "");
	exit(1);
}

struct loop_backend *loop_backend_new(void)
{
	struct loop_backend *b = xcalloc(1, sizeof(*b));
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0) {
		log_error("cannot create an epoll instance: %s",
			  strerror(errno));
		exit(1);
	}
	return b;
}

void loop_backend_free(struct loop_backend *b)
{
	close(b->epfd);
	free(b->ev);
	free(b->fired);
	free(b->always);
	free(b->owner);
	free(b);
}

static void always_add(struct loop_backend *b, int id)
{
	if (b->nalways == b->always_cap) {
		b->always_cap = b->always_cap ? b->always_cap * 2 : 4;
		b->always =
			xrealloc(b->always, b->always_cap * sizeof(*b->always));
	}
	b->always[b->nalways++] = id;
}

static void always_remove(struct loop_backend *b, int id)
{
	for (size_t i = 0; i < b->nalways; i++) {
		if (b->always[i] == id) {
			b->always[i] = b->always[--b->nalways];
			return;
		}
	}
}

/* Which watch holds each descriptor number in the set: id + 1, 0 none. */
static int *owner_of(struct loop_backend *b, int fd)
{
	if ((size_t)fd >= b->owner_cap) {
		size_t cap = MAX(MAX(b->owner_cap * 2, (size_t)fd + 1), 64);
		b->owner = xrealloc(b->owner, cap * sizeof(*b->owner));
		memset(b->owner + b->owner_cap, 0,
		       (cap - b->owner_cap) * sizeof(*b->owner));
		b->owner_cap = cap;
	}
	return &b->owner[fd];
}

void loop_backend_update(struct loop *l, int id)
{
	struct loop_backend *b = l->b;
	struct loop_watch *w = &l->w[id];
	short want = w->events;
	if (w->detached) {
		w->kmask = want;
		return;
	}
	if (w->always) {
		if (want && !w->kmask)
			always_add(b, id);
		else if (!want && w->kmask)
			always_remove(b, id);
		w->kmask = want;
		return;
	}
	int *own = owner_of(b, w->fd);
	int op = !want      ? EPOLL_CTL_DEL
		 : w->kmask ? EPOLL_CTL_MOD
			    : EPOLL_CTL_ADD;
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = (want & POLLIN ? EPOLLIN : 0) |
		    (want & POLLOUT ? EPOLLOUT : 0) |
		    (want & POLLPRI ? EPOLLPRI : 0);
	ev.data.u64 = (uint64_t)w->gen << 32 | (uint32_t)id;
	int r = epoll_ctl(b->epfd, op, w->fd, &ev);
	int err = errno;
	w->kmask = want;
	if (op == EPOLL_CTL_DEL) {
		/* On failure the descriptor was closed before loop_del: the
		 * kernel dropped it with its last reference, or keeps it
		 * while a copy lives, its events then stale by generation. */
		*own = 0;
		b->nset--;
		return;
	}
	if (r == 0) {
		if (op == EPOLL_CTL_ADD && *own) {
			/* The number's last watch had its descriptor closed
			 * without loop_del: its entry went with the file.
			 * Its late loop_del must not remove this one, and
			 * what a copy of its file still reports is stale. */
			struct loop_watch *prev = &l->w[*own - 1];
			prev->detached = true;
			prev->gen++;
			b->nset--;
		}
		if (op == EPOLL_CTL_ADD)
			b->nset++;
		*own = id + 1;
		return;
	}
	if (op == EPOLL_CTL_ADD && (err == EPERM || err == EBADF)) {
		/* What poll(2) would say: a regular file is always ready, a
		 * closed descriptor always invalid (the read says EBADF). */
		w->always = err == EPERM ? (POLLIN | POLLOUT) : POLLNVAL;
		always_add(b, id);
		return;
	}
	die(op == EPOLL_CTL_ADD ? "ADD" : "MOD", w->fd, err);
}

static int pwait(struct loop_backend *b, int max,
		 const struct timespec *timeout)
{
	if (!b->no_pwait2) {
#if defined(HAVE_GLIBC_PWAIT2)
		int r = epoll_pwait2(b->epfd, b->ev, max, timeout, NULL);
#elif defined(SYS_epoll_pwait2)
		int r = (int)syscall(SYS_epoll_pwait2, b->epfd, b->ev, max,
				     timeout, NULL, 0);
#else
		int r = -1;
		errno = ENOSYS;
#endif
		/* EPERM: a seccomp filter that does not know the call. */
		if (r >= 0 || (errno != ENOSYS && errno != EPERM))
			return r;
		b->no_pwait2 = true;
	}
	return epoll_wait(b->epfd, b->ev, max, loop_timeout_ms(timeout));
}

size_t loop_backend_wait(struct loop *l, const struct timespec *timeout,
			 struct loop_fired **fired)
{
	struct loop_backend *b = l->b;
	size_t want = MIN(MAX(b->nset, 16), MAX_EVENTS);
	if (b->ev_cap < want) {
		b->ev_cap = want;
		b->ev = xrealloc(b->ev, b->ev_cap * sizeof(*b->ev));
	}
	if (b->fired_cap < b->ev_cap + b->nalways) {
		b->fired_cap = b->ev_cap + b->nalways;
		b->fired = xrealloc(b->fired, b->fired_cap * sizeof(*b->fired));
	}
	static const struct timespec zero = {0, 0};
	if (b->nalways)
		timeout = &zero;
	int r = pwait(b, (int)b->ev_cap, timeout);
	size_t n = 0;
	for (int i = 0; i < r; i++) {
		uint32_t e = b->ev[i].events;
		struct loop_fired *f = &b->fired[n++];
		f->id = (int)(uint32_t)b->ev[i].data.u64;
		f->gen = (uint32_t)(b->ev[i].data.u64 >> 32);
		f->revents = (short)((e & EPOLLIN ? POLLIN : 0) |
				     (e & EPOLLOUT ? POLLOUT : 0) |
				     (e & EPOLLPRI ? POLLPRI : 0) |
				     (e & EPOLLERR ? POLLERR : 0) |
				     (e & EPOLLHUP ? POLLHUP : 0));
	}
	for (size_t i = 0; i < b->nalways; i++) {
		const struct loop_watch *w = &l->w[b->always[i]];
		b->fired[n++] =
			(struct loop_fired){b->always[i], w->gen, w->always};
	}
	*fired = b->fired;
	return n;
}

#endif
