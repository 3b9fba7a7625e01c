/* test_linebuf.c - the bounded line reader, fed through pipes so that
 * lines really arrive split across reads. */
#define _GNU_SOURCE
#include "linebuf.h"
#include "testhelp.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static int fds[2];

static void pipe_open(void)
{
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(2);
	}
}

static void pipe_close(void)
{
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
}

/* Write bytes to the pipe and read them into lb in one fill. */
static void feedn(struct linebuf *lb, const char *s, size_t n)
{
	if (n && write_all(fds[1], s, n) != 0) {
		perror("write");
		exit(2);
	}
	ssize_t r = linebuf_fill(lb, fds[0], 0);
	if (r != (ssize_t)n) {
		printf("# fill read %zd of %zu bytes\n", r, n);
		exit(2);
	}
}

static void feed(struct linebuf *lb, const char *s)
{
	feedn(lb, s, strlen(s));
}

static void feed_eof(struct linebuf *lb)
{
	close(fds[1]);
	fds[1] = -1;
	ssize_t r = linebuf_fill(lb, fds[0], 0);
	TEST(r == 0 && lb->eof, "fill at end of file returns 0 and sets eof");
}

static void expect_line(struct linebuf *lb, const char *want, const char *name)
{
	const char *line = NULL;
	size_t len = 0;
	enum linebuf_result r = linebuf_next(lb, &line, &len);
	if (!TEST(r == LB_LINE, "%s: a line", name)) {
		printf("#   result %d\n", (int)r);
		return;
	}
	TEST_STR(line, len, want, name);
}

static void expect_need(struct linebuf *lb, const char *name)
{
	const char *line;
	size_t len;
	enum linebuf_result r = linebuf_next(lb, &line, &len);
	TEST(r == LB_NEED, "%s: no complete line (LB_NEED)", name);
	if (r == LB_LINE)
		printf("#   got line \"%.*s\"\n", (int)MIN(len, 200), line);
}

static void expect_toolong(struct linebuf *lb, const char *prefix,
			   const char *name)
{
	const char *line = NULL;
	size_t len = 0;
	enum linebuf_result r = linebuf_next(lb, &line, &len);
	if (!TEST(r == LB_TOOLONG, "%s: LB_TOOLONG", name)) {
		printf("#   result %d\n", (int)r);
		return;
	}
	TEST_STR(line, len, prefix, name);
}

static void test_split_reads(void)
{
	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, 100);
	expect_need(&lb, "before any read");
	feed(&lb, "hel");
	expect_need(&lb, "split: first part");
	TEST(linebuf_pending(&lb) == 3, "split: 3 bytes pending");
	feed(&lb, "lo\nwor");
	expect_line(&lb, "hello", "split: line completed by the second read");
	expect_need(&lb, "split: partial second line");
	feed(&lb, "l");
	expect_need(&lb, "split: still partial");
	feed(&lb, "d\nthree\nfour\n");
	expect_line(&lb, "world", "split: line over three reads");
	expect_line(&lb, "three", "split: several lines in one read (1)");
	expect_line(&lb, "four", "split: several lines in one read (2)");
	expect_need(&lb, "split: all handed out");
	TEST(linebuf_pending(&lb) == 0, "split: nothing pending");
	feed_eof(&lb);
	expect_need(&lb, "split: nothing after eof");
	linebuf_release(&lb);
	pipe_close();
}

static void test_cr(void)
{
	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, 100);
	feed(&lb, "a\r\nb\r\n\r\nc\rd\n\r\r\n");
	expect_line(&lb, "a", "CRLF: CR cut");
	expect_line(&lb, "b", "CRLF: second line");
	expect_line(&lb, "", "CRLF: empty CRLF line");
	expect_line(&lb, "c\rd", "CR in the middle kept");
	expect_line(&lb, "\r", "only the last CR cut");
	feed(&lb, "x\r");
	expect_need(&lb, "CR without LF yet");
	feed(&lb, "\n");
	expect_line(&lb, "x", "CR and LF in different reads");
	feed(&lb, "last\r");
	feed_eof(&lb);
	expect_line(&lb, "last", "final partial line: CR cut");
	expect_need(&lb, "CR: done");
	linebuf_release(&lb);
	pipe_close();
}

static void test_final_partial(void)
{
	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, 100);
	TEST(lb.final_partial, "final_partial is the default");
	feed(&lb, "x\ny");
	expect_line(&lb, "x", "final_partial: first line");
	expect_need(&lb, "final_partial: partial before eof");
	feed_eof(&lb);
	expect_line(&lb, "y", "final_partial: last line without newline");
	expect_need(&lb, "final_partial: then nothing");
	expect_need(&lb, "final_partial: still nothing");
	linebuf_release(&lb);
	pipe_close();

	pipe_open();
	linebuf_init(&lb, 100);
	lb.final_partial = false;
	feed(&lb, "x\nyz");
	expect_line(&lb, "x", "no final_partial: first line");
	feed_eof(&lb);
	expect_need(
		&lb,
		"no final_partial: last line without newline not handed out");
	TEST(linebuf_pending(&lb) == 2,
	     "no final_partial: its bytes stay pending");
	linebuf_release(&lb);
	pipe_close();

	/* A file that ends with a newline has no extra empty line. */
	pipe_open();
	linebuf_init(&lb, 100);
	feed(&lb, "a\n");
	feed_eof(&lb);
	expect_line(&lb, "a", "trailing newline: the line");
	expect_need(&lb, "trailing newline: no empty line after it");
	linebuf_release(&lb);
	pipe_close();
}

static void test_empty_lines(void)
{
	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, 100);
	feed(&lb, "\n\n a\n\n");
	expect_line(&lb, "", "empty line 1");
	expect_line(&lb, "", "empty line 2");
	expect_line(&lb, " a", "leading space kept");
	expect_line(&lb, "", "empty line 3");
	expect_need(&lb, "empty lines: done");
	linebuf_release(&lb);
	pipe_close();

	pipe_open();
	linebuf_init(&lb, 100);
	feed_eof(&lb);
	expect_need(&lb, "empty input: no line");
	TEST(linebuf_pending(&lb) == 0, "empty input: nothing pending");
	linebuf_release(&lb);
	pipe_close();
}

static void test_max(void)
{
	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, 8);
	feed(&lb, "12345678\n");
	expect_line(&lb, "12345678", "a line of exactly max bytes");
	feed(&lb, "1234");
	feed(&lb, "5678");
	expect_need(&lb, "max bytes buffered without newline: wait");
	feed(&lb, "\n");
	expect_line(&lb, "12345678", "a line of max bytes over two reads");
	feed(&lb, "12345678\r\n");
	expect_line(&lb, "12345678", "max bytes and CRLF in one read");
	feed(&lb, "123456789\nok\n");
	expect_toolong(&lb, "123456789",
		       "max+1 with its newline in the same read");
	expect_line(&lb, "ok", "the line after a too-long one");
	expect_need(&lb, "max: done");
	feed(&lb, "12345678");
	feed_eof(&lb);
	expect_line(&lb, "12345678", "max bytes as the final partial line");
	linebuf_release(&lb);
	pipe_close();

	/* Over-long line arriving in pieces: reported once, rest skipped. */
	pipe_open();
	linebuf_init(&lb, 8);
	feed(&lb, "first\n123456789");
	expect_line(&lb, "first", "the line before");
	expect_toolong(&lb, "123456789", "max+1 without newline yet");
	TEST(lb.skipping, "skipping the rest of that line");
	feed(&lb, "abcdefghijklmnopqrstuvwxyz");
	expect_need(&lb, "the rest is skipped, not reported again");
	feed(&lb, "0123");
	expect_need(&lb, "still skipped");
	feed(&lb, "tail\nok\n");
	expect_line(&lb, "ok", "the next line is fine");
	TEST(lb.skipped == 9 + 26 + 4 + 4,
	     "skipped counts the whole line (%zu)", lb.skipped);
	expect_need(&lb, "toolong: done");
	feed(&lb, "0123456789");
	expect_toolong(&lb, "0123456789", "too long at the end of the input");
	feed_eof(&lb);
	expect_need(&lb, "nothing more after a too-long last line");
	expect_need(&lb, "still nothing");
	linebuf_release(&lb);
	pipe_close();

	/* A line of max bytes with CRLF, the read boundary between CR and
	 * LF: the same line as "12345678\r\n" in one read, so it must be
	 * accepted the same way. */
	pipe_open();
	linebuf_init(&lb, 8);
	feed(&lb, "12345678\r");
	const char *line;
	size_t len;
	enum linebuf_result r = linebuf_next(&lb, &line, &len);
	if (r == LB_NEED) {
		feed(&lb, "\n");
		r = linebuf_next(&lb, &line, &len);
	}
	TEST(r == LB_LINE && len == 8,
	     "max bytes and CRLF, read boundary between CR and LF: a line");
	linebuf_release(&lb);
	pipe_close();
}

/* Write all of data to a pipe from a child process, so that more than
 * the pipe's capacity can be read. */
static pid_t writer(const char *data, size_t n)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(fds[0]);
		_exit(write_all(fds[1], data, n) == 0 ? 0 : 1);
	}
	close(fds[1]);
	fds[1] = -1;
	return pid;
}

static void test_huge_line(void)
{
	size_t big = (size_t)10 << 20;
	char *data = xmalloc(big + 16);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + i % 26);
	memcpy(data + big, "\nafter\n", 7);

	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, SPOOL_LINE_MAX);
	pid_t pid = writer(data, big + 7);
	const char *line = NULL;
	size_t len = 0;
	enum linebuf_result r;
	int fills = 0;
	while ((r = linebuf_next(&lb, &line, &len)) == LB_NEED) {
		if (linebuf_fill(&lb, fds[0], 0) <= 0)
			break;
		fills++;
	}
	TEST(r == LB_LINE && len == big,
	     "10 MB line handed out whole (%zu bytes)", len);
	TEST(r == LB_LINE && memcmp(line, data, big) == 0, "10 MB line intact");
	TEST(fills > 1, "10 MB line arrived over several reads (%d)", fills);
	while ((r = linebuf_next(&lb, &line, &len)) == LB_NEED)
		if (linebuf_fill(&lb, fds[0], 0) <= 0)
			break;
	TEST(r == LB_LINE && len == 5 && memcmp(line, "after", 5) == 0,
	     "the line after the 10 MB line");
	TEST(linebuf_fill(&lb, fds[0], 0) == 0, "then end of file");
	TEST(lb.cap <= ((size_t)4 << 20),
	     "memory of the huge line given back once it is gone (cap %zu)",
	     lb.cap);
	int st;
	waitpid(pid, &st, 0);
	linebuf_release(&lb);
	pipe_close();
	free(data);
}

/* Deterministic pseudo-random numbers (xorshift). */
static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Many lines of random lengths (some too long, some CRLF), in random
 * chunks, against a model of what must come out. */
static void test_random_chunks(void)
{
	const size_t max = 300;
	const int nlines = 4000;
	struct buf in = BUF_INIT;
	struct buf want = BUF_INIT; /* per line: 'L' len bytes, or 'T' */
	for (int i = 0; i < nlines; i++) {
		size_t len =
			rnd(8) == 0 ? max - 2 + rnd(5) : rnd((uint32_t)max + 1);
		bool crlf = rnd(4) == 0;
		/* The CR-split case at exactly max has its own check above. */
		if (crlf && len == max)
			crlf = false;
		size_t mark = in.len;
		for (size_t k = 0; k < len; k++) {
			char c = (char)(' ' + rnd(95));
			if (rnd(50) == 0)
				c = '\r';
			buf_addc(&in, c);
		}
		/* A line that ends in CR has it cut like a CRLF. */
		size_t content = len;
		if (crlf) {
			buf_addc(&in, '\r');
		} else if (len && in.p[in.len - 1] == '\r') {
			content--;
			if (len == max + 1) {
				in.p[in.len - 1] = 'x';
				content++;
			}
		}
		buf_addc(&in, '\n');
		if (content > max) {
			buf_addc(&want, 'T');
		} else {
			buf_addc(&want, 'L');
			buf_addu64(&want, content);
			buf_addc(&want, ':');
			buf_add(&want, in.p + mark, content);
		}
	}

	struct buf got = BUF_INIT;
	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, max);
	size_t off = 0;
	for (;;) {
		const char *line;
		size_t len;
		enum linebuf_result r = linebuf_next(&lb, &line, &len);
		if (r == LB_LINE) {
			buf_addc(&got, 'L');
			buf_addu64(&got, len);
			buf_addc(&got, ':');
			buf_add(&got, line, len);
			continue;
		}
		if (r == LB_TOOLONG) {
			buf_addc(&got, 'T');
			continue;
		}
		if (lb.eof)
			break;
		if (off == in.len) {
			feed_eof(&lb);
			continue;
		}
		size_t n = 1 + rnd(rnd(4) ? 40 : 3000);
		if (n > in.len - off)
			n = in.len - off;
		feedn(&lb, in.p + off, n);
		off += n;
	}
	TEST(got.len == want.len && memcmp(got.p, want.p, got.len) == 0,
	     "%d random lines in random chunks come out as modelled", nlines);
	linebuf_release(&lb);
	pipe_close();
	buf_release(&in);
	buf_release(&want);
	buf_release(&got);
}

static void expect_more(struct linebuf *lb, const char *want, bool last,
			const char *name)
{
	const char *line = NULL;
	size_t len = 0;
	enum linebuf_result r = linebuf_next(lb, &line, &len);
	if (!TEST(r == LB_MORE, "%s: LB_MORE", name)) {
		printf("#   result %d\n", (int)r);
		return;
	}
	TEST_STR(line, len, want, name);
	TEST(lb->skipping == !last, "%s: %s", name,
	     last ? "the last piece" : "more to come");
}

/* keep_tail: the rest of an over-long line comes out in pieces, so that
 * it can be kept somewhere (--failed) without ever being held whole. */
static void test_keep_tail(void)
{
	struct linebuf lb;
	pipe_open();
	linebuf_init(&lb, 8);
	lb.keep_tail = true;
	feed(&lb, "first\n123456789");
	expect_line(&lb, "first", "tail: the line before");
	expect_toolong(&lb, "123456789", "tail: the first piece");
	TEST(lb.skipping, "tail: more of that line to come");
	expect_need(&lb, "tail: nothing new yet");
	feed(&lb, "abcdef");
	expect_more(&lb, "abcdef", false, "tail: a middle piece");
	feed(&lb, "gh\nok\n");
	expect_more(&lb, "gh", true, "tail: the last piece, up to the newline");
	expect_line(&lb, "ok", "tail: the next line is fine");
	expect_need(&lb, "tail: done");
	/* Cut by the end of the input: an empty last piece says so. */
	feed(&lb, "0123456789");
	expect_toolong(&lb, "0123456789", "tail: too long at the end");
	feed_eof(&lb);
	expect_more(&lb, "", true, "tail: end of input ends the line");
	expect_need(&lb, "tail: nothing after it");
	linebuf_release(&lb);
	pipe_close();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_keep_tail();
	test_split_reads();
	test_cr();
	test_final_partial();
	test_empty_lines();
	test_max();
	test_huge_line();
	test_random_chunks();
	return test_done();
}
