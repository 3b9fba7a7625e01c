/* progress.c - the live progress line. */
#define _GNU_SOURCE
#include "progress.h"
#include "log.h"
#include "pool.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define REDRAW_EVERY 0.1
#define IDLE_REDRAW 1.0

static void erase(void *ctx)
{
	struct progress *pr = ctx;
	if (pr->drawn)
		(void)write_all(2, "\r\033[K", 4);
}

static void render(struct progress *pr, double now)
{
	struct pool *p = pr->pool;
	uint64_t done = p->n_ok + p->n_failed + p->n_not_started + p->n_skipped;
	double elapsed = now - p->t_start;
	double rate =
		elapsed > 0 ? (double)(p->n_ok + p->n_failed) / elapsed : 0;
	size_t up = 0;
	for (size_t i = 0; i < p->nw; i++)
		if (p->w[i]->pid > 0 && p->w[i]->up)
			up++;
	struct buf b = BUF_INIT;
	buf_adds(&b, "\r\033[Kspool: ");
	if (pr->total >= 0) {
		uint64_t total = (uint64_t)pr->total;
		if (done > total)
			total = done;
		buf_addf(&b, "%llu/%llu %.0f%%", (unsigned long long)done,
			 (unsigned long long)total,
			 total ? 100.0 * (double)done / (double)total : 100.0);
		buf_addf(&b, " %.1f/s ETA ", rate);
		double eta = rate > 0 ? (double)(total - done) / rate : -1;
		if (eta < 0)
			buf_adds(&b, "?");
		else if (eta < 60)
			buf_addf(&b, "%.0fs", eta);
		else
			buf_add_duration(&b, eta);
	} else {
		buf_addf(&b, "%llu done %.1f/s", (unsigned long long)done,
			 rate);
	}
	if (p->n_failed)
		buf_addf(&b, " | %llu failed", (unsigned long long)p->n_failed);
	buf_addf(&b, " | %zu/%zu workers up", up, p->nw);
	/* Never wrap: a wrapped line cannot be erased with \r. */
	size_t max = pr->width > 2 ? pr->width - 1 + 5 : 80;
	if (b.len > max)
		b.len = max;
	/* Not past messages still waiting for stderr. */
	if (!log_pending()) {
		(void)write_all(2, b.p, b.len);
		pr->drawn = true;
	}
	buf_release(&b);
}

static void redraw(void *ctx)
{
	struct progress *pr = ctx;
	render(pr, mono_now());
}

void progress_init(struct progress *pr, struct pool *p, int64_t total)
{
	memset(pr, 0, sizeof(*pr));
	pr->pool = p;
	pr->total = total;
	pr->width = 80;
	struct winsize ws;
	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		pr->width = ws.ws_col;
	struct log_status st = {erase, redraw, pr};
	log_set_status(&st);
}

double progress_tick(struct progress *pr, double now)
{
	double due = pr->last_draw + (pr->dirty ? REDRAW_EVERY : IDLE_REDRAW);
	if (now >= due) {
		render(pr, now);
		pr->last_draw = now;
		pr->dirty = false;
		return now + IDLE_REDRAW;
	}
	return pr->dirty ? pr->last_draw + REDRAW_EVERY : due;
}

void progress_erase(struct progress *pr)
{
	erase(pr);
	pr->drawn = false;
	pr->dirty = true;
	pr->last_draw = 0;
}

void progress_clear(struct progress *pr)
{
	log_set_status(NULL);
	erase(pr);
	pr->drawn = false;
}
