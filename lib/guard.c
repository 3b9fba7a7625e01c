/* guard.c - the guard process: see guard.h. */
#define _GNU_SOURCE
#include "guard.h"
#include "log.h"
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* After SIGTERM, what is still there gets SIGKILL this much later. */
#define GUARD_GRACE_MS 1000
#define GUARD_POLL_MS 20

/* The guard keeps its list in memory of its own (mmap), calling nothing
 * that is unsafe after a fork: spool may be linked into a program with
 * threads. */
struct entry {
	pid_t pid;
	char op;
};

struct list {
	struct entry *e;
	size_t n, cap;
};

static void list_add(struct list *l, pid_t pid, char op)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		void *m = mmap(NULL, cap * sizeof(struct entry),
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return;
		if (l->n)
			memcpy(m, l->e, l->n * sizeof(struct entry));
		if (l->e)
			munmap(l->e, l->cap * sizeof(struct entry));
		l->e = m;
		l->cap = cap;
	}
	l->e[l->n].pid = pid;
	l->e[l->n].op = op;
	l->n++;
}

static void list_del(struct list *l, pid_t pid)
{
	for (size_t i = l->n; i-- > 0;)
		if (l->e[i].pid == pid) {
			l->e[i] = l->e[--l->n];
			return;
		}
}

static int signal_entry(const struct entry *e, int sig)
{
	return kill(e->op == '+' ? -e->pid : e->pid, sig);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* spool is gone: end what it registered, politely first. */
static NORETURN void guard_end(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		(void)signal_entry(&l->e[i], SIGTERM);
	for (long waited = 0; l->n && waited < GUARD_GRACE_MS;
	     waited += GUARD_POLL_MS) {
		sleep_ms(GUARD_POLL_MS);
		for (size_t i = l->n; i-- > 0;)
			if (signal_entry(&l->e[i], 0) != 0 && errno == ESRCH)
				l->e[i] = l->e[--l->n];
	}
	for (size_t i = 0; i < l->n; i++)
		(void)signal_entry(&l->e[i], SIGKILL);
	_exit(0);
}

static NORETURN void guard_main(int rfd)
{
	/* Out of spool's process group, so a signal to that group (a
	 * terminal's, GNU timeout's, kill -9 -PGID) leaves it to do its
	 * job; deaf to the signals such senders use for spool. */
	(void)setpgid(0, 0);
	struct sigaction ign = {0};
	ign.sa_handler = SIG_IGN;
	(void)sigaction(SIGINT, &ign, NULL);
	(void)sigaction(SIGHUP, &ign, NULL);
	(void)sigaction(SIGPIPE, &ign, NULL);
	(void)sigaction(SIGQUIT, &ign, NULL);
	(void)sigaction(SIGTERM, &ign, NULL);
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)prctl(PR_SET_NAME, "spool-guard", 0, 0, 0);
	/* Hold nothing of spool's: a pipe end kept open here would keep a
	 * reader of spool's stdout (or a worker) waiting for an EOF. */
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++)
		if (null >= 0 && null != fd)
			(void)dup2(null, fd);
	if (rfd != 3 && dup2(rfd, 3) == 3)
		rfd = 3;
	if (syscall(SYS_close_range, (unsigned)rfd + 1, ~0U, 0) != 0)
		for (int fd = rfd + 1; fd < 65536; fd++)
			(void)close(fd);
	if (null > 2 && null != rfd)
		(void)close(null);

	struct list l = {NULL, 0, 0};
	char buf[sizeof(struct guard_msg) * 256];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(rfd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			guard_end(&l);
		have += (size_t)r;
		size_t off = 0;
		while (have - off >= sizeof(struct guard_msg)) {
			struct guard_msg m;
			memcpy(&m, buf + off, sizeof(m));
			off += sizeof(m);
			if (m.op == '-')
				list_del(&l, m.pid);
			else
				list_add(&l, m.pid, m.op);
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
}

int guard_start(struct pool *p)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		log_error("cannot make a pipe for the guard: %s",
			  strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("cannot start the guard process: %s",
			  strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[1]);
		guard_main(fds[0]);
	}
	(void)setpgid(pid, pid);
	close(fds[0]);
	p->guard_fd = fds[1];
	p->guard_pid = pid;
	return 0;
}

void guard_tell_fd(int fd, char op, pid_t pid)
{
	struct guard_msg m;
	memset(&m, 0, sizeof(m));
	m.op = op;
	m.pid = pid;
	ssize_t r;
	do
		r = write(fd, &m, sizeof(m));
	while (r < 0 && errno == EINTR);
}

void guard_tell(struct pool *p, char op, pid_t pid)
{
	if (p->guard_fd >= 0)
		guard_tell_fd(p->guard_fd, op, pid);
}

void guard_stop(struct pool *p)
{
	if (p->guard_fd >= 0) {
		close(p->guard_fd);
		p->guard_fd = -1;
	}
	if (p->guard_pid > 0) {
		while (waitpid(p->guard_pid, NULL, 0) < 0 && errno == EINTR)
			;
		p->guard_pid = 0;
	}
}

void guard_died(struct pool *p)
{
	log_error("the guard process (pid %d) died; starting another (it "
		  "ends the workers if spool is killed)",
		  (int)p->guard_pid);
	p->guard_pid = 0;
	if (p->guard_fd >= 0)
		close(p->guard_fd);
	p->guard_fd = -1;
	if (guard_start(p) != 0)
		return;
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i]->pid > 0)
			guard_tell(p, '+', p->w[i]->pid);
}
