/* spool.c - the command line: parse arguments, then one call into lib/. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

static const char usage_main[] =
	"usage: spool run   (-w POOL.json | -c COMMAND) [options] [FILE...]\n"
	"       spool serve (-w POOL.json | -c COMMAND) [--listen PATH] "
	"[options]\n"
	"       spool check (-w POOL.json | -c COMMAND) [options]\n"
	"       spool --help | --version | help [run|serve|check]\n"
	"\n"
	"spool runs a pool of long-lived worker processes and streams\n"
	"newline-delimited JSON tasks through them: each worker is started "
	"once\n"
	"(expensive setup done once), then fed many tasks on its stdin.\n"
	"\n"
	"Commands:\n"
	"  run     run the tasks in FILEs (or stdin) through the pool\n"
	"  serve   the pool as a service: JSON-RPC on stdin/stdout or a "
	"socket\n"
	"  check   spawn every worker, print its spawn result, shut down\n"
	"\n"
	"Examples:\n"
	"  spool run -w pool.json < tasks.ndjson > results.ndjson\n"
	"  spool run -c 'jq -c --unbuffered \"{sq: (.x*.x)}\"' -j 4 -k "
	"tasks.ndjson\n"
	"  spool run -c 'jq -c .' --buffered -k tasks.ndjson\n"
	"  spool check -w pool.json\n"
	"\n"
	"See spool(1), spool-config(5) and spool-protocol(7).\n";

static const char usage_run[] =
	"usage: spool run (-w POOL.json | -c COMMAND) [options] [FILE...]\n"
	"\n"
	"Reads tasks, one JSON value per line, from the FILEs in order (none "
	"or\n"
	"'-' is stdin) and writes one result line per task on stdout.\n"
	"\n"
	"Pool:\n"
	"  -w, --workers FILE     pool config (see spool-config(5))\n"
	"  -c, --cmd COMMAND      one worker spec: /bin/sh -c COMMAND, as "
	"typed\n"
	"  -j, --jobs N           workers for -c (default: number of online "
	"CPUs);\n"
	"                         with -w, the replicas of its only spec\n"
	"  -p, --protocol P       the -c worker's protocol: lines (default) or "
	"spool\n"
	"      --buffered         the -c worker buffers its output (jq, sed, "
	"grep...):\n"
	"                         keep its pipe full, read answers in blocks\n"
	"  -S, --hosts LIST       run the -c workers on these ssh hosts "
	"(host1,4/host2):\n"
	"                         -j workers on each, or N/ on one\n"
	"      --ssh COMMAND      the ssh client for remote workers (default "
	"$SPOOL_SSH,\n"
	"                         else ssh)\n"
	"      --batch N[,DELAY]  send the -c worker (-p spool) up to N tasks "
	"as one\n"
	"                         JSON-RPC batch, waiting at most DELAY "
	"seconds for\n"
	"                         more (default 0)\n"
	"      --dry-run          print each worker's command, environment "
	"and\n"
	"                         directory; start nothing\n"
	"\n"
	"Flow:\n"
	"  -k, --keep-order       write results in input order (default: as "
	"they complete)\n"
	"  -q, --queue-size N     most tasks read but not yet written out "
	"(default 1024)\n"
	"      --order-buffer SIZE  with -k, most bytes of results held back "
	"behind\n"
	"                         a slow task (default 64M; K, M, G suffixes)\n"
	"      --inflight N|auto  most tasks in flight per worker (default "
	"auto: sized\n"
	"                         from each worker's measured time per task)\n"
	"  -r, --retries N        extra attempts for a task whose worker died "
	"or timed\n"
	"                         out (default 2)\n"
	"  -t, --timeout SECS     per-task time limit, decimal seconds "
	"(default none)\n"
	"\n"
	"Input and output:\n"
	"      --raw              tasks are text lines, not checked as JSON "
	"(lines\n"
	"                         protocol only)\n"
	"      --tag              wrap each output line: "
	"{\"seq\":N,\"result\":R} or\n"
	"                         {\"seq\":N,\"error\":{...}}, one per input "
	"line\n"
	"      --failed FILE      append the input line of every task that "
	"failed\n"
	"      --strict           stop at the first failed task or bad line "
	"(exit 1)\n"
	"\n"
	"Watching and resuming:\n"
	"      --joblog FILE      a TSV row per finished task\n"
	"      --resume           skip tasks the --joblog records as ok\n"
	"      --progress         live progress line on stderr (default: on "
	"when\n"
	"                         stderr is a terminal)\n"
	"      --no-progress      never draw the progress line\n"
	"      --stats[=FILE]     summary on stderr at exit; with =FILE, also "
	"as JSON\n"
	"  -v, --verbose          a line per worker event (spawned, ready, "
	"exited...)\n"
	"      --quiet            only errors on stderr\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 all tasks ok; 1 some failed; 2 usage, config or input "
	"error;\n"
	"3 no worker could run; 129/130/143 interrupted (SIGHUP/SIGINT/"
	"SIGTERM);\n"
	"141 stdout closed.\n";

static const char usage_serve[] =
	"usage: spool serve (-w POOL.json | -c COMMAND) [--listen PATH] "
	"[options]\n"
	"\n"
	"Runs the pool as a service: clients send JSON-RPC 2.0 requests, one "
	"a line\n"
	"(spawn, execute [TASK], add_worker SPEC, stats, shutdown) and get "
	"the\n"
	"answers by id as tasks complete (see spool-protocol(7)).  Without "
	"--listen,\n"
	"one client talks on stdin/stdout: a spool serve is then itself a "
	"worker\n"
	"of the spool protocol.\n"
	"\n"
	"  -w, --workers FILE     pool config (see spool-config(5)); "
	"\"replicas\": 0\n"
	"                         makes a spec a template for add_worker\n"
	"  -c, --cmd COMMAND      one worker spec: /bin/sh -c COMMAND, as "
	"typed\n"
	"  -j, --jobs N           workers for -c; with -w, the replicas of its "
	"only spec\n"
	"  -p, --protocol P       the -c worker's protocol: lines (default) or "
	"spool\n"
	"      --buffered         the -c worker buffers its output\n"
	"  -S, --hosts LIST       run the -c workers on these ssh hosts\n"
	"      --ssh COMMAND      the ssh client (default $SPOOL_SSH, else "
	"ssh)\n"
	"      --batch N[,DELAY]  JSON-RPC batches of up to N tasks (-p "
	"spool)\n"
	"      --listen PATH      serve any number of clients on a Unix "
	"socket (mode\n"
	"                         0600); a stale socket is replaced, a live "
	"one refused\n"
	"  -q, --queue-size N     most tasks accepted and not yet answered, "
	"across\n"
	"                         clients (default 1024); clients wait while "
	"it is full\n"
	"      --inflight N|auto  most tasks in flight per worker (default "
	"auto)\n"
	"  -r, --retries N        extra attempts for a task whose worker died "
	"(default 2)\n"
	"  -t, --timeout SECS     per-task time limit (default none)\n"
	"      --stats[=FILE]     summary on stderr at exit; with =FILE, also "
	"as JSON\n"
	"      --dry-run          print each worker's command; start nothing\n"
	"  -v, --verbose          a line per worker and client event\n"
	"      --quiet            only errors on stderr\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 after shutdown (or the end of stdin); 2 usage or "
	"config\n"
	"error; 129/130/143 interrupted (SIGHUP/SIGINT/SIGTERM).\n";

static const char usage_check[] =
	"usage: spool check (-w POOL.json | -c COMMAND) [options]\n"
	"\n"
	"Spawns every worker of the pool once, waits until each is ready or "
	"has\n"
	"failed, prints one line per worker (label, pid, spawn time and spawn\n"
	"result, or the error and its last stderr lines), and shuts the pool "
	"down.\n"
	"Remote hosts get a line each: reachable (and the time to connect) or "
	"not.\n"
	"A lines worker without a ready line is up if it still runs 1 s after "
	"its\n"
	"start.\n"
	"\n"
	"  -w, --workers FILE     pool config (see spool-config(5))\n"
	"  -c, --cmd COMMAND      one worker spec: /bin/sh -c COMMAND\n"
	"  -j, --jobs N           workers for -c; with -w, the replicas of its "
	"only spec\n"
	"  -p, --protocol P       the -c worker's protocol: lines or spool\n"
	"      --buffered         the -c worker buffers its output\n"
	"  -S, --hosts LIST       run the -c workers on these ssh hosts\n"
	"      --ssh COMMAND      the ssh client (default $SPOOL_SSH, else "
	"ssh)\n"
	"      --batch N[,DELAY]  JSON-RPC batches of up to N tasks (-p "
	"spool)\n"
	"  -v, --verbose          a line per worker event on stderr\n"
	"      --quiet            only errors on stderr\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 every worker came up; 1 some did not; 3 none did;\n"
	"2 usage or config error.\n";

enum {
	OPT_INFLIGHT = 256,
	OPT_FAILED,
	OPT_TAG,
	OPT_RAW,
	OPT_STRICT,
	OPT_JOBLOG,
	OPT_RESUME,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_STATS,
	OPT_QUIET,
	OPT_BUFFERED,
	OPT_DRY_RUN,
	OPT_ORDER_BUFFER,
	OPT_LISTEN,
	OPT_SSH,
	OPT_BATCH,
};

/* Which command takes an option. */
enum { IN_RUN = 1, IN_CHECK = 2, IN_SERVE = 4 };
#define IN_ALL (IN_RUN | IN_CHECK | IN_SERVE)

struct opt {
	struct option o;
	int in;
};

static const struct opt all_opts[] = {
	{{"workers", required_argument, NULL, 'w'}, IN_ALL},
	{{"cmd", required_argument, NULL, 'c'}, IN_ALL},
	{{"jobs", required_argument, NULL, 'j'}, IN_ALL},
	{{"protocol", required_argument, NULL, 'p'}, IN_ALL},
	{{"buffered", no_argument, NULL, OPT_BUFFERED}, IN_ALL},
	{{"batch", required_argument, NULL, OPT_BATCH}, IN_ALL},
	{{"dry-run", no_argument, NULL, OPT_DRY_RUN}, IN_RUN | IN_SERVE},
	{{"listen", required_argument, NULL, OPT_LISTEN}, IN_SERVE},
	{{"hosts", required_argument, NULL, 'S'}, IN_ALL},
	{{"ssh", required_argument, NULL, OPT_SSH}, IN_ALL},
	{{"keep-order", no_argument, NULL, 'k'}, IN_RUN},
	{{"queue-size", required_argument, NULL, 'q'}, IN_RUN | IN_SERVE},
	{{"order-buffer", required_argument, NULL, OPT_ORDER_BUFFER}, IN_RUN},
	{{"inflight", required_argument, NULL, OPT_INFLIGHT},
	 IN_RUN | IN_SERVE},
	{{"retries", required_argument, NULL, 'r'}, IN_RUN | IN_SERVE},
	{{"timeout", required_argument, NULL, 't'}, IN_RUN | IN_SERVE},
	{{"failed", required_argument, NULL, OPT_FAILED}, IN_RUN},
	{{"tag", no_argument, NULL, OPT_TAG}, IN_RUN},
	{{"raw", no_argument, NULL, OPT_RAW}, IN_RUN},
	{{"strict", no_argument, NULL, OPT_STRICT}, IN_RUN},
	{{"joblog", required_argument, NULL, OPT_JOBLOG}, IN_RUN},
	{{"resume", no_argument, NULL, OPT_RESUME}, IN_RUN},
	{{"progress", no_argument, NULL, OPT_PROGRESS}, IN_RUN},
	{{"no-progress", no_argument, NULL, OPT_NO_PROGRESS}, IN_RUN},
	{{"stats", optional_argument, NULL, OPT_STATS}, IN_RUN | IN_SERVE},
	{{"verbose", no_argument, NULL, 'v'}, IN_ALL},
	{{"quiet", no_argument, NULL, OPT_QUIET}, IN_ALL},
	{{"help", no_argument, NULL, 'h'}, IN_ALL},
};

static int usage_error(const char *cmd, const char *fmt, ...) PRINTF_LIKE(2, 3);

static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("spool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'spool %s%s--help'.\n", cmd ? cmd : "",
		cmd ? " " : "");
	return SPOOL_EXIT_USAGE;
}

static int print_help(const char *text)
{
	fputs(text, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Parse a count flag: "-j 4". */
static bool count_arg(const char *cmd, const char *flag, const char *arg,
		      long min, long max, long *out)
{
	if (parse_long(arg, min, max, out))
		return true;
	usage_error(cmd, "%s: expected an integer from %ld to %ld, got \"%s\"",
		    flag, min, max, arg);
	return false;
}

/* Edit distance, for "did you mean" (names are short). */
static size_t distance(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na > 40 || nb > 40)
		return 99;
	size_t d[41][41];
	for (size_t i = 0; i <= na; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= nb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= na; i++)
		for (size_t j = 1; j <= nb; j++) {
			size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			size_t m = sub < del ? sub : del;
			d[i][j] = m < ins ? m : ins;
		}
	return d[na][nb];
}

/* An unknown --option: name the closest one this command has. */
static int unknown_option(const char *cmd, int in, const char *arg)
{
	char name[64];
	size_t n = strcspn(arg + 2, "=");
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, arg + 2, n);
	name[n] = '\0';
	const char *best = NULL, *other = NULL;
	size_t best_d = 99;
	for (size_t i = 0; i < ARRAY_SIZE(all_opts); i++) {
		const char *o = all_opts[i].o.name;
		size_t d = distance(name, o);
		/* A prefix of a longer name ("--keep") counts as close. */
		if (n >= 3 && strncmp(o, name, n) == 0)
			d = 1;
		if (!(all_opts[i].in & in)) {
			if (strcmp(o, name) == 0)
				other = o;
			continue;
		}
		if (d < best_d) {
			best_d = d;
			best = o;
		}
	}
	if (other)
		return usage_error(cmd, "--%s is not an option of spool %s",
				   other, cmd);
	if (best && best_d <= 2 + n / 6)
		return usage_error(cmd,
				   "unknown option %s (did you mean --%s?)",
				   arg, best);
	return usage_error(cmd, "unknown option %s", arg);
}

static int cmd_main(int argc, char **argv, int in)
{
	const char *cmd = in == IN_CHECK   ? "check"
			  : in == IN_SERVE ? "serve"
					   : "run";
	struct option longopts[ARRAY_SIZE(all_opts) + 1];
	size_t nl = 0;
	for (size_t i = 0; i < ARRAY_SIZE(all_opts); i++)
		if (all_opts[i].in & in)
			longopts[nl++] = all_opts[i].o;
	memset(&longopts[nl], 0, sizeof(longopts[nl]));

	struct spool_opts o;
	spool_opts_init(&o);
	bool quiet = false, verbose = false;
	int stats_next = 0; /* --stats without =FILE: the argument after it */
	long n;
	int c;
	optind = 1;
	opterr = 0;
	/* Options may come after the FILEs, as with GNU tools; "--" ends
	 * them. */
	const char *shortopts = in == IN_CHECK	 ? ":w:c:j:p:S:vh"
				: in == IN_SERVE ? ":w:c:j:p:S:q:r:t:vh"
						 : ":w:c:j:p:S:kq:r:t:vh";
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			o.workers_path = optarg;
			break;
		case 'c':
			o.command = optarg;
			break;
		case 'j':
			if (!count_arg(cmd, "-j/--jobs", optarg, 1, 4096, &n))
				return SPOOL_EXIT_USAGE;
			o.jobs = n;
			break;
		case 'p':
			if (strcmp(optarg, "lines") == 0)
				o.protocol = SPOOL_PROTO_LINES;
			else if (strcmp(optarg, "spool") == 0)
				o.protocol = SPOOL_PROTO_SPOOL;
			else
				return usage_error(
					cmd,
					"-p/--protocol: expected lines or "
					"spool, got \"%s\"",
					optarg);
			break;
		case OPT_BUFFERED:
			o.buffered = true;
			break;
		case OPT_BATCH: {
			/* N or N,DELAY */
			char *comma = strchr(optarg, ',');
			char num[32];
			size_t k = comma ? (size_t)(comma - optarg)
					 : strlen(optarg);
			if (k >= sizeof(num))
				k = sizeof(num) - 1;
			memcpy(num, optarg, k);
			num[k] = '\0';
			if (!parse_long(num, 1, 100000, &n) ||
			    (comma && parse_seconds(comma + 1) < 0))
				return usage_error(
					cmd,
					"--batch: expected N or N,DELAY (the "
					"most tasks a batch, and seconds to "
					"wait for it to fill), like 32 or "
					"32,0.005; got \"%s\"",
					optarg);
			o.batch_max = n;
			o.batch_delay = comma ? parse_seconds(comma + 1) : 0;
			break;
		}
		case OPT_DRY_RUN:
			o.dry_run = true;
			break;
		case 'S':
			o.hosts = optarg;
			break;
		case OPT_SSH:
			o.ssh_command = optarg;
			break;
		case OPT_LISTEN:
			if (!*optarg)
				return usage_error(
					cmd, "--listen: the path is empty");
			o.listen_path = optarg;
			break;
		case 'k':
			o.keep_order = 1;
			break;
		case 'q':
			if (!count_arg(cmd, "-q/--queue-size", optarg, 1,
				       10000000, &n))
				return SPOOL_EXIT_USAGE;
			o.queue_size = n;
			break;
		case OPT_ORDER_BUFFER:
			o.order_buffer = parse_size(optarg);
			if (o.order_buffer < 1)
				return usage_error(
					cmd,
					"--order-buffer: expected a size in "
					"bytes like 64M, 512K or 1G, got "
					"\"%s\"",
					optarg);
			break;
		case OPT_INFLIGHT:
			if (strcmp(optarg, "auto") == 0)
				o.inflight = 0;
			else if (parse_long(optarg, 1, 1000000, &n))
				o.inflight = n;
			else
				return usage_error(
					cmd,
					"--inflight: expected an integer "
					">= 1 or \"auto\", got \"%s\"",
					optarg);
			break;
		case 'r':
			if (!count_arg(cmd, "-r/--retries", optarg, 0, 1000,
				       &n))
				return SPOOL_EXIT_USAGE;
			o.retries = n;
			break;
		case 't':
			o.timeout = parse_seconds(optarg);
			if (o.timeout < 0)
				return usage_error(
					cmd,
					"-t/--timeout: expected decimal "
					"seconds like 30 or 0.5, got \"%s\"",
					optarg);
			break;
		case OPT_FAILED:
			o.failed_path = optarg;
			break;
		case OPT_TAG:
			o.tag = true;
			break;
		case OPT_RAW:
			o.raw = true;
			break;
		case OPT_STRICT:
			o.strict = true;
			break;
		case OPT_JOBLOG:
			o.joblog_path = optarg;
			break;
		case OPT_RESUME:
			o.resume = true;
			break;
		case OPT_PROGRESS:
			o.progress = 1;
			break;
		case OPT_NO_PROGRESS:
			o.progress = 0;
			break;
		case OPT_STATS:
			o.stats = true;
			if (optarg && !*optarg)
				return usage_error(
					cmd,
					"--stats=FILE: the file name is empty");
			o.stats_path = optarg;
			if (!optarg)
				stats_next = optind;
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_QUIET:
			quiet = true;
			break;
		case 'h':
			return print_help(in == IN_CHECK   ? usage_check
					  : in == IN_SERVE ? usage_serve
							   : usage_run);
		case ':':
			/* Name the option as it was typed. */
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				return usage_error(cmd, "%s needs a value",
						   argv[optind - 1]);
			return usage_error(cmd, "-%c needs a value", optopt);
		default:
			if (optopt && optopt < 256)
				return usage_error(cmd, "unknown option -%c",
						   optopt);
			return unknown_option(cmd, in, argv[optind - 1]);
		}
	}
	if (quiet && verbose)
		return usage_error(cmd,
				   "-v and --quiet cannot be used together");
	o.verbosity = quiet ? 0 : verbose ? 2 : 1;

	if (o.workers_path && o.command)
		return usage_error(cmd, "-w and -c cannot be used together; "
					"choose a pool config or one command");
	if (!o.workers_path && !o.command)
		return usage_error(cmd,
				   "say which workers to run: -w POOL.json "
				   "or -c COMMAND");
	if (o.workers_path && o.protocol != SPOOL_UNSET)
		return usage_error(cmd, "-p/--protocol is for -c; with -w, set "
					"\"protocol\" in the pool config");
	if (o.workers_path && o.buffered)
		return usage_error(cmd, "--buffered is for -c; with -w, set "
					"\"buffered\": true in the pool "
					"config");
	if (o.workers_path && o.hosts)
		return usage_error(cmd, "-S/--hosts is for -c; with -w, list "
					"the hosts in the spec's \"hosts\" "
					"in the pool config");
	if (o.workers_path && o.batch_max)
		return usage_error(cmd, "--batch is for -c; with -w, set "
					"\"batch\" in the pool config");
	if (o.batch_max && o.protocol != SPOOL_PROTO_SPOOL)
		return usage_error(cmd, "--batch needs -p spool (a batch is a "
					"JSON-RPC array of requests)");
	if (o.buffered && o.protocol == SPOOL_PROTO_SPOOL)
		return usage_error(cmd, "--buffered is for lines workers (a "
					"spool worker answers each request)");
	if (o.resume && !o.joblog_path)
		return usage_error(cmd,
				   "--resume needs --joblog FILE (the log of "
				   "the run to resume)");
	if (in != IN_RUN && optind < argc)
		return usage_error(
			cmd, "unexpected argument \"%s\"%s", argv[optind],
			in == IN_SERVE ? " (tasks come from clients)" : "");
	if (in == IN_CHECK)
		return spool_check(&o);
	if (in == IN_SERVE)
		return o.dry_run ? spool_dry_run(&o) : spool_serve(&o);
	/* "--stats out.json": a stats file named with a space is read as an
	 * input; when no such file exists, say what was meant. */
	struct stat st;
	if (stats_next && stats_next < argc && stats_next >= optind &&
	    strcmp(argv[stats_next], "-") != 0 &&
	    stat(argv[stats_next], &st) != 0 && errno == ENOENT)
		return usage_error(cmd,
				   "%s: no such input file; to write the "
				   "stats to a file, use --stats=%s (with '=')",
				   argv[stats_next], argv[stats_next]);
	o.inputs = (const char *const *)argv + optind;
	o.ninputs = (size_t)(argc - optind);
	if (o.dry_run)
		return spool_dry_run(&o);
	return spool_run(&o);
}

/* Descriptors 0-2 must exist, or pipes made later would take their
 * numbers and be mistaken for them.  Returns whether stdout was open. */
static bool ensure_std_fds(void)
{
	bool out_open = true;
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (fd == 1)
			out_open = false;
		int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nfd >= 0 && nfd != fd)
			close(nfd);
	}
	return out_open;
}

int main(int argc, char **argv)
{
	bool out_open = ensure_std_fds();
	if (argc < 2) {
		fputs(usage_main, stderr);
		return SPOOL_EXIT_USAGE;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return print_help(usage_main);
	if (strcmp(sub, "--version") == 0 || strcmp(sub, "-V") == 0) {
		printf("spool %s\n", SPOOL_VERSION);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (strcmp(sub, "help") == 0) {
		if (argc < 3)
			return print_help(usage_main);
		if (strcmp(argv[2], "run") == 0)
			return print_help(usage_run);
		if (strcmp(argv[2], "check") == 0)
			return print_help(usage_check);
		if (strcmp(argv[2], "serve") == 0)
			return print_help(usage_serve);
		return usage_error(NULL,
				   "no help for \"%s\" (commands: run, serve, "
				   "check)",
				   argv[2]);
	}
	int in = strcmp(sub, "run") == 0     ? IN_RUN
		 : strcmp(sub, "serve") == 0 ? IN_SERVE
		 : strcmp(sub, "check") == 0 ? IN_CHECK
					     : 0;
	if (!in)
		return usage_error(NULL,
				   "unknown command \"%s\" (commands: run, "
				   "serve, check)",
				   sub);
	/* Results that cannot be written are never counted as done: a
	 * closed stdout is refused, as `cat >&-` does. */
	if (!out_open) {
		fprintf(stderr, "spool: stdout is closed; spool writes its "
				"results there: redirect it (> results.ndjson, "
				"or > /dev/null to drop them)\n");
		return SPOOL_EXIT_USAGE;
	}
	return cmd_main(argc - 1, argv + 1, in);
}
