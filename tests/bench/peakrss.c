/* peakrss - run a command and report the peak RSS of that process alone.
 *
 *   peakrss KB_FILE COMMAND [ARG...]
 *
 * GNU time's %M is ru_maxrss from wait4(), which the kernel takes as the
 * largest of the process and every descendant it reaped, so for spool it
 * would be the largest of spool and its workers.  Here the command runs
 * under ptrace with PTRACE_O_TRACEEXIT: at its exit stop the address space
 * still exists, and VmHWM in /proc/PID/status is its own high-water mark.
 * Children are not traced, and only signals sent to the command itself
 * stop it (they are passed on unchanged).  Where ptrace is refused, VmHWM
 * is sampled every millisecond instead (then it may miss a last spike),
 * and "sampled" follows the figure in KB_FILE.
 *
 * Exits with the command's status (128+N for a signal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long vm_hwm(pid_t pid)
{
	char path[64];
	char line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

static int exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

static int report(const char *file, long kb, const char *how)
{
	FILE *f = fopen(file, "w");
	if (!f) {
		perror(file);
		return -1;
	}
	fprintf(f, "%ld%s%s\n", kb, *how ? " " : "", how);
	return fclose(f);
}

/* Fallback: poll VmHWM until the child exits. */
static int sample(pid_t pid, const char *file)
{
	long best = -1;
	int st;
	const struct timespec ms = {0, 1000000};
	for (;;) {
		long kb = vm_hwm(pid);
		if (kb > best)
			best = kb;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("waitpid");
			return 1;
		}
		nanosleep(&ms, NULL);
	}
	report(file, best, "sampled");
	return exit_code(st);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: peakrss KB_FILE COMMAND [ARG...]\n");
		return 2;
	}
	const char *file = argv[1];
	int gate[2];
	if (pipe(gate) < 0) {
		perror("pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		char c;
		close(gate[1]);
		/* Wait until the parent has attached (or given up on it). */
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		close(gate[0]);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "peakrss: %s: %s\n", argv[2], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(gate[0]);
	int st;
	int traced = ptrace(PTRACE_SEIZE, pid, NULL,
			    (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) == 0;
	close(gate[1]);
	if (!traced)
		return sample(pid, file);

	long kb = -1;
	for (;;) {
		pid_t r = waitpid(pid, &st, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("waitpid");
			return 1;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (!WIFSTOPPED(st))
			continue;
		int sig = WSTOPSIG(st);
		int event = st >> 16;
		if (sig == SIGTRAP && event == PTRACE_EVENT_EXIT) {
			kb = vm_hwm(pid);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
		} else if (event == PTRACE_EVENT_STOP) {
			/* group-stop under SEIZE: stay stopped, as untraced. */
			ptrace(PTRACE_LISTEN, pid, NULL, NULL);
		} else {
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
		}
	}
	report(file, kb, "");
	return exit_code(st);
}
