/* jsonscan.c - validating JSON scanner, JSON-RPC member finder, minifier.
 *
 * One pass, no allocation, an explicit stack instead of recursion so that
 * deep nesting cannot overflow the C stack. */
#define _GNU_SOURCE
#include "jsonscan.h"

#include <string.h>

/* 1 for bytes that may appear unescaped in a string without further
 * checks: printable ASCII other than '"' and '\\'. */
/* clang-format off */
static const unsigned char plain[256] = {
	['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,             /* 0x30-0x3f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,             /* 0x40-0x4f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,             /* 0x50-0x5f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,             /* 0x60-0x6f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,             /* 0x70-0x7f */
};
/* clang-format on */

#define HOT static inline __attribute__((always_inline))

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

HOT size_t skip_ws(const char *s, size_t n, size_t i)
{
	/* Task lines are mostly compact: test the common case first. */
	while (i < n && (unsigned char)s[i] <= ' ' && is_ws(s[i]))
		i++;
	return i;
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

#define FAIL(at, msg)                                                          \
	do {                                                                   \
		err->pos = (at);                                               \
		err->why = (msg);                                              \
		return (size_t)-1;                                             \
	} while (0)

/* Scan a string whose opening quote is at s[i]; returns the offset past
 * its closing quote. */
HOT size_t scan_string(const char *s, size_t n, size_t i,
		       struct json_error *err)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = i++;
	for (;;) {
		while (i < n && plain[u[i]])
			i++;
		if (i >= n)
			FAIL(start, "unterminated string");
		unsigned char c = u[i];
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			if (i + 1 >= n)
				FAIL(i, "unterminated string");
			char e = s[i + 1];
			if (e == 'u') {
				if (n - i < 6 || !is_hex(s[i + 2]) ||
				    !is_hex(s[i + 3]) || !is_hex(s[i + 4]) ||
				    !is_hex(s[i + 5]))
					FAIL(i, "invalid \\u escape in string");
				i += 6;
			} else if (strchr("\"\\/bfnrt", e) && e) {
				i += 2;
			} else {
				FAIL(i, "invalid escape in string");
			}
			continue;
		}
		if (c < 0x20)
			FAIL(i, "control character in string (escape it)");
		size_t len = utf8_seq_len(u, n, i);
		if (!len)
			FAIL(i, "invalid UTF-8");
		i += len;
	}
}

HOT size_t scan_number(const char *s, size_t n, size_t i,
		       struct json_error *err)
{
	size_t start = i;
	if (s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		FAIL(start, "invalid number");
	if (s[i] == '0') {
		i++;
	} else {
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !is_digit(s[i]))
			FAIL(start, "invalid number");
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			FAIL(start, "invalid number");
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i;
}

static size_t scan_literal(const char *s, size_t n, size_t i,
			   struct json_error *err)
{
	static const char *const words[] = {"true", "false", "null"};
	for (size_t k = 0; k < ARRAY_SIZE(words); k++) {
		size_t len = strlen(words[k]);
		if (s[i] == words[k][0]) {
			if (n - i >= len && memcmp(s + i, words[k], len) == 0)
				return i + len;
			break;
		}
	}
	FAIL(i, "invalid literal (expected true, false or null)");
}

size_t json_scan_value(const char *s, size_t n, size_t i,
		       struct json_error *err)
{
	char stack[JSON_MAX_DEPTH]; /* '{' or '[' */
	size_t depth = 0;

value:
	if (i >= n)
		FAIL(i, "unexpected end of input (expected a value)");
	switch (s[i]) {
	case '{':
	case '[': {
		char open = s[i], close = open == '{' ? '}' : ']';
		if (depth == JSON_MAX_DEPTH)
			FAIL(i, "nesting deeper than 1000");
		stack[depth++] = open;
		i = skip_ws(s, n, i + 1);
		if (i < n && s[i] == close) {
			i++;
			depth--;
			goto after;
		}
		if (open == '{')
			goto key;
		goto value;
	}
	case '"':
		i = scan_string(s, n, i, err);
		break;
	case 't':
	case 'f':
	case 'n':
		i = scan_literal(s, n, i, err);
		break;
	default:
		if (s[i] == '-' || is_digit(s[i])) {
			i = scan_number(s, n, i, err);
			break;
		}
		FAIL(i, "unexpected character (expected a value)");
	}
	if (i == (size_t)-1)
		return i;
after:
	if (depth == 0)
		return i;
	i = skip_ws(s, n, i);
	if (i >= n)
		FAIL(i, stack[depth - 1] == '{'
				? "unexpected end of input (unclosed object)"
				: "unexpected end of input (unclosed array)");
	if (s[i] == ',') {
		i = skip_ws(s, n, i + 1);
		if (stack[depth - 1] == '{')
			goto key;
		goto value;
	}
	if (stack[depth - 1] == '{') {
		if (s[i] != '}')
			FAIL(i, "expected ',' or '}' in object");
	} else if (s[i] != ']') {
		FAIL(i, "expected ',' or ']' in array");
	}
	i++;
	depth--;
	goto after;

key:
	if (i >= n)
		FAIL(i, "unexpected end of input (unclosed object)");
	if (s[i] != '"')
		FAIL(i, "expected a string key in object");
	i = scan_string(s, n, i, err);
	if (i == (size_t)-1)
		return i;
	i = skip_ws(s, n, i);
	if (i >= n || s[i] != ':')
		FAIL(i, "expected ':' after object key");
	i = skip_ws(s, n, i + 1);
	goto value;
}

bool json_check(const char *s, size_t n, struct json_error *err)
{
	size_t i = skip_ws(s, n, 0);
	if (i == n) {
		err->pos = i;
		err->why = "empty (expected a JSON value)";
		return false;
	}
	i = json_scan_value(s, n, i, err);
	if (i == (size_t)-1)
		return false;
	i = skip_ws(s, n, i);
	if (i != n) {
		err->pos = i;
		err->why = "unexpected data after the JSON value";
		return false;
	}
	return true;
}

/* Offset of the first insignificant whitespace in s[i..n) (valid JSON,
 * i outside any string), or n. */
static size_t next_space(const char *s, size_t n, size_t i)
{
	bool in_str = false;
	for (; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (is_ws(c)) {
			return i;
		}
	}
	return n;
}

bool json_has_space(const char *s, size_t n)
{
	return next_space(s, n, 0) < n;
}

void json_minify(const char *s, size_t n, struct buf *out)
{
	buf_reserve(out, n);
	size_t run = 0;
	for (size_t i = next_space(s, n, 0); i < n;
	     i = next_space(s, n, i + 1)) {
		buf_add(out, s + run, i - run);
		run = i + 1;
	}
	buf_add(out, s + run, n - run);
}

static unsigned hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return (unsigned)(c - 'A' + 10);
}

static void add_utf8(struct buf *out, unsigned cp)
{
	char t[4];
	if (cp < 0x80) {
		buf_addc(out, (char)cp);
	} else if (cp < 0x800) {
		t[0] = (char)(0xC0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3F));
		buf_add(out, t, 2);
	} else if (cp < 0x10000) {
		t[0] = (char)(0xE0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[2] = (char)(0x80 | (cp & 0x3F));
		buf_add(out, t, 3);
	} else {
		t[0] = (char)(0xF0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[3] = (char)(0x80 | (cp & 0x3F));
		buf_add(out, t, 4);
	}
}

void json_string_decode(const char *s, size_t n, struct buf *out)
{
	if (n < 2 || s[0] != '"') {
		buf_add(out, s, n);
		return;
	}
	s++;
	n -= 2;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c != '\\' || i + 1 >= n) {
			buf_addc(out, c);
			continue;
		}
		char e = s[++i];
		switch (e) {
		case 'b':
			buf_addc(out, '\b');
			break;
		case 'f':
			buf_addc(out, '\f');
			break;
		case 'n':
			buf_addc(out, '\n');
			break;
		case 'r':
			buf_addc(out, '\r');
			break;
		case 't':
			buf_addc(out, '\t');
			break;
		case 'u':
			if (i + 4 < n) {
				unsigned cp = hexval(s[i + 1]) << 12 |
					      hexval(s[i + 2]) << 8 |
					      hexval(s[i + 3]) << 4 |
					      hexval(s[i + 4]);
				i += 4;
				if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < n &&
				    s[i + 1] == '\\' && s[i + 2] == 'u') {
					unsigned lo = hexval(s[i + 3]) << 12 |
						      hexval(s[i + 4]) << 8 |
						      hexval(s[i + 5]) << 4 |
						      hexval(s[i + 6]);
					if (lo >= 0xDC00 && lo < 0xE000) {
						cp = 0x10000 +
						     ((cp - 0xD800) << 10) +
						     (lo - 0xDC00);
						i += 6;
					}
				}
				/* A lone surrogate has no UTF-8 form. */
				if (cp >= 0xD800 && cp < 0xE000)
					cp = 0xFFFD;
				add_utf8(out, cp);
			}
			break;
		default:
			buf_addc(out, e);
			break;
		}
	}
}

/* Members of an object starting at s[i] == '{': calls back per member. */
static bool span_is(struct span k, const char *lit)
{
	size_t len = strlen(lit);
	return k.n == len && memcmp(k.p, lit, len) == 0;
}

static const char *scan_object(const char *s, size_t n, size_t i, size_t *end,
			       void (*member)(void *ctx, struct span key,
					      struct span val),
			       void *ctx)
{
	struct json_error err;
	if (i >= n || s[i] != '{')
		return "not a JSON object";
	i = skip_ws(s, n, i + 1);
	if (i < n && s[i] == '}') {
		*end = i + 1;
		return NULL;
	}
	for (;;) {
		if (i >= n || s[i] != '"')
			return "invalid JSON (expected a key)";
		size_t kend = scan_string(s, n, i, &err);
		if (kend == (size_t)-1)
			return err.why;
		struct span key = {s + i + 1, kend - i - 2};
		i = skip_ws(s, n, kend);
		if (i >= n || s[i] != ':')
			return "invalid JSON (expected ':')";
		i = skip_ws(s, n, i + 1);
		size_t vend = json_scan_value(s, n, i, &err);
		if (vend == (size_t)-1)
			return err.why;
		member(ctx, key, (struct span){s + i, vend - i});
		i = skip_ws(s, n, vend);
		if (i < n && s[i] == ',') {
			i = skip_ws(s, n, i + 1);
			continue;
		}
		if (i < n && s[i] == '}') {
			*end = i + 1;
			return NULL;
		}
		return "invalid JSON (expected ',' or '}')";
	}
}

static void error_member(void *ctx, struct span key, struct span val)
{
	struct rpc_msg *m = ctx;
	if (span_is(key, "message"))
		m->err_message = val;
	else if (span_is(key, "code"))
		m->err_code = val;
	else if (span_is(key, "data"))
		m->err_data = val;
}

static void msg_member(void *ctx, struct span key, struct span val)
{
	struct rpc_msg *m = ctx;
	if (span_is(key, "id")) {
		m->has_id = true;
		uint64_t v = 0;
		bool ok = val.n > 0 && val.n <= 19;
		for (size_t k = 0; ok && k < val.n; k++) {
			if (!is_digit(val.p[k]))
				ok = false;
			else
				v = v * 10 + (uint64_t)(val.p[k] - '0');
		}
		if (ok)
			m->id = v;
		else
			m->id = UINT64_MAX;
	} else if (span_is(key, "result")) {
		m->has_result = true;
		m->result = val;
	} else if (span_is(key, "error")) {
		m->has_error = true;
		m->error = val;
	} else if (span_is(key, "method")) {
		m->has_method = true;
	}
}

const char *rpc_parse(const char *s, size_t n, struct rpc_msg *m)
{
	memset(m, 0, sizeof(*m));
	size_t i = skip_ws(s, n, 0);
	size_t end;
	if (i >= n)
		return "empty line";
	if (s[i] != '{')
		return "not a JSON object";
	const char *why = scan_object(s, n, i, &end, msg_member, m);
	if (why)
		return why;
	if (skip_ws(s, n, end) != n)
		return "unexpected data after the JSON object";
	if (!m->has_id)
		return "no \"id\" member";
	if (m->has_result && m->has_error)
		return "both \"result\" and \"error\"";
	if (!m->has_result && !m->has_error)
		return m->has_method ? "a request, not a response (workers "
				       "answer; they do not call)"
				     : "neither \"result\" nor \"error\"";
	if (m->has_error && m->error.n && m->error.p[0] == '{') {
		size_t e;
		(void)scan_object(m->error.p, m->error.n, 0, &e, error_member,
				  m);
	}
	return NULL;
}

struct find_member {
	const char *key;
	struct span found;
	bool hit;
};

static void find_member_cb(void *ctx, struct span key, struct span val)
{
	struct find_member *f = ctx;
	if (!f->hit && span_is(key, f->key)) {
		f->found = val;
		f->hit = true;
	}
}

const char *json_object_each(const char *s, size_t n,
			     void (*member)(void *ctx, struct span key,
					    struct span val),
			     void *ctx)
{
	size_t end;
	const char *why =
		scan_object(s, n, skip_ws(s, n, 0), &end, member, ctx);
	if (why)
		return why;
	if (skip_ws(s, n, end) != n)
		return "invalid JSON (data after the object)";
	return NULL;
}

bool json_member(const char *s, size_t n, const char *key, struct span *out)
{
	struct find_member f = {key, {NULL, 0}, false};
	size_t end;
	if (scan_object(s, n, skip_ws(s, n, 0), &end, find_member_cb, &f) ||
	    !f.hit)
		return false;
	*out = f.found;
	return true;
}

long json_elements(const char *s, size_t n, struct span *out, size_t max)
{
	struct json_error err;
	size_t i = skip_ws(s, n, 0);
	if (i >= n || s[i] != '[')
		return -1;
	i = skip_ws(s, n, i + 1);
	size_t k = 0;
	if (i < n && s[i] == ']')
		return skip_ws(s, n, i + 1) == n ? 0 : -1;
	for (;;) {
		size_t end = json_scan_value(s, n, i, &err);
		if (end == (size_t)-1)
			return -1;
		if (k == max)
			return -2;
		out[k++] = (struct span){s + i, end - i};
		i = skip_ws(s, n, end);
		if (i < n && s[i] == ',') {
			i = skip_ws(s, n, i + 1);
			continue;
		}
		if (i < n && s[i] == ']')
			return skip_ws(s, n, i + 1) == n ? (long)k : -1;
		return -1;
	}
}

bool json_element(const char *s, size_t n, size_t idx, struct span *out)
{
	struct json_error err;
	size_t i = skip_ws(s, n, 0);
	if (i >= n || s[i] != '[')
		return false;
	i = skip_ws(s, n, i + 1);
	for (size_t k = 0; i < n && s[i] != ']'; k++) {
		size_t end = json_scan_value(s, n, i, &err);
		if (end == (size_t)-1)
			return false;
		if (k == idx) {
			*out = (struct span){s + i, end - i};
			return true;
		}
		i = skip_ws(s, n, end);
		if (i < n && s[i] == ',')
			i = skip_ws(s, n, i + 1);
	}
	return false;
}
