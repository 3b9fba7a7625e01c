/* log.h - spool's own messages on stderr ("spool: ..."), and the worker
 * stderr lines it passes through ("[name#i] ...").  Every message is one
 * write(2) so lines from different sources never mix mid-line. */
#ifndef SPOOL_LOG_H
#define SPOOL_LOG_H

#include "util.h"

enum log_level {
	LOG_QUIET = 0,   /* errors only */
	LOG_NORMAL = 1,  /* errors, warnings and summaries */
	LOG_VERBOSE = 2, /* and a line per worker event */
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_verbose(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* While the loop runs: stderr (a pipe or socket) is non-blocking, and
 * what it cannot take waits in a bounded queue.  log_flush() writes it
 * (the loop calls it when fd 2 is writable); log_restore() gives it until
 * `until` (monotonic seconds), then restores the descriptor's flags. */
void log_nonblocking(void);
bool log_pending(void);
void log_flush(void);
void log_restore(double until);

/* Write an already formatted message (no prefix added, newline expected). */
void log_write(const char *s, size_t n);

/* Append s[0..n) for one of spool's own messages: control characters
 * (NUL, ESC, newlines) and bytes that are not UTF-8 become \xNN, so what
 * a worker wrote can neither cut a message short nor drive the terminal.
 * The buffer is left NUL-terminated (not counted in its length). */
void log_escape(struct buf *b, const char *s, size_t n);

/* Lines from a worker's stderr, each prefixed "[label] ". */
void log_worker_line(const char *label, const char *line, size_t n);

/*
 * A status line (progress) lives at the bottom of the terminal.  Before
 * any other line is written it is erased; after, it is drawn again.
 */
struct log_status {
	void (*erase)(void *ctx);
	void (*redraw)(void *ctx);
	void *ctx;
};
void log_set_status(const struct log_status *st);

#endif
