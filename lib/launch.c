/* launch.c - the local process that runs a worker: see launch.h. */
#define _GNU_SOURCE
#include "launch.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* A growing NULL-terminated argv. */
struct argv_b {
	char **v;
	size_t n, cap;
};

static void push(struct argv_b *a, char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void pushs(struct argv_b *a, const char *s)
{
	push(a, xstrdup(s));
}

char **launch_srun_argv(const struct slurm_opts *s, const char *jobid,
			const char *name, const char *cwd, char *const argv[])
{
	struct argv_b a = {NULL, 0, 0};
	pushs(&a, "srun");
	push(&a, xasprintf("--jobid=%s", jobid));
	/* Quiet: srun's own notes would mix into the worker's stderr. */
	pushs(&a, "-Q");
	/* Its own share of the allocation: without it one step takes the
	 * whole of it and the other workers wait (REMOTE.md). */
	pushs(&a, "--exact");
	pushs(&a, "-N1");
	pushs(&a, "-n1");
	if (s->gres)
		push(&a, xasprintf("--gres=%s", s->gres));
	if (s->cpus_per_task)
		push(&a, xasprintf("--cpus-per-task=%ld", s->cpus_per_task));
	if (s->partition)
		push(&a, xasprintf("--partition=%s", s->partition));
	push(&a, xasprintf("--job-name=%s", name));
	for (size_t i = 0; i < s->nargs; i++)
		pushs(&a, s->args[i]);
	if (cwd)
		push(&a, xasprintf("--chdir=%s", cwd));
	for (size_t i = 0; argv[i]; i++)
		pushs(&a, argv[i]);
	return a.v;
}

/* One GRES entry NAME[:TYPE][:COUNT] split: count 1 when not given. */
static void gres_split(const char *e, size_t n, struct buf *name_type,
		       long *count)
{
	const char *last = memrchr(e, ':', n);
	long c;
	char *tail =
		last ? xstrndup(last + 1, n - (size_t)(last + 1 - e)) : NULL;
	if (tail && parse_long(tail, 1, 1000000, &c)) {
		buf_add(name_type, e, (size_t)(last - e));
		*count = c;
	} else {
		buf_add(name_type, e, n);
		*count = 1;
	}
	free(tail);
}

char **launch_salloc_argv(const struct slurm_opts *s, long ntasks,
			  const char *name)
{
	struct argv_b a = {NULL, 0, 0};
	pushs(&a, "salloc");
	pushs(&a, "-Q");
	push(&a, xasprintf("--ntasks=%ld", ntasks));
	if (s->cpus_per_task)
		push(&a, xasprintf("--cpus-per-task=%ld", s->cpus_per_task));
	if (s->partition)
		push(&a, xasprintf("--partition=%s", s->partition));
	if (s->time)
		push(&a, xasprintf("--time=%s", s->time));
	bool one_node = false;
	struct buf other = BUF_INIT;
	for (const char *g = s->gres; g && *g;) {
		size_t n = strcspn(g, ",");
		struct buf nt = BUF_INIT;
		long count;
		gres_split(g, n, &nt, &count);
		buf_addc(&nt, '\0');
		if (strncmp(nt.p, "gpu", 3) == 0 &&
		    (nt.p[3] == '\0' || nt.p[3] == ':')) {
			/* GPUs can be asked per task, on any nodes. */
			push(&a, xasprintf("--gpus-per-task=%s%s%ld",
					   nt.p[3] ? nt.p + 4 : "",
					   nt.p[3] ? ":" : "", count));
		} else {
			if (other.len)
				buf_addc(&other, ',');
			buf_addf(&other, "%s:%ld", nt.p, count * ntasks);
			one_node = true;
		}
		buf_release(&nt);
		g += n;
		if (*g == ',')
			g++;
	}
	if (other.len) {
		buf_addc(&other, '\0');
		push(&a, xasprintf("--gres=%s", other.p));
	}
	buf_release(&other);
	if (one_node)
		pushs(&a, "--nodes=1");
	push(&a, xasprintf("--job-name=%s", name));
	/* The job id on stdout, then hold the allocation until spool's end
	 * of the pipe closes, however spool ends. */
	pushs(&a, "sh");
	pushs(&a, "-c");
	pushs(&a, "echo \"$SLURM_JOB_ID\"; exec cat >/dev/null");
	return a.v;
}

static char **copy_environ(void)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		env[i] = xstrdup(environ[i]);
	return env;
}

int launch_command(const struct worker *w, struct launch_cmd *lc,
		   struct buf *why)
{
	const struct pool *p = w->pool;
	memset(lc, 0, sizeof(*lc));
	lc->guard_op = '+';
	switch (w->spec->launcher) {
	case LAUNCH_LOCAL:
		lc->argv = worker_argv(w);
		lc->envp = worker_env(w);
		lc->cwd = worker_cwd(w);
		return 0;
	case LAUNCH_SSH: {
		char **argv = worker_argv(w);
		char **env = worker_env_extra(w);
		char *cwd = worker_cwd(w);
		struct buf cmd = BUF_INIT;
		int r = remote_command(&cmd, argv, env, cwd, REMOTE_ANNOUNCE,
				       why);
		if (r == 0) {
			lc->argv =
				remote_ssh_argv(&p->hosts.ssh, hosts_sock(p, w),
						w->host_name, cmd.p);
			lc->envp = copy_environ();
		}
		buf_release(&cmd);
		worker_strv_free(argv);
		worker_strv_free(env);
		free(cwd);
		return r;
	}
	case LAUNCH_SLURM: {
		char **argv = worker_argv(w);
		char *cwd = worker_cwd(w);
		const char *jobid = hosts_jobid(p, w);
		if (!jobid) /* --dry-run: nothing is allocated */
			jobid = getenv("SLURM_JOB_ID");
		if (!jobid || !*jobid)
			jobid = "JOBID";
		lc->argv = launch_srun_argv(&w->spec->slurm, jobid, w->label,
					    cwd, argv);
		lc->envp = worker_env(w);
		lc->guard_op = '=';
		worker_strv_free(argv);
		free(cwd);
		return 0;
	}
	}
	return -1;
}

void launch_cmd_release(struct launch_cmd *lc)
{
	worker_strv_free(lc->argv);
	worker_strv_free(lc->envp);
	free(lc->cwd);
	memset(lc, 0, sizeof(*lc));
}
