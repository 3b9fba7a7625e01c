/* test_timer.c - the deadline heap, alone and against a brute-force
 * model of thousands of random operations. */
#include "timer.h"
#include "testhelp.h"

struct owner {
	int id;
	struct timer t;
	int fired;
};

/* Every parent is due no later than its children (ties: set earlier),
 * and every timer knows its slot. */
static bool heap_ok(const struct timer_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++) {
		const struct timer *t = h->v[i];
		if (t->slot != i + 1)
			return false;
		if (i == 0)
			continue;
		const struct timer *p = h->v[(i - 1) / 2];
		if (p->at > t->at || (p->at == t->at && p->seq > t->seq))
			return false;
	}
	return true;
}

static void test_basic(void)
{
	struct timer_heap h;
	timer_heap_init(&h);
	struct owner o[4] = {{0}};
	for (int i = 0; i < 4; i++)
		o[i].id = i;
	TEST(!timer_armed(&o[0].t), "a zeroed timer is disarmed");
	TEST(timer_next(&h) == 0, "an empty heap has no next deadline");
	TEST(timer_pop(&h, 1e9) == NULL, "nothing to pop from an empty heap");
	timer_clear(&h, &o[0].t);
	TEST(timer_count(&h) == 0, "clearing a disarmed timer does nothing");

	timer_set(&h, &o[0].t, 30);
	timer_set(&h, &o[1].t, 10);
	timer_set(&h, &o[2].t, 20);
	TEST(timer_armed(&o[0].t) && timer_armed(&o[1].t), "set arms");
	TEST(timer_count(&h) == 3, "three armed");
	TEST(timer_next(&h) == 10, "next is the earliest (10)");
	TEST(timer_pop(&h, 9.5) == NULL, "nothing due before 10");

	timer_set(&h, &o[0].t, 5);
	TEST(timer_next(&h) == 5 && timer_count(&h) == 3,
	     "moving a timer earlier keeps one entry, next is 5");
	timer_set(&h, &o[0].t, 40);
	TEST(timer_next(&h) == 10 && timer_count(&h) == 3,
	     "moving it later: next is 10 again");
	timer_clear(&h, &o[1].t);
	TEST(!timer_armed(&o[1].t) && timer_next(&h) == 20,
	     "clear disarms and removes it");

	struct timer *t = timer_pop(&h, 25);
	TEST(t == &o[2].t && !timer_armed(t), "pop gives the due timer");
	TEST(timer_owner(t, struct owner, t)->id == 2,
	     "timer_owner finds the struct around it");
	TEST(timer_pop(&h, 25) == NULL, "the one at 40 is not due at 25");
	TEST(timer_pop(&h, 40) == &o[0].t, "a deadline equal to now is due");
	TEST(timer_count(&h) == 0 && timer_next(&h) == 0, "empty again");
	timer_heap_release(&h);
}

static void test_order(void)
{
	struct timer_heap h;
	timer_heap_init(&h);
	struct owner o[8] = {{0}};
	double at[8] = {3, 1, 2, 1, 3, 2, 1, 9};
	for (int i = 0; i < 8; i++) {
		o[i].id = i;
		timer_set(&h, &o[i].t, at[i]);
	}
	/* Deadline order; equal deadlines in the order they were set. */
	int want[7] = {1, 3, 6, 2, 5, 0, 4};
	int got[7], n = 0;
	for (struct timer *t = timer_pop(&h, 3); t; t = timer_pop(&h, 3))
		got[n++] = timer_owner(t, struct owner, t)->id;
	bool same = n == 7;
	for (int i = 0; same && i < 7; i++)
		same = got[i] == want[i];
	TEST(same, "pop takes every due timer in deadline order, ties FIFO");
	TEST(timer_count(&h) == 1 && timer_next(&h) == 9, "the rest stays");

	/* Set again while due: it comes out again, after the others. */
	timer_set(&h, &o[0].t, 5);
	timer_set(&h, &o[1].t, 5);
	int seen = 0;
	for (struct timer *t = timer_pop(&h, 10); t; t = timer_pop(&h, 10)) {
		struct owner *w = timer_owner(t, struct owner, t);
		if (++w->fired == 1 && w->id == 0)
			timer_set(&h, t, 6);
		seen++;
	}
	TEST(seen == 4 && o[0].fired == 2 && o[1].fired == 1 && o[7].fired == 1,
	     "a timer re-armed for a due deadline pops again in the loop");
	timer_heap_release(&h);
}

/* xorshift64*: deterministic, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 33) % n;
}

#define NT 300

/* The model: each timer's state kept plainly, searched every time. */
struct model {
	bool armed[NT];
	double at[NT];
	uint64_t order[NT];
	uint64_t clock;
};

static int model_first(const struct model *m)
{
	int best = -1;
	for (int i = 0; i < NT; i++) {
		if (!m->armed[i])
			continue;
		if (best < 0 || m->at[i] < m->at[best] ||
		    (m->at[i] == m->at[best] && m->order[i] < m->order[best]))
			best = i;
	}
	return best;
}

static void test_random(void)
{
	struct timer_heap h;
	timer_heap_init(&h);
	static struct owner o[NT];
	static struct model m;
	memset(o, 0, sizeof(o));
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < NT; i++)
		o[i].id = i;
	int bad_op = -1;
	const char *what = "";
	uint32_t narmed = 0, max_armed = 0;
	int pops = 0, moves = 0;
	for (int op = 0; op < 50000 && bad_op < 0; op++) {
		uint32_t k = rnd(NT);
		uint32_t kind = rnd(10);
		/* Few distinct deadlines, so ties are common. */
		double at = 1 + rnd(50) * 0.5;
		if (kind < 7) {
			if (m.armed[k])
				moves++;
			else
				narmed++;
			timer_set(&h, &o[k].t, at);
			m.armed[k] = true;
			m.at[k] = at;
			m.order[k] = m.clock++;
		} else if (kind < 8) {
			if (m.armed[k])
				narmed--;
			timer_clear(&h, &o[k].t);
			m.armed[k] = false;
		} else {
			double now = 1 + rnd(60) * 0.25;
			for (;;) {
				int want = model_first(&m);
				if (want >= 0 && m.at[want] > now)
					want = -1;
				struct timer *t = timer_pop(&h, now);
				int got =
					t ? timer_owner(t, struct owner, t)->id
					  : -1;
				if (got != want) {
					bad_op = op;
					what = "pop order";
					break;
				}
				if (want < 0)
					break;
				m.armed[want] = false;
				narmed--;
				pops++;
			}
		}
		if (narmed > max_armed)
			max_armed = narmed;
		int first = model_first(&m);
		double want_next = first >= 0 ? m.at[first] : 0;
		if (bad_op < 0 && timer_next(&h) != want_next) {
			bad_op = op;
			what = "next";
		}
		if (bad_op < 0 && (timer_count(&h) != narmed || !heap_ok(&h))) {
			bad_op = op;
			what = "heap shape";
		}
		for (int i = 0; bad_op < 0 && i < NT; i++)
			if (timer_armed(&o[i].t) != m.armed[i] ||
			    (m.armed[i] && o[i].t.at != m.at[i])) {
				bad_op = op;
				what = "armed state";
			}
	}
	TEST(bad_op < 0, "50000 random set/move/clear/pop ops match the model");
	if (bad_op >= 0)
		printf("#   first difference at op %d: %s\n", bad_op, what);
	TEST(max_armed > NT / 3 && pops > 2000 && moves > 2000,
	     "the random walk exercised a full heap, pops and moves "
	     "(max %u armed, %d pops, %d moves)",
	     max_armed, pops, moves);
	timer_heap_release(&h);
}

int main(void)
{
	test_basic();
	test_order();
	test_random();
	return test_done();
}
