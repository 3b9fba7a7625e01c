/* fuzz_config.c - the pool config parser: any bytes give either a config
 * that keeps every promise of config.h or one message naming the file. */
#include "config.h"
#include "jsonscan.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz_config: check failed: %s\n",     \
				#c);                                           \
			abort();                                               \
		}                                                              \
	} while (0)

static void expand(const char *s, const struct worker_spec *w)
{
	char *x = config_expand(s, 12, 3, w->name);
	CHECK(x != NULL);
	free(x);
}

/* No key of the object o is written twice. */
static bool keys_unique(const cJSON *o)
{
	if (!cJSON_IsObject(o))
		return true;
	for (const cJSON *a = o->child; a; a = a->next)
		for (const cJSON *b = a->next; b; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return false;
	return true;
}

/* An accepted config repeats no key in any object spool reads (spawn is
 * the worker's, passed on as written). */
static void check_unique(const uint8_t *data, size_t size)
{
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);
	CHECK(root && keys_unique(root));
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(root, "workers"))
	{
		CHECK(keys_unique(w));
		CHECK(keys_unique(cJSON_GetObjectItemCaseSensitive(w, "env")));
	}
	cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = config_parse(&cfg, (const char *)data, size, "fuzz.json",
			     "/base", &err);
	if (r != 0) {
		CHECK(r == -1);
		CHECK(err.len > 10 && memcmp(err.p, "fuzz.json", 9) == 0);
		config_release(&cfg);
		buf_release(&err);
		return 0;
	}
	CHECK(cfg.nspecs >= 1 && cfg.specs);
	CHECK(cfg.order >= -1 && cfg.order <= 1);
	CHECK(cfg.queue_size >= 0 && cfg.retries >= -1);
	long total = 0;
	for (size_t i = 0; i < cfg.nspecs; i++) {
		const struct worker_spec *w = &cfg.specs[i];
		CHECK(w->ncmd >= 1 && w->cmd && w->cmd[0] && w->cmd[0][0]);
		CHECK(w->cmd[w->ncmd] == NULL);
		for (size_t k = 0; k < w->ncmd; k++) {
			CHECK(w->cmd[k] != NULL);
			expand(w->cmd[k], w);
		}
		if (strchr(w->cmd[0], '/'))
			CHECK(w->cmd[0][0] == '/');
		CHECK(w->name && w->name[0] && !strpbrk(w->name, "\n\t"));
		/* 0: a spec that spool serve's add_worker starts. */
		CHECK(w->replicas >= 0 && w->replicas <= 1024);
		total += w->replicas;
		CHECK(w->inflight >= 0);
		CHECK(w->timeout >= 0 && w->startup_timeout >= 0 &&
		      w->max_tasks >= 0);
		CHECK(!(w->ready == READY_LINE && w->protocol == PROTO_SPOOL));
		struct json_error e;
		CHECK(w->spawn_json &&
		      json_check(w->spawn_json, strlen(w->spawn_json), &e));
		CHECK(w->spawn_json[0] == '{' || w->spawn_json[0] == '[');
		for (size_t k = 0; k < w->nenv; k++) {
			CHECK(w->env[k].key && w->env[k].key[0] &&
			      !strchr(w->env[k].key, '='));
			CHECK(w->env[k].val);
			expand(w->env[k].val, w);
		}
		if (w->cwd) {
			CHECK(w->cwd[0] == '/');
			expand(w->cwd, w);
		}
	}
	CHECK(total <= 4096);
	check_unique(data, size);
	config_release(&cfg);
	buf_release(&err);
	return 0;
}
