/* stats.c - the end-of-run summary, for people and as JSON. */
#define _GNU_SOURCE
#include "stats.h"
#include "log.h"
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t bucket_of(double s)
{
	if (s <= STATS_MIN)
		return 0;
	double b = log2(s / STATS_MIN) * STATS_SUB;
	if (b >= STATS_BUCKETS - 1)
		return STATS_BUCKETS - 1;
	return (size_t)b + 1;
}

/* The upper edge of a bucket, in seconds. */
static double bucket_top(size_t b)
{
	if (b == 0)
		return STATS_MIN;
	return STATS_MIN * exp2((double)b / STATS_SUB);
}

void hist_add(struct latency_hist *h, double s)
{
	if (s < 0)
		s = 0;
	h->bucket[bucket_of(s)]++;
	h->count++;
	if (s > h->max)
		h->max = s;
}

double hist_quantile(const struct latency_hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (size_t b = 0; b < STATS_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= rank) {
			double top = bucket_top(b);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}

static void add_json_double(struct buf *b, double v)
{
	if (!isfinite(v))
		v = 0;
	buf_addf(b, "%.6g", v);
}

/* spool's own CPU time (its workers' not included), in seconds. */
static void own_cpu(double *user, double *sys)
{
	struct rusage ru;
	*user = *sys = 0;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return;
	*user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

void stats_json(struct pool *p, const struct latency_hist *h, double wall,
		struct buf *b)
{
	uint64_t finished = p->n_ok + p->n_failed;
	buf_addf(b,
		 "{\"tasks\":{\"read\":%llu,\"ok\":%llu,\"failed\":%llu,"
		 "\"retried\":%llu,\"skipped\":%llu,\"not_started\":%llu},"
		 "\"wall_s\":",
		 (unsigned long long)p->n_read, (unsigned long long)p->n_ok,
		 (unsigned long long)p->n_failed,
		 (unsigned long long)p->n_retried,
		 (unsigned long long)p->n_skipped,
		 (unsigned long long)p->n_not_started);
	add_json_double(b, wall);
	buf_adds(b, ",\"tasks_per_s\":");
	add_json_double(b, wall > 0 ? (double)finished / wall : 0);
	buf_adds(b, ",\"latency_s\":{\"p50\":");
	add_json_double(b, hist_quantile(h, 0.50));
	buf_adds(b, ",\"p90\":");
	add_json_double(b, hist_quantile(h, 0.90));
	buf_adds(b, ",\"p99\":");
	add_json_double(b, hist_quantile(h, 0.99));
	buf_adds(b, ",\"max\":");
	add_json_double(b, h->max);
	double user, sys;
	own_cpu(&user, &sys);
	buf_adds(b, "},\"cpu_s\":{\"user\":");
	add_json_double(b, user);
	buf_adds(b, ",\"sys\":");
	add_json_double(b, sys);
	buf_adds(b, "},");
	if (p->batch_wait.count) {
		/* How long tasks waited in the queue before their batch went. */
		buf_adds(b, "\"batch_wait_s\":{\"p50\":");
		add_json_double(b, hist_quantile(&p->batch_wait, 0.50));
		buf_adds(b, ",\"p99\":");
		add_json_double(b, hist_quantile(&p->batch_wait, 0.99));
		buf_adds(b, "},");
	}
	if (p->serving)
		buf_addf(b,
			 "\"serve\":{\"clients\":%llu,\"disconnected\":%llu,"
			 "\"discarded\":%llu},",
			 (unsigned long long)p->n_clients,
			 (unsigned long long)p->n_disconnected,
			 (unsigned long long)p->n_discarded);
	buf_adds(b, "\"workers\":[");
	for (size_t i = 0; i < p->nw; i++) {
		const struct worker *w = p->w[i];
		const char *hash = strrchr(w->label, '#');
		buf_adds(b, i ? ",{\"name\":" : "{\"name\":");
		buf_add_json_string(b, w->spec->name, strlen(w->spec->name));
		buf_addf(b,
			 ",\"replica\":%s,\"pid\":%d,\"tasks\":%llu,\"failed\":"
			 "%llu,"
			 "\"restarts\":%llu,\"spawn_s\":",
			 hash ? hash + 1 : "0", (int)w->last_pid,
			 (unsigned long long)w->st_tasks,
			 (unsigned long long)w->st_failed,
			 (unsigned long long)w->st_restarts);
		if (w->came_up)
			add_json_double(b, w->spawn_s);
		else
			buf_adds(b, "null");
		buf_adds(b, ",\"spawn_result\":");
		buf_adds(b, w->spawn_result ? w->spawn_result : "null");
		/* Where it ran: null here, else its ssh host or allocation. */
		const char *host = hosts_name(p, w);
		buf_adds(b, ",\"host\":");
		if (host)
			buf_add_json_string(b, host, strlen(host));
		else
			buf_adds(b, "null");
		if (w->spec->batch_max) {
			buf_addf(b, ",\"batch\":{\"batches\":%llu,\"mean\":",
				 (unsigned long long)w->st_batches);
			add_json_double(
				b, w->st_batches ? (double)w->st_batch_tasks /
							   (double)w->st_batches
						 : 0);
			buf_addf(b, ",\"max\":%u}", w->st_batch_max);
		}
		buf_addc(b, '}');
	}
	buf_adds(b, "]}");
}

static void stats_text(struct pool *p, const struct latency_hist *h,
		       double wall)
{
	uint64_t finished = p->n_ok + p->n_failed;
	struct buf b = BUF_INIT;
	buf_addf(&b,
		 "spool: %llu tasks: %llu ok, %llu failed, %llu retried, "
		 "%llu skipped, %llu not started in ",
		 (unsigned long long)p->n_read, (unsigned long long)p->n_ok,
		 (unsigned long long)p->n_failed,
		 (unsigned long long)p->n_retried,
		 (unsigned long long)p->n_skipped,
		 (unsigned long long)p->n_not_started);
	buf_add_duration(&b, wall);
	buf_addf(&b, " (%.1f tasks/s)\n",
		 wall > 0 ? (double)finished / wall : 0.0);
	buf_adds(&b, "spool: latency p50 ");
	buf_add_duration(&b, hist_quantile(h, 0.50));
	buf_adds(&b, "  p90 ");
	buf_add_duration(&b, hist_quantile(h, 0.90));
	buf_adds(&b, "  p99 ");
	buf_add_duration(&b, hist_quantile(h, 0.99));
	buf_adds(&b, "  max ");
	buf_add_duration(&b, h->max);
	buf_addc(&b, '\n');
	double user, sys;
	own_cpu(&user, &sys);
	buf_addf(&b, "spool: its own cpu: user %.2fs, sys %.2fs", user, sys);
	if (finished)
		buf_addf(&b, " (%.2f us a task)",
			 (user + sys) * 1e6 / (double)finished);
	buf_addc(&b, '\n');
	size_t width = 6;
	for (size_t i = 0; i < p->nw; i++)
		width = MAX(width, strlen(p->w[i]->label));
	if (p->batch_wait.count) {
		buf_adds(&b, "spool: batches waited p50 ");
		buf_add_duration(&b, hist_quantile(&p->batch_wait, 0.50));
		buf_adds(&b, "  p99 ");
		buf_add_duration(&b, hist_quantile(&p->batch_wait, 0.99));
		buf_addc(&b, '\n');
		for (size_t i = 0; i < p->nw; i++) {
			const struct worker *w = p->w[i];
			if (!w->spec->batch_max || !w->st_batches)
				continue;
			buf_addf(&b,
				 "spool: %s: %llu batch%s, mean %.1f, max %u "
				 "tasks\n",
				 w->label, (unsigned long long)w->st_batches,
				 w->st_batches == 1 ? "" : "es",
				 (double)w->st_batch_tasks /
					 (double)w->st_batches,
				 w->st_batch_max);
		}
	}
	buf_addf(&b, "spool: %-*s %8s %7s %8s %8s  %s\n", (int)width, "worker",
		 "tasks", "failed", "restarts", "spawn", "spawn result");
	for (size_t i = 0; i < p->nw; i++) {
		const struct worker *w = p->w[i];
		struct buf sp = BUF_INIT;
		if (w->came_up)
			buf_add_duration(&sp, w->spawn_s);
		else
			buf_adds(&sp, "-");
		buf_addc(&sp, '\0');
		buf_addf(&b, "spool: %-*s %8llu %7llu %8llu %8s  %.200s\n",
			 (int)width, w->label, (unsigned long long)w->st_tasks,
			 (unsigned long long)w->st_failed,
			 (unsigned long long)w->st_restarts, sp.p,
			 w->spawn_result ? w->spawn_result : "-");
		buf_release(&sp);
	}
	hosts_stats_text(p, &b);
	log_write(b.p, b.len);
	buf_release(&b);
}

int stats_report(struct pool *p, const struct latency_hist *h, const char *path,
		 int fd)
{
	double wall = p->now - p->t_start;
	if (log_get_level() >= LOG_NORMAL || !path)
		stats_text(p, h, wall);
	if (!path)
		return 0;
	struct buf b = BUF_INIT;
	stats_json(p, h, wall, &b);
	buf_addc(&b, '\n');
	int rc = 0;
	struct stat st;
	bool file = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	/* A regular file is rewritten from its start; anything else
	 * (/dev/null, a pipe) just takes the document. */
	if ((file && (ftruncate(fd, 0) != 0 ||
		      pwrite(fd, b.p, b.len, 0) != (ssize_t)b.len)) ||
	    (!file && write_all(fd, b.p, b.len) != 0)) {
		log_error("%s: cannot write --stats: %s", path,
			  strerror(errno));
		rc = -1;
	}
	buf_release(&b);
	return rc;
}
