/* output.c - queued, batched writes to stdout and --failed. */
#define _GNU_SOURCE
#include "output.h"
#include "jsonscan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void output_init(struct output *o, int fd)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->saved_flags = -1;
	struct stat st;
	/* Only a pipe or socket may be made non-blocking: a terminal or
	 * file shares its flags with the shell that started spool. */
	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
			o->saved_flags = fl;
			o->pollable = true;
		}
	}
}

void output_release(struct output *o)
{
	if (o->saved_flags >= 0)
		(void)fcntl(o->fd, F_SETFL, o->saved_flags);
	buf_release(&o->b);
}

bool output_flush(struct output *o)
{
	while (buf_used(&o->b)) {
		if (o->broken || o->err) {
			buf_reset(&o->b);
			return true;
		}
		ssize_t r = xwrite(o->fd, buf_data(&o->b), buf_used(&o->b));
		if (r < 0) {
			if (errno == EAGAIN)
				return false;
			if (errno == EPIPE)
				o->broken = true;
			else
				o->err = errno;
			continue;
		}
		buf_consume(&o->b, (size_t)r);
		o->written += (uint64_t)r;
	}
	return true;
}

void output_drain(struct output *o)
{
	while (!output_flush(o)) {
		struct pollfd pfd = {o->fd, POLLOUT, 0};
		(void)poll(&pfd, 1, -1);
	}
}

void output_add_result(struct buf *dst, bool tag, bool raw_is_json,
		       uint64_t seq, const char *p, size_t n)
{
	if (LIKELY(!tag)) {
		buf_reserve(dst, n + 1);
		memcpy(dst->p + dst->len, p, n);
		dst->p[dst->len + n] = '\n';
		dst->len += n + 1;
		return;
	}
	buf_adds(dst, "{\"seq\":");
	buf_addu64(dst, seq);
	buf_adds(dst, ",\"result\":");
	struct json_error e;
	if (raw_is_json || json_check(p, n, &e)) {
		/* Trim surrounding whitespace; the envelope is one line. */
		while (n && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
			     p[n - 1] == '\r'))
			n--;
		buf_add(dst, p, n);
	} else {
		buf_add_json_string(dst, p, n);
	}
	buf_adds(dst, "}\n");
}

void output_add_error(struct buf *dst, uint64_t seq, const char *msg,
		      unsigned attempts, const char *worker)
{
	buf_adds(dst, "{\"seq\":");
	buf_addu64(dst, seq);
	buf_adds(dst, ",\"error\":{\"message\":");
	buf_add_json_string(dst, msg, strlen(msg));
	buf_adds(dst, ",\"attempts\":");
	buf_addu64(dst, attempts);
	buf_adds(dst, ",\"worker\":");
	if (worker)
		buf_add_json_string(dst, worker, strlen(worker));
	else
		buf_adds(dst, "null");
	buf_adds(dst, "}}\n");
}
