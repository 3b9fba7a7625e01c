/* stats.h - what a run did and where the time went (--stats).
 * Latencies go into a log-bucket histogram: bounded memory however many
 * tasks run, percentiles within 1/16 of an octave (about 4.4%). */
#ifndef SPOOL_STATS_H
#define SPOOL_STATS_H

#include "util.h"

#define STATS_SUB 16   /* buckets per doubling */
#define STATS_MIN 1e-6 /* latencies below 1 us share a bucket */
#define STATS_BUCKETS (STATS_SUB * 44)

struct latency_hist {
	uint64_t count;
	double max;
	uint64_t bucket[STATS_BUCKETS];
};

void hist_add(struct latency_hist *h, double seconds);
/* The q-quantile (0 < q <= 1), 0 when empty. */
double hist_quantile(const struct latency_hist *h, double q);

struct pool;
/* The --stats JSON document (one line, no newline) of the run so far. */
void stats_json(struct pool *p, const struct latency_hist *h, double wall,
		struct buf *b);
/* Print the summary on stderr and, with path, write the JSON document to
 * fd (opened on path).  Returns -1 (message logged) if it cannot be
 * written. */
int stats_report(struct pool *p, const struct latency_hist *h, const char *path,
		 int fd);

#endif
