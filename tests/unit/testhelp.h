/* testhelp.h - TAP output for the C unit tests, no framework.
 *
 *   TEST(cond, "name %d", i);        ok N - name / not ok N - name
 *   TEST_STR(got, n, "want", "name"); bytes equal, diagnostics when not
 *   TEST_TODO(cond, "name");         a known open bug: reported, not fatal
 *   TEST_STR_TODO(...)               the same for TEST_STR
 *   return test_done();              prints the plan, 1 if anything failed
 *
 * A TODO check prints "# TODO" as TAP says; TESTHELP_STRICT=1 in the
 * environment makes open TODOs fail the program too. */
#ifndef SPOOL_TESTHELP_H
#define SPOOL_TESTHELP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int th_count, th_failed, th_todo;

static inline int th_check(int ok, int todo, const char *file, int line,
			   const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static inline int th_check(int ok, int todo, const char *file, int line,
			   const char *expr, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", ok ? "" : "not ", ++th_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("%s\n", todo ? " # TODO known engine bug" : "");
	if (!ok) {
		printf("#   failed at %s:%d: %s\n", file, line, expr);
		if (todo)
			th_todo++;
		else
			th_failed++;
	}
	fflush(stdout);
	return ok;
}

#define TEST(cond, ...)                                                        \
	th_check(!!(cond), 0, __FILE__, __LINE__, #cond, __VA_ARGS__)
#define TEST_TODO(cond, ...)                                                   \
	th_check(!!(cond), 1, __FILE__, __LINE__, #cond, __VA_ARGS__)

/* Compare n bytes at got with the C string want; show both when different. */
static inline int th_str(const char *got, size_t n, const char *want, int todo,
			 const char *file, int line, const char *name)
{
	size_t wn = strlen(want);
	int ok = n == wn && (n == 0 || (got && memcmp(got, want, n) == 0));
	th_check(ok, todo, file, line, "bytes equal", "%s", name);
	if (!ok)
		printf("#   got:  \"%.*s\" (%zu bytes)\n#   want: \"%s\" (%zu "
		       "bytes)\n",
		       got ? (int)(n > 400 ? 400 : n) : 6, got ? got : "(null)",
		       n, want, wn);
	return ok;
}
#define TEST_STR(got, n, want, name)                                           \
	th_str((got), (n), (want), 0, __FILE__, __LINE__, (name))
#define TEST_STR_TODO(got, n, want, name)                                      \
	th_str((got), (n), (want), 1, __FILE__, __LINE__, (name))

static inline int test_done(void)
{
	printf("1..%d\n", th_count);
	if (th_todo)
		printf("# %d check(s) of known engine bugs still fail (TODO)\n",
		       th_todo);
	if (th_failed)
		printf("# %d of %d check(s) failed\n", th_failed, th_count);
	const char *strict = getenv("TESTHELP_STRICT");
	if (th_todo && strict && strcmp(strict, "1") == 0)
		return 1;
	return th_failed ? 1 : 0;
}

#endif
