/* fuzz_linebuf.c - the line reader against a model.  The first three
 * bytes choose the line bound, final_partial, keep_tail and how the rest
 * is cut into reads; the rest goes through a pipe, one read per piece. */
#define _GNU_SOURCE
#include "linebuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_linebuf: check failed: %s\n",    \
				#c);                                           \
			abort();                                               \
		}                                                              \
	} while (0)

/* What must come out for one line of the stream. */
struct ev {
	size_t start, len; /* the line's bytes, '\n' and one '\r' cut */
	size_t raw;        /* its bytes with only the '\n' cut */
	char kind;         /* 'L' a line, 'T' too long */
};

static size_t model(const char *s, size_t n, size_t max, int final_partial,
		    struct ev *out)
{
	size_t k = 0, start = 0;
	while (start < n) {
		const char *nl = memchr(s + start, '\n', n - start);
		size_t raw = nl ? (size_t)(nl - s) - start : n - start;
		size_t len = raw;
		if (len && s[start + len - 1] == '\r')
			len--;
		/* A last CR does not count even before the '\n' arrives: it
		 * may be the first half of a CRLF, and the line must not be
		 * judged longer than it will be once the LF comes.  So a line
		 * of max bytes and a CR at the end of the input is pending
		 * (without final_partial), not too long. */
		struct ev e = {start, len, raw, len > max ? 'T' : 'L'};
		if (!nl && len <= max && !final_partial)
			break; /* stays pending */
		out[k++] = e;
		start += raw + 1;
	}
	return k;
}

static uint32_t rng;
static uint32_t rnd(uint32_t n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

struct run {
	const char *s;
	size_t n, max;
	const struct ev *want;
	size_t nwant, k;
	bool keep_tail;
	const struct ev
		*tail; /* keep_tail: the too-long line being handed out */
	size_t got;    /* how much of it so far */
};

/* keep_tail: the whole of a too-long line has come out.  Its last CR is
 * cut when the line was seen whole at once, and kept when it came in
 * pieces: either way it can be written out again as it was. */
static void tail_done(struct run *r, const struct ev *e)
{
	CHECK(r->got == e->raw || r->got == e->len);
	r->tail = NULL;
}

static void drain(struct run *r, struct linebuf *lb)
{
	const char *line;
	size_t len;
	enum linebuf_result res;
	while ((res = linebuf_next(lb, &line, &len)) != LB_NEED) {
		if (res == LB_MORE) {
			/* The next piece of the line, in order. */
			const struct ev *e = r->tail;
			CHECK(r->keep_tail && e);
			CHECK(r->got + len <= e->raw);
			CHECK(len == 0 ||
			      memcmp(line, r->s + e->start + r->got, len) == 0);
			r->got += len;
			if (!lb->skipping)
				tail_done(r, e);
			continue;
		}
		CHECK(r->tail == NULL);
		CHECK(r->k < r->nwant);
		const struct ev *e = &r->want[r->k++];
		if (res == LB_LINE) {
			CHECK(e->kind == 'L');
			CHECK(len <= r->max);
			CHECK(len == e->len &&
			      memcmp(line, r->s + e->start, len) == 0);
		} else {
			CHECK(res == LB_TOOLONG);
			CHECK(e->kind == 'T');
			CHECK(len > r->max);
			/* The bytes so far, from the start of the line. */
			CHECK(e->start + len <= r->n);
			CHECK(memcmp(line, r->s + e->start, len) == 0);
			if (r->keep_tail) {
				r->tail = e;
				r->got = len;
				if (!lb->skipping)
					tail_done(r, e);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t max = data[0] % 65;
	int final_partial = data[1] & 1;
	int piece = (data[1] >> 1) & 3; /* read sizes up to 1, 8, 64, 1024 */
	bool keep_tail = (data[1] >> 3) & 1;
	rng = data[2];
	const char *s = (const char *)data + 3;
	size_t n = size - 3;

	struct ev *want = malloc((n + 1) * sizeof(*want));
	CHECK(want);
	struct run r = {
		s, n,         max,  want, model(s, n, max, final_partial, want),
		0, keep_tail, NULL, 0};

	int fds[2];
	if (pipe(fds) != 0) {
		free(want);
		return 0;
	}
	struct linebuf lb;
	linebuf_init(&lb, max);
	lb.final_partial = final_partial != 0;
	lb.keep_tail = keep_tail;
	static const uint32_t most[] = {1, 8, 64, 1024};
	size_t off = 0;
	while (off < n) {
		size_t k = 1 + rnd(most[piece]);
		if (k > n - off)
			k = n - off;
		CHECK(write_all(fds[1], s + off, k) == 0);
		CHECK(linebuf_fill(&lb, fds[0], 0) == (ssize_t)k);
		off += k;
		drain(&r, &lb);
	}
	close(fds[1]);
	CHECK(linebuf_fill(&lb, fds[0], 0) == 0 && lb.eof);
	drain(&r, &lb);
	CHECK(r.k == r.nwant);
	CHECK(r.tail == NULL); /* the end of the input ends a line */
	/* Without final_partial, an unterminated last line stays pending. */
	const char *last = n ? memrchr(s, '\n', n) : NULL;
	size_t tail = last ? n - (size_t)(last - s) - 1 : n;
	size_t counted = tail && s[n - 1] == '\r' ? tail - 1 : tail;
	if (!final_partial && counted <= max)
		CHECK(linebuf_pending(&lb) == tail);
	close(fds[0]);
	linebuf_release(&lb);
	free(want);
	return 0;
}
