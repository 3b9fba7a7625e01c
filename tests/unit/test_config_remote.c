/* test_config_remote.c - where workers run (SPEC section 10): "hosts",
 * "launcher" and "slurm" in a pool config, -S host lists, the {host} and
 * {slot} placeholders, and an exact message for each way to get them
 * wrong. */
#define _GNU_SOURCE
#include "config.h"
#include "testhelp.h"

#include <stdlib.h>

#define LABEL "pool.json"
#define DIR "/srv/pools"

static int parse(struct pool_config *cfg, const char *text, struct buf *err)
{
	buf_reset(err);
	return config_parse(cfg, text, strlen(text), LABEL, DIR, err);
}

static void expect_err(const char *text, const char *want)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg, text, &err);
	TEST(r == -1, "rejected: %s", want);
	if (r == -1)
		TEST_STR(err.p, err.len, want, "  message");
	config_release(&cfg);
	buf_release(&err);
}

/* One spec with the given keys after "cmd": ["w"]. */
static char *one_spec(const char *keys)
{
	return xasprintf("{\"workers\":[{\"cmd\":[\"w\"],%s}]}", keys);
}

static void expect_spec_err(const char *keys, const char *want)
{
	char *text = one_spec(keys);
	expect_err(text, want);
	free(text);
}

static void test_hosts(void)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg,
		      "{\"workers\":[{\"cmd\":[\"./bin/w\",\"./x\"],"
		      "\"cwd\":\"data/{host}\",\"replicas\":2,"
		      "\"hosts\":[\"gpu1\",\"4/alice@gpu2\","
		      "\"ssh://bob@gpu3:2222\"]},"
		      "{\"cmd\":[\"./bin/w\"],\"cwd\":\"data\"}]}",
		      &err);
	TEST(r == 0, "hosts: accepted (%.*s)", (int)err.len,
	     err.p ? err.p : "");
	if (r != 0)
		return;
	struct worker_spec *w = &cfg.specs[0];
	TEST(w->launcher == LAUNCH_SSH && w->nhosts == 3,
	     "hosts: launched over ssh, three hosts");
	TEST(strcmp(w->hosts[0].dest, "gpu1") == 0 && w->hosts[0].slots == 0,
	     "hosts: no N/ means the spec's replicas (slots 0)");
	TEST(strcmp(w->hosts[1].dest, "alice@gpu2") == 0 &&
		     w->hosts[1].slots == 4,
	     "hosts: 4/alice@gpu2 is 4 workers on alice@gpu2");
	TEST(strcmp(w->hosts[2].dest, "ssh://bob@gpu3:2222") == 0,
	     "hosts: an ssh:// destination is kept whole");
	TEST(config_spec_workers(w) == 2 + 4 + 2,
	     "hosts: 8 workers (2 + 4 + 2)");
	TEST(strcmp(w->cmd[0], "./bin/w") == 0 &&
		     strcmp(w->cwd, "data/{host}") == 0,
	     "hosts: cmd[0] and cwd as written (paths on the remote host)");
	struct worker_spec *l = &cfg.specs[1];
	TEST(l->launcher == LAUNCH_LOCAL &&
		     strcmp(l->cmd[0], DIR "/./bin/w") == 0 &&
		     strcmp(l->cwd, DIR "/data") == 0,
	     "local: cmd[0] and cwd resolved against the config's directory");
	TEST(config_spec_workers(l) == 1, "local: replicas workers");
	config_release(&cfg);

	r = parse(&cfg,
		  "{\"workers\":[{\"cmd\":[\"w\"],\"launcher\":\"ssh\","
		  "\"replicas\":0,\"hosts\":[\"a\",\"3/b\"]}]}",
		  &err);
	TEST(r == 0 && cfg.specs[0].launcher == LAUNCH_SSH &&
		     config_spec_workers(&cfg.specs[0]) == 3,
	     "\"launcher\": \"ssh\" with hosts; replicas 0 leaves only N/");
	config_release(&cfg);
	buf_release(&err);
}

static void test_slurm(void)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg,
		      "{\"workers\":[{\"cmd\":[\"./w\"],\"cwd\":\"d\","
		      "\"launcher\":\"slurm\",\"replicas\":3,"
		      "\"slurm\":{\"gres\":\"gpu:a100:1\",\"cpus_per_task\":4,"
		      "\"partition\":\"p\",\"time\":\"1-02:00:00\","
		      "\"args\":[\"--mem=4G\",\"--qos=low\"]}},"
		      "{\"cmd\":[\"w\"],\"launcher\":\"slurm\","
		      "\"slurm\":{\"time\":90}},"
		      "{\"cmd\":[\"w\"],\"launcher\":\"local\"}]}",
		      &err);
	TEST(r == 0, "slurm: accepted (%.*s)", (int)err.len,
	     err.p ? err.p : "");
	if (r != 0)
		return;
	struct worker_spec *w = &cfg.specs[0];
	TEST(w->launcher == LAUNCH_SLURM && config_spec_workers(w) == 3,
	     "slurm: launcher, replicas workers");
	TEST(strcmp(w->slurm.gres, "gpu:a100:1") == 0 &&
		     w->slurm.cpus_per_task == 4 &&
		     strcmp(w->slurm.partition, "p") == 0 &&
		     strcmp(w->slurm.time, "1-02:00:00") == 0,
	     "slurm: gres, cpus_per_task, partition, time");
	TEST(w->slurm.nargs == 2 && strcmp(w->slurm.args[0], "--mem=4G") == 0 &&
		     strcmp(w->slurm.args[1], "--qos=low") == 0 &&
		     w->slurm.args[2] == NULL,
	     "slurm: args, NULL-terminated");
	TEST(strcmp(w->cmd[0], DIR "/./w") == 0 &&
		     strcmp(w->cwd, DIR "/d") == 0,
	     "slurm: paths resolved as for local workers (a shared file "
	     "system)");
	struct worker_spec *w2 = &cfg.specs[1];
	TEST(w2->launcher == LAUNCH_SLURM && !w2->slurm.gres &&
		     w2->slurm.cpus_per_task == 0 && !w2->slurm.partition &&
		     strcmp(w2->slurm.time, "90") == 0 && w2->slurm.nargs == 0,
	     "slurm: every key optional; a number of minutes as time");
	TEST(cfg.specs[2].launcher == LAUNCH_LOCAL,
	     "\"launcher\": \"local\" is the default said out loud");
	config_release(&cfg);

	const char *times[] = {"5",         "5:30",    "1:00:00",
			       "2-0",       "2-12:30", "2-12:30:00",
			       "UNLIMITED", "INFINITE"};
	for (size_t i = 0; i < ARRAY_SIZE(times); i++) {
		char *keys = xasprintf(
			"\"launcher\":\"slurm\",\"slurm\":{\"time\":\"%s\"}",
			times[i]);
		char *text = one_spec(keys);
		r = parse(&cfg, text, &err);
		TEST(r == 0, "slurm time \"%s\" accepted", times[i]);
		if (r == 0)
			config_release(&cfg);
		free(text);
		free(keys);
	}
	const char *gres[] = {"gpu", "gpu:2", "gpu:a100:2", "gpu:1,nvme:1",
			      "shard:tesla_t4:1"};
	for (size_t i = 0; i < ARRAY_SIZE(gres); i++) {
		char *keys = xasprintf(
			"\"launcher\":\"slurm\",\"slurm\":{\"gres\":\"%s\"}",
			gres[i]);
		char *text = one_spec(keys);
		r = parse(&cfg, text, &err);
		TEST(r == 0, "slurm gres \"%s\" accepted", gres[i]);
		if (r == 0)
			config_release(&cfg);
		free(text);
		free(keys);
	}
	buf_release(&err);
}

static void test_errors(void)
{
	expect_spec_err("\"hosts\":[]",
			LABEL ": workers[0].hosts: expected a non-empty array "
			      "of ssh destinations, such as [\"gpu1\", "
			      "\"4/gpu2\", \"alice@gpu3\"], got []");
	expect_spec_err("\"hosts\":\"gpu1\"",
			LABEL ": workers[0].hosts: expected a non-empty array "
			      "of ssh destinations, such as [\"gpu1\", "
			      "\"4/gpu2\", \"alice@gpu3\"], got \"gpu1\"");
	expect_spec_err("\"hosts\":[\"a\",2]",
			LABEL ": workers[0].hosts[1]: expected a host such as "
			      "\"gpu1\", \"4/gpu2\" (4 workers there) or "
			      "\"alice@gpu3\", got 2");
	expect_spec_err("\"hosts\":[\"a\",\"gpu 2\"]",
			LABEL ": workers[0].hosts[1]: host \"gpu 2\" contains "
			      "a blank");
	expect_spec_err("\"hosts\":[\"0/a\"]",
			LABEL ": workers[0].hosts[0]: host \"0/a\" has 0 "
			      "slots: give at least 1, or leave the host out");
	expect_spec_err("\"hosts\":[\"a:22\"]",
			LABEL ": workers[0].hosts[0]: host \"a:22\" is "
			      "host:port, which ssh does not take: write "
			      "ssh://host:port, or set Port in ssh_config");
	expect_spec_err("\"hosts\":[\"gpu1\",\"2/gpu1\"]",
			LABEL ": workers[0].hosts[1]: host \"gpu1\" is listed "
			      "twice: list it once, with its number of "
			      "workers as N/gpu1");
	expect_spec_err("\"launcher\":\"kube\"",
			LABEL ": workers[0].launcher: expected \"local\", "
			      "\"ssh\" (with \"hosts\") or \"slurm\", got "
			      "\"kube\"");
	expect_spec_err("\"launcher\":\"ssh\"",
			LABEL ": workers[0].hosts: missing: \"launcher\": "
			      "\"ssh\" needs the hosts to run on, such as "
			      "[\"gpu1\", \"4/gpu2\"]");
	expect_spec_err("\"launcher\":\"slurm\",\"hosts\":[\"a\"]",
			LABEL ": workers[0].hosts: only for workers started "
			      "over ssh, but \"launcher\" is \"slurm\" (Slurm "
			      "places its steps itself)");
	expect_spec_err("\"slurm\":{}",
			LABEL ": workers[0].slurm: only with \"launcher\": "
			      "\"slurm\"");
	expect_spec_err("\"hosts\":[\"a\"],\"slurm\":{}",
			LABEL ": workers[0].slurm: only with \"launcher\": "
			      "\"slurm\"");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":[]", LABEL
			": workers[0].slurm: expected an object such as "
			"{\"gres\": \"gpu:1\", \"cpus_per_task\": 4}, got "
			"[]");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":{\"gpus\":1}",
			LABEL ": workers[0].slurm.gpus: unknown key (known: "
			      "gres, cpus_per_task, partition, time, args)");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":{\"gres\":\"gpu 1\"}",
			LABEL ": workers[0].slurm.gres: expected a generic "
			      "resource as srun --gres takes it, such as "
			      "\"gpu:1\" or \"gpu:a100:2\", got \"gpu 1\"");
	expect_spec_err(
		"\"launcher\":\"slurm\",\"slurm\":{\"gres\":\"a:b:c:1\"}",
		LABEL ": workers[0].slurm.gres: expected a generic "
		      "resource as srun --gres takes it, such as "
		      "\"gpu:1\" or \"gpu:a100:2\", got \"a:b:c:1\"");
	expect_spec_err(
		"\"launcher\":\"slurm\",\"slurm\":{\"cpus_per_task\":0}",
		LABEL ": workers[0].slurm.cpus_per_task: expected an integer "
		      ">= 1, got 0");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":{\"partition\":\"\"}",
			LABEL ": workers[0].slurm.partition: expected a "
			      "partition name (sinfo lists them), got \"\"");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":{\"time\":\"2h\"}",
			LABEL
			": workers[0].slurm.time: expected a Slurm time "
			"limit: minutes, or \"HH:MM:SS\", \"D-HH:MM:SS\", "
			"got \"2h\"");
	expect_spec_err(
		"\"launcher\":\"slurm\",\"slurm\":{\"time\":\"1:2:3:4\"}",
		LABEL ": workers[0].slurm.time: expected a Slurm time "
		      "limit: minutes, or \"HH:MM:SS\", \"D-HH:MM:SS\", "
		      "got \"1:2:3:4\"");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":{\"args\":\"-x\"}",
			LABEL ": workers[0].slurm.args: expected an array of "
			      "srun arguments, such as [\"--mem=4G\"], got "
			      "\"-x\"");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":{\"args\":[\"\"]}",
			LABEL ": workers[0].slurm.args[0]: expected a "
			      "non-empty string, got \"\"");
	expect_spec_err("\"launcher\":\"slurm\",\"slurm\":{\"time\":1,"
			"\"time\":2}",
			LABEL ": workers[0].slurm.time: duplicate key (each "
			      "key may appear once)");
	/* The pool's size counts every host's workers. */
	expect_err("{\"workers\":[{\"cmd\":[\"w\"],\"replicas\":1000,"
		   "\"hosts\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}",
		   LABEL ": workers: 5000 workers in all; at most 4096");
}

static void test_set_hosts(void)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	config_from_command(&cfg, "cat", 2);
	struct worker_spec *w = &cfg.specs[0];
	TEST(config_set_hosts(w, "host1,3/host2,alice@host3", &err) == 0,
	     "-S: a list");
	TEST(w->launcher == LAUNCH_SSH && w->nhosts == 3 &&
		     strcmp(w->hosts[1].dest, "host2") == 0 &&
		     w->hosts[1].slots == 3 && w->hosts[2].slots == 0,
	     "-S: hosts, slots");
	TEST(config_spec_workers(w) == 2 + 3 + 2, "-S: -j workers per host");
	TEST(strcmp(w->cmd[0], "/bin/sh") == 0 && w->literal,
	     "-S: the command is still run as typed");
	config_release(&cfg);

	config_from_command(&cfg, "cat", 1);
	TEST(config_set_hosts(&cfg.specs[0], "a,,b", &err) == -1,
	     "-S: an empty entry is refused");
	TEST_STR(err.p, err.len,
		 "-S/--hosts: a host entry is empty: give an ssh destination "
		 "such as gpu1, alice@gpu2 or 4/gpu3",
		 "  message");
	config_release(&cfg);
	config_from_command(&cfg, "cat", 1);
	TEST(config_set_hosts(&cfg.specs[0], "a,2/a", &err) == -1,
	     "-S: a host twice is refused");
	TEST_STR(err.p, err.len,
		 "-S/--hosts: host \"a\" is listed twice: list it once, with "
		 "its number of workers as N/a",
		 "  message");
	config_release(&cfg);
	buf_release(&err);
}

static void expand_case(const char *in, const char *host, const char *want)
{
	struct expand_at at = {5, 2, "embed", host, 1};
	char *got = config_expand_at(in, &at);
	char name[160];
	snprintf(name, sizeof(name), "expand \"%s\" on %s", in,
		 host ? host : "no host");
	TEST_STR(got, strlen(got), want, name);
	free(got);
}

static void test_expand(void)
{
	expand_case("{host}:{slot}:{worker}:{replica}:{name}", "alice@gpu2",
		    "alice@gpu2:1:5:2:embed");
	expand_case("gpu{slot}", "gpu2", "gpu1");
	expand_case("{host}{slot}", NULL, "{host}{slot}");
	expand_case("{hosts}{slot", "h", "{hosts}{slot");
}

static void test_add_worker(void)
{
	struct pool_config cfg;
	struct buf err = BUF_INIT;
	int r = parse(&cfg,
		      "{\"workers\":[{\"cmd\":[\"w\"],\"replicas\":0,"
		      "\"hosts\":[\"a\"]},{\"cmd\":[\"w\"]}]}",
		      &err);
	TEST(r == 0, "a remote template");
	if (r != 0)
		return;
	struct worker_spec one;
	const char *add = "{\"name\":\"g\"}";
	TEST(config_spec_from_json(&cfg, &cfg.specs[0], add, strlen(add), &one,
				   &err) == -1,
	     "add_worker over a remote template is refused");
	TEST_STR(err.p, err.len,
		 "add_worker: workers on other hosts or under Slurm cannot be "
		 "added while the pool runs; list them in the pool config",
		 "  message");
	const char *remote = "{\"cmd\":[\"w\"],\"hosts\":[\"b\"]}";
	TEST(config_spec_from_json(&cfg, NULL, remote, strlen(remote), &one,
				   &err) == -1,
	     "add_worker with hosts is refused");
	const char *local = "{\"cmd\":[\"w\"]}";
	TEST(config_spec_from_json(&cfg, &cfg.specs[1], local, strlen(local),
				   &one, &err) == 0,
	     "add_worker of a local worker still works");
	config_spec_release(&one);
	config_release(&cfg);
	buf_release(&err);
}

int main(void)
{
	test_hosts();
	test_slurm();
	test_errors();
	test_set_hosts();
	test_expand();
	test_add_worker();
	return test_done();
}
