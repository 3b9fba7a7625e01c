/* util.h - small helpers shared by every part of the engine: memory,
 * growable byte buffers, clocks and file descriptors. */
#ifndef SPOOL_UTIL_H
#define SPOOL_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* The longest line spool accepts anywhere: a task, an answer, a config. */
#define SPOOL_LINE_MAX ((size_t)64 << 20)

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#define NOINLINE __attribute__((noinline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#define NOINLINE
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* Allocation that cannot fail: out of memory is fatal (exit 1). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* n must be a multiple of align. */
void *xaligned_alloc(size_t align, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/*
 * A growable byte buffer.  Bytes live in p[off..len); off advances as a
 * writer consumes from the front, and the buffer rewinds when it empties,
 * so an output queue never moves bytes it has not yet written.
 */
struct buf {
	char *p;
	size_t off, len, cap;
};
#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0, 0                                                  \
	}

static inline size_t buf_used(const struct buf *b)
{
	return b->len - b->off;
}
static inline const char *buf_data(const struct buf *b)
{
	return b->p + b->off;
}
void buf_grow(struct buf *b, size_t more);
static inline void buf_reserve(struct buf *b, size_t more)
{
	if (UNLIKELY(b->cap - b->len < more))
		buf_grow(b, more);
}
static inline void buf_add(struct buf *b, const void *data, size_t n)
{
	if (!n)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->len, data, n);
	b->len += n;
}
static inline void buf_addc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = c;
}
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_addu64(struct buf *b, uint64_t v);
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Forget the contents and give memory back if a huge line grew it. */
void buf_shrink(struct buf *b, size_t keep);
void buf_release(struct buf *b);

/* Length of the valid UTF-8 sequence at s[i] (a byte >= 0x80), or 0. */
size_t utf8_seq_len(const unsigned char *s, size_t n, size_t i);

/* Append s as a JSON string literal (quotes and escapes).  Bytes that are
 * not UTF-8 become U+FFFD, so the result is always valid JSON. */
void buf_add_json_string(struct buf *b, const char *s, size_t n);

/* Seconds on the monotonic clock, and on the wall clock. */
double mono_now(void);
/* The earlier of two deadlines, where 0 (or less) is none. */
static inline double deadline_min(double a, double b)
{
	if (b <= 0)
		return a;
	return a <= 0 || b < a ? b : a;
}
double wall_now(void);

int fd_set_nonblock(int fd, bool on);
/* read/write that retry on EINTR. */
ssize_t xread(int fd, void *p, size_t n);
ssize_t xwrite(int fd, const void *p, size_t n);
/* Write everything, blocking as needed; -1 on error. */
int write_all(int fd, const void *p, size_t n);

/* Parse a decimal duration in seconds ("2", "0.5"); -1 when invalid. */
double parse_seconds(const char *s);
/* Parse a size in bytes: "65536", "512K", "64M", "1G" (powers of 1024);
 * -1 when invalid. */
long parse_size(const char *s);
/* Parse a non-negative integer in [min, max]; false when invalid. */
bool parse_long(const char *s, long min, long max, long *out);

/* Signal name without the SIG prefix, e.g. "KILL". */
const char *signal_name(int sig);

/* Format a duration for people: "0.12s", "3.4s", "2m05s". */
void buf_add_duration(struct buf *b, double s);

#endif
