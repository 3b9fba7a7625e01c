/* test_loop.c - the event loop with the backend this build waits with
 * (epoll on Linux); the tests are in loop_suite.h. */
#define _GNU_SOURCE
#include "loop_suite.h"
