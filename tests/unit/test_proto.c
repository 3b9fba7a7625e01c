/* test_proto.c - the two wire formats: exact request bytes, and answer
 * decoding. */
#include "proto.h"
#include "testhelp.h"

#include <cJSON.h>

static void test_spool_frames(void)
{
	const struct codec *c = &proto_spool;
	TEST(strcmp(c->name, "spool") == 0 && c->by_id,
	     "spool codec: name, answers by id");
	struct buf b = BUF_INIT;
	c->frame_spawn(&b, "{\"gpu_ids\":[0,1]}");
	TEST_STR(b.p, b.len,
		 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"spawn\","
		 "\"params\":{\"gpu_ids\":[0,1]}}\n",
		 "spool: spawn request");
	buf_reset(&b);
	c->frame_spawn(&b, "[1,\"a\"]");
	TEST_STR(b.p, b.len,
		 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"spawn\","
		 "\"params\":[1,\"a\"]}\n",
		 "spool: spawn request, positional");

	buf_reset(&b);
	buf_adds(&b, "before|");
	const char *task = "{\"x\": 1}";
	c->frame_task(&b, 42, task, strlen(task));
	TEST_STR(b.p, b.len,
		 "before|{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"execute\","
		 "\"params\":[{\"x\": 1}]}\n",
		 "spool: task request appended, task spliced in as read");
	buf_reset(&b);
	c->frame_task(&b, UINT64_MAX - 1, "7", 1);
	TEST_STR(b.p, b.len,
		 "{\"jsonrpc\":\"2.0\",\"id\":18446744073709551614,\"method\":"
		 "\"execute\","
		 "\"params\":[7]}\n",
		 "spool: a large id");

	/* Any JSON-RPC library can read what spool writes. */
	buf_reset(&b);
	task = "{\"s\":\"caf\xc3\xa9 \\\"q\\\"\",\"n\":[1,2.5,null]}";
	c->frame_task(&b, 9, task, strlen(task));
	cJSON *v = cJSON_ParseWithLength(b.p, b.len - 1);
	cJSON *params = cJSON_GetObjectItemCaseSensitive(v, "params");
	cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
	cJSON *method = cJSON_GetObjectItemCaseSensitive(v, "method");
	cJSON *ver = cJSON_GetObjectItemCaseSensitive(v, "jsonrpc");
	TEST(v && cJSON_IsArray(params) && cJSON_GetArraySize(params) == 1 &&
		     cJSON_IsObject(cJSON_GetArrayItem(params, 0)),
	     "spool: params is [TASK]");
	TEST(cJSON_IsNumber(id) && id->valuedouble == 9 &&
		     cJSON_IsString(method) &&
		     strcmp(method->valuestring, "execute") == 0 &&
		     cJSON_IsString(ver) &&
		     strcmp(ver->valuestring, "2.0") == 0,
	     "spool: jsonrpc, id, method");
	cJSON_Delete(v);
	buf_release(&b);
}

static const char *decode(const struct codec *c, const char *line,
			  struct answer *a)
{
	memset(a, 0xa5, sizeof(*a));
	return c->decode(line, strlen(line), a);
}

static bool span_eq(struct span sp, const char *want)
{
	return sp.p && sp.n == strlen(want) && memcmp(sp.p, want, sp.n) == 0;
}

static void test_spool_decode(void)
{
	const struct codec *c = &proto_spool;
	struct answer a;
	const char *why;
	why = decode(c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"y\": 2}}",
		     &a);
	TEST(why == NULL && a.kind == ANS_RESULT && a.id == 5 &&
		     span_eq(a.value, "{\"y\": 2}"),
	     "spool decode: result");
	why = decode(c, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":\"ready\"}",
		     &a);
	TEST(why == NULL && a.kind == ANS_RESULT && a.id == 0 &&
		     span_eq(a.value, "\"ready\""),
	     "spool decode: spawn result (id 0)");
	why = decode(c,
		     "{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":{\"code\":1,"
		     "\"message\":\"bad \\\"x\\\"\\n\",\"data\":\"line 3\"}}",
		     &a);
	TEST(why == NULL && a.kind == ANS_ERROR && a.id == 6 &&
		     span_eq(a.value,
			     "{\"code\":1,\"message\":\"bad \\\"x\\\"\\n\","
			     "\"data\":\"line 3\"}"),
	     "spool decode: error");
	struct buf b = BUF_INIT;
	proto_error_text(&a, &b);
	TEST_STR(b.p, b.len, "bad \"x\"\n: line 3",
		 "error text: message decoded, string data appended");
	buf_reset(&b);
	proto_error_detail(&a, &b);
	TEST(b.len == 0, "error detail: none for string data");

	why = decode(c,
		     "{\"id\":7,\"error\":{\"message\":\"ValueError: x\","
		     "\"data\":{\"traceback\":[\"a\",\"b\"]}}}",
		     &a);
	buf_reset(&b);
	proto_error_text(&a, &b);
	TEST(why == NULL, "spool decode: error with structured data");
	TEST_STR(b.p, b.len, "ValueError: x",
		 "error text: structured data left out");
	buf_reset(&b);
	proto_error_detail(&a, &b);
	TEST_STR(b.p, b.len, "{\"traceback\":[\"a\",\"b\"]}",
		 "error detail: structured data");

	why = decode(c, "{\"id\":8,\"error\":{\"code\":-1}}", &a);
	buf_reset(&b);
	proto_error_text(&a, &b);
	TEST(why == NULL, "spool decode: error without a message");
	TEST_STR(b.p, b.len, "{\"code\":-1}",
		 "error text: the error value when no message");
	why = decode(c, "{\"id\":8,\"error\":\"plain\"}", &a);
	buf_reset(&b);
	proto_error_text(&a, &b);
	TEST_STR(b.p, b.len, "\"plain\"",
		 "error text: an error that is not an object");
	why = decode(c, "{\"id\":8,\"error\":{\"message\":42}}", &a);
	buf_reset(&b);
	proto_error_text(&a, &b);
	TEST_STR(b.p, b.len, "42",
		 "error text: a message that is not a string");
	buf_release(&b);

	static const struct {
		const char *line;
		const char *why;
	} bad[] = {
		{"{\"id\":\"5\",\"result\":1}", "not a request id"},
		{"{\"id\":-5,\"result\":1}", "not a request id"},
		{"{\"id\":null,\"result\":1}", "not a request id"},
		{"{\"result\":1}", "no \"id\""},
		{"{\"id\":1}", "neither"},
		{"{\"id\":1,\"result\":1,\"error\":1}", "both"},
		{"{\"id\":1,\"method\":\"x\"}", "request"},
		{"not json", "not a JSON object"},
		{"", "empty"},
		{"{\"id\":1,\"result\":1} {}", "unexpected data"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = decode(c, bad[i].line, &a);
		TEST(why && strstr(why, bad[i].why),
		     "spool decode: %s is a protocol error (%s)", bad[i].line,
		     bad[i].why);
		if (why && !strstr(why, bad[i].why))
			printf("#   got: %s\n", why);
	}
}

static void test_lines(void)
{
	const struct codec *c = &proto_lines;
	TEST(strcmp(c->name, "lines") == 0 && !c->by_id &&
		     c->frame_spawn == NULL,
	     "lines codec: name, in order, no spawn request");
	struct buf b = BUF_INIT;
	c->frame_task(&b, 77, "{\"x\": 1}", 8);
	c->frame_task(&b, 78, "plain text", 10);
	c->frame_task(&b, 79, "", 0);
	TEST_STR(b.p, b.len, "{\"x\": 1}\nplain text\n\n",
		 "lines: a task is its line");
	buf_release(&b);
	struct answer a;
	const char *line = "anything {at all";
	const char *why = decode(c, line, &a);
	TEST(why == NULL && a.kind == ANS_RESULT && a.id == 0 &&
		     a.value.p == line && a.value.n == strlen(line),
	     "lines decode: the whole line is the result");
	why = decode(c, "", &a);
	TEST(why == NULL && a.kind == ANS_RESULT && a.value.n == 0,
	     "lines decode: an empty line is a result");
}

int main(void)
{
	test_spool_frames();
	test_spool_decode();
	test_lines();
	return test_done();
}
