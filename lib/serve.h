/* serve.h - `spool serve`: the pool as a service (serve.c). */
#ifndef SPOOL_SERVE_H
#define SPOOL_SERVE_H

#include "pool.h"

struct serve;
struct serve_ctx {
	struct serve *s;
};

/* Listen (--listen) or take stdin/stdout as the one client.  Returns 0,
 * or an exit status. */
int serve_setup(struct serve_ctx *sc, struct pool *p,
		const struct spool_opts *o);
/* After the loop: write what clients are still owed (a few seconds). */
void serve_finish(struct serve_ctx *sc);
void serve_release(struct serve_ctx *sc);

#endif
