/* test_output.c - result lines and --tag envelopes. */
#include "jsonscan.h"
#include "output.h"
#include "testhelp.h"

#include <cJSON.h>

/* The buffer holds exactly one line, valid JSON (checked by both
 * jsonscan and cJSON); returns it parsed, or NULL. */
static cJSON *one_json_line(const struct buf *b, const char *name)
{
	const char *nl = b->len ? memchr(b->p, '\n', b->len) : NULL;
	if (!TEST(nl && (size_t)(nl - b->p) == b->len - 1, "%s: one line",
		  name))
		return NULL;
	struct json_error e;
	if (!TEST(json_check(b->p, b->len - 1, &e), "%s: valid JSON", name)) {
		printf("#   %.*s\n#   at %zu: %s\n", (int)b->len, b->p, e.pos,
		       e.why);
		return NULL;
	}
	cJSON *v = cJSON_ParseWithLength(b->p, b->len - 1);
	TEST(v != NULL, "%s: cJSON parses it", name);
	return v;
}

static void tag_case(const char *resp, size_t n, bool raw_is_json, uint64_t seq,
		     const char *want, const char *name)
{
	struct buf b = BUF_INIT;
	char *copy = xmalloc(n ? n : 1);
	memcpy(copy, resp, n);
	output_add_result(&b, true, raw_is_json, seq, copy, n);
	free(copy);
	TEST_STR(b.p, b.len, want, name);
	cJSON *v = one_json_line(&b, name);
	if (v) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "seq");
		TEST(cJSON_IsNumber(s) && s->valuedouble == (double)seq,
		     "%s: seq", name);
		TEST(cJSON_GetObjectItemCaseSensitive(v, "result") != NULL,
		     "%s: result", name);
	}
	cJSON_Delete(v);
	buf_release(&b);
}

static void test_plain(void)
{
	struct buf b = BUF_INIT;
	output_add_result(&b, false, false, 1, "hello world", 11);
	TEST_STR(b.p, b.len, "hello world\n",
		 "plain: the line as is, newline added");
	output_add_result(&b, false, true, 2, "{\"a\": 1}", 8);
	TEST_STR(b.p, b.len, "hello world\n{\"a\": 1}\n",
		 "plain: appended, bytes untouched");
	buf_reset(&b);
	output_add_result(&b, false, false, 3, "", 0);
	TEST_STR(b.p, b.len, "\n", "plain: an empty response is an empty line");
	buf_release(&b);
}

static void test_tag(void)
{
	const char *s;
	s = "{\"a\":1}";
	tag_case(s, strlen(s), false, 5, "{\"seq\":5,\"result\":{\"a\":1}}\n",
		 "tag: JSON embedded");
	s = "[1,\"x\",null]";
	tag_case(s, strlen(s), true, 6,
		 "{\"seq\":6,\"result\":[1,\"x\",null]}\n",
		 "tag: JSON known to be JSON");
	s = "42";
	tag_case(s, strlen(s), false, 7, "{\"seq\":7,\"result\":42}\n",
		 "tag: a number");
	s = "hello \"x\" \\ y";
	tag_case(s, strlen(s), false, 1,
		 "{\"seq\":1,\"result\":\"hello \\\"x\\\" \\\\ y\"}\n",
		 "tag: text as a JSON string");
	s = "a\tb\x01";
	tag_case(s, strlen(s), false, 2,
		 "{\"seq\":2,\"result\":\"a\\tb\\u0001\"}\n",
		 "tag: control characters escaped");
	s = "  {\"a\": 1}\t\r";
	tag_case(s, strlen(s), false, 3, "{\"seq\":3,\"result\":{\"a\": 1}}\n",
		 "tag: whitespace around JSON trimmed");
	s = "\t 7 ";
	tag_case(s, strlen(s), true, 4, "{\"seq\":4,\"result\":7}\n",
		 "tag: whitespace trimmed when known JSON");
	tag_case("", 0, false, 8, "{\"seq\":8,\"result\":\"\"}\n",
		 "tag: empty response");
	s = "   ";
	tag_case(s, strlen(s), false, 9, "{\"seq\":9,\"result\":\"   \"}\n",
		 "tag: spaces only are text");
	s = "{\"a\":1} trailing";
	tag_case(s, strlen(s), false, 10,
		 "{\"seq\":10,\"result\":\"{\\\"a\\\":1} trailing\"}\n",
		 "tag: almost JSON is text");
	s = "caf\xc3\xa9";
	tag_case(s, strlen(s), false, 11,
		 "{\"seq\":11,\"result\":\"caf\xc3\xa9\"}\n",
		 "tag: UTF-8 text kept");
	tag_case("a\0b", 3, false, 12,
		 "{\"seq\":12,\"result\":\"a\\u0000b\"}\n", "tag: NUL escaped");
	s = "x";
	tag_case(s, 1, false, UINT64_MAX,
		 "{\"seq\":18446744073709551615,\"result\":\"x\"}\n",
		 "tag: a huge seq");

	/* Text that is not UTF-8 cannot go into a JSON string as it is:
	 * the envelope must stay valid JSON (U+FFFD or an escape). */
	struct buf b = BUF_INIT;
	output_add_result(&b, true, false, 13, "caf\xe9", 4);
	struct json_error e;
	TEST(b.len && json_check(b.p, b.len - 1, &e),
	     "tag: a response in Latin-1 still gives a valid JSON envelope");
	buf_release(&b);
}

static void error_case(uint64_t seq, const char *msg, unsigned attempts,
		       const char *worker, const char *want, const char *name)
{
	struct buf b = BUF_INIT;
	output_add_error(&b, seq, msg, attempts, worker);
	TEST_STR(b.p, b.len, want, name);
	cJSON *v = one_json_line(&b, name);
	if (v) {
		cJSON *err = cJSON_GetObjectItemCaseSensitive(v, "error");
		cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
		cJSON *a = cJSON_GetObjectItemCaseSensitive(err, "attempts");
		cJSON *w = cJSON_GetObjectItemCaseSensitive(err, "worker");
		TEST(cJSON_IsString(m) && strcmp(m->valuestring, msg) == 0,
		     "%s: message decodes to the original", name);
		TEST(cJSON_IsNumber(a) && a->valuedouble == attempts,
		     "%s: attempts", name);
		TEST(worker ? cJSON_IsString(w) &&
				      strcmp(w->valuestring, worker) == 0
			    : cJSON_IsNull(w),
		     "%s: worker", name);
	}
	cJSON_Delete(v);
	buf_release(&b);
}

static void test_error(void)
{
	error_case(3, "worker died (signal KILL)", 3, "embed#0",
		   "{\"seq\":3,\"error\":{\"message\":\"worker died (signal "
		   "KILL)\","
		   "\"attempts\":3,\"worker\":\"embed#0\"}}\n",
		   "error envelope");
	error_case(1, "tasks.ndjson:1: invalid JSON", 0, NULL,
		   "{\"seq\":1,\"error\":{\"message\":\"tasks.ndjson:1: "
		   "invalid JSON\","
		   "\"attempts\":0,\"worker\":null}}\n",
		   "error envelope without a worker");
	error_case(2, "quote \" backslash \\ newline \n tab \t bell \a", 1,
		   "w#1",
		   "{\"seq\":2,\"error\":{\"message\":\"quote \\\" backslash "
		   "\\\\ newline "
		   "\\n tab \\t bell "
		   "\\u0007\",\"attempts\":1,\"worker\":\"w#1\"}}\n",
		   "error envelope: message escaped");
	error_case(4, "", 2, "a\"b",
		   "{\"seq\":4,\"error\":{\"message\":\"\",\"attempts\":2,"
		   "\"worker\":\"a\\\"b\"}}\n",
		   "error envelope: empty message, worker escaped");
}

int main(void)
{
	test_plain();
	test_tag();
	test_error();
	return test_done();
}
