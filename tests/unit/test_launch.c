/* test_launch.c - the srun and salloc command lines of Slurm workers
 * (SPEC section 10), word for word. */
#define _GNU_SOURCE
#include "launch.h"
#include "remote.h"
#include "testhelp.h"

#include <stdlib.h>

/* argv as one line, words in [brackets], for exact comparison. */
static char *joined(char **argv)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; argv[i]; i++)
		buf_addf(&b, "%s[%s]", i ? " " : "", argv[i]);
	buf_addc(&b, '\0');
	return b.p;
}

static void expect_argv(char **argv, const char *want, const char *name)
{
	char *got = joined(argv);
	TEST_STR(got, strlen(got), want, name);
	free(got);
	remote_argv_free(argv);
}

static void test_srun(void)
{
	struct slurm_opts none = {0};
	char *worker[] = {"python3", "-u", "w.py", "--x", "a b", NULL};
	expect_argv(launch_srun_argv(&none, "42", "embed#0", NULL, worker),
		    "[srun] [--jobid=42] [-Q] [--exact] [-N1] [-n1] "
		    "[--job-name=embed#0] [python3] [-u] [w.py] [--x] [a b]",
		    "srun: nothing asked, no directory");

	char *args[] = {"--mem=4G", "--qos=low", NULL};
	struct slurm_opts all = {"gpu:1", 4, "gpu", "1:00:00", args, 2};
	expect_argv(launch_srun_argv(&all, "7", "w#3", "/data/run", worker),
		    "[srun] [--jobid=7] [-Q] [--exact] [-N1] [-n1] "
		    "[--gres=gpu:1] [--cpus-per-task=4] [--partition=gpu] "
		    "[--job-name=w#3] [--mem=4G] [--qos=low] "
		    "[--chdir=/data/run] [python3] [-u] [w.py] [--x] [a b]",
		    "srun: every key; the time is the allocation's only");
}

static void test_salloc(void)
{
	const char *hold = "[sh] [-c] [echo \"$SLURM_JOB_ID\"; exec cat "
			   ">/dev/null]";
	struct slurm_opts none = {0};
	char *want = xasprintf("[salloc] [-Q] [--ntasks=3] [--job-name=spool] "
			       "%s",
			       hold);
	expect_argv(launch_salloc_argv(&none, 3, "spool"), want,
		    "salloc: the workers' count, held by a pipe");
	free(want);

	struct slurm_opts gpu = {"gpu:1", 2, "p", "90", NULL, 0};
	want = xasprintf("[salloc] [-Q] [--ntasks=2] [--cpus-per-task=2] "
			 "[--partition=p] [--time=90] [--gpus-per-task=1] "
			 "[--job-name=spool] %s",
			 hold);
	expect_argv(launch_salloc_argv(&gpu, 2, "spool"), want,
		    "salloc: a GPU per task");
	free(want);

	struct slurm_opts typed = {"gpu:a100:2", 0, NULL, NULL, NULL, 0};
	want = xasprintf("[salloc] [-Q] [--ntasks=4] "
			 "[--gpus-per-task=a100:2] [--job-name=spool] %s",
			 hold);
	expect_argv(launch_salloc_argv(&typed, 4, "spool"), want,
		    "salloc: typed GPUs per task");
	free(want);

	struct slurm_opts bare = {"gpu", 0, NULL, NULL, NULL, 0};
	want = xasprintf("[salloc] [-Q] [--ntasks=2] [--gpus-per-task=1] "
			 "[--job-name=spool] %s",
			 hold);
	expect_argv(launch_salloc_argv(&bare, 2, "spool"), want,
		    "salloc: \"gpu\" alone is one per task");
	free(want);

	struct slurm_opts other = {
		"gpu:1,nvme:tb:2,fpga", 0, NULL, NULL, NULL, 0};
	want = xasprintf("[salloc] [-Q] [--ntasks=3] [--gpus-per-task=1] "
			 "[--gres=nvme:tb:6,fpga:3] [--nodes=1] "
			 "[--job-name=spool] %s",
			 hold);
	expect_argv(launch_salloc_argv(&other, 3, "spool"), want,
		    "salloc: other GRES counted per node, on one node");
	free(want);

	struct slurm_opts gpus_named = {"gpus:1", 0, NULL, NULL, NULL, 0};
	want = xasprintf("[salloc] [-Q] [--ntasks=2] [--gres=gpus:2] "
			 "[--nodes=1] [--job-name=spool] %s",
			 hold);
	expect_argv(launch_salloc_argv(&gpus_named, 2, "spool"), want,
		    "salloc: only \"gpu\" itself is a GPU");
	free(want);
}

int main(void)
{
	test_srun();
	test_salloc();
	return test_done();
}
