/* test_idq.c - the fixed-capacity deque of slot numbers. */
#include "idq.h"
#include "testhelp.h"

/* The queue's contents, front to back, as text: "1 2 _ 4" (_ a hole). */
static const char *show(const struct idq *q)
{
	static char out[512];
	size_t o = 0;
	out[0] = '\0';
	for (uint32_t i = 0; i < q->len && o + 12 < sizeof(out); i++) {
		uint32_t v = idq_at(q, i);
		if (v == IDQ_HOLE)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s_",
					      i ? " " : "");
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%u",
					      i ? " " : "", v);
	}
	return out;
}

#define TEST_Q(q, want, name) TEST_STR(show(q), strlen(show(q)), (want), (name))

static void test_basic(void)
{
	struct idq q;
	idq_init(&q, 4);
	TEST(q.len == 0 && q.cap == 4, "init: empty, capacity 4");
	idq_push_back(&q, 1);
	idq_push_back(&q, 2);
	idq_push_back(&q, 3);
	TEST_Q(&q, "1 2 3", "push_back keeps order");
	TEST(idq_at(&q, 0) == 1 && idq_at(&q, 2) == 3, "idq_at");
	TEST(idq_pop_front(&q) == 1, "pop_front gives the oldest");
	TEST_Q(&q, "2 3", "after pop_front");
	idq_push_back(&q, 4);
	idq_push_back(&q, 5);
	TEST(q.len == 4 && q.head == 1, "full, with the head moved");
	TEST_Q(&q, "2 3 4 5", "push_back wraps around the end of the array");
	TEST(idq_pop_back(&q) == 5, "pop_back gives the newest (wrapped)");
	TEST(idq_pop_back(&q) == 4, "pop_back again");
	TEST_Q(&q, "2 3", "after pop_back");
	idq_push_front(&q, 9);
	TEST_Q(&q, "9 2 3", "push_front");
	TEST(idq_pop_front(&q) == 9 && idq_pop_front(&q) == 2 &&
		     idq_pop_front(&q) == 3,
	     "drained in order");
	TEST(q.len == 0, "empty again");
	/* head at 0: push_front wraps to the last cell. */
	idq_release(&q);
	idq_init(&q, 3);
	idq_push_front(&q, 7);
	TEST(q.head == 2 && q.len == 1 && idq_at(&q, 0) == 7,
	     "push_front at head 0 wraps to the end");
	idq_push_back(&q, 8);
	idq_push_front(&q, 6);
	TEST_Q(&q, "6 7 8", "push_front and push_back around the wrap");
	idq_set(&q, 1, 70);
	TEST_Q(&q, "6 70 8", "idq_set");
	idq_release(&q);
	TEST(q.v == NULL && q.cap == 0 && q.len == 0, "release");

	idq_init(&q, 0);
	TEST(q.cap == 1, "capacity 0 becomes 1");
	idq_push_back(&q, 42);
	TEST(idq_pop_front(&q) == 42 && q.len == 0, "a one-cell queue works");
	idq_push_back(&q, 43);
	TEST(idq_pop_back(&q) == 43, "a one-cell queue, pop_back");
	idq_release(&q);
}

static void test_holes(void)
{
	struct idq q;
	idq_init(&q, 6);
	for (uint32_t i = 1; i <= 6; i++)
		idq_push_back(&q, i);
	idq_set(&q, 0, IDQ_HOLE);
	idq_set(&q, 2, IDQ_HOLE);
	idq_set(&q, 5, IDQ_HOLE);
	TEST_Q(&q, "_ 2 _ 4 5 _", "holes set");
	idq_trim(&q);
	TEST_Q(&q, "2 _ 4 5", "trim drops holes at both ends only");
	TEST(q.head == 1, "trim moved the head past the front hole");
	idq_compact(&q);
	TEST_Q(&q, "2 4 5", "compact removes the middle hole, keeping order");
	idq_set(&q, 0, IDQ_HOLE);
	idq_set(&q, 1, IDQ_HOLE);
	idq_set(&q, 2, IDQ_HOLE);
	idq_trim(&q);
	TEST(q.len == 0, "trim of all holes empties the queue");
	idq_compact(&q);
	TEST(q.len == 0, "compact of an empty queue");
	idq_release(&q);

	/* Compact across the wrap: head near the end of the array. */
	idq_init(&q, 5);
	for (uint32_t i = 0; i < 4; i++)
		idq_push_back(&q, 100 + i);
	for (int i = 0; i < 4; i++)
		(void)idq_pop_front(&q);
	for (uint32_t i = 1; i <= 5; i++)
		idq_push_back(&q, i);
	TEST(q.head == 4, "head near the end of the array");
	idq_set(&q, 1, IDQ_HOLE);
	idq_set(&q, 3, IDQ_HOLE);
	idq_compact(&q);
	TEST_Q(&q, "1 3 5", "compact across the wrap");

	/* A full queue with a hole makes room for one more by compacting. */
	idq_push_back(&q, 6);
	idq_push_back(&q, 7);
	TEST(q.len == 5, "full again");
	idq_set(&q, 2, IDQ_HOLE);
	idq_push_back(&q, 8);
	TEST_Q(&q, "1 3 6 7 8",
	       "push_back on a full queue with a hole compacts first");
	idq_release(&q);
}

/* Against a simple model: random operations on both. */
static void test_model(void)
{
	uint32_t model[64];
	uint32_t mlen = 0;
	struct idq q;
	idq_init(&q, 64);
	uint64_t r = 12345;
	bool same = true;
	for (int step = 0; step < 100000 && same; step++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		uint32_t op = (uint32_t)(r >> 33) % 6;
		uint32_t val = (uint32_t)(r >> 20) & 0xffff;
		if (op == 0 && mlen < 64) {
			idq_push_back(&q, val);
			model[mlen++] = val;
		} else if (op == 1 && mlen < 64) {
			idq_push_front(&q, val);
			memmove(model + 1, model, mlen * sizeof(*model));
			model[0] = val;
			mlen++;
		} else if (op == 2 && mlen) {
			same = idq_pop_front(&q) == model[0];
			memmove(model, model + 1, --mlen * sizeof(*model));
		} else if (op == 3 && mlen) {
			same = idq_pop_back(&q) == model[--mlen];
		} else if (op == 4 && mlen) {
			/* Remove from the middle, as a finished task is. */
			uint32_t i = val % mlen;
			idq_set(&q, i, IDQ_HOLE);
			model[i] = IDQ_HOLE;
			idq_trim(&q);
			while (mlen && model[0] == IDQ_HOLE)
				memmove(model, model + 1,
					--mlen * sizeof(*model));
			while (mlen && model[mlen - 1] == IDQ_HOLE)
				mlen--;
		} else if (op == 5) {
			idq_compact(&q);
			uint32_t o = 0;
			for (uint32_t i = 0; i < mlen; i++)
				if (model[i] != IDQ_HOLE)
					model[o++] = model[i];
			mlen = o;
		}
		same = same && q.len == mlen;
		for (uint32_t i = 0; same && i < mlen; i++)
			same = idq_at(&q, i) == model[i];
	}
	TEST(same, "100000 random operations agree with a model");
	idq_release(&q);
}

int main(void)
{
	test_basic();
	test_holes();
	test_model();
	return test_done();
}
