/* progress.h - the live status line on stderr (--progress):
 *   spool: 1234/10000 12% 456.7/s ETA 0m19s | 3 failed | 4/4 workers up
 * redrawn at most 10 times a second, erased before any other stderr line
 * and drawn again after it, cleared at exit. */
#ifndef SPOOL_PROGRESS_H
#define SPOOL_PROGRESS_H

#include "util.h"

struct pool;

struct progress {
	struct pool *pool;
	int64_t total;    /* -1 when unknown */
	double last_draw; /* monotonic */
	bool drawn;       /* a line is on the screen */
	bool dirty;       /* something changed since the last draw */
	size_t width;     /* the terminal's columns (80 if unknown) */
};

void progress_init(struct progress *pr, struct pool *p, int64_t total);
/* Draw if due; returns when the next draw is due (monotonic). */
double progress_tick(struct progress *pr, double now);
/* Erase the line until the next tick draws it again (output is about to
 * go to the same terminal). */
void progress_erase(struct progress *pr);
/* Erase the line for good. */
void progress_clear(struct progress *pr);

#endif
