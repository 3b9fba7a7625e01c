/* test_util.c - number parsing, byte buffers, JSON string escaping,
 * durations, descriptors. */
#define _GNU_SOURCE
#include "jsonscan.h"
#include "testhelp.h"
#include "util.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static void test_parse_seconds(void)
{
	static const struct {
		const char *s;
		double want;
	} t[] = {
		{"2", 2},    {"0", 0},    {"0.5", 0.5}, {"30.25", 30.25},
		{".5", 0.5}, {"5.", 5},   {"007", 7},   {"86400", 86400},
		{"", -1},    {"-1", -1},  {"-0", -1},   {"+1", -1},
		{"1e3", -1}, {"inf", -1}, {"nan", -1},  {"0x10", -1},
		{" 1", -1},  {"1 ", -1},  {"1s", -1},   {"1.2.3", -1},
		{".", -1},   {"1,5", -1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		TEST(parse_seconds(t[i].s) == t[i].want,
		     "parse_seconds(\"%s\") = %g", t[i].s, t[i].want);
	TEST(parse_seconds(NULL) == -1, "parse_seconds(NULL) = -1");
	double big = parse_seconds("1000000000000000000000000000000");
	TEST(big > 1e29, "parse_seconds: a large number is a number");
}

static void test_parse_long(void)
{
	static const struct {
		const char *s;
		long min, max;
		bool ok;
		long want;
	} t[] = {
		{"0", 0, 10, true, 0},
		{"42", 0, 100, true, 42},
		{"007", 0, 100, true, 7},
		{"1", 1, 1024, true, 1},
		{"1024", 1, 1024, true, 1024},
		{"1025", 1, 1024, false, 0},
		{"0", 1, 1024, false, 0},
		{"-1", -5, 5, false, 0},
		{"+1", 0, 5, false, 0},
		{"", 0, 5, false, 0},
		{"1a", 0, 5, false, 0},
		{" 1", 0, 5, false, 0},
		{"1 ", 0, 5, false, 0},
		{"1.0", 0, 5, false, 0},
		{"99999999999999999999", 0, 2147483647, false, 0},
		{"9223372036854775807", 0, 9223372036854775807L, true,
		 9223372036854775807L},
		{"9223372036854775808", 0, 9223372036854775807L, false, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		long out = -12345;
		bool ok = parse_long(t[i].s, t[i].min, t[i].max, &out);
		if (t[i].ok)
			TEST(ok && out == t[i].want,
			     "parse_long(\"%s\", %ld, %ld) = %ld", t[i].s,
			     t[i].min, t[i].max, t[i].want);
		else
			TEST(!ok && out == -12345,
			     "parse_long(\"%s\", %ld, %ld) rejected, out "
			     "untouched",
			     t[i].s, t[i].min, t[i].max);
	}
	long out;
	TEST(!parse_long(NULL, 0, 1, &out), "parse_long(NULL) rejected");
}

static void test_buf(void)
{
	struct buf b = BUF_INIT;
	TEST(buf_used(&b) == 0, "buf: empty at init");
	buf_add(&b, "abc", 3);
	buf_addc(&b, 'd');
	buf_adds(&b, "ef");
	buf_addf(&b, "-%d-%s-", 42, "x");
	buf_addu64(&b, 0);
	buf_addc(&b, ' ');
	buf_addu64(&b, 1234567890123ULL);
	buf_addc(&b, ' ');
	buf_addu64(&b, UINT64_MAX);
	TEST_STR(buf_data(&b), buf_used(&b),
		 "abcdef-42-x-0 1234567890123 18446744073709551615",
		 "buf: add, addc, adds, addf, addu64");
	size_t before = b.len;
	buf_addf(&b, "%s", "");
	TEST(b.len == before, "buf: addf of nothing adds nothing");

	buf_consume(&b, 3);
	TEST_STR(buf_data(&b), 3, "def", "buf: consume from the front");
	TEST(b.off == 3, "buf: consume advances off");
	buf_consume(&b, buf_used(&b));
	TEST(b.off == 0 && b.len == 0, "buf: consuming everything rewinds");

	/* Growth keeps unconsumed bytes, including past a consumed front. */
	buf_reset(&b);
	for (int i = 0; i < 1000; i++)
		buf_addf(&b, "%04d", i);
	TEST(buf_used(&b) == 4000 && memcmp(buf_data(&b), "00000001", 8) == 0,
	     "buf: grows through many appends");
	buf_consume(&b, 3996);
	size_t cap = b.cap;
	buf_reserve(&b, cap - 10);
	TEST(b.off == 0 && buf_used(&b) == 4 &&
		     memcmp(buf_data(&b), "0999", 4) == 0,
	     "buf: reserve reclaims the consumed front, keeping the rest");
	TEST(b.cap == cap, "buf: reclaimed space used before growing");
	char big[5000];
	memset(big, 'z', sizeof(big));
	buf_add(&b, big, sizeof(big));
	TEST(buf_used(&b) == 5004 && memcmp(buf_data(&b), "0999zz", 6) == 0 &&
		     buf_data(&b)[5003] == 'z',
	     "buf: a large add after consume");

	buf_reset(&b);
	TEST(buf_used(&b) == 0 && b.p != NULL, "buf: reset keeps the memory");
	cap = b.cap;
	buf_shrink(&b, cap);
	TEST(b.cap == cap && b.len == 0,
	     "buf: shrink under the limit keeps the memory");
	buf_shrink(&b, 16);
	TEST(b.cap == 0 && b.p == NULL, "buf: shrink over the limit frees it");
	buf_adds(&b, "again");
	TEST_STR(buf_data(&b), buf_used(&b), "again",
		 "buf: usable after shrink");
	buf_release(&b);
	TEST(b.p == NULL && b.len == 0 && b.cap == 0, "buf: release");

	char *s = xasprintf("%s=%d", "n", 5);
	TEST(strcmp(s, "n=5") == 0, "xasprintf");
	free(s);
	s = xstrndup("abcdef", 3);
	TEST(strcmp(s, "abc") == 0, "xstrndup");
	free(s);
}

static void json_string_case(const char *in, size_t n, const char *want,
			     const char *name)
{
	struct buf b = BUF_INIT;
	buf_add_json_string(&b, in, n);
	TEST_STR(b.p, b.len, want, name);
	buf_release(&b);
}

static void test_json_string(void)
{
	json_string_case("", 0, "\"\"", "json string: empty");
	json_string_case("abc", 3, "\"abc\"", "json string: plain");
	json_string_case("a\"b\\c", 5, "\"a\\\"b\\\\c\"",
			 "json string: quote, backslash");
	json_string_case("\n\r\t", 3, "\"\\n\\r\\t\"",
			 "json string: short escapes");
	json_string_case("\x01\x1f\b\f", 4, "\"\\u0001\\u001f\\u0008\\u000c\"",
			 "json string: other controls as \\u00XX");
	json_string_case("a\0b", 3, "\"a\\u0000b\"", "json string: NUL");
	json_string_case("/\x7f", 2, "\"/\x7f\"",
			 "json string: slash and DEL as they are");
	json_string_case("\xc3\xa9\xf0\x9f\x98\x80", 6,
			 "\"\xc3\xa9\xf0\x9f\x98\x80\"",
			 "json string: UTF-8 as it is");

	/* Every byte from 0 to 0x7f: valid JSON that decodes back. */
	char all[128];
	for (int i = 0; i < 128; i++)
		all[i] = (char)i;
	struct buf b = BUF_INIT;
	buf_add_json_string(&b, all, sizeof(all));
	struct json_error e;
	TEST(json_check(b.p, b.len, &e),
	     "json string: all ASCII gives valid JSON");
	struct buf d = BUF_INIT;
	json_string_decode(b.p, b.len, &d);
	TEST(d.len == sizeof(all) && memcmp(d.p, all, sizeof(all)) == 0,
	     "json string: all ASCII decodes back (json_string_decode)");
	/* cJSON strings end at a NUL: check bytes 1 to 0x7f with it. */
	buf_reset(&b);
	buf_add_json_string(&b, all + 1, sizeof(all) - 1);
	cJSON *v = cJSON_ParseWithLength(b.p, b.len);
	TEST(cJSON_IsString(v) && strlen(v->valuestring) == sizeof(all) - 1 &&
		     memcmp(v->valuestring, all + 1, sizeof(all) - 1) == 0,
	     "json string: cJSON reads it back");
	cJSON_Delete(v);
	buf_release(&d);

	/* Bytes that are not UTF-8 cannot appear in JSON text. */
	buf_reset(&b);
	buf_add_json_string(&b, "\xff\xc3(", 3);
	TEST(json_check(b.p, b.len, &e),
	     "json string: invalid UTF-8 in gives valid JSON out");
	buf_release(&b);
}

static void duration_case(double s, const char *want)
{
	struct buf b = BUF_INIT;
	buf_add_duration(&b, s);
	char name[64];
	snprintf(name, sizeof(name), "duration %g = %s", s, want);
	TEST_STR(b.p, b.len, want, name);
	buf_release(&b);
}

static void test_duration(void)
{
	duration_case(0, "0us");
	duration_case(0.0005, "500us");
	duration_case(0.123, "123.0ms");
	duration_case(1, "1.00s");
	duration_case(3.4, "3.40s");
	duration_case(12.34, "12.3s");
	duration_case(59.94, "59.9s");
	duration_case(60, "1m00s");
	duration_case(61, "1m01s");
	duration_case(125, "2m05s");
	duration_case(3599, "59m59s");
	duration_case(3600, "1h00m");
	duration_case(3725, "1h02m");
	duration_case(90000, "25h00m");
	duration_case(-5, "0us");
}

static void test_fds(void)
{
	int p[2];
	if (pipe(p) != 0) {
		perror("pipe");
		exit(2);
	}
	TEST(fd_set_nonblock(p[0], true) == 0 &&
		     (fcntl(p[0], F_GETFL) & O_NONBLOCK),
	     "fd_set_nonblock on");
	char c;
	errno = 0;
	TEST(xread(p[0], &c, 1) == -1 && errno == EAGAIN,
	     "non-blocking read: EAGAIN");
	TEST(fd_set_nonblock(p[0], false) == 0 &&
		     !(fcntl(p[0], F_GETFL) & O_NONBLOCK),
	     "fd_set_nonblock off");
	TEST(write_all(p[1], "hello", 5) == 0, "write_all");
	char got[8] = {0};
	TEST(xread(p[0], got, sizeof(got)) == 5 && memcmp(got, "hello", 5) == 0,
	     "xread");
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	TEST(write_all(p[1], "x", 1) == -1 && errno == EPIPE,
	     "write_all to a closed pipe fails with EPIPE");
	close(p[1]);
	TEST(fd_set_nonblock(p[1], true) == -1,
	     "fd_set_nonblock on a closed fd fails");

	TEST(strcmp(signal_name(SIGKILL), "KILL") == 0 &&
		     strcmp(signal_name(SIGTERM), "TERM") == 0,
	     "signal_name");
	double a = mono_now(), b = mono_now();
	TEST(b >= a && a > 0, "mono_now does not go back");
	TEST(wall_now() > 1.5e9, "wall_now is Unix time");
}

static void test_deadline_min(void)
{
	TEST(deadline_min(0, 0) == 0, "deadline_min: none and none is none");
	TEST(deadline_min(0, 5) == 5 && deadline_min(5, 0) == 5,
	     "deadline_min: none does not win");
	TEST(deadline_min(3, 5) == 3 && deadline_min(5, 3) == 3,
	     "deadline_min: the earlier wins");
	TEST(deadline_min(5, -1) == 5 && deadline_min(-1, 5) == 5,
	     "deadline_min: a negative time is none");
}

int main(void)
{
	test_parse_seconds();
	test_parse_long();
	test_buf();
	test_json_string();
	test_duration();
	test_fds();
	test_deadline_min();
	return test_done();
}
