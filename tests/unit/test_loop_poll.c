/* test_loop_poll.c - the same tests against the poll(2) backend,
 * whichever one the library was built with: the loop's sources are
 * compiled in here, so the library's own loop objects are not linked. */
#define _GNU_SOURCE
#define SPOOL_LOOP_POLL 1
#define WANT_BACKEND "poll"
#include "../../lib/loop.c"
#include "../../lib/loop_poll.c"
#include "loop_suite.h"
