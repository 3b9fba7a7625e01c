/* fuzz_rpc.c - the JSON-RPC answer reader: never crashes, and what it
 * accepts has an id, exactly one of result and error, and spans that lie
 * inside the line and hold valid JSON. */
#include "jsonscan.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_rpc: check failed: %s\n", #c);   \
			abort();                                               \
		}                                                              \
	} while (0)

static int inside(struct span sp, const char *p, size_t n)
{
	return sp.n == 0 || (sp.p >= p && sp.n <= n && sp.p + sp.n <= p + n);
}

static int valid(struct span sp)
{
	struct json_error e;
	return json_check(sp.p, sp.n, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct rpc_msg m;
	const char *why = rpc_parse(s, size, &m);
	if (why) {
		CHECK(why[0]);
	} else {
		CHECK(m.has_id);
		CHECK(m.has_result != m.has_error);
		if (m.has_result) {
			CHECK(inside(m.result, s, size) && m.result.n > 0);
			CHECK(valid(m.result));
		} else {
			CHECK(inside(m.error, s, size) && m.error.n > 0);
			CHECK(valid(m.error));
			CHECK(inside(m.err_message, m.error.p, m.error.n));
			CHECK(inside(m.err_code, m.error.p, m.error.n));
			CHECK(inside(m.err_data, m.error.p, m.error.n));
			CHECK(!m.err_message.n || valid(m.err_message));
			CHECK(!m.err_code.n || valid(m.err_code));
			CHECK(!m.err_data.n || valid(m.err_data));
		}
	}

	/* The codec on top: decoding and error texts never crash. */
	struct answer a;
	why = proto_spool.decode(s, size, &a);
	if (!why) {
		CHECK(a.id != UINT64_MAX);
		CHECK(inside(a.value, s, size));
		struct buf b = BUF_INIT;
		if (a.kind == ANS_ERROR) {
			proto_error_text(&a, &b);
			proto_error_detail(&a, &b);
		}
		buf_release(&b);
	}
	/* Framing splices the bytes in whole, whatever they are. */
	struct buf f = BUF_INIT;
	uint64_t id = size * 7919u;
	proto_spool.frame_task(&f, id, s, size);
	size_t digits = 1;
	for (uint64_t v = id; v >= 10; v /= 10)
		digits++;
	CHECK(f.len == 55 + digits + size);
	CHECK(memcmp(f.p + 52 + digits, s, size) == 0);
	CHECK(memcmp(f.p + f.len - 3, "]}\n", 3) == 0);
	buf_release(&f);
	return 0;
}
