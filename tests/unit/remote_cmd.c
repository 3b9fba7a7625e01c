/* remote_cmd - print the command lines lib/remote.c builds, for the remote
 * tests (tests/remote/remote_guard.bats), each word followed by a NUL byte:
 *
 *   remote_cmd [-S SOCKET] [-R] [-C DIR] [-E NAME=VALUE]... HOST -- ARGV...
 *	the ssh argv that starts ARGV on HOST under the guard (-R: the
 *	guard says on stderr when ARGV runs)
 *   remote_cmd -S SOCKET -M HOST	the argv of HOST's connection master
 *   remote_cmd -S SOCKET -O OP HOST	the argv of ssh -O OP
 *
 * HOST is a hosts entry ([N/]DEST).  The ssh client is $SPOOL_SSH, or ssh,
 * as for spool itself. */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fputs("usage: remote_cmd [-S SOCKET] [-R] [-C DIR] [-E NAME=VALUE]... "
	      "HOST -- ARGV...\n"
	      "       remote_cmd -S SOCKET -M HOST\n"
	      "       remote_cmd -S SOCKET -O OP HOST\n",
	      stderr);
	exit(2);
}

static void die_err(const char *where, struct buf *err)
{
	fprintf(stderr, "remote_cmd: %s: %.*s\n", where, (int)buf_used(err),
		buf_data(err));
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *cwd = NULL, *op = NULL;
	bool master = false;
	unsigned announce = 0;
	char **env = xcalloc((size_t)argc, sizeof(char *));
	size_t nenv = 0;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];
		if (strcmp(o, "-M") == 0) {
			master = true;
			continue;
		}
		if (strcmp(o, "-R") == 0) {
			announce = REMOTE_ANNOUNCE;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(o, "-S") == 0)
			sock = argv[++i];
		else if (strcmp(o, "-C") == 0)
			cwd = argv[++i];
		else if (strcmp(o, "-E") == 0)
			env[nenv++] = argv[++i];
		else if (strcmp(o, "-O") == 0)
			op = argv[++i];
		else
			usage();
	}
	if (i >= argc)
		usage();
	struct buf err = BUF_INIT;
	struct remote_host host;
	if (remote_host_parse(&host, argv[i++], 1, &err) < 0)
		die_err("HOST", &err);
	struct remote_ssh ssh;
	if (remote_ssh_init(&ssh, getenv("SPOOL_SSH"), &err) < 0)
		die_err("SPOOL_SSH", &err);

	char **av;
	if (master || op) {
		if (!sock || i != argc)
			usage();
		av = master ? remote_ssh_master_argv(&ssh, sock, host.dest)
			    : remote_ssh_control_argv(&ssh, sock, host.dest,
						      op);
	} else {
		if (i + 1 >= argc || strcmp(argv[i], "--") != 0)
			usage();
		struct buf cmd = BUF_INIT;
		if (remote_command(&cmd, argv + i + 1, env, cwd, announce,
				   &err) < 0)
			die_err("command", &err);
		av = remote_ssh_argv(&ssh, sock, host.dest, cmd.p);
		buf_release(&cmd);
	}
	for (size_t k = 0; av[k]; k++)
		fwrite(av[k], 1, strlen(av[k]) + 1, stdout);
	remote_argv_free(av);
	remote_ssh_release(&ssh);
	remote_host_release(&host);
	free(env);
	return fflush(stdout) == 0 ? 0 : 1;
}
