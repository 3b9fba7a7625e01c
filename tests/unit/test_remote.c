/* test_remote.c - shell quoting, hosts entries, the remote command line
 * (run here through /bin/sh and the guard: arguments, environment, cwd,
 * exit codes) and the ssh argv builders. */
#define _GNU_SOURCE
#include "remote.h"
#include "testhelp.h"

#include <stdio.h>
#include <sys/wait.h>

/* Run sh -c script; collect stdout in out; return the exit code. */
static int run_sh(const char *script, struct buf *out)
{
	struct buf cmd = BUF_INIT;
	buf_adds(&cmd, "/bin/sh -c ");
	shell_quote(&cmd, script);
	buf_adds(&cmd, " 2>/dev/null");
	buf_addc(&cmd, '\0');
	buf_reset(out);
	FILE *f = popen(cmd.p, "r");
	buf_release(&cmd);
	if (!f)
		return -1;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(out, tmp, n);
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* s for a test name: TAP wants one line, so control bytes are escaped. */
static const char *shown(const char *s)
{
	static struct buf b;
	buf_reset(&b);
	if (s)
		buf_add_json_string(&b, s, strlen(s));
	else
		buf_adds(&b, "NULL");
	buf_addc(&b, '\0');
	return b.p;
}

/* Words no shell may mangle: each must arrive as is. */
static const char *const tricky[] = {
	"plain",
	"",
	"two words",
	"it's",
	"''",
	"\"double\"",
	"$HOME",
	"${x:-y}",
	"`id`",
	"$(id)",
	"back\\slash",
	"\\'",
	"new\nline",
	"tab\there",
	" lead and trail ",
	"*",
	"~",
	"-n",
	";exit 1",
	"a|b&c>d<e",
	"{1,2}",
	"!",
	"#comment",
	"\xc3\xbcnic\xc3\xb8"
	"de \xe2\x9c\x93",
	"\x01\x7f",
	NULL,
};

static void test_shell_quote(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{"", "''"},       {"abc", "'abc'"}, {"it's", "'it'\\''s'"},
		{"'", "''\\'''"}, {"a b", "'a b'"}, {"$x\\n", "'$x\\n'"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct buf b = BUF_INIT;
		shell_quote(&b, t[i].in);
		TEST_STR(b.p, buf_used(&b), t[i].want, t[i].want);
		buf_release(&b);
	}

	/* Through a real shell, byte for byte. */
	struct buf script = BUF_INIT, want = BUF_INIT, out = BUF_INIT;
	buf_adds(&script, "printf '%s\\0'");
	for (size_t i = 0; tricky[i]; i++) {
		buf_addc(&script, ' ');
		shell_quote(&script, tricky[i]);
		buf_add(&want, tricky[i], strlen(tricky[i]) + 1);
	}
	buf_addc(&script, '\0');
	TEST(run_sh(script.p, &out) == 0, "sh runs the quoted words");
	TEST(buf_used(&out) == buf_used(&want) &&
		     memcmp(out.p, want.p, buf_used(&want)) == 0,
	     "sh gets every quoted word back byte for byte");
	buf_release(&script);
	buf_release(&want);
	buf_release(&out);

	struct buf b = BUF_INIT;
	char *argv[] = {"ssh", "-o", "A=b", "host", "it's two", "", NULL};
	shell_quote_argv(&b, argv);
	TEST_STR(b.p, buf_used(&b), "ssh -o A=b host 'it'\\''s two' ''",
		 "shell_quote_argv quotes only what needs it");
	buf_release(&b);
}

static void test_host_parse(void)
{
	static const struct {
		const char *in;
		long slots;
		const char *dest;
	} ok[] = {
		{"gpu1", 3, "gpu1"},
		{"4/gpu2", 4, "gpu2"},
		{"alice@gpu3", 3, "alice@gpu3"},
		{"1/alice@gpu3.example.com", 1, "alice@gpu3.example.com"},
		{"007/h", 7, "h"},
		{"100000/h", 100000, "h"},
		{"a.b@host_1-x", 3, "a.b@host_1-x"},
		{"10.0.0.7", 3, "10.0.0.7"},
		{"::1", 3, "::1"},
		{"fe80::1%eth0", 3, "fe80::1%eth0"},
		{"ssh://host:2222", 3, "ssh://host:2222"},
		{"2/ssh://alice@host", 2, "ssh://alice@host"},
		{"ssh://bob@[::1]:22", 3, "ssh://bob@[::1]:22"},
		{"ssh://[fe80::1]", 3, "ssh://[fe80::1]"},
		{"x@y@host", 3, "x@y@host"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct remote_host h;
		struct buf err = BUF_INIT;
		int rc = remote_host_parse(&h, ok[i].in, 3, &err);
		TEST(rc == 0 && h.slots == ok[i].slots &&
			     strcmp(h.dest, ok[i].dest) == 0,
		     "host %s -> %ld slots on %s", shown(ok[i].in), ok[i].slots,
		     ok[i].dest);
		if (rc < 0)
			printf("#   error: %.*s\n", (int)buf_used(&err),
			       buf_data(&err));
		remote_host_release(&h);
		buf_release(&err);
	}

	static const struct {
		const char *in, *why;
	} bad[] = {
		{"", "empty"},
		{NULL, "empty"},
		{"0/h", "0 slots"},
		{"/h", "slot count"},
		{"x/h", "slot count"},
		{"-1/h", "slot count"},
		{"+4/h", "slot count"},
		{"4.5/h", "slot count"},
		{"100001/h", "slot count"},
		{"4/", "no ssh destination"},
		{"4/4/h", "'/' in the host name"},
		{"a b", "blank"},
		{"4/ h", "blank"},
		{"a\tb", "blank"},
		{"h\n", "control character"},
		{"h\x01", "control character"},
		{"h\x7f", "control character"},
		{"-oProxyCommand=x", "starts with '-'"},
		{"4/-h", "starts with '-'"},
		{"user@-h", "starting with '-'"},
		{".h", "starting with '.'"},
		{"host:22", "host:port"},
		{"alice@host:22", "host:port"},
		{"@host", "empty user"},
		{"user@", "no host name"},
		{"ho;st", "';' in the host name"},
		{"ho$t", "'$' in the host name"},
		{"h\xc3\xbc", "\\xc3 in the host name"},
		{"[::1]:22", "'[' in the host name"},
		{"a'b@h", "''' in the user name"},
		{"a`id`@h", "'`' in the user name"},
		{"ssh://host:0", "port"},
		{"ssh://host:65536", "port"},
		{"ssh://host:x", "port"},
		{"ssh://host/path", "path"},
		{"ssh://[::1", "without its ']'"},
		{"ssh://[::1]x", "after ']'"},
		{"ssh://::1:22", "IPv6 address without [ ]"},
		{"ssh://", "no host name"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct remote_host h;
		struct buf err = BUF_INIT;
		int rc = remote_host_parse(&h, bad[i].in, 3, &err);
		buf_addc(&err, '\0');
		TEST(rc < 0 && h.dest == NULL && strstr(err.p, bad[i].why),
		     "host %s refused: %s", shown(bad[i].in), bad[i].why);
		if (rc == 0 || !strstr(err.p, bad[i].why))
			printf("#   got: %s\n", err.p);
		remote_host_release(&h);
		buf_release(&err);
	}

	/* The message shows the entry, control bytes escaped. */
	struct remote_host h;
	struct buf err = BUF_INIT;
	remote_host_parse(&h, "4/gpu\n1", 1, &err);
	buf_addc(&err, '\0');
	TEST(strstr(err.p, "host \"4/gpu\\n1\" contains a control") != NULL,
	     "the message quotes the entry with escapes: %s", err.p);
	buf_release(&err);
}

/* Keep what the Makefile keeps of the guard: no indentation, no comment
 * lines, no blank lines. */
static void strip_guard(struct buf *out, const char *src, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t end = i;
		while (end < n && src[end] != '\n')
			end++;
		size_t s = i;
		while (s < end && (src[s] == ' ' || src[s] == '\t'))
			s++;
		if (s < end && src[s] != '#') {
			buf_add(out, src + s, end - s);
			buf_addc(out, '\n');
		}
		i = end + 1;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void test_command_guard(void)
{
	struct buf cmd = BUF_INIT, err = BUF_INIT;
	char *argv[] = {"true", NULL};
	TEST(remote_command(&cmd, argv, NULL, NULL, 0, &err) == 0,
	     "remote_command builds a command");
	buf_addc(&cmd, '\0');
	const char *pre = "exec perl -e 'eval pack(q{H*},q{";
	TEST(strncmp(cmd.p, pre, strlen(pre)) == 0,
	     "the command execs perl with the packed guard");
	const char *hex = cmd.p + strlen(pre);
	const char *end = strchr(hex, '}');
	TEST(end && strcmp(end, "});die $@ if $@' -- -- 'true'") == 0,
	     "the guard's options, then the worker: %s", end ? end : "");

	/* The hex is lib/remote_guard.pl as the build strips it. */
	struct buf guard = BUF_INIT, want = BUF_INIT;
	bool hex_ok = end && (end - hex) % 2 == 0;
	for (const char *p = hex; hex_ok && p < end; p += 2) {
		int hi = hexval(p[0]), lo = hexval(p[1]);
		hex_ok = hi >= 0 && lo >= 0;
		buf_addc(&guard, (char)(hi * 16 + lo));
	}
	TEST(hex_ok, "the guard is lowercase hex digits");
	FILE *f = fopen("lib/remote_guard.pl", "r");
	if (f) {
		struct buf src = BUF_INIT;
		char tmp[4096];
		size_t n;
		while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
			buf_add(&src, tmp, n);
		fclose(f);
		strip_guard(&want, src.p, buf_used(&src));
		buf_release(&src);
		TEST(buf_used(&guard) == buf_used(&want) &&
			     memcmp(guard.p, want.p, buf_used(&want)) == 0,
		     "the embedded guard is lib/remote_guard.pl, stripped");
	} else {
		TEST(0, "lib/remote_guard.pl readable (run from the repo)");
	}
	TEST(buf_used(&guard) < 2500, "the guard stays small: %zu bytes",
	     buf_used(&guard));
	buf_release(&guard);
	buf_release(&want);
	buf_release(&cmd);

	char *none[] = {NULL};
	buf_reset(&err);
	TEST(remote_command(&cmd, none, NULL, NULL, 0, &err) < 0 &&
		     buf_used(&err) > 0,
	     "an empty argv is refused");
	char *badenv[] = {"NOEQUALS", NULL};
	char *badenv2[] = {"=x", NULL};
	buf_reset(&err);
	TEST(remote_command(&cmd, argv, badenv, NULL, 0, &err) < 0 &&
		     buf_used(&err) > 0,
	     "an env entry without = is refused");
	buf_reset(&err);
	TEST(remote_command(&cmd, argv, badenv2, NULL, 0, &err) < 0,
	     "an env entry without a name is refused");
	buf_release(&cmd);
	buf_release(&err);
}

/* What the remote login shell does with the command: sh -c COMMAND. */
static int run_remote(char *const argv[], char *const env[], const char *cwd,
		      struct buf *out)
{
	struct buf cmd = BUF_INIT, err = BUF_INIT;
	if (remote_command(&cmd, argv, env, cwd, 0, &err) < 0)
		return -2;
	buf_addc(&cmd, '\0');
	int rc = run_sh(cmd.p, out);
	buf_release(&cmd);
	buf_release(&err);
	return rc;
}

/* -R: one line on stderr once the worker runs, none when it cannot. */
static void test_command_announce(void)
{
	struct buf cmd = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	char *argv[] = {"sh", "-c", "echo worker", NULL};
	TEST(remote_command(&cmd, argv, NULL, NULL, REMOTE_ANNOUNCE, &err) == 0,
	     "remote_command with REMOTE_ANNOUNCE");
	TEST(strstr(cmd.p, "' -- -R -- 'sh'") != NULL,
	     "the guard gets -R before the worker");
	/* stderr into stdout: the announcement is one whole line, before
	 * or after the worker's (it is written once the exec is known to
	 * have worked, and the worker may write first). */
	buf_adds(&cmd, " 2>&1");
	buf_addc(&cmd, '\0');
	int rc = run_sh(cmd.p, &out);
	buf_addc(&out, '\0');
	bool said = strncmp(out.p, REMOTE_STARTED, strlen(REMOTE_STARTED)) ==
			    0 ||
		    strstr(out.p, "\n" REMOTE_STARTED) != NULL;
	TEST(rc == 0 && said, "the guard says the worker started: %s",
	     shown(out.p));
	TEST(rc == 0 && (strncmp(out.p, "worker\n", 7) == 0 ||
			 strstr(out.p, "\nworker\n") != NULL),
	     "and the worker ran");

	char *missing[] = {"spool-no-such-worker", NULL};
	buf_reset(&cmd);
	TEST(remote_command(&cmd, missing, NULL, NULL, REMOTE_ANNOUNCE, &err) ==
		     0,
	     "a command for a missing worker");
	buf_adds(&cmd, " 2>&1");
	buf_addc(&cmd, '\0');
	rc = run_sh(cmd.p, &out);
	buf_addc(&out, '\0');
	TEST(rc == 127 && !strstr(out.p, REMOTE_STARTED) &&
		     strstr(out.p, "cannot run 'spool-no-such-worker'"),
	     "a worker that cannot run is not announced (exit %d): %s", rc,
	     shown(out.p));
	buf_release(&cmd);
	buf_release(&err);
	buf_release(&out);
}

static void test_command_runs(void)
{
	struct buf out = BUF_INIT, want = BUF_INIT;
	char *argv[ARRAY_SIZE(tricky) + 2];
	argv[0] = "printf";
	argv[1] = "%s\\0";
	size_t k = 2;
	for (size_t i = 0; tricky[i]; i++) {
		argv[k++] = (char *)tricky[i];
		buf_add(&want, tricky[i], strlen(tricky[i]) + 1);
	}
	argv[k] = NULL;
	/* printf's own format turns "\0" into a NUL. */
	argv[1] = "%s\\000";
	TEST(run_remote(argv, NULL, NULL, &out) == 0,
	     "sh runs the guard, the guard runs printf");
	TEST(buf_used(&out) == buf_used(&want) &&
		     memcmp(out.p, want.p, buf_used(&want)) == 0,
	     "every argument reaches the worker byte for byte");

	char *show[] = {"sh", "-c", "printf '%s|%s|%s' \"$A\" \"$B\" \"$PWD\"",
			NULL};
	char *env[] = {"A=two words", "B=x=y\n'$z'", NULL};
	TEST(run_remote(show, env, "/", &out) == 0, "env and cwd: runs");
	TEST_STR(out.p, buf_used(&out), "two words|x=y\n'$z'|/",
		 "env pairs and cwd reach the worker");

	char *three[] = {"sh", "-c", "exit 3", NULL};
	TEST(run_remote(three, NULL, NULL, &out) == 3, "exit 3 comes back");
	char *sig[] = {"sh", "-c", "kill -USR1 $$", NULL};
	TEST(run_remote(sig, NULL, NULL, &out) == 128 + 10,
	     "a worker killed by SIGUSR1 exits 138");
	char *t[] = {"true", NULL};
	TEST(run_remote(t, NULL, "/nonexistent/spool-dir", &out) == 126,
	     "a missing cwd exits 126");
	char *missing[] = {"spool-no-such-program", NULL};
	TEST(run_remote(missing, NULL, NULL, &out) == 127,
	     "a worker that is not found exits 127");
	char *noexec[] = {"/etc/passwd", NULL};
	TEST(run_remote(noexec, NULL, NULL, &out) == 126,
	     "a worker that cannot run exits 126");
	buf_release(&out);
	buf_release(&want);
}

static void test_ssh_init(void)
{
	static const struct {
		const char *in;
		const char *words[6];
	} ok[] = {
		{NULL, {"ssh"}},
		{"ssh", {"ssh"}},
		{"  ssh\t-v \n", {"ssh", "-v"}},
		{"ssh -F '/a b/c'", {"ssh", "-F", "/a b/c"}},
		{"ssh -o \"ProxyCommand=nc %h %p\"",
		 {"ssh", "-o", "ProxyCommand=nc %h %p"}},
		{"ssh -i my\\ key", {"ssh", "-i", "my key"}},
		{"ssh \"a\\\"b\\\\c\\d\"", {"ssh", "a\"b\\c\\d"}},
		{"ssh '' x", {"ssh", "", "x"}},
		{"ssh a'b'\"c\"d", {"ssh", "abcd"}},
		{"ssh '$HOME'", {"ssh", "$HOME"}},
		{"/usr/bin/ssh -p 22", {"/usr/bin/ssh", "-p", "22"}},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct remote_ssh s;
		struct buf err = BUF_INIT;
		int rc = remote_ssh_init(&s, ok[i].in, &err);
		size_t n = 0;
		while (ok[i].words[n])
			n++;
		bool same = rc == 0 && s.nwords == n && !s.words[n];
		for (size_t k = 0; same && k < n; k++)
			same = strcmp(s.words[k], ok[i].words[k]) == 0;
		TEST(same, "--ssh %s splits into %zu words", shown(ok[i].in),
		     n);
		if (rc == 0)
			remote_ssh_release(&s);
		buf_release(&err);
	}
	static const struct {
		const char *in, *why;
	} bad[] = {
		{"", "empty"},
		{" \t", "empty"},
		{"ssh 'x", "not closed"},
		{"ssh \"x", "not closed"},
		{"ssh x\\", "lone"},
		{"ssh $HOME", "'$'"},
		{"ssh `id`", "'`'"},
		{"ssh x; rm", "';'"},
		{"ssh | tee", "'|'"},
		{"ssh >log", "'>'"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct remote_ssh s;
		struct buf err = BUF_INIT;
		int rc = remote_ssh_init(&s, bad[i].in, &err);
		buf_addc(&err, '\0');
		TEST(rc < 0 && strstr(err.p, bad[i].why),
		     "--ssh %s refused: %s", shown(bad[i].in), bad[i].why);
		if (rc == 0)
			remote_ssh_release(&s);
		buf_release(&err);
	}
}

static void test_argv_is(char **av, const char *const *want, const char *name)
{
	bool same = true;
	size_t i = 0;
	for (; want[i]; i++) {
		if (!av[i] || strcmp(av[i], want[i]) != 0) {
			same = false;
			printf("#   word %zu: got \"%s\", want \"%s\"\n", i,
			       av[i] ? av[i] : "(end)", want[i]);
			break;
		}
	}
	if (same && av[i]) {
		same = false;
		printf("#   extra word \"%s\"\n", av[i]);
	}
	TEST(same, "%s", name);
}

static void test_ssh_argv(void)
{
	struct remote_ssh s;
	struct buf err = BUF_INIT;
	remote_ssh_init(&s, "ssh -F cfg", &err);
	char **av = remote_ssh_argv(&s, "/tmp/spool-1/h0", "alice@gpu1", "CMD");
	static const char *const worker[] = {
		"ssh",        "-F",
		"cfg",        "-T",
		"-o",         "BatchMode=yes",
		"-o",         "ControlMaster=no",
		"-o",         "ControlPath=/tmp/spool-1/h0",
		"-e",         "none",
		"alice@gpu1", "CMD",
		NULL};
	test_argv_is(av, worker, "worker argv through a master");
	remote_argv_free(av);

	av = remote_ssh_argv(&s, NULL, "gpu1", "CMD");
	static const char *const direct[] = {
		"ssh", "-F",   "cfg",  "-T",  "-o", "BatchMode=yes",
		"-e",  "none", "gpu1", "CMD", NULL};
	test_argv_is(av, direct, "worker argv with a connection of its own");
	remote_argv_free(av);

	av = remote_ssh_master_argv(&s, "/tmp/a b%/h0", "gpu1");
	static const char *const master[] = {
		"ssh",  "-F",
		"cfg",  "-M",
		"-N",   "-T",
		"-o",   "BatchMode=yes",
		"-o",   "ControlPersist=no",
		"-o",   "ControlPath=\"/tmp/a b%%/h0\"",
		"gpu1", NULL};
	test_argv_is(av, master,
		     "master argv; % doubled and blanks quoted for ssh");
	remote_argv_free(av);

	av = remote_ssh_control_argv(&s, "/tmp/s", "gpu1", "exit");
	static const char *const stop[] = {"ssh",
					   "-F",
					   "cfg",
					   "-o",
					   "BatchMode=yes",
					   "-o",
					   "ControlPath=/tmp/s",
					   "-O",
					   "exit",
					   "gpu1",
					   NULL};
	test_argv_is(av, stop, "ssh -O exit argv");
	remote_argv_free(av);
	remote_argv_free(NULL);
	remote_ssh_release(&s);
	buf_release(&err);
}

int main(void)
{
	test_shell_quote();
	test_host_parse();
	test_command_guard();
	test_command_runs();
	test_command_announce();
	test_ssh_init();
	test_ssh_argv();
	return test_done();
}
