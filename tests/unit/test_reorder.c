/* test_reorder.c - releasing outputs in input order (-k). */
#include "reorder.h"
#include "testhelp.h"

static void test_basic(void)
{
	struct reorder r;
	reorder_init(&r, 8);
	TEST(reorder_pop(&r) == IDQ_HOLE, "empty: nothing to pop");
	for (uint32_t s = 0; s < 5; s++)
		reorder_push(&r, s);
	TEST(reorder_is_head(&r, 0) && !reorder_is_head(&r, 1),
	     "the first pushed is the head");
	TEST(!reorder_done(&r, 2),
	     "a later task finishing first is not the head");
	TEST(reorder_pop(&r) == IDQ_HOLE, "nothing to pop while the head runs");
	TEST(!reorder_done(&r, 3), "another later one");
	TEST(reorder_done(&r, 0), "the head finishing is the head");
	TEST(reorder_pop(&r) == 0, "pop: the head");
	TEST(reorder_pop(&r) == IDQ_HOLE, "then wait: slot 1 still runs");
	TEST(reorder_is_head(&r, 1), "slot 1 is the head now");
	TEST(reorder_done(&r, 1), "slot 1 finishes");
	TEST(reorder_pop(&r) == 1, "pop 1");
	TEST(reorder_pop(&r) == 2, "pop 2 (finished earlier)");
	TEST(reorder_pop(&r) == 3, "pop 3 (finished earlier)");
	TEST(reorder_pop(&r) == IDQ_HOLE, "4 still runs");
	/* Slots are reused once popped. */
	reorder_push(&r, 0);
	reorder_push(&r, 2);
	TEST(!reorder_done(&r, 0), "a reused slot waits behind older tasks");
	TEST(reorder_pop(&r) == IDQ_HOLE, "nothing before 4");
	TEST(reorder_done(&r, 4), "4 finishes: head");
	TEST(reorder_pop(&r) == 4 && reorder_pop(&r) == 0,
	     "4, then the reused slot 0");
	TEST(reorder_pop(&r) == IDQ_HOLE, "2 still runs");
	TEST(reorder_done(&r, 2) && reorder_pop(&r) == 2, "2 last");
	TEST(reorder_pop(&r) == IDQ_HOLE && r.q.len == 0, "empty at the end");
	reorder_release(&r);
}

/* Reusing a slot clears its finished mark from the previous task. */
static void test_reuse_clears(void)
{
	struct reorder r;
	reorder_init(&r, 2);
	reorder_push(&r, 0);
	reorder_push(&r, 1);
	(void)reorder_done(&r, 0);
	TEST(reorder_pop(&r) == 0, "slot 0 out");
	reorder_push(&r, 0);
	TEST(reorder_done(&r, 1) && reorder_pop(&r) == 1, "slot 1 out");
	TEST(reorder_pop(&r) == IDQ_HOLE,
	     "the reused slot 0 is not finished yet");
	reorder_release(&r);
}

/* Many tasks through a window of slots, finishing in random order: the
 * popped order is the pushed order. */
static void test_random(void)
{
	enum { SLOTS = 32, TASKS = 20000 };
	struct reorder r;
	reorder_init(&r, SLOTS);
	uint32_t free_slots[SLOTS], nfree = SLOTS;
	uint32_t running[SLOTS], nrun = 0;
	uint64_t seq_of[SLOTS];
	for (uint32_t i = 0; i < SLOTS; i++)
		free_slots[i] = SLOTS - 1 - i;
	uint64_t next_seq = 0, want_seq = 0, rng = 99;
	bool in_order = true, all_out = true;
	while (want_seq < TASKS && in_order) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		bool start = nfree && next_seq < TASKS && ((rng >> 40) & 1);
		if (start || nrun == 0) {
			if (!nfree || next_seq >= TASKS) {
				all_out = false;
				break;
			}
			uint32_t s = free_slots[--nfree];
			seq_of[s] = next_seq++;
			reorder_push(&r, s);
			running[nrun++] = s;
			continue;
		}
		uint32_t k = (uint32_t)(rng >> 33) % nrun;
		uint32_t s = running[k];
		running[k] = running[--nrun];
		if (!reorder_done(&r, s))
			continue;
		uint32_t out;
		while ((out = reorder_pop(&r)) != IDQ_HOLE) {
			if (seq_of[out] != want_seq++)
				in_order = false;
			free_slots[nfree++] = out;
		}
	}
	TEST(in_order && all_out && want_seq == TASKS,
	     "%d tasks through %d slots, finishing at random, come out in "
	     "order",
	     TASKS, SLOTS);
	reorder_release(&r);
}

int main(void)
{
	test_basic();
	test_reuse_clears();
	test_random();
	return test_done();
}
