/* spool.c - the command line: parse arguments, then one call into lib/. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

static const char usage_main[] =
	"usage: spool run   (-w POOL.json | -c COMMAND) [options] [FILE...]\n"
	"       spool check -w POOL.json\n"
	"       spool --help | --version | help [run|check]\n"
	"\n"
	"spool runs a pool of long-lived worker processes and streams\n"
	"newline-delimited JSON tasks through them: each worker is started "
	"once\n"
	"(expensive setup done once), then fed many tasks on its stdin.\n"
	"\n"
	"Commands:\n"
	"  run     run the tasks in FILEs (or stdin) through the pool\n"
	"  check   spawn every worker, print its spawn result, shut down\n"
	"\n"
	"Examples:\n"
	"  spool run -w pool.json < tasks.ndjson > results.ndjson\n"
	"  spool run -c 'jq -c --unbuffered \"{sq: (.x*.x)}\"' -j 4 -k "
	"tasks.ndjson\n"
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
	"  -c, --cmd COMMAND      one worker spec: /bin/sh -c COMMAND, lines "
	"protocol\n"
	"  -j, --jobs N           replicas for -c (default: number of online "
	"CPUs)\n"
	"\n"
	"Flow:\n"
	"  -k, --keep-order       write results in input order (default: as "
	"they complete)\n"
	"  -q, --queue-size N     most tasks read but not yet written out "
	"(default 1024)\n"
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
	"      --stats[=FILE]     summary on stderr at exit; with FILE, as "
	"JSON\n"
	"  -v, --verbose          a line per worker event (spawned, ready, "
	"exited...)\n"
	"      --quiet            only errors on stderr\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 all tasks ok; 1 some failed; 2 usage, config or input "
	"error;\n"
	"3 no worker could run; 130/143 interrupted; 141 stdout closed.\n";

static const char usage_check[] =
	"usage: spool check -w POOL.json [-v | --quiet]\n"
	"\n"
	"Spawns every worker of the pool once, waits until each is ready or "
	"has\n"
	"failed, prints one line per worker (label, pid, spawn time and spawn\n"
	"result, or the error and its last stderr lines), and shuts the pool "
	"down.\n"
	"\n"
	"  -w, --workers FILE     pool config (see spool-config(5))\n"
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
	OPT_VERSION,
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

static int cmd_run(int argc, char **argv, bool check)
{
	const char *cmd = check ? "check" : "run";
	static const struct option run_opts[] = {
		{"workers", required_argument, NULL, 'w'},
		{"cmd", required_argument, NULL, 'c'},
		{"jobs", required_argument, NULL, 'j'},
		{"keep-order", no_argument, NULL, 'k'},
		{"queue-size", required_argument, NULL, 'q'},
		{"inflight", required_argument, NULL, OPT_INFLIGHT},
		{"retries", required_argument, NULL, 'r'},
		{"timeout", required_argument, NULL, 't'},
		{"failed", required_argument, NULL, OPT_FAILED},
		{"tag", no_argument, NULL, OPT_TAG},
		{"raw", no_argument, NULL, OPT_RAW},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"joblog", required_argument, NULL, OPT_JOBLOG},
		{"resume", no_argument, NULL, OPT_RESUME},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
		{"stats", optional_argument, NULL, OPT_STATS},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, OPT_QUIET},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const struct option check_opts[] = {
		{"workers", required_argument, NULL, 'w'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, OPT_QUIET},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct spool_opts o;
	spool_opts_init(&o);
	bool quiet = false, verbose = false;
	long n;
	int c;
	optind = 1;
	opterr = 0;
	/* Options may come after the FILEs, as with GNU tools; "--" ends
	 * them. */
	const char *shortopts = check ? ":w:vh" : ":w:c:j:kq:r:t:vh";
	while ((c = getopt_long(argc, argv, shortopts,
				check ? check_opts : run_opts, NULL)) != -1) {
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
		case 'k':
			o.keep_order = 1;
			break;
		case 'q':
			if (!count_arg(cmd, "-q/--queue-size", optarg, 1,
				       10000000, &n))
				return SPOOL_EXIT_USAGE;
			o.queue_size = n;
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
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_QUIET:
			quiet = true;
			break;
		case 'h':
			return print_help(check ? usage_check : usage_run);
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
			return usage_error(cmd, "unknown option %s",
					   argv[optind - 1]);
		}
	}
	if (quiet && verbose)
		return usage_error(cmd,
				   "-v and --quiet cannot be used together");
	o.verbosity = quiet ? 0 : verbose ? 2 : 1;

	if (check) {
		if (optind < argc)
			return usage_error(cmd, "unexpected argument \"%s\"",
					   argv[optind]);
		if (!o.workers_path)
			return usage_error(cmd, "-w POOL.json is required");
		return spool_check(&o);
	}
	if (o.workers_path && o.command)
		return usage_error(cmd, "-w and -c cannot be used together; "
					"choose a pool config or one command");
	if (!o.workers_path && !o.command)
		return usage_error(cmd,
				   "say which workers to run: -w POOL.json "
				   "or -c COMMAND");
	if (o.jobs && o.workers_path)
		return usage_error(cmd, "-j sets replicas for -c; with -w, set "
					"\"replicas\" in the pool config");
	if (o.resume && !o.joblog_path)
		return usage_error(cmd,
				   "--resume needs --joblog FILE (the log of "
				   "the run to resume)");
	o.inputs = (const char *const *)argv + optind;
	o.ninputs = (size_t)(argc - optind);
	return spool_run(&o);
}

/* Descriptors 0-2 must exist, or pipes made later would take their
 * numbers and be mistaken for them. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nfd >= 0 && nfd != fd)
			close(nfd);
	}
}

int main(int argc, char **argv)
{
	ensure_std_fds();
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
		return usage_error(NULL,
				   "no help for \"%s\" (commands: run, check)",
				   argv[2]);
	}
	if (strcmp(sub, "run") == 0)
		return cmd_run(argc - 1, argv + 1, false);
	if (strcmp(sub, "check") == 0)
		return cmd_run(argc - 1, argv + 1, true);
	return usage_error(
		NULL, "unknown command \"%s\" (commands: run, check)", sub);
}
