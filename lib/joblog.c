/* joblog.c - the per-task log and --resume. */
#define _GNU_SOURCE
#include "joblog.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char header[] = "seq\tsource\tworker\tattempts\tstart\truntime\tst"
			     "atus\tmessage\thash\n";

uint64_t joblog_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct joblog_entry *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Split a row into its 9 fields in place; false if it is not a row. */
static bool split_row(char *line, char *f[9])
{
	size_t n = 0;
	f[n++] = line;
	for (char *c = line; *c; c++)
		if (*c == '\t') {
			if (n == 9)
				return false;
			*c = '\0';
			f[n++] = c + 1;
		}
	return n == 9;
}

static int load(struct joblog *jl, int fd, struct buf *err)
{
	struct buf text = BUF_INIT;
	for (;;) {
		buf_reserve(&text, 1 << 16);
		ssize_t r = xread(fd, text.p + text.len, text.cap - text.len);
		if (r < 0) {
			buf_addf(err, "%s: cannot read the joblog: %s",
				 jl->path, strerror(errno));
			buf_release(&text);
			return -1;
		}
		if (r == 0)
			break;
		text.len += (size_t)r;
	}
	buf_addc(&text, '\0');
	size_t cap = 0;
	uint64_t lineno = 0;
	char *s = text.p;
	while (s && *s) {
		char *nl = strchr(s, '\n');
		lineno++;
		if (!nl) {
			/* A row cut short by a crash: that task is not done. */
			log_info(
				"%s:%" PRIu64
				": skipping a row cut short (spool "
				"was stopped while writing it); that task will "
				"run again",
				jl->path, lineno);
			break;
		}
		*nl = '\0';
		char *f[9];
		if (lineno == 1) {
			if (strcmp(s, "seq\tsource\tworker\tattempts\tstart\tru"
				      "ntime"
				      "\tstatus\tmessage\thash") != 0) {
				buf_addf(err,
					 "%s: not a spool joblog (its first "
					 "line is "
					 "not the header); give --joblog a new "
					 "file or "
					 "the log of an earlier run",
					 jl->path);
				buf_release(&text);
				return -1;
			}
			s = nl + 1;
			continue;
		}
		char *end1, *end2;
		bool row = split_row(s, f);
		errno = 0;
		uint64_t seq = row ? strtoull(f[0], &end1, 10) : 0;
		uint64_t hash = row ? strtoull(f[8], &end2, 16) : 0;
		if (!row || errno || *end1 != '\0' || seq == 0 ||
		    (strcmp(f[6], "ok") != 0 && strcmp(f[6], "failed") != 0 &&
		     strcmp(f[6], "not_started") != 0) ||
		    !f[8][0] || *end2 != '\0') {
			/* Most likely a row cut short by a crash: its task
			 * counts as not done and runs again. */
			log_info("%s:%" PRIu64
				 ": skipping a malformed joblog row; "
				 "that task will run again",
				 jl->path, lineno);
			s = nl + 1;
			continue;
		}
		if (jl->ndone == cap) {
			cap = cap ? cap * 2 : 1024;
			jl->done = xrealloc(jl->done, cap * sizeof(*jl->done));
		}
		jl->done[jl->ndone] = (struct joblog_entry){
			seq, hash, jl->ndone, strcmp(f[6], "ok") == 0};
		jl->ndone++;
		s = nl + 1;
	}
	buf_release(&text);
	/* The latest row of a seq wins: sort by (seq, position in the
	 * file) and keep the last of each seq. */
	if (jl->ndone > 1)
		qsort(jl->done, jl->ndone, sizeof(*jl->done), cmp_entry);
	size_t out = 0;
	for (size_t i = 0; i < jl->ndone; i++) {
		if (i + 1 < jl->ndone && jl->done[i + 1].seq == jl->done[i].seq)
			continue;
		jl->done[out++] = jl->done[i];
	}
	jl->ndone = out;
	return 0;
}

int joblog_open(struct joblog *jl, const char *path, bool resume,
		struct buf *err)
{
	memset(jl, 0, sizeof(*jl));
	jl->path = xstrdup(path);
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		buf_addf(err, "%s: cannot open the joblog: %s", path,
			 strerror(errno));
		goto fail;
	}
	if (resume && load(jl, fd, err) != 0)
		goto fail;
	struct stat st;
	/* Never append rows to a file that is not a joblog (a mistyped
	 * name could be the input itself). */
	char first[sizeof(header) - 1];
	if (!resume && fstat(fd, &st) == 0 && st.st_size > 0 &&
	    (pread(fd, first, sizeof(first), 0) != (ssize_t)sizeof(first) ||
	     memcmp(first, header, sizeof(first)) != 0)) {
		buf_addf(err,
			 "%s: not a spool joblog (its first line is not the "
			 "header); give --joblog a new file or the log of an "
			 "earlier run",
			 path);
		goto fail;
	}
	output_init(&jl->out, fd);
	if (fstat(fd, &st) == 0 && st.st_size == 0) {
		buf_adds(&jl->out.b, header);
	} else if (st.st_size > 0) {
		/* A row cut short by a crash must not glue onto the next. */
		char last;
		if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
			buf_addc(&jl->out.b, '\n');
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(jl->done);
	free(jl->path);
	memset(jl, 0, sizeof(*jl));
	return -1;
}

void joblog_flush(struct joblog *jl)
{
	if (jl->out.err)
		return;
	(void)output_flush(&jl->out);
}

void joblog_close(struct joblog *jl)
{
	if (jl->out.fd > 0) {
		output_drain(&jl->out);
		close(jl->out.fd);
	}
	output_release(&jl->out);
	free(jl->done);
	free(jl->path);
	memset(jl, 0, sizeof(*jl));
}

enum joblog_verdict joblog_check(struct joblog *jl, uint64_t seq, uint64_t hash,
				 uint64_t *logged_hash)
{
	while (jl->cursor < jl->ndone && jl->done[jl->cursor].seq < seq)
		jl->cursor++;
	if (jl->cursor >= jl->ndone || jl->done[jl->cursor].seq != seq)
		return JL_RUN;
	const struct joblog_entry *e = &jl->done[jl->cursor];
	*logged_hash = e->hash;
	if (e->hash != hash)
		return JL_CHANGED;
	return e->ok ? JL_SKIP : JL_RUN;
}

static void add_field(struct buf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (c == '\t' || c == '\n' || c == '\r')
			c = ' ';
		buf_addc(b, c);
	}
}

void joblog_row(struct joblog *jl, uint64_t seq, const char *src, uint64_t line,
		const char *worker, unsigned attempts, double start,
		double runtime, const char *status, const char *message,
		uint64_t hash)
{
	struct buf *b = &jl->out.b;
	buf_addu64(b, seq);
	buf_addc(b, '\t');
	add_field(b, src);
	buf_addc(b, ':');
	buf_addu64(b, line);
	buf_addc(b, '\t');
	add_field(b, worker ? worker : "-");
	buf_addf(b, "\t%u\t%.3f\t%.6f\t%s\t", attempts, start, runtime, status);
	if (message)
		add_field(b, message);
	buf_addf(b, "\t%016" PRIx64 "\n", hash);
}
