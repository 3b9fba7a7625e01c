/* test_config.c - pool config parsing: every key, the defaults, and an
 * exact message for every way a config can be wrong. */
#define _GNU_SOURCE
#include "config.h"
#include "jsonscan.h"
#include "testhelp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define LABEL "pool.json"
#define DIR "/srv/pools"

static int parse(struct pool_config *cfg, const char *text, struct buf *err)
{
	/* An exact-size copy: the parser must not need a terminating NUL. */
	size_t n = strlen(text);
	char *copy = xmalloc(n ? n : 1);
	memcpy(copy, text, n);
	buf_reset(err);
	int r = config_parse(cfg, copy, n, LABEL, DIR, err);
	free(copy);
	return r;
}

static const char *full_config =
	"{\n"
	"  \"workers\": [\n"
	"    {\n"
	"      \"name\": \"embed\",\n"
	"      \"cmd\": [\"python3\", \"embed_worker.py\", \"--model\", "
	"\"small\"],\n"
	"      \"protocol\": \"spool\",\n"
	"      \"spawn\": { \"gpu_ids\": [0, 1] },\n"
	"      \"env\": {\"CUDA_VISIBLE_DEVICES\": \"0,1\", \"N\": 3, \"F\": "
	"1.5},\n"
	"      \"cwd\": \"work/{name}\",\n"
	"      \"replicas\": 2,\n"
	"      \"inflight\": 4,\n"
	"      \"timeout\": 30.5,\n"
	"      \"startup_timeout\": 120,\n"
	"      \"max_tasks\": 1000\n"
	"    },\n"
	"    { \"cmd\": [\"./bin/w\", \"a/b\"], \"ready\": \"line\", "
	"\"inflight\": \"auto\",\n"
	"      \"spawn\": [1, \"two\"], \"cwd\": \"/abs\", \"timeout\": 0 },\n"
	"    { \"cmd\": [\"/usr/bin/jq\"], \"protocol\": \"lines\", \"ready\": "
	"\"start\" }\n"
	"  ],\n"
	"  \"order\": \"input\",\n"
	"  \"queue_size\": 4096,\n"
	"  \"retries\": 0\n"
	"}\n";

static void test_full(void)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg, full_config, &err);
	if (!TEST(r == 0, "a config with every key parses")) {
		printf("#   %.*s\n", (int)err.len, err.p);
		buf_release(&err);
		config_release(&cfg);
		return;
	}
	TEST(strcmp(cfg.label, LABEL) == 0, "label kept");
	TEST(cfg.nspecs == 3, "three specs");
	TEST(cfg.order == 1 && cfg.queue_size == 4096 && cfg.retries == 0,
	     "order, queue_size, retries");

	struct worker_spec *w = &cfg.specs[0];
	TEST(strcmp(w->name, "embed") == 0, "name");
	TEST(w->ncmd == 4 && strcmp(w->cmd[0], "python3") == 0 &&
		     strcmp(w->cmd[1], "embed_worker.py") == 0 &&
		     strcmp(w->cmd[3], "small") == 0 && w->cmd[4] == NULL,
	     "cmd: argv, NULL-terminated, cmd[0] without '/' as is");
	TEST(w->protocol == PROTO_SPOOL, "protocol spool");
	TEST(strcmp(w->spawn_json, "{\"gpu_ids\":[0,1]}") == 0,
	     "spawn as compact JSON");
	TEST(w->nenv == 3 &&
		     strcmp(w->env[0].key, "CUDA_VISIBLE_DEVICES") == 0 &&
		     strcmp(w->env[0].val, "0,1") == 0,
	     "env string");
	TEST(w->nenv == 3 && strcmp(w->env[1].key, "N") == 0 &&
		     strcmp(w->env[1].val, "3") == 0,
	     "env integer as its decimal text");
	TEST(w->nenv == 3 && strcmp(w->env[2].val, "1.5") == 0, "env number");
	TEST(w->cwd && strcmp(w->cwd, DIR "/work/{name}") == 0,
	     "relative cwd resolved against the config's directory");
	TEST(w->replicas == 2 && w->inflight == 4 && w->inflight_set,
	     "replicas, inflight");
	TEST(w->timeout == 30.5 && w->timeout_set, "timeout");
	TEST(w->startup_timeout == 120, "startup_timeout");
	TEST(w->max_tasks == 1000, "max_tasks");
	TEST(w->ready == READY_START, "ready defaults to start");

	w = &cfg.specs[1];
	TEST(strcmp(w->cmd[0], DIR "/./bin/w") == 0 ||
		     strcmp(w->cmd[0], DIR "/bin/w") == 0,
	     "cmd[0] with '/' resolved against the config's directory");
	TEST(strcmp(w->cmd[1], "a/b") == 0,
	     "later argv entries are not resolved");
	TEST(strcmp(w->name, "w") == 0,
	     "name defaults to the basename of cmd[0]");
	TEST(w->ready == READY_LINE, "ready line");
	TEST(w->inflight == 0 && w->inflight_set, "inflight auto is 0");
	TEST(strcmp(w->spawn_json, "[1,\"two\"]") == 0, "spawn array");
	TEST(w->cwd && strcmp(w->cwd, "/abs") == 0, "absolute cwd kept");
	TEST(w->timeout == 0 && w->timeout_set, "timeout 0 is set (none)");
	TEST(w->protocol == PROTO_LINES, "protocol defaults to lines");

	w = &cfg.specs[2];
	TEST(strcmp(w->cmd[0], "/usr/bin/jq") == 0, "absolute cmd[0] kept");
	TEST(strcmp(w->name, "jq") == 0, "name from an absolute cmd[0]");
	TEST(w->protocol == PROTO_LINES && w->ready == READY_START,
	     "lines, start");
	config_release(&cfg);
	buf_release(&err);
}

/* "replicas": 0 makes a spec a template (spool serve's add_worker). */
static void test_template(void)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg, "{\"workers\":[{\"cmd\":[\"a\"],\"replicas\":0}]}",
		      &err);
	TEST(r == 0 && cfg.specs[0].replicas == 0,
	     "replicas 0: a template, accepted");
	if (r == 0) {
		struct worker_spec one;
		struct buf e2 = BUF_INIT;
		const char *add = "{\"spawn\":{\"gpu\":1},\"name\":\"g\"}";
		TEST(config_spec_from_json(&cfg, &cfg.specs[0], add, strlen(add),
					   &one, &e2) == 0,
		     "a spec over the template");
		TEST(strcmp(one.name, "g") == 0 && one.ncmd == 1 &&
			     strcmp(one.cmd[0], "a") == 0 &&
			     strcmp(one.spawn_json, "{\"gpu\":1}") == 0 &&
			     one.replicas == 1,
		     "  its keys over the template's");
		config_spec_release(&one);
		const char *bad = "{\"replicas\":\"x\",\"nope\":1}";
		TEST(config_spec_from_json(&cfg, &cfg.specs[0], bad,
					   strlen(bad), &one, &e2) == -1,
		     "a bad key is refused");
		buf_release(&e2);
		config_release(&cfg);
	}
	buf_release(&err);
}

static void test_defaults(void)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg,
		      "{\"workers\":[{\"cmd\":[\"sed\",\"-u\",\"s/a/b/\"]}]}",
		      &err);
	TEST(r == 0, "a minimal config parses");
	if (r == 0) {
		struct worker_spec *w = &cfg.specs[0];
		TEST(strcmp(w->name, "sed") == 0,
		     "default name: basename of cmd[0]");
		TEST(w->replicas == 1, "default replicas 1");
		TEST(w->startup_timeout == 60, "default startup_timeout 60");
		TEST(w->inflight == 0 && !w->inflight_set,
		     "default inflight auto (0)");
		TEST(strcmp(w->spawn_json, "{}") == 0, "default spawn {}");
		TEST(w->timeout == 0 && !w->timeout_set,
		     "default timeout none");
		TEST(w->max_tasks == 0, "default max_tasks 0");
		TEST(w->cwd == NULL, "default cwd: none (spool's own)");
		TEST(w->nenv == 0, "no env");
		TEST(w->protocol == PROTO_LINES && w->ready == READY_START,
		     "default protocol lines, ready at start");
		TEST(cfg.order == -1 && cfg.queue_size == 0 &&
			     cfg.retries == -1,
		     "run settings unset");
	}
	config_release(&cfg);

	/* dir "." (a config in the current directory): relative paths are
	 * made absolute, so a worker's cwd cannot change what cmd[0] names. */
	const char *text =
		"{\"workers\":[{\"cmd\":[\"./w.sh\"],\"cwd\":\"sub\"}]}";
	r = config_parse(&cfg, text, strlen(text), "p.json", ".", &err);
	{
		char *cwd = getcwd(NULL, 0);
		char *want_cmd = xasprintf("%s/./w.sh", cwd);
		char *want_cwd = xasprintf("%s/sub", cwd);
		TEST(r == 0 && strcmp(cfg.specs[0].cmd[0], want_cmd) == 0 &&
			     strcmp(cfg.specs[0].cwd, want_cwd) == 0,
		     "dir \".\": relative paths made absolute from the current "
		     "directory");
		free(cwd);
		free(want_cmd);
		free(want_cwd);
	}
	TEST(r == 0 && strcmp(cfg.specs[0].name, "w.sh") == 0,
	     "name from ./w.sh");
	config_release(&cfg);
	r = config_parse(&cfg, text, strlen(text), "p.json", "/", &err);
	TEST(r == 0 && strstr(cfg.specs[0].cmd[0], "w.sh") &&
		     cfg.specs[0].cmd[0][0] == '/',
	     "dir \"/\": cmd[0] resolved under / (%s)",
	     r == 0 ? cfg.specs[0].cmd[0] : "");
	config_release(&cfg);
	buf_release(&err);
}

/* A spec inside a valid pool, as the second of two, so places say [1]. */
static char *spec1(const char *members)
{
	return xasprintf("{\"workers\":[{\"cmd\":[\"a\"]},{%s}]}", members);
}

static void expect_err_todo(const char *text, const char *want, int todo)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg, text, &err);
	TEST(r == -1, "rejected: %s", want);
	if (r == -1)
		th_str(err.p, err.len, want, todo, __FILE__, __LINE__,
		       "  message");
	config_release(&cfg);
	buf_release(&err);
}

static void expect_err(const char *text, const char *want)
{
	expect_err_todo(text, want, 0);
}

static void expect_spec_err(const char *members, const char *want)
{
	char *text = spec1(members);
	expect_err(text, want);
	free(text);
}

static void test_errors(void)
{
	/* Not JSON: line and column. */
	expect_err("",
		   LABEL ":1:1: invalid JSON: empty (expected a JSON value)");
	expect_err(
		"{\n  \"workers\": [,]\n}", LABEL
		":2:15: invalid JSON: unexpected character (expected a value)");
	expect_err("{\"workers\": [{\"cmd\": [\"a\"]}]}\n\n  x", LABEL
		   ":3:3: invalid JSON: unexpected data after the JSON value");
	expect_err("{\"workers\": [{\"cmd\": [\"a\"]}]",
		   LABEL ":1:29: invalid JSON: unexpected end of input "
			 "(unclosed object)");
	expect_err("{\n\"a\":\"\xff\"}",
		   LABEL ":2:6: invalid JSON: invalid UTF-8");
	expect_err("{\"workers\": [{\"cmd\": [\"a\"],}]}", LABEL
		   ":1:28: invalid JSON: expected a string key in object");
	expect_err(
		"// comment\n{}", LABEL
		":1:1: invalid JSON: unexpected character (expected a value)");

	/* Top level. */
	expect_err("[]", LABEL ": top level: expected an object with a "
			       "\"workers\" array, got []");
	expect_err("\"x\"", LABEL ": top level: expected an object with a "
				  "\"workers\" array, got \"x\"");
	expect_err("{}", LABEL
		   ": workers: missing (a non-empty array of worker specs)");
	expect_err("{\"workers\":[]}", LABEL ": workers: expected a non-empty "
					     "array of worker specs, got []");
	expect_err("{\"workers\":{\"cmd\":[\"a\"]}}",
		   LABEL ": workers: expected a non-empty array of worker "
			 "specs, got {\"cmd\":[\"a\"]}");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"jobs\":2}",
		   LABEL ": jobs: unknown key (known: workers, order, "
			 "queue_size, retries, order_buffer)");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"order\":\"random\"}",
		   LABEL ": order: expected \"input\" or \"completion\", got "
			 "\"random\"");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"order\":1}", LABEL
		   ": order: expected \"input\" or \"completion\", got 1");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"queue_size\":0}",
		   LABEL ": queue_size: expected an integer >= 1, got 0");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"queue_size\":\"big\"}",
		   LABEL ": queue_size: expected an integer >= 1, got \"big\"");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"retries\":-1}", LABEL
		   ": retries: expected an integer from 0 to 1000, got -1");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"retries\":1.5}", LABEL
		   ": retries: expected an integer from 0 to 1000, got 1.5");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"retries\":1001}", LABEL
		   ": retries: expected an integer from 0 to 1000, got 1001");

	/* A spec. */
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]},5]}",
		   LABEL ": workers[1]: expected an object with at least "
			 "\"cmd\", got 5");
	expect_spec_err(
		"\"name\":\"x\"",
		LABEL ": workers[1]: missing \"cmd\" (the worker's argv, e.g. "
		      "[\"python3\", \"worker.py\"])");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"gpu\":1", LABEL
		": workers[1].gpu: unknown key (known: name, cmd, protocol, "
		"spawn, env, cwd, replicas, inflight, timeout, "
		"startup_timeout, "
		"max_tasks, ready, buffered, batch, hosts, launcher, slurm)");
	expect_spec_err(
		"\"cmd\":\"python3 w.py\"",
		LABEL ": workers[1].cmd: expected a non-empty array of strings "
		      "(argv, no shell), got \"python3 w.py\"");
	expect_spec_err(
		"\"cmd\":[]",
		LABEL ": workers[1].cmd: expected a non-empty array of strings "
		      "(argv, no shell), got []");
	expect_spec_err(
		"\"cmd\":[\"\"]", LABEL
		": workers[1].cmd[0]: expected a non-empty string, got \"\"");
	expect_spec_err("\"cmd\":[\"a\",\"b\",3]",
			LABEL ": workers[1].cmd[2]: expected a string, got 3");
	expect_spec_err(
		"\"cmd\":[null]", LABEL
		": workers[1].cmd[0]: expected a non-empty string, got null");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"name\":\"\"", LABEL
		": workers[1].name: expected a non-empty string, got \"\"");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"name\":7",
		LABEL ": workers[1].name: expected a non-empty string, got 7");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"name\":\"a\\tb\"", LABEL
		": workers[1].name: expected a name without tabs or newlines, "
		"got \"a\\tb\"");
	expect_spec_err("\"cmd\":[\"a\"],\"protocol\":\"http\"",
			LABEL ": workers[1].protocol: expected \"lines\" or "
			      "\"spool\", got \"http\"");
	expect_spec_err("\"cmd\":[\"a\"],\"spawn\":1",
			LABEL ": workers[1].spawn: expected an object (keyword "
			      "arguments) or an "
			      "array (positional arguments), got 1");
	expect_spec_err("\"cmd\":[\"a\"],\"spawn\":\"x\"",
			LABEL ": workers[1].spawn: expected an object (keyword "
			      "arguments) or an "
			      "array (positional arguments), got \"x\"");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"env\":[]", LABEL
		": workers[1].env: expected an object of strings, got []");
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"X\":true}", LABEL
			": workers[1].env.X: expected a string, got true");
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"X\":\"1\",\"Y\":{}}",
			LABEL ": workers[1].env.Y: expected a string, got {}");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"env\":{\"A=B\":\"1\"}",
		LABEL ": workers[1].env: \"A=B\" is not a valid variable name");
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"\":\"1\"}", LABEL
			": workers[1].env: \"\" is not a valid variable name");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"cwd\":\"\"", LABEL
		": workers[1].cwd: expected a non-empty string, got \"\"");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"cwd\":[\"/\"]", LABEL
		": workers[1].cwd: expected a non-empty string, got [\"/\"]");
	expect_spec_err("\"cmd\":[\"a\"],\"replicas\":\"two\"",
			LABEL ": workers[1].replicas: expected an integer from "
			      "0 to 1024, got \"two\"");
	expect_spec_err("\"cmd\":[\"a\"],\"replicas\":-1",
			LABEL ": workers[1].replicas: expected an integer from "
			      "0 to 1024, got -1");
	expect_spec_err("\"cmd\":[\"a\"],\"replicas\":1025",
			LABEL ": workers[1].replicas: expected an integer from "
			      "0 to 1024, got 1025");
	expect_spec_err("\"cmd\":[\"a\"],\"replicas\":1.5",
			LABEL ": workers[1].replicas: expected an integer from "
			      "0 to 1024, got 1.5");
	expect_spec_err("\"cmd\":[\"a\"],\"inflight\":0",
			LABEL ": workers[1].inflight: expected an integer >= 1 "
			      "or \"auto\", got 0");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"inflight\":\"many\"", LABEL
		": workers[1].inflight: expected an integer >= 1 or \"auto\", "
		"got \"many\"");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"timeout\":-1",
		LABEL ": workers[1].timeout: expected a number of seconds >= 0 "
		      "(0 means none), got -1");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"timeout\":\"5s\"",
		LABEL ": workers[1].timeout: expected a number of seconds >= 0 "
		      "(0 means none), got \"5s\"");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"timeout\":1e10",
		LABEL ": workers[1].timeout: expected a number of seconds >= 0 "
		      "(0 means none), got 1e10");
	expect_spec_err("\"cmd\":[\"a\"],\"startup_timeout\":null",
			LABEL ": workers[1].startup_timeout: expected a number "
			      "of seconds >= 0 "
			      "(0 means none), got null");
	expect_spec_err(
		"\"cmd\":[\"a\"],\"max_tasks\":-1", LABEL
		": workers[1].max_tasks: expected an integer >= 0, got -1");
	expect_spec_err("\"cmd\":[\"a\"],\"ready\":\"yes\"",
			LABEL ": workers[1].ready: expected \"line\" or "
			      "\"start\", got \"yes\"");
	/* The place must be "ready" whichever key came last. */
	char *text1 = spec1(
		"\"cmd\":[\"a\"],\"ready\":\"line\",\"protocol\":\"spool\"");
	expect_err_todo(
		text1,
		LABEL
		": workers[1].ready: only for the lines protocol (a spool "
		"worker is ready when it answers spawn)",
		0);
	free(text1);

	/* Too many workers in all. */
	expect_err("{\"workers\":[{\"cmd\":[\"a\"],\"replicas\":1024},"
		   "{\"cmd\":[\"a\"],\"replicas\":1024},{\"cmd\":[\"a\"],"
		   "\"replicas\":1024},"
		   "{\"cmd\":[\"a\"],\"replicas\":1024},{\"cmd\":[\"a\"],"
		   "\"replicas\":1}]}",
		   LABEL ": workers: 4097 workers in all; at most 4096");

	/* A long value is shortened in the message. */
	struct buf text = BUF_INIT;
	buf_adds(&text, "\"cmd\":[\"a\"],\"replicas\":\"");
	for (int i = 0; i < 100; i++)
		buf_addc(&text, 'x');
	buf_adds(&text, "\"");
	buf_addc(&text, '\0');
	struct buf want = BUF_INIT;
	buf_adds(&want, LABEL ": workers[1].replicas: expected an integer from "
			      "0 to 1024, got \"");
	for (int i = 0; i < 56; i++)
		buf_addc(&want, 'x');
	buf_adds(&want, "...");
	buf_addc(&want, '\0');
	expect_spec_err(text.p, want.p);
	buf_release(&text);
	buf_release(&want);
}

#define DUP "duplicate key (each key may appear once)"

/* cJSON keeps every member of an object and spool would read the first:
 * a key written twice is refused wherever spool reads keys. */
static void test_duplicates(void)
{
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"workers\":[]}",
		   LABEL ": workers: " DUP);
	expect_err("{\"retries\":1,\"workers\":[{\"cmd\":[\"a\"]}],"
		   "\"retries\":1}",
		   LABEL ": retries: " DUP);
	expect_spec_err("\"cmd\":[\"a\"],\"timeout\":1,\"timeout\":2",
			LABEL ": workers[1].timeout: " DUP);
	expect_spec_err("\"cmd\":[\"a\"],\"cmd\":[\"b\"]",
			LABEL ": workers[1].cmd: " DUP);
	/* The same key however it is spelled. */
	expect_spec_err("\"cmd\":[\"a\"],\"tim\\u0065out\":1,\"timeout\":2",
			LABEL ": workers[1].timeout: " DUP);
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"A\":\"1\",\"B\":\"2\","
			"\"A\":\"3\"}",
			LABEL ": workers[1].env.A: " DUP);
	/* Of several, the one whose second copy comes first is named. */
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"B\":\"1\",\"A\":\"2\","
			"\"A\":\"3\",\"B\":\"4\"}",
			LABEL ": workers[1].env.A: " DUP);
	/* Before anything else is checked about the object. */
	expect_spec_err("\"cmd\":[\"a\"],\"x\":1,\"x\":2",
			LABEL ": workers[1].x: " DUP);
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"A=B\":1,\"A=B\":2}",
			LABEL ": workers[1].env.A=B: " DUP);
	/* A key with a newline stays on one line. */
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"a\\nb\":1,\"a\\nb\":2}",
			LABEL ": workers[1].env.a\\nb: " DUP);

	/* Keys that differ only in case are different keys; spawn is the
	 * worker's own, passed on as written, duplicates and all. */
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg,
		      "{\"workers\":[{\"cmd\":[\"a\"],\"env\":{\"A\":\"1\","
		      "\"a\":\"2\"},\"spawn\":{\"k\":1,\"k\":2}}]}",
		      &err);
	TEST(r == 0, "env A and a, spawn with a repeated key: accepted");
	if (r == 0) {
		TEST(cfg.specs[0].nenv == 2, "both A and a are kept");
		TEST_STR(cfg.specs[0].spawn_json,
			 strlen(cfg.specs[0].spawn_json), "{\"k\":1,\"k\":2}",
			 "spawn passed on as written");
	} else {
		printf("#   %.*s\n", (int)err.len, err.p);
	}
	config_release(&cfg);
	buf_release(&err);
}

/* A bad value is shown as the file has it: cJSON would print a number
 * beyond a double (inf) as null, and 1e10 as 10000000000. */
static void test_got_as_written(void)
{
	expect_spec_err(
		"\"cmd\":[\"a\"],\"timeout\":1e999",
		LABEL ": workers[1].timeout: expected a number of seconds >= 0 "
		      "(0 means none), got 1e999");
	expect_spec_err("\"cmd\":[\"a\"],\"startup_timeout\":-1E+400", LABEL
			": workers[1].startup_timeout: expected a number of "
			"seconds >= 0 (0 means none), got -1E+400");
	expect_spec_err("\"cmd\":[\"a\"],\"replicas\":1e999",
			LABEL ": workers[1].replicas: expected an integer from "
			      "0 to 1024, got 1e999");
	expect_spec_err("\"cmd\":[\"a\"],\"replicas\":2.50",
			LABEL ": workers[1].replicas: expected an integer from "
			      "0 to 1024, got 2.50");
	expect_spec_err("\"cmd\":[\"a\", 1e999]",
			LABEL ": workers[1].cmd[1]: expected a string, got "
			      "1e999");
	expect_err("{\"workers\":[{\"cmd\":[\"a\"]}],\"queue_size\":1e999}",
		   LABEL ": queue_size: expected an integer >= 1, got 1e999");
	/* Inside a value: compacted, but every number as written. */
	expect_err("{\"workers\": { \"a\" : [ 1e999 , 2.0 ] } }",
		   LABEL ": workers: expected a non-empty array of worker "
			 "specs, got {\"a\":[1e999,2.0]}");
	/* Strings too: an escape is shown as written. */
	expect_spec_err("\"cmd\":[\"a\"],\"protocol\":\"\\u0068ttp\"",
			LABEL ": workers[1].protocol: expected \"lines\" or "
			      "\"spool\", got \"\\u0068ttp\"");
	/* An environment value is text: a number with no finite value has
	 * none to give, so it must be written as a string. */
	expect_spec_err("\"cmd\":[\"a\"],\"env\":{\"N\":1e999}",
			LABEL ": workers[1].env.N: expected a string, got "
			      "1e999");
	/* Found in the right place whatever comes before it. */
	expect_err("{\"order\":\"input\", \"workers\":[{\"cmd\":[\"a\"], "
		   "\"env\":{\"N\":\"x\"}}, {\"cmd\":[\"a\"], \"env\" : "
		   "{\"M\":\"1e999\", \"N\":1e999}}]}",
		   LABEL ": workers[1].env.N: expected a string, got 1e999");
}

/* Every message is one line that starts with the label. */
static void test_error_shape(void)
{
	const char *bad[] = {
		"{\"workers\":[{\"cmd\":[\"a\"],\"name\":\"x\\ny\"}]}",
		"{\"workers\":[{\"cmd\":[\"a\"],\"env\":{\"a\\n=b\":1}}]}",
		"{\"workers\":[{\"cmd\":[\"a\"],\"bad\\nkey\":1}]}",
		"{\"workers\":[{\"cmd\":[\"a\"]}],\"x\\ny\":1}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct pool_config cfg;
		struct buf err = BUF_INIT;
		int r = parse(&cfg, bad[i], &err);
		TEST(r == -1 && err.len > strlen(LABEL) &&
			     memcmp(err.p, LABEL ": ", strlen(LABEL) + 2) == 0,
		     "error %zu names the config", i);
		/* Values are printed as JSON, keys with their control
		 * characters escaped: either way, one line. */
		th_check(r == -1 && !memchr(err.p, '\n', err.len), 0, __FILE__,
			 __LINE__, "one line",
			 "error %zu is one line (%s with a newline)", i,
			 i ? "a key" : "a value");
		if (r == -1 && memchr(err.p, '\n', err.len))
			printf("#   %.*s\n", (int)err.len, err.p);
		config_release(&cfg);
		buf_release(&err);
	}
}

/* A name may hold no tab or newline (labels go into tab-separated output,
 * one per line); a name taken from cmd[0] must keep that promise too. */
static void test_default_name_shape(void)
{
	const char *texts[] = {
		"{\"workers\":[{\"cmd\":[\"c\\tx\"]}]}",
		"{\"workers\":[{\"cmd\":[\"./bin/a\\nb\"]}]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		struct pool_config cfg;
		struct buf err = BUF_INIT;
		int r = parse(&cfg, texts[i], &err);
		TEST(r == -1 || !strpbrk(cfg.specs[0].name, "\t\n"),
		     "a name from cmd[0] with a %s is rejected or cleaned",
		     i ? "newline" : "tab");
		config_release(&cfg);
		buf_release(&err);
	}
	/* Nor may it be empty (the label would be "#0"). */
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg, "{\"workers\":[{\"cmd\":[\"bin/\"]}]}", &err);
	TEST(r == -1 || cfg.specs[0].name[0],
	     "a cmd[0] ending in '/' gives no empty name");
	config_release(&cfg);
	buf_release(&err);
}

static void test_load(void)
{
	char dir[] = "/tmp/spool-test-config-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	char *path = xasprintf("%s/p.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	const char *text =
		"{\"workers\":[{\"cmd\":[\"bin/w\"],\"cwd\":\".\"}]}\n";
	TEST(fd >= 0 && write_all(fd, text, strlen(text)) == 0,
	     "config file written");
	close(fd);
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = config_load(&cfg, path, &err);
	TEST(r == 0, "config_load parses a file");
	if (r == 0) {
		char *want = xasprintf("%s/bin/w", dir);
		TEST(strcmp(cfg.specs[0].cmd[0], want) == 0,
		     "config_load resolves cmd[0] against the file's "
		     "directory");
		free(want);
		TEST(strcmp(cfg.label, path) == 0, "the label is the path");
	}
	config_release(&cfg);

	fd = open(path, O_WRONLY | O_TRUNC);
	TEST(fd >= 0 && write_all(fd, "{\n  \"workers\": 1,\n", 18) == 0,
	     "bad file written");
	close(fd);
	r = config_load(&cfg, path, &err);
	char *want = xasprintf("%s:3:1: invalid JSON: unexpected end of input "
			       "(unclosed object)",
			       path);
	TEST(r == -1, "config_load: bad JSON rejected");
	TEST_STR(err.p, err.len, want,
		 "config_load: message names the path, line, column");
	free(want);
	config_release(&cfg);

	unlink(path);
	r = config_load(&cfg, path, &err);
	want = xasprintf("%s: cannot read the pool config: %s", path,
			 strerror(ENOENT));
	TEST(r == -1, "config_load: missing file");
	TEST_STR(err.p, err.len, want, "config_load: missing file message");
	free(want);
	config_release(&cfg);
	rmdir(dir);
	free(path);
	buf_release(&err);
}

static void expand_case(const char *in, const char *want)
{
	char *got = config_expand(in, 3, 1, "embed");
	char name[160];
	snprintf(name, sizeof(name), "expand \"%s\"", in);
	TEST_STR(got, strlen(got), want, name);
	free(got);
}

static void test_expand(void)
{
	expand_case("{worker}-{replica}-{name}", "3-1-embed");
	expand_case("gpu{replica}", "gpu1");
	expand_case("{worker}{worker}", "33");
	expand_case("", "");
	expand_case("plain", "plain");
	expand_case("{unknown}", "{unknown}");
	expand_case("{", "{");
	expand_case("a{", "a{");
	expand_case("{{worker}}", "{3}");
	expand_case("{Worker}", "{Worker}");
	expand_case("{worker", "{worker");
	expand_case("{\"gpu\":{replica}}", "{\"gpu\":1}");
	char *big = config_expand("{worker}/{replica}", 1234567, 0, "");
	TEST(strcmp(big, "1234567/0") == 0, "expand: large numbers");
	free(big);
}

static void from_command_case(const char *command, const char *want_name)
{
	struct pool_config cfg;
	config_from_command(&cfg, command, 4);
	char name[160];
	snprintf(name, sizeof(name), "from_command \"%s\": name %s", command,
		 want_name);
	TEST_STR(cfg.specs[0].name, strlen(cfg.specs[0].name), want_name, name);
	config_release(&cfg);
}

static void test_from_command(void)
{
	struct pool_config cfg;
	config_from_command(&cfg, "jq -c --unbuffered '{sq: (.x*.x)}'", 4);
	TEST(cfg.nspecs == 1, "from_command: one spec");
	struct worker_spec *w = &cfg.specs[0];
	TEST(w->ncmd == 3 && strcmp(w->cmd[0], "/bin/sh") == 0 &&
		     strcmp(w->cmd[1], "-c") == 0 &&
		     strcmp(w->cmd[2], "jq -c --unbuffered '{sq: (.x*.x)}'") ==
			     0 &&
		     w->cmd[3] == NULL,
	     "from_command: /bin/sh -c COMMAND");
	TEST(strcmp(w->name, "jq") == 0,
	     "from_command: name is the first word");
	TEST(w->replicas == 4, "from_command: replicas = jobs");
	TEST(strcmp(w->spawn_json, "{}") == 0 && w->startup_timeout == 60 &&
		     w->inflight == 0 && w->protocol == PROTO_LINES,
	     "from_command: defaults");
	TEST(strcmp(cfg.label, "--cmd") == 0 && cfg.order == -1 &&
		     cfg.retries == -1,
	     "from_command: label and unset run settings");
	config_release(&cfg);

	from_command_case("  /usr/bin/python3 -u w.py", "python3");
	from_command_case("\tsed -u s/a/b/", "sed");
	from_command_case("echo;ls", "echo");
	from_command_case("cat|wc", "cat");
	from_command_case("", "sh");
	from_command_case("   ", "sh");
	from_command_case("(cd x && y)", "sh");
	from_command_case("/", "sh");
	from_command_case("./run.sh --fast", "run.sh");
}

int main(void)
{
	test_full();
	test_defaults();
	test_template();
	test_errors();
	test_duplicates();
	test_got_as_written();
	test_error_shape();
	test_default_name_shape();
	test_load();
	test_expand();
	test_from_command();
	return test_done();
}
