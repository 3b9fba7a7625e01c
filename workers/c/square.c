/* square.c - the square worker in C: spawned with gpu_ids, squares x.
 *
 * The C twin of workers/examples/square/square_worker.py (see
 * workers/examples/square/pool-c.json):
 *
 *	spawn {"gpu_ids": [0, 1]}  (or positional: [[0, 1]])
 *	      -> {"gpu_ids": [0, 1], "pid": 1234}
 *	task  {"x": 3}  -> {"x": 3, "square": 9, "gpus": [0, 1]}
 *	task  {"x": "four"}  -> an error answer: that task fails, the worker
 *	                       goes on
 */
#include "spool_worker.h"

struct square {
	cJSON *gpu_ids;
};

static cJSON *square_spawn(struct spool_worker *sw, cJSON *params)
{
	static struct square sq;
	cJSON *ids =
		cJSON_IsArray(params)
			? cJSON_GetArrayItem(params, 0)
			: cJSON_GetObjectItemCaseSensitive(params, "gpu_ids");
	if (!cJSON_IsArray(ids))
		return spool_worker_fail(sw, SPOOL_ERR_PARAMS, NULL,
					 "spawn needs gpu_ids, an array of "
					 "device numbers");
	sq.gpu_ids = cJSON_Duplicate(ids, true);
	sw->user = &sq;
	/* Goes to stderr: stdout belongs to the protocol. */
	printf("square: pid %d loaded on %d GPU(s)\n", (int)getpid(),
	       cJSON_GetArraySize(ids));

	cJSON *result = cJSON_CreateObject();
	cJSON_AddItemToObject(result, "gpu_ids", cJSON_Duplicate(ids, true));
	cJSON_AddNumberToObject(result, "pid", (double)getpid());
	return result;
}

static cJSON *square_execute(struct spool_worker *sw, cJSON *task)
{
	const struct square *sq = sw->user;
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(task, "x");
	if (!cJSON_IsNumber(x)) {
		cJSON *data = cJSON_CreateObject();
		cJSON_AddItemToObject(data, "x",
				      x ? cJSON_Duplicate(x, true)
					: cJSON_CreateNull());
		return spool_worker_fail(sw, SPOOL_ERR_PARAMS, data,
					 "x must be a number");
	}
	cJSON *result = cJSON_CreateObject();
	cJSON_AddNumberToObject(result, "x", x->valuedouble);
	cJSON_AddNumberToObject(result, "square",
				x->valuedouble * x->valuedouble);
	cJSON_AddItemToObject(result, "gpus",
			      sq ? cJSON_Duplicate(sq->gpu_ids, true)
				 : cJSON_CreateNull());
	return result;
}

int main(void)
{
	return spool_worker_run(square_spawn, square_execute, NULL);
}
