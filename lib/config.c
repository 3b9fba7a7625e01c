/* config.c - pool config parsing and validation. */
#define _GNU_SOURCE
#include "config.h"
#include "jsonscan.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLICAS_MAX 1024
#define INFLIGHT_MAX 1000000
#define QUEUE_MAX 10000000
#define RETRIES_MAX 1000
#define BATCH_MAX 100000

/* The context of one parse: where errors go and how to name places. */
struct ctx {
	const char *label;
	const char *dir;
	struct buf *err;
	const char *text; /* the raw config, for values kept as written */
	size_t len;
	const cJSON *root; /* the tree parsed from text */
};

static size_t skip_space(const char *s, size_t n, size_t i)
{
	while (i < n &&
	       (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* The child indices from at down to v; the depth of v, or -1. */
static int path_to(const cJSON *at, const cJSON *v, size_t *path, int depth)
{
	if (at == v)
		return depth;
	if (depth >= JSON_MAX_DEPTH)
		return -1;
	size_t i = 0;
	for (const cJSON *k = at->child; k; k = k->next, i++) {
		path[depth] = i;
		int d = path_to(k, v, path, depth + 1);
		if (d >= 0)
			return d;
	}
	return -1;
}

/* The offset of the k-th member's value or element of the object or array
 * written at s[pos], or (size_t)-1. */
static size_t nth_value(const char *s, size_t n, size_t pos, size_t k)
{
	if (pos >= n || (s[pos] != '{' && s[pos] != '['))
		return (size_t)-1;
	bool object = s[pos] == '{';
	struct json_error e;
	size_t i = pos + 1;
	for (;;) {
		i = skip_space(s, n, i);
		if (object) {
			i = skip_space(s, n, json_scan_value(s, n, i, &e));
			if (i >= n || s[i] != ':')
				return (size_t)-1;
			i = skip_space(s, n, i + 1);
		}
		if (k-- == 0)
			return i;
		i = skip_space(s, n, json_scan_value(s, n, i, &e));
		if (i >= n || s[i] != ',')
			return (size_t)-1;
		i++;
	}
}

/* Where v is written in the config text.  cJSON keeps no positions, but
 * it keeps members and elements in the order written, repeated keys
 * included: the path to v in the tree leads to it in the text. */
static bool find_written(const struct ctx *c, const cJSON *v, struct span *out)
{
	if (!c->root)
		return false;
	size_t *path = xcalloc(JSON_MAX_DEPTH, sizeof(*path));
	int depth = path_to(c->root, v, path, 0);
	size_t pos = depth < 0 ? (size_t)-1 : skip_space(c->text, c->len, 0);
	for (int d = 0; d < depth && pos != (size_t)-1; d++)
		pos = nth_value(c->text, c->len, pos, path[d]);
	free(path);
	struct json_error e;
	size_t end = pos == (size_t)-1
			     ? pos
			     : json_scan_value(c->text, c->len, pos, &e);
	if (end == (size_t)-1)
		return false;
	out->p = c->text + pos;
	out->n = end - pos;
	return true;
}

/* A short, one-line rendering of a JSON value for error messages, as the
 * file has it: cJSON would print 1e999 (beyond a double) as null, 1e10
 * as 10000000000 and "\u0041" as "A". */
static void add_got(const struct ctx *c, struct buf *b, const cJSON *v)
{
	struct span sp;
	struct buf text = BUF_INIT;
	if (find_written(c, v, &sp)) {
		json_minify(sp.p, sp.n, &text);
	} else {
		char *printed = cJSON_PrintUnformatted(v);
		buf_adds(&text, printed ? printed : "?");
		free(printed);
	}
	if (text.len > 60) {
		buf_add(b, text.p, 57);
		buf_adds(b, "...");
	} else {
		buf_add(b, text.p, text.len);
	}
	buf_release(&text);
}

/* Keys come from the user: keep the message on one line. */
static void sanitize(struct buf *b)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < b->len; i++) {
		unsigned char ch = (unsigned char)b->p[i];
		if (ch == '\n')
			buf_adds(&out, "\\n");
		else if (ch == '\t')
			buf_adds(&out, "\\t");
		else if (ch < 0x20 || ch == 0x7f)
			buf_addf(&out, "\\x%02x", ch);
		else
			buf_addc(&out, (char)ch);
	}
	buf_release(b);
	buf_reserve(&out, 1);
	out.p[out.len] = '\0'; /* callers read it as a string */
	*b = out;
}

static int fail(struct ctx *c, const char *place, const cJSON *got,
		const char *fmt, ...) PRINTF_LIKE(4, 5);

static int fail(struct ctx *c, const char *place, const cJSON *got,
		const char *fmt, ...)
{
	buf_reset(c->err);
	buf_addf(c->err, "%s: %s: ", c->label, place);
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	buf_adds(c->err, msg ? msg : "invalid");
	free(msg);
	if (got) {
		buf_adds(c->err, ", got ");
		add_got(c, c->err, got);
	}
	sanitize(c->err);
	return -1;
}

struct key_at {
	const char *key;
	size_t at; /* its place among the object's members */
};

static int key_at_cmp(const void *a, const void *b)
{
	const struct key_at *x = a, *y = b;
	int d = strcmp(x->key, y->key);
	if (d)
		return d;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* cJSON keeps every member of an object and a lookup finds the first, so
 * the second of a key written twice would be silently ignored.  Sorted,
 * repeats are neighbours (n log n, however large the object); the one
 * named is the repeat that comes first in the file.  place is the
 * object's ("" at the top level). */
static int check_unique(struct ctx *c, const char *place, const cJSON *o)
{
	size_t n = (size_t)cJSON_GetArraySize(o);
	if (n < 2)
		return 0;
	struct key_at *keys = xcalloc(n, sizeof(*keys));
	size_t i = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, o)
	{
		keys[i].key = m->string;
		keys[i].at = i;
		i++;
	}
	qsort(keys, n, sizeof(*keys), key_at_cmp);
	const struct key_at *dup = NULL;
	for (i = 1; i < n; i++)
		if (strcmp(keys[i - 1].key, keys[i].key) == 0 &&
		    (!dup || keys[i].at < dup->at))
			dup = &keys[i];
	int r = 0;
	if (dup) {
		char *p = place[0] ? xasprintf("%s.%s", place, dup->key)
				   : xstrdup(dup->key);
		r = fail(c, p, NULL,
			 "duplicate key (each key may appear once)");
		free(p);
	}
	free(keys);
	return r;
}

static bool is_integer(const cJSON *v, double lo, double hi)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	return d == floor(d) && d >= lo && d <= hi;
}

static int get_long(struct ctx *c, const char *place, const cJSON *v, long lo,
		    long hi, long *out)
{
	if (!is_integer(v, (double)lo, (double)hi)) {
		if (hi >= 1000000)
			return fail(c, place, v, "expected an integer >= %ld",
				    lo);
		return fail(c, place, v, "expected an integer from %ld to %ld",
			    lo, hi);
	}
	*out = (long)v->valuedouble;
	return 0;
}

static int get_seconds(struct ctx *c, const char *place, const cJSON *v,
		       double *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
	    !isfinite(v->valuedouble) || v->valuedouble > 1e9)
		return fail(c, place, v,
			    "expected a number of seconds >= 0 (0 means none)");
	*out = v->valuedouble;
	return 0;
}

static int get_string(struct ctx *c, const char *place, const cJSON *v,
		      bool nonempty, char **out)
{
	if (!cJSON_IsString(v) || (nonempty && !v->valuestring[0]))
		return fail(c, place, v,
			    nonempty ? "expected a non-empty string"
				     : "expected a string");
	*out = xstrdup(v->valuestring);
	return 0;
}

/* Relative paths are taken from the config's directory, made absolute
 * so that a worker's cwd cannot change what they name. */
static char *resolve(const char *dir, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	if (!dir || !dir[0])
		dir = ".";
	if (dir[0] == '/')
		return xasprintf("%s/%s", dir, path);
	char *cwd = getcwd(NULL, 0);
	char *r = strcmp(dir, ".") == 0
			  ? xasprintf("%s/%s", cwd ? cwd : ".", path)
			  : xasprintf("%s/%s/%s", cwd ? cwd : ".", dir, path);
	free(cwd);
	return r;
}

static const char *basename_of(const char *s)
{
	const char *slash = strrchr(s, '/');
	return slash ? slash + 1 : s;
}

static int parse_cmd(struct ctx *c, const char *place, const cJSON *v,
		     struct worker_spec *w)
{
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return fail(c, place, v,
			    "expected a non-empty array of strings (argv, no "
			    "shell)");
	size_t n = (size_t)cJSON_GetArraySize(v);
	w->cmd = xcalloc(n + 1, sizeof(char *));
	w->ncmd = n;
	size_t i = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, v)
	{
		if (!cJSON_IsString(a) || (i == 0 && !a->valuestring[0])) {
			char *p = xasprintf("%s[%zu]", place, i);
			int r = fail(c, p, a,
				     i == 0 ? "expected a non-empty string"
					    : "expected a string");
			free(p);
			return r;
		}
		/* A remote worker's path is one on its host. */
		if (i == 0 && strchr(a->valuestring, '/') &&
		    w->launcher != LAUNCH_SSH)
			w->cmd[i] = resolve(c->dir, a->valuestring);
		else
			w->cmd[i] = xstrdup(a->valuestring);
		i++;
	}
	return 0;
}

static int parse_env(struct ctx *c, const char *place, const cJSON *v,
		     struct worker_spec *w)
{
	if (!cJSON_IsObject(v))
		return fail(c, place, v, "expected an object of strings");
	if (check_unique(c, place, v))
		return -1;
	size_t n = (size_t)cJSON_GetArraySize(v);
	w->env = xcalloc(n ? n : 1, sizeof(*w->env));
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
	{
		char *p = xasprintf("%s.%s", place, e->string);
		int r = 0;
		if (!e->string[0] || strchr(e->string, '='))
			r = fail(c, place, NULL,
				 "\"%s\" is not a valid variable name",
				 e->string);
		else if (cJSON_IsString(e))
			w->env[w->nenv].val = xstrdup(e->valuestring);
		else if (is_integer(e, -1e15, 1e15))
			w->env[w->nenv].val = xasprintf("%.0f", e->valuedouble);
		else if (cJSON_IsNumber(e) && isfinite(e->valuedouble))
			w->env[w->nenv].val =
				xasprintf("%.17g", e->valuedouble);
		else
			r = fail(c, p, e, "expected a string");
		free(p);
		if (r)
			return r;
		w->env[w->nenv++].key = xstrdup(e->string);
	}
	return 0;
}

/* --- Where workers run: "hosts", "launcher", "slurm" (SPEC section 10) */

/* One "hosts" entry, or one of -S; dups names a destination already
 * listed.  Messages name no place: the caller does. */
static int add_host(struct worker_spec *w, const char *entry, struct buf *why)
{
	struct remote_host h;
	if (remote_host_parse(&h, entry, 0, why) < 0)
		return -1;
	for (size_t k = 0; k < w->nhosts; k++)
		if (strcmp(w->hosts[k].dest, h.dest) == 0) {
			buf_addf(why,
				 "host \"%s\" is listed twice: list it once, "
				 "with its number of workers as N/%s",
				 h.dest, h.dest);
			remote_host_release(&h);
			return -1;
		}
	w->hosts = xrealloc(w->hosts, (w->nhosts + 1) * sizeof(*w->hosts));
	w->hosts[w->nhosts++] = h;
	return 0;
}

static int parse_hosts(struct ctx *c, const char *place, const cJSON *v,
		       struct worker_spec *w)
{
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return fail(c, place, v,
			    "expected a non-empty array of ssh destinations, "
			    "such as [\"gpu1\", \"4/gpu2\", \"alice@gpu3\"]");
	size_t i = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, v)
	{
		char *p = xasprintf("%s[%zu]", place, i++);
		int r = 0;
		if (!cJSON_IsString(h)) {
			r = fail(c, p, h,
				 "expected a host such as \"gpu1\", \"4/gpu2\" "
				 "(4 workers there) or \"alice@gpu3\"");
		} else {
			struct buf why = BUF_INIT;
			if (add_host(w, h->valuestring, &why) < 0) {
				buf_addc(&why, '\0');
				r = fail(c, p, NULL, "%s", why.p);
			}
			buf_release(&why);
		}
		free(p);
		if (r)
			return r;
	}
	return 0;
}

/* A GRES as srun takes it: NAME[:TYPE][:COUNT], comma-separated. */
static bool gres_ok(const char *g)
{
	const char *p = g;
	for (;;) {
		size_t parts = 0;
		for (;;) {
			size_t n = 0;
			while (p[n] && (isalnum((unsigned char)p[n]) ||
					strchr("_.-", p[n])))
				n++;
			if (!n)
				return false;
			parts++;
			p += n;
			if (*p != ':')
				break;
			p++;
		}
		if (parts > 3)
			return false;
		if (!*p)
			return true;
		if (*p++ != ',')
			return false;
	}
}

/* Slurm's time limits: MIN, MIN:SEC, H:MIN:SEC, D-H, D-H:MIN,
 * D-H:MIN:SEC, or UNLIMITED / INFINITE. */
static bool slurm_time_ok(const char *t)
{
	if (strcmp(t, "UNLIMITED") == 0 || strcmp(t, "INFINITE") == 0)
		return true;
	const char *p = t;
	size_t fields = 0;
	bool days = false;
	for (;;) {
		size_t n = strspn(p, "0123456789");
		if (!n || n > 9)
			return false;
		fields++;
		p += n;
		if (*p == '-' && fields == 1 && !days) {
			days = true;
			fields = 0;
			p++;
			continue;
		}
		if (!*p)
			break;
		if (*p++ != ':')
			return false;
	}
	return fields <= 3 && (!days || fields >= 1);
}

static const char *const slurm_keys[] = {"gres", "cpus_per_task", "partition",
					 "time", "args"};

static int parse_slurm(struct ctx *c, const char *place, const cJSON *o,
		       struct slurm_opts *s)
{
	if (!cJSON_IsObject(o))
		return fail(c, place, o,
			    "expected an object such as {\"gres\": \"gpu:1\", "
			    "\"cpus_per_task\": 4}");
	if (check_unique(c, place, o))
		return -1;
	const cJSON *v;
	cJSON_ArrayForEach(v, o)
	{
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(slurm_keys); k++)
			if (strcmp(v->string, slurm_keys[k]) == 0)
				known = true;
		if (!known) {
			char *p = xasprintf("%s.%s", place, v->string);
			int r = fail(c, p, NULL,
				     "unknown key (known: gres, cpus_per_task, "
				     "partition, time, args)");
			free(p);
			return r;
		}
	}
	char *p = NULL;
	int r = 0;
#define PLACE(key) (free(p), p = xasprintf("%s.%s", place, key))
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "gres"))) {
		if (!cJSON_IsString(v) || !gres_ok(v->valuestring)) {
			r = fail(c, PLACE("gres"), v,
				 "expected a generic resource as srun --gres "
				 "takes it, such as \"gpu:1\" or "
				 "\"gpu:a100:2\"");
			goto out;
		}
		s->gres = xstrdup(v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cpus_per_task")) &&
	    (r = get_long(c, PLACE("cpus_per_task"), v, 1, INFLIGHT_MAX,
			  &s->cpus_per_task)))
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "partition"))) {
		if (!cJSON_IsString(v) || !v->valuestring[0] ||
		    strpbrk(v->valuestring, " \t\n\r")) {
			r = fail(c, PLACE("partition"), v,
				 "expected a partition name (sinfo lists "
				 "them)");
			goto out;
		}
		s->partition = xstrdup(v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "time"))) {
		if (is_integer(v, 1, 1e9))
			s->time = xasprintf("%.0f", v->valuedouble);
		else if (cJSON_IsString(v) && slurm_time_ok(v->valuestring))
			s->time = xstrdup(v->valuestring);
		else {
			r = fail(c, PLACE("time"), v,
				 "expected a Slurm time limit: minutes, or "
				 "\"HH:MM:SS\", \"D-HH:MM:SS\"");
			goto out;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "args"))) {
		PLACE("args");
		if (!cJSON_IsArray(v)) {
			r = fail(c, p, v,
				 "expected an array of srun arguments, such as "
				 "[\"--mem=4G\"]");
			goto out;
		}
		size_t n = (size_t)cJSON_GetArraySize(v);
		s->args = xcalloc(n + 1, sizeof(char *));
		const cJSON *a;
		cJSON_ArrayForEach(a, v)
		{
			if (!cJSON_IsString(a) || !a->valuestring[0]) {
				char *ap = xasprintf("%s[%zu]", p, s->nargs);
				r = fail(c, ap, a,
					 "expected a non-empty string");
				free(ap);
				goto out;
			}
			s->args[s->nargs++] = xstrdup(a->valuestring);
		}
	}
out:
#undef PLACE
	free(p);
	return r;
}

static int parse_launch(struct ctx *c, const char *place, const cJSON *o,
			struct worker_spec *w)
{
	char *p = NULL;
	int r = 0;
	const cJSON *v, *hosts, *slurm;
	enum launcher named = LAUNCH_LOCAL;
	bool have_named = false;
#define PLACE(key) (free(p), p = xasprintf("%s.%s", place, key))
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "launcher"))) {
		have_named = true;
		if (cJSON_IsString(v) && strcmp(v->valuestring, "local") == 0)
			named = LAUNCH_LOCAL;
		else if (cJSON_IsString(v) &&
			 strcmp(v->valuestring, "ssh") == 0)
			named = LAUNCH_SSH;
		else if (cJSON_IsString(v) &&
			 strcmp(v->valuestring, "slurm") == 0)
			named = LAUNCH_SLURM;
		else {
			r = fail(c, PLACE("launcher"), v,
				 "expected \"local\", \"ssh\" (with \"hosts\") "
				 "or \"slurm\"");
			goto out;
		}
	}
	hosts = cJSON_GetObjectItemCaseSensitive(o, "hosts");
	slurm = cJSON_GetObjectItemCaseSensitive(o, "slurm");
	if (hosts) {
		if (have_named && named != LAUNCH_SSH) {
			r = fail(c, PLACE("hosts"), NULL,
				 "only for workers started over ssh, but "
				 "\"launcher\" is \"%s\" (Slurm places its "
				 "steps itself)",
				 named == LAUNCH_SLURM ? "slurm" : "local");
			goto out;
		}
		if ((r = parse_hosts(c, PLACE("hosts"), hosts, w)))
			goto out;
	} else if (named == LAUNCH_SSH) {
		r = fail(c, PLACE("hosts"), NULL,
			 "missing: \"launcher\": \"ssh\" needs the hosts to "
			 "run on, such as [\"gpu1\", \"4/gpu2\"]");
		goto out;
	}
	if (named == LAUNCH_SLURM)
		w->launcher = LAUNCH_SLURM;
	if (slurm) {
		if (w->launcher != LAUNCH_SLURM) {
			r = fail(c, PLACE("slurm"), NULL,
				 "only with \"launcher\": \"slurm\"");
			goto out;
		}
		r = parse_slurm(c, PLACE("slurm"), slurm, &w->slurm);
	}
out:
#undef PLACE
	free(p);
	return r;
}

/* "batch": {"max_size": N, "max_delay": SECS} (spool protocol only). */
static int parse_batch(struct ctx *c, const char *place, const cJSON *v,
		       struct worker_spec *w)
{
	if (!cJSON_IsObject(v))
		return fail(c, place, v,
			    "expected an object: {\"max_size\": 32, "
			    "\"max_delay\": 0.005}");
	if (check_unique(c, place, v))
		return -1;
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
	{
		if (strcmp(e->string, "max_size") != 0 &&
		    strcmp(e->string, "max_delay") != 0) {
			char *p = xasprintf("%s.%s", place, e->string);
			int r = fail(c, p, NULL,
				     "unknown key (known: max_size, "
				     "max_delay)");
			free(p);
			return r;
		}
	}
	char *p = xasprintf("%s.max_size", place);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "max_size");
	int r = 0;
	if (!m)
		r = fail(c, p, NULL, "missing (the most tasks in one batch)");
	else
		r = get_long(c, p, m, 1, BATCH_MAX, &w->batch_max);
	free(p);
	if (r)
		return r;
	if ((m = cJSON_GetObjectItemCaseSensitive(v, "max_delay"))) {
		p = xasprintf("%s.max_delay", place);
		r = get_seconds(c, p, m, &w->batch_delay);
		free(p);
		if (r)
			return r;
	}
	if (w->protocol != PROTO_SPOOL)
		return fail(c, place, NULL,
			    "only for the spool protocol (a batch is a "
			    "JSON-RPC array of requests): set \"protocol\": "
			    "\"spool\"");
	return 0;
}

static const char *const spec_keys[] = {
	"name",      "cmd",      "protocol", "spawn",   "env",
	"cwd",       "replicas", "inflight", "timeout", "startup_timeout",
	"max_tasks", "ready",    "buffered", "batch",   "hosts",
	"launcher",  "slurm",
};

static int parse_spec(struct ctx *c, const cJSON *o, size_t idx,
		      struct worker_spec *w)
{
	char place[64];
	snprintf(place, sizeof(place), "workers[%zu]", idx);
	if (!cJSON_IsObject(o))
		return fail(c, place, o,
			    "expected an object with at least \"cmd\"");
	if (check_unique(c, place, o))
		return -1;

	w->replicas = 1;
	w->startup_timeout = 60;
	w->inflight = 0; /* auto */
	/* Known before cmd and cwd are read: theirs are remote paths. */
	if (cJSON_GetObjectItemCaseSensitive(o, "hosts"))
		w->launcher = LAUNCH_SSH;

	const cJSON *v;
	cJSON_ArrayForEach(v, o)
	{
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(spec_keys); k++)
			if (strcmp(v->string, spec_keys[k]) == 0)
				known = true;
		if (!known) {
			char *p = xasprintf("%s.%s", place, v->string);
			struct buf names = BUF_INIT;
			for (size_t k = 0; k < ARRAY_SIZE(spec_keys); k++)
				buf_addf(&names, "%s%s", k ? ", " : "",
					 spec_keys[k]);
			buf_addc(&names, '\0');
			int r = fail(c, p, NULL, "unknown key (known: %s)",
				     names.p);
			buf_release(&names);
			free(p);
			return r;
		}
	}

	char *p = NULL;
#define PLACE(key) (free(p), p = xasprintf("%s.%s", place, key))
	int r = 0;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(o, "cmd");
	if (!cmd) {
		r = fail(c, place, NULL,
			 "missing \"cmd\" (the worker's argv, e.g. "
			 "[\"python3\", \"worker.py\"])");
		goto out;
	}
	if ((r = parse_cmd(c, PLACE("cmd"), cmd, w)))
		goto out;

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "name"))) {
		if ((r = get_string(c, PLACE("name"), v, true, &w->name)))
			goto out;
		if (strpbrk(w->name, "\n\t")) {
			r = fail(c, p, v,
				 "expected a name without tabs or newlines");
			goto out;
		}
	} else {
		const char *base =
			basename_of(cJSON_GetArrayItem(cmd, 0)->valuestring);
		if (!base[0] || strpbrk(base, "\n\t")) {
			r = fail(c, PLACE("name"), NULL,
				 "cmd[0] gives no usable name (empty, or with "
				 "tabs or "
				 "newlines); set \"name\"");
			goto out;
		}
		w->name = xstrdup(base);
	}

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "protocol"))) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, "lines") == 0)
			w->protocol = PROTO_LINES;
		else if (cJSON_IsString(v) &&
			 strcmp(v->valuestring, "spool") == 0)
			w->protocol = PROTO_SPOOL;
		else {
			r = fail(c, PLACE("protocol"), v,
				 "expected \"lines\" or \"spool\"");
			goto out;
		}
	}

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "spawn"))) {
		if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
			r = fail(c, PLACE("spawn"), v,
				 "expected an object (keyword arguments) or an "
				 "array "
				 "(positional arguments)");
			goto out;
		}
		/* Pass the value on as written (compacted): numbers keep
		 * their exact text, 1.0 stays a float for the worker. */
		struct span root = {c->text, c->len}, ws, spec, sp;
		if (json_member(root.p, root.n, "workers", &ws) &&
		    json_element(ws.p, ws.n, idx, &spec) &&
		    json_member(spec.p, spec.n, "spawn", &sp)) {
			struct buf b = BUF_INIT;
			json_minify(sp.p, sp.n, &b);
			buf_addc(&b, '\0');
			w->spawn_json = b.p;
		} else {
			w->spawn_json = cJSON_PrintUnformatted(v);
		}
		if (!w->spawn_json)
			w->spawn_json = xstrdup("{}");
	} else {
		w->spawn_json = xstrdup("{}");
	}

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "env")) &&
	    (r = parse_env(c, PLACE("env"), v, w)))
		goto out;

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cwd"))) {
		char *cwd = NULL;
		if ((r = get_string(c, PLACE("cwd"), v, true, &cwd)))
			goto out;
		if (w->launcher == LAUNCH_SSH) {
			w->cwd = cwd; /* a directory on the remote host */
		} else {
			w->cwd = resolve(c->dir, cwd);
			free(cwd);
		}
	}

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "replicas")) &&
	    (r = get_long(c, PLACE("replicas"), v, 0, REPLICAS_MAX,
			  &w->replicas)))
		goto out;

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "inflight"))) {
		w->inflight_set = true;
		if (cJSON_IsString(v) && strcmp(v->valuestring, "auto") == 0)
			w->inflight = 0;
		else if (!is_integer(v, 1, INFLIGHT_MAX)) {
			r = fail(c, PLACE("inflight"), v,
				 "expected an integer >= 1 or \"auto\"");
			goto out;
		} else
			w->inflight = (long)v->valuedouble;
	}

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "timeout"))) {
		w->timeout_set = true;
		if ((r = get_seconds(c, PLACE("timeout"), v, &w->timeout)))
			goto out;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "startup_timeout")) &&
	    (r = get_seconds(c, PLACE("startup_timeout"), v,
			     &w->startup_timeout)))
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "max_tasks")) &&
	    (r = get_long(c, PLACE("max_tasks"), v, 0, INFLIGHT_MAX * 1000L,
			  &w->max_tasks)))
		goto out;

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "ready"))) {
		PLACE("ready");
		if (cJSON_IsString(v) && strcmp(v->valuestring, "line") == 0)
			w->ready = READY_LINE;
		else if (cJSON_IsString(v) &&
			 strcmp(v->valuestring, "start") == 0)
			w->ready = READY_START;
		else {
			r = fail(c, p, v, "expected \"line\" or \"start\"");
			goto out;
		}
		if (w->protocol == PROTO_SPOOL) {
			r = fail(c, p, NULL,
				 "only for the lines protocol (a spool worker "
				 "is ready "
				 "when it answers spawn)");
			goto out;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "buffered"))) {
		PLACE("buffered");
		if (!cJSON_IsBool(v)) {
			r = fail(c, p, v, "expected true or false");
			goto out;
		}
		w->buffered = cJSON_IsTrue(v);
		if (w->buffered && w->protocol == PROTO_SPOOL) {
			r = fail(c, p, NULL,
				 "only for the lines protocol (a spool worker "
				 "answers each request as it goes)");
			goto out;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "batch")) &&
	    (r = parse_batch(c, PLACE("batch"), v, w)))
		goto out;
	r = parse_launch(c, place, o, w);
out:
#undef PLACE
	free(p);
	return r;
}

/* Line and column (from 1) of byte offset pos in text. */
static void line_col(const char *text, size_t pos, size_t *line, size_t *col)
{
	*line = 1;
	size_t bol = 0;
	for (size_t i = 0; i < pos; i++)
		if (text[i] == '\n') {
			(*line)++;
			bol = i + 1;
		}
	*col = pos - bol + 1;
}

int config_parse(struct pool_config *cfg, const char *text, size_t len,
		 const char *label, const char *dir, struct buf *err)
{
	struct ctx c = {label, dir, err, text, len, NULL};
	memset(cfg, 0, sizeof(*cfg));
	cfg->label = xstrdup(label);
	cfg->dir = xstrdup(dir ? dir : ".");
	cfg->order = -1;
	cfg->retries = -1;

	struct json_error je;
	if (!json_check(text, len, &je)) {
		size_t line, col;
		line_col(text, je.pos, &line, &col);
		buf_reset(err);
		buf_addf(err, "%s:%zu:%zu: invalid JSON: %s", label, line, col,
			 je.why);
		return -1;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (!root) {
		buf_reset(err);
		buf_addf(err, "%s: invalid JSON", label);
		return -1;
	}
	c.root = root;
	int r = 0;
	if (!cJSON_IsObject(root)) {
		r = fail(&c, "top level", root,
			 "expected an object with a \"workers\" array");
		goto out;
	}
	if ((r = check_unique(&c, "", root)))
		goto out;
	const cJSON *v;
	cJSON_ArrayForEach(v, root)
	{
		static const char *const keys[] = {"workers", "order",
						   "queue_size", "retries",
						   "order_buffer"};
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			if (strcmp(v->string, keys[k]) == 0)
				known = true;
		if (!known) {
			r = fail(&c, v->string, NULL,
				 "unknown key (known: workers, order, "
				 "queue_size, retries, order_buffer)");
			goto out;
		}
	}
	const cJSON *workers =
		cJSON_GetObjectItemCaseSensitive(root, "workers");
	if (!workers) {
		r = fail(&c, "workers", NULL,
			 "missing (a non-empty array of worker specs)");
		goto out;
	}
	if (!cJSON_IsArray(workers) || cJSON_GetArraySize(workers) == 0) {
		r = fail(&c, "workers", workers,
			 "expected a non-empty array of worker specs");
		goto out;
	}
	cfg->nspecs = (size_t)cJSON_GetArraySize(workers);
	cfg->specs = xcalloc(cfg->nspecs, sizeof(*cfg->specs));
	size_t i = 0;
	long total = 0;
	cJSON_ArrayForEach(v, workers)
	{
		if ((r = parse_spec(&c, v, i, &cfg->specs[i])))
			goto out;
		total += config_spec_workers(&cfg->specs[i]);
		i++;
	}
	if (total > REPLICAS_MAX * 4) {
		r = fail(&c, "workers", NULL, "%ld workers in all; at most %d",
			 total, REPLICAS_MAX * 4);
		goto out;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "order"))) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, "input") == 0)
			cfg->order = 1;
		else if (cJSON_IsString(v) &&
			 strcmp(v->valuestring, "completion") == 0)
			cfg->order = 0;
		else {
			r = fail(&c, "order", v,
				 "expected \"input\" or \"completion\"");
			goto out;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "queue_size")) &&
	    (r = get_long(&c, "queue_size", v, 1, QUEUE_MAX, &cfg->queue_size)))
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "retries")) &&
	    (r = get_long(&c, "retries", v, 0, RETRIES_MAX, &cfg->retries)))
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "order_buffer"))) {
		long bytes = -1;
		if (cJSON_IsString(v))
			bytes = parse_size(v->valuestring);
		else if (is_integer(v, 1, 1e15))
			bytes = (long)v->valuedouble;
		if (bytes < 1) {
			r = fail(&c, "order_buffer", v,
				 "expected a size in bytes, like 67108864 or "
				 "\"64M\" (K, M, G: powers of 1024)");
			goto out;
		}
		cfg->order_buffer = bytes;
	}
out:
	cJSON_Delete(root);
	return r;
}

int config_load(struct pool_config *cfg, const char *path, struct buf *err)
{
	memset(cfg, 0, sizeof(*cfg));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf_reset(err);
		buf_addf(err, "%s: cannot read the pool config: %s", path,
			 strerror(errno));
		return -1;
	}
	struct buf text = BUF_INIT;
	for (;;) {
		buf_reserve(&text, 65536);
		ssize_t r = xread(fd, text.p + text.len, text.cap - text.len);
		if (r < 0) {
			buf_reset(err);
			buf_addf(err, "%s: cannot read the pool config: %s",
				 path, strerror(errno));
			close(fd);
			buf_release(&text);
			return -1;
		}
		if (r == 0)
			break;
		text.len += (size_t)r;
		if (text.len > SPOOL_LINE_MAX) {
			buf_reset(err);
			buf_addf(err,
				 "%s: larger than 64 MiB; is this a pool "
				 "config?",
				 path);
			close(fd);
			buf_release(&text);
			return -1;
		}
	}
	close(fd);
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	int r = config_parse(cfg, text.p ? text.p : "", text.len, path, dir,
			     err);
	free(dir);
	buf_release(&text);
	return r;
}

void config_from_command(struct pool_config *cfg, const char *command,
			 long jobs)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->label = xstrdup("--cmd");
	cfg->dir = xstrdup(".");
	cfg->order = -1;
	cfg->retries = -1;
	cfg->nspecs = 1;
	cfg->specs = xcalloc(1, sizeof(*cfg->specs));
	struct worker_spec *w = &cfg->specs[0];
	w->cmd = xcalloc(4, sizeof(char *));
	w->cmd[0] = xstrdup("/bin/sh");
	w->cmd[1] = xstrdup("-c");
	w->cmd[2] = xstrdup(command);
	w->ncmd = 3;
	/* The name is the command's first word, as a user would say it. */
	const char *s = command;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strcspn(s, " \t\n;|&<>()");
	char *word = n ? xstrndup(s, n) : xstrdup("sh");
	w->name = xstrdup(basename_of(word));
	if (!w->name[0]) {
		free(w->name);
		w->name = xstrdup("sh");
	}
	free(word);
	w->spawn_json = xstrdup("{}");
	/* jq's {name} and the shell's ${name} reach the shell as typed. */
	w->literal = true;
	w->replicas = jobs;
	w->startup_timeout = 60;
	w->inflight = 0; /* auto */
}

void config_spec_release(struct worker_spec *w)
{
	free(w->name);
	for (size_t k = 0; w->cmd && k < w->ncmd; k++)
		free(w->cmd[k]);
	free(w->cmd);
	free(w->spawn_json);
	for (size_t k = 0; k < w->nenv; k++) {
		free(w->env[k].key);
		free(w->env[k].val);
	}
	free(w->env);
	free(w->cwd);
	for (size_t k = 0; k < w->nhosts; k++)
		remote_host_release(&w->hosts[k]);
	free(w->hosts);
	free(w->slurm.gres);
	free(w->slurm.partition);
	free(w->slurm.time);
	for (size_t k = 0; k < w->slurm.nargs; k++)
		free(w->slurm.args[k]);
	free(w->slurm.args);
	memset(w, 0, sizeof(*w));
}

void config_release(struct pool_config *cfg)
{
	for (size_t i = 0; i < cfg->nspecs; i++)
		config_spec_release(&cfg->specs[i]);
	free(cfg->specs);
	free(cfg->label);
	free(cfg->dir);
	memset(cfg, 0, sizeof(*cfg));
}

/* A spec as a JSON object (without replicas), for add_worker's template. */
static void spec_json(const struct worker_spec *w, struct buf *b)
{
	buf_adds(b, "{\"name\":");
	buf_add_json_string(b, w->name, strlen(w->name));
	buf_adds(b, ",\"cmd\":[");
	for (size_t i = 0; i < w->ncmd; i++) {
		if (i)
			buf_addc(b, ',');
		buf_add_json_string(b, w->cmd[i], strlen(w->cmd[i]));
	}
	buf_addf(b, "],\"protocol\":\"%s\",\"spawn\":%s",
		 w->protocol == PROTO_SPOOL ? "spool" : "lines", w->spawn_json);
	if (w->nenv) {
		buf_adds(b, ",\"env\":{");
		for (size_t i = 0; i < w->nenv; i++) {
			if (i)
				buf_addc(b, ',');
			buf_add_json_string(b, w->env[i].key,
					    strlen(w->env[i].key));
			buf_addc(b, ':');
			buf_add_json_string(b, w->env[i].val,
					    strlen(w->env[i].val));
		}
		buf_addc(b, '}');
	}
	if (w->cwd) {
		buf_adds(b, ",\"cwd\":");
		buf_add_json_string(b, w->cwd, strlen(w->cwd));
	}
	if (w->inflight)
		buf_addf(b, ",\"inflight\":%ld", w->inflight);
	buf_addf(b, ",\"timeout\":%.17g,\"startup_timeout\":%.17g", w->timeout,
		 w->startup_timeout);
	buf_addf(b, ",\"max_tasks\":%ld", w->max_tasks);
	if (w->batch_max)
		buf_addf(b, ",\"batch\":{\"max_size\":%ld,\"max_delay\":%.17g}",
			 w->batch_max, w->batch_delay);
	if (w->protocol == PROTO_LINES) {
		buf_addf(b, ",\"ready\":\"%s\"",
			 w->ready == READY_LINE ? "line" : "start");
		buf_addf(b, ",\"buffered\":%s", w->buffered ? "true" : "false");
	}
	buf_addc(b, '}');
}

/* Merging add_worker's keys over the template, as text. */
struct merge {
	struct buf *out;
	const char *over; /* the new keys' object */
	size_t n;
	bool first;
};

static void merge_member(void *ctx, struct span key, struct span val)
{
	struct merge *m = ctx;
	if (m->over) {
		char k[64];
		struct span dummy;
		if (key.n < sizeof(k)) {
			memcpy(k, key.p, key.n);
			k[key.n] = '\0';
			if (json_member(m->over, m->n, k, &dummy))
				return; /* the new value wins */
		}
	}
	if (!m->first)
		buf_addc(m->out, ',');
	m->first = false;
	buf_addc(m->out, '"');
	buf_add(m->out, key.p, key.n);
	buf_adds(m->out, "\":");
	buf_add(m->out, val.p, val.n);
}

int config_spec_from_json(const struct pool_config *cfg,
			  const struct worker_spec *tmpl, const char *json,
			  size_t n, struct worker_spec *out, struct buf *err)
{
	struct buf text = BUF_INIT, t = BUF_INIT;
	buf_adds(&text, "{\"workers\":[{");
	struct merge m = {&text, NULL, 0, true};
	const char *why = json_object_each(json, n, merge_member, &m);
	if (why) {
		buf_reset(err);
		buf_addf(err, "params: %s", why);
		buf_release(&text);
		return -1;
	}
	bool own_cmd = false;
	struct span dummy;
	if (json_member(json, n, "cmd", &dummy))
		own_cmd = true;
	if (tmpl) {
		spec_json(tmpl, &t);
		m.over = json;
		m.n = n;
		(void)json_object_each(t.p, t.len, merge_member, &m);
	}
	buf_adds(&text, "}]}");
	struct pool_config one;
	int r = config_parse(&one, text.p, text.len, "add_worker",
			     cfg->dir ? cfg->dir : ".", err);
	buf_release(&text);
	buf_release(&t);
	if (r != 0) {
		config_release(&one);
		return -1;
	}
	/* NEEDSWORK: a worker on a host or a Slurm step, added while the
	 * pool runs, needs the launcher's connection set up for it. */
	if (one.specs[0].launcher != LAUNCH_LOCAL ||
	    (tmpl && tmpl->launcher != LAUNCH_LOCAL)) {
		buf_reset(err);
		buf_adds(err, "add_worker: workers on other hosts or under "
			      "Slurm cannot be added while the pool runs; list "
			      "them in the pool config");
		config_release(&one);
		return -1;
	}
	*out = one.specs[0];
	memset(&one.specs[0], 0, sizeof(one.specs[0]));
	config_release(&one);
	/* A -c template's command is used as typed. */
	if (tmpl && tmpl->literal && !own_cmd)
		out->literal = true;
	out->replicas = 1;
	return 0;
}

char *config_expand(const char *s, long worker, long replica, const char *name)
{
	struct expand_at at = {worker, replica, name, NULL, 0};
	return config_expand_at(s, &at);
}

char *config_expand_at(const char *s, const struct expand_at *at)
{
	struct buf b = BUF_INIT;
	while (*s) {
		const char *open = strchr(s, '{');
		if (!open) {
			buf_adds(&b, s);
			break;
		}
		buf_add(&b, s, (size_t)(open - s));
		if (strncmp(open, "{worker}", 8) == 0) {
			buf_addf(&b, "%ld", at->worker);
			s = open + 8;
		} else if (strncmp(open, "{replica}", 9) == 0) {
			buf_addf(&b, "%ld", at->replica);
			s = open + 9;
		} else if (strncmp(open, "{name}", 6) == 0) {
			buf_adds(&b, at->name);
			s = open + 6;
		} else if (at->host && strncmp(open, "{host}", 6) == 0) {
			buf_adds(&b, at->host);
			s = open + 6;
		} else if (at->host && strncmp(open, "{slot}", 6) == 0) {
			buf_addf(&b, "%ld", at->slot);
			s = open + 6;
		} else {
			buf_addc(&b, '{');
			s = open + 1;
		}
	}
	buf_addc(&b, '\0');
	return b.p;
}

long config_spec_workers(const struct worker_spec *w)
{
	if (!w->nhosts)
		return w->replicas;
	long n = 0;
	for (size_t k = 0; k < w->nhosts; k++)
		n += w->hosts[k].slots ? w->hosts[k].slots : w->replicas;
	return n;
}

int config_set_hosts(struct worker_spec *spec, const char *list,
		     struct buf *err)
{
	const char *p = list;
	for (;;) {
		size_t n = strcspn(p, ",");
		char *entry = xstrndup(p, n);
		struct buf why = BUF_INIT;
		int r = add_host(spec, entry, &why);
		free(entry);
		if (r < 0) {
			buf_reset(err);
			buf_adds(err, "-S/--hosts: ");
			buf_add(err, buf_data(&why), buf_used(&why));
			buf_addc(err, '\0');
			err->len--;
			buf_release(&why);
			return -1;
		}
		buf_release(&why);
		if (!p[n])
			break;
		p += n + 1;
	}
	spec->launcher = LAUNCH_SSH;
	return 0;
}
