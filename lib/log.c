/* log.c - spool's stderr. */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum log_level level = LOG_NORMAL;
static struct log_status status;

void log_set_level(enum log_level l)
{
	level = l;
}
enum log_level log_get_level(void)
{
	return level;
}

void log_set_status(const struct log_status *st)
{
	if (st)
		status = *st;
	else
		memset(&status, 0, sizeof(status));
}

/* stderr as a pipe nobody reads must not stop spool (it could not even
 * see a signal): it is made non-blocking, what it cannot take waits in a
 * bounded queue written from the loop, and past the bound messages are
 * counted and the count said once stderr takes writes again. */
#define LOG_QUEUE_MAX ((size_t)1 << 20)
static struct buf pending;
static unsigned long long dropped;
static int saved_flags = -1;

void log_nonblocking(void)
{
	struct stat st;
	if (saved_flags >= 0 || fstat(2, &st) != 0 ||
	    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	int fl = fcntl(2, F_GETFL);
	if (fl >= 0 && fcntl(2, F_SETFL, fl | O_NONBLOCK) == 0)
		saved_flags = fl;
}

static void put(const char *s, size_t n)
{
	if (saved_flags < 0) {
		(void)write_all(2, s, n);
		return;
	}
	if (!buf_used(&pending)) {
		ssize_t r = xwrite(2, s, n);
		if (r < 0 && errno != EAGAIN)
			return; /* nowhere to say it */
		if (r > 0) {
			s += r;
			n -= (size_t)r;
		}
		if (!n)
			return;
	}
	if (buf_used(&pending) + n > LOG_QUEUE_MAX) {
		dropped++;
		return;
	}
	buf_add(&pending, s, n);
}

bool log_pending(void)
{
	return buf_used(&pending) > 0;
}

void log_flush(void)
{
	while (buf_used(&pending)) {
		ssize_t r = xwrite(2, buf_data(&pending), buf_used(&pending));
		if (r < 0) {
			if (errno != EAGAIN)
				buf_reset(&pending);
			return;
		}
		buf_consume(&pending, (size_t)r);
	}
	if (dropped) {
		char msg[128];
		int k = snprintf(msg, sizeof(msg),
				 "spool: %llu messages were dropped (stderr "
				 "was not being read)\n",
				 dropped);
		dropped = 0;
		put(msg, (size_t)k);
	}
}

void log_restore(double until)
{
	if (saved_flags < 0)
		return;
	while (log_pending() && mono_now() < until) {
		struct pollfd pfd = {2, POLLOUT, 0};
		int ms = (int)((until - mono_now()) * 1000) + 1;
		(void)poll(&pfd, 1, ms > 0 ? ms : 0);
		log_flush();
	}
	buf_release(&pending);
	(void)fcntl(2, F_SETFL, saved_flags);
	saved_flags = -1;
}

void log_write(const char *s, size_t n)
{
	if (status.erase)
		status.erase(status.ctx);
	put(s, n);
	if (status.redraw)
		status.redraw(status.ctx);
}

static void vlog(const char *fmt, va_list ap)
{
	char stackbuf[1024];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(stackbuf + 7, sizeof(stackbuf) - 8, fmt, ap);
	memcpy(stackbuf, "spool: ", 7);
	if (n >= 0 && (size_t)n < sizeof(stackbuf) - 8) {
		stackbuf[7 + n] = '\n';
		log_write(stackbuf, 8 + (size_t)n);
	} else if (n >= 0) {
		struct buf b = BUF_INIT;
		buf_reserve(&b, (size_t)n + 9);
		memcpy(b.p, "spool: ", 7);
		vsnprintf(b.p + 7, (size_t)n + 1, fmt, ap2);
		b.p[7 + n] = '\n';
		log_write(b.p, 8 + (size_t)n);
		buf_release(&b);
	}
	va_end(ap2);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (level < LOG_NORMAL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	if (level < LOG_VERBOSE)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_worker_line(const char *label, const char *line, size_t n)
{
	char stackbuf[512];
	size_t ll = strlen(label);
	size_t total = ll + 3 + n + 1;
	char *p = total <= sizeof(stackbuf) ? stackbuf : xmalloc(total);
	p[0] = '[';
	memcpy(p + 1, label, ll);
	p[ll + 1] = ']';
	p[ll + 2] = ' ';
	memcpy(p + ll + 3, line, n);
	p[total - 1] = '\n';
	log_write(p, total);
	if (p != stackbuf)
		free(p);
}

void log_escape(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		if (c >= 0x80) {
			size_t k = utf8_seq_len(u, n, i);
			if (k) {
				buf_add(b, s + i, k);
				i += k;
				continue;
			}
		} else if (c >= 0x20 && c != 0x7f) {
			buf_addc(b, (char)c);
			i++;
			continue;
		}
		if (c == '\t')
			buf_adds(b, "\\t");
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\r')
			buf_adds(b, "\\r");
		else
			buf_addf(b, "\\x%02x", c);
		i++;
	}
	buf_reserve(b, 1);
	b->p[b->len] = '\0';
}
