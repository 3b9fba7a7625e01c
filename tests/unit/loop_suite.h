/* loop_suite.h - the event loop's tests over real pipes, compiled twice:
 * by test_loop.c against the backend this build waits with, and by
 * test_loop_poll.c against poll(2).  (A header, so that make rebuilds
 * both when it changes.)
 *
 * No test sleeps: every wait either has a ready descriptor or a timeout
 * of 0, except the sub-millisecond timeouts, which check only that the
 * wait did not end before its deadline.  alarm() turns a wait that would
 * hang (a descriptor the backend lost) into a failure. */
#ifndef SPOOL_LOOP_SUITE_H
#define SPOOL_LOOP_SUITE_H

#include "loop.h"
#include "loop_backend.h"
#include "testhelp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#if !defined(WANT_BACKEND) && defined(LOOP_BACKEND_EPOLL)
#define WANT_BACKEND "epoll"
#endif

struct probe {
	int calls, fd, revents;
	struct loop *l;
	int other; /* a watch the callback acts on */
	int action;
};

enum { ACT_NONE, ACT_DEL_OTHER, ACT_UNSET_OTHER, ACT_OTHER_POLLOUT };

static void on_probe(void *ctx, int fd, int revents)
{
	struct probe *p = ctx;
	p->calls++;
	p->fd = fd;
	p->revents = revents;
	if (p->action == ACT_DEL_OTHER)
		loop_del(p->l, p->other);
	else if (p->action == ACT_UNSET_OTHER)
		loop_set(p->l, p->other, 0);
	else if (p->action == ACT_OTHER_POLLOUT)
		loop_set(p->l, p->other, POLLOUT);
}

static void xpipe(int fds[2])
{
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
		perror("pipe2");
		exit(2);
	}
}

static void put(int fd)
{
	if (write(fd, "x", 1) != 1) {
		perror("write");
		exit(2);
	}
}

static void drain(int fd)
{
	char b[4096];
	while (read(fd, b, sizeof(b)) > 0)
		;
}

static void test_read_write(void)
{
	struct loop l;
	loop_init(&l);
	int p[2];
	xpipe(p);
	struct probe r = {0}, w = {0};
	int rid = loop_add(&l, p[0], POLLIN, on_probe, &r);
	TEST(rid >= 0, "loop_add gives an id");
	TEST(loop_wait(&l, 0, NULL) == 0 && r.calls == 0,
	     "an empty pipe is not readable (timeout 0)");
	put(p[1]);
	double now = 0;
	TEST(loop_wait(&l, -1, &now) == 1 && r.calls == 1,
	     "a pipe with data wakes a wait without timeout");
	TEST(r.fd == p[0] && (r.revents & POLLIN), "callback gets fd, POLLIN");
	TEST(now > 0, "the wait sets *now");
	TEST(loop_wait(&l, 0, NULL) == 1 && r.calls == 2,
	     "unread data is reported again (level-triggered)");
	drain(p[0]);
	TEST(loop_wait(&l, 0, NULL) == 0, "drained: quiet again");

	int wid = loop_add(&l, p[1], POLLOUT, on_probe, &w);
	TEST(loop_wait(&l, 0, NULL) == 1 && w.calls == 1 &&
		     (w.revents & POLLOUT) && !(w.revents & POLLIN),
	     "an empty pipe's write end is writable, reported as POLLOUT");
	while (write(p[1], "xxxxxxxxxxxxxxxx", 16) > 0)
		;
	w.calls = r.calls = 0;
	loop_set(&l, rid, 0);
	TEST(loop_wait(&l, 0, NULL) == 0 && w.calls == 0,
	     "a full pipe is not writable");
	drain(p[0]);
	TEST(loop_wait(&l, 0, NULL) == 1 && w.calls == 1,
	     "writable again once drained");
	loop_set(&l, wid, POLLOUT | POLLIN);
	loop_set(&l, rid, POLLIN);
	put(p[1]);
	w.calls = r.calls = 0;
	TEST(loop_wait(&l, 0, NULL) == 2 && w.calls == 1 && r.calls == 1,
	     "both ends ready: both callbacks, once each");
	TEST(!(w.revents & POLLIN), "POLLIN is not invented for a write end");
	loop_release(&l);
	close(p[0]);
	close(p[1]);
}

static void test_events_zero(void)
{
	struct loop l;
	loop_init(&l);
	int p[2];
	xpipe(p);
	put(p[1]);
	struct probe r = {0};
	uint64_t changes = l.changes;
	int id = loop_add(&l, p[0], 0, on_probe, &r);
	TEST(l.changes == changes, "adding with events 0 tells the kernel "
				   "nothing");
	TEST(loop_wait(&l, 0, NULL) == 0 && r.calls == 0,
	     "events 0: registered, not polled");
	loop_set(&l, id, POLLIN);
	TEST(loop_wait(&l, 0, NULL) == 1 && r.calls == 1, "set POLLIN: called");
	changes = l.changes;
	for (int i = 0; i < 1000; i++)
		loop_set(&l, id, POLLIN);
	TEST(l.changes == changes,
	     "setting the same events again costs no system call");
	loop_set(&l, id, 0);
	TEST(l.changes == changes + 1, "a real change is passed on");
	loop_set(&l, id, 0);
	TEST(l.changes == changes + 1, "and only once");
	TEST(loop_wait(&l, 0, NULL) == 0 && r.calls == 1,
	     "set back to 0: not called");
	loop_release(&l);
	close(p[0]);
	close(p[1]);
}

static void test_hangup(void)
{
	struct loop l;
	loop_init(&l);
	int p[2], q[2];
	xpipe(p);
	xpipe(q);
	struct probe r = {0}, w = {0}, idle_r = {0}, idle_w = {0};
	loop_add(&l, p[0], POLLIN, on_probe, &r);
	close(p[1]);
	TEST(loop_wait(&l, 0, NULL) == 1 && r.calls == 1 &&
		     (r.revents & POLLIN),
	     "a read end whose writer closed is reported readable");
	char c;
	TEST(read(p[0], &c, 1) == 0, "and the read sees end of file");

	loop_add(&l, q[1], POLLOUT, on_probe, &w);
	close(q[0]);
	TEST(loop_wait(&l, 0, NULL) >= 1 && w.calls == 1 &&
		     (w.revents & POLLOUT) && !(w.revents & POLLIN),
	     "a write end whose reader closed is reported writable only");
	TEST(write(q[1], "x", 1) < 0 && errno == EPIPE,
	     "and the write sees EPIPE");
	loop_release(&l);
	close(p[0]);
	close(q[1]);

	/* A dead worker's idle pipes: nothing asked, nothing reported. */
	loop_init(&l);
	xpipe(p);
	xpipe(q);
	int ir = loop_add(&l, p[0], POLLIN, on_probe, &idle_r);
	int iw = loop_add(&l, q[1], POLLOUT, on_probe, &idle_w);
	loop_set(&l, ir, 0);
	loop_set(&l, iw, 0);
	close(p[1]);
	close(q[0]);
	TEST(loop_wait(&l, 0, NULL) == 0 && idle_r.calls == 0 &&
		     idle_w.calls == 0,
	     "hang-up and error are not reported to watches with events 0");
	/* Nor do they wake the wait: the kernel reports hang-up whatever
	 * the mask, so a watch with events 0 must not be in its set. */
	double before = mono_now(), now = 0;
	int ran = loop_wait(&l, 0.002, &now);
	TEST(ran == 0 && now - before >= 0.002,
	     "a hung-up pipe with events 0 does not cut a 2 ms wait short "
	     "(%.3f ms)",
	     (now - before) * 1e3);
	loop_set(&l, ir, POLLIN);
	TEST(loop_wait(&l, 0, NULL) == 1 && idle_r.calls == 1 &&
		     (idle_r.revents & POLLIN),
	     "asked again, the hang-up is reported as readable");
	loop_release(&l);
	close(p[0]);
	close(q[1]);
}

/* Two ready watches whose callbacks act on each other: whichever runs
 * first, the other must not run in the same turn.  Ready with data, or
 * with a hang-up (reported whatever the watch asks for, so one changed
 * to POLLOUT sees it too). */
static void test_removed_in_turn(void)
{
	const char *what[] = {"removed", "set to events 0",
			      "changed to POLLOUT on a read end"};
	int acts[] = {ACT_DEL_OTHER, ACT_UNSET_OTHER, ACT_OTHER_POLLOUT};
	for (int k = 0; k < 5; k++) {
		bool hup = k >= 3;
		struct loop l;
		loop_init(&l);
		int a[2], b[2];
		xpipe(a);
		xpipe(b);
		if (hup) {
			close(a[1]);
			close(b[1]);
		} else {
			put(a[1]);
			put(b[1]);
		}
		struct probe pa = {0}, pb = {0};
		pa.l = pb.l = &l;
		pa.action = pb.action = acts[k % 3];
		int ia = loop_add(&l, a[0], POLLIN, on_probe, &pa);
		int ib = loop_add(&l, b[0], POLLIN, on_probe, &pb);
		pa.other = ib;
		pb.other = ia;
		int ran = loop_wait(&l, 0, NULL);
		TEST(ran == 1 && pa.calls + pb.calls == 1,
		     "a watch %s by an earlier callback is not called in "
		     "that turn (%s)",
		     what[k % 3], hup ? "hang-up" : "data");
		loop_release(&l);
		close(a[0]);
		close(b[0]);
		if (!hup) {
			close(a[1]);
			close(b[1]);
		}
	}
}

struct swap {
	struct loop *l;
	int victim; /* the watch to remove */
	int *victim_fds;
	int fresh[2];
	int fresh_id;
	struct probe fresh_probe;
	int calls;
};

/* Remove the victim, close its pipe, open a new one (the same numbers
 * come back) and watch it: all in one callback. */
static void on_swap(void *ctx, int fd, int revents)
{
	struct swap *s = ctx;
	(void)fd;
	(void)revents;
	if (s->calls++)
		return;
	loop_del(s->l, s->victim);
	close(s->victim_fds[0]);
	close(s->victim_fds[1]);
	xpipe(s->fresh);
	put(s->fresh[1]);
	s->fresh_id =
		loop_add(s->l, s->fresh[0], POLLIN, on_probe, &s->fresh_probe);
}

static void test_fd_reuse(void)
{
	struct loop l;
	loop_init(&l);
	int a[2], b[2];
	xpipe(a);
	xpipe(b);
	put(a[1]);
	struct swap s = {0};
	struct probe pb = {0};
	s.l = &l;
	s.victim_fds = b;
	loop_add(&l, a[0], POLLIN, on_swap, &s);
	s.victim = loop_add(&l, b[0], POLLIN, on_probe, &pb);
	int old_rd = b[0];
	TEST(loop_wait(&l, 0, NULL) == 1 && s.calls == 1, "the swap ran");
	TEST(s.fresh[0] == old_rd,
	     "the new pipe got the removed descriptor's number");
	TEST(s.fresh_id >= 0 && s.fresh_id != s.victim,
	     "a removed id is not handed out again in the same turn");
	TEST(s.fresh_probe.calls == 0 && pb.calls == 0,
	     "a watch added in a callback waits for the next turn");
	drain(a[0]);
	TEST(loop_wait(&l, 0, NULL) == 1 && s.fresh_probe.calls == 1 &&
		     pb.calls == 0,
	     "the reused descriptor number, added again in the same turn, "
	     "is watched");
	int again = loop_add(&l, a[1], 0, on_probe, &pb);
	TEST(again == s.victim,
	     "after the next wait the removed id is reused (free list)");

	/* The same descriptor, still open, removed and added back. */
	struct probe pc = {0};
	loop_del(&l, s.fresh_id);
	int back = loop_add(&l, s.fresh[0], POLLIN, on_probe, &pc);
	TEST(back >= 0 && loop_wait(&l, 0, NULL) == 1 && pc.calls == 1 &&
		     s.fresh_probe.calls == 1,
	     "a descriptor removed and added again in the same turn is "
	     "reported to the new watch only");
	loop_release(&l);
	close(a[0]);
	close(a[1]);
	close(s.fresh[0]);
	close(s.fresh[1]);
}

/* A descriptor closed without loop_del while a copy keeps its file open
 * (a child between fork and exec): epoll keeps reporting the old entry.
 * Its generation tells it from the watch that now has the same id. */
static void test_stale_event(void)
{
	struct loop l;
	loop_init(&l);
	int p[2], q[2];
	xpipe(p);
	int copy = dup(p[0]);
	struct probe old = {0}, fresh = {0};
	int id = loop_add(&l, p[0], POLLIN, on_probe, &old);
	close(p[0]); /* the rule broken on purpose */
	loop_del(&l, id);
	TEST(loop_wait(&l, 0, NULL) == 0, "nothing ready yet");
	xpipe(q);
	int id2 = loop_add(&l, q[0], POLLIN, on_probe, &fresh);
	TEST(id2 == id, "the new watch took the old id");
	put(p[1]);
	int ran = loop_wait(&l, 0, NULL);
	TEST(ran == 0 && fresh.calls == 0 && old.calls == 0,
	     "an event left over for a removed watch is not delivered to "
	     "the watch that took its id");
	loop_release(&l);
	close(copy);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* The rule broken the other way: closed, the number reused and watched
 * by someone else, and only then loop_del.  The new watch must survive
 * the late removal (an epoll entry is removed by number). */
static void test_late_del(void)
{
	struct loop l;
	loop_init(&l);
	int p[2], q[2];
	xpipe(p);
	struct probe old = {0}, fresh = {0};
	int id = loop_add(&l, p[0], POLLIN, on_probe, &old);
	int num = p[0];
	close(p[0]);
	close(p[1]);
	xpipe(q);
	int id2 = loop_add(&l, q[0], POLLIN, on_probe, &fresh);
	loop_del(&l, id);
	put(q[1]);
	int ran = loop_wait(&l, 0, NULL);
	TEST(q[0] == num && ran == 1 && fresh.calls == 1 && old.calls == 0,
	     "a late loop_del of a closed descriptor leaves the watch that "
	     "reused its number alone");
	loop_set(&l, id2, 0);
	loop_set(&l, id2, POLLIN);
	TEST(loop_wait(&l, 0, NULL) == 1 && fresh.calls == 2,
	     "and that watch still changes as usual");
	loop_release(&l);
	close(q[0]);
	close(q[1]);
}

struct adder {
	struct loop *l;
	int fd;
	int added;
	struct probe probe;
	int calls;
	int self;
};

static void on_adder(void *ctx, int fd, int revents)
{
	struct adder *a = ctx;
	(void)fd;
	(void)revents;
	if (a->calls++ == 0) {
		a->added = loop_add(a->l, a->fd, POLLIN, on_probe, &a->probe);
		loop_set(a->l, a->self, 0);
	}
}

static void test_add_in_callback(void)
{
	struct loop l;
	loop_init(&l);
	int a[2], b[2];
	xpipe(a);
	xpipe(b);
	put(a[1]);
	put(b[1]);
	struct adder ad = {0};
	ad.l = &l;
	ad.fd = b[0];
	ad.self = loop_add(&l, a[0], POLLIN, on_adder, &ad);
	TEST(loop_wait(&l, 0, NULL) == 1 && ad.calls == 1 &&
		     ad.probe.calls == 0,
	     "a watch added by a callback is not called in that turn");
	TEST(loop_wait(&l, 0, NULL) == 1 && ad.calls == 1 &&
		     ad.probe.calls == 1,
	     "it is the next turn; the callback that set itself to 0 is not");
	loop_del(&l, ad.added);
	loop_del(&l, ad.self);
	loop_del(&l, ad.self);
	loop_del(&l, -1);
	loop_set(&l, ad.self, POLLIN);
	TEST(loop_wait(&l, 0, NULL) == 0 && ad.calls == 1,
	     "removing twice, removing -1 and setting a removed id are "
	     "harmless");
	TEST(loop_add(&l, -1, POLLIN, on_probe, &ad.probe) == -1,
	     "no watch for fd -1");

	/* Ids come back from the free list, the table does not grow. */
	size_t n = l.n;
	int ids[64];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 64; i++)
			ids[i] = loop_add(&l, a[0], 0, on_probe, &ad.probe);
		for (int i = 0; i < 64; i++)
			loop_del(&l, ids[i]);
		loop_wait(&l, 0, NULL);
	}
	TEST(l.n <= n + 64,
	     "64 watches added and removed 3 times: the table grew by %zu",
	     l.n - n);
	loop_release(&l);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* poll(2) calls a regular file always ready; epoll refuses it. */
static void test_files(void)
{
	struct loop l;
	loop_init(&l);
	char path[] = "/tmp/spool-test-loop-XXXXXX";
	int f = mkstemp(path);
	unlink(path);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct probe pf = {0}, pn = {0};
	int idf = loop_add(&l, f, POLLIN, on_probe, &pf);
	int idn = loop_add(&l, null, POLLOUT, on_probe, &pn);
	TEST(f >= 0 && null >= 0, "opened a file and /dev/null");
	TEST(loop_wait(&l, -1, NULL) == 2 && (pf.revents & POLLIN) &&
		     (pn.revents & POLLOUT),
	     "a regular file is readable, /dev/null writable, at once");
	loop_set(&l, idf, 0);
	loop_set(&l, idn, 0);
	TEST(loop_wait(&l, 0, NULL) == 0, "unless not asked");
	loop_set(&l, idf, POLLIN | POLLOUT);
	TEST(loop_wait(&l, 0, NULL) == 1 &&
		     (pf.revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT),
	     "asked again: readable and writable");
	loop_del(&l, idf);
	loop_del(&l, idn);
	TEST(loop_wait(&l, 0, NULL) == 0 && pf.calls == 2 && pn.calls == 1,
	     "removed: not called");

	/* A closed descriptor: POLLNVAL, passed on as readable. */
	int gone = dup(f);
	close(gone);
	struct probe pg = {0};
	int idg = loop_add(&l, gone, POLLIN, on_probe, &pg);
	TEST(loop_wait(&l, 0, NULL) == 1 && (pg.revents & POLLIN),
	     "a descriptor that is not open is reported readable (the read "
	     "says why)");
	loop_del(&l, idg);
	loop_release(&l);
	close(f);
	close(null);
}

static void test_timeouts(void)
{
	struct loop l;
	loop_init(&l);
	TEST(loop_wait(&l, 0, NULL) == 0, "nothing watched, timeout 0");
	/* A wait that ends before its deadline makes the caller spin with
	 * timeout 0 until it is due: check it never ends early. */
	double waits[] = {0.0003, 0.0015, 0.004};
	for (size_t i = 0; i < ARRAY_SIZE(waits); i++) {
		double before = mono_now(), now = 0;
		int ran = loop_wait(&l, waits[i], &now);
		TEST(ran == 0 && now - before >= waits[i],
		     "a %.1f ms timeout does not end early (%.3f ms)",
		     waits[i] * 1e3, (now - before) * 1e3);
	}
	struct {
		time_t s;
		long ns;
		int ms;
	} cases[] = {{0, 0, 0},          {0, 1, 1},
		     {0, 300000, 1},     {0, 1000000, 1},
		     {0, 1000001, 2},    {1, 500000000, 1500},
		     {3600, 0, 3600000}, {(time_t)INT_MAX, 999999999, INT_MAX}};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct timespec ts = {cases[i].s, cases[i].ns};
		int ms = loop_timeout_ms(&ts);
		TEST(ms == cases[i].ms,
		     "timeout %lds %ldns is %d ms when rounded up (got %d)",
		     (long)cases[i].s, cases[i].ns, cases[i].ms, ms);
	}
	TEST(loop_timeout_ms(NULL) == -1, "no timeout: -1 (forever)");
	loop_release(&l);
}

/* 2000 idle pipes and one ready: only its callback runs. */
static void test_many(void)
{
	enum { N = 2000 };
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * N + 64 && rl.rlim_max >= 2 * N + 64) {
		rl.rlim_cur = 2 * N + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	int n = N;
	if (rl.rlim_cur < 2 * N + 64) {
		n = (int)(rl.rlim_cur - 64) / 2;
		printf("# only %d pipes: RLIMIT_NOFILE is %lu\n", n,
		       (unsigned long)rl.rlim_cur);
	}
	static int fds[N][2];
	static struct probe pr[N];
	struct loop l;
	loop_init(&l);
	for (int i = 0; i < n; i++) {
		xpipe(fds[i]);
		memset(&pr[i], 0, sizeof(pr[i]));
		loop_add(&l, fds[i][0], POLLIN, on_probe, &pr[i]);
	}
	TEST(loop_wait(&l, 0, NULL) == 0, "%d idle pipes: nothing to do", n);
	int pick[] = {0, n - 1, n / 3, 777 % n};
	bool only = true;
	for (size_t k = 0; k < ARRAY_SIZE(pick); k++) {
		put(fds[pick[k]][1]);
		int ran = loop_wait(&l, -1, NULL);
		for (int i = 0; i < n; i++)
			if (pr[i].calls != (i == pick[k]))
				only = false;
		if (ran != 1)
			only = false;
		drain(fds[pick[k]][0]);
		pr[pick[k]].calls = 0;
	}
	TEST(only, "one ready among %d: only its callback runs", n);
	loop_release(&l);
	for (int i = 0; i < n; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

int main(void)
{
	/* A lost descriptor would block a wait forever: fail instead. */
	alarm(60);
	signal(SIGPIPE, SIG_IGN);
	printf("# backend: %s\n", loop_backend_name());
#ifdef WANT_BACKEND
	TEST(strcmp(loop_backend_name(), WANT_BACKEND) == 0,
	     "this build tests the %s backend", WANT_BACKEND);
#endif
	test_read_write();
	test_events_zero();
	test_hangup();
	test_removed_in_turn();
	test_fd_reuse();
	test_stale_event();
	test_late_del();
	test_add_in_callback();
	test_files();
	test_timeouts();
	test_many();
	return test_done();
}

#endif
