/* fuzz_json.c - the JSON validator and minifier: whatever json_check
 * accepts, json_minify turns into JSON that json_check accepts again,
 * with no insignificant whitespace left, and minifying twice changes
 * nothing. */
#include "jsonscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_json: check failed: %s\n", #c);  \
			abort();                                               \
		}                                                              \
	} while (0)

static void count_member(void *ctx, struct span key, struct span val)
{
	(void)key;
	(void)val;
	(*(size_t *)ctx)++;
}

/* The one-pass readers of arrays and objects (batch answers, serve's
 * requests) agree with the validator and with json_element. */
static void check_containers(const char *s, size_t size, bool valid)
{
	struct span el[64];
	long k = json_elements(s, size, el, 64);
	if (!valid) {
		CHECK(k < 0);
	} else {
		for (long i = 0; i < k; i++) {
			struct span one;
			struct json_error e;
			CHECK(json_element(s, size, (size_t)i, &one));
			CHECK(one.p == el[i].p && one.n == el[i].n);
			CHECK(json_check(el[i].p, el[i].n, &e));
		}
	}
	size_t members = 0;
	const char *why = json_object_each(s, size, count_member, &members);
	if (!valid)
		CHECK(why != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct json_error e = {0, NULL};
	if (!json_check(s, size, &e)) {
		CHECK(e.why != NULL && e.why[0]);
		CHECK(e.pos <= size);
		check_containers(s, size, false);
		return 0;
	}
	check_containers(s, size, true);

	struct buf m = BUF_INIT;
	json_minify(s, size, &m);
	struct json_error e2 = {0, NULL};
	CHECK(m.len > 0 && m.len <= size);
	CHECK(json_check(m.p, m.len, &e2));
	CHECK(!json_has_space(m.p, m.len));
	/* has_space says exactly whether minify had anything to remove. */
	CHECK(json_has_space(s, size) == (m.len != size));

	struct buf m2 = BUF_INIT;
	json_minify(m.p, m.len, &m2);
	CHECK(m2.len == m.len && memcmp(m2.p, m.p, m.len) == 0);

	/* The value scanned alone ends where the minified text ends. */
	CHECK(json_scan_value(m.p, m.len, 0, &e2) == m.len);

	/* A string value decodes to no more bytes than it was written in. */
	if (m.p[0] == '"') {
		struct buf d = BUF_INIT;
		json_string_decode(m.p, m.len, &d);
		CHECK(d.len <= m.len - 2);
		buf_release(&d);
	}
	buf_release(&m);
	buf_release(&m2);
	return 0;
}
