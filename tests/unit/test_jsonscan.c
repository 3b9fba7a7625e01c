/* test_jsonscan.c - the JSON validator, minifier, string decoder and the
 * JSON-RPC message reader. */
#include "jsonscan.h"
#include "testhelp.h"

#include <stdlib.h>

/* A case for json_check; len 0 means strlen(s). */
struct check_case {
	const char *s;
	size_t len;
	bool ok;
	size_t pos;      /* for a rejected input: where */
	const char *why; /* for a rejected input: a part of the reason */
};

#define OK(s)                                                                  \
	{                                                                      \
		s, 0, true, 0, NULL                                            \
	}
#define BAD(s, pos, why)                                                       \
	{                                                                      \
		s, 0, false, pos, why                                          \
	}
#define BADN(s, n, pos, why)                                                   \
	{                                                                      \
		s, n, false, pos, why                                          \
	}

static const struct check_case cases[] = {
	/* numbers */
	OK("0"), OK("-0"), OK("7"), OK("-12"), OK("1.5"), OK("-0.0"),
	OK("1e10"), OK("1E10"), OK("1e+2"), OK("1e-2"), OK("-1.25E-300"),
	OK("123456789012345678901234567890"),
	BAD("01", 1, "after the JSON value"),
	BAD("-01", 2, "after the JSON value"), BAD("-", 0, "invalid number"),
	BAD("1.", 0, "invalid number"), BAD(".5", 0, "unexpected character"),
	BAD("1e", 0, "invalid number"), BAD("1e+", 0, "invalid number"),
	BAD("+1", 0, "unexpected character"),
	BAD("0x10", 1, "after the JSON value"),
	BAD("NaN", 0, "unexpected character"),
	BAD("Infinity", 0, "unexpected character"),
	BAD("-Infinity", 0, "invalid number"),
	BAD("[1.e5]", 1, "invalid number"),
	/* literals */
	OK("true"), OK("false"), OK("null"), OK(" null "),
	BAD("tru", 0, "invalid literal"), BAD("nul", 0, "invalid literal"),
	BAD("True", 0, "unexpected character"),
	BAD("nulls", 4, "after the JSON value"),
	BAD("fals", 0, "invalid literal"),
	/* strings */
	OK("\"\""), OK("\"abc\""), OK("\"a b\""),
	OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), OK("\"\\u0000\""),
	OK("\"\\u00e9\\u00E9\""), OK("\"\\uD83D\\uDE00\""),
	OK("\"\\uDEAD\""), /* a lone surrogate escape is valid syntax */
	OK("\"\x7f\""), OK("\"\xc3\xa9\""), /* U+00E9 */
	OK("\"\xe2\x82\xac\""),             /* U+20AC */
	OK("\"\xef\xbf\xbf\""),             /* U+FFFF */
	OK("\"\xf0\x9f\x98\x80\""),         /* U+1F600 */
	OK("\"\xf4\x8f\xbf\xbf\""),         /* U+10FFFF */
	OK("\"\xed\x9f\xbf\""),             /* U+D7FF */
	OK("\"\xee\x80\x80\""),             /* U+E000 */
	BAD("\"abc", 0, "unterminated string"),
	BAD("\"abc\\", 4, "unterminated string"),
	BAD("'a'", 0, "unexpected character"),
	BAD("\"\\x\"", 1, "invalid escape"),
	BAD("\"\\U00e9\"", 1, "invalid escape"),
	BAD("\"\\u12\"", 1, "invalid \\u escape"),
	BAD("\"\\u12G4\"", 1, "invalid \\u escape"),
	BAD("\"\\u123", 1, "invalid \\u escape"),
	BAD("\"a\tb\"", 2, "control character"),
	BAD("\"a\nb\"", 2, "control character"),
	BAD("\"\x01\"", 1, "control character"),
	BAD("\"\x1f\"", 1, "control character"),
	BADN("\"a\0b\"", 5, 2, "control character"),
	/* invalid UTF-8 */
	BAD("\"\x80\"", 1, "invalid UTF-8"), /* lone continuation */
	BAD("\"\xbf\"", 1, "invalid UTF-8"),
	BAD("\"\xc0\x80\"", 1, "invalid UTF-8"),     /* overlong NUL */
	BAD("\"\xc1\xbf\"", 1, "invalid UTF-8"),     /* overlong 0x7F */
	BAD("\"\xe0\x80\x80\"", 1, "invalid UTF-8"), /* overlong */
	BAD("\"\xe0\x9f\xbf\"", 1, "invalid UTF-8"), /* overlong U+07FF */
	BAD("\"\xf0\x80\x80\x80\"", 1, "invalid UTF-8"),
	BAD("\"\xf0\x8f\xbf\xbf\"", 1, "invalid UTF-8"), /* overlong U+FFFF */
	BAD("\"\xed\xa0\x80\"", 1, "invalid UTF-8"),     /* U+D800 in UTF-8 */
	BAD("\"\xed\xbf\xbf\"", 1, "invalid UTF-8"),     /* U+DFFF in UTF-8 */
	BAD("\"\xed\xa0\xbd\xed\xb8\x80\"", 1, "invalid UTF-8"), /* CESU-8 */
	BAD("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8"), /* > U+10FFFF */
	BAD("\"\xf5\x80\x80\x80\"", 1, "invalid UTF-8"),
	BAD("\"\xf8\x88\x80\x80\x80\"", 1, "invalid UTF-8"),
	BAD("\"\xfe\"", 1, "invalid UTF-8"),
	BAD("\"\xff\"", 1, "invalid UTF-8"),
	BAD("\"ab\xe2\x82\"", 3, "invalid UTF-8"), /* truncated */
	BAD("\"\xc3\"", 1, "invalid UTF-8"),
	BAD("\"\xc3", 1, "invalid UTF-8"), /* truncated at the end */
	BAD("\"\xf0\x9f\x98", 1, "invalid UTF-8"),
	BAD("\"\xc3\xc3\xa9\"", 1, "invalid UTF-8"),
	BAD("\xc3\xa9", 0, "unexpected character"), /* outside a string */
	/* arrays and objects */
	OK("[]"), OK("{}"), OK("[ ]"), OK("{ }"), OK("[1,2,3]"),
	OK("{\"a\":1,\"b\":[true,null,{\"c\":\"d\"}]}"),
	OK(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n\r\t "), OK("{\"\":0}"),
	OK("{\"a\":1,\"a\":2}"), OK("[[[[[]]]]]"),
	BAD("[1,]", 3, "expected a value"), BAD("[,1]", 1, "expected a value"),
	BAD("[1 2]", 3, "expected ',' or ']'"), BAD("[1", 2, "unclosed array"),
	BAD("[", 1, "unexpected end of input"),
	BAD("[1,", 3, "unexpected end of input"),
	BAD("{", 1, "unclosed object"), BAD("{\"a\"}", 4, "expected ':'"),
	BAD("{\"a\" 1}", 5, "expected ':'"),
	BAD("{\"a\":}", 5, "expected a value"),
	BAD("{\"a\":1,}", 7, "expected a string key"),
	BAD("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"),
	BAD("{a:1}", 1, "expected a string key"),
	BAD("{\"a\":1", 6, "unclosed object"),
	BAD("{1:2}", 1, "expected a string key"),
	BAD("[1}", 2, "expected ',' or ']'"),
	BAD("{\"a\":1]", 6, "expected ',' or '}'"),
	BAD("]", 0, "unexpected character"),
	/* around the value */
	BAD("", 0, "empty"), BAD(" \t\r\n", 4, "empty"),
	BAD("1 2", 2, "after the JSON value"),
	BAD("{} {}", 3, "after the JSON value"),
	BAD("[]]", 2, "after the JSON value"),
	BAD("\"a\"\"b\"", 3, "after the JSON value"),
	BAD("\f1", 0, "unexpected character"), /* form feed is not space */
	BAD("\v1", 0, "unexpected character"),
	BAD("1\f", 1, "after the JSON value"),
	BADN("1\0", 2, 1, "after the JSON value"),
	BADN("\0", 1, 0, "unexpected character"),
	BAD("\xef\xbb\xbf{}", 0,
	    "unexpected character"), /* a byte order mark */
};

static void printable(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static void test_check_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct check_case *c = &cases[i];
		size_t n = c->len ? c->len : strlen(c->s);
		/* An exact-size heap copy, so reading past the end is caught
		 * under the address sanitizer. */
		char *s = xmalloc(n);
		memcpy(s, c->s, n);
		char name[160];
		printable(s, n, name, sizeof(name));
		struct json_error e = {0, NULL};
		bool ok = json_check(s, n, &e);
		if (c->ok) {
			TEST(ok, "accepts %s", name);
			if (!ok)
				printf("#   at %zu: %s\n", e.pos, e.why);
		} else {
			TEST(!ok, "rejects %s", name);
			if (!ok) {
				TEST(e.pos == c->pos && e.why &&
					     strstr(e.why, c->why),
				     "rejects %s: at %zu, \"%s\"", name, c->pos,
				     c->why);
				if (e.pos != c->pos || !e.why ||
				    !strstr(e.why, c->why))
					printf("#   got: at %zu, \"%s\"\n",
					       e.pos, e.why ? e.why : "(null)");
			}
		}
		free(s);
	}
}

static char *nested(size_t depth, char open, char close)
{
	char *s = xmalloc(2 * depth + 1);
	memset(s, open, depth);
	memset(s + depth, close, depth);
	s[2 * depth] = '\0';
	return s;
}

static void test_depth(void)
{
	struct json_error e;
	char *s = nested(JSON_MAX_DEPTH, '[', ']');
	TEST(json_check(s, strlen(s), &e), "1000 nested arrays accepted");
	free(s);
	s = nested(JSON_MAX_DEPTH + 1, '[', ']');
	TEST(!json_check(s, strlen(s), &e) && e.pos == 1000 &&
		     strstr(e.why, "nesting deeper than 1000"),
	     "1001 nested arrays rejected at byte 1000");
	free(s);

	/* Objects count too: {"a":{"a":...1...}} */
	struct buf b = BUF_INIT;
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		buf_adds(&b, "{\"a\":");
	buf_adds(&b, "1");
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addc(&b, '}');
	TEST(json_check(b.p, b.len, &e), "1000 nested objects accepted");
	buf_reset(&b);
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		buf_adds(&b, i % 2 ? "[" : "{\"k\":");
	buf_adds(&b, "[1]");
	TEST(!json_check(b.p, b.len, &e) && strstr(e.why, "nesting"),
	     "1001 levels of mixed objects and arrays rejected");
	/* Depth is about nesting, not the number of values. */
	buf_reset(&b);
	buf_addc(&b, '[');
	for (int i = 0; i < 5000; i++)
		buf_adds(&b, i ? ",[]" : "[]");
	buf_addc(&b, ']');
	TEST(json_check(b.p, b.len, &e), "5000 sibling arrays accepted");
	buf_release(&b);

	/* Very deep input does not overflow the C stack. */
	size_t deep = 1000000;
	s = nested(deep, '[', ']');
	TEST(!json_check(s, 2 * deep, &e) && strstr(e.why, "nesting"),
	     "a million nested arrays rejected without recursion");
	free(s);
}

static void test_scan_value(void)
{
	struct json_error e;
	const char *s = "[1] x";
	TEST(json_scan_value(s, strlen(s), 0, &e) == 3,
	     "json_scan_value: offset just past the value");
	s = "\"ab\" 12 ";
	TEST(json_scan_value(s, strlen(s), 5, &e) == 7,
	     "json_scan_value: from a position");
	s = "{\"a\":[1,2]}rest";
	TEST(json_scan_value(s, strlen(s), 0, &e) == 11,
	     "json_scan_value: object followed by other bytes");
	s = " 1";
	TEST(json_scan_value(s, strlen(s), 0, &e) == (size_t)-1 && e.pos == 0,
	     "json_scan_value: no leading whitespace skipped");
	s = "[1,";
	TEST(json_scan_value(s, strlen(s), 0, &e) == (size_t)-1 && e.pos == 3,
	     "json_scan_value: truncated value");
	TEST(json_scan_value("1", 1, 1, &e) == (size_t)-1,
	     "json_scan_value: at the end of input");
}

static void minify_case(const char *in, const char *want, const char *name)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "<");
	json_minify(in, strlen(in), &b);
	char *w = xasprintf("<%s", want);
	TEST_STR(b.p, b.len, w, name);
	free(w);
	buf_release(&b);
}

static void test_minify(void)
{
	minify_case("{ \"a\" : [ 1 , 2 ] , \"b c\" : \"x  y\" }",
		    "{\"a\":[1,2],\"b c\":\"x  y\"}",
		    "minify: spaces outside strings go");
	minify_case(" \t\r\n[\n\t1\r\n]\n ", "[1]",
		    "minify: all four kinds of space");
	minify_case("[ \"a\\\" b\" , 1 ]", "[\"a\\\" b\",1]",
		    "minify: escaped quote does not end the string");
	minify_case("[ \"\\\\\" , 1 ]", "[\"\\\\\",1]",
		    "minify: escaped backslash before the closing quote");
	minify_case("[ \"\\\\\\\" \" ]", "[\"\\\\\\\" \"]",
		    "minify: backslash, then escaped quote");
	minify_case("{\"a\":1}", "{\"a\":1}",
		    "minify: compact input unchanged");
	minify_case("\"  \"", "\"  \"", "minify: a string of spaces unchanged");
	minify_case("[\"\\u0020 x\" ,\"\xc3\xa9 \"]",
		    "[\"\\u0020 x\",\"\xc3\xa9 \"]",
		    "minify: escapes and UTF-8 kept");
	minify_case("", "", "minify: empty");
}

static void test_has_space(void)
{
	static const struct {
		const char *s;
		bool want;
	} t[] = {
		{"{\"a\":1}", false},    {"{\"a\": 1}", true},
		{"\"a b\"", false},      {"[\"a\\\" b\"]", false},
		{"[\"\\\\\", 1]", true}, {"[\"\\\\\",1]", false},
		{"1\n", true},           {" 1", true},
		{"[1,\t2]", true},       {"[1,\r2]", true},
		{"\"\\u0020\"", false},  {"", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char name[80];
		printable(t[i].s, strlen(t[i].s), name, sizeof(name));
		TEST(json_has_space(t[i].s, strlen(t[i].s)) == t[i].want,
		     "json_has_space(%s) is %s", name,
		     t[i].want ? "true" : "false");
	}
}

static void decode_case(const char *in, const char *want, const char *name)
{
	struct buf b = BUF_INIT;
	json_string_decode(in, strlen(in), &b);
	TEST_STR(b.p, b.len, want, name);
	buf_release(&b);
}

static void test_string_decode(void)
{
	decode_case("\"abc\"", "abc", "decode: plain");
	decode_case("\"\"", "", "decode: empty string");
	decode_case("\"a\\nb\\tc\\rd\\be\\ff\"", "a\nb\tc\rd\be\ff",
		    "decode: control escapes");
	decode_case("\"\\\"\\\\\\/\"", "\"\\/",
		    "decode: quote, backslash, slash");
	decode_case("\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9",
		    "decode: \\u 1 and 2 bytes");
	decode_case("\"\\u20ac\"", "\xe2\x82\xac", "decode: \\u 3 bytes");
	decode_case("\"\\uffff\"", "\xef\xbf\xbf", "decode: \\uffff");
	decode_case("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80",
		    "decode: surrogate pair");
	decode_case("\"\\uD83D\\uDE00!\"", "\xf0\x9f\x98\x80!",
		    "decode: surrogate pair, upper case hex");
	decode_case("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf",
		    "decode: the last surrogate pair");
	decode_case("\"x\\u00e9y\\ud800\\udc00z\"",
		    "x\xc3\xa9y\xf0\x90\x80\x80z", "decode: mixed");
	decode_case("\"\xc3\xa9\"", "\xc3\xa9", "decode: UTF-8 passes through");
	decode_case("abc", "abc",
		    "decode: not a string literal: appended as is");

	struct buf b = BUF_INIT;
	json_string_decode("\"a\\u0000b\"", 10, &b);
	TEST(b.len == 3 && memcmp(b.p, "a\0b", 3) == 0,
	     "decode: \\u0000 is a NUL byte");
	buf_reset(&b);

	/* A lone surrogate has no UTF-8 form: decoding must still give valid
	 * UTF-8 (U+FFFD), as other decoders do, or every later consumer of
	 * the text (an error envelope, the joblog) carries invalid UTF-8. */
	const char *lone[] = {"\"\\ud800\"", "\"\\udc00\"", "\"\\ud83dx\"",
			      "\"\\ud83d\\u0041\""};
	for (size_t i = 0; i < ARRAY_SIZE(lone); i++) {
		buf_reset(&b);
		buf_addc(&b, '"');
		json_string_decode(lone[i], strlen(lone[i]), &b);
		buf_addc(&b, '"');
		struct json_error e;
		TEST(json_check(b.p, b.len, &e),
		     "decode: lone surrogate %s gives valid UTF-8", lone[i]);
	}
	buf_release(&b);
}

static bool span_eq(struct span sp, const char *want)
{
	return sp.p && sp.n == strlen(want) && memcmp(sp.p, want, sp.n) == 0;
}

static const char *parse(const char *s, struct rpc_msg *m)
{
	return rpc_parse(s, strlen(s), m);
}

static void test_rpc(void)
{
	struct rpc_msg m;
	const char *why;

	why = parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"x\":1}}", &m);
	TEST(why == NULL, "rpc: a result");
	TEST(m.has_id && m.id == 7, "rpc: result id 7");
	TEST(m.has_result && !m.has_error && span_eq(m.result, "{\"x\":1}"),
	     "rpc: result span");

	why = parse("{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":null}", &m);
	TEST(why == NULL && m.id == 0 && m.has_result &&
		     span_eq(m.result, "null"),
	     "rpc: id 0 and a null result");

	why = parse("{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32000,"
		    "\"message\":\"boom \\\"x\\\"\",\"data\":{\"tb\":[1,2]}}}",
		    &m);
	TEST(why == NULL, "rpc: an error");
	TEST(m.has_error && !m.has_result && m.id == 3, "rpc: error id 3");
	TEST(span_eq(m.err_message, "\"boom \\\"x\\\"\""),
	     "rpc: error message span");
	TEST(span_eq(m.err_code, "-32000"), "rpc: error code span");
	TEST(span_eq(m.err_data, "{\"tb\":[1,2]}"), "rpc: error data span");
	TEST(span_eq(m.error, "{\"code\":-32000,\"message\":\"boom \\\"x\\\"\","
			      "\"data\":{\"tb\":[1,2]}}"),
	     "rpc: the whole error value");

	why = parse("{\"id\":4,\"error\":{\"message\":\"m\"}}", &m);
	TEST(why == NULL && span_eq(m.err_message, "\"m\"") &&
		     m.err_code.n == 0 && m.err_data.n == 0,
	     "rpc: error with only a message");
	why = parse("{\"id\":4,\"error\":\"bad\"}", &m);
	TEST(why == NULL && m.has_error && span_eq(m.error, "\"bad\"") &&
		     m.err_message.n == 0,
	     "rpc: error that is not an object");

	why = parse("{\"jsonrpc\":\"2.0\",\"result\":1}", &m);
	TEST(why && strstr(why, "no \"id\""), "rpc: missing id rejected");
	why = parse("{\"id\":1,\"result\":1,\"error\":{}}", &m);
	TEST(why && strstr(why, "both"), "rpc: both result and error rejected");
	why = parse("{\"jsonrpc\":\"2.0\",\"id\":1}", &m);
	TEST(why && strstr(why, "neither"),
	     "rpc: neither result nor error rejected");
	why = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"log\","
		    "\"params\":[]}",
		    &m);
	TEST(why && strstr(why, "request"),
	     "rpc: a request with a method rejected");
	TEST(m.has_method, "rpc: has_method set");

	const char *bad_ids[] = {"\"7\"",
				 "-1",
				 "1.5",
				 "1e2",
				 "null",
				 "true",
				 "[1]",
				 "{}",
				 "18446744073709551616",
				 "12345678901234567890",
				 "01x"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
		char *s = xasprintf("{\"id\":%s,\"result\":1}", bad_ids[i]);
		why = parse(s, &m);
		if (strcmp(bad_ids[i], "01x") == 0)
			TEST(why != NULL, "rpc: id 01x is invalid JSON");
		else
			TEST(why == NULL && m.has_id && m.id == UINT64_MAX,
			     "rpc: id %s gives UINT64_MAX", bad_ids[i]);
		free(s);
	}
	why = parse("{\"id\":9999999999999999999,\"result\":1}", &m);
	TEST(why == NULL && m.id == 9999999999999999999ULL,
	     "rpc: a 19-digit id");

	why = parse(" \t{ \"id\" : 12 ,\n\"result\" : [ 1 , 2 ] }\r\n ", &m);
	TEST(why == NULL && m.id == 12 && span_eq(m.result, "[ 1 , 2 ]"),
	     "rpc: whitespace everywhere allowed; result span as written");

	why = parse("{\"result\":{\"id\":5,\"error\":1},\"id\":2}", &m);
	TEST(why == NULL && m.id == 2 && !m.has_error,
	     "rpc: members of nested values are not the message's");
	why = parse("{\"id\":1,\"id\":2,\"result\":0}", &m);
	TEST(why == NULL && m.id == 2,
	     "rpc: a repeated id: the last one counts");
	why = parse("{\"i\\u0064\":1,\"result\":0}", &m);
	TEST(why && strstr(why, "no \"id\""),
	     "rpc: keys are compared as written");

	struct {
		const char *s;
		const char *why;
	} bad[] = {
		{"", "empty"},
		{"   ", "empty"},
		{"[1]", "not a JSON object"},
		{"\"id\"", "not a JSON object"},
		{"{\"id\":1,\"result\":}", "expected a value"},
		{"{\"id\":1,\"result\":1", "expected ',' or '}'"},
		{"{\"id\":1,\"result\":1}x", "unexpected data"},
		{"{\"id\":1,\"result\":1}{}", "unexpected data"},
		{"{\"id\":1 \"result\":1}", "expected ',' or '}'"},
		{"{id:1}", "expected a key"},
		{"{\"id\" 1}", "expected ':'"},
		{"{\"id\":1,\"result\":\"\xff\"}", "invalid UTF-8"},
		{"{\"id\":1,\"result\":[1,]}", "expected a value"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char name[80];
		printable(bad[i].s, strlen(bad[i].s), name, sizeof(name));
		char *s = xstrdup(bad[i].s);
		why = rpc_parse(s, strlen(s), &m);
		TEST(why && strstr(why, bad[i].why), "rpc: %s rejected: %s",
		     name, bad[i].why);
		if (why && !strstr(why, bad[i].why))
			printf("#   got: %s\n", why);
		free(s);
	}
}

int main(void)
{
	test_check_table();
	test_depth();
	test_scan_value();
	test_minify();
	test_has_space();
	test_string_decode();
	test_rpc();
	return test_done();
}
